//! Integration tests of the files a node leaves on disk: real `lingong` processes started under
//! umask 000 (a shell sets it and `exec`s the binary), then every file and folder under the
//! home, the bundle and the exports written elsewhere, and the daemon's socket, checked for
//! group and other access; a key file others may read refused by `run` and by commands, with the
//! fix in the message; a home others may write refused; and what an older version left
//! readable taken back, with a log line.
//!
//! Run: `cargo test -p lingong-tests --test file_modes`.

use lingong_tests::{Node, everything_under, lingong_bin, poll_until, post_args};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("lingong-modes-test")
        .tempdir()
        .expect("temp dir")
}

/// `lingong --home HOME ARGS…` started by `sh` after `umask 000`.
fn under_umask_000(node: &Node, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(lingong_bin())
        .arg("--home")
        .arg(&node.home)
        .args(args)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LINGONG_HOME")
        .env_remove("LINGONG_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs `args` under umask 000 with `--json`, asserts success and parses the output.
fn json_000(node: &Node, args: &[&str]) -> Value {
    let out = under_umask_000(node, &[&["--json"], args].concat())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "`lingong {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Waits for `child` to exit, killing it and failing the test after `timeout`.
fn wait_within(mut child: Child, timeout: Duration, what: &str) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} still ran after {timeout:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A self-certified province initialised by `lingong` under umask 000.
fn province_000(dir: &Path) -> Node {
    let node = Node::at(dir.join("province"));
    json_000(
        &node,
        &["init", "--name", "贵州省零工服务中心", "--region", "52"],
    );
    let request = node.home.join("request.json");
    let cert = node.home.join("issued-cert.json");
    json_000(&node, &["cert", "request", "--out", path_str(&request)]);
    json_000(
        &node,
        &[
            "cert",
            "issue",
            "--request",
            path_str(&request),
            "--out",
            path_str(&cert),
        ],
    );
    json_000(&node, &["cert", "install", path_str(&cert)]);
    node
}

#[test]
fn a_node_run_under_umask_000_leaves_nothing_others_may_read() {
    let dir = tmp();
    let node = province_000(dir.path());
    let id_number = lingong_protocol::record::complete_id_number("52262219700101234");
    json_000(
        &node,
        &[
            "worker",
            "register",
            "--name",
            "王秀英",
            "--id-number",
            &id_number,
            "--phone",
            "13800000000",
        ],
    );
    let post = json_000(&node, &post_args("茶园采茶工"))["id"]
        .as_str()
        .expect("post id")
        .to_string();

    // Through a daemon started under umask 000: its socket, and a write it makes.
    let mut daemon = under_umask_000(
        &node,
        &["run", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("daemon starts");
    let served = poll_until("the daemon to answer", Duration::from_secs(60), || {
        assert!(
            daemon.try_wait().expect("try_wait").is_none(),
            "daemon died"
        );
        let v = json_000(&node, &["status"]);
        (v["daemon"] == true).then_some(v)
    });
    assert_eq!(served["daemon"], true);
    let socket = node.home.join("daemon.sock");
    assert_eq!(mode(&socket), 0o600, "daemon.sock");
    json_000(
        &node,
        &[
            "directory",
            "set",
            "--address",
            "观山湖区",
            "--hours",
            "9-17",
        ],
    );

    // Files the node writes where the clerk says: inside the home and outside it.
    let outside = dir.path().join("stick");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let written = [
        node.home.join("all.bundle"),
        outside.join("for-usb.bundle"),
        outside.join("post.automerge"),
        node.home.join("request-again.json"),
    ];
    // The node holds a worker: its bundles are sealed (to itself, here).
    let own_id = json_000(&node, &["status"])["node_id"]
        .as_str()
        .expect("node_id")
        .to_string();
    json_000(
        &node,
        &[
            "bundle",
            "export",
            "--out",
            path_str(&written[0]),
            "--to",
            &own_id,
        ],
    );
    json_000(
        &node,
        &[
            "bundle",
            "export",
            "--out",
            path_str(&written[1]),
            "--to",
            &own_id,
        ],
    );
    json_000(
        &node,
        &["post", "export", &post, "--out", path_str(&written[2])],
    );
    json_000(&node, &["cert", "request", "--out", path_str(&written[3])]);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let status = poll_until("the daemon to stop", Duration::from_secs(30), || {
        daemon.try_wait().expect("try_wait")
    });
    assert!(status.success(), "daemon stopped with {status}");

    let mut open = Vec::new();
    for path in everything_under(&node.home).into_iter().chain(written) {
        let m = mode(&path);
        if m & 0o077 != 0 {
            open.push(format!("{:o} {}", m, path.display()));
        }
    }
    assert!(
        open.is_empty(),
        "group or other access under umask 000:\n{}",
        open.join("\n")
    );
    let store = node.home.join("store");
    assert_eq!(mode(&node.home), 0o700);
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join("db")), 0o600);
    assert_eq!(mode(&node.home.join("node.key")), 0o600);
}

#[test]
fn run_and_commands_refuse_a_key_others_may_read_and_say_how_to_fix_it() {
    let dir = tmp();
    let node = Node::init(dir.path(), "village", "乐源社区零工服务站", "522622101001");
    let key = node.home.join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let fix = format!("chmod 600 {}", key.display());
    for lang in ["en", "zh"] {
        let run = node
            .command()
            .args(["--lang", lang, "run", "--listen", "/ip4/127.0.0.1/tcp/0"])
            .args(["--no-mdns"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let out = wait_within(run, Duration::from_secs(60), "`run` with a 0644 key");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&fix), "{stderr}");
        assert!(stderr.contains("644"), "{stderr}");
        if lang == "zh" {
            assert!(stderr.contains("节点密钥只能由所有者读取"), "{stderr}");
        } else {
            assert!(stderr.contains("readable by its owner only"), "{stderr}");
        }
        assert!(
            !node.home.join("daemon.sock").exists(),
            "a refused daemon leaves no socket"
        );
    }
    let refused = node.fail(&["status"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains(&fix), "{}", refused.stderr);
    assert_eq!(refused.json["error"]["code"], "invalid-field");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    node.json(&["status"]);
}

#[test]
fn a_home_others_may_write_is_refused_naming_the_fix() {
    let dir = tmp();
    let node = Node::init(dir.path(), "village", "乐源社区零工服务站", "522622101001");
    std::fs::set_permissions(&node.home, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let refused = node.fail(&["status"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("chmod 700 {}", node.home.display())),
        "{}",
        refused.stderr
    );
    // `init` in a folder others may write creates nothing there.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let fresh = Node::at(&shared);
    let refused = fresh.fail(&["init", "--name", "测试站", "--region", "522622101001"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(!shared.join("node.key").exists());
}

#[test]
fn what_an_older_version_left_readable_is_taken_back_with_a_log_line() {
    let dir = tmp();
    let node = Node::init(dir.path(), "village", "乐源社区零工服务站", "522622101001");
    let store = node.home.join("store");
    let set = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    // What a version before file modes were enforced made under umask 022.
    set(&node.home, 0o755);
    set(&node.home.join("config.toml"), 0o644);
    set(&store, 0o755);
    for entry in std::fs::read_dir(&store).expect("store") {
        let path = entry.expect("entry").path();
        set(&path, if path.is_dir() { 0o755 } else { 0o644 });
    }
    let out = node.run(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("took group and other access away"),
        "no log line: {stderr}"
    );
    let open: Vec<String> = everything_under(&node.home)
        .into_iter()
        .filter(|p| mode(p) & 0o077 != 0)
        .map(|p| format!("{:o} {}", mode(&p), p.display()))
        .collect();
    assert!(open.is_empty(), "still open:\n{}", open.join("\n"));
    // Nothing left to change: no log line the second time.
    let again = node.run(&["status"]);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("took group"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
