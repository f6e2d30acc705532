//! `evidence::ForkProof::from_bytes` (the payload of an evidence record) on arbitrary bytes: no
//! panic, trailing bytes refused, canonical, and what decodes proves a fork.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::refuses_trailing;
use lingong_protocol::evidence::ForkProof;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ForkProof::from_bytes(data) {
        assert_eq!(p.to_bytes(), data, "a fork proof's bytes are canonical");
        p.fork_seq().expect("a decoded proof proves a fork");
        refuses_trailing(data, 1, ForkProof::from_bytes);
    }
});
