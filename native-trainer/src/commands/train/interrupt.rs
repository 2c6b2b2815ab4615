//! Ctrl-C (SIGINT) and SIGTERM during training: the first signal asks the loop to finish its
//! current update, save a checkpoint and stop; a second one, or a signal while no training loop
//! is running, exits at once with status 130 as usual.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static TRAINING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// While alive, signals request a checkpoint-and-stop instead of killing the process.
pub struct InterruptGuard(());

impl InterruptGuard {
    /// Installs the process-wide handler (once) and marks a training loop as running.
    pub fn install() -> Self {
        INSTALL.call_once(|| {
            // Another handler (a host program's) may already be installed; then signals keep
            // their usual effect and training simply is not checkpointed on Ctrl-C.
            let _ = ctrlc::set_handler(|| {
                if TRAINING.load(Ordering::SeqCst) && !REQUESTED.swap(true, Ordering::SeqCst) {
                    eprintln!("\ninterrupted: saving a checkpoint after this update (press Ctrl-C again to quit now)");
                } else {
                    std::process::exit(130);
                }
            });
        });
        REQUESTED.store(false, Ordering::SeqCst);
        TRAINING.store(true, Ordering::SeqCst);
        Self(())
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        REQUESTED.load(Ordering::SeqCst)
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        TRAINING.store(false, Ordering::SeqCst);
        REQUESTED.store(false, Ordering::SeqCst);
    }
}
