//! The paper exchange on real loopback sockets (feature `server`): REST over HTTP/1.1 with
//! keep-alive, faults on the wire, market streams and the WebSocket API over real WebSockets,
//! and a clean shutdown.

use std::time::Duration;

use aegis_exchange::rest::{Environment, OrderInfo, OrderRef, OrderResponse, Rest, ServerTime, decode};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::stream::{MarketEvent, SanitizeConfig, StreamDecoder};
use aegis_exchange::ws_api::{WsApi, WsResponse};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, MarketContext, OrderRequest, Side};
use aegis_paper::server::PaperServer;
use aegis_paper::{Fault, PaperConfig, PaperExchange, PaperKey, WalkConfig};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rust_decimal_macros::dec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn server() -> (PaperServer, Rest) {
    let now = aegis_exchange::Clock::now_millis(&aegis_exchange::SystemClock);
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000));
    let mut exchange = PaperExchange::new(config, now);
    exchange.add_api_key("loopKey", PaperKey::hmac("loopSecret"));
    exchange.deposit(now, "USDT", dec!(100000));
    let server = PaperServer::start(exchange).await.unwrap();
    let env = Environment::Custom {
        rest: server.http_url(),
        ws_api: format!("{}/ws-api/v3", server.ws_url()),
        streams: server.ws_url(),
    };
    let rest = Rest::new(env).with_credentials(Credentials::new("loopKey", HmacSha256::new("loopSecret")).unwrap());
    (server, rest)
}

fn now() -> i64 {
    aegis_exchange::Clock::now_millis(&aegis_exchange::SystemClock)
}

/// Writes `request` as HTTP/1.1 on `stream`.
async fn send(stream: &mut TcpStream, request: &http::Request<Bytes>) {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n", request.method());
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body().len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(request.body()).await.unwrap();
}

/// Reads one HTTP/1.1 response: status, `X-MBX-USED-WEIGHT-1M`, body. `None` when the server
/// closed the connection first.
async fn receive(stream: &mut TcpStream) -> Option<(u16, Option<String>, Vec<u8>)> {
    let mut buffer = Vec::new();
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response.parse(&buffer).unwrap() {
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length").unwrap().parse().unwrap();
            let weight = header("x-mbx-used-weight-1m");
            let status = response.code.unwrap();
            while buffer.len() < head + length {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "truncated body");
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some((status, weight, buffer[head..head + length].to_vec()));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn rest_over_a_real_socket_with_keep_alive_and_faults_on_the_wire() {
    let (server, rest) = server().await;
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    send(&mut stream, &rest.time().unwrap().request).await;
    let (status, weight, body) = receive(&mut stream).await.unwrap();
    assert_eq!((status, weight.as_deref()), (200, Some("1")));
    let time: ServerTime = decode(status, &body, None, now()).unwrap();
    assert!((time.server_time - now()).abs() < 60_000);
    // The same connection carries an order.
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01))
        .with_client_order_id(ClientOrderId::new("wire1").unwrap());
    let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &MarketContext::default()).unwrap();
    send(&mut stream, &rest.new_order(&valid, now()).unwrap().request).await;
    let (status, _, body) = receive(&mut stream).await.unwrap();
    let placed: OrderResponse = decode(status, &body, None, now()).unwrap();
    assert_eq!(placed.executed_qty, Some(dec!(0.01)));
    // The answer to the next order is lost: the connection ends without a response, but the
    // order was executed (a query on a new connection finds it).
    server.exchange().lock().unwrap().inject(Fault::DropResponse);
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01))
        .with_client_order_id(ClientOrderId::new("wire2").unwrap());
    let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &MarketContext::default()).unwrap();
    send(&mut stream, &rest.new_order(&valid, now()).unwrap().request).await;
    assert!(receive(&mut stream).await.is_none(), "no answer");
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    let query =
        rest.query_order("BTCUSDT", OrderRef::ClientOrderId(ClientOrderId::new("wire2").unwrap()), now()).unwrap();
    send(&mut stream, &query.request).await;
    let (status, _, body) = receive(&mut stream).await.unwrap();
    let found: OrderInfo = decode(status, &body, None, now()).unwrap();
    assert_eq!(found.status, aegis_exchange::OrderStatus::Filled);
    // A dropped request: nothing arrives, nothing happens.
    server.exchange().lock().unwrap().inject(Fault::DropRequest);
    send(&mut stream, &rest.ping().unwrap().request).await;
    assert!(receive(&mut stream).await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn market_streams_and_the_ws_api_over_real_websockets() {
    let (server, _) = server().await;
    let (mut trades, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@trade", server.ws_url())).await.unwrap();
    server.exchange().lock().unwrap().set_price(now(), "BTCUSDT", dec!(65100));
    let frame = tokio::time::timeout(Duration::from_secs(5), trades.next()).await.unwrap().unwrap().unwrap();
    let mut decoder = StreamDecoder::new(SanitizeConfig::default());
    let event = decoder.decode(now(), frame.into_text().unwrap().as_bytes()).unwrap().event;
    assert!(matches!(event, MarketEvent::Trade(t) if t.price == dec!(65100)));

    let (mut api, _) = tokio_tungstenite::connect_async(format!("{}/ws-api/v3", server.ws_url())).await.unwrap();
    let ws = WsApi::new().with_credentials(Credentials::new("loopKey", HmacSha256::new("loopSecret")).unwrap());
    api.send(Message::text(ws.user_data_stream_subscribe_signature("sub", now()).unwrap().text)).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), api.next()).await.unwrap().unwrap().unwrap();
    let response: WsResponse = serde_json::from_str(answer.into_text().unwrap().as_str()).unwrap();
    assert_eq!((response.id.as_deref(), response.status), (Some("sub"), 200));
    // A deposit reaches the subscribed socket as wrapped events.
    server.exchange().lock().unwrap().deposit(now(), "BNB", dec!(1));
    let event = tokio::time::timeout(Duration::from_secs(5), api.next()).await.unwrap().unwrap().unwrap();
    assert!(event.into_text().unwrap().as_str().starts_with(r#"{"subscriptionId":0,"event":{"e":"balanceUpdate""#));

    // An unknown path is refused in the handshake.
    assert!(tokio_tungstenite::connect_async(format!("{}/nope", server.ws_url())).await.is_err());
    // Shutdown closes open sockets and stops listening.
    let (http, ws) = (server.http_addr(), server.ws_addr());
    server.shutdown().await;
    let closing = tokio::time::timeout(Duration::from_secs(5), trades.next()).await.unwrap();
    assert!(matches!(closing, Some(Ok(Message::Close(_))) | None | Some(Err(_))));
    assert!(TcpStream::connect(http).await.is_err());
    assert!(TcpStream::connect(ws).await.is_err());
}

#[tokio::test]
async fn shutdown_returns_in_bounded_time_whatever_the_connections_do() {
    let (server, _) = server().await;
    // Idle on both ports (never a byte), half-open requests, a handshake cut in the middle, and a
    // subscribed WebSocket client that never reads what the server pushes.
    let idle_ws = TcpStream::connect(server.ws_addr()).await.unwrap();
    let idle_http = TcpStream::connect(server.http_addr()).await.unwrap();
    let mut half_http = TcpStream::connect(server.http_addr()).await.unwrap();
    half_http.write_all(b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsymbol=").await.unwrap();
    let mut half_head = TcpStream::connect(server.http_addr()).await.unwrap();
    half_head.write_all(b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut mid_handshake = TcpStream::connect(server.ws_addr()).await.unwrap();
    mid_handshake
        .write_all(b"GET /ws/btcusdt@trade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
        .await
        .unwrap();
    let (deaf, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@depth@100ms", server.ws_url())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server's own bound is 2 s; 5 s leaves room for a loaded CI machine, and the old server
    // never returned at all with the idle WebSocket connection open.
    let done = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
    assert!(done.is_ok(), "shutdown did not return");
    drop((idle_ws, idle_http, half_http, half_head, mid_handshake, deaf));
}

/// Reads `n` responses from `stream` (pipelined answers arrive back to back): status and body.
async fn responses(stream: &mut TcpStream, n: usize) -> Vec<(u16, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = response.parse(&buffer) {
            let length: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map_or(0, |h| std::str::from_utf8(h.value).unwrap().parse().unwrap());
            if buffer.len() >= head + length {
                out.push((response.code.unwrap(), buffer[head..head + length].to_vec()));
                buffer.drain(..head + length);
                continue;
            }
        }
        let mut chunk = [0u8; 8192];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(k)) if k > 0 => buffer.extend_from_slice(&chunk[..k]),
            _ => break,
        }
    }
    out
}

/// Raw bytes in, the responses out (the connection then closed by the test).
async fn exchange_bytes(server: &PaperServer, bytes: &[u8], n: usize) -> Vec<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    responses(&mut stream, n).await
}

/// Framing is hyper's (issue 22, point 3): a malformed request line or header, an unparsable or
/// conflicting `Content-Length` get a 400 (never a silent guess), a head over 64 KiB a 431, a
/// body over 1 MiB a 413; chunked bodies are read; pipelined requests are answered in order on
/// one connection; `Connection: close` is honoured.
#[tokio::test]
async fn http_framing_is_strict_and_complete() {
    let (server, rest) = server().await;
    let status = |r: &[(u16, Vec<u8>)]| r.first().map(|(s, _)| *s);
    for (what, bytes) in [
        ("garbage request line", b"NOT HTTP AT ALL\r\n\r\n".to_vec()),
        ("a header without a colon", b"GET /api/v3/time HTTP/1.1\r\nHost x\r\n\r\n".to_vec()),
        (
            "an unparsable Content-Length",
            b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n".to_vec(),
        ),
        (
            "two different Content-Lengths",
            b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde".to_vec(),
        ),
    ] {
        assert_eq!(status(&exchange_bytes(&server, &bytes, 1).await), Some(400), "{what}");
    }
    let mut huge = b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    assert_eq!(status(&exchange_bytes(&server, &huge, 1).await), Some(431), "a head over 64 KiB");
    let big_body = format!("POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 2 * 1024 * 1024);
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    stream.write_all(big_body.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b'a'; 2 * 1024 * 1024]).await;
    assert_eq!(status(&responses(&mut stream, 1).await), Some(413), "a body over 1 MiB");

    // A signed order whose parameters come in a chunked body: read and executed.
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01))
        .with_client_order_id(ClientOrderId::new("chunky").unwrap());
    let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &MarketContext::default()).unwrap();
    let request = rest.new_order(&valid, now()).unwrap().request;
    let (query, body) = match request.uri().query() {
        Some(q) if request.body().is_empty() => (String::new(), q.to_owned()),
        _ => (
            request.uri().query().map(|q| format!("?{q}")).unwrap_or_default(),
            String::from_utf8(request.body().to_vec()).unwrap(),
        ),
    };
    let (first, second) = body.split_at(body.len() / 2);
    let mut chunked = format!(
        "POST {}{query} HTTP/1.1\r\nHost: x\r\nX-MBX-APIKEY: loopKey\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
        request.uri().path()
    );
    for part in [first, second] {
        chunked.push_str(&format!("{:x}\r\n{part}\r\n", part.len()));
    }
    chunked.push_str("0\r\n\r\n");
    let answer = exchange_bytes(&server, chunked.as_bytes(), 1).await;
    assert_eq!(
        status(&answer),
        Some(200),
        "{:?}",
        answer.first().map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    );
    let placed: OrderResponse = serde_json::from_slice(&answer[0].1).unwrap();
    assert_eq!(placed.client_order_id, "chunky");

    // Three pipelined requests in one write, three answers in order; then `Connection: close`.
    let pipelined = b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v3/time HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v3/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    stream.write_all(pipelined).await.unwrap();
    let answers = responses(&mut stream, 3).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 404]);
    assert_eq!(answers[0].1, b"{}");
    let _: ServerTime = serde_json::from_slice(&answers[1].1).unwrap();
    let mut rest_of_it = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest_of_it)).await;
    assert!(matches!(closed, Ok(Ok(0))), "closed after Connection: close");
    server.shutdown().await;
}
