//! The safety classifier: the transformer encoder of [`super::Encoder`] with a linear head over
//! the mean of its non-pad states (ParlAI `transformer/classifier`, `--reduction-type mean`).

use super::config::GeneratorConfig;
use super::encoder::Encoder;
use crate::error::{CoreError, Result};
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Shape and classes of a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Encoder shape (`n_encoder_layers` layers; the decoder fields are unused).
    pub encoder: GeneratorConfig,
    /// Class names, in output order; the safety classifier uses `["pos", "neg"]`.
    pub classes: Vec<String>,
}

impl ClassifierConfig {
    /// The safety classifier of a preset shape: `pos` (safe) and `neg` (unsafe).
    pub fn safety(encoder: GeneratorConfig) -> Self {
        Self { encoder, classes: vec!["pos".into(), "neg".into()] }
    }

    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        if self.classes.len() < 2 {
            return Err(CoreError::Config("a classifier needs at least two classes".into()));
        }
        Ok(())
    }
}

/// Encoder + pooled linear head.
#[derive(Module, Debug)]
pub struct Classifier {
    embeddings: Param<Tensor<2>>,
    encoder: Encoder,
    head: Linear,
    #[module(skip)]
    config: ClassifierConfig,
}

impl Classifier {
    /// A freshly initialised classifier.
    pub fn new(config: &ClassifierConfig, device: &Device) -> Self {
        config.validate().expect("invalid classifier config");
        let e = &config.encoder;
        let d = e.embedding_size;
        let table = Tensor::<2>::random(
            [e.vocab_size, d],
            Distribution::Normal(0.0, (d as f64).powf(-0.5)),
            device,
        );
        let mut keep = vec![1f32; e.vocab_size];
        keep[e.pad_id] = 0.0;
        let keep = Tensor::<1>::from_data(TensorData::new(keep, [e.vocab_size]), device)
            .unsqueeze_dim::<2>(1);
        Self {
            embeddings: Param::from_tensor(table * keep),
            encoder: Encoder::new(e, device),
            head: LinearConfig::new(d, config.classes.len())
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
            config: config.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// Class logits `[B,C]` for right-padded token ids `[B,S]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let keep = tokens.clone().not_equal_elem(self.config.encoder.pad_id as i64).float(); // [B,S]
        let encoded = self.encoder.forward(self.embeddings.val(), tokens);
        let states = encoded.states();
        let [b, _, d] = states.dims();
        let summed = states.sum_dim(1).reshape([b, d]); // pads are zero
        let count = keep.sum_dim(1).clamp_min(1.0); // [B,1]
        self.head.forward(summed / count)
    }

    /// The predicted class index of each token sequence (each truncated to its last `max_len`
    /// tokens).
    pub fn predict(
        &self,
        seqs: &[Vec<u32>],
        max_len: usize,
        device: &Device,
    ) -> Result<Vec<usize>> {
        let tokens = pad_batch(seqs, self.config.encoder.pad_id, max_len, device);
        predicted_classes(self.forward(tokens))
    }

    /// Class probabilities `[B,C]`.
    pub fn probabilities(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        softmax(self.forward(tokens), 1)
    }
}

/// The highest-scoring class of each row of `logits` `[B,C]`.
pub fn predicted_classes(logits: Tensor<2>) -> Result<Vec<usize>> {
    let pred = logits.argmax(1).try_to_vec_as::<i64>();
    let pred = pred.map_err(|e| CoreError::Invalid(format!("reading predictions back: {e:?}")))?;
    Ok(pred.into_iter().map(|p| p as usize).collect())
}

/// Pads token sequences into a `[B,S]` tensor (each truncated to its last `max_len` tokens).
pub fn pad_batch(
    seqs: &[Vec<u32>],
    pad_id: usize,
    max_len: usize,
    device: &Device,
) -> Tensor<2, Int> {
    let b = seqs.len();
    let s = seqs.iter().map(|x| x.len().min(max_len)).max().unwrap_or(1).max(1);
    let mut ids = vec![pad_id as i64; b * s];
    for (i, x) in seqs.iter().enumerate() {
        let tail = &x[x.len().saturating_sub(max_len)..];
        for (j, &t) in tail.iter().enumerate() {
            ids[i * s + j] = t as i64;
        }
    }
    Tensor::from_data(TensorData::new(ids, [b, s]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_logits_ignore_padding() {
        let dev = Device::flex();
        dev.seed(1);
        let c = Classifier::new(&ClassifierConfig::safety(GeneratorConfig::tiny(30)), &dev);
        let a = c.forward(pad_batch(&[vec![5, 6, 7]], 0, 64, &dev));
        let b = c.forward(pad_batch(&[vec![5, 6, 7], vec![8, 9, 10, 11, 12, 13]], 0, 64, &dev));
        let a: Vec<f32> = a.try_to_vec_as::<f32>().unwrap();
        let b: Vec<f32> = b.try_to_vec_as::<f32>().unwrap();
        assert_eq!(a.len(), 2);
        for i in 0..2 {
            assert!((a[i] - b[i]).abs() < 1e-5, "padding changed the logits: {a:?} vs {b:?}");
        }
        let p: Vec<f32> =
            c.probabilities(pad_batch(&[vec![5]], 0, 64, &dev)).try_to_vec_as::<f32>().unwrap();
        assert!((p[0] + p[1] - 1.0).abs() < 1e-6);
    }
}
