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
//! How it runs: the envelopes are read in id ranges of about [`PART_ENVELOPES`] (ids are SHA-256
//! hashes, so ranges of equal width hold about as many), each by one range scan of the listed ids
//! and one of the stored envelopes, walked side by side (no listing of the whole store first, on
//! one core, and no walk of sled's tree from its root for each id). The machine's cores take the
//! ranges in turn: each thread reads its range, checks ids and payload hashes and verifies the
//! signatures, while this thread checks the ranges in id order, as they come, against the authors,
//! chains and logs seen so far; no thread waits for the slowest part of a chunk before it reads on.
//! Each certificate chain an author signs under is looked at once ([`Window`]: when all its links
//! are valid and the earliest revocation of any); only an envelope outside that span is looked at
//! link by link, to name the link. The author table is read by one scan before the envelopes
//! (not one lookup per author met: a province holds 19,572), and every certificate of every
//! chain, each once, is batch-verified on a thread beside the envelopes' reads
//! ([`prove_certificates`]; one no equation proved is checked alone); each reading thread keeps
//! the authors' keys it decompressed ([`KeyCache`]) for the next range. [`Levers`] leaves each of
//! these out, for the benches to measure against the way before. Each header is encoded once, for its id and for the batch
//! equation, and an `R` the strict rules single out is recognised from its encoding
//! ([`lingong_protocol::ingest::verify_signed`]). The seals are recomputed on a thread of their own
//! beside all this ([`figures::check_seals`]: the facts of every period sealed from one pass over
//! the records, each seal from its own region's facts). `cargo bench -p lingong-node --bench
//! oversight` and `--bench province_store` measure the rate beside raw ed25519 batch verification
//! (README).

use crate::error::Result;
use crate::figures;
use crate::station::Station;
use crate::store::SledStore;
use lingong_protocol::canon::Hash32;
use lingong_protocol::cert::{CertChain, Certificate};
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::ingest::KeyCache;
use lingong_protocol::keys::{PublicKey, Signature};
use lingong_protocol::store::{AuthorInfo, RevocationInfo, Store};
use serde_json::{Value, json};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    audit_with(station, Levers::ALL)
}

/// [`audit`] with the envelope checks made as `levers` say (the benches measure each).
pub fn audit_with(station: &Station, levers: Levers) -> Result<Value> {
    let started = std::time::Instant::now();
    let (envelopes, seals) = std::thread::scope(|beside| -> Result<_> {
        // The seals are recomputed beside the envelope checks, which need nothing of them: the
        // cores the envelope checks leave idle (listing the store first, the last chunk, the
        // logs) take the seal check's share.
        let seals =
            beside.spawn(|| figures::check_seals_with(station, None, levers.one_pass_facts));
        let envelopes = check_envelopes_with(station, levers)?;
        let seals = seals
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok((envelopes, seals))
    })?;
    let mut problems = Problems(envelopes.problems);
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
        "records_checked": envelopes.checked,
        "authors": envelopes.authors,
        "seals_checked": seals.checked,
        "problems": problems.0,
        "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
    }))
}

/// What [`check_envelopes`] found.
pub struct EnvelopeAudit {
    /// The signed envelopes checked.
    pub checked: usize,
    /// The authors known (with or without an envelope held).
    pub authors: usize,
    /// The problems found, as `audit` lists them.
    pub problems: Vec<Value>,
}

/// How [`audit_with`] goes about its work: the ways of 7 December's second and third sessions,
/// each of which can be left out, so that the benches measure them against the way before
/// ([`Levers::NONE`]) in the same run. The checks made and the problems found are the same
/// whichever are set (`services::audit::tests`).
///
/// Why the way before stays in the production code rather than in the benches: it is the
/// simpler reading of the same checks (each author looked up as met, each certificate checked
/// alone, a walk per period for the seals), and the tests and benches hold the faster ways to
/// it, finding for finding, in the same process over the same store; a copy in the benches would
/// drift from the code it measures. `audit` itself runs [`Levers::ALL`] only; nothing a user
/// can reach sets another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Levers {
    /// Every author's certificate record read by one scan of the author table before the
    /// envelopes; otherwise each envelope's author is looked up in the store by key, on the
    /// checking thread, the first time it is met (19,572 lookups in a province store), and
    /// the table scanned after the envelopes for the authors with none held.
    pub authors_first: bool,
    /// The certificates' signatures proved by batch equations ([`prove_certificates`]): on a
    /// thread beside the envelopes' reads with `authors_first`, after them otherwise. Without
    /// it, or for a certificate no equation proved, each certificate is checked alone, once.
    pub batch_certificates: bool,
    /// Each reading thread keeps the authors' keys it decompressed for the next id range it
    /// reads; otherwise they are decompressed again for each range (about 2,048 envelopes,
    /// from as many authors in a province store).
    pub keep_keys: bool,
    /// The seals' facts read by one pass over the records for every period sealed, and each
    /// seal recomputed from its region's facts ([`figures::check_seals`]); otherwise each
    /// record looked up from its creation-order row, a walk per period, and each seal
    /// recomputed over every fact of its period (7 December's third session).
    pub one_pass_facts: bool,
}

impl Levers {
    /// How `audit` runs.
    pub const ALL: Levers = Levers {
        authors_first: true,
        batch_certificates: true,
        keep_keys: true,
        one_pass_facts: true,
    };
    /// The way before these levers (the release of 7 December, 14:27 UTC, for the envelopes;
    /// of 18:48 UTC for the seals).
    pub const NONE: Levers = Levers {
        authors_first: false,
        batch_certificates: false,
        keep_keys: false,
        one_pass_facts: false,
    };
}

/// Every check of `audit` but the seals' (which `audit` runs beside it): the envelopes, the
/// authors' certificate chains, their logs and the fork evidence held.
pub fn check_envelopes(station: &Station) -> Result<EnvelopeAudit> {
    check_envelopes_with(station, Levers::ALL)
}

/// [`check_envelopes`] made as `levers` say.
pub fn check_envelopes_with(station: &Station, levers: Levers) -> Result<EnvelopeAudit> {
    let root = station.accept_config()?.root;
    let mut problems = Problems(Vec::new());
    let revocations: HashMap<PublicKey, RevocationInfo> = station
        .store
        .revocations()?
        .into_iter()
        .map(|r| (r.revoked, r))
        .collect();
    // Every author known, read by one scan of the author table (even one with no envelope
    // held, its certificate record lost); an envelope's author not in it has no certificate
    // record here. The daemon answers `audit` under its shared lock, so no commit comes
    // between this scan and the envelopes' reads.
    let first: HashMap<PublicKey, AuthorInfo> = if levers.authors_first {
        station
            .store
            .authors()?
            .into_iter()
            .map(|info| (info.key, info))
            .collect()
    } else {
        HashMap::new()
    };
    // The authors met in envelopes and not in `first`: without `authors_first`, each looked up
    // by key; with it, authors of envelopes held without a certificate record (`None`).
    let mut met: HashMap<PublicKey, Option<AuthorInfo>> = HashMap::new();
    let mut logs: HashMap<PublicKey, Vec<LogEntry>> = HashMap::new();
    let mut checked = 0usize;
    let mut windows: HashMap<(PublicKey, Hash32), Window> = HashMap::new();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let store = &station.store;
    let ranges = id_ranges(store.envelope_count()?, threads);
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let certificates = std::thread::scope(|scope| -> Result<Option<HashSet<Hash32>>> {
        // The certificates' signatures are batch-verified on a thread beside the envelopes'
        // (they need nothing of them); the chains are walked once both are done.
        let certificates = scope.spawn(|| {
            (levers.authors_first && levers.batch_certificates)
                .then(|| prove_certificates(first.values()))
        });
        // `threads` threads take the id ranges in turn, each read by a range scan and verified
        // there (ids, payload hashes, signatures); this thread checks them in id order against
        // the authors, chains and logs seen so far. A bounded channel keeps the readers at
        // most a few parts ahead.
        let (sender, parts) = std::sync::mpsc::sync_channel::<(usize, Result<Part>)>(threads);
        for _ in 0..threads {
            let (sender, taken, ranges) = (sender.clone(), &taken, &ranges);
            scope.spawn(move || {
                // The authors' keys, decompressed once per thread rather than once per part.
                let mut keys = KeyCache::default();
                loop {
                    let i = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((from, to)) = ranges.get(i) else {
                        break;
                    };
                    if !levers.keep_keys {
                        keys = KeyCache::default();
                    }
                    let part = read_part(store, from, to.as_ref().map(|t| &t[..]), &mut keys);
                    // The receiver gone: the audit stopped on an error.
                    if sender.send((i, part)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut arrived: BTreeMap<usize, Result<Part>> = BTreeMap::new();
        let mut due = 0;
        for (i, part) in parts {
            arrived.insert(i, part);
            while let Some(part) = arrived.remove(&due) {
                due += 1;
                let part = part?;
                problems.0.extend(part.problems);
                for (((env, id), proved), payload_ok) in part
                    .envelopes
                    .iter()
                    .zip(part.ids)
                    .zip(part.proved)
                    .zip(part.payload_ok)
                {
                    checked += 1;
                    let h = &env.header;
                    let info = match first.get(&h.author) {
                        Some(info) => Some(info),
                        None => match met.entry(h.author) {
                            Entry::Occupied(e) => e.into_mut().as_ref(),
                            Entry::Vacant(e) => {
                                let info = if levers.authors_first {
                                    None
                                } else {
                                    station.store.author(&h.author)?
                                };
                                e.insert(info).as_ref()
                            }
                        },
                    };
                    check_envelope(
                        station,
                        env,
                        proved,
                        payload_ok,
                        &revocations,
                        info,
                        &mut windows,
                        &mut problems,
                    );
                    // An author's log sized once for the envelopes its record counts held (a
                    // count a damaged record could overstate: at most a part's worth).
                    logs.entry(h.author)
                        .or_insert_with(|| {
                            Vec::with_capacity(
                                info.map_or(0, |i| i.envelopes.min(PART_ENVELOPES) as usize),
                            )
                        })
                        .push(LogEntry {
                            seq: h.seq,
                            id,
                            prev: h.prev,
                        });
                }
            }
        }
        Ok(certificates
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })?;
    if !levers.authors_first {
        // Every author known, even one with no envelope held (its certificate record lost).
        for info in station.store.authors()? {
            met.entry(info.key).or_insert(Some(info));
        }
    }
    let known = || {
        first
            .values()
            .chain(met.values().filter_map(Option::as_ref))
    };
    // A certificate's signature is checked once per audit, not once per chain it is a link of
    // (the province's, a city's, a county's and a township's certificates are links of every
    // chain below them: 19,572 authors in a province store), and by a batch equation
    // ([`prove_certificates`]); one no equation proved is checked alone, once.
    let mut verified = match certificates {
        Some(proved) => proved,
        None if levers.batch_certificates => prove_certificates(known()),
        None => HashSet::new(),
    };
    let mut refused: HashSet<Hash32> = HashSet::new();
    for info in known() {
        let key = &info.key;
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
            let checked = chain.verify_with(&root, leaf.body.not_before, &|_| false, &mut |cert| {
                let hash = cert.hash();
                if verified.contains(&hash) {
                    return true;
                }
                if refused.contains(&hash) {
                    return false;
                }
                let valid = cert.signature_valid();
                if valid { &mut verified } else { &mut refused }.insert(hash);
                valid
            });
            if let Err(e) = checked {
                let kind = match e.code() {
                    "foreign-root" => "broken-chain",
                    other => other,
                };
                problems.push(kind, Some(key), None, format!("certificate chain: {e}"));
            }
        }
    }
    let author = |key: &PublicKey| {
        first
            .get(key)
            .or_else(|| met.get(key).and_then(Option::as_ref))
    };
    check_logs(station, author, &mut logs, &mut problems);
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
    Ok(EnvelopeAudit {
        checked,
        authors: first.len() + met.len(),
        problems: problems.0,
    })
}

/// The hashes ([`lingong_protocol::cert::Certificate::hash`]) of the certificates, of every
/// chain of every author, whose signatures batch equations proved
/// ([`lingong_protocol::ingest::verify_messages`]: the strict rules' cases and the certificates
/// of a chunk that failed are left out, for the single check). Each certificate once, however
/// many chains it is a link of.
fn prove_certificates<'a>(authors: impl Iterator<Item = &'a AuthorInfo>) -> HashSet<Hash32> {
    let mut seen: HashSet<Hash32> = HashSet::new();
    let mut certs: Vec<(Hash32, &Certificate, Vec<u8>)> = Vec::new();
    for info in authors {
        for chain in std::iter::once(&info.chain).chain(&info.earlier) {
            for cert in chain.certs() {
                let hash = cert.hash();
                if seen.insert(hash) {
                    certs.push((hash, cert, cert.signed()));
                }
            }
        }
    }
    let items: Vec<(&PublicKey, &[u8], &Signature)> = certs
        .iter()
        .map(|(_, cert, signed)| (&cert.body.issuer, &signed[..], &cert.signature))
        .collect();
    let proved = lingong_protocol::ingest::verify_messages(&items, &mut KeyCache::default());
    certs
        .iter()
        .zip(proved)
        .filter(|(_, ok)| *ok)
        .map(|((hash, _, _), _)| *hash)
        .collect()
}

/// About how many envelopes one id range holds ([`id_ranges`]): a few batch equations' worth,
/// so that the threads share the work evenly and the parts waiting in memory stay small.
const PART_ENVELOPES: u64 = 2048;

/// The id ranges the envelopes are read in, `[from, to)` as 4-byte prefixes of the id (`to:
/// None`, to the last id): ids are SHA-256 hashes, so ranges of equal width hold about equal
/// numbers of envelopes. At least one per thread, about [`PART_ENVELOPES`] each.
fn id_ranges(envelopes: u64, threads: usize) -> Vec<([u8; 4], Option<[u8; 4]>)> {
    let n = (envelopes / PART_ENVELOPES).clamp(threads as u64, 1 << 16);
    let bound = |i: u64| (((i << 32) / n) as u32).to_be_bytes();
    (0..n)
        .map(|i| (bound(i), (i + 1 < n).then(|| bound(i + 1))))
        .collect()
}

/// What one thread hands back for its id range: the envelopes held as listed, each one's id,
/// whether a batch equation proved its signature and whether its payload matches the signed
/// hash, and the problems of the envelopes that could not be read.
struct Part {
    envelopes: Vec<Envelope>,
    ids: Vec<EnvelopeId>,
    proved: Vec<bool>,
    payload_ok: Vec<bool>,
    problems: Vec<Value>,
}

/// Reads the envelopes listed with ids in `[from, to)`, the listed ids and the stored envelopes
/// each by one range scan in id order, walked side by side; checks each is stored under its own
/// id and its payload, and verifies their signatures
/// ([`lingong_protocol::ingest::verify_signed`]: batch equations, the strict rules' cases left
/// to the single check), each header encoded once for its id and its signature.
fn read_part(
    store: &SledStore,
    from: &[u8],
    to: Option<&[u8]>,
    keys: &mut KeyCache,
) -> Result<Part> {
    let mut problems = Problems(Vec::new());
    let mut envelopes: Vec<Envelope> = Vec::with_capacity(PART_ENVELOPES as usize * 2);
    // Each envelope's id, computed once (it is checked against the stored id here).
    let mut ids: Vec<EnvelopeId> = Vec::with_capacity(envelopes.capacity());
    // Each header encoded once, for its id and for the batch equation.
    let mut signed: Vec<Vec<u8>> = Vec::with_capacity(envelopes.capacity());
    let mut held = store.envelope_rows_between(false, from, to);
    let mut next_held = held.next().transpose()?;
    for listed in store.envelope_rows_between(true, from, to) {
        let (id, _) = listed?;
        // Envelopes held but not listed are not looked at (nothing lists them).
        while next_held.as_ref().is_some_and(|(held_id, _)| *held_id < id) {
            next_held = held.next().transpose()?;
        }
        let short = || hex::encode(&id[..8]);
        let bytes = match &next_held {
            Some((held_id, bytes)) if *held_id == id => bytes,
            _ => {
                problems.push(
                    "gap",
                    None,
                    None,
                    format!("the envelope {}… is listed but not held", short()),
                );
                continue;
            }
        };
        match Envelope::from_bytes(bytes) {
            Ok(env) => {
                let signed_bytes = env.header.signed_bytes();
                if env.id_of_signed(&signed_bytes) == id {
                    envelopes.push(env);
                    ids.push(id);
                    signed.push(signed_bytes);
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
            Err(e) => problems.push(
                "bad-signature",
                None,
                None,
                format!(
                    "the envelope {}… does not decode: {}",
                    short(),
                    crate::store::err(e)
                ),
            ),
        }
    }
    let payload_ok = envelopes
        .iter()
        .map(|e| e.payload.is_none() || e.verify_payload().is_ok())
        .collect();
    let proved = lingong_protocol::ingest::verify_signed_with(&envelopes, &signed, keys);
    Ok(Part {
        envelopes,
        ids,
        proved,
        payload_ok,
        problems: problems.0,
    })
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
/// names at its time, and authorization; `info`: its author's certificate record, if held.
#[allow(clippy::too_many_arguments)]
fn check_envelope(
    station: &Station,
    env: &Envelope,
    proved: bool,
    payload_ok: bool,
    revocations: &HashMap<PublicKey, RevocationInfo>,
    info: Option<&AuthorInfo>,
    windows: &mut HashMap<(PublicKey, Hash32), Window>,
    problems: &mut Problems,
) {
    let h = &env.header;
    // The record's id as text, made only for a problem.
    let record = || Some(h.record.to_hex());
    if !proved && let Err(e) = env.verify_signature() {
        problems.push("bad-signature", Some(&h.author), record(), format!("{e}"));
        return;
    }
    if !payload_ok {
        problems.push(
            "bad-signature",
            Some(&h.author),
            record(),
            "the payload does not match the signed hash".into(),
        );
    }
    let Some(info) = info else {
        problems.push(
            "broken-chain",
            Some(&h.author),
            record(),
            "the author's certificate record is not held".into(),
        );
        return;
    };
    let Some(chain) = info.chain_named(&h.cert) else {
        problems.push(
            "broken-chain",
            Some(&h.author),
            record(),
            "the envelope names a certificate its author does not hold".into(),
        );
        return;
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
}

/// Links and gaps of every author's log.
fn check_logs<'a>(
    station: &Station,
    author: impl Fn(&PublicKey) -> Option<&'a AuthorInfo>,
    logs: &mut HashMap<PublicKey, Vec<LogEntry>>,
    problems: &mut Problems,
) {
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
        let info = author(key);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Request, dispatch};
    use lingong_protocol::accept::meta_of;
    use lingong_protocol::cert::{self, CertRequest};
    use lingong_protocol::keys::NodeKey;
    use lingong_protocol::record::{RecordId, RecordKind};
    use lingong_protocol::region::RegionCode;
    use lingong_protocol::store::{Batch, Op, RevocationInfo};

    const DAY_MS: i64 = 86_400_000;

    /// A certified province station (its own root) in a fresh home under `dir`.
    fn province(dir: &std::path::Path) -> Station {
        let home = crate::home::Home::new(Some(dir.join("province")));
        crate::station::init(&home, "省中心", "52", vec![], None).expect("init");
        let mut node = Station::open(&home).expect("open");
        let request =
            serde_json::from_value(dispatch(&mut node, Request::CertRequest).unwrap()).unwrap();
        let chain = dispatch(&mut node, Request::CertIssue { request, days: 365 }).unwrap();
        dispatch(&mut node, Request::CertInstall { chain }).unwrap();
        node
    }

    /// A county key certified by the province from `from_s` for 365 days.
    fn county(province: &Station, code: &str, seed: u8, from_s: i64) -> (NodeKey, CertChain) {
        let key = NodeKey::from_seed([seed; 32]);
        let region = RegionCode::parse(code).unwrap();
        let request = CertRequest::new(&key, region, &format!("县 {code}")).unwrap();
        let chain = cert::issue(
            &province.key,
            province.chain.as_ref(),
            &request,
            from_s,
            365,
        )
        .expect("issued");
        (key, chain)
    }

    /// Signs a post-kind envelope of `key` with its fields as given, its payload some bytes.
    #[allow(clippy::too_many_arguments)]
    fn signed(
        key: &NodeKey,
        chain: &CertChain,
        seq: u64,
        prev: EnvelopeId,
        record: RecordId,
        region: &str,
        at_ms: i64,
    ) -> Envelope {
        let region = RegionCode::parse(region).unwrap();
        Envelope::sign(
            key,
            seq,
            prev,
            record,
            RecordKind::Post,
            region,
            region,
            at_ms,
            chain.leaf_hash(),
            format!("change {seq}").into_bytes(),
        )
    }

    fn author(key: &NodeKey, chain: &CertChain, max_seq: u64) -> Op {
        Op::PutAuthor(Box::new(AuthorInfo {
            key: key.public(),
            chain: chain.clone(),
            max_seq,
            envelopes: max_seq,
            earlier: Vec::new(),
        }))
    }

    fn put(envelopes: &[Envelope]) -> Vec<Op> {
        envelopes
            .iter()
            .map(|e| Op::PutEnvelope(Box::new(e.clone()), meta_of(e, e.id())))
            .collect()
    }

    /// The audit made the way before this session's levers ([`Levers::NONE`]) and as `audit`
    /// makes it find the same problems (in whatever order) and count the same.
    fn same_as_before(station: &Station, out: &Value) {
        let before = audit_with(station, Levers::NONE).unwrap();
        let sorted = |v: &Value| {
            let mut p: Vec<String> = v["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.to_string())
                .collect();
            p.sort();
            p
        };
        assert_eq!(sorted(&before), sorted(out));
        for field in ["records_checked", "authors", "seals_checked"] {
            assert_eq!(before[field], out[field], "{field}");
        }
    }

    fn kinds(out: &Value) -> Vec<(String, Option<String>, Option<String>)> {
        out["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["kind"].as_str().unwrap().to_string(),
                    p["author"].as_str().map(str::to_string),
                    p["record"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    /// Envelopes planted in the store as a tampered or damaged copy would hold them (the accept
    /// path refuses each of them): the audit names each problem kind with its author and
    /// record, over more envelopes than one batch equation takes, so that the batch path, the
    /// fallback to the single check and the parts read by several threads are all exercised.
    #[test]
    fn audit_names_every_kind_of_problem_in_a_store_holding_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut station = province(dir.path());
        let t0_s = crate::station::now_ms() / 1000 + 60;
        let t0 = t0_s * 1000;
        let (ka, ca) = county(&station, "520102", 1, t0_s);
        let (kb, cb) = county(&station, "520103", 2, t0_s);
        let kc = NodeKey::from_seed([3; 32]);
        let (a, b, c) = (ka.public(), kb.public(), kc.public());
        let rec = |creator: PublicKey, serial: u64| RecordId { creator, serial };

        // A clean log of 300 posts by A and one post by B: the audit finds nothing.
        let mut log: Vec<Envelope> = Vec::new();
        let mut prev = [0u8; 32];
        for seq in 1..=300u64 {
            let env = signed(&ka, &ca, seq, prev, rec(a, seq), "520102", t0 + seq as i64);
            prev = env.id();
            log.push(env);
        }
        let b1 = signed(&kb, &cb, 1, [0; 32], rec(b, 1), "520103", t0 + 1000);
        let mut ops = put(&log);
        ops.extend(put(std::slice::from_ref(&b1)));
        ops.push(author(&ka, &ca, 300));
        ops.push(author(&kb, &cb, 1));
        station.store.commit(Batch { ops }).unwrap();
        let clean = audit(&station).unwrap();
        assert_eq!(kinds(&clean), Vec::new(), "{clean}");
        // A's 300 posts and B's one (the root's certificate is the station's own chain).
        assert_eq!(clean["records_checked"], 302, "{clean}");

        // Then A's log goes on with every problem an envelope can have, one at each seq.
        let mut next = |seq: u64, record: RecordId, region: &str, at_ms: i64| {
            let env = signed(&ka, &ca, seq, prev, record, region, at_ms);
            prev = env.id();
            env
        };
        // 301: a record created in B's county.
        let outside = next(301, rec(a, 301), "520103", t0 + 2000);
        // 302: an edit of B's record by A, neither its creator nor above it.
        let edit = next(302, rec(b, 1), "520103", t0 + 3000);
        // 303: signed after A's certificate ended.
        let late = next(303, rec(a, 303), "520102", t0 + 400 * DAY_MS);
        // 304, and another 304 (both linked to 303): a fork.
        let fork = next(304, rec(a, 304), "520102", t0 + 5000);
        let other = signed(&ka, &ca, 304, late.id(), rec(a, 1304), "520102", t0 + 5001);
        // 306 (305 never held): a gap; its payload altered after it was signed.
        let mut after_gap = next(306, rec(a, 306), "520102", t0 + 7000);
        if let Some(p) = after_gap.payload.as_mut() {
            p[0] ^= 1;
        }
        // 307 with a signature that does not verify, stored under its own id.
        let mut forged = next(307, rec(a, 307), "520102", t0 + 8000);
        forged.signature.0[10] ^= 1;
        // B revoked, and a change B signed after it.
        let revoked_at = t0 + 10_000;
        let b2 = signed(&kb, &cb, 2, b1.id(), rec(b, 2), "520103", revoked_at + 1);
        // C, whose certificate record is not held.
        let cc = county(&station, "520111", 3, t0_s).1;
        let c1 = signed(&kc, &cc, 1, [0; 32], rec(c, 1), "520111", t0 + 9000);
        let bad = [
            outside.clone(),
            edit.clone(),
            late.clone(),
            fork,
            other,
            after_gap.clone(),
            forged.clone(),
            b2.clone(),
            c1.clone(),
        ];
        let mut ops = put(&bad);
        ops.push(author(&ka, &ca, 307));
        ops.push(author(&kb, &cb, 2));
        ops.push(Op::PutRevocation(RevocationInfo {
            revoked: b,
            by: station.key.public(),
            at_ms: revoked_at,
            reason: "审计测试".into(),
        }));
        station.store.commit(Batch { ops }).unwrap();

        let out = audit(&station).unwrap();
        let found = kinds(&out);
        let has = |kind: &str, who: &PublicKey, record: Option<&RecordId>| {
            found.iter().any(|(k, au, r)| {
                k == kind
                    && au.as_deref() == Some(who.node_id().as_str())
                    && (record.is_none() || r.as_deref() == record.map(|r| r.to_hex()).as_deref())
            })
        };
        assert!(
            has("out-of-jurisdiction", &a, Some(&outside.header.record)),
            "{out}"
        );
        assert!(
            has("unauthorized-edit", &a, Some(&edit.header.record)),
            "{out}"
        );
        assert!(has("expired-cert", &a, Some(&late.header.record)), "{out}");
        assert!(has("fork", &a, None), "{out}");
        assert!(has("gap", &a, None), "{out}");
        assert!(
            has("bad-signature", &a, Some(&forged.header.record)),
            "{out}"
        );
        assert!(
            has("bad-signature", &a, Some(&after_gap.header.record)),
            "{out}"
        );
        assert!(has("revoked", &b, Some(&b2.header.record)), "{out}");
        assert!(has("broken-chain", &c, Some(&c1.header.record)), "{out}");
        let detail = |kind: &str| -> Vec<String> {
            out["problems"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["kind"] == kind)
                .map(|p| p["detail"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            detail("gap")
                .iter()
                .any(|d| d.contains("sequence number 305")),
            "{out}"
        );
        assert!(detail("fork").iter().any(|d| d.contains("304")), "{out}");
        // Nothing else: no other kind is reported, and every envelope was checked.
        let expected = [
            "out-of-jurisdiction",
            "unauthorized-edit",
            "expired-cert",
            "fork",
            "gap",
            "bad-signature",
            "revoked",
            "broken-chain",
        ];
        assert!(
            found.iter().all(|(k, _, _)| expected.contains(&k.as_str())),
            "{out}"
        );
        assert_eq!(out["records_checked"], 302 + bad.len(), "{out}");
        same_as_before(&station, &out);
    }

    /// The certificates' signatures are proved by batch equations: a store of 300 township
    /// stations (more certificates than one equation takes) in which one township's certificate
    /// and one county's certificate carry signatures that do not verify. The audit names
    /// exactly the authors whose chains the single check of every link refuses (the tampered
    /// township, and every township below the tampered county), as `bad-signature`, and
    /// nothing else.
    #[test]
    fn certificates_batch_verified_are_refused_as_the_single_check_refuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut station = province(dir.path());
        let root = station.key.public();
        let t0_s = crate::station::now_ms() / 1000 + 60;
        let townships: Vec<RegionCode> = lingong_protocol::region::divisions()
            .iter()
            .filter(|d| d.level == lingong_protocol::region::Level::Township)
            .map(|d| d.code)
            .take(300)
            .collect();
        // Each county's key and chain, issued by the province, once.
        let mut counties: HashMap<RegionCode, (NodeKey, CertChain)> = HashMap::new();
        let mut chains: Vec<(NodeKey, CertChain)> = Vec::new();
        for (i, code) in townships.iter().enumerate() {
            let above = code
                .ancestor_at(lingong_protocol::region::Level::County)
                .unwrap();
            let seed = 100 + counties.len() as u8;
            let (county_key, county_chain) = counties
                .entry(above)
                .or_insert_with(|| county(&station, &above.to_string(), seed, t0_s));
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = NodeKey::from_seed(seed);
            let request = CertRequest::new(&key, *code, &format!("乡镇 {code}")).unwrap();
            let chain =
                cert::issue(county_key, Some(county_chain), &request, t0_s, 365).expect("issued");
            chains.push((key, chain));
        }
        // A township's own certificate with a signature that does not verify.
        let tamper = |chain: &CertChain, link: usize| {
            let mut certs = chain.certs().to_vec();
            certs[link].signature.0[9] ^= 1;
            CertChain::new(certs)
        };
        chains[17].1 = tamper(&chains[17].1, 0);
        // A county's certificate altered in the chains of every township below it.
        let county_of = |c: &CertChain| c.certs()[1].body.region;
        let bad_county = county_of(&chains[200].1);
        for (_, chain) in chains.iter_mut() {
            if county_of(chain) == bad_county {
                *chain = tamper(chain, 1);
            }
        }
        let ops = chains
            .iter()
            .map(|(key, chain)| author(key, chain, 0))
            .collect();
        station.store.commit(Batch { ops }).unwrap();

        let out = audit(&station).unwrap();
        let found: HashSet<(String, String)> = kinds(&out)
            .into_iter()
            .map(|(kind, author, _)| (kind, author.unwrap_or_default()))
            .collect();
        // The definition: every link checked alone (`CertChain::verify`).
        let expected: HashSet<(String, String)> = chains
            .iter()
            .filter(|(_, chain)| {
                chain
                    .verify(&root, chain.leaf().body.not_before, &|_| false)
                    .is_err()
            })
            .map(|(key, _)| ("bad-signature".to_string(), key.public().node_id()))
            .collect();
        let below_bad_county = chains
            .iter()
            .filter(|(_, c)| county_of(c) == bad_county)
            .count();
        assert!(below_bad_county >= 2, "{below_bad_county}");
        assert_eq!(expected.len(), 1 + below_bad_county);
        assert_eq!(found, expected, "{out}");
        assert_eq!(out["authors"], 300 + 1, "{out}");
        same_as_before(&station, &out);
    }
}
