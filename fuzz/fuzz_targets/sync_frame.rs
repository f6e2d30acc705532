//! `Frame::decode` (every sync message from a peer) on arbitrary bytes: no panic, allocation
//! bounded whatever the length fields say, trailing bytes refused, limits applied, and what
//! decodes encodes to a frame that decodes the same (`encoded_len` agreeing); the frame's
//! parts are then decoded as the session does (hello chain, reconcile message, envelopes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::refuses_trailing;
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::{Envelope, MAX_ENVELOPE_BYTES};
use lingong_protocol::reconcile::Message;
use lingong_protocol::sync::Frame;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        assert!(frame.envelopes.iter().all(|e| e.len() <= MAX_ENVELOPE_BYTES));
        let again = frame.encode();
        assert_eq!(again.len(), frame.encoded_len());
        assert_eq!(Frame::decode(&again).as_ref(), Ok(&frame));
        refuses_trailing(data, 0, Frame::decode);
        if let Some(hello) = &frame.hello {
            let _ = CertChain::from_bytes(hello);
        }
        if let Some(r) = &frame.reconcile {
            let _ = Message::decode(r);
        }
        for e in &frame.envelopes {
            let _ = Envelope::from_bytes(e);
        }
    }
});
