//! Lists, status and matching on a large county store, each next to the full-scan baseline
//! measured in the same run (what `post list` and `status` did before the indexes).
//!
//! Builds a county node's store of `LINGONG_BENCH_POSTS` open posts (default 100,000; twelve
//! occupations, one in `LINGONG_BENCH_APPROVED_EVERY` approved, default 4: a quarter; one
//! title in twenty names an occupation by an everyday word) and `LINGONG_BENCH_WORKERS`
//! workers (default 50,000; one or two skills, in the county's villages or at the county, one
//! in seven older; the last two: one whose skill no post relates to, one without skills)
//! through the real write path (signed, accepted, committed with their index rows), untimed;
//! then times, over 200 calls each:
//! - a filtered, paged list (`post list --review approved --limit 100`, from a random page);
//! - `status` (record counters) against counting by a scan of every record;
//! - the same list pages and `status` calls with the page cache of a village
//!   (`home::VILLAGE_STORE_CACHE_MB`, 16 MiB) against the default above it (64 MiB), the
//!   store opened afresh for each, and their ratio;
//! - the first load of the matching rows into memory (`SledStore::with_match_table`: once per
//!   open store), with about the memory it holds;
//! - `match --worker` and `match --post` from the matching rows in memory, against the full scans
//!   (`for_worker_scan`, `for_post_scan`: every approved post or every worker ranked, as
//!   before the matching rows), 10 calls each, whose answers the indexed ones must equal;
//!   and the worst case of `match --worker`, the two workers whose candidates are every post
//!   (20 calls each, against 3 scans), and each once more right after every worker record
//!   was read again (sled's page cache turned over), then warm: what a first call pays.
//!
//! `status` is also taken apart: for its slowest calls, what the calling thread did meanwhile
//! (time on a core, time waiting for one, blocking waits, page faults that read the disk, from
//! `/proc/thread-self`), and each part of it timed alone over the same number of calls.
//!
//! `cargo bench -p lingong-node --bench lists` (release build). Prints p50, p99 and the ratio
//! to the baseline, with the load average; the README keeps the figures.
//! `LINGONG_BENCH_SCANS` (default 10, the worst cases at most 3) sets the baseline scans per
//! figure, for a run at 1,000,000 posts (`LINGONG_BENCH_POSTS=1000000`) where each reads every
//! record; `LINGONG_BENCH_MATCHING=0` leaves matching out (such a run is for lists and
//! `status`). `LINGONG_BENCH_PERF_CTL=FIFO` writes `enable` and `disable` to a `perf record
//! --control fifo:FIFO -D -1` around `status`'s timed calls, so a profile holds those only.

#[path = "common/measure.rs"]
mod measure;
mod stations;
use lingong_node::index;
use lingong_node::request::{PostFilter, Request, dispatch};
use lingong_node::services::matching;
use lingong_node::station::{self, Station};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::RegionCode;
use lingong_protocol::schema::{
    Choice, Flag, Post, PostStatus, ReviewState, Schema, WageUnit, Worker, WorkerStatus,
};
use measure::{load_average, percentiles, percentiles_ms};
use stations::{county, env_count};
use std::time::{Duration, Instant};

const OCCUPATIONS: [&str; 12] = [
    "4-10-01-06",
    "4-02-06-03",
    "6-29-01-00",
    "5-01-02-01",
    "4-03-02-01",
    "6-18-01-01",
    "4-10-03-01",
    "6-24-01-00",
    "4-08-07-01",
    "6-01-01-00",
    "4-02-06-01",
    "5-05-01-00",
];

/// A skill of another major group than every post's.
const UNRELATED: &str = "2-02-01-01";

fn fill(station: &mut Station, posts: usize, workers: usize, approved_every: usize) {
    let region = station.region;
    let villages: Vec<RegionCode> = [
        "522622101001",
        "522622101002",
        "522622102001",
        "522622103001",
    ]
    .iter()
    .map(|c| RegionCode::parse(c).expect("code"))
    .collect();
    let now = station::now_ms();
    let started = Instant::now();
    for chunk in (0..posts).collect::<Vec<_>>().chunks(1000) {
        station
            .write(|author, staged| {
                for &i in chunk {
                    let post = Post {
                        title: if i % 20 == 4 {
                            format!("急招保姆 {i}")
                        } else {
                            format!("岗位 {i}")
                        },
                        // Every occupation among the approved posts too (`i % 12` would give
                        // those only three).
                        occupation: OCCUPATIONS[(i + i / 4) % OCCUPATIONS.len()].into(),
                        wage: 120.0 + (i % 20) as f64 * 10.0,
                        unit: WageUnit::Day,
                        headcount: 1 + (i % 5) as i64,
                        employer: None,
                        status: PostStatus::Open,
                        review: if i % approved_every == 0 {
                            ReviewState::Approved
                        } else {
                            ReviewState::Pending
                        },
                        review_reason: None,
                        reviewed_by: None,
                        reviewed_at: None,
                        region,
                        reach: villages[i % villages.len()],
                        location: None,
                        contact: Some("13800000000".into()),
                        description: None,
                        expires: Some(dates::format_date(dates::today_cst(now) + 60)),
                        created_at: dates::rfc3339(now),
                    };
                    author.write(
                        staged,
                        Target::Create {
                            kind: RecordKind::Post,
                            reach: Some(post.reach),
                        },
                        &post.edits(),
                        now + i as i64,
                    )?;
                }
                Ok(())
            })
            .expect("posts written");
    }
    for chunk in (0..workers).collect::<Vec<_>>().chunks(1000) {
        station
            .write(|author, staged| {
                for &i in chunk {
                    let worker = Worker {
                        name: format!("劳动者 {i}"),
                        id_masked: "52***************X".into(),
                        id_hash: format!("v2:{i:064x}"),
                        phone: "13900000000".into(),
                        // The last two: one whose skill no post relates to, one without
                        // skills (every post is then a candidate of the same group).
                        skills: if i + 1 == workers {
                            vec![UNRELATED.into()]
                        } else if i + 2 == workers {
                            Vec::new()
                        } else if i % 3 == 0 {
                            vec![
                                OCCUPATIONS[i % OCCUPATIONS.len()].into(),
                                OCCUPATIONS[(i / 3) % OCCUPATIONS.len()].into(),
                            ]
                        } else {
                            vec![OCCUPATIONS[i % OCCUPATIONS.len()].into()]
                        },
                        wage_min: Some(100.0 + (i % 10) as f64 * 10.0),
                        flags: if i % 7 == 0 {
                            vec![Flag::Older]
                        } else {
                            Vec::new()
                        },
                        available_from: None,
                        available_to: None,
                        status: WorkerStatus::Active,
                        region: if i % 5 == 4 {
                            region
                        } else {
                            villages[i % villages.len()]
                        },
                        created_at: dates::rfc3339(now),
                    };
                    author.write(
                        staged,
                        Target::Create {
                            kind: RecordKind::Worker,
                            reach: None,
                        },
                        &worker.edits(),
                        now + (posts + i) as i64,
                    )?;
                }
                Ok(())
            })
            .expect("workers written");
    }
    println!(
        "store: {posts} posts and {workers} workers written in {:.1} s, {} MB on disk",
        started.elapsed().as_secs_f64(),
        station.store.size_on_disk() / 1_000_000
    );
}

/// What the calling thread has done so far, from `/proc/thread-self`: nanoseconds on a core
/// and waiting for one (`schedstat`), blocking and preempted context switches (`status`),
/// page faults that read the disk (`stat`, field 12).
#[derive(Clone, Copy, Default)]
struct ThreadStats {
    on_cpu_ns: u64,
    run_wait_ns: u64,
    blocked: u64,
    preempted: u64,
    major_faults: u64,
}

impl ThreadStats {
    fn now() -> ThreadStats {
        let read =
            |f: &str| std::fs::read_to_string(format!("/proc/thread-self/{f}")).unwrap_or_default();
        let sched: Vec<u64> = read("schedstat")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let status = read("status");
        let switches = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        let stat = read("stat");
        // The fields after the command name in parentheses; majflt is the 12th field overall.
        let major_faults = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(9)?.parse().ok())
            .unwrap_or(0);
        ThreadStats {
            on_cpu_ns: sched.first().copied().unwrap_or(0),
            run_wait_ns: sched.get(1).copied().unwrap_or(0),
            blocked: switches("voluntary_ctxt_switches:"),
            preempted: switches("nonvoluntary_ctxt_switches:"),
            major_faults,
        }
    }

    fn since(self, before: ThreadStats) -> ThreadStats {
        ThreadStats {
            on_cpu_ns: self.on_cpu_ns - before.on_cpu_ns,
            run_wait_ns: self.run_wait_ns - before.run_wait_ns,
            blocked: self.blocked - before.blocked,
            preempted: self.preempted - before.preempted,
            major_faults: self.major_faults - before.major_faults,
        }
    }
}

/// [`time`] that also keeps what the thread did in each call: the times and, for the `show`
/// slowest calls, their number and breakdown.
fn time_traced(n: usize, show: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        let before = ThreadStats::now();
        let t = Instant::now();
        f(i);
        let took = t.elapsed();
        calls.push((took, i, ThreadStats::now().since(before)));
    }
    let mut slowest = calls.clone();
    slowest.sort_by_key(|(took, ..)| std::cmp::Reverse(*took));
    for (took, i, s) in slowest.iter().take(show) {
        println!(
            "  call {i:>3}: {:8.2} ms: on a core {:.2} ms, waiting for a core {:.2} ms, blocked {} times, preempted {} times, {} page faults from disk",
            took.as_secs_f64() * 1000.0,
            s.on_cpu_ns as f64 / 1e6,
            s.run_wait_ns as f64 / 1e6,
            s.blocked,
            s.preempted,
            s.major_faults
        );
    }
    percentiles(calls.into_iter().map(|(took, ..)| took).collect())
}

fn report(what: &str, (p50, p99): (f64, f64), base: Option<(f64, f64)>, target_ms: f64) {
    println!("{what}: load average {}", load_average());
    match base {
        Some((b50, b99)) => println!(
            "{what:<44} p50 {p50:8.2} ms  p99 {p99:8.2} ms | baseline p50 {b50:8.2} ms p99 {b99:8.2} ms | p99 ratio {:6.4} | target p99 < {target_ms} ms: {}",
            p99 / b99,
            if p99 < target_ms { "met" } else { "NOT met" }
        ),
        None => println!(
            "{what:<44} p50 {p50:8.2} ms  p99 {p99:8.2} ms | target p99 < {target_ms} ms: {}",
            if p99 < target_ms { "met" } else { "NOT met" }
        ),
    }
}

/// `calls` pages of `post list --review approved --limit 100`, each after a post taken
/// across the whole list (`ids`, newest first), the first from the top.
fn time_list(station: &mut Station, ids: &[String], calls: usize) -> (f64, f64) {
    percentiles_ms(calls, |i| {
        let filter = PostFilter {
            review: Some("approved".into()),
            limit: Some(100),
            after: (i > 0).then(|| ids[(i * 7919) % ids.len()].clone()),
            ..Default::default()
        };
        let rows = dispatch(station, Request::PostList(filter)).expect("list");
        assert!(!rows.as_array().expect("rows").is_empty() || i > 0);
    })
}

/// `calls` calls of `status`.
fn time_status(station: &mut Station, calls: usize) -> (f64, f64) {
    percentiles_ms(calls, |_| {
        dispatch(station, Request::Status).expect("status");
    })
}

/// The station in `station`'s home opened again with a page cache of `cache_mb`
/// (`store_cache_mb` written into its `config.toml`, as an operator would).
fn reopen_with_cache(station: Station, cache_mb: u64) -> Station {
    let home = station.home.clone();
    drop(station);
    let mut config = home.load_config().expect("config");
    config.store_cache_mb = cache_mb;
    home.save_config(&config).expect("config saved");
    Station::open(&home).expect("reopened")
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let posts = env_count("LINGONG_BENCH_POSTS", 100_000);
    let workers = env_count("LINGONG_BENCH_WORKERS", 50_000);
    let approved_every = env_count("LINGONG_BENCH_APPROVED_EVERY", 4).max(1);
    let calls = 200;
    // Baseline scans per figure (each reads every record: at 1,000,000 posts some 15 s).
    let scans = env_count("LINGONG_BENCH_SCANS", 10).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut station = county(dir.path());
    fill(&mut station, posts, workers, approved_every);

    // Cursors spread over the whole list, so pages come from everywhere in the store (read
    // from the review index one record at a time, oldest first, not all held at once).
    let approved = index::prefix(
        RecordKind::Post,
        Some((index::Field::Review, ReviewState::Approved.as_str(), true)),
    );
    let mut ids: Vec<String> = station
        .store
        .list(approved, None)
        .map(|s| s.expect("record").id().to_hex())
        .collect();
    ids.reverse();
    let listed = time_list(&mut station, &ids, calls);
    let scanned = percentiles_ms(scans, |_| {
        stations::approved_page_by_scan(&station);
    });
    report(
        "post list --review approved --limit 100",
        listed,
        Some(scanned),
        50.0,
    );

    println!("status, its slowest calls (what the calling thread did meanwhile):");
    let perf = |command: &str| {
        if let Ok(fifo) = std::env::var("LINGONG_BENCH_PERF_CTL") {
            std::fs::write(&fifo, format!("{command}\n")).expect("perf control fifo");
        }
    };
    perf("enable");
    let status = time_traced(calls, 5, |_| {
        dispatch(&mut station, Request::Status).expect("status");
    });
    perf("disable");
    // Each part of `status` alone, as many calls: which one the slow calls wait in.
    type Part<'a> = (&'a str, &'a dyn Fn(&Station));
    let parts: [Part; 4] = [
        ("record counters", &|s: &Station| {
            s.record_counts().expect("counts");
        }),
        ("size on disk", &|s: &Station| {
            s.store.size_on_disk();
        }),
        ("open forks", &|s: &Station| {
            lingong_node::services::status::open_forks(s).expect("forks");
        }),
        ("catching-up and repair markers", &|s: &Station| {
            lingong_node::backup::is_catching_up(&s.home);
            let _ = lingong_node::repair::check_writable(&s.home);
        }),
    ];
    for (what, part) in parts {
        let mut times: Vec<Duration> = (0..calls)
            .map(|_| {
                let t = Instant::now();
                part(&station);
                t.elapsed()
            })
            .collect();
        times.sort();
        let (p50, p99) = percentiles(times.clone());
        println!(
            "  status part, {what:<32} p50 {p50:8.3} ms  p99 {p99:8.3} ms  max {:8.3} ms",
            times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        );
    }
    let counted = percentiles_ms(scans, |_| {
        let n = station.store.records_of(None).expect("scan").len();
        let m = lingong_protocol::store::Store::items(&station.store)
            .expect("items")
            .len();
        assert!(n > 0 && m > 0);
    });
    report("status (counters)", status, Some(counted), 50.0);

    // A village's page cache (`home::VILLAGE_STORE_CACHE_MB`, the default of a new village)
    // against the default above it, on this same store: each opened afresh, then the same
    // list pages and `status` calls (a village holds as many posts as its county sends it).
    let village_mb = lingong_node::home::VILLAGE_STORE_CACHE_MB;
    let county_mb = lingong_node::home::default_store_cache_mb();
    let mut by_cache = Vec::new();
    for mb in [county_mb, village_mb] {
        station = reopen_with_cache(station, mb);
        let listed = time_list(&mut station, &ids, calls);
        let status = time_status(&mut station, calls);
        by_cache.push((mb, listed, status));
    }
    println!("page cache, opened afresh: load average {}", load_average());
    for (mb, (l50, l99), (s50, s99)) in &by_cache {
        println!(
            "  store_cache_mb = {mb:>3}: post list --review approved --limit 100 p50 {l50:7.2} ms p99 {l99:7.2} ms | status p50 {s50:6.3} ms p99 {s99:6.3} ms"
        );
    }
    let ((_, (_, l64), (_, s64)), (_, (_, lv), (_, sv))) = (&by_cache[0], &by_cache[1]);
    println!(
        "  village cache ({village_mb} MiB) against {county_mb} MiB: list p99 ratio {:.2}, status p99 ratio {:.2}",
        lv / l64,
        sv / s64
    );
    station = reopen_with_cache(station, county_mb);
    if env_count("LINGONG_BENCH_MATCHING", 1) == 0 {
        return;
    }

    let worker_ids: Vec<String> = station
        .store
        .records_of(Some(RecordKind::Worker))
        .expect("scan")
        .iter()
        .map(|s| s.id().to_hex())
        .collect();
    // The matching rows are loaded into memory at the first match; timed apart, so the calls
    // below are those of a running daemon.
    let t = Instant::now();
    let (rows, bytes) = station
        .store
        .with_match_table(|table| (table.len(), table.approx_bytes()))
        .expect("matching rows");
    println!(
        "matching table: {rows} rows loaded in {:.0} ms at the first match, about {:.1} MB",
        t.elapsed().as_secs_f64() * 1000.0,
        bytes as f64 / 1e6
    );
    let worker_at = |i: usize| worker_ids[(i * 104_729) % worker_ids.len()].clone();
    let post_at = |i: usize| ids[(i * 7919) % ids.len()].clone();
    println!("match --worker, its slowest calls:");
    let by_worker = time_traced(calls, 3, |i| {
        dispatch(
            &mut station,
            Request::MatchWorker {
                id: worker_at(i),
                limit: Some(20),
                lang: "zh".into(),
            },
        )
        .expect("match");
    });
    let mut answers = Vec::new();
    let by_worker_scan = percentiles_ms(scans, |i| {
        answers.push(
            matching::for_worker_scan(&station, &worker_at(i), Some(20), "zh")
                .expect("match by scan"),
        );
    });
    for (i, scanned) in answers.iter().enumerate() {
        let indexed = matching::for_worker(&station, &worker_at(i), Some(20), "zh").expect("match");
        assert_eq!(&indexed, scanned, "the indexed answer is the scan's");
    }
    report(
        "match --worker (baseline: approved posts scanned)",
        by_worker,
        Some(by_worker_scan),
        20.0,
    );
    let by_post = percentiles_ms(calls, |i| {
        dispatch(
            &mut station,
            Request::MatchPost {
                id: post_at(i),
                limit: Some(20),
                lang: "zh".into(),
            },
        )
        .expect("match");
    });
    let mut answers = Vec::new();
    let by_post_scan = percentiles_ms(scans, |i| {
        answers.push(
            matching::for_post_scan(&station, &post_at(i), Some(20), "zh").expect("match by scan"),
        );
    });
    for (i, scanned) in answers.iter().enumerate() {
        let indexed = matching::for_post(&station, &post_at(i), Some(20), "zh").expect("match");
        assert_eq!(&indexed, scanned, "the indexed answer is the scan's");
    }
    report(
        "match --post (baseline: workers scanned)",
        by_post,
        Some(by_post_scan),
        50.0,
    );

    // The worst case: no post relates to the worker's skills, or the worker lists none.
    let named = |name: String| -> String {
        station
            .store
            .records_of(Some(RecordKind::Worker))
            .expect("scan")
            .into_iter()
            .find(|s| s.view.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
            .expect("the worker")
            .id()
            .to_hex()
    };
    for (what, id) in [
        (
            "match --worker, skill unrelated to every post",
            named(format!("劳动者 {}", workers - 1)),
        ),
        (
            "match --worker, no skills",
            named(format!("劳动者 {}", workers - 2)),
        ),
    ] {
        println!("{what}, its slowest calls:");
        let indexed = time_traced(20, 2, |_| {
            matching::for_worker(&station, &id, Some(20), "zh").expect("match");
        });
        let mut answers = Vec::new();
        let scanned = percentiles_ms(scans.min(3), |_| {
            answers.push(matching::for_worker_scan(&station, &id, Some(20), "zh").expect("scan"));
        });
        let indexed_answer = matching::for_worker(&station, &id, Some(20), "zh").expect("match");
        assert!(
            answers.iter().all(|a| *a == indexed_answer),
            "the indexed answer is the scan's"
        );
        report(what, indexed, Some(scanned), 20.0);
        // Where a first call's time goes: the same call right after every worker record was
        // read again, as by `named` above (sled's page cache turned over, so the posts it
        // returns are read from the store's files and decompressed; and 50,000 records freed
        // just before), then once more warm; then after the same reading with the records
        // still held (the cache turned over, nothing freed).
        let once = |station: &Station| {
            let t = Instant::now();
            matching::for_worker(station, &id, Some(20), "zh").expect("match");
            t.elapsed().as_secs_f64() * 1000.0
        };
        let every_worker = |station: &Station| {
            station
                .store
                .records_of(Some(RecordKind::Worker))
                .expect("scan")
        };
        drop(every_worker(&station));
        let (freed, warm) = (once(&station), once(&station));
        let held = every_worker(&station);
        let kept = once(&station);
        drop(held);
        println!(
            "  {what}: after every worker record was read again and freed, the first call {freed:.2} ms, the next {warm:.2} ms; read again and still held, the first call {kept:.2} ms"
        );
    }
}
