//! A node's home folder: its key, its configuration, its certificate and its store.
//!
//! Layout of `--home DIR` (default `~/.lingong`):
//! - `node.key`: the 32-byte ed25519 seed, file mode 0600, never printed;
//! - `id.secret`: 32 random bytes keying the ID-number hash, mode 0600, never printed
//!   ([`crate::id_secret`]);
//! - `config.toml`: [`Config`], documented below, validated once when the node opens;
//! - `cert.json`: the installed certificate chain (leaf first);
//! - `store/`: the sled store; `daemon.sock`: the running daemon's control socket.

use crate::error::{NodeError, Result};
use lingong_protocol::keys::NodeKey;
use lingong_protocol::region::RegionCode;
use serde::{Deserialize, Serialize};
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
        Ok(region)
    }
}

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
    pub fn exists(&self) -> bool {
        self.key_path().exists() && self.config_path().exists()
    }

    /// Creates a new key (mode 0600) and writes it; refuses to overwrite.
    pub fn create_key(&self) -> Result<NodeKey> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(&self.dir).map_err(|e| NodeError::io(&self.dir, e))?;
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

    pub fn load_key(&self) -> Result<NodeKey> {
        let path = self.key_path();
        let raw = std::fs::read(&path).map_err(|e| NodeError::io(&path, e))?;
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

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| NodeError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| NodeError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NodeError::io(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("测试站", &RegionCode::parse("520102").expect("code"))
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
}
