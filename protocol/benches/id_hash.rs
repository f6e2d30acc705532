//! What one guess at an ID number costs whoever holds a worker record (SECURITY.md).
//!
//! Run with `cargo bench -p lingong-protocol --bench id_hash`. It times, on this machine, one
//! core:
//! - the version-1 attack that SECURITY.md's first section describes: HMAC-SHA256 keyed by
//!   `"lingong/id-hash/v1:"` ‖ the root public key over every birth date from 1900-01-01 to
//!   today with the region and sequence digits the old mask showed, until the number is found;
//! - one version-2 `id_hash` ([`IdHashParams::V2`]: argon2id, 64 MiB, 3 passes, 1 lane), the
//!   cost of each guess for a party that has the key, as the median of [`V2_ROUNDS`] runs;
//! - OWASP's two lighter argon2id settings, for comparison (median of [`OTHER_ROUNDS`] runs).
//!
//! Then it prints how long a search over what the version-2 mask leaves would take at the
//! measured cost, for SECURITY.md's candidate counts. Without `--bench` (as `cargo test
//! --benches` runs it) it makes one hash of each kind and prints nothing else.

use lingong_protocol::canon::sha256;
use lingong_protocol::dates;
use lingong_protocol::id_number::{
    IdHashParams, complete_id_number, id_number_hash, id_number_hash_with,
};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Version-2 hashes timed for the median.
const V2_ROUNDS: usize = 21;
/// Runs of each heavier setting.
const OTHER_ROUNDS: usize = 9;

/// Current county-level region codes of Guizhou in the bundled division table.
const GUIZHOU_COUNTIES: u64 = 88;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let key = [0x5au8; 32];
    let id = complete_id_number("52262219870913204");
    if !benching {
        id_number_hash(&key, &id).expect("hash");
        return;
    }

    // Version 1: the search anyone holding a record and the root certificate could run.
    let root = [0x42u8; 32];
    let mut v1_key = b"lingong/id-hash/v1:".to_vec();
    v1_key.extend_from_slice(&root);
    let target = hmac_sha256(&v1_key, id.as_bytes());
    let first = dates::days_from_civil(1900, 1, 1);
    let today = dates::today_cst(now_ms);
    let start = Instant::now();
    let mut tried = 0u64;
    let mut found = None;
    for day in first..=today {
        let (y, m, d) = dates::civil_from_days(day);
        let candidate =
            complete_id_number(&format!("{}{y:04}{m:02}{d:02}{}", &id[..6], &id[14..17]));
        tried += 1;
        if hmac_sha256(&v1_key, candidate.as_bytes()) == target {
            found = Some(candidate);
            break;
        }
    }
    let v1 = start.elapsed();
    assert_eq!(
        found.as_deref(),
        Some(id.as_str()),
        "the v1 search finds the number"
    );
    println!(
        "v1 search (HMAC-SHA256, public key, old mask): found after {tried} dates in {:.1} ms; all {} dates: {:.1} ms",
        v1.as_secs_f64() * 1e3,
        today - first + 1,
        v1.as_secs_f64() * 1e3 * (today - first + 1) as f64 / tried as f64
    );

    // Version 2: one guess for a party that has the key.
    let mut times = Vec::new();
    for i in 0..V2_ROUNDS {
        let guess = complete_id_number(&format!("5226221987091{:04}", i));
        let t = Instant::now();
        std::hint::black_box(id_number_hash(&key, &guess).expect("hash"));
        times.push(t.elapsed());
    }
    let v2 = median(times).as_secs_f64();
    let p = IdHashParams::V2;
    println!(
        "v2 id_hash (argon2id m={} KiB, t={}, p={}): {:.1} ms per guess (median of {V2_ROUNDS}), {:.1} guesses/s on one core",
        p.m_kib,
        p.t,
        p.p,
        v2 * 1e3,
        1.0 / v2
    );
    for other in [
        IdHashParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        },
        IdHashParams {
            m_kib: 46 * 1024,
            t: 1,
            p: 1,
        },
    ] {
        let mut times = Vec::new();
        for _ in 0..OTHER_ROUNDS {
            let t = Instant::now();
            std::hint::black_box(id_number_hash_with(other, &key, &id).expect("hash"));
            times.push(t.elapsed());
        }
        println!(
            "   compare argon2id m={} KiB, t={}, p={}: {:.1} ms per guess (median of {OTHER_ROUNDS})",
            other.m_kib,
            other.t,
            other.p,
            median(times).as_secs_f64() * 1e3
        );
    }

    // What the v2 mask leaves (SECURITY.md): regions × birth dates × 1,000 sequence numbers,
    // divided by 11 for the visible check digit.
    let all_dates = (today - first + 1) as u64;
    let working_age = 365 * (75 - 16);
    let core_days = |candidates: u64| candidates as f64 * v2 / 86_400.0;
    for (what, regions, days) in [
        (
            "88 counties x all dates since 1900",
            GUIZHOU_COUNTIES,
            all_dates,
        ),
        ("88 counties x ages 16-75", GUIZHOU_COUNTIES, working_age),
        ("88 counties x one known birth year", GUIZHOU_COUNTIES, 365),
        ("one known county x one known birth date", 1, 1),
    ] {
        let candidates = regions * days * 1000 / 11;
        println!(
            "   search {what}: {candidates} candidates, {:.3e} core-seconds = {:.1} core-days",
            candidates as f64 * v2,
            core_days(candidates)
        );
    }
}
