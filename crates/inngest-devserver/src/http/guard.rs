//! What a web page must not be able to do through the developer's browser.
//!
//! The dev server listens on the developer's machine, so any page they open can send it
//! requests: a cross-site `POST` (a form, a `text/plain` fetch) needs no preflight, and DNS
//! rebinding makes `evil.example` resolve to 127.0.0.1 so the page's requests carry
//! `Host: evil.example`. Two checks stop both:
//!
//! - the `Host` must name this machine or a private network: an IP literal, a name without a
//!   dot (`localhost`, a Docker service such as `inngest`), a `.localhost`, `.local` or
//!   `.internal` name (`host.docker.internal`), or a host given with `--allow-host`;
//! - a state-changing request (anything but `GET`, `HEAD`, `OPTIONS`) with an `Origin` must
//!   come from the server's own origin (its page). SDKs and `curl` send no `Origin`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Hosts allowed besides the local and private names.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts(pub Arc<Vec<String>>);

/// The host of a `Host` header, without its port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // `[::1]:8288`
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = host_name(host).trim_end_matches('.').to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok()
        || !name.contains('.')
        || [".localhost", ".local", ".internal"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || extra.iter().any(|h| h.eq_ignore_ascii_case(&name))
}

fn forbidden(message: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, message).into_response()
}

/// Why a request is refused, if it is.
fn refusal(req: &Request, allowed: &[String]) -> Option<String> {
    let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST);
    if let Some(h) = host {
        if !host_allowed(h, allowed) {
            return Some(format!(
                "requests for host {h:?} are refused (DNS rebinding); start the dev server with \
                 --allow-host {} to allow it",
                host_name(h)
            ));
        }
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let origin = text(header::ORIGIN).filter(|_| changes_state)?;
    let own = host.is_some_and(|h| {
        origin.eq_ignore_ascii_case(&format!("http://{h}"))
            || origin.eq_ignore_ascii_case(&format!("https://{h}"))
    });
    (!own).then(|| {
        format!("cross-origin requests from {origin:?} may not change the dev server's state")
    })
}

/// The middleware.
pub(crate) async fn same_origin(
    State(allowed): State<AllowedHosts>,
    req: Request,
    next: Next,
) -> Response {
    match refusal(&req, &allowed.0) {
        Some(message) => forbidden(message),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_hosts_pass_public_names_do_not() {
        for ok in [
            "127.0.0.1:8288",
            "localhost:8288",
            "[::1]:8288",
            "192.168.1.20:8288",
            "inngest:8288",
            "host.docker.internal:8288",
            "app.localhost",
            "LOCALHOST.",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for refused in ["evil.example", "evil.example:8288", "127.0.0.1.nip.io"] {
            assert!(!host_allowed(refused, &[]), "{refused}");
        }
        assert!(host_allowed(
            "dev.example.com:8288",
            &["dev.example.com".into()]
        ));
    }
}
