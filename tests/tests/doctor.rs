//! Integration tests of `lingong doctor` with real homes and processes: a healthy certified
//! node exits 0 with and without its daemon (peer connected, last sync and clock offset known
//! through the daemon; reachability by a TCP connection without it); a node with no certificate,
//! an expired one (the test clock `LINGONG_NOW`), one expiring within 30 days, a key others may
//! read, an unreachable peer: each exits 1 naming the finding and what to do, in Chinese and
//! in English; the store's room against its records' bytes reported (no finding for a small
//! store); `lingong setup` makes a node whose doctor names the missing certificate, and
//! refuses bad input before it makes anything.
//!
//! Run: `cargo test -p lingong-tests --test doctor`.

use lingong_tests::{Daemon, Node, certify, free_port, poll_until};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;

fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("lingong-doctor-test")
        .tempdir()
        .expect("temp dir")
}

/// `lingong doctor --json` (with `env`), its exit status and report.
fn doctor_json(node: &Node, env: &[(&str, &str)]) -> (i32, Value) {
    let out = node
        .command()
        .envs(env.iter().copied())
        .args(["--json", "doctor"])
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// `lingong --lang LANG doctor` as text.
fn doctor_text(node: &Node, lang: &str) -> (i32, String) {
    let out: Output = node
        .command()
        .args(["--lang", lang, "doctor"])
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect()
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no finding {code} in {report:#}"))
}

fn check<'a>(report: &'a Value, name_starts: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| {
            c["check"]
                .as_str()
                .is_some_and(|n| n.starts_with(name_starts))
        })
        .unwrap_or_else(|| panic!("no check {name_starts} in {report:#}"))
}

/// A certified province in `dir`.
fn province(dir: &TempDir) -> Node {
    let p = Node::init(dir.path(), "province", "贵州省", "52");
    certify(None, &p);
    p
}

#[test]
fn a_healthy_certified_node_exits_0_with_and_without_its_daemon() {
    let dir = tmp();
    let p = province(&dir);
    let (status, report) = doctor_json(&p, &[]);
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["daemon"], false);
    assert_eq!(check(&report, "certificate")["state"], "ok");
    assert_eq!(check(&report, "store")["state"], "ok");

    // A city with the province as its configured peer, both daemons running.
    let c = Node::init(dir.path(), "city", "贵阳市", "5201");
    certify(Some(&p), &c);
    let p_port = free_port();
    let _pd = Daemon::start(&p, p_port);
    let p_addr = format!("/ip4/127.0.0.1/tcp/{p_port}/p2p/{}", p.node_id());
    c.json(&["peer", "add", &p_addr]);
    let mut cd = Daemon::start(&c, free_port());
    poll_until(
        "the city's daemon to complete a sync with the province",
        Duration::from_secs(120),
        || {
            let s = c.json(&["status"]);
            s["peers"]
                .as_array()?
                .iter()
                .any(|r| r["last_sync"].is_string() && r["clock_offset_s"].is_i64())
                .then_some(())
        },
    );
    let (status, report) = doctor_json(&c, &[]);
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report["daemon"], true);
    let peer = check(&report, "peer /ip4/127.0.0.1");
    assert_eq!(peer["state"], "ok");
    let detail = peer["detail"].as_str().expect("detail");
    assert!(
        detail.contains("connected") && detail.contains("last synced"),
        "{detail}"
    );
    // The program the province announced, the same release as this one.
    assert!(
        detail.contains(concat!("runs lingong/", env!("CARGO_PKG_VERSION"))),
        "{detail}"
    );
    assert_eq!(check(&report, "clock")["state"], "ok", "{report:#}");
    let up = check(&report, "waiting to go up");
    assert_eq!(up["state"], "ok", "{report:#}");
    assert_store_room_reported(&report);

    // Without the city's daemon: the store is opened here, the province reached over TCP.
    cd.stop();
    let (status, report) = doctor_json(&c, &[]);
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report["daemon"], false);
    let peer = check(&report, "peer /ip4/127.0.0.1");
    assert!(
        peer["detail"]
            .as_str()
            .expect("detail")
            .contains("reachable"),
        "{peer}"
    );
    assert_eq!(check(&report, "clock")["state"], "unknown");
    assert_store_room_reported(&report);
}

/// The store's room against its records' bytes is reported, and a small store is no finding
/// whatever its ratio (sled's fixed part).
fn assert_store_room_reported(report: &Value) {
    let room = check(report, "store room");
    assert_eq!(room["state"], "ok", "{report:#}");
    let detail = room["detail"].as_str().expect("detail");
    assert!(
        detail.contains("MiB on disk") && detail.contains("estimated from"),
        "{detail}"
    );
    assert!(
        !codes(report).contains(&"store-room".to_string()),
        "{report:#}"
    );
}

#[test]
fn no_certificate_is_named_with_the_steps_to_get_one_in_both_languages() {
    let dir = tmp();
    let n = Node::init(dir.path(), "county", "花溪区", "520111");
    let (status, report) = doctor_json(&n, &[]);
    assert_eq!(status, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let f = finding(&report, "cert-missing");
    assert_eq!(f["severity"], "error");
    let fix = f["fix"].as_str().expect("fix");
    assert!(
        fix.contains("cert request") && fix.contains("cert issue") && fix.contains("cert install"),
        "{fix}"
    );
    // A county with no peer configured is told to add its parent.
    assert!(
        codes(&report).contains(&"no-peers".to_string()),
        "{report:#}"
    );

    let (status, zh) = doctor_text(&n, "zh");
    assert_eq!(status, 1);
    assert!(zh.contains("没有证书") && zh.contains("处理："), "{zh}");
    assert!(zh.contains("[cert-missing]"), "{zh}");
    let (status, en) = doctor_text(&n, "en");
    assert_eq!(status, 1);
    assert!(
        en.contains("no certificate") && en.contains("to do:"),
        "{en}"
    );
}

#[test]
fn an_expired_or_expiring_certificate_is_an_error_or_a_warning() {
    let dir = tmp();
    let p = province(&dir);
    // The province's root is valid a year (`cert issue` default): two years on it has expired.
    let later = [("LINGONG_NOW", "2029-01-01T00:00:00+08:00")];
    let (status, report) = doctor_json(&p, &later);
    assert_eq!(status, 1, "{report:#}");
    let f = finding(&report, "cert-expired");
    assert_eq!(f["severity"], "error");
    assert!(
        f["fix"].as_str().expect("fix").contains("cert install"),
        "{f}"
    );
    let zh = p
        .command()
        .env("LINGONG_NOW", later[0].1)
        .args(["--lang", "zh", "doctor"])
        .output()
        .expect("runs");
    let zh = String::from_utf8_lossy(&zh.stdout);
    assert!(
        zh.contains("过期") && zh.contains("上级节点签发新证书"),
        "{zh}"
    );

    // A city certified for 10 days: a warning now, with the date.
    let c = Node::init(dir.path(), "city", "贵阳市", "5201");
    let request = c.home.join("request.json");
    let cert = c.home.join("cert-10d.json");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    c.json(&["cert", "request", "--out", &path(&request)]);
    p.json(&[
        "cert",
        "issue",
        "--request",
        &path(&request),
        "--days",
        "10",
        "--out",
        &path(&cert),
    ]);
    c.json(&["cert", "install", &path(&cert)]);
    let (status, report) = doctor_json(&c, &[]);
    assert_eq!(status, 1, "{report:#}");
    let f = finding(&report, "cert-expiring");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["message"].as_str().expect("message").contains("days"),
        "{f}"
    );
}

#[test]
fn a_key_others_may_read_is_an_error_with_the_chmod_to_run() {
    let dir = tmp();
    let p = province(&dir);
    let key = p.home.join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (status, report) = doctor_json(&p, &[]);
    assert_eq!(status, 1, "{report:#}");
    let f = finding(&report, "key-mode");
    assert_eq!(f["severity"], "error");
    let chmod = format!("chmod 600 {}", key.display());
    assert!(f["fix"].as_str().expect("fix").contains(&chmod), "{f}");
    // The doctor only reports: the key is as it was.
    let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    // The certificate is still checked against the key.
    assert_eq!(check(&report, "certificate")["state"], "ok", "{report:#}");

    let (status, zh) = doctor_text(&p, "zh");
    assert_eq!(status, 1);
    assert!(zh.contains(&chmod) && zh.contains("[key-mode]"), "{zh}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (status, report) = doctor_json(&p, &[]);
    assert_eq!(status, 0, "{report:#}");
}

#[test]
fn an_unreachable_peer_is_a_finding() {
    let dir = tmp();
    let p = province(&dir);
    let c = Node::init(dir.path(), "city", "贵阳市", "5201");
    certify(Some(&p), &c);
    // Nobody listens on this port.
    let addr = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", free_port(), p.node_id());
    c.json(&["peer", "add", &addr]);
    let (status, report) = doctor_json(&c, &[]);
    assert_eq!(status, 1, "{report:#}");
    assert_eq!(
        codes(&report),
        vec!["peer-unreachable".to_string()],
        "{report:#}"
    );
    let f = finding(&report, "peer-unreachable");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["message"].as_str().expect("message").contains(&addr),
        "{f}"
    );
    let (_, zh) = doctor_text(&c, "zh");
    assert!(zh.contains("无法连通"), "{zh}");
    let (_, en) = doctor_text(&c, "en");
    assert!(en.contains("not reachable"), "{en}");
}

#[test]
fn setup_makes_key_configuration_and_request_in_one_go() {
    let dir = tmp();
    let p = province(&dir);
    let n = Node::at(dir.path().join("county"));
    let request = dir.path().join("county-request.json");
    let parent = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", free_port(), p.node_id());
    let request_arg = request.to_str().expect("utf-8");

    // Bad input changes nothing: a bad parent address, then a missing --region with no
    // terminal to ask on.
    let failure = n.fail(&[
        "setup",
        "--name",
        "花溪区",
        "--region",
        "520111",
        "--parent-peer",
        "/ip4/127.0.0.1/tcp/1",
        "--out-request",
        request_arg,
    ]);
    assert_eq!(failure.status, 2, "{}", failure.stderr);
    assert!(
        failure.stderr.contains("--parent-peer"),
        "{}",
        failure.stderr
    );
    assert!(!n.home.exists() && !request.exists());
    let failure = n.fail(&["setup", "--name", "花溪区", "--out-request", request_arg]);
    assert_eq!(failure.status, 2, "{}", failure.stderr);
    assert!(failure.stderr.contains("--region"), "{}", failure.stderr);
    assert!(!n.home.exists());

    let out = n.json(&[
        "setup",
        "--name",
        "花溪区",
        "--region",
        "520111",
        "--parent-peer",
        &parent,
        "--out-request",
        request_arg,
    ]);
    assert_eq!(out["region"], "520111");
    assert_eq!(out["parent_peer"], parent.as_str());
    let mode = std::fs::metadata(&request)
        .expect("request")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let req: Value =
        serde_json::from_slice(&std::fs::read(&request).expect("request")).expect("json");
    assert_eq!(req["node_id"], out["node_id"]);
    // The request is what the parent issues from.
    let cert = dir.path().join("county-cert.json");
    p.json(&[
        "cert",
        "issue",
        "--request",
        request_arg,
        "--out",
        cert.to_str().expect("utf-8"),
    ]);
    let (status, report) = doctor_json(&n, &[]);
    assert_eq!(status, 1);
    assert!(
        codes(&report).contains(&"cert-missing".to_string()),
        "{report:#}"
    );
    n.json(&["cert", "install", cert.to_str().expect("utf-8")]);
    let (_, report) = doctor_json(&n, &[]);
    assert_eq!(
        codes(&report),
        vec!["peer-unreachable".to_string()],
        "{report:#}"
    );
}

#[test]
fn a_clock_hours_off_against_the_parent_is_an_error() {
    let dir = tmp();
    let p = province(&dir);
    let c = Node::init(dir.path(), "city", "贵阳市", "5201");
    certify(Some(&p), &c);
    let p_port = free_port();
    let _pd = Daemon::start(&p, p_port);
    c.json(&[
        "peer",
        "add",
        &format!("/ip4/127.0.0.1/tcp/{p_port}/p2p/{}", p.node_id()),
    ]);
    // The city's machine runs three hours fast (the test clock), its daemon too.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let fast = lingong_protocol::dates::rfc3339(now_ms + 3 * 3_600_000);
    let clock = [("LINGONG_NOW", fast.as_str())];
    let listen = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let mut daemon = c
        .command()
        .envs(clock)
        .args([
            "run",
            "--listen",
            &listen,
            "--sync-interval",
            "1",
            "--no-mdns",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the city's daemon starts");
    let offset = poll_until(
        "the city's daemon to measure the province's clock",
        Duration::from_secs(120),
        || {
            let out = c.command().args(["--json", "status"]).output().ok()?;
            let s: Value = serde_json::from_slice(&out.stdout).ok()?;
            if s["daemon"] != true {
                return None;
            }
            s["peers"]
                .as_array()?
                .iter()
                .find_map(|r| r["clock_offset_s"].as_i64())
        },
    );
    assert!(offset < -3 * 3600 + 120, "offset {offset}");
    let (status, report) = doctor_json(&c, &clock);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(status, 1, "{report:#}");
    let f = finding(&report, "clock-offset");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"]
            .as_str()
            .expect("message")
            .contains("ahead of the parent's"),
        "{f}"
    );
    assert!(
        f["fix"].as_str().expect("fix").contains("timedatectl"),
        "{f}"
    );
}

#[test]
fn setup_at_a_terminal_asks_in_chinese_for_what_is_missing() {
    // `script` (util-linux) gives the command a terminal and types the answers into it.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` command to give setup a terminal");
        return;
    }
    let dir = tmp();
    let home = dir.path().join("township");
    let request = dir.path().join("township-request.json");
    let command = format!(
        "{} --home {} setup --name 青岩镇零工驿站",
        lingong_tests::lingong_bin().display(),
        home.display()
    );
    // The region, no parent address (Enter), the request file.
    let answers = format!("520115101\n\n{}\n", request.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LINGONG_HOME")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("answers");
    let out = child.wait_with_output().expect("setup ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("区划代码") && text.contains("证书申请保存到") && !text.contains("站点名称"),
        "asked for what was missing only: {text}"
    );
    let n = Node::at(&home);
    assert_eq!(n.json(&["status"])["region"], "520115101");
    let req: Value =
        serde_json::from_slice(&std::fs::read(&request).expect("request written")).expect("json");
    assert_eq!(req["name"], "青岩镇零工驿站");
}

#[test]
fn another_user_than_the_homes_owner_is_told_to_run_as_the_owner_and_the_store_is_left_alone() {
    if effective_uid() != 0 {
        eprintln!("skipped: giving a home to another user needs root");
        return;
    }
    let dir = tmp();
    let p = province(&dir);
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&p.home)
        .status()
        .expect("chown runs");
    assert!(chown.success());
    let before: Vec<_> = std::fs::read_dir(p.home.join("store"))
        .expect("store")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let (status, report) = doctor_json(&p, &[]);
    assert_eq!(status, 1, "{report:#}");
    let f = finding(&report, "other-user");
    assert!(f["fix"].as_str().expect("fix").contains("sudo -u"), "{f}");
    assert_eq!(check(&report, "store")["state"], "unknown");
    let after: Vec<_> = std::fs::read_dir(p.home.join("store"))
        .expect("store")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after, "the store was touched");
}

/// This process's effective user id.
fn effective_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // A file this process just made belongs to its effective user.
    let f = tempfile::NamedTempFile::new().expect("temp file");
    f.as_file().metadata().expect("metadata").uid()
}
