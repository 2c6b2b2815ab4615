//! Multitask sampling: each draw picks a task in proportion to its integer weight (ParlAI's
//! `--multitask-weights 5,1,1`), then that task's next example in a seeded shuffled order.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Draws `(task, example)` index pairs.
#[derive(Debug, Clone)]
pub struct MultitaskSampler {
    cumulative: Vec<u64>,
    orders: Vec<Vec<usize>>,
    cursors: Vec<usize>,
    passes: Vec<usize>,
    draws: u64,
    rng: StdRng,
}

impl MultitaskSampler {
    /// `sizes[i]` examples in task i, drawn with weight `weights[i]`. Empty tasks and zero
    /// weights are never drawn; at least one task must be drawable.
    pub fn new(sizes: &[usize], weights: &[u32], seed: u64) -> Result<Self, String> {
        if sizes.len() != weights.len() {
            return Err(format!("{} tasks but {} multitask weights", sizes.len(), weights.len()));
        }
        let mut acc = 0u64;
        let cumulative = sizes
            .iter()
            .zip(weights)
            .map(|(&n, &w)| {
                acc += if n > 0 { w as u64 } else { 0 };
                acc
            })
            .collect();
        if acc == 0 {
            return Err("no task has both examples and a positive weight".into());
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let orders = sizes
            .iter()
            .map(|&n| {
                let mut o: Vec<usize> = (0..n).collect();
                o.shuffle(&mut rng);
                o
            })
            .collect();
        Ok(Self {
            cumulative,
            orders,
            cursors: vec![0; sizes.len()],
            passes: vec![0; sizes.len()],
            draws: 0,
            rng,
        })
    }

    /// The next draw.
    pub fn next_pair(&mut self) -> (usize, usize) {
        let total = *self.cumulative.last().expect("at least one task");
        let r = self.rng.random_range(0..total);
        let task = self.cumulative.partition_point(|&c| c <= r);
        if self.cursors[task] == self.orders[task].len() {
            self.orders[task].shuffle(&mut self.rng);
            self.cursors[task] = 0;
            self.passes[task] += 1;
        }
        let ex = self.orders[task][self.cursors[task]];
        self.cursors[task] += 1;
        self.draws += 1;
        (task, ex)
    }

    /// How many draws have been made since construction.
    pub fn draws(&self) -> u64 {
        self.draws
    }

    /// Advances past `n` draws, as if [`MultitaskSampler::next_pair`] had been called `n` times:
    /// with the same sizes, weights and seed, `skip(n)` restores a sampler that had made `n`
    /// draws exactly (how training resumes from a checkpoint).
    pub fn skip(&mut self, n: u64) {
        for _ in 0..n {
            self.next_pair();
        }
    }

    /// How many full passes each task has completed.
    pub fn passes(&self) -> &[usize] {
        &self.passes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_follow_weights_within_two_percent() {
        let weights = [5u32, 1, 1, 1, 1, 1];
        let mut s = MultitaskSampler::new(&[100, 7, 50, 3, 1000, 20], &weights, 9).unwrap();
        let mut counts = [0usize; 6];
        let n = 10_000;
        for _ in 0..n {
            counts[s.next_pair().0] += 1;
        }
        for (i, &w) in weights.iter().enumerate() {
            let want = w as f64 / 10.0;
            let got = counts[i] as f64 / n as f64;
            assert!((got - want).abs() < 0.02, "task {i}: {got} vs {want}");
        }
    }

    #[test]
    fn every_example_is_seen_once_per_pass() {
        let mut s = MultitaskSampler::new(&[5], &[1], 1).unwrap();
        let mut seen: Vec<usize> = (0..5).map(|_| s.next_pair().1).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        s.next_pair();
        assert_eq!(s.passes(), &[1]);
    }

    #[test]
    fn skip_restores_the_same_stream() {
        let mut a = MultitaskSampler::new(&[7, 3, 11], &[2, 1, 1], 5).unwrap();
        let mut b = a.clone();
        for _ in 0..40 {
            a.next_pair();
        }
        b.skip(40);
        assert_eq!(b.draws(), 40);
        let rest_a: Vec<_> = (0..50).map(|_| a.next_pair()).collect();
        let rest_b: Vec<_> = (0..50).map(|_| b.next_pair()).collect();
        assert_eq!(rest_a, rest_b);
    }

    #[test]
    fn bad_weights_are_errors() {
        assert!(MultitaskSampler::new(&[1, 2], &[1], 0).unwrap_err().contains("2 tasks but 1"));
        assert!(MultitaskSampler::new(&[0, 2], &[1, 0], 0).is_err());
    }
}
