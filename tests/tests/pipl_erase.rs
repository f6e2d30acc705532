//! PIPL erasure (`lingong worker erase`), with real `lingong` processes: a village registers a
//! worker and syncs the record to its township; the township goes offline and edits the
//! worker's name and phone there, not knowing that the village meanwhile erased the record.
//! After the two sync, the personal fields are gone at both: the erasure's marker is final, so
//! the township's concurrent edit does not bring them back, and no station may edit the record
//! afterwards. The village's local table of clear ID numbers no longer holds the worker's
//! (a backup counts none, and the same person can register again), and every file of both homes
//! is still owner-only. Bad input (no reason, an unknown id, an erasure at the township that did
//! not register the worker) exits 2 naming the field in both languages and changes nothing.
//!
//! Run: `cargo test -p lingong-tests --test pipl_erase`.

use lingong_tests::{Daemon, Node, free_port, init_chain};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const NAME: &str = "杨秀英";
const PHONE: &str = "13812345678";
const STALE_NAME: &str = "杨秀英（乡镇改）";
const STALE_PHONE: &str = "13987654321";

fn sync_ok(node: &Node) -> Value {
    let out = node.json(&["sync", "--timeout", "60"]);
    let peers = out["peers"].as_array().expect("peers");
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync: {out}"
    );
    out
}

/// `lingong backup` of `node` (the passphrase on standard input); returns its JSON.
fn backup(node: &Node, out: &Path) -> Value {
    let mut child = node
        .command()
        .arg("--json")
        .args(["backup", "--out", out.to_str().expect("utf-8")])
        .arg("--passphrase-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("backup runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery staple 2026\n")
        .expect("passphrase");
    let done = child.wait_with_output().expect("backup ends");
    assert!(
        done.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    serde_json::from_slice(&done.stdout).expect("backup json")
}

/// Every file and folder under `dir`.
fn everything_under(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if all[i].is_dir() {
            for entry in std::fs::read_dir(&all[i]).expect("read_dir") {
                all.push(entry.expect("entry").path());
            }
        }
        i += 1;
    }
    all
}

/// Every file and folder the node made under `home` is owner-only (`daemon.log` is the test
/// harness's redirect of the daemon's output, not a file the node writes).
fn assert_owner_only(home: &Path) {
    for p in everything_under(home) {
        if p.file_name().is_some_and(|n| n == "daemon.log") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        let mode = meta.permissions().mode() & 0o777;
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} is {mode:o}", p.display());
    }
}

/// The worker as `worker show` prints it at `node`, checked to be erased with nothing personal.
fn assert_erased(node: &Node, worker: &str, at: &str) {
    let shown = node.json(&["worker", "show", worker]);
    assert_eq!(shown["erased"], true, "{at}: {shown}");
    assert_eq!(shown["status"], "deregistered", "{at}: {shown}");
    for field in ["name", "phone", "id_masked"] {
        assert_eq!(shown[field], "", "{at}: {field} in {shown}");
    }
    assert_eq!(shown["skills"], serde_json::json!([]), "{at}: {shown}");
    assert_eq!(shown["flags"], serde_json::json!([]), "{at}: {shown}");
    assert!(shown["wage_min"].is_null(), "{at}: {shown}");
    let text = shown.to_string();
    for personal in [NAME, PHONE, STALE_PHONE, "13800"] {
        assert!(!text.contains(personal), "{at}: {personal} in {text}");
    }
    let listed = node.json(&["worker", "list"]);
    assert!(
        !listed.to_string().contains(worker),
        "{at}: an erased worker is listed: {listed}"
    );
}

#[test]
fn an_erasure_at_the_registering_village_is_final_everywhere_even_against_an_offline_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let port = free_port();
    let township_addr = format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id());
    let mut parent = Daemon::start(township, port);
    village.json(&["peer", "add", &township_addr]);

    let id_number = lingong_protocol::record::complete_id_number("52262219800101234");
    let worker = village.json(&[
        "worker",
        "register",
        "--name",
        NAME,
        "--id-number",
        &id_number,
        "--phone",
        PHONE,
        "--skills",
        "钟点工",
        "--wage-min",
        "150",
        "--flags",
        "disabled",
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string();
    sync_ok(village);
    assert_eq!(township.json(&["worker", "show", &worker])["name"], NAME);

    // Bad input changes nothing: no reason, an unknown id, a station that did not register.
    let before_village = village.json(&["status"])["records"].clone();
    let before_township = township.json(&["status"])["records"].clone();
    let no_reason = village.fail(&["worker", "erase", &worker]);
    assert_eq!(no_reason.status, 2, "{}", no_reason.stderr);
    assert!(no_reason.stderr.contains("reason"), "{}", no_reason.stderr);
    let unknown = village.fail(&["worker", "erase", "00112233445566", "--reason", "本人申请"]);
    assert_eq!(unknown.status, 2, "{}", unknown.stderr);
    let above = township.fail(&["worker", "erase", &worker, "--reason", "本人申请"]);
    assert_eq!(above.status, 2, "{}", above.stderr);
    assert!(above.stderr.contains("id"), "{}", above.stderr);
    let above_zh = township
        .command()
        .args([
            "--lang",
            "zh",
            "worker",
            "erase",
            &worker,
            "--reason",
            "本人申请",
        ])
        .output()
        .expect("runs");
    assert_eq!(above_zh.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&above_zh.stderr).contains("只有登记该劳动者的服务站"),
        "{}",
        String::from_utf8_lossy(&above_zh.stderr)
    );
    assert_eq!(village.json(&["status"])["records"], before_village);
    assert_eq!(township.json(&["status"])["records"], before_township);
    assert_eq!(village.json(&["worker", "show", &worker])["name"], NAME);

    // The township goes offline and edits the worker there, not knowing of the erasure.
    parent.stop();
    township.json(&[
        "worker",
        "update",
        &worker,
        "--name",
        STALE_NAME,
        "--phone",
        STALE_PHONE,
    ]);
    assert_eq!(
        township.json(&["worker", "show", &worker])["name"],
        STALE_NAME
    );

    // Meanwhile the village erases the record at the worker's request.
    let erased = village.json(&["worker", "erase", &worker, "--reason", "本人申请删除"]);
    assert_eq!(erased["erased"], true, "{erased}");
    assert_erased(village, &worker, "village after erase");

    // They meet again: the township's edit reaches the village, the erasure the township.
    let envelopes_before = village.json(&["status"])["records"]["envelopes"]
        .as_u64()
        .expect("envelopes");
    parent.restart();
    sync_ok(village);
    let envelopes_after = village.json(&["status"])["records"]["envelopes"]
        .as_u64()
        .expect("envelopes");
    assert!(
        envelopes_after > envelopes_before,
        "the township's offline edit reached the village ({envelopes_before} → {envelopes_after})"
    );
    parent.stop();
    assert_erased(village, &worker, "village after sync");
    assert_erased(township, &worker, "township after sync");

    // No station edits an erased record afterwards, and a second erasure is refused.
    for node in [village, township] {
        let again = node.fail(&["worker", "update", &worker, "--name", "张三"]);
        assert_eq!(again.status, 2, "{}", again.stderr);
        assert!(again.stderr.contains("erased"), "{}", again.stderr);
    }
    let twice = village.fail(&["worker", "erase", &worker, "--reason", "本人申请删除"]);
    assert_eq!(twice.status, 2, "{}", twice.stderr);

    // The clear ID number left the village's private table: a backup holds none, and the same
    // person may register again.
    let saved = backup(village, &dir.path().join("village.backup"));
    assert_eq!(saved["clear_id_numbers"], 0, "{saved}");
    village.json(&[
        "worker",
        "register",
        "--name",
        NAME,
        "--id-number",
        &id_number,
        "--phone",
        PHONE,
    ]);

    assert_owner_only(&village.home);
    assert_owner_only(&township.home);
}
