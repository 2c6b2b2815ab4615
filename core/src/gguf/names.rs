//! GGUF tensor names ⇄ Hugging Face names, and the rotary row order of Llama's q/k.
//!
//! llama.cpp's converter reorders the rows of Llama's query and key projections (weights and
//! biases) so that each rotary pair is adjacent (`x₀, x₁`), where `transformers` pairs the two
//! halves of a head (`xᵢ, x_{i+d/2}`). Qwen2 and Qwen3 files keep the `transformers` order.

/// Per-block names: GGUF's after `blk.N.`, Hugging Face's after `model.layers.N.`.
const BLOCK: &[(&str, &str)] = &[
    ("attn_norm", "input_layernorm"),
    ("ffn_norm", "post_attention_layernorm"),
    ("attn_q", "self_attn.q_proj"),
    ("attn_k", "self_attn.k_proj"),
    ("attn_v", "self_attn.v_proj"),
    ("attn_output", "self_attn.o_proj"),
    ("attn_q_norm", "self_attn.q_norm"),
    ("attn_k_norm", "self_attn.k_norm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_up", "mlp.up_proj"),
    ("ffn_down", "mlp.down_proj"),
];

/// Whole-model names.
const TOP: &[(&str, &str)] = &[
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];

/// The GGUF name of a Hugging Face tensor name, if it has one.
pub fn gguf_name(hf: &str) -> Option<String> {
    if let Some((g, _)) = TOP.iter().find(|(_, h)| *h == hf) {
        return Some(g.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (index, rest) = rest.split_once('.')?;
    let (module, param) = rest.rsplit_once('.')?;
    let (g, _) = BLOCK.iter().find(|(_, h)| *h == module)?;
    Some(format!("blk.{index}.{g}.{param}"))
}

/// The Hugging Face name of a GGUF tensor name, if it has one.
pub fn hf_name(gguf: &str) -> Option<String> {
    if let Some((_, h)) = TOP.iter().find(|(g, _)| *g == gguf) {
        return Some(h.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (index, rest) = rest.split_once('.')?;
    let (module, param) = rest.rsplit_once('.')?;
    let (_, h) = BLOCK.iter().find(|(g, _)| *g == module)?;
    index.parse::<usize>().ok()?;
    Some(format!("model.layers.{index}.{h}.{param}"))
}

/// Whether `hf` is a Llama query or key projection whose rows GGUF reorders; the number of
/// heads it spans (query heads for q, key/value heads for k).
pub fn permuted_heads(hf: &str, heads: usize, kv_heads: usize) -> Option<usize> {
    let (_, proj) = hf.rsplit_once(".self_attn.")?;
    match proj {
        "q_proj.weight" | "q_proj.bias" => Some(heads),
        "k_proj.weight" | "k_proj.bias" => Some(kv_heads),
        _ => None,
    }
}

/// Undoes llama.cpp's row order: `values` holds `rows` rows of `cols` values, `heads` heads
/// of `rows / heads` rows each; GGUF row `2i + t` of a head becomes row `t·d/2 + i`.
pub fn unpermute_rows(values: &[f32], heads: usize, cols: usize) -> Vec<f32> {
    let rows = values.len() / cols;
    let d = rows / heads;
    let half = d / 2;
    let mut out = vec![0f32; values.len()];
    for h in 0..heads {
        for i in 0..half {
            for t in 0..2 {
                let from = (h * d + 2 * i + t) * cols;
                let to = (h * d + t * half + i) * cols;
                out[to..to + cols].copy_from_slice(&values[from..from + cols]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate_both_ways() {
        for hf in [
            "model.embed_tokens.weight",
            "lm_head.weight",
            "model.layers.12.self_attn.k_proj.bias",
            "model.layers.0.mlp.down_proj.weight",
            "model.layers.3.self_attn.q_norm.weight",
        ] {
            let g = gguf_name(hf).unwrap();
            assert_eq!(hf_name(&g).as_deref(), Some(hf), "via {g}");
        }
        assert_eq!(
            gguf_name("model.layers.1.post_attention_layernorm.weight").unwrap(),
            "blk.1.ffn_norm.weight"
        );
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }

    #[test]
    fn unpermuting_restores_split_halves_from_interleaved_pairs() {
        // one head of 4 rows (pairs (0,2) and (1,3) in HF order), 1 column; GGUF stores 0,2,1,3
        assert_eq!(unpermute_rows(&[0.0, 2.0, 1.0, 3.0], 1, 1), vec![0.0, 1.0, 2.0, 3.0]);
        // two heads, two columns
        let g = [0., 0., 2., 2., 1., 1., 3., 3., 4., 4., 6., 6., 5., 5., 7., 7.];
        let want: Vec<f32> = (0..8).flat_map(|x| [x as f32, x as f32]).collect();
        assert_eq!(unpermute_rows(&g, 2, 2), want);
    }
}
