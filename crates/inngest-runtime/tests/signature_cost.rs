//! What a forged signature costs the app: checking one must not parse a large body into a
//! tree (several times the body's size), since anyone can send a header that passes the
//! time check. Its own test binary, for its counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use inngest_runtime::signature::{SignatureError, verify};

/// Counts the bytes live at once (and the most of them), on top of the system allocator.
struct Peak;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

#[test]
fn a_forged_signature_over_a_large_body_costs_no_parse() {
    const KEY: &str = "signkey-test-12345678";
    // 16 MiB of `[0,0,…]`: as a serde_json tree, hundreds of MiB.
    let mut body = Vec::with_capacity(16 << 20);
    body.push(b'[');
    while body.len() < (16 << 20) - 2 {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]");
    let now = 1_000_000;
    let forged = format!("t={now}&s={}", "ab".repeat(32));

    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = verify(Some(&forged), &body, Some(KEY), None, now);
    let extra = PEAK.load(Ordering::SeqCst) - before;

    assert_eq!(result, Err(SignatureError::Mismatch));
    assert!(
        extra < 64 * 1024,
        "checking a forged signature allocated {extra} bytes for a body of {} bytes",
        body.len()
    );
}
