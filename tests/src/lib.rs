//! Shared helpers for the integration tests: find (or build) the real `lingong` binary, run it
//! against node homes in temporary folders, parse its `--json` output, set up a certified
//! province → city → county → township → village chain with exactly the commands an operator
//! types, and poll for conditions with a deadline (never a fixed sleep).
//!
//! Layout:
//! - [`lingong_bin`]: the binary under test (`LINGONG_BIN`, else `cargo build -p lingong-cli`
//!   once per test process, then `target/<profile>/lingong`).
//! - [`Node`]: one node home; [`Node::run`], [`Node::json`], [`Node::fail`] run commands.
//! - [`init_chain`] / [`certify`]: the five-level chain of [`CHAIN`], via `init`,
//!   `cert request --out`, `cert issue --request --out`, `cert install`.
//! - [`carry`]: `bundle export` at one node, `bundle import` at another, for tests that need a
//!   record on two nodes without starting a network.
//! - [`poll_until`]: waits for a condition with a deadline.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The five demo levels used by the integration tests: folder, name, region code.
pub const CHAIN: [(&str, &str, &str); 5] = [
    ("province", "贵州省零工服务中心", "52"),
    ("city", "黔东南州零工市场", "5226"),
    ("county", "黄平县零工市场", "522622"),
    ("township", "旧州镇零工驿站", "522622101"),
    ("village", "乐源社区零工服务站", "522622101001"),
];

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// The cargo target folder: `CARGO_TARGET_DIR` if set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The `lingong` binary under test.
///
/// `LINGONG_BIN` wins when set. Otherwise, once per test process, runs
/// `cargo build -p lingong-cli` (with `--release` when the tests themselves are optimised) so
/// the binary is never stale, and returns `target/<profile>/lingong`. If that build fails but a
/// binary is already there (someone else's half-finished edit elsewhere in the workspace), the
/// existing binary is used and a warning printed.
pub fn lingong_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_build).clone()
}

fn find_or_build() -> PathBuf {
    if let Some(bin) = std::env::var_os("LINGONG_BIN") {
        return PathBuf::from(bin);
    }
    let release = !cfg!(debug_assertions);
    let profile = if release { "release" } else { "debug" };
    let bin = target_dir().join(profile).join("lingong");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-p", "lingong-cli", "--bin", "lingong"])
        .current_dir(workspace_root());
    if release {
        build.arg("--release");
    }
    let built = build.output();
    match built {
        Ok(out) if out.status.success() && bin.exists() => bin,
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if bin.exists() {
                eprintln!(
                    "warning: `cargo build -p lingong-cli` failed; testing the existing {}:\n{why}",
                    bin.display()
                );
                bin
            } else {
                panic!("cannot build the lingong binary:\n{why}");
            }
        }
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics naming `what` once `timeout`
/// has passed.
pub fn poll_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A failed command: its exit status, stderr, and the `{"error": …}` it printed with `--json`.
#[derive(Debug)]
pub struct Failure {
    pub status: i32,
    pub stderr: String,
    /// stdout parsed as JSON (`Value::Null` when it was not JSON).
    pub json: Value,
}

/// One node: a home folder the `lingong` binary is pointed at with `--home`.
#[derive(Clone, Debug)]
pub struct Node {
    pub home: PathBuf,
}

impl Node {
    /// A node whose home is `home` (not created yet; see [`Node::init`]).
    pub fn at(home: impl Into<PathBuf>) -> Node {
        Node { home: home.into() }
    }

    /// `lingong init --name NAME --region REGION` in `dir/folder`.
    pub fn init(dir: &Path, folder: &str, name: &str, region: &str) -> Node {
        let node = Node::at(dir.join(folder));
        node.json(&["init", "--name", name, "--region", region]);
        node
    }

    /// A `lingong --home HOME` command with a clean environment: English messages unless
    /// `--lang` says otherwise, no `LINGONG_HOME`, quiet logs.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(lingong_bin());
        cmd.arg("--home")
            .arg(&self.home)
            .env("LANG", "en_US.UTF-8")
            .env_remove("LINGONG_HOME")
            .env_remove("LINGONG_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `lingong --home HOME ARGS…` and returns what it did.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("the lingong binary runs")
    }

    /// Runs `lingong --home HOME --json ARGS…`, asserts exit status 0 and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .command()
            .arg("--json")
            .args(args)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "`lingong {}` failed with {:?}\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`lingong --json {}` printed something that is not one JSON value ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs `lingong --home HOME --json ARGS…`, asserts it failed, and returns how.
    pub fn fail(&self, args: &[&str]) -> Failure {
        let out = self
            .command()
            .arg("--json")
            .args(args)
            .output()
            .expect("runs");
        assert!(
            !out.status.success(),
            "`lingong {}` should have failed but printed {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        Failure {
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        }
    }

    /// Starts `lingong --home HOME ARGS…` in the background (e.g. `run`), output discarded
    /// unless the caller redirects it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the lingong binary starts")
    }

    /// This node's id (`12D3KooW…`).
    pub fn node_id(&self) -> String {
        self.json(&["status"])["node_id"]
            .as_str()
            .expect("status has node_id")
            .to_string()
    }

    /// What a rejected command must leave unchanged: every post and the record counts.
    pub fn snapshot(&self) -> Value {
        serde_json::json!({
            "posts": self.json(&["post", "list"]),
            "records": self.json(&["status"])["records"],
        })
    }
}

/// Certifies `child` by its parent exactly as operators do: `cert request --out`, the parent's
/// `cert issue --request --out`, then `cert install`. With `parent == None` the child is the
/// province and issues its own root. Returns the `cert install` output.
pub fn certify(parent: Option<&Node>, child: &Node) -> Value {
    let request = child.home.join("request.json");
    let cert = child.home.join("issued-cert.json");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    child.json(&["cert", "request", "--out", &path(&request)]);
    parent.unwrap_or(child).json(&[
        "cert",
        "issue",
        "--request",
        &path(&request),
        "--out",
        &path(&cert),
    ]);
    child.json(&["cert", "install", &path(&cert)])
}

/// Creates and certifies the five nodes of [`CHAIN`] in `dir` (52 → 5226 → 522622 → 522622101 →
/// 522622101001), province first, each with the real commands.
pub fn init_chain(dir: &Path) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (folder, name, region) in CHAIN {
        let node = Node::init(dir, folder, name, region);
        certify(nodes.last(), &node);
        nodes.push(node);
    }
    nodes
}

/// Carries what `from` holds to `to` on a "USB stick": `lingong bundle export --out FILE` at
/// `from` (everything it holds), then `lingong bundle import FILE` at `to`, which keeps what its
/// scope wants and hands it to the one accept path. Returns the import's `--json` output
/// (`{"changes", "duplicate", "deferred", "rejected"}`).
pub fn carry(from: &Node, to: &Node) -> Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = from.home.join(format!("carry-{n}.bundle"));
    let file = file.to_str().expect("utf-8 path");
    from.json(&["bundle", "export", "--out", file]);
    to.json(&["bundle", "import", file])
}
