//! Progress on the terminal for CSV imports and exports (`indicatif`).
//!
//! The work runs in the node: in the daemon when one runs (the request crosses the control
//! socket as one line and the reply comes back as one line, with nothing in between), or in
//! this process when none does. So the command line does not draw a bar of rows done; it shows
//! a spinner with what it is doing (the file, and for an import how many rows the file holds,
//! counted here from the same reader the node uses) and the time elapsed, while the request
//! runs. The spinner appears only once the work has taken [`SHOW_AFTER`] (a short import
//! shows nothing), only when standard error is a terminal, and never under `--json`; it is
//! cleared before the result is printed.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// How long work runs before its spinner appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(2);

static QUIET: OnceLock<bool> = OnceLock::new();

/// No progress for this command (`--json`); call once, before [`with_spinner`].
pub fn set_quiet(quiet: bool) {
    let _ = QUIET.set(quiet);
}

fn enabled() -> bool {
    !QUIET.get().copied().unwrap_or(false) && std::io::stderr().is_terminal()
}

/// Runs `work`, with a spinner saying `message` on standard error once it has taken
/// [`SHOW_AFTER`] (when enabled).
pub fn with_spinner<T>(message: String, work: impl FnOnce() -> T) -> T {
    if !enabled() {
        return work();
    }
    let (done, finished) = mpsc::channel::<()>();
    let started = std::time::Instant::now();
    let spinner = std::thread::spawn(move || {
        if finished.recv_timeout(SHOW_AFTER) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
        let bar = indicatif::ProgressBar::new_spinner().with_elapsed(started.elapsed());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        let _ = finished.recv();
        bar.finish_and_clear();
    });
    let out = work();
    let _ = done.send(());
    let _ = spinner.join();
    out
}

/// Runs `work` with a counter it advances (rows written by `lingong compact`): a spinner on
/// standard error saying `message`, the count and the time elapsed (when enabled; shown from
/// the start, since the count tells how far the work is).
pub fn with_counter<T>(message: String, work: impl FnOnce(&mut dyn FnMut(u64)) -> T) -> T {
    if !enabled() {
        return work(&mut |_| {});
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    let out = work(&mut |n| bar.set_position(n));
    bar.finish_and_clear();
    out
}
