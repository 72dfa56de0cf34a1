//! The memoized steps of one request, by hashed id.
//!
//! A request names a handful of steps, so they are kept in a short list and looked up by
//! comparing ids; past [`FEW`] they move into a hash map (std's keyed SipHash: the keys come
//! from the request, so no body can make them collide).

use std::collections::HashMap;

use crate::protocol::SharedJson;
use crate::step_id::HashedId;

/// Up to this many steps, a list is faster than a map.
const FEW: usize = 16;

/// Memoized step values by hashed id; each is taken once, when its step replays.
#[derive(Debug, Default)]
pub(crate) struct MemoTable(Entries);

#[derive(Debug)]
enum Entries {
    Few(Vec<(HashedId, SharedJson)>),
    Many(HashMap<HashedId, SharedJson>),
}

impl Default for Entries {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl MemoTable {
    /// Room for `n` steps.
    pub fn with_capacity(n: usize) -> Self {
        if n <= FEW {
            Self(Entries::Few(Vec::with_capacity(n)))
        } else {
            Self(Entries::Many(HashMap::with_capacity(n)))
        }
    }

    /// Sets the value of `id`; a repeated id keeps its last value, as a JSON object would.
    pub fn insert(&mut self, id: HashedId, value: SharedJson) {
        match &mut self.0 {
            Entries::Few(list) => {
                if let Some(slot) = list.iter_mut().find(|(k, _)| *k == id) {
                    slot.1 = value;
                } else if list.len() < FEW {
                    list.push((id, value));
                } else {
                    let mut map: HashMap<_, _> = std::mem::take(list).into_iter().collect();
                    map.insert(id, value);
                    self.0 = Entries::Many(map);
                }
            }
            Entries::Many(map) => {
                map.insert(id, value);
            }
        }
    }

    /// Takes the value of `id`, if any.
    pub fn take(&mut self, id: &HashedId) -> Option<SharedJson> {
        match &mut self.0 {
            Entries::Few(list) => {
                let at = list.iter().position(|(k, _)| k == id)?;
                Some(list.swap_remove(at).1)
            }
            Entries::Many(map) => map.remove(id),
        }
    }

    /// How many values are left.
    pub fn len(&self) -> usize {
        match &self.0 {
            Entries::Few(list) => list.len(),
            Entries::Many(map) => map.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JsonRepr;

    fn id(n: usize) -> HashedId {
        HashedId::parse(&crate::step_id::hash(&n.to_string())).expect("a hashed id")
    }

    fn value(n: usize) -> SharedJson {
        serde_json::from_str(&n.to_string()).expect("json")
    }

    #[test]
    fn values_are_found_replaced_and_taken_once_however_many() {
        for n in [3, FEW, FEW + 1, 100] {
            let mut memo = MemoTable::with_capacity(2);
            for i in 0..n {
                memo.insert(id(i), value(i));
            }
            memo.insert(id(1), value(1000));
            assert_eq!(memo.len(), n, "{n} steps");
            let taken = memo
                .take(&id(1))
                .map(|v| v.decode::<usize>().expect("number"));
            assert_eq!(taken, Some(1000), "the last value of a repeated id");
            assert!(memo.take(&id(1)).is_none(), "taken once");
            for i in (0..n).filter(|&i| i != 1) {
                let v = memo
                    .take(&id(i))
                    .map(|v| v.decode::<usize>().expect("number"));
                assert_eq!(v, Some(i), "{n} steps, step {i}");
            }
            assert_eq!(memo.len(), 0);
        }
    }
}
