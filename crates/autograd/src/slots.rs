//! Gradient slots of one reverse sweep.
//!
//! A dense `Vec<Option<gradient>>` with one entry per node costs ~100 bytes
//! a node, written (and page-faulted in) on every backward pass: measured on
//! W2 (30,000 nodes) it was a tenth of the time. Here each node costs a
//! 4-byte index, and the gradients themselves sit in a few slots that are
//! reused as gradients flow on: a chain needs one or two at any time.

use crate::tape::NodeId;

/// No slot.
const NONE: u32 = u32::MAX;

/// A map from node id (below a bound fixed at creation) to a value.
pub(crate) struct Slots<V> {
    index: Vec<u32>,
    values: Vec<Option<V>>,
    free: Vec<u32>,
}

impl<V> Slots<V> {
    /// An empty map for node ids `0..n`.
    pub fn new(n: usize) -> Self {
        Slots {
            index: vec![NONE; n],
            values: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The value stored for `id`, if any.
    pub fn get(&self, id: NodeId) -> Option<&V> {
        match self.index.get(id) {
            Some(&s) if s != NONE => self.values[s as usize].as_ref(),
            _ => None,
        }
    }

    /// Removes and returns the value stored for `id`.
    pub fn take(&mut self, id: NodeId) -> Option<V> {
        let s = std::mem::replace(&mut self.index[id], NONE);
        if s == NONE {
            return None;
        }
        self.free.push(s);
        self.values[s as usize].take()
    }

    /// The entry for `id`, created empty when there is none.
    pub fn entry(&mut self, id: NodeId) -> &mut Option<V> {
        if self.index[id] == NONE {
            let s = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.values.push(None);
                    u32::try_from(self.values.len() - 1).expect("fewer than 2^32 live gradients")
                }
            };
            self.index[id] = s;
        }
        &mut self.values[self.index[id] as usize]
    }

    /// Stores `v` for `id`, replacing what was there.
    pub fn insert(&mut self, id: NodeId, v: V) {
        *self.entry(id) = Some(v);
    }

    /// The same map with every value passed through `f`.
    pub fn map<W>(self, mut f: impl FnMut(V) -> W) -> Slots<W> {
        Slots {
            index: self.index,
            values: self.values.into_iter().map(|v| v.map(&mut f)).collect(),
            free: self.free,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_values_found_by_id() {
        let mut s = Slots::new(10);
        s.insert(9, "a");
        assert_eq!(s.take(9), Some("a"));
        s.insert(3, "b");
        *s.entry(3) = Some("c");
        s.insert(5, "d");
        assert_eq!(s.values.len(), 2, "the freed slot was reused");
        assert_eq!(
            (s.get(3), s.get(5), s.get(9)),
            (Some(&"c"), Some(&"d"), None)
        );
        assert_eq!(s.get(100), None);
        let m = s.map(|v| v.len());
        assert_eq!(m.get(5), Some(&1));
    }
}
