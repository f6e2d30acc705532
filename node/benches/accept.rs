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
//!
//! Then the erasure check on worker changes (issue 17): every worker change a node accepts is
//! asked whether it is a PIPL erasure ([`accept::is_erasure`]) before it is applied. The village signs [`WORKERS`] worker registrations and one edit of each (phone and
//! skills); [`ROUNDS`] rounds ingest them batched into a fresh sled store as above, each batch
//! preceded by the check alone over the same changes' payloads ([`accept::is_erasure`], what
//! accept runs) and by the full read of their operations ([`accept::erasure_fields`]), so that
//! the figures share one moment's load. It prints the round with the median share:
//! `check/accept = X`, the check's time against the accept of the same changes (which includes
//! it), and the full read's (what the check cost before it searched the bytes first).
//! `LINGONG_BENCH_WORKERS` overrides the number of workers (200 under `cargo test`).

mod common;
#[path = "common/measure.rs"]
mod measure;

use common::{Fixture, NOW_MS, fixture};
use criterion::{Criterion, SamplingMode, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use lingong_node::store::SledStore;
use lingong_protocol::accept::{self, Accepted};
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::id_number;
use lingong_protocol::ingest;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::schema::worker::erasure_edits;
use lingong_protocol::schema::{Flag, Schema, Worker, WorkerStatus};
use lingong_protocol::store::{MemoryStore, Staged, Store};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Signed posts per run.
const POSTS: usize = 10_000;
/// Envelopes per accepted batch (one commit, one flush each).
const BATCH: usize = 500;
/// Rounds of the final summary.
const ROUNDS: usize = 7;
/// Workers registered (each then edited once) for the erasure check's figure.
const WORKERS: usize = 2_000;
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
    /// [`accept::is_erasure`] over the same envelopes' payloads, batch by batch (when asked).
    erasure_check: Duration,
    /// [`accept::erasure_fields`] (every operation read) over them, batch by batch.
    erasure_fields: Duration,
}

/// What is measured beside each batch, before it is accepted.
#[derive(Clone, Copy)]
enum Beside<'a> {
    Nothing,
    /// The raw verification of the same envelopes (posts: their index in the fixture).
    RawVerify(&'a RawInputs),
    /// The erasure check and the full read of the same changes.
    ErasureCheck,
}

/// Times `f` over the payload of each of `envs`, which must all answer "not an erasure".
fn time_payloads(envs: &[Envelope], f: impl Fn(&[u8]) -> bool) -> Duration {
    let start = Instant::now();
    for e in envs {
        let payload = e.payload.as_deref().expect("a change with its payload");
        assert!(!black_box(f(black_box(payload))), "not an erasure");
    }
    start.elapsed()
}

impl Timing {
    fn total(&self) -> Duration {
        self.accept + self.commit
    }
}

/// Opens a fresh sled store in `dir` holding the certificate records (untimed), then accepts
/// every one of `changes` (signed by the fixture's village) in batches of [`BATCH`], one commit
/// each; returns the time of the changes alone. Each batch is preceded by what `beside` names,
/// timed apart, so that a baseline and the ingest share the machine's conditions of the same
/// moment.
fn ingest_into_sled(
    fx: &Fixture,
    changes: &[Envelope],
    dir: &Path,
    route: Route,
    beside: Beside<'_>,
) -> Timing {
    let mut store = SledStore::open(dir).expect("sled store");
    let (batch, results) = ingest::accept_batch(&store, &fx.cfg, &fx.certs, NOW_MS);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    store.commit(batch).expect("commit");
    let now = NOW_MS + changes.len() as i64 * 1000;
    let mut timing = Timing::default();
    for (k, chunk) in changes.chunks(BATCH).enumerate() {
        match beside {
            Beside::Nothing => {}
            Beside::RawVerify(raw) => {
                timing.raw_verify += raw.verify_range(k * BATCH..k * BATCH + chunk.len());
            }
            Beside::ErasureCheck => {
                timing.erasure_check +=
                    time_payloads(chunk, |p| accept::is_erasure(p).expect("a change"));
                timing.erasure_fields += time_payloads(chunk, |p| {
                    accept::erasure_fields(p).expect("a change").is_some()
                });
            }
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
            "every change is accepted: {:?}",
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
                    .map(|_| {
                        ingest_into_sled(fx, &fx.posts, fresh_dir().path(), route, Beside::Nothing)
                            .total()
                    })
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
            let t = ingest_into_sled(
                fx,
                &fx.posts,
                dir.path(),
                Route::Batched,
                Beside::RawVerify(raw),
            );
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

/// `n` worker registrations signed by the fixture's village (ten fields, as `worker register`
/// writes them: a masked ID number and a `v2:` hash field, two skills, a flag for every third),
/// then one edit of each (phone and skills, as `worker update`), in signing order; and the
/// erasure of the first worker (not ingested: the check's positive case).
fn worker_changes(fx: &Fixture, n: usize) -> (Vec<Envelope>, Envelope) {
    let village = NodeKey::from_seed([3; 32]);
    assert_eq!(
        Some(village.public()),
        fx.posts.first().map(|p| p.header.author),
        "the fixture's village signs the workers too"
    );
    let mut scratch = MemoryStore::new();
    let (batch, results) = ingest::accept_batch(&scratch, &fx.cfg, &fx.certs, NOW_MS);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    scratch.commit(batch).expect("memory commit");
    let author = LocalAuthor {
        key: &village,
        cfg: fx.cfg,
    };
    let mut staged = Staged::new(&scratch);
    let skills = ["4-02-05-01", "4-09-08-01", "6-29-01-03", "6-02-06-10"];
    let mut changes = Vec::with_capacity(2 * n);
    for i in 0..n {
        let at = NOW_MS + i as i64 * 1000;
        let number = id_number::complete_id_number(&format!("5201021970{:07}", i % 10_000_000));
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let worker = Worker {
            name: format!("王秀英{i}"),
            id_masked: id_number::mask_id_number(&number),
            id_hash: id_number::id_hash_field(&hash),
            phone: format!("138{:08}", i),
            skills: vec![skills[i % 4].into(), skills[(i + 1) % 4].into()],
            wage_min: Some(120.0 + (i % 40) as f64),
            flags: if i % 3 == 0 {
                vec![Flag::Older]
            } else {
                Vec::new()
            },
            available_from: Some("2026-01-05".into()),
            available_to: None,
            status: WorkerStatus::Active,
            region: common::region("520102016001"),
            created_at: lingong_protocol::dates::rfc3339(at),
        };
        let target = Target::Create {
            kind: RecordKind::Worker,
            reach: None,
        };
        changes.push(
            author
                .write(&mut staged, target, &worker.edits(), at)
                .expect("worker signed"),
        );
    }
    for i in 0..n {
        let at = NOW_MS + (n + i) as i64 * 1000;
        let edits = [
            ("phone", FieldValue::Text(format!("139{:08}", i))),
            ("skills", FieldValue::List(vec![skills[(i + 2) % 4].into()])),
        ];
        let record = changes[i].header.record;
        changes.push(
            author
                .write(&mut staged, Target::Edit(record), &edits, at)
                .expect("worker edit signed"),
        );
    }
    let first = changes[0].header.record;
    let view = staged
        .record(&first)
        .expect("store")
        .expect("the first worker")
        .view;
    let at = NOW_MS + 2 * n as i64 * 1000;
    let erasure = author
        .write(
            &mut staged,
            Target::Edit(first),
            &erasure_edits(&view, &lingong_protocol::dates::rfc3339(at), "本人申请删除"),
            at,
        )
        .expect("erasure signed");
    (changes, erasure)
}

/// [`ROUNDS`] rounds of the batched ingest of the worker changes, each batch preceded by the
/// erasure check and the full read of its changes; prints the round with the median share of
/// the check in the accept.
fn erasure_summary(fx: &Fixture, workers: usize) {
    let (changes, erasure) = worker_changes(fx, workers);
    let payload = erasure.payload.as_deref().expect("the erasure's payload");
    assert!(accept::is_erasure(payload).expect("a change"), "an erasure");
    let bytes: usize = changes
        .iter()
        .map(|c| c.payload.as_ref().map_or(0, Vec::len))
        .sum();
    let n = changes.len() as f64;
    let mut rounds: Vec<(f64, Timing)> = (0..ROUNDS)
        .map(|_| {
            let dir = fresh_dir();
            let t = ingest_into_sled(
                fx,
                &changes,
                dir.path(),
                Route::Batched,
                Beside::ErasureCheck,
            );
            (t.erasure_check.as_secs_f64() / t.accept.as_secs_f64(), t)
        })
        .collect();
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let shares: Vec<String> = rounds.iter().map(|r| format!("{:.4}", r.0)).collect();
    let (share, t) = rounds[rounds.len() / 2];
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!(
        "erasure check: {} worker changes ({workers} registrations, {workers} edits; payloads \
         {:.0} bytes on average) into sled in batches of {BATCH}; {ROUNDS} rounds, \
         check/accept {}; median round:",
        changes.len(),
        bytes as f64 / n,
        shares.join(" ")
    );
    println!(
        "  per change: accept_batch {:.1} µs (the check inside it), sled commit {:.1} µs; \
         the check alone (accept::is_erasure) {:.2} µs; every operation read \
         (accept::erasure_fields) {:.2} µs",
        us(t.accept),
        us(t.commit),
        us(t.erasure_check),
        us(t.erasure_fields),
    );
    println!(
        "check/accept = {share:.4}; check/(accept + commit) = {:.4}; full read/accept = {:.4}",
        t.erasure_check.as_secs_f64() / t.total().as_secs_f64(),
        t.erasure_fields.as_secs_f64() / t.accept.as_secs_f64(),
    );
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
        println!("before: {}", measure::uptime());
        summary(&fx, &raw);
    }
    let workers = std::env::var("LINGONG_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { WORKERS } else { 200 });
    println!("before the erasure check: {}", measure::uptime());
    erasure_summary(&fx, workers);
    println!("after: {}", measure::uptime());
}
