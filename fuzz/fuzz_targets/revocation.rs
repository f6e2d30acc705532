//! `Revocation::from_bytes` (the payload of a revocation record) on arbitrary bytes: no panic,
//! trailing bytes refused, canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::refuses_trailing;
use lingong_protocol::record::Revocation;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Revocation::from_bytes(data) {
        assert_eq!(r.to_bytes(), data, "a revocation's bytes are canonical");
        assert_eq!(r.chain.leaf().body.subject, r.revoked);
        refuses_trailing(data, 0xff, Revocation::from_bytes);
    }
});
