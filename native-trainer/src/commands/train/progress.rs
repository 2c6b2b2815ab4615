//! Training progress on the console: a live progress bar with ETA and the latest metrics when
//! stdout is a terminal; otherwise (logs, pipes) plain lines that carry the ETA themselves.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Progress display for one training run.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    start: Instant,
    first_step: usize,
    max_steps: usize,
}

impl Progress {
    /// Progress from update `first_step` (non-zero when resuming) to `max_steps`.
    pub fn new(quiet: bool, first_step: usize, max_steps: usize) -> Self {
        let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(max_steps as u64), ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps · {elapsed_precise} · ETA {eta_precise} · {msg}",
                )
                .expect("valid template"),
            );
            bar.set_position(first_step as u64);
            bar
        });
        Self { bar, quiet, start: Instant::now(), first_step, max_steps }
    }

    /// Prints a line above the bar (nothing when quiet).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.quiet => println!("{line}"),
            None => {}
        }
    }

    /// Moves the bar to `step` updates done with a short live-metrics message.
    pub fn update(&self, step: usize, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(message);
        }
    }

    /// Estimated time left after `step` updates, from this run's average pace.
    pub fn eta(&self, step: usize) -> Duration {
        let done = step.saturating_sub(self.first_step);
        if done == 0 {
            return Duration::ZERO;
        }
        self.start.elapsed().mul_f64(self.max_steps.saturating_sub(step) as f64 / done as f64)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1h02m03s`, `4m05s`, `6s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(6)), "6s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn eta_is_zero_before_any_step() {
        let p = Progress::new(true, 5, 10);
        assert_eq!(p.eta(5), Duration::ZERO);
    }
}
