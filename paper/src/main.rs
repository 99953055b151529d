//! `aegis-paper`: an offline Binance Spot on 127.0.0.1 for any client, in any language.
//!
//! Run `aegis-paper --help` for the flags; `aegis-paper --config paper.toml` reads the same
//! settings from a file (flags win over it). It prints its URLs and its API key on stdout,
//! logs to stderr through `tracing` (`--log debug` or `RUST_LOG` for every request) and stops
//! cleanly on Ctrl-C (SIGINT) or SIGTERM.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aegis_exchange::num::parse_decimal;
use aegis_exchange::{Clock, SystemClock};
use aegis_paper::server::{PaperServer, ServerConfig};
use aegis_paper::{FaultConfig, LatencyProfile, PaperConfig, PaperExchange, PaperKey, Replay, WalkConfig};
use clap::Parser;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The API key and secret every client can use when none is configured.
const DEFAULT_KEY: (&str, &str) = ("aegis-paper-key", "aegis-paper-secret");
/// Markets when none is configured (symbols of the bundled exchangeInfo).
const DEFAULT_PRICES: [(&str, &str); 3] = [("BTCUSDT", "65000"), ("ETHUSDT", "3000"), ("ETHBTC", "0.046")];
/// Balances when none is configured.
const DEFAULT_BALANCES: [(&str, &str); 3] = [("USDT", "100000"), ("BTC", "1"), ("ETH", "10")];
const DEFAULT_REST_PORT: u16 = 8800;
const DEFAULT_WS_PORT: u16 = 8801;

/// An offline Binance Spot on 127.0.0.1: REST (`/api/v3/...`), the WebSocket API
/// (`/ws-api/v3`), user data and market streams (`/ws/<stream>`, `/stream?streams=...`),
/// answering as Binance does: signatures, every symbol filter, rate limits, matching, balances.
///
/// Point any Binance client at the printed URLs. Python (binance-sdk-spot):
/// `ConfigurationRestAPI(api_key="aegis-paper-key", api_secret="aegis-paper-secret",
/// base_path="http://127.0.0.1:8800")`. Node (@binance/spot): `basePath` likewise; WebSocket
/// clients use `ws://127.0.0.1:8801/ws-api/v3` and `ws://127.0.0.1:8801/stream`.
#[derive(Debug, Parser)]
#[command(name = "aegis-paper", version, about, long_about)]
struct Args {
    /// A TOML config file with the same settings (flags win over it; see the README).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1].
    #[arg(long)]
    host: Option<IpAddr>,
    /// The REST port (0: any free one) [default: 8800].
    #[arg(long)]
    rest_port: Option<u16>,
    /// The WebSocket port, streams and WebSocket API (0: any free one) [default: 8801].
    #[arg(long)]
    ws_port: Option<u16>,
    /// Symbols, filters and rate limits from this exchangeInfo answer (a real one, as
    /// `GET /api/v3/exchangeInfo` gives it) [default: the bundled capture, 25 symbols].
    #[arg(long, value_name = "FILE")]
    exchange_info: Option<PathBuf>,
    /// A market and its starting price (repeat for more) [default: BTCUSDT=65000 ETHUSDT=3000
    /// ETHBTC=0.046].
    #[arg(long = "price", value_name = "SYMBOL=PRICE")]
    prices: Vec<String>,
    /// A starting balance of the account (repeat for more) [default: USDT=100000 BTC=1
    /// ETH=10].
    #[arg(long = "balance", value_name = "ASSET=AMOUNT")]
    balances: Vec<String>,
    /// An HMAC-SHA256 API key and its secret (repeat for more) [default:
    /// aegis-paper-key:aegis-paper-secret when no key is given].
    #[arg(long = "hmac-key", value_name = "API_KEY:SECRET")]
    hmac_keys: Vec<String>,
    /// An Ed25519 API key and the file of its PEM public key, as registered on Binance (repeat
    /// for more); clients sign with the private key.
    #[arg(long = "ed25519-key", value_name = "API_KEY:PEM_FILE")]
    ed25519_keys: Vec<String>,
    /// The seed of every random choice (price walk, book, ids, faults, latencies) [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Market-data latency: `tokyo` (4 ms mean, 13 ms p99, as measured from AWS Tokyo),
    /// `MEAN_MS/P99_MS`, or `none` [default: tokyo].
    #[arg(long, value_name = "PROFILE")]
    latency: Option<String>,
    /// Faults: `none`, `flaky` (a few lost requests and answers, 5xx, -1007, duplicated and
    /// reordered events, 0-50 ms answers) or `hostile` (many more) [default: none].
    #[arg(long, value_name = "PROFILE")]
    faults: Option<String>,
    /// Replay a recorded session (hftbacktest JSON lines: depth snapshot, diffs, trades) as
    /// its symbol's market, at the recorded pace, instead of the synthetic walk.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Start the replay over when it ends.
    #[arg(long)]
    replay_loop: bool,
    /// Replay this many times faster than recorded (0.5: half as fast) [default: 1].
    #[arg(long, value_name = "FACTOR")]
    replay_speed: Option<f64>,
    /// Put the account in this trade group (`tradeGroupId`), with a second account.
    #[arg(long, value_name = "ID")]
    trade_group: Option<i64>,
    /// Log filter (`info`, `debug` for every request, `aegis_paper=trace`) [default: info, or
    /// RUST_LOG].
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

/// The config file: the flags' settings, plus the walk and the fault rates in detail.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<IpAddr>,
    rest_port: Option<u16>,
    ws_port: Option<u16>,
    exchange_info: Option<PathBuf>,
    /// Symbol → price, as strings (money is never a float).
    #[serde(default)]
    prices: BTreeMap<String, String>,
    /// Asset → amount, as strings.
    #[serde(default)]
    balances: BTreeMap<String, String>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    seed: Option<u64>,
    latency: Option<String>,
    faults: Option<FaultsEntry>,
    replay: Option<PathBuf>,
    replay_loop: Option<bool>,
    replay_speed: Option<f64>,
    trade_group: Option<i64>,
    log: Option<String>,
    walk: Option<WalkEntry>,
    /// Commission rates as strings (`"0.001"` = 0.1 %).
    maker_commission: Option<String>,
    taker_commission: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    api_key: String,
    /// An HMAC key's secret.
    hmac_secret: Option<String>,
    /// An Ed25519 key's PEM public key: the PEM text, or the path of its file.
    ed25519_public_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FaultsEntry {
    Profile(String),
    Rates(FaultRates),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FaultRates {
    latency_ms: [u64; 2],
    drop_request_per_mille: u16,
    drop_response_per_mille: u16,
    server_error_per_mille: u16,
    timeout_per_mille: u16,
    duplicate_events_per_mille: u16,
    reorder_events_per_mille: u16,
    clock_skew_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalkEntry {
    step_ms: Option<u64>,
    max_ticks: Option<u64>,
    levels: Option<usize>,
    level_gap_ticks: Option<u64>,
    level_notional: Option<String>,
}

/// Everything the command runs with, flags and file merged.
#[derive(Debug)]
struct Settings {
    http: SocketAddr,
    ws: SocketAddr,
    config: PaperConfig,
    prices: Vec<(String, Decimal)>,
    balances: Vec<(String, Decimal)>,
    /// (API key, key, how to print it).
    keys: Vec<(String, PaperKey, String)>,
    latency: Option<LatencyProfile>,
    replay: Option<Replay>,
    replay_loop: bool,
    replay_speed: f64,
    log: String,
}

fn pair<'a>(text: &'a str, separator: char, what: &str) -> Result<(&'a str, &'a str), String> {
    text.split_once(separator)
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| format!("{what}: want `A{separator}B`, got {text:?}"))
}

fn decimal(text: &str, what: &str) -> Result<Decimal, String> {
    parse_decimal(text.trim()).map_err(|e| format!("{what} {text:?}: {e}"))
}

fn faults(entry: &FaultsEntry) -> Result<FaultConfig, String> {
    let rates = match entry {
        FaultsEntry::Rates(rates) => rates,
        FaultsEntry::Profile(name) => return fault_profile(name),
    };
    let [low, high] = rates.latency_ms;
    if low > high {
        return Err(format!("faults.latency_ms: {low} > {high}"));
    }
    Ok(FaultConfig {
        latency_ms: (low, high),
        drop_request_per_mille: rates.drop_request_per_mille,
        drop_response_per_mille: rates.drop_response_per_mille,
        server_error_per_mille: rates.server_error_per_mille,
        timeout_per_mille: rates.timeout_per_mille,
        duplicate_events_per_mille: rates.duplicate_events_per_mille,
        reorder_events_per_mille: rates.reorder_events_per_mille,
        clock_skew_ms: rates.clock_skew_ms,
    })
}

fn fault_profile(name: &str) -> Result<FaultConfig, String> {
    let (latency_ms, rate) = match name {
        "none" => return Ok(FaultConfig::default()),
        "flaky" => ((0, 50), 5),
        "hostile" => ((0, 300), 30),
        other => return Err(format!("faults: `none`, `flaky`, `hostile` or a table of rates, not {other:?}")),
    };
    Ok(FaultConfig {
        latency_ms,
        drop_request_per_mille: rate,
        drop_response_per_mille: rate,
        server_error_per_mille: rate,
        timeout_per_mille: rate,
        duplicate_events_per_mille: rate * 2,
        reorder_events_per_mille: rate * 2,
        clock_skew_ms: 0,
    })
}

/// An Ed25519 key from its PEM text, or from the file that holds it.
fn ed25519_key(pem_or_path: &str, base: &Path) -> Result<(PaperKey, String), String> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    let (pem, shown) = if pem_or_path.contains("-----BEGIN") {
        (pem_or_path.to_owned(), "PEM".to_owned())
    } else {
        let path = base.join(pem_or_path);
        let pem = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        (pem, path.display().to_string())
    };
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
        .map_err(|e| format!("Ed25519 public key ({shown}): {e}"))?;
    Ok((PaperKey::Ed25519(key), format!("Ed25519, public key from {shown}")))
}

impl Settings {
    fn new(args: Args) -> Result<Self, String> {
        let (file, base) = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let file: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                (file, path.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            None => (FileConfig::default(), PathBuf::new()),
        };
        let cwd = PathBuf::new();
        let host = args.host.or(file.host).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let http = SocketAddr::new(host, args.rest_port.or(file.rest_port).unwrap_or(DEFAULT_REST_PORT));
        let ws = SocketAddr::new(host, args.ws_port.or(file.ws_port).unwrap_or(DEFAULT_WS_PORT));

        let mut config = PaperConfig::default().with_seed(args.seed.or(file.seed).unwrap_or(1));
        let info = match (&args.exchange_info, &file.exchange_info) {
            (Some(path), _) => Some(cwd.join(path)),
            (None, Some(path)) => Some(base.join(path)),
            (None, None) => None,
        };
        if let Some(path) = info {
            let json = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            config = config.with_exchange_info(json).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(walk) = &file.walk {
            let mut w = WalkConfig::default();
            w.step_ms = walk.step_ms.unwrap_or(w.step_ms);
            w.max_ticks = walk.max_ticks.unwrap_or(w.max_ticks);
            w.levels = walk.levels.unwrap_or(w.levels);
            w.level_gap_ticks = walk.level_gap_ticks.unwrap_or(w.level_gap_ticks);
            if let Some(n) = &walk.level_notional {
                w.level_notional = decimal(n, "walk.level_notional")?;
            }
            config = config.with_walk(w);
        }
        if let Some(rate) = &file.maker_commission {
            config.maker_commission = decimal(rate, "maker_commission")?;
        }
        if let Some(rate) = &file.taker_commission {
            config.taker_commission = decimal(rate, "taker_commission")?;
        }
        match (&args.faults, &file.faults) {
            (Some(name), _) => config = config.with_faults(fault_profile(name)?),
            (None, Some(entry)) => config = config.with_faults(faults(entry)?),
            (None, None) => {}
        }
        if let Some(group) = args.trade_group.or(file.trade_group) {
            config = config.with_trade_group(group);
        }

        let mut prices = Vec::new();
        for text in &args.prices {
            let (symbol, price) = pair(text, '=', "--price")?;
            prices.push((symbol.to_ascii_uppercase(), decimal(price, "--price")?));
        }
        if args.prices.is_empty() {
            for (symbol, price) in &file.prices {
                prices.push((symbol.to_ascii_uppercase(), decimal(price, "prices")?));
            }
        }
        let mut balances = Vec::new();
        for text in &args.balances {
            let (asset, amount) = pair(text, '=', "--balance")?;
            balances.push((asset.to_ascii_uppercase(), decimal(amount, "--balance")?));
        }
        if args.balances.is_empty() {
            for (asset, amount) in &file.balances {
                balances.push((asset.to_ascii_uppercase(), decimal(amount, "balances")?));
            }
        }
        let replay_path = args.replay.clone().or_else(|| file.replay.as_ref().map(|p| base.join(p)));
        let replay = match replay_path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Some(Replay::from_jsonl(&text).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            None => None,
        };
        // Defaults for what is not given at all (a replay is a market of its own).
        if prices.is_empty() && replay.is_none() {
            for (symbol, price) in DEFAULT_PRICES {
                prices.push((symbol.to_owned(), decimal(price, "price")?));
            }
        }
        if balances.is_empty() {
            for (asset, amount) in DEFAULT_BALANCES {
                balances.push((asset.to_owned(), decimal(amount, "balance")?));
            }
        }
        for (symbol, price) in &prices {
            if *price <= Decimal::ZERO {
                return Err(format!("the price of {symbol} must be positive, not {price}"));
            }
            config = config.with_price(symbol, *price);
        }
        if let Some((asset, amount)) = balances.iter().find(|(_, a)| a.is_sign_negative()) {
            return Err(format!("the balance of {asset} cannot be negative ({amount})"));
        }

        let mut keys = Vec::new();
        for text in &args.hmac_keys {
            let (key, secret) = pair(text, ':', "--hmac-key")?;
            keys.push((key.to_owned(), PaperKey::hmac(secret), format!("HMAC, secret {secret}")));
        }
        for text in &args.ed25519_keys {
            let (key, path) = pair(text, ':', "--ed25519-key")?;
            let (paper_key, shown) = ed25519_key(path, &cwd)?;
            keys.push((key.to_owned(), paper_key, shown));
        }
        for entry in &file.keys {
            let (paper_key, shown) = match (&entry.hmac_secret, &entry.ed25519_public_key) {
                (Some(secret), None) => (PaperKey::hmac(secret), format!("HMAC, secret {secret}")),
                (None, Some(pem)) => ed25519_key(pem, &base)?,
                _ => {
                    return Err(format!(
                        "key {:?}: give hmac_secret or ed25519_public_key, one of them",
                        entry.api_key
                    ));
                }
            };
            keys.push((entry.api_key.clone(), paper_key, shown));
        }
        if keys.is_empty() {
            let (key, secret) = DEFAULT_KEY;
            keys.push((key.to_owned(), PaperKey::hmac(secret), format!("HMAC, secret {secret}")));
        }

        let latency = match args.latency.as_deref().or(file.latency.as_deref()).unwrap_or("tokyo") {
            "none" => None,
            text => Some(text.parse::<LatencyProfile>().map_err(|e| format!("--latency: {e}"))?),
        };
        let replay_speed = args.replay_speed.or(file.replay_speed).unwrap_or(1.0);
        if !(replay_speed > 0.0 && replay_speed <= 1000.0) {
            return Err(format!("--replay-speed: a factor in (0, 1000], not {replay_speed}"));
        }
        let log = args.log.or(file.log).or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| "info".to_owned());
        Ok(Self {
            http,
            ws,
            config,
            prices,
            balances,
            keys,
            latency,
            replay,
            replay_loop: args.replay_loop || file.replay_loop.unwrap_or(false),
            replay_speed,
            log,
        })
    }
}

fn lock(exchange: &Mutex<PaperExchange>) -> std::sync::MutexGuard<'_, PaperExchange> {
    exchange.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Feeds the capture into the exchange at its recorded pace times `speed` (in a loop if asked).
async fn replay(mut replay: Replay, exchange: Arc<Mutex<PaperExchange>>, looped: bool, speed: f64) {
    let clock = SystemClock;
    tracing::info!(symbol = replay.symbol(), frames = replay.len(), ms = replay.duration_ms(), speed, "replay started");
    let mut start = tokio::time::Instant::now();
    loop {
        let Some(due) = replay.next_due() else {
            if looped {
                tracing::info!("replay over: starting again");
                replay.rewind();
                start = tokio::time::Instant::now();
                continue;
            }
            tracing::info!("replay over: the market stays as the capture left it");
            return;
        };
        let wall = Duration::from_secs_f64(u64::try_from(due).unwrap_or(0) as f64 / 1000.0 / speed);
        tokio::time::sleep_until(start + wall).await;
        // Capture time: wall time since the start, times the speed.
        let elapsed = (start.elapsed().as_secs_f64() * speed * 1000.0) as i64;
        let applied = replay.apply_due(&mut lock(&exchange), elapsed, clock.now_millis());
        tracing::trace!(applied, "replayed");
    }
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return "no signal handler";
        };
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    let clock = SystemClock;
    let now = clock.now_millis();
    let seed = settings.config.seed;
    let mut exchange = PaperExchange::new(settings.config, now);
    for (symbol, _) in &settings.prices {
        if exchange.price(symbol).is_none() {
            return Err(format!("{symbol} is not a symbol of the exchangeInfo"));
        }
    }
    for (asset, amount) in &settings.balances {
        exchange.deposit(now, asset, *amount);
    }
    let mut shown_keys = Vec::new();
    for (key, paper_key, shown) in settings.keys {
        exchange.add_api_key(&key, paper_key);
        shown_keys.push((key, shown));
    }
    let server_config = ServerConfig {
        http: settings.http,
        ws: settings.ws,
        market_latency: settings.latency,
        // One `--seed` repeats a whole run, the latency draws included.
        seed,
    };
    let server = PaperServer::start_with(exchange, server_config, Arc::new(clock))
        .await
        .map_err(|e| format!("cannot listen on {} / {}: {e}", settings.http, settings.ws))?;
    let replaying = settings.replay.map(|r| {
        let shown = format!(
            "{} ({} frames, {:.1} s at {}x)",
            r.symbol(),
            r.len(),
            r.duration_ms() as f64 / 1000.0,
            settings.replay_speed
        );
        (shown, tokio::spawn(replay(r, server.exchange(), settings.replay_loop, settings.replay_speed)))
    });

    let (rest, ws) = (server.http_url(), server.ws_url());
    let mut out = String::new();
    out.push_str(&format!("aegis-paper {}: an offline Binance Spot\n", env!("CARGO_PKG_VERSION")));
    out.push_str(&format!("REST           {rest}\n"));
    out.push_str(&format!("WebSocket API  {ws}/ws-api/v3\n"));
    out.push_str(&format!("Streams        {ws}/ws/<stream>  {ws}/stream?streams=<a>/<b>\n"));
    for (key, shown) in &shown_keys {
        out.push_str(&format!("API key        {key} ({shown})\n"));
    }
    let markets: Vec<String> = settings.prices.iter().map(|(s, p)| format!("{s} {p}")).collect();
    if !markets.is_empty() {
        out.push_str(&format!("Markets        {}\n", markets.join(", ")));
    }
    if let Some((shown, _)) = &replaying {
        out.push_str(&format!("Replay         {shown}\n"));
    }
    let balances: Vec<String> = settings.balances.iter().map(|(a, v)| format!("{a} {v}")).collect();
    out.push_str(&format!("Balances       {}\n", balances.join(", ")));
    match settings.latency {
        Some(l) => out.push_str(&format!("Market latency {l} ms (mean/p99)\n")),
        None => out.push_str("Market latency none\n"),
    }
    out.push_str("Ctrl-C or SIGTERM stops it.\n");
    let mut stdout = std::io::stdout().lock();
    // The URLs are the command's output: a closed stdout is not worth failing for.
    let _ = stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);

    let signal = stop_signal().await;
    tracing::info!(signal, "stopping");
    if let Some((_, task)) = replaying {
        task.abort();
    }
    server.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match Settings::new(args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("aegis-paper: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("aegis-paper: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("aegis-paper: {e}");
            ExitCode::FAILURE
        }
    }
}
