//! The accept path's trust rules, one behaviour per test: who may edit a record (its creator
//! and the creator's ancestors in jurisdiction, never a sibling), revocations cut off what an
//! author signs afterwards but not before, a fork is rejected and kept as evidence, and an
//! envelope whose author is not yet known is retryable and accepted once the certificate
//! arrives, and a change dated more than an hour before its predecessor in the author's log is
//! refused as back-dated (at the author and at a receiver, in either order of arrival).

mod common;

use common::{NOW_MS, Net, create_post};
use lingong_protocol::Error;
use lingong_protocol::accept::Accepted;
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::record::{FieldValue, RecordKind, Revocation};
use lingong_protocol::store::{MemoryStore, Staged, Store};

fn headcount(n: i64) -> [(&'static str, FieldValue); 1] {
    [("headcount", FieldValue::Int(n))]
}

#[test]
fn a_sibling_village_editing_another_villages_post_is_unauthorized() {
    let net = Net::new();
    let mut store = net.store();
    let post = create_post(&net, &mut store, &net.village, Some("522622"), NOW_MS);
    let before = store.clone();
    let err = net
        .write(
            &mut store,
            &net.sibling,
            Target::Edit(post),
            &headcount(1),
            NOW_MS + 1000,
        )
        .expect_err("a sibling may not edit");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.code(), "unauthorized-edit");
    assert_eq!(store.envelopes, before.envelopes, "nothing was stored");
    assert_eq!(store.records, before.records);
}

#[test]
fn a_county_editing_a_village_post_is_accepted() {
    let net = Net::new();
    let mut store = net.store();
    let post = create_post(&net, &mut store, &net.village, None, NOW_MS);
    let env = net
        .write(
            &mut store,
            &net.county,
            Target::Edit(post),
            &headcount(3),
            NOW_MS + 1000,
        )
        .expect("the county is an ancestor of the village");
    assert_eq!(env.header.author, net.county.public());
    let state = store.record(&post).unwrap().expect("record held");
    assert_eq!(state.changes.len(), 2);
    assert_eq!(state.view["headcount"], 3);
    assert_eq!(state.view["title"], "茶园采茶工");
}

#[test]
fn an_edit_by_a_township_of_another_county_is_unauthorized() {
    let net = Net::new();
    let mut store = net.store();
    let other = common::certify(common::key(9), "522623100", "城关镇驿站", Some(&net.city));
    net.publish(&mut store, &other, NOW_MS - 1000);
    let post = create_post(&net, &mut store, &net.village, None, NOW_MS);
    let err = net
        .write(
            &mut store,
            &other,
            Target::Edit(post),
            &headcount(1),
            NOW_MS + 1,
        )
        .expect_err("not an ancestor");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[test]
fn a_revoked_nodes_envelope_dated_after_its_revocation_is_rejected() {
    let net = Net::new();
    let mut store = net.store();
    let revoked_at = NOW_MS;
    let county = LocalAuthor {
        key: &net.county.key,
        cfg: net.cfg(),
    };
    let mut staged = Staged::new(&store);
    county
        .revoke(
            &mut staged,
            &Revocation {
                revoked: net.village.public(),
                reason: "station closed".into(),
                chain: net.village.chain.clone(),
            },
            revoked_at,
        )
        .expect("the county may revoke its village");
    let batch = staged.into_batch();
    store.commit(batch).unwrap();
    let err = create_post_result(&net, &mut store, revoked_at + 1);
    assert!(matches!(err, Err(Error::Revoked { .. })), "{err:?}");
    assert_eq!(err.unwrap_err().code(), "revoked");
}

/// The county's revocation of its village, signed into a store that holds every certificate.
fn county_revokes_village(net: &Net, chain: CertChain) -> lingong_protocol::Result<Envelope> {
    let mut at_county = net.store();
    let county = LocalAuthor {
        key: &net.county.key,
        cfg: net.cfg(),
    };
    let mut staged = Staged::new(&at_county);
    let env = county.revoke(
        &mut staged,
        &Revocation {
            revoked: net.village.public(),
            reason: "station closed".into(),
            chain,
        },
        NOW_MS,
    )?;
    let batch = staged.into_batch();
    at_county.commit(batch).unwrap();
    Ok(env)
}

#[test]
fn a_revocation_is_accepted_before_the_revoked_nodes_certificate_arrives() {
    // A node holding the province, city and county certificates (the revoker's chain) but not
    // yet the village's certificate record: the chain inside the revocation proves the
    // village's region, so nothing waits.
    let net = Net::new();
    let env = county_revokes_village(&net, net.village.chain.clone()).expect("signed");
    let mut elsewhere = MemoryStore::new();
    for m in [&net.province, &net.city, &net.county] {
        net.publish(&mut elsewhere, m, NOW_MS - 3_600_000);
    }
    assert_eq!(
        net.receive(&mut elsewhere, &env, NOW_MS + 1),
        Ok(Accepted::New)
    );
    let in_force = elsewhere.revocation(&net.village.public()).unwrap();
    assert_eq!(in_force.map(|r| r.by), Some(net.county.public()));
}

#[test]
fn a_revocation_whose_chain_is_not_the_revoked_nodes_is_refused_and_changes_nothing() {
    let net = Net::new();
    // The sibling village's chain under the village's key: refused at decoding.
    let err = county_revokes_village(&net, net.sibling.chain.clone()).unwrap_err();
    assert_eq!(err.code(), "broken-chain", "{err:?}");
    // A township revoking its county (the chain is genuine, the jurisdiction is not).
    let store = net.store();
    let township = LocalAuthor {
        key: &net.township.key,
        cfg: net.cfg(),
    };
    let mut staged = Staged::new(&store);
    let err = township
        .revoke(
            &mut staged,
            &Revocation {
                revoked: net.county.public(),
                reason: String::new(),
                chain: net.county.chain.clone(),
            },
            NOW_MS,
        )
        .unwrap_err();
    assert_eq!(err.code(), "out-of-jurisdiction", "{err:?}");
    assert!(staged.into_batch().ops.is_empty(), "nothing to commit");
}

fn create_post_result(
    net: &Net,
    store: &mut MemoryStore,
    at_ms: i64,
) -> lingong_protocol::Result<Envelope> {
    net.write(
        store,
        &net.village,
        Target::Create {
            kind: RecordKind::Post,
            reach: None,
        },
        &common::post_fields("搬运工"),
        at_ms,
    )
}

#[test]
fn an_envelope_dated_before_its_authors_revocation_is_still_accepted() {
    let net = Net::new();
    // The village signs a post at its own station, before the revocation.
    let mut at_village = net.store();
    let early = create_post_result(&net, &mut at_village, NOW_MS - 10_000).expect("signed");
    // The county revokes the village; the early post arrives afterwards.
    let mut at_county = net.store();
    let county = LocalAuthor {
        key: &net.county.key,
        cfg: net.cfg(),
    };
    let mut staged = Staged::new(&at_county);
    county
        .revoke(
            &mut staged,
            &Revocation {
                revoked: net.village.public(),
                reason: String::new(),
                chain: net.village.chain.clone(),
            },
            NOW_MS,
        )
        .unwrap();
    let batch = staged.into_batch();
    at_county.commit(batch).unwrap();
    assert_eq!(
        net.receive(&mut at_county, &early, NOW_MS + 1),
        Ok(Accepted::New)
    );
}

#[test]
fn a_fork_is_rejected_and_kept_as_evidence() {
    let net = Net::new();
    let mut store = net.store();
    let first = create_post_result(&net, &mut store, NOW_MS).expect("first");
    // The same author signs different content with the same sequence number and prev.
    let h = first.header;
    let forged = Envelope::sign(
        &net.village.key,
        h.seq,
        h.prev,
        h.record,
        h.kind,
        h.region,
        h.reach,
        h.timestamp_ms + 5,
        h.cert,
        lingong_protocol::record::make_change(
            None,
            &net.village.public(),
            &common::post_fields("另一个岗位"),
            NOW_MS + 5,
        )
        .unwrap(),
    );
    assert_ne!(forged.id(), first.id());
    let err = net
        .receive(&mut store, &forged, NOW_MS + 10)
        .expect_err("a fork");
    assert!(
        matches!(err, Error::Fork { seq, .. } if seq == h.seq),
        "{err:?}"
    );
    assert!(store.envelopes.contains_key(&first.id()));
    assert!(
        !store.envelopes.contains_key(&forged.id()),
        "the fork is not stored"
    );
    assert_eq!(store.evidence.len(), 1);
    let evidence = &store.evidence[0];
    assert_eq!(evidence.kind, "fork");
    assert_eq!(evidence.author, net.village.public());
    assert_eq!(evidence.seq, h.seq);
    // Both signed headers are kept, and each still verifies on its own.
    assert_eq!(evidence.envelopes.len(), 2);
    let ids: Vec<_> = evidence
        .envelopes
        .iter()
        .map(|b| {
            let env = Envelope::from_bytes(b).expect("evidence decodes");
            env.verify_signature().expect("evidence verifies");
            assert!(env.payload.is_none(), "headers only");
            env.id()
        })
        .collect();
    assert_eq!(ids, vec![first.id(), forged.id()]);
}

#[test]
fn an_envelope_from_an_unknown_author_is_retryable_and_accepted_once_its_certificate_arrives() {
    let net = Net::new();
    let mut at_village = net.store();
    let post = create_post_result(&net, &mut at_village, NOW_MS).expect("signed");
    // A store that has never seen the village's certificate record.
    let mut elsewhere = MemoryStore::new();
    net.publish(&mut elsewhere, &net.county, NOW_MS - 1000);
    let err = net
        .receive(&mut elsewhere, &post, NOW_MS)
        .expect_err("unknown author");
    assert!(matches!(err, Error::UnknownAuthor { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.is_usage(), "not the caller's fault");
    assert!(!elsewhere.envelopes.contains_key(&post.id()));
    // The village's certificate record arrives; the same envelope is now accepted.
    let cert_record = at_village
        .envelopes
        .values()
        .find(|e| {
            e.header.author == net.village.public() && e.header.kind == RecordKind::Certificate
        })
        .expect("the village's certificate record")
        .clone();
    assert_eq!(
        net.receive(&mut elsewhere, &cert_record, NOW_MS),
        Ok(Accepted::New)
    );
    assert_eq!(
        net.receive(&mut elsewhere, &post, NOW_MS),
        Ok(Accepted::New)
    );
    assert_eq!(
        net.receive(&mut elsewhere, &post, NOW_MS),
        Ok(Accepted::Duplicate)
    );
}

#[test]
fn accept_all_retries_an_envelope_whose_certificate_comes_later_in_the_batch() {
    let net = Net::new();
    let mut at_village = net.store();
    let post = create_post_result(&net, &mut at_village, NOW_MS).expect("signed");
    let cert_record = at_village
        .envelopes
        .values()
        .find(|e| {
            e.header.author == net.village.public() && e.header.kind == RecordKind::Certificate
        })
        .unwrap()
        .clone();
    let mut elsewhere = MemoryStore::new();
    let results = net.receive_all(&mut elsewhere, &[post.clone(), cert_record], NOW_MS);
    assert_eq!(results, vec![Ok(Accepted::New), Ok(Accepted::New)]);
    assert!(elsewhere.envelopes.contains_key(&post.id()));
}

#[test]
fn a_header_held_without_its_payload_gains_it_later() {
    let net = Net::new();
    let mut at_village = net.store();
    let post = create_post_result(&net, &mut at_village, NOW_MS).expect("signed");
    let mut store = net.store();
    assert_eq!(
        net.receive(&mut store, &post.header_only(), NOW_MS),
        Ok(Accepted::New)
    );
    let state = store.record(&post.header.record).unwrap().unwrap();
    assert!(state.view.is_empty(), "no payload, no contents");
    assert_eq!(
        net.receive(&mut store, &post.header_only(), NOW_MS),
        Ok(Accepted::Duplicate)
    );
    assert_eq!(
        net.receive(&mut store, &post, NOW_MS),
        Ok(Accepted::PayloadFilled)
    );
    let state = store.record(&post.header.record).unwrap().unwrap();
    assert_eq!(state.view["title"], "搬运工");
}

#[test]
fn a_timestamp_more_than_a_day_ahead_is_rejected() {
    let net = Net::new();
    let mut at_village = net.store();
    let post = create_post_result(&net, &mut at_village, NOW_MS + 2 * 86_400_000).expect("signed");
    let mut store = net.store();
    let err = net
        .receive(&mut store, &post, NOW_MS)
        .expect_err("from the future");
    assert!(matches!(err, Error::FromTheFuture { .. }), "{err:?}");
}

#[test]
fn a_renewed_certificate_becomes_current_and_changes_signed_under_the_old_one_still_verify() {
    use lingong_protocol::cert::{self, CertRequest};
    let net = Net::new();
    let station_key = common::key(7);
    let request = CertRequest::new(
        &station_key,
        common::code("522622101003"),
        "冷水河社区零工服务站",
    )
    .expect("request");
    let issue = |days| {
        cert::issue(
            &net.township.key,
            Some(&net.township.chain),
            &request,
            common::ISSUED_S,
            days,
        )
        .expect("issued")
    };
    let first = common::Member {
        key: station_key.clone(),
        chain: issue(30),
    };
    let renewed = common::Member {
        key: station_key.clone(),
        chain: issue(300),
    };
    assert!(renewed.chain.leaf().body.not_after > first.chain.leaf().body.not_after);

    let mut author_store = net.store();
    let first_record = net.publish(&mut author_store, &first, NOW_MS - 1000);
    // A post signed under the first certificate, still in transit when the renewal happens.
    let old_post = net
        .write(
            &mut author_store,
            &first,
            Target::Create {
                kind: RecordKind::Post,
                reach: None,
            },
            &common::post_fields("续证之前的岗位"),
            NOW_MS,
        )
        .expect("written under the first certificate");
    let renewal_record = net.publish(&mut author_store, &renewed, NOW_MS + 1000);
    let new_post = net
        .write(
            &mut author_store,
            &renewed,
            Target::Create {
                kind: RecordKind::Post,
                reach: None,
            },
            &common::post_fields("续证之后的岗位"),
            NOW_MS + 2000,
        )
        .expect("written after the renewal");
    assert_eq!(
        new_post.header.cert,
        renewed.chain.leaf_hash(),
        "new changes name the renewed certificate"
    );
    let held = author_store
        .author(&station_key.public())
        .unwrap()
        .expect("author");
    assert_eq!(held.chain, renewed.chain);
    assert_eq!(held.earlier, vec![first.chain.clone()]);

    // Another node gets the renewal and the new post first, the first certificate and the old
    // post last: all are accepted, and the renewed chain stays current.
    let mut receiver = net.store();
    for env in [&renewal_record, &new_post, &first_record, &old_post] {
        let result = net.receive(&mut receiver, env, NOW_MS + 3000);
        assert!(matches!(result, Ok(Accepted::New)), "{result:?}");
    }
    assert_eq!(
        receiver
            .author(&station_key.public())
            .unwrap()
            .expect("author")
            .chain,
        renewed.chain
    );
}

/// Found by the `accept_sequence` fuzz target: a signed envelope with the last sequence number
/// (`u64::MAX`) overflowed `seq + 1` in the log check and panicked (in builds with overflow
/// checks; it wrapped to 0 in release builds). It is now an ordinary envelope of the log.
#[test]
fn an_envelope_with_the_last_sequence_number_does_not_overflow_the_log_check() {
    let net = Net::new();
    let mut store = net.store();
    let village = &net.village;
    let env = Envelope::sign(
        &village.key,
        u64::MAX,
        [7; 32],
        lingong_protocol::record::RecordId {
            creator: village.public(),
            serial: u64::MAX,
        },
        RecordKind::Post,
        village.region(),
        village.region(),
        NOW_MS,
        village.chain.leaf_hash(),
        Vec::new(),
    )
    .header_only();
    let result = net.receive(&mut store, &env, NOW_MS);
    assert!(result.is_ok(), "{result:?}");
}

/// Found by the `cert_chain` fuzz target: a certificate record dated near `i64::MIN`
/// milliseconds overflowed `at_s * 1000` while reporting the expired certificate, and panicked
/// (in builds with overflow checks). It is refused as expired.
#[test]
fn a_certificate_record_dated_at_the_start_of_time_is_refused_as_expired() {
    let net = Net::new();
    let mut store = MemoryStore::new();
    let province = &net.province;
    let env = Envelope::sign(
        &province.key,
        1,
        [0; 32],
        lingong_protocol::record::RecordId {
            creator: province.public(),
            serial: 1,
        },
        RecordKind::Certificate,
        province.region(),
        province.region(),
        i64::MIN + 1,
        province.chain.leaf_hash(),
        province.chain.to_bytes(),
    );
    let err = net.receive(&mut store, &env, NOW_MS).expect_err("expired");
    assert!(matches!(err, Error::CertExpired { .. }), "{err:?}");
}

/// Found by the `accept_sequence` fuzz target: the accept path took an envelope with sequence
/// number 0 (which the decoder refuses, but which a driver handing over envelopes built in
/// memory could pass), held it at seq 0 and then held seq 1 beside it without a link.
#[test]
fn an_envelope_with_sequence_number_zero_is_refused() {
    let net = Net::new();
    let mut store = net.store();
    let village = &net.village;
    let before = store.clone();
    let env = Envelope::sign(
        &village.key,
        0,
        [0; 32],
        lingong_protocol::record::RecordId {
            creator: village.public(),
            serial: 0,
        },
        RecordKind::Post,
        village.region(),
        village.region(),
        NOW_MS,
        village.chain.leaf_hash(),
        Vec::new(),
    );
    let err = net.receive(&mut store, &env, NOW_MS).expect_err("seq 0");
    assert_eq!(err.code(), "invalid-field", "{err:?}");
    assert_eq!(store.logs, before.logs);
}

const HOUR_MS: i64 = 3_600_000;

/// The village's next change after `first`, signed by hand at `at_ms` (its own accept path
/// would refuse to sign it when back-dated): a new post, the author's `seq + 1`, linked to
/// `first`.
fn next_post_signed_at(net: &Net, first: &Envelope, at_ms: i64) -> Envelope {
    let village = &net.village;
    let seq = first.header.seq + 1;
    Envelope::sign(
        &village.key,
        seq,
        first.id(),
        lingong_protocol::record::RecordId {
            creator: village.public(),
            serial: seq,
        },
        RecordKind::Post,
        village.region(),
        village.region(),
        at_ms,
        village.chain.leaf_hash(),
        lingong_protocol::record::make_change(
            None,
            &village.public(),
            &common::post_fields("倒签的岗位"),
            at_ms,
        )
        .unwrap(),
    )
}

#[test]
fn a_change_dated_more_than_an_hour_before_its_predecessor_is_refused_as_back_dated() {
    use lingong_protocol::accept::MAX_BACKDATE_MS;
    assert_eq!(MAX_BACKDATE_MS, HOUR_MS, "PROTOCOL.md §11 states one hour");
    let net = Net::new();
    let mut at_village = net.store();
    let first = create_post_result(&net, &mut at_village, NOW_MS).expect("first");

    // The author's own accept path refuses to sign it: the village's clock ran back two hours.
    let before = at_village.clone();
    let err = create_post_result(&net, &mut at_village, NOW_MS - 2 * HOUR_MS)
        .expect_err("back-dated at the author");
    assert_eq!(err.code(), "back-dated", "{err:?}");
    assert_eq!(
        err,
        Error::BackDated {
            seq: first.header.seq + 1,
            at_ms: NOW_MS - 2 * HOUR_MS,
            prev_ms: first.header.timestamp_ms,
        }
    );
    assert_eq!(at_village.logs, before.logs, "nothing signed was kept");
    assert!(err.to_string().contains("more than an hour"), "{err}");
    assert!(
        err.message_zh().contains("一小时以上"),
        "{}",
        err.message_zh()
    );

    // Inside the tolerance (a clock set back 59 minutes): accepted.
    let within = create_post_result(&net, &mut at_village, NOW_MS - 59 * 60_000)
        .expect("within the tolerance");
    assert_eq!(within.header.seq, first.header.seq + 1);

    // A receiver holding the predecessor refuses the back-dated change and keeps no evidence.
    let back = next_post_signed_at(&net, &first, NOW_MS - 2 * HOUR_MS);
    let mut elsewhere = net.store();
    assert_eq!(
        net.receive(&mut elsewhere, &first, NOW_MS),
        Ok(Accepted::New)
    );
    let err = net
        .receive(&mut elsewhere, &back, NOW_MS)
        .expect_err("back-dated");
    assert_eq!(
        err,
        Error::BackDated {
            seq: back.header.seq,
            at_ms: NOW_MS - 2 * HOUR_MS,
            prev_ms: first.header.timestamp_ms,
        }
    );
    assert!(!elsewhere.envelopes.contains_key(&back.id()));
    assert!(elsewhere.evidence.is_empty(), "not a fork");
    assert!(err.is_usage() && !err.is_retryable());
}

#[test]
fn a_back_dated_pair_arriving_in_reverse_order_has_its_second_arrival_refused() {
    let net = Net::new();
    let mut at_village = net.store();
    let first = create_post_result(&net, &mut at_village, NOW_MS).expect("first");
    let back = next_post_signed_at(&net, &first, NOW_MS - 2 * HOUR_MS);
    // The later change arrives first: nothing to compare with yet (a gap in the log).
    let mut store = net.store();
    assert_eq!(net.receive(&mut store, &back, NOW_MS), Ok(Accepted::New));
    // Its predecessor, dated two hours after it, is then refused: the pair breaks the rule.
    let err = net
        .receive(&mut store, &first, NOW_MS)
        .expect_err("the pair is back-dated");
    assert_eq!(
        err,
        Error::BackDated {
            seq: back.header.seq,
            at_ms: back.header.timestamp_ms,
            prev_ms: first.header.timestamp_ms,
        }
    );
    assert!(!store.envelopes.contains_key(&first.id()));

    // A change exactly one hour before its predecessor is still accepted, in either order.
    let edge = next_post_signed_at(&net, &first, first.header.timestamp_ms - HOUR_MS);
    for order in [[&first, &edge], [&edge, &first]] {
        let mut store = net.store();
        for env in order {
            assert_eq!(net.receive(&mut store, env, NOW_MS), Ok(Accepted::New));
        }
    }
}
