//! What the benchmarks share: percentiles, and putting a result table into
//! docs/performance.md between its `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.

use std::time::Duration;

/// The `p` percentile (0 to 1) of sorted times.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Replaces the `marker` section of docs/performance.md (markers included) with `table`, which
/// starts and ends with them.
pub fn write_section(marker: &str, table: &str) {
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/performance.md");
    let text = std::fs::read_to_string(&doc).expect("docs/performance.md");
    let (open, close) = (
        format!("<!-- {marker}:start -->"),
        format!("<!-- {marker}:end -->"),
    );
    let (Some(start), Some(end)) = (text.find(&open), text.find(&close)) else {
        panic!("docs/performance.md has no {marker} markers");
    };
    let end = end + close.len();
    std::fs::write(&doc, format!("{}{table}{}", &text[..start], &text[end..])).expect("written");
    println!("written into docs/performance.md");
}
