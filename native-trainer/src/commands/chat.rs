//! `cringe chat`: talk to a model in the terminal (or pipe lines through it). Each line you
//! type is a turn; the model answers with the whole conversation so far as its context.
//! `[DONE]` or `/reset` starts a new conversation.
//!
//! A causal chat LM (a `.gguf` file, or `hf:DIR` of a Llama / Qwen checkpoint) gets the
//! conversation through its own chat template, with `--system-prompt` as the first turn, and
//! its reply ends at any of its end tokens; the oldest turns are dropped when the prompt would
//! exceed `--text-truncate` tokens.

use crate::args::decoding::DecodeArgs;
use anyhow::Context;
use clap::Args;
use cringe_core::data::{Batcher, TruncationConfig};
use cringe_core::decode::generate;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Chat with a model.
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// The model directory (`hf:DIR`: a Hugging Face checkpoint; a `.gguf` file or
    /// `gguf:PATH`: a causal LM in llama.cpp's format).
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,

    /// A system message opening the conversation (causal chat models only).
    #[arg(long = "system-prompt", value_name = "TEXT")]
    pub system_prompt: Option<String>,

    /// How to generate.
    #[command(flatten)]
    pub decode: DecodeArgs,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

/// Runs the chat loop over `input`, writing replies to `out`.
pub fn run(args: ChatArgs, input: impl BufRead, out: &mut impl Write) -> anyhow::Result<()> {
    args.decode.validate()?;
    let (device, precision) = args.compute.open()?;
    let _autocast = cringe_core::model::autocast(precision);
    if cringe_core::pretrained::is_causal(&args.model_file) {
        return super::chat_causal::run(&args, &device, input, out);
    }
    if args.system_prompt.is_some() {
        anyhow::bail!(
            "--system-prompt needs a causal chat model (a .gguf file or hf:DIR of a Llama / Qwen checkpoint)"
        );
    }
    let md = cringe_core::hf::load_model(&args.model_file, &device)
        .with_context(|| format!("loading --model-file {}", args.model_file.display()))?;
    let cfg = args.decode.search_config();
    let trunc = TruncationConfig {
        text_truncate: args.decode.text_truncate,
        label_truncate: args.decode.label_truncate,
    };
    if let Some(w) = trunc.clamp_warning(md.model.config().n_positions) {
        eprintln!("warning: {w}");
    }
    let batcher = Batcher::new(md.tokenizer.clone(), trunc, md.model.config().n_positions);
    args.decode.check_memory(md.model.config(), 1, args.compute.device)?;
    let mut history: Vec<String> = Vec::new();
    conversation(input, out, |line| {
        let Some(line) = line else {
            history.clear();
            return Ok(None);
        };
        history.push(line.to_string());
        let context = history.join("\n");
        let input = batcher.encode_context(&context)?;
        let block = batcher.blocking_context(&context, args.decode.beam_block_full_context)?;
        let result = generate(&md.model, &[input], &[block], &cfg, &device)?;
        let reply = md.tokenizer.decode_response(&result[0].best().tokens)?;
        history.push(reply.clone());
        Ok(Some(reply))
    })
}

/// The terminal side of a chat: each non-empty line of `input` goes to `turn`, whose reply is
/// written as `[cringe]: …`; `[DONE]` or `/reset` calls `turn(None)` (forget the
/// conversation) and says so.
pub(super) fn conversation(
    input: impl BufRead,
    out: &mut impl Write,
    mut turn: impl FnMut(Option<&str>) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<()> {
    writeln!(out, "Enter a message ([DONE] or /reset starts over; end of input quits).")?;
    for line in input.lines() {
        let line = line.context("reading standard input")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "[DONE]" || line == "/reset" {
            turn(None)?;
            writeln!(out, "[history cleared]")?;
            continue;
        }
        if let Some(reply) = turn(Some(line))? {
            writeln!(out, "[cringe]: {reply}")?;
            out.flush()?;
        }
    }
    Ok(())
}
