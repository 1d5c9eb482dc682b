//! Which samples each rank trains on: every epoch a seeded shuffle shared
//! by all ranks, each global batch of it split into one contiguous part
//! per rank.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// Shards each epoch's seeded shuffle of `0..len` across ranks, batch by
/// batch: global batch `k` is `perm[k·G .. (k+1)·G]` (the last one
/// shorter), and rank `r` takes the `r`-th of `world` near-equal
/// contiguous parts of it (the first `G mod world` parts one longer). So
/// the ranks' parts are disjoint and together cover the epoch exactly
/// once — no sample dropped, none repeated (PyTorch's `DistributedSampler`
/// pads with repeats instead) — and a step on all ranks sees exactly the
/// samples one process with batch `G` would.
///
/// ```
/// use mnemon_distributed::DistributedSampler;
/// let parts: Vec<Vec<Vec<usize>>> =
///     (0..3).map(|r| DistributedSampler::new(10, 3, r, 7).batches(0, 4)).collect();
/// // global batches of 4, 4, 2: rank 2 gets 1, 1 and 0 samples of them
/// assert_eq!(parts[2].iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 0]);
/// let mut all: Vec<usize> = parts.concat().concat();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
pub struct DistributedSampler {
    len: usize,
    world: usize,
    rank: usize,
    seed: u64,
}

impl DistributedSampler {
    /// A sampler over `len` samples for `rank` of `world` ranks.
    ///
    /// # Panics
    /// When `world` is 0 or `rank ≥ world`.
    #[track_caller]
    pub fn new(len: usize, world: usize, rank: usize, seed: u64) -> Self {
        assert!(
            rank < world,
            "DistributedSampler: rank {rank} is not below the world size {world}, called at {}",
            std::panic::Location::caller()
        );
        DistributedSampler {
            len,
            world,
            rank,
            seed,
        }
    }

    /// The whole epoch's order, the same on every rank (seed + epoch).
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut perm: Vec<usize> = (0..self.len).collect();
        let mut rng = StdRng::seed_from_u64(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        perm.shuffle(&mut rng);
        perm
    }

    /// This rank's part of each global batch of `global_batch` samples in
    /// `epoch` (a part may be empty when the last batch has fewer samples
    /// than there are ranks).
    ///
    /// # Panics
    /// When `global_batch` is 0.
    #[track_caller]
    pub fn batches(&self, epoch: u64, global_batch: usize) -> Vec<Vec<usize>> {
        assert!(
            global_batch > 0,
            "DistributedSampler::batches: a batch of 0 samples, called at {}",
            std::panic::Location::caller()
        );
        self.epoch_order(epoch)
            .chunks(global_batch)
            .map(|batch| batch[self.part(batch.len())].to_vec())
            .collect()
    }

    /// The range of a global batch of `n` samples that is this rank's.
    fn part(&self, n: usize) -> std::ops::Range<usize> {
        let (base, extra) = (n / self.world, n % self.world);
        let start = self.rank * base + self.rank.min(extra);
        start..start + base + usize::from(self.rank < extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_epoch_exactly_once() {
        for (len, world, g) in [
            (10, 3, 4),
            (1797, 2, 64),
            (7, 4, 2),
            (5, 1, 5),
            (0, 2, 3),
            (9, 5, 3),
        ] {
            for epoch in 0..3 {
                let parts: Vec<Vec<Vec<usize>>> = (0..world)
                    .map(|r| DistributedSampler::new(len, world, r, 1).batches(epoch, g))
                    .collect();
                let order = DistributedSampler::new(len, 1, 0, 1).epoch_order(epoch);
                // batch k of all ranks, in rank order, is the k-th slice of the order
                for (k, want) in order.chunks(g).enumerate() {
                    let got: Vec<usize> = (0..world).flat_map(|r| parts[r][k].clone()).collect();
                    assert_eq!(got, want, "len {len} world {world} batch {k}");
                    let sizes: Vec<usize> = (0..world).map(|r| parts[r][k].len()).collect();
                    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
                }
            }
        }
        // epochs differ, seeds differ
        let s = DistributedSampler::new(100, 1, 0, 1);
        assert_ne!(s.epoch_order(0), s.epoch_order(1));
        assert_ne!(
            s.epoch_order(0),
            DistributedSampler::new(100, 1, 0, 2).epoch_order(0)
        );
    }
}
