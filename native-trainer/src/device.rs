//! Choosing the compute device from `--device`, and the persistent GPU kernel cache.
//!
//! `cpu` runs on Burn's `flex` backend and is always built. GPU devices come with cargo
//! features (see the README, "GPUs"): `wgpu` (WGSL shaders, any Vulkan/Metal/DX12 adapter),
//! `vulkan` (SPIR-V shaders on Vulkan — NVIDIA and AMD cards on Linux) and `metal` (MSL on
//! Apple GPUs).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A `--device` value: a backend and, for GPUs, which discrete GPU (`None`: wgpu's choice,
/// the high-power adapter, or `CUBECL_WGPU_DEFAULT_DEVICE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// The CPU, through Burn's `flex` backend.
    Cpu,
    /// A GPU through wgpu, WGSL shaders (feature `wgpu`).
    Wgpu(Option<usize>),
    /// A GPU through wgpu pinned to Vulkan, SPIR-V shaders (feature `vulkan`).
    Vulkan(Option<usize>),
    /// An Apple GPU through wgpu pinned to Metal, MSL shaders (feature `metal`).
    Metal(Option<usize>),
}

impl DeviceKind {
    /// Whether this is the CPU.
    pub fn is_cpu(self) -> bool {
        self == DeviceKind::Cpu
    }

    /// The cargo feature a build needs for this device.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            DeviceKind::Cpu => None,
            DeviceKind::Wgpu(_) => Some("wgpu"),
            DeviceKind::Vulkan(_) => Some("vulkan"),
            DeviceKind::Metal(_) => Some("metal"),
        }
    }

    /// The plain (inference) device; an error when this build lacks the device's feature.
    pub fn device(self) -> anyhow::Result<burn::tensor::Device> {
        if self.is_cpu() {
            return Ok(burn::tensor::Device::flex());
        }
        gpu::device(self)
    }
}

impl FromStr for DeviceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, index) = match s.split_once(':') {
            Some((n, i)) => {
                let i = i
                    .parse::<usize>()
                    .map_err(|_| format!("--device {s}: {i:?} is not a GPU index (0, 1, …)"))?;
                (n, Some(i))
            }
            None => (s, None),
        };
        match (name.to_ascii_lowercase().as_str(), index) {
            ("cpu", None) => Ok(DeviceKind::Cpu),
            ("wgpu", i) => Ok(DeviceKind::Wgpu(i)),
            ("vulkan", i) => Ok(DeviceKind::Vulkan(i)),
            ("metal", i) => Ok(DeviceKind::Metal(i)),
            ("cpu", Some(_)) => Err("--device cpu takes no index".into()),
            _ => Err(format!(
                "unknown device {s:?}; expected cpu, wgpu[:N], vulkan[:N] or metal[:N]"
            )),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, index) = match *self {
            DeviceKind::Cpu => ("cpu", None),
            DeviceKind::Wgpu(i) => ("wgpu", i),
            DeviceKind::Vulkan(i) => ("vulkan", i),
            DeviceKind::Metal(i) => ("metal", i),
        };
        match index {
            Some(i) => write!(f, "{name}:{i}"),
            None => f.write_str(name),
        }
    }
}

/// Where compiled GPU kernels and autotune results persist between runs:
/// `$CRINGE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/cringe-rs/kernels`, else
/// `~/.cache/cringe-rs/kernels`.
pub fn kernel_cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|d| !d.is_empty());
    kernel_cache_dir_from(
        var("CRINGE_KERNEL_CACHE"),
        var("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// [`kernel_cache_dir`] given the values of `CRINGE_KERNEL_CACHE`, `XDG_CACHE_HOME` and `HOME`.
fn kernel_cache_dir_from(
    explicit: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    if let Some(dir) = explicit {
        return PathBuf::from(dir);
    }
    let base = xdg_cache
        .map(PathBuf::from)
        .or_else(|| home.map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("cringe-rs").join("kernels")
}

#[cfg(feature = "wgpu")]
mod gpu {
    use super::{DeviceKind, kernel_cache_dir};
    use burn::cubecl::config::cache::CacheConfig;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    use burn::tensor::{Device, DeviceKind as Adapter};

    /// Points CubeCL's persistent caches (autotune results; compiled SPIR-V kernels) at
    /// [`kernel_cache_dir`], before the first GPU device starts. A `cubecl.toml` of the user's
    /// is read first and only its cache location is replaced.
    fn configure_kernel_cache() {
        let dir = kernel_cache_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!(
                "warning: kernel cache {}: {e}; kernels will be compiled again next run",
                dir.display()
            );
            return;
        }
        let mut cfg = CubeClRuntimeConfig::from_current_dir();
        cfg.environment.path = CacheConfig::Directory(dir);
        cfg.compilation.cache = true;
        // Already set (a second device in this process) is fine: the first setting stands.
        let _ = CubeClRuntimeConfig::try_set(cfg);
    }

    pub(super) fn device(kind: DeviceKind) -> anyhow::Result<Device> {
        configure_kernel_cache();
        let adapter = |i: Option<usize>| i.map_or(Adapter::DefaultDevice, Adapter::DiscreteGpu);
        match kind {
            DeviceKind::Cpu => Ok(Device::flex()),
            DeviceKind::Wgpu(i) => Ok(Device::wgpu(adapter(i))),
            #[cfg(feature = "vulkan")]
            DeviceKind::Vulkan(i) => Ok(Device::vulkan(adapter(i))),
            #[cfg(feature = "metal")]
            DeviceKind::Metal(i) => Ok(Device::metal(adapter(i))),
            #[allow(unreachable_patterns)]
            other => Err(super::missing_feature(other)),
        }
    }
}

#[cfg(not(feature = "wgpu"))]
mod gpu {
    use super::DeviceKind;

    pub(super) fn device(kind: DeviceKind) -> anyhow::Result<burn::tensor::Device> {
        Err(super::missing_feature(kind))
    }
}

fn missing_feature(kind: DeviceKind) -> anyhow::Error {
    let feature = kind.feature().unwrap_or("wgpu");
    anyhow::anyhow!(
        "--device {kind}: this `cringe` was built without GPU support for it; rebuild with \
         `cargo build --release -p cringe-trainer --features {feature}` (README, \"GPUs\")"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_device_specs() {
        for s in ["cpu", "wgpu", "wgpu:1", "vulkan", "vulkan:0", "metal"] {
            assert_eq!(s.parse::<DeviceKind>().unwrap().to_string(), s);
        }
        assert_eq!("WGPU".parse::<DeviceKind>(), Ok(DeviceKind::Wgpu(None)));
        assert!("cuda".parse::<DeviceKind>().unwrap_err().contains("expected cpu, wgpu"));
        assert!("wgpu:x".parse::<DeviceKind>().unwrap_err().contains("not a GPU index"));
        assert!("cpu:0".parse::<DeviceKind>().unwrap_err().contains("no index"));
    }

    #[test]
    fn a_gpu_device_missing_from_the_build_says_which_feature_to_build() {
        #[cfg(not(feature = "metal"))]
        {
            let e = DeviceKind::Metal(None).device().unwrap_err().to_string();
            assert!(e.contains("--features metal") && e.contains("--device metal"), "{e}");
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let e = DeviceKind::Wgpu(Some(1)).device().unwrap_err().to_string();
            assert!(e.contains("--features wgpu") && e.contains("--device wgpu:1"), "{e}");
        }
        // the test build has `wgpu` (scripts/test.sh), so the branch above is not compiled
        // there: the message it would print, from the function that prints it
        let e = missing_feature(DeviceKind::Wgpu(Some(1))).to_string();
        assert!(e.contains("--features wgpu") && e.contains("--device wgpu:1"), "{e}");
        #[cfg(all(feature = "wgpu", not(feature = "vulkan")))]
        {
            let e = DeviceKind::Vulkan(Some(0)).device().unwrap_err().to_string();
            assert!(e.contains("--features vulkan") && e.contains("--device vulkan:0"), "{e}");
        }
    }

    #[test]
    fn the_kernel_cache_lives_under_the_user_cache() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        // the default does not depend on this process's environment (CI sets CRINGE_KERNEL_CACHE)
        let d = kernel_cache_dir_from(None, None, os("/home/u"));
        assert!(d.ends_with("kernels"), "{}", d.display());
        assert_eq!(d, PathBuf::from("/home/u/.cache/cringe-rs/kernels"));
        assert_eq!(
            kernel_cache_dir_from(None, os("/xdg"), os("/home/u")),
            PathBuf::from("/xdg/cringe-rs/kernels")
        );
        assert_eq!(kernel_cache_dir_from(os("/k"), os("/xdg"), os("/home/u")), PathBuf::from("/k"));
    }
}
