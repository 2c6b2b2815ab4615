//! ParlAI's transformer flags (`--embedding-size`, `--n-layers`, `--variant`, `--dropout`, …):
//! the seed's `parlai train` command describes its model with them rather than with a preset, so
//! `cringe train` and `train-classifier` take them too and mean what ParlAI means by them.
//!
//! On a fresh model each flag given replaces its field of `--preset` (or `--model-config`).
//! With `--init-model` the weights fix the shape, so a shape flag must agree with the loaded
//! config — ParlAI would fail to load the weights otherwise; here the error names both values —
//! while the regularisation flags (the dropouts) apply to the fine-tuning as in ParlAI.

use super::parse_bool;
use clap::{ArgAction, Args, ValueEnum};
use cringe_core::model::{Activation, GeneratorConfig, Variant};

/// `--variant` values (ParlAI's `aiayn`, `xlm`, `prelayernorm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// Post-norm, as in "Attention Is All You Need".
    Aiayn,
    /// Post-norm plus a layer norm on the embeddings (BlenderBot 90M).
    Xlm,
    /// Pre-norm blocks plus a final layer norm (BlenderBot 3B).
    Prelayernorm,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Aiayn => Variant::Aiayn,
            VariantArg::Xlm => Variant::Xlm,
            VariantArg::Prelayernorm => Variant::Prelayernorm,
        }
    }
}

/// `--activation` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActivationArg {
    /// max(0, x).
    Relu,
    /// Exact (erf) GELU.
    Gelu,
}

impl From<ActivationArg> for Activation {
    fn from(a: ActivationArg) -> Self {
        match a {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Gelu => Activation::Gelu,
        }
    }
}

/// The transformer's shape and regularisation, as ParlAI's flags name them. Every flag is
/// optional: what is not given comes from `--preset`, `--model-config` or `--init-model`.
#[derive(Debug, Clone, Default, Args)]
pub struct ModelShapeArgs {
    /// Model width d (ParlAI -esz).
    #[arg(
        long = "embedding-size",
        value_name = "D",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub embedding_size: Option<usize>,

    /// Hidden size of each feed-forward block (ParlAI -hid).
    #[arg(
        long = "ffn-size",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub ffn_size: Option<usize>,

    /// Layers of the encoder and of the decoder, where --n-encoder-layers / --n-decoder-layers
    /// do not say otherwise (ParlAI -nl).
    #[arg(
        long = "n-layers",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub n_layers: Option<usize>,

    /// Encoder layers (ParlAI -nel).
    #[arg(
        long = "n-encoder-layers",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub n_encoder_layers: Option<usize>,

    /// Decoder layers (ParlAI -ndl).
    #[arg(
        long = "n-decoder-layers",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub n_decoder_layers: Option<usize>,

    /// Attention heads; must divide --embedding-size.
    #[arg(
        long = "n-heads",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub n_heads: Option<usize>,

    /// Longest context (and response) the position embeddings cover.
    #[arg(
        long = "n-positions",
        value_name = "N",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub n_positions: Option<usize>,

    /// Where the layer norms sit.
    #[arg(long, value_enum, help_heading = "Model shape (ParlAI's flags; over --preset)")]
    pub variant: Option<VariantArg>,

    /// Learned position embeddings (true) or fixed sinusoids (false).
    #[arg(long = "learn-positional-embeddings", action = ArgAction::Set, value_parser = parse_bool, value_name = "BOOL", help_heading = "Model shape (ParlAI's flags; over --preset)")]
    pub learn_positional_embeddings: Option<bool>,

    /// Multiply token embeddings by sqrt(embedding size).
    #[arg(long = "embeddings-scale", action = ArgAction::Set, value_parser = parse_bool, value_name = "BOOL", help_heading = "Model shape (ParlAI's flags; over --preset)")]
    pub embeddings_scale: Option<bool>,

    /// Feed-forward nonlinearity.
    #[arg(long, value_enum, help_heading = "Model shape (ParlAI's flags; over --preset)")]
    pub activation: Option<ActivationArg>,

    /// Dropout on embeddings and block outputs (also when fine-tuning an --init-model).
    #[arg(long, value_name = "P", help_heading = "Model shape (ParlAI's flags; over --preset)")]
    pub dropout: Option<f64>,

    /// Dropout on the attention weights (also when fine-tuning an --init-model).
    #[arg(
        long = "attention-dropout",
        value_name = "P",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub attention_dropout: Option<f64>,

    /// Dropout after the feed-forward nonlinearity (also when fine-tuning an --init-model).
    #[arg(
        long = "relu-dropout",
        value_name = "P",
        help_heading = "Model shape (ParlAI's flags; over --preset)"
    )]
    pub relu_dropout: Option<f64>,
}

/// One shape flag as given: its name, the value given, the config field's value.
struct ShapeField {
    flag: &'static str,
    given: Option<String>,
    field: &'static str,
    current: String,
}

impl ModelShapeArgs {
    /// Whether any flag of the group was given.
    pub fn any(&self) -> bool {
        self.shape_fields(&GeneratorConfig::tiny(1)).iter().any(|f| f.given.is_some())
            || self.regularisation_given()
    }

    /// Whether a dropout flag was given.
    pub fn regularisation_given(&self) -> bool {
        self.dropout.is_some() || self.attention_dropout.is_some() || self.relu_dropout.is_some()
    }

    /// The encoder and decoder layer counts these flags ask for (per-part flags over
    /// `--n-layers`).
    fn layers(&self) -> (Option<usize>, Option<usize>) {
        (self.n_encoder_layers.or(self.n_layers), self.n_decoder_layers.or(self.n_layers))
    }

    /// Every shape flag (dropouts excluded) beside the field it sets in `cfg`.
    fn shape_fields(&self, cfg: &GeneratorConfig) -> Vec<ShapeField> {
        let (enc, dec) = self.layers();
        let variant = |v: Variant| format!("{v:?}").to_lowercase();
        let activation = |a: Activation| format!("{a:?}").to_lowercase();
        let row = |flag, given: Option<String>, field, current: String| ShapeField {
            flag,
            given,
            field,
            current,
        };
        vec![
            row(
                "--embedding-size",
                self.embedding_size.map(|v| v.to_string()),
                "embedding_size",
                cfg.embedding_size.to_string(),
            ),
            row(
                "--ffn-size",
                self.ffn_size.map(|v| v.to_string()),
                "ffn_size",
                cfg.ffn_size.to_string(),
            ),
            row(
                "--n-encoder-layers",
                enc.map(|v| v.to_string()),
                "n_encoder_layers",
                cfg.n_encoder_layers.to_string(),
            ),
            row(
                "--n-decoder-layers",
                dec.map(|v| v.to_string()),
                "n_decoder_layers",
                cfg.n_decoder_layers.to_string(),
            ),
            row(
                "--n-heads",
                self.n_heads.map(|v| v.to_string()),
                "n_heads",
                cfg.n_heads.to_string(),
            ),
            row(
                "--n-positions",
                self.n_positions.map(|v| v.to_string()),
                "n_positions",
                cfg.n_positions.to_string(),
            ),
            row(
                "--variant",
                self.variant.map(|v| variant(v.into())),
                "variant",
                variant(cfg.variant),
            ),
            row(
                "--learn-positional-embeddings",
                self.learn_positional_embeddings.map(|v| v.to_string()),
                "learn_positional_embeddings",
                cfg.learn_positional_embeddings.to_string(),
            ),
            row(
                "--embeddings-scale",
                self.embeddings_scale.map(|v| v.to_string()),
                "embeddings_scale",
                cfg.embeddings_scale.to_string(),
            ),
            row(
                "--activation",
                self.activation.map(|a| activation(a.into())),
                "activation",
                activation(cfg.activation),
            ),
        ]
    }

    /// Sets every field these flags give in the config of a fresh model (a preset's or a
    /// `--model-config` file's).
    pub fn apply(&self, cfg: &mut GeneratorConfig) {
        let (enc, dec) = self.layers();
        let set = |field: &mut usize, v: Option<usize>| *field = v.unwrap_or(*field);
        set(&mut cfg.embedding_size, self.embedding_size);
        set(&mut cfg.ffn_size, self.ffn_size);
        set(&mut cfg.n_encoder_layers, enc);
        set(&mut cfg.n_decoder_layers, dec);
        set(&mut cfg.n_heads, self.n_heads);
        set(&mut cfg.n_positions, self.n_positions);
        cfg.variant = self.variant.map_or(cfg.variant, Into::into);
        cfg.activation = self.activation.map_or(cfg.activation, Into::into);
        cfg.learn_positional_embeddings =
            self.learn_positional_embeddings.unwrap_or(cfg.learn_positional_embeddings);
        cfg.embeddings_scale = self.embeddings_scale.unwrap_or(cfg.embeddings_scale);
        self.apply_regularisation(cfg);
    }

    /// Sets the dropouts these flags give (the part that applies over an `--init-model`).
    pub fn apply_regularisation(&self, cfg: &mut GeneratorConfig) {
        cfg.dropout = self.dropout.unwrap_or(cfg.dropout);
        cfg.attention_dropout = self.attention_dropout.unwrap_or(cfg.attention_dropout);
        cfg.relu_dropout = self.relu_dropout.unwrap_or(cfg.relu_dropout);
    }

    /// Checks that every shape flag given agrees with the config of the model in `source`
    /// (an `--init-model` or a checkpoint): its weights fix the shape.
    pub fn check_against(&self, cfg: &GeneratorConfig, source: &str) -> anyhow::Result<()> {
        let clashes: Vec<String> = self
            .shape_fields(cfg)
            .into_iter()
            .filter_map(|f| {
                let given = f.given?;
                (given != f.current).then(|| {
                    format!("{} {given}, but {source} has {} = {}", f.flag, f.field, f.current)
                })
            })
            .collect();
        anyhow::ensure!(
            clashes.is_empty(),
            "the model's shape is fixed by its weights: {}; drop the flag or give the model's value",
            clashes.join("; ")
        );
        Ok(())
    }

    /// [`Self::check_against`] for a model whose encoder alone is used (a classifier on a BB1
    /// model's encoder): `--n-layers` is the encoder's depth and the decoder's is not compared.
    pub fn check_encoder_against(&self, cfg: &GeneratorConfig, source: &str) -> anyhow::Result<()> {
        let encoder_only = Self {
            n_encoder_layers: self.n_encoder_layers.or(self.n_layers),
            n_layers: None,
            n_decoder_layers: None,
            ..self.clone()
        };
        encoder_only.check_against(cfg, source)
    }

    /// For a causal LM, whose shape has other names: no shape flag may be given (its weights
    /// fix the shape), and the dropouts have nothing to act on (the Llama family trains
    /// without dropout), so they are noted and ignored.
    pub fn check_causal(&self, source: &str) -> anyhow::Result<()> {
        let given: Vec<&str> = self
            .shape_fields(&GeneratorConfig::tiny(1))
            .into_iter()
            .filter(|f| f.given.is_some())
            .map(|f| f.flag)
            .collect();
        anyhow::ensure!(
            given.is_empty(),
            "{} describe the BB1 encoder–decoder; {source} is a causal LM whose shape its config.json fixes; drop {}",
            given.join(", "),
            if given.len() == 1 { "it" } else { "them" }
        );
        if self.regularisation_given() {
            eprintln!(
                "note: --dropout / --attention-dropout / --relu-dropout: {source} is a causal LM of the Llama family, which has no dropout layers; ignored"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(f: impl FnOnce(&mut ModelShapeArgs)) -> ModelShapeArgs {
        let mut a = ModelShapeArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn the_seed_commands_shape_flags_turn_the_small_preset_into_bb1_3b() {
        let seed = shape(|a| {
            a.embedding_size = Some(2560);
            a.ffn_size = Some(10240);
            a.n_decoder_layers = Some(24);
            a.n_encoder_layers = Some(2);
            a.n_heads = Some(32);
            a.n_positions = Some(128);
            a.variant = Some(VariantArg::Prelayernorm);
            a.learn_positional_embeddings = Some(true);
            a.attention_dropout = Some(0.1);
            a.dropout = Some(0.1);
            a.relu_dropout = Some(0.0);
        });
        let mut cfg = GeneratorConfig::small(8008);
        seed.apply(&mut cfg);
        assert_eq!(cfg, GeneratorConfig::bb1_3b(8008));
    }

    #[test]
    fn n_layers_sets_both_stacks_unless_a_stack_is_named() {
        let mut cfg = GeneratorConfig::tiny(100);
        shape(|a| {
            a.n_layers = Some(6);
            a.n_decoder_layers = Some(3);
        })
        .apply(&mut cfg);
        assert_eq!((cfg.n_encoder_layers, cfg.n_decoder_layers), (6, 3));
    }

    #[test]
    fn a_shape_flag_that_disagrees_with_the_loaded_model_names_both_values() {
        let cfg = GeneratorConfig::bb1_90m(100);
        let e = shape(|a| {
            a.embedding_size = Some(2560);
            a.variant = Some(VariantArg::Xlm);
        })
        .check_against(&cfg, "--init-model runs/m")
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--embedding-size 2560, but --init-model runs/m has embedding_size = 512"),
            "{e}"
        );
        assert!(!e.contains("--variant"), "{e}");
        let agreeing = shape(|a| {
            a.embedding_size = Some(512);
            a.dropout = Some(0.3);
        });
        agreeing.check_against(&cfg, "x").unwrap();
    }

    #[test]
    fn dropouts_apply_over_a_loaded_model_and_shape_flags_are_refused_on_a_causal_lm() {
        let mut cfg = GeneratorConfig::bb1_90m(100);
        shape(|a| a.relu_dropout = Some(0.2)).apply_regularisation(&mut cfg);
        assert_eq!(cfg.relu_dropout, 0.2);
        assert_eq!(cfg.embedding_size, 512);
        let e = shape(|a| a.n_heads = Some(9)).check_causal("m.gguf").unwrap_err().to_string();
        assert!(e.contains("--n-heads") && e.contains("m.gguf is a causal LM"), "{e}");
        shape(|a| a.dropout = Some(0.1)).check_causal("m.gguf").unwrap();
    }
}
