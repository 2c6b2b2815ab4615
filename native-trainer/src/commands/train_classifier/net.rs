//! What `train-classifier` trains, behind one trait: the small encoder classifier (trained
//! from scratch with its own tokenizer) or a classification head on a pretrained causal LM's
//! backbone (fine-tuned whole, with the LM's tokenizer). The loop needs only each one's
//! logits for a batch of token sequences and how it is saved.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use cringe_core::data::CausalText;
use cringe_core::judge::CausalJudge;
use cringe_core::model::causal::CausalClassifier;
use cringe_core::model::classifier::pad_batch;
use cringe_core::model::{Classifier, ClassifierDir};
use cringe_core::tokenizer::CringeTokenizer;
use std::path::Path;

/// A classifier the training loop can train.
pub trait ClassifierNet: Module {
    /// Its tokenizer (what is saved beside the weights).
    type Text;

    /// Class logits `[B,C]` of token sequences, each cut to its last `max_len` tokens.
    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>>;

    /// Writes the classifier with `text` to `dir`, replacing one this tool wrote atomically.
    fn save(&self, text: &Self::Text, dir: &Path) -> anyhow::Result<()>;
}

impl ClassifierNet for Classifier {
    type Text = CringeTokenizer;

    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>> {
        Ok(self.forward(pad_batch(seqs, self.config().encoder.pad_id, max_len, device)))
    }

    fn save(&self, text: &CringeTokenizer, dir: &Path) -> anyhow::Result<()> {
        Ok(ClassifierDir::save(self, text, dir)?)
    }
}

impl ClassifierNet for CausalClassifier {
    type Text = CausalText;

    fn logits(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> anyhow::Result<Tensor<2>> {
        Ok(self.forward(seqs, max_len, device)?)
    }

    fn save(&self, text: &CausalText, dir: &Path) -> anyhow::Result<()> {
        Ok(CausalJudge::save(self, text, dir)?)
    }
}
