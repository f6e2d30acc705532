//! `CertChain::from_bytes` (what a certificate record, a sync hello and a certificate file
//! carry) on arbitrary bytes: no panic, trailing bytes refused, canonical, and verifying what
//! decodes (against its own root key and at a time taken from the input) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::refuses_trailing;
use lingong_protocol::cert::CertChain;

fuzz_target!(|data: &[u8]| {
    let (at, bytes) = match data.split_first_chunk::<8>() {
        Some((at, rest)) => (i64::from_be_bytes(*at), rest),
        None => return,
    };
    if let Ok(chain) = CertChain::from_bytes(bytes) {
        assert_eq!(chain.to_bytes(), bytes, "a chain's bytes are canonical");
        let root = chain.root().body.subject;
        let _ = chain.verify(&root, at, &|_| false);
        let _ = chain.verify(&root, at, &|k| k.0[0] & 1 == 1);
        let _ = CertChain::from_json(&chain.to_json());
        refuses_trailing(bytes, at as u8, CertChain::from_bytes);
    }
});
