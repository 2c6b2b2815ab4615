//! Batched tree search with ParlAI `TreeSearch` semantics: min/max length, n-gram blocking on
//! the hypothesis and the context, finished hypotheses, the length penalty and n-best lists.

use super::blocking::{NgramIndex, blocked_next_tokens};
use super::scorer::NextTokenScorer;
use super::select::{Choice, Inference, select_beam, select_each};
use crate::error::{CoreError, Result};
use crate::mask::NEG_INF;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// Decoding settings, named after ParlAI's flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Beam search, greedy, top-k or nucleus sampling (`--inference`).
    pub inference: Inference,
    /// Hypotheses per context (`--beam-size`).
    pub beam_size: usize,
    /// The end token is forbidden before this many tokens (`--beam-min-length`).
    pub min_length: usize,
    /// At most this many tokens are generated, end token included.
    pub max_length: usize,
    /// Final score = log-prob / ((1 + length) / 6) ^ length_penalty (`--beam-length-penalty`).
    pub length_penalty: f64,
    /// A hypothesis never repeats one of its own n-grams of this size (0 = off; `--beam-block-ngram`).
    pub block_ngram: usize,
    /// A hypothesis never produces an n-gram of the context (0 = off; `--beam-context-block-ngram`).
    pub context_block_ngram: usize,
    /// Logits are divided by this before the softmax (`--temperature`).
    pub temperature: f64,
    /// Seed of the sampling methods.
    pub seed: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            inference: Inference::Greedy,
            beam_size: 1,
            min_length: 1,
            max_length: 128,
            length_penalty: 0.65,
            block_ngram: 0,
            context_block_ngram: 0,
            temperature: 1.0,
            seed: 0,
        }
    }
}

impl SearchConfig {
    /// The seed's evaluation settings: beam 10, min length 20, 3-gram blocking on the
    /// hypothesis and the context.
    pub fn seed_beam() -> Self {
        Self {
            inference: Inference::Beam,
            beam_size: 10,
            min_length: 20,
            block_ngram: 3,
            context_block_ngram: 3,
            ..Self::default()
        }
    }

    /// Checks the settings; errors name the command-line flag of each field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(CoreError::Config(m));
        if self.beam_size == 0 {
            return bad("--beam-size must be at least 1".into());
        }
        if self.max_length == 0 {
            return bad("--label-truncate (the longest response) must be at least 1 token".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!(
                "--temperature must be a positive number, got {}",
                self.temperature
            ));
        }
        if !self.length_penalty.is_finite() {
            return bad(format!(
                "--beam-length-penalty must be a finite number, got {}",
                self.length_penalty
            ));
        }
        match self.inference {
            Inference::Topk { k: 0 } => bad("--topk must be at least 1".into()),
            Inference::Nucleus { p } if !(p > 0.0 && p <= 1.0) => {
                bad(format!("--topp must be in (0, 1], got {p}"))
            }
            _ => Ok(()),
        }
    }
}

/// A finished (or, failing that, final) hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// Generated tokens, without the start token, ending with the end token if it finished.
    pub tokens: Vec<u32>,
    /// Sum of token log-probabilities.
    pub logprob: f64,
    /// Length-penalised score used for ranking.
    pub score: f64,
}

/// The result for one context: its n-best list, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Up to `beam_size` hypotheses, best first.
    pub n_best: Vec<Hypothesis>,
}

impl SearchResult {
    /// The best hypothesis.
    pub fn best(&self) -> &Hypothesis {
        &self.n_best[0]
    }
}

/// Scores at or below ParlAI's fp32 `neginf` (-1e20) belong to impossible hypotheses (blocked
/// tokens, or the masked start token), which never count as finished.
const DEAD: f64 = NEG_INF as f64;

struct Finished {
    tokens: Vec<u32>,
    logprob: f64,
}

/// Search state of one context (ParlAI's `TreeSearch` object).
struct Tree {
    hyps: Vec<Vec<u32>>, // each starts with the start token
    scores: Vec<f64>,
    finished: Vec<Finished>,
    eos_top: bool,
    context_index: NgramIndex,
    rng: StdRng,
}

impl Tree {
    fn new(context: &[u32], start_id: u32, beam: usize, c: usize, cfg: &SearchConfig) -> Self {
        Tree {
            hyps: vec![vec![start_id]; beam],
            scores: vec![0.0; beam],
            finished: Vec::new(),
            eos_top: false,
            context_index: NgramIndex::new(context, cfg.context_block_ngram),
            rng: StdRng::seed_from_u64(cfg.seed.wrapping_add(c as u64)),
        }
    }

    fn done(&self, beam: usize) -> bool {
        self.eos_top && self.finished.len() >= beam
    }

    /// The next step's choices for this context's hypotheses from their logit `rows`: the
    /// beam's best allowed continuations, or one sample (or arg-max) per hypothesis.
    fn choose(
        &mut self,
        rows: &[&[f32]],
        step: usize,
        end_ids: &[u32],
        cfg: &SearchConfig,
    ) -> Vec<Choice> {
        let beam = rows.len();
        let banned: Vec<Option<Vec<u32>>> =
            (0..beam).map(|h| banned_tokens(self, h, step, end_ids, cfg)).collect();
        match cfg.inference {
            Inference::Beam => {
                let cands: Vec<Vec<(u32, f32)>> = rows
                    .iter()
                    .zip(&banned)
                    .map(|(row, ban)| best_allowed(row, ban.as_deref(), beam, cfg.temperature))
                    .collect();
                select_beam(&cands, &self.scores, beam, step == 0)
            }
            other => {
                let lp: Vec<Vec<f32>> = rows
                    .iter()
                    .zip(&banned)
                    .map(|(row, ban)| allowed_log_probs(row, ban.as_deref(), cfg.temperature))
                    .collect();
                select_each(&lp, &self.scores, other, &mut self.rng)
            }
        }
    }

    /// Extends the hypotheses by `choices` (recording those that end), and returns the scorer
    /// rows (offset by `base`, this context's first row) the new hypotheses continue.
    fn advance(&mut self, choices: &[Choice], base: usize, end_ids: &[u32]) -> Vec<usize> {
        let beam = self.hyps.len();
        let mut hyps = Vec::with_capacity(beam);
        let mut scores = Vec::with_capacity(beam);
        let mut rows = Vec::with_capacity(beam);
        for i in 0..beam {
            // fewer candidates than the beam (tiny vocabularies): repeat the last one at -inf
            let ch = choices
                .get(i)
                .copied()
                .unwrap_or(Choice { score: f64::NEG_INFINITY, ..choices[choices.len() - 1] });
            let mut h = self.hyps[ch.hyp].clone();
            h.push(ch.token);
            if end_ids.contains(&ch.token) && ch.score > DEAD && i < choices.len() {
                self.finished.push(Finished { tokens: h[1..].to_vec(), logprob: ch.score });
            }
            rows.push(base + ch.hyp);
            hyps.push(h);
            scores.push(ch.score);
        }
        if hyps[0].last().is_some_and(|t| end_ids.contains(t)) {
            self.eos_top = true;
        }
        self.hyps = hyps;
        self.scores = scores;
        rows
    }
}

/// A row's log-probabilities at `temperature` with the banned tokens at −∞ (all of them when
/// `ban` is `None`: the hypothesis has finished).
fn allowed_log_probs(row: &[f32], ban: Option<&[u32]>, temperature: f64) -> Vec<f32> {
    let mut lp = log_softmax(row, temperature);
    match ban {
        None => lp.iter_mut().for_each(|x| *x = f32::NEG_INFINITY),
        Some(ban) => ban.iter().for_each(|&t| lp[t as usize] = f32::NEG_INFINITY),
    }
    lp
}

/// The scorer's logits for `rows` rows of `v`: the right number, none NaN or +∞.
fn check_logits(logits: &[f32], rows: usize, v: usize, step: usize) -> Result<()> {
    if logits.len() != rows * v {
        return Err(CoreError::Invalid(format!(
            "scorer returned {} logits for {rows} rows of {v}",
            logits.len()
        )));
    }
    if let Some(i) = logits.iter().position(|x| x.is_nan() || *x == f32::INFINITY) {
        return Err(CoreError::Invalid(format!(
            "the model produced a non-finite logit ({}) at step {step}, row {}, token {}",
            logits[i],
            i / v,
            i % v
        )));
    }
    Ok(())
}

/// Runs the search. `contexts[c]` is the token sequence used for context blocking of context c
/// (the untruncated history plus end token with ParlAI's `--beam-block-full-context`, else the
/// model's truncated input); the scorer holds `contexts.len() * beam_size` rows, context-major,
/// and the rows of a context whose search is done are dropped from it (a [`NextTokenScorer::
/// reorder`] to fewer rows), so the batch shrinks as contexts finish.
pub fn search(
    scorer: &mut dyn NextTokenScorer,
    contexts: &[Vec<u32>],
    start_id: u32,
    end_id: u32,
    cfg: &SearchConfig,
) -> Result<Vec<SearchResult>> {
    search_until(scorer, contexts, start_id, &[end_id], cfg)
}

/// [`search`] with several end tokens (a chat model's `eos_token_id` list): a hypothesis
/// finishes at any of them.
pub fn search_until(
    scorer: &mut dyn NextTokenScorer,
    contexts: &[Vec<u32>],
    start_id: u32,
    end_ids: &[u32],
    cfg: &SearchConfig,
) -> Result<Vec<SearchResult>> {
    cfg.validate()?;
    let beam = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
    let v = scorer.vocab_size();
    let mut trees: Vec<Tree> = contexts
        .iter()
        .enumerate()
        .map(|(c, ctx)| Tree::new(ctx, start_id, beam, c, cfg))
        .collect();
    // The contexts whose rows the scorer still holds, in row order: a context leaves the batch
    // once its search is done, so later steps score only the rows still searching.
    let mut live: Vec<usize> = (0..trees.len()).collect();
    for step in 0..cfg.max_length {
        if live.is_empty() {
            break;
        }
        let last: Vec<u32> =
            live.iter().flat_map(|&c| trees[c].hyps.iter().map(|h| *h.last().unwrap())).collect();
        let logits = scorer.step(&last)?;
        check_logits(&logits, last.len(), v, step)?;
        let mut reorder = Vec::with_capacity(last.len());
        let mut still_live = Vec::with_capacity(live.len());
        for (slot, &c) in live.iter().enumerate() {
            let tree = &mut trees[c];
            let base = slot * beam;
            let rows: Vec<&[f32]> =
                (0..beam).map(|h| &logits[(base + h) * v..(base + h + 1) * v]).collect();
            let choices = tree.choose(&rows, step, end_ids, cfg);
            let continued = tree.advance(&choices, base, end_ids);
            if !tree.done(beam) {
                reorder.extend(continued);
                still_live.push(c);
            }
        }
        live = still_live;
        if live.is_empty() {
            break;
        }
        if reorder.len() < last.len() || reorder.iter().enumerate().any(|(i, &r)| i != r) {
            scorer.reorder(&reorder);
        }
    }
    Ok(trees.into_iter().map(|t| finish(t, beam, cfg.length_penalty)).collect())
}

/// ParlAI's per-step rules for hypothesis `h`: no end before `min_length`, n-gram blocking on
/// the hypothesis and the context. `None` when the hypothesis already finished (every
/// continuation is impossible).
fn banned_tokens(
    tree: &Tree,
    h: usize,
    step: usize,
    end_ids: &[u32],
    cfg: &SearchConfig,
) -> Option<Vec<u32>> {
    let hyp = &tree.hyps[h];
    if step > 0 && hyp.last().is_some_and(|t| end_ids.contains(t)) {
        return None;
    }
    let mut ban = Vec::new();
    if step < cfg.min_length {
        ban.extend_from_slice(end_ids);
    }
    if cfg.block_ngram > 0 {
        ban.extend(blocked_next_tokens(hyp, hyp, cfg.block_ngram));
    }
    ban.extend_from_slice(tree.context_index.blocked(hyp));
    Some(ban)
}

/// The `n` best allowed tokens of a row of logits as (token, log-prob at `temperature`), without
/// materialising the whole log-softmax. A finished hypothesis (`banned == None`) has none.
fn best_allowed(
    row: &[f32],
    banned: Option<&[u32]>,
    n: usize,
    temperature: f64,
) -> Vec<(u32, f32)> {
    let Some(banned) = banned else { return Vec::new() };
    let lse = log_sum_exp(row, temperature);
    let t = temperature as f32;
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    for (i, &x) in row.iter().enumerate() {
        #[expect(clippy::neg_cmp_op_on_partial_ord, reason = "not-greater also skips NaN")]
        if best.len() == n && !(x > best[n - 1].1) {
            continue;
        }
        if banned.contains(&(i as u32)) {
            continue;
        }
        let pos = best.partition_point(|&(_, b)| b >= x);
        best.insert(pos, (i as u32, x));
        best.truncate(n);
    }
    best.into_iter().map(|(i, x)| (i, x / t - lse)).collect()
}

/// log Σ exp(x / temperature), with the maximum factored out.
fn log_sum_exp(x: &[f32], temperature: f64) -> f32 {
    let t = temperature as f32;
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) / t;
    max + x.iter().map(|&v| (v / t - max).exp()).sum::<f32>().ln()
}

fn finish(tree: Tree, beam: usize, length_penalty: f64) -> SearchResult {
    let mut finished = tree.finished;
    if finished.is_empty() {
        // max length reached without any end token: the live hypotheses count as finished
        for (h, s) in tree.hyps.iter().zip(&tree.scores) {
            finished.push(Finished { tokens: h[1..].to_vec(), logprob: *s });
        }
    }
    let mut n_best: Vec<Hypothesis> = finished
        .into_iter()
        .map(|f| {
            let penalty = ((1.0 + f.tokens.len() as f64) / 6.0).powf(length_penalty);
            Hypothesis { score: f.logprob / penalty, logprob: f.logprob, tokens: f.tokens }
        })
        .collect();
    n_best.sort_by(|a, b| b.score.total_cmp(&a.score));
    n_best.truncate(beam);
    SearchResult { n_best }
}

/// log_softmax(x / temperature).
pub(crate) fn log_softmax(x: &[f32], temperature: f64) -> Vec<f32> {
    let t = temperature as f32;
    let lse = log_sum_exp(x, temperature);
    x.iter().map(|&v| v / t - lse).collect()
}
