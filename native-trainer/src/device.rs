//! Choosing the compute device from `--device`.

use burn::tensor::Device;
use clap::ValueEnum;

/// Devices this build can run on. GPU devices come with the `wgpu` feature (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    /// The CPU, through Burn's `flex` backend.
    Cpu,
}

impl DeviceKind {
    /// The plain (inference) device.
    pub fn device(self) -> Device {
        match self {
            DeviceKind::Cpu => Device::flex(),
        }
    }
}
