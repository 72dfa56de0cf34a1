//! What the benchmarks share: percentiles, the process's CPU time, and putting a result table into
//! docs/performance.md between its `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.

use std::time::Duration;

/// The CPU time this process has used so far, user and system, on every thread (Linux, from
/// `/proc/self/stat`, in ticks of 10 ms: meant for differences over seconds).
// Shared by every bench, used by event_to_completion only.
#[allow(dead_code)]
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which may hold spaces), from the third on.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line.
    let (user, system) = (ticks(11), ticks(12));
    // USER_HZ, the unit of these fields, is 100 on Linux whatever the kernel's own tick rate.
    Duration::from_millis((user + system) * 10)
}

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
