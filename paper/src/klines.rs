//! Klines and 24-hour tickers computed from the paper exchange's own trades (its one-second and
//! one-minute candles), so they agree with its trade stream.

use rust_decimal::Decimal;

use super::PaperExchange;
use super::market::{Candle, Market};
use super::reply::Reply;
use super::routes::{invalid_symbol, limit};
use super::wire::{Obj, Params, array};

/// A kline interval: a fixed width (aligned to the epoch, weeks to Mondays) or a calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interval {
    Fixed(i64),
    Week,
    Month,
}

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

impl Interval {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "1s" => Self::Fixed(1_000),
            "1m" => Self::Fixed(MINUTE),
            "3m" => Self::Fixed(3 * MINUTE),
            "5m" => Self::Fixed(5 * MINUTE),
            "15m" => Self::Fixed(15 * MINUTE),
            "30m" => Self::Fixed(30 * MINUTE),
            "1h" => Self::Fixed(60 * MINUTE),
            "2h" => Self::Fixed(120 * MINUTE),
            "4h" => Self::Fixed(240 * MINUTE),
            "6h" => Self::Fixed(360 * MINUTE),
            "8h" => Self::Fixed(480 * MINUTE),
            "12h" => Self::Fixed(720 * MINUTE),
            "1d" => Self::Fixed(DAY),
            "3d" => Self::Fixed(3 * DAY),
            "1w" => Self::Week,
            "1M" => Self::Month,
            _ => return None,
        })
    }

    /// The open time of the kline holding instant `t` (UTC ms), in a time zone `offset_ms` east
    /// of UTC; and its close time.
    fn bounds(self, t: i64, offset_ms: i64) -> (i64, i64) {
        let local = t.saturating_add(offset_ms);
        let (start, end) = match self {
            Self::Fixed(w) => {
                let s = local - local.rem_euclid(w);
                (s, s.saturating_add(w))
            }
            // The epoch was a Thursday: weeks start 3 days later (Monday 00:00).
            Self::Week => {
                let s = local - (local - 4 * DAY).rem_euclid(7 * DAY);
                (s, s.saturating_add(7 * DAY))
            }
            Self::Month => {
                let days = local.div_euclid(DAY);
                let (y, m, _) = civil_from_days(days);
                let start = days_from_civil(y, m, 1).saturating_mul(DAY);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (start, days_from_civil(ny, nm, 1).saturating_mul(DAY))
            }
        };
        (start - offset_ms, end - offset_ms - 1)
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day count since 1970-01-01 of (year, month, day).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `timeZone`: hours, or hours and minutes (`-1:00`, `05:45`, `8`), within [-12:00, +14:00];
/// the offset east of UTC in ms.
fn time_zone(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
        None => (digits.parse::<i64>().ok()?, 0),
    };
    // Outside input: checked, so a huge hour count is refused, not an overflow.
    if !(0..60).contains(&m) || !(0..=14).contains(&h) {
        return None;
    }
    let minutes = (h * 60 + m) * if negative { -1 } else { 1 };
    (-12 * 60..=14 * 60).contains(&minutes).then(|| minutes * MINUTE)
}

/// The kline of `interval` (in a zone `offset_ms` east of UTC) holding instant `t`, from the
/// market's candles: (open time, close time, the trades in it), `None` without trades.
fn bar_at(m: &Market, interval: Interval, offset_ms: i64, t: i64) -> Option<(i64, i64, Candle)> {
    let (open, close) = interval.bounds(t, offset_ms);
    let source = if interval == Interval::Fixed(1_000) { &m.seconds } else { &m.minutes };
    let mut bar: Option<Candle> = None;
    for c in source.iter().filter(|c| c.open_time >= open && c.open_time <= close) {
        match bar.as_mut() {
            Some(b) => b.merge(c),
            None => bar = Some(*c),
        }
    }
    Some((open, close, bar?))
}

/// The `<symbol>@kline_<interval>[@+08:00]` events owed to a subscriber after trades: the kline
/// the previous trade was in, final (`x: true`), when the latest trade opened a new one; then
/// the latest trade's kline as it stands. `stream` is the name after `<symbol>@kline_`.
pub(super) fn kline_events(
    m: &Market,
    symbol: &str,
    stream: &str,
    now: i64,
    before: Option<i64>,
    latest: i64,
) -> Vec<String> {
    let (name, zone) = match stream.split_once('@') {
        Some((name, zone)) => (name, time_zone(zone)),
        None => (stream, Some(0)),
    };
    let (Some(interval), Some(offset)) = (Interval::parse(name), zone) else { return Vec::new() };
    let event = |(open, close, c): (i64, i64, Candle), closed: bool| {
        let k = Obj::new()
            .int("t", open)
            .int("T", close)
            .str("s", symbol)
            .str("i", name)
            .int("f", i64::try_from(c.first_id).unwrap_or(i64::MAX))
            .int("L", i64::try_from(c.last_id).unwrap_or(i64::MAX))
            .dec("o", c.open)
            .dec("c", c.close)
            .dec("h", c.high)
            .dec("l", c.low)
            .dec("v", c.volume)
            .int("n", i64::try_from(c.trades).unwrap_or(i64::MAX))
            .bool("x", closed)
            .dec("q", c.quote_volume)
            .dec("V", c.taker_buy_volume)
            .dec("Q", c.taker_buy_quote_volume)
            .str("B", "0")
            .finish();
        Obj::new().str("e", "kline").int("E", now).str("s", symbol).raw("k", &k).finish()
    };
    let mut out = Vec::new();
    let current = bar_at(m, interval, offset, latest);
    if let Some(previous) = before.and_then(|t| bar_at(m, interval, offset, t))
        && current.is_some_and(|(open, _, _)| open != previous.0)
    {
        out.push(event(previous, true));
    }
    out.extend(current.map(|bar| event(bar, false)));
    out
}

fn market<'a>(ex: &'a PaperExchange, params: &Params) -> Result<&'a Market, Reply> {
    ex.markets.get(params.required("symbol")?).ok_or_else(invalid_symbol)
}

/// `GET /api/v3/klines` and `uiKlines` (the same here): the symbol's trades by `interval`, in
/// `timeZone`, between `startTime` and `endTime`, at most `limit` (500, up to 1000): from
/// `startTime` on when given, else the most recent. Only intervals with trades are listed.
pub(super) fn klines(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let m = market(ex, params)?;
    let interval =
        Interval::parse(params.required("interval")?).ok_or_else(|| Reply::error(400, -1120, "Invalid interval."))?;
    let offset = match params.get("timeZone") {
        Some(tz) => time_zone(tz).ok_or_else(|| Reply::error(400, -1100, "Invalid timeZone."))?,
        None => 0,
    };
    let (start, end) = (params.time("startTime")?, params.time("endTime")?);
    let n = limit(params, 500, 1000)?;
    let source = if interval == Interval::Fixed(1_000) { &m.seconds } else { &m.minutes };
    let mut bars: Vec<(i64, i64, Candle)> = Vec::new();
    for c in source {
        let (open, close) = interval.bounds(c.open_time, offset);
        match bars.last_mut() {
            Some((o, _, bar)) if *o == open => bar.merge(c),
            _ => bars.push((open, close, *c)),
        }
    }
    bars.retain(|(open, _, _)| start.is_none_or(|s| *open >= s) && end.is_none_or(|e| *open <= e));
    let chosen: Vec<&(i64, i64, Candle)> = if start.is_some() {
        bars.iter().take(n).collect()
    } else {
        bars.iter().skip(bars.len().saturating_sub(n)).collect()
    };
    let rows = chosen.into_iter().map(|(open, close, c)| {
        let text = |d: Decimal| format!("\"{}\"", aegis_exchange::num::Wire(d));
        format!(
            "[{open},{},{},{},{},{},{close},{},{},{},{},\"0\"]",
            text(c.open),
            text(c.high),
            text(c.low),
            text(c.close),
            text(c.volume),
            text(c.quote_volume),
            c.trades,
            text(c.taker_buy_volume),
            text(c.taker_buy_quote_volume)
        )
    });
    Ok(Reply::ok(format!("[{}]", rows.collect::<Vec<_>>().join(","))))
}

/// The weight of `GET /api/v3/ticker/24hr` for `params`: 2 for one symbol or up to 20, 40 up to
/// 100, 80 for more or all.
pub(super) fn ticker_24hr_weight(params: &Params) -> u64 {
    if params.get("symbol").is_some() {
        return 2;
    }
    match params.get("symbols").and_then(|s| serde_json::from_str::<Vec<String>>(s).ok()).map(|v| v.len()) {
        Some(0..=20) => 2,
        Some(21..=100) => 40,
        _ => 80,
    }
}

/// `GET /api/v3/ticker/24hr`, `FULL` or `MINI` (`type`), for `symbol`, `symbols` or all: the
/// last 24 hours of the symbol's trades (by minute), the last price and the book's best levels.
pub(super) fn ticker_24hr(ex: &PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let mini = match params.get("type") {
        None | Some("FULL") => false,
        Some("MINI") => true,
        Some(_) => return Err(Reply::error(400, -1139, "Invalid ticker type.")),
    };
    let style = if mini { Style::Mini } else { Style::Day };
    let one = |symbol: &str, m: &Market| stats(symbol, m, now.saturating_sub(DAY), now, style);
    match (params.get("symbol"), params.get("symbols")) {
        (Some(_), Some(_)) => Err(Reply::error(400, -1128, "Combination of optional parameters invalid.")),
        (Some(symbol), None) => Ok(Reply::ok(one(symbol, market(ex, params)?))),
        (None, Some(list)) => {
            let names: Vec<String> = serde_json::from_str(list)
                .map_err(|_| Reply::error(400, -1100, "Illegal characters found in parameter 'symbols'."))?;
            let mut out = Vec::new();
            for name in &names {
                let m = ex.markets.get(name).ok_or_else(invalid_symbol)?;
                out.push(one(name, m));
            }
            Ok(Reply::ok(array(out)))
        }
        (None, None) => {
            let mut all: Vec<(&String, &Market)> = ex.markets.iter().collect();
            all.sort_by(|a, b| a.0.cmp(b.0));
            Ok(Reply::ok(array(all.into_iter().map(|(s, m)| one(s, m)))))
        }
    }
}

/// Which fields a ticker carries: `ticker/24hr` FULL (with the book and the previous close),
/// the rolling-window and trading-day FULL form, or MINI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Day,
    Window,
    Mini,
}

/// The weight of `GET /api/v3/ticker` and `ticker/tradingDay`: 4 per symbol, at most 200.
pub(super) fn window_ticker_weight(params: &Params) -> u64 {
    let n = match (params.get("symbol"), params.get("symbols")) {
        (Some(_), _) => 1,
        (None, Some(list)) => serde_json::from_str::<Vec<String>>(list).map_or(1, |v| v.len().max(1)),
        (None, None) => 1,
    };
    u64::try_from(n).unwrap_or(u64::MAX).saturating_mul(4).min(200)
}

/// `windowSize`: `1m`..`59m`, `1h`..`23h`, `1d`..`7d`, in ms.
fn window_size(text: &str) -> Option<i64> {
    // Outside input: the unit is the last character whatever its width, and the count is
    // checked before it is multiplied.
    let unit = text.chars().last()?;
    let n: i64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let (max, ms) = match unit {
        'm' => (59, MINUTE),
        'h' => (23, 60 * MINUTE),
        'd' => (7, DAY),
        _ => return None,
    };
    (1..=max).contains(&n).then(|| n * ms)
}

/// `GET /api/v3/ticker` (a rolling window of `windowSize`, default `1d`, starting on a minute:
/// up to 59,999 ms wider, as Binance says) and `GET /api/v3/ticker/tradingDay` (the current day
/// in `timeZone`), FULL or MINI, for `symbol` or `symbols` (one of them is required; at most 100).
pub(super) fn window_ticker(ex: &PaperExchange, now: i64, params: &Params, trading_day: bool) -> Result<Reply, Reply> {
    let style = match params.get("type") {
        None | Some("FULL") => Style::Window,
        Some("MINI") => Style::Mini,
        Some(_) => return Err(Reply::error(400, -1139, "Invalid ticker type.")),
    };
    let since = if trading_day {
        let offset = match params.get("timeZone") {
            Some(tz) => time_zone(tz).ok_or_else(|| Reply::error(400, -1100, "Invalid timeZone."))?,
            None => 0,
        };
        Interval::Fixed(DAY).bounds(now, offset).0
    } else {
        let size = match params.get("windowSize") {
            Some(w) => window_size(w).ok_or_else(|| Reply::error(400, -1100, "Invalid windowSize."))?,
            None => DAY,
        };
        let start = now.saturating_sub(size);
        start - start.rem_euclid(MINUTE)
    };
    let names: Vec<String> = match (params.get("symbol"), params.get("symbols")) {
        (Some(_), Some(_)) => return Err(Reply::error(400, -1128, "Combination of optional parameters invalid.")),
        (Some(s), None) => vec![s.to_owned()],
        (None, Some(list)) => serde_json::from_str(list)
            .map_err(|_| Reply::error(400, -1100, "Illegal characters found in parameter 'symbols'."))?,
        (None, None) => {
            return Err(Reply::error(
                400,
                -1102,
                "Param 'symbol' or 'symbols' must be sent, but both were empty/null!",
            ));
        }
    };
    if names.len() > 100 {
        return Err(Reply::error(400, -1101, "Too many values sent for parameter 'symbols', max is 100."));
    }
    let mut out = Vec::new();
    for name in &names {
        let m = ex.markets.get(name).ok_or_else(invalid_symbol)?;
        out.push(stats(name, m, since, now, style));
    }
    match (params.get("symbol"), out.pop()) {
        (Some(_), Some(one)) => Ok(Reply::ok(one)),
        (_, last) => Ok(Reply::ok(array(out.into_iter().chain(last)))),
    }
}

/// One symbol's statistics over its trades from `since` to `now` (by minute).
#[derive(Debug, Clone, Copy)]
struct Stats {
    open: Decimal,
    high: Decimal,
    low: Decimal,
    last: Decimal,
    last_qty: Decimal,
    volume: Decimal,
    quote: Decimal,
    count: u64,
    first: i64,
    last_id: i64,
    open_time: i64,
    change: Decimal,
    percent: Decimal,
    weighted: Decimal,
    prev_close: Decimal,
}

impl Stats {
    /// `window`: a rolling window opens on its (minute-aligned) start; otherwise the statistics
    /// open on their first trade.
    fn of(m: &Market, since: i64, now: i64, window: bool) -> Self {
        let mut day: Option<Candle> = None;
        let mut prev_close = Decimal::ZERO;
        for c in &m.minutes {
            if c.open_time < since {
                prev_close = c.close;
                continue;
            }
            match day.as_mut() {
                Some(d) => d.merge(c),
                None => day = Some(*c),
            }
        }
        let last = m.last_price().unwrap_or_default();
        let (open, high, low, volume, quote, count, first, last_id) = match &day {
            Some(d) => (
                d.open,
                d.high,
                d.low,
                d.volume,
                d.quote_volume,
                d.trades,
                i64::try_from(d.first_id).unwrap_or(-1),
                i64::try_from(d.last_id).unwrap_or(-1),
            ),
            None => (last, last, last, Decimal::ZERO, Decimal::ZERO, 0, -1, -1),
        };
        let open_time = if window { since } else { day.map_or(now, |d| d.open_time.max(since)) };
        let change = last.saturating_sub(open);
        let percent = if open.is_zero() {
            Decimal::ZERO
        } else {
            change.checked_mul(Decimal::ONE_HUNDRED).and_then(|c| c.checked_div(open)).unwrap_or_default().round_dp(3)
        };
        let weighted =
            if volume.is_zero() { Decimal::ZERO } else { quote.checked_div(volume).unwrap_or_default().round_dp(8) };
        let last_qty = m.trades.back().map_or(Decimal::ZERO, |t| t.qty);
        Self {
            open,
            high,
            low,
            last,
            last_qty,
            volume,
            quote,
            count,
            first,
            last_id,
            open_time,
            change,
            percent,
            weighted,
            prev_close,
        }
    }
}

/// One symbol's statistics as the REST and WebSocket-API tickers give them.
fn stats(symbol: &str, m: &Market, since: i64, now: i64, style: Style) -> String {
    let st = Stats::of(m, since, now, style == Style::Window);
    let mut r = Obj::new().str("symbol", symbol);
    if style == Style::Day {
        r = r
            .dec("priceChange", st.change)
            .dec("priceChangePercent", st.percent)
            .dec("weightedAvgPrice", st.weighted)
            .dec("prevClosePrice", st.prev_close)
            .dec("lastPrice", st.last)
            .dec("lastQty", st.last_qty);
        let (bid, ask) = (m.bids.first().copied(), m.asks.first().copied());
        r = r
            .dec("bidPrice", bid.map(|l| l.price).unwrap_or_default())
            .dec("bidQty", bid.map(|l| l.qty).unwrap_or_default())
            .dec("askPrice", ask.map(|l| l.price).unwrap_or_default())
            .dec("askQty", ask.map(|l| l.qty).unwrap_or_default());
    } else if style == Style::Window {
        r = r.dec("priceChange", st.change).dec("priceChangePercent", st.percent).dec("weightedAvgPrice", st.weighted);
    }
    r = r.dec("openPrice", st.open).dec("highPrice", st.high).dec("lowPrice", st.low);
    if style != Style::Day {
        r = r.dec("lastPrice", st.last);
    }
    r.dec("volume", st.volume)
        .dec("quoteVolume", st.quote)
        .int("openTime", st.open_time)
        .int("closeTime", now)
        .int("firstId", st.first)
        .int("lastId", st.last_id)
        .int("count", i64::try_from(st.count).unwrap_or(i64::MAX))
        .finish()
}

/// The ticker streams' names after `<symbol>@` (and `!..@arr`): `miniTicker`, `ticker`,
/// `ticker_1h`, `ticker_4h`, `ticker_1d`.
pub(super) const TICKER_STREAMS: [&str; 5] = ["miniTicker", "ticker", "ticker_1h", "ticker_4h", "ticker_1d"];

/// One ticker stream event of `symbol` (`kind` from [`TICKER_STREAMS`]): `24hrMiniTicker`,
/// `24hrTicker` (with the book and the previous close) or `<window>Ticker` (a rolling window
/// opening on a minute, closing now), with Binance's one-letter keys.
pub(super) fn stream_ticker(symbol: &str, m: &Market, now: i64, kind: &str) -> Option<String> {
    let window = match kind {
        "miniTicker" | "ticker" => None,
        other => Some(other.strip_prefix("ticker_")?),
    };
    let Some(window) = window else {
        let st = Stats::of(m, now.saturating_sub(DAY), now, false);
        if kind == "miniTicker" {
            let r = Obj::new().str("e", "24hrMiniTicker").int("E", now).str("s", symbol);
            return Some(
                r.dec("c", st.last)
                    .dec("o", st.open)
                    .dec("h", st.high)
                    .dec("l", st.low)
                    .dec("v", st.volume)
                    .dec("q", st.quote)
                    .finish(),
            );
        }
        let (bid, ask) = (m.bids.first().copied(), m.asks.first().copied());
        let r = Obj::new()
            .str("e", "24hrTicker")
            .int("E", now)
            .str("s", symbol)
            .dec("p", st.change)
            .dec("P", st.percent)
            .dec("w", st.weighted)
            .dec("x", st.prev_close)
            .dec("c", st.last)
            .dec("Q", st.last_qty)
            .dec("b", bid.map(|l| l.price).unwrap_or_default())
            .dec("B", bid.map(|l| l.qty).unwrap_or_default())
            .dec("a", ask.map(|l| l.price).unwrap_or_default())
            .dec("A", ask.map(|l| l.qty).unwrap_or_default());
        return Some(counted(r.dec("o", st.open).dec("h", st.high).dec("l", st.low), &st, now));
    };
    let size = window_size(window)?;
    let start = now.saturating_sub(size);
    let st = Stats::of(m, start - start.rem_euclid(MINUTE), now, true);
    let r = Obj::new()
        .str("e", &format!("{window}Ticker"))
        .int("E", now)
        .str("s", symbol)
        .dec("p", st.change)
        .dec("P", st.percent)
        .dec("o", st.open)
        .dec("h", st.high)
        .dec("l", st.low)
        .dec("c", st.last)
        .dec("w", st.weighted);
    Some(counted(r, &st, now))
}

/// A ticker event's volumes, times and trade ids (`v q O C F L n`).
fn counted(r: Obj, st: &Stats, now: i64) -> String {
    r.dec("v", st.volume)
        .dec("q", st.quote)
        .int("O", st.open_time)
        .int("C", now)
        .int("F", st.first)
        .int("L", st.last_id)
        .int("n", i64::try_from(st.count).unwrap_or(i64::MAX))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_arithmetic_round_trips() {
        for days in [-1_000_000_i64, -1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}: {y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_428), (2025, 12, 6));
    }

    #[test]
    fn interval_bounds_as_binance_aligns_them() {
        // 2026-12-06 10:30:15 UTC, a Sunday.
        let t = 1_796_553_015_000;
        assert_eq!(Interval::Fixed(MINUTE).bounds(t, 0), (1_796_553_000_000, 1_796_553_059_999));
        let (week_start, week_end) = Interval::Week.bounds(t, 0);
        assert_eq!(civil_from_days(week_start / DAY), (2026, 11, 30), "a Monday");
        assert_eq!(week_end - week_start + 1, 7 * DAY);
        let (month_start, month_end) = Interval::Month.bounds(t, 0);
        assert_eq!(
            (civil_from_days(month_start / DAY), civil_from_days((month_end + 1) / DAY)),
            ((2026, 12, 1), (2027, 1, 1))
        );
        // UTC+8: the day starts at 16:00 UTC the day before.
        let (day_start, _) = Interval::Fixed(DAY).bounds(t, 8 * 60 * MINUTE);
        assert_eq!((day_start + 8 * 60 * MINUTE).rem_euclid(DAY), 0);
        assert!(day_start <= t && t < day_start + DAY);
    }

    #[test]
    fn time_zones_within_binances_range() {
        assert_eq!(time_zone("0"), Some(0));
        assert_eq!(time_zone("8"), Some(8 * 60 * MINUTE));
        assert_eq!(time_zone("-1:00"), Some(-60 * MINUTE));
        assert_eq!(time_zone("05:45"), Some(345 * MINUTE));
        assert_eq!(time_zone("+14:00"), Some(14 * 60 * MINUTE));
        for bad in ["14:01", "-12:30", "x", "5:60", "", "99999999999999999", "-9223372036854775807:00", "15"] {
            assert_eq!(time_zone(bad), None, "{bad}");
        }
    }

    #[test]
    fn window_sizes_within_binances_range_and_hostile_ones_refused() {
        assert_eq!(window_size("1m"), Some(MINUTE));
        assert_eq!(window_size("23h"), Some(23 * 60 * MINUTE));
        assert_eq!(window_size("7d"), Some(7 * DAY));
        for bad in ["", "m", "0m", "60m", "8d", "1é", "é", "99999999999999999d", "-1h", "1w"] {
            assert_eq!(window_size(bad), None, "{bad}");
        }
    }
}
