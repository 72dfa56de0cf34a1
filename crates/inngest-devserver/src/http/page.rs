//! `GET /`: a plain HTML page of apps, functions and recent runs with their steps;
//! `GET /runs/{run_id}`: one run's page, its steps on a timeline from the run's start.

use std::fmt::Write;

use axum::extract::{Path, State};
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
    let mut h = head("inngest-devserver");
    h.push_str("<h1>inngest-devserver</h1>");
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
            "<tr class=\"run\"><td><a href=\"/runs/{}\">{}</a></td><td>{}</td><td class=\"{:?}\">{:?}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.run_id),
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

/// The top of a page, its title and styles.
fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         .Completed{{color:#070}}.Failed{{color:#a00}}.Cancelled{{color:#777}}.Running{{color:#05a}}</style>\
         </head><body>",
        esc(title)
    )
}

/// Milliseconds since the Unix epoch of an RFC 3339 time.
fn ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `GET /runs/{run_id}`: the run's header, trigger event, steps from its start, and output.
pub(super) async fn run(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let run = s
        .engine
        .run(run_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {run_id:?} not found")))?;
    let event = match &run.event_id {
        Some(id) => s.engine.event(id.clone()).await?,
        None => None,
    };
    let started = ms(&run.run_started_at);
    let mut h = head(&format!("run {}", run.run_id));
    let _ = write!(
        h,
        "<p><a href=\"/\">all runs</a></p><h1>Run <code>{}</code></h1>\
         <p>{} · <span class=\"status {:?}\">{:?}</span> · started {}",
        esc(&run.run_id),
        esc(&run.function_id),
        run.status,
        run.status,
        esc(&run.run_started_at)
    );
    if let Some(ended) = &run.ended_at {
        let took = started
            .zip(ms(ended))
            .map(|(a, b)| format!(" ({} ms)", b.saturating_sub(a)))
            .unwrap_or_default();
        let _ = write!(h, " · ended {}{took}", esc(ended));
    }
    h.push_str("</p><h2>Steps</h2><table><tr><th>at</th><th>op</th><th>step</th><th>attempt</th><th>error</th></tr>");
    for st in &run.steps {
        let at = started
            .map(|a| format!("+{} ms", st.at_ms.saturating_sub(a)))
            .unwrap_or_default();
        let error = st
            .error
            .as_ref()
            .map(|e| crate::engine::FailedAttempt::describe(Some(e)))
            .unwrap_or_default();
        let retry = st
            .retry_at
            .as_ref()
            .map(|at| format!(" · retry at {at}"))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"step\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            esc(&at),
            esc(&st.op),
            esc(&st.name),
            st.attempt.saturating_add(1),
            esc(&error),
            esc(&retry)
        );
    }
    h.push_str("</table>");
    if let Some(event) = event {
        let pretty = serde_json::to_string_pretty(&event).unwrap_or_default();
        let _ = write!(
            h,
            "<h2>Trigger event</h2><pre id=\"event\">{}</pre>",
            esc(&pretty)
        );
    }
    if let Some(output) = &run.output {
        let pretty = serde_json::to_string_pretty(output).unwrap_or_default();
        let _ = write!(
            h,
            "<h2>Output</h2><pre id=\"output\">{}</pre>",
            esc(&pretty)
        );
    }
    h.push_str("</body></html>");
    Ok(Html(h))
}
