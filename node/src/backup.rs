//! `lingong backup` and `lingong restore`: one encrypted file holding a whole node, and a
//! restored node that cannot fork its key.
//!
//! **What a backup holds.** The home's files (`config.toml`, `node.key`, `cert.json`,
//! `id.secret`), every signed envelope the store holds (whole or header only, as held), and the
//! store's local private tables, which no other node holds (`P`, `H`: the clear ID numbers of
//! the workers registered here; `U`: staff accounts and API tokens; `C`: the certificates this
//! node issued). Indexes and counters are not carried: `restore` rebuilds them by handing every
//! envelope to the one accept path again (`crate::repair::reaccept`, as `lingong repair`
//! does), so a backup, even a forged one, can put nothing into a store that does not verify.
//!
//! **Consistency.** The backup runs as one request through [`crate::request::dispatch`]: in
//! the daemon when it runs (over the control socket, the passphrase as a
//! [`crate::request::Secret`] whose `Debug` shows nothing), else in the command's own process
//! under the store's lock. Either way it holds the station for its whole run, so no commit
//! falls between its reads: the file is the store as of one instant. (The daemon's network loop
//! and web pages wait meanwhile: a few seconds for a village store.)
//!
//! **Where the file is written.** The node writes it into the home ([`spool_path`]), and the
//! command then moves it to `--out` ([`deliver`]): the daemon of the service unit may write
//! only its state folder (`ProtectSystem=strict`, `ProtectHome`, a private `/tmp`), while the
//! command, run by the same user outside that sandbox, can reach a USB stick or another disk.
//!
//! **File format, version 1** (all integers big-endian):
//!
//! ```text
//! header   "LGBACKUP" (8) | version u16 | argon2id m_kib u32 | t u32 | p u32 | salt (16)
//!          | nonce prefix (7) | chunk size u32 | file length u64
//! body     the plaintext in chunks of `chunk size` bytes (the last one shorter, never empty
//!          unless the plaintext is), each sealed with ChaCha20-Poly1305: key = argon2id(the
//!          passphrase, salt), nonce = prefix | chunk number u32 | 1 for the last chunk else 0,
//!          associated data = the header without its file length; each chunk is 16 bytes longer
//! trailer  SHA-256(header | SHA-256(body)) (32)
//! ```
//!
//! The plaintext is a sequence of entries, each a u32 length and a postcard [`Entry`]: the
//! [`Manifest`] first, then the files, the envelopes, the private rows, and an `End` with the
//! counts. Reading checks, in this order, so each fault is named: the magic (not a backup), the
//! version (a newer format), the file length against the header's (cut short), the checksum
//! (damaged), the first chunk's tag (a wrong passphrase: the checksum matched, so the bytes are
//! those written), every later tag, the chunk order and the last-chunk flag (damaged), and the
//! counts of the `End` entry. The file is written as a temporary file beside the output,
//! mode 0600, synced, then renamed: a backup killed half-way leaves no file under its name.
//!
//! **Restore** ([`restore`]) refuses a home that exists and is not empty, then builds the new
//! home in a temporary folder beside it (mode 0700) and renames it into place only when
//! everything is in: a wrong passphrase, a damaged file or a failure half-way leaves no home.
//!
//! **No fork.** A backup is older than the key's log: the old machine may have signed more
//! after it, and that reached the parent. A restored node signing at once would reuse a
//! sequence number (a fork: every node that sees both halts the key, `accept::check_log`). So a
//! certified restored node carries the marker [`MARKER`] in its home, and while it is there
//! [`Station::write`] refuses every write that signs with `NodeError::CatchingUp`. The marker
//! goes when an outbound sync session with the parent completes ([`note_completed_session`],
//! called by the network loop of the daemon and of `lingong sync`): the parent is the peer
//! whose key issued this node's certificate (or, after the parent's key was replaced, any node
//! certified for the parent's region). Every envelope this node signs has its own region (or
//! one inside it) as its home region, `Scope::wants` gives every ancestor at least its header,
//! and whatever left the old machine went to its parent first; a completed session moves
//! everything both sides want, so after it this node holds its own log as far as the parent
//! does, and `LocalAuthor` signs the next change after the highest sequence number held.
//!
//! Residual risk (ARCHITECTURE.md, SECURITY.md): a change the old machine signed that never
//! reached the parent (the machine died between a write and the next sync, or only a child
//! received it) is unknown here; if it ever surfaces (the old disk comes back online, a child
//! syncs it up), it and this node's change at the same number are a fork. The old machine must
//! never run again with the same key. The province has no parent: for it any completed
//! outbound session clears the marker, as for `lingong repair`, though its own log is spread
//! over the cities.

use crate::error::{NodeError, Result};
use crate::home::{Home, create_private_dir, write_atomically};
use crate::request::Secret;
use crate::station::{Station, now_ms};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The marker file in the home of a restored node until its own log is caught up from its
/// parent (see the module documentation).
pub const MARKER: &str = "catching-up";

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"LGBACKUP";
/// The format version this release writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Plaintext bytes per sealed chunk.
const CHUNK: usize = 1 << 20;
/// Bytes a chunk grows by when sealed (the Poly1305 tag).
const TAG: usize = 16;
/// Header length: magic, version, three argon2 parameters, salt, nonce prefix, chunk size,
/// file length.
const HEADER_LEN: usize = 8 + 2 + 4 + 4 + 4 + 16 + 7 + 4 + 8;
/// Trailer length: the checksum.
const TRAILER_LEN: usize = 32;
/// argon2id cost of the passphrase: 64 MiB, 3 passes, one lane (as the ID-number hash).
const KDF_M_KIB: u32 = 64 * 1024;
const KDF_T: u32 = 3;
const KDF_P: u32 = 1;
/// The most memory a backup's header may ask the passphrase hash for (1 GiB): a forged header
/// must not make `restore` allocate without bound.
const MAX_KDF_M_KIB: u32 = 1 << 20;
/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 8;
/// The files of the home a backup carries; a restore writes no other name.
const HOME_FILES: [&str; 4] = [
    "config.toml",
    "node.key",
    "cert.json",
    crate::id_secret::FILE,
];

/// What a backup says about itself, first in the plaintext.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub node_id: String,
    pub name: String,
    pub region: String,
    /// When the backup was made (this node's clock, RFC 3339).
    pub created: String,
    /// The release that made it.
    pub software: String,
    /// The highest sequence number of this node's own log the backup holds.
    pub own_max_seq: u64,
}

/// One entry of the plaintext.
#[derive(Debug, Serialize, Deserialize)]
enum Entry {
    Manifest(Manifest),
    File {
        name: String,
        bytes: Vec<u8>,
    },
    /// An envelope in its canonical wire form, as the store holds it.
    Envelope(Vec<u8>),
    /// A row of a local private table, key and value as in the store.
    Private {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    End {
        files: u64,
        envelopes: u64,
        private_rows: u64,
    },
}

fn marker_path(home: &Home) -> PathBuf {
    home.dir.join(MARKER)
}

/// Refuses a write that would sign while a restored node is catching up.
pub fn check_writable(home: &Home) -> Result<()> {
    let path = marker_path(home);
    if !path.exists() {
        return Ok(());
    }
    let parent = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["parent"].as_str().map(String::from))
        .unwrap_or_else(|| "the parent node / 上级节点".to_string());
    Err(NodeError::CatchingUp { parent })
}

/// True while the node in `home` is catching up after a restore.
pub fn is_catching_up(home: &Home) -> bool {
    marker_path(home).exists()
}

/// At the daemon's start: says, in the log, that a restored node waits for its own log from
/// its parent, and what to do if it has no peer to sync with.
pub fn note_start(station: &Station) {
    if !is_catching_up(&station.home) {
        return;
    }
    if station.config.peers.is_empty() {
        tracing::error!(
            "restored from a backup, this node signs nothing until it has synced with its \
             parent, and no peer is configured: add the parent with `lingong peer add ADDRESS` / \
             本节点由备份恢复，与上级节点同步之前不签署任何内容，但没有配置对等节点：请用 \
             `lingong peer add 地址` 添加上级节点"
        );
    } else {
        tracing::warn!(
            "restored from a backup: syncing with the parent before signing anything / \
             本节点由备份恢复：先与上级节点同步，之后才签署"
        );
    }
}

/// True when the peer `peer` (certified for `peer_region`) is this node's parent: its
/// certificate's issuer, or a node certified for the parent region; any peer for the province.
/// False for a node without a certificate.
pub fn is_parent(station: &Station, peer: &PublicKey, peer_region: &RegionCode) -> bool {
    let Some(chain) = &station.chain else {
        return false;
    };
    let leaf = &chain.leaf().body;
    leaf.issuer == *peer
        || leaf.issuer == leaf.subject
        || station.region.parent().as_ref() == Some(peer_region)
}

/// Called when an outbound sync session with the peer `peer` (certified for `peer_region`)
/// completed: clears the marker of a restored node if that peer is its parent
/// ([`is_parent`]). Returns whether it cleared it.
pub fn note_completed_session(
    station: &Station,
    peer: &PublicKey,
    peer_region: &RegionCode,
) -> bool {
    let path = marker_path(&station.home);
    if !path.exists() || !is_parent(station, peer, peer_region) {
        return false;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {
            let own = station
                .store
                .author_log(&station.key.public())
                .ok()
                .and_then(|log| log.last().map(|(seq, _)| *seq))
                .unwrap_or(0);
            tracing::info!(
                parent = %peer.node_id(),
                own_max_seq = own,
                "restored node: its own log is caught up from the parent, it signs again from \
                 sequence number {} / 已从上级节点补齐本节点的记录链，从序号 {} 起恢复写入",
                own + 1,
                own + 1
            );
            true
        }
        Err(e) => {
            tracing::warn!("could not remove {}: {e}", path.display());
            false
        }
    }
}

fn bad(code: &'static str, file: &Path, en: impl Into<String>, zh: impl Into<String>) -> NodeError {
    NodeError::BadBackup {
        code,
        file: file.display().to_string(),
        en: en.into(),
        zh: zh.into(),
    }
}

fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(NodeError::usage(
            "passphrase",
            format!("must be at least {MIN_PASSPHRASE_CHARS} characters"),
            format!("至少 {MIN_PASSPHRASE_CHARS} 个字符"),
        ));
    }
    Ok(())
}

/// The passphrase of `backup` or `restore`: the first line of standard input with
/// `--passphrase-stdin`, else asked on the terminal without echo (twice for a backup, to catch
/// a typing error that would make the backup useless). Without a terminal and without
/// `--passphrase-stdin`, refused (exit 2).
pub fn read_passphrase(from_stdin: bool, confirm: bool, lang: &str) -> Result<Secret> {
    use std::io::{BufRead, IsTerminal};
    let zh = lang.starts_with("zh");
    let read_line = || -> Result<String> {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| NodeError::io("stdin", e))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    if from_stdin {
        return Ok(Secret(read_line()?));
    }
    if !std::io::stdin().is_terminal() {
        return Err(NodeError::usage(
            "--passphrase-stdin",
            "no terminal to ask the passphrase on: give it on the first line of standard input \
             with --passphrase-stdin",
            "没有可以输入口令的终端：请加 --passphrase-stdin，从标准输入的第一行提供口令",
        ));
    }
    let ask = |prompt: &str| -> Result<String> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            let _ =
                rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
        }
        let line = read_line();
        if let Some(saved) = &saved {
            let _ =
                rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, saved);
        }
        eprintln!();
        line
    };
    let first = ask(if zh {
        "备份口令："
    } else {
        "Backup passphrase: "
    })?;
    if confirm {
        let again = ask(if zh {
            "再输入一次："
        } else {
            "The same passphrase again: "
        })?;
        if again != first {
            return Err(NodeError::usage(
                "passphrase",
                "the two passphrases typed differ",
                "两次输入的口令不一致",
            ));
        }
    }
    Ok(Secret(first))
}

fn derive_key(passphrase: &str, salt: &[u8; 16], m_kib: u32, t: u32, p: u32) -> Result<Key> {
    let failed = |e: argon2::Error| {
        NodeError::usage(
            "passphrase",
            format!("argon2id failed: {e}"),
            format!("argon2id 计算失败：{e}"),
        )
    };
    let params = argon2::Params::new(m_kib, t, p, Some(32)).map_err(failed)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(failed)?;
    Ok(Key::from(key))
}

fn nonce(prefix: &[u8; 7], counter: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// The fields of a header.
struct Header {
    version: u16,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: [u8; 16],
    prefix: [u8; 7],
    chunk: u32,
    file_len: u64,
}

impl Header {
    fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let mut w = &mut b[..];
        w.write_all(MAGIC).expect("fits");
        w.write_all(&self.version.to_be_bytes()).expect("fits");
        w.write_all(&self.m_kib.to_be_bytes()).expect("fits");
        w.write_all(&self.t.to_be_bytes()).expect("fits");
        w.write_all(&self.p.to_be_bytes()).expect("fits");
        w.write_all(&self.salt).expect("fits");
        w.write_all(&self.prefix).expect("fits");
        w.write_all(&self.chunk.to_be_bytes()).expect("fits");
        w.write_all(&self.file_len.to_be_bytes()).expect("fits");
        b
    }

    /// Parses a header whose magic is already checked.
    fn parse(b: &[u8; HEADER_LEN]) -> Header {
        let u32_at = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().expect("4"));
        Header {
            version: u16::from_be_bytes([b[8], b[9]]),
            m_kib: u32_at(10),
            t: u32_at(14),
            p: u32_at(18),
            salt: b[22..38].try_into().expect("16"),
            prefix: b[38..45].try_into().expect("7"),
            chunk: u32_at(45),
            file_len: u64::from_be_bytes(b[49..57].try_into().expect("8")),
        }
    }
}

/// The associated data of every chunk: the header without its file length (written last).
fn associated(header: &[u8; HEADER_LEN]) -> &[u8] {
    &header[..HEADER_LEN - 8]
}

/// The file's checksum: SHA-256(header | SHA-256(body)).
fn checksum(header: &[u8; HEADER_LEN], body_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(header);
    h.update(body_hash);
    h.finalize().into()
}

/// Seals the plaintext in chunks as it is pushed, writing them to `out`.
struct Sealer<W: Write> {
    out: W,
    cipher: ChaCha20Poly1305,
    prefix: [u8; 7],
    aad: Vec<u8>,
    buf: Vec<u8>,
    counter: u32,
    body_hash: Sha256,
    body_len: u64,
}

impl<W: Write> Sealer<W> {
    fn push_entry(&mut self, entry: &Entry) -> std::io::Result<()> {
        let bytes = postcard::to_allocvec(entry).map_err(std::io::Error::other)?;
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&bytes);
        while self.buf.len() > CHUNK {
            let rest = self.buf.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.seal(&chunk, false)?;
        }
        Ok(())
    }

    fn seal(&mut self, chunk: &[u8], last: bool) -> std::io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(
                &nonce(&self.prefix, self.counter, last),
                Payload {
                    msg: chunk,
                    aad: &self.aad,
                },
            )
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("too many chunks"))?;
        self.body_hash.update(&sealed);
        self.body_len += sealed.len() as u64;
        self.out.write_all(&sealed)
    }

    /// Seals what is left as the last chunk; returns the writer, the body's hash and length.
    fn finish(mut self) -> std::io::Result<(W, [u8; 32], u64)> {
        let rest = std::mem::take(&mut self.buf);
        self.seal(&rest, true)?;
        Ok((self.out, self.body_hash.finalize().into(), self.body_len))
    }
}

/// Removes a temporary file or folder on drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = if self.path.is_dir() {
                std::fs::remove_dir_all(&self.path)
            } else {
                std::fs::remove_file(&self.path)
            };
        }
    }
}

/// Syncs the folder holding `path`, so a rename into it is durable.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent()
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

/// The file in the home a node writes a backup into for the command running as process `pid`,
/// which then [`deliver`]s it to `--out`.
pub fn spool_path(home: &Home, pid: u32) -> PathBuf {
    home.dir.join(format!(".backup-{pid}.partial"))
}

/// Checks `--out` before a backup is made: not a folder, in a folder that exists.
pub fn check_out(out: &Path) -> Result<PathBuf> {
    let out = std::path::absolute(out).map_err(|e| NodeError::io(out, e))?;
    if out.is_dir() {
        return Err(NodeError::usage(
            "--out",
            format!("{} is a folder: name the backup file", out.display()),
            format!("{} 是文件夹：请给出备份文件名", out.display()),
        ));
    }
    if !out.parent().is_some_and(Path::is_dir) {
        return Err(NodeError::usage(
            "--out",
            format!("the folder of {} does not exist", out.display()),
            format!("{} 所在的文件夹不存在", out.display()),
        ));
    }
    Ok(out)
}

/// Moves the finished backup `spool` to `out`: a rename on the same file system, else a copy
/// (mode 0600, synced, under a temporary name renamed into place) and the spool removed. On
/// failure the spool is removed and `out` is left as it was.
pub fn deliver(spool: &Path, out: &Path) -> Result<()> {
    let _spool = Scratch {
        path: spool.to_path_buf(),
        keep: false,
    };
    if std::fs::rename(spool, out).is_ok() {
        sync_parent(out);
        return Ok(());
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let tmp = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut scratch = Scratch {
        path: tmp.clone(),
        keep: false,
    };
    let copy = || -> std::io::Result<()> {
        let mut from = std::fs::File::open(spool)?;
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::home::FILE_MODE)
            .open(&tmp)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()
    };
    copy().map_err(|e| NodeError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| NodeError::io(out, e))?;
    scratch.keep = true;
    sync_parent(out);
    Ok(())
}

/// `lingong backup --out FILE`: see the module documentation. Writes the file at `out` (the
/// command passes [`spool_path`]). Returns what the file holds.
pub fn backup(station: &Station, out: &Path, passphrase: &str) -> Result<Value> {
    check_passphrase(passphrase)?;
    let out = std::path::absolute(out).map_err(|e| NodeError::io(out, e))?;
    if out.is_dir() {
        return Err(NodeError::usage(
            "--out",
            format!("{} is a folder: name the backup file", out.display()),
            format!("{} 是文件夹：请给出备份文件名", out.display()),
        ));
    }
    let home = &station.home;
    let me = station.key.public();
    let own_max_seq = station
        .store
        .author_log(&me)?
        .last()
        .map_or(0, |(seq, _)| *seq);
    let manifest = Manifest {
        node_id: me.node_id(),
        name: station.config.name.clone(),
        region: station.region.to_string(),
        created: lingong_protocol::dates::rfc3339(now_ms()),
        software: env!("CARGO_PKG_VERSION").to_string(),
        own_max_seq,
    };

    let mut salt = [0u8; 16];
    let mut prefix = [0u8; 7];
    getrandom::fill(&mut salt)
        .and_then(|()| getrandom::fill(&mut prefix))
        .map_err(|e| NodeError::io("getrandom", std::io::Error::other(e.to_string())))?;
    let mut header = Header {
        version: FORMAT_VERSION,
        m_kib: KDF_M_KIB,
        t: KDF_T,
        p: KDF_P,
        salt,
        prefix,
        chunk: CHUNK as u32,
        file_len: 0,
    };
    let key = derive_key(passphrase, &salt, KDF_M_KIB, KDF_T, KDF_P)?;

    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let tmp_path = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut scratch = Scratch {
        path: tmp_path.clone(),
        keep: false,
    };
    let io = |e: std::io::Error| NodeError::io(&tmp_path, e);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::home::FILE_MODE)
        .open(&tmp_path)
        .map_err(io)?;
    let mut file = std::io::BufWriter::new(file);
    let first = header.to_bytes();
    file.write_all(&first).map_err(io)?;
    let mut sealer = Sealer {
        out: file,
        cipher: ChaCha20Poly1305::new(&key),
        prefix,
        aad: associated(&first).to_vec(),
        buf: Vec::with_capacity(CHUNK + 4096),
        counter: 0,
        body_hash: Sha256::new(),
        body_len: 0,
    };
    sealer
        .push_entry(&Entry::Manifest(manifest.clone()))
        .map_err(io)?;
    let mut files = 0u64;
    for name in HOME_FILES {
        let path = home.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                sealer
                    .push_entry(&Entry::File {
                        name: name.to_string(),
                        bytes,
                    })
                    .map_err(io)?;
                files += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(NodeError::io(&path, e)),
        }
    }
    let mut envelopes = 0u64;
    let mut whole = 0u64;
    for item in station.store.items()? {
        if let Some(env) = station.store.envelope(&item.id)? {
            whole += u64::from(env.payload.is_some());
            sealer
                .push_entry(&Entry::Envelope(env.to_bytes()))
                .map_err(io)?;
            envelopes += 1;
        }
    }
    let private = station.store.private_rows()?;
    let count = |p: u8| {
        private
            .iter()
            .filter(|(k, _)| k.first() == Some(&p))
            .count()
    };
    let (clear_ids, accounts, issued) = (count(b'P'), count(b'U'), count(b'C'));
    for (key, value) in &private {
        sealer
            .push_entry(&Entry::Private {
                key: key.clone(),
                value: value.clone(),
            })
            .map_err(io)?;
    }
    sealer
        .push_entry(&Entry::End {
            files,
            envelopes,
            private_rows: private.len() as u64,
        })
        .map_err(io)?;
    let (file, body_hash, body_len) = sealer.finish().map_err(io)?;
    let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
    header.file_len = (HEADER_LEN + TRAILER_LEN) as u64 + body_len;
    let last = header.to_bytes();
    file.write_all(&checksum(&last, &body_hash)).map_err(io)?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&last))
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    drop(file);
    std::fs::rename(&tmp_path, &out).map_err(|e| NodeError::io(&out, e))?;
    scratch.keep = true;
    sync_parent(&out);
    Ok(json!({
        "file": out.display().to_string(),
        "bytes": header.file_len,
        "format_version": FORMAT_VERSION,
        "node_id": manifest.node_id,
        "region": manifest.region,
        "created": manifest.created,
        "own_max_seq": own_max_seq,
        "envelopes": envelopes,
        "whole_envelopes": whole,
        "files": files,
        "clear_id_numbers": clear_ids,
        "accounts": accounts,
        "issued_certificates": issued,
    }))
}

/// Reads a backup's plaintext entries: decrypts chunk by chunk from the file, checking each
/// chunk's tag, number and last-chunk flag.
struct Opener {
    file: std::io::BufReader<std::fs::File>,
    path: PathBuf,
    cipher: ChaCha20Poly1305,
    prefix: [u8; 7],
    aad: Vec<u8>,
    chunk: usize,
    /// Sealed body bytes not yet read.
    remaining: u64,
    counter: u32,
    plain: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Opener {
    fn damaged(&self, en: &str, zh: &str) -> NodeError {
        bad(
            "backup-damaged",
            &self.path,
            format!("the backup file is damaged ({en})"),
            format!("备份文件已损坏（{zh}）"),
        )
    }

    /// Decrypts the next chunk into the buffer; false at the end of the body.
    fn next_chunk(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let sealed_len = (self.chunk + TAG) as u64;
        let take = self.remaining.min(sealed_len);
        let last = take == self.remaining;
        if take < TAG as u64 {
            return Err(self.damaged("a chunk shorter than its tag", "有一段数据短于其校验标签"));
        }
        let mut sealed = vec![0u8; take as usize];
        self.file
            .read_exact(&mut sealed)
            .map_err(|e| NodeError::io(&self.path, e))?;
        self.remaining -= take;
        let opened = self.cipher.decrypt(
            &nonce(&self.prefix, self.counter, last),
            Payload {
                msg: &sealed,
                aad: &self.aad,
            },
        );
        let plain = match opened {
            Ok(p) => p,
            // The checksum matched, so the bytes are those written: a first chunk that does
            // not open means another passphrase.
            Err(_) if self.counter == 0 => {
                return Err(bad(
                    "backup-wrong-passphrase",
                    &self.path,
                    "wrong passphrase: the backup does not open with it (nothing was restored)",
                    "口令错误：用这个口令无法打开备份（未恢复任何内容）",
                ));
            }
            Err(_) => {
                return Err(self.damaged("a chunk does not open", "有一段数据无法解密"));
            }
        };
        self.counter += 1;
        self.done = last;
        self.plain.drain(..self.pos);
        self.pos = 0;
        self.plain.extend_from_slice(&plain);
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Result<Option<Vec<u8>>> {
        while self.plain.len() - self.pos < n {
            if !self.next_chunk()? {
                return Ok(None);
            }
        }
        let out = self.plain[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(Some(out))
    }

    fn next_entry(&mut self) -> Result<Entry> {
        let cut = |o: &Opener| o.damaged("its contents end early", "内容提前结束");
        let len = self.take(4)?.ok_or_else(|| cut(self))?;
        let len = u32::from_be_bytes(len.try_into().expect("4")) as usize;
        let bytes = self.take(len)?.ok_or_else(|| cut(self))?;
        postcard::from_bytes(&bytes)
            .map_err(|_| self.damaged("an entry does not decode", "有一项内容无法解码"))
    }

    /// True when every plaintext byte has been read.
    fn at_end(&mut self) -> Result<bool> {
        Ok(self.pos == self.plain.len() && !self.next_chunk()?)
    }
}

/// Opens a backup file: checks the magic, version, length and checksum, and derives the key
/// (the passphrase itself is checked by the first chunk).
fn open_backup(file: &Path, passphrase: &str) -> Result<Opener> {
    let io = |e: std::io::Error| NodeError::io(file, e);
    let mut f = std::fs::File::open(file).map_err(io)?;
    let actual = f.metadata().map_err(io)?.len();
    let mut first = [0u8; HEADER_LEN];
    let got = f.read(&mut first[..]).map_err(io)?;
    let mut got = got;
    while got < HEADER_LEN {
        let n = f.read(&mut first[got..]).map_err(io)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if got < MAGIC.len() || &first[..MAGIC.len()] != MAGIC {
        return Err(bad(
            "backup-not-a-backup",
            file,
            "not a lingong backup file (it does not start with LGBACKUP)",
            "不是 lingong 备份文件（开头不是 LGBACKUP）",
        ));
    }
    if got < HEADER_LEN {
        return Err(bad(
            "backup-truncated",
            file,
            format!("the backup file is cut short: it ends inside its {HEADER_LEN}-byte header"),
            format!("备份文件不完整：在 {HEADER_LEN} 字节的文件头内就结束了"),
        ));
    }
    let header = Header::parse(&first);
    if header.version != FORMAT_VERSION {
        return Err(bad(
            "backup-version",
            file,
            format!(
                "the backup has format version {}; this release reads version {FORMAT_VERSION}: \
                 restore it with the release that made it or a newer one",
                header.version
            ),
            format!(
                "备份的格式版本是 {}，本版本只能读取版本 {FORMAT_VERSION}：请用制作它的版本或更新的版本恢复",
                header.version
            ),
        ));
    }
    if actual < header.file_len {
        return Err(bad(
            "backup-truncated",
            file,
            format!(
                "the backup file is cut short: it has {actual} bytes, its header says {} \
                 (an interrupted copy?); nothing was restored",
                header.file_len
            ),
            format!(
                "备份文件不完整：只有 {actual} 字节，文件头记载应为 {} 字节（复制中断？）；未恢复任何内容",
                header.file_len
            ),
        ));
    }
    let min = (HEADER_LEN + TAG + TRAILER_LEN) as u64;
    if actual > header.file_len || header.file_len < min {
        return Err(bad(
            "backup-damaged",
            file,
            format!(
                "the backup file is damaged: it has {actual} bytes, its header says {}",
                header.file_len
            ),
            format!(
                "备份文件已损坏：有 {actual} 字节，文件头记载为 {} 字节",
                header.file_len
            ),
        ));
    }
    let body_len = header.file_len - (HEADER_LEN + TRAILER_LEN) as u64;
    // The checksum, over the whole file, before anything is decrypted.
    let mut body_hash = Sha256::new();
    let mut left = body_len;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let n = (buf.len() as u64).min(left) as usize;
        f.read_exact(&mut buf[..n]).map_err(io)?;
        body_hash.update(&buf[..n]);
        left -= n as u64;
    }
    let mut trailer = [0u8; TRAILER_LEN];
    f.read_exact(&mut trailer).map_err(io)?;
    if checksum(&first, &body_hash.finalize().into()) != trailer {
        return Err(bad(
            "backup-damaged",
            file,
            "the backup file is damaged: its checksum does not match its contents (a bad disk \
             or copy); nothing was restored",
            "备份文件已损坏：校验和与内容不符（磁盘或复制出错）；未恢复任何内容",
        ));
    }
    let chunk = header.chunk as usize;
    if !(1024..=(64 << 20)).contains(&chunk)
        || header.m_kib > MAX_KDF_M_KIB
        || header.t == 0
        || header.t > 64
        || header.p != 1
    {
        return Err(bad(
            "backup-damaged",
            file,
            "the backup file is damaged: its header's parameters are out of range",
            "备份文件已损坏：文件头参数超出范围",
        ));
    }
    let key = derive_key(passphrase, &header.salt, header.m_kib, header.t, header.p)?;
    f.seek(SeekFrom::Start(HEADER_LEN as u64)).map_err(io)?;
    Ok(Opener {
        file: std::io::BufReader::new(f),
        path: file.to_path_buf(),
        cipher: ChaCha20Poly1305::new(&key),
        prefix: header.prefix,
        aad: associated(&first).to_vec(),
        chunk,
        remaining: body_len,
        counter: 0,
        plain: Vec::new(),
        pos: 0,
        done: false,
    })
}

/// `lingong restore FILE --home NEW`: see the module documentation. `home` must not exist, or
/// be an empty folder. Returns what was restored.
pub fn restore(home: &Home, file: &Path, passphrase: &str) -> Result<Value> {
    let target = std::path::absolute(&home.dir).map_err(|e| NodeError::io(&home.dir, e))?;
    let occupied = || {
        NodeError::usage(
            "--home",
            format!(
                "{} exists and is not empty: restore only into a new or empty folder (nothing \
                 was changed)",
                target.display()
            ),
            format!(
                "{} 已存在且不是空文件夹：只能恢复到新的或空的文件夹（未做任何改动）",
                target.display()
            ),
        )
    };
    match std::fs::read_dir(&target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(occupied());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return Err(occupied()),
    }
    let file = std::path::absolute(file).map_err(|e| NodeError::io(file, e))?;
    let mut opener = open_backup(&file, passphrase)?;
    // The first chunk opens here: a wrong passphrase is refused before anything is made.
    let manifest = match opener.next_entry()? {
        Entry::Manifest(m) => m,
        _ => return Err(opener.damaged("no manifest first", "开头没有清单")),
    };

    let parent = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "home".into());
    create_private_dir(&parent)?;
    // What a restore killed half-way left of the same home (owner-only, never a home).
    let stale = format!(".{name}.restore-");
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let tmp = parent.join(format!("{stale}{}", std::process::id()));
    let mut scratch = Scratch {
        path: tmp.clone(),
        keep: false,
    };
    std::fs::DirBuilder::new()
        .mode(crate::home::DIR_MODE)
        .create(&tmp)
        .map_err(|e| NodeError::io(&tmp, e))?;
    let tmp_home = Home::new(Some(tmp.clone()));

    let mut files = Vec::new();
    let mut envelopes = Vec::new();
    let mut undecodable = 0u64;
    let mut private = Vec::new();
    let (end_files, end_envelopes, end_private) = loop {
        match opener.next_entry()? {
            Entry::File { name, bytes } => {
                if !HOME_FILES.contains(&name.as_str()) {
                    return Err(opener.damaged("an unknown file name", "含有未知的文件名"));
                }
                write_atomically(&tmp.join(&name), &bytes)?;
                files.push(name);
            }
            Entry::Envelope(bytes) => match Envelope::from_bytes(&bytes) {
                Ok(env) => envelopes.push(env),
                Err(_) => undecodable += 1,
            },
            Entry::Private { key, value } => private.push((key, value)),
            Entry::End {
                files,
                envelopes,
                private_rows,
            } => break (files, envelopes, private_rows),
            Entry::Manifest(_) => {
                return Err(opener.damaged("a second manifest", "出现第二份清单"));
            }
        }
    };
    if !opener.at_end()?
        || end_files != files.len() as u64
        || end_envelopes != envelopes.len() as u64 + undecodable
        || end_private != private.len() as u64
    {
        return Err(opener.damaged(
            "its counts do not match its contents",
            "记载的数量与内容不符",
        ));
    }
    if !tmp_home.exists() {
        return Err(opener.damaged("no key or configuration", "缺少密钥或配置"));
    }
    let certified = tmp_home.cert_path().exists();
    let key = tmp_home.load_key()?.public();
    if key.node_id() != manifest.node_id {
        return Err(opener.damaged("its key is not the node it names", "密钥与清单中的节点不符"));
    }
    let mut parent_id = String::new();
    if certified {
        let text = std::fs::read_to_string(tmp_home.cert_path())
            .map_err(|e| NodeError::io(tmp_home.cert_path(), e))?;
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Ok(chain) = CertChain::from_json(&v)
        {
            parent_id = chain.leaf().body.issuer.node_id();
        }
        // Before the store is filled: from here on nothing signs until the log is caught up.
        let note = json!({
            "restored_from": file.display().to_string(),
            "backup_created": manifest.created,
            "own_max_seq_in_backup": manifest.own_max_seq,
            "parent": parent_id,
            "restored": lingong_protocol::dates::rfc3339(now_ms()),
        });
        write_atomically(&tmp.join(MARKER), note.to_string().as_bytes())?;
    }

    let mut station = Station::open(&tmp_home)?;
    let total = envelopes.len();
    let back = if station.chain.is_some() {
        crate::repair::reaccept(&mut station, envelopes, &|_, _| {})?
    } else {
        crate::repair::Reaccepted {
            rejected: [("not-certified".to_string(), total as u64)].into(),
            ..Default::default()
        }
    };
    let (mut issued, mut rows) = (0u64, Vec::new());
    for (k, v) in private {
        if k.first() == Some(&b'C') {
            match CertChain::from_bytes(&v) {
                Ok(chain) => {
                    station.store.put_issued(&chain)?;
                    issued += 1;
                }
                Err(_) => {
                    return Err(opener.damaged(
                        "a certificate row does not decode",
                        "有一条证书记录无法解码",
                    ));
                }
            }
        } else {
            rows.push((k, v));
        }
    }
    let clear_ids = rows
        .iter()
        .filter(|(k, _)| k.first() == Some(&b'P'))
        .count();
    let accounts = rows
        .iter()
        .filter(|(k, _)| k.first() == Some(&b'U'))
        .count();
    station.store.put_private_rows(&rows)?;
    let own_max_seq = station
        .store
        .author_log(&key)?
        .last()
        .map_or(0, |(seq, _)| *seq);
    let records = station.record_counts()?;
    drop(station);

    // Into place: onto the empty folder if there is one (rename(2) replaces an empty folder).
    std::fs::rename(&tmp, &target).map_err(|e| NodeError::io(&target, e))?;
    scratch.keep = true;
    sync_parent(&target);
    let mut rejected = back.rejected;
    if undecodable > 0 {
        rejected.insert("undecodable".into(), undecodable);
    }
    if !back.waiting.is_empty() {
        *rejected.entry("waiting".into()).or_default() += back.waiting.len() as u64;
    }
    Ok(json!({
        "home": target.display().to_string(),
        "node_id": manifest.node_id,
        "name": manifest.name,
        "region": manifest.region,
        "backup_created": manifest.created,
        "envelopes": back.new,
        "of": total,
        "rejected": rejected,
        "records": records,
        "clear_id_numbers": clear_ids,
        "accounts": accounts,
        "issued_certificates": issued,
        "own_max_seq": own_max_seq,
        "catching_up": certified,
        "parent": parent_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written() {
        let h = Header {
            version: 1,
            m_kib: 65536,
            t: 3,
            p: 1,
            salt: [7; 16],
            prefix: [9; 7],
            chunk: 1 << 20,
            file_len: 123_456,
        };
        let b = h.to_bytes();
        assert_eq!(&b[..8], MAGIC);
        let back = Header::parse(&b);
        assert_eq!(
            (
                back.version,
                back.m_kib,
                back.t,
                back.p,
                back.salt,
                back.prefix,
                back.chunk,
                back.file_len
            ),
            (1, 65536, 3, 1, [7; 16], [9; 7], 1 << 20, 123_456)
        );
    }

    /// Rewrites a backup file as a forger who knows the format (not the passphrase) would:
    /// `edit` changes the body, then the header's length and the checksum are made to match.
    fn forge(file: &Path, to: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let bytes = std::fs::read(file).unwrap();
        let mut body = bytes[HEADER_LEN..bytes.len() - TRAILER_LEN].to_vec();
        edit(&mut body);
        let mut header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
        let len = (HEADER_LEN + body.len() + TRAILER_LEN) as u64;
        header[HEADER_LEN - 8..].copy_from_slice(&len.to_be_bytes());
        let body_hash: [u8; 32] = Sha256::digest(&body).into();
        let mut out = header.to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&checksum(&header, &body_hash));
        std::fs::write(to, out).unwrap();
    }

    #[test]
    fn a_backup_of_several_chunks_restores_whole_and_refuses_chunks_moved_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(Some(dir.path().join("a")));
        crate::station::init(&home, "测试村", "522622101001", Vec::new(), None).unwrap();
        let station = Station::open(&home).unwrap();
        // About 4 MiB of staff rows: the plaintext spans five chunks.
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..400u32)
            .map(|i| {
                let mut k = b"Us".to_vec();
                k.extend_from_slice(format!("clerk{i:04}").as_bytes());
                (k, vec![(i % 251) as u8; 10_000])
            })
            .collect();
        station.store.put_private_rows(&rows).unwrap();
        let file = dir.path().join("a.lgbackup");
        let made = backup(&station, &file, "eight chars").unwrap();
        drop(station);
        assert_eq!(made["accounts"], 400);
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        let chunks = (len - HEADER_LEN - TRAILER_LEN).div_ceil(CHUNK + TAG);
        assert!(chunks >= 4, "{chunks} chunks");

        let restored = Home::new(Some(dir.path().join("b")));
        let out = restore(&restored, &file, "eight chars").unwrap();
        assert_eq!(
            out["catching_up"], false,
            "uncertified: nothing to catch up"
        );
        let back = Station::open(&restored).unwrap();
        assert_eq!(back.store.private_rows().unwrap(), rows);
        assert_eq!(back.key.public(), home.load_key().unwrap().public());
        drop(back);

        let code = |file: &Path, pass: &str, to: &str| {
            let target = Home::new(Some(dir.path().join(to)));
            let e = restore(&target, file, pass).unwrap_err();
            assert!(!target.dir.exists(), "{to}: no home made");
            assert!(e.is_usage(), "{e}");
            e.code()
        };
        assert_eq!(code(&file, "eight chars!", "c"), "backup-wrong-passphrase");
        let sealed = CHUNK + TAG;
        let swapped = dir.path().join("swapped");
        forge(&file, &swapped, |body| {
            let second = body[sealed..2 * sealed].to_vec();
            body.copy_within(2 * sealed..3 * sealed, sealed);
            body[2 * sealed..3 * sealed].copy_from_slice(&second);
        });
        assert_eq!(code(&swapped, "eight chars", "d"), "backup-damaged");
        let dropped = dir.path().join("dropped");
        forge(&file, &dropped, |body| {
            let keep = (chunks - 1) * sealed;
            body.truncate(keep);
        });
        assert_eq!(code(&dropped, "eight chars", "e"), "backup-damaged");
        let station = Station::open(&home).unwrap();
        let e = backup(&station, &dir.path().join("g"), "seven c").unwrap_err();
        assert_eq!(e.code(), "invalid-field", "a passphrase under 8 characters");
        assert!(!dir.path().join("g").exists());
    }

    #[test]
    fn only_the_parent_or_a_node_of_its_region_clears_the_mark() {
        let code = |s: &str| RegionCode::parse(s).unwrap();
        let (village, township) = (code("522622101001"), code("522622101"));
        let mut h = lingong_protocol::fixture::Hierarchy::new(7);
        let (key, chain) = h.node(&village);
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(Some(dir.path().join("v")));
        crate::station::init(&home, "测试村", "522622101001", Vec::new(), None).unwrap();
        write_atomically(&home.key_path(), &key.seed()).unwrap();
        write_atomically(&home.cert_path(), chain.to_json().to_string().as_bytes()).unwrap();
        let station = Station::open(&home).unwrap();
        let parent = h.key_for(&township).public();
        let mark = || write_atomically(&marker_path(&home), br#"{"parent":"P"}"#).unwrap();
        mark();
        let refused = check_writable(&home).unwrap_err();
        assert_eq!(refused.code(), "catching-up");
        assert!(refused.message("en").contains("(P)"), "{refused}");
        // The county (an ancestor, not the parent) and another township do not clear it.
        let county = code("522622");
        assert!(!note_completed_session(
            &station,
            &h.key_for(&county).public(),
            &county
        ));
        let other = code("522622102");
        assert!(!note_completed_session(
            &station,
            &h.key_for(&other).public(),
            &other
        ));
        assert!(is_catching_up(&home));
        assert!(note_completed_session(&station, &parent, &township));
        assert!(check_writable(&home).is_ok());
        // A successor of the parent (another key certified for the township) clears it too.
        mark();
        assert!(note_completed_session(
            &station,
            &h.key_for(&other).public(),
            &township
        ));
        assert!(!is_catching_up(&home));
    }

    #[test]
    fn chunk_nonces_differ_by_number_and_by_the_last_flag() {
        let p = [1; 7];
        assert_ne!(nonce(&p, 0, false), nonce(&p, 1, false));
        assert_ne!(nonce(&p, 3, false), nonce(&p, 3, true));
    }
}
