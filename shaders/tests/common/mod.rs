//! The wgpu test device, with CubeCL's persistent caches (autotune results) in
//! `CRINGE_KERNEL_CACHE` when it is set — `scripts/test.sh` sets it next to the build outputs,
//! as the `cringe` binary's `--device wgpu` does — rather than in a `target/` folder of the
//! checkout, which a fresh clone does not have.

use burn::cubecl::config::cache::CacheConfig;
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
use burn::tensor::{Device, DeviceKind};

pub fn wgpu() -> Device {
    if let Some(dir) = std::env::var_os("CRINGE_KERNEL_CACHE") {
        let mut cfg = CubeClRuntimeConfig::from_current_dir();
        cfg.environment.path = CacheConfig::Directory(dir.into());
        // Already set by another test of this binary: the first setting stands.
        let _ = CubeClRuntimeConfig::try_set(cfg);
    }
    Device::wgpu(DeviceKind::DefaultDevice)
}
