//! No secret reaches `Debug` or `Display`: the API key, the HMAC secret and the Ed25519 seed are
//! swept for in every public type that can hold one, filled the way a program fills them (an
//! engine with requests queued, signed REST and WebSocket-API requests, the client's config, the
//! paper exchange with the key registered).

use aegis_exchange::rest::{Environment, OrderRef, Rest};
use aegis_exchange::sign::{Credentials, Ed25519, HmacSha256};
use aegis_exchange::ws_api::{WsApi, WsAuth};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, MarketContext, OrderRequest, Side};
use aegis_exchange::{Engine, EngineConfig, Intent, Output};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey};
use rust_decimal_macros::dec;

const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const SEED: [u8; 32] = [0x9d; 32];
const NOW: i64 = 1_760_000_000_000;

/// Every form a secret could take in text.
fn forms() -> Vec<String> {
    vec![
        API_KEY.to_owned(),
        SECRET.to_owned(),
        hex::encode(SEED),
        hex::encode_upper(SEED),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, SEED),
        format!("{:?}", SEED.as_slice()),
        format!("{:?}", SECRET.as_bytes()),
    ]
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.is_empty(), "{what}: nothing printed");
    for secret in forms() {
        assert!(!text.contains(&secret), "{what} shows a secret ({}...): {text}", &secret[..8.min(secret.len())]);
    }
}

fn hmac_creds() -> Credentials {
    Credentials::new(API_KEY, HmacSha256::new(SECRET)).unwrap()
}

fn ed25519_creds() -> Credentials {
    Credentials::new(API_KEY, Ed25519::from_seed(&SEED).unwrap()).unwrap()
}

#[test]
fn the_sweep_finds_a_secret_that_is_printed() {
    // The check itself can fail: a type that prints its key is caught.
    let leaky = format!("Credentials {{ api_key: {API_KEY:?} }}");
    let caught = std::panic::catch_unwind(|| assert_clean("leaky", &leaky));
    assert!(caught.is_err());
    let frame = format!(r#"{{"params":{{"apiKey":"{API_KEY}","timestamp":1}}}}"#);
    assert!(std::panic::catch_unwind(|| assert_clean("frame", &frame)).is_err());
}

#[test]
fn signers_and_credentials() {
    assert_clean("HmacSha256", &format!("{:?}", HmacSha256::new(SECRET)));
    assert_clean("Ed25519", &format!("{:?}", Ed25519::from_seed(&SEED).unwrap()));
    for creds in [hmac_creds(), ed25519_creds()] {
        assert_clean("Credentials", &format!("{creds:?} {creds:#?}"));
        assert_clean("signature", &format!("{:?} {}", creds.sign(b"x=1"), creds.sign(b"x=1").as_str()));
        assert_clean("Signer", &format!("{:?}", creds.signer().sign(b"x=1")));
    }
}

#[test]
fn rest_requests_and_builders() {
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let rules = info.symbol("BTCUSDT").unwrap();
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    let valid = rules.normalize(order, &MarketContext::default()).unwrap();
    for creds in [hmac_creds(), ed25519_creds()] {
        let rest = Rest::new(Environment::Testnet).with_credentials(creds);
        assert_clean("Rest", &format!("{rest:?}"));
        let placed = rest.new_order(&valid, NOW).unwrap();
        assert_clean("RestRequest (order)", &format!("{placed:?} {:?}", placed.request));
        let id = ClientOrderId::new("c1").unwrap();
        let query = rest.query_order("BTCUSDT", OrderRef::ClientOrderId(id), NOW).unwrap();
        assert_clean("RestRequest (query)", &format!("{query:?}"));
    }
}

#[test]
fn websocket_api_frames() {
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let rules = info.symbol("BTCUSDT").unwrap();
    let order = OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.01), dec!(70000));
    let valid = rules.normalize(order, &MarketContext::default()).unwrap();
    for creds in [hmac_creds(), ed25519_creds()] {
        let api = WsApi::new().with_credentials(creds);
        assert_clean("WsApi", &format!("{api:?}"));
        let frames = [
            api.user_data_stream_subscribe_signature("1", NOW).unwrap(),
            api.order_place("2", &valid, WsAuth::Signed, NOW).unwrap(),
        ];
        for frame in &frames {
            // The frame itself carries the key (it must, to be sent); its Debug does not.
            assert!(frame.text.contains(API_KEY));
            assert_clean(frame.method, &format!("{frame:?} {frame:#?}"));
        }
    }
    let ed = WsApi::new().with_credentials(ed25519_creds());
    let logon = ed.session_logon("3", NOW).unwrap();
    assert_clean("session.logon", &format!("{logon:?}"));
}

#[test]
fn the_engine_with_requests_and_frames_queued() {
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let ledger = aegis_exchange::Ledger::new();
    ledger.credit(ledger.asset("USDT").unwrap(), dec!(1000)).unwrap();
    let mut engine = Engine::with_ledger(EngineConfig::new(Environment::Testnet, hmac_creds()), info, ledger);
    engine.handle_ws_open(NOW);
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(65000));
    engine.submit(NOW, Intent::new(order)).unwrap();
    // Outputs queued inside the engine: a WebSocket frame with the key, signed requests.
    assert_clean("Engine", &format!("{engine:?} {engine:#?}"));
    let mut outputs = 0;
    loop {
        let output = engine.poll_output();
        assert_clean("Output", &format!("{output:?} {output:#?}"));
        outputs += 1;
        if matches!(output, Output::Timeout(_)) {
            break;
        }
        if let Output::Ws { text } = &output {
            assert!(text.contains(API_KEY), "the frame is intact");
        }
    }
    assert!(outputs >= 3, "a frame and requests were checked");
    assert_clean("EngineConfig", &format!("{:?}", EngineConfig::new(Environment::Testnet, ed25519_creds())));
}

#[cfg(feature = "client")]
#[test]
fn the_client_config() {
    let config = aegis_exchange::client::ClientConfig::new(EngineConfig::new(Environment::Testnet, hmac_creds()));
    assert_clean("ClientConfig", &format!("{config:?}"));
    let builder = aegis_exchange::client::Client::builder(Environment::Testnet).hmac(API_KEY, SECRET);
    assert_clean("ClientBuilder", &format!("{builder:?} {builder:#?}"));
    let builder = aegis_exchange::client::Client::builder(Environment::Testnet).credentials(ed25519_creds());
    assert_clean("ClientBuilder (Ed25519)", &format!("{builder:?}"));
}

#[test]
fn the_paper_exchange_with_the_key_registered() {
    let mut paper = PaperExchange::new(PaperConfig::default(), NOW);
    paper.add_api_key(API_KEY, PaperKey::hmac(SECRET));
    let public = Ed25519::from_seed(&SEED).unwrap().public_key();
    paper.add_api_key("edKey", PaperKey::ed25519(&public).unwrap());
    assert_clean("PaperKey", &format!("{:?}", PaperKey::hmac(SECRET)));
    assert_clean("PaperExchange", &format!("{paper:?} {paper:#?}"));
    #[cfg(feature = "client")]
    {
        use aegis_exchange::ManualClock;
        use aegis_paper::PaperTransport;
        let transport = PaperTransport::new(paper, std::sync::Arc::new(ManualClock::new(NOW)));
        assert_clean("PaperTransport", &format!("{transport:?}"));
    }
}
