//! The key of the ID-number hash that worker records carry (`id_hash`, SECURITY.md).
//!
//! The key must not be derivable from anything public: version 1 derived it from the province
//! root public key when `id_hash_secret` was empty, and anyone holding a record could then find
//! the ID number by trying every birth date. Now the key is one of:
//!
//! - **the node's own secret** (the default): 32 random bytes in `id.secret` in the node's home,
//!   mode 0600, created by `lingong init` and, for a node initialised before this file existed,
//!   on the first open. It never leaves the node. Hashes made with it match only hashes made by
//!   the same node, which is what the station's duplicate check needs.
//! - **the province's shared secret**: `id_hash_secret` in `config.toml`, 64 hex digits that the
//!   province hands its stations out of band, when it wants equal hashes for the same person
//!   across stations. Every station holding it can then test guesses against every record
//!   hashed with it, at one argon2id evaluation per guess (SECURITY.md has the arithmetic).
//!
//! Back `id.secret` up with `node.key`: a node that loses it still refuses a second
//! registration of a person (the station also compares the clear numbers in its private table),
//! but its new hashes no longer equal the ones it wrote before.

use crate::error::{NodeError, Result};
use crate::home::{Config, Home};
use lingong_protocol::canon::Hash32;
use lingong_protocol::id_number::id_number_hash;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// The file name of the node's own secret in its home.
pub const FILE: &str = "id.secret";
/// Bytes of the node's own secret, and of a shared secret once decoded.
pub const SECRET_BYTES: usize = 32;

/// `HOME/id.secret`.
pub fn path(home: &Home) -> PathBuf {
    home.dir.join(FILE)
}

/// Whose key hashes this node's ID numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The node's own `id.secret`.
    Node,
    /// The province's `id_hash_secret` from `config.toml`.
    Province,
}

/// The key of this node's ID hashes. Its `Debug` never shows the key.
pub struct IdHashKey {
    key: Vec<u8>,
    source: KeySource,
}

impl std::fmt::Debug for IdHashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdHashKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl IdHashKey {
    /// The key this node uses: the province's `id_hash_secret` when set, else `id.secret`. The
    /// node's own secret is made here if missing, so it exists whichever is used.
    pub fn open(home: &Home, config: &Config) -> Result<IdHashKey> {
        let own = load_or_create(home)?;
        if config.id_hash_secret.is_empty() {
            return Ok(IdHashKey {
                key: own.to_vec(),
                source: KeySource::Node,
            });
        }
        Ok(IdHashKey {
            key: parse_shared(&config.id_hash_secret)?.to_vec(),
            source: KeySource::Province,
        })
    }

    pub fn source(&self) -> KeySource {
        self.source
    }

    /// The argon2id hash of an ID number under this key (`lingong_protocol::id_number`).
    pub fn hash(&self, id_number: &str) -> Result<Hash32> {
        Ok(id_number_hash(&self.key, id_number)?)
    }
}

/// Decodes `id_hash_secret`: exactly 64 hex digits (32 random bytes), so that no one sets a
/// word that could itself be guessed.
pub fn parse_shared(text: &str) -> Result<[u8; SECRET_BYTES]> {
    let bad = || {
        NodeError::usage(
            "id_hash_secret",
            "must be 64 hexadecimal digits (32 random bytes, e.g. from `openssl rand -hex 32`), \
             or empty to use this node's own id.secret",
            "必须是 64 位十六进制数字（32 个随机字节，例如 `openssl rand -hex 32` 的输出），\
             或留空以使用本节点自己的 id.secret",
        )
    };
    let text = text.trim();
    if text.len() != 2 * SECRET_BYTES {
        return Err(bad());
    }
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)
}

/// Makes the node's own secret: 32 bytes from the operating system's generator, written to a
/// temporary file of mode 0600, synced, then linked to `id.secret` (so the name appears only
/// with the whole secret behind it). Refuses to replace an existing secret.
pub fn create(home: &Home) -> Result<[u8; SECRET_BYTES]> {
    let target = path(home);
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|e| NodeError::io(&target, std::io::Error::other(e.to_string())))?;
    std::fs::create_dir_all(&home.dir).map_err(|e| NodeError::io(&home.dir, e))?;
    let tmp = home.dir.join(format!("{FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&secret).and_then(|_| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(NodeError::io(&tmp, e));
    }
    let linked = std::fs::hard_link(&tmp, &target);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(|e| NodeError::io(&target, e))?;
    std::fs::File::open(&home.dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NodeError::io(&home.dir, e))?;
    Ok(secret)
}

/// Reads the node's own secret, making it when the node has none yet. Refuses a secret that
/// others than the owner may read, or of the wrong length.
pub fn load_or_create(home: &Home) -> Result<[u8; SECRET_BYTES]> {
    let p = path(home);
    let meta = match std::fs::metadata(&p) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return create(home),
        Err(e) => return Err(NodeError::io(&p, e)),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(NodeError::usage(
            FILE,
            format!(
                "must be readable by its owner only (mode {:o}; run chmod 600 {})",
                meta.permissions().mode() & 0o777,
                p.display()
            ),
            format!(
                "只能由所有者读取（当前权限 {:o}；请运行 chmod 600 {}）",
                meta.permissions().mode() & 0o777,
                p.display()
            ),
        ));
    }
    let raw = std::fs::read(&p).map_err(|e| NodeError::io(&p, e))?;
    raw.try_into().map_err(|_| {
        NodeError::usage(
            FILE,
            format!("must hold exactly {SECRET_BYTES} bytes"),
            format!("必须正好 {SECRET_BYTES} 字节"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lingong_protocol::region::RegionCode;

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home::new(Some(dir.path().join("node")));
        (dir, home)
    }

    fn config() -> Config {
        Config::new("测试站", &RegionCode::parse("520102").expect("code"))
    }

    #[test]
    fn the_node_secret_is_made_once_with_mode_0600_and_kept() {
        let (_dir, home) = home();
        let first = IdHashKey::open(&home, &config()).expect("made");
        assert_eq!(first.source(), KeySource::Node);
        let mode = std::fs::metadata(path(&home))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read(path(&home)).expect("read").len(),
            SECRET_BYTES
        );
        let again = IdHashKey::open(&home, &config()).expect("read");
        assert_eq!(again.key, first.key, "the same secret on the next open");
        assert!(create(&home).is_err(), "never replaced");
        assert!(!format!("{first:?}").contains(&format!("{:?}", first.key[0..4].to_vec())));
        let leftovers: Vec<_> = std::fs::read_dir(&home.dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn two_nodes_get_different_secrets() {
        let (_a, a) = home();
        let (_b, b) = home();
        let ka = IdHashKey::open(&a, &config()).expect("a");
        let kb = IdHashKey::open(&b, &config()).expect("b");
        assert_ne!(ka.key, kb.key);
        let id = lingong_protocol::record::complete_id_number("52262219700101234");
        assert_ne!(ka.hash(&id).expect("hash"), kb.hash(&id).expect("hash"));
    }

    #[test]
    fn a_secret_others_may_read_is_refused() {
        let (_dir, home) = home();
        create(&home).expect("made");
        std::fs::set_permissions(path(&home), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let e = IdHashKey::open(&home, &config()).expect_err("refused");
        assert!(e.to_string().contains("id.secret"), "{e}");
    }

    #[test]
    fn a_shared_secret_must_be_64_hex_digits() {
        let (_dir, home) = home();
        let mut c = config();
        for weak in ["guizhou", "lingong/id-hash/v1:", &"g".repeat(64)] {
            c.id_hash_secret = weak.to_string();
            let e = IdHashKey::open(&home, &c).expect_err(weak);
            assert!(e.to_string().contains("id_hash_secret"), "{e}");
        }
        c.id_hash_secret = "ab".repeat(32);
        let key = IdHashKey::open(&home, &c).expect("shared");
        assert_eq!(key.source(), KeySource::Province);
        assert_eq!(key.key, vec![0xab; 32]);
    }
}
