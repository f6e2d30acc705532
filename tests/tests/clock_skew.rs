//! A village whose clock is off, against its township, with real daemons (the village's clock
//! set with the test clock `LINGONG_NOW`): three hours fast, its post is dated three hours
//! ahead and still accepted (within the one-day tolerance, `accept::MAX_FUTURE_MS`); three days
//! fast, its next post is not pushed by a session that completes (the township would date it
//! from the future: `sync` holds it back), and the township never holds it; the township's
//! daemon reports the village's clock offset. SECURITY.md §6 ("Clocks").
//!
//! Run: `cargo test -p lingong-tests --test clock_skew`.

use lingong_tests::{Daemon, Node, free_port, init_chain, poll_until};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);
const HOUR_MS: i64 = 3_600_000;

/// A village daemon whose clock runs `offset_ms` off, killed on drop.
struct Skewed(Child);

impl Skewed {
    fn start(node: &Node, offset_ms: i64) -> Skewed {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let at = lingong_protocol::dates::rfc3339(now_ms + offset_ms);
        let listen = format!("/ip4/127.0.0.1/tcp/{}", free_port());
        let child = node
            .command()
            .env("LINGONG_NOW", &at)
            .args([
                "run",
                "--listen",
                &listen,
                "--sync-interval",
                "1",
                "--no-mdns",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the village daemon starts");
        poll_until("the skewed daemon to answer", DEADLINE, || {
            let out = node.command().args(["--json", "status"]).output().ok()?;
            let v: Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["daemon"] == true).then_some(())
        });
        Skewed(child)
    }
}

impl Drop for Skewed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn holds(node: &Node, title: &str) -> bool {
    node.json(&["post", "list", "--limit", "1000"])
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p["title"] == title))
}

/// `sync` at `node` through its daemon: every session completed; returns the reports.
fn sync_ok(node: &Node) -> Vec<Value> {
    let out = node.json(&["sync"]);
    let peers = out["peers"].as_array().expect("peers").clone();
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync: {out}"
    );
    peers
}

/// The clock offset (s) of `peer` as `node`'s daemon measured it.
fn offset_s(node: &Node, peer: &str) -> Option<i64> {
    let status = node.json(&["status"]);
    status["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer"] == peer)
        .and_then(|p| p["clock_offset_s"].as_i64())
}

#[test]
fn a_village_hours_fast_is_accepted_and_one_days_fast_is_held_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let port = free_port();
    village.json(&[
        "peer",
        "add",
        &format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id()),
    ]);
    let village_id = village.node_id();
    let _township_daemon = Daemon::start(township, port);

    // Three hours fast: within the tolerance.
    {
        let _v = Skewed::start(village, 3 * HOUR_MS);
        village.create_post("时钟快三小时的岗位", None, &[]);
        sync_ok(village);
        poll_until("the post dated 3 h ahead at the township", DEADLINE, || {
            holds(township, "时钟快三小时的岗位").then_some(())
        });
        let off = poll_until("the township to measure the offset", DEADLINE, || {
            offset_s(township, &village_id)
        });
        assert!(
            (3 * 3600 - 120..=3 * 3600 + 120).contains(&off),
            "the township sees the village 3 h ahead: {off} s"
        );
    }

    // Three days fast: the post is signed at the village, but no completed session carries it.
    {
        let _v = Skewed::start(village, 72 * HOUR_MS);
        village.create_post("时钟快三天的岗位", None, &[]);
        assert!(holds(village, "时钟快三天的岗位"), "signed at the village");
        for _ in 0..3 {
            let reports = sync_ok(village);
            assert!(
                reports.iter().all(|r| r["changes_sent"] == 0),
                "nothing pushed that the township would date from the future: {reports:?}"
            );
        }
        assert!(
            !holds(township, "时钟快三天的岗位"),
            "the township does not hold a post dated three days ahead"
        );
        let off = poll_until("the township to measure the offset", DEADLINE, || {
            offset_s(township, &village_id).filter(|o| *o > 24 * 3600)
        });
        assert!(
            (72 * 3600 - 120..=72 * 3600 + 120).contains(&off),
            "the township sees the village 3 days ahead: {off} s"
        );
    }
}
