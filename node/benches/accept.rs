//! Ingest benchmark: signed changes accepted per second into a sled store (verify, authorize,
//! apply, durable write, in batches), beside the raw ed25519 verification rate measured in the
//! same run, and their ratio.
//!
//! Run with `cargo bench -p lingong-node --bench accept`. Setup (untimed) certifies a village
//! station under a county under the province root, and has it sign [`POSTS`] realistic
//! ten-field job posts (each creates its record) against a scratch memory store. Then, timed:
//! - `raw ed25519 verify`: one strict ed25519 verification of a header (the baseline);
//! - `batch verify`: [`ingest::verify_signatures`] over all headers, per envelope;
//! - `sled ingest, batched`: [`ingest::accept_batch`] over [`BATCH`] envelopes at a time into a
//!   fresh [`SledStore`] on disk, each batch written by one `commit` (one flush);
//! - `sled ingest, one by one verified`: the same batches through [`accept::accept_all`], which
//!   verifies each signature alone (what batching the signatures saves).
//!
//! After criterion, the binary times [`ROUNDS`] more batched ingests itself, each batch preceded
//! by the raw verification of the same envelopes, so that the figure and its baseline share the
//! machine's load of the same moment (builds and tests of other work run beside it on two
//! cores). It prints the round with the median ratio as
//! `accepted/s = X; raw verify/s = Y; ratio = X/Y`, with the time per envelope by phase.
//! `LINGONG_BENCH_POSTS` overrides the number of posts; `cargo test --benches` runs each
//! measurement once over 1,000 posts and skips the summary.

mod common;

use common::{Fixture, NOW_MS, fixture};
use criterion::{Criterion, SamplingMode, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use lingong_node::store::SledStore;
use lingong_protocol::accept::{self, Accepted};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::ingest;
use lingong_protocol::store::{Staged, Store};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Signed posts per run.
const POSTS: usize = 10_000;
/// Envelopes per accepted batch (one commit, one flush each).
const BATCH: usize = 500;
/// Rounds of the final summary.
const ROUNDS: usize = 7;
/// The baseline's inputs: keys, header bytes and signatures, prepared outside the timing.
struct RawInputs {
    keys: Vec<VerifyingKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
}

impl RawInputs {
    fn new(envs: &[Envelope]) -> RawInputs {
        RawInputs {
            keys: envs
                .iter()
                .map(|e| VerifyingKey::from_bytes(&e.header.author.0).expect("key"))
                .collect(),
            messages: envs.iter().map(|e| e.header.signed_bytes()).collect(),
            signatures: envs
                .iter()
                .map(|e| Signature::from_bytes(&e.signature.0))
                .collect(),
        }
    }
    fn verify(&self, i: usize) -> bool {
        self.keys[i]
            .verify_strict(&self.messages[i], &self.signatures[i])
            .is_ok()
    }
    /// Verifies the signatures of `range` once each; returns the time taken.
    fn verify_range(&self, range: std::ops::Range<usize>) -> Duration {
        let start = Instant::now();
        for i in range {
            assert!(black_box(self.verify(black_box(i))));
        }
        start.elapsed()
    }
}

/// How a batch of envelopes goes into the store.
#[derive(Clone, Copy)]
enum Route {
    /// [`ingest::accept_batch`]: batch-verified signatures.
    Batched,
    /// [`accept::accept_all`]: each signature verified alone.
    OneByOne,
}

/// Where an ingest's time went, with the baseline measured beside it.
#[derive(Clone, Copy, Default)]
struct Timing {
    /// Verify, authorize and apply into the staged batch.
    accept: Duration,
    /// `SledStore::commit`: encode, write and flush.
    commit: Duration,
    /// The raw ed25519 verification of the same envelopes, batch by batch (when asked for).
    raw_verify: Duration,
}

impl Timing {
    fn total(&self) -> Duration {
        self.accept + self.commit
    }
}

/// Opens a fresh sled store in `dir` holding the certificate records (untimed), then accepts
/// every post in batches of [`BATCH`], one commit each; returns the time of the posts alone.
/// With `raw`, each batch is preceded by the raw verification of its envelopes, so that the
/// baseline and the ingest share the machine's conditions of the same moment.
fn ingest_into_sled(fx: &Fixture, dir: &Path, route: Route, raw: Option<&RawInputs>) -> Timing {
    let mut store = SledStore::open(dir).expect("sled store");
    let (batch, results) = ingest::accept_batch(&store, &fx.cfg, &fx.certs, NOW_MS);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    store.commit(batch).expect("commit");
    let now = NOW_MS + fx.posts.len() as i64 * 1000;
    let mut timing = Timing::default();
    for (k, chunk) in fx.posts.chunks(BATCH).enumerate() {
        if let Some(raw) = raw {
            timing.raw_verify += raw.verify_range(k * BATCH..k * BATCH + chunk.len());
        }
        let start = Instant::now();
        let (batch, results) = match route {
            Route::Batched => ingest::accept_batch(&store, &fx.cfg, chunk, now),
            Route::OneByOne => {
                let mut staged = Staged::new(&store);
                let results = accept::accept_all(&mut staged, &fx.cfg, chunk, now);
                (staged.into_batch(), results)
            }
        };
        let accepted = Instant::now();
        timing.accept += accepted - start;
        assert!(
            results.iter().all(|r| matches!(r, Ok(Accepted::New))),
            "every post is accepted: {:?}",
            results.iter().find(|r| r.is_err())
        );
        store.commit(batch).expect("commit");
        timing.commit += accepted.elapsed();
    }
    drop(store);
    timing
}

fn fresh_dir() -> tempfile::TempDir {
    // On disk under target/, not a RAM-backed /tmp: the flush must reach a real file system.
    tempfile::Builder::new()
        .prefix("lingong-accept-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
}

fn benches(c: &mut Criterion, fx: &Fixture, raw: &RawInputs) {
    let n = fx.posts.len();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("raw ed25519 verify", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            assert!(raw.verify(black_box(i)));
        })
    });
    group.throughput(Throughput::Elements(n as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("batch verify (ingest::verify_signatures)", |b| {
        b.iter(|| {
            let proved = ingest::verify_signatures(black_box(&fx.posts));
            assert!(proved.iter().all(|p| *p));
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sled ingest");
    group.throughput(Throughput::Elements(n as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    for (name, route) in [
        ("batched (ingest::accept_batch)", Route::Batched),
        ("one by one verified (accept::accept_all)", Route::OneByOne),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| ingest_into_sled(fx, fresh_dir().path(), route, None).total())
                    .sum()
            })
        });
    }
    group.finish();
}

/// [`ROUNDS`] rounds of the batched ingest, each batch preceded by the raw verification of its
/// envelopes; prints the round with the median ratio and the summary line.
fn summary(fx: &Fixture, raw: &RawInputs) {
    let n = fx.posts.len() as f64;
    let mut rounds: Vec<(f64, Timing, f64)> = (0..ROUNDS)
        .map(|_| {
            let dir = fresh_dir();
            let t = ingest_into_sled(fx, dir.path(), Route::Batched, Some(raw));
            let start = Instant::now();
            black_box(ingest::verify_signatures(&fx.posts));
            let batch_verify = start.elapsed().as_secs_f64();
            (
                t.raw_verify.as_secs_f64() / t.total().as_secs_f64(),
                t,
                batch_verify,
            )
        })
        .collect();
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ratios: Vec<String> = rounds.iter().map(|r| format!("{:.3}", r.0)).collect();
    let (ratio, t, batch_verify) = rounds[rounds.len() / 2];
    let us = |d: f64| d * 1e6 / n;
    let x = n / t.total().as_secs_f64();
    let y = n / t.raw_verify.as_secs_f64();
    println!(
        "summary: {} posts into sled in batches of {BATCH}; {ROUNDS} rounds, ratios {}; median round:",
        fx.posts.len(),
        ratios.join(" ")
    );
    println!(
        "  per envelope: accept_batch {:.1} µs (batch signature check alone: {:.1} µs), \
         sled commit {:.1} µs; raw ed25519 verify {:.1} µs",
        us(t.accept.as_secs_f64()),
        us(batch_verify),
        us(t.commit.as_secs_f64()),
        us(t.raw_verify.as_secs_f64()),
    );
    println!("accepted/s = {x:.0}; raw verify/s = {y:.0}; ratio = X/Y = {ratio:.3}");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not.
    let args: Vec<String> = std::env::args().collect();
    let benching = args.iter().any(|a| a == "--bench");
    let posts = std::env::var("LINGONG_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { POSTS } else { 1_000 });
    let fx = fixture(posts);
    let raw = RawInputs::new(&fx.posts);
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &fx, &raw);
    c.final_summary();
    // Criterion's profiling mode (`--profile-time`) skips the summary too.
    if benching && !args.iter().any(|a| a == "--profile-time") {
        summary(&fx, &raw);
    }
}
