//! What `cringe train` trains: the BB1 generator or a causal LM, behind one trait, so both
//! share the training loop, the losses, validation, checkpoints and exact resume.
//!
//! A model family brings how a micro-batch of encoded examples becomes the losses' logits
//! (the generator's teacher-forced decoder; the causal LM's prompt + target rows with the
//! target positions picked out) and how it is saved (a model directory with Burn's weights; a
//! Hugging Face directory that `transformers` loads).

use super::validate::batch_loss;
use burn::module::Module;
use burn::tensor::Device;
use cringe_core::data::{Batcher, CausalBatch, CausalText, EncodedExample};
use cringe_core::loss::{CandidateDraw, LossOutput, Objective, uniform_draws};
use cringe_core::model::causal::CausalLm;
use cringe_core::model::{Generator, ModelDir};
use rand::rngs::StdRng;
use std::path::Path;

/// A model the training loop can train.
pub trait Trainee: Module {
    /// How its examples are encoded and what is saved beside its weights (the tokenizer).
    type Text: Sync;

    /// Trainable parameters.
    fn param_count(&self) -> usize;

    /// Output vocabulary size.
    fn vocab_size(&self) -> usize;

    /// The teacher-forced loss of one micro-batch, CRINGE candidates drawn from `rng`.
    fn loss(
        &self,
        text: &Self::Text,
        items: &[EncodedExample],
        objective: &Objective,
        rng: &mut StdRng,
        device: &Device,
    ) -> LossOutput;

    /// Writes the model and `text` to `dir` with `extra` files (name, bytes), replacing what
    /// this tool wrote there before in one atomic swap.
    fn save(&self, text: &Self::Text, dir: &Path, extra: &[(&str, &[u8])]) -> anyhow::Result<()>;
}

impl Trainee for Generator {
    type Text = Batcher;

    fn param_count(&self) -> usize {
        self.config().num_params()
    }

    fn vocab_size(&self) -> usize {
        self.config().vocab_size
    }

    fn loss(
        &self,
        text: &Batcher,
        items: &[EncodedExample],
        objective: &Objective,
        rng: &mut StdRng,
        device: &Device,
    ) -> LossOutput {
        batch_loss(self, text.collate(items, device), objective, rng, device)
    }

    fn save(&self, text: &Batcher, dir: &Path, extra: &[(&str, &[u8])]) -> anyhow::Result<()> {
        Ok(ModelDir::save_with_extra_files(self, text.tokenizer(), dir, extra)?)
    }
}

impl Trainee for CausalLm {
    type Text = CausalText;

    fn param_count(&self) -> usize {
        self.config().num_params()
    }

    fn vocab_size(&self) -> usize {
        self.config().vocab_size
    }

    fn loss(
        &self,
        text: &CausalText,
        items: &[EncodedExample],
        objective: &Objective,
        rng: &mut StdRng,
        device: &Device,
    ) -> LossOutput {
        causal_batch_loss(self, text, CausalBatch::collate(items, device), objective, rng, device)
    }

    fn save(&self, text: &CausalText, dir: &Path, extra: &[(&str, &[u8])]) -> anyhow::Result<()> {
        Ok(cringe_core::pretrained::export_hf(self, text, dir, extra)?)
    }
}

/// The loss of a causal batch: the model runs on the packed prompt + target rows, the logits
/// of the positions that predict target tokens go to the same loss the generator's do. The
/// target grid is packed without pads, so the pad id handed to the loss (the vocabulary size,
/// which no token has) never matches.
pub fn causal_batch_loss(
    model: &CausalLm,
    text: &CausalText,
    batch: CausalBatch,
    objective: &Objective,
    rng: &mut StdRng,
    device: &Device,
) -> LossOutput {
    let (logits, target_rows) = model.target_logits(&batch, device);
    let draw = |n| CandidateDraw::Uniform(uniform_draws(rng, n, device));
    objective.loss_rows(
        logits,
        &target_rows,
        batch.targets,
        batch.labels,
        &batch.pairs,
        (model.config().vocab_size, text.eos_ids[0] as usize),
        draw,
    )
}

/// Prompt + target tokens of a micro-batch (a preference pair's rejected row counts its
/// context again), the throughput the log reports.
pub fn batch_tokens(items: &[EncodedExample]) -> usize {
    items
        .iter()
        .map(|e| {
            e.context.len()
                + e.target.len()
                + e.rejected.as_ref().map_or(0, |r| e.context.len() + r.len())
        })
        .sum()
}
