//! The model `cringe eval` measures, of either family: the BB1 generator with its tokenizer,
//! or a causal LM with its tokenizer and chat template. Each encodes an example's gold
//! response, scores it teacher-forced, and generates replies to contexts; the rest of
//! `eval` (F1, perplexity, the classifier, world logs) is the same for both.

use crate::args::TemplateChoice;
use crate::args::decoding::DecodeArgs;
use anyhow::Context;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use cringe_core::data::{
    Batcher, CausalBatch, EncodedExample, Example, PromptForm, TruncationConfig,
};
use cringe_core::decode::{CausalScorer, SearchConfig, generate, search_until};
use cringe_core::model::{ModelDir, Packing};
use cringe_core::pretrained::Pretrained;
use std::path::Path;

/// A reply: its tokens (the end token included when it ended), search score and text.
pub struct Reply {
    /// Generated token ids.
    pub tokens: Vec<u32>,
    /// The search's score of the reply.
    pub score: f64,
    /// The reply's text.
    pub text: String,
}

/// The model under evaluation.
pub enum Subject {
    /// The BB1 generator.
    Generator {
        /// Model and tokenizer.
        md: Box<ModelDir>,
        /// Its encoding of examples.
        batcher: Box<Batcher>,
    },
    /// A causal LM.
    Causal(Box<Pretrained>),
}

impl Subject {
    /// Loads `--model-file` onto `device`: a causal LM (GGUF, `hf:DIR` or a directory `train`
    /// wrote for one) or a BB1 model directory.
    pub fn load(
        model_file: &Path,
        decode: &DecodeArgs,
        template: TemplateChoice,
        device: &Device,
    ) -> anyhow::Result<Self> {
        let trunc = TruncationConfig {
            text_truncate: decode.text_truncate,
            label_truncate: decode.label_truncate,
        };
        let context = || format!("loading --model-file {}", model_file.display());
        if cringe_core::pretrained::is_causal(model_file) {
            let mut lm = cringe_core::pretrained::load(model_file, device).with_context(context)?;
            let form = template.form(lm.text.template.is_some());
            lm.text = lm.text.with_form(form)?.with_truncation(trunc);
            return Ok(Subject::Causal(Box::new(lm)));
        }
        let md = cringe_core::hf::load_model(model_file, device).with_context(context)?;
        let n_positions = md.model.config().n_positions;
        if let Some(w) = trunc.clamp_warning(n_positions) {
            eprintln!("warning: {w}");
        }
        let batcher = Batcher::new(md.tokenizer.clone(), trunc, n_positions);
        Ok(Subject::Generator { md: Box::new(md), batcher: Box::new(batcher) })
    }

    /// Fails when decoding `contexts` at once would not fit in memory (BB1's estimate; a
    /// causal LM's cache is checked by its allocations).
    pub fn check_memory(
        &self,
        decode: &DecodeArgs,
        contexts: usize,
        device: crate::device::DeviceKind,
    ) -> anyhow::Result<()> {
        match self {
            Subject::Generator { md, .. } => {
                decode.check_memory(md.model.config(), contexts, device)
            }
            Subject::Causal(_) => Ok(()),
        }
    }

    /// How a causal LM is given `e`'s context (its world logs say so); `None` for BB1.
    pub fn prompt_form(&self, e: &Example) -> Option<PromptForm> {
        match self {
            Subject::Generator { .. } => None,
            Subject::Causal(lm) => lm.text.form_of(e).ok(),
        }
    }

    /// The example's context and gold response as the model reads them.
    pub fn encode(&self, e: &Example) -> anyhow::Result<EncodedExample> {
        Ok(match self {
            Subject::Generator { batcher, .. } => batcher.encode(e)?,
            Subject::Causal(lm) => lm.text.encode_example(e)?,
        })
    }

    /// Summed negative log-likelihood, correct argmax count and token count of the gold
    /// responses of `items`, teacher-forced.
    pub fn teacher_forced(&self, items: &[EncodedExample], device: &Device) -> (f64, f64, usize) {
        match self {
            Subject::Generator { md, batcher } => {
                let batch = batcher.collate(items, device);
                let tokens = batch.target_tokens();
                let (context_rows, target_rows) = Packing::for_batch(&batch, device);
                let logits = md.model.forward_rows(
                    batch.context,
                    context_rows,
                    batch.decoder_input,
                    &target_rows,
                );
                let targets = target_rows.pack_ids(batch.targets);
                let mask = targets.clone().not_equal_elem(md.model.config().pad_id as i64).float();
                let (nll, correct) = scored(logits, targets, mask);
                (nll, correct, tokens)
            }
            Subject::Causal(lm) => {
                let batch = CausalBatch::collate(items, device);
                let tokens = batch.target_tokens();
                let (logits, target_rows) = lm.model.target_logits(&batch, device);
                let targets = target_rows.pack_ids(batch.targets);
                let mask = Tensor::<1>::ones([tokens], device);
                let (nll, correct) = scored(logits, targets, mask);
                (nll, correct, tokens)
            }
        }
    }

    /// Replies to each example's context under the search `cfg`; n-gram blocking looks at
    /// the whole untruncated context when `full_block`.
    pub fn generate(
        &self,
        examples: &[&Example],
        cfg: &SearchConfig,
        full_block: bool,
        device: &Device,
    ) -> anyhow::Result<Vec<Reply>> {
        match self {
            Subject::Generator { md, batcher } => {
                let inputs: Vec<Vec<u32>> = examples
                    .iter()
                    .map(|e| batcher.encode_context(&e.context))
                    .collect::<Result<_, _>>()?;
                let block: Vec<Vec<u32>> = examples
                    .iter()
                    .map(|e| batcher.blocking_context(&e.context, full_block))
                    .collect::<Result<_, _>>()?;
                let results = generate(&md.model, &inputs, &block, cfg, device)?;
                results
                    .iter()
                    .map(|r| {
                        let best = r.best();
                        let text = md.tokenizer.decode_response(&best.tokens)?;
                        Ok(Reply { tokens: best.tokens.clone(), score: best.score, text })
                    })
                    .collect()
            }
            Subject::Causal(lm) => generate_causal(lm, examples, cfg, device),
        }
    }
}

/// A causal LM's replies: the prompts (chat template or continuation) fed as one left-padded
/// block, searched on the key/value cache until any end token; n-gram blocking looks at the
/// context's own text (not the template's markup).
fn generate_causal(
    lm: &Pretrained,
    examples: &[&Example],
    cfg: &SearchConfig,
    device: &Device,
) -> anyhow::Result<Vec<Reply>> {
    let prompts: Vec<Vec<u32>> =
        examples.iter().map(|e| lm.text.generation_prompt(e)).collect::<Result<_, _>>()?;
    let block: Vec<Vec<u32>> =
        examples.iter().map(|e| lm.text.encode(&e.context)).collect::<Result<_, _>>()?;
    let beam =
        if cfg.inference == cringe_core::decode::Inference::Greedy { 1 } else { cfg.beam_size };
    let mut cfg = cfg.clone();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    cfg.max_length = cfg
        .max_length
        .min(lm.model.config().max_position_embeddings.saturating_sub(longest).max(1));
    let mut scorer = CausalScorer::new(&lm.model, &prompts, beam, device)?;
    let results = search_until(&mut scorer, &block, 0, lm.eos_ids(), &cfg)?;
    results
        .iter()
        .map(|r| {
            let best = r.best();
            let body: Vec<u32> =
                best.tokens.iter().copied().take_while(|t| !lm.eos_ids().contains(t)).collect();
            let text = lm.text.decode(&body)?.trim().to_string();
            Ok(Reply { tokens: best.tokens.clone(), score: best.score, text })
        })
        .collect()
}

/// Summed negative log-likelihood and correct argmax count of `targets` `[N]` under `logits`
/// `[N,V]`, over the positions `mask` `[N]` keeps.
fn scored(logits: Tensor<2>, targets: Tensor<1, Int>, mask: Tensor<1>) -> (f64, f64) {
    let n = targets.dims()[0];
    let targets = targets.reshape([n, 1]);
    let lp = log_softmax(logits, 1);
    let tok_lp = lp.clone().gather(1, targets.clone()).reshape([n]);
    let right = lp.argmax(1).equal(targets).float().reshape([n]);
    let nll: f32 = (tok_lp.neg() * mask.clone()).sum().into_scalar();
    let correct: f32 = (right * mask).sum().into_scalar();
    (nll as f64, correct as f64)
}
