//! Memory footprints, estimated from a model's shape before anything is allocated, so that a
//! batch or beam far too large for the machine is a one-line error ("needs ~28 GB; reduce
//! --beam-size or -bs") instead of an allocation failure that aborts the process.
//!
//! The figures are upper-end estimates of the tensors a step holds at once (f32, 4 bytes an
//! element), not exact accounting: they only need to tell a run that fits from one that is off
//! by orders of magnitude.

use super::causal::CausalConfig;
use super::config::GeneratorConfig;

const F32: u64 = 4;

/// Bytes that decoding `rows` hypotheses at once (contexts × beam) needs: the encoder's
/// activations for contexts of `context_len` tokens, the cross-attention keys and values, the
/// self-attention cache for `max_len` steps, and a few vocabulary-wide score rows per hypothesis.
pub fn decoding_bytes(
    cfg: &GeneratorConfig,
    rows: usize,
    context_len: usize,
    max_len: usize,
) -> u64 {
    let (d, f, v) = (cfg.embedding_size as u64, cfg.ffn_size as u64, cfg.vocab_size as u64);
    let (rows, ctx, len) = (rows as u64, context_len as u64, max_len as u64);
    let layers = cfg.n_decoder_layers as u64;
    let encoder = ctx * (4 * d + f) + cfg.n_heads as u64 * ctx * ctx;
    let cache = layers * 2 * d * (ctx + len);
    let step = 4 * d + f + cfg.n_heads as u64 * (ctx + len) + 4 * v;
    let weights = cfg.num_params_u64();
    F32 * (weights + rows * (encoder + cache + step))
}

/// Bytes that one training update on `batch` examples of `context_len` + `label_len` tokens
/// needs: weights, gradients and the two Adam moments, the activations kept for the backward
/// pass, and the output logits with their gradient.
pub fn training_bytes(
    cfg: &GeneratorConfig,
    batch: usize,
    context_len: usize,
    label_len: usize,
) -> u64 {
    let (d, f, v, h) =
        (cfg.embedding_size as u64, cfg.ffn_size as u64, cfg.vocab_size as u64, cfg.n_heads as u64);
    let (b, ctx, len) = (batch as u64, context_len as u64, label_len as u64);
    let per_token_layer = 12 * d + 2 * f;
    let encoder = cfg.n_encoder_layers as u64 * ctx * (per_token_layer + h * ctx);
    let decoder = cfg.n_decoder_layers as u64 * len * (per_token_layer + 4 * d + h * (len + ctx));
    let logits = 3 * len * v;
    F32 * (4 * cfg.num_params_u64() + b * (encoder + decoder + logits))
}

/// Bytes that one training update of the encoder classifier on `batch` texts of `tokens`
/// tokens needs: the encoder's weights, gradients and Adam moments and its activations (the
/// two-way head is negligible).
pub fn classifier_training_bytes(cfg: &GeneratorConfig, batch: usize, tokens: usize) -> u64 {
    let (d, f, h) = (cfg.embedding_size as u64, cfg.ffn_size as u64, cfg.n_heads as u64);
    let (b, len) = (batch as u64, tokens as u64);
    let encoder = cfg.n_encoder_layers as u64 * len * (12 * d + 2 * f + h * len);
    F32 * (4 * cfg.encoder_num_params() as u64 + b * encoder)
}

/// Bytes that one training update of a causal LM on `batch` rows of `prompt_len` +
/// `target_len` tokens needs: weights, gradients and the two Adam moments, each block's
/// activations kept for the backward pass (attention scores included), and the logits of the
/// target positions with their gradient.
pub fn causal_training_bytes(
    cfg: &CausalConfig,
    batch: usize,
    prompt_len: usize,
    target_len: usize,
) -> u64 {
    let (d, f, v) = (cfg.hidden_size as u64, cfg.intermediate_size as u64, cfg.vocab_size as u64);
    let h = cfg.num_attention_heads as u64;
    let (b, len, tgt) = (batch as u64, (prompt_len + target_len) as u64, target_len as u64);
    let per_layer = len * (12 * d + 3 * f + h * len);
    let logits = 3 * tgt * v;
    F32 * (4 * cfg.num_params() as u64 + b * (cfg.num_hidden_layers as u64 * per_layer + logits))
}

/// `bytes` as "28.3 GB".
pub fn format_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / 1e9),
        b => format!("{:.0} MB", (b as f64 / 1e6).max(1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprints_grow_with_batch_and_beam_and_the_demo_shapes_stay_small() {
        let small = GeneratorConfig::small(8000);
        let demo_decode = decoding_bytes(&small, 32 * 10, 128, 24);
        assert!(demo_decode < 4 << 30, "{}", format_bytes(demo_decode));
        let demo_train = training_bytes(&small, 16, 48, 24);
        assert!(demo_train < 4 << 30, "{}", format_bytes(demo_train));
        // a million beams or a hundred million examples are refused long before allocation
        assert!(decoding_bytes(&small, 8 * 1_000_000, 128, 128) > 1 << 40);
        assert!(training_bytes(&small, 100_000_000, 128, 128) > 1 << 40);
        assert!(decoding_bytes(&small, 20, 64, 24) > decoding_bytes(&small, 10, 64, 24));
        let smollm2 = CausalConfig::smollm2_135m();
        let causal = causal_training_bytes(&smollm2, 8, 128, 128);
        assert!(causal > 4 * 4 * 134_000_000 && causal < 8 << 30, "{}", format_bytes(causal));
        assert!(causal_training_bytes(&smollm2, 100_000, 128, 128) > 1 << 40);
        assert_eq!(format_bytes(28_300_000_000), "28.3 GB");
        assert_eq!(format_bytes(5_000_000), "5 MB");
    }
}
