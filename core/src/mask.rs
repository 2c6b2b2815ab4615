//! The one value that stands for "never": additive attention masks, the generator's ban on
//! producing `__start__`, and beam search's finished or dead hypotheses all use it, so it is
//! defined here, below the model and decoding layers that read it, rather than in either.

/// The large negative number ParlAI uses for masked logits in fp32 (`neginf`). Finite, so a
/// fully masked row gives a uniform softmax instead of NaN, and `NEG_INF + x` stays `NEG_INF`
/// to f32 precision for any logit `x`.
pub const NEG_INF: f32 = -1e20;
