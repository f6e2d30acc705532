//! The signatures the simulator makes itself, verified on a second core.
//!
//! Every honest write is signed by the simulator (`Sim::sign_and_accept`) and then accepted by
//! its author's own store, whose accept path would verify the signature there and then (about
//! 40 µs; once per envelope for the whole run, since the run's [`crate::arena::Verified`]
//! cache spares every other node). Instead the simulator hands the envelope to this verifier,
//! a thread of its own, and records its id in the cache as verified, so the author's accept
//! goes on at once and the check still happens, on the other core. A signature that does not
//! verify fails the run at its end, naming the envelope. Nothing the run does depends on the
//! verifier's answers, so the run stays deterministic; forged and equivocating envelopes never
//! come here (they go through the accept path's own verification).

use lingong_protocol::envelope::Envelope;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Envelopes go to the thread in batches of this many: a send that wakes a sleeping thread
/// is a system call, too dear for each write.
const BATCH: usize = 256;

/// A thread verifying the signatures of envelopes handed to it; see the module docs.
pub struct Verifier {
    sender: Option<mpsc::Sender<Vec<Envelope>>>,
    batch: Vec<Envelope>,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl Verifier {
    pub fn spawn() -> Verifier {
        let (sender, receiver) = mpsc::channel::<Vec<Envelope>>();
        let thread = std::thread::Builder::new()
            .name("lingong-sim-verifier".into())
            .spawn(move || {
                let mut failures = Vec::new();
                for env in receiver.into_iter().flatten() {
                    if let Err(e) = env.verify_signature() {
                        failures.push(format!(
                            "a change the simulator signed for {} (sequence {}) does not verify: {e}",
                            env.header.region, env.header.seq
                        ));
                    }
                }
                failures
            })
            .expect("the verifier thread starts");
        Verifier {
            sender: Some(sender),
            batch: Vec::with_capacity(BATCH),
            thread: Some(thread),
        }
    }

    /// Queues `env` for verification.
    pub fn submit(&mut self, env: Envelope) {
        self.batch.push(env);
        if self.batch.len() >= BATCH {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(sender) = &self.sender {
            sender.send(batch).expect("the verifier thread is alive");
        }
    }

    /// Waits for every queued envelope to be verified; returns the failures.
    pub fn finish(&mut self) -> Vec<String> {
        if !self.batch.is_empty() {
            self.send_batch();
        }
        self.sender = None;
        match self.thread.take() {
            Some(thread) => thread.join().expect("the verifier thread does not panic"),
            None => Vec::new(),
        }
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
    use lingong_protocol::record::{RecordId, RecordKind};
    use lingong_protocol::region::RegionCode;
    use lingong_protocol::store::NO_PREV;

    #[test]
    fn a_good_signature_passes_and_a_tampered_one_is_reported() {
        let mut h = Hierarchy::new(7);
        let region = RegionCode::parse("520102").unwrap();
        let (key, chain) = h.node(&region);
        let at = (FIXTURE_NOT_BEFORE_S + 60) * 1000;
        let record = RecordId {
            creator: key.public(),
            serial: 1,
        };
        let sign = || {
            Envelope::sign(
                &key,
                1,
                NO_PREV,
                record,
                RecordKind::Worker,
                region,
                region,
                at,
                chain.leaf_hash(),
                b"payload".to_vec(),
            )
        };
        let mut verifier = Verifier::spawn();
        verifier.submit(sign());
        assert!(verifier.finish().is_empty());
        let mut verifier = Verifier::spawn();
        let mut tampered = sign();
        tampered.header.timestamp_ms += 1;
        verifier.submit(sign());
        verifier.submit(tampered);
        let failures = verifier.finish();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("520102"), "{failures:?}");
    }
}
