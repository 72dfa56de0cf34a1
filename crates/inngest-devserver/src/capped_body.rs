//! Reading an app's answer with a cap on its size: an app (or whatever answers at a URL it
//! registered) can send an endless body, and the server must not hold it all.

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CappedBodyError {
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
pub(crate) async fn read_capped(
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
