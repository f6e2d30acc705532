//! `reconcile::Message::decode` (the reconciliation round inside a sync frame) on arbitrary
//! bytes: no panic, lists allocated only for bytes present, and what decodes is canonical
//! (encodes back to the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_protocol::reconcile::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(data) {
        assert_eq!(msg.encode(), data, "a reconcile message is canonical");
        assert_eq!(msg.encoded_len(), data.len());
    }
});
