//! `bundle::parse` (a USB bundle file from anywhere) on arbitrary bytes: no panic, no
//! allocation beyond what the file holds (a length above the envelope limit is refused unread),
//! a file cut inside an envelope refused, and what parses writes back to the same file. The
//! same bytes as a sealed bundle addressed to a fixed key (`bundle::open`): no panic, and
//! whatever opens was sealed to that key (forging one needs the AEAD key).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_protocol::bundle::{self, MAGIC, SEALED_MAGIC};
use lingong_protocol::keys::NodeKey;

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

    // The same bytes sealed-looking, addressed to the fuzzer's key.
    let key = NodeKey::from_seed([3; 32]);
    let mut sealed = SEALED_MAGIC.to_vec();
    sealed.extend_from_slice(&key.public().0);
    sealed.extend_from_slice(data);
    assert_eq!(bundle::sealed_to(&sealed), Some(key.public()));
    if let Ok(plain) = bundle::open(&sealed, &key) {
        // Only bytes made by `seal` open; they hold whatever was sealed.
        let _ = bundle::parse(&plain);
    }
    let _ = bundle::parse_for(&sealed, &key);
});
