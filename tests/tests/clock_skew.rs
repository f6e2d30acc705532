//! A village whose clock is off, against its township, with real daemons (the village's clock
//! set with the test clock `LINGONG_NOW`). SECURITY.md "Clocks".
//!
//! - Three hours fast, a post signed before any session is dated three hours ahead and still
//!   accepted (within the one-day tolerance, `accept::MAX_FUTURE_MS`); once a session has
//!   measured the clock against the township's (the parent), the village signs nothing more
//!   (`clock-off`, exit 1: off by more than `accept::MAX_BACKDATE_MS`, an hour). Its clock set
//!   right, a session clears that, and a post now is refused as back-dated (three hours before
//!   its predecessor). Three days fast, a post signed before the session is not pushed by a
//!   session that completes (the township would date it from the future: `sync` holds it
//!   back), and the township never holds it; the township's daemon reports the offset.
//! - A village whose clock runs three days slow after its first sync cannot get a back-dated
//!   change accepted: without its daemon, its own accept path refuses to sign it (`back-dated`,
//!   exit 2); with its daemon, once a session measured the township's clock, it refuses to sign
//!   (`clock-off`); a change signed with its key by hand and carried to the township in a
//!   bundle is refused there (`back-dated`); with the clock set right it signs again.
//!
//! Run: `cargo test -p lingong-tests --test clock_skew`.

use lingong_tests::{Daemon, Node, free_port, init_chain, poll_until, post_args};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);
const HOUR_MS: i64 = 3_600_000;

/// The time `offset_ms` from now, as `LINGONG_NOW` takes it.
fn clock(offset_ms: i64) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    lingong_protocol::dates::rfc3339(now_ms + offset_ms)
}

/// A daemon whose clock runs `offset_ms` off, killed on drop.
struct Skewed(Child);

impl Skewed {
    fn start(node: &Node, offset_ms: i64) -> Skewed {
        Skewed::start_listening(node, offset_ms, free_port())
    }

    fn start_listening(node: &Node, offset_ms: i64, port: u16) -> Skewed {
        let at = clock(offset_ms);
        let listen = format!("/ip4/127.0.0.1/tcp/{port}");
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

/// Waits until `node`'s daemon has measured `peer`'s clock off by more than `min_s` seconds
/// either way (any offset for a negative `min_s`); returns the offset.
fn measured(node: &Node, peer: &str, min_s: i64) -> i64 {
    poll_until("the daemon to measure the peer's clock", DEADLINE, || {
        offset_s(node, peer).filter(|o| o.abs() > min_s)
    })
}

/// Asserts that `post create` at `node` (with `env`) is refused with `code` and `status`,
/// the message saying so in English and in Chinese; returns the English message.
fn refused(node: &Node, env: &[(&str, &str)], title: &str, code: &str, status: i32) -> String {
    let f = node.fail_env(env, &post_args(title));
    assert_eq!(f.status, status, "{f:?}");
    assert_eq!(f.json["error"]["code"], code, "{f:?}");
    let zh = node
        .command()
        .envs(env.iter().copied())
        .args(["--lang", "zh"])
        .args(post_args(title))
        .output()
        .expect("runs");
    assert_eq!(zh.status.code(), Some(status));
    let zh = String::from_utf8_lossy(&zh.stderr);
    assert!(
        zh.contains("时钟") || zh.contains("早一小时以上"),
        "the refusal in Chinese: {zh}"
    );
    f.json["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
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
    let township_id = township.node_id();
    let _township_daemon = Daemon::start(township, port);

    // Three hours fast: a post signed before any session is within the tolerance.
    {
        let fast = clock(3 * HOUR_MS);
        village.json_env(&[("LINGONG_NOW", &fast)], &post_args("时钟快三小时的岗位"));
        let _v = Skewed::start(village, 3 * HOUR_MS);
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
        // The village measured the township's clock three hours behind its own: it signs
        // nothing more until its clock is set right.
        let own = measured(village, &township_id, 3600);
        assert!((-3 * 3600 - 120..=-3 * 3600 + 120).contains(&own), "{own}");
        let why = refused(village, &[], "时钟仍快的岗位", "clock-off", 1);
        assert!(why.contains("ahead of its parent's"), "{why}");
        assert!(!holds(village, "时钟仍快的岗位"), "nothing signed");
    }
    assert!(
        village.home.join("clock-off").exists(),
        "the refusal outlives the daemon"
    );
    let why = refused(
        village,
        &[("LINGONG_NOW", &clock(3 * HOUR_MS))],
        "不经守护进程的岗位",
        "clock-off",
        1,
    );
    assert!(why.contains("timedatectl"), "{why}");

    // The clock set right: a session clears the refusal, but a post now would be dated three
    // hours before the village's last change: refused as back-dated by its own accept path.
    {
        let _v = Skewed::start(village, 0);
        sync_ok(village);
        poll_until("the refusal to clear", DEADLINE, || {
            (!village.home.join("clock-off").exists()).then_some(())
        });
        let why = refused(village, &[], "倒签的岗位", "back-dated", 2);
        assert!(why.contains("more than an hour before"), "{why}");
    }

    // Three days fast: the post is signed before the session, but no completed session
    // carries it.
    {
        let fast = clock(72 * HOUR_MS);
        village.json_env(&[("LINGONG_NOW", &fast)], &post_args("时钟快三天的岗位"));
        let _v = Skewed::start(village, 72 * HOUR_MS);
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
        refused(village, &[], "时钟快三天后的岗位", "clock-off", 1);
    }
}

/// The village's change after its last one, signed with its key by hand `back_ms` before
/// that one (what a node that skipped its own checks would sign), in a bundle file.
fn back_dated_bundle(village: &Node, dir: &std::path::Path, back_ms: i64) -> std::path::PathBuf {
    use lingong_protocol::envelope::Envelope;
    use lingong_protocol::record::{FieldValue, RecordId, RecordKind, make_change};
    let key = lingong_node::home::Home::new(Some(village.home.clone()))
        .load_key()
        .expect("the village's key");
    let export = dir.join("village-holds.bundle");
    village.json(&["bundle", "export", "--out", export.to_str().expect("utf-8")]);
    let held = lingong_protocol::bundle::parse(&std::fs::read(&export).expect("bundle"))
        .expect("the export parses");
    let last = held
        .iter()
        .filter(|e| e.header.author == key.public())
        .max_by_key(|e| e.header.seq)
        .expect("the village's own changes");
    let (seq, at_ms) = (last.header.seq + 1, last.header.timestamp_ms - back_ms);
    let fields = [
        ("title", FieldValue::Text("手工倒签的岗位".into())),
        ("occupation", FieldValue::Text("4-10-01-06".into())),
        ("wage", FieldValue::Number(150.0)),
        ("unit", FieldValue::Text("day".into())),
        ("headcount", FieldValue::Int(2)),
        ("status", FieldValue::Text("open".into())),
    ];
    let env = Envelope::sign(
        &key,
        seq,
        last.id(),
        RecordId {
            creator: key.public(),
            serial: seq,
        },
        RecordKind::Post,
        last.header.region,
        last.header.region,
        at_ms,
        last.header.cert,
        make_change(None, &key.public(), &fields, at_ms).expect("change"),
    );
    let mut bundle = lingong_protocol::bundle::MAGIC.to_vec();
    lingong_protocol::bundle::push(&mut bundle, &env.to_bytes());
    let path = dir.join("back-dated.bundle");
    std::fs::write(&path, bundle).expect("write the bundle");
    path
}

#[test]
fn a_village_whose_clock_runs_days_slow_after_its_first_sync_cannot_back_date_a_change() {
    // The network's time is ten days after the certificates were issued, so a clock three
    // days slow still lies inside the village's certificate (else `expired-cert` decides).
    const NET_MS: i64 = 240 * HOUR_MS;
    const SLOW_MS: i64 = NET_MS - 72 * HOUR_MS;
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let port = free_port();
    village.json(&[
        "peer",
        "add",
        &format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id()),
    ]);
    let township_id = township.node_id();
    let _township_daemon = Skewed::start_listening(township, NET_MS, port);

    // The first sync, both clocks right.
    {
        let _v = Skewed::start(village, NET_MS);
        village.json(&post_args("第一次同步的岗位"));
        sync_ok(village);
        poll_until("the first post at the township", DEADLINE, || {
            holds(township, "第一次同步的岗位").then_some(())
        });
        let own = measured(village, &township_id, -1);
        assert!(own.abs() < 120, "the clocks agree: {own} s");
    }

    // The clock runs three days slow. Without the daemon: the village's own accept path
    // refuses to sign a change dated three days before its last one.
    let slow = clock(SLOW_MS);
    let why = refused(
        village,
        &[("LINGONG_NOW", &slow)],
        "倒签三天的岗位",
        "back-dated",
        2,
    );
    assert!(why.contains("more than an hour before"), "{why}");
    assert!(!holds(village, "倒签三天的岗位"), "nothing signed");

    // With the daemon (clock three days slow): once a session measured the township's clock,
    // it refuses to sign at all; nothing back-dated reaches the township.
    {
        let _v = Skewed::start(village, SLOW_MS);
        sync_ok(village);
        let own = measured(village, &township_id, 3600);
        assert!((72 * 3600 - 120..=72 * 3600 + 120).contains(&own), "{own}");
        let why = refused(village, &[], "守护进程倒签的岗位", "clock-off", 1);
        assert!(why.contains("behind its parent's"), "{why}");
    }

    // A change signed with the village's key by hand, three days before its last one, carried
    // to the township in a bundle: the township's accept path refuses it.
    let bundle = back_dated_bundle(village, dir.path(), 72 * HOUR_MS);
    let f = township.fail(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(f.status, 1, "{f:?}");
    assert_eq!(f.json["error"]["code"], "bundle-refused", "{f:?}");
    let message = f.json["error"]["message"].as_str().expect("message");
    assert!(message.contains("back-dated: 1"), "{message}");
    assert!(!holds(township, "手工倒签的岗位"));
    for title in ["倒签三天的岗位", "守护进程倒签的岗位"] {
        assert!(
            !holds(township, title),
            "{title} never reached the township"
        );
    }

    // The clock set right again: a session clears the refusal and the village signs again.
    {
        let _v = Skewed::start(village, NET_MS);
        sync_ok(village);
        poll_until("the refusal to clear", DEADLINE, || {
            (!village.home.join("clock-off").exists()).then_some(())
        });
        village.json(&post_args("时钟校准后的岗位"));
        sync_ok(village);
        poll_until("the post after the fix at the township", DEADLINE, || {
            holds(township, "时钟校准后的岗位").then_some(())
        });
    }
}
