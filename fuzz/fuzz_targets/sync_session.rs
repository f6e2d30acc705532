//! Sequences of sync frames against a model store: the township of the fuzz network runs a
//! responder `sync::Session` over a `MemoryStore`, as the node does (each frame taken in with
//! `Session::receive`, what it carried accepted through the one accept path and committed,
//! then the next frame built with `Session::next_frame` from the store). Its peer is the
//! village, an honest session over its own store; each frame the township receives is, by the
//! fuzzer's choice, the village's next frame as it is, that frame altered (its reconciliation
//! message, envelopes, hello, clock, session number or `done` replaced or added to from the
//! network's envelopes, changed bytes and raw bytes), or raw bytes through `Frame::decode`.
//! The township's replies go back to the village while its session still accepts them.
//!
//! Checked after every frame: no panic; a frame refused by `receive` is refused whole; every
//! log the township and the village hold links; each reply the township builds is within the
//! frame limits (`Frame::check_limits` of its encoded length) and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::{Choices, NOW_MS, WORLD, logs_link};
use lingong_protocol::accept::{VerifiedSet, accept_all_cached};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::scope::Scope;
use lingong_protocol::store::{MemoryStore, Staged, Store};
use lingong_protocol::sync::{Frame, Session, SyncConfig, load_from};
use std::sync::{LazyLock, Mutex};

/// At most this many frames taken in by the township per input.
const MAX_FRAMES: usize = 16;

/// Signatures already verified, across inputs (as in `accept_sequence`).
static VERIFIED: LazyLock<Mutex<VerifiedSet>> = LazyLock::new(Default::default);

/// Stores the two sides start from: the certificate records only, those and the village's
/// first posts, and the whole pool (what of it accepts).
static STARTS: LazyLock<Vec<MemoryStore>> = LazyLock::new(|| {
    let w = &*WORLD;
    let mut verified = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    [7, 9, w.pool.len()]
        .iter()
        .map(|&n| {
            let mut store = MemoryStore::new();
            take_in(&mut store, &w.pool[..n], &mut verified);
            store
        })
        .collect()
});

/// Accepts `envelopes` into `store` through the one accept path (retrying those that wait for
/// another of the batch, as the node does) and commits what was accepted.
fn take_in(store: &mut MemoryStore, envelopes: &[Envelope], verified: &mut VerifiedSet) {
    let mut staged = Staged::new(&*store);
    accept_all_cached(&mut staged, &WORLD.cfg, envelopes, NOW_MS, verified);
    let batch = staged.into_batch();
    store.commit(batch).expect("memory commit");
}

/// One of the network's envelopes in wire form: whole, as its header, or with a byte changed.
fn pool_wire(c: &mut Choices<'_>) -> Vec<u8> {
    let pool = &WORLD.pool;
    let env = &pool[c.pick(pool.len())];
    match c.u8() % 3 {
        0 => env.to_bytes(),
        1 => env.header_only().to_bytes(),
        _ => {
            let mut wire = env.to_bytes();
            let at = c.u16() as usize % wire.len();
            wire[at] ^= c.u8().max(1);
            wire
        }
    }
}

/// The village's frame `honest`, altered as the fuzzer says.
fn altered(c: &mut Choices<'_>, honest: &Frame) -> Frame {
    let w = &*WORLD;
    let mut frame = honest.clone();
    for _ in 0..1 + c.pick(3) {
        match c.u8() % 8 {
            0 => frame.reconcile = Some(c.bytes(4096).to_vec()),
            1 => frame.reconcile = None,
            2 => frame.envelopes.push(pool_wire(c)),
            3 => frame.envelopes = (0..c.pick(6)).map(|_| pool_wire(c)).collect(),
            4 => frame.envelopes.push(c.bytes(4096).to_vec()),
            5 => {
                frame.hello = match c.u8() % 3 {
                    0 => Some(w.members[c.pick(w.members.len())].chain.to_bytes()),
                    1 => Some(c.bytes(2048).to_vec()),
                    _ => None,
                }
            }
            6 => frame.done = !frame.done,
            _ => {
                frame.clock_ms = Some(c.u64() as i64);
                frame.session = c.u64();
            }
        }
    }
    frame
}

fuzz_target!(|data: &[u8]| {
    let w = &*WORLD;
    let mut c = Choices::new(data);
    let starts = &*STARTS;
    let mut home = starts[c.pick(starts.len())].clone();
    let mut peer = starts[c.pick(starts.len())].clone();
    let (township, village) = (
        Scope::new(w.members[3].chain.leaf().body.region),
        Scope::new(w.members[4].chain.leaf().body.region),
    );
    let config = SyncConfig {
        max_frame_envelope_bytes: [600, 2000, 32 * 1024][c.pick(3)],
        ..SyncConfig::default()
    };
    let hello = |m: usize| w.members[m].chain.to_bytes();
    let mut theirs = Session::new(
        1,
        village,
        township,
        &peer.items().expect("items"),
        hello(4),
        config,
    );
    let mut ours = Session::new(
        1,
        township,
        village,
        &home.items().expect("items"),
        hello(3),
        config,
    );
    theirs.set_clock(NOW_MS);
    ours.set_clock(NOW_MS);
    let mut verified = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    let mut honest = Some(theirs.start());
    for _ in 0..MAX_FRAMES {
        if c.is_empty() {
            break;
        }
        let next = honest
            .take()
            .unwrap_or_else(|| theirs.next_frame(&mut load_from(&peer)));
        let frame = match c.u8() % 4 {
            0 | 1 => next,
            2 => altered(&mut c, &next),
            _ => match Frame::decode(c.bytes(8192)) {
                Ok(frame) => frame,
                Err(_) => continue,
            },
        };
        let wire_len = frame.encoded_len();
        if frame.check_limits(wire_len).is_err() {
            continue;
        }
        let before = home.clone();
        match ours.receive(&frame, wire_len) {
            Ok(received) => take_in(&mut home, &received, &mut verified),
            Err(_) => assert!(
                home.envelopes == before.envelopes && home.logs == before.logs,
                "a refused frame changed the store"
            ),
        }
        logs_link(&home);
        let reply = ours.next_frame(&mut load_from(&home));
        let bytes = reply.encode();
        assert_eq!(bytes.len(), reply.encoded_len());
        reply.check_limits(bytes.len()).expect("a reply within the limits");
        assert_eq!(Frame::decode(&bytes).as_ref(), Ok(&reply), "a reply decodes to itself");
        // The village takes the reply in while its session accepts it (a township confused by
        // altered frames may answer what the village's session refuses).
        if let Ok(received) = theirs.receive(&reply, bytes.len()) {
            take_in(&mut peer, &received, &mut verified);
            logs_link(&peer);
        }
    }
});
