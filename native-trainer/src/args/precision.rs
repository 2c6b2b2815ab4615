//! `--precision` (and ParlAI's `--fp16`, `--fp16-impl`): the mixed-precision flags, part of
//! [`super::ComputeArgs`].

use crate::device::DeviceKind;
use burn::tensor::Device;
use clap::{ArgAction, Args};
use cringe_core::model::Precision;

/// The compute-precision flags.
#[derive(Debug, Clone, Args)]
pub struct PrecisionArgs {
    /// Mixed precision: matrix products in f16 or bf16; weights, optimizer state, norms, softmax
    /// and the loss in f32. Training in f16 adds dynamic loss scaling; in both, an update whose
    /// gradients overflow is skipped.
    #[arg(long = "precision", value_parser = Precision::parse, value_name = "f32|f16|bf16")]
    pub precision: Option<Precision>,

    /// ParlAI's flag: `--fp16 true` means `--precision f16` (when --precision is not given).
    #[arg(long, action = ArgAction::Set, value_parser = super::parse_bool, default_value = "false", value_name = "BOOL")]
    pub fp16: bool,

    /// ParlAI's fp16 flavour, accepted so the seed's commands run (with a note): both `safe`
    /// and `mem_efficient` train with f32 master weights here.
    #[arg(long = "fp16-impl", value_parser = ["safe", "mem_efficient"])]
    pub fp16_impl: Option<String>,
}

impl PrecisionArgs {
    /// The note `--fp16-impl` gets (it changes nothing here), when given.
    pub fn note(&self) -> Option<String> {
        self.fp16_impl.as_ref().map(|i| {
            format!("--fp16-impl {i}: mixed precision here always keeps f32 master weights and scales the loss; nothing changes")
        })
    }

    /// The precision in effect: --precision, else f16 with `--fp16 true`, else f32.
    pub fn get(&self) -> Precision {
        self.precision.unwrap_or(if self.fp16 { Precision::F16 } else { Precision::F32 })
    }

    /// The precision in effect, checked against what `device` (`--device kind`) can compute in.
    pub fn for_device(&self, kind: DeviceKind, device: &Device) -> anyhow::Result<Precision> {
        let p = self.get();
        if let Some(dt) = p.compute_dtype() {
            anyhow::ensure!(
                device.supports_dtype(dt),
                "--precision {p}: --device {kind} cannot compute in {p}{}; use {}",
                if matches!(kind, DeviceKind::Wgpu(_)) {
                    " (WGSL shaders have no bf16, and f16 needs the adapter's shader-f16 feature)"
                } else {
                    ""
                },
                if p == Precision::Bf16 {
                    "--precision f16 or f32, or a --device with bf16 (vulkan on recent NVIDIA/AMD drivers, cpu)"
                } else {
                    "--precision f32"
                }
            );
        }
        Ok(p)
    }
}
