//! A global allocator that counts each thread's heap allocations and reallocations and
//! forwards everything to `System`. Shared by `tests/allocations.rs` and the client-load bench
//! (`benches/peers`, through `#[path]`); each declares it as its `#[global_allocator]`:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
//! ```
// A global allocator is an `unsafe impl`; this one only forwards to `System` and counts. Test
// and bench code, not the library (which denies `unsafe` outside `ring`).
#![allow(unsafe_code, dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator.
pub struct Counting;

thread_local! {
    /// (allocations, reallocations) made by this thread.
    static COUNTS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn bump(alloc: u64, realloc: u64) {
    // `try_with`: the thread's slot may already be gone while the thread exits.
    let _ = COUNTS.try_with(|c| {
        let (a, r) = c.get();
        c.set((a.wrapping_add(alloc), r.wrapping_add(realloc)));
    });
}

/// The (allocations, reallocations) the calling thread has made so far.
pub fn counts() -> (u64, u64) {
    COUNTS.try_with(Cell::get).unwrap_or((0, 0))
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a thread-local `Cell`
// with a const initialiser and no destructor, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(1, 0);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(1, 0);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(0, 1);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
