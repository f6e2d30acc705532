//! Every envelope of a run kept once, and a [`Store`] per node that holds only indices into it.
//!
//! 19,572 nodes cannot each own copies of the envelopes they hold, nor an Automerge document
//! per record. The [`Arena`] keeps each envelope once (with its id, replication metadata, wire
//! sizes and the simulator's own bookkeeping: who created it, when, and whether it is a valid
//! change, a forgery, an equivocation or a write later lost in a crash). A node's store is a
//! sorted vector of arena indices with a payload bit ([`Holdings`]); [`SimStore`] joins the two
//! and implements the protocol's [`Store`] trait, so envelopes enter a node only through
//! [`lingong_protocol::accept`], the same accept path as the node's.
//!
//! Everything else the accept path reads (record states, known authors, revocations) is
//! derived on demand from the envelopes the node holds, so "a node's state is a function of the
//! changes it holds" holds by construction. The accept path's own record, author and revocation
//! writes ([`Op::PutRecord`], [`Op::PutAuthor`], [`Op::PutRevocation`]) are therefore not
//! stored; [`SimStore::commit`] checks instead that each staged record agrees with what the
//! held envelopes imply. With `AcceptConfig { materialize: false }` the accept path builds no
//! documents, so records carry no document and no view, nor the full list of their changes
//! (see [`derive_record`]). The derived [`AuthorInfo`] reports
//! `max_seq` and `envelopes` as 0: accept never decides on them, and the simulator signs with
//! [`lingong_protocol::envelope::Envelope::sign`] and tracks each author's log head itself.

use lingong_protocol::accept::{SignatureCache, VerifiedSet};
use lingong_protocol::canon::Hash32;
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::reconcile::{ItemKey, item_key};
use lingong_protocol::record::{RecordId, RecordKind, Revocation};
use lingong_protocol::store::{
    AuthorInfo, Batch, ItemMeta, Op, RecordState, RevocationInfo, Store, StoreError,
};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fixed, seedless hasher: ids and keys are SHA-256 outputs or public keys, uniform already,
/// so it folds the first 16 bytes of each write eight at a time (a multiply per word, not per
/// byte) and mixes at the end; being fixed keeps the run independent of per-process random
/// state.
#[derive(Default, Clone, Copy)]
pub struct FixedHasher(u64);

impl FixedHasher {
    fn fold(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        // MurmurHash3's 64-bit finalizer: every input bit reaches the high bits the hash
        // table's control bytes use.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(2) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.fold(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.fold(v as u64);
    }
}

/// A HashMap with the fixed hasher. Only ever looked up, never iterated where order matters.
pub type FixedMap<K, V> = HashMap<K, V, BuildHasherDefault<FixedHasher>>;

/// The envelope ids and certificate hashes whose signatures passed, over the fixed hasher,
/// shared by every node of the run (verification is a pure function of the bytes those ids
/// and hashes cover).
pub type Verified = VerifiedSet<BuildHasherDefault<FixedHasher>>;

/// The signature cache one accept works with: the run's shared [`Arena::verified`], read
/// only, over the signatures this thread verified since it was last merged (`local`). Two
/// threads may each verify the same new signature once; only speed depends on the cache.
pub struct CacheOverlay<'a> {
    pub shared: &'a Verified,
    pub local: &'a mut Verified,
}

impl SignatureCache for CacheOverlay<'_> {
    fn envelope_verified(&self, id: &EnvelopeId) -> bool {
        self.shared.envelope_verified(id) || self.local.envelope_verified(id)
    }
    fn record_envelope(&mut self, id: EnvelopeId) {
        self.local.record_envelope(id);
    }
    fn certificate_verified(&self, hash: &Hash32) -> bool {
        self.shared.certificate_verified(hash) || self.local.certificate_verified(hash)
    }
    fn record_certificate(&mut self, hash: Hash32) {
        self.local.record_certificate(hash);
    }
}

/// A change to the [`Arena`]: the simulator keeps two copies while the helper thread reads one
/// (see `Sim::change_arena`), and makes each change to both.
#[derive(Clone)]
pub enum ArenaChange {
    /// A new envelope (`Arena::intern`); `signed_here` records its signature as good (the
    /// verifier thread checks it).
    Intern {
        env: Box<Envelope>,
        id: EnvelopeId,
        label: Label,
        created_ms: i64,
        creator: u32,
        signed_here: bool,
    },
    /// What the simulator knows of an envelope changed (a write lost in a crash).
    Relabel { idx: u32, label: Label },
    /// Signatures a thread verified join the shared cache.
    Verified(Verified),
}

/// What the simulator knows an envelope to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// Written by a node through the honest path.
    Valid,
    /// Signed by a node after its revocation took effect (by the revoker's clock): accepted
    /// only where the revocation had not arrived yet.
    AfterRevocation,
    /// Crafted by a misbehaving node to be rejected; accepting it anywhere is a safety failure.
    Forged(ForgeryKind),
    /// A second envelope for a used sequence number (a fork), signed by a misbehaving node.
    Equivocation { original: u32 },
    /// A write lost in a crash before any other node held it.
    LostUnsynced,
}

/// The forgeries a misbehaving node tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ForgeryKind {
    /// A header altered after signing.
    TamperedHeader,
    /// Signed by the forger's key but claiming another author.
    Impersonation,
    /// A record claimed for a region outside the author's jurisdiction.
    OutOfJurisdiction,
    /// A post advertised beyond the author's home area.
    ReachTooWide,
    /// An edit of a record the author neither created nor oversees.
    UnauthorizedEdit,
    /// A certificate the forger issued for a region outside its own.
    ForgedCertificate,
    /// A revocation of a node the author does not oversee.
    ForgedRevocation,
    /// Signed by a key no one certified.
    UncertifiedKey,
}

impl ForgeryKind {
    pub const ALL: [ForgeryKind; 8] = [
        ForgeryKind::TamperedHeader,
        ForgeryKind::Impersonation,
        ForgeryKind::OutOfJurisdiction,
        ForgeryKind::ReachTooWide,
        ForgeryKind::UnauthorizedEdit,
        ForgeryKind::ForgedCertificate,
        ForgeryKind::ForgedRevocation,
        ForgeryKind::UncertifiedKey,
    ];
}

/// One envelope and the simulator's knowledge of it.
#[derive(Clone)]
pub struct Entry {
    pub env: Envelope,
    pub id: EnvelopeId,
    pub full_len: u32,
    pub header_len: u32,
    pub label: Label,
    /// Simulated (true) time of creation, ms since the run's epoch.
    pub created_ms: i64,
    /// Index of the node that created it (`u32::MAX` for none).
    pub creator_node: u32,
}

/// The counts the run keeps per envelope as it goes, index for index with
/// [`Arena::entries`]: kept by the simulator's main thread apart from the arena, because they
/// change at every accept while the arena is shared with the frame helper
/// ([`crate::helper`]) and changes only when an envelope is created.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Nodes holding it (any form).
    pub holders: u32,
    /// Expected holders whose want it satisfies.
    pub delivered: u32,
    /// Nodes whose scope wants it (computed at creation for valid changes, less revoked
    /// nodes).
    pub expected: u32,
}

/// All envelopes of a run.
#[derive(Default, Clone)]
pub struct Arena {
    pub entries: Vec<Entry>,
    /// Replication metadata and reconciliation key ([`item_key`], hashed once for every set
    /// it enters) of each entry, index for index: kept apart from the entries, dense, because
    /// building a shared set reads it for every envelope a node holds.
    items: Vec<(ItemMeta, ItemKey)>,
    index: FixedMap<EnvelopeId, u32>,
    /// (author, seq) → envelopes (two or more only for forks and lost writes).
    logs: ByKeyAndNumber,
    /// record (creator, serial) → its envelopes.
    records: ByKeyAndNumber,
    /// author → its certificate records (index, parsed chain).
    certs: FixedMap<PublicKey, Vec<(u32, CertChain)>>,
    /// revocation envelope → the key it revokes (for those whose payload parses).
    revokes: FixedMap<u32, PublicKey>,
    /// Signatures known good, shared by every node of the run: the simulator's own writes
    /// (checked on the verifier's thread) and what an accept verified, added when the arena
    /// is next changed (see [`CacheOverlay`]).
    pub verified: Verified,
}

impl Arena {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn find(&self, id: &EnvelopeId) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Makes `change`.
    pub fn apply(&mut self, change: ArenaChange) {
        match change {
            ArenaChange::Intern {
                env,
                id,
                label,
                created_ms,
                creator,
                signed_here,
            } => {
                self.intern(*env, id, label, created_ms, creator);
                if signed_here {
                    self.verified.record_envelope(id);
                }
            }
            ArenaChange::Relabel { idx, label } => self.entries[idx as usize].label = label,
            ArenaChange::Verified(mut set) => self.verified.absorb(&mut set),
        }
    }

    /// Adds an envelope the simulator created, whose id is `id` (or returns the index it
    /// already has).
    fn intern(
        &mut self,
        env: Envelope,
        id: EnvelopeId,
        label: Label,
        created_ms: i64,
        creator: u32,
    ) -> u32 {
        if let Some(i) = self.index.get(&id) {
            return *i;
        }
        let idx = self.entries.len() as u32;
        let h = env.header;
        let meta = lingong_protocol::accept::meta_of(&env, id);
        let full_len = env.to_bytes().len() as u32;
        let header_len = full_len - h.payload_len;
        self.logs.push(h.author, h.seq, idx);
        self.records.push(h.record.creator, h.record.serial, idx);
        match h.kind {
            RecordKind::Certificate => {
                if let Some(chain) = env
                    .payload
                    .as_deref()
                    .and_then(|p| CertChain::from_bytes(p).ok())
                {
                    self.certs.entry(h.author).or_default().push((idx, chain));
                }
            }
            RecordKind::Revocation => {
                if let Some(r) = env
                    .payload
                    .as_deref()
                    .and_then(|p| Revocation::from_bytes(p).ok())
                {
                    self.revokes.insert(idx, r.revoked);
                }
            }
            _ => {}
        }
        self.index.insert(id, idx);
        self.items.push((meta, item_key(&id)));
        self.entries.push(Entry {
            env,
            id,
            full_len,
            header_len,
            label,
            created_ms,
            creator_node: creator,
        });
        idx
    }

    /// Replication metadata and key of envelope `idx` as held with or without its payload.
    pub fn item(&self, idx: u32, has_payload: bool) -> (ItemMeta, ItemKey) {
        let (mut meta, key) = self.items[idx as usize];
        meta.has_payload = has_payload;
        (meta, key)
    }

    /// The envelopes `held` lists, in index order, each with whether its payload is held,
    /// for a pass that reads [`Arena::item`] of each: the items some way ahead are asked into
    /// the cache as the pass goes. A node's envelopes lie scattered over the arena, so a
    /// pass that waits for each item in turn (a shared set built from a node's holdings)
    /// spends most of its time on cache misses that can as well overlap.
    pub fn held_items<'a>(
        &'a self,
        held: &'a Holdings,
    ) -> impl ExactSizeIterator<Item = (u32, bool)> + 'a {
        let slots = &held.slots;
        slots.iter().enumerate().map(move |(at, &slot)| {
            if let Some(&ahead) = slots.get(at + PREFETCH_AHEAD) {
                self.prefetch_item(ahead >> 1);
            }
            (slot >> 1, slot & 1 == 1)
        })
    }

    /// Asks [`Arena::item`] of envelope `idx` into the cache (for a pass that knows which
    /// envelopes it reads next, [`PREFETCH_AHEAD`] of them ahead).
    pub fn prefetch_item(&self, idx: u32) {
        if let Some(item) = self.items.get(idx as usize) {
            prefetch(item);
        }
    }

    /// Asks what [`Arena::entries`] holds of envelope `idx` into the cache, as
    /// [`Arena::prefetch_item`] does for its item.
    pub fn prefetch_entry(&self, idx: u32) {
        if let Some(entry) = self.entries.get(idx as usize) {
            prefetch(entry);
        }
    }

    /// Replication metadata of envelope `idx` (as created, with its payload).
    pub fn meta(&self, idx: u32) -> &ItemMeta {
        &self.items[idx as usize].0
    }

    /// The envelopes at `(author, seq)`, in arena order.
    pub fn at(&self, author: &PublicKey, seq: u64) -> impl Iterator<Item = u32> + '_ {
        self.logs.get(author, seq)
    }

    /// The envelopes of `record`, in arena order.
    pub fn record_envelopes(&self, record: &RecordId) -> impl Iterator<Item = u32> + '_ {
        self.records.get(&record.creator, record.serial)
    }
}

/// Arena indices listed by a key and a number: by an author's key and sequence number, or by
/// a record's creator and serial. Nearly every pair has one envelope, and an author numbers
/// its envelopes 1, 2, 3…, so the first envelope of each pair sits in a dense vector per key:
/// a lookup reads a table of keys (one per node, small enough to stay in cache) and one slot,
/// where a map over every envelope of the run would miss the cache on each. The rest (forks,
/// lost writes, a record's edits, a number far past the key's others) are listed in a map
/// beside it, in arena order after the first.
#[derive(Default, Clone)]
struct ByKeyAndNumber {
    keys: FixedMap<PublicKey, u32>,
    /// By key number, by number: the first index, or [`ByKeyAndNumber::NONE`].
    first: Vec<Vec<u32>>,
    /// (key number, number) → the indices after the first, or all of them when the number
    /// did not fit the dense vector when first seen.
    more: FixedMap<(u32, u64), Vec<u32>>,
}

impl ByKeyAndNumber {
    const NONE: u32 = u32::MAX;
    /// How far past a key's highest number so far a new one may lie and still be kept dense
    /// (a record's serial skips the sequence numbers of its creator's edits; a forged number
    /// far out must not make a vector that long).
    const MAX_GAP: usize = 1024;

    /// Lists `idx` (newer than every index listed so far) under `(key, number)`.
    fn push(&mut self, key: PublicKey, number: u64, idx: u32) {
        let next = self.first.len() as u32;
        let k = *self.keys.entry(key).or_insert(next);
        if k == next {
            self.first.push(Vec::new());
        }
        // Once a pair is listed in `more`, all of it is, so the dense slot stays first.
        if let Some(list) = self.more.get_mut(&(k, number)) {
            list.push(idx);
            return;
        }
        let dense = &mut self.first[k as usize];
        match usize::try_from(number) {
            Ok(n)
                if n < dense.len() + Self::MAX_GAP
                    && dense.get(n).is_none_or(|&i| i == Self::NONE) =>
            {
                if n >= dense.len() {
                    dense.resize(n + 1, Self::NONE);
                }
                dense[n] = idx;
            }
            _ => self.more.entry((k, number)).or_default().push(idx),
        }
    }

    /// The indices listed under `(key, number)`, in the order they were listed; the map
    /// beside the dense vector is read only if the first one is not enough.
    fn get(&self, key: &PublicKey, number: u64) -> impl Iterator<Item = u32> + '_ {
        let k = self.keys.get(key).copied();
        let first = k.and_then(|k| {
            let dense = &self.first[k as usize];
            usize::try_from(number)
                .ok()
                .and_then(|n| dense.get(n).copied())
                .filter(|&i| i != Self::NONE)
        });
        let more = move || {
            k.and_then(|k| self.more.get(&(k, number)))
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .copied()
        };
        first
            .into_iter()
            .chain(std::iter::once(()).flat_map(move |()| more()))
    }
}

/// How many envelopes ahead a pass over a known list of them asks their data into the cache:
/// a few hundred nanoseconds of memory latency over the tens of nanoseconds a pass spends on
/// each.
pub const PREFETCH_AHEAD: usize = 16;

/// Asks the processor to start loading every cache line of `value` (a hint: nothing else
/// changes, whatever the address).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        let size = std::mem::size_of::<T>();
        let mut offset = 0;
        while offset < size {
            // SAFETY: a prefetch only hints the cache; it never faults or reads into the
            // program, and SSE, which provides it, is part of every x86-64 processor.
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset));
            }
            offset += 64;
        }
        // The last line, when `value` starts partway into its first.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(size.saturating_sub(1)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The envelopes one node holds: sorted `index << 1 | has_payload`; and the fork points it
/// learnt (an author's lowest sequence number with two different changes: from it on, the
/// accept path takes none of that author's envelopes, as a station's store does).
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    slots: Vec<u32>,
    forks: Vec<(PublicKey, u64)>,
    /// The revocation envelopes among `slots` (in any form), in index order, with the key
    /// each revokes: what [`SimStore`]'s `revocation` reads at every certificate of every
    /// accept. A few per node, where the arena may list hundreds of (forged) revocations
    /// naming one key, each a search of the slots.
    revocations: Vec<(u32, PublicKey)>,
}

impl Holdings {
    fn find(&self, idx: u32) -> Result<usize, usize> {
        self.slots.binary_search_by_key(&idx, |s| s >> 1)
    }

    /// `None` if not held, else whether the payload is held.
    pub fn get(&self, idx: u32) -> Option<bool> {
        self.find(idx).ok().map(|i| self.slots[i] & 1 == 1)
    }

    /// Inserts or upgrades; returns the previous state.
    pub fn put(&mut self, idx: u32, payload: bool) -> Option<bool> {
        let slot = idx << 1 | u32::from(payload);
        if let Some(&last) = self.slots.last()
            && last >> 1 < idx
        {
            self.slots.push(slot);
            return None;
        }
        match self.find(idx) {
            Ok(i) => {
                let before = self.slots[i] & 1 == 1;
                self.slots[i] |= u32::from(payload);
                Some(before)
            }
            Err(i) => {
                self.slots.insert(i, slot);
                None
            }
        }
    }

    /// Drops an envelope (only the "crash losing unsynced writes" fault does this).
    pub fn remove(&mut self, idx: u32) -> bool {
        match self.find(idx) {
            Ok(i) => {
                self.slots.remove(i);
                self.revocations.retain(|&(r, _)| r != idx);
                true
            }
            Err(_) => false,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// `(index, has_payload)` in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u32, bool)> + '_ {
        self.slots.iter().map(|s| (s >> 1, s & 1 == 1))
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.forks.capacity() * size_of::<(PublicKey, u64)>()
            + self.revocations.capacity() * size_of::<(u32, PublicKey)>()
    }

    /// `author`'s fork point, if one is known here.
    pub fn fork_point(&self, author: &PublicKey) -> Option<u64> {
        self.forks
            .iter()
            .filter(|(a, _)| a == author)
            .map(|(_, seq)| *seq)
            .min()
    }

    /// Notes a newly held revocation envelope `idx` that revokes `key`.
    fn add_revocation(&mut self, idx: u32, key: PublicKey) {
        let at = self.revocations.partition_point(|&(r, _)| r < idx);
        self.revocations.insert(at, (idx, key));
    }

    /// Records `author`'s fork at `seq` (kept if lower than one already known).
    fn add_fork(&mut self, author: PublicKey, seq: u64) {
        match self.forks.iter_mut().find(|(a, _)| *a == author) {
            Some((_, known)) => *known = (*known).min(seq),
            None => self.forks.push((author, seq)),
        }
    }
}

/// What a commit changed at the node, for the simulator's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fresh {
    pub idx: u32,
    /// The payload arrived for a header already held.
    pub filled: bool,
    pub has_payload: bool,
}

/// One node's store: its holdings over the shared arena.
pub struct SimStore<'a> {
    pub arena: &'a Arena,
    pub held: &'a mut Holdings,
    /// Filled by [`Store::commit`].
    pub fresh: Vec<Fresh>,
    /// Fork evidence recorded by the accept path.
    pub evidence: u32,
    /// Committed envelopes whose bytes differ from the arena's copy under the same id, or
    /// that the simulator never created: a safety failure.
    pub foreign: Vec<String>,
}

impl<'a> SimStore<'a> {
    pub fn new(arena: &'a Arena, held: &'a mut Holdings) -> SimStore<'a> {
        SimStore {
            arena,
            held,
            fresh: Vec::new(),
            evidence: 0,
            foreign: Vec::new(),
        }
    }

    fn held_of<'s>(
        &'s self,
        list: impl Iterator<Item = u32> + 's,
    ) -> impl Iterator<Item = (u32, bool)> + 's {
        list.filter_map(move |i| self.held.get(i).map(|p| (i, p)))
    }
}

/// The first held envelope of one record (in arena order, the one [`derive_record`] takes the
/// record's kind, region and reach from).
fn first_held<'a>(arena: &'a Arena, held: &Holdings, id: &RecordId) -> Option<&'a Entry> {
    arena
        .record_envelopes(id)
        .find(|&i| held.get(i).is_some())
        .map(|i| &arena.entries[i as usize])
}

/// The record state implied by the held envelopes of one record, as far as the accept path
/// decides on it: the kind, creator, region and reach of its first held change (what every
/// later change must match). Its change list holds only that change and its times are that
/// change's: without materializing, accept reads neither.
pub fn derive_record(arena: &Arena, held: &Holdings, id: &RecordId) -> Option<RecordState> {
    let e = first_held(arena, held, id)?;
    Some(lingong_protocol::accept::new_state(&e.env, e.id))
}

impl Store for SimStore<'_> {
    fn envelope(&self, id: &EnvelopeId) -> Result<Option<Envelope>, StoreError> {
        let Some(idx) = self.arena.find(id) else {
            return Ok(None);
        };
        Ok(self.held.get(idx).map(|payload| {
            let env = &self.arena.entries[idx as usize].env;
            if payload {
                env.clone()
            } else {
                env.header_only()
            }
        }))
    }

    fn has_envelope(&self, id: &EnvelopeId) -> Result<Option<bool>, StoreError> {
        Ok(self.arena.find(id).and_then(|i| self.held.get(i)))
    }

    fn timestamp_of(&self, id: &EnvelopeId) -> Result<Option<i64>, StoreError> {
        Ok(self
            .arena
            .find(id)
            .filter(|&i| self.held.get(i).is_some())
            .map(|i| self.arena.entries[i as usize].env.header.timestamp_ms))
    }

    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Result<Option<EnvelopeId>, StoreError> {
        Ok(self
            .held_of(self.arena.at(author, seq))
            .next()
            .map(|(i, _)| self.arena.entries[i as usize].id))
    }

    fn record(&self, id: &RecordId) -> Result<Option<RecordState>, StoreError> {
        Ok(derive_record(self.arena, self.held, id))
    }

    fn author(&self, key: &PublicKey) -> Result<Option<AuthorInfo>, StoreError> {
        let Some(list) = self.arena.certs.get(key) else {
            return Ok(None);
        };
        Ok(list
            .iter()
            .find(|(i, _)| self.held.get(*i).is_some())
            .map(|(_, chain)| AuthorInfo {
                key: *key,
                chain: chain.clone(),
                max_seq: 0,
                envelopes: 0,
                earlier: Vec::new(),
            }))
    }

    fn revocation(&self, key: &PublicKey) -> Result<Option<RevocationInfo>, StoreError> {
        let mut best: Option<RevocationInfo> = None;
        let held = self.held.revocations.iter();
        for i in held.filter(|(_, revoked)| revoked == key).map(|&(i, _)| i) {
            let env = &self.arena.entries[i as usize].env;
            let Some(r) = env
                .payload
                .as_deref()
                .and_then(|p| Revocation::from_bytes(p).ok())
            else {
                continue;
            };
            if best
                .as_ref()
                .is_none_or(|b| b.at_ms > env.header.timestamp_ms)
            {
                best = Some(RevocationInfo {
                    revoked: r.revoked,
                    by: env.header.author,
                    at_ms: env.header.timestamp_ms,
                    reason: r.reason,
                });
            }
        }
        Ok(best)
    }

    /// The simulator keeps no evidence per node (it counts it in `evidence`), so a node does not
    /// remember a fork between accepts: it still rejects every envelope that conflicts with
    /// what it holds (same sequence number, broken `prev` link), but may take a forked
    /// author's later envelopes that conflict with nothing it holds. The end-of-run check
    /// therefore neither expects nor forbids an equivocating author's envelopes after its
    /// fork point (`check.rs`).
    fn fork_point(&self, author: &PublicKey) -> Result<Option<u64>, StoreError> {
        Ok(self.held.fork_point(author))
    }

    fn items(&self) -> Result<Vec<ItemMeta>, StoreError> {
        Ok(self
            .held
            .iter()
            .map(|(i, payload)| self.arena.item(i, payload).0)
            .collect())
    }

    fn commit(&mut self, batch: Batch) -> Result<(), StoreError> {
        let mut records = Vec::new();
        for op in batch.ops {
            match op {
                Op::PutEnvelope(env, meta) => {
                    let Some(idx) = self.arena.find(&meta.id) else {
                        self.foreign.push(format!(
                            "an envelope the simulator never created was accepted: {}",
                            hex_short(&meta.id)
                        ));
                        continue;
                    };
                    let entry = &self.arena.entries[idx as usize];
                    if env.header != entry.env.header
                        || (env.payload.is_some() && env.payload != entry.env.payload)
                    {
                        self.foreign.push(format!(
                            "envelope {} was accepted with bytes that differ from the original",
                            hex_short(&meta.id)
                        ));
                        continue;
                    }
                    let before = self.held.put(idx, meta.has_payload);
                    if before.is_none()
                        && let Some(key) = self.arena.revokes.get(&idx)
                    {
                        self.held.add_revocation(idx, *key);
                    }
                    match before {
                        None => self.fresh.push(Fresh {
                            idx,
                            filled: false,
                            has_payload: meta.has_payload,
                        }),
                        Some(false) if meta.has_payload => self.fresh.push(Fresh {
                            idx,
                            filled: true,
                            has_payload: true,
                        }),
                        Some(_) => {}
                    }
                }
                Op::PutRecord(id, state) => records.push((id, state)),
                Op::PutAuthor(_) | Op::PutRevocation(_) => {}
                Op::PutEvidence(e) => {
                    self.evidence += 1;
                    self.held.add_fork(e.author, e.seq);
                }
            }
        }
        // The accept path's record view must be the one the held changes imply.
        for (id, staged) in records {
            // What `derive_record` would take the kind, region and reach from (it holds at
            // least that change), without collecting the rest.
            let agrees = first_held(self.arena, self.held, &id).is_some_and(|first| {
                let h = &first.env.header;
                h.kind == staged.kind && h.region == staged.region && h.reach == staged.reach
            });
            if !agrees {
                self.foreign.push(format!(
                    "record {} staged by accept disagrees with the changes held",
                    id.to_hex()
                ));
            }
        }
        Ok(())
    }
}

fn hex_short(id: &EnvelopeId) -> String {
    id[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdings_keep_order_and_upgrade_headers_to_full() {
        let mut h = Holdings::default();
        assert_eq!(h.put(5, false), None);
        assert_eq!(h.put(2, true), None);
        assert_eq!(h.put(9, true), None);
        assert_eq!(h.put(5, true), Some(false));
        assert_eq!(h.get(5), Some(true));
        assert_eq!(h.get(3), None);
        assert_eq!(h.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![2, 5, 9]);
        assert!(h.remove(2));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn by_key_and_number_lists_like_a_map_of_lists() {
        // Keys numbering in order, with gaps, repeats (forks, edits) and numbers far out.
        let keys: Vec<PublicKey> = (0..5u8).map(|k| PublicKey([k + 1; 32])).collect();
        let mut state = 11u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut index = ByKeyAndNumber::default();
        let mut reference: std::collections::BTreeMap<(usize, u64), Vec<u32>> = Default::default();
        let mut top = [0u64; 5];
        for idx in 0..5_000u32 {
            let k = (next() % 5) as usize;
            let number = match next() % 10 {
                0 => next() % (top[k] + 1),
                1 => top[k] + 1 + next() % 3_000,
                2 => u64::MAX - next() % 3,
                _ => top[k] + 1 + next() % 3,
            };
            if number < 1 << 40 {
                top[k] = top[k].max(number);
            }
            index.push(keys[k], number, idx);
            reference.entry((k, number)).or_default().push(idx);
        }
        for (&(k, number), list) in &reference {
            assert_eq!(&index.get(&keys[k], number).collect::<Vec<_>>(), list);
        }
        assert_eq!(index.get(&keys[0], 1 << 50).count(), 0);
    }
}
