//! The storage boundary: what the accept path reads and the single batch it writes.
//!
//! The node implements [`Store`] over sled; [`MemoryStore`] is the same contract in memory for
//! tests and small simulations. [`Staged`] layers a batch of pending writes over any store, so a
//! whole batch of envelopes is verified, authorized and applied against the state it will
//! produce, and then written with one atomic [`Store::commit`].
//!
//! Architecture invariant: a store changes only through `commit` of a [`Batch`] produced by
//! [`crate::accept`] (or the private-table and config helpers of the node, which never touch
//! replicated state).

use crate::canon::Hash32;
use crate::cert::CertChain;
use crate::envelope::{Envelope, EnvelopeId};
use crate::keys::PublicKey;
use crate::record::{RecordId, RecordKind};
use crate::region::RegionCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A store's own failure (disk full, corruption): never the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store failure: {0}")]
pub struct StoreError(pub String);

/// What replication needs to know of each envelope without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMeta {
    pub id: EnvelopeId,
    pub timestamp_ms: i64,
    pub kind: RecordKind,
    pub region: RegionCode,
    pub reach: RegionCode,
    pub has_payload: bool,
}

/// A certified author as this node knows it (from the author's certificate record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorInfo {
    pub key: PublicKey,
    pub chain: CertChain,
    /// Highest sequence number seen from this author.
    pub max_seq: u64,
    pub envelopes: u64,
    /// Chains the author held before `chain` (renewed certificates): envelopes signed under
    /// them still verify against their own validity window.
    pub earlier: Vec<CertChain>,
}

impl AuthorInfo {
    /// The chain whose leaf certificate hashes to `cert`, current or earlier.
    pub fn chain_named(&self, cert: &crate::canon::Hash32) -> Option<&CertChain> {
        std::iter::once(&self.chain)
            .chain(&self.earlier)
            .find(|c| c.leaf_hash() == *cert)
    }

    /// The author after a certificate record for `chain` was accepted: a renewal (a leaf valid
    /// until later) becomes current, an older one is kept among the earlier chains.
    pub fn with_certificate(mut self, chain: CertChain) -> AuthorInfo {
        if self.chain_named(&chain.leaf_hash()).is_some() {
            return self;
        }
        if chain.leaf().body.not_after > self.chain.leaf().body.not_after {
            let previous = std::mem::replace(&mut self.chain, chain);
            self.earlier.push(previous);
        } else {
            self.earlier.push(chain);
        }
        self
    }

    pub fn region(&self) -> RegionCode {
        self.chain.leaf().body.region
    }
    pub fn name(&self) -> &str {
        &self.chain.leaf().name
    }
}

/// A revocation in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationInfo {
    pub revoked: PublicKey,
    pub by: PublicKey,
    pub at_ms: i64,
    pub reason: String,
}

/// A record's current state: its identity, its changes, its document and its listing view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub kind: RecordKind,
    pub creator: PublicKey,
    pub serial: u64,
    pub region: RegionCode,
    pub reach: RegionCode,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Ids of the record's envelopes in the order they were accepted.
    pub changes: Vec<EnvelopeId>,
    /// The saved Automerge document (`None` when only headers are held, or in log-only mode).
    pub doc: Option<Vec<u8>>,
    /// True while the document waits for a change it depends on.
    pub waiting: bool,
    /// The document's root fields as JSON: what listings and indexes read. Serialized as JSON
    /// text so compact non-self-describing formats (postcard) can store it.
    #[serde(with = "json_text")]
    pub view: serde_json::Map<String, serde_json::Value>,
}

/// Serializes a JSON map as its JSON text.
mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        map: &serde_json::Map<String, serde_json::Value>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(map).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

impl RecordState {
    pub fn id(&self) -> RecordId {
        RecordId {
            creator: self.creator,
            serial: self.serial,
        }
    }
}

/// Evidence of misbehaviour kept for the audit: a fork, two different envelopes its author
/// signed for sequence number `seq` (proved by both headers, or by one header and the header of
/// the next envelope, whose `prev` names another envelope at `seq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: String,
    pub author: PublicKey,
    pub seq: u64,
    pub envelopes: Vec<Vec<u8>>,
    pub detail: String,
}

/// One write of a batch.
#[derive(Clone, Debug)]
pub enum Op {
    PutEnvelope(Box<Envelope>, ItemMeta),
    PutRecord(RecordId, Box<RecordState>),
    PutAuthor(Box<AuthorInfo>),
    PutRevocation(RevocationInfo),
    PutEvidence(Evidence),
}

/// Writes applied together or not at all.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What the accept path needs of a store.
pub trait Store {
    fn envelope(&self, id: &EnvelopeId) -> Result<Option<Envelope>, StoreError>;
    fn has_envelope(&self, id: &EnvelopeId) -> Result<Option<bool>, StoreError> {
        Ok(self.envelope(id)?.map(|e| e.payload.is_some()))
    }
    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Result<Option<EnvelopeId>, StoreError>;
    /// The timestamp of a held envelope (with or without its payload). A store that keeps
    /// the replication metadata apart answers without decoding the envelope.
    fn timestamp_of(&self, id: &EnvelopeId) -> Result<Option<i64>, StoreError> {
        Ok(self.envelope(id)?.map(|e| e.header.timestamp_ms))
    }
    fn record(&self, id: &RecordId) -> Result<Option<RecordState>, StoreError>;
    fn author(&self, key: &PublicKey) -> Result<Option<AuthorInfo>, StoreError>;
    fn revocation(&self, key: &PublicKey) -> Result<Option<RevocationInfo>, StoreError>;
    /// The lowest sequence number at which this store holds evidence that `author` signed two
    /// different envelopes (its fork point), if any. From that number on, the accept path
    /// takes no new envelope of the author (PROTOCOL.md §10).
    fn fork_point(&self, author: &PublicKey) -> Result<Option<u64>, StoreError>;
    /// Every envelope's replication metadata.
    fn items(&self) -> Result<Vec<ItemMeta>, StoreError>;
    /// Applies the batch atomically and durably: after it returns, a crash loses none of it;
    /// if it fails or the process dies during it, none of it is visible.
    fn commit(&mut self, batch: Batch) -> Result<(), StoreError>;
}

/// An in-memory [`Store`] (tests, benches, simulations).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    pub envelopes: BTreeMap<EnvelopeId, Envelope>,
    pub metas: BTreeMap<EnvelopeId, ItemMeta>,
    pub logs: BTreeMap<(PublicKey, u64), EnvelopeId>,
    pub records: BTreeMap<RecordId, RecordState>,
    pub authors: BTreeMap<PublicKey, AuthorInfo>,
    pub revocations: BTreeMap<PublicKey, RevocationInfo>,
    pub evidence: Vec<Evidence>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
    fn apply(&mut self, op: Op) {
        match op {
            Op::PutEnvelope(env, meta) => {
                self.logs
                    .insert((env.header.author, env.header.seq), meta.id);
                self.metas.insert(meta.id, meta);
                self.envelopes.insert(meta.id, *env);
            }
            Op::PutRecord(id, state) => {
                self.records.insert(id, *state);
            }
            Op::PutAuthor(info) => {
                self.authors.insert(info.key, *info);
            }
            Op::PutRevocation(r) => {
                self.revocations.insert(r.revoked, r);
            }
            Op::PutEvidence(e) => self.evidence.push(e),
        }
    }
}

impl Store for MemoryStore {
    fn envelope(&self, id: &EnvelopeId) -> Result<Option<Envelope>, StoreError> {
        Ok(self.envelopes.get(id).cloned())
    }
    fn has_envelope(&self, id: &EnvelopeId) -> Result<Option<bool>, StoreError> {
        Ok(self.metas.get(id).map(|m| m.has_payload))
    }
    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Result<Option<EnvelopeId>, StoreError> {
        Ok(self.logs.get(&(*author, seq)).copied())
    }
    fn timestamp_of(&self, id: &EnvelopeId) -> Result<Option<i64>, StoreError> {
        Ok(self.metas.get(id).map(|m| m.timestamp_ms))
    }
    fn record(&self, id: &RecordId) -> Result<Option<RecordState>, StoreError> {
        Ok(self.records.get(id).cloned())
    }
    fn author(&self, key: &PublicKey) -> Result<Option<AuthorInfo>, StoreError> {
        Ok(self.authors.get(key).cloned())
    }
    fn revocation(&self, key: &PublicKey) -> Result<Option<RevocationInfo>, StoreError> {
        Ok(self.revocations.get(key).cloned())
    }
    fn fork_point(&self, author: &PublicKey) -> Result<Option<u64>, StoreError> {
        Ok(self
            .evidence
            .iter()
            .filter(|e| e.author == *author)
            .map(|e| e.seq)
            .min())
    }
    fn items(&self) -> Result<Vec<ItemMeta>, StoreError> {
        Ok(self.metas.values().copied().collect())
    }
    fn commit(&mut self, batch: Batch) -> Result<(), StoreError> {
        for op in batch.ops {
            self.apply(op);
        }
        Ok(())
    }
}

/// Pending writes layered over a store: reads see the pending state first.
pub struct Staged<'a, S: Store + ?Sized> {
    pub base: &'a S,
    pending: MemoryStore,
}

impl<'a, S: Store + ?Sized> Staged<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Staged {
            base,
            pending: MemoryStore::new(),
        }
    }
    /// Stages one write; later reads through `self` see it.
    pub fn put(&mut self, op: Op) {
        self.pending.apply(op);
    }
    /// Stages several writes at once (all of one accepted envelope).
    pub fn put_all(&mut self, ops: Vec<Op>) {
        for op in ops {
            self.put(op);
        }
    }
    /// The writes to commit: the final state of every key written, once (a record edited ten
    /// times in the batch, or an author with ten new envelopes, is written once).
    pub fn into_batch(self) -> Batch {
        let MemoryStore {
            envelopes,
            metas,
            records,
            authors,
            revocations,
            evidence,
            ..
        } = self.pending;
        let mut ops = Vec::with_capacity(envelopes.len() + records.len() + authors.len());
        for (id, env) in envelopes {
            ops.push(Op::PutEnvelope(Box::new(env), metas[&id]));
        }
        ops.extend(
            records
                .into_iter()
                .map(|(id, r)| Op::PutRecord(id, Box::new(r))),
        );
        ops.extend(authors.into_values().map(|a| Op::PutAuthor(Box::new(a))));
        ops.extend(revocations.into_values().map(Op::PutRevocation));
        ops.extend(evidence.into_iter().map(Op::PutEvidence));
        Batch { ops }
    }
    pub fn envelope(&self, id: &EnvelopeId) -> Result<Option<Envelope>, StoreError> {
        match self.pending.envelopes.get(id) {
            Some(e) => Ok(Some(e.clone())),
            None => self.base.envelope(id),
        }
    }
    pub fn has_envelope(&self, id: &EnvelopeId) -> Result<Option<bool>, StoreError> {
        match self.pending.metas.get(id) {
            Some(m) => Ok(Some(m.has_payload)),
            None => self.base.has_envelope(id),
        }
    }
    pub fn envelope_at(
        &self,
        author: &PublicKey,
        seq: u64,
    ) -> Result<Option<EnvelopeId>, StoreError> {
        match self.pending.logs.get(&(*author, seq)) {
            Some(id) => Ok(Some(*id)),
            None => self.base.envelope_at(author, seq),
        }
    }
    pub fn timestamp_of(&self, id: &EnvelopeId) -> Result<Option<i64>, StoreError> {
        match self.pending.metas.get(id) {
            Some(m) => Ok(Some(m.timestamp_ms)),
            None => self.base.timestamp_of(id),
        }
    }
    pub fn record(&self, id: &RecordId) -> Result<Option<RecordState>, StoreError> {
        match self.pending.records.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.record(id),
        }
    }
    pub fn author(&self, key: &PublicKey) -> Result<Option<AuthorInfo>, StoreError> {
        match self.pending.authors.get(key) {
            Some(a) => Ok(Some(a.clone())),
            None => self.base.author(key),
        }
    }
    pub fn revocation(&self, key: &PublicKey) -> Result<Option<RevocationInfo>, StoreError> {
        match self.pending.revocations.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.revocation(key),
        }
    }
    /// The author's fork point, counting evidence staged in this batch.
    pub fn fork_point(&self, author: &PublicKey) -> Result<Option<u64>, StoreError> {
        let staged = self.pending.fork_point(author)?;
        let held = self.base.fork_point(author)?;
        Ok(match (staged, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

/// Hash of nothing: the `prev` of an author's first envelope.
pub const NO_PREV: Hash32 = [0; 32];
