//! What reading one page of the store costs in decompression (store format 3: sled compresses
//! its pages with zstd and makes a new decompression context for every page it reads from disk,
//! `zstd::stream::decode_all` in sled 0.34's `maybe_decompress`).
//!
//! Prints, for a page like the store's (twelve rows of a listing view and an envelope's worth
//! of barely compressible bytes each, compressed at the store's level): the time to decompress
//! it the way sled does, a fresh context each time, against the baseline of one context reused,
//! and their ratio, then `uptime`. The ratio shows what making a context costs. Built as this
//! tree builds (`.cargo/config.toml`: zstd compiled with `-DDYNAMIC_BMI2=0`) making a context
//! costs little; built with zstd's CPU check back (`CFLAGS=" " cargo bench -p lingong-node
//! --bench page_read`: a `CFLAGS` set in the environment wins over the tree's) every context
//! runs the CPUID instruction, which a virtual machine traps (docs/figures.md, "Store size").

use std::hint::black_box;
use std::time::Instant;

/// Decompressions per round; the best of five rounds is kept.
const CALLS: u32 = 50_000;

fn main() {
    let mut page = Vec::new();
    for row in 0..12u32 {
        page.extend_from_slice(
            format!(
                "{{\"title\":\"搬运工 {row}\",\"occupation\":\"4-08-01-00\",\"wage\":{},\"region\":\"520102\",\"status\":\"open\"}}",
                150 + row
            )
            .as_bytes(),
        );
        // Hashes and a signature: bytes that do not repeat.
        let mut x = u64::from(row) * 0x9e37_79b9_7f4a_7c15 + 1;
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            page.extend_from_slice(&x.to_le_bytes());
        }
    }
    let level = lingong_node::store::COMPRESSION_LEVEL;
    let compressed = zstd::stream::encode_all(&page[..], level).expect("compress");
    let fresh = best_of_five(|| {
        zstd::stream::decode_all(&compressed[..])
            .expect("decode")
            .len()
    });
    let mut context = zstd::block::Decompressor::new();
    let reused = best_of_five(|| {
        context
            .decompress(&compressed, page.len())
            .expect("decode")
            .len()
    });
    println!(
        "a {} B page compressed to {} B (zstd level {level}): decompressed with a new context each time (as sled reads a page) {fresh:.2} µs | baseline one context reused {reused:.2} µs | ratio {:.2} | zstd built with CFLAGS {:?} | load average {}",
        page.len(),
        compressed.len(),
        fresh / reused,
        option_env!("CFLAGS").unwrap_or(""),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Microseconds per call of `decode`, the best of five rounds of [`CALLS`].
fn best_of_five(mut decode: impl FnMut() -> usize) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                black_box(decode());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
        })
        .fold(f64::INFINITY, f64::min)
}
