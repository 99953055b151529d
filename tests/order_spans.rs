//! A `tracing` span per order, carrying its client order id, from the intent to its final state:
//! the order's updates (the answer, the exchange's events, the cancel) are logged inside it,
//! whichever task handles them. Its own test binary: the subscriber is global (the client's task
//! runs on the runtime's workers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aegis_exchange::client::{Client, ClientConfig};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{Clock, EngineConfig, Intent, OrderRequest, Side, SystemClock};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, PaperTransport, WalkConfig};
use rust_decimal_macros::dec;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// What the layer saw: each span's client order id, and the messages logged inside each.
#[derive(Default)]
struct Seen {
    ids: HashMap<u64, String>,
    messages: Vec<(String, String)>,
}

struct Capture(Arc<Mutex<Seen>>);

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() != "order" {
            return;
        }
        let mut f = Fields(Vec::new());
        attrs.record(&mut f);
        if let Some((_, v)) = f.0.into_iter().find(|(k, _)| k == "client_order_id") {
            self.0.lock().unwrap().ids.insert(id.into_u64(), v);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else { return };
        let mut seen = self.0.lock().unwrap();
        let Some(order) = seen.ids.get(&span.id().into_u64()).cloned() else { return };
        let mut f = Fields(Vec::new());
        event.record(&mut f);
        let text = f.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        seen.messages.push((order, text));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_order_is_followed_in_its_own_span() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let subscriber = tracing_subscriber::registry().with(Capture(Arc::clone(&seen)));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now_millis();
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("spanKey", PaperKey::hmac("spanSecret"));
    paper.deposit(now, "USDT", dec!(100000));
    let transport = PaperTransport::new(paper, Arc::clone(&clock));
    let env = PaperTransport::environment();
    let creds = Credentials::new("spanKey", HmacSha256::new("spanSecret")).unwrap();
    let client = Client::connect(
        ClientConfig::new(EngineConfig::new(env, creds)),
        Arc::new(transport.clone()),
        Arc::new(transport),
        clock,
    )
    .await
    .unwrap();
    let resting =
        client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)))).await.unwrap();
    let filled =
        client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(66000)))).await.unwrap();
    client.cancel(&resting.id).await.unwrap();
    client.wait_until_done(&resting.id, std::time::Duration::from_secs(5)).await.unwrap();
    client.shutdown().await.unwrap();

    let seen = seen.lock().unwrap();
    let of =
        |id: &str| -> Vec<String> { seen.messages.iter().filter(|(o, _)| o == id).map(|(_, m)| m.clone()).collect() };
    let resting_log = of(resting.id.as_str());
    let filled_log = of(filled.id.as_str());
    let has = |log: &[String], what: &str| log.iter().any(|m| m.contains(what));
    assert!(has(&resting_log, "intent accepted"), "{resting_log:?}");
    assert!(has(&resting_log, "state=New"), "{resting_log:?}");
    assert!(has(&resting_log, "state=Canceled"), "{resting_log:?}");
    assert!(has(&filled_log, "state=Filled"), "{filled_log:?}");
    // Each span carries only its own order's story.
    assert!(!has(&filled_log, "Canceled") && !has(&resting_log, "Filled"));
}
