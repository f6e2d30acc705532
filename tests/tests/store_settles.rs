//! A store goes quiet after a write (vendor/sled/LINGONG.md): sled 0.34.7 as published, given a
//! store with log segments left to drain (written faster than its background thread cleaned,
//! then closed), rewrote its newest segment again and again from the first write after the
//! reopen, 10-20 MB/s for as long as the store stayed open, and never drained the others. An
//! idle village node wore its flash and a fifth to a third of a core that way. The vendored
//! sled cleans what it was given first and then stops writing.
//!
//! The store is made with sled alone (this process, so `/proc/self/io` counts its writes and
//! nothing else's): three rounds over 50,000 keys with the background thread off, flushed every
//! 500 writes, which leaves half-dead segments behind; then it is opened again with the node's
//! own configuration (`store::sled_config`, background flush and cleaning on) and given one
//! write. Passes when, before a deadline, two seconds go by with under 1 MiB written; the
//! published sled never gets there.

use lingong_node::store::sled_config;
use std::time::{Duration, Instant};

/// Bytes this process has caused to be written to storage so far (`/proc/self/io`).
fn written_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").expect("/proc/self/io (Linux)");
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("write_bytes in /proc/self/io")
}

fn value(key: u32, round: u32) -> Vec<u8> {
    (0..600)
        .map(|j| ((key as usize * 7919 + j * 31 + round as usize) % 251) as u8)
        .collect()
}

const KEYS: u32 = 50_000;
const ROUNDS: u32 = 3;

#[test]
fn a_store_with_segments_to_drain_goes_quiet_after_a_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    {
        let db = sled_config(&dir).flush_every_ms(None).open().unwrap();
        let tree = db.open_tree("rows").unwrap();
        for round in 0..ROUNDS {
            for key in 0..KEYS {
                tree.insert(key.to_be_bytes(), value(key, round)).unwrap();
                if key % 500 == 0 {
                    db.flush().unwrap();
                }
            }
        }
        db.flush().unwrap();
    }

    let db = sled_config(&dir).open().unwrap();
    let tree = db.open_tree("rows").unwrap();
    tree.insert(b"one more", b"write".to_vec()).unwrap();
    db.flush().unwrap();

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rates = Vec::new();
    let mut last = written_bytes();
    let mut quiet_seconds = 0;
    while quiet_seconds < 2 {
        assert!(
            Instant::now() < deadline,
            "the store kept writing for 120 s after one write; MB written in each second: {rates:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
        let now = written_bytes();
        let mb = (now - last) as f64 / 1_048_576.0;
        rates.push((mb * 10.0).round() / 10.0);
        quiet_seconds = if now - last < 512 * 1024 {
            quiet_seconds + 1
        } else {
            0
        };
        last = now;
    }
    eprintln!(
        "quiet after {} s; MB written in each second: {rates:?}",
        rates.len()
    );

    // Nothing was lost to the cleaning: every key holds its last round's value.
    assert_eq!(tree.len(), KEYS as usize + 1);
    for key in (0..KEYS).step_by(997) {
        assert_eq!(
            tree.get(key.to_be_bytes()).unwrap().as_deref(),
            Some(value(key, ROUNDS - 1).as_slice()),
            "key {key}"
        );
    }
}
