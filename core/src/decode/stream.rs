//! Token-by-token generation for one context, for interfaces that show tokens as they come
//! (the web UI): the caller asks for one token at a time and can stop whenever it likes.
//!
//! It follows the same rules as [`super::search`] with one hypothesis: greedy, top-k or nucleus
//! sampling at a temperature, no end token before `min_length`, no repeat of its own
//! `block_ngram`-grams, no `context_block_ngram`-gram of the context; and it draws the same
//! samples (its generator is seeded with `seed`, as the search seeds context 0).

use super::blocking::{NgramIndex, blocked_next_tokens};
use super::scorer::GeneratorScorer;
use super::search::{SearchConfig, log_softmax};
use super::select::{Inference, select_each};
use crate::error::{CoreError, Result};
use crate::model::Generator;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A generation in progress.
pub struct TokenStream<'a> {
    scorer: GeneratorScorer<'a>,
    cfg: SearchConfig,
    hyp: Vec<u32>,
    context: NgramIndex,
    rng: StdRng,
    end: u32,
    finished: bool,
}

impl<'a> TokenStream<'a> {
    /// Encodes `input` (the model input: truncated context with its end token) and prepares
    /// to generate; `block_context` is the token sequence for context blocking.
    pub fn new(
        model: &'a Generator,
        input: &[u32],
        block_context: &[u32],
        cfg: &SearchConfig,
        device: &Device,
    ) -> Result<Self> {
        cfg.validate()?;
        if cfg.inference == Inference::Beam && cfg.beam_size > 1 {
            return Err(CoreError::Config(
                "streaming generates one hypothesis: use greedy, topk or nucleus".into(),
            ));
        }
        let mut cfg = cfg.clone();
        cfg.max_length = cfg.max_length.min(model.config().n_positions);
        Ok(Self {
            scorer: GeneratorScorer::new(model, &[input.to_vec()], 1, device),
            context: NgramIndex::new(block_context, cfg.context_block_ngram),
            rng: StdRng::seed_from_u64(cfg.seed),
            hyp: vec![model.config().start_id as u32],
            end: model.config().end_id as u32,
            cfg,
            finished: false,
        })
    }

    /// The tokens generated so far (the end token included once produced).
    pub fn tokens(&self) -> &[u32] {
        &self.hyp[1..]
    }

    /// Whether the end token or the length limit was reached.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Generates the next token; `None` once finished.
    pub fn next_token(&mut self) -> Result<Option<u32>> {
        let Some(logits) = self.step_logits() else {
            return Ok(None);
        };
        let logits = logits
            .try_to_vec_as::<f32>()
            .map_err(|e| CoreError::Invalid(format!("reading logits back: {e:?}")))?;
        self.choose(&logits).map(Some)
    }

    /// The first half of [`TokenStream::next_token`]: runs the model one step and returns the
    /// next-token logits `[1, V]` still on the device (`None` once finished). Read them back
    /// (asynchronously where the device needs it) and pass them to [`TokenStream::choose`].
    pub fn step_logits(&mut self) -> Option<Tensor<2>> {
        if self.finished {
            return None;
        }
        Some(self.scorer.step_tensor(&[*self.hyp.last().expect("starts with the start token")]))
    }

    /// The second half of [`TokenStream::next_token`]: picks the next token from the logits
    /// that [`TokenStream::step_logits`] returned.
    pub fn choose(&mut self, logits: &[f32]) -> Result<u32> {
        let step = self.hyp.len() - 1;
        if let Some(i) = logits.iter().position(|x| x.is_nan() || *x == f32::INFINITY) {
            return Err(CoreError::Invalid(format!(
                "the model produced a non-finite logit ({}) at step {step}",
                logits[i]
            )));
        }
        let mut lp = log_softmax(logits, self.cfg.temperature);
        let mut banned = Vec::new();
        if step < self.cfg.min_length {
            banned.push(self.end);
        }
        if self.cfg.block_ngram > 0 {
            banned.extend(blocked_next_tokens(&self.hyp, &self.hyp, self.cfg.block_ngram));
        }
        banned.extend_from_slice(self.context.blocked(&self.hyp));
        for t in banned {
            lp[t as usize] = f32::NEG_INFINITY;
        }
        let method = match self.cfg.inference {
            Inference::Beam => Inference::Greedy,
            other => other,
        };
        let token = select_each(&[lp], &[0.0], method, &mut self.rng)[0].token;
        self.hyp.push(token);
        self.finished = token == self.end || self.hyp.len() > self.cfg.max_length;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::generate;
    use crate::model::GeneratorConfig;

    #[test]
    fn streams_what_the_batched_search_generates() {
        let device = Device::flex();
        device.seed(11);
        let model = Generator::new(&GeneratorConfig::tiny(60), &device);
        let input = vec![5, 9, 14, 9, 22, 2];
        for inference in
            [Inference::Greedy, Inference::Topk { k: 5 }, Inference::Nucleus { p: 0.9 }]
        {
            let cfg = SearchConfig {
                inference,
                min_length: 3,
                max_length: 12,
                block_ngram: 2,
                context_block_ngram: 2,
                temperature: 0.8,
                seed: 4,
                ..SearchConfig::default()
            };
            let want = generate(
                &model,
                std::slice::from_ref(&input),
                std::slice::from_ref(&input),
                &cfg,
                &device,
            )
            .unwrap()[0]
                .best()
                .tokens
                .clone();
            let mut stream = TokenStream::new(&model, &input, &input, &cfg, &device).unwrap();
            let mut got = Vec::new();
            while let Some(t) = stream.next_token().unwrap() {
                got.push(t);
            }
            assert_eq!(got, want, "{inference:?}");
            assert_eq!(stream.tokens(), &want[..]);
            assert!(stream.finished());
        }
    }
}
