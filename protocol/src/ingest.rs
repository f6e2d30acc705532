//! Batched ingest: the one accept path, taken by many envelopes at once.
//!
//! A sync session, a USB bundle or a burst of local commands hands over hundreds of envelopes
//! together. [`accept_batch`] checks their header signatures with one ed25519 batch equation
//! per [`VERIFY_CHUNK`] envelopes ([`verify_signatures`]), then runs every envelope through
//! [`accept::accept_all_cached`] against one [`Staged`] view, with the ids the batch proved in
//! its [`SignatureCache`], so that no signature is checked twice. Everything else (payload hash, clock,
//! certificate chain, log, jurisdiction, the record's document) is the ordinary accept path; the
//! caller writes the returned [`Batch`] with one [`Store::commit`] (one durable flush).
//!
//! Architecture invariant: a batch accepts what [`accept::accept_all`] accepts over the same
//! envelopes, with the same results. A chunk whose batch equation fails is not an error: its
//! envelopes stay unproven and the accept path verifies each one alone, which names the bad ones
//! with the usual error.
//!
//! The batch equation is looser than the strict single check ([`crate::keys::PublicKey::verify`],
//! ed25519-dalek's `verify_strict`) in three ways, and [`verify_signatures`] closes each before an
//! envelope enters a batch: a small-order author key, a small-order `R` and a non-canonical
//! encoding of `R` all leave the envelope to the single check. One difference remains: the
//! batch equation (cofactorless, with random weights) can miss a small-order component that the
//! signer deliberately added to an otherwise valid `R`, which the single check rejects. Only the
//! holder of the author's private key can make such a signature, and a batch takes it with a
//! probability of 1/2 to 1/8 fixed by the batch's contents. Closing that too takes cofactored
//! verification on both paths (ZIP-215 rules), a change to PROTOCOL.md.
//!
//! Performance: `cargo bench -p lingong-node --bench accept` measures this path into a sled
//! store beside the raw ed25519 verification rate of the same run.

use crate::accept::{self, AcceptConfig, Accepted, SignatureCache, VerifiedSet};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::keys::{PublicKey, Signature};
use crate::store::{Batch, Staged, Store};
use ed25519_dalek::VerifyingKey;
use std::collections::HashMap;

/// Signatures proved by one batch equation. Larger chunks cost less per signature (the
/// multi-scalar multiplication switches to Pippenger's method above ~190 points); measured on
/// two cores, one signature costs ≈ 17.5 µs in chunks of 64, ≈ 12.2 µs in chunks of 256 and
/// ≈ 11.9 µs in chunks of 512, against ≈ 38 µs alone. A bad signature sends its whole chunk back
/// to the single check, so the chunk stays this small.
pub const VERIFY_CHUNK: usize = 256;

/// Verifies, authorizes and applies `envelopes` against one staged view of `store`; returns the
/// writes to commit (with one [`Store::commit`]) and, per envelope, what accepting it did.
/// Results are exactly those of [`accept::accept_all`] over the same envelopes.
pub fn accept_batch<S: Store + ?Sized>(
    store: &S,
    cfg: &AcceptConfig,
    envelopes: &[Envelope],
    now_ms: i64,
) -> (Batch, Vec<Result<Accepted>>) {
    let mut proved: VerifiedSet = VerifiedSet::default();
    // Each header encoded once, for the batch equation and for the id of what it proved.
    let signed = signed_headers(envelopes);
    for ((env, signed), ok) in envelopes
        .iter()
        .zip(&signed)
        .zip(verify_signed(envelopes, &signed))
    {
        if ok {
            proved.record_envelope(env.id_of_signed(signed));
        }
    }
    let mut staged = Staged::new(store);
    let results = accept::accept_all_cached(&mut staged, cfg, envelopes, now_ms, &mut proved);
    (staged.into_batch(), results)
}

/// For each envelope, whether its header signature is proved good by a batch equation.
/// `false` means "not proved here" (a bad signature, or a good one that shared a chunk with a
/// bad one, or one the strict rules single out): the accept path then checks it alone.
pub fn verify_signatures(envelopes: &[Envelope]) -> Vec<bool> {
    verify_signed(envelopes, &signed_headers(envelopes))
}

/// Each envelope's [`crate::envelope::Header::signed_bytes`], in order: what
/// [`verify_signed`] takes.
pub fn signed_headers(envelopes: &[Envelope]) -> Vec<Vec<u8>> {
    envelopes.iter().map(|e| e.header.signed_bytes()).collect()
}

/// [`verify_signatures`] over headers encoded by the caller, who needs the same bytes for the
/// envelopes' ids ([`Envelope::id_of_signed`]) and so encodes each header once:
/// `signed[i]` must be `envelopes[i].header.signed_bytes()` ([`signed_headers`]).
pub fn verify_signed(envelopes: &[Envelope], signed: &[Vec<u8>]) -> Vec<bool> {
    verify_signed_with(envelopes, signed, &mut KeyCache::default())
}

/// [`verify_signed`] with the authors' keys taken from (and added to) `keys`, kept by a caller
/// that verifies many batches by the same authors (the audit: a province's 19,572 stations
/// sign a few envelopes each, in every part of the store it reads).
pub fn verify_signed_with(
    envelopes: &[Envelope],
    signed: &[Vec<u8>],
    keys: &mut KeyCache,
) -> Vec<bool> {
    assert_eq!(envelopes.len(), signed.len(), "one encoded header each");
    debug_assert!(
        envelopes
            .iter()
            .zip(signed)
            .all(|(e, s)| e.header.signed_bytes() == *s)
    );
    verify_each(
        envelopes.len(),
        |i| {
            let env = &envelopes[i];
            (&env.header.author.0, &signed[i][..], &env.signature.0)
        },
        keys,
    )
}

/// For each signed message `(key, message, signature)`, whether one batch equation proved it,
/// with the same strict pre-checks and chunks as [`verify_signed`]: what an envelope's header
/// gets, for other signed bytes (the audit's certificates: each one's issuer, its signed bytes,
/// its signature). `false` means "not proved here": the caller checks it alone
/// ([`crate::keys::PublicKey::verify`]).
pub fn verify_messages(
    items: &[(&PublicKey, &[u8], &Signature)],
    keys: &mut KeyCache,
) -> Vec<bool> {
    verify_each(
        items.len(),
        |i| {
            let (key, message, signature) = items[i];
            (&key.0, message, &signature.0)
        },
        keys,
    )
}

/// Ed25519 keys decompressed once, by their bytes (`None`: not a point, or of small order, which
/// the batch equation does not take). Decompressing a key costs about as much as a third of a
/// signature's share of a batch equation.
#[derive(Default)]
pub struct KeyCache(HashMap<[u8; 32], Option<VerifyingKey>>);

impl KeyCache {
    fn get(&mut self, key: &[u8; 32]) -> Option<VerifyingKey> {
        *self
            .0
            .entry(*key)
            .or_insert_with(|| VerifyingKey::from_bytes(key).ok().filter(|k| !k.is_weak()))
    }
}

/// The batch equations over `n` signed messages, `item(i)` the `i`th one's key, message and
/// signature: those the strict rules single out (a small-order key, a small-order or
/// non-canonical `R`) are left unproved, the others verified in chunks of [`VERIFY_CHUNK`].
fn verify_each<'a>(
    n: usize,
    item: impl Fn(usize) -> (&'a [u8; 32], &'a [u8], &'a [u8; 64]),
    keys: &mut KeyCache,
) -> Vec<bool> {
    let mut proved = vec![false; n];
    let mut candidates: Vec<(usize, VerifyingKey)> = Vec::with_capacity(n);
    for i in 0..n {
        let (author, _, signature) = item(i);
        if let Some(key) = keys.get(author)
            && r_is_strict(signature)
        {
            candidates.push((i, key));
        }
    }
    let mut messages: Vec<&[u8]> = Vec::with_capacity(VERIFY_CHUNK);
    let mut signatures: Vec<ed25519_dalek::Signature> = Vec::with_capacity(VERIFY_CHUNK);
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(VERIFY_CHUNK);
    for chunk in candidates.chunks(VERIFY_CHUNK) {
        messages.clear();
        signatures.clear();
        keys.clear();
        for (i, key) in chunk {
            let (_, message, signature) = item(*i);
            messages.push(message);
            signatures.push(ed25519_dalek::Signature::from_bytes(signature));
            keys.push(*key);
        }
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            for (i, _) in chunk {
                proved[*i] = true;
            }
        }
    }
    proved
}

/// True when the signature's `R` passes the strict check's own tests on it: canonically
/// encoded and not of small order. Decided from the encoding alone, as libsodium does
/// (`ge25519_has_small_order`): the batch equation decompresses `R` anyway, and an `R` that is
/// no point at all fails its chunk's equation, whose envelopes the single check then takes.
fn r_is_strict(signature: &[u8; 64]) -> bool {
    let r: [u8; 32] = signature[..32].try_into().expect("32 bytes");
    y_is_canonical(&r) && !y_is_small_order(&r)
}

/// The y coordinates (little-endian, the sign bit clear) of the eight points of order dividing
/// 8, the only points whose multiple by the cofactor is the identity: 0 (order 4, x = ±√−1),
/// 1 (the identity, x = 0), the two of order 8 (each with two x of opposite sign), and p − 1
/// (order 2, x = 0). Below p, nothing else encodes a small-order point, whatever its sign bit.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    {
        let mut minus_one = [0xff; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        minus_one
    },
];

/// True when a canonical encoding ([`y_is_canonical`]) is of a small-order point.
fn y_is_small_order(encoded: &[u8; 32]) -> bool {
    SMALL_ORDER_Y
        .iter()
        .any(|y| y[..31] == encoded[..31] && y[31] == encoded[31] & 0x7f)
}

/// True when the encoded y coordinate (the low 255 bits, little-endian) is below
/// p = 2^255 - 19. The only other non-canonical encodings (x = 0 with the sign bit set) are of
/// small-order points, which [`r_is_strict`] rejects anyway.
fn y_is_canonical(encoded: &[u8; 32]) -> bool {
    // y >= p only when bits 8..255 are all ones and the low byte is at least 0xed.
    !(encoded[31] & 0x7f == 0x7f && encoded[1..31].iter().all(|b| *b == 0xff) && encoded[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accept::accept_all;
    use crate::author::{LocalAuthor, Target};
    use crate::envelope::Envelope;
    use crate::fixture::Hierarchy;
    use crate::keys::{PublicKey, Signature};
    use crate::record::{FieldValue, RecordId, RecordKind};
    use crate::region::RegionCode;
    use crate::store::{MemoryStore, NO_PREV};

    const NOW_MS: i64 = 1_767_225_600_000; // 2026-01-01

    /// A certificate record and `n` signed posts of one village station.
    fn signed_posts(n: usize) -> (AcceptConfig, Vec<Envelope>) {
        let mut h = Hierarchy::new(11);
        let cfg = h.accept_config();
        let village = RegionCode::parse("520102016001").expect("valid");
        let mut scratch = MemoryStore::new();
        let cert = h.publish(&mut scratch, &village, NOW_MS);
        let (key, _) = h.node(&village);
        let author = LocalAuthor { key: &key, cfg };
        let mut staged = Staged::new(&scratch);
        let mut out = vec![cert];
        for i in 0..n {
            let edits = [
                ("title", FieldValue::Text(format!("搬运工 {i}"))),
                ("headcount", FieldValue::Int(3)),
                ("filled", FieldValue::Counter(0)),
            ];
            let target = Target::Create {
                kind: RecordKind::Post,
                reach: None,
            };
            let env = author
                .write(&mut staged, target, &edits, NOW_MS + i as i64)
                .expect("signed");
            out.push(env);
        }
        (cfg, out)
    }

    fn outcome(results: &[Result<Accepted>]) -> Vec<String> {
        results
            .iter()
            .map(|r| match r {
                Ok(a) => format!("{a:?}"),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    #[test]
    fn a_batch_accepts_exactly_what_the_single_path_accepts() {
        let (cfg, mut envs) = signed_posts(300);
        envs[40].signature.0[5] ^= 1; // a bad signature in the first chunk
        if let Some(p) = envs[200].payload.as_mut() {
            p[3] ^= 1; // a payload that does not match its signed hash
        }
        envs.push(envs[7].clone()); // a duplicate

        let store = MemoryStore::new();
        let (batch, results) = accept_batch(&store, &cfg, &envs, NOW_MS);
        let mut single = Staged::new(&store);
        let expected = accept_all(&mut single, &cfg, &envs, NOW_MS);
        assert_eq!(outcome(&results), outcome(&expected));
        assert!(results[40].is_err() && results[200].is_err());
        assert_eq!(results[301].as_ref().ok(), Some(&Accepted::Duplicate));

        let mut a = MemoryStore::new();
        a.commit(batch).unwrap();
        let mut b = MemoryStore::new();
        b.commit(single.into_batch()).unwrap();
        assert_eq!(a.metas, b.metas);
        assert_eq!(a.records, b.records);
        assert_eq!(a.authors, b.authors);
    }

    #[test]
    fn only_the_chunk_with_a_bad_signature_falls_back() {
        let (_, mut envs) = signed_posts(2 * VERIFY_CHUNK);
        envs[3].signature.0[40] ^= 1;
        let proved = verify_signatures(&envs);
        assert!(proved[..VERIFY_CHUNK].iter().all(|p| !p));
        assert!(proved[VERIFY_CHUNK..].iter().all(|p| *p));
    }

    #[test]
    fn signatures_the_strict_check_rejects_are_never_proved_by_a_batch() {
        // The identity as key and as R, with s = 0, satisfies the batch equation for any
        // message, but it is small-order: the strict check rejects it, so must the batch.
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        let weak = PublicKey(identity);
        let header = crate::envelope::Header {
            author: weak,
            seq: 1,
            prev: NO_PREV,
            record: RecordId {
                creator: weak,
                serial: 1,
            },
            kind: RecordKind::Post,
            region: RegionCode::parse("520102").unwrap(),
            reach: RegionCode::parse("520102").unwrap(),
            timestamp_ms: NOW_MS,
            cert: [0; 32],
            payload_hash: [0; 32],
            payload_len: 0,
        };
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        let forged = Envelope {
            header,
            signature: Signature(sig),
            payload: None,
        };
        let message = header.signed_bytes();
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        let dalek_sig = ed25519_dalek::Signature::from_bytes(&sig);
        assert!(
            ed25519_dalek::verify_batch(&[&message[..]], &[dalek_sig], &[key]).is_ok(),
            "the bare batch equation is fooled"
        );
        assert!(!weak.verify(&message, &Signature(sig)));
        let (_, mut envs) = signed_posts(3);
        envs.insert(1, forged);
        let proved = verify_signatures(&envs);
        assert_eq!(proved, vec![true, false, true, true, true]);
    }

    #[test]
    fn small_order_r_is_recognised_from_its_encoding_as_the_decompressing_check_does() {
        // Every listed y, with either sign bit, decompresses to a point of small order.
        for y in SMALL_ORDER_Y {
            for sign in [0u8, 0x80] {
                let mut encoded = y;
                encoded[31] |= sign;
                assert!(y_is_canonical(&encoded) && y_is_small_order(&encoded));
                assert!(
                    VerifyingKey::from_bytes(&encoded).is_ok_and(|p| p.is_weak()),
                    "{}",
                    hex::encode(encoded)
                );
            }
        }
        // The encoding check and the decompressing check agree on the R of real signatures
        // and on random encodings that are points.
        let (_, envs) = signed_posts(40);
        for env in &envs {
            assert!(r_is_strict(&env.signature.0));
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut points = 0;
        for _ in 0..4000 {
            let mut sig = [0u8; 64];
            for word in sig[..32].chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            let r: [u8; 32] = sig[..32].try_into().unwrap();
            if let Ok(point) = VerifyingKey::from_bytes(&r) {
                points += 1;
                assert_eq!(r_is_strict(&sig), y_is_canonical(&r) && !point.is_weak());
            }
        }
        assert!(
            points > 1000,
            "about half of all encodings are points: {points}"
        );
    }

    #[test]
    fn verify_signed_proves_what_verify_signatures_proves_over_the_same_bytes() {
        let (_, mut envs) = signed_posts(VERIFY_CHUNK + 10);
        envs[VERIFY_CHUNK + 3].signature.0[1] ^= 1;
        let signed = signed_headers(&envs);
        assert_eq!(verify_signed(&envs, &signed), verify_signatures(&envs));
        for (env, bytes) in envs.iter().zip(&signed) {
            assert_eq!(env.id_of_signed(bytes), env.id());
        }
    }

    #[test]
    fn messages_are_proved_as_the_single_check_proves_them_with_a_kept_key_cache() {
        // Other signed bytes than headers (the audit's certificates): a few keys signing many
        // messages, one bad signature and one by a small-order key among them.
        let signers: Vec<crate::keys::NodeKey> = (1..=3u8)
            .map(|s| crate::keys::NodeKey::from_seed([s; 32]))
            .collect();
        let publics: Vec<PublicKey> = signers.iter().map(|k| k.public()).collect();
        let n = 2 * VERIFY_CHUNK + 7;
        let messages: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("certificate {i}").into_bytes())
            .collect();
        let mut signatures: Vec<Signature> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| signers[i % 3].sign(m))
            .collect();
        signatures[VERIFY_CHUNK + 5].0[7] ^= 1;
        let weak = {
            let mut b = [0u8; 32];
            b[0] = 1;
            PublicKey(b)
        };
        let mut keys_of: Vec<&PublicKey> = (0..n).map(|i| &publics[i % 3]).collect();
        keys_of[2] = &weak;
        let items: Vec<(&PublicKey, &[u8], &Signature)> = (0..n)
            .map(|i| (keys_of[i], &messages[i][..], &signatures[i]))
            .collect();
        let mut cache = KeyCache::default();
        let proved = verify_messages(&items, &mut cache);
        // Every proved message passes the single check; the bad one and the weak key's are not
        // proved; the chunks without either are proved whole.
        for (i, (key, message, signature)) in items.iter().enumerate() {
            if proved[i] {
                assert!(key.verify(message, signature), "message {i}");
            }
        }
        assert!(!proved[2] && !proved[VERIFY_CHUNK + 5]);
        assert_eq!(proved.iter().filter(|p| **p).count(), n - 1 - VERIFY_CHUNK);
        // The keys were decompressed once each and the cache gives the same answers again.
        assert_eq!(cache.0.len(), 4);
        assert_eq!(verify_messages(&items, &mut cache), proved);
    }

    #[test]
    fn non_canonical_encodings_of_r_are_recognised() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!y_is_canonical(&p)); // p itself
        let mut p_minus_1 = p;
        p_minus_1[0] = 0xec;
        assert!(y_is_canonical(&p_minus_1));
        let mut p_signed = p;
        p_signed[31] = 0xff; // sign bit set, y = p
        assert!(!y_is_canonical(&p_signed));
        let mut top = [0xffu8; 32];
        top[31] = 0x7f;
        assert!(!y_is_canonical(&top)); // 2^255 - 1
        assert!(y_is_canonical(&[0u8; 32]));
    }
}
