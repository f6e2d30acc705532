//! Bytes on disk per accepted post, against the post's own envelope, and where they go.
//!
//! Writes `LINGONG_BENCH_POSTS` job posts (default 20,000) and `LINGONG_BENCH_WORKERS` worker
//! registrations (default 0) through the real write path (`Station::write`: signed, accepted,
//! committed with their index rows, one `apply_batch` and flush per commit) into a fresh
//! county store on disk, `LINGONG_BENCH_BATCH` records per commit (default 1: a clerk's
//! `post create`; a sync or bundle import commits a frame's worth at a time), closes it, and
//! prints:
//! - while it writes, ten points of the store's growth: blocks allocated per record written so
//!   far and commits per second since the point before;
//! - bytes on disk per envelope (the store's folder, apparent size and blocks allocated), as
//!   written and after `lingong compact` (the same rows written once afresh): their quotient
//!   is sled's space amplification (garbage in segments not yet cleaned);
//! - the baseline: the envelope's own bytes (canonical wire form, as signed and sent);
//! - their ratio (the target: at most 2.5);
//! - the breakdown by sled tree and, in the node's tree, by key prefix (`e` envelopes, `r`
//!   records, `k`/`i` indexes…: rows, key bytes, value bytes, and what they compress to with
//!   sled's zstd level in leaf-sized runs and one row at a time; the record rows further
//!   split into the saved Automerge document, the listing view and the rest);
//! - the CPU sled's background thread ([`store::FLUSH_EVERY_MS`]) takes on the store open and
//!   idle (once its folder stops changing);
//! - the levers, one at a time, against [`store::sled_config`] (format 3) in the same run:
//!   the store's rows written into fresh stores once in key order (what a migration's rewrite
//!   or `compact` leaves) and a commit's worth at a time with a flush after each
//!   (`LINGONG_BENCH_REPLAY` records' worth, default all), size and commits per second: sled's
//!   segment size, its background flush interval, record rows without the saved document of
//!   a single-change record or without the JSON view; then the flush interval and segment
//!   size against this build's configuration; then `uptime`. The emulated commits take
//!   `LINGONG_BENCH_BATCH` records' rows each. `LINGONG_BENCH_LEVERS=0` stops after `compact`,
//!   `LINGONG_BENCH_LEVERS=this` runs only the levers against this build's configuration;
//! - with `LINGONG_BENCH_REWRITE=1`, before the levers: the rewrite's flush interval
//!   (`migrate::REWRITE_ROWS_PER_FLUSH`), the rows written in key order into fresh stores with
//!   a flush every 1,000, 100, 13 or 6 rows, or once at the end, against the store as written.
//!
//! `LINGONG_BENCH_KEEP=DIR` copies the county's home as written (before `compact`) into `DIR`
//! (a new folder, owner-only), for `lingong doctor --home DIR`.
//!
//! `cargo bench -p lingong-node --bench store_size` (release build); docs/figures.md's "Store size"
//! figures come from it.

mod stations;
use lingong_node::station::{self, Station};
use lingong_node::store;
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::RegionCode;
use lingong_protocol::schema::{
    Post, PostStatus, ReviewState, Schema, WageUnit, Worker, WorkerStatus,
};
use lingong_protocol::store::RecordState;
use stations::{county, env_count};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

const OCCUPATIONS: [&str; 6] = [
    "4-10-01-06",
    "4-02-06-03",
    "6-29-01-00",
    "5-01-02-01",
    "4-03-02-01",
    "6-18-01-01",
];

const VILLAGES: [&str; 4] = [
    "522622101001",
    "522622101002",
    "522622102001",
    "522622103001",
];

fn post(i: usize, region: RegionCode, now: i64) -> Post {
    Post {
        title: format!("县城仓库装卸搬运工（{i}号）"),
        occupation: OCCUPATIONS[i % OCCUPATIONS.len()].into(),
        wage: 120.0 + (i % 20) as f64 * 10.0,
        unit: WageUnit::Day,
        headcount: 1 + (i % 5) as i64,
        employer: None,
        status: PostStatus::Open,
        review: ReviewState::Pending,
        review_reason: None,
        reviewed_by: None,
        reviewed_at: None,
        region,
        reach: RegionCode::parse(VILLAGES[i % VILLAGES.len()]).expect("code"),
        location: Some("黄平县新州镇工业园区 3 号仓库".into()),
        contact: Some("13800000000".into()),
        description: Some("日结，包午餐，需能搬运 25 公斤货物".into()),
        expires: Some(dates::format_date(dates::today_cst(now) + 60)),
        created_at: dates::rfc3339(now),
    }
}

fn worker(i: usize, region: RegionCode, now: i64) -> Worker {
    Worker {
        name: format!("劳动者{i}"),
        id_masked: "52***************X".into(),
        id_hash: format!("v2:{i:064x}"),
        phone: "13900000000".into(),
        skills: vec![OCCUPATIONS[i % OCCUPATIONS.len()].into()],
        wage_min: Some(100.0 + (i % 10) as f64 * 10.0),
        flags: Vec::new(),
        available_from: None,
        available_to: None,
        status: WorkerStatus::Active,
        region: if i % 5 == 4 {
            region
        } else {
            RegionCode::parse(VILLAGES[i % VILLAGES.len()]).expect("code")
        },
        created_at: dates::rfc3339(now),
    }
}

/// Writes `posts` posts then `workers` workers, `batch` per commit; returns the bytes of the
/// posts' envelopes and of the workers' (canonical wire form).
fn fill(station: &mut Station, posts: usize, workers: usize, batch: usize) -> (u64, u64) {
    let region = station.region;
    let now = station::now_ms();
    let (mut post_bytes, mut worker_bytes) = (0u64, 0u64);
    let started = Instant::now();
    let store_dir = station.home.store_path();
    // The store's growth as it fills: ten points, each the folder's blocks allocated per
    // record written so far and the commits per second since the point before.
    let every = ((posts + workers) / 10).max(1);
    let (mut written, mut commits, mut last) = (0usize, 0usize, (Instant::now(), 0usize));
    for (kind, n) in [(RecordKind::Post, posts), (RecordKind::Worker, workers)] {
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(batch.max(1)) {
            let bytes = station
                .write(|author, staged| {
                    let mut bytes = 0u64;
                    for &i in chunk {
                        let at = now + i as i64;
                        let (target, edits) = match kind {
                            RecordKind::Post => {
                                let p = post(i, region, at);
                                let reach = Some(p.reach);
                                (Target::Create { kind, reach }, p.edits())
                            }
                            _ => (
                                Target::Create { kind, reach: None },
                                worker(i, region, at).edits(),
                            ),
                        };
                        let env = author.write(staged, target, &edits, at)?;
                        bytes += env.to_bytes().len() as u64;
                    }
                    Ok(bytes)
                })
                .expect("written");
            match kind {
                RecordKind::Post => post_bytes += bytes,
                _ => worker_bytes += bytes,
            }
            let before = written / every;
            written += chunk.len();
            commits += 1;
            if written / every != before {
                let d = Disk::of(&store_dir);
                println!(
                    "  {written:>7} records: {:>5.0} B allocated per record, {:>6.1} commits/s",
                    d.allocated as f64 / written as f64,
                    (commits - last.1) as f64 / last.0.elapsed().as_secs_f64()
                );
                last = (Instant::now(), commits);
            }
        }
    }
    println!(
        "written: {posts} posts and {workers} workers, {batch} per commit, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (post_bytes, worker_bytes)
}

/// Apparent bytes and bytes allocated (blocks) of every file under `dir`, by file name
/// (`snap.*` as one).
fn files(dir: &Path, out: &mut BTreeMap<String, (u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        if meta.is_dir() {
            files(&entry.path(), out);
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let name = if name.starts_with("snap.") {
            "snap.*".to_string()
        } else {
            name
        };
        let row = out.entry(name).or_default();
        row.0 += meta.len();
        row.1 += meta.blocks() * 512;
    }
}

/// A store folder's size: apparent (the files' lengths) and allocated (blocks).
#[derive(Clone, Copy)]
struct Disk {
    apparent: u64,
    allocated: u64,
}

impl Disk {
    fn of(dir: &Path) -> Disk {
        let mut sizes = BTreeMap::new();
        files(dir, &mut sizes);
        Disk {
            apparent: sizes.values().map(|v| v.0).sum(),
            allocated: sizes.values().map(|v| v.1).sum(),
        }
    }
}

/// One row family (a key prefix of one sled tree): its rows, their logical bytes, and what
/// they compress to with sled's zstd level ([`store::COMPRESSION_LEVEL`]) in runs of
/// [`LEAF_ROWS`] rows in key order (a consolidated leaf page, which sled compresses as one
/// block) and one row at a time (a one-row fragment, which sled writes at a commit).
#[derive(Default)]
struct Family {
    rows: u64,
    keys: u64,
    values: u64,
    in_leaves: u64,
    alone: u64,
    run: Vec<u8>,
    run_rows: usize,
}

/// sled 0.34 splits a leaf of more than 16 rows and merges one of fewer than 4; a leaf after
/// splits holds 8 to 16, so runs of 12 stand for a consolidated page.
const LEAF_ROWS: usize = 12;

fn zstd_len(bytes: &[u8]) -> u64 {
    zstd::block::compress(bytes, store::COMPRESSION_LEVEL)
        .expect("zstd")
        .len() as u64
}

impl Family {
    fn add(&mut self, k: &[u8], v: &[u8]) {
        self.rows += 1;
        self.keys += k.len() as u64;
        self.values += v.len() as u64;
        let mut row = k.to_vec();
        row.extend_from_slice(v);
        self.alone += zstd_len(&row);
        self.run.extend_from_slice(&row);
        self.run_rows += 1;
        if self.run_rows == LEAF_ROWS {
            self.end_run();
        }
    }
    fn end_run(&mut self) {
        if !self.run.is_empty() {
            self.in_leaves += zstd_len(&self.run);
        }
        self.run.clear();
        self.run_rows = 0;
    }
    fn bytes(&self) -> u64 {
        self.keys + self.values
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let posts = env_count("LINGONG_BENCH_POSTS", 20_000);
    let workers = env_count("LINGONG_BENCH_WORKERS", 0);
    let batch = env_count("LINGONG_BENCH_BATCH", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut station = county(dir.path());
    let (post_bytes, worker_bytes) = fill(&mut station, posts, workers, batch);
    let store_dir = station.home.store_path();
    let home = station.home.clone();
    drop(station);

    let records = (posts + workers).max(1) as f64;
    let envelope = (post_bytes + worker_bytes) as f64 / records;
    println!(
        "envelope (baseline): {envelope:.0} bytes per record ({:.0} per post, {:.0} per worker)",
        post_bytes as f64 / posts.max(1) as f64,
        worker_bytes as f64 / workers.max(1) as f64
    );
    let show = |when: &str, d: Disk| {
        println!(
            "on disk {when}: {:.1} MB apparent, {:.1} MB allocated: {:.0} / {:.0} bytes per \
             record, {:.2}× / {:.2}× the envelope (target: at most 2.5)",
            d.apparent as f64 / 1e6,
            d.allocated as f64 / 1e6,
            d.apparent as f64 / records,
            d.allocated as f64 / records,
            d.apparent as f64 / records / envelope,
            d.allocated as f64 / records / envelope
        );
    };
    let written = Disk::of(&store_dir);
    show("as written", written);
    if let Some(keep) = std::env::var_os("LINGONG_BENCH_KEEP") {
        // The county's home as written (key, configuration, certificate, store), for
        // `lingong doctor --home` on it: owner-only, like the home it copies.
        let keep = Path::new(&keep);
        if let Some(parent) = keep.parent() {
            lingong_node::home::create_private_dir(parent).expect("the folder to keep the home in");
        }
        lingong_node::migrate::copy_dir(&home.dir, keep).expect("the home copied");
        println!("kept the home as written in {}", keep.display());
    }
    let mut on_disk = BTreeMap::new();
    files(&store_dir, &mut on_disk);
    println!("files:");
    for (name, (len, blocks)) in &on_disk {
        println!("  {name:<16} {len:>12} bytes  {blocks:>12} allocated");
    }

    // `lingong compact` over the store as written (before anything else opens it, since sled
    // writes to a store's files at every open): the same rows, written once afresh.
    let started = Instant::now();
    let done = lingong_node::compact::compact(
        &home,
        &mut |_| {},
        lingong_node::compact::Rewrite::IfSmaller,
    )
    .expect("compact");
    let secs = started.elapsed().as_secs_f64();
    let compacted = Disk::of(&store_dir);

    // What sled holds, read back with sled itself once the node let go of the store.
    let db = store::sled_config(&store_dir).open().expect("sled opens");
    let (logical, in_leaves, alone) = breakdown(&db, records);
    // What sled's background thread costs the store left open and idle, its cleaning done
    // (polled: the folder no longer changing over a second, at most 30 s).
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let mut size = Disk::of(&store_dir).apparent;
    while Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let now = Disk::of(&store_dir).apparent;
        if now == size {
            break;
        }
        size = now;
    }
    println!(
        "sled's background thread ({} ms) on the store open and idle: {:.1} % of a core (over 5 s)",
        store::FLUSH_EVERY_MS,
        (0..5).map(|_| idle_cpu()).sum::<f64>() / 5.0 * 100.0
    );
    drop(db);
    println!(
        "rows in all: {:.0} B per record ({:.2}× the envelope); zstd in leaf runs {:.0} B \
         ({:.2}×), one row at a time {:.0} B ({:.2}×)",
        logical as f64 / records,
        logical as f64 / records / envelope,
        in_leaves as f64 / records,
        in_leaves as f64 / records / envelope,
        alone as f64 / records,
        alone as f64 / records / envelope,
    );

    println!(
        "compact's answer: compacted {}, bytes before {}, rewritten {}, after {}",
        done["compacted"], done["bytes_before"], done["bytes_rewritten"], done["bytes_after"]
    );
    show("after `lingong compact`", compacted);
    println!(
        "compact: {} rows in {secs:.1} s; as written ÷ compacted: {:.2} apparent, {:.2} \
         allocated (sled's garbage: {:.0} B per record allocated); compacted ÷ rows zstd in \
         leaf runs: {:.2} allocated (sled's pages, headers and slack)",
        done["rows"],
        written.apparent as f64 / compacted.apparent as f64,
        written.allocated as f64 / compacted.allocated as f64,
        (written.allocated as f64 - compacted.allocated as f64) / records,
        compacted.allocated as f64 / in_leaves.max(1) as f64,
    );
    println!("load after the store and compact: {}", uptime());
    if std::env::var_os("LINGONG_BENCH_REWRITE").is_some_and(|v| v == "1") {
        rewrite_flushes(&store_dir, dir.path(), records, envelope, written);
    }
    if std::env::var_os("LINGONG_BENCH_LEVERS").is_some_and(|v| v == "0") {
        return;
    }

    // The levers, one at a time, against the current configuration, in this run: the same
    // rows written into fresh stores (a) once, in key order, in batches of 10,000 (what the
    // migration's rewrite and `compact` leave), and (b) as commits do, a record's worth of
    // rows per batch and a flush after each, in the order of their keys' hashes (envelope,
    // metadata and short id keys are hashes, so commits land on random leaves);
    // `LINGONG_BENCH_REPLAY` records' worth (default: all of them) in (b).
    let source = store::sled_config(&store_dir).open().expect("sled opens");
    let rows = read_rows(&source);
    drop(source);
    let replay = env_count("LINGONG_BENCH_REPLAY", posts + workers).min(posts + workers);
    // A record's rows per record, `LINGONG_BENCH_BATCH` records' worth per emulated commit.
    let per_record = (rows.len() as f64 / records).round().max(1.0) as usize;
    let per_commit = per_record * batch.max(1);
    println!(
        "levers ({} rows, {per_commit} rows per emulated commit, {replay} records; bytes per \
         record apparent / allocated, × the envelope allocated, commits per second):",
        rows.len()
    );
    // sled's `Config` cannot take a path once cloned: each lever makes its own from a path.
    // (sled 0.34.7's `segment_cleanup_threshold` and `segment_cleanup_skew` are deprecated
    // no-ops, its cleanup threshold a constant, and `Mode` is read nowhere: not levers.)
    type Make = Box<dyn Fn(&Path) -> sled::Config>;
    // Format 3 as first released: sled's defaults of 512 KB segments and a background flush
    // (and segment cleaning) every 500 ms, whatever `store::sled_config` says now.
    let released = |p: &Path| {
        store::sled_config(p)
            .segment_size(512 * 1024)
            .flush_every_ms(Some(500))
    };
    let segments =
        move |kb: usize| -> Make { Box::new(move |p: &Path| released(p).segment_size(kb * 1024)) };
    let flush =
        move |ms: Option<u64>| -> Make { Box::new(move |p: &Path| released(p).flush_every_ms(ms)) };
    // The same levers against this build's configuration.
    let here_flush = move |ms: u64| -> Make {
        Box::new(move |p: &Path| store::sled_config(p).flush_every_ms(Some(ms)))
    };
    let here_segments = move |kb: usize| -> Make {
        Box::new(move |p: &Path| store::sled_config(p).segment_size(kb * 1024))
    };
    let levers: Vec<(&str, Make, Layout)> = vec![
        (
            "format 3 as released: the baseline",
            Box::new(released),
            Layout::Current,
        ),
        ("segments of 64 KB", segments(64), Layout::Current),
        ("segments of 128 KB", segments(128), Layout::Current),
        ("segments of 2 MB", segments(2048), Layout::Current),
        (
            "no background flush (only the commits' own)",
            flush(None),
            Layout::Current,
        ),
        (
            "background flush every 10 ms",
            flush(Some(10)),
            Layout::Current,
        ),
        (
            "background flush every 50 ms",
            flush(Some(50)),
            Layout::Current,
        ),
        (
            "background flush every 100 ms",
            flush(Some(100)),
            Layout::Current,
        ),
        (
            "no saved document for records of one change",
            Box::new(released),
            Layout::NoSingleChangeDoc,
        ),
        (
            "no JSON view (read from the document)",
            Box::new(released),
            Layout::NoView,
        ),
        (
            "store::sled_config (this build)",
            Box::new(store::sled_config),
            Layout::Current,
        ),
        (
            "this build, flush every 5 ms",
            here_flush(5),
            Layout::Current,
        ),
        (
            "this build, flush every 10 ms",
            here_flush(10),
            Layout::Current,
        ),
        (
            "this build, flush every 20 ms",
            here_flush(20),
            Layout::Current,
        ),
        (
            "this build, segments of 128 KB",
            here_segments(128),
            Layout::Current,
        ),
        (
            "this build, segments of 2 MB",
            here_segments(2048),
            Layout::Current,
        ),
        (
            "this build, segments of 8 MB",
            here_segments(8192),
            Layout::Current,
        ),
        (
            "store::sled_config (this build) again",
            Box::new(store::sled_config),
            Layout::Current,
        ),
        (
            "format 3 as released again",
            Box::new(released),
            Layout::Current,
        ),
    ];
    // `LINGONG_BENCH_LEVERS=this`: only the levers against this build's configuration.
    let only_this = std::env::var_os("LINGONG_BENCH_LEVERS").is_some_and(|v| v == "this");
    for (i, (name, make, layout)) in levers.into_iter().enumerate() {
        if only_this && !name.contains("this build") {
            continue;
        }
        let rows = layout.apply(&rows);
        let logical: u64 = rows
            .iter()
            .map(|(_, (k, v))| (k.len() + v.len()) as u64)
            .sum();
        let once = dir.path().join(format!("lever-{i}-once"));
        let (size_once, _) = write_rows(make(&once), &rows, Order::Keys);
        let commits = dir.path().join(format!("lever-{i}-commits"));
        let started = Instant::now();
        let replayed = &rows[..(rows.len() * replay / (posts + workers).max(1)).min(rows.len())];
        let (size_commits, idle) = write_rows(make(&commits), replayed, Order::Commits(per_commit));
        let commits_s = started.elapsed().as_secs_f64();
        let replayed_records = replayed.len() as f64 / per_record as f64;
        let replayed_commits = replayed.len() as f64 / per_commit as f64;
        println!(
            "  {name:<46} rows {:>5.0} B | once {:>5.0} / {:>5.0} B ({:.2}×) | as commits \
             {:>5.0} / {:>5.0} B ({:.2}×), {:>5.0} commits/s | idle {:.1} % of a core",
            logical as f64 / records,
            size_once.apparent as f64 / records,
            size_once.allocated as f64 / records,
            size_once.allocated as f64 / records / envelope,
            size_commits.apparent as f64 / replayed_records,
            size_commits.allocated as f64 / replayed_records,
            size_commits.allocated as f64 / replayed_records / envelope,
            replayed_commits / commits_s,
            idle * 100.0,
        );
        let _ = std::fs::remove_dir_all(&once);
        let _ = std::fs::remove_dir_all(&commits);
    }
    println!("load: {}", uptime());
}

/// Prints every tree's row families (per record: rows, key and value bytes, zstd in leaf runs
/// and one row at a time; the record rows further split into the saved Automerge document, the
/// listing view and the rest); returns the logical bytes of all rows and their two compressed
/// sizes.
fn breakdown(db: &sled::Db, records: f64) -> (u64, u64, u64) {
    let (mut logical, mut in_leaves, mut alone) = (0u64, 0u64, 0u64);
    println!(
        "rows (per record: rows, key bytes, value bytes, zstd level {} in runs of {LEAF_ROWS} \
         rows, zstd one row at a time):",
        store::COMPRESSION_LEVEL
    );
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        let mut by_prefix: BTreeMap<u8, Family> = BTreeMap::new();
        let (mut doc, mut view, mut record_rows) = (0u64, 0u64, 0u64);
        let mut docs = Family::default();
        for row in tree.iter() {
            let (k, v) = row.expect("row");
            let prefix = k.first().copied().unwrap_or(0);
            by_prefix.entry(prefix).or_default().add(&k, &v);
            if prefix == b'r'
                && let Ok(state) = postcard::from_bytes::<RecordState>(&v)
            {
                record_rows += 1;
                if let Some(d) = &state.doc {
                    doc += d.len() as u64;
                    docs.add(&[], d);
                }
                view += serde_json::to_string(&state.view).expect("json").len() as u64;
            }
        }
        docs.end_run();
        by_prefix.values_mut().for_each(Family::end_run);
        let total: u64 = by_prefix.values().map(Family::bytes).sum();
        logical += total;
        in_leaves += by_prefix.values().map(|f| f.in_leaves).sum::<u64>();
        alone += by_prefix.values().map(|f| f.alone).sum::<u64>();
        println!(
            "  tree {:?}: {:.1} MB in rows ({:.0} bytes per record)",
            String::from_utf8_lossy(&name),
            total as f64 / 1e6,
            total as f64 / records
        );
        for (p, u) in &by_prefix {
            let label = if p.is_ascii_graphic() {
                format!("'{}'", *p as char)
            } else {
                format!("0x{p:02x}")
            };
            println!(
                "    {label:<6} {:>9} rows  {:>6.2} rows  {:>5.0} key  {:>5.0} value  {:>5.0} \
                 zstd leaves  {:>5.0} zstd alone  ({:.1} % of rows' bytes)",
                u.rows,
                u.rows as f64 / records,
                u.keys as f64 / records,
                u.values as f64 / records,
                u.in_leaves as f64 / records,
                u.alone as f64 / records,
                100.0 * u.bytes() as f64 / total.max(1) as f64
            );
        }
        if record_rows > 0 {
            println!(
                "    of 'r': saved document {:.0} (zstd in runs {:.0}), listing view (JSON) {:.0}, \
                 the rest {:.0} bytes per record",
                doc as f64 / records,
                docs.in_leaves as f64 / records,
                view as f64 / records,
                (by_prefix[&b'r'].values as f64 - (doc + view) as f64) / records
            );
        }
    }
    (logical, in_leaves, alone)
}

/// Every row of every tree of `db`, with its tree's name.
type Row = (Vec<u8>, Vec<u8>);
fn read_rows(db: &sled::Db) -> Vec<(Vec<u8>, Row)> {
    let mut out = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        for row in tree.iter() {
            let (k, v) = row.expect("row");
            out.push((name.to_vec(), (k.to_vec(), v.to_vec())));
        }
    }
    out
}

/// A row layout to measure.
enum Layout {
    /// The rows as the store holds them.
    Current,
    /// Record rows of one change without their saved document (rebuilt from the envelope's
    /// change when read).
    NoSingleChangeDoc,
    /// Record rows without their JSON view (read from the saved document when needed).
    NoView,
}

impl Layout {
    fn apply(&self, rows: &[(Vec<u8>, Row)]) -> Vec<(Vec<u8>, Row)> {
        rows.iter()
            .map(|(tree, (k, v))| {
                let mut v = v.clone();
                if k.first() == Some(&b'r')
                    && let Ok(mut state) = postcard::from_bytes::<RecordState>(&v)
                {
                    match self {
                        Layout::Current => {}
                        Layout::NoSingleChangeDoc if state.changes.len() == 1 => state.doc = None,
                        Layout::NoSingleChangeDoc => {}
                        Layout::NoView => state.view = Default::default(),
                    }
                    v = postcard::to_allocvec(&state).expect("encode");
                }
                (tree.clone(), (k.clone(), v))
            })
            .collect()
    }
}

enum Order {
    /// In key order, 10,000 rows per batch.
    Keys,
    /// In the order of the keys' hashes, this many rows per batch, a flush after each.
    Commits(usize),
}

/// Writes `rows` (tree, (key, value)) into `db`, one sled batch per tree.
fn apply_rows<'a>(db: &sled::Db, rows: impl IntoIterator<Item = &'a (Vec<u8>, Row)>) {
    let mut batches: BTreeMap<&[u8], sled::Batch> = BTreeMap::new();
    for (tree, (k, v)) in rows {
        batches
            .entry(tree.as_slice())
            .or_default()
            .insert(k.as_slice(), v.as_slice());
    }
    for (tree, batch) in batches {
        db.open_tree(tree)
            .expect("tree")
            .apply_batch(batch)
            .expect("batch");
    }
}

/// Writes `rows` into a fresh store made with `config` in `order`; returns its size on disk
/// once closed, and the CPU sled's background thread took over a second left idle after.
fn write_rows(config: sled::Config, rows: &[(Vec<u8>, Row)], order: Order) -> (Disk, f64) {
    let path = config.get_path().to_path_buf();
    let db = config.open().expect("fresh sled");
    let mut ordered: Vec<&(Vec<u8>, Row)> = rows.iter().collect();
    let per_batch = match order {
        Order::Keys => 10_000,
        Order::Commits(n) => {
            ordered.sort_by_key(|(_, (k, _))| lingong_protocol::canon::sha256(k));
            n
        }
    };
    for chunk in ordered.chunks(per_batch) {
        apply_rows(&db, chunk.iter().copied());
        if matches!(order, Order::Commits(_)) {
            db.flush().expect("flush");
        }
    }
    db.flush().expect("flush");
    let idle = idle_cpu();
    drop(db);
    (Disk::of(&path), idle)
}

/// The CPU time (user and system, every thread) this process spends over one second of
/// wall time while it does nothing itself: what sled's background thread costs a store left
/// open, as a fraction of one core.
fn idle_cpu() -> f64 {
    fn ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // Fields after the command's closing parenthesis; utime and stime are 14th and 15th.
        let rest = &stat[stat.rfind(')').expect("stat") + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
    }
    let (before, started) = (ticks(), Instant::now());
    std::thread::sleep(std::time::Duration::from_secs(1));
    // The kernel counts in USER_HZ, 100 per second on Linux.
    (ticks() - before) as f64 / 100.0 / started.elapsed().as_secs_f64()
}

// The machine's load average, as `uptime` prints it: the benches' shared measure.
#[path = "common/measure.rs"]
mod measure;
use measure::uptime;

/// The rewrite's lever (`LINGONG_BENCH_REWRITE=1`): the store's rows written into fresh stores
/// of [`store::sled_config`] in key order, as `migrate::rewrite_into` writes them, with a
/// flush every so many rows (none: one at the end, as the rewrite did before), blocks
/// allocated per record against the store as written (the baseline, measured above in the
/// same run).
fn rewrite_flushes(store_dir: &Path, scratch: &Path, records: f64, envelope: f64, written: Disk) {
    let source = store::sled_config(store_dir).open().expect("sled opens");
    let rows = read_rows(&source);
    drop(source);
    println!(
        "the rewrite's flushes (key order; bytes per record apparent / allocated, × the \
         envelope, ÷ the store as written {:.0} B allocated):",
        written.allocated as f64 / records
    );
    let this_build = lingong_node::migrate::REWRITE_ROWS_PER_FLUSH;
    for (i, per_flush) in [None, Some(1_000), Some(100), Some(this_build), Some(6)]
        .into_iter()
        .enumerate()
    {
        let path = scratch.join(format!("rewrite-{i}"));
        let started = Instant::now();
        {
            let db = store::sled_config(&path).open().expect("fresh");
            for chunk in rows.chunks(per_flush.unwrap_or(10_000)) {
                apply_rows(&db, chunk);
                if per_flush.is_some() {
                    db.flush().expect("flush");
                }
            }
            db.flush().expect("flush");
        }
        let d = Disk::of(&path);
        let name = match per_flush {
            None => "one flush at the end (before)".to_string(),
            Some(n) if n == this_build => format!("a flush every {n} rows (this build)"),
            Some(n) => format!("a flush every {n} rows"),
        };
        println!(
            "  {name:<40} {:>6.0} / {:>6.0} B ({:.2}×), {:.2} of the store as written, in {:.1} s",
            d.apparent as f64 / records,
            d.allocated as f64 / records,
            d.allocated as f64 / records / envelope,
            d.allocated as f64 / written.allocated as f64,
            started.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&path);
    }
    println!("load: {}", uptime());
}
