//! Property and measurement tests for `lingong_protocol::reconcile`: sessions between arbitrary
//! pairs of sets find exactly the two set differences within a bounded number of messages and
//! within the message budget; decoding arbitrary bytes never panics; the codec round-trips; and
//! the byte cost at 100,000 items with 100 differences stays within the overhead target (the
//! figures are printed: `cargo test -p lingong-protocol --test reconcile_props -- --nocapture`).

use std::collections::BTreeSet;

use lingong_protocol::reconcile::{
    Bound, Item, ItemId, ItemSet, Message, Mode, RangeEntry, ReconcileConfig, ReconcileError,
    Reconciler, item_key, reconcile_in_memory,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Which side(s) hold a generated item.
#[derive(Clone, Copy, Debug)]
enum Side {
    Both,
    A,
    B,
}

fn id_of(n: u64) -> ItemId {
    Sha256::digest(n.to_le_bytes()).into()
}

fn split(items: &[(Item, Side)]) -> (ItemSet, ItemSet) {
    let a = items
        .iter()
        .filter(|(_, s)| !matches!(s, Side::B))
        .map(|(i, _)| *i)
        .collect();
    let b = items
        .iter()
        .filter(|(_, s)| !matches!(s, Side::A))
        .map(|(i, _)| *i)
        .collect();
    (ItemSet::from_unsorted(a), ItemSet::from_unsorted(b))
}

fn difference(x: &ItemSet, y: &ItemSet) -> Vec<ItemId> {
    let ys: BTreeSet<Item> = y.items().iter().copied().collect();
    let mut d: Vec<ItemId> = x
        .items()
        .iter()
        .filter(|i| !ys.contains(i))
        .map(|i| i.id)
        .collect();
    d.sort_unstable();
    d
}

/// A generous bound on the messages of an unconstrained session: each level of the range tree
/// costs at most a couple of messages, plus a few to settle id lists and Needs.
fn round_bound(n: usize, branching: usize) -> usize {
    let mut depth = 1;
    let mut size = 1usize;
    while size < n.max(2) {
        size = size.saturating_mul(branching.max(2));
        depth += 1;
    }
    2 * depth + 6
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Both), Just(Side::A), Just(Side::B)]
}

/// Items with distinct random ids; timestamps from a small range so many coincide, or from the
/// whole u64 range.
fn items(max: usize, sides: BoxedStrategy<Side>) -> impl Strategy<Value = Vec<(Item, Side)>> {
    let ts = prop_oneof![0u64..6, any::<u64>(), Just(u64::MAX)];
    prop::collection::vec((ts, any::<u64>(), sides), 0..max).prop_map(|v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(_, n, _)| seen.insert(*n))
            .map(|(t, n, s)| (Item::new(t, id_of(n)), s))
            .collect()
    })
}

/// Pairs of sets of every shape: random overlap, identical, disjoint, one a subset of the
/// other, one or both empty.
fn pair() -> impl Strategy<Value = Vec<(Item, Side)>> {
    prop_oneof![
        3 => items(300, side().boxed()),
        1 => items(300, Just(Side::Both).boxed()),
        1 => items(300, prop_oneof![Just(Side::A), Just(Side::B)].boxed()),
        1 => items(300, prop_oneof![9 => Just(Side::Both), 1 => Just(Side::A)].boxed()),
        1 => items(300, prop_oneof![9 => Just(Side::Both), 1 => Just(Side::B)].boxed()),
        1 => items(300, Just(Side::A).boxed()),
        1 => items(300, Just(Side::B).boxed()),
        1 => Just(Vec::new()),
    ]
}

fn config() -> impl Strategy<Value = ReconcileConfig> {
    (2usize..=20, 2usize..=24).prop_map(|(branching, id_list_threshold)| ReconcileConfig {
        branching,
        id_list_threshold,
        max_message_bytes: usize::MAX,
    })
}

/// Valid messages: increasing bounds, canonical Skips.
fn message() -> impl Strategy<Value = Message> {
    let mode = prop_oneof![
        Just(Mode::Skip),
        (1u64..u64::MAX, any::<[u8; 16]>()).prop_map(|(count, f)| Mode::Fingerprint {
            count,
            fingerprint: lingong_protocol::reconcile::Fingerprint(f),
        }),
        Just(Mode::Fingerprint {
            count: 0,
            fingerprint: lingong_protocol::reconcile::Fingerprint::EMPTY,
        }),
        prop::collection::vec(any::<[u8; 32]>(), 0..4).prop_map(Mode::IdList),
        prop::collection::vec(any::<[u8; 16]>(), 1..4).prop_map(Mode::Need),
    ];
    let bound = (any::<u64>(), any::<[u8; 32]>(), 0usize..=32);
    (prop::collection::vec((bound, mode), 0..12), any::<bool>()).prop_map(|(entries, infinite)| {
        let mut bounds: Vec<Bound> = entries
            .iter()
            .map(|((ts, id, len), _)| Bound::finite(*ts, &id[..*len]).unwrap())
            .collect();
        bounds.sort_by(|x, y| x.cmp_position(y));
        bounds.dedup_by(|x, y| x.cmp_position(y).is_eq());
        bounds.retain(|b| b.cmp_position(&Bound::MIN).is_gt());
        if infinite {
            bounds.push(Bound::Infinity);
        }
        let mut ranges: Vec<RangeEntry> = Vec::new();
        for (upper, (_, mode)) in bounds.into_iter().zip(entries) {
            let prev_skip = ranges.last().is_some_and(|r| r.mode == Mode::Skip);
            let mode = if mode == Mode::Skip && prev_skip {
                Mode::IdList(Vec::new())
            } else {
                mode
            };
            ranges.push(RangeEntry { upper, mode });
        }
        if ranges.last().is_some_and(|r| r.mode == Mode::Skip) {
            ranges.pop();
        }
        Message::new(ranges).expect("generated message is canonical")
    })
}

/// The messages of a session from `floor` between `whole[0]` (the initiator) and `whole[1]`,
/// each side starting over its set windowed at its entry of `windows` (`None`: the whole set)
/// and taking its whole set when a message needs what lies below: the messages, what each side
/// pushes, and how many times a side took its whole set.
fn session_from(
    whole: [&ItemSet; 2],
    windows: [Option<Bound>; 2],
    floor: Bound,
    cfg: ReconcileConfig,
) -> (Vec<Vec<u8>>, [Vec<ItemId>; 2], usize) {
    let reconciler = Reconciler::new(cfg);
    let mut views: Vec<ItemSet> = whole
        .iter()
        .zip(windows)
        .map(|(set, window)| {
            let mut view = (*set).clone();
            if let Some(window) = window {
                view.raise_floor(window);
            }
            view
        })
        .collect();
    let mut fallbacks = 0;
    let first = match reconciler.initiate_from(&views[0], &floor) {
        Err(ReconcileError::NeedsHistory) => {
            fallbacks += 1;
            views[0] = whole[0].clone();
            reconciler.initiate_from(&views[0], &floor).unwrap()
        }
        other => other.unwrap(),
    };
    let mut messages = vec![first.encode()];
    let mut sends: [Vec<ItemId>; 2] = [Vec::new(), Vec::new()];
    let mut to = 1;
    for _ in 0..200 {
        let message = Message::decode(messages.last().unwrap()).unwrap();
        let outcome = match reconciler.respond(&views[to], &message) {
            Err(ReconcileError::NeedsHistory) => {
                fallbacks += 1;
                views[to] = whole[to].clone();
                reconciler.respond(&views[to], &message).unwrap()
            }
            other => other.unwrap(),
        };
        sends[to].extend(outcome.send.iter().map(|item| item.id));
        match outcome.reply {
            None => {
                for list in &mut sends {
                    list.sort_unstable();
                    list.dedup();
                }
                return (messages, sends, fallbacks);
            }
            Some(reply) => messages.push(reply.encode()),
        }
        to = 1 - to;
    }
    panic!("the session did not finish");
}

/// Timestamp-only bounds, from the small timestamps most generated items carry or anywhere.
fn floor() -> impl Strategy<Value = Bound> {
    prop_oneof![0u64..8, any::<u64>()].prop_map(|t| Bound::finite(t, &[]).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sessions_find_exactly_both_set_differences_within_bounded_rounds(
        items in pair(),
        cfg in config(),
    ) {
        let (a, b) = split(&items);
        let stats = reconcile_in_memory(&a, &b, cfg).unwrap();
        prop_assert_eq!(&stats.a_sends, &difference(&a, &b));
        prop_assert_eq!(&stats.b_sends, &difference(&b, &a));
        let a_lacks: BTreeSet<ItemId> = difference(&b, &a).into_iter().collect();
        let b_lacks: BTreeSet<ItemId> = difference(&a, &b).into_iter().collect();
        prop_assert!(stats.a_needs.iter().all(|id| a_lacks.contains(id)));
        prop_assert!(stats.b_needs.iter().all(|id| b_lacks.contains(id)));
        let bound = round_bound(a.len().max(b.len()), cfg.branching);
        prop_assert!(stats.rounds <= bound, "{} messages > bound {}", stats.rounds, bound);
    }

    #[test]
    fn a_session_from_a_floor_over_windowed_sets_sends_what_whole_sets_send(
        items in pair(),
        cfg in config(),
        floor in floor(),
        windows in (prop::option::of(floor()), prop::option::of(floor())),
    ) {
        let (a, b) = split(&items);
        let (expected, expected_sends, none) = session_from([&a, &b], [None, None], floor, cfg);
        prop_assert_eq!(none, 0);
        prop_assert_eq!(&expected_sends[0], &difference(&a, &b));
        prop_assert_eq!(&expected_sends[1], &difference(&b, &a));
        let (messages, sends, _) = session_from([&a, &b], [windows.0, windows.1], floor, cfg);
        prop_assert_eq!(messages, expected);
        prop_assert_eq!(sends, expected_sends);
    }

    #[test]
    fn every_message_respects_max_message_bytes(
        items in items(400, side().boxed()),
        branching in 2usize..=16,
        id_list_threshold in 2usize..=16,
        extra in 0usize..600,
    ) {
        let (a, b) = split(&items);
        let base = ReconcileConfig { branching, id_list_threshold, max_message_bytes: 0 };
        let cfg = ReconcileConfig { max_message_bytes: base.min_message_bytes() + extra, ..base };
        prop_assert_eq!(Reconciler::new(cfg).config().max_message_bytes, cfg.max_message_bytes);
        let stats = reconcile_in_memory(&a, &b, cfg).unwrap();
        prop_assert!(stats.largest_message_bytes <= cfg.max_message_bytes);
        prop_assert_eq!(&stats.a_sends, &difference(&a, &b));
        prop_assert_eq!(&stats.b_sends, &difference(&b, &a));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(message) = Message::decode(&bytes) {
            prop_assert_eq!(message.encode(), bytes.clone());
        }
        let mut versioned = vec![1u8];
        versioned.extend_from_slice(&bytes);
        if let Ok(message) = Message::decode(&versioned) {
            prop_assert_eq!(message.encode(), versioned);
        }
    }

    #[test]
    fn decoding_mutated_messages_never_panics(
        message in message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = message.encode();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = Message::decode(&bytes);
        let end = cut.index(bytes.len() + 1);
        let _ = Message::decode(&bytes[..end]);
    }

    #[test]
    fn encode_decode_round_trips(message in message()) {
        let bytes = message.encode();
        prop_assert_eq!(bytes.len(), message.encoded_len());
        prop_assert_eq!(Message::decode(&bytes).unwrap(), message.clone());
        let wrapped = postcard::to_allocvec(&message).unwrap();
        prop_assert_eq!(postcard::from_bytes::<Message>(&wrapped).unwrap(), message);
    }

    #[test]
    fn a_set_kept_by_inserts_and_removals_equals_one_built_from_scratch(
        items in items(300, side().boxed()),
    ) {
        // Side A items are inserted, then side B items are inserted and removed again, in the
        // generated (unsorted) order: the result must be the set built from A at once,
        // fingerprints of every range included.
        let mut kept = ItemSet::default();
        for (item, side) in &items {
            if !matches!(side, Side::B) {
                prop_assert!(kept.insert_keyed(*item, item_key(&item.id)));
            }
        }
        for (item, side) in &items {
            if matches!(side, Side::B) {
                prop_assert!(kept.insert_keyed(*item, item_key(&item.id)));
                prop_assert!(!kept.insert_keyed(*item, item_key(&item.id)));
            }
        }
        for (item, side) in &items {
            if matches!(side, Side::B) {
                prop_assert!(kept.remove(item));
                prop_assert!(!kept.remove(item));
            }
        }
        let (built, _) = split(&items);
        prop_assert_eq!(&kept, &built);
        let n = built.len();
        for start in 0..=n.min(20) {
            prop_assert_eq!(kept.fingerprint(start..n), built.fingerprint(start..n));
        }
    }

    #[test]
    fn responding_to_arbitrary_valid_messages_never_fails(
        message in message(),
        items in items(200, Just(Side::Both).boxed()),
        cfg in config(),
    ) {
        let (set, _) = split(&items);
        let reconciler = Reconciler::new(cfg);
        let outcome = reconciler.respond(&set, &message).unwrap();
        let owned: BTreeSet<ItemId> = set.items().iter().map(|i| i.id).collect();
        prop_assert!(outcome.send.iter().all(|item| owned.contains(&item.id)));
        prop_assert!(outcome.need.iter().all(|id| !owned.contains(id)));
        if let Some(reply) = outcome.reply {
            prop_assert_eq!(Message::decode(&reply.encode()).unwrap(), reply);
        }
    }
}

/// Deterministic pseudo-random numbers (splitmix64) for the measurement sets.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n + d` items a few minutes apart on average (some share a timestamp), and the indices of
/// the `d` that only one side holds: the most recent ones, or spread uniformly.
fn timeline(n: usize, d: usize, recent: bool, seed: u64) -> (Vec<Item>, BTreeSet<usize>) {
    let mut mix = Mix(seed);
    let mut ts = 1_700_000_000u64;
    let items: Vec<Item> = (0..n + d)
        .map(|i| {
            ts += mix.next() % 600;
            Item::new(ts, id_of(seed.wrapping_mul(1_000_003) + i as u64))
        })
        .collect();
    let mut extra = BTreeSet::new();
    if recent {
        extra.extend(n..n + d);
    } else {
        while extra.len() < d {
            extra.insert((mix.next() % (n + d) as u64) as usize);
        }
    }
    (items, extra)
}

struct Case {
    name: &'static str,
    recent: bool,
    /// Which side holds the differing items: 'a' (the initiator), 'b', or '2' (half each).
    holder: char,
}

fn measure(case: &Case, cfg: ReconcileConfig, seed: u64) -> (usize, usize, usize, usize) {
    let (n, d) = (100_000, 100);
    let (items, extra) = timeline(n, d, case.recent, seed);
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let k = extra.iter().position(|e| *e == i);
        match (k, case.holder) {
            (None, _) => {
                a.push(*item);
                b.push(*item);
            }
            (Some(_), 'a') => a.push(*item),
            (Some(_), 'b') => b.push(*item),
            (Some(k), _) if k % 2 == 0 => a.push(*item),
            (Some(_), _) => b.push(*item),
        }
    }
    let (a, b) = (ItemSet::from_unsorted(a), ItemSet::from_unsorted(b));
    let stats = reconcile_in_memory(&a, &b, cfg).unwrap();
    assert_eq!(stats.a_sends, difference(&a, &b), "{}", case.name);
    assert_eq!(stats.b_sends, difference(&b, &a), "{}", case.name);
    (
        stats.bytes_a_to_b,
        stats.bytes_b_to_a,
        stats.rounds,
        stats.largest_message_bytes,
    )
}

const CASES: [Case; 6] = [
    Case {
        name: "recent, initiator holds them",
        recent: true,
        holder: 'a',
    },
    Case {
        name: "recent, responder holds them",
        recent: true,
        holder: 'b',
    },
    Case {
        name: "recent, half each",
        recent: true,
        holder: '2',
    },
    Case {
        name: "spread, initiator holds them",
        recent: false,
        holder: 'a',
    },
    Case {
        name: "spread, responder holds them",
        recent: false,
        holder: 'b',
    },
    Case {
        name: "spread, half each",
        recent: false,
        holder: '2',
    },
];

/// N = 100,000 shared items, d = 100 on one side only. The 100 signed changes are ~60 KB; the
/// target is reconciliation bytes <= 30 KB (300 bytes per differing item).
#[test]
fn byte_overhead_for_recent_and_spread_differences_is_within_budget() {
    let cfg = ReconcileConfig::default();
    println!("N = 100000, d = 100, {cfg:?}");
    for case in &CASES {
        let (ab, ba, rounds, largest) = measure(case, cfg, 7);
        println!(
            "{:32} total {:6} B (a->b {:6}, b->a {:6}), {} messages, largest {} B, {:.0} B per differing item",
            case.name,
            ab + ba,
            ab,
            ba,
            rounds,
            largest,
            (ab + ba) as f64 / 100.0
        );
        assert!(ab + ba <= 30_000, "{}: {} bytes", case.name, ab + ba);
        assert!(rounds <= 12, "{}: {} messages", case.name, rounds);
    }
}

/// 20,000 shared items and 4,000 differences both ways, 4 KiB messages: the session is cut
/// into many bounded messages and still finds exactly both differences.
#[test]
fn large_differences_converge_over_several_bounded_messages() {
    let (items, extra) = timeline(20_000, 4_000, false, 3);
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if !extra.contains(&i) || i % 2 == 0 {
            a.push(*item);
        }
        if !extra.contains(&i) || i % 2 == 1 {
            b.push(*item);
        }
    }
    let (a, b) = (ItemSet::from_unsorted(a), ItemSet::from_unsorted(b));
    let cfg = ReconcileConfig {
        max_message_bytes: 4096,
        ..ReconcileConfig::default()
    };
    let stats = reconcile_in_memory(&a, &b, cfg).unwrap();
    let unbounded = reconcile_in_memory(
        &a,
        &b,
        ReconcileConfig {
            max_message_bytes: usize::MAX,
            ..cfg
        },
    )
    .unwrap();
    println!(
        "4000 differences: {} messages / {} B with 4 KiB messages, {} messages / {} B (largest {} B) unbounded",
        stats.rounds,
        stats.bytes_a_to_b + stats.bytes_b_to_a,
        unbounded.rounds,
        unbounded.bytes_a_to_b + unbounded.bytes_b_to_a,
        unbounded.largest_message_bytes,
    );
    assert!(stats.largest_message_bytes <= 4096);
    assert!(unbounded.largest_message_bytes > 4096);
    assert_eq!(stats.a_sends, difference(&a, &b));
    assert_eq!(stats.b_sends, difference(&b, &a));
    assert_eq!(stats.a_sends, unbounded.a_sends);
    assert_eq!(stats.b_sends, unbounded.b_sends);
}

/// Prints the same figures for a grid of configurations (for tuning; ignored by default).
#[test]
#[ignore]
fn tuning_grid() {
    for branching in [4, 8, 12, 16, 24, 32] {
        for id_list_threshold in [2, 4, 8, 16] {
            let cfg = ReconcileConfig {
                branching,
                id_list_threshold,
                ..ReconcileConfig::default()
            };
            let mut line = format!("b={branching:2} t={id_list_threshold:2}:");
            for case in &CASES {
                let mut total = 0;
                let mut rounds = 0;
                for seed in 1..=3 {
                    let (ab, ba, r, _) = measure(case, cfg, seed);
                    total += ab + ba;
                    rounds = rounds.max(r);
                }
                line += &format!(" {:6}B/{:2}", total / 3, rounds);
            }
            println!("{line}");
        }
    }
}

#[test]
fn item_keys_are_the_first_half_of_sha256_of_the_id() {
    let id = id_of(1);
    let full: [u8; 32] = Sha256::digest(id).into();
    assert_eq!(item_key(&id)[..], full[..16]);
}
