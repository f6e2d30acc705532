//! The node's durable store: [`SledStore`] implements the protocol's [`Store`] over one sled
//! tree with key prefixes, plus the station's local private table.
//!
//! Layout (every key starts with a one-byte prefix; PROTOCOL.md has nothing to say about it,
//! it is private to a node):
//! - `e` id(32) → envelope bytes (canonical wire form)
//! - `m` id(32) → replication metadata ([`ItemMeta`], postcard)
//! - `l` author(32) seq(8) → envelope id: the author's log, for fork and gap detection
//! - `r` creator(32) serial(8) → record state (postcard; the document's listing view as JSON text)
//! - `s` short id(16) → creator(32) serial(8): lookup by the id users type
//! - `a` key(32) → author (chain bytes, highest sequence number, envelope count)
//! - `v` key(32) → revocation in force
//! - `x` author(32) seq(8) sha256(the other envelope's header)(32) → evidence of misbehaviour
//!   (forks): a peer re-sending the same fork every session rewrites one row, not a new one
//! - `P` record short id(16) → a worker's clear ID number: local only, never replicated
//! - `H` id hash(32) → worker record short id: de-duplication of registrations
//! - `U` table(1) name(utf-8) → a local account (`s`: a staff member's login, `t`: an API
//!   token), JSON ([`crate::services::staff`]): local only, never replicated, like `P`
//! - `C` subject key(32) → a certificate chain this node issued (`cert issue`), canonical
//!   bytes: local only, so the directory lists a station certified here before its own
//!   certificate record arrives
//! - `#` → the number of the store's last durable write (u64 big-endian)
//! - `V` → the store's format version (u32 big-endian, [`crate::migrate`]): a store is
//!   migrated (after a backup copy) or refused at open when it is not the current one
//! - `k`, `i`, `c`, `I` → the secondary indexes and counters ([`crate::index`]), written in
//!   the same batch as the records they index
//!
//! Sled's own layout (format 3 on): pages compressed with zstd at [`COMPRESSION_LEVEL`]. Every
//! open of a store's sled takes its configuration from [`sled_config`], which keeps the layout
//! a store was made with (sled refuses another), so a store of format 2 (uncompressed) opens
//! to be rewritten by its migration ([`crate::migrate`]).
//!
//! Damage: sled reports data whose checksum fails as `Corruption` (on open, or on the read of
//! a damaged page), and [`err`] turns that into the error [`corrupt`] makes, which the node
//! shows as `NodeError::StoreCorrupt` (never sled's own text). But when the damage lies in the
//! log sled replays on open, sled takes the bad entry for the torn end of a crash and opens the
//! store without the rest, silently (a flipped byte in a 30-post store: 0 posts, exit 0). So
//! every durable write also counts itself, in the store (`#`) and, once flushed, in the file
//! [`WRITES_FILE`] beside sled's; [`SledStore::open`] refuses a store whose count is below the
//! file's: it lost writes it had reported durable. (The file is written without fsync after
//! sled's flush, so a power cut can only leave it behind, never ahead.) `lingong repair`
//! (`node/src/repair.rs`) rebuilds a damaged store.
//!
//! Architecture invariant: a [`Batch`] is written with one `apply_batch` followed by one
//! `flush`, so after a kill -9 every change reported as accepted is on disk and no change is
//! half-applied; and a kill while sled writes its closing snapshot does not keep the store
//! from opening ([`SledStore::open`] removes the unfinished snapshot under the store's lock).
//!
//! The store also keeps, in memory, the item set it shares with each kind of peer
//! ([`SledStore::shared_set`]): built once from the metadata, then fed every envelope a commit
//! puts, so a sync session no longer scans and hashes the whole store (a county or the province
//! holds hundreds of thousands of changes, and its peers sync every few minutes).

use crate::index;
use lingong_protocol::canon::sha256;
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::reconcile::item_key;
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::scope::Scope;
use lingong_protocol::store::{
    AuthorInfo, Batch, Evidence, ItemMeta, Op, RecordState, RevocationInfo, Store, StoreError,
};
use lingong_protocol::sync::SharedSet;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How long a command waits for another process to let go of the store before it gives up:
/// generous, since that process may be a `sync` or a large `bundle import` run without the
/// daemon. (The daemon itself waits as long as it takes.)
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// After this long waiting for the store, and then every [`WAIT_NOTICE_EVERY`], the waiting
/// process says so in its log.
pub const WAIT_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
const WAIT_NOTICE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The sled-backed store of one node.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    shared: Mutex<SharedSets>,
    writes: WriteCount,
    /// The matching rows in memory, kept by [`Store::commit`] ([`index::MatchCache`]).
    matching: index::MatchCache,
    /// Held while the store is open; declared last, so it is let go only after sled has
    /// written its closing snapshot.
    _open_lock: std::fs::File,
}

/// The file in the store's folder that a process holding the store keeps locked.
pub const OPEN_LOCK: &str = "lingong.lock";

/// The zstd level sled compresses a store's pages with (format 3; `store_size` bench). Not
/// part of sled's persisted configuration: it may change from one release to the next.
pub const COMPRESSION_LEVEL: i32 = 3;

/// How often sled's background thread runs, in milliseconds: it flushes what no commit has
/// flushed yet and then cleans log segments (moves the live pages out of segments at most half
/// live, so the segments can be reused). sled's default is 500 ms, at which a store written one
/// post per commit outruns the cleaning; at 50 ms the `store_size` bench's store of 20,000 posts
/// takes 1,207 bytes per post (1.68 times the envelope, from 3,566–3,815 B), and its replayed
/// commits 2,518 B against 4,196–4,405 B at 500 ms in the same run, no slower (docs/figures.md, "Store
/// size").
///
/// 10 ms, from 50, for commits of a sync frame's worth (45 posts: a first sync, a township
/// taking in its villages): sled 0.34.7's thread cleans at most one segment per run (its
/// cleaning loop stops at the first empty pop of `SegmentCleaner`, which ends each segment's
/// page list, or after half the interval: `flusher.rs`, `segment.rs`), so its cleaning has a
/// fixed rate in segments per second, and a writer faster than that leaves the segments it
/// did not reach in the file (a segment cleaned later is reused, but the file does not shrink).
/// The `store_size` bench's 20,000 posts in frames, one run per interval (load average 6 to
/// 12): 500 ms 3,079 B per post (4.30× the envelope, 1,048 B of it garbage), 200 ms 2,567 B
/// (3.58×), 100 ms 1,784 B (2.49×), 50 ms 1,312 B (1.83×, none), 10 ms 1,286 B (1.79×, none).
/// 100,000 posts in frames on a quieter machine (load 1.5 to 8), back to back: 50 ms 1,804 B
/// (2.52×, 530 B garbage, 27 commits a second), 10 ms 1,337 B (1.87×, 58 B; 31 commits a
/// second until the load rose, 22 over the run). One post per commit, 20,000: 312 commits a
/// second against 323 at 50 ms (load 9), 1.72× against 1.79×. Idle, the store open, the thread
/// takes 0.6–0.8 % of a core against 0.2 % at 50 ms. Not part of sled's persisted
/// configuration: every store takes it at its next open, no format change.
pub const FLUSH_EVERY_MS: u64 = 10;

/// sled's configuration of the store in `dir`: every open of a store's sled goes through it
/// (the store itself, the migration's rewrite, `lingong repair`'s scratch copy, the benches).
///
/// A new store (no sled `conf` file in `dir` yet) gets the layout of format 3: pages
/// compressed with zstd at [`COMPRESSION_LEVEL`], sled's default segment size. A store sled
/// already made keeps what its `conf` file says of compression and segment size, since sled
/// refuses to open a store with other values ("cannot change compression values across
/// restarts"): a store of format 2 or older (uncompressed) still opens, to be migrated
/// (`crate::migrate`). Every store gets the background flush and segment cleaning of
/// [`FLUSH_EVERY_MS`].
///
/// Not levers (sled 0.34.7's source): `segment_cleanup_threshold` and
/// `segment_cleanup_skew` are deprecated no-ops (the threshold is a constant, 50 % live), and
/// `mode` is read nowhere.
pub fn sled_config(dir: &Path) -> sled::Config {
    let persisted = persisted_layout(dir);
    let mut config = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(Some(FLUSH_EVERY_MS))
        .use_compression(persisted.is_none_or(|p| p.compressed))
        .compression_factor(COMPRESSION_LEVEL);
    if let Some(segment) = persisted.and_then(|p| p.segment_size) {
        config = config.segment_size(segment);
    }
    config
}

/// How much a compressed store's pages grow when sled holds them in its cache: sled 0.34
/// charges each cached page by its size in the log (compressed) but keeps it decompressed. The
/// figure is measured, not derived: on format 3 the village daemon of the `daemon_memory`
/// bench held about three bytes per byte of cache it was given (docs/figures.md, "Daemon memory"), and
/// the `store_size` bench's posts take 3.0 times less room compressed (15.7x against 5.24x
/// their envelope).
pub const COMPRESSED_PAGE_GROWTH: u64 = 3;

/// The `cache_capacity` to give sled for `cache_bytes` of memory (`store_cache_mb`): as much on
/// an uncompressed store, a [`COMPRESSED_PAGE_GROWTH`]th on a compressed one (what
/// [`sled_config`] opens a new store as), so the cache holds about what was configured.
pub fn sled_cache_capacity(dir: &Path, cache_bytes: u64) -> u64 {
    if persisted_layout(dir).is_none_or(|p| p.compressed) {
        cache_bytes / COMPRESSED_PAGE_GROWTH
    } else {
        cache_bytes
    }
}

/// What sled's `conf` file of a store says of its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersistedLayout {
    /// Pages compressed with zstd (format 3 on).
    pub compressed: bool,
    /// sled's log segment size, when the file names one.
    pub segment_size: Option<usize>,
}

/// The layout sled's `conf` file in `dir` records (`None`: no such file, or one too short to
/// hold anything, which sled itself treats as absent). The file is sled 0.34's: lines of
/// `name: value` and a CRC of 4 bytes.
pub fn persisted_layout(dir: &Path) -> Option<PersistedLayout> {
    let bytes = std::fs::read(dir.join("conf")).ok()?;
    if bytes.len() <= 8 {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len() - 4]);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    Some(PersistedLayout {
        compressed: value("use_compression") == Some("true"),
        segment_size: value("segment_size").and_then(|v| v.parse().ok()),
    })
}

/// Opens (creating it, 0600) the lock file [`OPEN_LOCK`] of the store folder `dir`.
pub(crate) fn lock_file(dir: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(OPEN_LOCK))
}

/// Removes `snap.*.generating` from the store's folder: sled 0.34 writes a snapshot under that
/// name, syncs it, and only then renames it to `snap.*`, so such a file is always one a killed
/// process did not finish. Sled would read it as the newest snapshot and refuse to open
/// ("Read corrupted data"; sled issues 1527 and 1533); without it, sled starts from the last
/// finished snapshot and replays its log from there, as after any crash. Called only with
/// [`OPEN_LOCK`] held, so no live process is writing one.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(
                file = %path.display(),
                "removing a snapshot file a crash left unfinished"
            );
            std::fs::remove_file(&path).map_err(err)?;
        }
    }
    Ok(())
}

/// Most peer scopes a store keeps a shared set for (a county has some twenty townships and a
/// city; beyond that the least recently used set goes and is rebuilt when needed).
const MAX_SHARED_SETS: usize = 64;

/// The item sets this node shares with peers of given scopes, kept between sessions.
#[derive(Default)]
struct SharedSets {
    sets: Vec<KeptSet>,
    /// Bumped at every use, to find the least recently used set.
    clock: u64,
}

struct KeptSet {
    me: Scope,
    peer: Scope,
    set: Arc<SharedSet>,
    /// Envelopes committed since the set was last brought up to date.
    pending: Vec<ItemMeta>,
    last_used: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredAuthor {
    chain: Vec<u8>,
    /// Chains held before a renewal, canonical bytes.
    earlier: Vec<Vec<u8>>,
    max_seq: u64,
    envelopes: u64,
}

/// A store failure with sled's text made plain; sled's corruption becomes [`corrupt`].
pub(crate) fn err(e: impl std::fmt::Display + 'static) -> StoreError {
    if let Some(e) = (&e as &dyn std::any::Any).downcast_ref::<sled::Error>()
        && is_corruption(e)
    {
        return corrupt(None, None);
    }
    StoreError(plain(&e.to_string()))
}

/// Whether sled's error means damaged data on disk rather than a failing disk or a bug.
pub fn is_corruption(e: &sled::Error) -> bool {
    match e {
        sled::Error::Corruption { .. } => true,
        sled::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// `text` without terminal escape sequences (colours).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.clone().next() == Some('[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

const CORRUPT_PREFIX: &str = "damaged store [";
const MISSING_SUFFIX: &str = " of its last writes are missing";

/// The error of a damaged store in `dir` (`None`: a read that does not know it): sled read
/// corrupted data (`missing == None`), or the last `missing` writes are not there.
pub fn corrupt(dir: Option<&Path>, missing: Option<u64>) -> StoreError {
    let path = dir.map(|d| d.display().to_string()).unwrap_or_default();
    let detail = match missing {
        Some(n) => format!("{n}{MISSING_SUFFIX}"),
        None => "sled read corrupted data".to_string(),
    };
    StoreError(format!("{CORRUPT_PREFIX}{path}]: {detail}"))
}

/// What [`corrupt`] put in an error: the store's path (maybe empty), the missing writes and
/// the detail in English; `None` for any other store failure.
pub fn parse_corrupt(e: &StoreError) -> Option<(String, Option<u64>, String)> {
    let (path, detail) = e.0.strip_prefix(CORRUPT_PREFIX)?.rsplit_once("]: ")?;
    let missing = detail
        .strip_suffix(MISSING_SUFFIX)
        .and_then(|n| n.parse().ok());
    Some((path.to_string(), missing, detail.to_string()))
}

/// `e` naming the store in `dir` if it is a [`corrupt`] error that did not.
fn at_dir(e: StoreError, dir: &Path) -> StoreError {
    match parse_corrupt(&e) {
        Some((path, missing, _)) if path.is_empty() => corrupt(Some(dir), missing),
        _ => e,
    }
}

/// The file beside sled's holding the number of the store's last durable write.
pub const WRITES_FILE: &str = "lingong.writes";
const WRITES_KEY: &[u8] = b"#";

/// The count of a store's durable writes (see the module documentation).
struct WriteCount {
    count: std::sync::atomic::AtomicU64,
    file: std::fs::File,
}

/// Reads the store's write count and the file's; refuses the store if it has fewer.
fn check_writes(dir: &Path, tree: &sled::Tree) -> Result<WriteCount, StoreError> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let held = match tree.get(WRITES_KEY).map_err(|e| at_dir(err(e), dir))? {
        Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(err)?),
        None => 0,
    };
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(WRITES_FILE))
        .map_err(err)?;
    let mut buf = [0u8; 8];
    let recorded = match file.read_at(&mut buf, 0) {
        Ok(8) => u64::from_be_bytes(buf),
        _ => 0,
    };
    if held < recorded {
        return Err(corrupt(Some(dir), Some(recorded - held)));
    }
    Ok(WriteCount {
        count: std::sync::atomic::AtomicU64::new(held),
        file,
    })
}

/// A row of an author's log (`l`, key, sequence number big-endian → envelope id).
fn log_row(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(u64, EnvelopeId), StoreError> {
    let (k, v) = item.map_err(err)?;
    let seq = u64::from_be_bytes(k[33..41].try_into().map_err(err)?);
    Ok((seq, v.as_ref().try_into().map_err(err)?))
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn record_key(id: &RecordId) -> Vec<u8> {
    key(b'r', &[&id.creator.0, &id.serial.to_be_bytes()])
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, waiting up to [`LOCK_WAIT`] for another process
    /// holding it to let go ([`SledStore::open_waiting`]).
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_waiting(dir, Some(LOCK_WAIT))?.ok_or_else(|| {
            StoreError(format!(
                "could not acquire lock on {}: another lingong process has held the store for \
                 {} s",
                dir.display(),
                LOCK_WAIT.as_secs()
            ))
        })
    }

    /// Opens (or creates) the store in `dir` (mode 0700, its lock file 0600).
    ///
    /// Only one process may hold a store: it holds [`OPEN_LOCK`] while the store is open. While
    /// another process holds it, this waits up to `wait` (`Some(Duration::ZERO)`: one try;
    /// `None`: as long as it takes, as the daemon does), logging a line after
    /// [`WAIT_NOTICE_AFTER`] and every 30 s, and returns `None` if it is still held. A command
    /// tries the daemon's socket between tries (`control::execute`), so it never waits for a
    /// daemon's lock.
    ///
    /// Under that lock, before sled reads anything, it removes the snapshot files a process
    /// killed while writing one leaves behind ([`remove_unfinished_snapshots`]): sled 0.34
    /// would read such a file as the newest snapshot and refuse to open the store.
    pub fn open_waiting(
        dir: &Path,
        wait: Option<std::time::Duration>,
    ) -> Result<Option<SledStore>, StoreError> {
        SledStore::open_with_cache(dir, wait, crate::home::default_store_cache_mb() << 20)
    }

    /// [`SledStore::open_waiting`] with sled's page cache of `cache_bytes` (a node opens its
    /// store with `store_cache_mb` from its configuration).
    pub fn open_with_cache(
        dir: &Path,
        wait: Option<std::time::Duration>,
        cache_bytes: u64,
    ) -> Result<Option<SledStore>, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let started = std::time::Instant::now();
        crate::migrate::finish_cut_swap(dir)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let mut open_lock = lock_file(dir).map_err(err)?;
        let mut notice = started + WAIT_NOTICE_AFTER;
        loop {
            match open_lock.try_lock() {
                // The lock file still the folder's (a migration's rewrite may have replaced
                // the folder while this waited on the old one's).
                Ok(())
                    if std::fs::metadata(dir.join(OPEN_LOCK))
                        .is_ok_and(|m| m.ino() == open_lock.metadata().map_or(0, |o| o.ino())) =>
                {
                    break;
                }
                Ok(()) => open_lock = lock_file(dir).map_err(err)?,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let now = std::time::Instant::now();
                    if wait.is_some_and(|w| now >= started + w) {
                        return Ok(None);
                    }
                    if now >= notice {
                        tracing::warn!(
                            store = %dir.display(),
                            "waiting for another lingong process to let go of the store \
                             ({} s so far) / 正在等待另一个 lingong 进程释放存储（已等待 {} 秒）",
                            started.elapsed().as_secs(),
                            started.elapsed().as_secs()
                        );
                        notice = now + WAIT_NOTICE_EVERY;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
            }
        }
        loop {
            // What a migration's rewrite left: swapped in, or discarded.
            if let Some(lock) = crate::migrate::finish_rewrite(dir).map_err(|e| at_dir(e, dir))? {
                open_lock = lock;
            }
            // Sled's own lock is let go when the process that held the store has closed sled's
            // files, which may come a moment after it let go of ours.
            let deadline = std::time::Instant::now() + LOCK_WAIT;
            remove_unfinished_snapshots(dir)?;
            let db = loop {
                match sled_config(dir)
                    .cache_capacity(sled_cache_capacity(dir, cache_bytes))
                    .open()
                {
                    Ok(db) => break db,
                    Err(sled::Error::Io(e))
                        if e.to_string().contains("could not acquire lock") // sled 0.34 reports a held lock as ErrorKind::Other
                            && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                    }
                    Err(e) => return Err(at_dir(err(e), dir)),
                }
            };
            let tree = db.open_tree("lingong").map_err(|e| at_dir(err(e), dir))?;
            let writes = check_writes(dir, &tree)?;
            // The format version: a new store gets the current one, an older store is copied
            // aside and migrated, a newer one refused, before anything else reads it.
            match crate::migrate::upgrade(dir, &db, &tree).map_err(|e| at_dir(e, dir))? {
                crate::migrate::Upgraded::Reopen => {
                    // A rewrite made the store's replacement: close sled's files, then the
                    // next round swaps it in and opens it.
                    drop((writes, tree, db));
                    continue;
                }
                crate::migrate::Upgraded::Ready => {}
            }
            let store = SledStore {
                db,
                tree,
                shared: Mutex::default(),
                writes,
                matching: index::MatchCache::default(),
                _open_lock: open_lock,
            };
            store.ensure_indexes()?;
            return Ok(Some(store));
        }
    }

    /// Rebuilds the secondary indexes and counters ([`crate::index`]) when the store holds none
    /// of the current version: a store written before they existed, or by another layout.
    fn ensure_indexes(&self) -> Result<(), StoreError> {
        if self.tree.get(index::VERSION_KEY).map_err(err)?.as_deref() == Some(&[index::VERSION][..])
        {
            return Ok(());
        }
        tracing::info!("building the store's indexes (once, after an upgrade)");
        let mut b = sled::Batch::default();
        for prefix in [&b"k"[..], b"i", b"c"] {
            for item in self.tree.scan_prefix(prefix) {
                b.remove(item.map_err(err)?.0);
            }
        }
        let mut counts: std::collections::BTreeMap<[u8; 2], u64> = Default::default();
        for item in self.tree.scan_prefix([b'r']) {
            let state = decode_record(&item.map_err(err)?.1)?;
            for k in index::keys(&state) {
                b.insert(k, &[][..]);
            }
            for (k, v) in index::match_rows(&state) {
                b.insert(k, v);
            }
            *counts.entry(index::counter(state.kind)).or_default() += 1;
        }
        counts.insert(
            index::ENVELOPE_COUNTER,
            self.tree.scan_prefix([b'm']).count() as u64,
        );
        for (k, n) in counts {
            b.insert(&k[..], &n.to_be_bytes()[..]);
        }
        b.insert(index::VERSION_KEY, &[index::VERSION][..]);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        Ok(())
    }

    /// Records of one index prefix ([`index::prefix`]), in key order from the last (newest
    /// first within one value), starting after the record `after` (a list's cursor, placed by
    /// [`index::resume_after`]; where it has no place, from the start); each record once,
    /// under its first key of the prefix (a post from and into an area has two); lazily read,
    /// so a caller taking 100 rows reads about 100 records.
    pub fn list<'a>(
        &'a self,
        prefix: Vec<u8>,
        after: Option<&RecordState>,
    ) -> impl Iterator<Item = Result<RecordState, StoreError>> + 'a {
        let end = after.and_then(|a| index::resume_after(a, &prefix));
        let prefix_kept = prefix.clone();
        let rows: Box<dyn DoubleEndedIterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match end {
                Some(end) => Box::new(self.tree.range(prefix..end)),
                None => Box::new(self.tree.scan_prefix(prefix)),
            };
        rows.rev()
            .filter_map(move |row| self.record_of_row(row, &prefix_kept))
    }

    /// [`SledStore::list`] from the other end: oldest first within one value, starting after
    /// the record `after` (a queue read from its head, e.g. the review queue).
    pub fn list_oldest_first<'a>(
        &'a self,
        prefix: Vec<u8>,
        after: Option<&RecordState>,
    ) -> impl Iterator<Item = Result<RecordState, StoreError>> + 'a {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.and_then(|a| index::resume_after(a, &prefix));
        let prefix_kept = prefix.clone();
        let rows: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match start {
            Some(start) => {
                let within = prefix.clone();
                Box::new(
                    self.tree
                        .range::<Vec<u8>, _>((Excluded(start), Unbounded))
                        .take_while(move |row| {
                            row.as_ref().map_or(true, |(k, _)| k.starts_with(&within))
                        }),
                )
            }
            None => Box::new(self.tree.scan_prefix(prefix)),
        };
        rows.filter_map(move |row| self.record_of_row(row, &prefix_kept))
    }

    /// The record an index row under `prefix` names, when the row is the record's first key of
    /// the prefix (a record under two keys of one prefix is listed once).
    fn record_of_row(
        &self,
        row: sled::Result<(sled::IVec, sled::IVec)>,
        prefix: &[u8],
    ) -> Option<Result<RecordState, StoreError>> {
        let key = match row {
            Ok((k, _)) => k,
            Err(e) => return Some(Err(err(e))),
        };
        let id = index::record_of(&key)?;
        match self.record(&id) {
            Ok(Some(state)) => index::cursor(&state, prefix)
                .is_some_and(|first| first[..] == key[..])
                .then_some(Ok(state)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The index rows under `prefix` with their values, in key order (the matching rows,
    /// [`index::match_rows`], hold what the ranking reads of a record).
    pub fn index_rows(
        &self,
        prefix: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + '_ {
        self.tree.scan_prefix(prefix).map(|row| row.map_err(err))
    }

    /// The index rows with keys in `[from, to)`, in key order: a kind's records created
    /// within a span, read from their creation-order keys alone (`figures::collect_facts`).
    pub fn index_rows_between(
        &self,
        from: Vec<u8>,
        to: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + '_ {
        self.tree.range(from..to).map(|row| row.map_err(err))
    }

    /// Every record's stored bytes, in key order (creator, serial), for a reader that decodes
    /// only the fields it needs in one pass (`figures::collect_facts_of`).
    pub fn record_rows(&self) -> impl Iterator<Item = Result<sled::IVec, StoreError>> + '_ {
        self.tree
            .scan_prefix([b'r'])
            .map(|row| row.map(|(_, v)| v).map_err(err))
    }

    /// A record's stored bytes (postcard, what [`Store::record`] decodes), for a reader that
    /// decodes only the fields it needs (`figures::collect_facts`).
    pub fn record_bytes(&self, id: &RecordId) -> Result<Option<sled::IVec>, StoreError> {
        self.tree.get(record_key(id)).map_err(err)
    }

    /// The envelopes listed (`m` rows, `listed`) or held (`e` rows, stored bytes) whose ids lie
    /// in `[from, to)` (`from` and `to` are id prefixes; `to: None`, to the last id), each with
    /// its id as its key names it, in id order: one range scan, which reads each of sled's
    /// pages once where a lookup per id walks the tree each time (`services::audit`, which
    /// walks both side by side).
    pub fn envelope_rows_between(
        &self,
        listed: bool,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> impl Iterator<Item = Result<(EnvelopeId, sled::IVec), StoreError>> + '_ {
        let table = if listed { b'm' } else { b'e' };
        let end = match to {
            Some(to) => key(table, &[to]),
            None => vec![table + 1],
        };
        self.tree.range(key(table, &[from])..end).map(|row| {
            let (k, v) = row.map_err(err)?;
            let id: EnvelopeId = k[1..].try_into().map_err(err)?;
            Ok((id, v))
        })
    }

    /// Calls `f` with the matching rows in memory ([`index::MatchTable`]: the rows
    /// [`SledStore::index_rows`] reads under the matching prefixes, decoded), loading them from
    /// the tree at the first call.
    pub fn with_match_table<R>(
        &self,
        f: impl FnOnce(&index::MatchTable) -> R,
    ) -> Result<R, StoreError> {
        self.matching
            .with(|prefix| self.index_rows(prefix.to_vec()), f)
    }

    /// Records of `kind` held (from the counters, not a scan).
    pub fn count(&self, kind: RecordKind) -> Result<u64, StoreError> {
        self.counter(&index::counter(kind))
    }

    /// Envelopes held, with or without payload (from the counters, not a scan).
    pub fn envelope_count(&self) -> Result<u64, StoreError> {
        self.counter(&index::ENVELOPE_COUNTER)
    }

    fn counter(&self, k: &[u8]) -> Result<u64, StoreError> {
        Ok(self
            .tree
            .get(k)
            .map_err(err)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    fn get_postcard<T: serde::de::DeserializeOwned>(
        &self,
        k: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.tree.get(k).map_err(err)? {
            Some(v) => Ok(Some(postcard::from_bytes(&v).map_err(err)?)),
            None => Ok(None),
        }
    }

    /// Every record of `kind` (listing; reads the stored views, never the documents' changes).
    pub fn records_of(&self, kind: Option<RecordKind>) -> Result<Vec<RecordState>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([b'r']) {
            let (_, v) = item.map_err(err)?;
            let state = decode_record(&v)?;
            if kind.is_none_or(|k| k == state.kind) {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Finds a record by the id users type: the full 32 hex digits or a unique prefix of 8+.
    pub fn find_record(&self, short_hex: &str) -> Result<Vec<RecordId>, StoreError> {
        let s = short_hex.trim().to_ascii_lowercase();
        let bytes = hex::decode(if s.len() % 2 == 1 {
            &s[..s.len() - 1]
        } else {
            &s
        })
        .unwrap_or_default();
        let mut found = Vec::new();
        for item in self.tree.scan_prefix(key(b's', &[&bytes])) {
            let (k, v) = item.map_err(err)?;
            if hex::encode(&k[1..]).starts_with(&s) && v.len() == 40 {
                let creator = PublicKey(v[..32].try_into().expect("32 bytes"));
                let serial = u64::from_be_bytes(v[32..].try_into().expect("8 bytes"));
                found.push(RecordId { creator, serial });
            }
        }
        Ok(found)
    }

    /// All authors known here.
    pub fn authors(&self) -> Result<Vec<AuthorInfo>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([b'a']) {
            let (k, v) = item.map_err(err)?;
            out.push(decode_author(&k[1..], &v)?);
        }
        Ok(out)
    }

    /// All revocations in force.
    pub fn revocations(&self) -> Result<Vec<RevocationInfo>, StoreError> {
        self.tree
            .scan_prefix([b'v'])
            .map(|i| postcard::from_bytes(&i.map_err(err)?.1).map_err(err))
            .collect()
    }

    /// Evidence of misbehaviour (forks) recorded so far.
    pub fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        self.tree
            .scan_prefix([b'x'])
            .map(|i| postcard::from_bytes(&i.map_err(err)?.1).map_err(err))
            .collect()
    }

    /// The first `max` envelopes in id order (ids are hashes, so an even sample of what is
    /// held): how many were read and their bytes as held (the canonical wire form). For
    /// `doctor`'s estimate of the records' own bytes against the store's files.
    pub fn envelope_size_sample(&self, max: usize) -> Result<(u64, u64), StoreError> {
        let mut count = 0u64;
        let mut bytes = 0u64;
        for item in self.tree.scan_prefix([b'e']).take(max) {
            let (_, v) = item.map_err(err)?;
            count += 1;
            bytes += v.len() as u64;
        }
        Ok((count, bytes))
    }

    /// The envelope ids of an author's log, by sequence number.
    pub fn author_log(&self, author: &PublicKey) -> Result<Vec<(u64, EnvelopeId)>, StoreError> {
        self.tree
            .scan_prefix(key(b'l', &[&author.0]))
            .map(log_row)
            .collect()
    }

    /// An author's log newest first, read as it is walked: what was signed last costs what it
    /// counts, not the length of the log.
    pub fn author_log_newest_first(
        &self,
        author: &PublicKey,
    ) -> impl Iterator<Item = Result<(u64, EnvelopeId), StoreError>> + '_ {
        self.tree
            .scan_prefix(key(b'l', &[&author.0]))
            .rev()
            .map(log_row)
    }

    /// Stores a worker's clear ID number in the local private table together with its dedup
    /// hash, in one atomic durable write. Never replicated.
    pub fn put_private_id(
        &self,
        record: &RecordId,
        id_number: &str,
        id_hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        b.insert(key(b'P', &[&record.short()]), id_number.as_bytes());
        b.insert(key(b'H', &[id_hash]), &record.short()[..]);
        let n = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(n);
        Ok(())
    }

    /// Drops a worker's clear ID number and every de-duplication row naming the record from the
    /// local private table, in one durable write (`worker erase`). Returns whether it held the
    /// clear number.
    pub fn remove_private_id(&self, record: &RecordId) -> Result<bool, StoreError> {
        let short = record.short();
        let mut b = sled::Batch::default();
        let held = self.tree.get(key(b'P', &[&short])).map_err(err)?.is_some();
        b.remove(key(b'P', &[&short]));
        for item in self.tree.scan_prefix([b'H']) {
            let (k, v) = item.map_err(err)?;
            if v.as_ref() == &short[..] {
                b.remove(k);
            }
        }
        let n = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(n);
        Ok(held)
    }

    /// [`SledStore::put_private_id`] for many records in one durable write (`worker import`).
    pub fn put_private_ids(&self, rows: &[(RecordId, String, [u8; 32])]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        for (record, id_number, id_hash) in rows {
            b.insert(key(b'P', &[&record.short()]), id_number.as_bytes());
            b.insert(key(b'H', &[id_hash]), &record.short()[..]);
        }
        let n = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(n);
        Ok(())
    }

    /// Writes rows of the local private tables (`P`, `H`, `U`) read back from a damaged store by
    /// `lingong repair`, in one durable write; rows under any other prefix are skipped.
    /// Returns how many were written.
    pub fn put_private_rows(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<usize, StoreError> {
        let mut b = sled::Batch::default();
        let mut n = 0;
        for (k, v) in rows {
            if matches!(k.first(), Some(b'P' | b'H' | b'U')) {
                b.insert(&k[..], &v[..]);
                n += 1;
            }
        }
        let w = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(w);
        Ok(n)
    }

    /// Every row of the local private tables (`P`, `H`, `U`, `C`), for `lingong backup`
    /// (`crate::backup`): what no other node holds.
    pub fn private_rows(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for prefix in [b'P', b'H', b'U', b'C'] {
            for item in self.tree.scan_prefix([prefix]) {
                let (k, v) = item.map_err(err)?;
                out.push((k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }

    /// The short ids of the worker records whose clear ID number the private table holds.
    pub fn private_ids(&self) -> Result<std::collections::HashSet<[u8; 16]>, StoreError> {
        let mut out = std::collections::HashSet::new();
        for item in self.tree.scan_prefix([b'P']) {
            let (k, _) = item.map_err(err)?;
            if let Ok(short) = k[1..].try_into() {
                out.insert(short);
            }
        }
        Ok(out)
    }

    /// Puts the number of the next durable write into `b`; [`SledStore::wrote`] once flushed.
    fn next_write(&self, b: &mut sled::Batch) -> u64 {
        let n = self.writes.count.load(std::sync::atomic::Ordering::Relaxed) + 1;
        b.insert(WRITES_KEY, &n.to_be_bytes()[..]);
        n
    }

    /// How many durable writes the store has had: moves with every commit, local or accepted
    /// from a peer or a bundle, before the commit returns (what a cache of answers read from
    /// the store is keyed on).
    pub fn write_count(&self) -> u64 {
        self.writes.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes write `n` as durable, in memory and in [`WRITES_FILE`] (no fsync: see the module
    /// documentation).
    fn wrote(&self, n: u64) {
        use std::os::unix::fs::FileExt;
        self.writes
            .count
            .store(n, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = self.writes.file.write_all_at(&n.to_be_bytes(), 0) {
            tracing::warn!("could not note the store's write count: {e}");
        }
    }

    /// The worker record already registered with this ID hash, if any.
    pub fn worker_by_id_hash(&self, id_hash: &[u8; 32]) -> Result<Option<[u8; 16]>, StoreError> {
        Ok(self
            .tree
            .get(key(b'H', &[id_hash]))
            .map_err(err)?
            .and_then(|v| v.as_ref().try_into().ok()))
    }

    /// The worker record whose clear ID number in the private table equals `id_number`
    /// (trimmed, upper-case), if any: a scan of this node's own registrations, which finds
    /// those whose hash was made under an earlier key or hash version.
    pub fn worker_by_id_number(&self, id_number: &str) -> Result<Option<[u8; 16]>, StoreError> {
        let wanted = id_number.trim().to_ascii_uppercase();
        for item in self.tree.scan_prefix([b'P']) {
            let (k, v) = item.map_err(err)?;
            let stored = String::from_utf8_lossy(&v);
            if stored.trim().eq_ignore_ascii_case(&wanted) {
                return Ok(k[1..].try_into().ok());
            }
        }
        Ok(None)
    }

    /// Reads every row once: a damaged page sled only finds when a command reads it (most
    /// commands read only some prefixes) fails here with the [`corrupt`] error naming `dir`.
    /// For `lingong repair`, which must not rebuild a store that reads whole.
    pub fn check_readable(&self, dir: &Path) -> Result<(), StoreError> {
        for item in self.tree.iter() {
            item.map_err(|e| at_dir(err(e), dir))?;
        }
        Ok(())
    }

    /// Notes a certificate chain this node issued (one durable write; local only).
    pub fn put_issued(&self, chain: &CertChain) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        b.insert(key(b'C', &[&chain.leaf().body.subject.0]), chain.to_bytes());
        let n = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(n);
        Ok(())
    }

    /// The certificate chains this node issued, one per subject (the latest issued).
    pub fn issued(&self) -> Result<Vec<CertChain>, StoreError> {
        self.tree
            .scan_prefix([b'C'])
            .map(|i| CertChain::from_bytes(&i.map_err(err)?.1).map_err(err))
            .collect()
    }

    /// A row of the local accounts table (`U`): `table` is `b's'` (staff) or `b't'` (tokens).
    pub fn account(&self, table: u8, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(key(b'U', &[&[table], name.as_bytes()]))
            .map_err(err)?
            .map(|v| v.to_vec()))
    }

    /// Writes (`Some`) or removes (`None`) a row of the local accounts table, one durable write.
    /// Never replicated: the row belongs to this node only.
    pub fn put_account(
        &self,
        table: u8,
        name: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        let k = key(b'U', &[&[table], name.as_bytes()]);
        match value {
            Some(v) => b.insert(k, v),
            None => b.remove(k),
        }
        let n = self.next_write(&mut b);
        self.tree.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        self.wrote(n);
        Ok(())
    }

    /// Every row of one local accounts table, by name.
    pub fn accounts(&self, table: u8) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([b'U', table]) {
            let (k, v) = item.map_err(err)?;
            out.push((String::from_utf8_lossy(&k[2..]).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// Size of the store on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// sled itself, for `lingong compact`'s rewrite of the store (`crate::compact`).
    pub(crate) fn sled_db(&self) -> &sled::Db {
        &self.db
    }
}

fn decode_record(v: &[u8]) -> Result<RecordState, StoreError> {
    postcard::from_bytes(v).map_err(err)
}

fn decode_author(k: &[u8], v: &[u8]) -> Result<AuthorInfo, StoreError> {
    let s: StoredAuthor = postcard::from_bytes(v).map_err(err)?;
    Ok(AuthorInfo {
        key: PublicKey(k.try_into().map_err(err)?),
        chain: CertChain::from_bytes(&s.chain).map_err(err)?,
        max_seq: s.max_seq,
        envelopes: s.envelopes,
        earlier: s
            .earlier
            .iter()
            .map(|c| CertChain::from_bytes(c).map_err(err))
            .collect::<Result<_, _>>()?,
    })
}

impl Store for SledStore {
    fn envelope(&self, id: &EnvelopeId) -> Result<Option<Envelope>, StoreError> {
        match self.tree.get(key(b'e', &[id])).map_err(err)? {
            Some(v) => Ok(Some(Envelope::from_bytes(&v).map_err(err)?)),
            None => Ok(None),
        }
    }
    fn has_envelope(&self, id: &EnvelopeId) -> Result<Option<bool>, StoreError> {
        Ok(self
            .get_postcard::<ItemMeta>(&key(b'm', &[id]))?
            .map(|m| m.has_payload))
    }
    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Result<Option<EnvelopeId>, StoreError> {
        Ok(self
            .tree
            .get(key(b'l', &[&author.0, &seq.to_be_bytes()]))
            .map_err(err)?
            .and_then(|v| v.as_ref().try_into().ok()))
    }
    fn timestamp_of(&self, id: &EnvelopeId) -> Result<Option<i64>, StoreError> {
        Ok(self
            .get_postcard::<ItemMeta>(&key(b'm', &[id]))?
            .map(|m| m.timestamp_ms))
    }
    fn record(&self, id: &RecordId) -> Result<Option<RecordState>, StoreError> {
        self.tree
            .get(record_key(id))
            .map_err(err)?
            .map(|v| decode_record(&v))
            .transpose()
    }
    fn author(&self, k: &PublicKey) -> Result<Option<AuthorInfo>, StoreError> {
        self.tree
            .get(key(b'a', &[&k.0]))
            .map_err(err)?
            .map(|v| decode_author(&k.0, &v))
            .transpose()
    }
    fn revocation(&self, k: &PublicKey) -> Result<Option<RevocationInfo>, StoreError> {
        self.get_postcard(&key(b'v', &[&k.0]))
    }
    fn fork_point(&self, author: &PublicKey) -> Result<Option<u64>, StoreError> {
        // Evidence rows are keyed author, then big-endian seq: the first row is the lowest.
        match self.tree.scan_prefix(key(b'x', &[&author.0])).next() {
            Some(item) => {
                let (k, _) = item.map_err(err)?;
                Ok(Some(u64::from_be_bytes(k[33..41].try_into().map_err(err)?)))
            }
            None => Ok(None),
        }
    }
    fn items(&self) -> Result<Vec<ItemMeta>, StoreError> {
        self.tree
            .scan_prefix([b'm'])
            .map(|i| postcard::from_bytes(&i.map_err(err)?.1).map_err(err))
            .collect()
    }
    fn commit(&mut self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        let mut put = Vec::new();
        let mut counts: std::collections::BTreeMap<[u8; 2], u64> = Default::default();
        // The matching rows removed (`None`) and written, in order, for the table in memory.
        let mut matched: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut dropped = false;
        for op in batch.ops {
            match op {
                Op::PutEnvelope(env, meta) => {
                    match self.has_envelope(&meta.id)? {
                        None => *counts.entry(index::ENVELOPE_COUNTER).or_default() += 1,
                        // A body dropped (a PIPL erasure, `accept`): kept sets list the
                        // envelope under its id and cannot take that back; rebuilt instead.
                        Some(true) if !meta.has_payload => dropped = true,
                        Some(_) => {}
                    }
                    put.push(meta);
                    b.insert(key(b'e', &[&meta.id]), env.to_bytes());
                    b.insert(
                        key(b'm', &[&meta.id]),
                        postcard::to_allocvec(&meta).map_err(err)?,
                    );
                    b.insert(
                        key(b'l', &[&env.header.author.0, &env.header.seq.to_be_bytes()]),
                        &meta.id[..],
                    );
                }
                Op::PutRecord(id, s) => {
                    // The indexes follow the record in the same batch: the previous state's
                    // rows go, the new state's come.
                    let new_keys = index::keys(&s);
                    let new_rows = index::match_rows(&s);
                    match self.record(&id)? {
                        Some(old) => {
                            for k in index::keys(&old) {
                                if !new_keys.contains(&k) {
                                    b.remove(k);
                                }
                            }
                            for (k, _) in index::match_rows(&old) {
                                if !new_rows.iter().any(|(n, _)| *n == k) {
                                    matched.push((k.clone(), None));
                                    b.remove(k);
                                }
                            }
                        }
                        None => *counts.entry(index::counter(s.kind)).or_default() += 1,
                    }
                    for k in new_keys {
                        b.insert(k, &[][..]);
                    }
                    for (k, v) in new_rows {
                        matched.push((k.clone(), Some(v.clone())));
                        b.insert(k, v);
                    }
                    b.insert(record_key(&id), postcard::to_allocvec(&*s).map_err(err)?);
                    let mut rid = id.creator.0.to_vec();
                    rid.extend_from_slice(&id.serial.to_be_bytes());
                    b.insert(key(b's', &[&id.short()]), rid);
                }
                Op::PutAuthor(a) => {
                    let stored = StoredAuthor {
                        chain: a.chain.to_bytes(),
                        earlier: a.earlier.iter().map(CertChain::to_bytes).collect(),
                        max_seq: a.max_seq,
                        envelopes: a.envelopes,
                    };
                    b.insert(
                        key(b'a', &[&a.key.0]),
                        postcard::to_allocvec(&stored).map_err(err)?,
                    );
                }
                Op::PutRevocation(r) => {
                    b.insert(
                        key(b'v', &[&r.revoked.0]),
                        postcard::to_allocvec(&r).map_err(err)?,
                    );
                }
                Op::PutEvidence(e) => {
                    let other = sha256(e.envelopes.last().map_or(&[][..], Vec::as_slice));
                    b.insert(
                        key(b'x', &[&e.author.0, &e.seq.to_be_bytes(), &other]),
                        postcard::to_allocvec(&e).map_err(err)?,
                    );
                }
            }
        }
        for (k, added) in counts {
            let n = self.counter(&k)? + added;
            b.insert(&k[..], &n.to_be_bytes()[..]);
        }
        let n = self.next_write(&mut b);
        if let Err(e) = self.tree.apply_batch(b) {
            self.matching.invalidate();
            return Err(err(e));
        }
        self.matching.committed(&matched);
        self.db.flush().map_err(err)?;
        self.wrote(n);
        if dropped {
            self.shared_sets().sets.clear();
        } else if !put.is_empty() {
            self.shared_sets().note_committed(&put);
        }
        Ok(())
    }
}

impl SledStore {
    fn shared_sets(&self) -> std::sync::MutexGuard<'_, SharedSets> {
        // The sets are a cache: one poisoned by a panic elsewhere is still consistent enough
        // to be thrown away.
        self.shared.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            guard.sets.clear();
            guard
        })
    }

    /// The item set `me` shares with a peer of scope `peer`, as [`SharedSet::build`] over
    /// [`Store::items`] would give it now: built from the store the first time, then kept and
    /// brought up to date with what was committed since (a session holding the previous one
    /// keeps its snapshot; the kept set is then copied before it changes).
    pub fn shared_set(&self, me: Scope, peer: Scope) -> Result<Arc<SharedSet>, StoreError> {
        {
            let mut cache = self.shared_sets();
            cache.clock += 1;
            let now = cache.clock;
            if let Some(kept) = cache.sets.iter_mut().find(|k| k.me == me && k.peer == peer) {
                kept.last_used = now;
                if !kept.pending.is_empty() {
                    let set = Arc::make_mut(&mut kept.set);
                    for m in kept.pending.drain(..) {
                        set.insert_keyed(&me, &peer, &m, item_key(&m.id));
                    }
                }
                return Ok(Arc::clone(&kept.set));
            }
        }
        // No commit can run meanwhile: it takes `&mut self`.
        let set = Arc::new(SharedSet::build(&me, &peer, &self.items()?));
        let mut cache = self.shared_sets();
        if cache.sets.len() >= MAX_SHARED_SETS
            && let Some(oldest) = (0..cache.sets.len()).min_by_key(|&i| cache.sets[i].last_used)
        {
            cache.sets.swap_remove(oldest);
        }
        let last_used = cache.clock;
        cache.sets.push(KeptSet {
            me,
            peer,
            set: Arc::clone(&set),
            pending: Vec::new(),
            last_used,
        });
        Ok(set)
    }
}

impl SharedSets {
    /// Queues what a commit put for every kept set. A set whose queue has grown past half its
    /// size (a peer that has not synced for long) is dropped and rebuilt when next needed.
    fn note_committed(&mut self, put: &[ItemMeta]) {
        for kept in &mut self.sets {
            kept.pending.extend_from_slice(put);
        }
        self.sets
            .retain(|k| k.pending.len() <= 10_000 + k.set.len() / 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lingong_protocol::keys::NodeKey;

    fn fork(author: PublicKey, seq: u64, other: &[u8]) -> Op {
        Op::PutEvidence(Evidence {
            kind: "fork".into(),
            author,
            seq,
            envelopes: vec![b"held".to_vec(), other.to_vec()],
            detail: format!("two envelopes signed with sequence number {seq}"),
        })
    }

    /// sled's cache is charged compressed bytes on a compressed store: it is given a third of
    /// the configured memory there, all of it on an uncompressed (format 2) store.
    #[test]
    fn the_cache_given_to_sled_allows_for_compressed_pages() {
        let new = tempfile::tempdir().unwrap();
        assert_eq!(
            sled_cache_capacity(new.path(), 64 << 20),
            (64 << 20) / COMPRESSED_PAGE_GROWTH
        );
        let old = tempfile::tempdir().unwrap();
        drop(
            sled::Config::new()
                .path(old.path())
                .use_compression(false)
                .open()
                .unwrap(),
        );
        assert_eq!(sled_cache_capacity(old.path(), 64 << 20), 64 << 20);
    }

    #[test]
    fn the_same_fork_received_again_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(dir.path()).unwrap();
        let author = NodeKey::from_seed([9; 32]).public();
        for _ in 0..3 {
            let mut batch = Batch::default();
            batch.ops.push(fork(author, 4, b"other branch"));
            store.commit(batch).unwrap();
        }
        assert_eq!(store.evidence().unwrap().len(), 1);
        let mut batch = Batch::default();
        batch.ops.push(fork(author, 4, b"a third branch"));
        batch.ops.push(fork(author, 5, b"other branch"));
        store.commit(batch).unwrap();
        assert_eq!(store.evidence().unwrap().len(), 3);
    }

    #[test]
    fn a_snapshot_a_killed_process_left_unfinished_does_not_stop_the_store_opening() {
        let dir = tempfile::tempdir().unwrap();
        let author = NodeKey::from_seed([9; 32]).public();
        {
            let mut store = SledStore::open(dir.path()).unwrap();
            let mut batch = Batch::default();
            batch.ops.push(fork(author, 4, b"other branch"));
            store.commit(batch).unwrap();
        }
        // What a process killed while writing its closing snapshot leaves: an empty file
        // under the name sled writes a snapshot before renaming it, with a later position
        // than the finished one.
        let unfinished = dir.path().join("snap.7FFFFFFFFFFFFFFF.generating");
        std::fs::write(&unfinished, b"").unwrap();
        let refused = sled_config(dir.path()).open().err();
        assert!(
            refused.is_some(),
            "sled itself opened the store: this workaround may no longer be needed"
        );
        std::fs::write(&unfinished, b"").unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert!(!unfinished.exists());
        assert_eq!(
            store.evidence().unwrap().len(),
            1,
            "the committed row survives"
        );
    }

    #[test]
    fn a_second_open_of_a_held_store_waits_its_time_then_opens_once_let_go() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let held = SledStore::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let wait = std::time::Duration::from_millis(300);
        let second = SledStore::open_waiting(dir.path(), Some(wait)).unwrap();
        assert!(second.is_none(), "not opened while held");
        assert!(started.elapsed() >= wait);
        let once = SledStore::open_waiting(dir.path(), Some(std::time::Duration::ZERO)).unwrap();
        assert!(once.is_none());
        drop(held);
        let store = SledStore::open_waiting(dir.path(), Some(std::time::Duration::ZERO))
            .unwrap()
            .expect("opened once let go");
        drop(store);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join(OPEN_LOCK)), 0o600);
        let made = dir.path().join("made");
        drop(SledStore::open(&made).unwrap());
        assert_eq!(mode(&made), 0o700);
    }

    #[test]
    fn a_store_missing_writes_it_had_counted_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let author = NodeKey::from_seed([9; 32]).public();
        {
            let mut store = SledStore::open(dir.path()).unwrap();
            for seq in 1..=3 {
                let mut batch = Batch::default();
                batch.ops.push(fork(author, seq, b"other branch"));
                store.commit(batch).unwrap();
            }
        }
        let count = std::fs::read(dir.path().join(WRITES_FILE)).unwrap();
        assert_eq!(count, 3u64.to_be_bytes(), "every durable write is counted");
        drop(SledStore::open(dir.path()).expect("a store with all its writes opens"));
        // What sled does with a damaged log entry: it opens without it and what follows.
        std::fs::write(dir.path().join(WRITES_FILE), 5u64.to_be_bytes()).unwrap();
        let e = SledStore::open(dir.path()).err().expect("refused");
        let (path, missing, _) = parse_corrupt(&e).expect("a damaged-store error");
        assert_eq!(path, dir.path().display().to_string());
        assert_eq!(missing, Some(2));
    }

    #[test]
    fn store_errors_carry_no_terminal_colours() {
        let e = err("\u{1b}[31mERROR\u{1b}[0m Read corrupted data");
        assert_eq!(e.0, "ERROR Read corrupted data");
        let c = err(sled::Error::Corruption {
            at: None,
            bt: Default::default(),
        });
        assert_eq!(
            parse_corrupt(&c).map(|(p, m, _)| (p, m)),
            Some((String::new(), None))
        );
    }

    #[test]
    fn a_kept_shared_set_follows_every_commit_like_one_built_afresh() {
        use lingong_protocol::accept::accept_all;
        use lingong_protocol::author::{LocalAuthor, Target};
        use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
        use lingong_protocol::record::FieldValue;
        use lingong_protocol::region::RegionCode;
        use lingong_protocol::store::{MemoryStore, Staged};

        let code = |s: &str| RegionCode::parse(s).unwrap();
        let t0 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;
        let mut h = Hierarchy::new(3);
        let cfg = h.accept_config();
        let dir = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(dir.path()).unwrap();
        let (me, peer) = (Scope::new(code("522622")), Scope::new(code("522622101")));
        let fresh = |store: &SledStore| SharedSet::build(&me, &peer, &store.items().unwrap());
        for r in ["52", "5226", "522622"] {
            h.publish(&mut store, &code(r), t0);
        }
        let first = store.shared_set(me, peer).unwrap();
        assert_eq!(*first, fresh(&store));

        // Records the township shares and records it does not; one envelope arriving as a
        // header first and whole later (its payload filled).
        let mut elsewhere = MemoryStore::new();
        for r in ["522622101", "522622102"] {
            h.publish(&mut elsewhere, &code(r), t0 + 1000);
        }
        let rest: Vec<Envelope> = elsewhere.envelopes.values().cloned().collect();
        let (key, _) = h.node(&code("522622101"));
        let author = LocalAuthor { key: &key, cfg };
        let mut staged = Staged::new(&elsewhere);
        let target = Target::Create {
            kind: RecordKind::Post,
            reach: Some(code("522622101")),
        };
        let title = [("title", FieldValue::Text("采茶工".into()))];
        let last = author
            .write(&mut staged, target, &title, t0 + 1500)
            .unwrap();
        let accept = |store: &mut SledStore, envs: &[Envelope]| {
            let mut staged = Staged::new(&*store);
            for r in accept_all(&mut staged, &cfg, envs, t0 + 2000) {
                r.unwrap();
            }
            let batch = staged.into_batch();
            store.commit(batch).unwrap();
        };
        accept(&mut store, &rest);
        accept(&mut store, &[last.header_only()]);
        let middle = store.shared_set(me, peer).unwrap();
        let middle_built = fresh(&store);
        assert_eq!(*middle, middle_built);
        accept(&mut store, std::slice::from_ref(&last));
        let now = store.shared_set(me, peer).unwrap();
        assert_eq!(*now, fresh(&store));
        assert_ne!(*now, middle_built, "the filled payload changed the listing");
        assert!(now.len() > first.len());
        // A session still holding the earlier set keeps its snapshot.
        assert_eq!(*middle, middle_built);
    }

    #[test]
    fn a_kept_shared_set_after_an_erasure_dropped_bodies_is_the_one_built_afresh() {
        use lingong_protocol::accept::accept_all;
        use lingong_protocol::author::{LocalAuthor, Target};
        use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
        use lingong_protocol::record::FieldValue;
        use lingong_protocol::region::RegionCode;
        use lingong_protocol::schema::worker::erasure_edits;
        use lingong_protocol::store::{MemoryStore, Staged};

        let code = |s: &str| RegionCode::parse(s).unwrap();
        let t0 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;
        let mut h = Hierarchy::new(5);
        let cfg = h.accept_config();
        let mut village = MemoryStore::new();
        for r in ["52", "5226", "522622", "522622101", "522622101001"] {
            h.publish(&mut village, &code(r), t0);
        }
        let (key, _) = h.node(&code("522622101001"));
        let author = LocalAuthor { key: &key, cfg };
        let write = |store: &mut MemoryStore, target, edits: &[(&str, FieldValue)], at| {
            let mut staged = Staged::new(&*store);
            let env = author.write(&mut staged, target, edits, at).unwrap();
            let batch = staged.into_batch();
            store.commit(batch).unwrap();
            env
        };
        let target = Target::Create {
            kind: RecordKind::Worker,
            reach: None,
        };
        let fields = [
            ("name", FieldValue::Text("杨秀英".into())),
            ("region", FieldValue::Text("522622101001".into())),
        ];
        let registered = write(&mut village, target, &fields, t0 + 1000);
        let record = registered.header.record;
        let view = village.record(&record).unwrap().unwrap().view;
        let edits = erasure_edits(&view, "2026-12-07T10:00:00+08:00", "本人申请");
        let erasure = write(&mut village, Target::Edit(record), &edits, t0 + 2000);

        let dir = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(dir.path()).unwrap();
        let (me, peer) = (
            Scope::new(code("522622101")),
            Scope::new(code("522622101001")),
        );
        let accept = |store: &mut SledStore, envs: &[Envelope]| {
            let mut staged = Staged::new(&*store);
            for r in accept_all(&mut staged, &cfg, envs, t0 + 3000) {
                r.unwrap();
            }
            let batch = staged.into_batch();
            store.commit(batch).unwrap();
        };
        let mut held: Vec<Envelope> = village
            .envelopes
            .values()
            .filter(|e| e.header.record != record)
            .cloned()
            .collect();
        held.push(registered.clone());
        accept(&mut store, &held);
        let before = store.shared_set(me, peer).unwrap();
        accept(&mut store, std::slice::from_ref(&erasure));
        assert_eq!(store.has_envelope(&registered.id()).unwrap(), Some(false));
        let after = store.shared_set(me, peer).unwrap();
        assert_eq!(
            *after,
            SharedSet::build(&me, &peer, &store.items().unwrap())
        );
        assert_ne!(after.fingerprint(), before.fingerprint());
    }
}
