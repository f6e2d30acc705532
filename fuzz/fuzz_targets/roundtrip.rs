//! Sign → encode → decode: an envelope signed with any header fields and payload decodes to
//! itself (unless its sequence number is 0, which the decoder refuses), verifies, keeps its id
//! and its header-only form; and any one byte of its wire form changed gives bytes that either
//! do not decode or do not verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::{Choices, WORLD};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::record::{RecordId, RecordKind};

fuzz_target!(|data: &[u8]| {
    let w = &*WORLD;
    let mut c = Choices::new(data);
    let signer = &w.members[c.pick(w.members.len())];
    let creator = w.members[c.pick(w.members.len())].key.public();
    let kind = match RecordKind::from_u8(c.u8() % 16) {
        Ok(k) => k,
        Err(_) => return,
    };
    let seq = c.u64();
    let mut prev = [0u8; 32];
    prev[..8].copy_from_slice(&c.u64().to_be_bytes());
    let serial = c.u64();
    let region = w.regions[c.pick(w.regions.len())];
    let reach = w.regions[c.pick(w.regions.len())];
    let timestamp_ms = c.u64() as i64;
    let cert = signer.chain.leaf_hash();
    let flip_at = c.u16() as usize;
    let flip = c.u8().max(1);
    let payload = c.bytes(usize::MAX).to_vec();
    let env = Envelope::sign(
        &signer.key,
        seq,
        prev,
        RecordId { creator, serial },
        kind,
        region,
        reach,
        timestamp_ms,
        cert,
        payload,
    );
    let wire = env.to_bytes();
    let decoded = Envelope::from_bytes(&wire);
    if seq == 0 {
        assert!(decoded.is_err(), "sequence number 0 is refused");
        return;
    }
    let decoded = decoded.expect("a signed envelope decodes");
    assert_eq!(decoded, env);
    assert_eq!(decoded.id(), env.id());
    decoded.verify_signature().expect("a signed envelope verifies");
    let header = Envelope::from_bytes(&env.header_only().to_bytes()).expect("header form");
    assert_eq!(header, env.header_only());
    assert_eq!(header.id(), env.id());
    header.verify_signature().expect("the header form verifies");

    let mut bad = wire.clone();
    let at = flip_at % bad.len();
    bad[at] ^= flip;
    if let Ok(other) = Envelope::from_bytes(&bad) {
        assert!(
            other.verify_signature().is_err(),
            "byte {at} changed and the envelope still verifies"
        );
    }
});
