//! `bundle::parse` (a USB bundle file from anywhere) on arbitrary bytes: no panic, no
//! allocation beyond what the file holds (a length above the envelope limit is refused unread),
//! a file cut inside an envelope refused, and what parses writes back to the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_protocol::bundle::{self, MAGIC};

fuzz_target!(|data: &[u8]| {
    // Most inputs start with the magic, so the fuzzer spends its time past it.
    let mut raw = Vec::with_capacity(MAGIC.len() + data.len());
    if data.first() != Some(&b'L') {
        raw.extend_from_slice(MAGIC);
    }
    raw.extend_from_slice(data);
    if let Ok(envelopes) = bundle::parse(&raw) {
        let mut again = MAGIC.to_vec();
        for e in &envelopes {
            bundle::push(&mut again, &e.to_bytes());
        }
        assert_eq!(again, raw, "a bundle's bytes are canonical");
        raw.push(0);
        assert!(bundle::parse(&raw).is_err(), "a file ending inside a length prefix");
    }
});
