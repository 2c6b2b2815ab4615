//! The safety classifier that judges generations, of either family: the small encoder
//! classifier (a directory with `classifier.json`), or a classification head on a causal LM's
//! backbone (a Hugging Face directory whose `config.json` names
//! `LlamaForSequenceClassification` or a Qwen2/Qwen3 one). `eval`, `iterate` and `compare`
//! take either through `--eval-classifier-model-file`.
//!
//! A causal classifier reads the text as plain tokens (no chat template, no BOS, as
//! `transformers`' text-classification pipeline does for these tokenizers) and pools the last
//! one; an empty text is its start token.

use crate::data::CausalText;
use crate::error::{CoreError, Result};
use crate::hf::causal_classifier::{classifier_config_json, load_classifier, write_safetensors};
use crate::model::ClassifierDir;
use crate::model::causal::CausalClassifier;
use crate::model::model_dir::CLASSIFIER_CONFIG_FILE;
use burn::tensor::Device;
use std::path::Path;

/// A causal classifier with its tokenizer.
pub struct CausalJudge {
    /// The classifier.
    pub model: CausalClassifier,
    /// Its tokenizer (and, kept for the export, its LM's chat template and end tokens).
    pub text: CausalText,
}

impl CausalJudge {
    /// Loads the Hugging Face classifier directory `dir` onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let model = load_classifier(dir, device)?;
        let (tokenizer, template) = crate::pretrained::hf_tokenizer(dir, model.config())?;
        let text = crate::pretrained::causal_text(model.config(), tokenizer, template)?;
        Ok(Self { model, text })
    }

    /// The tokens the classifier reads for `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        classified_tokens(&self.text, text)
    }

    /// Writes `model` with `text`'s tokenizer as a Hugging Face directory `transformers` loads
    /// with `AutoModelForSequenceClassification`, replacing one this tool wrote atomically.
    pub fn save(model: &CausalClassifier, text: &CausalText, dir: &Path) -> Result<()> {
        Self::save_with_extra_files(model, text, dir, &[])
    }

    /// Like [`CausalJudge::save`], with more files in the same atomic swap (a training
    /// checkpoint's optimizer and trainer state).
    pub fn save_with_extra_files(
        model: &CausalClassifier,
        text: &CausalText,
        dir: &Path,
        extra: &[(&str, &[u8])],
    ) -> Result<()> {
        let config = classifier_config_json(model);
        let weights = |out: &mut dyn std::io::Write| write_safetensors(model, out);
        crate::pretrained::write_hf_dir(dir, model.config(), &config, text, &weights, extra)
    }
}

/// The tokens a causal classifier reads for `text`: its plain tokens, or the start token.
pub fn classified_tokens(text_side: &CausalText, text: &str) -> Result<Vec<u32>> {
    let mut ids = text_side.encode(text)?;
    if ids.is_empty() {
        ids.push(text_side.start_id);
    }
    Ok(ids)
}

/// A safety classifier of either family.
pub enum SafetyClassifier {
    /// The encoder classifier.
    Encoder(Box<ClassifierDir>),
    /// A head on a causal LM's backbone.
    Causal(Box<CausalJudge>),
}

/// Whether `dir` holds a Hugging Face sequence classifier (a head on a causal backbone) rather
/// than the encoder classifier: what [`SafetyClassifier::load`] decides on.
pub fn is_causal_classifier_dir(dir: &Path) -> bool {
    !dir.join(CLASSIFIER_CONFIG_FILE).is_file() && dir.join("config.json").is_file()
}

impl SafetyClassifier {
    /// Loads the classifier directory `dir` (either kind) onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        if dir.join(CLASSIFIER_CONFIG_FILE).is_file() {
            return Ok(Self::Encoder(Box::new(ClassifierDir::load(dir, device)?)));
        }
        if is_causal_classifier_dir(dir) {
            return Ok(Self::Causal(Box::new(CausalJudge::load(dir, device)?)));
        }
        Err(CoreError::file(
            dir,
            "is not a classifier directory (expected classifier.json from `cringe train-classifier`, or a Hugging Face sequence classifier's config.json)",
        ))
    }

    /// Class names, in output order.
    pub fn classes(&self) -> &[String] {
        match self {
            Self::Encoder(c) => &c.model.config().classes,
            Self::Causal(c) => c.model.classes(),
        }
    }

    /// The predicted class of each text, each read up to its last `max_len` tokens.
    pub fn predict(&self, texts: &[String], max_len: usize, device: &Device) -> Result<Vec<usize>> {
        match self {
            Self::Encoder(c) => {
                let seqs: Vec<Vec<u32>> =
                    texts.iter().map(|t| c.encode(t)).collect::<Result<_>>()?;
                let max_len = max_len.min(c.model.config().encoder.n_positions);
                c.model.predict(&seqs, max_len, device)
            }
            Self::Causal(c) => {
                let seqs: Vec<Vec<u32>> =
                    texts.iter().map(|t| c.encode(t)).collect::<Result<_>>()?;
                c.model.predict(&seqs, max_len, device)
            }
        }
    }

    /// The verdict on each text: true = safe (class `pos`).
    pub fn is_safe(&self, texts: &[String], max_len: usize, device: &Device) -> Result<Vec<bool>> {
        let pos = self.classes().iter().position(|n| n == "pos").ok_or_else(|| {
            CoreError::Config("the classifier has no `pos` class to call safe".into())
        })?;
        let mut verdicts = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            verdicts.extend(self.predict(chunk, max_len, device)?.into_iter().map(|p| p == pos));
        }
        Ok(verdicts)
    }
}
