//! What a web page open in the developer's browser cannot make the dev server do: answer
//! under a rebound host name, take state changes from another origin, fetch pages for it.

use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig};
use serde_json::{Value, json};

async fn server(allowed_hosts: Vec<String>) -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        allowed_hosts,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

async fn status_and_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let json: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        json["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_rebound_host_name_is_refused_unless_allowed() {
    let server = server(vec!["dev.example.com".into()]).await;
    let http = http();
    for path in ["/dev", "/v1/apps"] {
        let resp = http
            .get(format!("{}{path}", server.url()))
            .header("host", "evil.example")
            .send()
            .await
            .expect("an answer");
        let (status, error) = status_and_error(resp).await;
        assert_eq!(status, 403, "{path}");
        assert!(error.contains("DNS rebinding"), "{error}");
    }
    let sent = http
        .post(format!("{}/e/key", server.url()))
        .header("host", "evil.example:8288")
        .body(r#"{"name":"a/b"}"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(sent.status().as_u16(), 403);
    // Local names, private names and the allowed host pass.
    for host in [
        "localhost:8288",
        "inngest:8288",
        "host.docker.internal",
        "dev.example.com",
    ] {
        let resp = http
            .get(format!("{}/dev", server.url()))
            .header("host", host)
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), 200, "{host}");
    }
    let (_, events) = server.engine().recent().await.expect("running");
    assert!(
        events.is_empty(),
        "the refused event was not taken: {events:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn another_origin_cannot_change_state_but_the_servers_own_can() {
    let server = server(Vec::new()).await;
    let http = http();
    let own = server.url().to_string();
    let cross = http
        .post(format!("{own}/e/key"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(r#"{"name":"a/b"}"#)
        .send()
        .await
        .expect("an answer");
    let (status, error) = status_and_error(cross).await;
    assert_eq!(status, 403);
    assert!(error.contains("cross-origin"), "{error}");
    let same = http
        .post(format!("{own}/e/key"))
        .header("origin", own.as_str())
        .body(r#"{"name":"a/b"}"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(same.status().as_u16(), 200);
    // Reading from another origin is not a change (the browser keeps the answer from the page).
    let read = http
        .get(format!("{own}/dev"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("an answer");
    assert_eq!(read.status().as_u16(), 200);
    server.stop().await;
}

/// An HTTP server answering every request with `status`, `headers` and `body` bytes.
async fn page(
    status: u16,
    headers: &'static str,
    body: Vec<u8>,
) -> (String, tokio::task::JoinHandle<()>) {
    let body = std::sync::Arc::new(body);
    let router = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            let mut resp = axum::response::Response::new(axum::body::Body::from((*body).clone()));
            *resp.status_mut() = axum::http::StatusCode::from_u16(status).expect("a status");
            for line in headers.lines().filter(|l| !l.is_empty()) {
                if let Some((k, v)) = line.split_once(": ") {
                    resp.headers_mut().insert(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).expect("a name"),
                        axum::http::HeaderValue::from_str(v).expect("a value"),
                    );
                }
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let url = format!(
        "http://{}/api/inngest",
        listener.local_addr().expect("bound")
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, task)
}

#[tokio::test]
async fn dev_sync_takes_json_only_follows_no_redirect_and_echoes_nothing() {
    let server = server(Vec::new()).await;
    let http = http();
    let sync = |body: Value| {
        http.post(format!("{}/dev/sync", server.url()))
            .json(&body)
            .send()
    };
    // Not declared JSON: 415.
    let plain = http
        .post(format!("{}/dev/sync", server.url()))
        .header("content-type", "text/plain")
        .body(r#"{"url":"http://127.0.0.1:9/"}"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(plain.status().as_u16(), 415);
    // Not http(s): 400.
    let (status, _) = status_and_error(
        sync(json!({"url": "file:///etc/passwd"}))
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 400);
    // A page with a secret: its body is not passed back, on success or on error.
    let secret = "SECRET-PAGE-CONTENT";
    let (ok_url, ok_task) =
        page(200, "content-type: text/html\n", secret.as_bytes().to_vec()).await;
    let ok = sync(json!({"url": ok_url})).await.expect("an answer");
    assert_eq!(ok.status().as_u16(), 200);
    let text = ok.text().await.expect("a body");
    assert!(!text.contains(secret), "{text}");
    let (err_url, err_task) = page(500, "", secret.as_bytes().to_vec()).await;
    let err = sync(json!({"url": err_url})).await.expect("an answer");
    assert_eq!(err.status().as_u16(), 502);
    let text = err.text().await.expect("a body");
    assert!(!text.contains(secret), "{text}");
    // A redirect is not followed.
    let (redirect_url, redirect_task) =
        page(302, "location: http://127.0.0.1:9/elsewhere\n", Vec::new()).await;
    let (status, error) =
        status_and_error(sync(json!({"url": redirect_url})).await.expect("an answer")).await;
    assert_eq!(status, 502);
    assert!(error.contains("answered 302"), "{error}");
    // A huge answer is cut short, not buffered.
    let (big_url, big_task) = page(200, "", vec![b'x'; 8 * 1024 * 1024]).await;
    let (status, error) =
        status_and_error(sync(json!({"url": big_url})).await.expect("an answer")).await;
    assert_eq!(status, 502);
    assert!(error.contains("could not be read"), "{error}");
    for t in [ok_task, err_task, redirect_task, big_task] {
        t.abort();
    }
    server.stop().await;
}

/// Connections that trickle header bytes are closed once the header time is up, and the
/// server answers everyone else meanwhile.
#[tokio::test]
async fn slow_header_connections_are_closed_and_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = DevServer::start(DevServerConfig {
        port: 0,
        header_timeout: Duration::from_millis(500),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let addr = server.url().trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut conn = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connects");
        conn.write_all(b"GET /dev HTTP/1.1\r\nHost: 127")
            .await
            .expect("writes");
        slow.push(conn);
    }
    let ok = http()
        .get(format!("{}/dev", server.url()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ok.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for conn in &mut slow {
        let mut buf = [0u8; 512];
        // Closed by the server: the read ends (maybe after a 408 it wrote first).
        let read = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert_eq!(read, Ok(true), "a slow connection is still open");
    }
    server.stop().await;
}
