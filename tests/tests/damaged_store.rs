//! A damaged store, with real `lingong` processes: one flipped byte (or a cut-off file) in the
//! sled store must stop every command with one clear bilingual message that names the store and
//! `lingong repair` (never sled's English or terminal colours, never a store silently missing
//! its last changes); `lingong repair` must move the store aside, keep what still verifies,
//! fetch the rest from the parent, report honest numbers, and sign nothing until the node's own
//! log is caught up, so the parent sees no fork.
//!
//! Run: `cargo test -p lingong-tests --test damaged_store`.

use lingong_tests::{Daemon, Failure, Node, certify, free_port, init_chain, poll_until, post_args};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);

fn db_file(node: &Node) -> PathBuf {
    node.home.join("store").join("db")
}

/// The part of the store's `db` file sled has written (it allocates a 512 KiB segment ahead,
/// zero-filled): its length.
fn written(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .expect("a written store")
        + 1
}

/// Flips one bit in the middle of what the last command that wrote to the store wrote, as a
/// failing disk would: the part of sled's log after its newest snapshot (`snap.<position in
/// hex>`, taken whenever a process opens the store), which sled replays at the next open. In
/// a store of one segment, as here, a log position is the offset in `db`. Returns the offset.
fn flip_a_bit_in_the_last_write(node: &Node) -> usize {
    let store = node.home.join("store");
    let snapshot = std::fs::read_dir(&store)
        .expect("store folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .max()
        .expect("a snapshot") as usize;
    let path = db_file(node);
    let mut bytes = std::fs::read(&path).expect("db file");
    let end = written(&bytes);
    assert!(
        end <= 512 * 1024,
        "one segment: a log position is an offset"
    );
    assert!(
        snapshot + 64 < end,
        "the last command wrote after the snapshot ({snapshot} of {end})"
    );
    let at = (snapshot + end) / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&path, bytes).expect("write db");
    at
}

/// Cuts the store's `db` file in the middle of what sled has written, as a full disk or a bad
/// copy would.
fn cut_in_half(node: &Node) {
    let path = db_file(node);
    let end = written(&std::fs::read(&path).expect("db file"));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open db");
    f.set_len(end as u64 / 2).expect("truncate");
}

/// Overwrites the whole `db` file with zeros: nothing of it can be read.
fn wipe(node: &Node) {
    let path = db_file(node);
    let len = std::fs::metadata(&path).expect("db file").len() as usize;
    std::fs::write(&path, vec![0u8; len]).expect("write db");
}

/// A certified province node holding some posts, written by several commands.
fn province_with_posts(dir: &Path) -> Node {
    let node = Node::init(dir, "province", "贵州省零工服务中心", "52");
    certify(None, &node);
    for i in 0..5 {
        node.create_post(&format!("省级岗位{i}"), None, &[]);
    }
    node.json(&["sample", "--posts", "40"]);
    node
}

/// Asserts that `lingong status` (and `post list`) at `node` refuse with the damaged-store
/// error: exit 1, code `store-corrupt`, the store's path and `lingong repair` in the message in
/// English and in Chinese, no sled text and no escape sequences.
fn assert_refused_as_damaged(node: &Node) {
    let store = node.home.join("store").display().to_string();
    for args in [&["status"][..], &["post", "list"][..]] {
        let failed: Failure = node.fail(args);
        assert_eq!(failed.status, 1, "{args:?}: {failed:?}");
        assert_eq!(
            failed.json["error"]["code"], "store-corrupt",
            "{args:?}: {failed:?}"
        );
        let message = failed.json["error"]["message"].as_str().expect("message");
        for text in [message, failed.stderr.as_str()] {
            assert!(text.contains(&store), "the store is named: {text}");
            assert!(text.contains("lingong repair"), "says what to do: {text}");
            assert!(!text.contains('\u{1b}'), "no terminal escapes: {text:?}");
            assert!(
                !text.contains("Read corrupted data") && !text.contains("sled::"),
                "no sled text: {text}"
            );
        }
        assert_eq!(
            failed.stderr.lines().count(),
            1,
            "one line: {}",
            failed.stderr
        );
    }
    let zh = node
        .command()
        .args(["--lang", "zh", "status"])
        .output()
        .expect("runs");
    assert_eq!(zh.status.code(), Some(1));
    let text = String::from_utf8_lossy(&zh.stderr);
    assert!(
        text.contains("已损坏") && text.contains(&store) && text.contains("lingong repair"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no terminal escapes: {text:?}");
}

#[test]
fn a_damaged_store_stops_every_command_with_one_clear_message_naming_it_and_repair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = province_with_posts(dir.path());
    let copy = Node::at(dir.path().join("copy"));
    lingong_tests::copy_home(&node.home, &copy.home);

    // A flipped bit in the log sled replays: sled would open the store without everything
    // from there on (exit 0, the 40 posts of the last command gone) — the store's count of
    // its durable writes catches it.
    let at = flip_a_bit_in_the_last_write(&node);
    eprintln!("flipped a bit at byte {at} of {}", db_file(&node).display());
    assert_refused_as_damaged(&node);

    // A cut-off file: sled's own corruption error, shown in our words.
    cut_in_half(&copy);
    assert_refused_as_damaged(&copy);

    // The repair makes it usable again, with what was written before the damaged write; a
    // province has no parent, and this one has no peers: it signs nothing until a sync.
    let report = node.json(&["repair"]);
    eprintln!("{report}");
    let moved = PathBuf::from(report["moved_to"].as_str().expect("moved_to"));
    assert!(moved.join("db").exists(), "the damaged store kept aside");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&moved)
            .expect("moved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "owner only: it holds clear ID numbers");
    }
    assert_eq!(report["caught_up"], false, "{report}");
    assert_eq!(report["recovered"]["records"]["posts"], 5, "{report}");
    assert_eq!(
        report["recovered"]["envelopes"], 6,
        "five posts, one certificate"
    );
    assert_eq!(report["lost"]["writes"], 1, "{report}");
    assert_eq!(report["lost"]["complete"], false, "{report}");
    let status = node.json(&["status"]);
    assert_eq!(status["records"]["posts"], 5);
    assert_eq!(status["records"]["envelopes"], 6);
    let refused = node.fail(&["directory", "set", "--hours", "8:00-17:00"]);
    assert_eq!(
        refused.json["error"]["code"], "repair-pending",
        "{refused:?}"
    );
    assert_eq!(refused.status, 1);
    // A second repair of a store that now opens fine is refused as pointless (exit 2).
    assert_eq!(node.fail(&["repair"]).status, 2);
}

/// `worker register` with a valid ID number whose sequence digits are `serial` (three).
fn register_worker(node: &Node, name: &str, serial: &str) -> String {
    let id_number =
        lingong_protocol::record::complete_id_number(&format!("52262219700101{serial}"));
    node.json(&[
        "worker",
        "register",
        "--name",
        name,
        "--id-number",
        &id_number,
        "--phone",
        "13800000000",
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string()
}

fn titles(node: &Node) -> Vec<String> {
    node.json(&["post", "list"])
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn sync_ok(node: &Node) -> Value {
    let out = node.json(&["sync", "--timeout", "60"]);
    let peers = out["peers"].as_array().expect("peers");
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync: {out}"
    );
    out
}

#[test]
fn repair_refetches_from_the_parent_reports_what_came_back_and_signs_nothing_until_caught_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, township) = (&nodes[2], &nodes[3]);
    let port = free_port();
    let county_addr = format!(
        "/ip4/127.0.0.1/tcp/{port}/p2p/{}",
        county.json(&["status"])["node_id"].as_str().expect("id")
    );
    township.json(&["peer", "add", &county_addr]);
    let mut parent = Daemon::start(county, port);
    let n = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("a count, not {v}"));

    // The township writes, and syncs it all up to the county.
    for i in 0..4 {
        township.create_post(&format!("镇上的岗位{i}"), None, &[]);
    }
    township.json(&["sample", "--posts", "20"]);
    let workers = [
        register_worker(township, "王秀英", "234"),
        register_worker(township, "李明", "345"),
    ];
    sync_ok(township);
    let held = township.json(&["status"])["records"].clone();
    assert_eq!(held["posts"], 24);
    assert_eq!(held["workers"], 2);
    poll_until("the township's posts at the county", DEADLINE, || {
        (titles(county)
            .iter()
            .filter(|t| t.starts_with("镇上的岗位"))
            .count()
            == 4)
            .then_some(())
    });

    // 1. Ten more posts, never synced, and a bit flips in the write that made them: the
    //    repair keeps everything before it, the county has nothing more, the ten are lost.
    township.json(&["sample", "--posts", "10"]);
    flip_a_bit_in_the_last_write(township);
    assert_refused_as_damaged(township);
    let report = township.json(&["repair"]);
    eprintln!("1. a flipped bit, the parent online: {report}");
    let (recovered, lost) = (&report["recovered"], &report["lost"]);
    assert_eq!(report["caught_up"], true, "{report}");
    assert_eq!(township.json(&["status"])["records"], held, "{report}");
    assert_eq!(
        n(&recovered["envelopes"]),
        n(&held["envelopes"]),
        "{report}"
    );
    assert_eq!(n(&recovered["records"]["posts"]), 24, "{report}");
    assert_eq!(n(&recovered["fetched"]["envelopes"]), 0, "{report}");
    assert_eq!(n(&recovered["clear_id_numbers"]), 2, "{report}");
    assert_eq!(n(&lost["clear_id_numbers"]), 0, "{report}");
    assert_eq!(n(&lost["envelopes"]), 0, "{report}");
    assert_eq!(n(&lost["own_envelopes"]), 0, "{report}");
    assert_eq!(
        n(&lost["writes"]),
        1,
        "the write of the ten posts: {report}"
    );
    assert_eq!(lost["complete"], false, "{report}");
    township.create_post("修复后的第一个岗位", None, &[]);
    sync_ok(township);
    poll_until(
        "the post made after the repair at the county",
        DEADLINE,
        || {
            titles(county)
                .contains(&"修复后的第一个岗位".to_string())
                .then_some(())
        },
    );

    // 2. The whole file unreadable: everything the township had sent up comes back from the
    //    county; the clear ID numbers were only here, and the report says they are lost.
    let held = township.json(&["status"])["records"].clone();
    wipe(township);
    assert_refused_as_damaged(township);
    let report = township.json(&["repair"]);
    eprintln!("2. a wiped store, the parent online: {report}");
    let (recovered, lost) = (&report["recovered"], &report["lost"]);
    assert_eq!(report["caught_up"], true, "{report}");
    assert_eq!(township.json(&["status"])["records"], held, "{report}");
    assert_eq!(
        n(&recovered["envelopes"]) + n(&recovered["fetched"]["envelopes"]),
        n(&held["envelopes"]),
        "re-accepted plus fetched is what the store held: {report}"
    );
    assert_eq!(n(&recovered["fetched"]["records"]["posts"]), 25, "{report}");
    assert_eq!(
        n(&recovered["fetched"]["records"]["workers"]),
        2,
        "{report}"
    );
    assert_eq!(n(&recovered["clear_id_numbers"]), 0, "{report}");
    assert_eq!(n(&lost["clear_id_numbers"]), 2, "{report}");
    assert_eq!(lost["complete"], false, "{report}");
    let listed = township.json(&["worker", "list"]).to_string();
    for w in &workers {
        assert!(listed.contains(&w[..8]), "worker {w} back: {listed}");
    }

    // 3. The parent unreachable: what verifies comes back, nothing is signed until a sync
    //    with the county completes, then writing resumes without a fork.
    township.json(&["sample", "--posts", "5"]);
    sync_ok(township);
    let held = township.json(&["status"])["records"].clone();
    township.json(&["sample", "--posts", "10"]);
    parent.stop();
    flip_a_bit_in_the_last_write(township);
    assert_refused_as_damaged(township);
    let out = township
        .command()
        .args(["--json", "repair", "--timeout", "5"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let progress = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON value");
    eprintln!("3. a flipped bit, the parent offline: {report}\n{progress}");
    assert!(
        progress.contains("repair: "),
        "progress on stderr: {progress}"
    );
    assert_eq!(report["caught_up"], false, "{report}");
    assert_eq!(report["peers"][0]["ok"], false, "{report}");
    assert_eq!(
        n(&report["recovered"]["fetched"]["envelopes"]),
        0,
        "{report}"
    );
    assert_eq!(n(&report["recovered"]["envelopes"]), n(&held["envelopes"]));
    assert_eq!(township.json(&["status"])["records"], held, "{report}");
    // Every write that signs refuses, in either language, and changes nothing.
    let refused: Failure = township.fail(&post_args("太早的岗位"));
    assert_eq!(refused.status, 1, "{refused:?}");
    assert_eq!(refused.json["error"]["code"], "repair-pending");
    assert!(
        refused.stderr.contains("lingong sync"),
        "{}",
        refused.stderr
    );
    let zh = township
        .command()
        .args(["--lang", "zh", "directory", "set", "--hours", "8:00-17:00"])
        .output()
        .expect("runs");
    let zh_text = String::from_utf8_lossy(&zh.stderr);
    assert_eq!(zh.status.code(), Some(1), "{zh_text}");
    assert!(
        zh_text.contains("lingong sync") && zh_text.contains("上级节点"),
        "{zh_text}"
    );
    assert_eq!(township.json(&["status"])["records"], held);

    // The county is back: one sync catches the log up; the next post is accepted there.
    parent.restart();
    sync_ok(township);
    assert!(!township.home.join("repair-pending").exists());
    assert_eq!(township.json(&["status"])["records"], held);
    township.create_post("追上之后的岗位", None, &[]);
    sync_ok(township);
    poll_until(
        "the post made after catching up at the county",
        DEADLINE,
        || {
            titles(county)
                .contains(&"追上之后的岗位".to_string())
                .then_some(())
        },
    );
    let county_status = county.json(&["status"]);
    assert_eq!(
        county_status["forks"],
        Value::Array(Vec::new()),
        "no fork at the parent: {county_status}"
    );
    assert_eq!(county_status["records"]["evidence"], 0, "{county_status}");
    drop(parent);
}
