//! What the crash tests share (`crash_kills.rs`: commands killed during a bundle import;
//! `crash_sync.rs`: daemons killed during a sync session): the seeded generator of kill points,
//! and the checks made of a store after every kill: it opens, no author's log has a gap or
//! shrinks, every acknowledged post is held exactly once, and the node's own log and records
//! agree.

use lingong_node::store::SledStore;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::RecordKind;
use lingong_tests::Node;
use std::collections::BTreeSet;
use std::process::Child;

/// xorshift64*: a seeded generator is all the kill points need.
pub struct Rng(u64);

impl Rng {
    /// The generator of a run: seeded from the environment variable `var` if it holds a number
    /// (to replay a run), else `default`; prints the seed and how to replay it.
    pub fn seeded(var: &str, default: u64, test: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("{test}: seed {seed} ({var}={seed} replays it)");
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The public key of `node`.
pub fn key_of(node: &Node) -> PublicKey {
    PublicKey::from_node_id(&node.node_id()).expect("a node id")
}

/// The exit code (none: killed), stdout and stderr of a finished or killed process.
pub fn output_of(child: Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().expect("reaped");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The id a `--json post create` printed (its acknowledgement).
pub fn acknowledged_id(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    v["id"].as_str().expect("an id").to_string()
}

/// The author's log as held in `store`: its length, after checking it has no gap.
pub fn log_without_gaps(store: &SledStore, author: &PublicKey, who: &str, kill: usize) -> usize {
    let log = store.author_log(author).expect("log reads");
    for (i, (seq, _)) in log.iter().enumerate() {
        assert_eq!(
            *seq,
            i as u64 + 1,
            "after kill {kill}: {who}'s log has a gap before sequence number {seq}"
        );
    }
    log.len()
}

/// One author's log as one store holds it, followed from kill to kill: it never has a gap
/// and never shrinks.
pub struct HeldLog {
    pub author: PublicKey,
    /// Whose log in which store, for messages ("the village's log at the county").
    pub who: String,
    /// Its length at the last check.
    pub held: usize,
}

impl HeldLog {
    pub fn new(author: PublicKey, who: impl Into<String>) -> HeldLog {
        HeldLog {
            author,
            who: who.into(),
            held: 0,
        }
    }

    /// Checks the log in `store` (no gap, not shorter than at the last check) and returns its
    /// length.
    pub fn check(&mut self, store: &SledStore, kill: usize) -> usize {
        let now = log_without_gaps(store, &self.author, &self.who, kill);
        assert!(
            now >= self.held,
            "after kill {kill}: {} shrank from {} to {now}",
            self.who,
            self.held
        );
        self.held = now;
        now
    }
}

/// Every acknowledged post is held in `store` exactly once (one record per id).
pub fn acknowledged_held_once(
    store: &SledStore,
    acknowledged: &BTreeSet<String>,
    who: &str,
    kill: usize,
) {
    for id in acknowledged {
        let found = store.find_record(id).expect("find");
        assert_eq!(
            found.len(),
            1,
            "after kill {kill}: acknowledged post {id} is held {} times at {who}",
            found.len()
        );
    }
}

/// Exactly once on the writer's side: one envelope in the node's own log (of length
/// `own_log`) per record it created, and at least one post record per acknowledged post.
pub fn own_records_match_log(
    store: &SledStore,
    own: &PublicKey,
    own_log: usize,
    acknowledged: usize,
    who: &str,
    kill: usize,
) {
    let own_records = store
        .records_of(None)
        .expect("records")
        .iter()
        .filter(|r| r.creator == *own)
        .count();
    assert_eq!(
        own_records, own_log,
        "after kill {kill}: {who}'s log and its records disagree"
    );
    let own_posts = store
        .records_of(Some(RecordKind::Post))
        .expect("records")
        .iter()
        .filter(|r| r.creator == *own)
        .count();
    assert!(
        own_posts >= acknowledged,
        "after kill {kill}: {who} holds {own_posts} own posts, {acknowledged} acknowledged"
    );
}
