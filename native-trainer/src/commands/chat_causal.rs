//! `cringe chat` on a causal chat LM: the conversation is rendered with the model's chat
//! template every turn (as `transformers`' `apply_chat_template` renders it, generation
//! prompt included), the reply is searched on the key/value cache until any of the model's
//! end tokens, and it joins the conversation as the assistant's turn.

use super::chat::ChatArgs;
use anyhow::Context;
use burn::tensor::Device;
use cringe_core::chat::Message;
use cringe_core::decode::{CausalScorer, Inference, search_until};
use cringe_core::pretrained::Pretrained;
use std::io::{BufRead, Write};

/// Runs the chat loop of a causal LM over `input`, writing replies to `out`.
pub fn run(
    args: &ChatArgs,
    device: &Device,
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let lm = cringe_core::pretrained::load(&args.model_file, device)
        .with_context(|| format!("loading --model-file {}", args.model_file.display()))?;
    eprintln!(
        "loaded {} ({} layers, {} parameters) in {:.1} s{}",
        args.model_file.display(),
        lm.model.config().num_hidden_layers,
        lm.model.config().num_params(),
        started.elapsed().as_secs_f64(),
        if lm.text.template.is_none() {
            "; it has no chat template: turns are joined as plain text"
        } else {
            ""
        }
    );
    let system: Vec<Message> =
        args.system_prompt.iter().map(|s| Message::new("system", s.clone())).collect();
    let mut turns: Vec<Message> = Vec::new();
    super::chat::conversation(input, out, |line| {
        let Some(line) = line else {
            turns.clear();
            return Ok(None);
        };
        turns.push(Message::new("user", line));
        let reply = respond(&lm, args, &system, &mut turns, device)?;
        turns.push(Message::new("assistant", reply.clone()));
        Ok(Some(reply))
    })
}

/// The model's reply to the conversation: the oldest turns dropped (a user turn and its
/// answer at a time) while the prompt is longer than `--text-truncate` tokens.
fn respond(
    lm: &Pretrained,
    args: &ChatArgs,
    system: &[Message],
    turns: &mut Vec<Message>,
    device: &Device,
) -> anyhow::Result<String> {
    let prompt = loop {
        let messages: Vec<Message> = system.iter().chain(turns.iter()).cloned().collect();
        let prompt = lm.text.chat_prompt(&messages)?;
        if prompt.len() <= args.decode.text_truncate || turns.len() <= 1 {
            break prompt;
        }
        turns.drain(..2.min(turns.len() - 1));
    };
    let cfg = args.decode.search_config();
    let rows = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
    let mut scorer = CausalScorer::new(&lm.model, std::slice::from_ref(&prompt), rows, device)?;
    let result = search_until(&mut scorer, &[prompt], 0, lm.eos_ids(), &cfg)?;
    let mut tokens = result[0].best().tokens.clone();
    if tokens.last().is_some_and(|t| lm.eos_ids().contains(t)) {
        tokens.pop();
    }
    Ok(lm.text.decode(&tokens)?.trim().to_string())
}
