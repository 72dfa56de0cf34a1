//! `GET /`: a plain HTML page of apps, functions and recent runs with their steps.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;

use super::{ApiError, Shared};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) async fn index(State(s): State<Shared>) -> Result<Html<String>, ApiError> {
    let apps = s.engine.apps().await?;
    let mut workers = s.gateway.workers();
    let (runs, events) = s.engine.recent().await?;
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>inngest-devserver</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
         .Completed{color:#070}.Failed{color:#a00}.Cancelled{color:#777}.Running{color:#05a}</style>\
         </head><body><h1>inngest-devserver</h1>",
    );
    let _ = write!(
        h,
        "<p>Server time: {}</p>",
        esc(&crate::clock::rfc3339(s.clock.now_ms()))
    );
    h.push_str("<h2>Apps</h2>");
    if apps.is_empty() {
        h.push_str("<p id=\"no-apps\">No app synced yet.</p>");
    }
    for app in &apps {
        let transport = crate::gateway::transport(&app.url);
        let _ = write!(
            h,
            "<h3>{}</h3><p>{} · {} · synced {} · transport <span class=\"transport\">{transport}</span></p>",
            esc(&app.id),
            esc(&app.url),
            esc(&app.sdk),
            esc(&app.synced_at)
        );
        if transport == "connect" {
            let connected = workers.remove(&app.id).unwrap_or_default();
            if connected.is_empty() {
                h.push_str("<p class=\"workers\">No worker connected: its runs wait for one.</p>");
            } else {
                let shown: Vec<String> = connected
                    .iter()
                    .map(|w| {
                        let state = if w.active { "active" } else { "paused" };
                        format!(
                            "<span class=\"worker\" title=\"{}\">{} ({state})</span>",
                            esc(&w.connection_id),
                            esc(&w.instance_id)
                        )
                    })
                    .collect();
                let _ = write!(h, "<p class=\"workers\">Workers: {}</p>", shown.join(", "));
            }
        }
        h.push_str("<table><tr><th>function</th><th>triggers</th><th>attempts</th></tr>");
        for f in &app.functions {
            let _ = write!(
                h,
                "<tr class=\"function\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.id),
                esc(&f.triggers.join(", ")),
                f.max_attempts
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Recent runs</h2><table><tr><th>run</th><th>function</th><th>status</th><th>started</th><th>steps</th><th>output</th></tr>");
    for r in &runs {
        let steps: Vec<String> = r
            .steps
            .iter()
            .map(|st| {
                let mut line = format!("{} {}", esc(&st.op), esc(&st.name));
                if st.attempt > 0 {
                    let _ = write!(line, " · attempt {}", st.attempt.saturating_add(1));
                }
                if let Some(e) = &st.error {
                    let _ = write!(
                        line,
                        " · <span class=\"error\">{}</span>",
                        esc(&crate::engine::FailedAttempt::describe(Some(e)))
                    );
                }
                if let Some(at) = &st.retry_at {
                    let _ = write!(line, " · retry at {}", esc(at));
                }
                line
            })
            .collect();
        let output = r.output.as_ref().map(|o| o.to_string()).unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"run\"><td>{}</td><td>{}</td><td class=\"{:?}\">{:?}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.run_id),
            esc(&r.function_id),
            r.status,
            r.status,
            esc(&r.run_started_at),
            steps.join("<br>"),
            esc(&output)
        );
    }
    h.push_str("</table><h2>Recent events</h2><ul>");
    for e in events.iter().take(20) {
        let name = e.get("name").and_then(|v| v.as_str()).unwrap_or_default();
        let id = e.get("id").and_then(|v| v.as_str()).unwrap_or_default();
        let _ = write!(h, "<li><code>{}</code> {}</li>", esc(id), esc(name));
    }
    h.push_str("</ul></body></html>");
    Ok(Html(h))
}
