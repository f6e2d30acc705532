//! The store's format version and the migrations that bring an older store up to it.
//!
//! Every store carries its format version under the key [`FORMAT_KEY`] of its sled tree
//! (`V`, a u32 big-endian). [`crate::store::SledStore::open_waiting`] calls [`upgrade`] under
//! the store's lock, before anything else reads the store:
//!
//! - a new, empty store gets [`FORMAT`] and nothing else happens;
//! - a store without the key was written by a release before format versions existed: it is
//!   format 1 ([`UNVERSIONED`]), the layout those releases wrote;
//! - a store of [`FORMAT`] opens as it is;
//! - a store of a newer format is refused, naming both versions and saying to install the
//!   newer lingong; nothing is written to it;
//! - a store of an older format is migrated: first the whole store folder is copied to
//!   `store.backup-v<N>-<UTC date>` beside it (0700, files 0600, made under a `.partial` name
//!   and renamed once complete and synced, so a half-made copy never carries the final name;
//!   a copy an interrupted earlier attempt finished the same day is kept, not overwritten),
//!   then each [`Step`] above the store's version runs in order, and after each step's own
//!   writes are flushed its version key is written and flushed: the version key is always
//!   the last write of a step.
//!
//! Architecture invariant: a kill -9 at any point of a migration leaves a store that opens:
//! either at its old version (the step runs again at the next open, so every step must be
//! idempotent over its own partial output) or at the version of the last step that finished.
//! Nothing of a store is changed before its backup copy exists.
//!
//! A step either changes rows in place ([`Run::InPlace`]) or rewrites the whole store
//! ([`Run::Rewrite`], format 2 → 3: sled's compression, which sled lets no store change): the
//! rows are written once, in key order, into a fresh store beside the old one, and
//! [`finish_rewrite`] swaps the two folders (one `renameat2(RENAME_EXCHANGE)`) only while the
//! old store's write count is still the one the rewrite was made from, then removes the old
//! folder (its copy is the backup). The format is also written as text to [`FORMAT_FILE`], so
//! that [`pending`] (`lingong doctor`) can tell a migration is due without opening sled.
//!
//! Adding a format: append a [`Step`] to [`STEPS`] with `to` one above the last and raise
//! [`FORMAT`] (a test checks they agree); keep the step re-runnable, and add the store a
//! release of the previous format wrote as a fixture under `tests/fixtures/`.
//!
//! Before the backup copy, the free space of the filesystem the copy goes to is checked
//! ([`check_space`]): it must hold the store's size plus a margin ([`margin`]: a tenth of the
//! store, at least 64 MiB, for the store's own growth during the steps; [`MARGIN_ENV`]
//! overrides it in bytes). Otherwise the migration is refused, naming how much is needed and
//! how much is free, and nothing is written.
//!
//! For the upgrade test only: when the environment variable [`ABORT_ENV`] is set, the process
//! kills itself with SIGKILL (`kill -KILL <pid>`; `abort` if that fails) after the first
//! step's writes and before its version key, the worst moment for a power cut
//! (`tests/tests/upgrade.rs`).

use crate::store::err;
use lingong_protocol::canon::sha256;
use lingong_protocol::store::{Evidence, StoreError};
use std::path::{Path, PathBuf};

/// The store format this release writes.
pub const FORMAT: u32 = 3;

/// The format of a store that carries no version key: the layout every release before format
/// versions wrote.
pub const UNVERSIONED: u32 = 1;

/// The key of the format version in the store's tree (u32 big-endian).
pub const FORMAT_KEY: &[u8] = b"V";

/// The file beside sled's holding the format version as text, written after the key (format
/// 3 on): what [`pending`] reads, since opening sled writes to its files. The key decides at
/// open; the file only informs.
pub const FORMAT_FILE: &str = "lingong.format";

/// Set in the environment, makes the process abort in the middle of a migration (tests only).
pub const ABORT_ENV: &str = "LINGONG_TEST_ABORT_IN_MIGRATION";

/// Set in the environment to a number of bytes, replaces the free-space margin a migration
/// asks for beyond the store's own size ([`margin`]).
pub const MARGIN_ENV: &str = "LINGONG_MIGRATION_SPACE_MARGIN";

/// The least margin of free space a migration asks for beyond the store's size.
const MIN_MARGIN: u64 = 64 << 20;

/// One migration step: brings a store of format `to - 1` to format `to`.
pub struct Step {
    /// The format the store has once the step ran.
    pub to: u32,
    /// What the step does, for the log.
    pub what: &'static str,
    /// How the step runs.
    pub run: Run,
}

/// How a [`Step`] changes the store.
pub enum Run {
    /// Changes rows of the store's own tree; re-runnable over its own partial output (a kill
    /// may cut it anywhere). Its version key is written once its writes are flushed.
    InPlace(fn(&sled::Tree) -> Result<(), StoreError>),
    /// Writes every row, in key order, into a fresh store of the current layout
    /// ([`crate::store::sled_config`]: a store sled makes new) beside the store, its version
    /// key the step's, which then replaces the store ([`finish_rewrite`]). Sled's layout
    /// (compression, segment size) can only change this way: sled refuses to open a store
    /// with another layout than the one it was made with. The store is reopened after it.
    Rewrite,
}

/// The migrations, in order.
pub const STEPS: &[Step] = &[
    Step {
        to: 2,
        what: "evidence rows keyed by a counter re-keyed by author, sequence number and branch; \
               indexes and counters rebuilt from the records",
        run: Run::InPlace(v1_to_v2),
    },
    Step {
        to: 3,
        what: "every row written once, in key order, into a fresh store whose pages sled \
               compresses with zstd (its log rewritten without the garbage of old pages)",
        run: Run::Rewrite,
    },
];

/// What [`upgrade`] leaves the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Upgraded {
    /// The store is at [`FORMAT`]: go on with it.
    Ready,
    /// A [`Run::Rewrite`] step made the store's replacement: close the store (sled's files
    /// included) and open it again; the open swaps the replacement in ([`finish_rewrite`])
    /// and runs any step left.
    Reopen,
}

/// Format 1 → 2. Stores written before fork evidence was keyed by author, sequence number and
/// the other branch (26 November 2026) hold `x` rows keyed by a counter (9 bytes), which the
/// fork-point lookup cannot read; they are re-keyed from their own content. And the indexes
/// and counters are dropped (their version key `I` removed) so that the store rebuilds them
/// from the records once this returns (`SledStore::ensure_indexes`): whatever an older
/// release left there, the format-2 store starts with indexes that agree with its records.
fn v1_to_v2(tree: &sled::Tree) -> Result<(), StoreError> {
    const NEW_EVIDENCE_KEY: usize = 1 + 32 + 8 + 32;
    let mut b = sled::Batch::default();
    for row in tree.scan_prefix([b'x']) {
        let (k, v) = row.map_err(err)?;
        if k.len() == NEW_EVIDENCE_KEY {
            continue;
        }
        let e: Evidence = postcard::from_bytes(&v).map_err(err)?;
        let other = sha256(e.envelopes.last().map_or(&[][..], Vec::as_slice));
        let mut new_key = Vec::with_capacity(NEW_EVIDENCE_KEY);
        new_key.push(b'x');
        new_key.extend_from_slice(&e.author.0);
        new_key.extend_from_slice(&e.seq.to_be_bytes());
        new_key.extend_from_slice(&other);
        b.insert(new_key, v);
        b.remove(k);
    }
    b.remove(crate::index::VERSION_KEY);
    tree.apply_batch(b).map_err(err)
}

/// The format version a store's tree carries (`None`: no key).
pub fn stored_format(tree: &sled::Tree) -> Result<Option<u32>, StoreError> {
    match tree.get(FORMAT_KEY).map_err(err)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 4] = v.as_ref().try_into().map_err(|_| {
                StoreError(format!(
                    "the store's format key holds {} bytes, not 4 / 存储的格式版本键长度为 {} \
                     字节，应为 4",
                    v.len(),
                    v.len()
                ))
            })?;
            Ok(Some(u32::from_be_bytes(bytes)))
        }
    }
}

/// The refusal of a store written by a newer release.
fn newer(dir: &Path, found: u32, known: u32) -> StoreError {
    let dir = dir.display();
    StoreError(format!(
        "the store {dir} has format {found}, newer than the format this lingong reads \
         ({known}): it was written by a newer release of lingong; install that release or a \
         later one (nothing was changed) / 存储 {dir} 的格式版本为 {found}，比本程序能读取的\
         版本 {known} 新：它由较新版本的 lingong 写入，请安装该版本或更新版本的 lingong\
         （存储未作任何改动）"
    ))
}

/// Brings the store in `dir` (its sled `db` and tree) to [`FORMAT`], or refuses it (see the
/// module documentation). Called with the store's lock held, before anything reads it.
pub(crate) fn upgrade(
    dir: &Path,
    db: &sled::Db,
    tree: &sled::Tree,
) -> Result<Upgraded, StoreError> {
    upgrade_with(dir, db, tree, STEPS, crate::station::now_ms())
}

fn write_format(dir: &Path, db: &sled::Db, tree: &sled::Tree, v: u32) -> Result<(), StoreError> {
    tree.insert(FORMAT_KEY, &v.to_be_bytes()[..]).map_err(err)?;
    db.flush().map_err(err)?;
    write_format_file(dir, v)
}

/// Writes [`FORMAT_FILE`] in `dir` unless it already says `v`.
fn write_format_file(dir: &Path, v: u32) -> Result<(), StoreError> {
    let text = format!("{v}\n");
    if std::fs::read(dir.join(FORMAT_FILE)).ok().as_deref() != Some(text.as_bytes()) {
        write_synced(&dir.join(FORMAT_FILE), text.as_bytes()).map_err(err)?;
    }
    Ok(())
}

fn upgrade_with(
    dir: &Path,
    db: &sled::Db,
    tree: &sled::Tree,
    steps: &[Step],
    now_ms: i64,
) -> Result<Upgraded, StoreError> {
    let target = steps.last().map_or(UNVERSIONED, |s| s.to);
    let found = match stored_format(tree)? {
        Some(v) => v,
        None if tree.is_empty() => {
            return write_format(dir, db, tree, target).map(|()| Upgraded::Ready);
        }
        None => UNVERSIONED,
    };
    if found == target {
        write_format_file(dir, target)?;
        return Ok(Upgraded::Ready);
    }
    if found > target {
        return Err(newer(dir, found, target));
    }
    db.flush().map_err(err)?;
    if !backup_path(dir, found, now_ms).is_dir() {
        let size = folder_size(dir).map_err(err)?;
        let free = free_space(dir).map_err(err)?;
        check_space(dir, size, steps_margin(steps, found, size), free)?;
    }
    let backup = backup(dir, found, now_ms)?;
    tracing::warn!(
        store = %dir.display(),
        backup = %backup.display(),
        "migrating the store from format {found} to {target}; a copy of it as it was is in \
         {} / 正在把存储从格式 {found} 迁移到 {target}；迁移前的副本在 {}",
        backup.display(),
        backup.display()
    );
    for step in steps.iter().filter(|s| s.to > found) {
        tracing::info!(to = step.to, "migration step: {}", step.what);
        match step.run {
            Run::InPlace(run) => {
                run(tree)?;
                db.flush().map_err(err)?;
                abort_if_asked();
                write_format(dir, db, tree, step.to)?;
            }
            Run::Rewrite => {
                rewrite(dir, db, step.to)?;
                abort_if_asked();
                tracing::info!(
                    store = %dir.display(),
                    "the store's rewrite at format {} is complete; it replaces the store now \
                     / 存储已按格式 {} 重写完毕，现在替换原存储",
                    step.to,
                    step.to
                );
                return Ok(Upgraded::Reopen);
            }
        }
    }
    tracing::warn!(
        store = %dir.display(),
        "the store is now format {target} (the copy of format {found} stays in {}; remove it \
         once the node runs well) / 存储已迁移到格式 {target}（格式 {found} 的副本保留在 {}，\
         确认节点运行正常后可删除）",
        backup.display(),
        backup.display()
    );
    Ok(Upgraded::Ready)
}

/// For the upgrade test only ([`ABORT_ENV`]): a real kill -9 of this process after a step's
/// writes and before its version key (or, for a rewrite, before the swap).
fn abort_if_asked() {
    if std::env::var_os(ABORT_ENV).is_some() {
        tracing::error!("{ABORT_ENV} is set: killing this process in the middle of the migration");
        // A real kill -9 of this process (no unsafe code here to raise it directly).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}

/// The folder a [`Run::Rewrite`] writes the replacement of the store `dir` in, beside it
/// (`.partial` appended while it is written).
pub fn rewrite_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.rewrite"))
}

/// The file in a finished rewrite holding the store's write count ([`crate::store::WRITES_FILE`])
/// the rewrite was made from: the rewrite replaces the store only if the store still has that
/// count (no process wrote to it since). Removed once the swap is done.
const REWRITTEN: &str = "lingong.rewritten";

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    p.with_file_name(name)
}

/// Writes every row of `db` into a fresh store at [`rewrite_path`] (made under a `.partial`
/// name, renamed once complete and synced), with the format key `to` (see [`Run::Rewrite`]).
fn rewrite(dir: &Path, db: &sled::Db, to: u32) -> Result<(), StoreError> {
    rewrite_into(dir, db, to, None, &mut |_| {}).map(|_| ())
}

/// What a store holds, row by row: how many rows each sled tree has and one SHA-256 over
/// every tree's name and every row's key and value in key order. Two stores with the same
/// tally hold the same rows, whatever their files look like (`lingong compact` checks the
/// store it made against the one it read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows per sled tree (by the tree's name; sled's default tree included).
    pub rows: std::collections::BTreeMap<String, u64>,
    /// SHA-256 over every tree's name and rows, each part length-prefixed.
    pub digest: [u8; 32],
}

impl Tally {
    /// Every row of every tree of `db`, `progress` told the rows read so far every 10,000.
    pub fn of(db: &sled::Db, progress: &mut dyn FnMut(u64)) -> Result<Tally, StoreError> {
        let mut counting = Counting::default();
        for name in db.tree_names() {
            let tree = db.open_tree(&name).map_err(err)?;
            counting.tree(&name);
            for row in tree.iter() {
                let (k, v) = row.map_err(err)?;
                counting.row(&k, &v, progress);
            }
        }
        Ok(counting.finish())
    }

    /// Rows in all trees.
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// A [`Tally`] being made, a row at a time.
#[derive(Default)]
struct Counting {
    hash: sha2::Sha256,
    rows: std::collections::BTreeMap<String, u64>,
    current: String,
    seen: u64,
}

impl Counting {
    fn part(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hash.update((bytes.len() as u64).to_be_bytes());
        self.hash.update(bytes);
    }
    fn tree(&mut self, name: &[u8]) {
        self.part(name);
        self.current = String::from_utf8_lossy(name).into_owned();
        self.rows.entry(self.current.clone()).or_default();
    }
    fn row(&mut self, k: &[u8], v: &[u8], progress: &mut dyn FnMut(u64)) {
        self.part(k);
        self.part(v);
        *self.rows.entry(self.current.clone()).or_default() += 1;
        self.seen += 1;
        if self.seen.is_multiple_of(10_000) {
            progress(self.seen);
        }
    }
    fn finish(self) -> Tally {
        use sha2::Digest;
        Tally {
            rows: self.rows,
            digest: self.hash.finalize().into(),
        }
    }
}

/// The file in a finished rewrite naming (its file name, beside the store) where the store
/// it replaces goes once swapped, instead of being removed: `lingong compact` keeps the old
/// store until it has opened and checked the new one. Removed once the old folder moved.
const KEEP_OLD: &str = "lingong.keep-old";

/// Rows the rewrite writes between two flushes of the fresh store. sled 0.34 logs every
/// insert and reuses a segment of its log only once what it holds is stable on disk and dead
/// (or cleaned): written in key order with one flush at the end, the store's rows take 3,893
/// bytes per post of the `store_size` bench (20,000 posts), with a flush every 1,000 rows
/// 3,146, every 100 1,390, every 13 (one post's rows) 1,337, every 6 1,390, against 1,312 for
/// the store as its commits wrote it (docs/figures.md, "Store size").
pub const REWRITE_ROWS_PER_FLUSH: usize = 13;

/// [`rewrite`], telling `progress` the rows written so far (every 10,000), and returning
/// the [`Tally`] of what it read (the rows as read, before the format key `to` is written:
/// equal to the new store's when the store already had format `to`). With `keep_old`, the
/// swap ([`finish_rewrite`]) moves the replaced store there (a folder beside the store)
/// instead of removing it.
pub(crate) fn rewrite_into(
    dir: &Path,
    db: &sled::Db,
    to: u32,
    keep_old: Option<&Path>,
    progress: &mut dyn FnMut(u64),
) -> Result<Tally, StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    let done = rewrite_path(dir);
    let partial = with_suffix(&done, ".partial");
    for stale in [&partial, &done] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(err)?;
        }
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&partial)
        .map_err(err)?;
    let mut counting = Counting::default();
    {
        let copy = crate::store::sled_config(&partial).open().map_err(err)?;
        for name in db.tree_names() {
            let (from, into) = (
                db.open_tree(&name).map_err(err)?,
                copy.open_tree(&name).map_err(err)?,
            );
            counting.tree(&name);
            let mut batch = sled::Batch::default();
            for (i, row) in from.iter().enumerate() {
                let (k, v) = row.map_err(err)?;
                counting.row(&k, &v, progress);
                batch.insert(k, v);
                if i % REWRITE_ROWS_PER_FLUSH == REWRITE_ROWS_PER_FLUSH - 1 {
                    into.apply_batch(std::mem::take(&mut batch)).map_err(err)?;
                    copy.flush().map_err(err)?;
                }
            }
            into.apply_batch(batch).map_err(err)?;
        }
        copy.open_tree("lingong")
            .map_err(err)?
            .insert(FORMAT_KEY, &to.to_be_bytes()[..])
            .map_err(err)?;
        copy.flush().map_err(err)?;
    }
    let writes = std::fs::read(dir.join(crate::store::WRITES_FILE)).unwrap_or_default();
    for name in [crate::store::WRITES_FILE, REWRITTEN] {
        write_synced(&partial.join(name), &writes).map_err(err)?;
    }
    if let Some(keep) = keep_old {
        let name = keep.file_name().unwrap_or_default().to_string_lossy();
        write_synced(&partial.join(KEEP_OLD), name.as_bytes()).map_err(err)?;
    }
    write_format_file(&partial, to)?;
    restrict(&partial).map_err(err)?;
    std::fs::rename(&partial, &done).map_err(err)?;
    sync_parent(&done).map_err(err)?;
    Ok(counting.finish())
}

/// The store folder `old` that a swap replaced (beside the store `dir`): moved to the
/// folder the swapped-in store's [`KEEP_OLD`] names (then that file goes), or removed.
fn dispose_old(dir: &Path, old: &Path) -> Result<(), StoreError> {
    let keep = std::fs::read_to_string(dir.join(KEEP_OLD)).ok();
    match keep.filter(|k| !k.is_empty() && !k.contains('/')) {
        Some(name) => {
            let target = dir.with_file_name(name);
            if target.exists() {
                std::fs::remove_dir_all(old).map_err(err)?;
            } else {
                std::fs::rename(old, &target).map_err(err)?;
            }
            sync_parent(dir).map_err(err)?;
            std::fs::remove_file(dir.join(KEEP_OLD)).map_err(err)?;
        }
        None => std::fs::remove_dir_all(old).map_err(err)?,
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_parent(p: &Path) -> std::io::Result<()> {
    match p.parent() {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// Folders under `dir` (and it) 0700, files 0600, each synced: a store holds clear ID numbers.
fn restrict(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            restrict(&entry.path())?;
        } else {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Finishes or discards what a [`Run::Rewrite`] left beside the store `dir`; called by every
/// open with the store's lock held, before sled opens it, and again after a rewrite step
/// (sled's files of the store closed). Returns the lock of the store's folder when the
/// folder was replaced (the caller holds it instead of the old one).
///
/// - a `.partial` rewrite was cut by a kill: removed (the step runs again);
/// - a finished rewrite made from the store's current write count replaces the store:
///   the two folders are exchanged in one `renameat2(RENAME_EXCHANGE)` (on a filesystem
///   without it: two renames, the second finished at the next open if a kill falls between
///   them), then the old folder (its copy is the migration's backup) is removed;
/// - a finished rewrite of a store written since (an older release ran on it): removed;
/// - the old folder left by a swap a kill cut short of its removal: removed.
pub(crate) fn finish_rewrite(dir: &Path) -> Result<Option<std::fs::File>, StoreError> {
    let done = rewrite_path(dir);
    let partial = with_suffix(&done, ".partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(err)?;
    }
    if !done.exists() {
        for name in [REWRITTEN, KEEP_OLD] {
            if dir.join(name).exists() {
                std::fs::remove_file(dir.join(name)).map_err(err)?;
            }
        }
        return Ok(None);
    }
    let made_from = std::fs::read(done.join(REWRITTEN)).ok();
    let current = std::fs::read(dir.join(crate::store::WRITES_FILE)).unwrap_or_default();
    if made_from.as_ref() != Some(&current) {
        // Either the old folder a swap left (kept if the store says so), or a rewrite of an
        // older state of the store.
        dispose_old(dir, &done)?;
        if dir.join(REWRITTEN).exists() {
            std::fs::remove_file(dir.join(REWRITTEN)).map_err(err)?;
        }
        return Ok(None);
    }
    wait_for_sled_to_let_go(dir)?;
    let lock = crate::store::lock_file(&done).map_err(err)?;
    if lock.try_lock().is_err() {
        return Err(StoreError(format!(
            "another process holds the lock of {} / 另一个进程持有 {} 的锁",
            done.display(),
            done.display()
        )));
    }
    exchange(dir, &done).map_err(err)?;
    sync_parent(dir).map_err(err)?;
    dispose_old(dir, &done)?;
    sync_parent(dir).map_err(err)?;
    std::fs::remove_file(dir.join(REWRITTEN)).map_err(err)?;
    tracing::warn!(
        store = %dir.display(),
        "the rewritten store is in place / 重写后的存储已就位"
    );
    Ok(Some(lock))
}

/// Undoes a swap [`finish_rewrite`] made with a kept old store: the store folder `dir` (the
/// rewrite, closed) and the folder `kept` (the store it replaced) are exchanged back under the
/// store's lock, and the rewrite, now in `kept`, is removed. `lingong compact` calls it when the
/// swapped-in store came out larger than the one it replaced. Returns false, changing nothing,
/// when another process holds the store (then both folders stay where they are).
pub(crate) fn swap_back(dir: &Path, kept: &Path) -> Result<bool, StoreError> {
    let lock = crate::store::lock_file(dir).map_err(err)?;
    if lock.try_lock().is_err() {
        return Ok(false);
    }
    wait_for_sled_to_let_go(dir)?;
    exchange(dir, kept).map_err(err)?;
    sync_parent(dir).map_err(err)?;
    drop(lock);
    std::fs::remove_dir_all(kept).map_err(err)?;
    sync_parent(dir).map_err(err)?;
    Ok(true)
}

/// Waits (up to [`crate::store::LOCK_WAIT`]) until no sled of this process still holds the
/// store `dir`'s data file: sled lets it go a moment after its last handle is dropped.
fn wait_for_sled_to_let_go(dir: &Path) -> Result<(), StoreError> {
    let Ok(file) = std::fs::File::options()
        .read(true)
        .write(true)
        .open(dir.join("db"))
    else {
        return Ok(());
    };
    let deadline = std::time::Instant::now() + crate::store::LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(e) => return Err(err(e)),
        }
    }
}

/// Swaps the folders `a` and `b` (both exist) atomically where the filesystem can.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            let aside = with_suffix(b, ".old");
            std::fs::rename(a, &aside)?;
            std::fs::rename(b, a)?;
            std::fs::rename(&aside, b)
        }
        Err(e) => Err(e.into()),
    }
}

/// Puts back the store folder `dir` when a swap on a filesystem without an atomic exchange
/// was cut between its renames (`dir` missing, its replacement and the old folder beside
/// it). Called before the store's folder is made or locked.
pub(crate) fn finish_cut_swap(dir: &Path) -> Result<(), StoreError> {
    let done = rewrite_path(dir);
    let aside = with_suffix(&done, ".old");
    if !dir.exists() && done.join(REWRITTEN).exists() {
        std::fs::rename(&done, dir).map_err(err)?;
        std::fs::rename(&aside, &done).map_err(err)?;
        sync_parent(dir).map_err(err)?;
    }
    Ok(())
}

/// A migration the store is due for, as [`pending`] finds it without changing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The store's format, when known without opening it (`None`: a store sled does not
    /// compress and without [`FORMAT_FILE`]: format 1 or 2, known at open).
    pub found: Option<u32>,
    /// The format the next open brings it to ([`FORMAT`]).
    pub target: u32,
    /// The store's bytes on disk.
    pub store_bytes: u64,
    /// The free space the migration asks for (its copy, a rewrite, the margin; [`margin`]).
    pub needed: u64,
    /// The free space there now.
    pub free: u64,
}

/// What [`pending`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// The store is at [`FORMAT`] (or new, or not telling without being opened): nothing to
    /// migrate as far as can be seen.
    Nothing,
    /// The next open migrates it (after a backup copy).
    Migration(Pending),
    /// The store is of a newer format: every open refuses it.
    Newer(u32),
    /// Another process holds the store: not known now.
    Held,
}

/// Whether the store in `dir` is due for a migration, read without opening sled (which
/// writes to its files) and without writing anything (`lingong doctor` without a daemon):
/// one try of the store's lock, then [`FORMAT_FILE`], or, without it, sled's own `conf`: a
/// store sled does not compress was written before format 3.
pub fn pending(dir: &Path) -> Result<Due, StoreError> {
    if !dir.join("db").exists() {
        return Ok(Due::Nothing);
    }
    // No lock file: no process holds the store (one that does made it); none is made here.
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.join(crate::store::OPEN_LOCK))
        .ok();
    if lock.as_ref().is_some_and(|l| l.try_lock().is_err()) {
        return Ok(Due::Held);
    }
    let from_file = std::fs::read_to_string(dir.join(FORMAT_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    let found = match from_file {
        Some(v) if v > FORMAT => return Ok(Due::Newer(v)),
        Some(v) if v == FORMAT => return Ok(Due::Nothing),
        Some(v) => Some(v),
        None => match crate::store::persisted_layout(dir) {
            Some(layout) if !layout.compressed => None,
            _ => return Ok(Due::Nothing),
        },
    };
    let store_bytes = folder_size(dir).map_err(err)?;
    let from = found.unwrap_or(UNVERSIONED);
    let needed = store_bytes.saturating_add(steps_margin(STEPS, from, store_bytes));
    Ok(Due::Migration(Pending {
        found,
        target: FORMAT,
        store_bytes,
        needed,
        free: free_space(dir).map_err(err)?,
    }))
}

/// The free space the steps above `found` ask for beyond the backup copy of a store of
/// `store_bytes`: the [`margin`], and the store's size once more if one of them rewrites it
/// (the rewrite is compressed, so smaller: counted whole all the same).
fn steps_margin(steps: &[Step], found: u32, store_bytes: u64) -> u64 {
    let rewrites = steps
        .iter()
        .any(|s| s.to > found && matches!(s.run, Run::Rewrite));
    margin(store_bytes).saturating_add(if rewrites { store_bytes } else { 0 })
}

/// The free space a migration asks for beyond the store's size `store_bytes`: a tenth of
/// it, at least 64 MiB, or the number of bytes [`MARGIN_ENV`] holds.
pub fn margin(store_bytes: u64) -> u64 {
    std::env::var(MARGIN_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or((store_bytes / 10).max(MIN_MARGIN))
}

/// Refuses a migration of the store `dir` (`store_bytes` on disk) when `free` bytes are less
/// than the store's size plus `margin`: the backup copy and the steps' writes would fill the
/// disk. Names how much is needed and how much is free, in English and Chinese.
pub fn check_space(dir: &Path, store_bytes: u64, margin: u64, free: u64) -> Result<(), StoreError> {
    const MIGRATION: Doing = Doing {
        verb: "migrate",
        verb_zh: "迁移",
        needs: "the copy made first and the migration need",
        needs_zh: "迁移前的副本和迁移本身需要",
    };
    check_space_to(&MIGRATION, dir, store_bytes, margin, free)
}

/// What asks for disk space in [`check_space_to`]'s refusal.
pub struct Doing {
    /// The verb: "migrate" (the store).
    pub verb: &'static str,
    /// The verb in Chinese.
    pub verb_zh: &'static str,
    /// What needs the room: "the copy made first and the migration need".
    pub needs: &'static str,
    /// The same in Chinese.
    pub needs_zh: &'static str,
}

/// [`check_space`] for any work `doing` on the store `dir` that needs its size plus `margin`.
pub fn check_space_to(
    doing: &Doing,
    dir: &Path,
    store_bytes: u64,
    margin: u64,
    free: u64,
) -> Result<(), StoreError> {
    let needed = store_bytes.saturating_add(margin);
    if free >= needed {
        return Ok(());
    }
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let (needed, free, size) = (mb(needed), mb(free), mb(store_bytes));
    let dir = dir.display();
    let Doing {
        verb,
        verb_zh,
        needs,
        needs_zh,
    } = doing;
    Err(StoreError(format!(
        "not enough free disk space to {verb} the store {dir}: {needs} {needed} (the store's \
         {size} plus a margin), and only {free} is free there; nothing was changed: free some \
         disk space and start again / 磁盘空间不足，无法{verb_zh}存储 {dir}：{needs_zh} {needed}\
         （存储的 {size} 加上余量），该处只有 {free} 可用；存储未作改动：请腾出磁盘空间后重试"
    )))
}

/// Bytes of the files under `dir`, as they take on disk (blocks allocated).
pub(crate) fn folder_size(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            folder_size(&entry.path())?
        } else {
            meta.blocks().saturating_mul(512)
        };
    }
    Ok(total)
}

/// Bytes free for an unprivileged user on the filesystem holding `dir`.
pub(crate) fn free_space(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The backup folder of the store `dir` at format `version` on the UTC day of `now_ms`.
pub fn backup_path(dir: &Path, version: u32, now_ms: i64) -> PathBuf {
    let day = &lingong_protocol::dates::rfc3339(now_ms)[..10];
    let name = dir
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.backup-v{version}-{day}"))
}

/// Copies the store folder `dir` to its backup folder ([`backup_path`]) unless a finished
/// copy of the same version and day is already there; returns the folder.
fn backup(dir: &Path, version: u32, now_ms: i64) -> Result<PathBuf, StoreError> {
    let target = backup_path(dir, version, now_ms);
    if target.is_dir() {
        tracing::warn!(
            backup = %target.display(),
            "keeping the copy an earlier, interrupted migration made / 保留先前中断的迁移已做的副本"
        );
        return Ok(target);
    }
    let partial = target.with_file_name(format!(
        "{}.partial",
        target.file_name().unwrap_or_default().to_string_lossy()
    ));
    let failed = |e: std::io::Error, what: &Path| {
        StoreError(format!(
            "could not copy the store to {} before migrating it ({e}); nothing was changed: \
             free some disk space and start again / 迁移前无法把存储复制到 {}（{e}）；存储未作\
             改动：请腾出磁盘空间后重试",
            what.display(),
            what.display()
        ))
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| failed(e, &partial))?;
    }
    if let Err(e) = copy_dir(dir, &partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(failed(e, &partial));
    }
    std::fs::rename(&partial, &target).map_err(|e| failed(e, &target))?;
    if let Some(parent) = target.parent() {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| failed(e, parent))?;
    }
    Ok(target)
}

/// Copies the folder `from` to `to` (folders 0700, files 0600, each file synced; not the
/// lock file).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != crate::store::OPEN_LOCK {
            let mut src = std::fs::File::open(entry.path())?;
            let mut dst = std::fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&target)?;
            std::io::copy(&mut src, &mut dst)?;
            dst.sync_all()?;
        }
    }
    std::fs::File::open(to)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;
    use lingong_protocol::keys::NodeKey;

    fn open_raw(dir: &Path) -> (sled::Db, sled::Tree) {
        let db = crate::store::sled_config(dir).open().unwrap();
        let tree = db.open_tree("lingong").unwrap();
        (db, tree)
    }

    #[test]
    fn the_last_step_is_the_current_format() {
        assert_eq!(STEPS.last().unwrap().to, FORMAT);
        for (i, s) in STEPS.iter().enumerate() {
            assert_eq!(
                s.to,
                UNVERSIONED + 1 + i as u32,
                "steps go one format at a time"
            );
        }
    }

    #[test]
    fn a_new_store_is_written_at_the_current_format_without_a_backup() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("store");
        drop(SledStore::open(&dir).unwrap());
        let (_db, tree) = open_raw(&dir);
        assert_eq!(stored_format(&tree).unwrap(), Some(FORMAT));
        let names: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the store folder");
    }

    #[test]
    fn an_old_evidence_row_is_rekeyed_and_the_store_migrated_after_a_backup() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("store");
        drop(SledStore::open(&dir).unwrap());
        let author = NodeKey::from_seed([3; 32]).public();
        let evidence = Evidence {
            kind: "fork".into(),
            author,
            seq: 7,
            envelopes: vec![b"held".to_vec(), b"other".to_vec()],
            detail: "two envelopes signed with sequence number 7".into(),
        };
        {
            // What a release before format versions wrote: no `V`, evidence under a counter.
            let (db, tree) = open_raw(&dir);
            tree.remove(FORMAT_KEY).unwrap();
            let mut old = vec![b'x'];
            old.extend_from_slice(&5u64.to_be_bytes());
            tree.insert(old, postcard::to_allocvec(&evidence).unwrap())
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(store.evidence().unwrap(), vec![evidence]);
        use lingong_protocol::store::Store;
        assert_eq!(store.fork_point(&author).unwrap(), Some(7));
        drop(store);
        let backup = backup_path(&dir, 1, crate::station::now_ms());
        assert!(backup.is_dir(), "backup at {}", backup.display());
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&backup), 0o700);
        for f in std::fs::read_dir(&backup).unwrap() {
            let f = f.unwrap();
            if f.file_type().unwrap().is_file() {
                assert_eq!(mode(&f.path()), 0o600, "{}", f.path().display());
            }
        }
        // The backup is the store as it was: format 1, the old row.
        let (_db, tree) = open_raw(&backup);
        assert_eq!(stored_format(&tree).unwrap(), None);
        assert_eq!(tree.scan_prefix([b'x']).next().unwrap().unwrap().0.len(), 9);
        let (_db, tree) = open_raw(&dir);
        assert_eq!(stored_format(&tree).unwrap(), Some(FORMAT));
    }

    #[test]
    fn an_uncompressed_store_of_format_2_is_rewritten_compressed_after_a_backup() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("store");
        let author = NodeKey::from_seed([4; 32]).public();
        let evidence = Evidence {
            kind: "fork".into(),
            author,
            seq: 3,
            envelopes: vec![b"held".to_vec(), b"other".to_vec()],
            detail: "two envelopes signed with sequence number 3".into(),
        };
        {
            // What format 2 wrote: sled's pages uncompressed, the key 2.
            let db = crate::store::sled_config(&dir)
                .use_compression(false)
                .open()
                .unwrap();
            let tree = db.open_tree("lingong").unwrap();
            let mut key = vec![b'x'];
            key.extend_from_slice(&author.0);
            key.extend_from_slice(&3u64.to_be_bytes());
            key.extend_from_slice(&sha256(b"other"));
            tree.insert(key, postcard::to_allocvec(&evidence).unwrap())
                .unwrap();
            tree.insert(FORMAT_KEY, &2u32.to_be_bytes()[..]).unwrap();
            db.flush().unwrap();
        }
        let layout = |d: &Path| crate::store::persisted_layout(d).map(|l| l.compressed);
        assert_eq!(layout(&dir), Some(false));
        // Found without changing anything; the space asked for counts the rewrite.
        let size = folder_size(&dir).unwrap();
        match pending(&dir).unwrap() {
            Due::Migration(p) => {
                assert_eq!((p.found, p.target, p.store_bytes), (None, FORMAT, size));
                assert_eq!(p.needed, 2 * size + margin(size));
                assert!(p.free > 0);
            }
            other => panic!("a migration is due: {other:?}"),
        }
        assert_eq!(folder_size(&dir).unwrap(), size, "pending wrote nothing");
        assert_eq!(stored_format(&open_raw(&dir).1).unwrap(), Some(2));
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(store.evidence().unwrap(), vec![evidence.clone()]);
        drop(store);
        assert_eq!(layout(&dir), Some(true), "rewritten compressed");
        let backup = backup_path(&dir, 2, crate::station::now_ms());
        assert_eq!(
            layout(&backup),
            Some(false),
            "the backup is the store as it was"
        );
        assert!(!rewrite_path(&dir).exists() && !dir.join(REWRITTEN).exists());
        assert_eq!(
            std::fs::read_to_string(dir.join(FORMAT_FILE)).unwrap(),
            "3\n"
        );
        let (_db, tree) = open_raw(&dir);
        assert_eq!(stored_format(&tree).unwrap(), Some(FORMAT));
        drop((_db, tree));
        assert_eq!(pending(&dir).unwrap(), Due::Nothing);
        // A finished rewrite made from another write count than the store's (an older
        // release wrote to the store since) is discarded, not swapped in.
        let stale = rewrite_path(&dir);
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(REWRITTEN), 99u64.to_be_bytes()).unwrap();
        let store = SledStore::open(&dir).unwrap();
        assert!(!stale.exists());
        assert_eq!(store.evidence().unwrap(), vec![evidence]);
    }

    #[test]
    fn a_migration_is_refused_without_room_for_the_copy_naming_what_is_needed_and_free() {
        let dir = Path::new("/var/lib/lingong/store");
        let mb = 1_000_000;
        assert!(
            check_space(dir, 300 * mb, 64 * mb, 364 * mb).is_ok(),
            "exactly enough"
        );
        assert!(check_space(dir, 300 * mb, 64 * mb, 10_000 * mb).is_ok());
        let e = check_space(dir, 300 * mb, 64 * mb, 363 * mb).unwrap_err();
        assert!(
            e.0.contains("need 364.0 MB")
                && e.0.contains("only 363.0 MB is free")
                && e.0.contains("需要 364.0 MB")
                && e.0.contains("只有 363.0 MB 可用")
                && e.0.contains("/var/lib/lingong/store"),
            "{e:?}"
        );
        // No overflow for an absurd margin.
        assert!(check_space(dir, 300 * mb, u64::MAX, u64::MAX - 1).is_err());
        // The margin: a tenth of the store, never below 64 MiB (without the override).
        if std::env::var_os(MARGIN_ENV).is_none() {
            assert_eq!(margin(0), MIN_MARGIN);
            assert_eq!(margin(10_000 * mb), 1_000 * mb);
        }
    }

    fn failing(_: &sled::Tree) -> Result<(), StoreError> {
        Err(StoreError("the disk went away".into()))
    }

    fn marking(tree: &sled::Tree) -> Result<(), StoreError> {
        tree.insert(b"Zmark", &b"1"[..]).map(|_| ()).map_err(err)
    }

    #[test]
    fn a_step_that_fails_leaves_the_old_version_and_runs_again_at_the_next_open() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("store");
        let (db, tree) = open_raw(&dir);
        tree.insert(b"Zsomething", &b"x"[..]).unwrap();
        let broken = [
            Step {
                to: 2,
                what: "marks",
                run: Run::InPlace(marking),
            },
            Step {
                to: 3,
                what: "fails",
                run: Run::InPlace(failing),
            },
        ];
        let now = 1_765_000_000_000;
        let e = upgrade_with(&dir, &db, &tree, &broken, now).unwrap_err();
        assert!(e.0.contains("disk went away"), "{e:?}");
        // The first step finished and says so; the second did not.
        assert_eq!(stored_format(&tree).unwrap(), Some(2));
        assert!(backup_path(&dir, 1, now).is_dir());
        let fixed = [
            Step {
                to: 2,
                what: "marks",
                run: Run::InPlace(marking),
            },
            Step {
                to: 3,
                what: "marks again",
                run: Run::InPlace(marking),
            },
        ];
        upgrade_with(&dir, &db, &tree, &fixed, now).unwrap();
        assert_eq!(stored_format(&tree).unwrap(), Some(3));
        // The second attempt, from format 2, made its own copy of the store at format 2.
        assert!(backup_path(&dir, 2, now).is_dir());
        // A newer store than the steps know is refused, naming both versions, and not changed.
        tree.insert(FORMAT_KEY, &9u32.to_be_bytes()[..]).unwrap();
        let e = upgrade_with(&dir, &db, &tree, &fixed, now).unwrap_err();
        assert!(e.0.contains("format 9") && e.0.contains("(3)") && e.0.contains("较新版本"));
        assert_eq!(stored_format(&tree).unwrap(), Some(9));
    }
}
