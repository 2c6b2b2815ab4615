//! Parameter names: the generator's module paths ⇄ Hugging Face Blenderbot tensor names.
//!
//! The mapping depends only on the path (which parameters exist depends on the variant).
//! PyTorch `Linear` weights are `[out, in]` where Burn's are `[in, out]`, and the logits bias
//! is `[1, V]` in `transformers`; [`Layout`] says how to convert.

/// How a tensor's layout differs between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Same shape and element order.
    Same,
    /// A linear weight: transposed.
    Transposed,
    /// Our `[V]` is their `[1, V]`.
    LeadingOne,
}

/// Names under which `transformers` may store the shared token embeddings (the first is the
/// canonical one that `save_pretrained` writes; tied copies may appear under the others).
pub const SHARED_ALIASES: &[&str] = &[
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
];

/// The Hugging Face name of our parameter at `path` (dot-separated), and its layout.
pub fn hf_name(path: &str) -> Option<(String, Layout)> {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["embeddings"] => Some((SHARED_ALIASES[0].into(), Layout::Same)),
        ["logits_bias"] => Some(("final_logits_bias".into(), Layout::LeadingOne)),
        ["encoder", "embed", rest @ ..] => embed_name("encoder", rest),
        ["dec_embed", rest @ ..] => embed_name("decoder", rest),
        ["encoder", "final_norm", p] => {
            Some((format!("model.encoder.layer_norm.{}", norm_param(p)?), Layout::Same))
        }
        ["dec_final_norm", p] => {
            Some((format!("model.decoder.layer_norm.{}", norm_param(p)?), Layout::Same))
        }
        ["encoder", "layers", i, module @ .., p] => {
            let m = match module {
                ["attention", lin] => format!("self_attn.{}", proj(lin)?),
                ["norm1"] => "self_attn_layer_norm".into(),
                ["ffn", lin] => ffn(lin)?.into(),
                ["norm2"] => "final_layer_norm".into(),
                _ => return None,
            };
            layer_param("encoder", i, &m, p)
        }
        ["decoder", i, module @ .., p] => {
            let m = match module {
                ["self_attention", lin] => format!("self_attn.{}", proj(lin)?),
                ["norm1"] => "self_attn_layer_norm".into(),
                ["encoder_attention", lin] => format!("encoder_attn.{}", proj(lin)?),
                ["norm2"] => "encoder_attn_layer_norm".into(),
                ["ffn", lin] => ffn(lin)?.into(),
                ["norm3"] => "final_layer_norm".into(),
                _ => return None,
            };
            layer_param("decoder", i, &m, p)
        }
        _ => None,
    }
}

fn embed_name(stack: &str, rest: &[&str]) -> Option<(String, Layout)> {
    match rest {
        ["positions"] => Some((format!("model.{stack}.embed_positions.weight"), Layout::Same)),
        ["norm_embeddings", p] => {
            Some((format!("model.{stack}.layernorm_embedding.{}", norm_param(p)?), Layout::Same))
        }
        _ => None,
    }
}

fn layer_param(stack: &str, index: &str, module: &str, param: &str) -> Option<(String, Layout)> {
    index.parse::<usize>().ok()?;
    let is_norm = module.ends_with("layer_norm");
    let (name, layout) = match (is_norm, param) {
        (true, p) => (norm_param(p)?, Layout::Same),
        (false, "weight") => ("weight", Layout::Transposed),
        (false, "bias") => ("bias", Layout::Same),
        _ => return None,
    };
    Some((format!("model.{stack}.layers.{index}.{module}.{name}"), layout))
}

fn norm_param(p: &str) -> Option<&'static str> {
    match p {
        "gamma" => Some("weight"),
        "beta" => Some("bias"),
        _ => None,
    }
}

fn proj(lin: &str) -> Option<&'static str> {
    match lin {
        "q_lin" => Some("q_proj"),
        "k_lin" => Some("k_proj"),
        "v_lin" => Some("v_proj"),
        "out_lin" => Some("out_proj"),
        _ => None,
    }
}

fn ffn(lin: &str) -> Option<&'static str> {
    match lin {
        "lin1" => Some("fc1"),
        "lin2" => Some("fc2"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_kind_of_parameter() {
        let cases = [
            ("embeddings", "model.shared.weight", Layout::Same),
            ("logits_bias", "final_logits_bias", Layout::LeadingOne),
            ("encoder.embed.positions", "model.encoder.embed_positions.weight", Layout::Same),
            (
                "dec_embed.norm_embeddings.beta",
                "model.decoder.layernorm_embedding.bias",
                Layout::Same,
            ),
            (
                "encoder.layers.1.attention.k_lin.weight",
                "model.encoder.layers.1.self_attn.k_proj.weight",
                Layout::Transposed,
            ),
            (
                "encoder.layers.0.norm2.gamma",
                "model.encoder.layers.0.final_layer_norm.weight",
                Layout::Same,
            ),
            ("encoder.final_norm.beta", "model.encoder.layer_norm.bias", Layout::Same),
            (
                "decoder.3.encoder_attention.out_lin.bias",
                "model.decoder.layers.3.encoder_attn.out_proj.bias",
                Layout::Same,
            ),
            (
                "decoder.0.norm2.gamma",
                "model.decoder.layers.0.encoder_attn_layer_norm.weight",
                Layout::Same,
            ),
            ("decoder.2.ffn.lin2.weight", "model.decoder.layers.2.fc2.weight", Layout::Transposed),
            ("dec_final_norm.gamma", "model.decoder.layer_norm.weight", Layout::Same),
        ];
        for (ours, theirs, layout) in cases {
            assert_eq!(hf_name(ours), Some((theirs.to_string(), layout)), "{ours}");
        }
        assert_eq!(hf_name("decoder.x.norm1.gamma"), None);
        assert_eq!(hf_name("encoder.layers.0.ffn.lin3.weight"), None);
    }
}
