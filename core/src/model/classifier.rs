//! The safety classifier: the transformer encoder of [`super::Encoder`] with a linear head over
//! its states pooled into one vector (ParlAI `transformer/classifier`). What ParlAI's classifier
//! flags change in the network is in the config, so a saved classifier judges exactly as it was
//! trained: the pooling (`--reduction-type`), the factor on the pooled vector
//! (`--output-scaling`), segment embeddings (`--n-segments`; the classifier reads one segment,
//! so segment 0's vector is added to every token, as in ParlAI) and lowercasing (`--dict-lower`).

use super::config::GeneratorConfig;
use super::encoder::Encoder;
use super::generator::Generator;
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
    /// How the encoder's states become one vector.
    #[serde(default)]
    pub reduction: Reduction,
    /// Factor on the pooled vector before the head (ParlAI's `--output-scaling`).
    #[serde(default = "unit_scaling")]
    pub output_scaling: f64,
    /// Rows of the segment-embedding table (ParlAI's `--n-segments`; 0: none).
    #[serde(default)]
    pub n_segments: usize,
    /// Lowercase every text before tokenizing it (ParlAI's `--dict-lower`).
    #[serde(default)]
    pub lowercase: bool,
}

fn unit_scaling() -> f64 {
    1.0
}

/// ParlAI's `--reduction-type`: how a classifier pools its encoder's states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// The mean of the non-pad states.
    #[default]
    Mean,
    /// The first token's state.
    First,
    /// The elementwise maximum over the non-pad states.
    Max,
}

impl ClassifierConfig {
    /// The safety classifier of a preset shape: `pos` (safe) and `neg` (unsafe).
    pub fn safety(encoder: GeneratorConfig) -> Self {
        Self {
            encoder,
            classes: vec!["pos".into(), "neg".into()],
            reduction: Reduction::Mean,
            output_scaling: 1.0,
            n_segments: 0,
            lowercase: false,
        }
    }

    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        if self.classes.len() < 2 {
            return Err(CoreError::Config("a classifier needs at least two classes".into()));
        }
        if !(self.output_scaling.is_finite() && self.output_scaling > 0.0) {
            return Err(CoreError::Config(format!(
                "output_scaling must be a positive number, got {}",
                self.output_scaling
            )));
        }
        Ok(())
    }

    /// The text the classifier tokenizes for `text` (lowercased when [`Self::lowercase`]).
    pub fn normalize<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.lowercase { text.to_lowercase().into() } else { text.into() }
    }
}

/// Encoder + pooled linear head.
#[derive(Module, Debug)]
pub struct Classifier {
    embeddings: Param<Tensor<2>>,
    encoder: Encoder,
    segments: Option<Param<Tensor<2>>>,
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
        Self::from_parts(config, Param::from_tensor(table * keep), Encoder::new(e, device), device)
    }

    /// A classifier whose token embeddings and encoder are those of `generator` (ParlAI's
    /// `--init-model` with `--load-from-pretrained-ranker`: a pretrained encoder under a fresh
    /// head); `config.encoder` must be the generator's config, with its dropouts for the
    /// fine-tuning.
    pub fn from_generator(
        config: &ClassifierConfig,
        generator: Generator,
        device: &Device,
    ) -> Self {
        config.validate().expect("invalid classifier config");
        let (embeddings, mut encoder) = generator.into_encoder();
        encoder.set_dropouts(&config.encoder);
        Self::from_parts(config, embeddings, encoder, device)
    }

    fn from_parts(
        config: &ClassifierConfig,
        embeddings: Param<Tensor<2>>,
        encoder: Encoder,
        device: &Device,
    ) -> Self {
        let d = config.encoder.embedding_size;
        let segments = (config.n_segments > 0).then(|| {
            let std = (d as f64).powf(-0.5);
            Param::from_tensor(Tensor::random(
                [config.n_segments, d],
                Distribution::Normal(0.0, std),
                device,
            ))
        });
        Self {
            embeddings,
            encoder,
            segments,
            head: LinearConfig::new(d, config.classes.len())
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
            config: config.clone(),
        }
    }

    /// The same classifier with its token embeddings frozen (ParlAI's `--learn-embeddings
    /// false`): no gradient reaches them, so the optimizer leaves them as loaded.
    pub fn freeze_embeddings(mut self) -> Self {
        self.embeddings = self.embeddings.set_require_grad(false);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// Class logits `[B,C]` for right-padded token ids `[B,S]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let keep = tokens.clone().not_equal_elem(self.config.encoder.pad_id as i64).float(); // [B,S]
        let states = self.encoder.forward(self.token_table(), tokens).states();
        let pooled = pool(states, keep, self.config.reduction);
        self.head.forward(pooled.mul_scalar(self.config.output_scaling))
    }

    /// The token table the encoder embeds with: with segment embeddings, segment 0's vector is
    /// added to every row, divided by the embedding scale the encoder multiplies rows by, so
    /// that each token's input is its scaled embedding plus the segment vector as in ParlAI.
    fn token_table(&self) -> Tensor<2> {
        let table = self.embeddings.val();
        let Some(segments) = &self.segments else { return table };
        let e = &self.config.encoder;
        let scale = if e.embeddings_scale { (e.embedding_size as f64).sqrt() } else { 1.0 };
        let first = segments.val().slice([0..1, 0..e.embedding_size]).div_scalar(scale);
        table + first
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

/// One vector per sequence from encoder states `[B,S,D]` whose pad rows (`keep` 0) are zero.
fn pool(states: Tensor<3>, keep: Tensor<2>, reduction: Reduction) -> Tensor<2> {
    let [b, _, d] = states.dims();
    match reduction {
        Reduction::Mean => {
            let summed = states.sum_dim(1).reshape([b, d]);
            summed / keep.sum_dim(1).clamp_min(1.0)
        }
        Reduction::First => states.slice([0..b, 0..1, 0..d]).reshape([b, d]),
        Reduction::Max => {
            let pads = (keep.clone().neg() + 1.0).mul_scalar(-1e9).unsqueeze_dim::<3>(2);
            let any_token = keep.sum_dim(1).clamp_max(1.0); // [B,1]: 0 for an all-pad row
            (states + pads).max_dim(1).reshape([b, d]) * any_token
        }
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

    /// Logits of one sequence under the weights of one classifier, each config given in turn
    /// (only the pooling fields differ: the weights are the same).
    fn logits_under(configs: &[ClassifierConfig], seq: &[u32]) -> Vec<Vec<f32>> {
        let dev = Device::flex();
        let mut c = Classifier::new(&configs[0], &dev);
        configs
            .iter()
            .map(|cfg| {
                c.config = cfg.clone();
                let tokens = pad_batch(&[seq.to_vec()], 0, 64, &dev);
                c.forward(tokens).try_to_vec_as::<f32>().unwrap()
            })
            .collect()
    }

    #[test]
    fn reductions_agree_on_one_token_and_differ_on_several() {
        let base = ClassifierConfig::safety(GeneratorConfig::tiny(30));
        let all: Vec<ClassifierConfig> = [Reduction::Mean, Reduction::First, Reduction::Max]
            .map(|reduction| ClassifierConfig { reduction, ..base.clone() })
            .into();
        let one = logits_under(&all, &[5]);
        for l in &one[1..] {
            for (a, b) in l.iter().zip(&one[0]) {
                assert!((a - b).abs() < 1e-5, "{one:?}");
            }
        }
        let several = logits_under(&all, &[5, 6, 7]);
        let differ = |a: &[f32], b: &[f32]| a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-4);
        assert!(
            differ(&several[0], &several[1]) && differ(&several[0], &several[2]),
            "{several:?}"
        );
    }

    #[test]
    fn output_scaling_multiplies_the_pooled_vector_before_the_head() {
        let base = ClassifierConfig::safety(GeneratorConfig::tiny(30));
        let scaled: Vec<ClassifierConfig> = [1.0, 2.0, 3.0]
            .map(|output_scaling| ClassifierConfig { output_scaling, ..base.clone() })
            .into();
        let l = logits_under(&scaled, &[5, 6]);
        for i in 0..2 {
            // the head is affine: equal steps in the scale give equal steps in the logits
            let (d1, d2) = (l[1][i] - l[0][i], l[2][i] - l[1][i]);
            assert!((d2 - d1).abs() < 1e-4, "{l:?}");
        }
        assert!((l[1][0] - l[0][0]).abs() > 1e-6);
        let bad = ClassifierConfig { output_scaling: 0.0, ..base };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_lowercasing_classifier_reads_text_lowercased_and_old_configs_still_load() {
        let cfg = ClassifierConfig {
            lowercase: true,
            ..ClassifierConfig::safety(GeneratorConfig::tiny(30))
        };
        assert_eq!(cfg.normalize("You ARE"), "you are");
        let mut json = serde_json::to_value(&cfg).unwrap();
        for key in ["reduction", "output_scaling", "n_segments", "lowercase"] {
            json.as_object_mut().unwrap().remove(key);
        }
        let old: ClassifierConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old, ClassifierConfig::safety(GeneratorConfig::tiny(30)));
    }
}
