//! The generator model: configuration and presets, attention, blocks, the encoder–decoder,
//! padding-free rows for training, its incremental-decoding cache, and model directories on
//! disk.

pub mod attention;
pub mod cache;
pub mod causal;
pub mod classifier;
pub mod config;
pub mod embedder;
pub mod encoder;
pub mod footprint;
pub mod generator;
#[cfg(feature = "test-support")]
pub mod gradients;
pub mod layers;
pub mod model_dir;
pub mod packing;
pub mod precision;

pub use cache::DecoderCache;
pub use classifier::{Classifier, ClassifierConfig};
pub use config::{Activation, GeneratorConfig, PRESET_NAMES, Variant};
pub use encoder::{Encoded, Encoder};
pub use generator::Generator;
#[cfg(feature = "test-support")]
pub use gradients::parameter_gradients;
pub use model_dir::{ClassifierDir, ModelDir};
pub use packing::Packing;
pub use precision::{Precision, autocast};
