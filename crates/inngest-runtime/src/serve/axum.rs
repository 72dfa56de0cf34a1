//! The axum adapter: mount the serve endpoint in an axum 0.8 router.
//!
//! ```no_run
//! # use inngest_runtime::{App, Inngest, serve};
//! # async fn run(app: App) -> std::io::Result<()> {
//! let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, router).await
//! # }
//! ```

use axum::body::{Body, to_bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};

use super::{BodyReadError, ServeHandler};
use crate::app::App;

/// A method router answering every method of the serve endpoint, with the default body limit.
/// Mount it at the path Inngest calls (`/api/inngest` by convention).
///
/// ```no_run
/// # use inngest_runtime::{App, serve};
/// # async fn run(app: App) -> std::io::Result<()> {
/// let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
/// axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, router).await
/// # }
/// ```
///
/// # Errors
///
/// None at mount time. Each request is answered as the official SDKs answer it: a body over
/// the limit gets 413, one that does not arrive within the body timeout 408, an unsigned
/// request in cloud mode 401, a malformed one 4xx or 500 with a JSON message (see the guide's
/// serve page).
pub fn endpoint<S: Clone + Send + Sync + 'static>(app: App) -> MethodRouter<S> {
    endpoint_with(ServeHandler::new(app))
}

/// Like [`endpoint`], with a configured handler (body limit, clock).
pub fn endpoint_with<S: Clone + Send + Sync + 'static>(handler: ServeHandler) -> MethodRouter<S> {
    any(serve).with_state(handler.framework("axum"))
}

async fn serve(State(handler): State<ServeHandler>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // Under `Router::nest` the path arrives without its prefix; a sync must register the path
    // Inngest calls.
    if let Some(OriginalUri(uri)) = parts.extensions.remove::<OriginalUri>() {
        parts.uri = uri;
    }
    let read = tokio::time::timeout(handler.body_read_timeout(), to_bytes(body, handler.limit()));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            let why = if over_limit {
                BodyReadError::TooLarge {
                    limit: handler.limit(),
                }
            } else {
                BodyReadError::Unreadable(e.to_string())
            };
            return handler.refuse_body(&why).map(Body::from).into_response();
        }
        Err(_) => {
            let why = BodyReadError::TimedOut(handler.body_read_timeout());
            return handler.refuse_body(&why).map(Body::from).into_response();
        }
    };
    let resp = handler
        .handle(http::Request::from_parts(parts, bytes))
        .await;
    resp.map(Body::from).into_response()
}
