//! Step ids on the wire: `hex(sha1(id))`, with `id:1`, `id:2`… for repeats within one run.

use std::collections::{HashMap, HashSet};

use sha1::{Digest, Sha1};

/// Hashes a step id as it goes on the wire: lowercase hex of its SHA-1.
///
/// ```
/// assert_eq!(inngest_runtime::step_id::hash("my-step-id"), "e7d8a2f140845095749d60246ff1110c9d01d76a");
/// ```
pub fn hash(id: &str) -> String {
    HashedId::of(&Sha1::digest(id.as_bytes()).into()).to_string()
}

/// A hashed step id, 40 lowercase hex digits, held inline: looking a step up in the memo
/// needs no allocation, and only a new step's op copies it into a `String`.
///
/// ```
/// use inngest_runtime::step_id::StepIdCounter;
/// let (hashed, _) = StepIdCounter::default().next_hashed("my-step-id");
/// assert_eq!(hashed.as_str(), "e7d8a2f140845095749d60246ff1110c9d01d76a");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashedId([u8; 40]);

impl HashedId {
    /// A hashed id as the executor sends it back (a memo key): `None` unless it is 40
    /// lowercase hex digits, the only ids this crate makes (so no other key can name a step).
    ///
    /// ```
    /// use inngest_runtime::step_id::{HashedId, hash};
    /// let id = hash("my-step-id");
    /// assert_eq!(HashedId::parse(&id).map(|h| h.to_string()), Some(id));
    /// assert!(HashedId::parse("E7D8A2F140845095749D60246FF1110C9D01D76A").is_none());
    /// assert!(HashedId::parse("step").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 40] = text.as_bytes().try_into().ok()?;
        // Without a branch per byte: this runs for every memo key of every request.
        let hex = bytes.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
        });
        hex.then_some(Self(bytes))
    }

    fn of(digest: &[u8; 20]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 40];
        for (i, &byte) in digest.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(byte >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
        }
        Self(out)
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        // Every byte is an ASCII hex digit, written by `of`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for HashedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for HashedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashedId({})", self.as_str())
    }
}

/// A step id resolved for one use: the id as written, its repeat index and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedStepId {
    /// The id as the user wrote it.
    pub id: String,
    /// `None` for the first use, `Some(n)` for the n-th repeat.
    pub index: Option<u32>,
    /// `hash(id)` or `hash("id:n")`.
    pub hashed: String,
}

/// A SHA-1 digest, the key of the counter's tables.
type Digest20 = [u8; 20];

/// Hashes a SHA-1 digest by its first bytes: they are already uniformly distributed, so
/// hashing them again (SipHash) would only cost time. Only for digests this crate computes:
/// never for keys a request chooses, which could be made to collide.
#[derive(Default, Clone, Copy)]
struct DigestHasher {
    hash: u64,
    seen: u8,
}

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.hash
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            if self.seen == 16 {
                return;
            }
            self.hash = self.hash.rotate_left(5) ^ u64::from(*b);
            self.seen += 1;
        }
    }
}

type DigestBuild = std::hash::BuildHasherDefault<DigestHasher>;

/// Hands out hashed ids in call order: the first use of `id` hashes `id`, the second `id:1`,
/// the third `id:2`, skipping any suffix whose hash is already taken, as the official SDKs do.
///
/// ```
/// use inngest_runtime::step_id::StepIdCounter;
/// let mut ids = StepIdCounter::default();
/// assert_eq!(ids.next("same").hashed, "ff3390557335ba88d37755e41514beb03bc499ec");
/// assert_eq!(ids.next("same").hashed, "c1023fa587daa4753ff5868c7e4bdbd03defda7d");
/// assert_eq!(ids.next("same").index, Some(2));
/// ```
#[derive(Debug, Default)]
pub struct StepIdCounter {
    /// Uses so far of each id, keyed by the digest of the id itself.
    seen: HashMap<Digest20, u32, DigestBuild>,
    /// Every digest handed out.
    taken: HashSet<Digest20, DigestBuild>,
}

impl std::fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestHasher")
    }
}

impl StepIdCounter {
    /// A counter with room for `steps` ids before it grows.
    pub fn with_capacity(steps: usize) -> Self {
        Self {
            seen: HashMap::default(),
            taken: HashSet::with_capacity_and_hasher(steps, DigestBuild::default()),
        }
    }

    /// Resolves the next use of `id`.
    pub fn next(&mut self, id: &str) -> ResolvedStepId {
        let (hashed, index) = self.next_hashed(id);
        ResolvedStepId {
            id: id.to_string(),
            index,
            hashed: hashed.to_string(),
        }
    }

    /// [`StepIdCounter::next`] without copying `id`: the hash and the repeat index.
    pub fn next_hashed(&mut self, id: &str) -> (HashedId, Option<u32>) {
        let base: Digest20 = Sha1::digest(id.as_bytes()).into();
        // Only repeats are counted: a second use finds its first hash taken and moves on, which
        // gives the same id as counting from one would.
        let mut count = self.seen.get(&base).copied().unwrap_or(0);
        loop {
            let index = (count > 0).then_some(count);
            let digest: Digest20 = match index {
                None => base,
                Some(n) => Sha1::digest(format!("{id}:{n}").as_bytes()).into(),
            };
            count += 1;
            if self.taken.insert(digest) {
                if count > 1 {
                    self.seen.insert(base, count);
                }
                return (HashedId::of(&digest), index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_from_the_protocol_digest() {
        assert_eq!(
            hash("my-step-id:1"),
            "f47c6228c581af870aa285200cf95ec3ac59bb6a"
        );
        assert_eq!(
            hash("first step"),
            "98bf98df193bcce7c33e6bc50927cf2ac21206cb"
        );
        assert_eq!(hash("sleep"), "c3ca5f787365eae0dea86250e27d476406956478");
        assert_eq!(hash("complete"), "0737c22d3bfae812339732d14d8c7dbd6dc4e09c");
    }

    #[test]
    fn repeats_are_suffixed_and_skip_taken_hashes() {
        let mut ids = StepIdCounter::default();
        // A user step literally named "a:1" takes that hash first...
        assert_eq!(ids.next("a:1").hashed, hash("a:1"));
        assert_eq!(ids.next("a").hashed, hash("a"));
        // ...so the first repeat of "a" skips to "a:2".
        let second = ids.next("a");
        assert_eq!(second.hashed, hash("a:2"));
        assert_eq!(second.index, Some(2));
    }
}
