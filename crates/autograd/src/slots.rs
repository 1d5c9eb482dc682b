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
    /// The slot whose value was taken last, to be reused first ([`NONE`]
    /// if none): in a chain it is the only one, and `free` is never
    /// allocated (W4: one allocation a step fewer).
    hot: u32,
    /// Further slots whose value was taken, to be reused.
    free: Vec<u32>,
}

/// The slots reserved at the start: a chain needs one or two, a small
/// model's training step one per gradient it returns. Grown from empty,
/// W4's list was allocated twice a step (4 slots, then 8).
const RESERVED: usize = 8;

impl<V> Slots<V> {
    /// An empty map for node ids `0..n`.
    pub fn new(n: usize) -> Self {
        Slots {
            index: vec![NONE; n],
            values: Vec::with_capacity(RESERVED),
            hot: NONE,
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
        if self.hot == NONE {
            self.hot = s;
        } else {
            self.free.push(s);
        }
        self.values[s as usize].take()
    }

    /// The entry for `id`, created empty when there is none.
    pub fn entry(&mut self, id: NodeId) -> &mut Option<V> {
        if self.index[id] == NONE {
            let hot = std::mem::replace(&mut self.hot, NONE);
            let s = match (hot != NONE).then_some(hot).or_else(|| self.free.pop()) {
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
            hot: self.hot,
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

    #[test]
    fn several_freed_slots_are_all_reused_and_never_shared() {
        let mut s = Slots::new(8);
        for id in 0..4 {
            s.insert(id, id * 10);
        }
        // four freed (one kept as `hot`, three in the list), four refilled
        for id in 0..4 {
            assert_eq!(s.take(id), Some(id * 10));
        }
        for id in 4..8 {
            s.insert(id, id * 10);
        }
        assert_eq!(s.values.len(), 4, "no slot added while freed ones wait");
        assert!((0..4).all(|id| s.get(id).is_none()));
        assert!(
            (4..8).all(|id| s.get(id) == Some(&(id * 10))),
            "each value in a slot of its own"
        );
        s.insert(0, 1);
        assert_eq!(s.values.len(), 5);
    }
}
