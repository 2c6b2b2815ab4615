//! The generator model: configuration and presets, attention, blocks, the encoder–decoder,
//! its incremental-decoding cache, and model directories on disk.

pub mod attention;
pub mod cache;
pub mod config;
pub mod generator;
pub mod layers;
pub mod model_dir;

pub use cache::DecoderCache;
pub use config::{Activation, GeneratorConfig, Variant, PRESET_NAMES};
pub use generator::{Encoded, Generator};
pub use model_dir::ModelDir;
