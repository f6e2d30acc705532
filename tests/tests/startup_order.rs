//! Integration tests of commands and the daemon starting together, with real processes: a
//! command started while `lingong run` starts, or a daemon started while a command holds the
//! store, must both end well (docs/cli.md: never a "database is locked" error). Commands are
//! started with no pause after the daemon (and the daemon with none after them), many rounds,
//! both orders; and, deterministically, a daemon started while the store is held (by this test
//! process, holding `lingong.lock` as a command would) waits for it and serves the commands
//! that arrived meanwhile.
//!
//! Run: `cargo test -p lingong-tests --test startup_order`.

use lingong_tests::{Daemon, Node, certify, poll_until};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A command is given this long; a healthy one takes well under a second.
const COMMAND_DEADLINE: Duration = Duration::from_secs(90);

fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("lingong-startup-test")
        .tempdir()
        .expect("temp dir")
}

fn certified_node(dir: &std::path::Path) -> Node {
    let node = Node::init(dir, "province", "贵州省零工服务中心", "52");
    certify(None, &node);
    node
}

/// `lingong --json ARGS…` started in the background, its output captured.
fn start(node: &Node, args: &[&str]) -> (String, Child) {
    let child = node
        .command()
        .arg("--json")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lingong binary starts");
    (args.join(" "), child)
}

/// Waits for every command (each within [`COMMAND_DEADLINE`]), asserts each succeeded, and
/// returns their JSON outputs in order.
fn finish(commands: Vec<(String, Child)>, round: &str) -> Vec<Value> {
    let deadline = Instant::now() + COMMAND_DEADLINE;
    commands
        .into_iter()
        .map(|(what, mut child)| {
            while child.try_wait().expect("try_wait").is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("{round}: `lingong {what}` still ran after {COMMAND_DEADLINE:?}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let out = child.wait_with_output().expect("output");
            assert!(
                out.status.success(),
                "{round}: `lingong {what}` failed with {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{round}: `lingong {what}` printed no JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
        })
        .collect()
}

const POST: [&str; 12] = [
    "post",
    "create",
    "--title",
    "茶园采茶工",
    "--occupation",
    "4-10-01-06",
    "--wage",
    "150",
    "--unit",
    "day",
    "--headcount",
    "2",
];

/// The commands of one round: two reads and two writes.
fn some_commands(node: &Node) -> Vec<(String, Child)> {
    vec![
        start(node, &POST),
        start(node, &["status"]),
        start(node, &["post", "list"]),
        start(node, &POST),
    ]
}

/// Waits until the daemon answers `status` itself (it started, whatever came first).
fn wait_served(daemon: &mut Daemon, node: &Node, round: &str) {
    poll_until(
        &format!("{round}: the daemon to answer"),
        COMMAND_DEADLINE,
        || {
            daemon.check_alive();
            let out = node.command().args(["--json", "status"]).output().ok()?;
            let v: Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["daemon"] == true).then_some(())
        },
    );
}

#[test]
fn commands_started_with_the_daemon_succeed_in_either_order() {
    let dir = tmp();
    let node = certified_node(dir.path());
    let mut daemon = Daemon::new(&node, "/ip4/127.0.0.1/tcp/0", None);
    let mut written = 0;
    for round in 0..10 {
        // The daemon first, the commands right after it.
        let label = format!("round {round}, daemon first");
        daemon.launch();
        let outs = finish(some_commands(&node), &label);
        // `post list` ran before, between or after the round's two writes.
        let listed = outs[2].as_array().map(Vec::len).expect("a list");
        assert!(
            (written..=written + 2).contains(&listed),
            "{label}: {listed} posts listed, {written} written before"
        );
        written += 2;
        wait_served(&mut daemon, &node, &label);
        daemon.stop();

        // The commands first, the daemon right after them, more commands after it.
        let label = format!("round {round}, commands first");
        let mut commands = some_commands(&node);
        daemon.launch();
        commands.extend(some_commands(&node));
        finish(commands, &label);
        written += 4;
        wait_served(&mut daemon, &node, &label);
        daemon.stop();
    }
    let posts = node.json(&["post", "list"]);
    assert_eq!(
        posts.as_array().map(Vec::len),
        Some(written),
        "every post reported written is there, once"
    );
}

#[test]
fn a_daemon_started_while_the_store_is_held_waits_and_serves_the_commands_that_came_meanwhile() {
    let dir = tmp();
    let node = certified_node(dir.path());
    // Hold the store as a long command (`sync`, a large `bundle import`) would.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(node.home.join("store").join("lingong.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    // A command started before the daemon: no socket yet, the store held.
    let early = start(&node, &["status"]);
    let mut daemon = Daemon::new(&node, "/ip4/127.0.0.1/tcp/0", None);
    daemon.launch();
    let socket = node.home.join("daemon.sock");
    poll_until("the daemon to bind its socket", COMMAND_DEADLINE, || {
        daemon.check_alive();
        socket.exists().then_some(())
    });
    // Commands started while the daemon waits for the store.
    let mut commands = vec![early];
    commands.extend(some_commands(&node));
    poll_until(
        "the daemon to say it waits for the store",
        COMMAND_DEADLINE,
        || {
            daemon.check_alive();
            let log = std::fs::read_to_string(node.home.join("daemon.log")).unwrap_or_default();
            log.contains("waiting for another lingong process")
                .then_some(())
        },
    );
    daemon.check_alive();
    lock.unlock().expect("unlock");
    let outs = finish(commands, "held store");
    assert_eq!(
        outs[0]["daemon"], true,
        "the early command went to the daemon"
    );
    assert_eq!(outs[2]["daemon"], true, "status went to the daemon");
    wait_served(&mut daemon, &node, "held store");
    daemon.stop();
    assert_eq!(
        node.json(&["post", "list"]).as_array().map(Vec::len),
        Some(2)
    );
}

/// `lingong run` for `node` started in the background, its stderr in `log` (a fresh file).
fn spawn_daemon(node: &Node, log: &std::path::Path, lang: &str) -> Child {
    let err = std::fs::File::create(log).expect("log file");
    node.command()
        .args(["run", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
        .env("LANG", lang)
        .env("LINGONG_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("the lingong binary starts")
}

/// Sends SIGTERM to `child` and waits (with a deadline) for it to end; SIGKILL after that.
fn terminate(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not stop on SIGTERM within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The process id `status` reports for the daemon serving `node`, once one serves it.
fn serving_pid(node: &Node, what: &str) -> u32 {
    poll_until(what, COMMAND_DEADLINE, || {
        let out = node.command().args(["--json", "status"]).output().ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["daemon"] == true).then(|| v["daemon_pid"].as_u64().expect("daemon_pid") as u32)
    })
}

/// Two `lingong run` on one home started at the same moment: exactly one runs, the other exits
/// promptly with status 2 and a message (Chinese or English, as asked) naming the pid of the one
/// that runs, and nothing changes (the running daemon keeps serving, the store holds what it
/// held). Then the running one is killed with SIGKILL, leaving its socket and `daemon.pid`, and
/// the next pair starts as well: a stale lock or socket blocks nothing.
#[test]
fn two_daemons_started_together_one_runs_and_the_other_exits_naming_it() {
    let dir = tmp();
    let node = certified_node(dir.path());
    let log_dir = dir.path().join("logs");
    std::fs::create_dir(&log_dir).expect("log folder");
    let mut posts = 0;
    for round in 0..6 {
        let lang = if round % 2 == 0 {
            "en_US.UTF-8"
        } else {
            "zh_CN.UTF-8"
        };
        let logs = [
            log_dir.join(format!("{round}-a.log")),
            log_dir.join(format!("{round}-b.log")),
        ];
        let mut both = [
            spawn_daemon(&node, &logs[0], lang),
            spawn_daemon(&node, &logs[1], lang),
        ];
        // One of them exits, promptly.
        let (loser, status) = poll_until(
            &format!("round {round}: one of two daemons to exit"),
            Duration::from_secs(30),
            || {
                both.iter_mut()
                    .enumerate()
                    .find_map(|(i, c)| c.try_wait().expect("try_wait").map(|s| (i, s)))
            },
        );
        let winner = 1 - loser;
        let winner_pid = both[winner].id();
        let said = std::fs::read_to_string(&logs[loser]).expect("log");
        assert_eq!(
            status.code(),
            Some(2),
            "round {round}: the second daemon exits with status 2: {said}"
        );
        let expected = if lang.starts_with("zh") {
            format!("守护进程（进程号 {winner_pid}）已经在运行")
        } else {
            format!("a daemon (pid {winner_pid}) already runs")
        };
        assert!(
            said.contains(&expected),
            "round {round}: the message names the running daemon ({expected:?}): {said}"
        );
        // The other one runs and serves, and it is the one named.
        assert_eq!(
            serving_pid(
                &node,
                &format!("round {round}: the running daemon to answer")
            ),
            winner_pid,
            "round {round}: status is served by the daemon the message named"
        );
        assert!(
            both[winner].try_wait().expect("try_wait").is_none(),
            "round {round}: the first daemon still runs: {}",
            std::fs::read_to_string(&logs[winner]).unwrap_or_default()
        );
        // Nothing changed: the socket is the running daemon's, the store answers as before,
        // and the running daemon still writes.
        let listed = node.json(&["post", "list"]);
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(posts),
            "round {round}"
        );
        node.json(&POST);
        posts += 1;
        assert_eq!(
            node.json(&["post", "list"]).as_array().map(Vec::len),
            Some(posts),
            "round {round}: the running daemon wrote the post"
        );
        if round % 2 == 0 {
            // SIGKILL: the socket and daemon.pid stay behind, stale.
            both[winner].kill().expect("kill");
            both[winner].wait().expect("wait");
            assert!(
                node.home.join("daemon.sock").exists(),
                "a stale socket left"
            );
            let pid = std::fs::read_to_string(node.home.join("daemon.pid")).expect("daemon.pid");
            assert_eq!(pid.trim(), winner_pid.to_string(), "a stale pid file left");
        } else {
            terminate(&mut both[winner]);
            assert!(
                !node.home.join("daemon.sock").exists(),
                "a clean stop removes the socket"
            );
        }
    }
    // After the last round's clean stop the store holds every post written, once.
    assert_eq!(
        node.json(&["post", "list"]).as_array().map(Vec::len),
        Some(posts)
    );
}
