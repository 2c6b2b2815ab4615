//! What `train-classifier` trains, behind one trait: the small encoder classifier (from
//! scratch, or on a BB1 model's encoder, with its own tokenizer) or a classification head on a
//! pretrained causal LM's backbone (fine-tuned whole, with the LM's tokenizer). The loop needs
//! each one's tokens for a text, its logits for a batch, and how it is saved and loaded back
//! (the best model, and the resumable checkpoint with the optimizer state beside it).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use cringe_core::data::CausalText;
use cringe_core::judge::{CausalJudge, classified_tokens};
use cringe_core::model::causal::CausalClassifier;
use cringe_core::model::classifier::pad_batch;
use cringe_core::model::{Classifier, ClassifierDir};
use cringe_core::tokenizer::CringeTokenizer;
use std::path::Path;

/// A classifier the training loop can train.
pub trait ClassifierNet: Module + Sized {
    /// Its tokenizer (what is saved beside the weights).
    type Text;

    /// The tokens it reads for `text`.
    fn encode(&self, tokenizer: &Self::Text, text: &str) -> anyhow::Result<Vec<u32>>;

    /// Class names, in output order.
    fn class_names(&self) -> &[String];

    /// The longest input its positions cover.
    fn max_positions(&self) -> usize;

    /// Class logits `[B,C]` of token sequences, each cut to its last `max_len` tokens.
    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>>;

    /// Writes the classifier with `text` and `extra` files (name, bytes) to `dir`, replacing
    /// one this tool wrote, in one atomic swap.
    fn save(&self, text: &Self::Text, dir: &Path, extra: &[(&str, &[u8])]) -> anyhow::Result<()>;

    /// Loads a directory [`ClassifierNet::save`] wrote onto `device`.
    fn load(dir: &Path, device: &Device) -> anyhow::Result<(Self, Self::Text)>;
}

impl ClassifierNet for Classifier {
    type Text = CringeTokenizer;

    fn encode(&self, tokenizer: &CringeTokenizer, text: &str) -> anyhow::Result<Vec<u32>> {
        Ok(tokenizer.encode(&self.config().normalize(text))?)
    }

    fn class_names(&self) -> &[String] {
        &self.config().classes
    }

    fn max_positions(&self) -> usize {
        self.config().encoder.n_positions
    }

    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>> {
        Ok(self.forward(pad_batch(seqs, self.config().encoder.pad_id, max_len, device)))
    }

    fn save(
        &self,
        text: &CringeTokenizer,
        dir: &Path,
        extra: &[(&str, &[u8])],
    ) -> anyhow::Result<()> {
        Ok(ClassifierDir::save_with_extra_files(self, text, dir, extra)?)
    }

    fn load(dir: &Path, device: &Device) -> anyhow::Result<(Self, CringeTokenizer)> {
        let loaded = ClassifierDir::load(dir, device)?;
        Ok((loaded.model, loaded.tokenizer))
    }
}

impl ClassifierNet for CausalClassifier {
    type Text = CausalText;

    fn encode(&self, text_side: &CausalText, text: &str) -> anyhow::Result<Vec<u32>> {
        Ok(classified_tokens(text_side, text)?)
    }

    fn class_names(&self) -> &[String] {
        self.classes()
    }

    fn max_positions(&self) -> usize {
        self.config().max_position_embeddings
    }

    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>> {
        Ok(self.forward(seqs, max_len, device)?)
    }

    fn save(&self, text: &CausalText, dir: &Path, extra: &[(&str, &[u8])]) -> anyhow::Result<()> {
        Ok(CausalJudge::save_with_extra_files(self, text, dir, extra)?)
    }

    fn load(dir: &Path, device: &Device) -> anyhow::Result<(Self, CausalText)> {
        let loaded = CausalJudge::load(dir, device)?;
        Ok((loaded.model, loaded.text))
    }
}
