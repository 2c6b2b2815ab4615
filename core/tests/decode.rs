//! Decoding rules, one at a time, with scripted models (fixed logits per prefix), plus the real
//! generator: batching gives the same results as one context at a time.

use burn::tensor::Device;
use cringe_core::data::{Batcher, TruncationConfig};
use cringe_core::decode::{Inference, NextTokenScorer, SearchConfig, generate, search};
use cringe_core::model::{Generator, GeneratorConfig};
use cringe_core::tokenizer::CringeTokenizer;

const START: u32 = 0;
const END: u32 = 1;

/// Logits as a function of each row's prefix (which starts with the start token).
struct Scripted<F: Fn(&[u32]) -> Vec<f32>> {
    v: usize,
    rows: Vec<Vec<u32>>,
    f: F,
}

impl<F: Fn(&[u32]) -> Vec<f32>> Scripted<F> {
    fn new(v: usize, rows: usize, f: F) -> Self {
        Self { v, rows: vec![Vec::new(); rows], f }
    }
}

impl<F: Fn(&[u32]) -> Vec<f32>> NextTokenScorer for Scripted<F> {
    fn vocab_size(&self) -> usize {
        self.v
    }
    fn step(&mut self, tokens: &[u32]) -> cringe_core::Result<Vec<f32>> {
        let mut out = Vec::new();
        for (row, &t) in self.rows.iter_mut().zip(tokens) {
            row.push(t);
            let mut l = (self.f)(row);
            l[START as usize] = -1e20;
            out.extend(l);
        }
        Ok(out)
    }
    fn reorder(&mut self, rows: &[usize]) {
        self.rows = rows.iter().map(|&r| self.rows[r].clone()).collect();
    }
}

/// Context c's model says token 2 for c + 1 steps, then the end token; records how many rows
/// each step scores.
struct Staggered {
    rows: Vec<(usize, Vec<u32>)>,
    batch_sizes: Vec<usize>,
}

impl Staggered {
    fn new(contexts: usize, beam: usize) -> Self {
        Self {
            rows: (0..contexts).flat_map(|c| std::iter::repeat_n((c, Vec::new()), beam)).collect(),
            batch_sizes: Vec::new(),
        }
    }
}

impl NextTokenScorer for Staggered {
    fn vocab_size(&self) -> usize {
        4
    }
    fn step(&mut self, tokens: &[u32]) -> cringe_core::Result<Vec<f32>> {
        assert_eq!(tokens.len(), self.rows.len());
        self.batch_sizes.push(tokens.len());
        let mut out = Vec::new();
        for ((c, prefix), &t) in self.rows.iter_mut().zip(tokens) {
            prefix.push(t);
            let mut l = vec![-1e20, 0.0, 0.0, 0.0];
            l[if prefix.len() <= *c + 1 { 2 } else { END as usize }] = 5.0;
            out.extend(l);
        }
        Ok(out)
    }
    fn reorder(&mut self, rows: &[usize]) {
        self.rows = rows.iter().map(|&r| self.rows[r].clone()).collect();
    }
}

#[test]
fn finished_contexts_leave_the_batch_and_the_rest_decode_as_alone() {
    let contexts = vec![vec![]; 3];
    let greedy =
        SearchConfig { inference: Inference::Greedy, max_length: 10, ..SearchConfig::default() };
    let mut s = Staggered::new(3, 1);
    let out = search(&mut s, &contexts, START, END, &greedy).unwrap();
    for (c, r) in out.iter().enumerate() {
        assert_eq!(r.best().tokens, [vec![2; c + 1], vec![END]].concat(), "context {c}");
    }
    // context 0 ends at step 1, context 1 at step 2, context 2 at step 3
    assert_eq!(s.batch_sizes, vec![3, 3, 2, 1]);
    let cfg = beam(2);
    let mut s = Staggered::new(3, 2);
    let batched = search(&mut s, &contexts, START, END, &cfg).unwrap();
    assert!(
        s.batch_sizes.windows(2).all(|w| w[1] <= w[0])
            && s.batch_sizes.last() < s.batch_sizes.first(),
        "{:?}",
        s.batch_sizes
    );
    for (c, r) in batched.iter().enumerate() {
        let mut alone = Staggered::new(1, 2);
        alone.rows.iter_mut().for_each(|row| row.0 = c);
        let single = search(&mut alone, &[vec![]], START, END, &cfg).unwrap();
        let tokens = |x: &cringe_core::decode::SearchResult| {
            x.n_best.iter().map(|h| h.tokens.clone()).collect::<Vec<_>>()
        };
        assert_eq!(tokens(r), tokens(&single[0]), "context {c}");
    }
}

fn beam(size: usize) -> SearchConfig {
    SearchConfig {
        inference: Inference::Beam,
        beam_size: size,
        max_length: 12,
        ..SearchConfig::default()
    }
}

fn run<F: Fn(&[u32]) -> Vec<f32>>(
    v: usize,
    cfg: &SearchConfig,
    ctx: &[u32],
    f: F,
) -> Vec<Vec<u32>> {
    let rows = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
    let mut s = Scripted::new(v, rows, f);
    let r = search(&mut s, &[ctx.to_vec()], START, END, cfg).unwrap();
    r[0].n_best.iter().map(|h| h.tokens.clone()).collect()
}

fn has_repeated_ngram(seq: &[u32], n: usize) -> bool {
    let grams: Vec<&[u32]> = seq.windows(n).collect();
    (0..grams.len()).any(|i| (i + 1..grams.len()).any(|j| grams[i] == grams[j]))
}

#[test]
fn end_token_is_forbidden_before_min_length() {
    // the model always wants to stop
    let eager = |_: &[u32]| vec![0.0, 5.0, 1.0, 0.5];
    for inference in [Inference::Greedy, Inference::Beam] {
        let cfg = SearchConfig {
            inference,
            beam_size: 3,
            min_length: 5,
            max_length: 12,
            ..SearchConfig::default()
        };
        for hyp in run(4, &cfg, &[], eager) {
            assert_eq!(hyp.last(), Some(&END));
            assert!(hyp.len() >= 6, "{inference:?}: {hyp:?} ended before 5 tokens");
        }
        let cfg = SearchConfig { min_length: 0, ..cfg };
        assert_eq!(run(4, &cfg, &[], eager)[0], vec![END]);
    }
}

#[test]
fn a_hypothesis_never_repeats_its_own_trigram() {
    // the model loves the loop a b a b a b …
    let looping = |p: &[u32]| {
        let last = *p.last().unwrap();
        let mut l = vec![0.0, -3.0, 0.0, 0.0, 0.0];
        l[if last == 2 { 3 } else { 2 }] = 4.0;
        l
    };
    let free = run(5, &beam(4), &[], looping);
    assert!(
        has_repeated_ngram(&[&[START][..], &free[0]].concat(), 3),
        "without blocking it loops: {:?}",
        free[0]
    );
    let cfg = SearchConfig { block_ngram: 3, ..beam(4) };
    for hyp in run(5, &cfg, &[], looping) {
        assert!(!has_repeated_ngram(&[&[START][..], &hyp].concat(), 3), "{hyp:?}");
    }
    let greedy = SearchConfig { inference: Inference::Greedy, block_ngram: 3, ..beam(1) };
    let g = &run(5, &greedy, &[], looping)[0];
    assert!(!has_repeated_ngram(&[&[START][..], g].concat(), 3), "{g:?}");
}

/// A model that copies the context 2 3 4 5 6 and then stops.
fn copier(ctx: Vec<u32>) -> impl Fn(&[u32]) -> Vec<f32> {
    move |p: &[u32]| {
        let mut l = vec![0.0f32; 8];
        let produced = p.len() - 1;
        if produced < ctx.len() {
            l[ctx[produced] as usize] = 6.0;
        } else {
            l[END as usize] = 6.0;
        }
        l
    }
}

fn contains_ngram_of(hyp: &[u32], source: &[u32], n: usize) -> bool {
    hyp.windows(n).any(|g| source.windows(n).any(|s| s == g))
}

#[test]
fn never_emits_a_context_trigram() {
    let ctx = vec![2, 3, 4, 5, 6];
    let free = run(8, &beam(3), &ctx, copier(ctx.clone()));
    assert!(contains_ngram_of(&free[0], &ctx, 3), "without blocking it copies: {:?}", free[0]);
    let cfg = SearchConfig { context_block_ngram: 3, ..beam(3) };
    for hyp in run(8, &cfg, &ctx, copier(ctx.clone())) {
        assert!(!contains_ngram_of(&hyp, &ctx, 3), "{hyp:?}");
    }
}

#[test]
fn block_full_context_uses_the_untruncated_history() {
    let corpus = ["one two three four five six seven eight nine ten"].repeat(30);
    let tok = CringeTokenizer::train(corpus.iter(), 300).unwrap();
    let batcher =
        Batcher::new(tok.clone(), TruncationConfig { text_truncate: 4, label_truncate: 16 }, 64);
    let history = "one two three four five six seven eight nine ten";
    let early = tok.encode("one two three").unwrap(); // truncated away from the model input
    let full = batcher.blocking_context(history, true).unwrap();
    let truncated = batcher.blocking_context(history, false).unwrap();
    assert_eq!(truncated.len(), 4);
    assert!(full.len() > truncated.len() && *full.last().unwrap() == tok.special().end);
    assert!(
        !contains_ngram_of(&early, &truncated, 3),
        "the early words must be outside the truncated input"
    );
    let v = tok.vocab_size();
    let wants_early = move |p: &[u32]| {
        let mut l = vec![0.0f32; v];
        let produced = p.len() - 1;
        if produced < early.len() {
            l[early[produced] as usize] = 6.0;
        } else {
            l[tok.special().end as usize] = 6.0;
        }
        l
    };
    let cfg = SearchConfig { context_block_ngram: 3, ..beam(2) };
    let mut s = Scripted::new(v, 2, wants_early.clone());
    let with_full = search(
        &mut s,
        std::slice::from_ref(&full),
        batcher.tokenizer().special().start,
        batcher.tokenizer().special().end,
        &cfg,
    )
    .unwrap();
    let mut s = Scripted::new(v, 2, wants_early);
    let with_trunc = search(
        &mut s,
        &[truncated],
        batcher.tokenizer().special().start,
        batcher.tokenizer().special().end,
        &cfg,
    )
    .unwrap();
    let early = batcher.tokenizer().encode("one two three").unwrap();
    assert!(!contains_ngram_of(&with_full[0].best().tokens, &full, 3));
    assert!(
        contains_ngram_of(&with_trunc[0].best().tokens, &early, 3),
        "truncated context does not block it"
    );
}

/// Stop now (log-prob ln 0.3679 ≈ -1.0) or say "a a" then stop (ln .569 + ln .6 + ln .7 ≈ -1.43):
/// the short answer wins on raw log-probability, the long one after the length penalty.
fn short_or_long(p: &[u32]) -> Vec<f32> {
    let ln = |x: f64| x.ln() as f32;
    match p {
        [_] => vec![-1e20, ln(0.3679), ln(0.569), ln(0.0632)],
        [_, 2] => vec![-1e20, -1e20, ln(0.6), ln(0.4)],
        [_, 2, 2] => vec![-1e20, ln(0.7), -1e20, ln(0.3)],
        _ => vec![-1e20, 0.0, -1e20, -1e20],
    }
}

#[test]
fn length_penalty_changes_the_winner() {
    let cfg = SearchConfig { min_length: 0, max_length: 6, ..beam(3) };
    let mut s = Scripted::new(4, 3, short_or_long);
    let penalised = search(&mut s, &[vec![]], START, END, &cfg).unwrap();
    let mut s = Scripted::new(4, 3, short_or_long);
    let raw = search(&mut s, &[vec![]], START, END, &SearchConfig { length_penalty: 0.0, ..cfg })
        .unwrap();
    let short = vec![END];
    let long = vec![2, 2, END];
    assert_eq!(raw[0].best().tokens, short, "{:?}", raw[0].n_best);
    assert_eq!(penalised[0].best().tokens, long, "{:?}", penalised[0].n_best);
    let lp_long = penalised[0].best().logprob;
    assert!((penalised[0].best().score - lp_long / (4.0f64 / 6.0).powf(0.65)).abs() < 1e-9);
}

/// Deterministic pseudo-random logits per prefix.
fn hashed(p: &[u32]) -> Vec<f32> {
    let mut h: u64 = 1469598103934665603;
    for &t in p {
        h = (h ^ t as u64).wrapping_mul(1099511628211);
    }
    (0..4).map(|i| (((h >> (i * 13)) & 1023) as f32 / 1023.0) * 4.0 - 2.0).collect()
}

#[test]
fn wide_beam_equals_exhaustive_search() {
    let max_len = 4;
    let cfg = SearchConfig { min_length: 0, max_length: max_len, ..beam(27) };
    let mut s = Scripted::new(4, 27, hashed);
    let got = search(&mut s, &[vec![]], START, END, &cfg).unwrap().remove(0);
    // exhaustive: every sequence over {END, 2, 3} ending at its first END within max_len tokens
    let logp = |prefix: &[u32], t: u32| {
        let mut l = hashed(prefix);
        l[0] = -1e20;
        let m = l.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let lse = m + l.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        l[t as usize] as f64 - lse
    };
    let mut all: Vec<(Vec<u32>, f64)> = Vec::new();
    let mut frontier = vec![(vec![START], 0.0f64)];
    for _ in 0..max_len {
        let mut next = Vec::new();
        for (p, s) in frontier {
            for t in [END, 2, 3] {
                let score = s + logp(&p, t);
                let mut q = p.clone();
                q.push(t);
                if t == END { all.push((q[1..].to_vec(), score)) } else { next.push((q, score)) }
            }
        }
        frontier = next;
    }
    let mut ranked: Vec<(Vec<u32>, f64)> = all
        .into_iter()
        .map(|(t, s)| {
            let n = t.len() as f64;
            (t, s / ((1.0 + n) / 6.0).powf(0.65))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(got.n_best.len(), ranked.len().min(27));
    for (h, (t, s)) in got.n_best.iter().zip(&ranked) {
        assert_eq!(&h.tokens, t);
        assert!((h.score - s).abs() < 1e-4, "{} vs {s}", h.score);
    }
}

#[test]
fn non_finite_logits_are_an_error_not_a_panic() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut s = Scripted::new(4, 2, move |p: &[u32]| {
            if p.len() > 2 { vec![0.0, 0.0, bad, 0.0] } else { vec![0.0, -1.0, 1.0, 0.0] }
        });
        let err = search(&mut s, &[vec![]], START, END, &beam(2)).unwrap_err().to_string();
        assert!(err.contains("non-finite logit") && err.contains("step 2"), "{err}");
    }
}

#[test]
fn sampling_is_seeded() {
    let cfg = SearchConfig {
        inference: Inference::Topk { k: 3 },
        min_length: 0,
        max_length: 8,
        seed: 4,
        ..beam(2)
    };
    let a = run(4, &cfg, &[], hashed);
    assert_eq!(a, run(4, &cfg, &[], hashed));
    let outs: std::collections::HashSet<_> =
        (0..10).map(|seed| run(4, &SearchConfig { seed, ..cfg.clone() }, &[], hashed)).collect();
    assert!(outs.len() > 1, "different seeds should give different samples");
}

#[test]
fn batched_generation_equals_one_context_at_a_time() {
    let dev = Device::flex();
    dev.seed(8);
    let model = Generator::new(&GeneratorConfig::tiny(50), &dev);
    let contexts = vec![vec![5, 6, 7, 2], vec![9, 2], vec![11, 12, 13, 14, 15, 2]];
    for cfg in [
        SearchConfig {
            block_ngram: 2,
            context_block_ngram: 2,
            min_length: 3,
            max_length: 10,
            ..beam(4)
        },
        SearchConfig { inference: Inference::Greedy, max_length: 10, ..SearchConfig::default() },
    ] {
        let batched = generate(&model, &contexts, &contexts, &cfg, &dev).unwrap();
        for (i, c) in contexts.iter().enumerate() {
            let single =
                generate(&model, std::slice::from_ref(c), std::slice::from_ref(c), &cfg, &dev)
                    .unwrap();
            assert_eq!(batched[i].best().tokens, single[0].best().tokens, "context {i}");
            assert!((batched[i].best().score - single[0].best().score).abs() < 1e-3);
        }
    }
}

/// Adversarial logits at every step for every decoding method: ±inf, NaN and ±1e38 anywhere.
/// Never a panic: a NaN or +inf is an error naming the step; otherwise every hypothesis holds
/// vocabulary tokens, is sorted best first, and its score is not NaN.
#[test]
fn adversarial_logits_are_an_error_or_a_well_formed_result_never_a_panic() {
    let specials = [f32::NEG_INFINITY, 1e38, -1e38, f32::NAN, f32::INFINITY];
    let (mut errors, mut results) = (0, 0);
    for seed in 0..40u64 {
        let pick = move |p: &[u32]| -> Vec<f32> {
            let mut h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ p.iter().fold(p.len() as u64, |a, &x| a.wrapping_mul(31).wrapping_add(x as u64));
            (0..6)
                .map(|_| {
                    h = h.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let r = (h >> 33) as usize;
                    // mostly ordinary values; NaN and +inf only in odd seeds
                    if r.is_multiple_of(4) {
                        specials[r / 4 % if seed % 2 == 1 { 5 } else { 3 }]
                    } else {
                        (r % 7) as f32 - 3.0
                    }
                })
                .collect()
        };
        for cfg in [
            SearchConfig { min_length: 2, max_length: 6, ..beam(3) },
            SearchConfig { inference: Inference::Greedy, max_length: 6, ..SearchConfig::default() },
            SearchConfig { inference: Inference::Topk { k: 3 }, max_length: 6, seed, ..beam(2) },
            SearchConfig {
                inference: Inference::Nucleus { p: 0.9 },
                max_length: 6,
                seed,
                ..beam(2)
            },
        ] {
            let rows = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
            let mut s = Scripted::new(6, rows, pick);
            match search(&mut s, &[vec![4, 5]], START, END, &cfg) {
                Err(e) => {
                    assert!(
                        e.to_string().contains("non-finite logit"),
                        "seed {seed}, {cfg:?}: {e}"
                    );
                    errors += 1;
                }
                Ok(found) => {
                    results += 1;
                    let n_best = &found[0].n_best;
                    assert!(!n_best.is_empty(), "seed {seed}, {cfg:?}: no hypothesis");
                    for h in n_best {
                        assert!(
                            h.tokens.iter().all(|&t| t < 6),
                            "seed {seed}: token out of the vocabulary: {h:?}"
                        );
                        assert!(
                            !h.score.is_nan() && !h.logprob.is_nan(),
                            "seed {seed}, {cfg:?}: NaN score {h:?}"
                        );
                    }
                    assert!(
                        n_best.windows(2).all(|w| w[0].score >= w[1].score),
                        "seed {seed}: not sorted"
                    );
                }
            }
        }
    }
    assert!(
        errors > 0 && results > 0,
        "{errors} errors, {results} results: the inputs should give both"
    );
}
