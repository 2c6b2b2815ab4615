//! The BB1-style encoder–decoder generator (ParlAI `transformer/generator`).
//!
//! Token embeddings are shared by the encoder, the decoder and the output projection. The
//! `__start__` logit is pushed to [`NEG_INF`] so it is never produced, as in ParlAI. Models
//! loaded from Hugging Face also add their fixed `final_logits_bias`.

use super::cache::DecoderCache;
use super::config::{GeneratorConfig, Variant};
use super::embedder::Embedder;
use super::encoder::{Encoded, Encoder};
use super::layers::{DecoderLayer, LayerCache, layer_norm};
use super::packing::Packing;
use super::precision;
use crate::mask::NEG_INF;
use burn::module::{Module, Param};
use burn::nn::LayerNorm;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

/// The generator: shared embeddings, encoder stack, decoder stack.
#[derive(Module, Debug)]
pub struct Generator {
    embeddings: Param<Tensor<2>>,
    encoder: Encoder,
    dec_embed: Embedder,
    decoder: Vec<DecoderLayer>,
    dec_final_norm: Option<LayerNorm>,
    logits_bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    config: GeneratorConfig,
}

impl Generator {
    /// Builds a freshly initialised model (ParlAI's initialisation: N(0, d^-1/2) embeddings with
    /// a zero pad row, Xavier attention and feed-forward weights).
    pub fn new(config: &GeneratorConfig, device: &Device) -> Self {
        config.validate().expect("invalid generator config");
        let cfg = config;
        let d = cfg.embedding_size;
        let table = Tensor::<2>::random(
            [cfg.vocab_size, d],
            Distribution::Normal(0.0, (d as f64).powf(-0.5)),
            device,
        );
        let mut keep = vec![1f32; cfg.vocab_size];
        keep[cfg.pad_id] = 0.0;
        let keep = Tensor::<1>::from_data(TensorData::new(keep, [cfg.vocab_size]), device)
            .unsqueeze_dim::<2>(1);
        let prenorm = cfg.variant == Variant::Prelayernorm;
        Self {
            embeddings: Param::from_tensor(table * keep),
            encoder: Encoder::new(cfg, device),
            dec_embed: Embedder::for_decoder(cfg, device),
            decoder: (0..cfg.n_decoder_layers).map(|_| DecoderLayer::new(cfg, device)).collect(),
            dec_final_norm: prenorm.then(|| layer_norm(cfg, device)),
            logits_bias: cfg.final_logits_bias.then(|| {
                Param::from_tensor(Tensor::zeros([cfg.vocab_size], device)).set_require_grad(false)
            }),
            config: cfg.clone(),
        }
    }

    /// The model's configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The token embeddings and the encoder, the decoder dropped: what a classifier built on
    /// this model's encoder keeps.
    pub(crate) fn into_encoder(self) -> (Param<Tensor<2>>, Encoder) {
        (self.embeddings, self.encoder)
    }

    /// The same weights with `dropout`, `attention_dropout` and `relu_dropout` (ParlAI's
    /// regularisation flags when fine-tuning) taken from `cfg`; every other field of `cfg` must
    /// equal this model's.
    pub fn with_dropouts(mut self, cfg: &GeneratorConfig) -> Self {
        let mut expected = cfg.clone();
        expected.dropout = self.config.dropout;
        expected.attention_dropout = self.config.attention_dropout;
        expected.relu_dropout = self.config.relu_dropout;
        assert_eq!(expected, self.config, "with_dropouts changes only the dropouts");
        self.encoder.set_dropouts(cfg);
        self.dec_embed.set_dropouts(cfg);
        self.decoder.iter_mut().for_each(|l| l.set_dropouts(cfg));
        self.config = cfg.clone();
        self
    }

    /// Runs the encoder over `context` `[B,S]` (right-padded with `pad_id`).
    pub fn encode(&self, context: Tensor<2, Int>) -> Encoded {
        self.encoder.forward(self.embeddings.val(), context)
    }

    /// Teacher-forced decoding: `decoder_input` `[B,T]` starts with `start_id`; returns logits
    /// `[B,T,V]` where position t predicts the t-th target token.
    pub fn decode(&self, encoded: &Encoded, decoder_input: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = decoder_input.dims();
        let logits = self.decode_rows(encoded, decoder_input, &Packing::dense(b, t));
        let v = logits.dims()[1];
        logits.reshape([b, t, v])
    }

    /// [`Generator::decode`] for the positions `rows` keeps only: logits `[N,V]`, one row per
    /// kept position in `rows`' order. Pads are neither computed nor scored.
    pub fn decode_rows(
        &self,
        encoded: &Encoded,
        decoder_input: Tensor<2, Int>,
        rows: &Packing,
    ) -> Tensor<2> {
        let [_, t] = decoder_input.dims();
        let device = decoder_input.device();
        let causal = causal_bias(t, &device);
        let mut x = rows.pack(self.dec_embed.forward(self.embeddings.val(), decoder_input, 0));
        for layer in &self.decoder {
            x = layer.forward(
                x,
                rows,
                encoded.rows_states.clone(),
                &encoded.rows,
                causal.clone(),
                encoded.bias.clone(),
            );
        }
        self.output(x)
    }

    /// Encoder + teacher-forced decoder in one call.
    pub fn forward(&self, context: Tensor<2, Int>, decoder_input: Tensor<2, Int>) -> Tensor<3> {
        let encoded = self.encode(context);
        self.decode(&encoded, decoder_input)
    }

    /// [`Generator::forward`] on the kept positions only: the context's rows laid out by
    /// `context_rows`, logits `[N,V]` for the target positions `target_rows` keeps (see
    /// [`Packing`]). Equal to the padded forward's logits at those positions.
    pub fn forward_rows(
        &self,
        context: Tensor<2, Int>,
        context_rows: Packing,
        decoder_input: Tensor<2, Int>,
        target_rows: &Packing,
    ) -> Tensor<2> {
        let encoded = self.encoder.forward_rows(self.embeddings.val(), context, context_rows);
        self.decode_rows(&encoded, decoder_input, target_rows)
    }

    /// Prepares incremental decoding: projects the encoder output once per decoder layer.
    pub fn start_decoding(&self, encoded: &Encoded) -> DecoderCache {
        let states = encoded.states();
        let layers = self
            .decoder
            .iter()
            .map(|layer| {
                let (enc_k, enc_v) = layer.encoder_kv(states.clone());
                LayerCache { self_k: None, self_v: None, enc_k, enc_v }
            })
            .collect();
        DecoderCache::new(layers, encoded.bias.clone())
    }

    /// Feeds one token per sequence (`[B]`) and returns next-token logits `[B,V]`.
    pub fn decode_step(&self, tokens: Tensor<1, Int>, cache: &mut DecoderCache) -> Tensor<2> {
        let pos = cache.position();
        let mut x =
            self.dec_embed.forward(self.embeddings.val(), tokens.unsqueeze_dim::<2>(1), pos);
        let bias = cache.enc_bias();
        for (layer, lc) in self.decoder.iter().zip(cache.layers_mut()) {
            x = layer.step(x, lc, bias.clone());
        }
        cache.advance();
        let [b, _, d] = x.dims();
        self.output(x.reshape([b, d]))
    }

    /// Final norm, projection on the shared embeddings, and the start-token mask: hidden
    /// rows `[N,D]` → logits `[N,V]`.
    fn output(&self, x: Tensor<2>) -> Tensor<2> {
        let x = match &self.dec_final_norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        let table = self.embeddings.val();
        let v = table.dims()[0];
        let logits = precision::matmul(x, table.transpose());
        let mut start = vec![0f32; v];
        start[self.config.start_id] = NEG_INF;
        let mut bias = Tensor::<1>::from_data(TensorData::new(start, [v]), &logits.device());
        if let Some(fixed) = &self.logits_bias {
            bias = bias + fixed.val();
        }
        logits + bias.unsqueeze_dim::<2>(0)
    }
}

/// `[1,1,T,T]` additive mask that hides future positions.
fn causal_bias(t: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![0f32; t * t];
    for i in 0..t {
        for j in i + 1..t {
            v[i * t + j] = NEG_INF;
        }
    }
    Tensor::<2>::from_data(TensorData::new(v, [t, t]), device).unsqueeze_dims::<4>(&[0, 1])
}
