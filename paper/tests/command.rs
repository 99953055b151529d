//! The `aegis-paper` command as a user runs it: a real process on real ports, the library's own
//! `Client` (hyper and tokio-tungstenite, HMAC and Ed25519 keys) trading against it, settings
//! from flags and from a config file, a recorded session replayed, bad settings refused with a
//! message, and a clean stop on SIGINT / SIGTERM within a bound whatever connections are open.
#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokio::time::Instant;

use aegis_exchange::client::{Client, ClientError};
use aegis_exchange::rest::{DepthSnapshot, Environment};
use aegis_exchange::sign::Ed25519;
use aegis_exchange::transport::{HttpTransport, HyperTransport};
use aegis_exchange::{Intent, OrderRequest, OrderState, Side};
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use rust_decimal_macros::dec;

const BIN: &str = env!("CARGO_BIN_EXE_aegis-paper");
/// RFC 8032's first test key, as PKCS#8 PEM (the client's private key).
const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
const CAPTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/recorded/hftbacktest_ethusdt_2024-08-08_slice.jsonl");
/// How long a stop may take (the server's shutdown bound is 2 s).
const STOP_BOUND: Duration = Duration::from_secs(5);

struct Running {
    child: Child,
    rest: String,
    ws: String,
    banner: String,
    stderr: PathBuf,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aegis-paper-command-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Starts the command and reads its banner (up to the line that says how to stop it).
fn start(args: &[&str], tag: &str) -> Running {
    let stderr = scratch(&format!("{tag}.stderr"));
    let mut child = Command::new(BIN)
        .args(["--rest-port", "0", "--ws-port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Ctrl-C") {
                break;
            }
        }
        let _ = tx.send(banner);
    });
    let banner = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let field = |name: &str| {
        banner
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.split_whitespace().next()).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {name} in the banner:\n{banner}\nstderr: {}", read(&stderr)))
    };
    let rest = field("REST");
    let ws = field("WebSocket API").trim_end_matches("/ws-api/v3").to_owned();
    Running { child, rest, ws, banner, stderr }
}

fn read(path: &PathBuf) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}

fn env(r: &Running) -> Environment {
    Environment::Custom { rest: r.rest.clone(), ws_api: format!("{}/ws-api/v3", r.ws), streams: r.ws.clone() }
}

/// Sends `signal` and waits for the exit, at most `STOP_BOUND`.
fn stop(r: &mut Running, signal: &str) -> (ExitStatus, Duration) {
    let started = Instant::now();
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(r.child.id().to_string()).status().unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = r.child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > STOP_BOUND {
            let _ = r.child.kill();
            panic!("still running {STOP_BOUND:?} after {signal}; stderr: {}", read(&r.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn get(transport: &HyperTransport, url: &str) -> (u16, serde_json::Value) {
    let request = http::Request::get(url).body(bytes::Bytes::new()).unwrap();
    let response = transport.send(request, Duration::from_secs(5)).await.unwrap();
    let body = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
    (response.status().as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crates_client_trades_on_the_command_with_hmac_and_ed25519_keys_and_sigterm_stops_it() {
    let signer = Ed25519::from_pkcs8_pem(PRIVATE_PEM).unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&signer.public_key()).unwrap();
    let pem_path = scratch("ed25519-public.pem");
    std::fs::write(&pem_path, public.to_public_key_pem(Default::default()).unwrap()).unwrap();
    let ed_arg = format!("edKey:{}", pem_path.display());
    let mut r = start(
        &[
            "--hmac-key",
            "hmacKey:hmacSecret",
            "--ed25519-key",
            &ed_arg,
            "--balance",
            "USDT=5000",
            "--price",
            "BTCUSDT=65000",
            "--latency",
            "none",
            "--log",
            "debug",
        ],
        "trade",
    );
    assert!(r.banner.contains("API key        hmacKey (HMAC, secret hmacSecret)"), "{}", r.banner);
    assert!(r.banner.contains("Balances       USDT 5000"), "{}", r.banner);

    // HMAC over REST (hyper) with the user data stream on the WebSocket API.
    let client = Client::builder(env(&r)).hmac("hmacKey", "hmacSecret").connect().await.unwrap();
    assert_eq!(client.ledger().balance_of("USDT").unwrap().free, dec!(5000));
    let limit = client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)))).await;
    assert_eq!(limit.unwrap().state, OrderState::New);
    // A buy above the asks takes them.
    let market =
        client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(66000)))).await.unwrap();
    let done = client.wait_until_done(&market.id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.map(|o| o.state), Some(OrderState::Filled));
    client.shutdown().await.unwrap();

    // Ed25519: the WebSocket API session logon and orders signed with the private key.
    let pem_file = scratch("ed25519-private.pem");
    std::fs::write(&pem_file, PRIVATE_PEM).unwrap();
    let client = Client::builder(env(&r)).ed25519_pem_file("edKey", &pem_file).connect().await.unwrap();
    let sell = client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.005), dec!(70000)))).await;
    assert_eq!(sell.unwrap().state, OrderState::New);
    client.shutdown().await.unwrap();

    let (status, took) = stop(&mut r, "TERM");
    assert!(status.success(), "{status:?}; stderr: {}", read(&r.stderr));
    let log = read(&r.stderr);
    assert!(log.contains("signal=\"SIGTERM\"") && log.contains("stopped"), "{log}");
    // `--log debug` logs every request with its status.
    assert!(log.contains("path=\"/api/v3/order\"") && log.contains("status=200"), "{log}");
    eprintln!("stopped in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_it_within_the_bound_whatever_connections_are_open() {
    let mut r = start(&["--latency", "4/13", "--balance", "USDT=7"], "sigint");
    // What is not given has its default: the markets here.
    assert!(r.banner.contains("Markets        BTCUSDT 65000, ETHUSDT 3000, ETHBTC 0.046"), "{}", r.banner);
    assert!(r.banner.contains("Balances       USDT 7\n"), "{}", r.banner);
    let rest_addr = r.rest.trim_start_matches("http://").to_owned();
    let ws_addr = r.ws.trim_start_matches("ws://").to_owned();
    // Idle sockets on both ports, a half-sent request, a stream subscription that never reads.
    let idle_http = tokio::net::TcpStream::connect(&rest_addr).await.unwrap();
    let idle_ws = tokio::net::TcpStream::connect(&ws_addr).await.unwrap();
    let mut half = tokio::net::TcpStream::connect(&rest_addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (stream, _) = tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@depth@100ms", r.ws)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, took) = stop(&mut r, "INT");
    assert!(status.success(), "{status:?}; stderr: {}", read(&r.stderr));
    assert!(read(&r.stderr).contains("signal=\"SIGINT\""));
    eprintln!("stopped in {took:?}");
    drop((idle_http, idle_ws, half, stream));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_sets_markets_balances_keys_and_the_walk() {
    let config = scratch("paper.toml");
    std::fs::write(
        &config,
        r#"
seed = 42
latency = "none"
maker_commission = "0.0005"

[prices]
ETHUSDT = "3100.5"

[balances]
USDT = "2500.25"
ETH = "3"

[[keys]]
api_key = "fileKey"
hmac_secret = "fileSecret"

[walk]
step_ms = 0
levels = 5
"#,
    )
    .unwrap();
    let mut r = start(&["--config", config.to_str().unwrap()], "config");
    assert!(r.banner.contains("Markets        ETHUSDT 3100.5"), "{}", r.banner);
    let client = Client::builder(env(&r)).hmac("fileKey", "fileSecret").connect().await.unwrap();
    assert_eq!(client.ledger().balance_of("USDT").unwrap().free, dec!(2500.25));
    assert_eq!(client.ledger().balance_of("ETH").unwrap().free, dec!(3));
    client.shutdown().await.unwrap();
    // The walk: 5 levels a side, and the price does not move (step_ms = 0).
    let transport = HyperTransport::new().unwrap();
    let (status, depth) = get(&transport, &format!("{}/api/v3/depth?symbol=ETHUSDT&limit=100", r.rest)).await;
    assert_eq!(status, 200);
    assert_eq!(depth["bids"].as_array().unwrap().len(), 5, "{depth}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, again) = get(&transport, &format!("{}/api/v3/depth?symbol=ETHUSDT&limit=100", r.rest)).await;
    assert_eq!(depth["bids"], again["bids"]);
    // The default key is not there when keys are configured.
    // The default key is not there when keys are configured: connecting fails at once with
    // Binance's answer (not after the start-up timeout).
    let started = Instant::now();
    let client = Client::builder(env(&r)).hmac("aegis-paper-key", "aegis-paper-secret").connect().await;
    match client {
        Err(ClientError::Credentials(e)) => assert_eq!(e.code, Some(-2015), "{e}"),
        other => panic!("{:?}", other.map(|_| "connected")),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let (status, _) = stop(&mut r, "TERM");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_capture_is_the_market_at_its_recorded_pace() {
    let args = ["--replay", CAPTURE, "--replay-speed", "8", "--latency", "none", "--balance", "USDT=1000"];
    let mut r = start(&args, "replay");
    assert!(r.banner.contains("Replay         ETHUSDT (314 frames, 12.1 s at 8x)"), "{}", r.banner);
    // The capture lasts 12.1 s, 1.5 s at 8x; its snapshot and diffs are the book after it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let transport = HyperTransport::new().unwrap();
    let (status, depth) = get(&transport, &format!("{}/api/v3/depth?symbol=ETHUSDT&limit=5", r.rest)).await;
    assert_eq!(status, 200, "{depth}");
    let depth: DepthSnapshot = serde_json::from_value(depth).unwrap();
    let best_bid = depth.bids.first().unwrap().price;
    // The capture's prices (ETHUSDT on 2024-08-08 was trading near 2,680 USDT).
    assert!(best_bid > dec!(2600) && best_bid < dec!(2800), "{best_bid}");
    assert!(read(&r.stderr).contains("replay over"), "{}", read(&r.stderr));
    let (status, _) = stop(&mut r, "TERM");
    assert!(status.success());
}

#[test]
fn bad_settings_are_refused_with_a_message_and_exit_code_2() {
    let config = scratch("bad.toml");
    std::fs::write(&config, "prices = { BTCUSDT = 65000.5 }\n").unwrap();
    let unknown = scratch("unknown.toml");
    std::fs::write(&unknown, "sede = 3\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--price".into(), "BTCUSDT=abc".into()], "--price"),
        (vec!["--price".into(), "BTCUSDT".into()], "--price"),
        (vec!["--balance".into(), "USDT=-5".into()], "--balance"),
        (vec!["--latency".into(), "13/4".into()], "latency"),
        (vec!["--faults".into(), "sometimes".into()], "faults"),
        (vec!["--hmac-key".into(), "nosecret".into()], "--hmac-key"),
        (vec!["--ed25519-key".into(), "k:/nonexistent.pem".into()], "nonexistent"),
        (vec!["--config".into(), config.display().to_string()], "bad.toml"),
        (vec!["--config".into(), unknown.display().to_string()], "sede"),
        (vec!["--replay".into(), "/nonexistent.jsonl".into()], "nonexistent"),
        (vec!["--replay".into(), CAPTURE.into(), "--replay-speed".into(), "0".into()], "--replay-speed"),
        (vec!["--no-such-flag".into()], "--no-such-flag"),
    ];
    for (args, says) in cases {
        let out = Command::new(BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a banner");
    }
    // A symbol the exchangeInfo does not have: refused at start, nothing served.
    let out = Command::new(BIN).args(["--rest-port", "0", "--ws-port", "0", "--price", "NOSUCH=1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOSUCH is not a symbol"));
}

#[test]
fn help_tells_a_python_or_node_user_what_to_do() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--config",
        "--price",
        "--balance",
        "--hmac-key",
        "--ed25519-key",
        "--latency",
        "--faults",
        "--replay",
        "base_path",
        "/ws-api/v3",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
}
