//! Fault injection: what a real network and a real exchange do to a client on a bad day, each
//! knob seeded and usable alone. One-shot faults ([`Fault`]) hit the next requests in order;
//! the rates in [`FaultConfig`] hit requests at random (from the exchange's seed).

/// One fault for the next request ([`PaperExchange::inject`](super::PaperExchange::inject)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request never reaches the exchange: nothing happens and nothing answers.
    DropRequest,
    /// The exchange executes the request, then the answer is lost (a timeout or a connection
    /// reset after the write, seen from the client).
    DropResponse,
    /// The exchange executes the request, then answers this 5xx status with a gateway's HTML
    /// body instead of the result.
    ServerErrorAfterExecute(u16),
    /// The exchange executes the request, then answers `-1007 TIMEOUT` (HTTP 408) instead of
    /// the result.
    TimeoutAfterExecute,
    /// The request takes this long to answer (the adapter waits; sans-IO callers read it from
    /// [`Delivery::Answer`]).
    Latency(u64),
}

/// Random faults, each a rate in parts per thousand of the requests (or events) it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultConfig {
    /// Every answer takes a uniform time in `latency_ms.0 ..= latency_ms.1`.
    pub latency_ms: (u64, u64),
    /// Requests that never arrive.
    pub drop_request_per_mille: u16,
    /// Requests executed whose answer is lost.
    pub drop_response_per_mille: u16,
    /// Requests executed, then answered with a 502.
    pub server_error_per_mille: u16,
    /// Requests executed, then answered `-1007`.
    pub timeout_per_mille: u16,
    /// User-data events sent twice.
    pub duplicate_events_per_mille: u16,
    /// User-data events swapped with the one after them.
    pub reorder_events_per_mille: u16,
    /// The exchange's clock runs this far ahead of the caller's `now` (negative: behind).
    pub clock_skew_ms: i64,
}

/// What became of one request sent with [`PaperExchange::deliver`](super::PaperExchange::deliver).
#[derive(Debug)]
pub enum Delivery {
    /// An answer, after `latency_ms`.
    Answer {
        /// The response.
        response: http::Response<bytes::Bytes>,
        /// How long it took.
        latency_ms: u64,
    },
    /// The request never arrived: the exchange did nothing.
    Dropped,
    /// The exchange did what was asked, but no answer comes back.
    Lost,
}
