//! Reading an HTTP answer with a cap on its size: whatever answers can send an endless body,
//! and the reader must not hold it all. The runtime reads Inngest's API answers with it (at
//! most [`MAX_API_ANSWER`], a run's state at most [`MAX_STATE_ANSWER`]); the dev server reads
//! its apps' answers with it.

/// The most the runtime reads of an answer from Inngest's API (an event ID list, a sync's
/// result, a connect gateway), other than a run's state: 1 MiB.
pub const MAX_API_ANSWER: usize = 1 << 20;

/// The most the runtime reads of a run's events or steps fetched from the API (`use_api`):
/// 64 MiB, twice the 32 MiB Inngest lets a run's state reach.
pub const MAX_STATE_ANSWER: usize = 64 << 20;

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CappedBodyError {
    /// The body is larger than the cap.
    #[error("the answer's body is over {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The connection broke off before the body's end.
    #[error("the answer's body could not be read")]
    Broken(#[source] reqwest::Error),
}

/// The body of `resp`, as long as it is at most `max` bytes. It reads chunk by chunk and stops
/// at the first byte over `max`, so a larger body is never held whole.
///
/// # Errors
///
/// [`CappedBodyError::TooLarge`] when the body (or its announced length) is over `max`,
/// [`CappedBodyError::Broken`] when the connection fails before the body's end.
pub async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, CappedBodyError> {
    let too_large = CappedBodyError::TooLarge { max };
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > max))
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(CappedBodyError::Broken)? {
        if body.len().saturating_add(chunk.len()) > max {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
