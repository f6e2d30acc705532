//! PIPL erasure (`lingong worker erase`), with real `lingong` processes: a village registers a
//! worker and syncs the record to its township; the township goes offline and edits the
//! worker's name and phone there, not knowing that the village meanwhile erased the record.
//! After the two sync, the personal fields are gone at both: the erasure's marker is final, so
//! the township's concurrent edit does not bring them back, and no station may edit the record
//! afterwards. The bodies of the record's changes other than the erasure are dropped at both
//! (headers kept): no reader of either store finds the old or the township's name, phone or
//! ID number, an old bundle of the township imported again and another sync bring nothing
//! back, and `audit` finds no problem at either. sled keeps what was overwritten in its files;
//! a backup restored into a new home writes the store afresh, and its files hold none of it.
//! The village's local table of clear ID numbers no longer holds the worker's
//! (a backup counts none, and the same person can register again), and every file of both homes
//! is still owner-only. Bad input (no reason, an unknown id, an erasure at the township that did
//! not register the worker) exits 2 naming the field in both languages and changes nothing.
//!
//! Run: `cargo test -p lingong-tests --test pipl_erase`.

use lingong_node::store::SledStore;
use lingong_protocol::store::Store;
use lingong_tests::{Daemon, Node, as_a_thief_reads, everything_under, free_port, init_chain};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

const NAME: &str = "杨秀英";
const PHONE: &str = "13812345678";
const STALE_NAME: &str = "杨秀英（乡镇改）";
const STALE_PHONE: &str = "13987654321";
const KEPT_NAME: &str = "龙开芳";
const KEPT_PHONE: &str = "13700001111";

fn sync_ok(node: &Node) -> Value {
    let out = node.json(&["sync", "--timeout", "60"]);
    let peers = out["peers"].as_array().expect("peers");
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync: {out}"
    );
    out
}

/// `lingong ARGS --passphrase-stdin` at `node` (the passphrase on standard input): `backup`
/// and `restore`; returns its JSON.
fn with_passphrase(node: &Node, args: &[&str]) -> Value {
    let mut child = node
        .command()
        .arg("--json")
        .args(args)
        .arg("--passphrase-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery staple 2026\n")
        .expect("passphrase");
    let done = child.wait_with_output().expect("ends");
    assert!(
        done.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    serde_json::from_slice(&done.stdout).expect("json")
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

/// The bodies (Automerge changes) of the worker's changes held in full in `node`'s store, read
/// with no daemon holding it.
fn held_bodies(node: &Node, worker: &str) -> Vec<Vec<u8>> {
    let store = SledStore::open(&node.home.join("store")).expect("store opens");
    let rid = store.find_record(worker).expect("find")[0];
    let state = store.record(&rid).expect("read").expect("held");
    state
        .changes
        .iter()
        .filter_map(|id| store.envelope(id).expect("read").and_then(|e| e.payload))
        .collect()
}

/// Which of `personal` any reader of `node`'s store finds (daemon stopped): in any key or value
/// of the tree, or in an Automerge change of any envelope or saved document decoded (a change
/// may be compressed). Also how many envelopes of the worker are held with their body.
fn personal_in_store(node: &Node, worker: &str, personal: &[&str]) -> (Vec<String>, usize) {
    let store = SledStore::open(&node.home.join("store")).expect("store opens");
    let mut text = Vec::new();
    for row in store.index_rows(Vec::new()) {
        let (k, v) = row.expect("row");
        text.extend_from_slice(&k);
        text.extend_from_slice(&v);
    }
    let expanded = |change: automerge::Change| {
        serde_json::to_string(&change.decode()).expect("a change as JSON")
    };
    for meta in store.items().expect("items") {
        let env = store.envelope(&meta.id).expect("read").expect("held");
        if let Some(change) = env
            .payload
            .and_then(|p| automerge::Change::from_bytes(p).ok())
        {
            text.extend(expanded(change).into_bytes());
        }
    }
    for state in store.records_of(None).expect("records") {
        if let Some(doc) = state.doc.as_deref() {
            let mut doc = automerge::AutoCommit::load(doc).expect("document");
            for change in doc.get_changes(&[]) {
                text.extend(expanded(change.clone()).into_bytes());
            }
        }
    }
    let rid = store.find_record(worker).expect("find")[0];
    let state = store.record(&rid).expect("read").expect("held");
    let bodies = state
        .changes
        .iter()
        .filter(|id| store.has_envelope(id).expect("read") == Some(true))
        .count();
    (found_in(&text, personal), bodies)
}

/// Which of `needles` occur in `hay`.
fn found_in(hay: &[u8], needles: &[&str]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| contains(hay, n.as_bytes()))
        .map(|n| n.to_string())
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of every file in `node`'s store folder, as a thief of the disk reads them (sled's
/// zstd pages decompressed).
fn store_files(node: &Node) -> Vec<u8> {
    let mut all = Vec::new();
    for p in everything_under(&node.home.join("store")) {
        if p.is_file() {
            all.extend(as_a_thief_reads(&p));
        }
    }
    all
}

/// `lingong audit` at `node` finds no problem.
fn assert_audit_clean(node: &Node, at: &str) {
    let audit = node.json(&["audit"]);
    let problems = audit["problems"].as_array().expect("problems");
    assert!(problems.is_empty(), "{at}: {audit}");
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
    // Another worker, not erased: what the store files must still hold after a compaction.
    let kept_id = lingong_protocol::record::complete_id_number("52262219900202345");
    village.json(&[
        "worker",
        "register",
        "--name",
        KEPT_NAME,
        "--id-number",
        &kept_id,
        "--phone",
        KEPT_PHONE,
        "--skills",
        "钟点工",
    ]);
    sync_ok(village);
    assert_eq!(township.json(&["worker", "show", &worker])["name"], NAME);

    // Bad input changes nothing: no reason, an unknown id, a station that did not register.
    let before_village = village.json(&["status"])["records"].clone();
    let before_township = township.json(&["status"])["records"].clone();
    let no_reason = village.fail(&["worker", "erase", &worker]);
    assert_eq!(no_reason.status, 2, "{}", no_reason.stderr);
    assert!(no_reason.stderr.contains("reason"), "{}", no_reason.stderr);
    // A reason that could carry personal data: not one of the law's cases, or a note with
    // digits (a phone) in it.
    for reason in ["杨秀英本人申请", "本人申请删除：电话13812345678"] {
        let bad = village.fail(&["worker", "erase", &worker, "--reason", reason]);
        assert_eq!(bad.status, 2, "{}", bad.stderr);
        assert!(
            bad.stderr.contains("reason") && bad.stderr.contains("consent-withdrawn"),
            "{}",
            bad.stderr
        );
    }
    let unknown = village.fail(&[
        "worker",
        "erase",
        "00112233445566",
        "--reason",
        "本人申请删除",
    ]);
    assert_eq!(unknown.status, 2, "{}", unknown.stderr);
    let above = township.fail(&["worker", "erase", &worker, "--reason", "本人申请删除"]);
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
            "本人申请删除",
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
    // What the township holds of the worker now, and an old bundle of it for the village
    // (imported again after the erasure below).
    let bodies = held_bodies(township, &worker);
    assert_eq!(bodies.len(), 2, "the registration and the township's edit");
    let old_bundle = dir.path().join("township-before-erasure.bundle");
    township.json(&[
        "bundle",
        "export",
        "--out",
        old_bundle.to_str().expect("utf-8"),
        "--to",
        &village.node_id(),
    ]);
    let masked = village.json(&["worker", "show", &worker])["id_masked"]
        .as_str()
        .expect("mask")
        .to_string();

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

    // The bodies of the record's other changes are gone from both stores: only the erasure's
    // is held, and no reader of either store finds a name, phone or ID number written before.
    let personal = [NAME, PHONE, STALE_NAME, STALE_PHONE, &id_number, &masked];
    for (node, at) in [(village, "village"), (township, "township")] {
        assert_eq!(
            personal_in_store(node, &worker, &personal),
            (Vec::new(), 1),
            "{at}: personal data or bodies still held"
        );
    }

    // An old bundle carrying the bodies again brings none of them back.
    let imported = village.json(&["bundle", "import", old_bundle.to_str().expect("utf-8")]);
    assert_eq!(imported["rejected"], serde_json::json!({}), "{imported}");
    assert_eq!(
        personal_in_store(village, &worker, &personal),
        (Vec::new(), 1),
        "village after the old bundle"
    );

    // The stale township meets the village again: the two agree, nothing comes back.
    parent.restart();
    let again = sync_ok(village);
    parent.stop();
    assert_eq!(
        again["peers"][0]["changes_received"], 0,
        "the township re-sends nothing: {again}"
    );
    for (node, at) in [(village, "village"), (township, "township")] {
        assert_eq!(
            personal_in_store(node, &worker, &personal),
            (Vec::new(), 1),
            "{at} after another sync"
        );
        assert_audit_clean(node, at);
    }

    // What the files hold (printed for SECURITY.md; checked for the village below).
    for (node, at) in [(village, "village"), (township, "township")] {
        let raw = store_files(node);
        let left = found_in(&raw, &personal);
        let whole = bodies.iter().filter(|b| contains(&raw, b)).count();
        eprintln!(
            "{at}: the store's files still hold {left:?} and {whole} of the {} dropped bodies",
            bodies.len()
        );
    }

    // No station edits an erased record afterwards, and a second erasure is refused.
    for node in [village, township] {
        let again = node.fail(&["worker", "update", &worker, "--name", "张三"]);
        assert_eq!(again.status, 2, "{}", again.stderr);
        assert!(again.stderr.contains("erased"), "{}", again.stderr);
    }
    let twice = village.fail(&["worker", "erase", &worker, "--reason", "本人申请删除"]);
    assert_eq!(twice.status, 2, "{}", twice.stderr);

    // The clear ID number left the village's private table: a backup holds only the other
    // worker's, and the same
    // person may register again.
    let backup_file = dir.path().join("village.backup");
    let backup_file = backup_file.to_str().expect("utf-8");
    let saved = with_passphrase(village, &["backup", "--out", backup_file]);
    assert_eq!(
        saved["clear_id_numbers"], 1,
        "only the other worker's: {saved}"
    );

    // A thief of the disk: sled is log-structured, and the dropped bodies stay in its files
    // (SECURITY.md §7, "What remains where"; if this fails, sled reclaimed them: say so
    // there). Restored from a backup made after the erasure into a new home, the store is
    // written afresh and its files hold none of them.
    let raw = store_files(village);
    let whole = bodies.iter().filter(|b| contains(&raw, b)).count();
    let left = found_in(&raw, &personal);
    assert!(
        whole > 0 || !left.is_empty(),
        "the village's store files no longer hold the dropped bodies"
    );
    let restored = Node::at(dir.path().join("village-restored"));
    with_passphrase(&restored, &["restore", backup_file]);
    assert_erased(&restored, &worker, "village restored");
    assert_eq!(
        personal_in_store(&restored, &worker, &personal),
        (Vec::new(), 1),
        "village restored"
    );
    let raw = store_files(&restored);
    assert_eq!(found_in(&raw, &personal), Vec::<String>::new(), "restored");
    assert!(!bodies.iter().any(|b| contains(&raw, b)), "restored");

    // `lingong compact` writes each store afresh: refused while the daemon runs; then the
    // files hold none of the erased worker's data nor the dropped bodies, still the other
    // worker's, and every count, list and answer is what it was.
    parent.restart();
    let refused = township.fail(&["compact"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("daemon"), "{}", refused.stderr);
    parent.stop();
    for (node, at) in [(village, "village"), (township, "township")] {
        let status = node.json(&["status"])["records"].clone();
        let workers = node.json(&["worker", "list"]);
        let before = store_files(node);
        let had = found_in(&before, &personal);
        let compacted = node.json(&["compact"]);
        eprintln!("{at}: before compact the files held {had:?}; compact: {compacted}");
        let (was, now) = (
            compacted["bytes_before"].as_u64().expect("bytes_before"),
            compacted["bytes_after"].as_u64().expect("bytes_after"),
        );
        assert!(now > 0 && was > 0, "{at}: {compacted}");
        assert!(compacted["rows"].as_u64() > Some(0), "{at}: {compacted}");
        let raw = store_files(node);
        assert_eq!(found_in(&raw, &personal), Vec::<String>::new(), "{at}");
        assert!(!bodies.iter().any(|b| contains(&raw, b)), "{at}");
        assert_eq!(
            found_in(&raw, &[KEPT_NAME, KEPT_PHONE]).len(),
            2,
            "{at}: the files still hold what the rows hold"
        );
        assert_eq!(node.json(&["status"])["records"], status, "{at}");
        assert_eq!(node.json(&["worker", "list"]), workers, "{at}");
        assert_erased(node, &worker, at);
        assert_eq!(
            personal_in_store(node, &worker, &personal),
            (Vec::new(), 1),
            "{at} after compact"
        );
        assert_audit_clean(node, at);
        let left: Vec<_> = std::fs::read_dir(&node.home)
            .expect("home")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("store."))
            .collect();
        assert!(
            left.is_empty(),
            "{at}: the old store was not removed: {left:?}"
        );
    }
    // The daemon opens the compacted store and sync works both ways.
    parent.restart();
    let post = village.create_post("搬运工（压缩后）", None, &[]);
    sync_ok(village);
    assert_eq!(township.json(&["post", "show", &post])["id"], post);
    parent.stop();

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
