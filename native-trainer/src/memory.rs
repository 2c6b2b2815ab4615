//! Memory checks before large allocations: a run whose estimated footprint
//! ([`cringe_core::model::footprint`]) exceeds the memory this machine has free stops with one
//! line saying how much it needs and which flag to lower, instead of aborting mid-allocation.

use crate::device::DeviceKind;
use cringe_core::model::footprint::format_bytes;

/// Memory the kernel reports as available (`MemAvailable` of `/proc/meminfo`), if it can be read.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Largest footprint accepted on any device, whatever it reports: no card or host this runs on
/// has more.
const ANY_DEVICE_LIMIT: u64 = 4 << 40;

/// Fails when `needed` bytes (for `what`) cannot fit: more than the host has available on the
/// CPU device, more than [`ANY_DEVICE_LIMIT`] anywhere. `hint` says what to reduce.
pub fn ensure_fits(device: DeviceKind, needed: u64, what: &str, hint: &str) -> anyhow::Result<()> {
    let limit = if device.is_cpu() {
        available_bytes().unwrap_or(ANY_DEVICE_LIMIT).min(ANY_DEVICE_LIMIT)
    } else {
        ANY_DEVICE_LIMIT
    };
    anyhow::ensure!(
        needed <= limit,
        "{what} needs ~{} of memory, but {} {}; {hint}",
        format_bytes(needed),
        format_bytes(limit),
        if device.is_cpu() { "are available" } else { "is the most any device has" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footprint_beyond_the_machine_is_refused_with_the_flag_to_lower() {
        ensure_fits(DeviceKind::Cpu, 1 << 20, "decoding", "reduce --beam-size").unwrap();
        let e = ensure_fits(
            DeviceKind::Cpu,
            1 << 50,
            "decoding 8 contexts × beam 1000000",
            "reduce --beam-size or -bs",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("decoding 8 contexts × beam 1000000 needs ~1125899.9 GB of memory, but"),
            "{e}"
        );
        assert!(e.ends_with("; reduce --beam-size or -bs"), "{e}");
        assert!(available_bytes().is_some_and(|b| b > 0));
    }
}
