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
//!
//! How it runs: the envelopes are read in the store's key order in chunks of [`READ_CHUNK`];
//! each chunk is split over the machine's cores, and each thread reads its part, checks ids and
//! payload hashes and verifies the signatures, while this thread checks the chunk before it
//! against the authors, chains and logs seen so far. Each certificate chain an author signs
//! under is looked at once ([`Window`]: when all its links are valid and the earliest
//! revocation of any); only an envelope outside that span is looked at link by link, to name
//! the link. Each header is encoded once, for its id and for the batch equation, and an `R`
//! the strict rules single out is recognised from its encoding
//! ([`lingong_protocol::ingest::verify_signed`]). The seals are recomputed on a thread of their
//! own beside all this. `cargo bench -p lingong-node --bench oversight` measures the rate
//! beside raw ed25519 batch verification (README).

use crate::error::Result;
use crate::figures;
use crate::station::Station;
use crate::store::SledStore;
use lingong_protocol::canon::Hash32;
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::store::{AuthorInfo, ItemMeta, RevocationInfo, Store};
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
    let mut checked = 0usize;
    let mut windows: HashMap<(PublicKey, Hash32), Window> = HashMap::new();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let store = &station.store;
    let seals = std::thread::scope(|beside| -> Result<figures::SealCheck> {
        // The seals are recomputed beside the envelope checks, which need nothing of them: the
        // cores the envelope checks leave idle (listing the store first, the last chunk, the
        // logs) take the seal check's share.
        let seals = beside.spawn(|| figures::check_seals(station, None));
        let metas = store.items()?;
        std::thread::scope(|scope| -> Result<()> {
            // A chunk is read and verified by `threads` threads while this one checks the chunk
            // before it: reading, ids, payload hashes and signatures in parallel, the checks that
            // need the tables built so far here.
            let start = |chunk| spawn_parts(scope, store, chunk, threads);
            let mut chunks = metas.chunks(READ_CHUNK);
            let mut next = chunks.next().map(start);
            while let Some(handles) = next.take() {
                next = chunks.next().map(start);
                for handle in handles {
                    let part = handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    problems.0.extend(part.problems);
                    for (((env, id), proved), payload_ok) in part
                        .envelopes
                        .iter()
                        .zip(part.ids)
                        .zip(part.proved)
                        .zip(part.payload_ok)
                    {
                        checked += 1;
                        check_envelope(
                            station,
                            env,
                            proved,
                            payload_ok,
                            &revocations,
                            &mut authors,
                            &mut windows,
                            &mut problems,
                        )?;
                        let h = &env.header;
                        logs.entry(h.author).or_default().push(LogEntry {
                            seq: h.seq,
                            id,
                            prev: h.prev,
                        });
                    }
                }
            }
            Ok(())
        })?;
        seals
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
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

/// Starts the threads that read and verify `chunk`, one part each.
fn spawn_parts<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    store: &'env SledStore,
    chunk: &'env [ItemMeta],
    threads: usize,
) -> Vec<std::thread::ScopedJoinHandle<'scope, Part>> {
    let per = chunk
        .len()
        .div_ceil(threads)
        .max(lingong_protocol::ingest::VERIFY_CHUNK);
    chunk
        .chunks(per)
        .map(|part| scope.spawn(move || read_part(store, part)))
        .collect()
}

/// What one thread hands back for its part of a chunk: the envelopes held as listed, each
/// one's id, whether a batch equation proved its signature and whether its payload matches the
/// signed hash, and the problems of the envelopes that could not be read.
struct Part {
    envelopes: Vec<Envelope>,
    ids: Vec<EnvelopeId>,
    proved: Vec<bool>,
    payload_ok: Vec<bool>,
    problems: Vec<Value>,
}

/// Reads the envelopes of `metas` (in key order, as listed), checks each is stored under its
/// own id and its payload, and verifies their signatures
/// ([`lingong_protocol::ingest::verify_signed`]: batch equations, the strict rules' cases left
/// to the single check), each header encoded once for its id and its signature.
fn read_part(store: &SledStore, metas: &[ItemMeta]) -> Part {
    let mut problems = Problems(Vec::new());
    let mut envelopes: Vec<Envelope> = Vec::with_capacity(metas.len());
    // Each envelope's id, computed once (it is checked against the stored id here).
    let mut ids: Vec<EnvelopeId> = Vec::with_capacity(metas.len());
    // Each header encoded once, for its id and for the batch equation.
    let mut signed: Vec<Vec<u8>> = Vec::with_capacity(metas.len());
    for meta in metas {
        let short = || hex::encode(&meta.id[..8]);
        match store.envelope(&meta.id) {
            Ok(Some(env)) => {
                let bytes = env.header.signed_bytes();
                if env.id_of_signed(&bytes) == meta.id {
                    envelopes.push(env);
                    ids.push(meta.id);
                    signed.push(bytes);
                    continue;
                }
                let what = format!(
                    "the envelope stored as {}… is another envelope (altered after it was accepted)",
                    short()
                );
                problems.push(
                    "bad-signature",
                    Some(&env.header.author),
                    Some(env.header.record.to_hex()),
                    what,
                );
            }
            Ok(None) => problems.push(
                "gap",
                None,
                None,
                format!("the envelope {}… is listed but not held", short()),
            ),
            Err(e) => problems.push(
                "bad-signature",
                None,
                None,
                format!("the envelope {}… does not decode: {e}", short()),
            ),
        }
    }
    let payload_ok = envelopes
        .iter()
        .map(|e| e.payload.is_none() || e.verify_payload().is_ok())
        .collect();
    let proved = lingong_protocol::ingest::verify_signed(&envelopes, &signed);
    Part {
        envelopes,
        ids,
        proved,
        payload_ok,
        problems: problems.0,
    }
}

/// What one certificate chain of an author allows, taken once per chain rather than per
/// envelope: the span every link is valid in and the earliest revocation of any link. An
/// envelope inside it has no chain problem; one outside is looked at link by link.
struct Window {
    from_s: i64,
    to_s: i64,
    revoked_ms: Option<i64>,
}

impl Window {
    fn of(chain: &CertChain, revocations: &HashMap<PublicKey, RevocationInfo>) -> Window {
        let certs = chain.certs();
        Window {
            from_s: certs.iter().map(|c| c.body.not_before).max().unwrap_or(0),
            to_s: certs.iter().map(|c| c.body.not_after).min().unwrap_or(0),
            revoked_ms: certs
                .iter()
                .filter_map(|c| revocations.get(&c.body.subject).map(|r| r.at_ms))
                .min(),
        }
    }

    fn allows(&self, timestamp_ms: i64) -> bool {
        let at_s = timestamp_ms.div_euclid(1000);
        self.from_s <= at_s && at_s <= self.to_s && self.revoked_ms.is_none_or(|r| r > timestamp_ms)
    }
}

/// The checks of one envelope that need no other envelope: signature, payload, the chain it
/// names at its time, and authorization.
#[allow(clippy::too_many_arguments)]
fn check_envelope(
    station: &Station,
    env: &Envelope,
    proved: bool,
    payload_ok: bool,
    revocations: &HashMap<PublicKey, RevocationInfo>,
    authors: &mut HashMap<PublicKey, Option<AuthorInfo>>,
    windows: &mut HashMap<(PublicKey, Hash32), Window>,
    problems: &mut Problems,
) -> Result<()> {
    let h = &env.header;
    // The record's id as text, made only for a problem.
    let record = || Some(h.record.to_hex());
    if !proved && let Err(e) = env.verify_signature() {
        problems.push("bad-signature", Some(&h.author), record(), format!("{e}"));
        return Ok(());
    }
    if !payload_ok {
        problems.push(
            "bad-signature",
            Some(&h.author),
            record(),
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
            record(),
            "the author's certificate record is not held".into(),
        );
        return Ok(());
    };
    let Some(chain) = info.chain_named(&h.cert) else {
        problems.push(
            "broken-chain",
            Some(&h.author),
            record(),
            "the envelope names a certificate its author does not hold".into(),
        );
        return Ok(());
    };
    let window = windows
        .entry((h.author, h.cert))
        .or_insert_with(|| Window::of(chain, revocations));
    let at_s = h.timestamp_ms.div_euclid(1000);
    for cert in chain
        .certs()
        .iter()
        .filter(|_| !window.allows(h.timestamp_ms))
    {
        if !cert.valid_at(at_s) {
            problems.push(
                "expired-cert",
                Some(&h.author),
                record(),
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
                record(),
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
                record(),
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
            record(),
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
