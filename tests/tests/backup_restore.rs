//! Backup and restore with real `lingong` processes: a village backs up while its daemon runs,
//! keeps writing for a "week" after the backup (synced to its township), then loses its home.
//! The backup restored into a new home signs nothing until it has caught up its own log from
//! the township, then writes on from the right sequence number: no fork anywhere, nothing lost.
//! A wrong passphrase, a cut-off or damaged file, and a non-empty target home are refused with
//! a clear message, exit 2, and no home made.
//!
//! Run: `cargo test -p lingong-tests --test backup_restore`.

use lingong_tests::{Daemon, Node, free_port, init_chain, poll_until, post_args};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);
const PASSPHRASE: &str = "黔东南 village desk 2026";

/// `lingong --home HOME --json ARGS… --passphrase-stdin` with `passphrase` on standard input.
fn with_passphrase(node: &Node, passphrase: &str, args: &[&str]) -> Output {
    with_passphrase_lang(node, passphrase, "en", args)
}

fn with_passphrase_lang(node: &Node, passphrase: &str, lang: &str, args: &[&str]) -> Output {
    let mut child = node
        .command()
        .args(["--json", "--lang", lang])
        .args(args)
        .arg("--passphrase-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lingong binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{passphrase}\n").as_bytes())
        .expect("write the passphrase");
    child.wait_with_output().expect("runs")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn ok_json(out: Output) -> Value {
    assert!(
        out.status.success(),
        "failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

/// `restore FILE` into `target`'s home, expecting a refusal: exit 2, `code`, one stderr line
/// holding `says`; returns that line.
fn refused_restore(target: &Node, file: &Path, passphrase: &str, code: &str, says: &str) -> String {
    let out = with_passphrase(
        target,
        passphrase,
        &["restore", file.to_str().expect("utf-8")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{code}: {stderr}");
    assert_eq!(json_of(&out)["error"]["code"], code, "{stderr}");
    assert!(stderr.contains(says), "{code} says {says:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
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

fn wait_for_titles(node: &Node, what: &str, wanted: &[String]) {
    poll_until(what, DEADLINE, || {
        let held = titles(node);
        wanted.iter().all(|t| held.contains(t)).then_some(())
    });
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_week_old_backup_restored_catches_up_from_the_parent_then_writes_without_a_fork() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let port = free_port();
    let township_addr = format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id());
    village.json(&["peer", "add", &township_addr]);
    let mut parent = Daemon::start(township, port);
    let mut old = Daemon::start(village, free_port());

    // Before the backup: posts, a worker (its clear ID number only here), a staff account.
    let mut before = Vec::new();
    for i in 0..3 {
        let title = format!("备份前的岗位{i}");
        village.create_post(&title, None, &[]);
        before.push(title);
    }
    let id_number = lingong_protocol::record::complete_id_number("52262219800101234");
    let worker = village.json(&[
        "worker",
        "register",
        "--name",
        "杨秀英",
        "--id-number",
        &id_number,
        "--phone",
        "13800000000",
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string();
    village.json(&["staff", "add", "--name", "吴会计", "--role", "clerk"]);
    sync_ok(village);
    wait_for_titles(township, "the first posts at the township", &before);

    // The backup, while the village's daemon runs.
    let file = dir.path().join("village.lgbackup");
    let made = ok_json(with_passphrase(
        village,
        PASSPHRASE,
        &["backup", "--out", file.to_str().expect("utf-8")],
    ));
    eprintln!("backup: {made}");
    assert_eq!(mode(&file), 0o600, "the backup holds clear ID numbers");
    let spooled: Vec<_> = std::fs::read_dir(&village.home)
        .expect("home")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".backup-") || n.ends_with(".tmp"))
        .collect();
    assert!(spooled.is_empty(), "moved out of the home: {spooled:?}");
    let nowhere = dir.path().join("no-such-folder").join("x.lgbackup");
    let out = with_passphrase(
        village,
        PASSPHRASE,
        &["backup", "--out", nowhere.to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
    assert!(!nowhere.parent().expect("parent").exists());
    assert_eq!(made["bytes"], std::fs::metadata(&file).expect("file").len());
    assert_eq!(made["clear_id_numbers"], 1, "{made}");
    assert_eq!(made["accounts"], 1, "{made}");
    assert_eq!(
        made["files"], 4,
        "config, key, certificate, id.secret: {made}"
    );
    let bytes = std::fs::read(&file).expect("backup");
    assert!(bytes.starts_with(b"LGBACKUP"));
    assert!(
        !bytes
            .windows(id_number.len())
            .any(|w| w == id_number.as_bytes()),
        "no clear ID number in the file's bytes"
    );
    let seq_at_backup = made["own_max_seq"].as_u64().expect("own_max_seq");

    // A week more: the village keeps writing, and it all reaches the township.
    let mut after = Vec::new();
    for day in 0..5 {
        let title = format!("备份后第{day}天的岗位");
        village.create_post(&title, None, &[]);
        after.push(title);
    }
    sync_ok(village);
    wait_for_titles(township, "the week's posts at the township", &after);
    let lost_records = village.json(&["status"])["records"].clone();

    // The village's mini PC dies with its home.
    old.stop();
    std::fs::remove_dir_all(&village.home).expect("remove the home");

    // Bad input first: nothing is made, and each fault is named.
    let new = Node::at(dir.path().join("village-restored"));
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();
    refused_restore(
        &new,
        &file,
        "not the passphrase",
        "backup-wrong-passphrase",
        "wrong passphrase",
    );
    assert!(!new.home.exists(), "no home after a wrong passphrase");
    let zh = with_passphrase_lang(&new, "不是这个口令", "zh", &["restore", &path(&file)]);
    assert_eq!(zh.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&zh.stderr).contains("口令错误"),
        "{}",
        String::from_utf8_lossy(&zh.stderr)
    );
    let cut = dir.path().join("cut.lgbackup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
    refused_restore(&new, &cut, PASSPHRASE, "backup-truncated", "cut short");
    let flipped = dir.path().join("flipped.lgbackup");
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    std::fs::write(&flipped, &damaged).expect("write");
    refused_restore(&new, &flipped, PASSPHRASE, "backup-damaged", "checksum");
    let not_backup = dir.path().join("notes.txt");
    std::fs::write(&not_backup, "村里的会议记录").expect("write");
    refused_restore(
        &new,
        &not_backup,
        PASSPHRASE,
        "backup-not-a-backup",
        "not a lingong backup",
    );
    assert!(!new.home.exists(), "no home after a refused file");
    let occupied = Node::at(dir.path().join("occupied"));
    std::fs::create_dir(&occupied.home).expect("mkdir");
    std::fs::write(occupied.home.join("keep.txt"), "别动").expect("write");
    refused_restore(&occupied, &file, PASSPHRASE, "invalid-field", "not empty");
    assert_eq!(
        std::fs::read_dir(&occupied.home).expect("dir").count(),
        1,
        "the occupied folder untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore-"))
        .collect();
    assert!(leftovers.is_empty(), "no half-written home: {leftovers:?}");

    // The restore, into an empty folder, while the township is down.
    std::fs::create_dir(&new.home).expect("mkdir");
    let restored = ok_json(with_passphrase(
        &new,
        PASSPHRASE,
        &["restore", &path(&file)],
    ));
    eprintln!("restore: {restored}");
    assert_eq!(restored["catching_up"], true, "{restored}");
    assert_eq!(restored["records"]["posts"], 3, "{restored}");
    assert_eq!(restored["clear_id_numbers"], 1, "{restored}");
    assert_eq!(restored["own_max_seq"].as_u64(), Some(seq_at_backup));
    assert_eq!(mode(&new.home), 0o700);
    assert_eq!(mode(&new.home.join("node.key")), 0o600);
    parent.stop();
    let mut restored_daemon = Daemon::start(&new, free_port());

    // Catching up: every write that signs is refused, in either language, and changes nothing.
    let refused = new.fail(&post_args("太早的岗位"));
    assert_eq!(refused.status, 1, "{refused:?}");
    assert_eq!(refused.json["error"]["code"], "catching-up", "{refused:?}");
    assert!(
        refused.stderr.contains("restored from a backup")
            && refused.stderr.contains(&township.node_id()),
        "{}",
        refused.stderr
    );
    let zh = new
        .command()
        .args(["--lang", "zh", "directory", "set", "--hours", "8:00-17:00"])
        .output()
        .expect("runs");
    let zh_text = String::from_utf8_lossy(&zh.stderr);
    assert_eq!(zh.status.code(), Some(1), "{zh_text}");
    assert!(
        zh_text.contains("备份恢复") && zh_text.contains("上级节点"),
        "{zh_text}"
    );
    let waiting = new.json(&["status"]);
    assert_eq!(waiting["records"]["posts"], 3);
    assert_eq!(waiting["catching_up"], true, "status says so: {waiting}");
    assert!(new.home.join("catching-up").exists());

    // The township is back: the restored daemon syncs by itself and clears the mark.
    parent.restart();
    poll_until("the restored village to catch up", DEADLINE, || {
        (!new.home.join("catching-up").exists()).then_some(())
    });
    let all: Vec<String> = before.iter().chain(&after).cloned().collect();
    wait_for_titles(&new, "every post at the restored village", &all);
    let held = new.json(&["status"]);
    assert_eq!(held["records"], lost_records, "nothing lost: {held}");
    assert_eq!(held["catching_up"], false, "{held}");

    // It writes again, from the right sequence number: the township takes it, no fork.
    village_writes_on(&new, township);
    for node in [township, &new] {
        let forks = node.json(&["status"])["forks"].clone();
        assert_eq!(forks, Value::Array(Vec::new()), "no fork: {forks}");
    }
    let audit = township.json(&["audit"]);
    let problems = audit["problems"].as_array().expect("problems");
    assert!(
        !problems.iter().any(|p| p["kind"] == "fork"),
        "no fork in the township's audit: {audit}"
    );

    // What only the village held came back too: the same person registering again is found
    // by the private tables (the ID hash under the restored id.secret, the clear number).
    let again = new.fail(&[
        "worker",
        "register",
        "--name",
        "杨秀英",
        "--id-number",
        &id_number,
        "--phone",
        "13800000000",
    ]);
    assert_eq!(again.status, 2, "{again:?}");
    assert!(again.stderr.contains(&worker), "{}", again.stderr);
    let staff = new.json(&["staff", "list"]).to_string();
    assert!(staff.contains("吴会计"), "{staff}");
    restored_daemon.stop();

    // What the mark prevents: the same backup restored again, its mark removed by hand, signs
    // at once with a sequence number the old machine used after the backup; the township
    // catches the fork.
    let copy = Node::at(dir.path().join("village-copy"));
    ok_json(with_passphrase(
        &copy,
        PASSPHRASE,
        &["restore", &path(&file)],
    ));
    std::fs::remove_file(copy.home.join("catching-up")).expect("the mark");
    copy.create_post("没有等待就写的岗位", None, &[]);
    copy.run(&["sync", "--timeout", "30"]);
    let caught = poll_until("the fork at the township", DEADLINE, || {
        township.json(&["status"])["forks"]
            .as_array()
            .and_then(|f| f.first().cloned())
    });
    assert_eq!(
        caught["fork_seq"].as_u64(),
        Some(seq_at_backup + 1),
        "{caught}"
    );
    parent.stop();
}

/// A new post at the restored village reaches the township.
fn village_writes_on(village: &Node, township: &Node) {
    village.create_post("恢复后的第一个岗位", None, &[]);
    sync_ok(village);
    wait_for_titles(
        township,
        "the restored village's new post at the township",
        &["恢复后的第一个岗位".to_string()],
    );
}
