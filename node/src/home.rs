//! A node's home folder: its key, its configuration, its certificate and its store.
//!
//! Layout of `--home DIR` (default `~/.lingong`):
//! - `node.key`: the 32-byte ed25519 seed, file mode 0600, never printed;
//! - `id.secret`: 32 random bytes keying the ID-number hash, mode 0600, never printed
//!   ([`crate::id_secret`]);
//! - `config.toml`: [`Config`], documented below, validated once when the node opens;
//! - `cert.json`: the installed certificate chain (leaf first);
//! - `store/`: the sled store; `daemon.sock`: the running daemon's control socket;
//!   `daemon.pid`: the running daemon's process id, under the exclusive lock the daemon holds
//!   while it runs (one daemon per home: [`crate::daemon`]).
//!
//! Files on disk: the home, `store/` and every folder a node makes are mode 0700; every file
//! it writes (key, config, certificate, store files, bundles, exports, the socket) is 0600,
//! whatever the umask ([`restrict_umask`], [`create_private_dir`], [`write_atomically`]). A
//! node refuses to open with a key others may read or a home others may write
//! ([`Home::check_private`]), and tightens what an older version left readable
//! ([`Home::tighten`]).

use crate::error::{NodeError, Result};
use lingong_protocol::keys::NodeKey;
use lingong_protocol::region::RegionCode;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The node's configuration file (`config.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the market or station, as certified.
    pub name: String,
    /// Statistical division code of the region this node serves.
    pub region: String,
    /// Addresses to listen on (libp2p multiaddrs).
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Address of the local HTTP API and web pages.
    #[serde(default = "default_http")]
    pub http: String,
    /// Peers to dial (multiaddrs ending in `/p2p/<node id>`).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Seconds between sync rounds with each connected peer.
    #[serde(default = "default_sync_interval")]
    pub sync_interval_secs: u64,
    /// How far below the start of the last completed session with a peer the next session's
    /// first message starts looking at single changes (`sync::window_floor`); older
    /// differences are still found, at the cost of a few more round trips. Two days by
    /// default: a clock up to a day off, and a village that was offline a day.
    #[serde(default = "default_window_margin")]
    pub sync_window_margin_secs: u64,
    /// Longest wait between redials of an unreachable peer.
    #[serde(default = "default_max_backoff")]
    pub max_redial_secs: u64,
    /// Find peers on the local network with mDNS (mobile stations, a market's LAN).
    #[serde(default = "default_true")]
    pub mdns: bool,
    /// Secret for the keyed hash of ID numbers, shared by the province's stations out of band
    /// when it wants one person's hash equal at every station: 64 hex digits. When empty (the
    /// default), the node's own random `id.secret` is used. Every holder of a shared secret can
    /// test guesses against every record hashed with it (SECURITY.md, [`crate::id_secret`]).
    #[serde(default)]
    pub id_hash_secret: String,
    /// Working days (Monday to Friday; public holidays are not known and count as the weekday
    /// they fall on) within which a complaint filed in this node's area must be acknowledged
    /// (`accepted`); `complaint list` shows the deadline as `due` and `--overdue` lists those
    /// past it. 3 by default.
    #[serde(default = "default_complaint_ack_days")]
    pub complaint_ack_days: u32,
    /// How long the console's report page waits, in milliseconds, for a report being computed
    /// again after commits before it shows the figures computed before them, labelled as such
    /// (only for a report whose last computation took at least this long; 0: show them at
    /// once). 100 by default; at most [`MAX_REPORT_WAIT_MS`].
    #[serde(default = "default_report_wait_ms")]
    pub report_wait_ms: u64,
    /// A command that sends a push message (a local SMS modem's script), as its program and
    /// arguments (no shell): `push send` runs it once per worker contacted, with the message
    /// on its standard input and the worker's phone in `LINGONG_PUSH_PHONE`. Empty (the
    /// default): no message is sent, and `push send` says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push_command: Vec<String>,
    /// Yearly assistance targets for workers with priority (困难帮扶), per kind of assistance
    /// (`career-guidance = 1`, …): kinds given here replace the defaults of the "1311" service
    /// (1 career guidance, 3 job recommendations, 1 training, 1 internship), 0 turns a kind's
    /// target off; `assist due` lists who is behind them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub assist_targets: std::collections::BTreeMap<String, u32>,
    /// The store's page cache in MiB (sled's `cache_capacity`): what the node keeps of the store
    /// in memory besides what the operating system caches. A new home gets
    /// [`default_store_cache_mb_for`] its level: 16 at a village (a mini PC whose daemon should
    /// stay under 150 MB), 64 above; a county or province server may give more. A file
    /// without the field (written before it existed) gets 64.
    #[serde(default = "default_store_cache_mb")]
    pub store_cache_mb: u64,
}

fn default_listen() -> Vec<String> {
    vec!["/ip4/0.0.0.0/tcp/0".into()]
}
fn default_http() -> String {
    "127.0.0.1:0".into()
}
fn default_sync_interval() -> u64 {
    30
}
fn default_window_margin() -> u64 {
    (lingong_protocol::sync::DEFAULT_WINDOW_MARGIN_MS / 1000) as u64
}
/// The largest `sync_window_margin_secs` accepted: a year.
pub const MAX_WINDOW_MARGIN_SECS: u64 = 366 * 86_400;
fn default_max_backoff() -> u64 {
    300
}
fn default_true() -> bool {
    true
}
fn default_complaint_ack_days() -> u32 {
    3
}
fn default_report_wait_ms() -> u64 {
    100
}
/// The longest `report_wait_ms` accepted: 30 s, half the web server's request timeout.
pub const MAX_REPORT_WAIT_MS: u64 = 30_000;
/// The longest acknowledgement deadline accepted: 60 working days.
pub const MAX_COMPLAINT_ACK_DAYS: u32 = 60;
pub fn default_store_cache_mb() -> u64 {
    64
}
/// The default `store_cache_mb` of a village (村) node: 16 MiB. Measured with the
/// `daemon_memory` bench (docs/figures.md, "Daemon memory"): a village daemon after its first sync of
/// 100,000 posts and 100 lists held 180.5 MB with 64 MiB, above the 150 MB of issue 14; the
/// `lists` bench times lists and `status` with both caches in one run.
pub const VILLAGE_STORE_CACHE_MB: u64 = 16;
/// The default `store_cache_mb` of a new node at `level`: [`VILLAGE_STORE_CACHE_MB`] at a
/// village, [`default_store_cache_mb`] at every level above (counties and the province keep
/// theirs).
pub fn default_store_cache_mb_for(level: lingong_protocol::region::Level) -> u64 {
    match level {
        lingong_protocol::region::Level::Village => VILLAGE_STORE_CACHE_MB,
        _ => default_store_cache_mb(),
    }
}
/// The range of `store_cache_mb` accepted, in MiB.
pub const STORE_CACHE_MB: std::ops::RangeInclusive<u64> = 8..=65_536;

impl Config {
    pub fn new(name: &str, region: &RegionCode) -> Config {
        Config {
            name: name.to_string(),
            region: region.to_string(),
            listen: default_listen(),
            http: default_http(),
            peers: Vec::new(),
            sync_interval_secs: default_sync_interval(),
            sync_window_margin_secs: default_window_margin(),
            max_redial_secs: default_max_backoff(),
            mdns: true,
            id_hash_secret: String::new(),
            complaint_ack_days: default_complaint_ack_days(),
            report_wait_ms: default_report_wait_ms(),
            push_command: Vec::new(),
            assist_targets: Default::default(),
            store_cache_mb: default_store_cache_mb_for(region.level()),
        }
    }

    /// Checks every field; called once when a node opens.
    pub fn validate(&self) -> Result<RegionCode> {
        let region =
            RegionCode::parse_known(&self.region).map_err(lingong_protocol::Error::from)?;
        if self.name.trim().is_empty() {
            return Err(NodeError::usage("name", "must not be empty", "不能为空"));
        }
        if self.sync_interval_secs == 0 {
            return Err(NodeError::usage(
                "sync_interval_secs",
                "must be at least 1",
                "至少为 1",
            ));
        }
        if self.sync_window_margin_secs > MAX_WINDOW_MARGIN_SECS {
            return Err(NodeError::usage(
                "sync_window_margin_secs",
                format!("must be at most {MAX_WINDOW_MARGIN_SECS} (a year)"),
                format!("不能超过 {MAX_WINDOW_MARGIN_SECS}（一年）"),
            ));
        }
        if !STORE_CACHE_MB.contains(&self.store_cache_mb) {
            return Err(NodeError::usage(
                "store_cache_mb",
                format!(
                    "must be {} to {} (MiB)",
                    STORE_CACHE_MB.start(),
                    STORE_CACHE_MB.end()
                ),
                format!(
                    "必须在 {} 到 {} 之间（MiB）",
                    STORE_CACHE_MB.start(),
                    STORE_CACHE_MB.end()
                ),
            ));
        }
        if !(1..=MAX_COMPLAINT_ACK_DAYS).contains(&self.complaint_ack_days) {
            return Err(NodeError::usage(
                "complaint_ack_days",
                format!("must be 1 to {MAX_COMPLAINT_ACK_DAYS} working days"),
                format!("必须是 1 到 {MAX_COMPLAINT_ACK_DAYS} 个工作日"),
            ));
        }
        if self.report_wait_ms > MAX_REPORT_WAIT_MS {
            return Err(NodeError::usage(
                "report_wait_ms",
                format!("must be at most {MAX_REPORT_WAIT_MS} (milliseconds)"),
                format!("不能超过 {MAX_REPORT_WAIT_MS}（毫秒）"),
            ));
        }
        if self
            .push_command
            .first()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(NodeError::usage(
                "push_command",
                "must start with the program to run",
                "必须以要运行的程序开头",
            ));
        }
        for (kind, target) in &self.assist_targets {
            use lingong_protocol::schema::{AssistKind, Choice};
            AssistKind::parse("assist_targets", kind)?;
            if *target > MAX_ASSIST_TARGET {
                return Err(NodeError::usage(
                    "assist_targets",
                    format!("{kind}: at most {MAX_ASSIST_TARGET} a year"),
                    format!("{kind}：每年不超过 {MAX_ASSIST_TARGET} 次"),
                ));
            }
        }
        Ok(region)
    }
}

/// The largest yearly assistance target accepted for one kind.
pub const MAX_ASSIST_TARGET: u32 = 365;

/// Paths of a node's home folder.
#[derive(Clone, Debug)]
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    /// `--home`, else `LINGONG_HOME` (clap passes it), else `~/.lingong`.
    pub fn new(dir: Option<PathBuf>) -> Home {
        let dir = dir.unwrap_or_else(|| {
            let base = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            base.join(".lingong")
        });
        Home { dir }
    }
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("node.key")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.json")
    }
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store")
    }
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("daemon.sock")
    }
    /// `daemon.pid`: locked by the running daemon, holding its process id.
    pub fn pid_path(&self) -> PathBuf {
        self.dir.join("daemon.pid")
    }
    pub fn exists(&self) -> bool {
        self.key_path().exists() && self.config_path().exists()
    }

    /// Creates a new key (mode 0600) and writes it; refuses to overwrite.
    pub fn create_key(&self) -> Result<NodeKey> {
        use std::io::Write;
        create_private_dir(&self.dir)?;
        self.check_private()?;
        // A home folder made beforehand (say by `mkdir` under umask 022) is closed to others.
        let mode = std::fs::metadata(&self.dir)
            .map_err(|e| NodeError::io(&self.dir, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(|e| NodeError::io(&self.dir, e))?;
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| NodeError::io(self.key_path(), std::io::Error::other(e.to_string())))?;
        let path = self.key_path();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| NodeError::io(&path, e))?;
        f.write_all(&seed)
            .and_then(|_| f.sync_all())
            .map_err(|e| NodeError::io(&path, e))?;
        Ok(NodeKey::from_seed(seed))
    }

    /// Reads the key; refuses a key file others than its owner may read, write or run.
    pub fn load_key(&self) -> Result<NodeKey> {
        use std::io::Read;
        let path = self.key_path();
        let mut f = std::fs::File::open(&path).map_err(|e| NodeError::io(&path, e))?;
        let mode = f
            .metadata()
            .map_err(|e| NodeError::io(&path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(NodeError::usage(
                path.display().to_string(),
                format!(
                    "the node key must be readable by its owner only, but its mode is {:o}; \
                     run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
                format!(
                    "节点密钥只能由所有者读取，当前权限为 {:o}；请运行 `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            ));
        }
        let mut raw = Vec::with_capacity(32);
        f.read_to_end(&mut raw)
            .map_err(|e| NodeError::io(&path, e))?;
        let seed: [u8; 32] = raw.try_into().map_err(|_| {
            NodeError::usage("node.key", "must hold exactly 32 bytes", "必须正好 32 字节")
        })?;
        Ok(NodeKey::from_seed(seed))
    }

    pub fn load_config(&self) -> Result<Config> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|e| NodeError::io(&path, e))?;
        toml::from_str(&text).map_err(|e| {
            NodeError::usage(
                "config.toml",
                e.to_string(),
                format!("配置文件格式错误：{e}"),
            )
        })
    }

    /// Writes the config atomically (temporary file, fsync, rename).
    pub fn save_config(&self, config: &Config) -> Result<()> {
        let text = toml::to_string_pretty(config)
            .map_err(|e| NodeError::usage("config", e.to_string(), e.to_string()))?;
        write_atomically(&self.config_path(), text.as_bytes())
    }
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file. The
/// file is mode 0600 whatever the umask, and whatever mode the file it replaces had.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| NodeError::io(&tmp, e))?;
    // A temporary file an older version left behind keeps its mode through `open`.
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .and_then(|_| f.write_all(bytes))
        .and_then(|_| f.sync_all())
        .map_err(|e| NodeError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NodeError::io(path, e))?;
    Ok(())
}

/// Mode of every file a node writes: read and written by its owner only.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every folder a node makes: its owner only.
pub const DIR_MODE: u32 = 0o700;

/// Sets the process umask to 0o077, so that whatever this process creates (sled's files too)
/// is its owner's only whatever umask it was started with. Call it first thing in every
/// program that opens a home.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` and any missing parents with mode 0700; an existing folder is left as it is
/// (see [`Home::tighten`]).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| NodeError::io(dir, e))
}

impl Home {
    /// Refuses a home folder others than its owner may write: whoever can write there can
    /// replace the key, the configuration or the store.
    pub fn check_private(&self) -> Result<()> {
        let mode = std::fs::metadata(&self.dir)
            .map_err(|e| NodeError::io(&self.dir, e))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            let dir = self.dir.display();
            return Err(NodeError::usage(
                dir.to_string(),
                format!(
                    "the home folder must be writable by its owner only, but its mode is {:o}; \
                     run `chmod 700 {dir}`",
                    mode & 0o777
                ),
                format!(
                    "节点目录只能由所有者写入，当前权限为 {:o}；请运行 `chmod 700 {dir}`",
                    mode & 0o777
                ),
            ));
        }
        Ok(())
    }

    /// Takes group and other access away from the home folder, `config.toml`, `cert.json` and
    /// everything under `store/`: what versions before file modes were enforced left readable
    /// (a store made under umask 022 holds clear ID numbers in a 0644 file). Says so in one log
    /// line when it changed anything. The key is not tightened but refused
    /// ([`Home::load_key`]): it may already have been read.
    pub fn tighten(&self) -> Result<()> {
        let mut changed = 0usize;
        let mut tighten_one = |path: &Path, meta: &std::fs::Metadata| -> std::io::Result<()> {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
                changed += 1;
            }
            Ok(())
        };
        let meta = std::fs::metadata(&self.dir).map_err(|e| NodeError::io(&self.dir, e))?;
        tighten_one(&self.dir, &meta).map_err(|e| NodeError::io(&self.dir, e))?;
        let mut pending = vec![self.store_path()];
        let mut files = vec![self.config_path(), self.cert_path()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            files.push(dir);
            for entry in entries.flatten() {
                let path = entry.path();
                match entry.file_type() {
                    Ok(t) if t.is_dir() => pending.push(path),
                    Ok(t) if t.is_file() => files.push(path),
                    _ => {}
                }
            }
        }
        for path in files {
            // A file gone meanwhile, or one this user may not change (it lies in a home
            // now closed to others), does not stop the node.
            if let Ok(meta) = std::fs::symlink_metadata(&path)
                && !meta.file_type().is_symlink()
                && let Err(e) = tighten_one(&path, &meta)
            {
                tracing::warn!(file = %path.display(), "could not take others' access away: {e}");
            }
        }
        if changed > 0 {
            tracing::warn!(
                home = %self.dir.display(),
                "took group and other access away from {changed} files and folders an older \
                 lingong left readable (now 0600/0700) / 已收回旧版本留下的 {changed} 个文件和\
                 目录的组和其他用户权限（现为 0600/0700）"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("测试站", &RegionCode::parse("520102").expect("code"))
    }

    #[test]
    fn a_replaced_file_and_a_leftover_temporary_end_up_0600() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("out.bundle");
        for p in [&path, &path.with_extension("tmp")] {
            std::fs::write(p, b"old").expect("write");
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        }
        write_atomically(&path, b"new").expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, FILE_MODE);
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
    }

    #[test]
    fn a_key_others_may_read_is_refused_naming_the_file_and_the_fix() {
        let dir = tempfile::tempdir().expect("tmp");
        let home = Home::new(Some(dir.path().join("home")));
        home.create_key().expect("key");
        assert_eq!(
            std::fs::metadata(&home.dir)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            DIR_MODE
        );
        home.load_key().expect("0600 key loads");
        let key = home.key_path();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let e = home.load_key().expect_err("refused");
        assert!(e.is_usage());
        let fix = format!("chmod 600 {}", key.display());
        assert!(e.message("en").contains(&fix), "{}", e.message("en"));
        assert!(e.message("zh").contains(&fix), "{}", e.message("zh"));
        assert!(e.message("zh").contains("640"), "{}", e.message("zh"));
    }

    #[test]
    fn a_window_margin_above_a_year_is_refused_naming_the_field() {
        let mut c = config();
        c.sync_window_margin_secs = MAX_WINDOW_MARGIN_SECS;
        assert!(c.validate().is_ok());
        c.sync_window_margin_secs = MAX_WINDOW_MARGIN_SECS + 1;
        let e = c.validate().expect_err("refused");
        assert!(e.to_string().contains("sync_window_margin_secs"), "{e}");
    }

    #[test]
    fn a_config_file_without_the_window_margin_gets_two_days() {
        let text = "name = \"测试站\"\nregion = \"520102\"\n";
        let c: Config = toml::from_str(text).expect("parses");
        assert_eq!(c.sync_window_margin_secs, 2 * 86_400);
    }

    #[test]
    fn a_new_village_gets_the_smaller_store_cache_and_the_levels_above_keep_64() {
        let at = |code: &str| Config::new("站", &RegionCode::parse(code).expect("code"));
        assert_eq!(at("522622101001").store_cache_mb, VILLAGE_STORE_CACHE_MB);
        for code in ["52", "5226", "522622", "522622101"] {
            assert_eq!(at(code).store_cache_mb, 64, "{code}");
        }
        assert!(at("522622101001").validate().is_ok());
        // Written into the file, so the daemon opens with it; a file without it gets 64.
        let text = toml::to_string_pretty(&at("522622101001")).expect("toml");
        assert!(text.contains("store_cache_mb = 16"), "{text}");
        let old: Config =
            toml::from_str("name = \"站\"\nregion = \"522622101001\"\n").expect("parses");
        assert_eq!(old.store_cache_mb, 64);
    }
}
