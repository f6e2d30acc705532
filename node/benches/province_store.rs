//! A province-sized store, measured (issues 18 and 15): the whole province's records for
//! `LINGONG_BENCH_DAYS` simulated days (default 30) at the simulator's default rates, written
//! by every station of the division table with its own key and certificate
//! (`common/province.rs`), accepted into one province store on disk through the real accept path
//! (`Station::accept_envelopes`, one commit per frame's worth of envelopes as a sync session
//! commits them, `LINGONG_BENCH_FRAME_BYTES`, default the sync's 32 KiB; worker and assistance
//! records as headers only, the province's scope), progress on stderr. Each of the 88 counties
//! then seals every month of the span with the report `report seal` would make over
//! what it holds (which the province holds too), signed by its key and accepted the same way.
//!
//! The span ends at the start of the current month (China time), so the last whole month is
//! over. Free disk is checked after the first day's envelopes are signed and before any is
//! committed: the projected store (that day's envelope bytes × days × 5.2, the format-3 ratio of
//! the store-size bench, × 1.5 for the edits later days carry) must fit, else the bench refuses.
//!
//! Then a fresh process (this binary again) opens the store and measures, each figure with the
//! load (`uptime`) and a baseline taken in the same run:
//! - the open, and the resident memory after it and after the measurements;
//! - bytes on disk per envelope against the envelopes' own bytes (canonical wire form, as held);
//! - `status` and `post list --review approved --limit 100` (pages from anywhere) and
//!   `post list --region <county> --limit 100`, p50 and p99, against counting every record by a
//!   scan and the lists bench's full scan of every post;
//! - `report verify --period <last month>` of all 88 counties' seals (target < 60 s);
//! - `report --period <last month>` at the province;
//! - `audit`, envelopes per second against raw ed25519 `verify_batch` of the same headers
//!   (prepared beforehand, chunks of 256, as many threads as the audit), target ≥ 0.7; in each
//!   round also the audit as before 7 December's second session (`audit::Levers::NONE`), and
//!   both in CPU time against the raw verification's; then the seal check alone, which the
//!   audit runs beside its envelope checks (`figures::check_seals_with`), as the audit makes it
//!   and as before, and the audit with every lever but the seals' one pass over the records
//!   (`audit::Levers::one_pass_facts`).
//!
//! `cargo bench -p lingong-node --bench province_store` (release build). `LINGONG_BENCH_STORE=DIR`
//! keeps the store in `DIR` (made if missing); a `DIR` holding a finished store is measured
//! again without generating. `LINGONG_BENCH_MINUTES` stops the generation after the day during
//! which that many minutes passed (the span then ends there). `LINGONG_BENCH_AUDIT_ROUNDS`
//! (default 2); `LINGONG_BENCH_AUDIT_QUICK` (set) times the audit as `audit` makes it, the
//! raw verification, the envelope rows' scan, the envelope checks and the seal check alone
//! only (not the ways before). `LINGONG_BENCH_AUDIT_ONLY` (set) measures the open, the bytes on disk and the
//! audit only. The README keeps the
//! figures ("Province-sized store").

#[path = "common/measure.rs"]
mod measure;
#[path = "common/province.rs"]
mod province;
mod stations;

use lingong_node::figures;
use lingong_node::home::Home;
use lingong_node::index;
use lingong_node::request::{PostFilter, Request, dispatch};
use lingong_node::services::audit;
use lingong_node::station::Station;
use lingong_protocol::dates;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::RegionCode;
use lingong_protocol::report::{self, Period};
use lingong_protocol::schema::{Choice, ReportSeal, ReviewState, Schema};
use lingong_protocol::scope::{Scope, Want};
use lingong_protocol::store::Store;
use measure::{
    Signed, audit_threads, cpu_seconds, free_bytes, median, percentiles_ms, resident_mb, time,
    uptime, verdict,
};
use province::{DAY_MS, Province};
use serde_json::{Value, json};
use stations::env_count;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Set in the measuring child: the directory of the store to measure.
const MEASURE: &str = "LINGONG_PROVINCE_STORE_MEASURE";
/// What the generation leaves beside the store for the measurements.
const SUMMARY: &str = "province_store.json";
/// Store bytes per envelope byte on format 3 (docs/figures.md, "Store size"), for the disk check.
const STORE_FACTOR: f64 = 5.2;
/// Later days carry edits the first does not (reviews, new wages, closures, complaint steps).
const EDIT_MARGIN: f64 = 1.5;
const COUNTIES: usize = 88;
/// The seals' time: an hour after the span, when the counties seal its months.
const SEAL_DELAY_MS: i64 = 3_600_000;

fn main() {
    if let Ok(dir) = std::env::var(MEASURE) {
        measure(Path::new(&dir));
        return;
    }
    let days = env_count("LINGONG_BENCH_DAYS", 30).max(1) as i64;
    let temp;
    let dir: PathBuf = match std::env::var("LINGONG_BENCH_STORE") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            temp = tempfile::tempdir().expect("tempdir");
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).expect("store directory");
    if dir.join(SUMMARY).exists() {
        println!(
            "{} holds a finished store: measuring it again",
            dir.display()
        );
    } else {
        generate(&dir, days);
    }
    let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env(MEASURE, &dir)
        .status()
        .expect("the measuring process");
    assert!(status.success(), "the measurements failed: {status}");
}

/// The first instant (China time) of the month holding `ms`.
fn month_start_ms(ms: i64) -> i64 {
    let (y, m, _) = dates::civil_from_days(dates::today_cst(ms));
    Period::parse(&format!("{y:04}-{m:02}"))
        .expect("a month")
        .start_ms()
}

/// The months `[start_ms, end_ms)` touches (a month the span starts within holds only the
/// span's days of records, and is sealed so).
fn months(start_ms: i64, end_ms: i64) -> Vec<Period> {
    let mut out = Vec::new();
    let mut at = month_start_ms(start_ms);
    while at < end_ms {
        let (y, m, _) = dates::civil_from_days(dates::today_cst(at));
        let p = Period::parse(&format!("{y:04}-{m:02}")).expect("a month");
        if p.end_ms() > start_ms && p.start_ms() < end_ms {
            out.push(p.clone());
        }
        at = p.end_ms();
    }
    out
}

/// Hands `envelopes` to the province in the form its scope wants, one commit per
/// `frame_bytes` of envelopes as a sync session's frames; every one must be new. Returns the
/// envelopes and their bytes as held.
fn ingest(province: &mut Station, envelopes: &[Envelope], frame_bytes: usize) -> (u64, u64) {
    let scope = Scope::new(province.region);
    let mut frame: Vec<Envelope> = Vec::new();
    let (mut count, mut bytes, mut in_frame) = (0u64, 0u64, 0usize);
    let mut commit = |frame: &mut Vec<Envelope>| {
        let report = province.accept_envelopes(frame).expect("accepted");
        assert!(
            report.rejected.is_empty() && report.deferred == 0 && report.new == frame.len(),
            "rejected {:?}, deferred {}, new {} of {}",
            report.rejected,
            report.deferred,
            report.new,
            frame.len()
        );
        frame.clear();
    };
    for env in envelopes {
        let h = &env.header;
        let held = match scope.wants(h.kind, &h.region, &h.reach) {
            Want::Full => env.clone(),
            Want::Header => env.header_only(),
            Want::Nothing => panic!("the province wants every record of the province"),
        };
        let len = held.to_bytes().len();
        count += 1;
        bytes += len as u64;
        in_frame += len;
        frame.push(held);
        if in_frame >= frame_bytes {
            commit(&mut frame);
            in_frame = 0;
        }
    }
    if !frame.is_empty() {
        commit(&mut frame);
    }
    (count, bytes)
}

fn gb(bytes: f64) -> String {
    format!("{:.2} GB", bytes / 1e9)
}

fn generate(dir: &Path, days: i64) {
    let began = Instant::now();
    let frame_bytes = env_count(
        "LINGONG_BENCH_FRAME_BYTES",
        lingong_protocol::sync::DEFAULT_FRAME_ENVELOPE_BYTES,
    )
    .max(1);
    let now = lingong_node::station::now_ms();
    let end_ms = month_start_ms(now);
    let start_ms = end_ms - days * DAY_MS;
    let certified_s = (start_ms - 10 * DAY_MS) / 1000;
    let cert_days = ((now / 1000 - certified_s) / 86_400 + 400).min(3650) as u32;
    let root = RegionCode::parse("52").expect("code");
    let mut province = province::station_certified_at(dir, &root, None, certified_s, cert_days);
    let mut p = Province::new(&province, certified_s, cert_days, start_ms);
    eprintln!(
        "{} stations certified in {:.1} s; {days} days from {} to {} (uptime: {})",
        p.nodes.len(),
        began.elapsed().as_secs_f64(),
        dates::rfc3339(start_ms),
        dates::rfc3339(end_ms),
        uptime()
    );
    // The province's own certificate record, then every station's.
    let own: Vec<Envelope> = (province.store.items().expect("items").iter())
        .map(|m| province.store.envelope(&m.id).expect("read").expect("held"))
        .collect();
    let certs = p.certificates();
    let (mut envelopes, mut bytes) = ingest(&mut province, &certs, frame_bytes);
    envelopes += own.len() as u64;
    bytes += own.iter().map(|e| e.to_bytes().len() as u64).sum::<u64>();
    drop(certs);
    let budget_s = env_count("LINGONG_BENCH_MINUTES", 0) as f64 * 60.0;
    let mut done = days;
    let (mut signing, mut accepting) = (0.0, 0.0);
    for day in 0..days {
        let t = Instant::now();
        let envs = p.day(day);
        let signed_s = t.elapsed().as_secs_f64();
        if day == 0 {
            let day_bytes: usize = envs.iter().map(|e| e.to_bytes().len()).sum();
            let projected = day_bytes as f64 * days as f64 * STORE_FACTOR * EDIT_MARGIN;
            let free = free_bytes(dir) as f64;
            eprintln!(
                "projected store: {} ({day_bytes} envelope bytes on the first day × {days} days × {STORE_FACTOR} × {EDIT_MARGIN}); free {}",
                gb(projected),
                gb(free)
            );
            if projected > free {
                eprintln!(
                    "refused: the projected store ({}) does not fit the free disk ({}) at {}; lower LINGONG_BENCH_DAYS or point LINGONG_BENCH_STORE elsewhere\n拒绝：预计的存储（{}）超过 {} 的可用磁盘（{}）；请减小 LINGONG_BENCH_DAYS 或用 LINGONG_BENCH_STORE 指定其他位置",
                    gb(projected),
                    gb(free),
                    dir.display(),
                    gb(projected),
                    dir.display(),
                    gb(free)
                );
                std::process::exit(2);
            }
        }
        let t = Instant::now();
        let (n, b) = ingest(&mut province, &envs, frame_bytes);
        let accepted_s = t.elapsed().as_secs_f64();
        envelopes += n;
        bytes += b;
        signing += signed_s;
        accepting += accepted_s;
        eprintln!(
            "day {}/{days}: {n} envelopes signed in {signed_s:.1} s, accepted in {accepted_s:.1} s ({:.0}/s); {envelopes} held, store {}; {:.0} s so far; load {}",
            day + 1,
            n as f64 / accepted_s,
            gb(province.store.size_on_disk() as f64),
            began.elapsed().as_secs_f64(),
            measure::load_average()
        );
        if budget_s > 0.0 && began.elapsed().as_secs_f64() > budget_s && day + 1 < days {
            done = day + 1;
            eprintln!(
                "stopped after day {done} of {days}: LINGONG_BENCH_MINUTES ({:.0}) passed",
                budget_s / 60.0
            );
            break;
        }
    }
    let end_ms = start_ms + done * DAY_MS;
    let days = done;
    // Each county seals every month of the span (the first may be partly before it), as `report seal` would at the county:
    // the report over the facts it holds (the province holds the same), its townships named as
    // children without a seal.
    let seal_at = end_ms + SEAL_DELAY_MS;
    let periods = months(start_ms, end_ms);
    let counties = p.counties();
    assert_eq!(counties.len(), COUNTIES, "Guizhou's counties");
    let t = Instant::now();
    let mut seals = Vec::new();
    for period in &periods {
        let facts = figures::collect_facts(&province, period).expect("facts");
        for (k, &c) in counties.iter().enumerate() {
            let region = p.nodes[c].region;
            let r = report::report(period, &region, &facts, &Default::default());
            let at = seal_at + k as i64 * 1000;
            let seal = ReportSeal {
                period: period.text.clone(),
                region,
                figures: r.figures,
                commitment: r.commitment,
                children: Vec::new(),
                missing_children: p.children_of(c),
                amends: None,
                reason: None,
                sealed_at: dates::rfc3339(at),
            };
            seal.validate().expect("a valid seal");
            seals.push(p.create(c, RecordKind::ReportSeal, None, &seal.edits(), at));
        }
    }
    let (n, b) = ingest(&mut province, &seals, frame_bytes);
    envelopes += n;
    bytes += b;
    eprintln!(
        "{} seals of {} months by {COUNTIES} counties made and accepted in {:.1} s",
        seals.len(),
        periods.len(),
        t.elapsed().as_secs_f64()
    );
    let summary = json!({
        "days": days,
        "start": dates::rfc3339(start_ms),
        "end": dates::rfc3339(end_ms),
        "stations": p.nodes.len() + 1,
        "envelopes": envelopes,
        "envelope_bytes": bytes,
        "writes": p.counts.by_kind,
        "skipped": p.counts.skipped,
        "months_sealed": periods.iter().map(|p| p.text.clone()).collect::<Vec<_>>(),
        "generation_s": began.elapsed().as_secs_f64(),
        "signing_s": signing,
        "accepting_s": accepting,
        "frame_bytes": frame_bytes,
    });
    std::fs::write(
        dir.join(SUMMARY),
        serde_json::to_string_pretty(&summary).expect("json"),
    )
    .expect("summary");
    println!(
        "generated: {envelopes} envelopes ({} as held) from {} stations over {days} days in {:.0} s (signing {signing:.0} s, accepting {accepting:.0} s, {:.0} envelopes/s); writes {}; {} writes skipped with nothing to act on; store {}",
        gb(bytes as f64),
        p.nodes.len() + 1,
        began.elapsed().as_secs_f64(),
        envelopes as f64 / accepting,
        serde_json::to_string(&p.counts.by_kind).expect("json"),
        p.counts.skipped,
        gb(province.store.size_on_disk() as f64),
    );
}

/// Counting every record of the store by a scan, kind by kind (what `status` did before its
/// counters).
fn count_by_scan(station: &Station) -> u64 {
    [
        RecordKind::Certificate,
        RecordKind::Post,
        RecordKind::Worker,
        RecordKind::Placement,
        RecordKind::Complaint,
        RecordKind::Employer,
        RecordKind::Assistance,
        RecordKind::ReportSeal,
    ]
    .into_iter()
    .map(|k| station.store.list(index::prefix(k, None), None).count() as u64)
    .sum()
}

fn measure(dir: &Path) {
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join(SUMMARY)).expect("summary")).expect("json");
    let month = summary["months_sealed"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(Value::as_str)
        .expect("a month sealed")
        .to_string();
    println!(
        "province store of {} days ({} to {}), {} envelopes, {} stations",
        summary["days"],
        summary["start"],
        summary["end"],
        summary["envelopes"],
        summary["stations"]
    );
    let (rss_before, _) = resident_mb();
    let t = Instant::now();
    let mut province = Station::open(&Home::new(Some(dir.join("52")))).expect("open");
    let open_s = t.elapsed().as_secs_f64();
    let (rss_open, _) = resident_mb();
    let t = Instant::now();
    let first_status = dispatch(&mut province, Request::Status).expect("status");
    let first_status_s = t.elapsed().as_secs_f64();
    println!(
        "open: {open_s:.2} s, the first status then {:.3} s; resident memory {rss_open:.1} MB after the open ({rss_before:.1} MB before) | uptime: {}",
        first_status_s,
        uptime()
    );

    // Bytes on disk per envelope against the envelopes' own bytes.
    let envelopes = summary["envelopes"].as_u64().expect("envelopes");
    let env_bytes = summary["envelope_bytes"].as_u64().expect("bytes");
    let disk = province.store.size_on_disk();
    println!(
        "on disk: {} for {envelopes} envelopes: {:.0} B per envelope against the envelope's own {:.0} B (canonical wire form, as held) | ratio {:.2}",
        gb(disk as f64),
        disk as f64 / envelopes as f64,
        env_bytes as f64 / envelopes as f64,
        disk as f64 / env_bytes as f64
    );

    if std::env::var_os("LINGONG_BENCH_AUDIT_ONLY").is_none() {
        services(&mut province, &month, &first_status);
    }

    // The audit beside raw batch verification of the same headers.
    let t = Instant::now();
    let mut signed = Signed::default();
    let mut held_bytes = 0u64;
    for m in province.store.items().expect("items") {
        let env = province.store.envelope(&m.id).expect("read").expect("held");
        held_bytes += env.to_bytes().len() as u64;
        signed.push(&env);
    }
    let read_s = t.elapsed().as_secs_f64();
    assert_eq!(
        signed.len() as u64,
        envelopes,
        "every envelope accepted is held"
    );
    assert_eq!(held_bytes, env_bytes, "the envelopes' bytes as accepted");
    let threads = audit_threads();
    let rounds = env_count("LINGONG_BENCH_AUDIT_ROUNDS", 2).max(1);
    // The audit as `audit` makes it and the raw verification only, each round.
    let quick = std::env::var_os("LINGONG_BENCH_AUDIT_QUICK").is_some();
    let (mut audit_rates, mut raw_rates) = (Vec::new(), Vec::new());
    let (mut before_rates, mut cpu_ratios, mut before_cpu_ratios) =
        (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let c = cpu_seconds();
        let raw = signed.batch_rate(threads);
        let raw_cpu = cpu_seconds() - c;
        raw_rates.push(raw);
        // The audit as before this session's levers (`audit::Levers::NONE`), then as `audit`
        // runs it: the same findings, timed in wall-clock and in CPU time.
        let timed = |levers: audit::Levers| {
            let (t, c) = (Instant::now(), cpu_seconds());
            let out = audit::audit_with(&province, levers).expect("audit");
            let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
            assert_eq!(
                out["problems"].as_array().map(Vec::len),
                Some(0),
                "a clean store audits clean: {}",
                out["problems"]
            );
            let n = out["records_checked"].as_u64().unwrap_or(0);
            assert_eq!(n, envelopes, "the audit checks every envelope");
            (n as f64 / secs, secs, cpu, out["seals_checked"].clone())
        };
        if quick {
            let (rate, secs, cpu, seals) = timed(audit::Levers::ALL);
            audit_rates.push(rate);
            cpu_ratios.push(raw_cpu / cpu);
            // What reading alone costs: one scan of the listed ids and one of the stored
            // envelopes, as the audit's threads make them (no decoding, no check).
            let (t, c) = (Instant::now(), cpu_seconds());
            let (mut rows, mut row_bytes) = (0u64, 0u64);
            for listed in [true, false] {
                for row in province.store.envelope_rows_between(listed, &[0; 4], None) {
                    let (_, v) = row.expect("row");
                    rows += 1;
                    row_bytes += v.len() as u64;
                }
            }
            let (scan_secs, scan_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
            println!(
                "  the envelopes' rows alone (listed and held, {rows} rows, {row_bytes} bytes), one thread: {scan_secs:.1} s (CPU {scan_cpu:.1} s)"
            );
            // The envelope checks alone (the audit's work but the seal check's).
            let (t, c) = (Instant::now(), cpu_seconds());
            let checked = audit::check_envelopes(&province).expect("envelopes");
            assert!(checked.problems.is_empty(), "{:?}", checked.problems);
            let (env_secs, env_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
            println!(
                "  the envelope checks alone ({} envelopes, {} authors): {env_secs:.1} s (CPU {env_cpu:.1} s)",
                checked.checked, checked.authors
            );
            // The seal check alone, as the audit runs it beside the envelope checks.
            let (t, c) = (Instant::now(), cpu_seconds());
            let out = figures::check_seals(&province, None).expect("seals");
            assert!(out.mismatches.is_empty(), "{:?}", out.mismatches);
            let (seal_secs, seal_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
            println!(
                "  audit round {round}: {envelopes} envelopes and {seals} seals in {secs:.1} s (CPU {cpu:.1} s), {rate:.0}/s; raw batch verify just before {raw:.0}/s (CPU {raw_cpu:.1} s); ratio {:.2}, by CPU time {:.2}; the seal check alone {seal_secs:.2} s (CPU {seal_cpu:.2} s) | uptime: {}",
                rate / raw,
                raw_cpu / cpu,
                uptime()
            );
            continue;
        }
        let (before, before_secs, before_cpu, _) = timed(audit::Levers::NONE);
        // The audit as `audit` makes it but for the seals' facts (7 December's third session).
        let (walked, walked_secs, walked_cpu, _) = timed(audit::Levers {
            one_pass_facts: false,
            ..audit::Levers::ALL
        });
        let (rate, secs, cpu, seals) = timed(audit::Levers::ALL);
        before_rates.push(before);
        audit_rates.push(rate);
        cpu_ratios.push(raw_cpu / cpu);
        before_cpu_ratios.push(raw_cpu / before_cpu);
        // The seal check alone (the audit runs it beside the envelope checks), as `audit`
        // makes it (one pass over the records, each seal from its region's facts) and as
        // before (a walk per period, each seal over every fact): the same result.
        let seal_check = |one_pass: bool| {
            let (t, c) = (Instant::now(), cpu_seconds());
            let out = figures::check_seals_with(&province, None, one_pass).expect("seals");
            assert!(out.mismatches.is_empty(), "{:?}", out.mismatches);
            (t.elapsed().as_secs_f64(), cpu_seconds() - c)
        };
        let (seal_before_secs, seal_before_cpu) = seal_check(false);
        let (seal_secs, seal_cpu) = seal_check(true);
        println!(
            "  audit round {round}: {envelopes} envelopes and {seals} seals in {secs:.1} s (CPU {cpu:.1} s), {rate:.0}/s; before the levers {before_secs:.1} s (CPU {before_cpu:.1} s), {before:.0}/s; raw batch verify just before {raw:.0}/s (CPU {raw_cpu:.1} s); ratios {:.2} and before {:.2}, by CPU time {:.2} and before {:.2}; with the seals' facts walked per period {walked_secs:.1} s (CPU {walked_cpu:.1} s), {walked:.0}/s, ratios {:.2}, by CPU time {:.2}; the seal check alone {seal_secs:.2} s (CPU {seal_cpu:.2} s), before {seal_before_secs:.2} s (CPU {seal_before_cpu:.2} s) | uptime: {}",
            rate / raw,
            before / raw,
            raw_cpu / cpu,
            raw_cpu / before_cpu,
            walked / raw,
            raw_cpu / walked_cpu,
            uptime()
        );
    }
    let single = signed.batch_rate(1);
    if quick {
        let (audit, raw) = (median(audit_rates), median(raw_rates));
        println!(
            "audit of {envelopes} envelopes: {audit:.0} envelopes/s ({:.1} s, median of {rounds}) | baseline raw ed25519 batch verify of the same headers on {threads} threads {raw:.0}/s (1 thread {single:.0}/s) | ratio {:.2} | by CPU time {:.2} (rounds {:.2?}) | target ≥ 0.7: {} | uptime: {}",
            envelopes as f64 / audit,
            audit / raw,
            median(cpu_ratios.clone()),
            cpu_ratios,
            verdict(median(cpu_ratios.clone()) >= 0.7),
            uptime()
        );
        return;
    }
    let (audit, raw, before) = (median(audit_rates), median(raw_rates), median(before_rates));
    println!(
        "audit of {envelopes} envelopes: {audit:.0} envelopes/s ({:.1} s, median of {rounds}) | baseline raw ed25519 batch verify of the same headers on {threads} threads {raw:.0}/s (1 thread {single:.0}/s) | ratio {:.2} | target ≥ 0.7: {} | reading every envelope by id alone {read_s:.1} s ({:.1} µs each) | uptime: {}",
        envelopes as f64 / audit,
        audit / raw,
        verdict(audit / raw >= 0.7),
        read_s * 1e6 / envelopes as f64,
        uptime()
    );
    println!(
        "  the same audit as before this session's levers (audit::Levers::NONE: each author looked up as met, every certificate checked alone, keys decompressed per id range): {before:.0} envelopes/s ({:.1} s) | ratio to raw {:.2} | after/before {:.2}x | by CPU time: raw against the audit {:.2} (rounds {:.2?}), against the audit before {:.2} (rounds {:.2?})",
        envelopes as f64 / before,
        before / raw,
        audit / before,
        median(cpu_ratios.clone()),
        cpu_ratios,
        median(before_cpu_ratios.clone()),
        before_cpu_ratios
    );
    drop(signed);
    let (rss_end, hwm_end) = resident_mb();
    println!(
        "resident memory at the end: {rss_end:.1} MB (peak {hwm_end:.1} MB, with the raw baseline's prepared headers)"
    );
}

/// `status`, the lists, `report verify` and `report` of `month`, each against its baseline
/// (left out with `LINGONG_BENCH_AUDIT_ONLY`); `first_status`: the store's counters.
fn services(province: &mut Station, month: &str, first_status: &Value) {
    // status and lists.
    let (scan_all, _) = time(2, || {
        std::hint::black_box(count_by_scan(province));
    });
    let calls = 200;
    let status = percentiles_ms(calls, |_| {
        dispatch(province, Request::Status).expect("status");
    });
    println!(
        "status: p50 {:.2} ms, p99 {:.2} ms | baseline counting every record by a scan {:.0} ms | p99 ratio {:.5} | target p99 < 50 ms: {} | uptime: {}",
        status.0,
        status.1,
        scan_all * 1000.0,
        status.1 / (scan_all * 1000.0),
        verdict(status.1 < 50.0),
        uptime()
    );
    let approved = index::prefix(
        RecordKind::Post,
        Some((index::Field::Review, ReviewState::Approved.as_str(), true)),
    );
    let ids: Vec<String> = province
        .store
        .list(approved, None)
        .map(|s| s.expect("record").id().to_hex())
        .collect();
    let listed = percentiles_ms(calls, |i| {
        let filter = PostFilter {
            review: Some("approved".into()),
            limit: Some(100),
            after: (i > 0).then(|| ids[(i * 7919) % ids.len()].clone()),
            ..Default::default()
        };
        dispatch(province, Request::PostList(filter)).expect("list");
    });
    let county_codes: Vec<String> = lingong_protocol::region::divisions()
        .iter()
        .filter(|d| d.level == lingong_protocol::region::Level::County)
        .map(|d| d.code.to_string())
        .collect();
    let by_county = percentiles_ms(calls, |i| {
        let filter = PostFilter {
            region: Some(county_codes[i % county_codes.len()].clone()),
            limit: Some(100),
            ..Default::default()
        };
        dispatch(province, Request::PostList(filter)).expect("list");
    });
    let (post_scan, _) = time(2, || {
        stations::approved_page_by_scan(province);
    });
    for (what, (p50, p99)) in [
        (
            "post list --review approved --limit 100 (a page from anywhere)",
            listed,
        ),
        (
            "post list --region <county> --limit 100 (88 counties in turn)",
            by_county,
        ),
    ] {
        println!(
            "{what}: p50 {p50:.2} ms, p99 {p99:.2} ms | baseline a full scan of every post {:.0} ms | p99 ratio {:.4} | target p99 < 50 ms: {} | uptime: {}",
            post_scan * 1000.0,
            p99 / (post_scan * 1000.0),
            verdict(p99 < 50.0),
            uptime()
        );
    }
    println!(
        "  ({} approved posts; the store's counters: {})",
        ids.len(),
        first_status["records"]
    );
    drop(ids);

    // The province verifies the 88 counties' seals of the last month, and makes its report.
    let mut verified = Value::Null;
    let (verify_s, verify_max) = time(2, || {
        verified = dispatch(
            province,
            Request::ReportVerify {
                period: Some(month.to_string()),
            },
        )
        .expect("verify");
    });
    assert_eq!(
        verified["mismatches"].as_array().map(Vec::len),
        Some(0),
        "{verified}"
    );
    println!(
        "report verify --period {month}: {} seals checked, no mismatch, median {verify_s:.2} s (max {verify_max:.2} s) | baseline counting every record by a scan {scan_all:.2} s | ratio {:.2} | target < 60 s: {} | uptime: {}",
        verified["checked"],
        verify_s / scan_all,
        verdict(verify_max < 60.0),
        uptime()
    );
    let mut report_out = Value::Null;
    let (report_s, report_max) = time(2, || {
        report_out = dispatch(
            province,
            Request::Report {
                period: month.to_string(),
                region: None,
                csv: false,
            },
        )
        .expect("report");
    });
    println!(
        "report --period {month} at the province ({} records counted, {} posts, {} placements): median {report_s:.2} s (max {report_max:.2} s) | baseline counting every record by a scan {scan_all:.2} s | ratio {:.2} | uptime: {}",
        report_out["records"],
        report_out["posts"],
        report_out["placements"],
        report_s / scan_all,
        uptime()
    );
    let (rss_services, hwm_services) = resident_mb();
    println!(
        "resident memory after status, lists, verify and report: {rss_services:.1} MB (peak {hwm_services:.1} MB)"
    );
}
