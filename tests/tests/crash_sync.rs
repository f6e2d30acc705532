//! Crash safety of a sync session over libp2p, with real daemons: a village daemon holding a few
//! thousand signed changes (and some hundred more each round, `sample` through its daemon)
//! syncs them up to its county's daemon (`lingong run` both, the village dialling the county),
//! while both sides write locally (`post create` through the control socket, acknowledged when
//! it prints an id) and the village asks for a session (`sync --once`). At a seeded random
//! point the receiving county daemon is SIGKILLed, in some rounds the sending village's too;
//! each killed daemon is restarted. After every kill, of each killed node's store:
//! - it opens (`lingong status` exits 0, then the test opens it);
//! - every post acknowledged there is held exactly once, and its own log and own records agree;
//! - the node's own log has no gap and never shrinks (nor falls below what a read through
//!   the village's daemon saw it had signed);
//! - the village's log as the county holds it (and, when the village was killed too, the
//!   county's log as the village holds it) never has a gap and never shrinks, however the
//!   session was cut (each side pushes an author's changes in sequence order once its
//!   reconciliation has settled, SECURITY.md §4), and once a `sync --once` reported a
//!   completed session with the county, the county holds it up to where it was before that
//!   command.
//!
//! At the end, after a last undisturbed sync, both sides hold the same changes (convergence):
//! the village's log is the same at both, and so are the posts each side created.
//!
//! `cargo test -p lingong-tests --test crash_sync` runs 12 kills (about a minute on two loaded
//! cores); `-- --ignored` runs the long version (200 kills) and prints its figures. Set
//! `CRASH_SYNC_SEED` to replay a run.

mod crash;

use crash::{
    HeldLog, Rng, acknowledged_held_once, acknowledged_id, key_of, log_without_gaps, output_of,
    own_records_match_log,
};
use lingong_node::control::call_daemon;
use lingong_node::home::Home;
use lingong_node::request::Request;
use lingong_node::store::SledStore;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::RecordKind;
use lingong_tests::{Daemon, Node, free_port, init_chain, load_average, poll_until_ok, post_args};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The village's changes waiting to go up when the daemons first start.
const VILLAGE_POSTS: usize = 3000;

/// How long one `sync --once` may wait for its session (two loaded cores, a debug build).
const SYNC_TIMEOUT: &str = "60";

/// What a run did.
#[derive(Debug, Default)]
struct Report {
    kills: usize,
    /// Rounds that killed the sending village's daemon as well as the county's.
    village_kills: usize,
    /// Kills that landed while the village's `sync --once` was still waiting for its session.
    kills_mid_session: usize,
    /// Kills after which the county held less of the village's log than the village had
    /// signed when the round's session was asked for (the transfer was cut; the log it held
    /// had no gap all the same, or the run fails).
    kills_mid_transfer: usize,
    /// Posts acknowledged by `post create` at either side.
    acknowledged_posts: usize,
    /// Changes acknowledged in all: those posts, the village's first posts and its `sample`s.
    acknowledged_changes: usize,
    /// `sync --once` sessions with the county reported complete before the kill point.
    sessions_completed: usize,
    village_log: usize,
    county_log: usize,
    seconds: u64,
}

/// One of the two stations: its daemon, what was acknowledged to its clerk, and its own log.
struct Side {
    node: Node,
    daemon: Daemon,
    key: PublicKey,
    name: &'static str,
    acknowledged: BTreeSet<String>,
    own: HeldLog,
}

impl Side {
    fn new(node: &Node, port: u16, name: &'static str) -> Side {
        let key = key_of(node);
        Side {
            node: node.clone(),
            daemon: Daemon::new(node, &format!("/ip4/127.0.0.1/tcp/{port}"), None),
            key,
            name,
            acknowledged: BTreeSet::new(),
            own: HeldLog::new(key, format!("the {name}'s own log")),
        }
    }

    /// A `post create` through the daemon, in the background.
    fn spawn_write(&self, n: usize) -> Child {
        let title = format!("同步崩溃测试{}岗位{n}", self.name);
        self.node
            .command()
            .arg("--json")
            .args(post_args(&title))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("post create starts")
    }

    /// Reaps a `post create` (finished, or killed with the daemon); an id printed is an
    /// acknowledgement. Returns whether it was one.
    fn reap_write(&mut self, child: Child) -> bool {
        let (code, out, _) = output_of(child);
        if code == Some(0) {
            self.acknowledged.insert(acknowledged_id(&out));
        }
        code == Some(0)
    }

    /// After a kill: the store opens for a command and for the test; every post acknowledged
    /// here is held once; the own log has no gap, has not shrunk and is at least `signed`
    /// long; own records and log agree. Returns the store for further checks.
    fn check_killed(&mut self, signed: usize, kill: usize) -> SledStore {
        self.node.json(&["status"]);
        let store = SledStore::open(&self.node.home.join("store")).expect("the store opens");
        let who = format!("the {}", self.name);
        acknowledged_held_once(&store, &self.acknowledged, &who, kill);
        let own = self.own.check(&store, kill);
        assert!(
            own >= signed,
            "after kill {kill}: {who}'s log holds {own} changes; its daemon had signed {signed}"
        );
        own_records_match_log(&store, &self.key, own, self.acknowledged.len(), &who, kill);
        store
    }

    /// The post records `author` created, as this side's store holds them (daemon stopped).
    fn posts_by(store: &SledStore, author: &PublicKey) -> BTreeSet<u64> {
        store
            .records_of(Some(RecordKind::Post))
            .expect("records")
            .iter()
            .filter(|r| r.creator == *author)
            .map(|r| r.serial)
            .collect()
    }
}

/// How many changes `node` has signed, read through its running daemon's control socket (the
/// web console's sync-state request).
fn signed_through_daemon(node: &Node) -> usize {
    let home = Home::new(Some(node.home.clone()));
    let answer = call_daemon(&home, &Request::SyncWaiting { since: None })
        .expect("the daemon answers")
        .unwrap_or_else(|e| panic!("sync waiting: {}", e.message("en")));
    answer["signed"].as_u64().expect("signed") as usize
}

/// Whether a `sync --json` answer reports a completed session with `peer`.
fn completed_with(answer: &str, peer: &str) -> bool {
    serde_json::from_str::<Value>(answer)
        .ok()
        .and_then(|v| {
            v["peers"]
                .as_array()
                .map(|peers| peers.iter().any(|p| p["peer"] == peer && p["ok"] == true))
        })
        .unwrap_or(false)
}

fn run_kills(kills: usize, default_seed: u64) -> Report {
    let mut rng = Rng::seeded("CRASH_SYNC_SEED", default_seed, "crash_sync");
    let started_run = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = init_chain(dir.path());
    let county_id = nodes[2].node_id();
    let mut county = Side::new(&nodes[2], free_port(), "county");
    let mut village = Side::new(&nodes[4], free_port(), "village");
    village
        .node
        .json(&["sample", "--posts", &VILLAGE_POSTS.to_string()]);
    let county_addr = format!("{}/p2p/{county_id}", county.daemon.listen);
    village.node.json(&["peer", "add", &county_addr]);
    let mut village_at_county = HeldLog::new(village.key, "the village's log at the county");
    let mut county_at_village = HeldLog::new(county.key, "the county's log at the village");

    let mut report = Report {
        acknowledged_changes: VILLAGE_POSTS,
        ..Report::default()
    };
    // The kill points range from at once to a little past how long a session took when
    // nothing stopped it (re-estimated as the rounds go), from a first guess.
    let mut span_ms: u64 = 4000;
    // The village's log length before the last `sync --once` that reported completion.
    let mut completed_floor = 0usize;
    let mut written = 0usize;
    county.daemon.restart();
    village.daemon.restart();
    for kill in 1..=kills {
        // Fresh changes for this round's session to carry up.
        let more = 20 + rng.below(300) as usize;
        village.node.json(&["sample", "--posts", &more.to_string()]);
        report.acknowledged_changes += more;
        let signed = signed_through_daemon(&village.node);
        let at = Duration::from_millis(rng.below(span_ms));
        let kill_village = rng.below(3) == 0;
        let round = Instant::now();
        let mut sync = Some(
            village
                .node
                .command()
                .args(["--json", "sync", "--once", "--timeout", SYNC_TIMEOUT])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sync starts"),
        );
        written += 1;
        let mut writers = [
            Some(county.spawn_write(written)),
            Some(village.spawn_write(written)),
        ];
        // Until the kill point, keep both sides writing and note whether the session ends.
        while round.elapsed() < at {
            for (i, slot) in writers.iter_mut().enumerate() {
                let side = if i == 0 { &mut county } else { &mut village };
                if let Some(child) = slot
                    && child.try_wait().expect("try_wait").is_some()
                {
                    let child = slot.take().expect("a writer");
                    assert!(
                        side.reap_write(child),
                        "post create failed at the {}",
                        side.name
                    );
                    written += 1;
                    *slot = Some(side.spawn_write(written));
                }
            }
            if let Some(child) = sync.as_mut()
                && child.try_wait().expect("try_wait").is_some()
            {
                let took = round.elapsed().as_millis() as u64;
                let (code, out, err) = output_of(sync.take().expect("sync"));
                assert_eq!(code, Some(0), "kill {kill}: sync --once failed: {err}");
                if completed_with(&out, &county_id) {
                    report.sessions_completed += 1;
                    completed_floor = completed_floor.max(signed);
                    // Aim later rounds at the span a whole session takes now.
                    span_ms = (span_ms * 3 + (took * 5 / 4).max(200)) / 4;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if sync.is_some() {
            report.kills_mid_session += 1;
        }
        // SIGKILL: no destructor, no flush, no signal handler runs.
        county.daemon.kill9();
        if kill_village {
            village.daemon.kill9();
            report.village_kills += 1;
        }
        report.kills += 1;
        // The clients go too (a write not answered is not acknowledged; one the daemon
        // answered before it died is), so nothing opens a store behind the checks.
        for (i, slot) in writers.iter_mut().enumerate() {
            let side = if i == 0 { &mut county } else { &mut village };
            if let Some(mut child) = slot.take() {
                let _ = child.kill();
                side.reap_write(child);
            }
        }
        if let Some(mut child) = sync.take() {
            let _ = child.kill();
            let (_, out, _) = output_of(child);
            if completed_with(&out, &county_id) {
                report.sessions_completed += 1;
                completed_floor = completed_floor.max(signed);
            }
            // The session outlasted the kill point: let later ones reach further.
            span_ms = (span_ms * 9 / 8).min(30_000);
        }

        let store = county.check_killed(0, kill);
        let village_now = village_at_county.check(&store, kill);
        assert!(
            village_now >= completed_floor,
            "after kill {kill}: a completed session's changes are not all at the county \
             (it holds the village's log to {village_now} of {completed_floor})"
        );
        if village_now < signed {
            report.kills_mid_transfer += 1;
        }
        drop(store);
        if kill_village {
            let store = village.check_killed(signed, kill);
            county_at_village.check(&store, kill);
        }
        county.daemon.restart();
        if kill_village {
            village.daemon.restart();
        }
        eprintln!(
            "crash_sync: kill {kill} at {} ms{}: the county holds {village_now} of the \
             village's {signed} changes, {} s in",
            at.as_millis(),
            if kill_village { " (village too)" } else { "" },
            started_run.elapsed().as_secs()
        );
    }

    // Convergence: a last sync with nothing disturbing it, then both sides hold the same.
    poll_until_ok(
        "a last, undisturbed sync to complete",
        Duration::from_secs(300),
        || {
            let out = village
                .node
                .run(&["--json", "sync", "--once", "--timeout", SYNC_TIMEOUT]);
            let out = String::from_utf8_lossy(&out.stdout).into_owned();
            if completed_with(&out, &county_id) {
                Ok(())
            } else {
                Err(out)
            }
        },
    );
    county.daemon.stop();
    village.daemon.stop();
    let at_county = SledStore::open(&county.node.home.join("store")).expect("county store");
    let at_village = SledStore::open(&village.node.home.join("store")).expect("village store");
    let last = kills + 1;
    let village_log = village.own.check(&at_village, last);
    // The last session brought the rest.
    let whole = log_without_gaps(
        &at_county,
        &village.key,
        "the village's log at the county",
        last,
    );
    assert_eq!(whole, village_log);
    assert_eq!(
        at_county.author_log(&village.key).expect("log"),
        at_village.author_log(&village.key).expect("log"),
        "the village's log differs between the two sides after the last sync"
    );
    for author in [&county.key, &village.key] {
        assert_eq!(
            Side::posts_by(&at_county, author),
            Side::posts_by(&at_village, author),
            "the two sides hold different posts after the last sync"
        );
    }
    for store in [&at_county, &at_village] {
        acknowledged_held_once(store, &county.acknowledged, "the end", last);
        acknowledged_held_once(store, &village.acknowledged, "the end", last);
    }
    report.acknowledged_posts = county.acknowledged.len() + village.acknowledged.len();
    report.acknowledged_changes += report.acknowledged_posts;
    report.village_log = village_log;
    report.county_log = county.own.check(&at_county, last);
    report.seconds = started_run.elapsed().as_secs();
    eprintln!("crash_sync: {report:?} (load average {})", load_average());
    report
}

#[test]
fn daemons_killed_during_a_sync_session_keep_every_acknowledged_change_and_converge() {
    let report = run_kills(12, 20261207);
    assert_eq!(report.kills, 12);
    assert!(
        report.kills_mid_session > 0,
        "no kill landed during a session: {report:?}"
    );
}

/// The long version: 200 kills (seed 1: 2,906 s at load average 5 to 12 on two shared cores, 7
/// December 2026; SECURITY.md §4).
#[test]
#[ignore]
fn two_hundred_kills_during_sync_sessions() {
    let report = run_kills(200, 1);
    assert_eq!(report.kills, 200);
    println!("{report:?}");
}
