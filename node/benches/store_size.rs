//! Bytes on disk per accepted post, against the post's own envelope, and where they go.
//!
//! Writes `LINGONG_BENCH_POSTS` job posts (default 20,000) and `LINGONG_BENCH_WORKERS` worker
//! registrations (default 0) through the real write path (`Station::write`: signed, accepted,
//! committed with their index rows, one `apply_batch` and flush per commit) into a fresh
//! county store on disk, `LINGONG_BENCH_BATCH` records per commit (default 1: a clerk's
//! `post create`; a sync or bundle import commits a frame's worth at a time), closes it, and
//! prints:
//! - bytes on disk per envelope (the store's folder, apparent size and blocks allocated);
//! - the baseline: the envelope's own bytes (canonical wire form, as signed and sent);
//! - their ratio (the target: at most 2.5);
//! - the breakdown by sled tree and, in the node's tree, by key prefix (`e` envelopes, `r`
//!   records, `k`/`i` indexes…: rows, key bytes, value bytes; the record rows further split
//!   into the saved Automerge document, the listing view and the rest), and the gap between
//!   the sum and the files (sled's own overhead: page headers, segment slack, garbage of
//!   rewritten pages not yet reclaimed);
//! - the levers, one at a time, against the format-2 layout in the same run: the store's rows
//!   written into fresh stores once in key order (what a migration's rewrite leaves) and a
//!   commit's worth at a time with a flush after each (`LINGONG_BENCH_REPLAY` commits, default
//!   all): sled's zstd compression at levels 1, 3 and 9, 128 KB segments, record rows without
//!   the saved document of a single-change record or without the JSON view, and
//!   [`store::sled_config`] (format 3) alone and with those row changes; then `uptime`.
//!
//! With `LINGONG_BENCH_COMPACT=1` it instead runs `lingong compact` over the store as written
//! and prints its size before (the baseline) and after, their ratio and the time taken.
//!
//! `cargo bench -p lingong-node --bench store_size` (release build); the README's "Store size"
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

#[derive(Default)]
struct Usage {
    rows: u64,
    keys: u64,
    values: u64,
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
    if std::env::var_os("LINGONG_BENCH_COMPACT").is_some() {
        return compact(&home, posts, workers);
    }

    let mut on_disk = BTreeMap::new();
    files(&store_dir, &mut on_disk);
    let apparent: u64 = on_disk.values().map(|v| v.0).sum();
    let allocated: u64 = on_disk.values().map(|v| v.1).sum();
    let records = (posts + workers).max(1) as f64;
    let envelope = (post_bytes + worker_bytes) as f64 / records;
    println!(
        "envelope (baseline): {envelope:.0} bytes per record ({:.0} per post, {:.0} per worker)",
        post_bytes as f64 / posts.max(1) as f64,
        worker_bytes as f64 / workers.max(1) as f64
    );
    println!(
        "on disk: {:.1} MB apparent, {:.1} MB allocated: {:.0} bytes per record apparent, \
         {:.0} allocated",
        apparent as f64 / 1e6,
        allocated as f64 / 1e6,
        apparent as f64 / records,
        allocated as f64 / records
    );
    println!(
        "ratio to the envelope: {:.2} apparent, {:.2} allocated (target: at most 2.5)",
        apparent as f64 / records / envelope,
        allocated as f64 / records / envelope
    );
    println!("files:");
    for (name, (len, blocks)) in &on_disk {
        println!("  {name:<16} {len:>12} bytes  {blocks:>12} allocated");
    }

    // What sled holds, read back with sled itself once the node let go of the store.
    let db = store::sled_config(&store_dir).open().expect("sled opens");
    let mut logical = 0u64;
    println!("rows (per record: rows, key bytes, value bytes):");
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        let mut by_prefix: BTreeMap<u8, Usage> = BTreeMap::new();
        let (mut doc, mut view, mut record_rows) = (0u64, 0u64, 0u64);
        for row in tree.iter() {
            let (k, v) = row.expect("row");
            let u = by_prefix
                .entry(k.first().copied().unwrap_or(0))
                .or_default();
            u.rows += 1;
            u.keys += k.len() as u64;
            u.values += v.len() as u64;
            if k.first() == Some(&b'r')
                && let Ok(state) = postcard::from_bytes::<RecordState>(&v)
            {
                record_rows += 1;
                doc += state.doc.as_ref().map_or(0, |d| d.len() as u64);
                view += serde_json::to_string(&state.view).expect("json").len() as u64;
            }
        }
        let total: u64 = by_prefix.values().map(|u| u.keys + u.values).sum();
        logical += total;
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
                "    {label:<6} {:>9} rows  {:>7.2} rows  {:>7.0} key  {:>7.0} value  ({:.1} % of rows' bytes)",
                u.rows,
                u.rows as f64 / records,
                u.keys as f64 / records,
                u.values as f64 / records,
                100.0 * (u.keys + u.values) as f64 / total.max(1) as f64
            );
        }
        if record_rows > 0 {
            println!(
                "    of 'r': saved document {:.0}, listing view (JSON) {:.0}, the rest {:.0} bytes per record",
                doc as f64 / records,
                view as f64 / records,
                (by_prefix[&b'r'].values as f64 - (doc + view) as f64) / records
            );
        }
    }
    println!(
        "rows in all: {:.1} MB ({:.0} bytes per record, {:.2}× the envelope); sled's own \
         overhead (files − rows): {:.1} MB ({:.0} bytes per record)",
        logical as f64 / 1e6,
        logical as f64 / records,
        logical as f64 / records / envelope,
        (apparent as f64 - logical as f64) / 1e6,
        (apparent as f64 - logical as f64) / records
    );

    // The levers, one at a time, against the current layout, in this run: the same rows
    // written into fresh stores (a) once, in key order, in batches of 10,000 (what the
    // migration's rewrite leaves), and (b) as commits do, a record's worth of rows per batch
    // and a flush after each, in the order of their keys' hashes (envelope, metadata and short
    // id keys are hashes, so commits land on random leaves); `LINGONG_BENCH_REPLAY` records'
    // worth (default: all of them) in (b).
    drop(db);
    let source = store::sled_config(&store_dir).open().expect("sled opens");
    let rows = read_rows(&source);
    drop(source);
    let replay = env_count("LINGONG_BENCH_REPLAY", posts + workers).min(posts + workers);
    let per_commit = (rows.len() as f64 / records).round().max(1.0) as usize;
    println!(
        "levers ({} rows, {per_commit} rows per emulated commit, {replay} commits; bytes per \
         record and × the envelope):",
        rows.len()
    );
    // sled's `Config` cannot take a path once cloned: each lever makes its own from a path.
    type Make = Box<dyn Fn(&Path) -> sled::Config>;
    let current = |p: &Path| {
        store::sled_config(p)
            .use_compression(false)
            .segment_size(512 * 1024)
    };
    let zstd = move |level: i32| -> Make {
        Box::new(move |p: &Path| current(p).use_compression(true).compression_factor(level))
    };
    let levers: Vec<(&str, Make, Layout)> = vec![
        (
            "current layout (format 2)",
            Box::new(current),
            Layout::Current,
        ),
        (
            "segments of 128 KB",
            Box::new(move |p: &Path| current(p).segment_size(128 * 1024)),
            Layout::Current,
        ),
        (
            "no saved document for records of one change",
            Box::new(current),
            Layout::NoSingleChangeDoc,
        ),
        (
            "no JSON view (read from the document)",
            Box::new(current),
            Layout::NoView,
        ),
        ("zstd level 1", zstd(1), Layout::Current),
        ("zstd level 3", zstd(3), Layout::Current),
        ("zstd level 9", zstd(9), Layout::Current),
        (
            "store::sled_config (format 3)",
            Box::new(store::sled_config),
            Layout::Current,
        ),
        (
            "format 3 + no saved document for records of one change",
            Box::new(store::sled_config),
            Layout::NoSingleChangeDoc,
        ),
        (
            "format 3 + no JSON view",
            Box::new(store::sled_config),
            Layout::NoView,
        ),
    ];
    for (i, (name, make, layout)) in levers.into_iter().enumerate() {
        let rows = layout.apply(&rows);
        let logical: u64 = rows
            .iter()
            .map(|(_, (k, v))| (k.len() + v.len()) as u64)
            .sum();
        let once = dir.path().join(format!("lever-{i}-once"));
        let started = Instant::now();
        let size_once = write_rows(make(&once), &rows, Order::Keys);
        let once_s = started.elapsed().as_secs_f64();
        let commits = dir.path().join(format!("lever-{i}-commits"));
        let started = Instant::now();
        let replayed = &rows[..(rows.len() * replay / (posts + workers).max(1)).min(rows.len())];
        let size_commits = write_rows(make(&commits), replayed, Order::Commits(per_commit));
        let commits_s = started.elapsed().as_secs_f64();
        let per = |bytes: u64, n: f64| bytes as f64 / n;
        let replayed_records = replayed.len() as f64 / per_commit as f64;
        println!(
            "  {name:<56} rows {:>6.0} B ({:.2}×) | written once {:>6.0} B ({:.2}×, {once_s:.1} s) \
             | as commits {:>6.0} B ({:.2}×, {commits_s:.1} s)",
            per(logical, records),
            per(logical, records) / envelope,
            per(size_once, records),
            per(size_once, records) / envelope,
            per(size_commits, replayed_records),
            per(size_commits, replayed_records) / envelope,
        );
        let _ = std::fs::remove_dir_all(&once);
        let _ = std::fs::remove_dir_all(&commits);
    }
    println!("load: {}", uptime());
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

/// Writes `rows` into a fresh store made with `config` in `order`; returns its bytes on disk
/// (apparent size) once closed.
fn write_rows(config: sled::Config, rows: &[(Vec<u8>, Row)], order: Order) -> u64 {
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
        let mut batches: BTreeMap<&[u8], sled::Batch> = BTreeMap::new();
        for (tree, (k, v)) in chunk {
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
        if matches!(order, Order::Commits(_)) {
            db.flush().expect("flush");
        }
    }
    db.flush().expect("flush");
    drop(db);
    let mut sizes = BTreeMap::new();
    files(&path, &mut sizes);
    sizes.values().map(|v| v.0).sum()
}

/// `LINGONG_BENCH_COMPACT=1`: `lingong compact` over the store as the real write path left
/// it (the baseline, measured in the same run), its size after, their ratio and the time.
fn compact(home: &lingong_node::home::Home, posts: usize, workers: usize) {
    let started = Instant::now();
    let done = lingong_node::compact::compact(home, &mut |_| {}).expect("compact");
    let secs = started.elapsed().as_secs_f64();
    let bytes = |k: &str| done[k].as_u64().expect("bytes");
    let (before, after) = (bytes("bytes_before"), bytes("bytes_after"));
    println!(
        "compact, {posts} posts and {workers} workers: {:.1} MB allocated before (baseline), \
         {:.1} MB after, ratio {:.2}, {} rows in {secs:.1} s",
        before as f64 / 1e6,
        after as f64 / 1e6,
        after as f64 / before as f64,
        done["rows"]
    );
    println!("{}", uptime());
}

/// The machine's load average, as `uptime` prints it.
fn uptime() -> String {
    std::process::Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("uptime failed: {e}"))
}
