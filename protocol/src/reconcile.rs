//! Range-based set reconciliation: two peers, each holding a sorted set of `(timestamp, id)`
//! items (the ids of the signed changes they store), find out which items each side holds and
//! the other lacks, over a weak link, in few rounds and few bytes. Sans-IO and stateless: a
//! [`Reconciler`] turns an incoming [`Message`] plus the local [`ItemSet`] into a reply plus
//! the ids to push; the caller moves the bytes and the items.
//!
//! The design follows Negentropy (hoytech/negentropy) and iroh-docs' `ranger.rs`: the item space
//! is cut into ranges; for each range a side sends either nothing (*Skip*), a fingerprint of its
//! items there, or the full list of its ids there; the peer compares with its own items in the
//! same range and answers range by range, splitting the ranges that differ, until every range
//! is settled. Two additions make it cheaper on the byte budget and give *both* sides their
//! push list:
//!
//! 1. **Additive fingerprints with single-difference decoding.** A range's fingerprint is the
//!    item count plus the sum, modulo 2^128, of each item's *key* (`sha256(id)[..16]` read as a
//!    little-endian integer). When the counts differ by exactly one, the difference of the sums
//!    is the key of the one extra item (if that is the only difference), so the range is settled
//!    without descending any further: the side holding the extra item finds it by key and pushes
//!    it; the side lacking it answers with a 16-byte *Need* naming the key. Equal count and sum
//!    means equal sets except with probability about 2^-128 per comparison, the same strength as
//!    Negentropy's 16-byte hash of (sum, count). A decoded key that matches no item just means the
//!    range had more than one difference; it is then split like any other.
//! 2. **Need replies instead of echoed id lists.** A side that receives the peer's full id list
//!    for a range knows everything about that range. It answers with the keys of the ids it
//!    lacks (a *Need*, 16 bytes each), and nothing when it lacks none, rather than echoing its own
//!    id list. So ids travel over the wire once, and the new items themselves never do (the
//!    caller pushes the items, which carry their ids).
//!
//! # Items and fingerprints
//!
//! [`Item`]s are ordered by `(timestamp, id)`. An id is assumed to identify one item (ids are
//! hashes of the signed change, which covers its timestamp); two items with the same id and
//! different timestamps are corrupt input and may not be told apart by an id list. An
//! [`ItemSet`] is sorted and deduplicated and keeps prefix sums of the keys, so the
//! [`Fingerprint`] of any index range is one subtraction.
//!
//! # Per-range rules
//!
//! A range is `[lower, upper)` where `lower` is the previous range's upper bound (the first
//! range starts below every item) and the last one usually ends at infinity. `ours` / `theirs`
//! are the counts of this side's and the peer's items in the range, `t` is
//! [`ReconcileConfig::id_list_threshold`], `b` is [`ReconcileConfig::branching`].
//!
//! | incoming for the range | condition (first match wins) | this side records | reply for the range |
//! |---|---|---|---|
//! | Skip | | | Skip |
//! | Fingerprint | same count and sum | | Skip |
//! | Fingerprint | `theirs == 0` | send: all ours | Skip |
//! | Fingerprint | `ours == 0` | | Fingerprint of 0 items ("push me all of yours") |
//! | Fingerprint | `ours == theirs + 1` and the decoded key is one of ours | send: that item | Skip |
//! | Fingerprint | `theirs == ours + 1` and the decoded key is not one of ours | | Need(decoded key) |
//! | Fingerprint | otherwise, `ours < t` | | IdList(ours) |
//! | Fingerprint | otherwise, `theirs < t` | | Fingerprint(ours): the peer will answer with its IdList |
//! | Fingerprint | otherwise | | split ours into `b` sub-ranges of equal count, a Fingerprint each |
//! | IdList(theirs) | we lack none of theirs | send: ours not in theirs | Skip |
//! | IdList(theirs) | we lack some | send: ours not in theirs; need: theirs not in ours | Need(keys of the ones we lack) |
//! | Need(keys) | every key is one of our items in the range | send: those items | Skip |
//! | Need(keys) | some key matches nothing (more than one difference) | | IdList(ours) if `ours < t`, else split |
//!
//! **Who learns what.** Every item a side holds and the peer lacks ends up in exactly one of
//! that side's [`Outcome::send`] lists over the session (duplicates can only appear after a
//! message was cut to the tail fingerprint described below; [`reconcile_in_memory`] dedups):
//! either the side settles the range itself (its peer's fingerprint or id list told it enough),
//! or the peer tells it with a Need. So both sides push without a separate request round.
//! [`Outcome::need`] is informational and partial: it lists the ids a side learned it lacks from
//! an incoming id list. Items it lacks that were settled by count/sum decoding or by "push me
//! all" are pushed by the peer without their ids ever having been on the wire.
//!
//! A side whose reply would be all Skip returns `reply: None`: it has nothing more to say, and
//! because every range it received is settled, the session is over.
//!
//! # Bounded messages
//!
//! A reply is built range by range. Before a range's reply is added, the builder checks that the
//! message stays within [`ReconcileConfig::max_message_bytes`] with room left for one final
//! entry. If the reply does not fit, it tries, in order: the smaller fallback (an incoming id
//! list answered with our own id list or a split instead of a long Need), then just our own
//! fingerprint of the range (the peer will split it next round), and finally one Fingerprint of
//! everything from this range up to infinity, after which the message ends. The fingerprint
//! entries carry the rest of the work into the next round, so a large difference converges
//! over several bounded messages. The first non-Skip range of every message always gets its
//! full answer ([`ReconcileConfig::min_message_bytes`] guarantees the room), so the leftmost
//! unsettled range makes progress every round and the session terminates.
//!
//! # Wire format
//!
//! ```text
//! message  = version:u8 (= 1)  entry*
//! entry    = ts:varint  head:u8  prefix:[u8; head >> 2]  payload
//! ts       = 0 for the infinite bound, else 1 + (timestamp - timestamp of the previous bound)
//!            (the first bound's "previous" is 0)
//! head     = mode (low 2 bits: 0 Skip, 1 Fingerprint, 2 IdList, 3 Need) | prefix_len << 2
//! prefix   = the first prefix_len (<= 32) bytes of the bound's id; the rest is zero
//! payload  = Skip: nothing
//!          | Fingerprint: count:varint, then sum:[u8; 16] if count > 0
//!          | IdList: count:varint, count x id:[u8; 32]
//!          | Need: count:varint (>= 1), count x key:[u8; 16]
//! ```
//!
//! Varints are unsigned LEB128, minimal length. Bounds are strictly increasing, nothing follows
//! the infinite bound, Skips are never consecutive and never last (the space after the last
//! entry is implicitly skipped). A split bound is the shortest one separating two neighbouring
//! items: the later item's timestamp alone if the timestamps differ, else that timestamp plus the
//! shortest id prefix that is greater than the earlier item's id. [`Message::decode`] accepts
//! exactly the canonical encodings ([`Message::encode`] of the result gives the input back) and
//! never allocates more than a small multiple of the input length: every declared length is
//! checked against the bytes actually present before anything is reserved.
//!
//! # Cost
//!
//! Measured by `protocol/tests/reconcile_props.rs` with the default configuration (`b = 16`,
//! `t = 8`), 100,000 shared items and 100 items held by one side only: about 1.5 KB in 5 or 6
//! messages when the 100 are the most recent items (4.9 KB in 7 when both sides made 50 each),
//! 13 to 14 KB in 4 to 6 messages when they are spread uniformly over the whole set: 15 and
//! about 140 bytes per differing item, against ~600 bytes for each signed change itself.
//! Smaller `b` trades messages for bytes (`b = 4`: ~8 KB spread, but up to 16 messages).
//!
//! # Security
//!
//! The sum is linear, so an adversary able to get chosen items into both peers' sets could grind
//! ids whose key sums collide and hide a difference (Negentropy shares this property). Such a
//! collision hides items until the sets change; it cannot make either side accept anything, as
//! every pushed item is still verified by its signature. A peer that lies can only withhold its
//! own data, which it could do anyway.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The version byte that starts every encoded [`Message`].
pub const PROTOCOL_VERSION: u8 = 1;

/// An item's id: the hash of the signed change it stands for.
pub type ItemId = [u8; 32];

/// An item's key: `sha256(id)[..16]`, the value summed into fingerprints and named by Needs.
pub type ItemKey = [u8; 16];

/// One element of a reconciled set, ordered by `(timestamp, id)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Item {
    pub timestamp: u64,
    pub id: ItemId,
}

impl Item {
    pub const fn new(timestamp: u64, id: ItemId) -> Item {
        Item { timestamp, id }
    }
}

/// The key of an id: `sha256(id)[..16]`. Hashing first keeps structured ids (counters, repeated
/// bytes) from producing colliding sums.
pub fn item_key(id: &ItemId) -> ItemKey {
    let digest = Sha256::digest(id);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The additive digest of a set of items: the sum modulo 2^128 of their keys (as little-endian
/// integers), in little-endian bytes. Compared together with the item count.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    /// The fingerprint of no items.
    pub const EMPTY: Fingerprint = Fingerprint([0; 16]);

    fn from_sum(sum: u128) -> Fingerprint {
        Fingerprint(sum.to_le_bytes())
    }

    fn sum(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
}

/// The set one side reconciles: sorted, deduplicated, with prefix sums of the item keys so the
/// fingerprint of any range of positions is O(1).
///
/// A set may be *windowed*: the items below its [`floor`](ItemSet::floor) are not listed, only
/// their number and the sum of their keys are known. Such a set answers every message whose
/// ranges below the floor match as a whole (the routine case: a peer that reconciles recent
/// changes and checks everything older with one fingerprint); a message that needs to look
/// into the unlisted part gets [`ReconcileError::NeedsHistory`], and the caller starts again
/// with the whole set. A windowed set costs memory and time for its recent items only.
///
/// Positions (what [`ItemSet::len`], [`ItemSet::fingerprint`] and [`ItemSet::lower_bound`]
/// speak of) count the unlisted items first; indices of [`ItemSet::items`] (what
/// [`ItemSet::position`], [`ItemSet::insert_keyed_at`] and [`ItemSet::remove_at`] return)
/// count the listed ones only. They agree on a whole set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemSet {
    /// The listed items: every item at or above `floor`.
    items: Vec<Item>,
    /// `prefix[i]` is the sum of the keys of `items[..i]`; `prefix.len() == items.len() + 1`.
    /// (An item's own key is the difference of two neighbours: no separate key array.)
    prefix: Vec<u128>,
    /// Items below this bound are not listed ([`Bound::MIN`] for a whole set).
    floor: Bound,
    /// How many items lie below `floor`, and the sum of their keys.
    below: usize,
    below_sum: u128,
}

impl Default for ItemSet {
    fn default() -> ItemSet {
        ItemSet::from_unsorted(Vec::new())
    }
}

impl ItemSet {
    /// Sorts and deduplicates `items` and computes their keys and prefix sums.
    pub fn from_unsorted(items: Vec<Item>) -> ItemSet {
        ItemSet::from_unsorted_keyed(
            items
                .into_iter()
                .map(|item| (item, item_key(&item.id)))
                .collect(),
        )
    }

    /// [`ItemSet::from_unsorted`] for a caller that keeps each item's [`item_key`] beside it
    /// (hashing is most of the cost of building a set). Every key must be `item_key(&item.id)`:
    /// a wrong key makes fingerprints disagree with the peer's, so reconciliation sends the
    /// items again rather than losing them, but checked in debug builds.
    pub fn from_unsorted_keyed(keyed: Vec<(Item, ItemKey)>) -> ItemSet {
        let with_unit = keyed
            .into_iter()
            .map(|(item, key)| (item, key, ()))
            .collect();
        ItemSet::from_unsorted_keyed_with(with_unit).0
    }

    /// [`ItemSet::from_unsorted_keyed`] for items that each carry a value of the caller's:
    /// returns the set and the values in the set's order (for a duplicated item, the first
    /// one's value).
    pub fn from_unsorted_keyed_with<T: Copy>(
        mut keyed: Vec<(Item, ItemKey, T)>,
    ) -> (ItemSet, Vec<T>) {
        if !keyed.is_sorted_by(|a, b| a.0 < b.0) {
            keyed = sorted_by_item(&keyed);
        }
        keyed.dedup_by(|a, b| a.0 == b.0);
        let mut items = Vec::with_capacity(keyed.len());
        let mut values = Vec::with_capacity(keyed.len());
        let mut prefix = Vec::with_capacity(keyed.len() + 1);
        let mut acc = 0u128;
        prefix.push(acc);
        for (item, key, value) in keyed {
            debug_assert_eq!(
                key,
                item_key(&item.id),
                "a caller-supplied item key is wrong"
            );
            acc = acc.wrapping_add(u128::from_le_bytes(key));
            items.push(item);
            values.push(value);
            prefix.push(acc);
        }
        let set = ItemSet {
            items,
            prefix,
            floor: Bound::MIN,
            below: 0,
            below_sum: 0,
        };
        (set, values)
    }

    /// Adds one item, keeping the order and the prefix sums; false if it was already there.
    /// Costs O(items after it): new changes carry recent timestamps, so a set kept for a peer
    /// and fed the changes a node accepts grows at its end. `key` is `item_key(&item.id)`.
    /// The item must be at or above the floor ([`ItemSet::lists`]); see
    /// [`ItemSet::add_unlisted`] for one below it.
    pub fn insert_keyed(&mut self, item: Item, key: ItemKey) -> bool {
        self.insert_keyed_at(item, key).is_some()
    }

    /// [`ItemSet::insert_keyed`], returning the index in [`ItemSet::items`] the new item took.
    pub fn insert_keyed_at(&mut self, item: Item, key: ItemKey) -> Option<usize> {
        debug_assert_eq!(
            key,
            item_key(&item.id),
            "a caller-supplied item key is wrong"
        );
        assert!(
            self.lists(&item),
            "an item below a windowed set's floor cannot be inserted by position"
        );
        let Err(at) = self.search(&item) else {
            return None;
        };
        let key = u128::from_le_bytes(key);
        grow_gently(&mut self.items);
        grow_gently(&mut self.prefix);
        self.items.insert(at, item);
        let below = self.prefix[at];
        self.prefix.insert(at + 1, below.wrapping_add(key));
        for sum in &mut self.prefix[at + 2..] {
            *sum = sum.wrapping_add(key);
        }
        Some(at)
    }

    /// Removes one listed item, keeping the order and the prefix sums; false if it was not
    /// there.
    pub fn remove(&mut self, item: &Item) -> bool {
        self.remove_at(item).is_some()
    }

    /// [`ItemSet::remove`], returning the index in [`ItemSet::items`] the item had.
    pub fn remove_at(&mut self, item: &Item) -> Option<usize> {
        let Ok(at) = self.search(item) else {
            return None;
        };
        let key = self.key_at(self.below + at);
        self.items.remove(at);
        self.prefix.remove(at + 1);
        for sum in &mut self.prefix[at + 1..] {
            *sum = sum.wrapping_sub(key);
        }
        Some(at)
    }

    /// True when `item` belongs to the listed part (at or above the floor).
    pub fn lists(&self, item: &Item) -> bool {
        !self.floor.is_above(item)
    }

    /// Counts in an item below the floor, which the set cannot look for: the caller knows it
    /// is new to the set (a change its node has just come to hold).
    pub fn add_unlisted(&mut self, key: ItemKey) {
        self.below += 1;
        self.below_sum = self.below_sum.wrapping_add(u128::from_le_bytes(key));
    }

    /// Counts out an item below the floor that the caller knows the set holds.
    pub fn remove_unlisted(&mut self, key: ItemKey) {
        debug_assert!(self.below > 0, "no unlisted item to remove");
        self.below = self.below.saturating_sub(1);
        self.below_sum = self.below_sum.wrapping_sub(u128::from_le_bytes(key));
    }

    /// Stops listing the items below `floor` (keeping their count and key sum): the set then
    /// costs memory for the items at or above it only. A `floor` at or below the current one
    /// changes nothing (a set cannot list again what it dropped). Returns how many items of
    /// [`ItemSet::items`] went, from its start.
    pub fn raise_floor(&mut self, floor: Bound) -> usize {
        if floor.cmp_position(&self.floor) != Ordering::Greater {
            return 0;
        }
        self.floor = floor;
        let gone = self.items.partition_point(|item| floor.is_above(item));
        if gone == 0 {
            return 0;
        }
        let base = self.prefix[gone];
        self.below += gone;
        self.below_sum = self.below_sum.wrapping_add(base);
        self.items.drain(..gone);
        self.prefix.drain(..gone);
        for sum in &mut self.prefix {
            *sum = sum.wrapping_sub(base);
        }
        if self.items.capacity() > 2 * self.items.len() + 64 {
            self.items.shrink_to_fit();
            self.prefix.shrink_to_fit();
        }
        gone
    }

    /// Items below this bound are not listed ([`Bound::MIN`] for a whole set).
    pub fn floor(&self) -> Bound {
        self.floor
    }

    /// How many items lie below the floor (0 for a whole set).
    pub fn unlisted(&self) -> usize {
        self.below
    }

    /// The index in [`ItemSet::items`] of `item`, if the set lists it.
    pub fn position(&self, item: &Item) -> Option<usize> {
        self.search(item).ok()
    }

    /// `self.items.binary_search(item)`, searched from the newest end
    /// ([`partition_point_from_end`]).
    fn search(&self, item: &Item) -> Result<usize, usize> {
        let at = partition_point_from_end(&self.items, |listed| listed < item);
        match self.items.get(at) {
            Some(found) if found == item => Ok(at),
            _ => Err(at),
        }
    }

    /// The item at position `pos` (a listed one).
    fn item(&self, pos: usize) -> &Item {
        &self.items[pos - self.below]
    }

    /// The items at positions `start..end` (listed ones).
    fn slice(&self, start: usize, end: usize) -> &[Item] {
        &self.items[start - self.below..end - self.below]
    }

    /// The key of the item at position `pos` (a listed one), from the prefix sums.
    fn key_at(&self, pos: usize) -> u128 {
        let i = pos - self.below;
        self.prefix[i + 1].wrapping_sub(self.prefix[i])
    }

    /// Number of items in the set, listed or not.
    pub fn len(&self) -> usize {
        self.below + self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listed items in `(timestamp, id)` order (every item, for a whole set).
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Whether the set lists `item`.
    pub fn contains(&self, item: &Item) -> bool {
        self.search(item).is_ok()
    }

    /// The fingerprint of the items at positions `range` (clamped to the set; an inverted
    /// range is empty). On a windowed set the range must start at 0 or at the floor or above.
    pub fn fingerprint(&self, range: std::ops::Range<usize>) -> Fingerprint {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Fingerprint::from_sum(self.sum(start, end))
    }

    /// The position of the first item at or above `bound` (`len()` for the infinite bound);
    /// `None` when `bound` falls inside the unlisted part of a windowed set, which the set
    /// cannot tell.
    pub fn lower_bound(&self, bound: &Bound) -> Option<usize> {
        if self.below > 0 && bound.cmp_position(&self.floor) == Ordering::Less {
            return (bound.cmp_position(&Bound::MIN) == Ordering::Equal).then_some(0);
        }
        Some(self.below + self.items.partition_point(|item| bound.is_above(item)))
    }

    /// The sum of the keys at positions `start..end`; `start` is 0 or a listed position.
    fn sum(&self, start: usize, end: usize) -> u128 {
        if start >= end {
            return 0;
        }
        let listed = |pos: usize| self.prefix[pos - self.below];
        if start < self.below {
            debug_assert_eq!(start, 0, "a range starting inside the unlisted part");
            return self.below_sum.wrapping_add(listed(end));
        }
        listed(end).wrapping_sub(listed(start))
    }

    fn find_key(&self, start: usize, end: usize, key: u128) -> Option<usize> {
        (start..end).find(|&pos| self.key_at(pos) == key)
    }
}

/// `slice.partition_point(pred)` (`pred` true on a prefix of `slice`, false after it),
/// searched from the end: probes at distances 1, 2, 4, … from the last element, then a binary
/// search between the last two probes. Kept sets take in fresh items, which mostly land near
/// the newest end of a set of up to a million items: such a search touches a few cache lines
/// rather than a binary search's whole path, and costs at most about twice the probes of one
/// when the point lies far back (so range bounds, spread over the set, use a plain one).
pub fn partition_point_from_end<T>(slice: &[T], pred: impl Fn(&T) -> bool) -> usize {
    // Everything at `hi` or above is known to fail `pred`.
    let mut hi = slice.len();
    let mut step = 1;
    while step <= hi {
        let probe = hi - step;
        if pred(&slice[probe]) {
            return probe + 1 + slice[probe + 1..hi].partition_point(&pred);
        }
        hi = probe;
        step *= 2;
    }
    slice[..hi].partition_point(pred)
}

/// Makes room for one more element in a vector that grows one element at a time and lives
/// long (a set kept for a peer): by an eighth instead of doubling, so a kept set carries at
/// most an eighth of slack rather than up to as much again. Insertion shifts the tail anyway,
/// so the extra reallocations cost nothing in order of growth.
pub fn grow_gently<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(16));
    }
}

/// `keyed` in item order. Sorts `(timestamp, first eight bytes of the id, index)` triples
/// (compared as integers) and compares whole ids only where both of the first two tie: far
/// cheaper than moving and comparing whole entries, which is most of the cost of building a
/// set from a node's holdings (many items share a timestamp: a node's first records, a batch
/// written at once).
fn sorted_by_item<T: Copy>(keyed: &[(Item, ItemKey, T)]) -> Vec<(Item, ItemKey, T)> {
    let id_prefix = |item: &Item| u64::from_be_bytes(item.id[..8].try_into().expect("8 bytes"));
    let mut order: Vec<(u64, u64, u32)> = keyed
        .iter()
        .enumerate()
        .map(|(i, entry)| (entry.0.timestamp, id_prefix(&entry.0), i as u32))
        .collect();
    order.sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let (timestamp, prefix, _) = order[start];
        let mut end = start + 1;
        while end < order.len() && order[end].0 == timestamp && order[end].1 == prefix {
            end += 1;
        }
        if end - start > 1 {
            order[start..end]
                .sort_by(|a, b| keyed[a.2 as usize].0.id.cmp(&keyed[b.2 as usize].0.id));
        }
        start = end;
    }
    order.iter().map(|&(_, _, i)| keyed[i as usize]).collect()
}

/// A range boundary: a position in the `(timestamp, id)` order, or infinity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bound {
    /// The position `(timestamp, id)` where `id` is `prefix_len` significant bytes followed by
    /// zeros.
    Finite {
        timestamp: u64,
        prefix_len: u8,
        id: ItemId,
    },
    /// Above every item.
    Infinity,
}

impl Bound {
    /// The lowest position, at or below every item: where the first range starts.
    pub const MIN: Bound = Bound::Finite {
        timestamp: 0,
        prefix_len: 0,
        id: [0; 32],
    };

    /// A finite bound from a timestamp and an id prefix of at most 32 bytes.
    pub fn finite(timestamp: u64, prefix: &[u8]) -> Result<Bound, ReconcileError> {
        if prefix.len() > 32 {
            return Err(ReconcileError::PrefixTooLong(
                u8::try_from(prefix.len()).unwrap_or(u8::MAX),
            ));
        }
        let mut id = [0u8; 32];
        id[..prefix.len()].copy_from_slice(prefix);
        Ok(Bound::Finite {
            timestamp,
            prefix_len: prefix.len() as u8,
            id,
        })
    }

    /// The shortest bound `b` with `prev < b <= next` (for `prev < next`): `next`'s timestamp
    /// alone if the timestamps differ, else that timestamp plus the shortest prefix of `next`'s
    /// id that exceeds `prev`'s id.
    pub fn between(prev: &Item, next: &Item) -> Bound {
        if prev.timestamp != next.timestamp {
            return Bound::Finite {
                timestamp: next.timestamp,
                prefix_len: 0,
                id: [0; 32],
            };
        }
        let shared = prev
            .id
            .iter()
            .zip(next.id.iter())
            .take_while(|(a, b)| a == b)
            .count();
        let len = (shared + 1).min(32);
        let mut id = [0u8; 32];
        id[..len].copy_from_slice(&next.id[..len]);
        Bound::Finite {
            timestamp: next.timestamp,
            prefix_len: len as u8,
            id,
        }
    }

    /// True when `item` lies strictly below this bound.
    pub fn is_above(&self, item: &Item) -> bool {
        match self {
            Bound::Finite { timestamp, id, .. } => (item.timestamp, &item.id) < (*timestamp, id),
            Bound::Infinity => true,
        }
    }

    /// Compares positions (the prefix length does not matter, only the padded value).
    pub fn cmp_position(&self, other: &Bound) -> Ordering {
        match (self, other) {
            (Bound::Infinity, Bound::Infinity) => Ordering::Equal,
            (Bound::Infinity, _) => Ordering::Greater,
            (_, Bound::Infinity) => Ordering::Less,
            (
                Bound::Finite {
                    timestamp: ta,
                    id: ia,
                    ..
                },
                Bound::Finite {
                    timestamp: tb,
                    id: ib,
                    ..
                },
            ) => (ta, ia).cmp(&(tb, ib)),
        }
    }

    fn check(&self) -> Result<(), ReconcileError> {
        if let Bound::Finite { prefix_len, id, .. } = self {
            let len = usize::from(*prefix_len);
            if len > 32 {
                return Err(ReconcileError::PrefixTooLong(*prefix_len));
            }
            if id[len..].iter().any(|b| *b != 0) {
                return Err(ReconcileError::NonCanonical(
                    "bound id has non-zero bytes after its prefix",
                ));
            }
        }
        Ok(())
    }
}

/// What a message says about one range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing: the range is settled from the sender's side.
    Skip,
    /// The sender's item count and fingerprint for the range.
    Fingerprint {
        count: u64,
        fingerprint: Fingerprint,
    },
    /// All the sender's ids in the range.
    IdList(Vec<ItemId>),
    /// Keys of the receiver's items in the range that the sender lacks: push them.
    Need(Vec<ItemKey>),
}

/// One range of a message: it runs from the previous entry's upper bound (or the lowest
/// position) to `upper`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeEntry {
    pub upper: Bound,
    pub mode: Mode,
}

/// One round of reconciliation: ranges covering the item space in increasing order (the space
/// after the last entry is skipped). Always canonical: see the module doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    ranges: Vec<RangeEntry>,
}

const MODE_SKIP: u8 = 0;
const MODE_FINGERPRINT: u8 = 1;
const MODE_ID_LIST: u8 = 2;
const MODE_NEED: u8 = 3;

impl Message {
    /// A message from its ranges, checked against the canonical-form rules of the module doc.
    pub fn new(ranges: Vec<RangeEntry>) -> Result<Message, ReconcileError> {
        validate(&ranges)?;
        Ok(Message { ranges })
    }

    pub fn ranges(&self) -> &[RangeEntry] {
        &self.ranges
    }

    /// True when the message says nothing about any range.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(|r| r.mode == Mode::Skip)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![PROTOCOL_VERSION];
        let mut prev_ts = 0u64;
        for entry in &self.ranges {
            encode_entry(&mut out, &mut prev_ts, entry);
        }
        out
    }

    /// The length of [`Message::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        self.encode().len()
    }

    /// Parses an untrusted message. Never panics; rejects anything not canonical.
    pub fn decode(bytes: &[u8]) -> Result<Message, ReconcileError> {
        let (&version, mut input) = bytes.split_first().ok_or(ReconcileError::Empty)?;
        if version != PROTOCOL_VERSION {
            return Err(ReconcileError::UnsupportedVersion {
                found: version,
                supported: PROTOCOL_VERSION,
            });
        }
        let mut ranges = Vec::new();
        let mut prev_ts = 0u64;
        while !input.is_empty() {
            let ts_field = read_varint(&mut input, "bound timestamp")?;
            let head = read_byte(&mut input, "range head")?;
            let prefix_len = head >> 2;
            if prefix_len > 32 {
                return Err(ReconcileError::PrefixTooLong(prefix_len));
            }
            let upper = if ts_field == 0 {
                if prefix_len != 0 {
                    return Err(ReconcileError::InfinityWithPrefix);
                }
                Bound::Infinity
            } else {
                let timestamp = u64::try_from(u128::from(prev_ts) + (ts_field - 1))
                    .map_err(|_| ReconcileError::TimestampOverflow)?;
                let prefix = read_bytes(&mut input, usize::from(prefix_len), "bound id prefix")?;
                prev_ts = timestamp;
                let mut id = [0u8; 32];
                id[..prefix.len()].copy_from_slice(prefix);
                Bound::Finite {
                    timestamp,
                    prefix_len,
                    id,
                }
            };
            let mode = match head & 3 {
                MODE_SKIP => Mode::Skip,
                MODE_FINGERPRINT => {
                    let count = read_count(&mut input, "fingerprint count")?;
                    let fingerprint = if count == 0 {
                        Fingerprint::EMPTY
                    } else {
                        let mut sum = [0u8; 16];
                        sum.copy_from_slice(read_bytes(&mut input, 16, "fingerprint")?);
                        Fingerprint(sum)
                    };
                    Mode::Fingerprint { count, fingerprint }
                }
                MODE_ID_LIST => Mode::IdList(read_array_list::<32>(&mut input, "id list")?),
                _ => Mode::Need(read_array_list::<16>(&mut input, "need list")?),
            };
            ranges.push(RangeEntry { upper, mode });
        }
        Message::new(ranges)
    }
}

fn validate(ranges: &[RangeEntry]) -> Result<(), ReconcileError> {
    let mut prev = Bound::MIN;
    for (index, entry) in ranges.iter().enumerate() {
        if prev == Bound::Infinity {
            return Err(ReconcileError::RangeAfterInfinity { index });
        }
        entry.upper.check()?;
        if entry.upper.cmp_position(&prev) != Ordering::Greater {
            return Err(ReconcileError::BoundsNotIncreasing { index });
        }
        prev = entry.upper;
        match &entry.mode {
            Mode::Skip => {
                if index + 1 == ranges.len() {
                    return Err(ReconcileError::NonCanonical("the last range is a Skip"));
                }
                if index > 0 && ranges[index - 1].mode == Mode::Skip {
                    return Err(ReconcileError::NonCanonical("two consecutive Skip ranges"));
                }
            }
            Mode::Fingerprint { count, fingerprint } => {
                if *count == 0 && *fingerprint != Fingerprint::EMPTY {
                    return Err(ReconcileError::NonCanonical(
                        "a fingerprint of 0 items is not zero",
                    ));
                }
            }
            Mode::IdList(_) => {}
            Mode::Need(keys) => {
                if keys.is_empty() {
                    return Err(ReconcileError::NonCanonical("an empty Need list"));
                }
            }
        }
    }
    Ok(())
}

fn encode_entry(out: &mut Vec<u8>, prev_ts: &mut u64, entry: &RangeEntry) {
    let mode = match entry.mode {
        Mode::Skip => MODE_SKIP,
        Mode::Fingerprint { .. } => MODE_FINGERPRINT,
        Mode::IdList(_) => MODE_ID_LIST,
        Mode::Need(_) => MODE_NEED,
    };
    match &entry.upper {
        Bound::Infinity => {
            write_varint(out, 0);
            out.push(mode);
        }
        Bound::Finite {
            timestamp,
            prefix_len,
            id,
        } => {
            let len = usize::from(*prefix_len).min(32);
            write_varint(out, 1 + u128::from(timestamp.saturating_sub(*prev_ts)));
            *prev_ts = *timestamp;
            out.push(mode | ((len as u8) << 2));
            out.extend_from_slice(&id[..len]);
        }
    }
    match &entry.mode {
        Mode::Skip => {}
        Mode::Fingerprint { count, fingerprint } => {
            write_varint(out, u128::from(*count));
            if *count > 0 {
                out.extend_from_slice(&fingerprint.0);
            }
        }
        Mode::IdList(ids) => {
            write_varint(out, ids.len() as u128);
            for id in ids {
                out.extend_from_slice(id);
            }
        }
        Mode::Need(keys) => {
            write_varint(out, keys.len() as u128);
            for key in keys {
                out.extend_from_slice(key);
            }
        }
    }
}

/// Unsigned LEB128. Values up to 2^64 (the bound timestamp field needs one more than u64::MAX).
fn write_varint(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a minimal-length LEB128 varint of at most 10 bytes with a value of at most 2^64.
fn read_varint(input: &mut &[u8], what: &'static str) -> Result<u128, ReconcileError> {
    let mut value = 0u128;
    for i in 0..10 {
        let byte = read_byte(input, what)?;
        value |= u128::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(ReconcileError::BadVarint(what));
            }
            if value > 1u128 << 64 {
                return Err(ReconcileError::BadVarint(what));
            }
            return Ok(value);
        }
    }
    Err(ReconcileError::BadVarint(what))
}

fn read_count(input: &mut &[u8], what: &'static str) -> Result<u64, ReconcileError> {
    u64::try_from(read_varint(input, what)?).map_err(|_| ReconcileError::BadVarint(what))
}

fn read_byte(input: &mut &[u8], what: &'static str) -> Result<u8, ReconcileError> {
    let (&byte, rest) = input.split_first().ok_or(ReconcileError::Truncated(what))?;
    *input = rest;
    Ok(byte)
}

fn read_bytes<'a>(
    input: &mut &'a [u8],
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], ReconcileError> {
    if input.len() < len {
        return Err(ReconcileError::Truncated(what));
    }
    let (head, rest) = input.split_at(len);
    *input = rest;
    Ok(head)
}

/// Reads `count:varint` then `count` arrays of `N` bytes, checking the bytes are there before
/// allocating.
fn read_array_list<const N: usize>(
    input: &mut &[u8],
    what: &'static str,
) -> Result<Vec<[u8; N]>, ReconcileError> {
    let count = read_count(input, what)?;
    let available = input.len();
    let needed = u128::from(count) * N as u128;
    if needed > available as u128 {
        return Err(ReconcileError::LengthExceedsInput {
            what,
            declared: count,
            available,
        });
    }
    let bytes = read_bytes(input, needed as usize, what)?;
    Ok(bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut array = [0u8; N];
            array.copy_from_slice(chunk);
            array
        })
        .collect())
}

/// Serialized as the compact encoding (a byte string), so a `Message` embedded in a postcard or
/// JSON envelope is the same bytes and goes through the same checks.
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Message, D::Error> {
        deserializer.deserialize_bytes(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an encoded reconcile message (bytes)")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Message, E> {
        Message::decode(v).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Message::decode(&bytes).map_err(de::Error::custom)
    }
}

/// Why a message was rejected or a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("reconcile message is empty: the version byte is missing")]
    Empty,
    #[error("reconcile message has protocol version {found}, this node speaks {supported}")]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("reconcile message ends in the middle of the {0}")]
    Truncated(&'static str),
    #[error(
        "reconcile message has a malformed varint for the {0} (over-long, non-minimal or too large)"
    )]
    BadVarint(&'static str),
    #[error("bound id prefix of {0} bytes is longer than an id (32 bytes)")]
    PrefixTooLong(u8),
    #[error("bound timestamp overflows 64 bits")]
    TimestampOverflow,
    #[error("the infinite bound carries an id prefix")]
    InfinityWithPrefix,
    #[error("range {index}'s upper bound is not above the previous one")]
    BoundsNotIncreasing { index: usize },
    #[error("range {index} comes after the infinite bound")]
    RangeAfterInfinity { index: usize },
    #[error("{what} declares {declared} entries but only {available} bytes remain")]
    LengthExceedsInput {
        what: &'static str,
        declared: u64,
        available: usize,
    },
    #[error("non-canonical reconcile message: {0}")]
    NonCanonical(&'static str),
    #[error("reconciliation did not finish within {0} messages")]
    DidNotConverge(usize),
    /// Not an error in the message: this side's set is windowed and the message needs the
    /// items below its floor. Start again over the whole set.
    #[error("the message reaches below this side's window: the whole set is needed")]
    NeedsHistory,
}

impl ReconcileError {
    /// A stable machine-readable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ReconcileError::Empty => "reconcile_empty",
            ReconcileError::UnsupportedVersion { .. } => "reconcile_unsupported_version",
            ReconcileError::Truncated(_) => "reconcile_truncated",
            ReconcileError::BadVarint(_) => "reconcile_bad_varint",
            ReconcileError::PrefixTooLong(_) => "reconcile_prefix_too_long",
            ReconcileError::TimestampOverflow => "reconcile_timestamp_overflow",
            ReconcileError::InfinityWithPrefix => "reconcile_infinity_with_prefix",
            ReconcileError::BoundsNotIncreasing { .. } => "reconcile_bounds_not_increasing",
            ReconcileError::RangeAfterInfinity { .. } => "reconcile_range_after_infinity",
            ReconcileError::LengthExceedsInput { .. } => "reconcile_length_exceeds_input",
            ReconcileError::NonCanonical(_) => "reconcile_non_canonical",
            ReconcileError::DidNotConverge(_) => "reconcile_did_not_converge",
            ReconcileError::NeedsHistory => "reconcile_needs_history",
        }
    }
}

/// Tuning knobs. Both peers should use the same values; mismatched values still converge,
/// just less efficiently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileConfig {
    /// How many sub-ranges a differing range is split into (clamped to 2..=256).
    pub branching: usize,
    /// A side holding fewer than this many items in a range it cannot settle sends their ids
    /// instead of splitting (clamped to 2..=1024).
    pub id_list_threshold: usize,
    /// No message exceeds this many encoded bytes (raised to [`Self::min_message_bytes`] if
    /// lower). Work that does not fit is carried to the next round as fingerprints.
    pub max_message_bytes: usize,
}

impl Default for ReconcileConfig {
    fn default() -> ReconcileConfig {
        ReconcileConfig {
            branching: 16,
            id_list_threshold: 8,
            max_message_bytes: 64 * 1024,
        }
    }
}

/// Worst-case sizes of entries, for the message budget.
const MAX_VARINT: usize = 10;
const MAX_BOUND: usize = MAX_VARINT + 1 + 32;
const MAX_SKIP_ENTRY: usize = MAX_BOUND;
const MAX_FINGERPRINT_ENTRY: usize = MAX_BOUND + MAX_VARINT + 16;
const MAX_TAIL_ENTRY: usize = 1 + 1 + MAX_VARINT + 16;
/// Room kept free after every range so the message can always end with a tail fingerprint.
const RESERVE: usize = MAX_SKIP_ENTRY + MAX_TAIL_ENTRY;

impl ReconcileConfig {
    /// The config with its fields clamped to the supported ranges.
    pub fn normalized(self) -> ReconcileConfig {
        let branching = self.branching.clamp(2, 256);
        let id_list_threshold = self.id_list_threshold.clamp(2, 1024);
        let clamped = ReconcileConfig {
            branching,
            id_list_threshold,
            max_message_bytes: 0,
        };
        ReconcileConfig {
            max_message_bytes: self.max_message_bytes.max(clamped.min_message_bytes()),
            ..clamped
        }
    }

    /// The smallest message budget that still lets the first unsettled range of every message
    /// get its full answer (which is what guarantees progress).
    pub fn min_message_bytes(&self) -> usize {
        let branching = self.branching.clamp(2, 256);
        let threshold = self.id_list_threshold.clamp(2, 1024);
        let split = branching * MAX_FINGERPRINT_ENTRY;
        let id_list = MAX_BOUND + MAX_VARINT + 32 * (threshold - 1);
        1 + MAX_SKIP_ENTRY + split.max(id_list).max(MAX_FINGERPRINT_ENTRY) + RESERVE
    }
}

/// What [`Reconciler::respond`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The message to send back; `None` when this side has nothing more to say (the session is
    /// finished).
    pub reply: Option<Message>,
    /// Items this side holds that the peer lacks: push them.
    pub send: Vec<Item>,
    /// Ids the peer holds that this side learned it lacks (partial: see the module doc). The
    /// peer pushes them, and every other item this side lacks, without being asked.
    pub need: Vec<ItemId>,
}

/// The stateless protocol engine: the same value serves both roles and any number of sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconciler {
    config: ReconcileConfig,
}

/// A range of the incoming message, located in the local set.
struct Span {
    lower: Bound,
    upper: Bound,
    /// Local items `lo..hi` lie in the range.
    lo: usize,
    hi: usize,
}

/// This side's answer for one range.
#[derive(Default)]
struct RangeReply {
    entries: Vec<RangeEntry>,
    send: Vec<Item>,
    need: Vec<ItemId>,
    /// A bounded answer to use (without `send`/`need`) when `entries` do not fit.
    fallback: Option<Vec<RangeEntry>>,
}

impl RangeReply {
    fn settled(send: Vec<Item>) -> RangeReply {
        RangeReply {
            send,
            ..RangeReply::default()
        }
    }

    fn entries(entries: Vec<RangeEntry>) -> RangeReply {
        RangeReply {
            entries,
            ..RangeReply::default()
        }
    }
}

/// Builds a reply within the byte budget, encoding as it goes.
struct Builder {
    ranges: Vec<RangeEntry>,
    bytes: Vec<u8>,
    prev_ts: u64,
    /// The upper bound of the last entry written.
    position: Bound,
    limit: usize,
}

impl Builder {
    fn new(limit: usize) -> Builder {
        Builder {
            ranges: Vec::new(),
            bytes: vec![PROTOCOL_VERSION],
            prev_ts: 0,
            position: Bound::MIN,
            limit,
        }
    }

    /// Appends `entries` (covering a range that starts at `lower`, preceded by a Skip if there
    /// is a gap) if the message then still has `reserve` bytes of room.
    fn try_push(&mut self, lower: &Bound, entries: &[RangeEntry], reserve: usize) -> bool {
        if entries.is_empty() {
            return true;
        }
        let gap = lower.cmp_position(&self.position) != Ordering::Equal;
        let skip = RangeEntry {
            upper: *lower,
            mode: Mode::Skip,
        };
        let mut buf = Vec::new();
        let mut ts = self.prev_ts;
        if gap {
            encode_entry(&mut buf, &mut ts, &skip);
        }
        for entry in entries {
            encode_entry(&mut buf, &mut ts, entry);
        }
        if self.bytes.len() + buf.len() + reserve > self.limit {
            return false;
        }
        self.bytes.extend_from_slice(&buf);
        self.prev_ts = ts;
        if gap {
            self.ranges.push(skip);
        }
        self.ranges.extend_from_slice(entries);
        if let Some(last) = entries.last() {
            self.position = last.upper;
        }
        true
    }

    fn finish(self) -> Option<Message> {
        if self.ranges.is_empty() {
            return None;
        }
        let message = Message {
            ranges: self.ranges,
        };
        debug_assert_eq!(message.encode(), self.bytes);
        debug_assert!(validate(&message.ranges).is_ok());
        Some(message)
    }
}

fn fingerprint_entry(upper: Bound, count: usize, sum: u128) -> RangeEntry {
    RangeEntry {
        upper,
        mode: Mode::Fingerprint {
            count: count as u64,
            fingerprint: if count == 0 {
                Fingerprint::EMPTY
            } else {
                Fingerprint::from_sum(sum)
            },
        },
    }
}

impl Reconciler {
    pub fn new(config: ReconcileConfig) -> Reconciler {
        Reconciler {
            config: config.normalized(),
        }
    }

    /// The effective (normalized) configuration.
    pub fn config(&self) -> ReconcileConfig {
        self.config
    }

    /// The first message of a session: the whole set, split into `branching` fingerprints (or
    /// its id list when small).
    pub fn initiate(&self, set: &ItemSet) -> Message {
        self.initiate_from(set, &Bound::MIN)
            .expect("a whole set can always start a session")
    }

    /// The first message of a session that looks at the items from `floor` up and checks
    /// everything below it with one fingerprint: `[lowest, floor)` as a Fingerprint, then
    /// `[floor, infinity)` split like [`Reconciler::initiate`] splits the whole set (which is
    /// this with `floor` at [`Bound::MIN`]). When the two sides agree below the floor, as
    /// they do when they last reconciled after the floor, the session costs what changed
    /// since; when they do not, the peer splits that range as it would any other. A whole set
    /// and a set windowed at or below `floor` give the same message;
    /// [`ReconcileError::NeedsHistory`] if `set` is windowed above `floor`.
    pub fn initiate_from(&self, set: &ItemSet, floor: &Bound) -> Result<Message, ReconcileError> {
        let split = set
            .lower_bound(floor)
            .filter(|&split| split >= set.unlisted())
            .ok_or(ReconcileError::NeedsHistory)?;
        let mut entries = Vec::new();
        if floor.cmp_position(&Bound::MIN) != Ordering::Equal {
            entries.push(fingerprint_entry(*floor, split, set.sum(0, split)));
        }
        let window = Span {
            lower: *floor,
            upper: Bound::Infinity,
            lo: split,
            hi: set.len(),
        };
        entries.extend(self.refine(set, &window));
        let mut builder = Builder::new(self.config.max_message_bytes);
        if !builder.try_push(&Bound::MIN, &entries, 0) {
            // Unreachable with a normalized budget; the summary always fits.
            let whole = Span {
                lower: Bound::MIN,
                upper: Bound::Infinity,
                lo: 0,
                hi: set.len(),
            };
            builder.try_push(&whole.lower, &[self.summary(set, &whole)], 0);
        }
        Ok(Message {
            ranges: builder.ranges,
        })
    }

    /// Answers the peer's message: what to push, what this side lacks, and the reply.
    pub fn respond(&self, set: &ItemSet, incoming: &Message) -> Result<Outcome, ReconcileError> {
        let mut builder = Builder::new(self.config.max_message_bytes);
        let mut send = Vec::new();
        let mut need = Vec::new();
        let mut lower = Bound::MIN;
        let mut lo = 0usize;
        for entry in &incoming.ranges {
            let hi = set
                .lower_bound(&entry.upper)
                .ok_or(ReconcileError::NeedsHistory)?
                .max(lo);
            let span = Span {
                lower,
                upper: entry.upper,
                lo,
                hi,
            };
            if span.lo < set.unlisted() {
                // A range reaching below a windowed set's floor: settled only if it agrees as a
                // whole (or is skipped); anything else needs the items themselves.
                let settled = match &entry.mode {
                    Mode::Skip => true,
                    Mode::Fingerprint { count, fingerprint } => {
                        (span.hi - span.lo) as u64 == *count
                            && set.sum(span.lo, span.hi) == fingerprint.sum()
                    }
                    Mode::IdList(_) | Mode::Need(_) => false,
                };
                if !settled {
                    return Err(ReconcileError::NeedsHistory);
                }
                lower = entry.upper;
                lo = hi;
                continue;
            }
            let reply = match &entry.mode {
                Mode::Skip => None,
                Mode::Fingerprint { count, fingerprint } => {
                    Some(self.on_fingerprint(set, &span, *count, fingerprint))
                }
                Mode::IdList(ids) => Some(self.on_id_list(set, &span, ids)),
                Mode::Need(keys) => Some(self.on_need(set, &span, keys)),
            };
            if let Some(reply) = reply {
                if builder.try_push(&span.lower, &reply.entries, RESERVE) {
                    send.extend(reply.send);
                    need.extend(reply.need);
                } else if reply
                    .fallback
                    .is_some_and(|fallback| builder.try_push(&span.lower, &fallback, RESERVE))
                    || builder.try_push(&span.lower, &[self.summary(set, &span)], RESERVE)
                {
                    // Answered partially; the peer carries on next round.
                } else {
                    let tail = Span {
                        lower: span.lower,
                        upper: Bound::Infinity,
                        lo: span.lo,
                        hi: set.len(),
                    };
                    builder.try_push(&tail.lower, &[self.summary(set, &tail)], 0);
                    break;
                }
            }
            lower = entry.upper;
            lo = hi;
        }
        Ok(Outcome {
            reply: builder.finish(),
            send,
            need,
        })
    }

    fn on_fingerprint(
        &self,
        set: &ItemSet,
        span: &Span,
        theirs: u64,
        fingerprint: &Fingerprint,
    ) -> RangeReply {
        let ours = (span.hi - span.lo) as u64;
        let our_sum = set.sum(span.lo, span.hi);
        let their_sum = fingerprint.sum();
        if ours == theirs && our_sum == their_sum {
            return RangeReply::default();
        }
        if theirs == 0 {
            return RangeReply::settled(set.slice(span.lo, span.hi).to_vec());
        }
        if ours == 0 {
            return RangeReply::entries(vec![fingerprint_entry(span.upper, 0, 0)]);
        }
        if theirs.checked_add(1) == Some(ours)
            && let Some(i) = set.find_key(span.lo, span.hi, our_sum.wrapping_sub(their_sum))
        {
            return RangeReply::settled(vec![*set.item(i)]);
        }
        let key = their_sum.wrapping_sub(our_sum);
        if ours.checked_add(1) == Some(theirs) && set.find_key(span.lo, span.hi, key).is_none() {
            return RangeReply::entries(vec![RangeEntry {
                upper: span.upper,
                mode: Mode::Need(vec![key.to_le_bytes()]),
            }]);
        }
        let threshold = self.config.id_list_threshold as u64;
        if ours >= threshold && theirs < threshold {
            return RangeReply::entries(vec![self.summary(set, span)]);
        }
        RangeReply::entries(self.refine(set, span))
    }

    fn on_id_list(&self, set: &ItemSet, span: &Span, ids: &[ItemId]) -> RangeReply {
        let own = set.slice(span.lo, span.hi);
        let theirs: BTreeSet<&ItemId> = ids.iter().collect();
        let ours: BTreeSet<&ItemId> = own.iter().map(|item| &item.id).collect();
        let send: Vec<Item> = own
            .iter()
            .filter(|item| !theirs.contains(&item.id))
            .copied()
            .collect();
        let mut seen = BTreeSet::new();
        let need: Vec<ItemId> = ids
            .iter()
            .filter(|id| !ours.contains(id) && seen.insert(*id))
            .copied()
            .collect();
        if need.is_empty() {
            return RangeReply::settled(send);
        }
        let keys = need.iter().map(item_key).collect();
        RangeReply {
            entries: vec![RangeEntry {
                upper: span.upper,
                mode: Mode::Need(keys),
            }],
            send,
            need,
            fallback: Some(self.refine(set, span)),
        }
    }

    fn on_need(&self, set: &ItemSet, span: &Span, keys: &[ItemKey]) -> RangeReply {
        let wanted: BTreeSet<u128> = keys.iter().map(|k| u128::from_le_bytes(*k)).collect();
        let mut found = BTreeSet::new();
        let mut send = Vec::new();
        for i in span.lo..span.hi {
            let key = set.key_at(i);
            if wanted.contains(&key) {
                found.insert(key);
                send.push(*set.item(i));
            }
        }
        if found.len() == wanted.len() {
            RangeReply::settled(send)
        } else {
            // A decoded key that matches nothing: the range has more than one difference.
            RangeReply::entries(self.refine(set, span))
        }
    }

    /// Our id list for the range if it is small, else `branching` fingerprints of equal count.
    fn refine(&self, set: &ItemSet, span: &Span) -> Vec<RangeEntry> {
        let n = span.hi - span.lo;
        if n < self.config.id_list_threshold {
            return vec![RangeEntry {
                upper: span.upper,
                mode: Mode::IdList(self.ids(set, span)),
            }];
        }
        let parts = self.config.branching.min(n);
        let mut entries = Vec::with_capacity(parts);
        let mut start = span.lo;
        for part in 1..=parts {
            let end = span.lo + (n as u128 * part as u128 / parts as u128) as usize;
            let upper = if part == parts {
                span.upper
            } else {
                Bound::between(set.item(end - 1), set.item(end))
            };
            entries.push(fingerprint_entry(upper, end - start, set.sum(start, end)));
            start = end;
        }
        entries
    }

    fn summary(&self, set: &ItemSet, span: &Span) -> RangeEntry {
        fingerprint_entry(span.upper, span.hi - span.lo, set.sum(span.lo, span.hi))
    }

    fn ids(&self, set: &ItemSet, span: &Span) -> Vec<ItemId> {
        set.slice(span.lo, span.hi)
            .iter()
            .map(|item| item.id)
            .collect()
    }
}

/// Figures and results of a whole session run by [`reconcile_in_memory`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages exchanged, the initial one included (a round trip is two).
    pub rounds: usize,
    pub bytes_a_to_b: usize,
    pub bytes_b_to_a: usize,
    /// The largest single encoded message.
    pub largest_message_bytes: usize,
    /// Ids `a` pushes to `b` (sorted, deduplicated): `a \ b`.
    pub a_sends: Vec<ItemId>,
    /// Ids `b` pushes to `a` (sorted, deduplicated): `b \ a`.
    pub b_sends: Vec<ItemId>,
    /// Ids `a` learned it lacks (partial, see [`Outcome::need`]).
    pub a_needs: Vec<ItemId>,
    /// Ids `b` learned it lacks (partial).
    pub b_needs: Vec<ItemId>,
}

/// A session that has not finished after this many messages is reported as an error.
pub const MAX_IN_MEMORY_MESSAGES: usize = 10_000;

/// Runs a whole session between `a` (the initiator) and `b`, passing every message through
/// [`Message::encode`] and [`Message::decode`].
pub fn reconcile_in_memory(
    a: &ItemSet,
    b: &ItemSet,
    cfg: ReconcileConfig,
) -> Result<Stats, ReconcileError> {
    let reconciler = Reconciler::new(cfg);
    let mut stats = Stats::default();
    let mut bytes = reconciler.initiate(a).encode();
    let mut from_a = true;
    loop {
        stats.rounds += 1;
        stats.largest_message_bytes = stats.largest_message_bytes.max(bytes.len());
        if from_a {
            stats.bytes_a_to_b += bytes.len();
        } else {
            stats.bytes_b_to_a += bytes.len();
        }
        let message = Message::decode(&bytes)?;
        let (set, sends, needs) = if from_a {
            (b, &mut stats.b_sends, &mut stats.b_needs)
        } else {
            (a, &mut stats.a_sends, &mut stats.a_needs)
        };
        let outcome = reconciler.respond(set, &message)?;
        sends.extend(outcome.send.iter().map(|item| item.id));
        needs.extend(outcome.need);
        match outcome.reply {
            None => break,
            Some(reply) => {
                if stats.rounds >= MAX_IN_MEMORY_MESSAGES {
                    return Err(ReconcileError::DidNotConverge(stats.rounds));
                }
                bytes = reply.encode();
                from_a = !from_a;
            }
        }
    }
    for list in [
        &mut stats.a_sends,
        &mut stats.b_sends,
        &mut stats.a_needs,
        &mut stats.b_needs,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_of(items: &[Item]) -> Vec<ItemId> {
        items.iter().map(|item| item.id).collect()
    }

    fn id(n: u64) -> ItemId {
        Sha256::digest(n.to_le_bytes()).into()
    }

    fn set(items: &[(u64, u64)]) -> ItemSet {
        ItemSet::from_unsorted(items.iter().map(|(t, n)| Item::new(*t, id(*n))).collect())
    }

    fn decode_err(bytes: &[u8]) -> &'static str {
        Message::decode(bytes).unwrap_err().code()
    }

    #[test]
    fn a_search_from_the_end_finds_the_partition_point_of_any_prefix() {
        for len in 0..70usize {
            let values: Vec<usize> = (0..len).map(|v| v * 2).collect();
            // Every point, and targets between, below and above the values.
            for target in 0..=(2 * len + 1) {
                let pred = |v: &usize| *v < target;
                assert_eq!(
                    partition_point_from_end(&values, pred),
                    values.partition_point(pred),
                    "len {len}, target {target}"
                );
            }
        }
    }

    #[test]
    fn item_sets_are_sorted_and_deduplicated() {
        let s = set(&[(5, 1), (3, 2), (5, 1), (3, 3)]);
        assert_eq!(s.len(), 3);
        assert!(s.items().windows(2).all(|w| w[0] < w[1]));
        assert!(s.contains(&Item::new(5, id(1))));
        assert!(!s.contains(&Item::new(4, id(1))));
    }

    #[test]
    fn fingerprints_add_up_over_adjacent_ranges_and_clamp_bad_ranges() {
        let s = set(&[(1, 1), (2, 2), (3, 3), (4, 4)]);
        let whole = s.fingerprint(0..4).sum();
        let parts = s
            .fingerprint(0..1)
            .sum()
            .wrapping_add(s.fingerprint(1..4).sum());
        assert_eq!(whole, parts);
        assert_eq!(s.fingerprint(2..2), Fingerprint::EMPTY);
        assert_eq!(s.fingerprint(3..100), s.fingerprint(3..4));
        #[allow(clippy::reversed_empty_ranges)]
        let inverted = s.fingerprint(3..1);
        assert_eq!(inverted, Fingerprint::EMPTY);
        let key = s
            .fingerprint(0..4)
            .sum()
            .wrapping_sub(s.fingerprint(0..3).sum());
        assert_eq!(key.to_le_bytes(), item_key(&s.items()[3].id));
    }

    #[test]
    fn split_bounds_are_the_shortest_separators() {
        let a = Item::new(10, [0x11; 32]);
        let b = Item::new(12, [0x00; 32]);
        let bound = Bound::between(&a, &b);
        assert_eq!(bound, Bound::finite(12, &[]).unwrap());
        let mut c_id = [0x11; 32];
        c_id[2] = 0x12;
        let c = Item::new(10, c_id);
        let bound = Bound::between(&a, &c);
        assert_eq!(bound, Bound::finite(10, &[0x11, 0x11, 0x12]).unwrap());
        assert!(!bound.is_above(&c) && bound.is_above(&a));
    }

    #[test]
    fn malformed_messages_are_rejected_with_their_code() {
        assert_eq!(decode_err(&[]), "reconcile_empty");
        assert_eq!(decode_err(&[2]), "reconcile_unsupported_version");
        // Fingerprint to infinity with a count but no sum.
        assert_eq!(decode_err(&[1, 0, 1, 5]), "reconcile_truncated");
        // Over-long varints: a non-minimal one and one that never ends.
        assert_eq!(decode_err(&[1, 0x81, 0x00, 1, 0]), "reconcile_bad_varint");
        assert_eq!(
            decode_err(&[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1
            ]),
            "reconcile_bad_varint"
        );
        assert_eq!(decode_err(&[1, 1, 33 << 2]), "reconcile_prefix_too_long");
        assert_eq!(
            decode_err(&[1, 0, (1 << 2) | 1, 7, 0]),
            "reconcile_infinity_with_prefix"
        );
        // Two ranges with the same bound (timestamp delta 0).
        assert_eq!(
            decode_err(&[1, 2, 1, 0, 1, 1, 0]),
            "reconcile_bounds_not_increasing"
        );
        // The first bound equals the lowest position.
        assert_eq!(decode_err(&[1, 1, 1, 0]), "reconcile_bounds_not_increasing");
        assert_eq!(
            decode_err(&[1, 0, 1, 0, 2, 1, 0]),
            "reconcile_range_after_infinity"
        );
        assert_eq!(decode_err(&[1, 2, 0]), "reconcile_non_canonical");
        assert_eq!(
            decode_err(&[1, 2, 0, 3, 0, 0, 1, 0]),
            "reconcile_non_canonical"
        );
        assert_eq!(decode_err(&[1, 0, 3, 0]), "reconcile_non_canonical");
        // Timestamp 2^64 - 1 then a delta of 1.
        let mut overflow = vec![1];
        write_varint(&mut overflow, 1u128 << 64);
        overflow.extend_from_slice(&[1, 0, 2, 1, 0]);
        assert_eq!(decode_err(&overflow), "reconcile_timestamp_overflow");
    }

    #[test]
    fn huge_declared_lengths_are_rejected_before_allocating() {
        let mut bytes = vec![1, 0, 2];
        write_varint(&mut bytes, u128::from(u64::MAX));
        bytes.extend_from_slice(&[0xaa; 64]);
        let err = Message::decode(&bytes).unwrap_err();
        assert_eq!(err.code(), "reconcile_length_exceeds_input");
        assert!(err.to_string().contains("64 bytes remain"), "{err}");
        let mut need = vec![1, 0, 3];
        write_varint(&mut need, 1 << 40);
        assert_eq!(decode_err(&need), "reconcile_length_exceeds_input");
    }

    #[test]
    fn error_codes_are_distinct() {
        let errors = [
            ReconcileError::Empty,
            ReconcileError::UnsupportedVersion {
                found: 0,
                supported: 1,
            },
            ReconcileError::Truncated("x"),
            ReconcileError::BadVarint("x"),
            ReconcileError::PrefixTooLong(40),
            ReconcileError::TimestampOverflow,
            ReconcileError::InfinityWithPrefix,
            ReconcileError::BoundsNotIncreasing { index: 0 },
            ReconcileError::RangeAfterInfinity { index: 0 },
            ReconcileError::LengthExceedsInput {
                what: "x",
                declared: 1,
                available: 0,
            },
            ReconcileError::NonCanonical("x"),
            ReconcileError::DidNotConverge(1),
        ];
        let codes: BTreeSet<&str> = errors.iter().map(ReconcileError::code).collect();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn identical_sets_finish_after_the_first_message() {
        let s = set(&(0..1000).map(|n| (n / 3, n)).collect::<Vec<_>>());
        let stats = reconcile_in_memory(&s, &s, ReconcileConfig::default()).unwrap();
        assert_eq!(stats.rounds, 1);
        assert!(stats.a_sends.is_empty() && stats.b_sends.is_empty());
        assert!(stats.bytes_a_to_b < 600, "{}", stats.bytes_a_to_b);
    }

    #[test]
    fn an_empty_initiator_is_sent_everything_after_one_tiny_message() {
        let b = set(&(0..500).map(|n| (n, n)).collect::<Vec<_>>());
        let stats =
            reconcile_in_memory(&ItemSet::default(), &b, ReconcileConfig::default()).unwrap();
        assert_eq!(stats.rounds, 1);
        assert_eq!(stats.bytes_a_to_b, 4);
        assert_eq!(stats.b_sends.len(), 500);
    }

    #[test]
    fn a_single_missing_item_is_found_by_sum_decoding_without_any_id_on_the_wire() {
        let shared: Vec<(u64, u64)> = (0..5000).map(|n| (n * 7, n)).collect();
        let mut more = shared.clone();
        more.push((12_345, 99_999));
        let (a, b) = (set(&more), set(&shared));
        let r = Reconciler::new(ReconcileConfig::default());
        // a (holding the extra item) opens: b, lacking it, decodes its key from the sums and
        // names it in a Need; a pushes it and is done.
        let outcome = r.respond(&b, &r.initiate(&a)).unwrap();
        let need = outcome.reply.unwrap();
        assert!(
            need.ranges()
                .iter()
                .all(|e| !matches!(e.mode, Mode::IdList(_)))
        );
        assert!(
            need.ranges()
                .iter()
                .any(|e| e.mode == Mode::Need(vec![item_key(&id(99_999))]))
        );
        let outcome = r.respond(&a, &need).unwrap();
        assert_eq!(
            (ids_of(&outcome.send), outcome.reply),
            (vec![id(99_999)], None)
        );
        // b opens: a finds the extra item from the sums itself; one message in all.
        let outcome = r.respond(&a, &r.initiate(&b)).unwrap();
        assert_eq!(
            (ids_of(&outcome.send), outcome.reply),
            (vec![id(99_999)], None)
        );
    }

    #[test]
    fn an_id_list_is_answered_with_a_need_only_when_the_receiver_lacks_something() {
        let r = Reconciler::new(ReconcileConfig::default());
        let small = set(&[(1, 1), (2, 2)]);
        let big = set(&[(1, 1), (2, 2), (3, 3)]);
        // small < threshold: it opens with its id list; big lacks nothing, so it just pushes.
        let outcome = r.respond(&big, &r.initiate(&small)).unwrap();
        assert_eq!((ids_of(&outcome.send), outcome.reply), (vec![id(3)], None));
        // big opens with its id list; small pushes nothing and asks for what it lacks.
        let outcome = r.respond(&small, &r.initiate(&big)).unwrap();
        assert_eq!(outcome.need, vec![id(3)]);
        let reply = outcome.reply.unwrap();
        assert_eq!(reply.ranges()[0].mode, Mode::Need(vec![item_key(&id(3))]));
        let outcome = r.respond(&big, &reply).unwrap();
        assert_eq!((ids_of(&outcome.send), outcome.reply), (vec![id(3)], None));
    }

    #[test]
    fn messages_survive_json_and_postcard_envelopes() {
        let s = set(&(0..100).map(|n| (n % 7, n)).collect::<Vec<_>>());
        let message = Reconciler::new(ReconcileConfig::default()).initiate(&s);
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
        let bytes = postcard::to_allocvec(&message).unwrap();
        assert_eq!(postcard::from_bytes::<Message>(&bytes).unwrap(), message);
        assert!(serde_json::from_str::<Message>("[1, 2, 0]").is_err());
    }

    #[test]
    fn configs_are_clamped_to_workable_values() {
        let cfg = ReconcileConfig {
            branching: 0,
            id_list_threshold: 0,
            max_message_bytes: 0,
        };
        let cfg = Reconciler::new(cfg).config();
        assert_eq!((cfg.branching, cfg.id_list_threshold), (2, 2));
        assert_eq!(cfg.max_message_bytes, cfg.min_message_bytes());
        let d = ReconcileConfig::default();
        assert_eq!(Reconciler::new(d).config(), d);
    }
}
