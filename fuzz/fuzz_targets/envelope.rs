//! `Envelope::from_bytes` on arbitrary bytes: no panic, no allocation beyond the size limit,
//! trailing bytes refused, and what decodes encodes back to the same bytes (the wire form is
//! canonical), its id and signature check computable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::refuses_trailing;
use lingong_protocol::envelope::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_bytes(data) {
        assert_eq!(env.to_bytes(), data, "the wire form is canonical");
        let _ = env.id();
        let _ = env.verify_signature();
        refuses_trailing(data, data.len() as u8, Envelope::from_bytes);
    }
});
