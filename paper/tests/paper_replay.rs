//! The paper exchange replaying a live Binance session (hftbacktest's ETHUSDT capture, MIT): the
//! recorded snapshot and diffs become its book, exactly as a local book kept in sync from the
//! same frames sees it; a market order takes the recorded levels; a recorded trade triggers a
//! stop.

use aegis_exchange::BookSync;
use aegis_exchange::rest::{DepthSnapshot, Environment, OrderInfo, OrderRef, OrderResponse, Rest, decode};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::stream::{MarketEvent, SanitizeConfig, StreamDecoder};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, MarketContext, OrderRequest, Side};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const SLICE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/recorded/hftbacktest_ethusdt_2024-08-08_slice.jsonl");

enum Row {
    Snapshot(DepthSnapshot),
    Event(MarketEvent),
}

/// The capture's rows with their local receive time in ms.
fn rows() -> Vec<(i64, Row)> {
    let text = std::fs::read_to_string(SLICE).unwrap();
    let mut decoder = StreamDecoder::new(SanitizeConfig::default());
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let at = i64::try_from(v["local_ts_ns"].as_u64().unwrap() / 1_000_000).unwrap();
            let msg = v["msg"].to_string();
            let row = if v["source"] == "rest" {
                Row::Snapshot(serde_json::from_str(&msg).unwrap())
            } else {
                Row::Event(decoder.decode(at, msg.as_bytes()).unwrap().event)
            };
            (at, row)
        })
        .collect()
}

fn call<T: serde::de::DeserializeOwned>(p: &mut PaperExchange, now: i64, request: http::Request<bytes::Bytes>) -> T {
    let r = p.handle_http(now, request);
    decode(r.status().as_u16(), r.body(), None, now).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn a_recorded_session_drives_the_book_orders_and_stops() {
    let rows = rows();
    let start = rows[0].0;
    let mut p = PaperExchange::new(PaperConfig::default(), start);
    p.add_api_key("k", PaperKey::hmac("s"));
    p.deposit(start, "USDT", dec!(100000));
    p.deposit(start, "ETH", dec!(10));
    let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("k", HmacSha256::new("s")).unwrap());
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let rules = info.symbol("ETHUSDT").unwrap();
    let mut sync = BookSync::new(5000, 5000);
    let mut applied = 0;
    let mut stop_placed = None;
    let mut last_trade = None;
    let trades_after: Vec<(usize, Decimal)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| match r {
            Row::Event(MarketEvent::Trade(t)) => Some((i, t.price)),
            _ => None,
        })
        .collect();
    for (i, (now, row)) in rows.iter().enumerate() {
        let now = *now;
        match row {
            Row::Snapshot(s) => {
                assert!(p.replay_snapshot(now, "ETHUSDT", s));
                sync.on_snapshot(s).unwrap();
            }
            Row::Event(MarketEvent::DepthUpdate(d)) => {
                if p.replay_diff(now, d) {
                    applied += 1;
                }
                sync.on_diff(d.clone()).unwrap();
            }
            Row::Event(MarketEvent::Trade(t)) => {
                p.replay_trade(now, t);
                last_trade = Some(t.price);
            }
            Row::Event(other) => panic!("{other:?}"),
        }
        if applied == 40 && stop_placed.is_none() {
            // The paper book is the recorded book, level for level.
            let ours: DepthSnapshot = call(&mut p, now, rest.depth("ETHUSDT", Some(5000)).unwrap().request);
            let book = sync.book().unwrap();
            assert_eq!(ours.last_update_id, book.last_update_id());
            assert_eq!(
                ours.bids.iter().map(|l| (l.price, l.qty)).collect::<Vec<_>>(),
                book.bids().map(|l| (l.price, l.qty)).collect::<Vec<_>>()
            );
            assert_eq!(
                ours.asks.iter().map(|l| (l.price, l.qty)).collect::<Vec<_>>(),
                book.asks().map(|l| (l.price, l.qty)).collect::<Vec<_>>()
            );
            // A market buy takes the recorded asks in order.
            let order = OrderRequest::market("ETHUSDT", Side::Buy, dec!(5));
            let valid = rules.validate(&order, &MarketContext::default()).unwrap();
            let r: OrderResponse = call(&mut p, now, rest.new_order(&valid, now).unwrap().request);
            let mut left = dec!(5);
            for (fill, level) in r.fills.iter().zip(&ours.asks) {
                assert_eq!(fill.price, level.price);
                assert_eq!(fill.qty, level.qty.min(left));
                left -= fill.qty;
            }
            assert_eq!(left, dec!(0));
            // A stop-loss sell at the lowest price the rest of the session trades at.
            let last = last_trade.unwrap();
            let low = trades_after.iter().filter(|(j, _)| *j > i).map(|(_, p)| *p).min().unwrap();
            assert!(low < last, "the capture trades lower later ({low} < {last})");
            let stop = OrderRequest::stop_loss_limit("ETHUSDT", Side::Sell, dec!(1), low - dec!(5), low)
                .with_client_order_id(ClientOrderId::new("stop").unwrap());
            let valid = rules.validate(&stop, &MarketContext::default()).unwrap();
            let _: OrderResponse = call(&mut p, now, rest.new_order(&valid, now).unwrap().request);
            stop_placed = Some(now);
        }
    }
    assert_eq!(applied, 120, "every diff after the snapshot applies");
    let now = rows.last().unwrap().0;
    let stop: OrderInfo = call(
        &mut p,
        now,
        rest.query_order("ETHUSDT", OrderRef::ClientOrderId(ClientOrderId::new("stop").unwrap()), now).unwrap().request,
    );
    assert_eq!(stop.is_working, Some(true), "the recorded trade at the low triggered it");
    assert_eq!(stop.status, aegis_exchange::OrderStatus::Filled, "and the recorded bids took it");
}
