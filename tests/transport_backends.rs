//! The real backends on 127.0.0.1: what each failure means for a request's fate (never
//! "not sent" once it may have been written), and pings answered with the payload copied.

use std::time::Duration;

use aegis_exchange::transport::{
    HttpTransport, ReqwestTransport, TransportError, TungsteniteTransport, WsMessage, WsTransport,
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

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    // A port nobody listens on: bind, learn the port, close.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v3/order", listener.local_addr().unwrap());
    drop(listener);
    let http = ReqwestTransport::new().unwrap();
    let err = http.send(post(&url), Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, TransportError::NotSent(_)), "{err:?}");
    assert!(!err.may_have_arrived());
}

#[tokio::test]
async fn a_connection_closed_after_the_write_is_unanswered() {
    let url = one_shot_server("close").await;
    let err = ReqwestTransport::new().unwrap().send(post(&url), Duration::from_secs(2)).await.unwrap_err();
    assert!(err.may_have_arrived(), "{err:?}");
}

#[tokio::test]
async fn a_timeout_after_the_write_is_unanswered() {
    let url = one_shot_server("hang").await;
    let err = ReqwestTransport::new().unwrap().send(post(&url), Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(err, TransportError::Unanswered(_)), "{err:?}");
}

#[tokio::test]
async fn answers_keep_status_headers_and_body() {
    let url = one_shot_server("answer").await;
    let response = ReqwestTransport::new().unwrap().send(post(&url), Duration::from_secs(2)).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").unwrap(), "7");
    assert_eq!(&response.body()[..], br#"{"code":-1003,"msg":"Too many requests."}"#);
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let url = one_shot_server("answer").await;
    let http = ReqwestTransport::new().unwrap().with_max_body(8);
    let err = http.send(post(&url), Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(err, TransportError::TooLarge(8));
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
