//! Helpers shared by the end-to-end tests (each test file includes this module).
#![allow(dead_code)]

pub mod causal;

use burn::tensor::Device;
use burn::tensor::activation::log_softmax;
use cringe_core::data::{Batcher, Example, Label, TruncationConfig};
use cringe_core::model::ModelDir;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the `cringe` binary and asserts that it succeeded, showing its output if not.
pub fn cringe_ok(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cringe {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Mean per-token log-probability, under the model in `dir`, of the responses with `label`.
pub fn mean_logprob(dir: &Path, examples: &[Example], label: Label) -> f64 {
    let dev = Device::flex();
    let md = ModelDir::load(dir, &dev).unwrap();
    let cfg = md.model.config().clone();
    let batcher = Batcher::new(
        md.tokenizer,
        TruncationConfig { text_truncate: 64, label_truncate: 64 },
        cfg.n_positions,
    );
    let items: Vec<_> =
        examples.iter().filter(|e| e.label == label).map(|e| batcher.encode(e).unwrap()).collect();
    let batch = batcher.collate(&items, &dev);
    let tokens = batch.target_tokens();
    let logits = md.model.forward(batch.context, batch.decoder_input);
    let [b, t, v] = logits.dims();
    let lp = log_softmax(logits.reshape([b * t, v]), 1)
        .gather(1, batch.targets.clone().reshape([b * t, 1]));
    let mask = batch.targets.reshape([b * t, 1]).not_equal_elem(cfg.pad_id as i64).float();
    let sum: f32 = (lp * mask).sum().into_scalar();
    sum as f64 / tokens as f64
}

/// All weights of a model directory, in parameter order (burnpack files also hold the random
/// parameter ids, so files of two runs differ even when their weights are equal).
pub fn model_weights(dir: &Path) -> Vec<Vec<f32>> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let md =
        ModelDir::load(dir, &Device::flex()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut c = Collect(Vec::new());
    md.model.visit(&mut c);
    c.0
}
