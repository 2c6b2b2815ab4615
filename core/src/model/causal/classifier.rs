//! A sequence classifier on a causal LM's backbone: the blocks and final norm of a pretrained
//! Llama-family model with a linear `score` head on the hidden state of each text's last
//! token, as `transformers`' `LlamaForSequenceClassification` (and its Qwen2/Qwen3
//! counterparts) define it. The real-model counterpart of the small encoder classifier: what
//! judges a pretrained chat model's replies with the knowledge of language it brings.
//!
//! The last token, because under a causal mask it is the only position that has read the
//! whole text. The head has no bias and starts from N(0, initializer_range²), as
//! `transformers` initialises it.

use super::config::CausalConfig;
use super::mlp::linear;
use super::model::{Body, CausalLm};
use super::rope::Rope;
use crate::error::{CoreError, Result};
use crate::model::classifier::{pad_batch, predicted_classes};
use crate::model::packing::Packing;
use crate::model::precision;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// A causal backbone with a classification head on the last token.
#[derive(Module, Debug)]
pub struct CausalClassifier {
    model: Body,
    score: Linear,
    #[module(skip)]
    config: CausalConfig,
    #[module(skip)]
    rope: Rope,
    #[module(skip)]
    classes: Vec<String>,
}

impl CausalClassifier {
    /// A freshly initialised classifier of `config` over `classes` (how a saved one is
    /// rebuilt before its weights are loaded).
    pub fn new(config: &CausalConfig, classes: Vec<String>, device: &Device) -> Self {
        Self::from_lm(CausalLm::new(config, device), classes, device)
    }

    /// The backbone of `lm` with a fresh head over `classes` (its output projection is
    /// dropped).
    pub fn from_lm(lm: CausalLm, classes: Vec<String>, device: &Device) -> Self {
        assert!(classes.len() >= 2, "a classifier needs at least two classes");
        let (model, config, rope) = lm.into_body();
        let score =
            linear(config.hidden_size, classes.len(), false, config.initializer_range, device);
        Self { model, score, config, rope, classes }
    }

    /// The backbone's configuration.
    pub fn config(&self) -> &CausalConfig {
        &self.config
    }

    /// Class names, in output order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Class logits `[B,C]` of token sequences, each truncated to its last `max_len` tokens
    /// (and to the model's positions); an empty sequence is an error.
    pub fn forward(&self, seqs: &[Vec<u32>], max_len: usize, device: &Device) -> Result<Tensor<2>> {
        let keep = max_len.min(self.config.max_position_embeddings).max(1);
        let lengths: Vec<usize> = seqs.iter().map(|s| s.len().min(keep)).collect();
        if let Some(i) = lengths.iter().position(|&n| n == 0) {
            return Err(CoreError::Invalid(format!("text {i} of the batch has no tokens")));
        }
        // right-padded with token 0, which the packed rows never read
        let tokens = pad_batch(seqs, 0, keep, device);
        let l = tokens.dims()[1];
        let lasts: Vec<i64> = lengths
            .iter()
            .scan(0usize, |end, &n| {
                *end += n;
                Some(*end as i64 - 1)
            })
            .collect();
        let b = seqs.len();
        let rows = Packing::from_lengths(&lengths, l, device);
        let lasts = Tensor::<1, Int>::from_data(TensorData::new(lasts, [b]), device);
        let last = self.model.hidden_rows(&self.rope, tokens, &rows).select(0, lasts);
        Ok(precision::linear(&self.score, self.model.norm(last)))
    }

    /// The predicted class index of each token sequence.
    pub fn predict(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> Result<Vec<usize>> {
        predicted_classes(self.forward(seqs, max_len, device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.try_to_vec_as::<f32>().unwrap()
    }

    #[test]
    fn a_text_s_logits_do_not_depend_on_the_batch_it_is_in() {
        let dev = Device::flex();
        dev.seed(3);
        let cfg = CausalConfig::tiny(40);
        let c = CausalClassifier::new(&cfg, vec!["pos".into(), "neg".into()], &dev);
        let alone = values(c.forward(&[vec![5, 6, 7]], 64, &dev).unwrap());
        let batch = values(c.forward(&[vec![9, 1], vec![5, 6, 7], vec![2; 9]], 64, &dev).unwrap());
        assert_eq!(alone.len(), 2);
        for k in 0..2 {
            assert!((alone[k] - batch[2 + k]).abs() < 1e-5, "{alone:?} vs {batch:?}");
        }
        // truncation keeps the last tokens
        let cut = values(c.forward(&[vec![30, 31, 5, 6, 7]], 3, &dev).unwrap());
        for k in 0..2 {
            assert!((alone[k] - cut[k]).abs() < 1e-5, "{alone:?} vs {cut:?}");
        }
        assert!(c.forward(&[vec![]], 64, &dev).is_err());
    }

    #[test]
    fn with_the_lm_s_output_columns_as_its_head_it_gives_the_lm_s_last_position_logits() {
        let dev = Device::flex();
        dev.seed(5);
        let lm = CausalLm::new(&CausalConfig::tiny(40), &dev);
        let seq = [5u32, 9, 2, 17];
        let ids: Vec<i64> = seq.iter().map(|&t| t as i64).collect();
        let logits = lm.forward(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 4]), &dev));
        let last = values(logits.slice([0..1, 3..4, 0..40]).reshape([1, 40]));
        let columns = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 7], [2]), &dev);
        let head = lm.output_weight().select(1, columns);
        let mut c = CausalClassifier::from_lm(lm, vec!["a".into(), "b".into()], &dev);
        c.score.weight = burn::module::Param::from_tensor(head);
        let got = values(c.forward(&[seq.to_vec()], 64, &dev).unwrap());
        for (k, want) in [last[3], last[7]].into_iter().enumerate() {
            assert!((got[k] - want).abs() < 1e-5, "{got:?} vs {want}");
        }
    }

    #[test]
    fn the_pooled_state_is_the_last_token_s() {
        let dev = Device::flex();
        dev.seed(4);
        let c = CausalClassifier::new(&CausalConfig::tiny(40), vec!["a".into(), "b".into()], &dev);
        let a = values(c.forward(&[vec![5, 6, 7]], 64, &dev).unwrap());
        let b = values(c.forward(&[vec![5, 6, 8]], 64, &dev).unwrap());
        assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-6), "the last token is read");
    }
}
