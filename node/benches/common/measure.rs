//! What the benchmarks that time a store's services share for their figures: the machine's load
//! (the machine is shared, and a rate means little without it), the process's resident memory,
//! medians and percentiles of timed calls, and raw ed25519 batch verification, the baseline of
//! the audit's rate. Benches take it with `#[path = "common/measure.rs"] mod measure;`.
#![allow(dead_code)]

use ed25519_dalek::{Signature, VerifyingKey};
use lingong_protocol::envelope::Envelope;
use std::time::{Duration, Instant};

/// The machine's load average over 1, 5 and 15 minutes (`/proc/loadavg`).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// What `uptime` prints (time, up, users, load average), or the load average alone when the
/// command is missing.
pub fn uptime() -> String {
    std::process::Command::new("uptime")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| format!("load average: {}", load_average()))
}

/// This process's resident memory now and at its peak (`VmRSS`, `VmHWM`), in MB.
pub fn resident_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes free for an unprivileged user on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> u64 {
    let stat = rustix::fs::statvfs(dir).expect("statvfs");
    stat.f_bavail * stat.f_frsize
}

/// The median of `v` (of an even count, the mean of the middle two).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 0 {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

/// Times `f` `n` times; (median, max) in seconds.
pub fn time(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    let times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let max = times.iter().copied().fold(0.0, f64::max);
    (median(times), max)
}

/// Times `f(i)` for `i` in `0..n`; (p50, p99) in milliseconds.
pub fn percentiles_ms(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    percentiles(
        (0..n)
            .map(|i| {
                let t = Instant::now();
                f(i);
                t.elapsed()
            })
            .collect(),
    )
}

/// The 50th and 99th percentiles of `times`, in milliseconds.
pub fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 99 / 100).min(times.len() - 1)]),
    )
}

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// The headers of a set of envelopes as ed25519 inputs, prepared beforehand so that the
/// baseline times the verification alone.
#[derive(Default)]
pub struct Signed {
    pub keys: Vec<VerifyingKey>,
    pub messages: Vec<Vec<u8>>,
    pub sigs: Vec<Signature>,
}

impl Signed {
    pub fn push(&mut self, env: &Envelope) {
        self.keys
            .push(VerifyingKey::from_bytes(&env.header.author.0).expect("key"));
        self.messages.push(env.header.signed_bytes());
        self.sigs.push(Signature::from_bytes(&env.signature.0));
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Raw ed25519 batch verification: `verify_batch` over chunks of 256 of the headers, split
    /// over `threads` threads as the audit splits its reads. Returns envelopes per second.
    pub fn batch_rate(&self, threads: usize) -> f64 {
        raw_batch_rate(&self.keys, &self.messages, &self.sigs, threads)
    }
}

/// Raw ed25519 batch verification: `verify_batch` over chunks of 256 prepared headers, split
/// over `threads` threads as the audit splits its reads. Returns envelopes per second.
pub fn raw_batch_rate(
    keys: &[VerifyingKey],
    messages: &[Vec<u8>],
    sigs: &[Signature],
    threads: usize,
) -> f64 {
    let per = keys.len().div_ceil(threads.max(1)).max(256);
    let t = Instant::now();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for start in (0..keys.len()).step_by(per) {
            let end = (start + per).min(keys.len());
            handles.push(scope.spawn(move || {
                for c in (start..end).step_by(256) {
                    let e = (c + 256).min(end);
                    let m: Vec<&[u8]> = messages[c..e].iter().map(Vec::as_slice).collect();
                    assert!(
                        ed25519_dalek::verify_batch(&m, &sigs[c..e], &keys[c..e]).is_ok(),
                        "a good batch"
                    );
                }
            }));
        }
        for h in handles {
            h.join().expect("thread");
        }
    });
    keys.len() as f64 / t.elapsed().as_secs_f64()
}

/// The threads the audit checks envelopes on (as `services::audit` chooses them).
pub fn audit_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// The CPU time this process has spent, every thread (`/proc/self/stat`: user and system time
/// in USER_HZ ticks, 100 a second in Linux's x86-64 ABI), in seconds: on a shared machine a
/// wall-clock rate moves with the others' load, while the CPU a piece of work takes moves much
/// less. The ratio of two works' CPU times is what their wall-clock ratio would be on an idle
/// machine if both kept every core busy.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name, which ends at the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("ticks");
    // utime and stime: fields 14 and 15 of the line (the state, field 3, is the first here).
    (ticks(11) + ticks(12)) / 100.0
}
