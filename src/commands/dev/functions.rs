//! The functions the app registered, as a table: id, trigger, transport.

use serde_json::Value;

use super::console::{Console, Source};
use super::server::Server;

/// How the server reaches a function, from its URL: a connect worker's functions are synced
/// with `ws://` or `wss://` URLs.
fn transport_of(url: &str) -> &'static str {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        "connect (ws)"
    } else {
        "serve (http)"
    }
}

/// Prints what `server` lists (best effort: a server that lists nothing says so).
pub async fn print(server: &Server, console: &Console) {
    let rows: Vec<(String, String, &'static str)> = match server {
        Server::Embedded(s) => match s.engine().apps().await {
            Ok(apps) => apps
                .into_iter()
                .flat_map(|a| a.functions)
                .map(|f| {
                    let transport = transport_of(&f.url);
                    (f.id, f.triggers.join(", "), transport)
                })
                .collect(),
            Err(_) => Vec::new(),
        },
        Server::Official { url, .. } => official(url)
            .await
            .into_iter()
            .map(|(id, triggers)| (id, triggers, "serve (http)"))
            .collect(),
    };
    if rows.is_empty() {
        console.line(Source::Dev, "synced (the server lists no functions)");
        return;
    }
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(8);
    let t = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(7);
    console.line(
        Source::Dev,
        &format!("{:<w$}  {:<t$}  transport", "function", "trigger"),
    );
    for (id, trigger, transport) in rows {
        console.line(
            Source::Dev,
            &format!("{id:<w$}  {trigger:<t$}  {transport}"),
        );
    }
}

/// The official dev server's function list, best effort (`GET /dev`).
async fn official(url: &str) -> Vec<(String, String)> {
    let Ok(resp) = super::http_client().get(format!("{url}/dev")).send().await else {
        return Vec::new();
    };
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    rows(&body)
}

/// The rows of a `GET /dev` answer: `functions` at the top or in the first app.
fn rows(body: &Value) -> Vec<(String, String)> {
    let list = body
        .get("functions")
        .and_then(Value::as_array)
        .or_else(|| body.pointer("/data/0/functions").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|f| {
            let id = f.get("slug").or_else(|| f.get("id"))?.as_str()?.to_string();
            let triggers = f
                .get("triggers")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .map(|t| match (t.get("event"), t.get("cron")) {
                            (Some(e), _) => format!("event:{}", e.as_str().unwrap_or("")),
                            (_, Some(c)) => format!("cron:{}", c.as_str().unwrap_or("")),
                            _ => t.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .or_else(|| f.as_str().map(str::to_string))
                .unwrap_or_default();
            Some((id, triggers))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{rows, transport_of};
    use serde_json::json;

    #[test]
    fn a_connect_function_shows_its_transport() {
        assert_eq!(
            transport_of("wss://connect/?fnId=shop-hello&stepId=step"),
            "connect (ws)"
        );
        assert_eq!(
            transport_of("http://127.0.0.1:3000/api/inngest?fnId=shop-hello&stepId=step"),
            "serve (http)"
        );
    }

    #[test]
    fn official_function_lists_are_read_at_either_place() {
        let top = json!({ "functions": [
            { "slug": "shop-hello", "triggers": [{ "event": "shop/hello.requested" }] },
            { "id": "shop-digest", "triggers": [{ "cron": "0 9 * * *" }] },
        ]});
        assert_eq!(
            rows(&top),
            vec![
                ("shop-hello".into(), "event:shop/hello.requested".into()),
                ("shop-digest".into(), "cron:0 9 * * *".into()),
            ]
        );
        let nested = json!({ "data": [{ "functions": [{ "slug": "a-b", "triggers": [] }] }] });
        assert_eq!(rows(&nested), vec![("a-b".into(), String::new())]);
        assert!(rows(&json!(null)).is_empty());
    }
}
