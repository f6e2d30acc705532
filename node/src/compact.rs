//! `lingong compact`: writes the store afresh, so that its files hold only what its rows hold.
//!
//! sled 0.34 is log-structured: a value replaced or removed stays in its files until sled
//! reuses that space, which a small store may never do. After `worker erase` the store's rows
//! no longer hold the dropped bodies of the worker's changes nor the clear ID number, but its
//! files still do (SECURITY.md §7). Compacting writes every row once, in key order, into a
//! fresh store beside the old one, read from a byte copy of the store
//! (`store.compact-source/`, removed once the rewrite is written: sled writes to a store's files
//! whenever it opens one, so the store itself is never opened here), with the format
//! migration's own rewrite
//! ([`crate::migrate::rewrite_into`], the step format 2 → 3 runs), and swaps it in with the
//! same exchange of folders ([`crate::migrate::finish_rewrite`], run by the next open of the
//! store, under its lock, only if nothing wrote to the store since the rewrite read it).
//!
//! The store it replaces is not removed by the swap: it is moved to
//! `store.before-compact-<UTC time>/` beside the store (0700, files 0600) and kept there until
//! the new store has opened and holds the same rows (every sled tree's row count and one
//! SHA-256 over every row, [`crate::migrate::Tally`], equal to what the rewrite read); then it
//! is removed. If the check fails, it stays, and the command says where it is.
//!
//! By default the store written afresh always takes the old one's place, even when it came out
//! a little larger: that is what removes erased data from the files, and a PIPL erasure must
//! not depend on sled's padding (`tests/tests/pipl_erase.rs` once saw a rewrite 4 KB larger).
//! With [`Rewrite::IfSmaller`] (`lingong compact --only-if-smaller`, for reclaiming room) a
//! compacted store is never larger than the store it replaces (blocks allocated, the new
//! store measured once sled has opened it for the check: a fresh store's log is short until
//! sled pads it to whole segments at its first open): if it is larger, the old store, kept and
//! never opened, is swapped back, the store is left as it was, to the byte, and the answer says
//! so (`compacted`: false) with both sizes.
//!
//! It needs the store to itself: it refuses while the daemon runs (stop it first; the daemon
//! holds the store open for as long as it runs, and the swap needs sled's files closed) or
//! another command holds the store, and before anything is written it checks that the disk
//! has room for a second store of the same size (plus the migration's margin). Copies made
//! before (a migration's `store.backup-v*`, `store.damaged-*` from a repair, backups, bundles)
//! are not touched: the result names those beside the store.

use crate::error::{NodeError, Result};
use crate::home::Home;
use crate::migrate::{self, Doing, Tally};
use crate::store::{LOCK_WAIT, SledStore};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The prefix of the folder the old store is kept in until the new one is checked.
pub const KEPT_PREFIX: &str = "store.before-compact-";

const COMPACTION: Doing = Doing {
    verb: "compact",
    verb_zh: "压缩整理",
    needs: "a copy of it to read from and the fresh store written beside it need",
    needs_zh: "用于读取的副本和在旁边写出的新存储需要",
};

/// The copy of the store `dir` the rewrite reads from (`store.compact-source/` beside it),
/// removed once the rewrite is written.
fn source_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.compact-source"))
}

/// The folder the old store `dir` is kept in: `store.before-compact-<UTC time>` (with `-2`,
/// `-3`, … if taken).
fn kept_path(dir: &Path) -> PathBuf {
    let stamp: String = lingong_protocol::dates::rfc3339(crate::station::now_ms())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = dir.with_file_name(format!("{KEPT_PREFIX}{stamp}"));
    let mut path = base.clone();
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = PathBuf::from(format!("{}-{n}", base.display()));
    }
    path
}

/// Folders beside the store `dir` that are copies of a store (a migration's backup, a damaged
/// store a repair set aside, one kept by an unfinished compaction): they still hold what they
/// held when made.
fn other_copies(dir: &Path) -> Vec<String> {
    let Some(parent) = dir.parent() else {
        return Vec::new();
    };
    let mut found: Vec<String> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store.") && !n.ends_with(".rewrite"))
        .collect();
    found.sort();
    found
}

fn size_of(dir: &Path) -> Result<u64> {
    migrate::folder_size(dir).map_err(|e| NodeError::io(dir, e))
}

/// `lingong compact`: see the module documentation. `progress` is told the rows written so
/// far (every 10,000). Returns `{"store", "compacted", "bytes_before", "bytes_rewritten",
/// "bytes_after", "rows", "trees", "other_copies", "done"}` (bytes allocated on disk;
/// `compacted` false when the store written afresh came out larger and the store was kept as it
/// was, only with [`Rewrite::IfSmaller`]; `done`: what it did, in English and Chinese).
pub fn compact(home: &Home, progress: &mut dyn FnMut(u64), when: Rewrite) -> Result<Value> {
    match when {
        Rewrite::Always => compact_unless(home, progress, &|_, _| false),
        Rewrite::IfSmaller => compact_unless(home, progress, &|after, before| after > before),
    }
}

/// When `compact`'s store written afresh takes the old store's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// Always (the default): the files then hold only what the rows hold, whatever the size.
    Always,
    /// Only when it takes no more room than the old store (`--only-if-smaller`).
    IfSmaller,
}

/// [`compact`], `larger(after, before)` judging whether the store written afresh takes more
/// room than the store did (the tests force either answer to go down both paths).
fn compact_unless(
    home: &Home,
    progress: &mut dyn FnMut(u64),
    larger: &dyn Fn(u64, u64) -> bool,
) -> Result<Value> {
    if !home.exists() {
        return Err(NodeError::NotInitialized {
            home: home.dir.display().to_string(),
        });
    }
    if std::os::unix::net::UnixStream::connect(home.socket_path()).is_ok() {
        let h = home.dir.display();
        return Err(NodeError::usage(
            "compact",
            format!(
                "the daemon of {h} is running: stop it (SIGTERM) first, `lingong compact` needs \
                 the store to itself (nothing was changed)"
            ),
            format!(
                "{h} 的守护进程正在运行：请先停止它（SIGTERM），`lingong compact` 需要独占存储（未作任何改动）"
            ),
        ));
    }
    let dir = home.store_path();
    let busy = || NodeError::StoreBusy {
        home: home.dir.display().to_string(),
        secs: 0,
    };
    // A migration due, a rewrite left beside the store by a cut compaction, a swap cut
    // between its renames: the store's own open deals with them first.
    let due = migrate::pending(&dir)?;
    if due == migrate::Due::Held {
        return Err(busy());
    }
    if due != migrate::Due::Nothing || migrate::rewrite_path(&dir).exists() || !dir.is_dir() {
        drop(SledStore::open_waiting(&dir, Some(std::time::Duration::ZERO))?.ok_or_else(busy)?);
    }
    // The store is held (its lock) but never opened by sled here, which writes to a store's
    // files whenever it opens one: the rows are read from a copy, so that the store stays as
    // it was, to the byte, unless the rewrite takes its place.
    let lock = crate::store::lock_file(&dir).map_err(|e| NodeError::io(&dir, e))?;
    if lock.try_lock().is_err() {
        return Err(busy());
    }
    let bytes_before = size_of(&dir)?;
    let free = migrate::free_space(&dir).map_err(|e| NodeError::io(&dir, e))?;
    migrate::check_space_to(
        &COMPACTION,
        &dir,
        bytes_before,
        bytes_before.saturating_add(migrate::margin(bytes_before)),
        free,
    )?;
    let source = source_path(&dir);
    if source.exists() {
        std::fs::remove_dir_all(&source).map_err(|e| NodeError::io(&source, e))?;
    }
    migrate::copy_dir(&dir, &source).map_err(|e| NodeError::io(&source, e))?;
    let kept = kept_path(&dir);
    let read = (|| {
        let db = crate::store::sled_config(&source)
            .open()
            .map_err(crate::store::err)?;
        migrate::rewrite_into(&dir, &db, migrate::FORMAT, Some(&kept), progress)
    })();
    // The copy goes whether the rewrite was written or not (it holds what the store holds).
    std::fs::remove_dir_all(&source).map_err(|e| NodeError::io(&source, e))?;
    let read = read?;
    drop(lock);
    // The open swaps the rewrite in (under the store's lock), moving the old store to `kept`.
    let store = SledStore::open_waiting(&dir, Some(LOCK_WAIT))?.ok_or_else(busy)?;
    if !kept.is_dir() {
        return Err(NodeError::Store(lingong_protocol::store::StoreError(
            format!(
                "the store {} was written to while it was being compacted, so its rewrite was \
             discarded and the store is as it was; run `lingong compact` again / 存储 {} 在压缩\
             整理期间被写入，重写的副本已丢弃，存储保持原样；请重新运行 `lingong compact`",
                dir.display(),
                dir.display()
            ),
        )));
    }
    let now = Tally::of(store.sled_db(), &mut |_| {})?;
    if now != read {
        let (d, k) = (dir.display(), kept.display());
        return Err(NodeError::Store(lingong_protocol::store::StoreError(
            format!(
                "the compacted store {d} does not hold the rows the old one held ({} rows read, \
             {} now); the old store is kept in {k}: stop every lingong process and move it \
             back to {d} unless another process wrote to the store since / 压缩整理后的存储 {d} \
             与原存储的记录不一致（读出 {} 行，现有 {} 行）；原存储保留在 {k}：除非期间有其他进程\
             写入，请停止所有 lingong 进程后把它移回 {d}",
                read.total(),
                now.total(),
                read.total(),
                now.total()
            ),
        )));
    }
    drop(store);
    let bytes_after = size_of(&dir)?;
    if larger(bytes_after, bytes_before) {
        // Larger once sled has opened it (a fresh store's log is short until then; sled pads
        // it to whole segments at its first open): the old store, kept unopened, goes back.
        if migrate::swap_back(&dir, &kept)? {
            return kept_as_it_was(&dir, bytes_before, bytes_after, &read);
        }
        let k = kept.display();
        return Err(NodeError::Store(lingong_protocol::store::StoreError(
            format!(
                "the compacted store {} came out larger than the old one ({} against {} bytes), \
             and another process opened it before the old one, kept in {k}, could be put \
             back: both hold the same rows; remove {k} once the node runs well / 压缩整理后的\
             存储 {} 比原存储大（{} 字节对 {} 字节），且在放回保留在 {k} 的原存储之前已有其他\
             进程打开了它：两者记录相同；节点运行正常后请删除 {k}",
                dir.display(),
                bytes_after,
                bytes_before,
                dir.display(),
                bytes_after,
                bytes_before
            ),
        )));
    }
    std::fs::remove_dir_all(&kept).map_err(|e| NodeError::io(&kept, e))?;
    Ok(answer(
        &dir,
        true,
        (bytes_before, bytes_after, bytes_after),
        &read,
    ))
}

/// What `compact` answers when the rewrite of the store `dir` came out larger
/// (`bytes_rewritten`, once sled had opened it) than the store (`bytes_before`) and the store
/// was swapped back: the store is as it was (its size measured again), and its files may still
/// hold erased or replaced data.
fn kept_as_it_was(
    dir: &Path,
    bytes_before: u64,
    bytes_rewritten: u64,
    read: &Tally,
) -> Result<Value> {
    let bytes_after = size_of(dir)?;
    Ok(answer(
        dir,
        false,
        (bytes_before, bytes_after, bytes_rewritten),
        read,
    ))
}

/// `compact`'s answer for the store `dir`: `compacted` whether the rewrite took the store's
/// place; `(before, after, rewritten)` the bytes allocated by the store before, by the store
/// now, and by the rewrite; `read` the rows the rewrite read.
fn answer(
    dir: &Path,
    compacted: bool,
    (before, after, rewritten): (u64, u64, u64),
    read: &Tally,
) -> Value {
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let rows = read.total();
    let d = dir.display();
    let done = if compacted {
        let (before, after) = (mb(before), mb(after));
        format!(
            "the store {d} was written afresh: {before} before, {after} now, the same {rows} \
             rows; what its files held of erased or replaced data is gone from them / 存储 {d} \
             已重新写出：之前 {before}，现在 {after}，记录同为 {rows} 行；文件中已删除或被替换\
             的数据不复存在"
        )
    } else {
        let (before, rewritten) = (mb(before), mb(rewritten));
        format!(
            "the store {d} was kept as it was ({before}): written afresh it took {rewritten}, \
             more than it takes now, so the rewrite was discarded; its files may still hold \
             erased or replaced data (to write them afresh anyway: `lingong backup`, then \
             `lingong restore` into a new home, SECURITY.md §7) / 存储 {d} 保持原样（{before}）：\
             重新写出后占 {rewritten}，比现在更大，故已丢弃重写的副本；其文件中可能仍有已删除或\
             被替换的数据（如仍需重写：先 `lingong backup`，再 `lingong restore` 到新的主目录，\
             见 SECURITY.md §7）"
        )
    };
    json!({
        "store": d.to_string(),
        "compacted": compacted,
        "bytes_before": before,
        "bytes_after": after,
        "bytes_rewritten": rewritten,
        "rows": rows,
        "trees": read.rows,
        "other_copies": other_copies(dir),
        "done": done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_hold(dir: &Path, needle: &[u8]) -> bool {
        contents(dir)
            .values()
            .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    }

    #[test]
    fn a_compacted_store_holds_the_same_rows_and_none_of_the_bytes_its_rows_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(Some(dir.path().join("home")));
        crate::station::init(
            &home,
            "乐源社区零工服务站",
            "522622101001",
            Vec::new(),
            None,
        )
        .unwrap();
        let store_dir = home.store_path();
        let gone = "杨秀英 13812345678 522622198001012347".as_bytes();
        let kept = "龙开芳 13700001111".as_bytes();
        {
            let store = SledStore::open(&store_dir).unwrap();
            let tree = store.sled_db().open_tree("lingong").unwrap();
            tree.insert(b"Ztest-gone", gone).unwrap();
            tree.insert(b"Ztest-kept", kept).unwrap();
            store.sled_db().flush().unwrap();
            tree.remove(b"Ztest-gone").unwrap();
            store.sled_db().flush().unwrap();
        }
        assert!(files_hold(&store_dir, gone), "sled keeps a removed value");
        let before = {
            let store = SledStore::open(&store_dir).unwrap();
            Tally::of(store.sled_db(), &mut |_| {}).unwrap()
        };
        let mut told = 0;
        let done = compact(&home, &mut |n| told = n, Rewrite::Always).unwrap();
        assert!(!files_hold(&store_dir, gone), "the removed value is gone");
        assert!(files_hold(&store_dir, kept), "what the rows hold stays");
        let after = {
            let store = SledStore::open(&store_dir).unwrap();
            Tally::of(store.sled_db(), &mut |_| {}).unwrap()
        };
        assert_eq!(before, after);
        assert_eq!(done["rows"], before.total());
        assert!(told <= before.total());
        assert!(
            done["done"].as_str().unwrap().contains("重新写出"),
            "{done}"
        );
        // The old store was kept only until the check: nothing is left beside the store.
        let beside: Vec<_> = std::fs::read_dir(dir.path().join("home"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("store."))
            .collect();
        assert!(beside.is_empty(), "{beside:?}");
        // Held by another process (here: this one): refused, nothing changed.
        let held = SledStore::open(&store_dir).unwrap();
        match compact(&home, &mut |_| {}, Rewrite::Always) {
            Err(NodeError::StoreBusy { .. }) => {}
            other => panic!("refused as busy: {other:?}"),
        }
        drop(held);
    }

    #[test]
    fn a_compaction_killed_right_after_its_swap_keeps_the_old_store_aside_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("store");
        let kept = kept_path(&store_dir);
        let read = {
            let store = SledStore::open(&store_dir).unwrap();
            store
                .sled_db()
                .open_tree("lingong")
                .unwrap()
                .insert(b"Ztest", &b"row"[..])
                .unwrap();
            migrate::rewrite_into(
                &store_dir,
                store.sled_db(),
                migrate::FORMAT,
                Some(&kept),
                &mut |_| {},
            )
            .unwrap()
        };
        // The swap done (as `finish_rewrite`'s exchange leaves it), then a kill: the old
        // folder sits where the rewrite was.
        let rewrite = migrate::rewrite_path(&store_dir);
        let aside = dir.path().join("aside");
        std::fs::rename(&store_dir, &aside).unwrap();
        std::fs::rename(&rewrite, &store_dir).unwrap();
        std::fs::rename(&aside, &rewrite).unwrap();
        let store = SledStore::open(&store_dir).unwrap();
        assert!(kept.is_dir(), "the old store is kept, not removed");
        assert!(!rewrite.exists());
        assert_eq!(Tally::of(store.sled_db(), &mut |_| {}).unwrap(), read);
        assert!(!store_dir.join("lingong.keep-old").exists());
        assert_eq!(
            other_copies(&store_dir),
            vec![kept.file_name().unwrap().to_string_lossy().into_owned()]
        );
    }

    /// Blocks allocated by the files under `dir`, measured here apart from what `compact`
    /// measures.
    fn allocated(dir: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut total = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            total += if meta.is_dir() {
                allocated(&entry.path())
            } else {
                meta.blocks() * 512
            };
        }
        total
    }

    /// A province station's home under `dir` (its own root, certified by itself) with `posts`
    /// sample posts written one per commit, as a clerk's `post create` commits.
    fn store_of_single_commits(dir: &Path, posts: usize) -> Home {
        use crate::request::{Request, dispatch};
        let home = Home::new(Some(dir.join("home")));
        crate::station::init(&home, "省中心", "52", Vec::new(), None).unwrap();
        let mut station = crate::station::Station::open(&home).unwrap();
        let request =
            serde_json::from_value(dispatch(&mut station, Request::CertRequest).unwrap()).unwrap();
        let chain = dispatch(&mut station, Request::CertIssue { request, days: 365 }).unwrap();
        dispatch(&mut station, Request::CertInstall { chain }).unwrap();
        for _ in 0..posts {
            crate::demo::sample_posts(&mut station, 1).unwrap();
        }
        home
    }

    /// Every file under `dir` (by its path below `dir`) and its bytes.
    fn contents(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let bytes = std::fs::read(&p).unwrap();
                    out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), bytes);
                }
            }
        }
        out
    }

    fn tally(store_dir: &Path) -> Tally {
        let store = SledStore::open(store_dir).unwrap();
        Tally::of(store.sled_db(), &mut |_| {}).unwrap()
    }

    fn nothing_beside(home: &Home) -> Vec<String> {
        std::fs::read_dir(&home.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("store."))
            .collect()
    }

    #[test]
    fn a_store_written_one_post_per_commit_takes_no_more_room_after_compact() {
        let dir = tempfile::tempdir().unwrap();
        let home = store_of_single_commits(dir.path(), 600);
        let store_dir = home.store_path();
        let rows = tally(&store_dir);
        let before = allocated(&store_dir);
        let done = compact(&home, &mut |_| {}, Rewrite::IfSmaller).unwrap();
        let after = allocated(&store_dir);
        eprintln!("{before} bytes before, {after} after: {done}");
        assert!(after <= before, "{after} > {before}: {done}");
        let (was, now) = (done["bytes_before"].as_u64(), done["bytes_after"].as_u64());
        assert!(now <= was && now.is_some(), "{done}");
        assert_eq!(tally(&store_dir), rows);
        assert_eq!(done["rows"], rows.total());
        assert!(
            nothing_beside(&home).is_empty(),
            "{:?}",
            nothing_beside(&home)
        );
    }

    #[test]
    fn a_rewrite_judged_larger_is_swapped_back_leaving_the_store_as_it_was_to_the_byte() {
        let dir = tempfile::tempdir().unwrap();
        let home = store_of_single_commits(dir.path(), 20);
        let store_dir = home.store_path();
        let rows = tally(&store_dir);
        // Judged larger (the swapped-in store, after the check of its rows), twice running.
        for round in 1..=2 {
            let files = contents(&store_dir);
            let calls = std::cell::Cell::new(0);
            let done = compact_unless(&home, &mut |_| {}, &|_, _| {
                calls.set(calls.get() + 1);
                true
            })
            .unwrap();
            assert_eq!(calls.get(), 1, "{done}");
            assert_eq!(done["compacted"], false, "{done}");
            assert_eq!(done["bytes_after"], done["bytes_before"], "{done}");
            // Swapped back, never opened by sled: the store's files as they were.
            assert!(contents(&store_dir) == files, "round {round}");
            assert!(
                done["done"].as_str().unwrap().contains("保持原样"),
                "{done}"
            );
            assert_eq!(tally(&store_dir), rows, "round {round}");
            assert!(!migrate::rewrite_path(&store_dir).exists());
            assert!(
                nothing_beside(&home).is_empty(),
                "{:?}",
                nothing_beside(&home)
            );
        }
        // The store still opens as a station and writes.
        let mut station = crate::station::Station::open(&home).unwrap();
        crate::demo::sample_posts(&mut station, 1).unwrap();
    }
}
