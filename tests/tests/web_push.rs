//! The console's push list (`/push`) and assistance ledger (`/assist`), and the last bundle on
//! the sync state, against real `lingong run` daemons.
//!
//! - The last bundle (no browser): `bundle export` at a node records when and how many changes
//!   in `last_bundle.json` (mode 0600); a daemon started after it answers `/api/sync` with that
//!   time and count; a `bundle import` through the daemon makes the import the last one.
//! - The send button and the forms without a browser (a clerk's API token, which pages take
//!   too): `/push` shows no send button without a `push_command`; with one (a real shell script)
//!   it does, and the form runs the command for the post's workers, who are then recorded as
//!   contacted; a mark form with an unknown result answers 400 with the message next to the
//!   `result` field and records nothing.
//! - In a browser (`tests/js/web_push.mjs`: playwright-core driving Debian's headless Chromium)
//!   at a village of the certified chain, logged in as a clerk: after a post is approved there,
//!   `/push` lists a priority worker first; a mark without a result is refused next to the field
//!   and changes nothing; marked "interested" the worker leaves the list; `/assist` shows the
//!   worker due, a record without a kind is refused next to the field, a training-info record
//!   is logged and the due figure drops by one; the sync page shows the last bundle. Then the
//!   command line agrees: the push list, the ledger and `assist due`. Where Chromium, Node.js
//!   or playwright-core is missing the browser test prints why and skips.
//!
//! Nothing sleeps a fixed time: every wait polls with a deadline.

use lingong_protocol::id_number::complete_id_number;
use lingong_tests::{Daemon, Node, free_port, init_chain, poll_until, workspace_root};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One HTTP/1.1 GET: the status and the body.
fn http(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    exchange(addr, "GET", path, headers, b"")
}

/// One HTTP/1.1 exchange: the status and the whole answer after the status line's code
/// (headers and body).
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the node's HTTP server");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = if method == "GET" {
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    } else {
        text
    };
    (status, body)
}

/// The daemon's web address, as it printed it in its log.
fn web_addr(node: &Node) -> String {
    let log = node.home.join("daemon.log");
    poll_until(
        "the daemon to print its web address",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            let at = text.find("http://")? + "http://".len();
            let rest = &text[at..];
            Some(rest[..rest.find('/')?].to_string())
        },
    )
}

/// `/api/sync` with a clerk's token.
fn sync_state(addr: &str, token: &str) -> Value {
    let bearer = format!("Bearer {token}");
    let (status, body) = http(addr, "/api/sync", &[("Authorization", &bearer)]);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn the_last_bundle_exported_or_imported_is_in_the_sync_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::init(dir.path(), "station", "贵州省零工服务中心", "52");
    lingong_tests::certify(None, &node);
    node.create_post("省级招聘会搬运工", None, &[]);
    let token = node.json(&["token", "add", "--name", "desk", "--role", "clerk"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let file = dir.path().join("stick.bundle");
    let file = file.to_str().expect("utf-8 path");
    let exported = node.json(&["bundle", "export", "--out", file]);
    let changes = exported["changes"].as_u64().expect("changes");
    assert!(changes > 0, "{exported}");
    let held = node.home.join("last_bundle.json");
    let mode = std::fs::metadata(&held)
        .expect("last_bundle.json written by the export")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "last_bundle.json is the owner's only");

    let _daemon = Daemon::start(&node, free_port());
    let addr = web_addr(&node);
    let sync = sync_state(&addr, &token);
    let last = &sync["last_bundle"];
    let at = last["export"]["at"].as_str().expect("the export's time");
    assert!(
        lingong_protocol::dates::parse_rfc3339(at).is_some(),
        "{sync}"
    );
    assert_eq!(last["export"]["changes"], changes, "{sync}");
    assert_eq!(last["export"]["file"], file, "{sync}");
    assert_eq!(last["last"]["direction"], "export", "{sync}");
    assert!(last["import"].is_null(), "nothing imported yet: {sync}");

    // An import through the running daemon becomes the last bundle.
    let imported = node.json(&["bundle", "import", file]);
    let sync = sync_state(&addr, &token);
    let last = &sync["last_bundle"];
    assert_eq!(last["last"]["direction"], "import", "{sync}");
    assert_eq!(last["import"]["changes"], imported["changes"], "{sync}");
    assert_eq!(last["import"]["duplicate"], imported["duplicate"], "{sync}");
    assert!(
        last["import"]["at"].as_str() >= Some(at),
        "the import is not before the export: {sync}"
    );
    assert_eq!(
        last["export"]["at"], at,
        "the export is still shown: {sync}"
    );
}

/// `worker register` at `node`: a porter (4-10-01-06) born 1970-01-01 in 黄平县, with `more`.
fn register_worker(node: &Node, name: &str, seq: u32, more: &[&str]) -> String {
    let id_number = complete_id_number(&format!("52262219700101{seq:03}"));
    let phone = format!("1380000{seq:04}");
    let mut args = vec![
        "worker",
        "register",
        "--name",
        name,
        "--id-number",
        &id_number,
        "--phone",
        &phone,
        "--skills",
        "4-10-01-06",
        "--wage-min",
        "120",
    ];
    args.extend_from_slice(more);
    node.json(&args)["id"].as_str().expect("id").to_string()
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(js: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium chromium-driver fonts-noto-cjk)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no Node.js".into());
    }
    if !js.join("node_modules/playwright-core").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(js)
            .status();
        if !matches!(installed, Ok(s) if s.success()) {
            return Some(format!(
                "could not install playwright-core with npm in {} ({installed:?})",
                js.display()
            ));
        }
    }
    None
}

/// The priority worker's row of `assist due`: how far behind.
fn behind(node: &Node, worker: &str) -> u64 {
    node.json(&["assist", "due", "--worker", worker])[0]["behind"]
        .as_u64()
        .expect("behind")
}

#[test]
fn a_clerk_marks_a_priority_worker_on_the_push_list_and_logs_assistance_in_the_browser() {
    let js = workspace_root().join("tests/js");
    if let Some(why) = browser_missing(&js) {
        eprintln!("skipped: the browser test needs Chromium, Node.js and playwright-core: {why}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    // Alike but for their priority, the plain one registered first.
    let plain = register_worker(village, "龙建国", 1, &[]);
    let older = register_worker(village, "吴秀英", 2, &["--flags", "older"]);
    let post = village.create_post("村里仓库搬运工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let before = behind(village, &older);
    let stick = dir.path().join("stick.bundle");
    let own_id = village.node_id();
    village.json(&[
        "bundle",
        "export",
        "--out",
        stick.to_str().expect("utf-8 path"),
        "--to",
        &own_id,
    ]);

    let password = "cangku-2026-push";
    let mut add = village.command();
    add.args([
        "--json",
        "staff",
        "add",
        "--name",
        "wu",
        "--role",
        "clerk",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut child = add.spawn().expect("staff add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    assert!(
        child
            .wait_with_output()
            .expect("staff add")
            .status
            .success()
    );
    let _daemon = Daemon::start(village, free_port());
    let web = web_addr(village);

    let shots = tempfile::tempdir().expect("screenshots");
    let out = Command::new("node")
        .arg(js.join("web_push.mjs"))
        .arg(format!("http://{web}/"))
        .arg("wu")
        .arg(password)
        .arg(&post)
        .arg(&older)
        .arg(&plain)
        .arg(shots.path())
        .env("HOME", dir.path())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    for shot in ["push.png", "assist.png"] {
        assert!(shots.path().join(shot).exists(), "no screenshot {shot}");
    }

    // What the pages did is what the command line says: the worker left the post's list, the
    // ledger holds the mark and the training record (the refused forms wrote nothing), and the
    // worker is two behind fewer.
    let list = village.json(&["push", "list", "--post", &post]);
    let on_list: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["worker_id"].as_str().expect("worker_id"))
        .collect();
    assert_eq!(on_list, vec![plain.as_str()], "{list}");
    let ledger = village.json(&["assist", "list", "--worker", &older]);
    let rows = ledger.as_array().expect("a list");
    assert_eq!(rows.len(), 2, "{ledger}");
    assert!(
        rows.iter().any(|r| r["kind"] == "job-recommendation"
            && r["result"] == "interested"
            && r["post_id"] == post.as_str()),
        "{ledger}"
    );
    assert!(
        rows.iter().any(|r| r["kind"] == "training-info"),
        "{ledger}"
    );
    assert_eq!(behind(village, &older), before - 2);
}

#[test]
fn the_send_button_runs_the_push_command_and_a_refused_mark_records_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let worker = register_worker(village, "杨光荣", 3, &["--flags", "disabled"]);
    let post = village.create_post("村里仓库搬运工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let token = village.json(&["token", "add", "--name", "desk", "--role", "clerk"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];

    // No push command: no send button.
    let daemon = Daemon::start(village, free_port());
    let web = web_addr(village);
    let (status, page) = http(&web, "/push", &auth);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(r#"data-worker="{worker}""#)),
        "{page}"
    );
    assert!(
        !page.contains(r#"id="send""#),
        "a send button without a command"
    );

    // A mark with an unknown result: 400, the message next to `result`, nothing recorded.
    let form = [
        ("post", post.as_str()),
        ("worker", worker.as_str()),
        ("result", "maybe"),
    ];
    let encoded: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let (status, answer) = exchange(
        &web,
        "POST",
        "/push/mark",
        &headers,
        encoded.join("&").as_bytes(),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains(r#"class="field bad" data-field="result""#),
        "the error is not next to the result field: {answer}"
    );
    assert_eq!(village.json(&["assist", "list"]), json!([]));
    drop(daemon);

    // With a push command: the button, and the form sends through it.
    let out_dir = dir.path().join("sent");
    std::fs::create_dir(&out_dir).expect("out dir");
    let script = dir.path().join("sms.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > \"$1/$LINGONG_PUSH_WORKER.txt\"\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let config = village.home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config.toml");
    std::fs::write(
        &config,
        format!(
            "push_command = [{:?}, {:?}]\n{text}",
            script.display().to_string(),
            out_dir.display().to_string()
        ),
    )
    .expect("config.toml written");
    let printed = web_lines(village);
    let _daemon = Daemon::start(village, free_port());
    let web = web_addr_after(village, printed);
    let (status, page) = http(&web, "/push", &auth);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"id="send""#),
        "no send button with a command"
    );
    let (status, answer) = exchange(&web, "POST", "/push/send", &headers, b"days=7");
    assert_eq!(status, 303, "{answer}");
    assert!(answer.contains("location: /push?done="), "{answer}");
    let message = std::fs::read_to_string(out_dir.join(format!("{worker}.txt"))).expect("sent");
    assert!(message.contains("村里仓库搬运工"), "{message}");
    let ledger = village.json(&["assist", "list", "--worker", &worker]);
    assert_eq!(ledger[0]["result"], "contacted", "{ledger}");
    let (_, page) = http(&web, "/push", &auth);
    assert!(
        !page.contains(&format!(r#"data-worker="{worker}""#)),
        "the contacted worker is still on the list"
    );
}

/// How many times the node's daemons have printed their web address.
fn web_lines(node: &Node) -> usize {
    std::fs::read_to_string(node.home.join("daemon.log"))
        .unwrap_or_default()
        .matches(WEB_LINE)
        .count()
}

/// The line a daemon prints with its web address.
const WEB_LINE: &str = "网页控制台: http://";

/// The web address printed by a daemon started after `before` such lines were in the log.
fn web_addr_after(node: &Node, before: usize) -> String {
    let log = node.home.join("daemon.log");
    poll_until(
        "the restarted daemon to print its web address",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            if text.matches(WEB_LINE).count() <= before {
                return None;
            }
            let at = text.rfind(WEB_LINE)? + WEB_LINE.len();
            let rest = &text[at..];
            Some(rest[..rest.find('/')?].to_string())
        },
    )
}
