//! The causal LM: token embeddings, a stack of [`CausalBlock`]s, a final RMSNorm and the
//! output projection (the embedding table itself when `tie_word_embeddings`).
//!
//! Two ways in. Training and scoring run a whole right-padded `[B,T]` block with a causal
//! mask, on packed rows ([`CausalLm::forward_rows`]), like the BB1 generator's decoder.
//! Generation feeds left-padded prompts and then one token per step through a
//! [`CausalCache`] ([`CausalLm::extend`]): positions count from each row's first real token
//! and pad columns are masked as keys, as `transformers` does with an attention mask.

use super::attention::AttentionInputs;
use super::block::CausalBlock;
use super::cache::CausalCache;
use super::config::CausalConfig;
use super::mlp::linear;
use super::norm::RmsNorm;
use super::rope::{Positions, Rope};
use crate::data::CausalBatch;
use crate::mask::NEG_INF;
use crate::model::packing::Packing;
use crate::model::precision;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Embeddings, blocks and the final norm (`model.*` in the checkpoints): the backbone the
/// language model and the sequence classifier share.
#[derive(Module, Debug)]
pub struct Body {
    embed_tokens: Embedding,
    layers: Vec<CausalBlock>,
    norm: RmsNorm,
}

impl Body {
    /// A freshly initialised backbone.
    pub(super) fn new(cfg: &CausalConfig, device: &Device) -> Self {
        let (v, d, std) = (cfg.vocab_size, cfg.hidden_size, cfg.initializer_range);
        Self {
            embed_tokens: EmbeddingConfig::new(v, d)
                .with_initializer(Initializer::Normal { mean: 0.0, std })
                .init(device),
            layers: (0..cfg.num_hidden_layers).map(|_| CausalBlock::new(cfg, device)).collect(),
            norm: RmsNorm::new(d, cfg.rms_norm_eps, device),
        }
    }

    /// The hidden states, before the final norm, of the positions `rows` keeps of the
    /// right-padded `tokens` `[B,T]`, under a causal mask.
    pub(super) fn hidden_rows(
        &self,
        rope: &Rope,
        tokens: Tensor<2, Int>,
        rows: &Packing,
    ) -> Tensor<2> {
        let [_, t] = tokens.dims();
        let device = tokens.device();
        let (cos, sin) = rope.tables(&Positions::shared(0, t), &device);
        let bias = (t > 1).then(|| mask_bias(&[0], 0, t, &device));
        let inputs = AttentionInputs { cos, sin, bias };
        let mut x = rows.pack(self.embed_tokens.forward(tokens));
        for block in &self.layers {
            x = block.forward_rows(x, rows, &inputs, None);
        }
        x
    }

    /// The final norm.
    pub(super) fn norm(&self, x: Tensor<2>) -> Tensor<2> {
        self.norm.forward(x)
    }
}

/// A Llama-family decoder-only language model.
#[derive(Module, Debug)]
pub struct CausalLm {
    model: Body,
    lm_head: Option<Linear>,
    #[module(skip)]
    config: CausalConfig,
    #[module(skip)]
    rope: Rope,
}

impl CausalLm {
    /// A freshly initialised model (`transformers`' initialisation: N(0, initializer_range²)
    /// weights, zero biases, unit norms).
    pub fn new(config: &CausalConfig, device: &Device) -> Self {
        config.validate().expect("invalid causal LM config");
        let cfg = config;
        let (v, d, std) = (cfg.vocab_size, cfg.hidden_size, cfg.initializer_range);
        Self {
            model: Body::new(cfg, device),
            lm_head: (!cfg.tie_word_embeddings).then(|| linear(d, v, false, std, device)),
            config: cfg.clone(),
            rope: Rope::new(cfg),
        }
    }

    /// The backbone with its configuration and rotary tables, the output projection dropped
    /// (how a sequence classifier starts from a pretrained LM).
    pub(super) fn into_body(self) -> (Body, CausalConfig, Rope) {
        (self.model, self.config, self.rope)
    }

    /// The model's configuration.
    pub fn config(&self) -> &CausalConfig {
        &self.config
    }

    /// Teacher-forced logits `[B,T,V]` of right-padded `tokens` `[B,T]`: position t predicts
    /// token t + 1.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let logits = self.forward_rows(tokens, &Packing::dense(b, t));
        let v = logits.dims()[1];
        logits.reshape([b, t, v])
    }

    /// [`CausalLm::forward`] for the positions `rows` keeps only: logits `[N,V]` in `rows`'
    /// order. Pads (after each row's tokens) are neither computed nor scored.
    pub fn forward_rows(&self, tokens: Tensor<2, Int>, rows: &Packing) -> Tensor<2> {
        self.output(self.hidden_rows(tokens, rows))
    }

    /// The logits of the packed positions `picks` (indices into `rows`' order) only: what
    /// training needs, the prompt positions' output projection skipped.
    pub fn forward_picked(
        &self,
        tokens: Tensor<2, Int>,
        rows: &Packing,
        picks: Tensor<1, Int>,
    ) -> Tensor<2> {
        self.output(self.hidden_rows(tokens, rows).select(0, picks))
    }

    /// The logits `[N,V]` that predict `batch`'s target tokens, and the packed layout of its
    /// target grid (`rows.pack_ids(batch.targets)` lines the targets up with the logits).
    pub fn target_logits(&self, batch: &CausalBatch, device: &Device) -> (Tensor<2>, Packing) {
        let rows = batch.input_rows(device);
        let logits = self.forward_picked(batch.tokens.clone(), &rows, batch.picks.clone());
        (logits, batch.target_rows(device))
    }

    fn hidden_rows(&self, tokens: Tensor<2, Int>, rows: &Packing) -> Tensor<2> {
        self.model.hidden_rows(&self.rope, tokens, rows)
    }

    /// An empty cache for prompts whose rows start with `pads[r]` pad columns.
    pub fn start_cache(&self, pads: Vec<usize>) -> CausalCache {
        CausalCache::new(self.config.num_hidden_layers, pads)
    }

    /// Appends `tokens` `[B,T]` to every row of `cache` (the left-padded prompts, then one
    /// token per step) and returns the next-token logits `[B,V]` after the last column.
    pub fn extend(&self, tokens: Tensor<2, Int>, cache: &mut CausalCache) -> Tensor<2> {
        let [b, t] = tokens.dims();
        assert_eq!(b, cache.rows(), "{b} rows of tokens for a cache of {} rows", cache.rows());
        let device = tokens.device();
        let inputs = self.extension_inputs(cache, t, &device);
        let rows = Packing::dense(b, t);
        let mut x = rows.pack(self.model.embed_tokens.forward(tokens));
        for (block, kv) in self.model.layers.iter().zip(cache.layers.iter_mut()) {
            x = block.forward_rows(x, &rows, &inputs, Some(kv));
        }
        cache.advance(t);
        let d = self.config.hidden_size;
        let last = x.reshape([b, t, d]).slice([0..b, t - 1..t, 0..d]).reshape([b, d]);
        self.output(last)
    }

    /// Rotary tables and mask for `t` new columns after what `cache` holds.
    fn extension_inputs(&self, cache: &CausalCache, t: usize, device: &Device) -> AttentionInputs {
        let past = cache.len();
        let pads = cache.pads();
        let padded = pads.iter().any(|&p| p > 0);
        let positions = if padded {
            let ids = pads
                .iter()
                .flat_map(|&p| (past..past + t).map(move |c| c.saturating_sub(p)))
                .collect();
            Positions { rows: pads.len(), len: t, ids }
        } else {
            Positions::shared(past, t)
        };
        let (cos, sin) = self.rope.tables(&positions, device);
        let bias = match (padded, t) {
            (false, 1) => None,
            (false, _) => Some(mask_bias(&[0], past, t, device)),
            (true, _) => Some(mask_bias(pads, past, t, device)),
        };
        AttentionInputs { cos, sin, bias }
    }

    /// The output projection's weight `[D,V]` (the embedding table transposed when tied).
    #[cfg(test)]
    pub(super) fn output_weight(&self) -> Tensor<2> {
        match &self.lm_head {
            Some(head) => head.weight.val(),
            None => self.model.embed_tokens.weight.val().transpose(),
        }
    }

    /// Final norm and output projection: hidden rows `[N,D]` → logits `[N,V]`.
    fn output(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.model.norm(x);
        match &self.lm_head {
            Some(head) => precision::linear(head, x),
            None => precision::matmul(x, self.model.embed_tokens.weight.val().transpose()),
        }
    }
}

/// Additive mask `[rows,1,t,past+t]` for `t` new columns after `past` old ones: query i (at
/// column past + i) sees keys up to its own column, except row r's first `pads[r]` columns.
fn mask_bias(pads: &[usize], past: usize, t: usize, device: &Device) -> Tensor<4> {
    let tk = past + t;
    let mut v = vec![0f32; pads.len() * t * tk];
    for (r, &pad) in pads.iter().enumerate() {
        for i in 0..t {
            let row = &mut v[(r * t + i) * tk..(r * t + i + 1) * tk];
            for (j, x) in row.iter_mut().enumerate() {
                if j < pad || j > past + i {
                    *x = NEG_INF;
                }
            }
        }
    }
    Tensor::<1>::from_data(TensorData::new(v, [pads.len() * t * tk]), device).reshape([
        pads.len(),
        1,
        t,
        tk,
    ])
}
