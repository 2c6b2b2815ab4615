//! The data model: examples with pos/neg/none labels, readers for input files, and batching
//! into padded token tensors.

pub mod batcher;
pub mod example;
pub mod jsonl;

pub use batcher::{Batch, Batcher, TruncationConfig};
pub use example::{Example, Label};
pub use jsonl::read_examples_jsonl;
