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
//! - [`poll_until`] / [`poll_every`]: wait for a condition with a deadline.
//! - [`NetnsPair`]: two network namespaces joined by a veth pair, optionally rate-limited, for
//!   tests and the replication benchmark; [`NetnsPair::create_or_skip`] for tests that skip
//!   where the machine does not allow it.
//! - [`Daemon`]: a `lingong run` daemon (optionally inside a namespace, or under a limit on its
//!   open files), stopped on drop.
//! - [`excel_csv`] / [`write_excel_csv`]: a CSV file as Excel saves it (quoted cells, CRLF
//!   line ends, GBK or UTF-8 with a BOM), for the import tests.
//! - The web tests: [`start_web`] (staff accounts, then a daemon and the web address it
//!   printed), [`add_staff`], [`add_token`], [`web_request`] / [`http`] (HTTP/1.1 over a plain
//!   socket), [`json_of`], [`browser_ready`] and [`run_browser_script`] (the `tests/js` scripts
//!   driving headless Chromium).
//! - What a thief of the disk reads: [`everything_under`] (every file and folder of a home)
//!   and [`as_a_thief_reads`] (a file's bytes, then every zstd frame in it decompressed, as
//!   sled's compressed pages would be by anyone holding the file).
//! - The benchmarks' readings of a running daemon: [`resident`] (VmRSS and VmHWM),
//!   [`settled_resident`], [`daemon_pid`], [`load_average`], [`env_usize`], [`du_mb`], [`mib`].

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
/// the binary is never stale, and returns `target/<profile>/lingong`. If that build fails, the
/// tests fail with the build's errors: a test passing against an older binary proves nothing
/// about the code. Only with `LINGONG_ALLOW_STALE_BIN=1` (several people editing one tree, one
/// of them mid-edit elsewhere) is a binary already there used, with a warning.
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
            let allow_stale = std::env::var_os("LINGONG_ALLOW_STALE_BIN").is_some_and(|v| v == "1");
            if allow_stale && bin.exists() {
                eprintln!(
                    "warning: `cargo build -p lingong-cli` failed; testing the existing {}:\n{why}",
                    bin.display()
                );
                bin
            } else {
                panic!(
                    "cannot build the lingong binary (LINGONG_ALLOW_STALE_BIN=1 tests an existing one):\n{why}"
                );
            }
        }
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics naming `what` once `timeout`
/// has passed.
pub fn poll_until<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll_every(what, timeout, Duration::from_millis(20), check)
}

/// [`poll_until`] with another pause between checks (e.g. where every check starts a process
/// and the machine should stay quiet for a measurement).
pub fn poll_every<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    poll_reporting(what, timeout, interval, || check().ok_or_else(String::new))
}

/// Polls `check` every 20 ms until it returns `Ok`, or panics once `timeout` has passed with
/// `what` and the last `Err` (what the last attempt printed, say).
pub fn poll_until_ok<T>(
    what: &str,
    timeout: Duration,
    check: impl FnMut() -> Result<T, String>,
) -> T {
    poll_reporting(what, timeout, Duration::from_millis(20), check)
}

fn poll_reporting<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                let last = if last.is_empty() {
                    String::new()
                } else {
                    format!("; last attempt: {last}")
                };
                panic!("timed out after {timeout:?} waiting for {what}{last}");
            }
            Err(_) => std::thread::sleep(interval),
        }
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

/// The arguments of `post create` of the harness's standard post titled `title` (occupation
/// 4-10-01-06, 150 yuan a day, two workers; [`Node::create_post`] adds reach and more flags).
pub fn post_args(title: &str) -> Vec<&str> {
    vec![
        "post",
        "create",
        "--title",
        title,
        "--occupation",
        "4-10-01-06",
        "--wage",
        "150",
        "--unit",
        "day",
        "--headcount",
        "2",
    ]
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

    /// `post create` of a standard post (occupation 4-10-01-06, 150 yuan a day, two
    /// workers) titled `title`, advertised in `reach` (the node's own area when `None`), with
    /// `more` flags after (e.g. `--description`); returns the new post's id.
    pub fn create_post(&self, title: &str, reach: Option<&str>, more: &[&str]) -> String {
        let mut args = post_args(title);
        if let Some(r) = reach {
            args.extend(["--reach", r]);
        }
        args.extend_from_slice(more);
        self.json(&args)["id"].as_str().expect("id").to_string()
    }

    /// `worker register` of a standard porter (4-10-01-06) born 1970-01-01 in 黄平县 with
    /// sequence number `seq` (its ID number `52262219700101<seq>` with its check character),
    /// phone `1380000<seq>`, asking at least 120 yuan a day, with `more` flags after (e.g.
    /// `--flags older`); returns the new worker's id.
    pub fn register_porter(&self, name: &str, seq: u32, more: &[&str]) -> String {
        let id_number =
            lingong_protocol::id_number::complete_id_number(&format!("52262219700101{seq:03}"));
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
        self.json(&args)["id"].as_str().expect("id").to_string()
    }

    /// Runs `lingong --home HOME --json ARGS…`, asserts exit status 0 and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        self.json_env(&[], args)
    }

    /// [`Node::json`] with environment variables set for this command (e.g. the test clock
    /// `LINGONG_NOW`).
    pub fn json_env(&self, env: &[(&str, &str)], args: &[&str]) -> Value {
        let out = self
            .command()
            .envs(env.iter().copied())
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
        self.fail_env(&[], args)
    }

    /// [`Node::fail`] with environment variables set for this command.
    pub fn fail_env(&self, env: &[(&str, &str)], args: &[&str]) -> Failure {
        let out = self
            .command()
            .envs(env.iter().copied())
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
/// scope wants and hands it to the one accept path. The bundle is sealed to `to` (`--to`), as
/// a bundle carrying workers' personal data must be. Returns the import's `--json` output
/// (`{"changes", "duplicate", "deferred", "rejected"}`).
pub fn carry(from: &Node, to: &Node) -> Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = from.home.join(format!("carry-{n}.bundle"));
    let file = file.to_str().expect("utf-8 path");
    let receiver = to.node_id();
    from.json(&["bundle", "export", "--out", file, "--to", &receiver]);
    to.json(&["bundle", "import", file])
}

/// A pair of network namespaces joined by a veth pair: two real hosts on one machine, for
/// tests and benchmarks of what crosses a network. Removed on drop. Needs root and iproute2;
/// [`NetnsPair::create`] says why it could not be made so callers can skip with a clear line
/// ([`NetnsPair::create_or_skip`] prints it).
pub struct NetnsPair {
    pub a: String,
    pub b: String,
    /// The veth end inside `a` (the one to shape or take down).
    pub dev_a: String,
    pub dev_b: String,
    pub addr_a: String,
    pub addr_b: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetnsPair {
    /// Creates namespaces `<tag><pid>a` and `<tag><pid>b` with 10.<subnet>.0.1 and
    /// 10.<subnet>.0.2 (the process id keeps two test runs on one machine apart). `tag` may
    /// have at most 7 characters (interface names are `<tag><pid>va`, 15 at most). Whatever was
    /// made before a step failed is removed again.
    pub fn create(tag: &str, subnet: u8) -> Result<NetnsPair, String> {
        let tag = format!("{tag}{}", std::process::id() % 1_000_000);
        let pair = NetnsPair {
            a: format!("{tag}a"),
            b: format!("{tag}b"),
            dev_a: format!("{tag}va"),
            dev_b: format!("{tag}vb"),
            addr_a: format!("10.{subnet}.0.1"),
            addr_b: format!("10.{subnet}.0.2"),
        };
        let _ = ip(&["netns", "del", &pair.a]);
        let _ = ip(&["netns", "del", &pair.b]);
        // On an error `pair` is dropped here, which deletes both namespaces (and with them
        // the veth pair once it has been moved in).
        pair.set_up()?;
        Ok(pair)
    }

    fn set_up(&self) -> Result<(), String> {
        ip(&["netns", "add", &self.a])?;
        ip(&["netns", "add", &self.b])?;
        ip(&[
            "link",
            "add",
            &self.dev_a,
            "type",
            "veth",
            "peer",
            "name",
            &self.dev_b,
        ])?;
        ip(&["link", "set", &self.dev_a, "netns", &self.a])?;
        ip(&["link", "set", &self.dev_b, "netns", &self.b])?;
        for (ns, dev, addr) in [
            (&self.a, &self.dev_a, &self.addr_a),
            (&self.b, &self.dev_b, &self.addr_b),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// [`NetnsPair::create`], then [`NetnsPair::shape`] to `rate`.
    pub fn create_shaped(tag: &str, subnet: u8, rate: &str) -> Result<NetnsPair, String> {
        let pair = NetnsPair::create(tag, subnet)?;
        pair.shape(rate)?;
        Ok(pair)
    }

    /// For tests that need namespaces: [`NetnsPair::create`] (shaped to `rate` when given, see
    /// [`NetnsPair::create_shaped`]), or, where this machine does not allow it, a `skipped: …`
    /// line on stderr saying why and `None`, so the test can pass without checking anything
    /// else.
    pub fn create_or_skip(tag: &str, subnet: u8, rate: Option<&str>) -> Option<NetnsPair> {
        let made = match rate {
            Some(rate) => NetnsPair::create_shaped(tag, subnet, rate),
            None => NetnsPair::create(tag, subnet),
        };
        match made {
            Ok(pair) => Some(pair),
            Err(why) => {
                let (what, needs) = match rate {
                    Some(_) => ("shaped network namespaces", "root, iproute2 and tc"),
                    None => ("network namespaces", "root and iproute2"),
                };
                eprintln!("skipped: this machine cannot make {what} ({why}); needs {needs}");
                None
            }
        }
    }

    /// Limits both directions with a token bucket (`tc … tbf`), e.g. `"50kbit"`.
    pub fn shape(&self, rate: &str) -> Result<(), String> {
        for (ns, dev) in [(&self.a, &self.dev_a), (&self.b, &self.dev_b)] {
            let out = Command::new("ip")
                .args([
                    "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                    "rate", rate, "burst", "1600", "latency", "400ms",
                ])
                .output()
                .map_err(|e| format!("tc: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tc: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(())
    }

    /// Bytes and packets sent so far a → b: the counters of the qdisc on `dev_a`
    /// (`tc -s qdisc show`: `Sent N bytes M pkt`, TCP/IP headers included); zeros where tc
    /// cannot say.
    pub fn sent_from_a(&self) -> (u64, u64) {
        qdisc_sent(&self.a, &self.dev_a)
    }

    /// Bytes and packets sent so far b → a (see [`NetnsPair::sent_from_a`]).
    pub fn sent_from_b(&self) -> (u64, u64) {
        qdisc_sent(&self.b, &self.dev_b)
    }

    /// Takes the link down (`up == false`) or brings it back up, from side `a`.
    pub fn set_link(&self, up: bool) -> Result<(), String> {
        ip(&[
            "-n",
            &self.a,
            "link",
            "set",
            &self.dev_a,
            if up { "up" } else { "down" },
        ])
    }

    /// A command run inside namespace `ns`.
    pub fn exec(ns: &str, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }
}

/// Bytes and packets the root qdisc of `dev` in namespace `ns` has sent so far.
fn qdisc_sent(ns: &str, dev: &str) -> (u64, u64) {
    let out = NetnsPair::exec(ns, Path::new("tc"))
        .args(["-s", "qdisc", "show", "dev", dev])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let mut words = out.split_whitespace().skip_while(|w| *w != "Sent").skip(1);
    let bytes = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let packets = words.nth(1).and_then(|w| w.parse().ok()).unwrap_or(0);
    (bytes, packets)
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

/// How long a daemon may take to answer on its control socket after starting (two loaded
/// cores, a debug build).
pub const DAEMON_START_DEADLINE: Duration = Duration::from_secs(120);

/// How long a daemon may take to exit after SIGTERM before it is killed.
pub const DAEMON_STOP_GRACE: Duration = Duration::from_secs(15);

/// A free TCP port on 127.0.0.1 (the OS picks it; there is a small window before it is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running `lingong run` for one node, optionally inside a network namespace, its stderr
/// appended to `daemon.log` in the node's home. Stopped with SIGTERM on drop
/// ([`Daemon::stop`]); [`Daemon::kill9`] kills it without warning.
pub struct Daemon {
    pub node: Node,
    pub listen: String,
    pub netns: Option<String>,
    /// Look for peers with mDNS.
    pub mdns: bool,
    /// The daemon's `LINGONG_LOG` filter.
    pub log_filter: String,
    /// A limit on the daemon's open files (soft and hard, as `ulimit -n` in the shell that
    /// starts it), set on the daemon process only through `prlimit`; `None` (the default)
    /// leaves the test's own limit.
    pub nofile: Option<u64>,
    child: Option<Child>,
}

impl Daemon {
    /// A daemon for `node` listening on `listen`, inside `netns` if given, syncing every
    /// second, no mDNS, logging at `info`; not started yet (see [`Daemon::restart`] and
    /// [`Daemon::launch`]).
    pub fn new(node: &Node, listen: &str, netns: Option<&str>) -> Daemon {
        Daemon {
            node: node.clone(),
            listen: listen.to_string(),
            netns: netns.map(String::from),
            mdns: false,
            log_filter: "info".into(),
            nofile: None,
            child: None,
        }
    }

    /// Starts the node's daemon listening on 127.0.0.1:`port`, syncing every second, no mDNS.
    pub fn start(node: &Node, port: u16) -> Daemon {
        Daemon::start_at(node, &format!("/ip4/127.0.0.1/tcp/{port}"), None)
    }

    /// Starts the node's daemon listening on `listen`, inside `netns` if given, and waits until
    /// it answers.
    pub fn start_at(node: &Node, listen: &str, netns: Option<&str>) -> Daemon {
        let mut d = Daemon::new(node, listen, netns);
        d.restart();
        d
    }

    /// Like [`Daemon::start_at`], with mDNS on: the node finds peers on its LAN by itself.
    pub fn start_discoverable(node: &Node, listen: &str, netns: Option<&str>) -> Daemon {
        let mut d = Daemon::new(node, listen, netns);
        d.mdns = true;
        d.restart();
        d
    }

    /// Starts the daemon process (stopping it first if it runs) and returns at once, without
    /// waiting for it to answer. A command started meanwhile is served either way (it opens the
    /// store itself before the daemon takes it, or the daemon answers it:
    /// `tests/tests/startup_order.rs`), but one run before the socket is bound may delay the
    /// daemon's start, so callers that must not disturb the start wait for `daemon.sock` first.
    pub fn launch(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.node.home.join("daemon.log"))
            .expect("log file");
        // `prlimit --nofile=N:N -- lingong …` sets the limit and then executes the daemon in
        // its place: the same process, so its pid is the daemon's.
        let program = match self.nofile {
            Some(_) => PathBuf::from("prlimit"),
            None => lingong_bin(),
        };
        let mut cmd = match &self.netns {
            Some(ns) => NetnsPair::exec(ns, &program),
            None => Command::new(&program),
        };
        if let Some(n) = self.nofile {
            cmd.arg(format!("--nofile={n}:{n}"))
                .arg("--")
                .arg(lingong_bin());
        }
        cmd.arg("--home")
            .arg(&self.node.home)
            .args(["run", "--listen", &self.listen, "--sync-interval", "1"])
            .args(if self.mdns { None } else { Some("--no-mdns") })
            .env("LANG", "en_US.UTF-8")
            .env_remove("LINGONG_HOME")
            .env("LINGONG_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("the daemon starts"));
    }

    /// Starts the daemon (again, e.g. after [`Daemon::kill9`]) and waits until it answers.
    pub fn restart(&mut self) {
        self.launch();
        // Until the control socket is bound, `status` may open the store itself and hold up the
        // daemon's start: wait for the socket first.
        let socket = self.node.home.join("daemon.sock");
        poll_until(
            "the daemon to bind its control socket",
            DAEMON_START_DEADLINE,
            || {
                self.check_alive();
                socket.exists().then_some(())
            },
        );
        poll_until(
            "the daemon to answer on its control socket",
            DAEMON_START_DEADLINE,
            || {
                self.check_alive();
                let out = self
                    .node
                    .command()
                    .args(["--json", "status"])
                    .output()
                    .ok()?;
                let v: Value = serde_json::from_slice(&out.stdout).ok()?;
                (v["daemon"] == true).then_some(())
            },
        );
    }

    /// Panics with the daemon's log if it was started and has exited.
    pub fn check_alive(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!(
                "the daemon of {} exited with {status}:\n{}",
                self.node.home.display(),
                std::fs::read_to_string(self.node.home.join("daemon.log")).unwrap_or_default()
            );
        }
    }

    /// SIGTERM, so the daemon can flush and remove its socket; SIGKILL if it has not exited
    /// after [`DAEMON_STOP_GRACE`]. Nothing when it does not run.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // `ip netns exec` passes signals on to the daemon it runs.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + DAEMON_STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.node.home.join("daemon.sock"));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        // A failing test (a poll that timed out, most often) shows what the daemon said: its
        // home, and with it the log, is removed when the test unwinds.
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.node.home.join("daemon.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- last {} lines of the daemon log of {} ---\n{}",
                tail.len(),
                self.node.home.display(),
                tail.join("\n")
            );
        }
    }
}

/// How Excel saves a CSV file: "CSV (comma delimited)" in a Chinese locale is GBK, "CSV UTF-8"
/// is UTF-8 with a byte order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcelEncoding {
    Gbk,
    Utf8Bom,
}

/// `rows` (the header first) as Excel writes a CSV file: a cell holding a comma, a quote or a
/// line break quoted (quotes doubled), CRLF after every line, encoded as `encoding` (every
/// character must exist in GBK when that is asked for).
pub fn excel_csv<S: AsRef<str>>(rows: &[Vec<S>], encoding: ExcelEncoding) -> Vec<u8> {
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                let c = c.as_ref();
                if c.contains([',', '"', '\r', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.to_string()
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    match encoding {
        ExcelEncoding::Utf8Bom => [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
        ExcelEncoding::Gbk => {
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
            assert!(
                !unmappable,
                "a test file asked for GBK holds a character GBK lacks"
            );
            bytes.into_owned()
        }
    }
}

/// Writes [`excel_csv`] of `rows` to `path` and returns the path as a string for a command.
pub fn write_excel_csv<S: AsRef<str>>(
    path: &Path,
    rows: &[Vec<S>],
    encoding: ExcelEncoding,
) -> String {
    std::fs::write(path, excel_csv(rows, encoding)).expect("the test folder is writable");
    path.to_str().expect("utf-8 path").to_string()
}

// ----- the web server ----------------------------------------------------------------------

/// The line a daemon prints with its web address (`lingong run`, node/src/daemon.rs).
pub const WEB_LINE: &str = "网页控制台: http://";

/// Starts `node`'s daemon on 127.0.0.1:`port` ([`Daemon::start`]) after adding the staff
/// accounts `staff` (`(name, role, password)`, [`add_staff`]), and returns it with the web
/// address this start printed in `daemon.log` (a restarted node's new address, not the old one).
pub fn start_web(node: &Node, port: u16, staff: &[(&str, &str, &str)]) -> (Daemon, String) {
    for (name, role, password) in staff {
        add_staff(node, name, role, password);
    }
    let log = node.home.join("daemon.log");
    let printed = |text: &str| text.matches(WEB_LINE).count();
    let before = printed(&std::fs::read_to_string(&log).unwrap_or_default());
    let daemon = Daemon::start(node, port);
    let addr = poll_until(
        "the daemon to print its web address",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            if printed(&text) <= before {
                return None;
            }
            let rest = &text[text.rfind(WEB_LINE)? + WEB_LINE.len()..];
            Some(rest[..rest.find('/')?].to_string())
        },
    );
    (daemon, addr)
}

/// `lingong staff add --name NAME --role ROLE --password-stdin` at `node`, the password on
/// its standard input as an operator types it.
pub fn add_staff(node: &Node, name: &str, role: &str, password: &str) {
    use std::io::Write;
    let mut add = node.command();
    add.args(["--json", "staff", "add", "--name", name, "--role", role])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = add.spawn().expect("staff add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("staff add");
    assert!(
        out.status.success(),
        "staff add {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `lingong token add --name NAME --role ROLE` at `node`: the token, shown this once.
pub fn add_token(node: &Node, name: &str, role: &str) -> String {
    node.json(&["token", "add", "--name", name, "--role", role])["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// One answer of a node's web server: the status, the head (status line and headers, names
/// in lower case as the server sends them) and the body.
pub struct WebAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// One HTTP/1.1 exchange with the web server at `addr` over a plain socket (no client
/// library, `Connection: close`): `method path` with `headers` and `body`. The body is sent
/// even where the server answers before reading it (413 over the body limit).
pub fn web_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> WebAnswer {
    use std::io::{Read, Write};
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
        .unwrap_or_else(|| panic!("no status line from {method} {path}: {text}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    WebAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// [`web_request`]'s status and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let a = web_request(addr, method, path, headers, body);
    (a.status, a.body)
}

/// `body` as JSON, or a panic showing it.
pub fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Whether the browser tests can run here: Debian's Chromium (`CHROMIUM`, else
/// `/usr/bin/chromium`), Node.js, and playwright-core in `tests/js` (installed with `npm ci`
/// when missing). When not, prints why, for the test to return as skipped.
pub fn browser_ready() -> bool {
    let js = workspace_root().join("tests/js");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !Path::new(&chromium).exists() {
        Some(format!(
            "no Chromium at {chromium} (apt-get install chromium chromium-driver fonts-noto-cjk)"
        ))
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("no Node.js".into())
    } else if !js.join("node_modules/playwright-core").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status();
        (!matches!(installed, Ok(s) if s.success())).then(|| {
            format!(
                "could not install playwright-core with npm in {} ({installed:?})",
                js.display()
            )
        })
    } else {
        None
    };
    if let Some(why) = &missing {
        eprintln!("skipped: the browser test needs Chromium, Node.js and playwright-core: {why}");
    }
    missing.is_none()
}

/// Runs `node tests/js/SCRIPT ARGS…` with `HOME` at `home` (Chromium's profile and caches stay
/// in the test's folder), prints what it printed, and panics with its output unless it
/// succeeded.
pub fn run_browser_script(
    script: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    home: &Path,
) -> String {
    let out = Command::new("node")
        .arg(workspace_root().join("tests/js").join(script))
        .args(args.iter().map(|a| a.as_ref()))
        .env("HOME", home)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test {script} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

// ----- what the benchmarks read of a running daemon ----------------------------------------

/// A process's resident memory from `/proc/PID/status`, in KiB: `VmRSS` (now) and `VmHWM`
/// (the peak since the process started).
#[derive(Clone, Copy, Debug)]
pub struct Resident {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// [`Resident`] of process `pid`; panics if it has gone.
pub fn resident(pid: u32) -> Resident {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    Resident {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// KiB as MiB with one decimal, as the benchmarks print resident memory.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The process id of `node`'s running daemon, from its `daemon.pid`.
pub fn daemon_pid(node: &Node) -> u32 {
    std::fs::read_to_string(node.home.join("daemon.pid"))
        .expect("daemon.pid")
        .trim()
        .parse()
        .expect("a pid in daemon.pid")
}

/// The machine's load average (1, 5 and 15 minutes), printed beside every figure: the machine
/// is shared.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A benchmark's size from the environment (`100_000` and `100000` both read), else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// `dir` and every file and folder under it, `dir` first.
pub fn everything_under(dir: &Path) -> Vec<PathBuf> {
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

/// Copies a node's home `from` into `to` (made if missing), folders and files alike, but not
/// the running daemon's socket: a disk image taken of a station, or a home copied as a careless
/// operator (or a thief) would.
pub fn copy_home(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read the home") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_home(&entry.path(), &target);
        } else if entry.file_name() != "daemon.sock" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The bytes of the file at `path` as someone holding it can read them: the raw bytes, then,
/// for every zstd frame found in them (sled compresses its pages with zstd, store format 3),
/// what that frame decompresses to, up to where it stops decoding. A byte search over this
/// finds what the store's pages hold, not only what sled left uncompressed.
pub fn as_a_thief_reads(path: &Path) -> Vec<u8> {
    use std::io::Read;
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let raw = std::fs::read(path).expect("read");
    let mut out = raw.clone();
    let mut chunk = [0u8; 4096];
    for at in (0..raw.len().saturating_sub(3)).filter(|&i| raw[i..i + 4] == ZSTD_MAGIC) {
        let Ok(decoder) = zstd::stream::read::Decoder::new(&raw[at..]) else {
            continue;
        };
        let mut decoder = decoder.single_frame();
        while let Ok(n @ 1..) = decoder.read(&mut chunk) {
            out.extend_from_slice(&chunk[..n]);
        }
    }
    out
}

/// The bytes under `path` (every file, recursively), in MB.
pub fn du_mb(path: &Path) -> String {
    fn size(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| size(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    format!("{:.0}", size(path) as f64 / 1e6)
}

/// Waits until `pid`'s resident memory holds still (two samples `every` apart within 1 %, or
/// 1 MiB), up to `timeout`, and returns it: a daemon's figure once the work it was given has
/// settled, not one taken mid-way.
pub fn settled_resident(pid: u32, every: Duration, timeout: Duration) -> Resident {
    let mut last: Option<u64> = None;
    poll_every("the resident memory to settle", timeout, every, || {
        let now = resident(pid);
        let still = last.is_some_and(|l| now.rss_kib.abs_diff(l) <= (l / 100).max(1024));
        last = Some(now.rss_kib);
        still.then_some(now)
    })
}
