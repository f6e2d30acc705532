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

use criterion::{Criterion, SamplingMode, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use lingong_node::store::SledStore;
use lingong_protocol::accept::{self, AcceptConfig, Accepted};
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::dates;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::ingest;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::region::RegionCode;
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
/// 2026-01-01T00:00:00Z: when the chain is issued and the posts are signed.
const NOW_MS: i64 = 1_767_225_600_000;

/// What every measurement works on.
struct Fixture {
    cfg: AcceptConfig,
    /// The certificate records of root, county and village, in that order.
    certs: Vec<Envelope>,
    /// The village station's signed posts, in signing order.
    posts: Vec<Envelope>,
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("valid region code")
}

fn certify(
    key: &NodeKey,
    issuer: &NodeKey,
    issuer_chain: Option<&CertChain>,
    code: &str,
    name: &str,
) -> CertChain {
    let request = CertRequest::new(key, region(code), name).expect("valid request");
    cert::issue(issuer, issuer_chain, &request, NOW_MS / 1000, 3650).expect("issued")
}

fn fixture(posts: usize) -> Fixture {
    let root = NodeKey::from_seed([1; 32]);
    let county = NodeKey::from_seed([2; 32]);
    let village = NodeKey::from_seed([3; 32]);
    let root_chain = certify(&root, &root, None, "52", "贵州省公共就业服务中心");
    let county_chain = certify(
        &county,
        &root,
        Some(&root_chain),
        "520102",
        "南明区就业服务站",
    );
    let village_chain = certify(
        &village,
        &county,
        Some(&county_chain),
        "520102016001",
        "纪念塔社区就业服务点",
    );
    let cfg = AcceptConfig {
        root: root.public(),
        materialize: true,
    };
    let mut scratch = MemoryStore::new();
    let mut certs = Vec::new();
    for (key, chain) in [
        (&root, &root_chain),
        (&county, &county_chain),
        (&village, &village_chain),
    ] {
        let author = LocalAuthor { key, cfg };
        let mut staged = Staged::new(&scratch);
        let env = author
            .publish_certificate(&mut staged, chain, NOW_MS)
            .expect("certificate record");
        let batch = staged.into_batch();
        scratch.commit(batch).expect("memory commit");
        certs.push(env);
    }
    let author = LocalAuthor { key: &village, cfg };
    let mut staged = Staged::new(&scratch);
    let titles = [
        "仓库装卸搬运工",
        "超市夜班理货员",
        "小区保洁员",
        "工地混凝土工",
        "茶叶加工工",
    ];
    let occupations = [
        "4-02-05-01",
        "4-02-06-02",
        "4-09-08-01",
        "6-29-01-03",
        "6-02-06-10",
    ];
    let mut signed = Vec::with_capacity(posts);
    for i in 0..posts {
        let at = NOW_MS + i as i64 * 1000;
        let edits = [
            (
                "title",
                FieldValue::Text(format!("{}（{}号）", titles[i % 5], i)),
            ),
            ("occupation", FieldValue::Text(occupations[i % 5].into())),
            ("wage", FieldValue::Number(150.0 + (i % 50) as f64)),
            ("unit", FieldValue::Text("day".into())),
            ("headcount", FieldValue::Int(1 + (i % 8) as i64)),
            ("filled", FieldValue::Counter(0)),
            ("status", FieldValue::Text("open".into())),
            (
                "location",
                FieldValue::Text("贵阳市南明区新华路 88 号".into()),
            ),
            ("contact", FieldValue::Text("0851-8555 0123".into())),
            ("created_at", FieldValue::Text(dates::rfc3339(at))),
        ];
        let target = Target::Create {
            kind: RecordKind::Post,
            reach: Some(region("520102")),
        };
        signed.push(
            author
                .write(&mut staged, target, &edits, at)
                .expect("post signed"),
        );
    }
    Fixture {
        cfg,
        certs,
        posts: signed,
    }
}

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
