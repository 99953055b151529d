//! The fast path for the user-data frame that matters most: an `executionReport` in its
//! WebSocket-API wrapper, written as Binance writes it (`{"subscriptionId":N,"event":{"e":
//! "executionReport",...}}`, no whitespace, no escapes). One pass over the bytes, each field
//! parsed as the serde path parses it (the same strict decimal parser, the same enum names);
//! anything unusual (an escape, a duplicated key, a null where a value belongs, a nested value, a
//! missing field, trailing bytes) returns `None`, and the general path gives the answer. Tests
//! compare both paths on every recorded report and on every one-byte deletion of them.

use rust_decimal::Decimal;

use super::{ExecutionReport, UserDataEvent, WsFrame};
use crate::model::{ExecutionType, OrderStatus, OrderType, SelfTradePreventionMode, Side, TimeInForce};
use crate::scan::{Cursor, optional};

/// The fields as read, each at most once.
#[derive(Default)]
struct Fields {
    seen: u64,
    event_time: Option<i64>,
    symbol: Option<String>,
    client_order_id: Option<String>,
    side: Option<Side>,
    order_type: Option<OrderType>,
    time_in_force: Option<TimeInForce>,
    quantity: Option<Decimal>,
    price: Option<Decimal>,
    stop_price: Option<Decimal>,
    iceberg_qty: Option<Decimal>,
    order_list_id: Option<i64>,
    orig_client_order_id: Option<String>,
    execution_type: Option<ExecutionType>,
    status: Option<OrderStatus>,
    reject_reason: Option<String>,
    order_id: Option<u64>,
    last_qty: Option<Decimal>,
    cumulative_qty: Option<Decimal>,
    last_price: Option<Decimal>,
    commission: Option<Decimal>,
    commission_asset: Option<String>,
    transaction_time: Option<i64>,
    trade_id: Option<i64>,
    prevented_match_id: Option<i64>,
    execution_id: Option<i64>,
    is_working: Option<bool>,
    is_maker: Option<bool>,
    order_creation_time: Option<i64>,
    cumulative_quote_qty: Option<Decimal>,
    last_quote_qty: Option<Decimal>,
    quote_order_qty: Option<Decimal>,
    working_time: Option<i64>,
    self_trade_prevention_mode: Option<SelfTradePreventionMode>,
    expiry_reason: Option<String>,
    trailing_delta: Option<i64>,
    trailing_time: Option<i64>,
    strategy_id: Option<i64>,
    strategy_type: Option<i64>,
    prevented_qty: Option<Decimal>,
    last_prevented_qty: Option<Decimal>,
    trade_group_id: Option<i64>,
    counter_order_id: Option<i64>,
    counter_symbol: Option<String>,
    prevented_execution_qty: Option<Decimal>,
    prevented_execution_price: Option<Decimal>,
    prevented_execution_quote_qty: Option<Decimal>,
    match_type: Option<String>,
    allocation_id: Option<i64>,
    working_floor: Option<String>,
    used_sor: Option<bool>,
    peg_price_type: Option<String>,
    peg_offset_type: Option<String>,
    peg_offset_value: Option<i64>,
    pegged_price: Option<Decimal>,
}

impl Fields {
    /// Marks field `bit` seen; `None` for a key given twice (serde refuses it).
    #[inline]
    fn once(&mut self, bit: u32) -> Option<()> {
        let mask = 1u64 << bit;
        (self.seen & mask == 0).then(|| self.seen |= mask)
    }
}

/// The frame, if it is an `executionReport` in Binance's own form; `None`: take the general path.
pub(super) fn execution_report(text: &[u8]) -> Option<WsFrame> {
    let mut c = Cursor::new(text);
    c.lit(br#"{"subscriptionId":"#)?;
    let subscription_id = c.json_u64()?;
    c.lit(br#","event":{"e":"executionReport""#)?;
    let mut f = Fields::default();
    loop {
        match c.byte()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
        let key = {
            c.lit(b"\"")?;
            let key = c.string_bytes()?;
            // serde_json refuses a key that is not UTF-8: so does this path.
            if !key.is_ascii() {
                std::str::from_utf8(key).ok()?;
            }
            key
        };
        c.lit(b":")?;
        let own = |s: &str| s.to_owned();
        match key {
            [b'E'] => {
                f.once(0)?;
                f.event_time = Some(c.integer()?);
            }
            [b's'] => {
                f.once(1)?;
                f.symbol = Some(own(c.quoted()?));
            }
            [b'c'] => {
                f.once(2)?;
                f.client_order_id = Some(own(c.quoted()?));
            }
            [b'S'] => {
                f.once(3)?;
                f.side = Some(Side::from_wire(c.quoted()?));
            }
            [b'o'] => {
                f.once(4)?;
                f.order_type = Some(OrderType::from_wire(c.quoted()?));
            }
            [b'f'] => {
                f.once(5)?;
                f.time_in_force = Some(TimeInForce::from_wire(c.quoted()?));
            }
            [b'q'] => {
                f.once(6)?;
                f.quantity = Some(c.decimal()?);
            }
            [b'p'] => {
                f.once(7)?;
                f.price = Some(c.decimal()?);
            }
            [b'P'] => {
                f.once(8)?;
                f.stop_price = Some(c.decimal()?);
            }
            [b'F'] => {
                f.once(9)?;
                f.iceberg_qty = Some(c.decimal()?);
            }
            [b'g'] => {
                f.once(10)?;
                f.order_list_id = Some(c.integer()?);
            }
            [b'C'] => {
                f.once(11)?;
                f.orig_client_order_id = Some(own(c.quoted()?));
            }
            [b'x'] => {
                f.once(12)?;
                f.execution_type = Some(ExecutionType::from_wire(c.quoted()?));
            }
            [b'X'] => {
                f.once(13)?;
                f.status = Some(OrderStatus::from_wire(c.quoted()?));
            }
            [b'r'] => {
                f.once(14)?;
                f.reject_reason = Some(own(c.quoted()?));
            }
            [b'i'] => {
                f.once(15)?;
                f.order_id = Some(c.json_u64()?);
            }
            [b'l'] => {
                f.once(16)?;
                f.last_qty = Some(c.decimal()?);
            }
            [b'z'] => {
                f.once(17)?;
                f.cumulative_qty = Some(c.decimal()?);
            }
            [b'L'] => {
                f.once(18)?;
                f.last_price = Some(c.decimal()?);
            }
            [b'n'] => {
                f.once(19)?;
                f.commission = Some(c.decimal()?);
            }
            [b'N'] => {
                f.once(20)?;
                f.commission_asset = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'T'] => {
                f.once(21)?;
                f.transaction_time = Some(c.integer()?);
            }
            [b't'] => {
                f.once(22)?;
                f.trade_id = Some(c.integer()?);
            }
            [b'v'] => {
                f.once(23)?;
                f.prevented_match_id = optional(&mut c, Cursor::integer)?;
            }
            [b'I'] => {
                f.once(24)?;
                f.execution_id = Some(c.integer()?);
            }
            [b'w'] => {
                f.once(25)?;
                f.is_working = Some(c.boolean()?);
            }
            [b'm'] => {
                f.once(26)?;
                f.is_maker = Some(c.boolean()?);
            }
            [b'O'] => {
                f.once(27)?;
                f.order_creation_time = Some(c.integer()?);
            }
            [b'Z'] => {
                f.once(28)?;
                f.cumulative_quote_qty = Some(c.decimal()?);
            }
            [b'Y'] => {
                f.once(29)?;
                f.last_quote_qty = Some(c.decimal()?);
            }
            [b'Q'] => {
                f.once(30)?;
                f.quote_order_qty = Some(c.decimal()?);
            }
            [b'W'] => {
                f.once(31)?;
                f.working_time = optional(&mut c, Cursor::integer)?;
            }
            [b'V'] => {
                f.once(32)?;
                f.self_trade_prevention_mode =
                    optional(&mut c, |c| c.quoted().map(SelfTradePreventionMode::from_wire))?;
            }
            [b'e', b'R'] => {
                f.once(33)?;
                f.expiry_reason = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'd'] => {
                f.once(34)?;
                f.trailing_delta = optional(&mut c, Cursor::integer)?;
            }
            [b'D'] => {
                f.once(35)?;
                f.trailing_time = optional(&mut c, Cursor::integer)?;
            }
            [b'j'] => {
                f.once(36)?;
                f.strategy_id = optional(&mut c, Cursor::integer)?;
            }
            [b'J'] => {
                f.once(37)?;
                f.strategy_type = optional(&mut c, Cursor::integer)?;
            }
            // The serde path reads these as strict decimals even when `null` is sent: a `null`
            // (its error) is left to it.
            [b'A'] => {
                f.once(38)?;
                f.prevented_qty = Some(c.decimal()?);
            }
            [b'B'] => {
                f.once(39)?;
                f.last_prevented_qty = Some(c.decimal()?);
            }
            [b'u'] => {
                f.once(40)?;
                f.trade_group_id = optional(&mut c, Cursor::integer)?;
            }
            [b'U'] => {
                f.once(41)?;
                f.counter_order_id = optional(&mut c, Cursor::integer)?;
            }
            [b'C', b's'] => {
                f.once(42)?;
                f.counter_symbol = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'p', b'l'] => {
                f.once(43)?;
                f.prevented_execution_qty = Some(c.decimal()?);
            }
            [b'p', b'L'] => {
                f.once(44)?;
                f.prevented_execution_price = Some(c.decimal()?);
            }
            [b'p', b'Y'] => {
                f.once(45)?;
                f.prevented_execution_quote_qty = Some(c.decimal()?);
            }
            [b'b'] => {
                f.once(46)?;
                f.match_type = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'a'] => {
                f.once(47)?;
                f.allocation_id = optional(&mut c, Cursor::integer)?;
            }
            [b'k'] => {
                f.once(48)?;
                f.working_floor = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'u', b'S'] => {
                f.once(49)?;
                f.used_sor = optional(&mut c, Cursor::boolean)?;
            }
            [b'g', b'P'] => {
                f.once(50)?;
                f.peg_price_type = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'g', b'O', b'T'] => {
                f.once(51)?;
                f.peg_offset_type = optional(&mut c, |c| c.quoted().map(own))?;
            }
            [b'g', b'O', b'V'] => {
                f.once(52)?;
                f.peg_offset_value = optional(&mut c, Cursor::integer)?;
            }
            [b'g', b'p'] => {
                f.once(53)?;
                f.pegged_price = Some(c.decimal()?);
            }
            // `e` again, or a key this crate does not read.
            [b'e'] => return None,
            _ => c.skip()?,
        }
    }
    c.lit(b"}")?;
    if c.at != text.len() {
        return None;
    }
    let report = ExecutionReport {
        event_time: f.event_time?,
        symbol: f.symbol?,
        client_order_id: f.client_order_id?,
        side: f.side?,
        order_type: f.order_type?,
        time_in_force: f.time_in_force?,
        quantity: f.quantity?,
        price: f.price?,
        stop_price: f.stop_price?,
        iceberg_qty: f.iceberg_qty?,
        order_list_id: f.order_list_id?,
        orig_client_order_id: f.orig_client_order_id.unwrap_or_default(),
        execution_type: f.execution_type?,
        status: f.status?,
        reject_reason: f.reject_reason?,
        order_id: f.order_id?,
        last_qty: f.last_qty?,
        cumulative_qty: f.cumulative_qty?,
        last_price: f.last_price?,
        commission: f.commission?,
        commission_asset: f.commission_asset,
        transaction_time: f.transaction_time?,
        trade_id: f.trade_id?,
        prevented_match_id: f.prevented_match_id,
        execution_id: f.execution_id?,
        is_working: f.is_working?,
        is_maker: f.is_maker?,
        order_creation_time: f.order_creation_time?,
        cumulative_quote_qty: f.cumulative_quote_qty?,
        last_quote_qty: f.last_quote_qty?,
        quote_order_qty: f.quote_order_qty?,
        working_time: f.working_time,
        self_trade_prevention_mode: f.self_trade_prevention_mode,
        expiry_reason: f.expiry_reason,
        trailing_delta: f.trailing_delta,
        trailing_time: f.trailing_time,
        strategy_id: f.strategy_id,
        strategy_type: f.strategy_type,
        prevented_qty: f.prevented_qty,
        last_prevented_qty: f.last_prevented_qty,
        trade_group_id: f.trade_group_id,
        counter_order_id: f.counter_order_id,
        counter_symbol: f.counter_symbol,
        prevented_execution_qty: f.prevented_execution_qty,
        prevented_execution_price: f.prevented_execution_price,
        prevented_execution_quote_qty: f.prevented_execution_quote_qty,
        match_type: f.match_type,
        allocation_id: f.allocation_id,
        working_floor: f.working_floor,
        used_sor: f.used_sor,
        peg_price_type: f.peg_price_type,
        peg_offset_type: f.peg_offset_type,
        peg_offset_value: f.peg_offset_value,
        pegged_price: f.pegged_price,
    };
    Some(WsFrame::Event {
        subscription_id: Some(subscription_id),
        event: UserDataEvent::ExecutionReport(Box::new(report)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's own form: the docs' report, a mainnet report of 2021 (recorded by gocryptotrader,
    /// in its WebSocket-API wrapper) and one carrying the optional fields added since.
    fn frames() -> Vec<String> {
        let doc = include_str!("../../tests/fixtures/uds_execution_report.json");
        let compact: String = {
            let mut out = String::new();
            let mut in_string = false;
            for ch in doc.chars() {
                if ch == '"' {
                    in_string = !in_string;
                }
                if in_string || !ch.is_whitespace() {
                    out.push(ch);
                }
            }
            out
        };
        let real = [
            r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1616627567900,"s":"BTCUSDT","c":"c4wyKsIhoAaittTYlIVLqk","S":"BUY","o":"LIMIT","f":"GTC","q":"0.00028400","p":"52789.10000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":5340845958,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1616627567900,"t":-1,"I":11388173160,"w":true,"m":false,"M":false,"O":1616627567900,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000"}}"#,
            r#"{"subscriptionId":12,"event":{"e":"executionReport","E":1620814006493,"s":"DOGEUSDT","c":"x-A6SIDXVS-a1","S":"SELL","o":"LIMIT","f":"GTC","q":"40.00000000","p":"0.50000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"FILLED","r":"NONE","i":1003355440,"l":"40.00000000","z":"40.00000000","L":"0.50000000","n":"0.02000000","N":"USDT","T":1620814006492,"t":156458937,"I":2081226233,"w":false,"m":true,"M":true,"O":1620813983383,"Z":"20.00000000","Y":"20.00000000","Q":"0.00000000","W":1620813983383,"V":"EXPIRE_MAKER","eR":"NONE","j":7,"J":1000000,"uS":false,"A":"0.00000000","B":"0.00000000"}}"#,
        ];
        let mut all = vec![compact];
        all.extend(real.iter().map(|s| (*s).to_owned()));
        all
    }

    #[test]
    fn the_fast_path_takes_binances_form_and_reads_it_as_the_general_path() {
        for frame in frames() {
            let fast = execution_report(frame.as_bytes()).unwrap_or_else(|| panic!("fast path refused {frame}"));
            assert_eq!(Ok(fast), WsFrame::decode_general(frame.as_bytes()), "{frame}");
        }
    }

    #[test]
    fn every_one_byte_deletion_or_change_is_refused_or_read_identically() {
        let mut taken = 0;
        for frame in frames() {
            let bytes = frame.as_bytes();
            for mutated in crate::scan::mutations(bytes) {
                if let Some(fast) = execution_report(&mutated) {
                    taken += 1;
                    let general = WsFrame::decode_general(&mutated);
                    assert_eq!(Ok(fast), general, "{}", String::from_utf8_lossy(&mutated));
                }
            }
        }
        assert!(taken > 100, "the fast path took some mutations ({taken})");
    }

    #[test]
    fn integers_read_as_serde_json_reads_an_i64() {
        let texts = [
            "0",
            "-0",
            "7",
            "-1",
            "10",
            "01",
            "-01",
            "1.0",
            "1e3",
            "-",
            "",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "9999999999999999999",
            "12345678901234567890",
            "00",
            "1-",
            "+1",
        ];
        for text in texts {
            let mut c = Cursor::new(text.as_bytes());
            let ours = c.integer().filter(|_| c.at == text.len());
            assert_eq!(ours, serde_json::from_str::<i64>(text).ok(), "{text:?}");
        }
    }
}
