//! The web benchmark of issue 16: the console's pages, `/screen` and the public pages of a
//! village node holding 100,000 posts, timed under concurrent load against a real `lingong run`
//! daemon serving HTTP; then the daemon's resident memory while 5 big screens stay open.
//!
//! Set-up (untimed): the five certified stations of the tests' chain (province → village,
//! [`init_chain`]); at the village, `LINGONG_BENCH_POSTS` posts (default 100,000) written
//! through the node's real write path by the demo's own sample writer
//! ([`lingong_node::demo::sample_posts`], what `lingong sample --posts N` runs: signed,
//! accepted, committed with their index rows, 500 per batch, all pending review), then the
//! newest `LINGONG_BENCH_APPROVED` of them (default 2,000) approved one by one through the
//! review request (`post review ID --approve`), so the store holds a long review queue and the
//! screen a full feed; `LINGONG_BENCH_WORKERS` workers (default 300) registered through the
//! worker request (`worker register`), with the sample posts' skills and one in ten each older,
//! disabled and long-waiting, so the push list has candidates to rank; an `admin` staff account. Then the village's daemon is started (its web
//! server on 127.0.0.1, a free port).
//!
//! **Screens** (first, on the freshly started daemon). Idle resident memory (VmRSS of the
//! daemon's pid, from `/proc`), once the daemon has been quiet for a few seconds: the baseline.
//! Then 5 clients each load `/screen`, hold `/screen/events` (server-sent events) open and
//! fetch `/feed.json` every 10 s, as the screen's script does, for `LINGONG_BENCH_HOLD_SECS`
//! (default 60; 600 for the README's figure); every `LINGONG_BENCH_WRITE_SECS` (default 20)
//! a new post is published and approved at the village through the command line, so every
//! screen gets a fresh feed event. VmRSS is sampled every 200 ms; printed: the peak and the
//! last sample against the idle baseline, and the events each screen received (each must have
//! received one per published post, plus the first).
//!
//! **Pages** (after the screens, logged in through `/login`). Each page is requested
//! `LINGONG_BENCH_REQUESTS` times (default 200) by `LINGONG_BENCH_CONCURRENCY` clients at once
//! (default 4), one HTTP/1.1 request per connection (plain sockets, no client library;
//! loopback connect time is counted), or as many as fit in `LINGONG_BENCH_PAGE_SECS` (default
//! 60: a page taking seconds is not asked 200 times; the requests made are printed as `n`);
//! every answer must be 200 with a body. Printed per page: p50 and p99, and the ratio of its
//! p99 to the baseline: the p99 of the built-in stylesheet `/static/app.css` (a static route
//! through the same router and layers) measured in the same run, before and after the pages.
//! The resident memory after the pages is printed at the end. `/report`'s row is the page's
//! answer time: its first request (no figures computed since the daemon started) answers with
//! the computing status once `report_wait_ms` has passed, the requests during the computation
//! likewise, the rest from the figures held; the next phase times the figures themselves.
//!
//! **Writes during a report** (last; issue 16, the station's lock). A write is a `post create`
//! sent to the daemon's control socket (what `lingong post create` sends), timed to its answer.
//! Baseline: `LINGONG_BENCH_WRITES` (default 5) writes with no report computing. Then the same
//! number of rounds of each of the two ways a report of this month (every post of the
//! village, all created this month) is computed: *before*, `report` through the control socket
//! (`lingong report`: the report holds the station's shared lock from start to end, as every
//! `/report` computation did before), and *after*, the console's `/report` after a commit (the
//! page answers from the figures before it and computes them again in the background in 10 ms
//! slices of the lock). In each round one write is sent a third of the way into the computation
//! (a third of the report's duration measured beforehand in the same run: the write lands while
//! the report computes), and the round ends when the computation has (the control socket's
//! answer; `/report` no longer labelled `#report-stale`). Then a burst: writes back to back,
//! 250 ms apart, for the length of two computations, while `/report` keeps recomputing; a
//! computation that a commit cut short starts again, and after four such the fifth holds the
//! lock to its end, which the burst's slowest writes show. Printed: p50 and max of each
//! against the baseline's p50.
//!
//! **First figures after a start** (last; issue 16, the clerk's wait). `LINGONG_BENCH_FIRST`
//! times (default 3): the daemon is restarted (no figures held), `/report` is asked for, and
//! its status `/report/status` every 500 ms as the page's script does, until the figures
//! (the table's and the chart's months) are held; then the page is asked for again, as the
//! script does, and must show them. Timed: the first answer (the computing status), and from
//! the first request until the page with the figures has arrived: what the clerk waits.
//! Baseline, measured after each (so with the store as warm as `/report` left it): the same
//! report computed alone through the control socket (`lingong report`, the lock held from
//! start to end, no slices, no chart). Printed: p50 and max of each and the ratio of the
//! p50s, and how many of the first answers were the computing status.
//!
//! The binary the daemons run is printed first, with a warning when a source file of it is
//! newer than the binary (a stale `LINGONG_BIN`, or the harness's fallback after a failed
//! build): the figures would not be this tree's.
//!
//! Run: `cargo bench -p lingong-tests --bench web` (release build). `LINGONG_BENCH_KEEP=1`
//! keeps the node homes. The load average is printed beside the figures: the machine is shared.

use lingong_node::control::call_daemon;
use lingong_node::home::Home;
use lingong_node::request::{PostFields, PostFilter, Request, dispatch};
use lingong_node::services::workers::WorkerFields;
use lingong_node::station::Station;
use lingong_tests::{
    Daemon, Node, daemon_pid, du_mb, env_usize, free_port, init_chain, load_average, mib,
    poll_every, poll_until, resident, settled_resident, start_web,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the staff console's pages are (a login needed) and where the public ones are.
const CONSOLE_PAGES: [&str; 8] = [
    "/",
    "/push",
    "/assist",
    "/complaints",
    "/report",
    "/supervision",
    "/audit",
    "/sync",
];
const PUBLIC_PAGES: [&str; 6] = [
    "/screen",
    "/feed.json",
    "/posts",
    "/directory",
    "/posters/today",
    "/occupations.json",
];
const BASELINE: &str = "/static/app.css";
const PASSWORD: &str = "bench-web-2026";
/// How often the screen's script fetches `/feed.json` (node/src/http/static/screen.js).
const SCREEN_POLL: Duration = Duration::from_secs(10);
const SCREENS: usize = 5;

fn main() {
    let posts = env_usize("LINGONG_BENCH_POSTS", 100_000);
    let approved = env_usize("LINGONG_BENCH_APPROVED", 2_000).min(posts);
    let workers = env_usize("LINGONG_BENCH_WORKERS", 300);
    let requests = env_usize("LINGONG_BENCH_REQUESTS", 200).max(1);
    let concurrency = env_usize("LINGONG_BENCH_CONCURRENCY", 4).max(1);
    let hold = Duration::from_secs(env_usize("LINGONG_BENCH_HOLD_SECS", 60) as u64);
    let budget = Duration::from_secs(env_usize("LINGONG_BENCH_PAGE_SECS", 60).max(1) as u64);
    let write_every = Duration::from_secs(env_usize("LINGONG_BENCH_WRITE_SECS", 20).max(1) as u64);
    let started = Instant::now();
    binary_under_test();
    println!(
        "lingong web benchmark: {posts} posts at a village ({approved} approved), \
         {requests} requests per page by {concurrency} clients, {SCREENS} screens for {} s",
        hold.as_secs()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let village = fill(dir.path(), posts, approved, workers);

    let daemon = Daemon::start(&village, free_port());
    let addr = web_address(&village);
    let pid = daemon_pid(&village);
    let rss_start = resident(pid).rss_kib;
    println!(
        "daemon pid {pid} at http://{addr}/, {} MB resident after start",
        mib(rss_start)
    );
    let screens = hold_screens(&village, &addr, pid, hold, write_every);
    println!(
        "\nscreens: {SCREENS} clients on /screen + /screen/events + /feed.json every {} s for {} s, \
         a post published every {} s ({} in all); load {}",
        SCREEN_POLL.as_secs(),
        hold.as_secs(),
        write_every.as_secs(),
        screens.published,
        load_average()
    );
    println!(
        "resident: idle {} MB (baseline), peak {} MB, at the end {} MB; peak/idle {:.2}; \
         events per screen {:?}, feed fetches {}",
        mib(screens.idle),
        mib(screens.peak),
        mib(screens.last),
        screens.peak as f64 / screens.idle as f64,
        screens.events,
        screens.fetches
    );
    let cookie = login(&addr);

    // One post for the per-post pages: the newest approved one.
    let (status, body) = get(&addr, "/feed.json", None);
    assert_eq!(status, 200, "{body}");
    let feed: Value = serde_json::from_str(&body).expect("feed JSON");
    let shown = feed["posts"].as_array().map_or(0, Vec::len);
    let post_id = feed["posts"][0]["id"]
        .as_str()
        .expect("the feed shows a post")
        .to_string();
    println!("the feed shows {shown} posts");
    let post_page = format!("/posts/{post_id}");
    let poster_page = format!("/posts/{post_id}/poster");

    println!(
        "\npages ({requests} requests each, {concurrency} at a time; load {})",
        load_average()
    );
    println!(
        "{:<22} {:>6} {:>9} {:>9} {:>9} {:>10}",
        "page", "n", "p50 ms", "p99 ms", "KB", "p99/base"
    );
    let base_before = measure(&addr, BASELINE, None, requests, concurrency, budget);
    let mut rows = Vec::new();
    for page in CONSOLE_PAGES {
        rows.push((
            page.to_string(),
            measure(&addr, page, Some(&cookie), requests, concurrency, budget),
        ));
    }
    for page in PUBLIC_PAGES
        .iter()
        .map(|p| p.to_string())
        .chain([post_page, poster_page])
    {
        let m = measure(&addr, &page, None, requests, concurrency, budget);
        rows.push((page, m));
    }
    let base_after = measure(&addr, BASELINE, None, requests, concurrency, budget);
    let base_p99 = base_before.p99.max(base_after.p99);
    print_row(BASELINE, &base_before, base_p99);
    for (page, m) in &rows {
        // /report's row is the page's answer: at first the computing status (module doc).
        let label = if page == "/report" {
            "/report (answer)"
        } else {
            page
        };
        print_row(label, m, base_p99);
    }
    print_row(&format!("{BASELINE} (again)"), &base_after, base_p99);
    let worst = rows
        .iter()
        .max_by(|a, b| a.1.p99.total_cmp(&b.1.p99))
        .expect("pages");
    let over: Vec<&str> = rows
        .iter()
        .filter(|(_, m)| m.p99 >= 200.0)
        .map(|(p, _)| p.as_str())
        .collect();
    println!(
        "slowest p99: {} {:.1} ms; baseline p99 {:.2} ms; at or over 200 ms: {}",
        worst.0,
        worst.1.p99,
        base_p99,
        if over.is_empty() {
            "none".to_string()
        } else {
            over.join(", ")
        }
    );

    println!(
        "resident after the pages: {} MB; load {}",
        mib(resident(pid).rss_kib),
        load_average()
    );
    writes_during_reports(
        &village,
        &addr,
        &cookie,
        env_usize("LINGONG_BENCH_WRITES", 5).max(1),
    );
    first_figures(&village, daemon, env_usize("LINGONG_BENCH_FIRST", 3).max(1));
    if std::env::var("LINGONG_BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("homes kept in {}", dir.keep().display());
    }
    println!("(whole run: {:.0} s)", started.elapsed().as_secs_f64());
}

/// Prints the `lingong` binary the daemons run (`LINGONG_BIN`, or the one the harness built)
/// and warns when a source file of the binary is newer than it: a run of 7 December
/// (14:22 UTC) timed `/report` on a binary older than its code (its first request waited for
/// the figures, as before the computing status existed), and nothing in the output said so.
/// The harness also falls back to the binary already there when its build fails.
fn binary_under_test() {
    let bin = lingong_tests::lingong_bin();
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let built = modified(&bin);
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    let mut dirs: Vec<std::path::PathBuf> = ["protocol/src", "node/src", "cli/src"]
        .iter()
        .map(|d| lingong_tests::workspace_root().join(d))
        .collect();
    let mut files = vec![lingong_tests::workspace_root().join("Cargo.lock")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for f in files {
        if let Some(t) = modified(&f)
            && newest.as_ref().is_none_or(|(n, _)| t > *n)
        {
            newest = Some((t, f));
        }
    }
    let age = |t: std::time::SystemTime| {
        t.elapsed()
            .map(|d| format!("{:.0} s ago", d.as_secs_f64()))
            .unwrap_or_default()
    };
    println!(
        "binary under test: {} (built {})",
        bin.display(),
        built.map(age).unwrap_or_else(|| "?".into())
    );
    if let (Some(built), Some((t, f))) = (built, &newest)
        && *t > built
    {
        println!(
            "WARNING: the binary is older than {} (changed {}): its figures may not be this \
             tree's",
            f.display(),
            age(*t)
        );
    }
}

/// The certified chain; the village's posts and reviews written in this process through the
/// node's write path, its admin account; returns the village.
fn fill(dir: &std::path::Path, posts: usize, approved: usize, workers: usize) -> Node {
    let t = Instant::now();
    let nodes = init_chain(dir);
    let village = nodes.last().expect("village").clone();
    let mut station = Station::open(&Home::new(Some(village.home.clone()))).expect("open");
    lingong_node::demo::sample_posts(&mut station, posts).expect("sample posts");
    let wrote = t.elapsed();
    let newest = dispatch(
        &mut station,
        Request::PostList(PostFilter {
            review: Some("pending".into()),
            limit: Some(approved),
            ..Default::default()
        }),
    )
    .expect("post list");
    for row in newest.as_array().expect("rows") {
        dispatch(
            &mut station,
            Request::PostReview {
                id: row["id"].as_str().expect("id").to_string(),
                approve: true,
                reason: None,
            },
        )
        .expect("approved");
    }
    // Workers to contact: the push list ranks each approved post's candidates among them.
    for i in 0..workers {
        let (_, occupation, wage) = lingong_protocol::fixture::SAMPLE_POSTS
            [i % lingong_protocol::fixture::SAMPLE_POSTS.len()];
        let flags = match i % 10 {
            0 => Some("older"),
            3 => Some("disabled"),
            6 => Some("long-wait"),
            _ => None,
        };
        dispatch(
            &mut station,
            Request::WorkerRegister(WorkerFields {
                name: Some(format!("劳动者{i}")),
                id_number: Some(lingong_protocol::record::complete_id_number(&format!(
                    "522622{}0101{:03}",
                    1965 + i % 36,
                    i % 1000
                ))),
                phone: Some(format!("139{:08}", 86_000_000 + i)),
                skills: Some(occupation.into()),
                wage_min: Some(wage - 20.0),
                flags: flags.map(String::from),
                ..Default::default()
            }),
        )
        .expect("worker registered");
    }
    drop(station);
    let mut add = village.command();
    add.args([
        "--json",
        "staff",
        "add",
        "--name",
        "bench",
        "--role",
        "admin",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut child = add.spawn().expect("staff add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(
        child
            .wait_with_output()
            .expect("staff add")
            .status
            .success()
    );
    println!(
        "set-up: {posts} posts written in {:.1} s, {approved} approved and {workers} workers registered in {:.1} s; store {} MB",
        wrote.as_secs_f64(),
        (t.elapsed() - wrote).as_secs_f64(),
        du_mb(&village.home.join("store"))
    );
    village
}

/// The web address the daemon printed in its log.
fn web_address(node: &Node) -> String {
    let log = node.home.join("daemon.log");
    poll_until(
        "the daemon to print its web address",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            let at = text.find("http://")? + "http://".len();
            let rest = &text[at..];
            Some(rest[..rest.find('/')?].to_string())
        },
    )
}

/// Logs the admin in through the login form; returns the session cookie (`name=value`).
fn login(addr: &str) -> String {
    let body = format!("name=bench&password={PASSWORD}");
    let (head, _) = exchange(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie")
                .then(|| v.trim().split(';').next().unwrap_or("").to_string())
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| panic!("the login set no cookie:\n{head}"))
}

/// One request on its own connection, read to the end: the head and the body.
fn exchange(addr: &str, request: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect to the daemon's web server");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    (
        String::from_utf8_lossy(&out[..split]).into_owned(),
        out[split + 4..].to_vec(),
    )
}

/// A GET: the status and the body as text.
fn get(addr: &str, path: &str, cookie: Option<&str>) -> (u16, String) {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let (head, body) = exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}\r\n"),
    );
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A page's timings in milliseconds and its size.
struct Measured {
    /// Requests made (fewer than asked when the page's time budget ran out).
    n: usize,
    p50: f64,
    p99: f64,
    bytes: usize,
}

/// `requests` GETs of `path` by `concurrency` threads; every answer must be 200 with a body.
fn measure(
    addr: &str,
    path: &str,
    cookie: Option<&str>,
    requests: usize,
    concurrency: usize,
    budget: Duration,
) -> Measured {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let times = Mutex::new(Vec::with_capacity(requests));
    let bytes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < requests && started.elapsed() < budget
                {
                    let t = Instant::now();
                    let (status, body) = get(addr, path, cookie);
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    assert!(
                        status == 200 && !body.is_empty(),
                        "{path} answered {status}: {}",
                        &body[..body.len().min(400)]
                    );
                    bytes.store(body.len(), Ordering::Relaxed);
                    times.lock().expect("times").push(ms);
                }
            });
        }
    });
    let mut t = times.into_inner().expect("times");
    t.sort_by(f64::total_cmp);
    let at = |q: f64| t[((q * t.len() as f64).ceil() as usize).clamp(1, t.len()) - 1];
    Measured {
        n: t.len(),
        p50: at(0.50),
        p99: at(0.99),
        bytes: bytes.into_inner(),
    }
}

fn print_row(page: &str, m: &Measured, base_p99: f64) {
    println!(
        "{:<22} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
        if page.len() > 22 { &page[..22] } else { page },
        m.n,
        m.p50,
        m.p99,
        m.bytes as f64 / 1024.0,
        m.p99 / base_p99
    );
}

/// What the screens' phase saw.
struct Screens {
    idle: u64,
    peak: u64,
    last: u64,
    published: usize,
    events: Vec<usize>,
    fetches: usize,
}

/// Five screens held open for `hold` while posts are published every `write_every`, the
/// daemon's VmRSS sampled throughout.
fn hold_screens(
    village: &Node,
    addr: &str,
    pid: u32,
    hold: Duration,
    write_every: Duration,
) -> Screens {
    // Idle: nothing asked of the daemon until its resident memory holds still.
    let idle = settled_resident(pid, Duration::from_secs(1), Duration::from_secs(120)).rss_kib;
    let peak = AtomicU64::new(idle);
    let last = AtomicU64::new(idle);
    let stop = AtomicBool::new(false);
    let fetches = AtomicUsize::new(0);
    let events: Vec<Arc<AtomicUsize>> = (0..SCREENS).map(|_| Arc::default()).collect();
    let mut published = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let r = resident(pid).rss_kib;
                peak.fetch_max(r, Ordering::Relaxed);
                last.store(r, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let mut streams = Vec::new();
        for n in events.iter() {
            let (status, page) = get(addr, "/screen", None);
            assert!(
                status == 200 && !page.is_empty(),
                "/screen answered {status}"
            );
            let stream = sse(addr);
            let n = Arc::clone(n);
            let reader = stream.try_clone().expect("clone");
            s.spawn(move || count_events(reader, &n));
            streams.push(stream);
            let (stop, fetches) = (&stop, &fetches);
            s.spawn(move || {
                let mut due = Instant::now() + SCREEN_POLL;
                while !stop.load(Ordering::Relaxed) {
                    if Instant::now() >= due {
                        let (status, _) = get(addr, "/feed.json", None);
                        assert_eq!(status, 200, "/feed.json");
                        fetches.fetch_add(1, Ordering::Relaxed);
                        due += SCREEN_POLL;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        // Every screen gets its first feed before the clock starts.
        poll_until("each screen's first event", Duration::from_secs(60), || {
            events
                .iter()
                .all(|n| n.load(Ordering::Relaxed) >= 1)
                .then_some(())
        });
        let end = Instant::now() + hold;
        let mut due = Instant::now() + write_every;
        while Instant::now() < end {
            if Instant::now() >= due {
                let id = village.create_post(&format!("大屏测试岗位 {published}"), None, &[]);
                village.json(&["post", "review", &id, "--approve"]);
                published += 1;
                due += write_every;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Each screen was sent the feed once at the start and once per published post.
        poll_until(
            "every screen to receive each new feed",
            Duration::from_secs(60),
            || {
                events
                    .iter()
                    .all(|n| n.load(Ordering::Relaxed) > published)
                    .then_some(())
            },
        );
        stop.store(true, Ordering::Relaxed);
        for st in &streams {
            let _ = st.shutdown(std::net::Shutdown::Both);
        }
    });
    Screens {
        idle,
        peak: peak.into_inner(),
        last: last.into_inner(),
        published,
        events: events.iter().map(|n| n.load(Ordering::Relaxed)).collect(),
        fetches: fetches.into_inner(),
    }
}

/// Opens `/screen/events` and reads its head.
fn sse(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        format!("GET /screen/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
            .as_bytes(),
    )
    .expect("write");
    s
}

/// Counts the `feed` events on an open event stream until it closes.
fn count_events(stream: TcpStream, n: &AtomicUsize) {
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    let mut head = true;
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if head {
            if line.starts_with("HTTP/1.1 ") {
                assert!(line.contains(" 200"), "/screen/events answered {line}");
            }
            head = line != "\r\n";
            continue;
        }
        // Chunk sizes and data lines interleave; an event line names its event.
        if line.trim_end() == "event: feed" {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One `post create` through the daemon's control socket: how long until its answer.
fn timed_write(home: &Home, n: usize) -> Duration {
    let fields = PostFields {
        title: Some(format!("报表期间的岗位 {n}")),
        occupation: Some("4-10-01-06".into()),
        wage: Some(150.0),
        unit: Some("day".into()),
        headcount: Some(2),
        ..Default::default()
    };
    let t = Instant::now();
    call_daemon(home, &Request::PostCreate(fields))
        .expect("the daemon answers")
        .unwrap_or_else(|e| panic!("post create refused: {e:?}"));
    t.elapsed()
}

/// The p50 and the largest of some durations, in milliseconds.
fn p50_max(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(d[(d.len() - 1) / 2]), ms(d[d.len() - 1]))
}

/// Whether `/report` shows this month's figures as of the store's last write (figures, not
/// the computing status, and not labelled `#report-stale`).
fn report_current(addr: &str, cookie: &str) -> bool {
    let (status, body) = get(addr, "/report", Some(cookie));
    assert_eq!(status, 200, "{}", &body[..body.len().min(400)]);
    body.contains(r#"id="figures""#) && !body.contains("report-stale")
}

/// The phase "writes during a report" (module documentation).
fn writes_during_reports(village: &Node, addr: &str, cookie: &str, rounds: usize) {
    let home = Home::new(Some(village.home.clone()));
    let month =
        lingong_protocol::dates::format_date(lingong_node::services::today())[..7].to_string();
    let report = Request::Report {
        period: month.clone(),
        region: None,
        csv: false,
    };
    let mut n = 0;
    let mut write = || {
        n += 1;
        timed_write(&home, n)
    };
    let base: Vec<Duration> = (0..rounds).map(|_| write()).collect();
    // How long the report takes here, untimed otherwise: when a third of it has passed.
    let t = Instant::now();
    let counted = call_daemon(&home, &report)
        .expect("the daemon answers")
        .expect("report");
    let took = t.elapsed();
    println!(
        "\nwrites during a report of {month} ({} records counted; the report alone {:.2} s \
         through the control socket); load {}",
        counted["records"],
        took.as_secs_f64(),
        load_average()
    );
    let mut before = Vec::new();
    let mut before_took = Vec::new();
    for _ in 0..rounds {
        let (write_took, report_took) = std::thread::scope(|s| {
            let computing = s.spawn(|| {
                let t = Instant::now();
                call_daemon(&home, &report)
                    .expect("the daemon answers")
                    .expect("report");
                t.elapsed()
            });
            std::thread::sleep(took / 3);
            let w = write();
            (w, computing.join().expect("report thread"))
        });
        before.push(write_took);
        before_took.push(report_took);
    }
    // The page's figures, computed once with nothing written meanwhile.
    poll_until(
        "/report to show this month",
        Duration::from_secs(600),
        || report_current(addr, cookie).then_some(()),
    );
    let mut after = Vec::new();
    let mut after_took = Vec::new();
    for _ in 0..rounds {
        write();
        let t = Instant::now();
        // Answered from the figures before the write while they are computed again.
        assert!(!report_current(addr, cookie), "/report not labelled stale");
        std::thread::sleep((took / 3).saturating_sub(t.elapsed()));
        after.push(write());
        poll_until("/report computed again", Duration::from_secs(600), || {
            report_current(addr, cookie).then_some(())
        });
        after_took.push(t.elapsed());
    }
    // A burst: a write every 250 ms for two reports' length, /report asked after each.
    let mut burst = Vec::new();
    let t = Instant::now();
    while t.elapsed() < took * 2 {
        let w = Instant::now();
        burst.push(write());
        report_current(addr, cookie);
        std::thread::sleep(Duration::from_millis(250).saturating_sub(w.elapsed()));
    }
    let burst_settled = Instant::now();
    poll_until(
        "/report computed after the burst",
        Duration::from_secs(600),
        || report_current(addr, cookie).then_some(()),
    );
    let burst_settled = burst_settled.elapsed();

    let (b50, bmax) = p50_max(base);
    println!(
        "{:<52} {:>5} {:>9} {:>9} {:>9}",
        "write (post create, control socket)", "n", "p50 ms", "max ms", "p50/base"
    );
    let row = |what: &str, d: Vec<Duration>| {
        let n = d.len();
        let (p50, max) = p50_max(d);
        println!("{what:<52} {n:>5} {p50:>9.1} {max:>9.1} {:>9.1}", p50 / b50);
    };
    println!(
        "{:<52} {:>5} {b50:>9.1} {bmax:>9.1} {:>9.1}",
        "no report computing (baseline)", rounds, 1.0
    );
    row(
        "during `report` (control socket: lock held; before)",
        before,
    );
    row("during /report's computation (10 ms slices; after)", after);
    row(
        "burst, a write every 250 ms, /report asked after each",
        burst,
    );
    let secs = |d: &[Duration]| {
        d.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "report with one write in it: through the control socket {} s; /report {} s \
         (write to current again); after the burst /report current again {:.2} s later; load {}",
        secs(&before_took),
        secs(&after_took),
        burst_settled.as_secs_f64(),
        load_average()
    );
}

/// The phase "first figures after a start" (module documentation); stops the daemon at the end.
fn first_figures(village: &Node, daemon: Daemon, rounds: usize) {
    let home = Home::new(Some(village.home.clone()));
    let month =
        lingong_protocol::dates::format_date(lingong_node::services::today())[..7].to_string();
    let report = Request::Report {
        period: month.clone(),
        region: None,
        csv: false,
    };
    let status_path = format!("/report/status?period={month}");
    let mut daemon = daemon;
    let (mut answer, mut shown, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    // How many first answers were the computing status (the rest showed figures).
    let mut computing = 0;
    for _ in 0..rounds {
        // A fresh start: no figures held (the web server's cache lives in the daemon).
        daemon.stop();
        let (restarted, addr) = start_web(village, free_port(), &[]);
        daemon = restarted;
        let cookie = login(&addr);
        let t = Instant::now();
        let (status, body) = get(&addr, "/report", Some(&cookie));
        answer.push(t.elapsed());
        assert_eq!(status, 200, "{}", &body[..body.len().min(400)]);
        if body.contains(r#"id="report-computing""#) {
            computing += 1;
            poll_every(
                "the report's status to say ready",
                Duration::from_secs(600),
                Duration::from_millis(500),
                || {
                    let (status, body) = get(&addr, &status_path, Some(&cookie));
                    assert_eq!(status, 200, "{body}");
                    let s: Value = serde_json::from_str(&body).expect("status JSON");
                    (s["ready"] == true).then_some(())
                },
            );
            let (status, body) = get(&addr, "/report", Some(&cookie));
            assert_eq!(status, 200, "{}", &body[..body.len().min(400)]);
            assert!(
                body.contains(r#"id="figures""#) && !body.contains("data-status="),
                "ready, yet the page shows no figures: {}",
                &body[..body.len().min(400)]
            );
        }
        shown.push(t.elapsed());
        let t = Instant::now();
        call_daemon(&home, &report)
            .expect("the daemon answers")
            .expect("report");
        alone.push(t.elapsed());
    }
    drop(daemon);
    let (a50, amax) = p50_max(alone.clone());
    println!(
        "
first figures after a start ({rounds} restarts; report of {month}); load {}",
        load_average()
    );
    println!(
        "{:<52} {:>5} {:>9} {:>9} {:>9}",
        "", "n", "p50 ms", "max ms", "p50/base"
    );
    println!(
        "{:<52} {rounds:>5} {a50:>9.1} {amax:>9.1} {:>9.2}",
        "report alone, control socket (baseline)", 1.0
    );
    let row = |what: &str, d: Vec<Duration>| {
        let (p50, max) = p50_max(d);
        println!(
            "{what:<52} {rounds:>5} {p50:>9.1} {max:>9.1} {:>9.2}",
            p50 / a50
        );
    };
    row(
        &format!("first /report answered (computing status {computing} of {rounds})"),
        answer,
    );
    row(
        "first /report to its figures shown (the clerk's wait)",
        shown,
    );
}
