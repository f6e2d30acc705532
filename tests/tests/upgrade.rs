//! Upgrades keep the store, with real `lingong` processes over the store a release wrote.
//!
//! - The fixtures `tests/fixtures/format-<N>/home.tar.gz` are the homes of a certified county
//!   node written by the release that introduced store format N (an employer, posts, workers,
//!   a placement, a complaint; `expected.json` lists what it holds). Copied to a temporary
//!   home, the current binary opens the one of its own format (`post list`, `worker list`,
//!   `employer list`, `placement list`, `complaint list`, `status`) and finds every record.
//! - The format-2 store (sled pages uncompressed): `doctor` without a daemon says a migration
//!   is due (`store-migration-due`) and changes nothing, not a byte of the store; the next
//!   command copies it to `store.backup-v2-<date>` (0700, files 0600), rewrites it into a
//!   store sled compresses (format 3), swaps that in, and every record is still there.
//! - The same store without its format key is a store of the releases before format versions
//!   (format 1): opening it copies the store to `store.backup-v1-<date>`, migrates it, says
//!   so on stderr, writes the current format, and every record is still there.
//! - A migration killed (SIGKILL, by the process itself at the test's request, after the first
//!   step's writes and before its version key) leaves a store still at format 1 that opens:
//!   the next command keeps the finished backup, runs the migration again and finds every
//!   record. Killed after the rewrite of a format-2 store was complete and before the swap,
//!   the store is still format 2 and uncompressed; the next command swaps the rewrite in.
//! - A migration the disk has no room for (free space below the store's size plus the margin,
//!   here raised beyond any disk with `LINGONG_MIGRATION_SPACE_MARGIN`) is refused naming what
//!   it needs and what is free, in both languages, and changes nothing: no backup, format 1.
//! - A store of a newer format than the binary knows is refused (exit 1) naming both versions
//!   and saying to install the newer lingong, in English and Chinese, and is left unchanged.
//! - Two daemons of this release sync over the current sync protocol version, and `status`
//!   shows it per peer with the program the peer announced (`agent`) and no `upgrade` advice
//!   (peers a version apart, and peers sharing none, are unit tests in `protocol/src/sync.rs`
//!   and `node/src/net.rs`: no older binary is at hand here).
//!
//! `cargo test -p lingong-tests --test upgrade -- --ignored regenerate_the_format_fixture`
//! writes the fixture again (see `tests/fixtures/README.md`).

use lingong_node::migrate::{
    ABORT_ENV, FORMAT, FORMAT_KEY, MARGIN_ENV, backup_path, rewrite_path, stored_format,
};
use lingong_node::store::{persisted_layout, sled_config};
use lingong_tests::{Daemon, Node, certify, free_port, poll_until, workspace_root};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The fixture of the format this release writes.
fn fixture_dir() -> PathBuf {
    format_dir(FORMAT)
}

/// The fixture a release of `format` wrote.
fn format_dir(format: u32) -> PathBuf {
    workspace_root().join(format!("tests/fixtures/format-{format}"))
}

/// The format before this release's, whose store this release migrates.
const PREVIOUS: u32 = 2;

/// Unpacks the current fixture's home into `dir/home`.
fn unpack(dir: &Path) -> Node {
    unpack_format(dir, FORMAT)
}

/// Unpacks the home of the fixture of `format` into `dir/home`.
fn unpack_format(dir: &Path, format: u32) -> Node {
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(format_dir(format).join("home.tar.gz"))
        .arg("-C")
        .arg(&home)
        .status()
        .expect("tar runs");
    assert!(status.success(), "tar -xzf of the fixture");
    Node::at(home)
}

/// Asserts that `node` holds what the current fixture held.
fn assert_holds_everything(node: &Node) {
    assert_holds(node, FORMAT);
}

/// Asserts that `node` holds what the fixture of `format` held: the same ids in every list
/// and, for every kind the fixture counted, the same count (a later release may count more
/// kinds).
fn assert_holds(node: &Node, format: u32) {
    let want = &expected(format)["holdings"];
    let got = holdings(node);
    for (k, v) in want.as_object().expect("holdings") {
        if k == "records" {
            for (kind, n) in v.as_object().expect("records") {
                assert_eq!(
                    &got[k][kind],
                    n,
                    "{kind} held at {}: {got}",
                    node.home.display()
                );
            }
        } else {
            assert_eq!(&got[k], v, "{k} at {}", node.home.display());
        }
    }
}

fn expected(format: u32) -> Value {
    let text = std::fs::read_to_string(format_dir(format).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(rows: &Value) -> Vec<String> {
    let mut ids: Vec<String> = rows
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

/// What the node holds, read with the current binary: the ids of every list, the record
/// counts and the node's id.
fn holdings(node: &Node) -> Value {
    let status = node.json(&["status"]);
    json!({
        "node_id": status["node_id"],
        "records": status["records"],
        "posts": ids(&node.json(&["post", "list"])),
        "workers": ids(&node.json(&["worker", "list"])),
        "employers": ids(&node.json(&["employer", "list"])),
        "placements": ids(&node.json(&["placement", "list"])),
        "complaints": ids(&node.json(&["complaint", "list"])),
    })
}

/// The format key of the store of `node` (read with sled, in the layout the store has, while
/// no process holds it).
fn format_of(node: &Node) -> Option<u32> {
    let db = sled_config(&node.home.join("store")).open().unwrap();
    let tree = db.open_tree("lingong").unwrap();
    stored_format(&tree).unwrap()
}

/// Writes (or with `None` removes) the format key of the store of `node`, as a release of
/// another format would have left it.
fn set_format(node: &Node, v: Option<u32>) {
    let db = sled_config(&node.home.join("store")).open().unwrap();
    let tree = db.open_tree("lingong").unwrap();
    match v {
        Some(v) => tree.insert(FORMAT_KEY, &v.to_be_bytes()[..]).unwrap(),
        None => tree.remove(FORMAT_KEY).unwrap(),
    };
    db.flush().unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The backup folder a migration from `version` made today, with its modes checked.
fn checked_backup(node: &Node, version: u32) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let backup = backup_path(&node.home.join("store"), version, now);
    assert!(backup.is_dir(), "a backup at {}", backup.display());
    let mut pending = vec![backup.clone()];
    while let Some(d) = pending.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
            }
        }
    }
    backup
}

#[test]
fn the_store_this_release_wrote_opens_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack(dir.path());
    assert_eq!(format_of(&node), Some(FORMAT));
    assert_holds_everything(&node);
    let status = node.json(&["status"]);
    assert_eq!(status["region"], "522622", "{status}");
    // Nothing to migrate: no backup beside the store.
    let beside: Vec<String> = std::fs::read_dir(&node.home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store."))
        .collect();
    assert!(beside.is_empty(), "no backup made: {beside:?}");
    assert_eq!(format_of(&node), Some(FORMAT));
}

/// Every file under `dir` with its bytes (paths relative to `dir`).
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
                out.push((rel, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The names beside the store in the home (`store.…`: backups, rewrites).
fn beside_store(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&node.home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store."))
        .collect();
    names.sort();
    names
}

#[test]
fn a_store_of_the_previous_format_is_reported_by_doctor_then_rewritten_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack_format(dir.path(), PREVIOUS);
    let store = node.home.join("store");
    assert_eq!(format_of(&node), Some(PREVIOUS));
    assert_eq!(persisted_layout(&store).map(|l| l.compressed), Some(false));
    let before = contents(&store);
    // The doctor, without a daemon, says what the next run will do and changes nothing.
    for lang in ["en", "zh"] {
        let failure = node.fail(&["--lang", lang, "doctor"]);
        assert_eq!(failure.status, 1, "a finding: {failure:?}");
        let finding = failure.json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["code"] == "store-migration-due")
            .unwrap_or_else(|| panic!("store-migration-due: {}", failure.json))
            .clone();
        let said = finding["message"].as_str().unwrap();
        // Unopened, a format-2 store and a format-1 one look alike (sled's pages uncompressed).
        let from = if lang == "en" {
            format!("from format 1 or 2 to {FORMAT}")
        } else {
            format!("从格式 1 或 2 迁移到 {FORMAT}")
        };
        assert!(
            said.contains(&from) && said.contains("lingong run"),
            "{finding}"
        );
        assert!(
            said.contains("store.backup-v<1|2>-"),
            "names the copy: {finding}"
        );
    }
    assert_eq!(
        contents(&store),
        before,
        "doctor changed nothing in the store"
    );
    assert!(beside_store(&node).is_empty(), "{:?}", beside_store(&node));
    // The next command migrates: a backup of format 2, then the rewrite swapped in.
    let out = node.run(&["--json", "post", "list"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("from format {PREVIOUS} to {FORMAT}")),
        "{stderr}"
    );
    let backup = checked_backup(&node, PREVIOUS);
    assert_eq!(
        persisted_layout(&backup).map(|l| l.compressed),
        Some(false),
        "the copy is the store as it was"
    );
    assert_eq!(format_of(&node), Some(FORMAT));
    assert_eq!(persisted_layout(&store).map(|l| l.compressed), Some(true));
    assert_eq!(
        beside_store(&node),
        vec![backup.file_name().unwrap().to_string_lossy().into_owned()],
        "only the backup beside the store, no rewrite left"
    );
    assert_holds(&node, PREVIOUS);
    // The store's files are closed to others, as every store's.
    for (rel, _) in contents(&store) {
        assert_eq!(mode(&store.join(&rel)), 0o600, "{}", rel.display());
    }
    // The doctor now finds the store current and opens it.
    let report = node.fail(&["doctor"]).json;
    assert!(
        !report.to_string().contains("store-migration"),
        "no migration due any more: {report}"
    );
}

#[test]
fn a_rewrite_killed_before_its_swap_leaves_the_old_store_and_is_swapped_in_next() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack_format(dir.path(), PREVIOUS);
    let store = node.home.join("store");
    let out = node
        .command()
        .env(ABORT_ENV, "1")
        .args(["--json", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9), "killed: {out:?}");
    checked_backup(&node, PREVIOUS);
    // The store is as it was; the finished rewrite waits beside it.
    assert_eq!(format_of(&node), Some(PREVIOUS));
    assert_eq!(persisted_layout(&store).map(|l| l.compressed), Some(false));
    assert!(rewrite_path(&store).is_dir());
    let out = node.run(&["--json", "post", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(format_of(&node), Some(FORMAT));
    assert_eq!(persisted_layout(&store).map(|l| l.compressed), Some(true));
    assert!(!rewrite_path(&store).exists(), "the rewrite was swapped in");
    assert_holds(&node, PREVIOUS);
}

#[test]
fn a_store_of_the_releases_before_format_versions_is_backed_up_then_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack_format(dir.path(), PREVIOUS);
    set_format(&node, None);
    let out = node.run(&["--json", "post", "list"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let backup = checked_backup(&node, 1);
    assert!(
        stderr.contains(&format!("from format 1 to {FORMAT}"))
            && stderr.contains(&backup.display().to_string()),
        "the log says what happened and where the copy is: {stderr}"
    );
    assert!(stderr.contains("迁移"), "in Chinese too: {stderr}");
    assert_eq!(format_of(&node), Some(FORMAT));
    assert_holds(&node, PREVIOUS);
    // The copy is the store as it was: format 1, every record (opened as a node of its own,
    // it migrates in its turn).
    let copy = Node::at(dir.path().join("copy"));
    std::fs::create_dir(&copy.home).unwrap();
    std::fs::set_permissions(&copy.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(&node.home).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.home.join(entry.file_name())).unwrap();
        }
    }
    let status = Command::new("cp")
        .arg("-a")
        .arg(&backup)
        .arg(copy.home.join("store"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(format_of(&copy), None);
    assert_holds(&copy, PREVIOUS);
    // A second open of the migrated store does nothing more.
    let again = node.run(&["--json", "status"]);
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("migrating"),
        "migrated once only"
    );
}

#[test]
fn a_migration_killed_halfway_leaves_the_old_format_and_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack_format(dir.path(), PREVIOUS);
    set_format(&node, None);
    let out = node
        .command()
        .env(ABORT_ENV, "1")
        .args(["--json", "status"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "killed in the middle of the migration: {out:?}"
    );
    // The backup was finished before anything changed; the store is still format 1.
    let backup = checked_backup(&node, 1);
    assert_eq!(format_of(&node), None, "the version key is written last");
    let out = node.run(&["--json", "post", "list"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("from format 1 to {FORMAT}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("keeping the copy"),
        "the finished backup of the first attempt is kept: {stderr}"
    );
    assert_eq!(checked_backup(&node, 1), backup);
    assert_eq!(format_of(&node), Some(FORMAT));
    assert_holds(&node, PREVIOUS);
}

#[test]
fn a_store_of_a_newer_format_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack(dir.path());
    let newer = FORMAT + 1;
    set_format(&node, Some(newer));
    for lang in ["en", "zh"] {
        let failure = node.fail(&["--lang", lang, "post", "list"]);
        assert_eq!(failure.status, 1, "{failure:?}");
        let said = failure.stderr.trim();
        assert!(
            said.contains(&format!("format {newer}"))
                && said.contains(&format!("({FORMAT})"))
                && said.contains("install")
                && said.contains(&format!("格式版本为 {newer}"))
                && said.contains("请安装"),
            "names both versions and says to install the newer lingong, in both languages: {said}"
        );
    }
    assert_eq!(format_of(&node), Some(newer), "nothing changed");
    let beside = std::fs::read_dir(&node.home)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("store.")
        })
        .count();
    assert_eq!(beside, 0, "no backup of a store that is not migrated");
}

#[test]
fn a_migration_without_disk_space_for_its_copy_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = unpack_format(dir.path(), PREVIOUS);
    set_format(&node, None);
    // A margin no disk has: the free space can never cover the store plus it.
    let out = node
        .command()
        .env(MARGIN_ENV, (u64::MAX / 2).to_string())
        .args(["--json", "post", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("not enough free disk space")
            && said.contains(" MB is free")
            && said.contains("磁盘空间不足")
            && said.contains("nothing was changed"),
        "names what is needed and what is free, in both languages: {said}"
    );
    assert_eq!(format_of(&node), None, "not migrated");
    let beside = std::fs::read_dir(&node.home)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("store.")
        })
        .count();
    assert_eq!(beside, 0, "no backup, not even a partial one");
    // With room, the same store migrates and holds everything.
    assert_holds(&node, PREVIOUS);
    assert_eq!(format_of(&node), Some(FORMAT));
}

/// Two daemons of this release negotiate the current sync protocol version: `status` shows
/// it for the peer, with the program the peer announced, and no upgrade advice.
#[test]
fn peers_of_this_release_report_the_sync_version_they_share() {
    let dir = tempfile::tempdir().unwrap();
    let province = Node::init(dir.path(), "province", "贵州省零工服务中心", "52");
    certify(None, &province);
    let county = Node::init(dir.path(), "county", "黄平县零工市场", "522622");
    certify(Some(&province), &county);
    let port = free_port();
    let province_id = province.node_id();
    county.json(&[
        "peer",
        "add",
        &format!("/ip4/127.0.0.1/tcp/{port}/p2p/{province_id}"),
    ]);
    let _province = Daemon::start(&province, port);
    let _county = Daemon::start(&county, free_port());
    let peer = poll_until(
        "the county syncs with the province and knows its version",
        Duration::from_secs(120),
        || {
            let status = county.json(&["status"]);
            status["peers"].as_array()?.iter().find_map(|p| {
                (p["peer"] == province_id.as_str()
                    && p["last_sync"].is_string()
                    && p["agent"].is_string())
                .then(|| p.clone())
            })
        },
    );
    assert_eq!(
        peer["sync_version"],
        lingong_protocol::sync::PROTOCOL_VERSION,
        "{peer}"
    );
    assert_eq!(
        peer["agent"],
        format!("lingong/{}", env!("CARGO_PKG_VERSION")),
        "{peer}"
    );
    assert!(peer.get("upgrade").is_none(), "nothing to upgrade: {peer}");
}

/// Writes `tests/fixtures/format-<FORMAT>/` again with the binary as built: a county node
/// certified by a province, an employer, three posts (two approved), two workers, a placement
/// and a complaint accepted; the county's home as `home.tar.gz`, and `expected.json`.
#[test]
#[ignore = "writes the committed fixture; run by hand when a release changes the store format"]
fn regenerate_the_format_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let province = Node::init(dir.path(), "province", "贵州省零工服务中心", "52");
    certify(None, &province);
    let county = Node::init(dir.path(), "county", "黄平县零工市场", "522622");
    certify(Some(&province), &county);
    let id = |v: Value| v["id"].as_str().expect("id").to_string();
    let employer = id(county.json(&[
        "employer",
        "register",
        "--name",
        "黄平县旧州镇建材店",
        "--type",
        "other",
        "--contact",
        "王老板",
        "--phone",
        "13800000000",
        "--verified-by",
        "黄平县市场监管局 营业执照",
    ]));
    let post = county.create_post("县城仓库搬运工", Some("522622"), &["--employer", &employer]);
    let second = county.create_post("旧州镇装卸工", None, &[]);
    county.create_post("临时保洁员", None, &["--description", "待审核"]);
    for p in [&post, &second] {
        county.json(&["post", "review", p, "--approve"]);
    }
    let mut workers = Vec::new();
    for (i, name) in ["杨光荣", "吴秀英"].iter().enumerate() {
        workers.push(county.register_porter(name, i as u32, &[]));
    }
    county.json(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &workers[0],
        "--worker-confirmed",
        "paper",
    ]);
    let complaint = id(county.json(&[
        "complaint",
        "file",
        "--kind",
        "wage-arrears",
        "--post",
        &post,
        "--text",
        "干了十天，工资一直未发",
        "--amount",
        "1500",
    ]));
    county.json(&[
        "complaint",
        "update",
        &complaint,
        "--status",
        "accepted",
        "--note",
        "已受理，约谈用工方",
    ]);
    let holdings = holdings(&county);
    for list in ["posts", "workers", "employers", "placements", "complaints"] {
        assert!(
            !holdings[list].as_array().unwrap().is_empty(),
            "{list}: {holdings}"
        );
    }
    let out_dir = fixture_dir();
    std::fs::create_dir_all(&out_dir).unwrap();
    let status = Command::new("tar")
        .arg("-czf")
        .arg(out_dir.join("home.tar.gz"))
        .args([
            "--exclude=./store/lingong.lock",
            "--exclude=./request.json",
            "--exclude=./issued-cert.json",
            "--exclude=./daemon.sock",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
        ])
        .arg(&county.home)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let expected = json!({
        "format": FORMAT,
        "written_by": env!("CARGO_PKG_VERSION"),
        "holdings": holdings,
    });
    std::fs::write(
        out_dir.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
