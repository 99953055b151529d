//! The real backends on 127.0.0.1: what each failure means for a request's fate (never
//! "not sent" once it may have been written), and pings answered with the payload copied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis_exchange::transport::{
    HttpTransport, HyperTransport, ReqwestTransport, TransportError, TungsteniteTransport, WsMessage, WsTransport,
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn post(url: &str) -> http::Request<Bytes> {
    http::Request::post(url).body(Bytes::from_static(b"symbol=BTCUSDT")).unwrap()
}

/// Reads one request head from a raw socket, then does `then`.
async fn one_shot_server(then: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v3/order", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        match then {
            "close" => drop(socket),
            "hang" => tokio::time::sleep(Duration::from_secs(30)).await,
            _ => {
                let body = r#"{"code":-1003,"msg":"Too many requests."}"#;
                let head = format!(
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.write_all(body.as_bytes()).await.unwrap();
            }
        }
    });
    url
}

/// Both REST backends, by name.
fn backends(max_body: Option<usize>) -> Vec<(&'static str, Box<dyn HttpTransport>)> {
    let (reqwest, hyper) = (ReqwestTransport::new().unwrap(), HyperTransport::new().unwrap());
    match max_body {
        Some(n) => vec![("reqwest", Box::new(reqwest.with_max_body(n))), ("hyper", Box::new(hyper.with_max_body(n)))],
        None => vec![("reqwest", Box::new(reqwest)), ("hyper", Box::new(hyper))],
    }
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    for (name, http) in backends(None) {
        // A port nobody listens on: bind, learn the port, close.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v3/order", listener.local_addr().unwrap());
        drop(listener);
        let err = http.send(post(&url), Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(err, TransportError::NotSent(_)), "{name}: {err:?}");
        assert!(!err.may_have_arrived(), "{name}");
    }
}

#[tokio::test]
async fn a_connection_closed_after_the_write_is_unanswered() {
    for (name, http) in backends(None) {
        let url = one_shot_server("close").await;
        let err = http.send(post(&url), Duration::from_secs(2)).await.unwrap_err();
        assert!(err.may_have_arrived(), "{name}: {err:?}");
    }
}

#[tokio::test]
async fn a_timeout_after_the_write_is_unanswered() {
    for (name, http) in backends(None) {
        let url = one_shot_server("hang").await;
        let err = http.send(post(&url), Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, TransportError::Unanswered(_)), "{name}: {err:?}");
    }
}

#[tokio::test]
async fn answers_keep_status_headers_and_body() {
    for (name, http) in backends(None) {
        let url = one_shot_server("answer").await;
        let response = http.send(post(&url), Duration::from_secs(2)).await.unwrap();
        assert_eq!(response.status(), 429, "{name}");
        assert_eq!(response.headers().get("retry-after").unwrap(), "7", "{name}");
        assert_eq!(&response.body()[..], br#"{"code":-1003,"msg":"Too many requests."}"#, "{name}");
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    for (name, http) in backends(Some(8)) {
        let url = one_shot_server("answer").await;
        let err = http.send(post(&url), Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(err, TransportError::TooLarge(8), "{name}");
    }
}

/// A server that answers every request on a connection with `200 {}` and records each request
/// head; with `close_after_ms`, it closes each connection that long after its first answer.
async fn keep_alive_server(close_after_ms: Option<u64>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v3/time", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut answered = false;
                loop {
                    let read = match close_after_ms {
                        Some(ms) if answered => {
                            match tokio::time::timeout(Duration::from_millis(ms), socket.read(&mut chunk)).await {
                                Ok(r) => r,
                                Err(_) => return, // idle too long: close
                            }
                        }
                        _ => socket.read(&mut chunk).await,
                    };
                    let Ok(n) = read else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buffer.drain(..end + 4).collect();
                        seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        answered = true;
                    }
                }
            });
        }
    });
    (url, heads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_keeps_one_connection_alive_and_writes_origin_form_with_host() {
    let (url, heads) = keep_alive_server(None).await;
    let http = HyperTransport::new().unwrap();
    for _ in 0..20 {
        let get = http::Request::get(&url).body(Bytes::new()).unwrap();
        let response = http.send(get, Duration::from_secs(2)).await.unwrap();
        assert_eq!((response.status().as_u16(), &response.body()[..]), (200, &b"{}"[..]));
    }
    assert_eq!(http.connections_opened(), 1, "keep-alive: one connection for 20 requests in turn");
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 20);
    let authority = url.trim_start_matches("http://").trim_end_matches("/api/v3/time");
    for head in heads {
        assert!(head.starts_with("GET /api/v3/time HTTP/1.1\r\n"), "origin form: {head}");
        assert!(head.to_ascii_lowercase().contains(&format!("host: {authority}\r\n")), "Host: {head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_replaces_a_connection_the_server_closed_while_idle() {
    let (url, heads) = keep_alive_server(Some(50)).await;
    let http = HyperTransport::new().unwrap();
    for round in 0..3 {
        let get = http::Request::get(&url).body(Bytes::new()).unwrap();
        let response = http.send(get, Duration::from_secs(2)).await;
        assert_eq!(response.map(|r| r.status().as_u16()), Ok(200), "round {round}");
        // Longer than the server keeps an idle connection.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(http.connections_opened(), 3, "each closed connection was noticed and replaced");
    assert_eq!(heads.lock().unwrap().len(), 3, "no request was written to a closed connection twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_serves_concurrent_requests_on_separate_connections() {
    let (url, heads) = keep_alive_server(None).await;
    let http = HyperTransport::new().unwrap();
    let sends: Vec<_> = (0..4)
        .map(|_| http.send(http::Request::get(&url).body(Bytes::new()).unwrap(), Duration::from_secs(2)))
        .collect();
    let results = futures_util::future::join_all(sends).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|r| r.status() == 200)), "{results:?}");
    assert_eq!(heads.lock().unwrap().len(), 4);
    let opened = http.connections_opened();
    assert!((1..=4).contains(&opened), "{opened}");
    // Afterwards they are reused, not reopened.
    for _ in 0..8 {
        http.send(http::Request::get(&url).body(Bytes::new()).unwrap(), Duration::from_secs(2)).await.unwrap();
    }
    assert_eq!(http.connections_opened(), opened);
}

#[tokio::test]
async fn pings_are_answered_with_their_payload_and_text_flows_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws-api/v3", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"binance-ping"))).await.unwrap();
        ws.send(Message::text(r#"{"id":"1","status":200}"#)).await.unwrap();
        let mut pong = None;
        let mut text = None;
        while pong.is_none() || text.is_none() {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) => pong = Some(p),
                Some(Ok(Message::Text(t))) => text = Some(t.as_str().to_owned()),
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        ws.close(None).await.ok();
        (pong, text)
    });
    let mut conn = TungsteniteTransport::new().unwrap().connect(&url).await.unwrap();
    let mut seen = Vec::new();
    // Reading is what answers the ping.
    while let Some(Ok(message)) = tokio::time::timeout(Duration::from_secs(5), conn.stream.next()).await.unwrap() {
        if let WsMessage::Text(_) = &message {
            conn.sink.send(WsMessage::Text(Bytes::from_static(b"hello"))).await.unwrap();
        }
        let closed = matches!(message, WsMessage::Close(_));
        seen.push(message);
        if closed {
            break;
        }
    }
    let (pong, text) = server.await.unwrap();
    assert_eq!(pong.as_deref(), Some(&b"binance-ping"[..]), "no pong with the ping's payload");
    assert_eq!(text.as_deref(), Some("hello"));
    assert_eq!(seen.first(), Some(&WsMessage::Ping(Bytes::from_static(b"binance-ping"))));
    assert!(seen.contains(&WsMessage::Text(Bytes::from_static(br#"{"id":"1","status":200}"#))));
}

#[tokio::test]
async fn a_refused_websocket_is_not_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    drop(listener);
    let err = TungsteniteTransport::new().unwrap().connect(&url).await.unwrap_err();
    assert!(matches!(err, TransportError::NotSent(_)), "{err:?}");
}
