//! Heap allocations on the order path, counted by a global allocator (per thread, so the test
//! harness's other threads do not count). Issue 3 asks that build + sign allocate nothing beyond
//! the request's own buffers: the query is written into one buffer, the pre-keyed HMAC state is
//! copied on the stack, the hex goes straight onto the query.

use aegis_exchange::rest::{Environment, Rest};
use aegis_exchange::sign::{Credentials, HmacSha256, SignedQuery};
use aegis_exchange::{ClientOrderId, ExchangeInfo, MarketContext, OrderRequest, Side};
use rust_decimal_macros::dec;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The (allocations, reallocations) `f` makes on this thread, and its result.
fn counted<T>(f: impl FnOnce() -> T) -> ((u64, u64), T) {
    let before = counting_alloc::counts();
    let out = f();
    let after = counting_alloc::counts();
    ((after.0 - before.0, after.1 - before.1), out)
}

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

/// A LIMIT order's parameters in the order the REST layer writes them (`recvWindow` first).
const LIMIT_ORDER: [(&str, &str); 9] = [
    ("recvWindow", "5000"),
    ("symbol", "BTCUSDT"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "0.14977"),
    ("price", "65432.51"),
    ("newClientOrderId", "ae0-4fZk2Qm9xLb"),
    ("timestamp", "1763942400123"),
];

fn limit_query() -> SignedQuery {
    let mut q = SignedQuery::new();
    for (name, value) in LIMIT_ORDER {
        q.push(name, value);
    }
    q
}

#[test]
fn the_counter_sees_allocations() {
    // The harness itself must be able to fail: a Vec with capacity allocates once.
    let ((allocs, reallocs), v) = counted(|| std::hint::black_box(Vec::<u8>::with_capacity(64)));
    assert_eq!((allocs, reallocs), (1, 0));
    drop(v);
    let ((allocs, reallocs), s) = counted(|| {
        let mut s = String::with_capacity(1);
        s.push_str("more than one byte");
        s
    });
    assert_eq!((allocs, reallocs), (1, 1), "{s}");
}

#[test]
fn build_and_sign_allocates_one_buffer() {
    let key = HmacSha256::new(SECRET);
    // Twice: the first fills the prefix cache (its slots were allocated with the key), the
    // second hits it. Neither allocates anything but the query's buffer, nor grows it.
    for round in 0..2 {
        let ((allocs, reallocs), signed) = counted(|| limit_query().sign_with(&key));
        assert_eq!((allocs, reallocs), (1, 0), "round {round}: {signed}");
        assert!(signed.ends_with(&format!(
            "&signature={}",
            hex::encode(key.mac(signed.split("&signature=").next().unwrap_or_default().as_bytes()))
        )));
    }
}

#[test]
fn an_order_request_allocates_only_its_own_parts() {
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    let rules = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("BTCUSDT"));
    let id = ClientOrderId::new("ae0-4fZk2Qm9xLb").unwrap_or_else(|e| panic!("{e}"));
    let order =
        OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.14977266648836587), dec!(65432.517)).with_client_order_id(id);
    let ctx = MarketContext::default().with_reference_price(dec!(65430)).with_open_orders(0);
    let valid = rules.normalize(order, &ctx).unwrap_or_else(|e| panic!("{e}"));
    let creds =
        Credentials::new("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", HmacSha256::new(SECRET))
            .unwrap_or_else(|e| panic!("{e}"));
    let rest = Rest::new(Environment::Production).with_credentials(creds);
    for round in 0..3 {
        let ((allocs, reallocs), req) = counted(|| rest.new_order(&valid, 1_763_942_400_123));
        let req = req.unwrap_or_else(|e| panic!("{e}"));
        // The request's own parts: the query buffer (moved into the body without a copy), the
        // `Bytes` header that shares it, and the header map's two tables (indices, entries).
        // The URI and the API key's header value are shared, not rebuilt; the first request
        // also makes the key's buffer shareable (one allocation, once per `Rest`).
        let expected = if round == 0 { 5 } else { 4 };
        assert_eq!(allocs, expected, "round {round}");
        assert_eq!(reallocs, 0, "round {round}: the body buffer grew or shrank");
        assert!(req.request.body().starts_with(b"recvWindow=5000&symbol=BTCUSDT&side=BUY"));
    }
}
