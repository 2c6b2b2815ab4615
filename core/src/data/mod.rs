//! The data model: examples with pos/neg/none labels; readers for JSONL examples, preference
//! pairs, TRL's dataset formats, ParlAI text and world logs; mutators; tasks; multitask
//! sampling; batching into padded token tensors (for the BB1 generator and for causal LMs).

pub mod batcher;
pub mod causal_batch;
pub mod causal_text;
pub mod example;
pub mod jsonl;
pub mod labeling;
pub mod lines;
pub mod multitask;
pub mod mutators;
pub mod pairs;
pub mod parlai_text;
pub mod tasks;
pub mod trl;
pub mod worldlog;

pub use batcher::{Batch, Batcher, EncodedExample, TruncationConfig};
pub use causal_batch::CausalBatch;
pub use causal_text::{CausalText, PromptForm};
pub use example::{Example, Label, label_id};
pub use jsonl::read_examples_jsonl;
pub use multitask::MultitaskSampler;
pub use mutators::Mutator;
pub use pairs::{pair_line, read_pairs_jsonl};
pub use parlai_text::{Episode, read_parlai_text};
pub use tasks::{Datatype, ITERATIVE_TEACHERS, TaskSpec, default_datapath};
pub use trl::read_trl_jsonl;
pub use worldlog::{
    EpisodeExtras, Judged, LeftOut, WorldLogRecord, read_world_logs, world_log_examples,
    world_log_line, world_log_metadata,
};
