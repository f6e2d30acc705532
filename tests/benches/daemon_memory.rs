//! The daemon memory benchmark of issue 14: a village daemon's resident memory idle, after a
//! first sync of 100,000 posts over libp2p, and after 100 `post list` calls, against the target
//! of 150 MB.
//!
//! Set-up (untimed): the five certified stations of the tests' chain (province → village,
//! [`init_chain`]); at the county, `LINGONG_BENCH_POSTS` posts (default 100,000) recorded with
//! `lingong sample --posts N` (signed, accepted and committed through the node's write path,
//! each reaching the whole county, so the village's scope wants every one). Then the county's
//! daemon and the village's (no peer yet) are started, each a real `lingong run` on loopback.
//!
//! Measured, at the village daemon (`VmRSS` and `VmHWM` of its pid in `/proc`):
//! - **idle**: once its resident memory holds still after the start (the baseline);
//! - **after the sync**: `lingong peer add` of the county through the village's daemon, which
//!   dials it and runs its first sync session (handshake, reconciliation, every post pushed and
//!   accepted in batches); timed until the village's `status` counts every post, then read
//!   once the memory holds still;
//! - **after the lists**: `LINGONG_BENCH_LISTS` (default 100) `post list` calls through the
//!   daemon, as the console and scripts ask: pages of 100 rows, newest first, each after the
//!   last row of the one before (`--limit 100 --after ID`), every fourth one filtered instead
//!   (`--status open`, `--review pending`, `--occupation 4-02-05-01`, the porters, in turn);
//! - **after one whole list**: one `post list` without `--limit` (every post as JSON), the
//!   heaviest list a script can ask for, shown apart from the target's 100 calls.
//!
//! Sled's page cache at the village is its configuration's `store_cache_mb` (what `lingong
//! init` writes for a village: 16 MiB, `home::VILLAGE_STORE_CACHE_MB`; `LINGONG_BENCH_CACHE_MB`
//! writes another into the village's `config.toml` before its start).
//!
//! Printed: each figure in MB, its ratio to the idle baseline, and the part of it that is the
//! process's own anonymous memory (`RssAnon`: the heap; the rest is mostly the binary's own
//! pages), the target, the county daemon's own figures beside them, and the load average (the
//! machine is shared).
//!
//! Run: `cargo bench -p lingong-tests --bench daemon_memory` (release build).
//! `LINGONG_BENCH_KEEP=1` keeps the node homes.

use lingong_tests::{
    Daemon, Node, Resident, daemon_pid, du_mb, env_usize, free_port, init_chain, load_average, mib,
    poll_every, resident, settled_resident,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The target of issue 14: resident memory after the first sync and the lists, MiB.
const TARGET_MB: f64 = 150.0;
/// How long the first sync may take before the run is abandoned.
const SYNC_DEADLINE: Duration = Duration::from_secs(3600);

fn main() {
    let posts = env_usize("LINGONG_BENCH_POSTS", 100_000);
    let lists = env_usize("LINGONG_BENCH_LISTS", 100);
    let started = Instant::now();
    println!(
        "lingong daemon memory benchmark: {posts} posts synced from the county to a new village, \
         then {lists} `post list` calls; load {}",
        load_average()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, village) = (nodes[2].clone(), nodes[4].clone());
    let t = Instant::now();
    county.json(&["sample", "--posts", &posts.to_string()]);
    println!(
        "set-up: {posts} posts recorded at the county in {:.1} s; its store {} MB",
        t.elapsed().as_secs_f64(),
        du_mb(&county.home.join("store"))
    );

    // Sled's page cache at the village: its configuration's `store_cache_mb` (what `init`
    // wrote for a village unless `LINGONG_BENCH_CACHE_MB` sets another).
    let config = village.home.join("config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config.toml");
    if let Ok(mb) = std::env::var("LINGONG_BENCH_CACHE_MB") {
        text = text
            .lines()
            .map(|l| {
                if l.starts_with("store_cache_mb") {
                    format!("store_cache_mb = {mb}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&config, &text).expect("config.toml");
    }
    let cache = text
        .lines()
        .find(|l| l.starts_with("store_cache_mb"))
        .unwrap_or("store_cache_mb absent (64 MiB)")
        .to_string();
    println!("village configuration: {cache}");

    let county_port = free_port();
    let county_addr = format!("/ip4/127.0.0.1/tcp/{county_port}/p2p/{}", county.node_id());
    let county_daemon = Daemon::start(&county, county_port);
    let county_pid = daemon_pid(&county);
    let village_daemon = Daemon::start(&village, free_port());
    let pid = daemon_pid(&village);
    let settle = |pid| settled_resident(pid, Duration::from_secs(1), Duration::from_secs(120));

    let idle = settle(pid);
    let mut rows = vec![("idle (baseline)".to_string(), idle, anon_and_load(pid))];

    let t = Instant::now();
    village.json(&["peer", "add", &county_addr]);
    poll_every(
        "the village to hold every post",
        SYNC_DEADLINE,
        Duration::from_secs(1),
        || (post_count(&village) >= posts as u64).then_some(()),
    );
    let sync_secs = t.elapsed().as_secs_f64();
    let at_end = resident(pid);
    rows.push((
        format!("first sync, at its end ({sync_secs:.1} s)"),
        at_end,
        anon_and_load(pid),
    ));
    rows.push((
        "first sync, settled".into(),
        settle(pid),
        anon_and_load(pid),
    ));

    let t = Instant::now();
    let mut after: Option<String> = None;
    let filters = [
        ["--status", "open"],
        ["--review", "pending"],
        ["--occupation", "4-02-05-01"],
    ];
    let mut listed = 0;
    for i in 0..lists {
        let mut args = vec!["post", "list", "--limit", "100"];
        let paged = i % 4 != 3;
        if paged {
            if let Some(a) = &after {
                args.extend(["--after", a]);
            }
        } else {
            args.extend(filters[(i / 4) % filters.len()]);
        }
        let page = village.json(&args);
        let page = page.as_array().expect("post list prints rows");
        listed += page.len();
        if paged {
            after = page.last().and_then(|r| r["id"].as_str()).map(String::from);
        }
    }
    rows.push((
        format!(
            "{lists} lists of 100, at their end ({:.1} s, {listed} rows)",
            t.elapsed().as_secs_f64()
        ),
        resident(pid),
        anon_and_load(pid),
    ));
    let after_lists = settle(pid);
    rows.push((
        format!("{lists} lists of 100, settled"),
        after_lists,
        anon_and_load(pid),
    ));

    let t = Instant::now();
    let all = village.json(&["post", "list"]);
    rows.push((
        format!(
            "one whole list ({} rows, {:.1} s), settled",
            all.as_array().map_or(0, Vec::len),
            t.elapsed().as_secs_f64()
        ),
        settle(pid),
        anon_and_load(pid),
    ));

    println!(
        "\nvillage daemon (pid {pid}); store {} MB",
        du_mb(&village.home.join("store"))
    );
    println!(
        "{:<48} {:>9} {:>9} {:>9} {:>9}  load",
        "stage", "RSS MB", "HWM MB", "RSS/idle", "anon MB"
    );
    for (stage, r, (anon_kib, load)) in &rows {
        println!(
            "{:<48} {:>9} {:>9} {:>9.2} {:>9}  {load}",
            stage,
            mib(r.rss_kib),
            mib(r.hwm_kib),
            r.rss_kib as f64 / idle.rss_kib as f64,
            mib(*anon_kib)
        );
    }
    let target = |r: &Resident| {
        let mb = r.rss_kib as f64 / 1024.0;
        format!(
            "{mb:.1} MB vs {TARGET_MB:.0} MB: {}",
            if mb < TARGET_MB { "met" } else { "missed" }
        )
    };
    println!(
        "target (resident after the first sync and {lists} lists under 150 MB): {}; \
         peak during the whole run (VmHWM) {} MB",
        target(&after_lists),
        mib(resident(pid).hwm_kib)
    );
    let c = resident(county_pid);
    println!(
        "county daemon (the sender): resident {} MB, peak {} MB",
        mib(c.rss_kib),
        mib(c.hwm_kib)
    );
    println!("uptime: {}", uptime());
    drop(village_daemon);
    drop(county_daemon);
    if std::env::var("LINGONG_BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("homes kept in {}", dir.keep().display());
    }
    println!("(whole run: {:.0} s)", started.elapsed().as_secs_f64());
}

/// The posts `node` holds, from `status` (answered by its daemon).
fn post_count(node: &Node) -> u64 {
    let status: Value = node.json(&["status"]);
    status["records"]["posts"].as_u64().unwrap_or(0)
}

/// The anonymous part of process `pid`'s resident memory (`RssAnon` in `/proc/PID/status`,
/// KiB: its heap, where the rest is mostly the binary's own pages), with the load average.
fn anon_and_load(pid: u32) -> (u64, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let anon = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (anon, load_average())
}

/// What `uptime` prints (the load average with the time and the machine's uptime).
fn uptime() -> String {
    std::process::Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| load_average())
}
