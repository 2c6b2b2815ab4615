//! `cringe export --hf DIR`: a model directory (or another Hugging Face checkpoint) written
//! as a Hugging Face Blenderbot checkpoint, so a CRINGE-trained model loads in `transformers`.
//! A causal LM (a `.gguf` file or `hf:DIR` of a Llama / Qwen checkpoint) is written as the
//! same family's checkpoint, with its tokenizer and chat template.

use anyhow::Context;
use clap::Args;
use cringe_core::hf;
use std::io::Write;
use std::path::PathBuf;

/// Export a model.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe export --mf runs/model --hf runs/model-hf\n  python -c \"from transformers import AutoModelForSeq2SeqLM, AutoTokenizer; \\\n    m = AutoModelForSeq2SeqLM.from_pretrained('runs/model-hf'); t = AutoTokenizer.from_pretrained('runs/model-hf')\""
)]
pub struct ExportArgs {
    /// The model to export: a model directory written by `cringe train`, `hf:DIR`, or a
    /// causal LM's `.gguf` file.
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,

    /// The Hugging Face checkpoint directory to write (replaced atomically if it is one this
    /// command wrote; any other existing path is refused).
    #[arg(long = "hf", value_name = "DIR")]
    pub hf: PathBuf,
}

/// Runs the export and reports what was written to `out`.
pub fn run(args: &ExportArgs, out: &mut impl Write) -> anyhow::Result<()> {
    hf::EXPORT_DIR.check_replaceable(&args.hf).context("--hf")?;
    let device = burn::tensor::Device::flex();
    if cringe_core::pretrained::is_causal(&args.model_file) {
        let lm = cringe_core::pretrained::load(&args.model_file, &device)
            .with_context(|| format!("loading --model-file {}", args.model_file.display()))?;
        lm.export_hf(&args.hf)
            .with_context(|| format!("exporting to --hf {}", args.hf.display()))?;
        let cfg = lm.model.config();
        writeln!(
            out,
            "wrote {} ({}, {} parameters, {} tokens, {}): config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json",
            args.hf.display(),
            cfg.family.model_type(),
            cfg.num_params(),
            lm.text.tokenizer.get_vocab_size(true),
            if lm.text.template.is_some() { "with its chat template" } else { "no chat template" },
        )?;
        return Ok(());
    }
    let md = hf::load_model(&args.model_file, &device)
        .with_context(|| format!("loading --model-file {}", args.model_file.display()))?;
    let caveat = hf::export(&md.model, &md.tokenizer, &args.hf)
        .with_context(|| format!("exporting to --hf {}", args.hf.display()))?;
    let cfg = md.model.config();
    let arch = hf::Architecture::for_variant(cfg.variant)?;
    writeln!(
        out,
        "wrote {} ({}, {} parameters, {} tokens): config.json, generation_config.json, model.safetensors, tokenizer files",
        args.hf.display(),
        arch.model_type(),
        cfg.num_params(),
        md.tokenizer.vocab_size(),
    )?;
    if let Some(caveat) = caveat {
        writeln!(out, "warning: {caveat}")?;
    }
    Ok(())
}
