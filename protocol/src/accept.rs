//! The one accept path: every envelope (a local command, a sync message, a USB bundle, the
//! simulator) enters a store here.
//!
//! Steps, in order: duplicate check (the same envelope twice is a no-op; a header already held
//! may gain its payload), signature and payload hash, clock sanity, the author's certificate
//! chain (verified to the province root when the certificate record arrives; checked for
//! validity and revocation at the envelope's timestamp), the author's log (a second envelope for
//! a used sequence number is a fork: rejected and kept as evidence; a change dated more than
//! [`MAX_BACKDATE_MS`] before its neighbour in the log is back-dated), authorization against
//! jurisdiction, then the record's document is updated. All writes of one envelope go into the
//! [`Staged`] batch together; the caller commits the batch atomically.
//!
//! PIPL erasure of a worker record (PROTOCOL.md §8) is the one rule that reads a change's
//! fields: once the erasure is held, the other changes of the record are held as their signed
//! headers only, and a body arriving for one of them later is not stored (`erasure_step`).

use crate::cert::CertChain;
use crate::envelope::{Envelope, EnvelopeId};
use crate::error::{Error, Result};
use crate::evidence::ForkProof;
use crate::keys::PublicKey;
use crate::record::{self, RecordId, RecordKind, Revocation};
use crate::scope::reach_allowed;
use crate::store::{
    AuthorInfo, Evidence, ItemMeta, Op, RecordState, RevocationInfo, Staged, Store,
};

/// How far ahead of the receiver's clock a timestamp may be (clock skew allowance).
pub const MAX_FUTURE_MS: i64 = 86_400_000;

/// How far a change's timestamp may lie before its predecessor's in the author's log (one
/// hour): an honest node's clock never runs backwards by more, so a change dated earlier was
/// back-dated. The node also refuses to sign while its clock is off by more than this against
/// its parent's (`node/src/clock.rs`), the parent's time being the reference.
pub const MAX_BACKDATE_MS: i64 = 3_600_000;

/// What a node trusts and how much work it does per change.
#[derive(Clone, Copy, Debug)]
pub struct AcceptConfig {
    /// The province root key every chain must end in.
    pub root: PublicKey,
    /// Build Automerge documents (the node); `false` keeps only logs and record metadata
    /// (the simulator, which cannot hold a document per record per node).
    pub materialize: bool,
}

/// What accepting an envelope did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    New,
    /// Already held: nothing changed.
    Duplicate,
    /// The header was held without its payload; now the payload is too.
    PayloadFilled,
}

/// Signature checks already passed, kept across calls by a caller that sees the same
/// envelopes many times (the simulator: each change reaches hundreds of nodes in one process).
///
/// Sound because verification is a pure function of the bytes: an envelope id is SHA-256 over
/// the signed header bytes and the signature, and a certificate's hash covers its signed bytes
/// and signature, so the same id or hash verifies the same way every time. The payload is
/// still checked against the header's hash on every call, and everything that depends on the
/// store or the clock (chain validity, revocation, log, authorization) is never cached.
pub trait SignatureCache {
    fn envelope_verified(&self, id: &EnvelopeId) -> bool;
    fn record_envelope(&mut self, id: EnvelopeId);
    fn certificate_verified(&self, hash: &crate::canon::Hash32) -> bool;
    fn record_certificate(&mut self, hash: crate::canon::Hash32);
}

/// A [`SignatureCache`] in memory: the ids and hashes whose signatures passed, in hash sets
/// built by `H` (a caller that needs a fixed or faster hasher picks its own).
#[derive(Default, Debug, Clone)]
pub struct VerifiedSet<H = std::collections::hash_map::RandomState> {
    envelopes: std::collections::HashSet<EnvelopeId, H>,
    certificates: std::collections::HashSet<crate::canon::Hash32, H>,
}

impl<H: std::hash::BuildHasher> VerifiedSet<H> {
    /// Moves everything `other` holds into this set, leaving `other` empty (a cache filled
    /// on one thread joining the one shared by all).
    pub fn absorb(&mut self, other: &mut VerifiedSet<H>) {
        self.envelopes.extend(other.envelopes.drain());
        self.certificates.extend(other.certificates.drain());
    }

    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty() && self.certificates.is_empty()
    }
}

impl<H: std::hash::BuildHasher> SignatureCache for VerifiedSet<H> {
    fn envelope_verified(&self, id: &EnvelopeId) -> bool {
        self.envelopes.contains(id)
    }
    fn record_envelope(&mut self, id: EnvelopeId) {
        self.envelopes.insert(id);
    }
    fn certificate_verified(&self, hash: &crate::canon::Hash32) -> bool {
        self.certificates.contains(hash)
    }
    fn record_certificate(&mut self, hash: crate::canon::Hash32) {
        self.certificates.insert(hash);
    }
}

/// No cache: every signature is verified (what [`accept`] uses).
pub struct NoCache;

impl SignatureCache for NoCache {
    fn envelope_verified(&self, _: &EnvelopeId) -> bool {
        false
    }
    fn record_envelope(&mut self, _: EnvelopeId) {}
    fn certificate_verified(&self, _: &crate::canon::Hash32) -> bool {
        false
    }
    fn record_certificate(&mut self, _: crate::canon::Hash32) {}
}

/// Verifies, authorizes and applies one envelope into `staged`. On error nothing of this
/// envelope is staged, except fork evidence.
pub fn accept<S: Store + ?Sized>(
    staged: &mut Staged<'_, S>,
    cfg: &AcceptConfig,
    env: &Envelope,
    now_ms: i64,
) -> Result<Accepted> {
    accept_cached(staged, cfg, env, now_ms, &mut NoCache)
}

/// [`accept`] with a [`SignatureCache`]: the same rules, signatures verified once per id.
pub fn accept_cached<S: Store + ?Sized>(
    staged: &mut Staged<'_, S>,
    cfg: &AcceptConfig,
    env: &Envelope,
    now_ms: i64,
    cache: &mut dyn SignatureCache,
) -> Result<Accepted> {
    // The decoder refuses these; an envelope built in memory (a driver that skips the wire
    // form, as the simulator does) gets the same answer here.
    if env.header.seq == 0 {
        return Err(Error::invalid("header.seq", "starts at 1", "从 1 开始"));
    }
    let id = env.id();
    let held = staged.has_envelope(&id).map_err(store_err)?;
    match (held, &env.payload) {
        (Some(true), _) | (Some(false), None) => return Ok(Accepted::Duplicate),
        (Some(false), Some(payload)) => {
            env.verify_payload()?;
            let mut ops = Vec::new();
            if env.header.kind.is_document() {
                let state = staged.record(&env.header.record).map_err(store_err)?;
                if let Some(state) = state {
                    match erasure_step(cfg, &state, payload)? {
                        // The body of a change an erasure dropped is not stored again.
                        Erasure::Drop => return Ok(Accepted::Duplicate),
                        Erasure::Settle => {
                            let mut state = state;
                            ops.extend(erase_history(staged, &mut state, env, id)?);
                            ops.push(Op::PutRecord(env.header.record, Box::new(state)));
                        }
                        Erasure::None => {
                            ops.push(apply_to_record(staged, cfg, env, id, state, true)?)
                        }
                    }
                }
            }
            ops.push(Op::PutEnvelope(Box::new(env.clone()), meta_of(env, id)));
            staged.put_all(ops);
            return Ok(Accepted::PayloadFilled);
        }
        (None, _) => {}
    }
    if cache.envelope_verified(&id) {
        env.verify_payload()?;
    } else {
        env.verify_signature()?;
        cache.record_envelope(id);
    }
    let h = &env.header;
    if h.timestamp_ms > now_ms + MAX_FUTURE_MS {
        return Err(Error::FromTheFuture {
            at_ms: h.timestamp_ms,
        });
    }
    let mut ops = Vec::new();

    // The author and its chain.
    let author = if h.kind == RecordKind::Certificate {
        let payload = env.payload.as_deref().ok_or_else(|| {
            Error::invalid(
                "payload",
                "a certificate record carries its chain",
                "证书记录必须携带证书链",
            )
        })?;
        let chain = CertChain::from_bytes(payload)?;
        let revoked = |k: &PublicKey| matches!(staged.revocation(k), Ok(Some(r)) if r.at_ms <= h.timestamp_ms);
        verify_chain(&chain, cfg, h.timestamp_ms, &revoked, cache)?;
        let leaf = chain.leaf();
        if leaf.body.subject != h.author
            || leaf.hash() != h.cert
            || leaf.body.region != h.region
            || !h.is_genesis()
        {
            return Err(Error::BrokenChain {
                detail: "the certificate record does not describe its own author".into(),
            });
        }
        match staged.author(&h.author).map_err(store_err)? {
            Some(known) => known.with_certificate(chain),
            None => AuthorInfo {
                key: h.author,
                chain,
                max_seq: 0,
                envelopes: 0,
                earlier: Vec::new(),
            },
        }
    } else {
        let known = staged
            .author(&h.author)
            .map_err(store_err)?
            .ok_or_else(|| Error::UnknownAuthor {
                node: h.author.node_id(),
            })?;
        let named = known
            .chain_named(&h.cert)
            .ok_or_else(|| Error::BrokenChain {
                detail: "the envelope names a certificate its author does not hold".into(),
            })?;
        for cert in named.certs() {
            if !cert.valid_at(h.timestamp_ms.div_euclid(1000)) {
                return Err(Error::CertExpired {
                    node: cert.body.subject.node_id(),
                    at_ms: h.timestamp_ms,
                    not_before: cert.body.not_before,
                    not_after: cert.body.not_after,
                });
            }
            if let Some(r) = staged.revocation(&cert.body.subject).map_err(store_err)?
                && r.at_ms <= h.timestamp_ms
            {
                return Err(Error::Revoked {
                    node: cert.body.subject.node_id(),
                });
            }
        }
        known
    };
    let author_region = author.region();
    // Whether an erasure drops the envelope's body: then only its header is stored.
    let mut dropped = false;

    // The author's log: one envelope per sequence number, each linked to the one before, and
    // none dated more than the tolerance before the one before it.
    check_log(staged, env, id)?;
    check_not_back_dated(staged, env)?;

    // Authorization and the record.
    let record_id = h.record;
    let existing = staged.record(&record_id).map_err(store_err)?;
    match (&existing, h.is_genesis()) {
        (None, true) => {
            if h.region != author_region {
                return Err(Error::OutOfJurisdiction {
                    issuer: author_region.to_string(),
                    child: h.region.to_string(),
                });
            }
            let reach_ok = if h.kind == RecordKind::Post {
                reach_allowed(&h.region, &h.reach)
            } else if matches!(h.kind, RecordKind::Revocation | RecordKind::Evidence) {
                // Checked against the revoked or accused node's region below.
                true
            } else if h.kind == RecordKind::SupervisionOrder {
                // The ordered station's home area: an area (a county, or a region above the
                // counties) inside the issuer's own region. That the ordered station lies in
                // it is the issuing service's check; its payload is a document.
                crate::scope::home_area(&h.reach) == h.reach && author_region.contains(&h.reach)
            } else {
                h.reach == h.region
            };
            if !reach_ok && h.kind == RecordKind::SupervisionOrder {
                return Err(Error::invalid(
                    "reach",
                    format!(
                        "a supervision order's reach must be the ordered station's home area, inside {author_region}"
                    ),
                    format!("整改通知的范围必须是被通知站点所在区域，且在 {author_region} 之内"),
                ));
            }
            if !reach_ok {
                return Err(Error::invalid(
                    "reach",
                    format!(
                        "must lie inside {} (the author's county or own area)",
                        crate::scope::home_area(&h.region)
                    ),
                    format!(
                        "必须在 {} 范围内（作者所在县或本辖区）",
                        crate::scope::home_area(&h.region)
                    ),
                ));
            }
        }
        (Some(_), true) => {
            return Err(Error::BadChange {
                detail: "a record can be created only once".into(),
            });
        }
        (None, false) => {
            return Err(Error::UnknownRecord {
                record: record_id.to_hex(),
            });
        }
        (Some(state), false) => {
            if !state.kind.is_document() {
                return Err(Error::BadChange {
                    detail: format!("{} records cannot be edited", state.kind.as_str()),
                });
            }
            if state.kind != h.kind || state.region != h.region || state.reach != h.reach {
                return Err(Error::BadChange {
                    detail: "kind, region and reach must match the record's".into(),
                });
            }
            if h.author != state.creator
                && !author_region.is_strict_ancestor_of(&state.region)
                && !succeeds_with(
                    &|k: &PublicKey| staged.author(k),
                    &author,
                    &state.creator,
                    &state.region,
                )?
            {
                return Err(Error::Unauthorized {
                    author: h.author.node_id(),
                    record: record_id.to_hex(),
                });
            }
        }
    }

    match h.kind {
        RecordKind::Revocation => {
            let payload = env.payload.as_deref().ok_or_else(|| {
                Error::invalid(
                    "payload",
                    "a revocation carries what it revokes",
                    "吊销记录必须携带被吊销节点",
                )
            })?;
            let revocation = Revocation::from_bytes(payload)?;
            // The revoked node's own chain proves its region. Revocations already in force do
            // not void it: revoking a node under a node revoked earlier is still meaningful.
            verify_chain(&revocation.chain, cfg, h.timestamp_ms, &|_| false, cache)?;
            let target_region = revocation.chain.leaf().body.region;
            if !author_region.is_strict_ancestor_of(&target_region) {
                return Err(Error::OutOfJurisdiction {
                    issuer: author_region.to_string(),
                    child: target_region.to_string(),
                });
            }
            let area = crate::scope::home_area(&target_region);
            if h.reach != area {
                return Err(Error::invalid(
                    "reach",
                    format!("a revocation's reach must be the revoked node's home area {area}"),
                    format!("吊销记录的范围必须是被吊销节点所在区域 {area}"),
                ));
            }
            let earlier = staged.revocation(&revocation.revoked).map_err(store_err)?;
            if earlier.as_ref().is_none_or(|e| e.at_ms > h.timestamp_ms) {
                ops.push(Op::PutRevocation(RevocationInfo {
                    revoked: revocation.revoked,
                    by: h.author,
                    at_ms: h.timestamp_ms,
                    reason: revocation.reason,
                }));
            }
            ops.push(Op::PutRecord(record_id, Box::new(new_state(env, id))));
        }
        RecordKind::Evidence => {
            let payload = env.payload.as_deref().ok_or_else(|| {
                Error::invalid(
                    "payload",
                    "an evidence record carries its fork proof",
                    "证据记录必须携带分叉证明",
                )
            })?;
            let proof = ForkProof::from_bytes(payload)?;
            let seq = proof.fork_seq()?;
            // The accused key's chain proves its region; a revocation of the accused (the usual
            // end of a fork) does not void the proof.
            verify_chain(&proof.chain, cfg, h.timestamp_ms, &|_| false, cache)?;
            let area = crate::scope::home_area(&proof.chain.leaf().body.region);
            if h.reach != area {
                return Err(Error::invalid(
                    "reach",
                    format!(
                        "an evidence record's reach must be the accused node's home area {area}"
                    ),
                    format!("证据记录的范围必须是被举证节点所在区域 {area}"),
                ));
            }
            ops.push(Op::PutEvidence(Evidence {
                kind: "fork".into(),
                author: proof.accused,
                seq,
                envelopes: vec![proof.first.to_bytes(), proof.second.to_bytes()],
                detail: format!(
                    "two envelopes signed for sequence number {seq}, published by {}",
                    h.author.node_id()
                ),
            }));
            ops.push(Op::PutRecord(record_id, Box::new(new_state(env, id))));
        }
        RecordKind::Certificate => ops.push(Op::PutRecord(record_id, Box::new(new_state(env, id)))),
        _ => {
            let mut state = existing.unwrap_or_else(|| {
                let mut s = new_state(env, id);
                s.changes.clear();
                s
            });
            let step = match env.payload.as_deref() {
                Some(payload) => erasure_step(cfg, &state, payload)?,
                None => Erasure::None,
            };
            match step {
                Erasure::None => ops.push(apply_to_record(staged, cfg, env, id, state, false)?),
                Erasure::Drop | Erasure::Settle => {
                    record::check_change_origin(
                        env.payload.as_deref().unwrap_or_default(),
                        &h.author,
                        h.timestamp_ms,
                    )?;
                    state.changes.push(id);
                    state.updated_ms = state.updated_ms.max(h.timestamp_ms);
                    state.created_ms = state.created_ms.min(h.timestamp_ms);
                    if step == Erasure::Settle {
                        ops.extend(erase_history(staged, &mut state, env, id)?);
                    }
                    ops.push(Op::PutRecord(record_id, Box::new(state)));
                }
            }
            dropped = step == Erasure::Drop;
        }
    }

    let mut author = author;
    author.max_seq = author.max_seq.max(h.seq);
    author.envelopes += 1;
    ops.push(Op::PutAuthor(Box::new(author)));
    let stored = if dropped {
        env.header_only()
    } else {
        env.clone()
    };
    let meta = meta_of(&stored, id);
    ops.push(Op::PutEnvelope(Box::new(stored), meta));
    staged.put_all(ops);
    Ok(Accepted::New)
}

/// What PIPL erasure (PROTOCOL.md §8, "Erasure of a worker record"; §11 steps 1 and 7) asks
/// of a worker change whose body `payload` arrives for a record in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Erasure {
    /// Not an erased worker record, nor an erasure: applied as any change.
    None,
    /// The record is erased and this change is not an erasure: held as its header only,
    /// never applied (its body may hold personal data the erasure removed).
    Drop,
    /// An erasure: its body is kept, every other change of the record is held as its header
    /// only from now on, and the document is rebuilt from the erasures alone.
    Settle,
}

fn erasure_step(cfg: &AcceptConfig, state: &RecordState, payload: &[u8]) -> Result<Erasure> {
    if !cfg.materialize || state.kind != RecordKind::Worker {
        return Ok(Erasure::None);
    }
    if is_erasure(payload)? {
        return Ok(Erasure::Settle);
    }
    let erased = !matches!(
        state.view.get(crate::schema::worker::ERASED),
        None | Some(serde_json::Value::Null)
    );
    Ok(if erased { Erasure::Drop } else { Erasure::None })
}

/// True when a worker change `change` is an erasure: it sets the marker `erased` at the
/// document's root, as [`erasure_fields`] reads it. Asked of every worker change a node
/// accepts (`erasure_step`), so it avoids reading the change's operations where it can: a map
/// key is stored as its UTF-8 bytes in the key column of the change's uncompressed bytes
/// (automerge refuses a change with compressed columns), so a change without the bytes of
/// `erased` anywhere writes no such key. Nodes sign changes in that uncompressed form
/// (`record::make_change`), searched as it is, without being parsed; a compressed one (which
/// automerge also reads) is inflated and checked by automerge first, then searched; only a
/// change holding the bytes (an erasure, or a value that contains them) has its operations
/// read. Bytes that are no change at all may answer `false` here: the apply step refuses them
/// (`bad-change`), as it refuses every change that automerge does not read.
pub fn is_erasure(change: &[u8]) -> Result<bool> {
    /// An automerge chunk: magic bytes, a 4-byte checksum, then its type (1: a change).
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const CHANGE_CHUNK: u8 = 1;
    let marker = crate::schema::worker::ERASED.as_bytes();
    let holds_marker = |bytes: &[u8]| bytes.windows(marker.len()).any(|w| w == marker);
    if change.len() > 8 && change[..4] == MAGIC && change[8] == CHANGE_CHUNK {
        if !holds_marker(change) {
            return Ok(false);
        }
        return Ok(root_fields_if_erasure(&parse_change(change)?).is_some());
    }
    let parsed = parse_change(change)?;
    if !holds_marker(parsed.raw_bytes()) {
        return Ok(false);
    }
    Ok(root_fields_if_erasure(&parsed).is_some())
}

/// The root fields a worker change writes if it is an erasure (it sets the marker
/// `erased`), in the order it writes them; `None` for any other change. Read from the change's
/// own operations, so without the changes it depends on (a node that received the record
/// after its erasure holds no other body). A list the change makes is read as empty (an
/// erasure writes empty lists).
pub fn erasure_fields(change: &[u8]) -> Result<Option<Vec<(String, record::FieldValue)>>> {
    Ok(root_fields_if_erasure(&parse_change(change)?))
}

fn parse_change(change: &[u8]) -> Result<automerge::Change> {
    automerge::Change::from_bytes(change.to_vec()).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })
}

/// [`erasure_fields`] of a parsed change.
fn root_fields_if_erasure(parsed: &automerge::Change) -> Option<Vec<(String, record::FieldValue)>> {
    use automerge::legacy::{Key, ObjectId, OpType};
    use automerge::{ObjType, ScalarValue};
    use record::FieldValue;
    let mut fields = Vec::new();
    let mut marks = false;
    for op in parsed.decode().operations {
        let (ObjectId::Root, Key::Map(key)) = (&op.obj, &op.key) else {
            continue;
        };
        let value = match &op.action {
            OpType::Put(ScalarValue::Str(s)) => FieldValue::Text(s.to_string()),
            OpType::Put(ScalarValue::F64(f)) => FieldValue::Number(*f),
            OpType::Put(ScalarValue::Int(i)) => FieldValue::Int(*i),
            OpType::Make(ObjType::List) => FieldValue::List(Vec::new()),
            _ => continue,
        };
        marks |= key.as_str() == crate::schema::worker::ERASED;
        fields.push((key.to_string(), value));
    }
    marks.then_some(fields)
}

/// The erasure of a worker record in `state` (whose `changes` already name `env`, with id
/// `id`): every other change whose body is held here and is not an erasure is put back as its
/// header only (the header still verifies and keeps the author's log whole), and the record's
/// document and view are rebuilt from the erasures alone (in timestamp order), with the
/// record's `region` and `created_at` from its state. The returned ops drop the bodies.
fn erase_history<S: Store + ?Sized>(
    staged: &Staged<'_, S>,
    state: &mut RecordState,
    env: &Envelope,
    id: EnvelopeId,
) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    let mut erasures = Vec::new();
    for cid in &state.changes {
        let held = if *cid == id {
            Some(env.clone())
        } else {
            staged.envelope(cid).map_err(store_err)?
        };
        let Some(held) = held else { continue };
        let Some(payload) = held.payload.as_deref() else {
            continue;
        };
        match erasure_fields(payload)? {
            Some(fields) => erasures.push((held.header.timestamp_ms, *cid, held.header, fields)),
            None => {
                let header = held.header_only();
                ops.push(Op::PutEnvelope(
                    Box::new(header.clone()),
                    meta_of(&header, *cid),
                ));
            }
        }
    }
    erasures.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let Some((at_ms, _, last, _)) = erasures.last().cloned() else {
        return Ok(ops);
    };
    let mut edits: Vec<(String, record::FieldValue)> = vec![
        (
            "region".into(),
            record::FieldValue::Text(state.region.to_string()),
        ),
        (
            "created_at".into(),
            record::FieldValue::Text(crate::dates::rfc3339(state.created_ms)),
        ),
    ];
    for (_, _, _, fields) in erasures {
        for (k, v) in fields {
            edits.retain(|(held, _)| *held != k);
            edits.push((k, v));
        }
    }
    let borrowed: Vec<(&str, record::FieldValue)> =
        edits.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (_, saved) = record::make_change_saved(None, &last.author, &borrowed, at_ms)?;
    state.view = record::document_view(&saved)?;
    state.doc = Some(saved);
    state.waiting = false;
    Ok(ops)
}

/// How many predecessors [`succeeds`] follows back: a station replaced sixteen times over is
/// not a case to plan for, and the bound keeps a cycle of forged links finite.
pub const MAX_SUCCESSION: usize = 16;

/// The predecessor an author's certificates name (the current one first, then earlier ones:
/// a successor's renewed certificate need not repeat it).
pub fn predecessor_of(author: &AuthorInfo) -> Option<PublicKey> {
    std::iter::once(&author.chain)
        .chain(&author.earlier)
        .find_map(|c| c.leaf().predecessor)
}

/// True when `author` is the certified successor of `creator` in `region`: the author serves
/// `region`, and following the predecessors its certificates name (each a held author of the
/// same region) reaches `creator` within [`MAX_SUCCESSION`] links. Such an author may edit
/// what `creator` could: one region, one current station, whose history is its predecessors'.
pub fn succeeds<S: Store + ?Sized>(
    store: &S,
    author: &AuthorInfo,
    creator: &PublicKey,
    region: &crate::region::RegionCode,
) -> Result<bool> {
    succeeds_with(&|k: &PublicKey| store.author(k), author, creator, region)
}

/// [`succeeds`] over any way of looking authors up (a [`Staged`] view in the accept path).
pub fn succeeds_with(
    lookup: &dyn Fn(
        &PublicKey,
    ) -> std::result::Result<Option<AuthorInfo>, crate::store::StoreError>,
    author: &AuthorInfo,
    creator: &PublicKey,
    region: &crate::region::RegionCode,
) -> Result<bool> {
    if author.region() != *region {
        return Ok(false);
    }
    let mut next = predecessor_of(author);
    for _ in 0..MAX_SUCCESSION {
        let Some(key) = next else {
            return Ok(false);
        };
        let Some(held) = lookup(&key).map_err(store_err)? else {
            return Ok(false);
        };
        if held.region() != *region {
            return Ok(false);
        }
        if key == *creator {
            return Ok(true);
        }
        next = predecessor_of(&held);
    }
    Ok(false)
}

/// Step 5 of the accept rules: the envelope must fit the author's held log. A fork (two
/// envelopes the author signed for one sequence number) is proved by two headers: the held one
/// and the new one under the same number, or a held neighbour whose `prev` link names another
/// envelope than the new one (or the new one's `prev` another than the held predecessor). The
/// proof is staged as evidence and the envelope is rejected; once a store holds evidence
/// against an author, it takes none of the author's envelopes from the fork point on, whichever
/// branch they belong to, while everything before the fork point stays valid.
fn check_log<S: Store + ?Sized>(
    staged: &mut Staged<'_, S>,
    env: &Envelope,
    id: EnvelopeId,
) -> Result<()> {
    let h = &env.header;
    let fork = |seq: u64| Error::Fork {
        author: h.author.node_id(),
        seq,
    };
    if let Some(point) = staged.fork_point(&h.author).map_err(store_err)?
        && h.seq >= point
    {
        return Err(fork(point));
    }
    let header_of = |staged: &Staged<'_, S>, other: &EnvelopeId| -> Result<Vec<u8>> {
        Ok(staged
            .envelope(other)
            .map_err(store_err)?
            .map(|e| e.header_only().to_bytes())
            .unwrap_or_default())
    };
    let mut proof: Option<(u64, Vec<Vec<u8>>, String)> = None;
    if let Some(other) = staged.envelope_at(&h.author, h.seq).map_err(store_err)?
        && other != id
    {
        proof = Some((
            h.seq,
            vec![header_of(staged, &other)?, env.header_only().to_bytes()],
            format!("two envelopes signed with sequence number {}", h.seq),
        ));
    } else if h.seq > 1
        && let Some(before) = staged
            .envelope_at(&h.author, h.seq - 1)
            .map_err(store_err)?
        && before != h.prev
    {
        proof = Some((
            h.seq - 1,
            vec![header_of(staged, &before)?, env.header_only().to_bytes()],
            format!(
                "the envelope with sequence number {} links to another envelope {} than the one held",
                h.seq,
                h.seq - 1
            ),
        ));
    } else if let Some(seq_after) = h.seq.checked_add(1)
        && let Some(after) = staged
            .envelope_at(&h.author, seq_after)
            .map_err(store_err)?
        && let Some(next) = staged.envelope(&after).map_err(store_err)?
        && next.header.prev != id
    {
        proof = Some((
            h.seq,
            vec![env.header_only().to_bytes(), next.header_only().to_bytes()],
            format!(
                "the held envelope with sequence number {} links to another envelope {}",
                h.seq + 1,
                h.seq
            ),
        ));
    }
    match proof {
        None => Ok(()),
        Some((seq, envelopes, detail)) => {
            staged.put(Op::PutEvidence(Evidence {
                kind: "fork".into(),
                author: h.author,
                seq,
                envelopes,
                detail,
            }));
            Err(fork(seq))
        }
    }
}

/// Step 5's time rule: a change is not dated more than [`MAX_BACKDATE_MS`] before its
/// predecessor in the author's log, checked against whichever neighbour is held (`prev`, or the
/// held envelope `seq + 1` that links to this one), so the order envelopes arrive in does not
/// matter: no store ever holds two neighbours of a log that break the rule.
fn check_not_back_dated<S: Store + ?Sized>(staged: &Staged<'_, S>, env: &Envelope) -> Result<()> {
    let h = &env.header;
    let too_early = |later: i64, earlier: i64| later.saturating_add(MAX_BACKDATE_MS) < earlier;
    if h.seq > 1
        && let Some(prev_ms) = staged.timestamp_of(&h.prev).map_err(store_err)?
        && too_early(h.timestamp_ms, prev_ms)
    {
        return Err(Error::BackDated {
            seq: h.seq,
            at_ms: h.timestamp_ms,
            prev_ms,
        });
    }
    if let Some(seq_after) = h.seq.checked_add(1)
        && let Some(after) = staged
            .envelope_at(&h.author, seq_after)
            .map_err(store_err)?
        && let Some(next_ms) = staged.timestamp_of(&after).map_err(store_err)?
        && too_early(next_ms, h.timestamp_ms)
    {
        return Err(Error::BackDated {
            seq: seq_after,
            at_ms: next_ms,
            prev_ms: h.timestamp_ms,
        });
    }
    Ok(())
}

/// Verifies a certificate chain to the configured root at `at_ms`, with certificate signatures
/// looked up in (and added to) the signature cache.
fn verify_chain(
    chain: &CertChain,
    cfg: &AcceptConfig,
    at_ms: i64,
    is_revoked: &dyn Fn(&PublicKey) -> bool,
    cache: &mut dyn SignatureCache,
) -> Result<()> {
    chain.verify_with(&cfg.root, at_ms.div_euclid(1000), is_revoked, &mut |cert| {
        let hash = cert.hash();
        if cache.certificate_verified(&hash) {
            return true;
        }
        let ok = cert.signature_valid();
        if ok {
            cache.record_certificate(hash);
        }
        ok
    })
}

/// Applies a document change to the record's state (when the payload is held).
fn apply_to_record<S: Store + ?Sized>(
    staged: &Staged<'_, S>,
    cfg: &AcceptConfig,
    env: &Envelope,
    id: EnvelopeId,
    mut state: RecordState,
    filling: bool,
) -> Result<Op> {
    let h = &env.header;
    if !filling {
        state.changes.push(id);
        state.updated_ms = state.updated_ms.max(h.timestamp_ms);
        state.created_ms = state.created_ms.min(h.timestamp_ms);
    }
    if let (true, Some(change)) = (cfg.materialize, env.payload.as_deref()) {
        record::check_change_origin(change, &h.author, h.timestamp_ms)?;
        let applied = if state.waiting || filling {
            let mut all = Vec::with_capacity(state.changes.len());
            for cid in &state.changes {
                let payload = if *cid == id {
                    Some(change.to_vec())
                } else {
                    staged
                        .envelope(cid)
                        .map_err(store_err)?
                        .and_then(|e| e.payload)
                };
                all.extend(payload);
            }
            record::build_document_viewed(&all)?
        } else {
            record::apply_change_viewed(state.doc.as_deref(), change)?
        };
        state.view = applied.view;
        state.doc = Some(applied.saved);
        state.waiting = applied.waiting;
    }
    Ok(Op::PutRecord(h.record, Box::new(state)))
}

/// The state of the record `env` creates (`id` its id): its only change so far.
pub fn new_state(env: &Envelope, id: EnvelopeId) -> RecordState {
    let h = &env.header;
    RecordState {
        kind: h.kind,
        creator: h.record.creator,
        serial: h.record.serial,
        region: h.region,
        reach: h.reach,
        created_ms: h.timestamp_ms,
        updated_ms: h.timestamp_ms,
        changes: vec![id],
        doc: None,
        waiting: false,
        view: Default::default(),
    }
}

/// The replication metadata of an envelope.
pub fn meta_of(env: &Envelope, id: EnvelopeId) -> ItemMeta {
    ItemMeta {
        id,
        timestamp_ms: env.header.timestamp_ms,
        kind: env.header.kind,
        region: env.header.region,
        reach: env.header.reach,
        has_payload: env.payload.is_some(),
    }
}

fn store_err(e: crate::store::StoreError) -> Error {
    Error::BadChange {
        detail: e.to_string(),
    }
}

/// Accepts a batch of envelopes against one staged view and returns, per envelope, what
/// happened. Retryable failures (an author whose certificate has not arrived) are retried once
/// after the rest of the batch, since the batch may carry the missing certificate later on.
pub fn accept_all<S: Store + ?Sized>(
    staged: &mut Staged<'_, S>,
    cfg: &AcceptConfig,
    envelopes: &[Envelope],
    now_ms: i64,
) -> Vec<Result<Accepted>> {
    accept_all_cached(staged, cfg, envelopes, now_ms, &mut NoCache)
}

/// [`accept_all`] with a [`SignatureCache`].
pub fn accept_all_cached<S: Store + ?Sized>(
    staged: &mut Staged<'_, S>,
    cfg: &AcceptConfig,
    envelopes: &[Envelope],
    now_ms: i64,
    cache: &mut dyn SignatureCache,
) -> Vec<Result<Accepted>> {
    let mut results: Vec<Result<Accepted>> = envelopes
        .iter()
        .map(|e| accept_cached(staged, cfg, e, now_ms, cache))
        .collect();
    loop {
        let mut progressed = false;
        for (i, env) in envelopes.iter().enumerate() {
            if matches!(&results[i], Err(e) if e.is_retryable() || matches!(e, Error::UnknownRecord { .. }))
            {
                let again = accept_cached(staged, cfg, env, now_ms, cache);
                if again.is_ok() {
                    progressed = true;
                }
                results[i] = again;
            }
        }
        if !progressed {
            return results;
        }
    }
}

/// The id of the record an author's next envelope creates.
pub fn next_record_id(author: &AuthorInfo) -> RecordId {
    RecordId {
        creator: author.key,
        serial: author.max_seq + 1,
    }
}

#[cfg(test)]
mod successor_tests {
    use super::*;
    use crate::author::{LocalAuthor, Target};
    use crate::cert::{self, CertRequest};
    use crate::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
    use crate::keys::NodeKey;
    use crate::record::FieldValue;
    use crate::region::RegionCode;
    use crate::store::MemoryStore;

    const NOW_MS: i64 = (FIXTURE_NOT_BEFORE_S + 30 * 86_400) * 1000;

    /// Publishes `chain` as `key`'s certificate record, then has `key` write `target`.
    fn write(
        store: &mut MemoryStore,
        cfg: AcceptConfig,
        key: &NodeKey,
        chain: Option<&CertChain>,
        target: Target,
        at_ms: i64,
    ) -> Result<Envelope> {
        let author = LocalAuthor { key, cfg };
        let mut staged = Staged::new(&*store);
        if let Some(chain) = chain {
            author.publish_certificate(&mut staged, chain, at_ms)?;
        }
        let env = author.write(
            &mut staged,
            target,
            &[("address", FieldValue::Text(format!("at {at_ms}")))],
            at_ms + 1,
        )?;
        let batch = staged.into_batch();
        store.commit(batch).expect("memory commit");
        Ok(env)
    }

    #[test]
    fn only_the_certified_successor_of_a_records_creator_edits_it_as_the_creator() {
        let mut h = Hierarchy::new(7);
        let cfg = h.accept_config();
        let village = RegionCode::parse("522622101001").unwrap();
        let town = RegionCode::parse("522622101").unwrap();
        let (old_key, old_chain) = h.node(&village);
        let (town_key, town_chain) = h.node(&town);
        let mut store = MemoryStore::default();
        let created = write(
            &mut store,
            cfg,
            &old_key,
            Some(&old_chain),
            Target::Create {
                kind: RecordKind::Directory,
                reach: None,
            },
            NOW_MS,
        )
        .expect("the old station writes its entry");
        let record = created.header.record;
        let at = NOW_MS / 1000;

        // Another key for the same region, certified without naming the old one: refused.
        let stray = NodeKey::from_seed([41; 32]);
        let req = CertRequest::new(&stray, village, "另一台设备").unwrap();
        let stray_chain = cert::issue(&town_key, Some(&town_chain), &req, at, 30).unwrap();
        let e = write(
            &mut store,
            cfg,
            &stray,
            Some(&stray_chain),
            Target::Edit(record),
            NOW_MS + 10_000,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");

        // The certified successor, and its own successor in turn: accepted.
        let new = NodeKey::from_seed([42; 32]);
        let req = CertRequest::new(&new, village, "新设备").unwrap();
        let new_chain =
            cert::issue_successor(&town_key, &town_chain, &req, old_chain.leaf(), at, 30).unwrap();
        write(
            &mut store,
            cfg,
            &new,
            Some(&new_chain),
            Target::Edit(record),
            NOW_MS + 20_000,
        )
        .expect("the successor edits the old station's record");
        let newer = NodeKey::from_seed([43; 32]);
        let req = CertRequest::new(&newer, village, "再换的设备").unwrap();
        let newer_chain =
            cert::issue_successor(&town_key, &town_chain, &req, new_chain.leaf(), at, 30).unwrap();
        write(
            &mut store,
            cfg,
            &newer,
            Some(&newer_chain),
            Target::Edit(record),
            NOW_MS + 30_000,
        )
        .expect("a successor's successor follows the line back");
        let info = store.author(&newer.public()).unwrap().unwrap();
        assert!(succeeds(&store, &info, &old_key.public(), &village).unwrap());
        assert!(!succeeds(&store, &info, &stray.public(), &village).unwrap());
        assert!(!succeeds(&store, &info, &old_key.public(), &town).unwrap());
    }
}

#[cfg(test)]
mod erasure_tests {
    use super::*;
    use crate::author::Target;
    use crate::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
    use crate::record::FieldValue;
    use crate::region::RegionCode;
    use crate::schema::{Schema, Worker};
    use crate::scope::Scope;
    use crate::store::MemoryStore;
    use crate::sync::SharedSet;

    const T0: i64 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;
    const NAME: &str = "杨秀英";
    const STALE_NAME: &str = "杨秀英乡镇改";
    const PHONE: &str = "13812345678";

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    /// `region`'s station writes `edits` into `store` (committed); returns the envelope.
    fn write(
        h: &mut Hierarchy,
        store: &mut MemoryStore,
        region: &str,
        target: Target,
        edits: &[(&str, FieldValue)],
        at: i64,
    ) -> Envelope {
        h.write(store, &code(region), target, edits, at)
    }

    fn take(h: &mut Hierarchy, store: &mut MemoryStore, env: &Envelope) -> Accepted {
        let cfg = h.accept_config();
        let mut staged = Staged::new(&*store);
        let done = accept(&mut staged, &cfg, env, T0 + 10_000).unwrap();
        let batch = staged.into_batch();
        store.commit(batch).unwrap();
        done
    }

    /// Nothing personal is held of the worker in `store`: no envelope's bytes nor the saved
    /// document hold the names or the phone, and it reads erased.
    fn holds_nothing_personal(store: &MemoryStore, record: &RecordId, erasure: &EnvelopeId) {
        let state = store.record(record).unwrap().unwrap();
        for id in &state.changes {
            let env = store.envelope(id).unwrap().unwrap();
            assert_eq!(
                env.payload.is_some(),
                id == erasure,
                "only the erasure's body"
            );
            assert_eq!(store.has_envelope(id).unwrap(), Some(id == erasure));
        }
        let mut bytes: Vec<u8> = state.doc.clone().expect("a document");
        for env in store.envelopes.values() {
            bytes.extend(env.to_bytes());
        }
        for personal in [NAME, STALE_NAME, PHONE] {
            let needle = personal.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{personal}"
            );
        }
        let worker = Worker::from_view(&state.view).unwrap();
        assert_eq!(worker.name, "");
        assert_eq!(worker.region, code("522622101001"));
        assert!(state.view.contains_key("erased"), "{:?}", state.view);
        assert_eq!(state.view["erase_reason"], "本人申请");
    }

    #[test]
    fn the_erasure_check_answers_as_reading_every_operation_does() {
        use crate::keys::NodeKey;
        let actor = NodeKey::from_seed([9; 32]).public();
        let registration = record::make_change_saved(
            None,
            &actor,
            &[
                ("name", FieldValue::Text(NAME.into())),
                ("phone", FieldValue::Text(PHONE.into())),
                ("skills", FieldValue::List(vec!["4-10-01-06".into()])),
                (
                    "id_hash",
                    FieldValue::Text(format!("v2:{}", "ab".repeat(32))),
                ),
                ("wage_min", FieldValue::Number(120.0)),
                ("available_from", FieldValue::Text("2026-01-05".into())),
                ("available_to", FieldValue::Text("2026-12-31".into())),
                ("region", FieldValue::Text("522622101001".into())),
                ("created_at", FieldValue::Text(crate::dates::rfc3339(T0))),
            ],
            T0,
        )
        .unwrap();
        let saved = Some(registration.1.as_slice());
        let edit = |edits: &[(&str, FieldValue)], at: i64| {
            record::make_change(saved, &actor, edits, at).unwrap()
        };
        let view = record::document_view(&registration.1).unwrap();
        // A long reason, so that the erasure has a compressed form too.
        let reason = "本人申请删除".repeat(20);
        let erasure = edit(
            &crate::schema::worker::erasure_edits(&view, "2026-12-07T10:00:00+08:00", &reason),
            T0 + 2000,
        );
        // The marker alone (a short erasure) and an edit whose value holds the marker's bytes
        // (searched, then read: not an erasure).
        let marker_only = edit(
            &[("erased", FieldValue::Text("2026-12-07".into()))],
            T0 + 3000,
        );
        let holds_bytes = edit(&[("name", FieldValue::Text("erased".into()))], T0 + 4000);
        let phone = edit(
            &[("phone", FieldValue::Text("13900000000".into()))],
            T0 + 5000,
        );
        // The compressed form automerge also reads (it compresses a change over 256 bytes).
        let compressed = |raw: &[u8]| {
            let mut c = automerge::Change::from_bytes(raw.to_vec()).unwrap();
            let bytes = c.bytes().into_owned();
            assert_ne!(bytes, raw, "compressed");
            bytes
        };
        let cases = [
            (registration.0.clone(), false),
            (compressed(&registration.0), false),
            (erasure.clone(), true),
            (compressed(&erasure), true),
            (marker_only, true),
            (holds_bytes, false),
            (phone, false),
        ];
        for (i, (change, expected)) in cases.iter().enumerate() {
            assert_eq!(is_erasure(change).unwrap(), *expected, "case {i}");
            assert_eq!(
                erasure_fields(change).unwrap().is_some(),
                *expected,
                "case {i}"
            );
        }
        // Bytes automerge does not read: refused by the full read; the check may answer
        // `false` for them (the apply step refuses them), never `true`.
        let mut garbage = registration.0.clone();
        garbage.truncate(garbage.len() / 2);
        assert!(erasure_fields(&garbage).is_err());
        assert!(!is_erasure(&garbage).unwrap_or(false));
        assert!(is_erasure(b"").is_err());
    }

    #[test]
    fn an_erasure_drops_the_bodies_of_the_records_other_changes_in_either_order_and_keeps_them_out()
    {
        let mut h = Hierarchy::new(11);
        let mut village = MemoryStore::new();
        for r in ["52", "5226", "522622", "522622101", "522622101001"] {
            h.publish(&mut village, &code(r), T0);
        }
        let registered = write(
            &mut h,
            &mut village,
            "522622101001",
            Target::Create {
                kind: RecordKind::Worker,
                reach: None,
            },
            &[
                ("name", FieldValue::Text(NAME.into())),
                ("phone", FieldValue::Text(PHONE.into())),
                ("skills", FieldValue::List(vec!["4-10-01-06".into()])),
                ("region", FieldValue::Text("522622101001".into())),
                (
                    "created_at",
                    FieldValue::Text(crate::dates::rfc3339(T0 + 1000)),
                ),
            ],
            T0 + 1000,
        );
        let record = registered.header.record;
        // The township holds the record in full and edits it, not knowing of the erasure.
        let before_erasure = village.clone();
        let mut township = village.clone();
        let stale = write(
            &mut h,
            &mut township,
            "522622101",
            Target::Edit(record),
            &[("name", FieldValue::Text(STALE_NAME.into()))],
            T0 + 2000,
        );
        let view = village.record(&record).unwrap().unwrap().view;
        let edits =
            crate::schema::worker::erasure_edits(&view, "2026-12-07T10:00:00+08:00", "本人申请");
        let erasure = write(
            &mut h,
            &mut village,
            "522622101001",
            Target::Edit(record),
            &edits,
            T0 + 3000,
        );
        let eid = erasure.id();
        holds_nothing_personal(&village, &record, &eid);

        // The erasure reaches the township after its edit, the edit the village after it.
        assert_eq!(take(&mut h, &mut township, &erasure), Accepted::New);
        assert_eq!(take(&mut h, &mut village, &stale), Accepted::New);
        holds_nothing_personal(&village, &record, &eid);
        holds_nothing_personal(&township, &record, &eid);

        // A body arriving again (a stale peer, an old bundle) is not stored.
        for env in [&registered, &stale] {
            assert_eq!(take(&mut h, &mut village, env), Accepted::Duplicate);
        }
        holds_nothing_personal(&village, &record, &eid);

        // Both list the same set for each other (nothing to move); a township that has not
        // seen the erasure lists another (the erasure goes to it, and then it drops too).
        let (v, t) = (
            Scope::new(code("522622101001")),
            Scope::new(code("522622101")),
        );
        let listed = |me: &Scope, peer: &Scope, s: &MemoryStore| {
            SharedSet::build(me, peer, &s.items().unwrap()).fingerprint()
        };
        assert_eq!(listed(&v, &t, &village), listed(&t, &v, &township));
        assert_ne!(listed(&v, &t, &village), listed(&t, &v, &before_erasure));

        // A node that receives the record only as the erased ones hold it (headers, the
        // erasure whole: after a repair, a restore, or as a new station) reads it erased.
        let mut fresh = MemoryStore::new();
        for r in ["52", "5226", "522622", "522622101", "522622101001"] {
            h.publish(&mut fresh, &code(r), T0);
        }
        let state = village.record(&record).unwrap().unwrap();
        let mut held: Vec<Envelope> = state
            .changes
            .iter()
            .map(|id| village.envelope(id).unwrap().unwrap())
            .collect();
        held.sort_by_key(|e| (e.header.author, e.header.seq));
        held.sort_by_key(|e| !e.header.is_genesis());
        for env in &held {
            assert_eq!(take(&mut h, &mut fresh, env), Accepted::New);
        }
        holds_nothing_personal(&fresh, &record, &eid);
        assert_eq!(
            fresh.record(&record).unwrap().unwrap().view,
            village.record(&record).unwrap().unwrap().view
        );
    }
}
