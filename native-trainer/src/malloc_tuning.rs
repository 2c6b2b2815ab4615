//! Keeps freed tensor buffers in the process instead of handing them back to the kernel.
//!
//! A CPU training step allocates and frees the same few hundred buffers (activations,
//! gradients, optimizer temporaries) every update. With glibc's defaults, buffers above its
//! adaptive mmap threshold are `mmap`ed and `munmap`ed each time and the heap top is trimmed
//! after every large free, so each step pays page faults and page zeroing for memory it just
//! returned (about 8% of a `small` CPU training step's time in `perf`). Raising both thresholds
//! makes glibc reuse that memory; peak memory stays the same (the step's working set is
//! allocated either way).

/// glibc's `mallopt` parameters (malloc.h).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    pub const M_TRIM_THRESHOLD: i32 = -1;
    pub const M_MMAP_THRESHOLD: i32 = -3;
    unsafe extern "C" {
        pub fn mallopt(param: i32, value: i32) -> i32;
    }
}

/// The largest mmap threshold glibc accepts on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory at the top of the heap that glibc keeps before trimming it.
pub const TRIM_THRESHOLD_BYTES: i32 = 1 << 30;

/// Applies the thresholds above (glibc on Linux; elsewhere the system allocator is left as
/// it is). Returns whether the allocator accepted them. Call once, before any threads start.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are in range.
        unsafe {
            glibc::mallopt(glibc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && glibc::mallopt(glibc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        // glibc refuses an mmap threshold above its maximum (mallopt returns 0)
        assert!(keep_freed_buffers());
    }
}
