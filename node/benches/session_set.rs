//! What a sync session costs a node before the first frame: the item set it shares with the
//! peer. Baseline: built from the whole store ([`Store::items`] scanned and decoded from sled,
//! every key hashed, sorted), which every session did until the store kept one per peer scope.
//! Figure: [`SledStore::shared_set`] after one more envelope was committed (the kept set
//! brought up to date). Both in the same run, alternating, round by round; each round checks
//! that the two sets are equal.
//!
//! `cargo bench -p lingong-node --bench session_set`. A county node (南明区 520102) holding a
//! village station's job posts, every one of them shared with the village. Environment:
//! `LINGONG_BENCH_POSTS` (posts in the store, default 20,000). `cargo test --benches` runs one
//! round over 500 posts.

mod common;

use common::{NOW_MS, fixture, region};
use lingong_node::store::SledStore;
use lingong_protocol::ingest;
use lingong_protocol::scope::Scope;
use lingong_protocol::store::Store;
use lingong_protocol::sync::SharedSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Posts in the store when benching.
const POSTS: usize = 20_000;
/// Rounds: one post committed, then both ways of getting the set.
const ROUNDS: usize = 15;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let posts = std::env::var("LINGONG_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { POSTS } else { 500 });
    let rounds = if benching { ROUNDS } else { 1 };
    let fx = fixture(posts + rounds);
    let dir = tempfile::Builder::new()
        .prefix("lingong-session-set-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let mut store = SledStore::open(dir.path()).expect("sled store");
    let now = NOW_MS + fx.posts.len() as i64 * 1000;
    let (held, held_back) = fx.posts.split_at(posts);
    for chunk in std::iter::once(&fx.certs[..]).chain(held.chunks(500)) {
        let (batch, results) = ingest::accept_batch(&store, &fx.cfg, chunk, now);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        store.commit(batch).expect("commit");
    }
    let me = Scope::new(region("520102"));
    let peer = Scope::new(region("520102016001"));
    // The first session builds the kept set (not measured: it is the baseline's work).
    let first = store.shared_set(me, peer).expect("shared set");
    println!(
        "session set: a county store of {} envelopes, {} shared with the village",
        store.items().expect("items").len(),
        first.len()
    );
    drop(first);
    let mut kept_times = Vec::new();
    let mut built_times = Vec::new();
    for post in held_back {
        let (batch, results) =
            ingest::accept_batch(&store, &fx.cfg, std::slice::from_ref(post), now);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        store.commit(batch).expect("commit");

        let start = Instant::now();
        let built = SharedSet::build(&me, &peer, &store.items().expect("items"));
        built_times.push(start.elapsed());
        let start = Instant::now();
        let kept = store.shared_set(me, peer).expect("shared set");
        kept_times.push(start.elapsed());
        assert_eq!(
            *black_box(kept),
            black_box(built),
            "the kept set is the built one"
        );
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (kept, built) = (median(&mut kept_times), median(&mut built_times));
    println!(
        "kept set brought up to date: {:.1} µs; baseline, built from the store: {:.1} µs; \
         ratio (baseline / kept) = {:.0} (median of {} rounds)",
        kept.as_secs_f64() * 1e6,
        built.as_secs_f64() * 1e6,
        built.as_secs_f64() / kept.as_secs_f64().max(1e-9),
        kept_times.len()
    );
}
