//! Choosing the next tokens of a search step: beam expansion, greedy, top-k and nucleus
//! sampling (ParlAI `BeamSearch`, `GreedySearch`, `TopKSampling`, `NucleusSampling`).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The decoding method (ParlAI `--inference`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "method")]
pub enum Inference {
    /// Beam search over `beam_size` hypotheses.
    Beam,
    /// The most likely token at each step (one hypothesis).
    Greedy,
    /// Sample among the `k` most likely tokens.
    Topk {
        /// How many tokens to sample among.
        k: usize,
    },
    /// Sample among the smallest set of tokens whose probability reaches `p`.
    Nucleus {
        /// Probability mass kept.
        p: f64,
    },
}

/// One chosen continuation: which hypothesis it extends, with which token, and its new score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index of the hypothesis it continues.
    pub hyp: usize,
    /// The new token.
    pub token: u32,
    /// Cumulative log-probability after the token.
    pub score: f64,
}

/// Beam expansion: the `beam` best (hypothesis, token) pairs by cumulative score, given each
/// hypothesis's own best `beam` candidates as (token, log-prob). On the first step only
/// hypothesis 0 is expanded (all hypotheses are still identical).
pub fn select_beam(
    candidates: &[Vec<(u32, f32)>],
    prior: &[f64],
    beam: usize,
    first_step: bool,
) -> Vec<Choice> {
    let hyps = if first_step { 1 } else { candidates.len() };
    let mut cands: Vec<Choice> = Vec::with_capacity(hyps * beam);
    for h in 0..hyps {
        for &(tok, lp) in &candidates[h] {
            cands.push(Choice { hyp: h, token: tok, score: prior[h] + lp as f64 });
        }
    }
    cands.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.hyp.cmp(&b.hyp)).then(a.token.cmp(&b.token))
    });
    cands.truncate(beam);
    cands
}

/// The `n` largest entries of `row` as (index, value), best first; ties go to the lower index.
pub fn top_n(row: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    for (i, &v) in row.iter().enumerate() {
        #[expect(clippy::neg_cmp_op_on_partial_ord, reason = "not-greater also skips NaN")]
        if best.len() == n && !(v > best[n - 1].1) {
            continue;
        }
        let pos = best.partition_point(|&(_, b)| b >= v);
        best.insert(pos, (i as u32, v));
        if best.len() > n {
            best.pop();
        }
    }
    best
}

/// Per-hypothesis choice for greedy and sampling methods.
pub fn select_each<R: Rng>(
    logprobs: &[Vec<f32>],
    prior: &[f64],
    method: Inference,
    rng: &mut R,
) -> Vec<Choice> {
    logprobs
        .iter()
        .enumerate()
        .map(|(h, lp)| {
            let (token, value) = match method {
                Inference::Greedy | Inference::Beam => top_n(lp, 1)[0],
                Inference::Topk { k } => sample(&top_n(lp, k.max(1)), 1.0, rng),
                Inference::Nucleus { p } => {
                    let sorted = top_n(lp, lp.len());
                    sample(&sorted, p, rng)
                }
            };
            Choice { hyp: h, token, score: prior[h] + value as f64 }
        })
        .collect()
}

/// Samples from sorted (token, log-prob) pairs, keeping the smallest prefix whose probability
/// mass reaches `p` (p = 1 keeps them all), renormalised.
fn sample<R: Rng>(sorted: &[(u32, f32)], p: f64, rng: &mut R) -> (u32, f32) {
    let max = sorted[0].1 as f64;
    let weights: Vec<f64> = sorted.iter().map(|&(_, lp)| (lp as f64 - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    // ParlAI: drop a token when the mass before it already reaches p
    let mut kept = 0.0;
    let mut n = 0;
    for w in &weights {
        if n > 0 && kept / total >= p {
            break;
        }
        kept += w;
        n += 1;
    }
    let mut r = rng.random::<f64>() * kept;
    for (i, w) in weights[..n].iter().enumerate() {
        if r < *w {
            return sorted[i];
        }
        r -= w;
    }
    sorted[n - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn top_n_orders_and_breaks_ties_by_index() {
        assert_eq!(top_n(&[0.1, 0.5, 0.5, -1.0, 0.7], 3), vec![(4, 0.7), (1, 0.5), (2, 0.5)]);
        assert_eq!(top_n(&[1.0], 3), vec![(0, 1.0)]);
    }

    #[test]
    fn beam_first_step_expands_one_hypothesis() {
        let lp = [vec![-1.0f32, -2.0, -0.5], vec![-0.1, -0.1, -0.1]];
        let cands: Vec<Vec<(u32, f32)>> = lp.iter().map(|r| top_n(r, 2)).collect();
        let c = select_beam(&cands, &[0.0, 0.0], 2, true);
        assert!(c.iter().all(|c| c.hyp == 0));
        assert_eq!(c.iter().map(|c| c.token).collect::<Vec<_>>(), vec![2, 0]);
        let c = select_beam(&cands, &[0.0, -5.0], 2, false);
        assert_eq!((c[0].hyp, c[0].token), (0, 2));
    }

    #[test]
    fn nucleus_keeps_the_smallest_prefix_reaching_p() {
        let lp: Vec<f32> = [0.6f64, 0.3, 0.1].iter().map(|p| p.ln() as f32).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut counts = [0; 3];
        for _ in 0..3000 {
            let c = select_each(
                std::slice::from_ref(&lp),
                &[0.0],
                Inference::Nucleus { p: 0.8 },
                &mut rng,
            );
            counts[c[0].token as usize] += 1;
        }
        assert_eq!(counts[2], 0, "the 0.1 token is outside the 0.8 nucleus");
        let frac = counts[0] as f64 / 3000.0;
        assert!((frac - 2.0 / 3.0).abs() < 0.04, "{frac}");
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[select_each(
                std::slice::from_ref(&lp),
                &[0.0],
                Inference::Topk { k: 2 },
                &mut rng,
            )[0]
            .token as usize] += 1;
        }
        assert_eq!(counts[2], 0);
    }
}
