//! `audit`: checks everything this node holds, from the bytes, and lists each problem with its
//! kind, author and record: `{"records_checked", "authors", "problems": [{"kind", "author",
//! "record", "detail"}]}` (`records_checked`: the signed envelopes checked).
//!
//! - every envelope: stored under its own id, its signature (ed25519 batch equations over
//!   chunks of [`lingong_protocol::ingest::VERIFY_CHUNK`], a chunk that fails checked one by
//!   one: `bad-signature`), its payload against the signed hash (`bad-signature`);
//! - every author's certificate chains, to the province root (`bad-signature`, `broken-chain`,
//!   `out-of-jurisdiction`), and each envelope against the chain it names: every link valid at
//!   the envelope's time (`expired-cert`) and not revoked at or before it (`revoked`);
//! - authorization: a record created in its author's own region (`out-of-jurisdiction`), edited
//!   only by its creator, a node whose region strictly contains the record's, or the
//!   creator's certified successor (`accept::succeeds`) (`unauthorized-edit`);
//! - each author's hash-chained log: consecutive envelopes link (`fork` otherwise), forks held
//!   as evidence (`fork`, both branches named), and, for authors inside this node's region,
//!   whose whole log this node's scope wants (at the province: every author), sequence numbers
//!   missing below the highest held or counted (`gap`);
//! - every report seal in force held here, recomputed from the records held (`seal-mismatch`,
//!   one per figure that differs).

use crate::error::Result;
use crate::figures;
use crate::station::Station;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::store::{AuthorInfo, RevocationInfo, Store};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Envelopes read from the store per round of signature checks.
const READ_CHUNK: usize = 4096;

struct Problems(Vec<Value>);

impl Problems {
    fn push(
        &mut self,
        kind: &str,
        author: Option<&PublicKey>,
        record: Option<String>,
        detail: String,
    ) {
        self.0.push(json!({
            "kind": kind,
            "author": author.map(|a| a.node_id()),
            "record": record,
            "detail": detail,
        }));
    }
}

/// One envelope of an author's log, as held.
struct LogEntry {
    seq: u64,
    id: EnvelopeId,
    prev: [u8; 32],
}

/// `audit`.
pub fn audit(station: &Station) -> Result<Value> {
    let started = std::time::Instant::now();
    let root = station.accept_config()?.root;
    let mut problems = Problems(Vec::new());
    let revocations: HashMap<PublicKey, RevocationInfo> = station
        .store
        .revocations()?
        .into_iter()
        .map(|r| (r.revoked, r))
        .collect();
    let mut authors: HashMap<PublicKey, Option<AuthorInfo>> = HashMap::new();
    let mut logs: HashMap<PublicKey, Vec<LogEntry>> = HashMap::new();
    let metas = station.store.items()?;
    let mut checked = 0usize;
    for chunk in metas.chunks(READ_CHUNK) {
        let mut envelopes: Vec<Envelope> = Vec::with_capacity(chunk.len());
        // Each envelope's id, computed once (it is checked against the stored id here).
        let mut ids: Vec<EnvelopeId> = Vec::with_capacity(chunk.len());
        for meta in chunk {
            let short = hex::encode(&meta.id[..8]);
            match station.store.envelope(&meta.id) {
                Ok(Some(env)) if env.id() == meta.id => {
                    envelopes.push(env);
                    ids.push(meta.id);
                }
                Ok(Some(env)) => problems.push(
                    "bad-signature",
                    Some(&env.header.author),
                    Some(env.header.record.to_hex()),
                    format!("the envelope stored as {short}… is another envelope (altered after it was accepted)"),
                ),
                Ok(None) => problems.push(
                    "gap",
                    None,
                    None,
                    format!("the envelope {short}… is listed but not held"),
                ),
                Err(e) => problems.push(
                    "bad-signature",
                    None,
                    None,
                    format!("the envelope {short}… does not decode: {e}"),
                ),
            }
        }
        let proved = verify_in_parallel(&envelopes);
        for ((env, ok), id) in envelopes.iter().zip(proved).zip(ids) {
            checked += 1;
            check_envelope(station, env, ok, &revocations, &mut authors, &mut problems)?;
            let h = &env.header;
            logs.entry(h.author).or_default().push(LogEntry {
                seq: h.seq,
                id,
                prev: h.prev,
            });
        }
    }
    // Every author known, even one with no envelope held (its certificate record lost).
    for info in station.store.authors()? {
        authors.entry(info.key).or_insert(Some(info));
    }
    for (key, info) in &authors {
        let Some(info) = info else { continue };
        for chain in std::iter::once(&info.chain).chain(&info.earlier) {
            let leaf = chain.leaf();
            if leaf.body.subject != *key {
                problems.push(
                    "broken-chain",
                    Some(key),
                    None,
                    "the author's chain ends in another key".into(),
                );
                continue;
            }
            if let Err(e) = chain.verify(&root, leaf.body.not_before, &|_| false) {
                let kind = match e.code() {
                    "foreign-root" => "broken-chain",
                    other => other,
                };
                problems.push(kind, Some(key), None, format!("certificate chain: {e}"));
            }
        }
    }
    check_logs(station, &authors, &mut logs, &mut problems)?;
    for ev in station.store.evidence()? {
        let branches: Vec<String> = ev
            .envelopes
            .iter()
            .filter_map(|b| Envelope::from_bytes(b).ok())
            .map(|e| hex::encode(e.id()))
            .collect();
        problems.0.push(json!({
            "kind": "fork",
            "author": ev.author.node_id(),
            "record": null,
            "detail": format!("{} (from sequence number {})", ev.detail, ev.seq),
            "branches": branches,
            "revoked": revocations.contains_key(&ev.author),
        }));
    }
    let seals = figures::check_seals(station, None)?;
    for m in &seals.mismatches {
        problems.0.push(json!({
            "kind": "seal-mismatch",
            "author": m["by"],
            "record": m["seal"],
            "detail": format!(
                "{} {} {}: sealed {}, recomputed {}",
                m["region"].as_str().unwrap_or(""),
                m["period"].as_str().unwrap_or(""),
                m["field"].as_str().unwrap_or(""),
                m["sealed"],
                m["recomputed"]
            ),
        }));
    }
    let elapsed = started.elapsed();
    Ok(json!({
        "records_checked": checked,
        "authors": authors.len(),
        "seals_checked": seals.checked,
        "problems": problems.0,
        "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
    }))
}

/// [`lingong_protocol::ingest::verify_signatures`] over `envelopes`, split across the
/// machine's cores (a station's machine has two).
fn verify_in_parallel(envelopes: &[Envelope]) -> Vec<bool> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = envelopes
        .len()
        .div_ceil(threads)
        .max(lingong_protocol::ingest::VERIFY_CHUNK);
    std::thread::scope(|scope| {
        let parts: Vec<_> = envelopes
            .chunks(per)
            .map(|part| {
                let n = part.len();
                (
                    n,
                    scope.spawn(move || lingong_protocol::ingest::verify_signatures(part)),
                )
            })
            .collect();
        // A part whose thread failed is proved by nothing: each of its envelopes is then
        // checked alone.
        parts
            .into_iter()
            .flat_map(|(n, h)| h.join().unwrap_or_else(|_| vec![false; n]))
            .collect()
    })
}

/// The checks of one envelope that need no other envelope: signature, payload, the chain it
/// names at its time, and authorization.
fn check_envelope(
    station: &Station,
    env: &Envelope,
    proved: bool,
    revocations: &HashMap<PublicKey, RevocationInfo>,
    authors: &mut HashMap<PublicKey, Option<AuthorInfo>>,
    problems: &mut Problems,
) -> Result<()> {
    let h = &env.header;
    let record = Some(h.record.to_hex());
    if !proved && let Err(e) = env.verify_signature() {
        problems.push("bad-signature", Some(&h.author), record, format!("{e}"));
        return Ok(());
    }
    if env.payload.is_some() && env.verify_payload().is_err() {
        problems.push(
            "bad-signature",
            Some(&h.author),
            record.clone(),
            "the payload does not match the signed hash".into(),
        );
    }
    let info = match authors.entry(h.author) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(station.store.author(&h.author)?),
    };
    let Some(info) = info.as_ref() else {
        problems.push(
            "broken-chain",
            Some(&h.author),
            record,
            "the author's certificate record is not held".into(),
        );
        return Ok(());
    };
    let Some(chain) = info.chain_named(&h.cert) else {
        problems.push(
            "broken-chain",
            Some(&h.author),
            record,
            "the envelope names a certificate its author does not hold".into(),
        );
        return Ok(());
    };
    let at_s = h.timestamp_ms.div_euclid(1000);
    for cert in chain.certs() {
        if !cert.valid_at(at_s) {
            problems.push(
                "expired-cert",
                Some(&h.author),
                record.clone(),
                format!(
                    "signed at {} under the certificate of {}, valid {}..{}",
                    lingong_protocol::dates::rfc3339(h.timestamp_ms),
                    cert.body.subject.node_id(),
                    lingong_protocol::dates::rfc3339(cert.body.not_before * 1000),
                    lingong_protocol::dates::rfc3339(cert.body.not_after * 1000)
                ),
            );
        }
        if let Some(r) = revocations.get(&cert.body.subject)
            && r.at_ms <= h.timestamp_ms
        {
            problems.push(
                "revoked",
                Some(&h.author),
                record.clone(),
                format!(
                    "signed at {}, after {} was revoked at {}",
                    lingong_protocol::dates::rfc3339(h.timestamp_ms),
                    cert.body.subject.node_id(),
                    lingong_protocol::dates::rfc3339(r.at_ms)
                ),
            );
        }
    }
    let author_region = chain.leaf().body.region;
    if h.is_genesis() {
        if h.region != author_region {
            problems.push(
                "out-of-jurisdiction",
                Some(&h.author),
                record,
                format!("created in {} by a node of {author_region}", h.region),
            );
        }
    } else if h.author != h.record.creator
        && !author_region.is_strict_ancestor_of(&h.region)
        // The creator's certified successor edits as the creator could (the accept rule).
        && !lingong_protocol::accept::succeeds(&station.store, info, &h.record.creator, &h.region)
            .unwrap_or(false)
    {
        problems.push(
            "unauthorized-edit",
            Some(&h.author),
            record,
            format!(
                "a node of {author_region} edited a record of {} it did not create",
                h.region
            ),
        );
    }
    Ok(())
}

/// Links and gaps of every author's log.
fn check_logs(
    station: &Station,
    authors: &HashMap<PublicKey, Option<AuthorInfo>>,
    logs: &mut HashMap<PublicKey, Vec<LogEntry>>,
    problems: &mut Problems,
) -> Result<()> {
    for (key, log) in logs.iter_mut() {
        log.sort_by_key(|e| e.seq);
        for pair in log.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.seq == a.seq + 1 && b.prev != a.id {
                problems.push(
                    "fork",
                    Some(key),
                    None,
                    format!(
                        "the envelope with sequence number {} does not link to the one held at {}",
                        b.seq, a.seq
                    ),
                );
            }
            if b.seq == a.seq && b.id != a.id {
                problems.push(
                    "fork",
                    Some(key),
                    None,
                    format!("two envelopes held for sequence number {}", a.seq),
                );
            }
        }
        let info = authors.get(key).and_then(|i| i.as_ref());
        // The whole log is wanted here only for authors inside this node's region.
        let Some(info) = info.filter(|i| station.region.contains(&i.region())) else {
            continue;
        };
        let held_max = log.last().map(|e| e.seq).unwrap_or(0);
        let top = held_max.max(info.max_seq);
        let mut missing: Vec<(u64, u64)> = Vec::new();
        let mut expect = 1;
        for e in log.iter() {
            if e.seq > expect {
                missing.push((expect, e.seq - 1));
            }
            expect = expect.max(e.seq + 1);
        }
        if top >= expect {
            missing.push((expect, top));
        }
        for (from, to) in missing {
            let what = if from == to {
                format!("sequence number {from} is not held")
            } else {
                format!("sequence numbers {from} to {to} are not held")
            };
            problems.push(
                "gap",
                Some(key),
                None,
                format!("{what} (highest held {held_max}, counted {})", info.max_seq),
            );
        }
    }
    Ok(())
}
