//! Property tests of the signed formats and the accept path:
//! (a) no single-byte flip of an envelope's wire bytes yields an envelope that verifies or is
//!     accepted; (b) no single-byte flip of a certificate chain's bytes yields a chain that
//!     verifies; (c) the envelopes of a post edited by several authors (its village creator
//!     and the township, county and city above it, with syncs in between) give the same record
//!     and the same stored envelope set in any order, with duplicates; (d) every valid chain
//!     down the real division table verifies, and replacing any one link with one signed by a
//!     foreign key, or issued for a region outside its issuer, makes it fail.

mod common;

use common::{ISSUED_S, NOW_MS, Net, create_post};
use lingong_protocol::Error;
use lingong_protocol::accept::Accepted;
use lingong_protocol::author::Target;
use lingong_protocol::canon::sha256;
use lingong_protocol::cert::{CertBody, CertChain, Certificate};
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::region::{Level, RegionCode, divisions};
use lingong_protocol::store::MemoryStore;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

static NET: LazyLock<Net> = LazyLock::new(Net::new);
/// A store holding every test member's certificate record.
static BASE: LazyLock<MemoryStore> = LazyLock::new(|| NET.store());

// ---------------------------------------------------------------------------------------------
// (a) envelope byte flips

fn village_post(title: &str, at_ms: i64) -> Envelope {
    let mut store = BASE.clone();
    NET.write(
        &mut store,
        &NET.village,
        Target::Create {
            kind: RecordKind::Post,
            reach: None,
        },
        &common::post_fields(title),
        at_ms,
    )
    .expect("post signed")
}

proptest! {
    #[test]
    fn a_flipped_byte_in_an_envelope_is_never_accepted(
        title in "\\PC{1,24}",
        header_only in any::<bool>(),
        at in 0i64..3_600_000,
        pos in any::<Index>(),
        mask in 1u8..=255,
    ) {
        let original = village_post(&title, NOW_MS + at);
        let original = if header_only { original.header_only() } else { original };
        let mut wire = original.to_bytes();
        let i = pos.index(wire.len());
        wire[i] ^= mask;
        let Ok(flipped) = Envelope::from_bytes(&wire) else {
            return Ok(()); // rejected while decoding
        };
        prop_assert!(
            flipped.verify_signature().is_err(),
            "byte {i} ^ {mask:#04x} still verifies (same id: {})",
            flipped.id() == original.id()
        );
        // Not accepted by a store that has never seen the original…
        let mut fresh = BASE.clone();
        prop_assert!(NET.receive(&mut fresh, &flipped, NOW_MS).is_err());
        prop_assert_eq!(fresh.envelopes.len(), BASE.envelopes.len());
        // …nor by one holding the original's header, waiting for its payload.
        let mut waiting = BASE.clone();
        prop_assert_eq!(NET.receive(&mut waiting, &original.header_only(), NOW_MS), Ok(Accepted::New));
        let held = waiting.envelopes.clone();
        match NET.receive(&mut waiting, &flipped, NOW_MS) {
            Err(_) => {}
            Ok(Accepted::Duplicate) => prop_assert!(flipped.payload.is_none() && flipped.id() == original.id()),
            Ok(other) => prop_assert!(false, "byte {i} ^ {mask:#04x} was accepted: {other:?}"),
        }
        prop_assert_eq!(waiting.envelopes, held, "the store changed");
    }
}

// ---------------------------------------------------------------------------------------------
// (b) certificate chain byte flips

proptest! {
    #[test]
    fn a_flipped_byte_in_a_certificate_chain_never_verifies(
        member in 0usize..6,
        pos in any::<Index>(),
        mask in 1u8..=255,
    ) {
        let chain = &NET.all()[member].chain;
        let mut bytes = chain.to_bytes();
        prop_assert_eq!(CertChain::from_bytes(&bytes), Ok(chain.clone()));
        let i = pos.index(bytes.len());
        bytes[i] ^= mask;
        if let Ok(flipped) = CertChain::from_bytes(&bytes) {
            let verdict = flipped.verify(&NET.province.public(), ISSUED_S + 60, &|_| false);
            prop_assert!(verdict.is_err(), "byte {i} ^ {mask:#04x} of member {member}'s chain still verifies");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) any order, with duplicates, gives the same record

#[derive(Clone, Debug)]
enum Edit {
    Headcount(i64),
    Wage(u32),
    Status(&'static str),
    Title(String),
    Fill(i64),
}

#[derive(Clone, Debug)]
enum Step {
    /// `author` indexes [village, township, county, city]; each edits in its own store.
    Edit { author: usize, edit: Edit },
    /// Every store exchanges everything with every other.
    Sync,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (1i64..100).prop_map(Edit::Headcount),
        (50u32..500).prop_map(Edit::Wage),
        prop::sample::select(vec!["open", "filled", "closed"]).prop_map(Edit::Status),
        "[a-z零工岗位]{1,8}".prop_map(Edit::Title),
        (1i64..3).prop_map(Edit::Fill),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..4, edit()).prop_map(|(author, edit)| Step::Edit { author, edit }),
        1 => Just(Step::Sync),
    ]
}

fn fields(edit: &Edit) -> Vec<(&'static str, FieldValue)> {
    match edit {
        Edit::Headcount(n) => vec![("headcount", FieldValue::Int(*n))],
        Edit::Wage(w) => vec![("wage", FieldValue::Number(f64::from(*w)))],
        Edit::Status(s) => vec![("status", FieldValue::Text(s.to_string()))],
        Edit::Title(t) => vec![("title", FieldValue::Text(t.clone()))],
        Edit::Fill(n) => vec![("filled", FieldValue::Increment(*n))],
    }
}

/// Every envelope of every store, by id.
fn union(stores: &[MemoryStore]) -> BTreeMap<EnvelopeId, Envelope> {
    stores
        .iter()
        .flat_map(|s| s.envelopes.iter().map(|(id, e)| (*id, e.clone())))
        .collect()
}

fn sync(stores: &mut [MemoryStore], now_ms: i64) {
    let all: Vec<Envelope> = union(stores).into_values().collect();
    for store in stores.iter_mut() {
        for r in NET.receive_all(store, &all, now_ms) {
            r.expect("sync accepts everything");
        }
    }
}

/// Runs the script and returns every envelope it produced (certificate records included) and
/// how many edits made a change.
fn run_script(steps: &[Step]) -> (Vec<Envelope>, usize) {
    let mut edits = 0;
    let authors = [&NET.village, &NET.township, &NET.county, &NET.city];
    let mut stores: Vec<MemoryStore> = (0..authors.len()).map(|_| BASE.clone()).collect();
    let post = create_post(&NET, &mut stores[0], &NET.village, Some("522622"), NOW_MS);
    sync(&mut stores, NOW_MS);
    for (i, step) in steps.iter().enumerate() {
        let at = NOW_MS + (i as i64 + 1) * 1000;
        match step {
            Step::Sync => sync(&mut stores, at),
            Step::Edit { author, edit } => {
                let written = NET.write(
                    &mut stores[*author],
                    authors[*author],
                    Target::Edit(post),
                    &fields(edit),
                    at,
                );
                match written {
                    Ok(_) => edits += 1,
                    // Setting a field to the value it already has makes no Automerge change.
                    Err(Error::InvalidField {
                        field: "fields", ..
                    }) => {}
                    Err(e) => panic!("the creator and its ancestors may edit: {e:?}"),
                }
            }
        }
    }
    (union(&stores).into_values().collect(), edits)
}

/// What a store ends up holding: every envelope id, and each record's view and waiting flag.
type Outcome = (
    BTreeSet<EnvelopeId>,
    Vec<(serde_json::Map<String, serde_json::Value>, bool)>,
);

fn outcome(store: &MemoryStore) -> Outcome {
    (
        store.envelopes.keys().copied().collect(),
        store
            .records
            .values()
            .map(|r| (r.view.clone(), r.waiting))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn a_multi_author_post_converges_in_any_order_with_duplicates(
        steps in prop::collection::vec(step(), 1..8),
        order in prop::collection::vec(any::<u32>(), 64),
        dups in prop::collection::vec((any::<Index>(), any::<Index>()), 0..6),
    ) {
        let (envelopes, edits) = run_script(&steps);
        let post_changes = envelopes.iter().filter(|e| e.header.kind == RecordKind::Post).count();
        prop_assert_eq!(post_changes, 1 + edits);

        // Reference: certificates first, then each author's log in order.
        let mut canonical = envelopes.clone();
        canonical.sort_by_key(|e| (e.header.kind != RecordKind::Certificate, e.header.author, e.header.seq));
        let mut reference = MemoryStore::new();
        for r in NET.receive_all(&mut reference, &canonical, NOW_MS + 60_000) {
            prop_assert!(r.is_ok(), "{r:?}");
        }
        let expected = outcome(&reference);
        prop_assert!(expected.1.iter().all(|(_, waiting)| !waiting));

        // The same envelopes shuffled, with some delivered twice.
        let mut shuffled: Vec<(u32, Envelope)> = envelopes
            .iter()
            .enumerate()
            .map(|(i, e)| (order[i % order.len()], e.clone()))
            .collect();
        shuffled.sort_by_key(|(k, _)| *k);
        let mut delivered: Vec<Envelope> = shuffled.into_iter().map(|(_, e)| e).collect();
        for (which, at) in &dups {
            let copy = envelopes[which.index(envelopes.len())].clone();
            delivered.insert(at.index(delivered.len() + 1), copy);
        }
        let mut store = MemoryStore::new();
        let results = NET.receive_all(&mut store, &delivered, NOW_MS + 60_000);
        for r in &results {
            prop_assert!(r.is_ok(), "{r:?}");
        }
        let news = results.iter().filter(|r| matches!(r, Ok(Accepted::New))).count();
        prop_assert_eq!(news, envelopes.len(), "each envelope accepted once, duplicates are no-ops");
        prop_assert_eq!(outcome(&store), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// (d) chains down the real division table

static VILLAGES: LazyLock<Vec<RegionCode>> = LazyLock::new(|| {
    divisions()
        .iter()
        .filter(|d| d.level == Level::Village)
        .map(|d| d.code)
        .collect()
});

fn seeded_key(seed: u64, n: u8) -> NodeKey {
    let mut input = seed.to_be_bytes().to_vec();
    input.push(n);
    NodeKey::from_seed(sha256(&input))
}

/// Certifies the first `depth` levels above and including `village`, province first.
fn chain_down_to(village: RegionCode, depth: usize, seed: u64) -> Vec<common::Member> {
    let mut members: Vec<common::Member> = Vec::new();
    for (n, level) in Level::ALL.iter().take(depth).enumerate() {
        let region = village.ancestor_at(*level).expect("ancestor");
        let name = divisions().name(&region).expect("in the table").to_string();
        let parent = members.last();
        let member = common::certify(
            seeded_key(seed, n as u8),
            &region.to_string(),
            &name,
            parent,
        );
        members.push(member);
    }
    members
}

/// The same region in another province (53 instead of 52): outside every Guizhou issuer.
fn outside_guizhou(region: RegionCode) -> RegionCode {
    let s = region.to_string();
    RegionCode::parse(&format!("53{}", &s[2..])).expect("valid code")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn valid_chains_verify_and_one_foreign_link_breaks_them(
        village in any::<Index>(),
        depth in 1usize..=5,
        seed in any::<u64>(),
        link in any::<Index>(),
        outside_region in any::<bool>(),
    ) {
        let village = VILLAGES[village.index(VILLAGES.len())];
        let members = chain_down_to(village, depth, seed);
        let root = members[0].public();
        let chain = members.last().expect("depth >= 1").chain.clone();
        prop_assert_eq!(chain.certs().len(), depth);
        prop_assert_eq!(chain.leaf().body.region, village.ancestor_at(Level::ALL[depth - 1]).unwrap());
        prop_assert_eq!(chain.verify(&root, ISSUED_S + 60, &|_| false), Ok(()));
        prop_assert_eq!(CertChain::from_bytes(&chain.to_bytes()), Ok(chain.clone()));

        // Replace link i (leaf = 0, root = depth - 1); its level is depth - 1 - i.
        let i = link.index(depth);
        let level = depth - 1 - i;
        let original = &chain.certs()[i];
        let mut certs = chain.certs().to_vec();
        let is_root = i == depth - 1;
        if outside_region && !is_root {
            // Signed by the right issuer, but for a region outside the issuer's jurisdiction.
            let body = CertBody { region: outside_guizhou(original.body.region), ..original.body };
            certs[i] = Certificate::sign(&members[level - 1].key, body, &original.name);
            let verdict = CertChain::new(certs).verify(&root, ISSUED_S + 60, &|_| false);
            prop_assert!(matches!(verdict, Err(Error::OutOfJurisdiction { .. })), "{verdict:?}");
        } else {
            let foreign = seeded_key(seed, 99);
            let body = if is_root {
                CertBody { subject: foreign.public(), issuer: foreign.public(), ..original.body }
            } else {
                CertBody { issuer: foreign.public(), ..original.body }
            };
            certs[i] = Certificate::sign(&foreign, body, &original.name);
            let verdict = CertChain::new(certs).verify(&root, ISSUED_S + 60, &|_| false);
            prop_assert!(
                matches!(verdict, Err(Error::BrokenChain { .. } | Error::ForeignRoot)),
                "{verdict:?}"
            );
        }
    }
}
