//! The functions the app registered, as a table: id, trigger, transport.

use serde_json::Value;

use super::console::{Console, Source};
use super::server::Server;

/// Prints what `server` lists (best effort: a server that lists nothing says so).
pub async fn print(server: &Server, console: &Console) {
    let rows: Vec<(String, String)> = match server {
        Server::Embedded(s) => match s.engine().apps().await {
            Ok(apps) => apps
                .into_iter()
                .flat_map(|a| a.functions)
                .map(|f| (f.id, f.triggers.join(", ")))
                .collect(),
            Err(_) => Vec::new(),
        },
        Server::Official { url, .. } => official(url).await,
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
    for (id, trigger) in rows {
        console.line(
            Source::Dev,
            &format!("{id:<w$}  {trigger:<t$}  serve (http)"),
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
    use super::rows;
    use serde_json::json;

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
