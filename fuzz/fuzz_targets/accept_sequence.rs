//! Sequences of envelopes fed to the one accept path against a `MemoryStore`, as a peer's sync
//! frames or a bundle would feed them: valid envelopes of a small certified network (in any
//! order, whole or header-only), the same with a byte changed, raw bytes, envelopes signed by
//! the network's keys with fuzzer-chosen headers (sequence numbers, links, records, kinds,
//! regions, times, certificates, payloads) and payloads swapped between envelopes.
//!
//! Checked after every envelope: no panic; a rejected envelope changes nothing but evidence
//! (its staged writes are evidence only, and the store is otherwise as before); a duplicate
//! stages nothing; every held log links (the envelope held at `seq` names the one held at
//! `seq - 1` as its `prev`). At the end (for one input in four, by length), batched ingest
//! (`ingest::accept_batch`, with the ed25519 batch equation) gives exactly what `accept_all`
//! gives over the same envelopes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_fuzz::{Choices, NOW_MS, WORLD, logs_link};
use lingong_protocol::accept::{Accepted, VerifiedSet, accept_all, accept_cached};
use std::sync::{LazyLock, Mutex};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::ingest::accept_batch;
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::store::{MemoryStore, Op, Staged, Store};

/// At most this many envelopes per input (each may verify a signature and an Automerge change).
const MAX_STEPS: usize = 24;

/// Signatures already verified, across inputs (verification is a pure function of the bytes,
/// see `accept::SignatureCache`): the pool's envelopes and chains verify once per process, and
/// the time goes to the rules. Changed bytes give new ids, which are verified.
static VERIFIED: LazyLock<Mutex<VerifiedSet>> = LazyLock::new(Default::default);

fn same_but_evidence(a: &MemoryStore, b: &MemoryStore) -> bool {
    a.envelopes == b.envelopes
        && a.metas == b.metas
        && a.logs == b.logs
        && a.records == b.records
        && a.authors == b.authors
        && a.revocations == b.revocations
}

fn next_envelope(c: &mut Choices<'_>, store: &MemoryStore) -> Option<Envelope> {
    let w = &*WORLD;
    let pool = &w.pool;
    Some(match c.u8() % 6 {
        0 => pool[c.pick(pool.len())].clone(),
        1 => pool[c.pick(pool.len())].header_only(),
        2 => {
            let mut wire = pool[c.pick(pool.len())].to_bytes();
            let at = c.u16() as usize % wire.len();
            wire[at] ^= c.u8().max(1);
            Envelope::from_bytes(&wire).ok()?
        }
        3 => Envelope::from_bytes(c.bytes(4096)).ok()?,
        4 => {
            let signer = &w.members[c.pick(w.members.len())];
            let me = signer.key.public();
            let held_max = store.authors.get(&me).map_or(0, |a| a.max_seq);
            let seq = match c.u8() % 5 {
                0 => held_max.saturating_add(1),
                1 => held_max,
                2 => u64::from(c.u8()),
                3 => u64::MAX - u64::from(c.u8() % 2),
                _ => c.u64(),
            };
            let prev = match c.u8() % 3 {
                0 => seq
                    .checked_sub(1)
                    .and_then(|s| store.logs.get(&(me, s)).copied())
                    .unwrap_or_default(),
                1 => pool[c.pick(pool.len())].id(),
                _ => [0; 32],
            };
            let record = match c.u8() % 3 {
                0 => RecordId {
                    creator: me,
                    serial: seq,
                },
                1 => pool[c.pick(pool.len())].header.record,
                _ => RecordId {
                    creator: w.members[c.pick(w.members.len())].key.public(),
                    serial: c.u64(),
                },
            };
            let kind = RecordKind::from_u8(c.u8() % 12).ok()?;
            let own = signer.chain.leaf().body.region;
            let region = match c.u8() % 2 {
                0 => own,
                _ => w.regions[c.pick(w.regions.len())],
            };
            let reach = match c.u8() % 2 {
                0 => region,
                _ => w.regions[c.pick(w.regions.len())],
            };
            let timestamp_ms = match c.u8() % 4 {
                0 => NOW_MS - i64::from(c.u16()) * 1000,
                1 => NOW_MS + i64::from(c.u16()) * 10_000,
                2 => i64::MIN + i64::from(c.u8()),
                _ => c.u64() as i64,
            };
            let cert = match c.u8() % 2 {
                0 => signer.chain.leaf_hash(),
                _ => pool[c.pick(pool.len())].header.cert,
            };
            let (payload, whole) = match c.u8() % 4 {
                0 => (signer.chain.to_bytes(), true),
                1 => (
                    pool[c.pick(pool.len())].payload.clone().unwrap_or_default(),
                    true,
                ),
                2 => (c.bytes(2048).to_vec(), true),
                _ => (Vec::new(), false),
            };
            let env = Envelope::sign(
                &signer.key,
                seq,
                prev,
                record,
                kind,
                region,
                reach,
                timestamp_ms,
                cert,
                payload,
            );
            if whole { env } else { env.header_only() }
        }
        _ => {
            let mut env = pool[c.pick(pool.len())].clone();
            env.payload = pool[c.pick(pool.len())].payload.clone();
            env
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = &*WORLD;
    let mut c = Choices::new(data);
    let mut store = MemoryStore::new();
    let mut fed = Vec::new();
    let mut verified = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    while !c.is_empty() && fed.len() < MAX_STEPS {
        let Some(env) = next_envelope(&mut c, &store) else {
            continue;
        };
        let before = store.clone();
        let mut staged = Staged::new(&store);
        let result = accept_cached(&mut staged, &w.cfg, &env, NOW_MS, &mut *verified);
        let batch = staged.into_batch();
        match &result {
            Err(_) => assert!(
                batch.ops.iter().all(|op| matches!(op, Op::PutEvidence(_))),
                "a rejected envelope staged more than evidence: {result:?}"
            ),
            Ok(Accepted::Duplicate) => assert!(batch.is_empty(), "a duplicate staged writes"),
            Ok(_) => {}
        }
        store.commit(batch).expect("memory commit");
        if result.is_err() {
            assert!(same_but_evidence(&before, &store));
        }
        logs_link(&store);
        fed.push(env);
    }

    drop(verified);
    // The batch comparison verifies every signature again (one input in four pays for it).
    if data.len() % 4 != 0 {
        return;
    }
    let fresh = MemoryStore::new();
    let mut staged = Staged::new(&fresh);
    let one_by_one = accept_all(&mut staged, &w.cfg, &fed, NOW_MS);
    let mut expected = MemoryStore::new();
    expected.commit(staged.into_batch()).expect("memory commit");
    let (batch, batched) = accept_batch(&fresh, &w.cfg, &fed, NOW_MS);
    let codes = |rs: &[lingong_protocol::Result<Accepted>]| -> Vec<Result<Accepted, &'static str>> {
        rs.iter().map(|r| r.as_ref().copied().map_err(|e| e.code())).collect()
    };
    assert_eq!(codes(&one_by_one), codes(&batched), "batched ingest differs");
    let mut got = MemoryStore::new();
    got.commit(batch).expect("memory commit");
    assert!(same_but_evidence(&expected, &got), "batched ingest stored otherwise");
    assert_eq!(expected.evidence, got.evidence);
});
