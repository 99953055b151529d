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

/// The fields read so far (a bit each), so a key given twice is refused as serde refuses it.
#[derive(Default)]
struct Seen(u64);

impl Seen {
    /// Marks field `bit` seen; `None` for a key given twice (serde refuses it).
    #[inline]
    fn once(&mut self, bit: u32) -> Option<()> {
        let mask = 1u64 << bit;
        (self.0 & mask == 0).then(|| self.0 |= mask)
    }
}

/// The bits of the fields without a default: every one must have been read.
const REQUIRED: u64 =
    bits(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 25, 26, 27, 28, 29, 30]);

/// The mask of `indices`.
const fn bits(indices: &[u32]) -> u64 {
    let mut mask = 0u64;
    let mut rest = indices;
    while let [first, tail @ ..] = rest {
        mask |= 1u64 << *first;
        rest = tail;
    }
    mask
}

/// A report whose every field is a placeholder: the required ones are overwritten before it is
/// handed out ([`REQUIRED`]), the optional ones keep their default (absent).
fn blank() -> ExecutionReport {
    ExecutionReport {
        event_time: 0,
        symbol: String::new(),
        client_order_id: String::new(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        quantity: Decimal::ZERO,
        price: Decimal::ZERO,
        stop_price: Decimal::ZERO,
        iceberg_qty: Decimal::ZERO,
        order_list_id: 0,
        orig_client_order_id: String::new(),
        execution_type: ExecutionType::New,
        status: OrderStatus::New,
        reject_reason: String::new(),
        order_id: 0,
        last_qty: Decimal::ZERO,
        cumulative_qty: Decimal::ZERO,
        last_price: Decimal::ZERO,
        commission: Decimal::ZERO,
        commission_asset: None,
        transaction_time: 0,
        trade_id: 0,
        prevented_match_id: None,
        execution_id: 0,
        is_working: false,
        is_maker: false,
        order_creation_time: 0,
        cumulative_quote_qty: Decimal::ZERO,
        last_quote_qty: Decimal::ZERO,
        quote_order_qty: Decimal::ZERO,
        working_time: None,
        self_trade_prevention_mode: None,
        expiry_reason: None,
        trailing_delta: None,
        trailing_time: None,
        strategy_id: None,
        strategy_type: None,
        prevented_qty: None,
        last_prevented_qty: None,
        trade_group_id: None,
        counter_order_id: None,
        counter_symbol: None,
        prevented_execution_qty: None,
        prevented_execution_price: None,
        prevented_execution_quote_qty: None,
        match_type: None,
        allocation_id: None,
        working_floor: None,
        used_sor: None,
        peg_price_type: None,
        peg_offset_type: None,
        peg_offset_value: None,
        pegged_price: None,
    }
}

/// The frame, if it is an `executionReport` in Binance's own form; `None`: take the general path.
pub(super) fn execution_report(text: &[u8]) -> Option<WsFrame> {
    let mut c = Cursor::new(text);
    c.lit(br#"{"subscriptionId":"#)?;
    let subscription_id = c.json_u64()?;
    c.lit(br#","event":{"e":"executionReport""#)?;
    let mut seen = Seen::default();
    // Written in place: the report is read straight into its box (no moves of a 1 KB struct).
    let mut report = Box::new(blank());
    let f = &mut *report;
    // Binance writes the keys in one order: each is first tried where Binance puts it (one
    // comparison of `,"k":`), any other order is read key by key.
    let mut next = 0;
    loop {
        let index = if let Some((expected, index)) = ORDER.get(next)
            && c.lit(expected).is_some()
        {
            next += 1;
            *index
        } else {
            match c.byte()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
            c.lit(b"\"")?;
            let key = c.string_bytes()?;
            // serde_json refuses a key that is not UTF-8: so does this path.
            if !key.is_ascii() {
                std::str::from_utf8(key).ok()?;
            }
            c.lit(b":")?;
            match key_index(key) {
                Key::Field(index) => index,
                Key::Skip => {
                    c.skip()?;
                    continue;
                }
                Key::Refuse => return None,
            }
        };
        if index == SKIP {
            c.skip()?;
            continue;
        }
        seen.once(index)?;
        read(index, &mut c, f)?;
    }
    c.lit(b"}")?;
    if c.at != text.len() {
        return None;
    }
    (seen.0 & REQUIRED == REQUIRED).then_some(())?;
    Some(WsFrame::Event { subscription_id: Some(subscription_id), event: UserDataEvent::ExecutionReport(report) })
}

/// The index of a key this crate does not read.
const SKIP: u32 = u32::MAX;

/// Binance's order of the keys (`M`, not read, included), each with its field's index.
const ORDER: [(&[u8], u32); 34] = [
    (br#","E":"#, 0),
    (br#","s":"#, 1),
    (br#","c":"#, 2),
    (br#","S":"#, 3),
    (br#","o":"#, 4),
    (br#","f":"#, 5),
    (br#","q":"#, 6),
    (br#","p":"#, 7),
    (br#","P":"#, 8),
    (br#","F":"#, 9),
    (br#","g":"#, 10),
    (br#","C":"#, 11),
    (br#","x":"#, 12),
    (br#","X":"#, 13),
    (br#","r":"#, 14),
    (br#","i":"#, 15),
    (br#","l":"#, 16),
    (br#","z":"#, 17),
    (br#","L":"#, 18),
    (br#","n":"#, 19),
    (br#","N":"#, 20),
    (br#","T":"#, 21),
    (br#","t":"#, 22),
    (br#","v":"#, 23),
    (br#","I":"#, 24),
    (br#","w":"#, 25),
    (br#","m":"#, 26),
    (br#","M":"#, SKIP),
    (br#","O":"#, 27),
    (br#","Z":"#, 28),
    (br#","Y":"#, 29),
    (br#","Q":"#, 30),
    (br#","W":"#, 31),
    (br#","V":"#, 32),
];

/// What a key is to this path.
enum Key {
    /// A field this crate reads: its index.
    Field(u32),
    /// A key this crate does not read: its value is skipped.
    Skip,
    /// `e` again: left to the general path.
    Refuse,
}

fn key_index(key: &[u8]) -> Key {
    match key {
        b"E" => Key::Field(0),
        b"s" => Key::Field(1),
        b"c" => Key::Field(2),
        b"S" => Key::Field(3),
        b"o" => Key::Field(4),
        b"f" => Key::Field(5),
        b"q" => Key::Field(6),
        b"p" => Key::Field(7),
        b"P" => Key::Field(8),
        b"F" => Key::Field(9),
        b"g" => Key::Field(10),
        b"C" => Key::Field(11),
        b"x" => Key::Field(12),
        b"X" => Key::Field(13),
        b"r" => Key::Field(14),
        b"i" => Key::Field(15),
        b"l" => Key::Field(16),
        b"z" => Key::Field(17),
        b"L" => Key::Field(18),
        b"n" => Key::Field(19),
        b"N" => Key::Field(20),
        b"T" => Key::Field(21),
        b"t" => Key::Field(22),
        b"v" => Key::Field(23),
        b"I" => Key::Field(24),
        b"w" => Key::Field(25),
        b"m" => Key::Field(26),
        b"O" => Key::Field(27),
        b"Z" => Key::Field(28),
        b"Y" => Key::Field(29),
        b"Q" => Key::Field(30),
        b"W" => Key::Field(31),
        b"V" => Key::Field(32),
        b"eR" => Key::Field(33),
        b"d" => Key::Field(34),
        b"D" => Key::Field(35),
        b"j" => Key::Field(36),
        b"J" => Key::Field(37),
        b"A" => Key::Field(38),
        b"B" => Key::Field(39),
        b"u" => Key::Field(40),
        b"U" => Key::Field(41),
        b"Cs" => Key::Field(42),
        b"pl" => Key::Field(43),
        b"pL" => Key::Field(44),
        b"pY" => Key::Field(45),
        b"b" => Key::Field(46),
        b"a" => Key::Field(47),
        b"k" => Key::Field(48),
        b"uS" => Key::Field(49),
        b"gP" => Key::Field(50),
        b"gOT" => Key::Field(51),
        b"gOV" => Key::Field(52),
        b"gp" => Key::Field(53),
        b"e" => Key::Refuse,
        _ => Key::Skip,
    }
}

/// Reads field `index`'s value into the report.
#[inline]
fn read(index: u32, c: &mut Cursor<'_>, f: &mut ExecutionReport) -> Option<()> {
    let own = |s: &str| s.to_owned();
    match index {
        0 => f.event_time = c.integer()?,
        1 => f.symbol = own(c.quoted()?),
        2 => f.client_order_id = own(c.quoted()?),
        3 => f.side = Side::from_wire(c.quoted()?),
        4 => f.order_type = OrderType::from_wire(c.quoted()?),
        5 => f.time_in_force = TimeInForce::from_wire(c.quoted()?),
        6 => f.quantity = c.decimal()?,
        7 => f.price = c.decimal()?,
        8 => f.stop_price = c.decimal()?,
        9 => f.iceberg_qty = c.decimal()?,
        10 => f.order_list_id = c.integer()?,
        11 => f.orig_client_order_id = own(c.quoted()?),
        12 => f.execution_type = ExecutionType::from_wire(c.quoted()?),
        13 => f.status = OrderStatus::from_wire(c.quoted()?),
        14 => f.reject_reason = own(c.quoted()?),
        15 => f.order_id = c.json_u64()?,
        16 => f.last_qty = c.decimal()?,
        17 => f.cumulative_qty = c.decimal()?,
        18 => f.last_price = c.decimal()?,
        19 => f.commission = c.decimal()?,
        20 => f.commission_asset = optional(c, |c| c.quoted().map(own))?,
        21 => f.transaction_time = c.integer()?,
        22 => f.trade_id = c.integer()?,
        23 => f.prevented_match_id = optional(c, Cursor::integer)?,
        24 => f.execution_id = c.integer()?,
        25 => f.is_working = c.boolean()?,
        26 => f.is_maker = c.boolean()?,
        27 => f.order_creation_time = c.integer()?,
        28 => f.cumulative_quote_qty = c.decimal()?,
        29 => f.last_quote_qty = c.decimal()?,
        30 => f.quote_order_qty = c.decimal()?,
        31 => f.working_time = optional(c, Cursor::integer)?,
        32 => f.self_trade_prevention_mode = optional(c, |c| c.quoted().map(SelfTradePreventionMode::from_wire))?,
        33 => f.expiry_reason = optional(c, |c| c.quoted().map(own))?,
        34 => f.trailing_delta = optional(c, Cursor::integer)?,
        35 => f.trailing_time = optional(c, Cursor::integer)?,
        36 => f.strategy_id = optional(c, Cursor::integer)?,
        37 => f.strategy_type = optional(c, Cursor::integer)?,
        38 => f.prevented_qty = Some(c.decimal()?),
        39 => f.last_prevented_qty = Some(c.decimal()?),
        40 => f.trade_group_id = optional(c, Cursor::integer)?,
        41 => f.counter_order_id = optional(c, Cursor::integer)?,
        42 => f.counter_symbol = optional(c, |c| c.quoted().map(own))?,
        43 => f.prevented_execution_qty = Some(c.decimal()?),
        44 => f.prevented_execution_price = Some(c.decimal()?),
        45 => f.prevented_execution_quote_qty = Some(c.decimal()?),
        46 => f.match_type = optional(c, |c| c.quoted().map(own))?,
        47 => f.allocation_id = optional(c, Cursor::integer)?,
        48 => f.working_floor = optional(c, |c| c.quoted().map(own))?,
        49 => f.used_sor = optional(c, Cursor::boolean)?,
        50 => f.peg_price_type = optional(c, |c| c.quoted().map(own))?,
        51 => f.peg_offset_type = optional(c, |c| c.quoted().map(own))?,
        52 => f.peg_offset_value = optional(c, Cursor::integer)?,
        53 => f.pegged_price = Some(c.decimal()?),
        _ => return None,
    }
    Some(())
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

    /// The event's `"k":v` pairs after `"e"` (the fixtures hold no comma inside a value).
    fn pairs(frame: &str) -> Option<(String, Vec<String>)> {
        let head = r#","event":{"e":"executionReport""#;
        let at = frame.find(head)? + head.len();
        let body = frame.get(at + 1..frame.len().checked_sub(2)?)?;
        Some((frame.get(..at)?.to_owned(), body.split(",\"").map(|p| p.trim_start_matches('"').to_owned()).collect()))
    }

    fn join(head: &str, pairs: &[String]) -> String {
        let mut out = head.to_owned();
        for p in pairs {
            out.push_str(",\"");
            out.push_str(p);
        }
        out.push_str("}}");
        out
    }

    #[test]
    fn keys_in_any_order_or_missing_are_read_as_the_general_path_reads_them() {
        let mut fast_taken = 0;
        let mut refused = 0;
        for frame in frames() {
            let Some((head, pairs)) = pairs(&frame) else { panic!("{frame}") };
            assert_eq!(join(&head, &pairs), frame, "the split is exact");
            let mut variants = vec![pairs.iter().rev().cloned().collect::<Vec<_>>()];
            let mut rotated = pairs.clone();
            rotated.rotate_left(7);
            variants.push(rotated);
            for skip in 0..pairs.len() {
                let mut fewer = pairs.clone();
                fewer.remove(skip);
                variants.push(fewer);
            }
            // A key given twice, in Binance's place and again at the end.
            for twice in 0..pairs.len() {
                let mut more = pairs.clone();
                more.push(pairs.get(twice).cloned().unwrap_or_default());
                variants.push(more);
            }
            for variant in variants {
                let text = join(&head, &variant);
                match execution_report(text.as_bytes()) {
                    Some(fast) => {
                        fast_taken += 1;
                        assert_eq!(Ok(fast), WsFrame::decode_general(text.as_bytes()), "{text}");
                    }
                    None => refused += 1,
                }
            }
        }
        // Reordered frames and those missing an optional field are taken; a missing required
        // field or a repeated one is refused (the general path answers for them).
        assert!(fast_taken > 20 && refused > 20, "taken {fast_taken}, refused {refused}");
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
