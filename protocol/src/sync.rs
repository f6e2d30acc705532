//! The sync session: a sans-IO state machine that two peers run to exchange exactly the signed
//! changes their scopes share and the other lacks.
//!
//! In the style of quinn-proto and str0m, a [`Session`] owns no socket, task or clock: the
//! driver feeds it the frames it receives ([`Session::receive`]) and asks it for the frames to
//! send ([`Session::next_frame`]); the envelopes it returns are handed to the one accept path by
//! the driver, which commits them before asking for the next frame. The libp2p event loop of the
//! node and the simulator are two drivers of this same code.
//!
//! A session is a strict alternation of frames, initiator first, which maps onto libp2p
//! request-response: the initiator's frames are requests, the responder's are responses.
//! Each frame carries (all optional) the sender's certificate chain (first frame only), one
//! round of range-based reconciliation ([`crate::reconcile`]), and a bounded batch of
//! envelopes the sender pushes. The initiator stops when the responder's last frame said
//! `done` and it has nothing left to send.
//!
//! Resumable by construction: every received batch is accepted and committed before the next
//! frame is built, so a session cut half way keeps what it verified, and the next session's
//! reconciliation only finds the remainder.
//!
//! **Push order: no gap after a cut.** A side pushes nothing until its reconciliation has
//! settled (its reply to the peer's last message was empty, or the peer's frame carried none):
//! ranges settle in different rounds, so before that an older change of an author could still
//! be found after a newer one. Then it pushes every author's changes in sequence order and an
//! edit after the change that created its record (else the edit is refused and its author's
//! log left with a gap), most urgent kind first by inheritance ([`RecordKind::send_priority`]:
//! a revocation takes the changes it needs, its author's older ones, ahead with it), then by
//! time ([`push_order`]). So any prefix of a session's frames leaves each author's log at the
//! receiver without a gap above what it held: a change never arrives before an older change
//! of its author that the session also brings. Gaps of scope (a peer entitled to only some of
//! an author's changes) are not gaps. The item sets carry no sequence numbers: the sender
//! reads each change's author, number and record from its own store through the same loader
//! as the push (the header form), once per change.
//!
//! Each side's first frame also carries its clock ([`Session::set_clock`]). A side does not
//! push a change its peer's clock would date more than [`MAX_FUTURE_MS`] ahead (the peer
//! would only defer it, and every session would carry it again over a thin link); it goes
//! once the peer's clock catches up, and its author's later changes (and edits of a record it
//! created) wait with it. The offset is also what tells an operator that a
//! station's clock is wrong ([`Session::peer_clock_offset_ms`]).

use crate::accept::MAX_FUTURE_MS;
use crate::envelope::{Envelope, EnvelopeId, MAX_ENVELOPE_BYTES};
use crate::keys::PublicKey;
use crate::reconcile::{
    Bound, Item, ItemKey, ItemSet, Message, ReconcileConfig, ReconcileError, Reconciler,
    grow_gently, item_key,
};
use crate::scope::{Scope, Want};
use crate::store::{ItemMeta, Store};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The libp2p protocol id of this sync protocol (name and version).
pub const PROTOCOL_ID: &str = "/lingong/sync/3";

/// The version of this sync protocol ([`PROTOCOL_ID`]). Version 3 brought placements to every
/// station of their county ([`crate::scope::SIDEWAYS_PLACEMENTS`]) and the handshake's
/// `scope_version`; version 2 the clock exchange (`clock_ms`).
pub const PROTOCOL_VERSION: u32 = 3;

/// Every sync protocol version this release speaks, newest first: the current one and those
/// before it, so that stations a release apart keep syncing while a network upgrades one
/// station at a time. A node offers them in this order and libp2p's protocol negotiation
/// picks the first the peer speaks; the frames of an older version are carried by
/// [`frame_to_version`] and [`frame_from_version`]. Version 1 is still carried: its frames
/// differ from version 2's by one trailing field, as version 2's from version 3's, and a peer
/// of either is served by the older scope rules.
pub const PROTOCOL_VERSIONS: [u32; 3] = [PROTOCOL_VERSION, 2, 1];

/// The libp2p protocol id of sync protocol `version` (`/lingong/sync/<version>`).
pub fn protocol_id(version: u32) -> String {
    format!("/lingong/sync/{version}")
}

/// The version of a sync protocol id (`/lingong/sync/<version>`), or `None` for another
/// protocol.
pub fn protocol_version(id: &str) -> Option<u32> {
    let v = id.strip_prefix("/lingong/sync/")?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The bytes of a frame (current encoding, [`Frame::encode`]) as sync protocol `version`
/// carries them. Version 2 frames end before `scope_version` (such a peer applies version 2's
/// scope rules and does not say so); version 1 frames also before `clock_ms` (it had no clock
/// exchange). The fields are left out, so that peer sees exactly the frame it knows.
pub fn frame_to_version(bytes: Vec<u8>, version: u32) -> Result<Vec<u8>, SyncError> {
    if version >= PROTOCOL_VERSION {
        return Ok(bytes);
    }
    let frame = Frame::decode(&bytes)?;
    let mut out = Frame {
        clock_ms: if version < 2 { None } else { frame.clock_ms },
        scope_version: None,
        ..frame
    }
    .encode();
    out.pop(); // the `None` tag of `scope_version`
    if version < 2 {
        out.pop(); // the `None` tag of `clock_ms`
    }
    Ok(out)
}

/// The bytes of a frame received over sync protocol `version`, in the current encoding
/// (a version 2 frame gains `scope_version: None`, a version 1 frame `clock_ms: None` too).
/// [`Frame::decode`] then checks them as usual.
pub fn frame_from_version(mut bytes: Vec<u8>, version: u32) -> Vec<u8> {
    if version < 2 {
        bytes.push(0);
    }
    if version < PROTOCOL_VERSION {
        bytes.push(0);
    }
    bytes
}

/// Whether this node and a peer share a sync protocol version, from the versions the peer
/// announced (libp2p identify), and if not, which side must upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    /// Both speak this version (the newest they share).
    Common(u32),
    /// The peer speaks only newer versions: this node's lingong must be upgraded.
    UpgradeThisNode { ours: u32, theirs: u32 },
    /// The peer speaks only older versions: the peer's lingong must be upgraded.
    UpgradePeer { ours: u32, theirs: u32 },
    /// The peer announced no sync protocol at all.
    Unknown,
}

/// [`Compatibility`] of a node speaking `ours` (newest first) with a peer speaking `theirs`.
pub fn compatibility(ours: &[u32], theirs: &[u32]) -> Compatibility {
    if let Some(v) = ours.iter().find(|v| theirs.contains(v)) {
        return Compatibility::Common(*v);
    }
    let (Some(&newest_ours), Some(&newest_theirs)) = (ours.iter().max(), theirs.iter().max())
    else {
        return Compatibility::Unknown;
    };
    if newest_theirs > newest_ours {
        Compatibility::UpgradeThisNode {
            ours: newest_ours,
            theirs: newest_theirs,
        }
    } else {
        Compatibility::UpgradePeer {
            ours: newest_ours,
            theirs: newest_theirs,
        }
    }
}

impl Compatibility {
    /// What the operator should do, in English and Chinese; `None` when the two sync.
    pub fn advice(&self) -> Option<String> {
        match *self {
            Compatibility::Common(_) => None,
            Compatibility::UpgradeThisNode { ours, theirs } => Some(format!(
                "the peer speaks sync protocol {theirs} and newer only, this node {ours} and \
                 older: upgrade lingong on this node / 对方只支持同步协议 {theirs} 及更新版本，\
                 本节点只支持 {ours} 及更早版本：请升级本节点的 lingong"
            )),
            Compatibility::UpgradePeer { ours, theirs } => Some(format!(
                "the peer speaks sync protocol {theirs} and older only, this node {ours} and \
                 one before: upgrade lingong on the peer / 对方只支持同步协议 {theirs} 及更早\
                 版本，本节点支持 {ours} 及前一版本：请升级对方节点的 lingong"
            )),
            Compatibility::Unknown => Some(
                "the peer speaks no lingong sync protocol: it may be another program, or a \
                 lingong too old or too new to say; compare both versions (`lingong \
                 --version`) / 对方不支持任何 lingong 同步协议：可能是其他程序，或版本相差太\
                 远的 lingong；请核对双方的版本（`lingong --version`）"
                    .to_string(),
            ),
        }
    }
}

/// Limits of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConfig {
    pub reconcile: ReconcileConfig,
    /// Envelope bytes per frame (at least one envelope always fits). Small frames keep each
    /// round trip short on a thin link, so a cut loses little.
    pub max_frame_envelope_bytes: usize,
    /// How far below the start of the last session that completed with a peer the next one
    /// starts looking at single changes ([`window_floor`]); everything older is checked with
    /// one fingerprint. Changes that reach one side late with older timestamps than this are
    /// still found (the fingerprint differs and the range is split), at the cost of a look at
    /// the whole history.
    #[serde(default = "default_window_margin_ms")]
    pub window_margin_ms: i64,
}

/// Two days: covers a clock up to a day and more off, and changes that waited a day in a
/// village that was offline.
pub const DEFAULT_WINDOW_MARGIN_MS: i64 = 2 * 86_400_000;

fn default_window_margin_ms() -> i64 {
    DEFAULT_WINDOW_MARGIN_MS
}

/// The floor a session's first message starts from ([`Session::start_from`]):
/// `window_margin_ms` below the start (by the initiator's clock) of the last session with the
/// same peer that completed, or the lowest position when there was none (a first session, or
/// a node that restarted and forgot). Timestamp-only, so an envelope and its header form lie
/// on the same side of it.
pub fn window_floor(last_completed_ms: Option<i64>, config: &SyncConfig) -> Bound {
    match last_completed_ms.map(|t| t.saturating_sub(config.window_margin_ms)) {
        Some(floor) if floor > 0 => Bound::Finite {
            timestamp: floor as u64,
            prefix_len: 0,
            id: [0; 32],
        },
        _ => Bound::MIN,
    }
}

/// Envelope bytes per frame that nodes use (and the simulator models): at 50 kbit/s a 32 KiB
/// frame is about five seconds on the wire, so a link that drops loses little.
pub const DEFAULT_FRAME_ENVELOPE_BYTES: usize = 32 * 1024;

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            reconcile: ReconcileConfig::default(),
            max_frame_envelope_bytes: DEFAULT_FRAME_ENVELOPE_BYTES,
            window_margin_ms: DEFAULT_WINDOW_MARGIN_MS,
        }
    }
}

/// Largest encoded frame a peer may send: the envelope budget plus one reconciliation message
/// plus a certificate chain, with room to spare. Anything larger is refused unread.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// One message of a session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Identifies the session at the responder (chosen by the initiator).
    pub session: u64,
    /// The sender's certificate chain bytes ([`crate::cert::CertChain::to_bytes`]), in the
    /// first frame of each side only.
    pub hello: Option<Vec<u8>>,
    /// One round of reconciliation, if the sender has something to say.
    pub reconcile: Option<Vec<u8>>,
    /// Envelopes pushed, in wire form.
    pub envelopes: Vec<Vec<u8>>,
    /// The sender has nothing more to say unless it hears something new.
    pub done: bool,
    /// The sender's clock (ms since the Unix epoch) when its session started, in the first
    /// frame of each side only.
    pub clock_ms: Option<i64>,
    /// The newest scope rules the sender applies ([`crate::scope::SCOPE_VERSION`]), in the
    /// frame carrying its `hello` only; none: version 2's (a peer of an older release). The
    /// session then runs under the older of the two ends' rules ([`Frame::peer_scope_version`],
    /// [`Scope::on_link`]).
    pub scope_version: Option<u32>,
}

/// Why a frame was refused; the driver closes the session (and only it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("malformed sync frame: {0}")]
    Malformed(String),
    #[error("sync frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("reconciliation failed: {0}")]
    Reconcile(String),
    /// This side's set is windowed and the peer's frame needs the items below its floor:
    /// give the session the whole set ([`Session::supply_history`]) and hand it the same frame
    /// again. Nothing was taken in.
    #[error("the peer's frame reaches below this side's window: the whole set is needed")]
    NeedsHistory,
}

fn reconcile_error(e: ReconcileError) -> SyncError {
    match e {
        ReconcileError::NeedsHistory => SyncError::NeedsHistory,
        e => SyncError::Reconcile(e.to_string()),
    }
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("frames serialize")
    }
    /// `self.encode().len()`, computed without encoding: postcard writes integers and
    /// lengths as LEB128 varints, an `Option` as a tag byte, a `bool` as one byte.
    pub fn encoded_len(&self) -> usize {
        fn varint(v: u64) -> usize {
            (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
        }
        fn bytes(b: &[u8]) -> usize {
            varint(b.len() as u64) + b.len()
        }
        let option = |o: &Option<Vec<u8>>| 1 + o.as_deref().map_or(0, bytes);
        // A signed integer is a zigzag varint.
        let clock = |c: Option<i64>| 1 + c.map_or(0, |v| varint(((v << 1) ^ (v >> 63)) as u64));
        varint(self.session)
            + option(&self.hello)
            + option(&self.reconcile)
            + varint(self.envelopes.len() as u64)
            + self.envelopes.iter().map(|e| bytes(e)).sum::<usize>()
            + 1
            + clock(self.clock_ms)
            + 1
            + self.scope_version.map_or(0, |v| varint(u64::from(v)))
    }

    /// The scope rules the sender of this handshake frame applies: its `scope_version`, or
    /// version 2's when it says none (a peer of an older release).
    pub fn peer_scope_version(&self) -> u32 {
        self.scope_version
            .unwrap_or(crate::scope::OLDEST_SCOPE_VERSION)
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, SyncError> {
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(SyncError::TooLarge(bytes.len()));
        }
        let (frame, rest): (Frame, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| SyncError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(SyncError::Malformed(format!(
                "{} unexpected bytes after the end of the frame",
                rest.len()
            )));
        }
        frame.check_limits(bytes.len())?;
        Ok(frame)
    }

    /// The size limits [`Frame::decode`] applies, for a frame of `wire_len` encoded bytes
    /// (a driver that hands frames over without encoding them, as the simulator does, applies
    /// them itself).
    pub fn check_limits(&self, wire_len: usize) -> Result<(), SyncError> {
        if wire_len > MAX_FRAME_BYTES {
            return Err(SyncError::TooLarge(wire_len));
        }
        if self.envelopes.iter().any(|e| e.len() > MAX_ENVELOPE_BYTES) {
            return Err(SyncError::Malformed(
                "an envelope exceeds the size limit".into(),
            ));
        }
        Ok(())
    }
}

/// Figures of one session, for `lingong sync` and the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStats {
    pub frames_sent: u64,
    pub frames_received: u64,
    pub sent_bytes: u64,
    pub received_bytes: u64,
    pub changes_sent: u64,
    pub changes_received: u64,
    /// Bytes of envelopes (the signed changes themselves) sent.
    pub envelope_bytes_sent: u64,
    /// Envelopes received that this node's scope does not want (dropped unread).
    pub out_of_scope: u64,
    /// Envelopes received that did not even decode.
    pub malformed: u64,
    /// Changes the peer lacks that were not pushed: its clock would date them more than
    /// [`MAX_FUTURE_MS`] ahead, or an older change of their author was held back so (they go
    /// when it catches up).
    pub held_back: u64,
}

/// What the session needs to push one shared item; kept beside it, in the set's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shared {
    priority: u8,
    /// The form this link carries: the lesser of the two ends' wants.
    want: Want,
    /// Listed under [`header_form_id`] (held as a header only, the link carrying it whole).
    listed_as_header: bool,
}

/// The id under which a side lists an envelope it holds only as a header although both ends
/// want it in full: the bitwise complement of the envelope id. Its peer, holding the full
/// envelope, lists the plain id, so the two ids differ and the full envelope is pushed to fill
/// the payload; a peer holding the header lists the same complemented id and nothing moves.
/// (A complement equal to another envelope's id would need a SHA-256 preimage.)
pub fn header_form_id(id: &EnvelopeId) -> EnvelopeId {
    id.map(|b| !b)
}

/// The items one side shares with one peer, and what the session needs to push each of them.
///
/// [`Session::new`] builds one per session. A driver that starts many sessions from the same
/// store state (the simulator) can build it once with [`SharedSet::build`] and start each
/// session with [`Session::with_shared`]; the result is the same as [`Session::new`] over the
/// same items. About 60 bytes per item (the item, a prefix sum, three bytes of [`Shared`]), so
/// a driver can afford to keep one per peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedSet {
    set: ItemSet,
    /// What to push for each item of `set`, index for index.
    info: Vec<Shared>,
    /// How many items are listed under their header form (usually none).
    header_forms: usize,
}

impl SharedSet {
    /// The items of `items` (every envelope `me` holds) that `me` shares with `peer`, each in
    /// the form the link carries (see [`shareable`]).
    pub fn build(me: &Scope, peer: &Scope, items: &[ItemMeta]) -> SharedSet {
        SharedSet::build_keyed(me, peer, items.iter().map(|m| (*m, item_key(&m.id))))
    }

    /// [`SharedSet::build`] for a caller that keeps each envelope's [`item_key`] beside it.
    pub fn build_keyed(
        me: &Scope,
        peer: &Scope,
        items: impl Iterator<Item = (ItemMeta, ItemKey)>,
    ) -> SharedSet {
        let (least, most) = items.size_hint();
        let mut shared = Vec::with_capacity(most.unwrap_or(least));
        for (m, key) in items {
            shared.extend(shareable(me, peer, &m, key));
        }
        let (set, info) = ItemSet::from_unsorted_keyed_with(shared);
        let header_forms = info.iter().filter(|s| s.listed_as_header).count();
        SharedSet {
            set,
            info,
            header_forms,
        }
    }

    /// Adds an envelope `me` has come to hold (or whose payload it now holds) to a set kept
    /// for `peer` between sessions; the same as building the set again with it. Returns
    /// whether the set changed. For a whole set; a windowed one takes
    /// [`SharedSet::insert_fresh`].
    pub fn insert_keyed(&mut self, me: &Scope, peer: &Scope, m: &ItemMeta, key: ItemKey) -> bool {
        self.take_in(me, peer, m, key, None)
    }

    /// [`SharedSet::insert_keyed`] for a set that may be windowed ([`SharedSet::raise_floor`]):
    /// below the floor the set cannot look, so the caller says whether `me` held the envelope
    /// before as a header only (`filled`) or not at all.
    pub fn insert_fresh(
        &mut self,
        me: &Scope,
        peer: &Scope,
        m: &ItemMeta,
        key: ItemKey,
        filled: bool,
    ) -> bool {
        self.take_in(me, peer, m, key, Some(filled))
    }

    fn take_in(
        &mut self,
        me: &Scope,
        peer: &Scope,
        m: &ItemMeta,
        key: ItemKey,
        filled: Option<bool>,
    ) -> bool {
        let Some((item, key, shared)) = shareable(me, peer, m, key) else {
            return false;
        };
        if !self.set.lists(&item) {
            debug_assert!(
                filled.is_some(),
                "a windowed set takes envelopes in with insert_fresh"
            );
            if !filled.unwrap_or(false) {
                self.set.add_unlisted(key);
                return true;
            }
            if shared.want != Want::Full {
                // Held as a header before and listed under its id: nothing changes.
                return false;
            }
            // Listed under its header form until now (same timestamp, so also unlisted).
            self.set.remove_unlisted(item_key(&header_form_id(&m.id)));
            self.set.add_unlisted(key);
            return true;
        }
        if self.header_forms > 0 && !shared.listed_as_header && shared.want == Want::Full {
            // A payload filled: the header form listed until now goes.
            let header_form = Item::new(item.timestamp, header_form_id(&m.id));
            if let Some(at) = self.set.remove_at(&header_form) {
                self.info.remove(at);
                self.header_forms -= 1;
            }
        }
        let Some(at) = self.set.insert_keyed_at(item, key) else {
            return false;
        };
        grow_gently(&mut self.info);
        self.info.insert(at, shared);
        self.header_forms += usize::from(shared.listed_as_header);
        true
    }

    /// Stops listing the items below `floor` (see [`ItemSet::raise_floor`]): a set kept for a
    /// peer between sessions then holds the items a session from `floor` looks at, whatever
    /// the length of the history. A floor at or below the current one changes nothing.
    pub fn raise_floor(&mut self, floor: Bound) {
        let gone = self.set.raise_floor(floor);
        if gone > 0 {
            self.header_forms -= self.info[..gone]
                .iter()
                .filter(|s| s.listed_as_header)
                .count();
            self.info.drain(..gone);
            if self.info.capacity() > 2 * self.info.len() + 64 {
                self.info.shrink_to_fit();
            }
        }
    }

    /// Items below this bound are not listed ([`Bound::MIN`] for a whole set).
    pub fn floor(&self) -> Bound {
        self.set.floor()
    }

    /// How many items lie below the floor, counted but not listed (0: the set lists all).
    pub fn unlisted(&self) -> usize {
        self.set.unlisted()
    }

    /// The sum of the items' keys and their number: equal for two sets with the same items
    /// (listed or not). For checks.
    pub fn fingerprint(&self) -> (usize, crate::reconcile::Fingerprint) {
        (self.set.len(), self.set.fingerprint(0..self.set.len()))
    }

    /// The envelope behind a listed item and what to push of it.
    fn get(&self, item: &Item) -> Option<(EnvelopeId, Shared)> {
        let shared = self.info[self.set.position(item)?];
        let id = if shared.listed_as_header {
            header_form_id(&item.id)
        } else {
            item.id
        };
        Some((id, shared))
    }

    /// Number of items shared.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// Whether `me` lists an envelope it holds in its set for `peer`, and how: the link carries
/// the lesser of the two ends' wants (so both ends compute the same form, and an envelope both
/// hold as far as the link carries it is settled whatever else either holds: a city holding a
/// worker's header and its county holding the whole record are in sync). Listed under its id,
/// except when the link carries the full envelope and `me` holds only the header: then under
/// [`header_form_id`], so a peer holding the whole envelope sees the difference and fills it.
/// `key` is `item_key(&m.id)`. Both ends' wants are read under the older of their scope rules
/// ([`Scope::on_link`]), as the peer lists them.
fn shareable(
    me: &Scope,
    peer: &Scope,
    m: &ItemMeta,
    key: ItemKey,
) -> Option<(Item, ItemKey, Shared)> {
    let (me, peer) = me.on_link(*peer);
    let mine = me.wants(m.kind, &m.region, &m.reach);
    let want = mine.min(peer.wants(m.kind, &m.region, &m.reach));
    if want == Want::Nothing {
        return None;
    }
    let timestamp = m.timestamp_ms.max(0) as u64;
    let listed_as_header = want == Want::Full && !m.has_payload;
    let shared = Shared {
        priority: m.kind.send_priority(),
        want,
        listed_as_header,
    };
    if listed_as_header {
        let id = header_form_id(&m.id);
        return Some((Item::new(timestamp, id), item_key(&id), shared));
    }
    Some((Item::new(timestamp, m.id), key, shared))
}

/// A change found for the peer, before its author and sequence number are read.
#[derive(Clone, Copy, Debug)]
struct Found {
    priority: u8,
    timestamp: u64,
    id: EnvelopeId,
    want: Want,
}

/// A change to push, with its place in its author's log.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Its kind's push priority, then (once ordered) the most urgent one among the queued
    /// changes that need it first ([`push_order`]).
    priority: u8,
    /// Index into [`Session::authors`].
    author: u32,
    seq: u64,
    /// The change that created its record (creator's index, serial: the creator's sequence
    /// number of that change); itself for a create.
    record: (u32, u64),
    timestamp: u64,
    id: EnvelopeId,
    want: Want,
}

/// Sorts `queue` into push order, reversed (the next change last).
///
/// A change needs two others pushed before it when the session pushes them too: its author's
/// previous queued change (so each log arrives in sequence order) and the change that created
/// its record (an edit is refused, and its author's log left with a gap, where the record is
/// not held yet). Each change takes the most urgent priority among itself and the changes
/// that need it, directly or not (priority inheritance: a revocation takes its author's older
/// changes ahead with it); then the changes go in an order that respects every need, the most
/// urgent inherited priority first, then the earliest timestamp, then the id. Signed logs
/// cannot make the needs circular (an edit is signed after its record's create was held); if
/// a forged store did, the changes caught in the circle go last, in the same order.
fn push_order(queue: &mut Vec<Pending>) {
    use std::collections::{BinaryHeap, HashMap};
    let n = queue.len();
    let at: HashMap<(u32, u64), u32> = queue
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.author, p.seq), i as u32))
        .collect();
    // The (at most two) changes each change needs first.
    let mut needs = vec![[u32::MAX; 2]; n];
    let mut by_log: Vec<u32> = (0..n as u32).collect();
    by_log.sort_unstable_by_key(|&i| (queue[i as usize].author, queue[i as usize].seq));
    for w in by_log.windows(2) {
        if queue[w[0] as usize].author == queue[w[1] as usize].author {
            needs[w[1] as usize][0] = w[0];
        }
    }
    for (i, p) in queue.iter().enumerate() {
        if let Some(&c) = at.get(&p.record)
            && c as usize != i
            && c != needs[i][0]
        {
            needs[i][1] = c;
        }
    }
    let mut needed_by = vec![Vec::new(); n];
    let mut waiting = vec![0u8; n];
    for (i, need) in needs.iter().enumerate() {
        for &c in need.iter().filter(|&&c| c != u32::MAX) {
            needed_by[c as usize].push(i as u32);
            waiting[i] += 1;
        }
    }
    // Kahn's order, taking the ready change with the least key first; `key` is read as the
    // changes are taken.
    let kahn = |queue: &[Pending], mut waiting: Vec<u8>| -> Vec<u32> {
        let key = |i: u32| {
            let p = &queue[i as usize];
            Reverse((p.priority, p.timestamp, p.id, i))
        };
        let mut ready: BinaryHeap<_> = (0..n as u32)
            .filter(|&i| waiting[i as usize] == 0)
            .map(key)
            .collect();
        let mut order = Vec::with_capacity(n);
        let mut taken = vec![false; n];
        loop {
            while let Some(Reverse((_, _, _, i))) = ready.pop() {
                taken[i as usize] = true;
                order.push(i);
                for &d in &needed_by[i as usize] {
                    let w = &mut waiting[d as usize];
                    if !taken[d as usize] && *w > 0 {
                        *w -= 1;
                        if *w == 0 {
                            ready.push(key(d));
                        }
                    }
                }
            }
            // Only a circle of needs leaves changes behind: release its least one.
            match (0..n as u32)
                .filter(|&i| !taken[i as usize])
                .min_by_key(|&i| key(i).0)
            {
                Some(i) => {
                    waiting[i as usize] = 0;
                    ready.push(key(i));
                }
                None => return order,
            }
        }
    };
    // Inherit: from the last change of an order that respects the needs back to the first,
    // each change hands its priority to the changes it needs.
    for &i in kahn(queue, waiting.clone()).iter().rev() {
        let priority = queue[i as usize].priority;
        for &c in needs[i as usize].iter().filter(|&&c| c != u32::MAX) {
            let need = &mut queue[c as usize].priority;
            *need = (*need).min(priority);
        }
    }
    let order = kahn(queue, waiting);
    let mut sorted: Vec<Pending> = order.iter().rev().map(|&i| queue[i as usize]).collect();
    std::mem::swap(queue, &mut sorted);
}

/// One side of one sync session.
pub struct Session {
    session: u64,
    me: Scope,
    reconciler: Reconciler,
    config: SyncConfig,
    shared: Arc<SharedSet>,
    /// Changes found for the peer whose author and sequence number are not read yet.
    found: Vec<Found>,
    /// The changes to push: in push order reversed (the next one last) once `ordered`.
    queue: Vec<Pending>,
    ordered: bool,
    /// Every change found for the peer in this session (a range may name one twice).
    queued: BTreeSet<EnvelopeId>,
    /// The authors of the changes in `queue`, and their indexes.
    authors: BTreeMap<PublicKey, u32>,
    /// Authors one of whose changes was held back for the peer's clock, with the lowest such
    /// sequence number: their later changes, and edits of records created from there on,
    /// wait too, so the peer's copy of a log gets no gap.
    held_from: BTreeMap<u32, u64>,
    /// No range is open any more: every change the peer lacks has been found, so pushing can
    /// start in log order.
    settled: bool,
    pending_reconcile: Option<Message>,
    hello: Option<Vec<u8>>,
    /// This node's clock when the session started, and whether it still has to be sent.
    clock_ms: Option<i64>,
    clock_unsent: bool,
    /// The peer's clock minus this node's, from the peer's first frame.
    peer_offset_ms: Option<i64>,
    peer_done: bool,
    stats: SyncStats,
}

impl Session {
    /// A session between `me` and `peer` over `items` (every envelope this node holds).
    /// `hello` is this node's chain bytes, sent in its first frame.
    pub fn new(
        session: u64,
        me: Scope,
        peer: Scope,
        items: &[ItemMeta],
        hello: Vec<u8>,
        config: SyncConfig,
    ) -> Session {
        let (me, peer) = me.on_link(peer);
        let shared = Arc::new(SharedSet::build(&me, &peer, items));
        Session::with_shared(session, me, shared, hello, config)
    }

    /// A session over a prebuilt [`SharedSet`] (built by `me` for this peer from the envelopes
    /// it holds now). The same as [`Session::new`] over the same items, without rebuilding
    /// the set. `me` is this side's scope on the link ([`Scope::on_link`]): it decides what
    /// of a received frame is kept.
    pub fn with_shared(
        session: u64,
        me: Scope,
        shared: Arc<SharedSet>,
        hello: Vec<u8>,
        config: SyncConfig,
    ) -> Session {
        Session {
            session,
            me,
            reconciler: Reconciler::new(config.reconcile),
            config,
            shared,
            found: Vec::new(),
            queue: Vec::new(),
            ordered: true,
            queued: BTreeSet::new(),
            authors: BTreeMap::new(),
            held_from: BTreeMap::new(),
            settled: false,
            pending_reconcile: None,
            hello: (!hello.is_empty()).then_some(hello),
            clock_ms: None,
            clock_unsent: false,
            peer_offset_ms: None,
            peer_done: false,
            stats: SyncStats::default(),
        }
    }

    /// This node's clock now (ms since the Unix epoch), before the session's first frame: sent
    /// to the peer, and the base of [`Session::peer_clock_offset_ms`]. A session without it
    /// sends no clock and holds nothing back.
    pub fn set_clock(&mut self, now_ms: i64) {
        self.clock_ms = Some(now_ms);
        self.clock_unsent = true;
    }

    /// How far the peer's clock is ahead of this node's (negative: behind), once its first
    /// frame has arrived, if both sides sent their clocks. Accurate to the time a frame
    /// takes to cross.
    pub fn peer_clock_offset_ms(&self) -> Option<i64> {
        self.peer_offset_ms
    }

    /// `frame` with this side's scope rules beside its hello, if it carries one.
    fn with_scope_version(&self, frame: Frame) -> Frame {
        Frame {
            scope_version: frame.hello.is_some().then_some(self.me.version),
            ..frame
        }
    }

    /// The clock to put in the next frame: this node's, in its first frame only.
    fn clock_to_send(&mut self) -> Option<i64> {
        std::mem::take(&mut self.clock_unsent)
            .then_some(self.clock_ms)
            .flatten()
    }

    /// True when the peer would defer a change dated `timestamp_ms` (its clock, as of the
    /// session's start, plus [`MAX_FUTURE_MS`], is still before it).
    fn too_new_for_peer(&self, timestamp_ms: i64) -> bool {
        match (self.clock_ms, self.peer_offset_ms) {
            (Some(mine), Some(offset)) => {
                timestamp_ms > mine.saturating_add(offset).saturating_add(MAX_FUTURE_MS)
            }
            _ => false,
        }
    }

    /// The initiator's first frame, over the whole set.
    pub fn start(&mut self) -> Frame {
        self.start_from(Bound::MIN)
            .expect("a session over a whole set can always start")
    }

    /// The initiator's first frame, looking at single changes from `floor` up
    /// ([`window_floor`], [`Reconciler::initiate_from`]). [`SyncError::NeedsHistory`] when the
    /// session's set is windowed above `floor` (nothing changed: supply the whole set).
    pub fn start_from(&mut self, floor: Bound) -> Result<Frame, SyncError> {
        let message = self
            .reconciler
            .initiate_from(&self.shared.set, &floor)
            .map_err(reconcile_error)?;
        self.pending_reconcile = Some(message);
        let frame = Frame {
            session: self.session,
            hello: self.hello.take(),
            reconcile: self.pending_reconcile.take().map(|m| m.encode()),
            envelopes: Vec::new(),
            done: false,
            clock_ms: self.clock_to_send(),
            scope_version: None,
        };
        let frame = self.with_scope_version(frame);
        self.count_sent(&frame);
        Ok(frame)
    }

    /// Replaces a windowed set by the whole set it stood for (after
    /// [`SyncError::NeedsHistory`]): the same items as of the session's start, all listed.
    pub fn supply_history(&mut self, whole: Arc<SharedSet>) {
        debug_assert_eq!(
            whole.fingerprint(),
            self.shared.fingerprint(),
            "the whole set must hold the items the windowed one stood for"
        );
        self.shared = whole;
    }

    /// Number of items this side shares with the peer.
    pub fn shared_items(&self) -> usize {
        self.shared.set.len()
    }

    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// Takes in a frame from the peer (already decoded; `wire_len` is its encoded size) and
    /// returns the envelopes it carried that this node's scope wants, for the accept path.
    /// Envelopes this node should hold only as headers arrive stripped of their payload.
    ///
    /// [`SyncError::NeedsHistory`] leaves the session as it was: supply the whole set and
    /// receive the frame again.
    pub fn receive(&mut self, frame: &Frame, wire_len: usize) -> Result<Vec<Envelope>, SyncError> {
        let outcome = match &frame.reconcile {
            Some(bytes) => {
                let message =
                    Message::decode(bytes).map_err(|e| SyncError::Reconcile(e.to_string()))?;
                let outcome = self
                    .reconciler
                    .respond(&self.shared.set, &message)
                    .map_err(reconcile_error)?;
                Some(outcome)
            }
            None => None,
        };
        self.stats.frames_received += 1;
        self.stats.received_bytes += wire_len as u64;
        self.peer_done = frame.done;
        if let (Some(peer), Some(mine)) = (frame.clock_ms, self.clock_ms) {
            self.peer_offset_ms = Some(peer.saturating_sub(mine));
        }
        if let Some(outcome) = outcome {
            self.pending_reconcile = outcome.reply;
            // An empty reply: every range the peer named is settled, and the peer's message
            // named every range still open (ranges only narrow), so all is found.
            self.settled |= self.pending_reconcile.is_none();
            for item in outcome.send {
                self.enqueue(item);
            }
        } else {
            // The peer had nothing to answer: whatever we last sent settled the ranges.
            self.pending_reconcile = None;
            self.settled = true;
        }
        let mut out = Vec::with_capacity(frame.envelopes.len());
        for raw in &frame.envelopes {
            let Ok(env) = Envelope::from_bytes(raw) else {
                self.stats.malformed += 1;
                continue;
            };
            match self
                .me
                .wants(env.header.kind, &env.header.region, &env.header.reach)
            {
                Want::Nothing => self.stats.out_of_scope += 1,
                Want::Header => out.push(env.header_only()),
                Want::Full => out.push(env),
            }
        }
        self.stats.changes_received += out.len() as u64;
        Ok(out)
    }

    fn enqueue(&mut self, item: Item) {
        if let Some((id, s)) = self.shared.get(&item)
            && self.queued.insert(id)
        {
            self.found.push(Found {
                priority: s.priority,
                timestamp: item.timestamp,
                id,
                want: s.want,
            });
        }
    }

    /// Reads the author and sequence number of the changes found since the last frame (from
    /// their header form, through `load`) into the push queue. A change that no longer loads
    /// is dropped, as it would be at its push.
    fn read_found(&mut self, load: &mut dyn FnMut(&EnvelopeId, Want) -> Option<Vec<u8>>) {
        for f in std::mem::take(&mut self.found) {
            let Some(header) = load(&f.id, Want::Header)
                .and_then(|wire| Envelope::from_bytes(&wire).ok())
                .map(|env| env.header)
            else {
                continue;
            };
            let author = self.author_index(header.author);
            let creator = self.author_index(header.record.creator);
            self.queue.push(Pending {
                priority: f.priority,
                author,
                seq: header.seq,
                record: (creator, header.record.serial),
                timestamp: f.timestamp,
                id: f.id,
                want: f.want,
            });
            self.ordered = false;
        }
    }

    fn author_index(&mut self, key: PublicKey) -> u32 {
        let next = self.authors.len() as u32;
        *self.authors.entry(key).or_insert(next)
    }

    /// Puts the queue in push order ([`push_order`]) if something joined it since.
    fn order_queue(&mut self) {
        if !self.ordered {
            push_order(&mut self.queue);
            self.ordered = true;
        }
    }

    /// The next frame to send. `load` fetches the wire bytes of an envelope this node holds,
    /// in the form the peer wants it: without its payload for [`Want::Header`]
    /// ([`Envelope::to_bytes_in_form`]; a store that keeps envelopes in wire form can hand
    /// over its bytes as they are for [`Want::Full`]). It is also asked once for the header
    /// form of each change found for the peer, to read its author and sequence number.
    ///
    /// Pushes nothing before the session's reconciliation has settled, then each author's
    /// changes in log order (the module's "Push order").
    pub fn next_frame(
        &mut self,
        load: &mut dyn FnMut(&EnvelopeId, Want) -> Option<Vec<u8>>,
    ) -> Frame {
        let mut envelopes = Vec::new();
        let mut bytes = 0usize;
        self.read_found(load);
        if self.settled {
            self.order_queue();
        }
        while self.settled
            && let Some(p) = self.queue.last().copied()
        {
            let held = |(author, seq): (u32, u64)| {
                self.held_from.get(&author).is_some_and(|from| *from <= seq)
            };
            if held((p.author, p.seq))
                || held(p.record)
                || self.too_new_for_peer(p.timestamp as i64)
            {
                self.queue.pop();
                let from = self.held_from.entry(p.author).or_insert(p.seq);
                *from = (*from).min(p.seq);
                self.stats.held_back += 1;
                continue;
            }
            let Some(wire) = load(&p.id, p.want) else {
                self.queue.pop();
                continue;
            };
            if !envelopes.is_empty() && bytes + wire.len() > self.config.max_frame_envelope_bytes {
                break;
            }
            self.queue.pop();
            bytes += wire.len();
            envelopes.push(wire);
        }
        self.stats.changes_sent += envelopes.len() as u64;
        self.stats.envelope_bytes_sent += bytes as u64;
        let reconcile = self.pending_reconcile.take().map(|m| m.encode());
        let frame = Frame {
            session: self.session,
            hello: self.hello.take(),
            done: reconcile.is_none() && self.queue.is_empty(),
            reconcile,
            envelopes,
            clock_ms: self.clock_to_send(),
            scope_version: None,
        };
        let frame = self.with_scope_version(frame);
        self.count_sent(&frame);
        frame
    }

    fn count_sent(&mut self, frame: &Frame) {
        self.stats.frames_sent += 1;
        self.stats.sent_bytes += frame.encoded_len() as u64;
    }

    /// For the initiator, after receiving a response: true when the exchange is over (the peer
    /// said done and this side has nothing to send).
    pub fn finished(&self) -> bool {
        self.peer_done
            && self.pending_reconcile.is_none()
            && self.found.is_empty()
            && self.queue.is_empty()
    }
}

/// A loader for [`Session::next_frame`] over a [`Store`]: the envelope read and written in
/// the form the peer wants.
pub fn load_from<S: Store + ?Sized>(
    store: &S,
) -> impl FnMut(&EnvelopeId, Want) -> Option<Vec<u8>> + '_ {
    move |id, want| {
        let env = store.envelope(id).ok().flatten()?;
        Some(env.to_bytes_in_form(want != Want::Header))
    }
}

/// True when a frame says nothing: no reconciliation, no envelopes.
pub fn frame_is_empty(frame: &Frame) -> bool {
    frame.reconcile.is_none() && frame.envelopes.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accept::{AcceptConfig, accept_all};
    use crate::author::Target;
    use crate::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
    use crate::record::{FieldValue, RecordKind};
    use crate::region::RegionCode;
    use crate::store::{MemoryStore, Staged, Store};

    const T0: i64 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;

    /// A change of `author` (an index) at `seq` of push priority `priority`, editing the
    /// record `record` (creator index, serial), dated `timestamp`.
    fn pending(author: u32, seq: u64, priority: u8, record: (u32, u64), timestamp: u64) -> Pending {
        let mut id = [0; 32];
        id[0] = author as u8;
        id[1] = seq as u8;
        Pending {
            priority,
            author,
            seq,
            record,
            timestamp,
            id,
            want: Want::Full,
        }
    }

    fn order_of(mut queue: Vec<Pending>) -> Vec<(u32, u64, u8)> {
        push_order(&mut queue);
        queue
            .iter()
            .rev()
            .map(|p| (p.author, p.seq, p.priority))
            .collect()
    }

    #[test]
    fn the_push_order_keeps_logs_in_sequence_records_before_edits_and_urgent_kinds_first() {
        // Author 0: a post (4), a post edit of author 1's post, then a revocation (1), dated
        // out of order. Author 1: its post, created after author 0's first post. Author 2: a
        // lone worker record (6).
        let queue = vec![
            pending(0, 5, 1, (0, 5), 3000),
            pending(2, 9, 6, (2, 9), 500),
            pending(0, 4, 4, (1, 7), 2000),
            pending(1, 7, 4, (1, 7), 2500),
            pending(0, 3, 4, (0, 3), 1000),
        ];
        // The revocation takes author 0's older changes and the post its edit needs ahead
        // with it (priority 1); the edit waits for the post it edits although dated earlier.
        assert_eq!(
            order_of(queue),
            vec![(0, 3, 1), (1, 7, 1), (0, 4, 1), (0, 5, 1), (2, 9, 6)]
        );
        // Needs that go round in a circle (no signed logs make one) still push everything
        // once: what is ready first, then the circle from its least key.
        let circle = vec![
            pending(0, 2, 4, (1, 2), 100),
            pending(1, 2, 4, (0, 2), 200),
            pending(1, 1, 4, (1, 1), 300),
        ];
        assert_eq!(order_of(circle), vec![(1, 1, 4), (0, 2, 4), (1, 2, 4)]);
    }

    /// Found by the `sync_frame` fuzz target: postcard's `from_bytes` stops at the end of the
    /// value, so a frame with bytes after it decoded as if they were not there.
    #[test]
    fn a_frame_with_trailing_bytes_is_refused() {
        let frame = Frame {
            session: 7,
            envelopes: vec![vec![1, 2, 3]],
            done: true,
            clock_ms: Some(-5),
            ..Frame::default()
        };
        let mut bytes = frame.encode();
        assert_eq!(Frame::decode(&bytes), Ok(frame));
        bytes.push(0);
        assert!(
            matches!(Frame::decode(&bytes), Err(SyncError::Malformed(m)) if m.contains("1 unexpected bytes"))
        );
    }

    /// Version 1 of the frame, as the release before the clock exchange encoded it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct FrameV1 {
        session: u64,
        hello: Option<Vec<u8>>,
        reconcile: Option<Vec<u8>>,
        envelopes: Vec<Vec<u8>>,
        done: bool,
    }

    /// Version 2 of the frame, as the release before the scope version encoded it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct FrameV2 {
        session: u64,
        hello: Option<Vec<u8>>,
        reconcile: Option<Vec<u8>>,
        envelopes: Vec<Vec<u8>>,
        done: bool,
        clock_ms: Option<i64>,
    }

    #[test]
    fn a_frame_crosses_to_versions_1_and_2_and_back_without_what_they_lack() {
        let frame = Frame {
            session: 99,
            hello: Some(vec![7; 40]),
            reconcile: Some(vec![1, 2]),
            envelopes: vec![vec![3; 300], vec![4]],
            done: false,
            clock_ms: Some(1_765_000_000_000),
            scope_version: Some(3),
        };
        let v1 = frame_to_version(frame.encode(), 1).unwrap();
        let old: FrameV1 = postcard::from_bytes(&v1).unwrap();
        assert_eq!(
            postcard::to_allocvec(&old).unwrap(),
            v1,
            "exactly a version 1 frame"
        );
        assert_eq!(old.session, 99);
        assert_eq!(old.envelopes, frame.envelopes);
        let back = Frame::decode(&frame_from_version(v1, 1)).unwrap();
        assert_eq!(
            back,
            Frame {
                clock_ms: None,
                scope_version: None,
                ..frame.clone()
            }
        );
        // Version 2: the clock stays, the scope version goes (such a peer applies version 2's
        // rules and says nothing of them).
        let v2 = frame_to_version(frame.encode(), 2).unwrap();
        let old: FrameV2 = postcard::from_bytes(&v2).unwrap();
        assert_eq!(
            postcard::to_allocvec(&old).unwrap(),
            v2,
            "exactly a version 2 frame"
        );
        assert_eq!(old.clock_ms, frame.clock_ms);
        let back = Frame::decode(&frame_from_version(v2, 2)).unwrap();
        assert_eq!(
            back,
            Frame {
                scope_version: None,
                ..frame.clone()
            }
        );
        assert_eq!(back.peer_scope_version(), 2);
        assert_eq!(frame.peer_scope_version(), 3);
        // The current version passes through untouched.
        let bytes = frame.encode();
        assert_eq!(frame_to_version(bytes.clone(), 3).unwrap(), bytes);
        assert_eq!(frame_from_version(bytes.clone(), 3), bytes);
    }

    #[test]
    fn versions_are_negotiated_and_a_refusal_says_which_side_to_upgrade() {
        assert_eq!(protocol_id(PROTOCOL_VERSION), PROTOCOL_ID);
        assert_eq!(PROTOCOL_VERSIONS[0], PROTOCOL_VERSION);
        assert_eq!(protocol_version("/lingong/sync/12"), Some(12));
        assert_eq!(protocol_version("/lingong/sync/"), None);
        assert_eq!(protocol_version("/lingong/sync/+1"), None);
        assert_eq!(protocol_version("/ipfs/id/1.0.0"), None);
        // Adjacent releases: the newest version both speak.
        assert_eq!(compatibility(&[2, 1], &[2, 1]), Compatibility::Common(2));
        assert_eq!(compatibility(&[2, 1], &[1]), Compatibility::Common(1));
        assert_eq!(compatibility(&[2, 1], &[3, 2]), Compatibility::Common(2));
        // Two releases apart: the older side is told to upgrade.
        let newer = compatibility(&[2, 1], &[4, 3]);
        assert_eq!(newer, Compatibility::UpgradeThisNode { ours: 2, theirs: 4 });
        let advice = newer.advice().unwrap();
        assert!(advice.contains("upgrade lingong on this node") && advice.contains("请升级本节点"));
        let older = compatibility(&[4, 3], &[2, 1]);
        assert_eq!(older, Compatibility::UpgradePeer { ours: 4, theirs: 2 });
        let advice = older.advice().unwrap();
        assert!(advice.contains("upgrade lingong on the peer") && advice.contains("请升级对方"));
        assert_eq!(compatibility(&[2, 1], &[]), Compatibility::Unknown);
        assert!(Compatibility::Common(2).advice().is_none());
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn a_peer_speaking_version_1_syncs_with_this_release() {
        let mut h = Hierarchy::new(2);
        let regions = ["52", "5226", "522622", "522622101"];
        let mut a = published(&mut h, &regions);
        let mut b = a.clone();
        let certificates = a.items().unwrap().len();
        post(
            &mut h,
            &mut a,
            "522622101",
            "522622101",
            "township post",
            T0 + 1000,
        );
        post(&mut h, &mut b, "522622", "522622", "county post", T0 + 2000);
        let cfg = h.accept_config();
        let (sa_scope, sb_scope) = (Scope::new(code("522622101")), Scope::new(code("522622")));
        let mut sa = Session::new(
            1,
            sa_scope,
            sb_scope,
            &a.items().unwrap(),
            vec![],
            SyncConfig::default(),
        );
        sa.set_clock(T0 + 3000);
        // The version 1 side: its frames cross the wire in version 1 form both ways.
        let mut sb = Session::new(
            1,
            sb_scope,
            sa_scope,
            &b.items().unwrap(),
            vec![],
            SyncConfig::default(),
        );
        let wire = |f: &Frame| frame_from_version(frame_to_version(f.encode(), 1).unwrap(), 1);
        let mut frame = sa.start();
        let now = T0 + 3000;
        for _ in 0..1000 {
            let bytes = wire(&frame);
            let got = sb
                .receive(&Frame::decode(&bytes).unwrap(), bytes.len())
                .unwrap();
            commit_all(&cfg, &mut b, &got, now);
            let reply = sb.next_frame(&mut load_from(&b));
            let bytes = wire(&reply);
            let reply = Frame::decode(&bytes).unwrap();
            assert_eq!(reply.clock_ms, None);
            let got = sa.receive(&reply, bytes.len()).unwrap();
            commit_all(&cfg, &mut a, &got, now);
            let next = sa.next_frame(&mut load_from(&a));
            if sa.finished() && frame_is_empty(&next) {
                break;
            }
            frame = next;
        }
        assert!(sa.finished());
        assert_eq!(
            sa.peer_clock_offset_ms(),
            None,
            "no clock from a version 1 peer"
        );
        let ids = |s: &MemoryStore| {
            s.items()
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(ids(&a), ids(&b), "both hold both posts");
        assert_eq!(ids(&a).len(), certificates + 2);
    }

    /// A placement made at village 522622101002 and held at its township: a sibling village of
    /// version 3 gets it from the township; one of version 2 is not sent it (it would drop it
    /// as out of its scope, and every session would find and carry it again), and a second
    /// session between them settles with nothing to move. The township keeps one shared set
    /// per peer scope, version included.
    #[test]
    fn a_sibling_placement_goes_to_a_version_3_village_and_never_to_a_version_2_one() {
        let mut h = Hierarchy::new(2);
        let regions = [
            "52",
            "5226",
            "522622",
            "522622101",
            "522622101001",
            "522622101002",
        ];
        let mut township = published(&mut h, &regions);
        let village = township.clone();
        let placement = create(
            &mut h,
            &mut township,
            "522622101002",
            Target::Create {
                kind: RecordKind::Placement,
                reach: None,
            },
            &[("status", FieldValue::Text("active".into()))],
            T0 + 1000,
        );
        let cfg = h.accept_config();
        let now = T0 + 2000;
        let t_scope = Scope::new(code("522622101"));
        let v_scope = Scope::new(code("522622101001"));
        let old = v_scope.at_version(2);
        let items = township.items().unwrap();
        let for_new = SharedSet::build(&t_scope, &v_scope, &items);
        let for_old = SharedSet::build(&t_scope, &old, &items);
        assert_eq!(
            for_new.len(),
            for_old.len() + 1,
            "only the placement differs"
        );

        let mut new_village = village.clone();
        let (vs, ts) = sync(
            &cfg,
            &mut new_village,
            v_scope,
            &mut township.clone(),
            t_scope,
            now,
        );
        assert!(new_village.envelope(&placement).unwrap().is_some());
        assert_eq!((vs.changes_received, ts.changes_sent), (1, 1));
        assert_eq!(vs.out_of_scope, 0);

        let mut old_village = village.clone();
        let (vs, ts) = sync(
            &cfg,
            &mut old_village,
            old,
            &mut township.clone(),
            t_scope,
            now,
        );
        assert!(old_village.envelope(&placement).unwrap().is_none());
        assert_eq!(
            (vs.changes_received, ts.changes_sent, vs.out_of_scope),
            (0, 0, 0)
        );
        let (vs, ts) = sync(
            &cfg,
            &mut old_village,
            old,
            &mut township.clone(),
            t_scope,
            now,
        );
        assert_eq!((vs.changes_received, ts.changes_sent), (0, 0));
        assert_eq!(
            (vs.frames_received, vs.received_bytes < 16),
            (1, true),
            "settled at the first message, answered with an empty frame: {vs:?}"
        );
        // The same holds the other way round: the version 2 village initiates or responds.
        let (ts, vs) = sync(
            &cfg,
            &mut township.clone(),
            t_scope,
            &mut old_village,
            old,
            now,
        );
        assert_eq!((ts.changes_sent, vs.changes_received), (0, 0));
    }

    /// Creates a record of `kind` signed by the station of `region`, into `store`; returns
    /// its envelope id.
    fn create(
        h: &mut Hierarchy,
        store: &mut MemoryStore,
        region: &str,
        target: Target,
        edits: &[(&str, FieldValue)],
        at: i64,
    ) -> EnvelopeId {
        h.write(store, &code(region), target, edits, at).id()
    }

    fn post(
        h: &mut Hierarchy,
        store: &mut MemoryStore,
        region: &str,
        reach: &str,
        title: &str,
        at: i64,
    ) {
        let target = Target::Create {
            kind: RecordKind::Post,
            reach: Some(code(reach)),
        };
        create(
            h,
            store,
            region,
            target,
            &[("title", FieldValue::Text(title.into()))],
            at,
        );
    }

    /// A store holding the certificate records of the stations of `regions`.
    fn published(h: &mut Hierarchy, regions: &[&str]) -> MemoryStore {
        let mut store = MemoryStore::new();
        for r in regions {
            h.publish(&mut store, &code(r), T0);
        }
        store
    }

    /// Runs a whole session between two stores, accepting what arrives; returns both stats.
    fn sync(
        cfg: &AcceptConfig,
        a: &mut MemoryStore,
        a_scope: Scope,
        b: &mut MemoryStore,
        b_scope: Scope,
        now: i64,
    ) -> (SyncStats, SyncStats) {
        let mut sa = Session::new(
            1,
            a_scope,
            b_scope,
            &a.items().unwrap(),
            vec![],
            SyncConfig::default(),
        );
        let mut sb = Session::new(
            1,
            b_scope,
            a_scope,
            &b.items().unwrap(),
            vec![],
            SyncConfig::default(),
        );
        let mut frame = sa.start();
        for _ in 0..1000 {
            let got = sb.receive(&frame, frame.encode().len()).unwrap();
            commit_all(cfg, b, &got, now);
            let reply = sb.next_frame(&mut load_from(&*b));
            let got = sa.receive(&reply, reply.encode().len()).unwrap();
            commit_all(cfg, a, &got, now);
            let next = sa.next_frame(&mut load_from(&*a));
            if sa.finished() && frame_is_empty(&next) {
                return (sa.stats(), sb.stats());
            }
            frame = next;
        }
        panic!("session did not finish");
    }

    fn commit_all(cfg: &AcceptConfig, store: &mut MemoryStore, envs: &[Envelope], now: i64) {
        let mut staged = Staged::new(&*store);
        for r in accept_all(&mut staged, cfg, envs, now) {
            r.unwrap();
        }
        let batch = staged.into_batch();
        store.commit(batch).unwrap();
    }

    #[test]
    fn a_session_over_a_prebuilt_shared_set_starts_like_one_built_from_items() {
        let mut h = Hierarchy::new(2);
        let mut t = published(&mut h, &["52", "5226", "522622", "522622101"]);
        post(&mut h, &mut t, "522622", "522622", "county post", T0 + 1000);
        let (me, peer) = (
            Scope::new(code("522622101")),
            Scope::new(code("522622101001")),
        );
        let items = t.items().unwrap();
        let shared = Arc::new(SharedSet::build(&me, &peer, &items));
        let mut a = Session::new(3, me, peer, &items, vec![], SyncConfig::default());
        let mut b = Session::with_shared(3, me, Arc::clone(&shared), vec![], SyncConfig::default());
        assert_eq!(a.shared_items(), shared.len());
        assert_eq!(a.start(), b.start());
    }

    #[test]
    fn a_frames_encoded_len_is_the_length_of_its_encoding() {
        let lens = [0usize, 1, 127, 128, 16_383, 16_384, 70_000];
        for (i, &n) in lens.iter().enumerate() {
            let frame = Frame {
                session: [0, 127, 128, u64::MAX][i % 4],
                hello: (i % 2 == 0).then(|| vec![7; n]),
                reconcile: (i % 3 != 0).then(|| vec![1; lens[(i + 3) % lens.len()]]),
                envelopes: lens[..i].iter().map(|&m| vec![2; m]).collect(),
                done: i % 2 == 1,
                clock_ms: [
                    None,
                    Some(0),
                    Some(-1),
                    Some(T0),
                    Some(i64::MIN),
                    Some(i64::MAX),
                ][i % 6],
                scope_version: [None, Some(0), Some(3), Some(u32::MAX)][i % 4],
            };
            assert_eq!(frame.encoded_len(), frame.encode().len(), "case {i}");
        }
    }

    #[test]
    fn a_shared_set_kept_by_insertion_equals_one_built_at_once() {
        let mut h = Hierarchy::new(2);
        let mut t = MemoryStore::new();
        for r in ["52", "5226", "522622", "522622101", "522622102"] {
            h.publish(&mut t, &code(r), T0);
        }
        post(&mut h, &mut t, "522622", "522622", "county post", T0 + 1000);
        post(
            &mut h,
            &mut t,
            "522622102",
            "522622102",
            "other township",
            T0 + 2000,
        );
        let (me, peer) = (Scope::new(code("522622")), Scope::new(code("522622101")));
        let items = t.items().unwrap();
        let built = SharedSet::build(&me, &peer, &items);
        let mut kept = SharedSet::build(&me, &peer, &[]);
        // Newest first, one of them twice, each stripped of its payload first (listed in its
        // header form where the link carries the whole envelope, replaced once the payload is
        // held).
        for m in items.iter().rev() {
            let key = item_key(&m.id);
            let header_only = ItemMeta {
                has_payload: false,
                ..*m
            };
            kept.insert_keyed(&me, &peer, &header_only, key);
            kept.insert_keyed(&me, &peer, m, key);
            assert!(!kept.insert_keyed(&me, &peer, m, key));
        }
        assert_eq!(kept.set, built.set);
        assert_eq!(kept.info, built.info);
        assert_eq!(kept.header_forms, built.header_forms);
        assert!(
            built.len() < items.len(),
            "the other township's post is not shared"
        );
    }

    /// A worker record registered by the station of `region`, into `store`. The county and
    /// the stations under it keep worker records whole, the city only their headers (real
    /// names stay in the county).
    fn register_worker(
        h: &mut Hierarchy,
        store: &mut MemoryStore,
        region: &str,
        at: i64,
    ) -> EnvelopeId {
        let target = Target::Create {
            kind: RecordKind::Worker,
            reach: None,
        };
        create(
            h,
            store,
            region,
            target,
            &[("name", FieldValue::Text("张三".into()))],
            at,
        )
    }

    #[test]
    fn a_header_held_where_the_peer_holds_the_whole_record_is_settled_or_filled() {
        let mut h = Hierarchy::new(1);
        let cfg = h.accept_config();
        let (city_scope, county_scope) = (Scope::new(code("5226")), Scope::new(code("522622")));
        let mut city = MemoryStore::new();
        let mut county = MemoryStore::new();
        for r in ["52", "5226", "522622"] {
            h.publish(&mut city, &code(r), T0);
            h.publish(&mut county, &code(r), T0);
        }
        let worker = register_worker(&mut h, &mut county, "522622", T0 + 1000);
        let now = T0 + 10_000;
        // The first session carries the header up; the city keeps only that.
        let (_, up) = sync(&cfg, &mut city, city_scope, &mut county, county_scope, now);
        assert_eq!(up.changes_sent, 1);
        assert!(city.envelopes[&worker].payload.is_none());
        // The city's header and the county's whole record are in sync: nothing moves (the
        // county used to push the header again in every session).
        let (down, up) = sync(&cfg, &mut city, city_scope, &mut county, county_scope, now);
        assert_eq!(down.changes_sent + up.changes_sent, 0);

        // A township holding only the header of a worker one of its villages registered, where
        // it wants the whole record, lists it apart and gets the payload filled from the
        // county; after that nothing moves.
        let (township_code, village_code) = ("522622101", "522622101001");
        let township_scope = Scope::new(code(township_code));
        let mut township = MemoryStore::new();
        for r in ["52", "5226", "522622", township_code, village_code] {
            h.publish(&mut township, &code(r), T0);
            h.publish(&mut county, &code(r), T0);
        }
        let township_with_county = |township: &mut MemoryStore, county: &mut MemoryStore| {
            sync(&cfg, township, township_scope, county, county_scope, now)
        };
        township_with_county(&mut township, &mut county);
        let worker = register_worker(&mut h, &mut county, village_code, T0 + 2000);
        let header = county.envelopes[&worker].header_only();
        commit_all(&cfg, &mut township, &[header], now);
        let (from_township, to_township) = township_with_county(&mut township, &mut county);
        assert_eq!(to_township.changes_sent, 1);
        assert!(from_township.changes_sent <= 1, "at most the header, once");
        assert!(township.envelopes[&worker].payload.is_some());
        let (a, b) = township_with_county(&mut township, &mut county);
        assert_eq!(a.changes_sent + b.changes_sent, 0);
    }

    #[test]
    fn village_and_township_exchange_exactly_what_their_scopes_share() {
        let mut h = Hierarchy::new(1);
        let cfg = h.accept_config();
        let (village, township, county, other) = ("522622101001", "522622101", "522622", "522623");
        let mut v = MemoryStore::new();
        let mut t = MemoryStore::new();
        for r in ["52", "5226", county, township, village] {
            h.publish(&mut v, &code(r), T0);
        }
        for r in ["52", "5226", county, township, other] {
            h.publish(&mut t, &code(r), T0);
        }
        post(&mut h, &mut v, village, village, "village post", T0 + 1000);
        post(&mut h, &mut t, county, county, "county post", T0 + 2000);
        post(&mut h, &mut t, other, other, "other county post", T0 + 3000);
        let (sv, st) = sync(
            &cfg,
            &mut v,
            Scope::new(code(village)),
            &mut t,
            Scope::new(code(township)),
            T0 + 10_000,
        );
        let titles = |s: &MemoryStore| {
            let mut t: Vec<String> = s
                .records
                .values()
                .filter(|r| r.kind == RecordKind::Post)
                .map(|r| r.view["title"].as_str().unwrap().to_string())
                .collect();
            t.sort();
            t
        };
        assert_eq!(
            titles(&t),
            vec!["county post", "other county post", "village post"]
        );
        assert_eq!(titles(&v), vec!["county post", "village post"]);
        assert!(sv.changes_sent >= 2 && st.changes_sent >= 1);
        // A second session finds nothing new to send.
        let (sv2, st2) = sync(
            &cfg,
            &mut v,
            Scope::new(code(village)),
            &mut t,
            Scope::new(code(township)),
            T0 + 20_000,
        );
        assert_eq!(sv2.changes_sent + st2.changes_sent, 0);
    }

    /// The floor `ms` milliseconds into the run (timestamp-only, like [`window_floor`]'s).
    fn floor_at(ms: i64) -> Bound {
        window_floor(
            Some(ms),
            &SyncConfig {
                window_margin_ms: 0,
                ..SyncConfig::default()
            },
        )
    }

    #[test]
    fn the_window_floor_is_the_margin_below_the_last_completed_session() {
        let config = SyncConfig::default();
        assert_eq!(window_floor(None, &config), Bound::MIN);
        assert_eq!(window_floor(Some(1000), &config), Bound::MIN);
        let last = T0 + 10 * 86_400_000;
        assert_eq!(
            window_floor(Some(last), &config),
            Bound::finite((last - DEFAULT_WINDOW_MARGIN_MS) as u64, &[]).unwrap()
        );
    }

    #[test]
    fn a_windowed_set_fed_fresh_envelopes_equals_the_whole_set_windowed() {
        let mut h = Hierarchy::new(2);
        let mut t = published(&mut h, &["52", "5226", "522622", "522622101"]);
        let (me, peer) = (Scope::new(code("522622")), Scope::new(code("522622101")));
        let floor = floor_at(T0 + 5_000);
        let old = t.items().unwrap();
        let mut kept = SharedSet::build(&me, &peer, &old);
        kept.raise_floor(floor);
        assert!(kept.floor() == floor && kept.set.unlisted() > 0);
        // Envelopes below the floor (a late post and a worker record arriving as a header, then
        // filled) and above it, taken in one by one.
        post(&mut h, &mut t, "522622", "522622", "late", T0 + 1000);
        register_worker(&mut h, &mut t, "522622101", T0 + 2000);
        post(&mut h, &mut t, "522622", "522622", "new", T0 + 9000);
        register_worker(&mut h, &mut t, "522622101", T0 + 9500);
        let all = t.items().unwrap();
        for m in all.iter().filter(|m| !old.contains(m)) {
            let key = item_key(&m.id);
            let header_only = ItemMeta {
                has_payload: false,
                ..*m
            };
            kept.insert_fresh(&me, &peer, &header_only, key, false);
            kept.insert_fresh(&me, &peer, m, key, true);
        }
        let mut whole = SharedSet::build(&me, &peer, &all);
        assert_eq!(kept.fingerprint(), whole.fingerprint());
        whole.raise_floor(floor);
        assert_eq!(kept, whole);
        assert_eq!(
            kept.set.items().len(),
            2,
            "the two new envelopes are listed"
        );
    }

    /// [`sync`] with each side over its shared set windowed at `floor`, the initiator starting
    /// from `floor`, and each side's clock (`clocks`, a's then b's) sent and used to accept;
    /// a side asked for what lies below takes its whole set (as of the session's start).
    /// Returns both stats and how many times a side needed its whole set.
    fn sync_from(
        cfg: &AcceptConfig,
        a: &mut MemoryStore,
        a_scope: Scope,
        b: &mut MemoryStore,
        b_scope: Scope,
        clocks: (i64, i64),
        floor: Bound,
    ) -> (SyncStats, SyncStats, usize) {
        let whole_a = Arc::new(SharedSet::build(&a_scope, &b_scope, &a.items().unwrap()));
        let whole_b = Arc::new(SharedSet::build(&b_scope, &a_scope, &b.items().unwrap()));
        let windowed = |whole: &Arc<SharedSet>| {
            let mut set = SharedSet::clone(whole);
            set.raise_floor(floor);
            Arc::new(set)
        };
        let config = SyncConfig::default();
        let mut sa = Session::with_shared(1, a_scope, windowed(&whole_a), vec![], config);
        let mut sb = Session::with_shared(1, b_scope, windowed(&whole_b), vec![], config);
        sa.set_clock(clocks.0);
        sb.set_clock(clocks.1);
        let mut fallbacks = 0;
        let mut receive = |s: &mut Session, whole: &Arc<SharedSet>, frame: &Frame| match s
            .receive(frame, frame.encode().len())
        {
            Err(SyncError::NeedsHistory) => {
                fallbacks += 1;
                s.supply_history(Arc::clone(whole));
                s.receive(frame, frame.encode().len()).unwrap()
            }
            got => got.unwrap(),
        };
        let mut frame = sa.start_from(floor).unwrap();
        for _ in 0..1000 {
            let got = receive(&mut sb, &whole_b, &frame);
            commit_all(cfg, b, &got, clocks.1);
            let reply = sb.next_frame(&mut load_from(&*b));
            let got = receive(&mut sa, &whole_a, &reply);
            commit_all(cfg, a, &got, clocks.0);
            let next = sa.next_frame(&mut load_from(&*a));
            if sa.finished() && frame_is_empty(&next) {
                assert_eq!(sa.peer_clock_offset_ms(), Some(clocks.1 - clocks.0));
                assert_eq!(sb.peer_clock_offset_ms(), Some(clocks.0 - clocks.1));
                return (sa.stats(), sb.stats(), fallbacks);
            }
            frame = next;
        }
        panic!("session did not finish");
    }

    const VILLAGE: &str = "522622101001";
    const TOWNSHIP: &str = "522622101";

    /// A village station and its township, each store holding the certificate records of the
    /// chain down to both.
    struct Pair {
        h: Hierarchy,
        cfg: AcceptConfig,
        vs: Scope,
        ts: Scope,
        v: MemoryStore,
        t: MemoryStore,
    }

    fn village_and_township() -> Pair {
        let mut h = Hierarchy::new(1);
        let cfg = h.accept_config();
        let regions = ["52", "5226", "522622", TOWNSHIP, VILLAGE];
        let v = published(&mut h, &regions);
        let t = published(&mut h, &regions);
        Pair {
            h,
            cfg,
            vs: Scope::new(code(VILLAGE)),
            ts: Scope::new(code(TOWNSHIP)),
            v,
            t,
        }
    }

    #[test]
    fn a_session_from_a_floor_moves_recent_changes_and_finds_old_ones_through_the_whole_set() {
        let mut p = village_and_township();
        let (village, township) = (VILLAGE, TOWNSHIP);
        let now = T0 + 100_000;
        sync(&p.cfg, &mut p.v, p.vs, &mut p.t, p.ts, now);
        let floor = floor_at(T0 + 50_000);
        // Recent on both sides: settled above the floor, the old history one fingerprint.
        post(
            &mut p.h,
            &mut p.v,
            village,
            village,
            "village post",
            T0 + 60_000,
        );
        post(
            &mut p.h,
            &mut p.t,
            township,
            township,
            "township post",
            T0 + 61_000,
        );
        let (up, down, fallbacks) =
            sync_from(&p.cfg, &mut p.v, p.vs, &mut p.t, p.ts, (now, now), floor);
        assert_eq!((up.changes_sent, down.changes_sent, fallbacks), (1, 1, 0));
        assert_eq!(p.v.items().unwrap().len(), p.t.items().unwrap().len());
        // A change older than the floor that only the township holds: the fingerprint below
        // the floor differs, both sides take their whole set, and it arrives.
        post(&mut p.h, &mut p.t, township, township, "late", T0 + 10_000);
        let (up, down, fallbacks) =
            sync_from(&p.cfg, &mut p.v, p.vs, &mut p.t, p.ts, (now, now), floor);
        assert_eq!((up.changes_sent, down.changes_sent), (0, 1));
        assert!(fallbacks >= 1);
        assert_eq!(p.v.items().unwrap().len(), p.t.items().unwrap().len());
        let (up, down, fallbacks) =
            sync_from(&p.cfg, &mut p.v, p.vs, &mut p.t, p.ts, (now, now), floor);
        assert_eq!((up.changes_sent, down.changes_sent, fallbacks), (0, 0, 0));
    }

    #[test]
    fn a_change_the_peers_clock_would_date_from_the_future_waits_until_it_catches_up() {
        let mut p = village_and_township();
        let township = TOWNSHIP;
        let now = T0 + 3 * 86_400_000;
        post(&mut p.h, &mut p.t, township, township, "township post", now);
        // The village's clock is 30 hours behind: the post would be dated from the future
        // there, so the township holds it back instead of sending it to be refused.
        let behind = now - 30 * 3_600_000;
        let (up, down, _) = sync_from(
            &p.cfg,
            &mut p.v,
            p.vs,
            &mut p.t,
            p.ts,
            (behind, now),
            Bound::MIN,
        );
        assert_eq!(
            (up.changes_sent, down.changes_sent, down.held_back),
            (0, 0, 1)
        );
        assert!(p.v.items().unwrap().len() < p.t.items().unwrap().len());
        // Six hours later by the village's clock it is due, and it goes.
        let later = behind + 6 * 3_600_000 + 1;
        let (_, down, _) = sync_from(
            &p.cfg,
            &mut p.v,
            p.vs,
            &mut p.t,
            p.ts,
            (later, now),
            Bound::MIN,
        );
        assert_eq!((down.changes_sent, down.held_back), (1, 0));
        assert_eq!(p.v.items().unwrap().len(), p.t.items().unwrap().len());
    }
}
