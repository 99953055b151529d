//! `Client::builder`: one line to a connected client, from keys, a key file or variables, on the
//! default backends; what it refuses before connecting.

use std::sync::Arc;

use aegis_exchange::client::{Client, ClientError, ENV_API_KEY, ENV_API_SECRET, ENV_ED25519_KEY_FILE};
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::Ed25519;
use aegis_exchange::{Clock, Intent, OrderRequest, OrderState, Side, SystemClock};
use aegis_paper::server::PaperServer;
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};
use rust_decimal_macros::dec;

/// RFC 8032's first test key, as PKCS#8 PEM.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

async fn server() -> PaperServer {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now_millis();
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("builderKey", PaperKey::hmac("builderSecret"));
    let signer = Ed25519::from_pkcs8_pem(PEM).unwrap();
    paper.add_api_key("edKey", PaperKey::ed25519(&signer.public_key()).unwrap());
    paper.deposit(now, "USDT", dec!(10000));
    PaperServer::start_with_clock(paper, clock).await.unwrap()
}

fn env(server: &PaperServer) -> Environment {
    Environment::Custom {
        rest: server.http_url(),
        ws_api: format!("{}/ws-api/v3", server.ws_url()),
        streams: server.ws_url(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_line_from_keys_a_key_file_or_variables() {
    let server = server().await;
    // HMAC keys, the default backends (hyper, tungstenite), a configuration change.
    let client = Client::builder(env(&server))
        .hmac("builderKey", "builderSecret")
        .configure(|c| c.start_timeout = std::time::Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    assert_eq!(client.place(Intent::new(order)).await.unwrap().state, OrderState::New);
    client.shutdown().await.unwrap();
    // An Ed25519 key file named by the variables (looked up through a closure here).
    let path = std::env::temp_dir().join(format!("aegis-builder-{}.pem", std::process::id()));
    std::fs::write(&path, PEM).unwrap();
    let file = path.to_string_lossy().into_owned();
    let vars = move |name: &str| match name {
        n if n == ENV_API_KEY => Some("edKey".to_owned()),
        n if n == ENV_ED25519_KEY_FILE => Some(file.clone()),
        _ => None,
    };
    let client = Client::builder(env(&server)).credentials_from(vars).connect().await.unwrap();
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    assert_eq!(client.place(Intent::new(order)).await.unwrap().state, OrderState::New);
    client.shutdown().await.unwrap();
    let _ = std::fs::remove_file(&path);
    server.shutdown().await;
}

#[tokio::test]
async fn what_it_refuses_before_connecting() {
    // Nothing listens on these: a refusal must come before any connection is tried.
    let nowhere = Environment::Custom {
        rest: "http://127.0.0.1:9".to_owned(),
        ws_api: "ws://127.0.0.1:9/ws-api/v3".to_owned(),
        streams: "ws://127.0.0.1:9".to_owned(),
    };
    let setup = |r: Result<Client, ClientError>| match r {
        Err(ClientError::Setup(why)) => why,
        Err(other) => panic!("not a setup error: {other}"),
        Ok(_) => panic!("connected"),
    };
    let why = setup(Client::builder(nowhere.clone()).connect().await);
    assert!(why.contains("no credentials"), "{why}");
    let why = setup(Client::builder(nowhere.clone()).credentials_from(|_| None).connect().await);
    assert!(why.contains(ENV_API_KEY), "{why}");
    let only_key = |name: &str| (name == ENV_API_KEY).then(|| "k".to_owned());
    let why = setup(Client::builder(nowhere.clone()).credentials_from(only_key).connect().await);
    assert!(why.contains(ENV_API_SECRET) && why.contains(ENV_ED25519_KEY_FILE), "{why}");
    let why = setup(Client::builder(nowhere.clone()).ed25519_pem_file("k", "/nonexistent/key.pem").connect().await);
    assert!(why.contains("/nonexistent/key.pem"), "{why}");
    let why = setup(Client::builder(nowhere.clone()).ed25519_pem("k", "not a pem").connect().await);
    assert!(!why.is_empty());
    // The secret never shows in the builder's Debug.
    let shown = format!("{:?}", Client::builder(nowhere).hmac("key", "s3cr3t-value"));
    assert!(!shown.contains("s3cr3t-value") && !shown.contains("\"key\""), "{shown}");
}
