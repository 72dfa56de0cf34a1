//! Exchanges where our runtime answers differently from the official SDK on purpose. The
//! replays of our runtime require our own answer there, so the difference stays deliberate.

/// One deliberate difference.
#[derive(Debug)]
pub struct Deliberate {
    /// The scenario.
    pub scenario: &'static str,
    /// The exchange's number (`NN` of `NN-request.json`).
    pub n: u32,
    /// Our status.
    pub status: u16,
    /// A text our body contains.
    pub contains: &'static str,
    /// Why we differ.
    pub why: &'static str,
}

/// The list.
pub const DELIBERATE: &[Deliberate] = &[Deliberate {
    scenario: super::official::CLOUD_SIGNED,
    n: 9,
    status: 400,
    contains: "INNGEST_SERVE_ORIGIN",
    why: "an unsigned out-of-band PUT in cloud mode: the JS SDK registers the URL the request's \
          Host names; we refuse unless INNGEST_SERVE_ORIGIN is set (docs/serve.md)",
}];

/// The deliberate difference at `scenario`/`n`, if any.
pub fn deliberate(scenario: &str, n: &str) -> Option<&'static Deliberate> {
    let n: u32 = n.trim().parse().ok()?;
    DELIBERATE
        .iter()
        .find(|d| d.scenario == scenario && d.n == n)
}

impl Deliberate {
    /// What is wrong with our answer (`side`: how many requests the app sent to the API
    /// meanwhile, which must be none), if anything.
    pub fn check(&self, status: u16, text: &str, side: usize) -> Option<String> {
        let ok = status == self.status && text.contains(self.contains) && side == 0;
        (!ok).then(|| {
            format!(
                "{}/{:02} (deliberately different: {}): expected {} with {:?} and no API call, got {status} {text} with {side} API calls",
                self.scenario, self.n, self.why, self.status, self.contains
            )
        })
    }
}
