//! Forks and change origins at the accept path (PROTOCOL.md §10, §11 steps 5 and 7):
//! (a) a village home copied to a second machine writes on both; whichever branch a node holds
//!     first, no envelope of the other is ever applied, the fork is kept as evidence, and from
//!     the fork point on the key is halted (changes before it stay valid);
//! (b) the fork proof travels as an evidence record and halts the key wherever it is accepted;
//! (c) the property: delivered in any order, a node's held log of a forked author always links
//!     (`prev` of each held envelope is the id of the held one before it) and holds every
//!     envelope before the fork point;
//! (d) a change whose Automerge actor id or time is not its envelope's author or timestamp is
//!     rejected.

mod common;

use common::{NOW_MS, Net};
use lingong_protocol::Error;
use lingong_protocol::accept::Accepted;
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::evidence::ForkProof;
use lingong_protocol::record::{self, FieldValue, RecordKind};
use lingong_protocol::store::{MemoryStore, Staged, Store};
use proptest::prelude::*;
use std::sync::LazyLock;

static NET: LazyLock<Net> = LazyLock::new(Net::new);

/// The village's log on two machines: `common` is what both hold (the certificates and
/// `shared` posts of the village), then each machine writes `len` more posts on its own.
struct TwoBranches {
    common: MemoryStore,
    shared: Vec<Envelope>,
    a: Vec<Envelope>,
    b: Vec<Envelope>,
}

fn post(store: &mut MemoryStore, title: &str, at_ms: i64) -> Envelope {
    NET.write(
        store,
        &NET.village,
        Target::Create {
            kind: RecordKind::Post,
            reach: None,
        },
        &common::post_fields(title),
        at_ms,
    )
    .expect("the village signs on its own machine")
}

fn two_branches(shared: usize, len_a: usize, len_b: usize) -> TwoBranches {
    let mut common = NET.store();
    let shared: Vec<Envelope> = (0..shared)
        .map(|i| {
            post(
                &mut common,
                &format!("共同岗位{i}"),
                NOW_MS + i as i64 * 1000,
            )
        })
        .collect();
    let mut machine_a = common.clone();
    let mut machine_b = common.clone();
    let a = (0..len_a)
        .map(|i| {
            post(
                &mut machine_a,
                &format!("甲机岗位{i}"),
                NOW_MS + 60_000 + i as i64,
            )
        })
        .collect();
    let b = (0..len_b)
        .map(|i| {
            post(
                &mut machine_b,
                &format!("乙机岗位{i}"),
                NOW_MS + 90_000 + i as i64,
            )
        })
        .collect();
    TwoBranches {
        common: NET.store(),
        shared,
        a,
        b,
    }
}

fn held(store: &MemoryStore, env: &Envelope) -> bool {
    store.envelopes.contains_key(&env.id())
}

#[test]
fn a_copied_homes_second_branch_is_never_applied_and_the_key_halts_at_the_fork_point() {
    let t = two_branches(2, 3, 5);
    let mut county = t.common.clone();
    for env in t.shared.iter().chain(&t.a[..1]) {
        assert_eq!(
            NET.receive(&mut county, env, NOW_MS + 120_000),
            Ok(Accepted::New)
        );
    }
    let fork_seq = t.a[0].header.seq;
    // The copy's branch: its first envelope shares a sequence number, every later one links
    // to that first envelope, not to what the county holds.
    for env in &t.b {
        let err = NET
            .receive(&mut county, env, NOW_MS + 120_000)
            .expect_err("the copy's branch is refused");
        assert!(
            matches!(err, Error::Fork { seq, .. } if seq == fork_seq),
            "{err:?}"
        );
        assert!(!held(&county, env));
    }
    // The genuine station's later envelopes are refused too: the key signed two histories.
    for env in &t.a[1..] {
        let err = NET
            .receive(&mut county, env, NOW_MS + 120_000)
            .expect_err("halted after the fork point");
        assert_eq!(err.code(), "fork");
        assert!(!held(&county, env));
    }
    // Everything before the fork point stays valid, and the fork is kept as evidence.
    assert!(t.shared.iter().all(|e| held(&county, e)));
    assert!(held(&county, &t.a[0]));
    assert_eq!(
        county.fork_point(&NET.village.public()).unwrap(),
        Some(fork_seq)
    );
    let evidence = &county.evidence[0];
    let headers: Vec<Envelope> = evidence
        .envelopes
        .iter()
        .map(|b| Envelope::from_bytes(b).unwrap())
        .collect();
    assert_eq!(headers[0].id(), t.a[0].id());
    assert_eq!(headers[1].id(), t.b[0].id());
}

#[test]
fn a_branch_that_arrives_after_a_gap_is_caught_by_its_broken_link() {
    // The county holds the genuine envelope at the fork point but none of the copy's first
    // envelope: the copy's second envelope (one number later) names a `prev` the county does
    // not hold at the fork point, which proves the fork on its own.
    let t = two_branches(1, 1, 2);
    let mut county = t.common.clone();
    for env in t.shared.iter().chain(&t.a) {
        NET.receive(&mut county, env, NOW_MS + 120_000).unwrap();
    }
    let err = NET
        .receive(&mut county, &t.b[1], NOW_MS + 120_000)
        .expect_err("broken link");
    assert_eq!(
        err,
        Error::Fork {
            author: NET.village.public().node_id(),
            seq: t.a[0].header.seq
        }
    );
    assert!(!held(&county, &t.b[1]));
    // And the other way round: the later envelope held first, its predecessor of the other
    // branch arriving afterwards.
    let mut township = t.common.clone();
    for env in t.shared.iter().chain(&t.b[1..]) {
        NET.receive(&mut township, env, NOW_MS + 120_000).unwrap();
    }
    let err = NET
        .receive(&mut township, &t.a[0], NOW_MS + 120_000)
        .expect_err("the held successor links elsewhere");
    assert_eq!(err.code(), "fork");
    assert!(!held(&township, &t.a[0]));
}

/// Publishes the county's evidence against the village as an evidence record.
fn publish_evidence(county: &mut MemoryStore) -> Envelope {
    let ev = county.evidence[0].clone();
    let a = Envelope::from_bytes(&ev.envelopes[0]).unwrap();
    let b = Envelope::from_bytes(&ev.envelopes[1]).unwrap();
    let chain = county.author(&ev.author).unwrap().unwrap().chain;
    let proof = ForkProof::from_headers(&a, &b, chain).expect("a fork proof");
    let author = LocalAuthor {
        key: &NET.county.key,
        cfg: NET.cfg(),
    };
    let mut staged = Staged::new(&*county);
    let env = author
        .publish_evidence(&mut staged, &proof, NOW_MS + 130_000)
        .expect("the evidence record is accepted at its publisher");
    let batch = staged.into_batch();
    county.commit(batch).unwrap();
    env
}

#[test]
fn an_evidence_record_halts_the_forked_key_wherever_it_is_accepted() {
    let t = two_branches(1, 2, 1);
    let mut county = t.common.clone();
    for env in t.shared.iter().chain(&t.a[..1]) {
        NET.receive(&mut county, env, NOW_MS + 120_000).unwrap();
    }
    NET.receive(&mut county, &t.b[0], NOW_MS + 120_000)
        .expect_err("fork");
    let evidence = publish_evidence(&mut county);
    assert_eq!(evidence.header.kind, RecordKind::Evidence);
    // The city has seen only the genuine branch; the evidence record reaches it.
    let mut city = t.common.clone();
    for env in t.shared.iter().chain(&t.a[..1]) {
        NET.receive(&mut city, env, NOW_MS + 120_000).unwrap();
    }
    assert_eq!(
        NET.receive(&mut city, &evidence, NOW_MS + 140_000),
        Ok(Accepted::New)
    );
    assert_eq!(
        city.fork_point(&NET.village.public()).unwrap(),
        Some(t.a[0].header.seq)
    );
    let err = NET
        .receive(&mut city, &t.a[1], NOW_MS + 140_000)
        .expect_err("halted by the evidence it accepted");
    assert_eq!(err.code(), "fork");
    assert!(held(&city, &t.shared[0]), "what came before stays");
}

#[test]
fn an_evidence_record_whose_headers_fit_one_log_is_refused() {
    let t = two_branches(2, 0, 0);
    let chain = NET.village.chain.clone();
    // Two consecutive envelopes of one honest log prove nothing.
    let err =
        ForkProof::from_headers(&t.shared[0], &t.shared[1], chain.clone()).expect_err("no fork");
    assert_eq!(err.code(), "bad-change");
    // A proof whose second header is not the accused key's.
    let mut other = NET.store();
    let foreign = NET
        .write(
            &mut other,
            &NET.sibling,
            Target::Create {
                kind: RecordKind::Post,
                reach: None,
            },
            &common::post_fields("别村岗位"),
            NOW_MS,
        )
        .unwrap();
    assert!(ForkProof::from_headers(&t.shared[0], &foreign, chain).is_err());
}

// ---------------------------------------------------------------------------------------------
// (c) any order

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn in_any_order_a_held_log_links_and_keeps_everything_before_the_fork(
        shared in 1usize..3,
        len_a in 1usize..4,
        len_b in 1usize..4,
        order in any::<u64>(),
    ) {
        let t = two_branches(shared, len_a, len_b);
        let mut all: Vec<Envelope> = t.shared.iter().chain(&t.a).chain(&t.b).cloned().collect();
        // A deterministic shuffle from the drawn seed.
        let mut s = order;
        for i in (1..all.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            all.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut node = t.common.clone();
        for env in &all {
            let _ = NET.receive(&mut node, env, NOW_MS + 120_000);
        }
        let me = NET.village.public();
        let fork_seq = t.a[0].header.seq;
        prop_assert_eq!(node.fork_point(&me).unwrap(), Some(fork_seq));
        for env in &t.shared {
            prop_assert!(held(&node, env), "before the fork point");
        }
        // Never both branches at one number, and every held envelope links to the held one
        // before it.
        let held_at = |seq: u64| node.logs.get(&(me, seq)).copied();
        let top = t.a.last().unwrap().header.seq.max(t.b.last().unwrap().header.seq);
        for seq in 2..=top {
            if let (Some(before), Some(now)) = (held_at(seq - 1), held_at(seq)) {
                prop_assert_eq!(node.envelopes[&now].header.prev, before);
            }
        }
        prop_assert!(!(held(&node, &t.a[0]) && held(&node, &t.b[0])));
    }
}

// ---------------------------------------------------------------------------------------------
// (d) change origin

/// A post envelope of the village at seq 2 whose change was made by `actor` at `change_ms`.
fn village_post_with_change(actor: &lingong_protocol::keys::PublicKey, change_ms: i64) -> Envelope {
    let store = NET.store();
    let info = store.author(&NET.village.public()).unwrap().unwrap();
    let prev = store
        .envelope_at(&NET.village.public(), info.max_seq)
        .unwrap()
        .unwrap();
    let change = record::make_change(None, actor, &common::post_fields("冒名岗位"), change_ms)
        .expect("change");
    let seq = info.max_seq + 1;
    Envelope::sign(
        &NET.village.key,
        seq,
        prev,
        lingong_protocol::record::RecordId {
            creator: NET.village.public(),
            serial: seq,
        },
        RecordKind::Post,
        NET.village.region(),
        NET.village.region(),
        NOW_MS,
        NET.village.chain.leaf_hash(),
        change,
    )
}

#[test]
fn a_change_under_another_authors_actor_id_is_rejected() {
    let mut store = NET.store();
    let env = village_post_with_change(&NET.county.public(), NOW_MS);
    let err = NET
        .receive(&mut store, &env, NOW_MS)
        .expect_err("foreign actor");
    assert_eq!(err.code(), "bad-change");
    assert!(err.to_string().contains("actor id"), "{err}");
    assert!(!held(&store, &env));
}

#[test]
fn a_change_dated_otherwise_than_its_envelope_is_rejected() {
    let mut store = NET.store();
    let env = village_post_with_change(&NET.village.public(), NOW_MS - 86_400_000);
    let err = NET
        .receive(&mut store, &env, NOW_MS)
        .expect_err("back-dated change");
    assert_eq!(err.code(), "bad-change");
    assert!(err.to_string().contains("time"), "{err}");
    // The same change dated as its envelope is accepted.
    let mut store = NET.store();
    let env = village_post_with_change(&NET.village.public(), NOW_MS);
    assert_eq!(NET.receive(&mut store, &env, NOW_MS), Ok(Accepted::New));
}

#[test]
fn an_ancestors_edit_carries_the_ancestors_actor_id_and_is_accepted() {
    let mut store = NET.store();
    let env = post(&mut store, "县里可改的岗位", NOW_MS);
    let edit = NET
        .write(
            &mut store,
            &NET.county,
            Target::Edit(env.header.record),
            &[("headcount", FieldValue::Int(3))],
            NOW_MS + 1000,
        )
        .expect("the county edits its village's post");
    let mut elsewhere = NET.store();
    assert_eq!(
        NET.receive(&mut elsewhere, &env, NOW_MS + 2000),
        Ok(Accepted::New)
    );
    assert_eq!(
        NET.receive(&mut elsewhere, &edit, NOW_MS + 2000),
        Ok(Accepted::New)
    );
}
