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
pub const FORMAT: u32 = 2;

/// The format of a store that carries no version key: the layout every release before format
/// versions wrote.
pub const UNVERSIONED: u32 = 1;

/// The key of the format version in the store's tree (u32 big-endian).
pub const FORMAT_KEY: &[u8] = b"V";

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
    /// The step; re-runnable over its own partial output (a kill may cut it anywhere).
    pub run: fn(&sled::Tree) -> Result<(), StoreError>,
}

/// The migrations, in order.
pub const STEPS: &[Step] = &[Step {
    to: 2,
    what: "evidence rows keyed by a counter re-keyed by author, sequence number and branch; \
           indexes and counters rebuilt from the records",
    run: v1_to_v2,
}];

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
pub(crate) fn upgrade(dir: &Path, db: &sled::Db, tree: &sled::Tree) -> Result<(), StoreError> {
    upgrade_with(dir, db, tree, STEPS, crate::station::now_ms())
}

fn write_format(db: &sled::Db, tree: &sled::Tree, v: u32) -> Result<(), StoreError> {
    tree.insert(FORMAT_KEY, &v.to_be_bytes()[..]).map_err(err)?;
    db.flush().map_err(err)?;
    Ok(())
}

fn upgrade_with(
    dir: &Path,
    db: &sled::Db,
    tree: &sled::Tree,
    steps: &[Step],
    now_ms: i64,
) -> Result<(), StoreError> {
    let target = steps.last().map_or(UNVERSIONED, |s| s.to);
    let found = match stored_format(tree)? {
        Some(v) => v,
        None if tree.is_empty() => return write_format(db, tree, target),
        None => UNVERSIONED,
    };
    if found == target {
        return Ok(());
    }
    if found > target {
        return Err(newer(dir, found, target));
    }
    db.flush().map_err(err)?;
    if !backup_path(dir, found, now_ms).is_dir() {
        let size = folder_size(dir).map_err(err)?;
        let free = free_space(dir).map_err(err)?;
        check_space(dir, size, margin(size), free)?;
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
        (step.run)(tree)?;
        db.flush().map_err(err)?;
        if std::env::var_os(ABORT_ENV).is_some() {
            tracing::error!(
                "{ABORT_ENV} is set: killing this process in the middle of the migration"
            );
            // A real kill -9 of this process (no unsafe code here to raise it directly).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::process::abort();
        }
        write_format(db, tree, step.to)?;
    }
    tracing::warn!(
        store = %dir.display(),
        "the store is now format {target} (the copy of format {found} stays in {}; remove it \
         once the node runs well) / 存储已迁移到格式 {target}（格式 {found} 的副本保留在 {}，\
         确认节点运行正常后可删除）",
        backup.display(),
        backup.display()
    );
    Ok(())
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
    let needed = store_bytes.saturating_add(margin);
    if free >= needed {
        return Ok(());
    }
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let (needed, free, size) = (mb(needed), mb(free), mb(store_bytes));
    let dir = dir.display();
    Err(StoreError(format!(
        "not enough free disk space to migrate the store {dir}: the copy made first and the \
         migration need {needed} (the store's {size} plus a margin), and only {free} is free \
         there; nothing was changed: free some disk space and start again / 磁盘空间不足，无法\
         迁移存储 {dir}：迁移前的副本和迁移本身需要 {needed}（存储的 {size} 加上余量），该处\
         只有 {free} 可用；存储未作改动：请腾出磁盘空间后重试"
    )))
}

/// Bytes of the files under `dir`, as they take on disk (blocks allocated).
fn folder_size(dir: &Path) -> std::io::Result<u64> {
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
fn free_space(dir: &Path) -> std::io::Result<u64> {
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
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
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
        let db = sled::Config::new().path(dir).open().unwrap();
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
                run: marking,
            },
            Step {
                to: 3,
                what: "fails",
                run: failing,
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
                run: marking,
            },
            Step {
                to: 3,
                what: "marks again",
                run: marking,
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
