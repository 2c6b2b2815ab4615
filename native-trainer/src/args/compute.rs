//! `--device` and the precision flags: where and in what precision train, train-classifier,
//! eval and chat compute.

use super::PrecisionArgs;
use crate::device::DeviceKind;
use burn::tensor::Device;
use clap::Args;
use cringe_core::model::Precision;

/// The compute flags.
#[derive(Debug, Clone, Args)]
pub struct ComputeArgs {
    /// Compute device: cpu, wgpu[:N], vulkan[:N] or metal[:N] (N: the discrete GPU's index;
    /// GPU devices need a build with the matching cargo feature; docs/gpus.md).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,

    /// The precision flags.
    #[command(flatten)]
    pub precision: PrecisionArgs,
}

impl ComputeArgs {
    /// The dry runs' line: the precision in effect on the device, and the note of a flag that
    /// changes nothing.
    pub fn summary(&self) -> String {
        let line =
            format!("precision: {} on --device {}", self.precision.get().name(), self.device);
        match self.precision.note() {
            Some(note) => format!("{line}\nnote: {note}"),
            None => line,
        }
    }

    /// Opens the device and checks that it computes in the precision in effect.
    pub fn open(&self) -> anyhow::Result<(Device, Precision)> {
        if let Some(note) = self.precision.note() {
            eprintln!("note: {note}");
        }
        let device = self.device.device()?;
        let precision = self.precision.for_device(self.device, &device)?;
        Ok((device, precision))
    }
}
