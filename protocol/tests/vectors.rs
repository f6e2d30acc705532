//! Test vectors for PROTOCOL.md, shared with implementations in other languages:
//! `protocol/testdata/vectors.json` holds keys, region codes, a certificate request, a root and
//! a child certificate, their chain, two envelopes of one author's log (its certificate record
//! and a job post), a record id and a revocation payload, each with the exact bytes in hex.
//!
//! `the_vectors_file_matches_what_this_implementation_computes` recomputes every value from the
//! file's inputs (seeds, fields, the post's Automerge change) and compares;
//! `the_vectors_verify_from_their_bytes_alone` checks them the way a verifier in another language
//! would, starting only from the bytes in the file.
//!
//! Regenerate the file (only when the format changes on purpose, and say so in PROTOCOL.md):
//! `cargo test -p lingong-protocol --test vectors -- --ignored regenerate_test_vectors`

use lingong_protocol::accept::{AcceptConfig, Accepted, accept_all};
use lingong_protocol::canon::{Reader, sha256};
use lingong_protocol::cert::{self, CertChain, CertRequest, Certificate};
use lingong_protocol::envelope::{Envelope, Header};
use lingong_protocol::evidence::ForkProof;
use lingong_protocol::keys::{NodeKey, PublicKey, Signature};
use lingong_protocol::record::{self, FieldValue, RecordId, RecordKind, Revocation};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{MemoryStore, NO_PREV, Staged, Store};
use serde_json::{Value, json};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors.json");

/// When the certificates are issued (unix seconds, 2025-06-15T15:06:40Z).
const ISSUED_AT_S: i64 = 1_750_000_000;
/// Timestamps of the two envelopes (ms).
const CERT_RECORD_AT_MS: i64 = 1_750_000_100_000;
const POST_AT_MS: i64 = 1_750_000_200_000;

fn seed(label: &str) -> [u8; 32] {
    sha256(format!("lingong test vector seed: {label}").as_bytes())
}

fn post_change_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", FieldValue::Text("茶园采茶工".into())),
        ("occupation", FieldValue::Text("5-01-02-01".into())),
        ("wage", FieldValue::Number(150.0)),
        ("unit", FieldValue::Text("day".into())),
        ("headcount", FieldValue::Int(8)),
        ("filled", FieldValue::Counter(0)),
        ("status", FieldValue::Text("open".into())),
    ]
}

/// Timestamp of the envelopes the accept rules refuse (ms).
const REJECTED_AT_MS: i64 = 1_750_000_300_000;

/// The Automerge changes the vectors carry, made once by the generator (Automerge may encode
/// the same change differently in another version, so the file is their source afterwards).
struct Payloads {
    /// The city's post: the change of [`post_change_fields`].
    post: Vec<u8>,
    /// Payloads of the `rejected` vectors, in order.
    rejected: Vec<Vec<u8>>,
}

/// What each `rejected` vector is, who makes its change and when (ms).
const REJECTED: [(&str, &str, i64, &str); 4] = [
    (
        "a post whose change carries the province's actor id, signed by the city (seq 3)",
        "province",
        REJECTED_AT_MS,
        "bad-change",
    ),
    (
        "a post whose change is dated a day before its envelope (seq 3)",
        "city",
        REJECTED_AT_MS - 86_400_000,
        "bad-change",
    ),
    (
        "a second envelope for sequence number 2 (a fork)",
        "city",
        REJECTED_AT_MS,
        "fork",
    ),
    (
        "an envelope with sequence number 3 whose prev is not the held envelope 2 (a fork)",
        "city",
        REJECTED_AT_MS + 1000,
        "fork",
    ),
];

fn generate_payloads() -> Payloads {
    let city = NodeKey::from_seed(seed("city"));
    let change = |actor: &str, title: &str, at_ms: i64| {
        let actor = NodeKey::from_seed(seed(actor)).public();
        let mut fields = post_change_fields();
        fields[0].1 = FieldValue::Text(title.into());
        record::make_change(None, &actor, &fields, at_ms).expect("change")
    };
    Payloads {
        post: record::make_change(None, &city.public(), &post_change_fields(), POST_AT_MS)
            .expect("change"),
        rejected: REJECTED
            .iter()
            .enumerate()
            .map(|(i, (_, actor, at_ms, _))| change(actor, &format!("被拒岗位{i}"), *at_ms))
            .collect(),
    }
}

fn payloads_in(file: &Value) -> Payloads {
    Payloads {
        post: bytes(&file["envelopes"][1]["payload"]),
        rejected: file["rejected"]
            .as_array()
            .expect("rejected vectors")
            .iter()
            .map(|r| bytes(&r["payload"]))
            .collect(),
    }
}

fn key_json(label: &str) -> Value {
    let key = NodeKey::from_seed(seed(label));
    json!({
        "label": label,
        "seed": hex::encode(key.seed()),
        "public_key": key.public().to_hex(),
        "node_id": key.public().node_id(),
    })
}

fn cert_json(c: &Certificate, issuer_seed_label: &str) -> Value {
    let signed = c.signed();
    let mut v = json!({
        "issuer_seed": hex::encode(seed(issuer_seed_label)),
        "subject": c.body.subject.to_hex(),
        "region": c.body.region.to_string(),
        "level": c.body.level.as_str(),
        "level_depth": c.body.level.depth(),
        "name": c.name,
        "issuer": c.body.issuer.to_hex(),
        "not_before": c.body.not_before,
        "not_after": c.body.not_after,
        "signed_bytes": hex::encode(&signed),
        "signature": c.signature.to_hex(),
        "bytes": hex::encode(c.to_bytes()),
        "hash": hex::encode(c.hash()),
    });
    if let Some(p) = &c.predecessor {
        v["predecessor"] = json!(p.to_hex());
    }
    v
}

fn header_json(h: &Header) -> Value {
    json!({
        "version": 1,
        "author": h.author.to_hex(),
        "seq": h.seq,
        "prev": hex::encode(h.prev),
        "record_creator": h.record.creator.to_hex(),
        "record_serial": h.record.serial,
        "kind": h.kind as u8,
        "kind_name": h.kind.as_str(),
        "region": h.region.to_string(),
        "reach": h.reach.to_string(),
        "timestamp_ms": h.timestamp_ms,
        "cert": hex::encode(h.cert),
        "payload_hash": hex::encode(h.payload_hash),
        "payload_len": h.payload_len,
    })
}

fn envelope_json(label: &str, author_label: &str, env: &Envelope) -> Value {
    json!({
        "label": label,
        "author_seed": hex::encode(seed(author_label)),
        "header": header_json(&env.header),
        "payload": hex::encode(env.payload.as_deref().unwrap_or_default()),
        "signed_bytes": hex::encode(env.header.signed_bytes()),
        "signature": env.signature.to_hex(),
        "id": hex::encode(env.id()),
        "wire": hex::encode(env.to_bytes()),
        "wire_header_only": hex::encode(env.header_only().to_bytes()),
    })
}

/// Every vector, computed from the seeds and fields above and the post's change bytes.
fn build(payloads: &Payloads) -> Value {
    let post_payload = &payloads.post[..];
    let province = NodeKey::from_seed(seed("province"));
    let city = NodeKey::from_seed(seed("city"));
    let code = |s: &str| RegionCode::parse(s).expect("code");

    let root_request = CertRequest::new(&province, code("52"), "贵州省零工服务中心").unwrap();
    let root = cert::issue(&province, None, &root_request, ISSUED_AT_S, 3650).unwrap();
    let request = CertRequest::new(&city, code("5226"), "黔东南州零工市场").unwrap();
    let chain = cert::issue(&province, Some(&root), &request, ISSUED_AT_S, 365).unwrap();
    let request_signed = {
        // The request's signed bytes, rebuilt from its fields as PROTOCOL.md describes.
        let mut w = lingong_protocol::canon::Writer::with_domain("lingong/cert-request/v1");
        w.fixed(&city.public().0)
            .fixed(&code("5226").to_bytes())
            .u8(1)
            .str(&request.name);
        w.finish()
    };

    let region = code("5226");
    let cert_record = Envelope::sign(
        &city,
        1,
        NO_PREV,
        RecordId {
            creator: city.public(),
            serial: 1,
        },
        RecordKind::Certificate,
        region,
        region,
        CERT_RECORD_AT_MS,
        chain.leaf_hash(),
        chain.to_bytes(),
    );
    let post_id = RecordId {
        creator: city.public(),
        serial: 2,
    };
    let post = Envelope::sign(
        &city,
        2,
        cert_record.id(),
        post_id,
        RecordKind::Post,
        region,
        region,
        POST_AT_MS,
        chain.leaf_hash(),
        post_payload.to_vec(),
    );
    let (doc, _) = record::apply_change(None, post_payload).expect("the payload is a change");
    // Envelopes the accept rules refuse, each against a store holding the two above.
    let rejected_env = |i: usize, seq: u64, prev: [u8; 32]| {
        Envelope::sign(
            &city,
            seq,
            prev,
            RecordId {
                creator: city.public(),
                serial: seq,
            },
            RecordKind::Post,
            region,
            region,
            if i == 3 {
                REJECTED_AT_MS + 1000
            } else {
                REJECTED_AT_MS
            },
            chain.leaf_hash(),
            payloads.rejected[i].clone(),
        )
    };
    let second_at_2 = rejected_env(2, 2, cert_record.id());
    let rejected = [
        rejected_env(0, 3, post.id()),
        rejected_env(1, 3, post.id()),
        second_at_2.clone(),
        rejected_env(3, 3, second_at_2.id()),
    ];
    let rejected: Vec<Value> = rejected
        .iter()
        .zip(REJECTED)
        .map(|(env, (label, _, _, code))| {
            json!({
                "label": label,
                "payload": hex::encode(env.payload.as_deref().unwrap_or_default()),
                "wire": hex::encode(env.to_bytes()),
                "code": code,
            })
        })
        .collect();
    let fork_proof = ForkProof::from_headers(&post, &second_at_2, chain.clone()).expect("a fork");
    let revocation = Revocation {
        revoked: city.public(),
        chain: chain.clone(),
        reason: "站点撤销".into(),
    };

    // A village station of the city replaced by a new machine: the successor's certificate
    // names the old key (lingong/cert/v2).
    let village = code("522622101001");
    let old_village = NodeKey::from_seed(seed("village-old"));
    let new_village = NodeKey::from_seed(seed("village-new"));
    let old_request = CertRequest::new(&old_village, village, "乐源社区零工服务站").unwrap();
    let old_chain = cert::issue(&city, Some(&chain), &old_request, ISSUED_AT_S, 365).unwrap();
    let new_request = CertRequest::new(&new_village, village, "乐源社区零工服务站").unwrap();
    let successor = cert::issue_successor(
        &city,
        &chain,
        &new_request,
        old_chain.leaf(),
        ISSUED_AT_S,
        365,
    )
    .unwrap();

    let region_codes: Vec<Value> = ["52", "5226", "522622", "522622101", "522622101001"]
        .iter()
        .map(|c| json!({ "code": c, "bytes": hex::encode(code(c).to_bytes()) }))
        .collect();
    json!({
        "about": "lingong protocol test vectors; see PROTOCOL.md. All byte strings are lower-case hex. Regenerate: cargo test -p lingong-protocol --test vectors -- --ignored regenerate_test_vectors",
        "keys": [key_json("province"), key_json("city")],
        "region_codes": region_codes,
        "cert_request": {
            "seed": hex::encode(city.seed()),
            "json": serde_json::to_value(&request).unwrap(),
            "signed_bytes": hex::encode(&request_signed),
        },
        "root_certificate": cert_json(root.leaf(), "province"),
        "child_certificate": cert_json(chain.leaf(), "province"),
        "chain": {
            "bytes": hex::encode(chain.to_bytes()),
            "root_public_key": province.public().to_hex(),
            "verify_at_s": ISSUED_AT_S,
        },
        "envelopes": [
            envelope_json("the city's certificate record (seq 1)", "city", &cert_record),
            envelope_json("the city's job post (seq 2)", "city", &post),
        ],
        "rejected": rejected,
        "fork_proof": {
            "accused": city.public().to_hex(),
            "fork_seq": fork_proof.fork_seq().expect("proves a fork"),
            "bytes": hex::encode(fork_proof.to_bytes()),
        },
        "post_document": record::document_view(&doc).unwrap(),
        "record_id": {
            "creator": post_id.creator.to_hex(),
            "serial": post_id.serial,
            "short": post_id.to_hex(),
        },
        "revocation": {
            "revoked": revocation.revoked.to_hex(),
            "reason": revocation.reason,
            "bytes": hex::encode(revocation.to_bytes()),
        },
        "successor_certificate": cert_json(successor.leaf(), "city"),
    })
}

fn read_file() -> Value {
    let text = std::fs::read_to_string(FILE).unwrap_or_else(|e| {
        panic!("{FILE}: {e}; regenerate with `cargo test -p lingong-protocol --test vectors -- --ignored regenerate_test_vectors`")
    });
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(
        v.as_str()
            .unwrap_or_else(|| panic!("not a hex string: {v}")),
    )
    .expect("hex")
}

fn array<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("length")
}

#[test]
#[ignore = "writes protocol/testdata/vectors.json; run only when the format changes on purpose"]
fn regenerate_test_vectors() {
    let vectors = build(&generate_payloads());
    let text = serde_json::to_string_pretty(&vectors).unwrap() + "\n";
    std::fs::write(FILE, text).expect("write vectors.json");
}

#[test]
fn the_vectors_file_matches_what_this_implementation_computes() {
    let file = read_file();
    let expected = build(&payloads_in(&file));
    let (file_map, expected_map) = (file.as_object().unwrap(), expected.as_object().unwrap());
    assert_eq!(
        file_map.keys().collect::<Vec<_>>(),
        expected_map.keys().collect::<Vec<_>>()
    );
    for (name, value) in expected_map {
        assert_eq!(&file[name], value, "vector {name:?} differs");
    }
}

#[test]
fn the_vectors_verify_from_their_bytes_alone() {
    let file = read_file();

    for k in file["keys"].as_array().unwrap() {
        let key = NodeKey::from_seed(array(&k["seed"]));
        assert_eq!(key.public().to_hex(), k["public_key"]);
        assert_eq!(key.public().node_id(), k["node_id"]);
        let from_id = PublicKey::from_node_id(k["node_id"].as_str().unwrap()).unwrap();
        assert_eq!(from_id.to_hex(), k["public_key"]);
    }
    for r in file["region_codes"].as_array().unwrap() {
        let decoded = RegionCode::from_bytes(&array(&r["bytes"])).unwrap();
        assert_eq!(decoded.to_string(), r["code"]);
    }

    let req: CertRequest = serde_json::from_value(file["cert_request"]["json"].clone()).unwrap();
    let requester = req.verify().expect("the request's own signature verifies");
    let signed = bytes(&file["cert_request"]["signed_bytes"]);
    let sig = Signature(array(&Value::String(req.signature.clone())));
    assert!(requester.verify(&signed, &sig));

    for name in [
        "root_certificate",
        "child_certificate",
        "successor_certificate",
    ] {
        let c = &file[name];
        let raw = bytes(&c["bytes"]);
        let mut r = Reader::new(&raw);
        let cert = Certificate::read(&mut r).unwrap();
        r.finish().unwrap();
        assert!(cert.signature_valid(), "{name} signature");
        assert_eq!(raw[..raw.len() - 64], bytes(&c["signed_bytes"])[..]);
        assert_eq!(hex::encode(&raw[raw.len() - 64..]), c["signature"]);
        assert_eq!(hex::encode(sha256(&raw)), c["hash"]);
        let issuer = PublicKey(array(&c["issuer"]));
        assert!(issuer.verify(&bytes(&c["signed_bytes"]), &cert.signature));
        let domain: &[u8] = if name == "successor_certificate" {
            b"lingong/cert/v2\0"
        } else {
            b"lingong/cert/v1\0"
        };
        assert!(raw.starts_with(domain), "{name} domain tag");
        assert_eq!(
            cert.predecessor.map(|p| p.to_hex()),
            c["predecessor"].as_str().map(String::from),
            "{name} predecessor"
        );
    }

    let root = PublicKey(array(&file["chain"]["root_public_key"]));
    let chain = CertChain::from_bytes(&bytes(&file["chain"]["bytes"])).unwrap();
    let at = file["chain"]["verify_at_s"].as_i64().unwrap();
    chain
        .verify(&root, at, &|_| false)
        .expect("the chain verifies");
    assert_eq!(
        hex::encode(chain.leaf_hash()),
        file["child_certificate"]["hash"]
    );
    assert_eq!(
        hex::encode(chain.root().hash()),
        file["root_certificate"]["hash"]
    );

    let mut envelopes = Vec::new();
    for e in file["envelopes"].as_array().unwrap() {
        let env = Envelope::from_bytes(&bytes(&e["wire"])).unwrap();
        env.verify_signature().expect("signature and payload hash");
        assert_eq!(hex::encode(env.id()), e["id"]);
        assert_eq!(env.header.signed_bytes(), bytes(&e["signed_bytes"]));
        assert_eq!(env.payload.as_deref(), Some(&bytes(&e["payload"])[..]));
        let mut id_input = b"lingong/envelope-id/v1\0".to_vec();
        id_input.extend(bytes(&e["signed_bytes"]));
        id_input.extend(bytes(&e["signature"]));
        assert_eq!(hex::encode(sha256(&id_input)), e["id"]);
        let header_only = Envelope::from_bytes(&bytes(&e["wire_header_only"])).unwrap();
        header_only.verify_signature().unwrap();
        assert_eq!(header_only.id(), env.id());
        envelopes.push(env);
    }
    assert_eq!(envelopes[0].header.prev, NO_PREV);
    assert_eq!(
        envelopes[1].header.prev,
        envelopes[0].id(),
        "the log's hash chain"
    );
    assert_eq!(
        envelopes[0].payload.as_deref(),
        Some(&bytes(&file["chain"]["bytes"])[..])
    );

    // A fresh node trusting only the root key accepts both, in either order.
    for order in [[0, 1], [1, 0]] {
        let delivered: Vec<Envelope> = order.iter().map(|&i| envelopes[i].clone()).collect();
        let mut store = MemoryStore::new();
        let mut staged = Staged::new(&store);
        let cfg = AcceptConfig {
            root,
            materialize: true,
        };
        let results = accept_all(&mut staged, &cfg, &delivered, POST_AT_MS);
        assert_eq!(results, vec![Ok(Accepted::New), Ok(Accepted::New)]);
        let batch = staged.into_batch();
        store.commit(batch).unwrap();
        let post = RecordId {
            creator: PublicKey(array(&file["record_id"]["creator"])),
            serial: file["record_id"]["serial"].as_u64().unwrap(),
        };
        assert_eq!(post.to_hex(), file["record_id"]["short"]);
        let state = store.record(&post).unwrap().expect("the post is held");
        assert_eq!(Value::Object(state.view), file["post_document"]);
    }

    // Each refused envelope, offered to a node holding the two envelopes above, is refused
    // with its code and leaves nothing but (for a fork) evidence.
    for r in file["rejected"].as_array().unwrap() {
        let mut store = MemoryStore::new();
        let cfg = AcceptConfig {
            root,
            materialize: true,
        };
        let mut staged = Staged::new(&store);
        accept_all(&mut staged, &cfg, &envelopes, POST_AT_MS);
        let batch = staged.into_batch();
        store.commit(batch).unwrap();
        let env = Envelope::from_bytes(&bytes(&r["wire"])).unwrap();
        env.verify_signature()
            .expect("validly signed, refused for another reason");
        let mut staged = Staged::new(&store);
        let err = accept_all(
            &mut staged,
            &cfg,
            std::slice::from_ref(&env),
            REJECTED_AT_MS + 2000,
        )
        .pop()
        .unwrap()
        .expect_err(r["label"].as_str().unwrap());
        assert_eq!(err.code(), r["code"], "{}: {err}", r["label"]);
    }
    let proof = ForkProof::from_bytes(&bytes(&file["fork_proof"]["bytes"])).expect("a fork proof");
    assert_eq!(proof.accused.to_hex(), file["fork_proof"]["accused"]);
    assert_eq!(
        proof.fork_seq().unwrap(),
        file["fork_proof"]["fork_seq"].as_u64().unwrap()
    );
    assert_eq!(proof.first.id(), envelopes[1].id());

    let rev = Revocation::from_bytes(&bytes(&file["revocation"]["bytes"])).unwrap();
    assert_eq!(rev.revoked.to_hex(), file["revocation"]["revoked"]);
    assert_eq!(rev.reason, file["revocation"]["reason"]);
}
