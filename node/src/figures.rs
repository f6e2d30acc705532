//! What the oversight services read from the store: the facts a service report counts, the
//! report seals held, the stations below a node, and the check of a seal against the records
//! held (`report verify`, and the `seal-mismatch` problems of `audit`).
//!
//! The arithmetic is `lingong_protocol::report` (pure); this module only reads: a record's
//! fields as of an instant come from its current view when no change is dated after that
//! instant, and otherwise from its changes dated before it, rebuilt
//! ([`lingong_protocol::report::view_as_of`]). Used by `services::reports`, `services::supervision`
//! and `services::audit`, which do not import each other.
//!
//! Two ways to the facts: a walk of one period's creation-order rows, each record looked up
//! ([`collect_facts`], [`FactWalk`]: a report, which can stop at the period's start), and one
//! pass over every record for several periods at once ([`collect_facts_of`]: the check of every
//! seal held, which then recomputes each seal from its own region's facts, [`RegionFacts`]).

use crate::error::Result;
use crate::index;
use crate::station::Station;
use crate::store;
use lingong_protocol::envelope::EnvelopeId;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::report::{self, Fact, Figures, Period, Report};
use lingong_protocol::schema::{ReportSeal, Schema};
use lingong_protocol::store::{RecordState, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// A report seal held here, read back.
#[derive(Clone, Debug)]
pub struct HeldSeal {
    pub state: RecordState,
    pub seal: ReportSeal,
}

impl HeldSeal {
    pub fn id(&self) -> String {
        self.state.id().to_hex()
    }
    pub fn author(&self) -> PublicKey {
        self.state.creator
    }
}

/// A record as the store keeps it (postcard), decoded without copying its document or parsing
/// its view: `RecordState`'s fields in their order, the document borrowed and the view left as
/// its JSON text (a test checks the two decode alike). A report reads the view of few of the
/// records it walks. (`reach` and `waiting` are decoded to reach the fields after them.)
#[allow(dead_code)]
#[derive(Deserialize)]
struct Stored<'a> {
    kind: RecordKind,
    creator: PublicKey,
    serial: u64,
    region: RegionCode,
    reach: RegionCode,
    created_ms: i64,
    updated_ms: i64,
    changes: Vec<EnvelopeId>,
    #[serde(borrow)]
    doc: Option<&'a [u8]>,
    waiting: bool,
    #[serde(borrow)]
    view: &'a str,
}

impl Stored<'_> {
    fn decode(bytes: &[u8]) -> Result<Stored<'_>> {
        let (stored, _) = postcard::take_from_bytes(bytes).map_err(store::err)?;
        Ok(stored)
    }

    fn short(&self) -> [u8; 16] {
        RecordId {
            creator: self.creator,
            serial: self.serial,
        }
        .short()
    }
}

/// The timestamps of a record's envelopes held.
/// Only whether one falls in `[start, end)` matters to a report: when the record's first and
/// last changes settle it, the envelopes are not read.
fn touched(station: &Station, rec: &Stored, start: i64, end: i64) -> Result<Vec<i64>> {
    if rec.updated_ms < start || rec.created_ms >= start {
        return Ok(vec![rec.created_ms, rec.updated_ms]);
    }
    if rec.updated_ms < end {
        return Ok(vec![rec.updated_ms]);
    }
    let mut out = Vec::with_capacity(rec.changes.len());
    for id in &rec.changes {
        if let Some(env) = station.store.envelope(id)? {
            out.push(env.header.timestamp_ms);
        }
    }
    Ok(out)
}

/// A record's fields as of `at_ms` (`None`: not created yet, or only headers held here), the
/// fields a report reads only ([`report::fields_read`]): from its current view when no change is
/// dated at or after `at_ms`, otherwise rebuilt from the changes dated before it.
fn view_at(station: &Station, rec: &Stored, at_ms: i64) -> Result<Option<Map<String, Value>>> {
    if rec.created_ms >= at_ms || rec.doc.is_none() {
        return Ok(None);
    }
    let read = report::fields_read(rec.kind);
    if rec.updated_ms < at_ms {
        return Ok(Some(fields_of(rec.view, read)?));
    }
    let mut view = {
        let mut changes: Vec<(i64, Vec<u8>)> = Vec::new();
        for id in &rec.changes {
            if let Some(env) = station.store.envelope(id)?
                && let Some(payload) = env.payload
            {
                changes.push((env.header.timestamp_ms, payload));
            }
        }
        let borrowed: Vec<(i64, &[u8])> = changes.iter().map(|(t, c)| (*t, c.as_slice())).collect();
        match report::view_as_of(&borrowed, at_ms)? {
            Some(view) => view,
            None => return Ok(None),
        }
    };
    view.retain(|k, _| read.contains(&k.as_str()));
    Ok(Some(view))
}

/// The fields `read` of a record's view (its JSON text, an object), parsed as
/// `serde_json::from_str::<Map<String, Value>>` parses it (the same errors, the last of a
/// repeated key kept) but with every other field skipped as it is read: its value checked and
/// not built, its key not copied. A report reads three to five fields of a view.
fn fields_of(view: &str, read: &[&str]) -> Result<Map<String, Value>> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use std::fmt;

    /// A key of the view: the name in `read` it is, or `None` for a field not read.
    struct Key<'r>(&'r [&'r str]);
    impl<'de, 'r> DeserializeSeed<'de> for Key<'r> {
        type Value = Option<&'r str>;
        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'r> Visitor<'_> for Key<'r> {
        type Value = Option<&'r str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(self.0.iter().find(|k| **k == v).copied())
        }
    }
    /// The view: an object, of which the fields in `read` are kept.
    struct Only<'r>(&'r [&'r str]);
    impl<'de> Visitor<'de> for Only<'_> {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key_seed(Key(self.0))? {
                match key {
                    Some(name) => {
                        let value: Value = map.next_value()?;
                        out.insert(name.to_string(), value);
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(view);
    let fields = serde::Deserializer::deserialize_map(&mut de, Only(read)).map_err(store::err)?;
    de.end().map_err(store::err)?;
    Ok(fields)
}

/// The key under `kind`'s creation-order rows (`index::prefix(kind, None)`) at the instant
/// `ms`: the rows before it are the records created before `ms`, since an index row's order
/// ([`index::order`]) begins with the creation time (8 bytes big-endian, sign bit flipped).
fn created_bound(kind: RecordKind, ms: i64) -> Vec<u8> {
    let mut key = index::prefix(kind, None);
    key.extend_from_slice(&(ms as u64 ^ (1 << 63)).to_be_bytes());
    key
}

/// The creation time a creation-order row's key carries (the inverse of [`created_bound`]).
fn created_of(key: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = key.get(2..10)?.try_into().ok()?;
    Some((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// The kinds a report counts, in the order [`FactWalk`] walks them: placements first, so the
/// workers they name are known when the workers are walked.
const WALKED: [RecordKind; 5] = [
    RecordKind::Placement,
    RecordKind::Employer,
    RecordKind::Post,
    RecordKind::Complaint,
    RecordKind::Worker,
];

/// The most rows a [`FactWalk`] may visit: the records held of the kinds it walks (a walk
/// visits fewer: none created after the period, placements and employers only back to its
/// start). Read from the store's counters, not by walking.
pub fn rows_to_walk(station: &Station) -> Result<u64> {
    let mut n = 0;
    for kind in WALKED {
        n += station.store.count(kind)?;
    }
    Ok(n)
}

/// How many rows [`FactWalk::step`] walks between two looks at the clock.
const ROWS_BETWEEN_CLOCK_READS: u32 = 32;

/// The walk of [`collect_facts`], able to stop after a while and go on later from where it
/// stopped (`services::reports::report_in_slices` lets go of the station in between). A walk
/// resumed over a store that changed meanwhile is not the walk of either state: whoever
/// resumes one checks that nothing was committed in between.
pub struct FactWalk {
    start: i64,
    end: i64,
    /// The kind being walked ([`WALKED`]'s index; its length once the walk is done).
    kind: usize,
    /// Where the walk of that kind stopped: the rows left are those below this key.
    below: Option<Vec<u8>>,
    /// The workers the period's placements name (placements are walked first).
    named: HashSet<[u8; 16]>,
    facts: Vec<Fact>,
    /// Rows walked so far (what the console's `/report` shows while it waits).
    walked: u64,
}

impl FactWalk {
    pub fn new(period: &Period) -> FactWalk {
        FactWalk {
            start: period.start_ms(),
            end: period.end_ms(),
            kind: 0,
            below: None,
            named: HashSet::new(),
            facts: Vec::new(),
            walked: 0,
        }
    }

    /// How many rows the walk has visited so far (at most [`rows_to_walk`]).
    pub fn walked(&self) -> u64 {
        self.walked
    }

    /// Whether every row has been walked.
    pub fn done(&self) -> bool {
        self.kind >= WALKED.len()
    }

    /// The facts found: all of them once the walk is [`FactWalk::done`].
    pub fn facts(&self) -> &[Fact] {
        &self.facts
    }

    /// Walks on until the walk is done or, with `until`, that instant has passed (looked at
    /// every few rows, so a step may run a few rows past it); returns whether it is done.
    pub fn step(&mut self, station: &Station, until: Option<std::time::Instant>) -> Result<bool> {
        let mut since_clock = 0u32;
        while let Some(&kind) = WALKED.get(self.kind) {
            let below = self
                .below
                .take()
                .unwrap_or_else(|| created_bound(kind, self.end));
            let rows = station
                .store
                .index_rows_between(index::prefix(kind, None), below);
            for row in rows.rev() {
                let (key, _) = row?;
                self.walked += 1;
                if !self.visit(station, kind, &key)? {
                    break;
                }
                since_clock += 1;
                if since_clock >= ROWS_BETWEEN_CLOCK_READS {
                    since_clock = 0;
                    if until.is_some_and(|t| std::time::Instant::now() >= t) {
                        self.below = Some(key.to_vec());
                        return Ok(false);
                    }
                }
            }
            self.kind += 1;
        }
        Ok(true)
    }

    /// Takes the record of one creation-order row of `kind` into the facts if it may count;
    /// returns whether the walk of the kind goes on (placements and employers made before the
    /// period end it: only those made in it count).
    fn visit(&mut self, station: &Station, kind: RecordKind, key: &[u8]) -> Result<bool> {
        let (Some(created), Some(id)) = (created_of(key), index::record_of(key)) else {
            return Ok(true);
        };
        if created < self.start && matches!(kind, RecordKind::Placement | RecordKind::Employer) {
            return Ok(false);
        }
        let Some(bytes) = station.store.record_bytes(&id)? else {
            return Ok(true);
        };
        self.take(station, kind, &Stored::decode(&bytes)?)?;
        Ok(true)
    }

    /// Takes `rec`, a record of `kind`, into the facts if it may count: [`FactWalk::visit`]'s
    /// rules once the record is read, and [`collect_facts_of`]'s for each record of its pass.
    fn take(&mut self, station: &Station, kind: RecordKind, rec: &Stored) -> Result<()> {
        let (start, end) = (self.start, self.end);
        let within = |t: i64| start <= t && t < end;
        if rec.created_ms >= end {
            return Ok(());
        }
        let mut touched_ms = vec![rec.created_ms];
        let (at_start, at_end) = match kind {
            RecordKind::Post | RecordKind::Complaint => {
                if rec.updated_ms < start && rec.created_ms < start {
                    return Ok(());
                }
                (view_at(station, rec, start)?, view_at(station, rec, end)?)
            }
            RecordKind::Placement => {
                if rec.created_ms < start {
                    return Ok(());
                }
                let at_end = view_at(station, rec, end)?;
                if let Some(worker) = at_end
                    .as_ref()
                    .and_then(|v| v.get("worker")?.as_str())
                    .and_then(report::short_of)
                {
                    self.named.insert(worker);
                }
                (None, at_end)
            }
            RecordKind::Employer if rec.created_ms >= start => (None, None),
            RecordKind::Worker => {
                touched_ms = touched(station, rec, start, end)?;
                let is_named = self.named.contains(&rec.short());
                if !is_named && !touched_ms.iter().any(|t| within(*t)) {
                    return Ok(());
                }
                let at_end = if is_named {
                    view_at(station, rec, end)?
                } else {
                    None
                };
                (None, at_end)
            }
            _ => return Ok(()),
        };
        self.facts.push(Fact {
            kind,
            id: rec.short(),
            region: rec.region,
            created_ms: rec.created_ms,
            touched_ms,
            at_start,
            at_end,
        });
        Ok(())
    }
}

/// The facts a report of `period` may count, over every record held (a report filters them by
/// region). Records that cannot count are left out early, most without being decoded in full:
/// each kind's rows are walked newest first from the period's end (the creation time is in
/// their keys, so records created after the period are not visited); placements and employers
/// made before the period end the walk (only those made in it count); posts and complaints
/// unchanged since before the period, and workers neither changed in it nor named by one of
/// its placements, are dropped after reading their first fields. A fact's views keep only the
/// fields a report reads, and a worker's fields are read only when a placement of the period
/// names it (the one use a report makes of them). The walk in one go ([`FactWalk`]).
pub fn collect_facts(station: &Station, period: &Period) -> Result<Vec<Fact>> {
    let mut walk = FactWalk::new(period);
    walk.step(station, None)?;
    Ok(walk.facts)
}

/// The facts of each of `periods`, from one pass over the records held, in key order (one
/// range scan, which reads each of sled's pages once, where [`collect_facts`] looks each record
/// up by id from its creation-order row, a walk from the tree's root and, on a store larger than
/// the cache, a page read and decompressed for nearly every record), each record decoded once
/// for all the periods: what `report verify` and `audit` recompute every seal held from. The
/// same rules as [`collect_facts`], record by record ([`FactWalk::take`]): records created
/// after a period, and placements and employers made before it, are left out of it; workers are
/// taken after every placement (a period's placements name the workers whose fields a report
/// reads). The same facts, in another order (a report does not depend on its facts' order;
/// `lingong_protocol::report`'s properties): the records of the five kinds, as the creation-order
/// rows name them, since the store writes a record and its rows in one batch. Worth it where
/// the periods' walks would read most records anyway (a month of a store of a few months, or
/// several periods); a single period of a long history is read more cheaply by
/// [`collect_facts`], which stops at the period's start for placements and employers.
pub fn collect_facts_of(station: &Station, periods: &[Period]) -> Result<Vec<Vec<Fact>>> {
    let mut walks: Vec<FactWalk> = periods.iter().map(FactWalk::new).collect();
    let Some(last_end) = walks.iter().map(|w| w.end).max() else {
        return Ok(Vec::new());
    };
    // The worker records, kept as read until every placement has been taken.
    let mut workers: Vec<Vec<u8>> = Vec::new();
    for row in station.store.record_rows() {
        let bytes = row?;
        let rec = Stored::decode(&bytes)?;
        if !WALKED.contains(&rec.kind) || rec.created_ms >= last_end {
            continue;
        }
        if rec.kind == RecordKind::Worker {
            workers.push(bytes.to_vec());
            continue;
        }
        for walk in &mut walks {
            walk.take(station, rec.kind, &rec)?;
        }
    }
    for bytes in &workers {
        let rec = Stored::decode(bytes)?;
        for walk in &mut walks {
            walk.take(station, RecordKind::Worker, &rec)?;
        }
    }
    Ok(walks.into_iter().map(|w| w.facts).collect())
}

/// The facts of `period` by the rules' definition, with no shortcut: every record of the five
/// kinds held read in full, each view as of the period's start and end rebuilt from all its
/// changes, every envelope's timestamp read. Slow (a rebuild of every document); what
/// [`collect_facts`] must give the same reports as (the oversight bench checks it on a year of
/// records).
pub fn collect_facts_in_full(station: &Station, period: &Period) -> Result<Vec<Fact>> {
    let (start, end) = (period.start_ms(), period.end_ms());
    let mut facts = Vec::new();
    for state in station.store.records_of(None)? {
        let kind = state.kind;
        if !matches!(
            kind,
            RecordKind::Worker
                | RecordKind::Employer
                | RecordKind::Post
                | RecordKind::Placement
                | RecordKind::Complaint
        ) {
            continue;
        }
        let mut changes: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut touched_ms = Vec::new();
        for id in &state.changes {
            if let Some(env) = station.store.envelope(id)? {
                touched_ms.push(env.header.timestamp_ms);
                if let Some(payload) = env.payload {
                    changes.push((env.header.timestamp_ms, payload));
                }
            }
        }
        let borrowed: Vec<(i64, &[u8])> = changes.iter().map(|(t, c)| (*t, c.as_slice())).collect();
        let held = state.doc.is_some();
        let at = |ms: i64| -> Result<Option<Map<String, Value>>> {
            if !held {
                return Ok(None);
            }
            Ok(report::view_as_of(&borrowed, ms)?)
        };
        facts.push(Fact {
            kind,
            id: state.id().short(),
            region: state.region,
            created_ms: state.created_ms,
            touched_ms,
            at_start: at(start)?,
            at_end: at(end)?,
        });
    }
    Ok(facts)
}

/// Every report seal held (of `period` when given), read back; seals that do not read are
/// left out.
pub fn seals(station: &Station, period: Option<&Period>) -> Result<Vec<HeldSeal>> {
    let mut out = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::ReportSeal, None), None)
    {
        let state = state?;
        let Ok(seal) = ReportSeal::from_view(&state.view) else {
            continue;
        };
        if period.is_some_and(|p| p.text != seal.period) {
            continue;
        }
        out.push(HeldSeal { state, seal });
    }
    Ok(out)
}

/// The seal in force per (region, period): the latest of each.
pub fn latest_seals(all: &[HeldSeal]) -> BTreeMap<(RegionCode, String), &HeldSeal> {
    let mut out: BTreeMap<(RegionCode, String), &HeldSeal> = BTreeMap::new();
    for s in all {
        let key = (s.state.region, s.seal.period.clone());
        let newer = out
            .get(&key)
            .is_none_or(|held| (s.state.created_ms, s.id()) > (held.state.created_ms, held.id()));
        if newer {
            out.insert(key, s);
        }
    }
    out
}

/// The priority placements the latest county seals of `period` state, per county.
pub fn county_priority(
    latest: &BTreeMap<(RegionCode, String), &HeldSeal>,
    period: &Period,
) -> BTreeMap<RegionCode, u64> {
    latest
        .iter()
        .filter(|((region, p), _)| {
            *p == period.text && region.level() == lingong_protocol::region::Level::County
        })
        .filter_map(|((region, _), s)| Some((*region, s.seal.figures.placements_priority?)))
        .collect()
}

/// The report of `region` for `period` from what is held here.
pub fn report_of(station: &Station, period: &Period, region: &RegionCode) -> Result<Report> {
    report_from(station, period, region, &collect_facts(station, period)?)
}

/// The report of `region` for `period` from the facts [`collect_facts`] gives (or a
/// [`FactWalk`] done over the same store), with the seals held.
pub fn report_from(
    station: &Station,
    period: &Period,
    region: &RegionCode,
    facts: &[Fact],
) -> Result<Report> {
    let all = seals(station, Some(period))?;
    let latest = latest_seals(&all);
    Ok(report::report(
        period,
        region,
        facts,
        &county_priority(&latest, period),
    ))
}

/// A certified station below this node that reports to it: no other certified station lies
/// between them.
#[derive(Clone, Debug)]
pub struct Below {
    pub key: PublicKey,
    pub region: RegionCode,
    pub name: String,
    /// Its certificate's first valid second (unix s).
    pub since_s: i64,
}

/// The stations strictly below this node known here (certificate records held), not revoked;
/// with `direct`, only those no other such station lies above.
pub fn stations_below(station: &Station, direct: bool) -> Result<Vec<Below>> {
    let mut all = Vec::new();
    for author in station.store.authors()? {
        let region = author.region();
        if !station.region.is_strict_ancestor_of(&region)
            || station.store.revocation(&author.key)?.is_some()
        {
            continue;
        }
        all.push(Below {
            key: author.key,
            region,
            name: author.name().to_string(),
            since_s: author.chain.leaf().body.not_before,
        });
    }
    if direct {
        let regions: Vec<RegionCode> = all.iter().map(|b| b.region).collect();
        all.retain(|b| !regions.iter().any(|r| r.is_strict_ancestor_of(&b.region)));
    }
    all.sort_by_key(|b| (b.region, b.key.0));
    Ok(all)
}

/// The result of checking the seals held: how many were checked, how many are superseded by a
/// later seal of their region and period, and every figure that differs.
pub struct SealCheck {
    pub checked: usize,
    pub superseded: usize,
    pub mismatches: Vec<Value>,
}

/// Recomputes every seal in force held here (of `period` when given) from the records held, and
/// lists each figure, count or fingerprint that differs:
/// `{"seal", "by", "region", "period", "field", "sealed", "recomputed"}`.
///
/// The facts of every period sealed come from one pass over the records ([`collect_facts_of`]),
/// sorted by region, so that each seal is recomputed from its own region's facts, a slice
/// ([`RegionFacts`]), instead of passing over every fact held once per seal (88 county seals
/// at a province).
pub fn check_seals(station: &Station, period: Option<&Period>) -> Result<SealCheck> {
    check_seals_with(station, period, true)
}

/// [`check_seals`], or with `one_pass` false as before 7 December's third session: the facts
/// collected by a walk of the creation-order rows per period ([`collect_facts`]) and each seal
/// recomputed over every fact of its period (`audit::Levers`, for the benches' baseline). The
/// same result either way.
pub fn check_seals_with(
    station: &Station,
    period: Option<&Period>,
    one_pass: bool,
) -> Result<SealCheck> {
    let all = seals(station, period)?;
    let latest = latest_seals(&all);
    let mut by_period: BTreeMap<String, Vec<&HeldSeal>> = BTreeMap::new();
    for s in latest.values() {
        by_period.entry(s.seal.period.clone()).or_default().push(s);
    }
    let periods = by_period
        .keys()
        .map(|text| Period::parse(text))
        .collect::<std::result::Result<Vec<Period>, _>>()?;
    let mut collected = if one_pass {
        collect_facts_of(station, &periods)?
    } else {
        Vec::new()
    }
    .into_iter();
    let mut mismatches = Vec::new();
    for ((text, seals), period) in by_period.into_iter().zip(&periods) {
        let facts = match collected.next() {
            Some(facts) => facts,
            None => collect_facts(station, period)?,
        };
        let (facts, by_region) = if one_pass {
            (Vec::new(), Some(RegionFacts::new(facts)))
        } else {
            (facts, None)
        };
        let priority = county_priority(&latest, period);
        for s in seals {
            let again = match &by_region {
                Some(by_region) => by_region.report(period, &s.state.region, &priority),
                None => report::report(period, &s.state.region, &facts, &priority),
            };
            let row = |field: &str, sealed: Value, recomputed: Value| {
                json!({
                    "seal": s.id(),
                    "by": s.author().node_id(),
                    "region": s.state.region.to_string(),
                    "period": text,
                    "field": field,
                    "sealed": sealed,
                    "recomputed": recomputed,
                })
            };
            for m in report::compare(&s.seal.figures, &again.figures) {
                mismatches.push(row(&m.field, m.sealed, m.recomputed));
            }
            if s.seal.commitment.records != again.commitment.records {
                mismatches.push(row(
                    "records",
                    json!(s.seal.commitment.records),
                    json!(again.commitment.records),
                ));
            }
            if s.seal.commitment.fingerprint != again.commitment.fingerprint {
                mismatches.push(row(
                    "fingerprint",
                    json!(s.seal.commitment.fingerprint),
                    json!(again.commitment.fingerprint),
                ));
            }
        }
    }
    Ok(SealCheck {
        checked: latest.len(),
        superseded: all.len() - latest.len(),
        mismatches,
    })
}

/// A period's facts sorted by region, for the reports of many regions: the facts of a region
/// and everything below it lie side by side in that order (a [`RegionCode`] orders as its digit
/// string), so each report reads its own region's slice, not every fact.
pub struct RegionFacts {
    facts: Vec<Fact>,
    /// Where each worker's fact lies in `facts` (a region's placements may name a worker
    /// registered elsewhere, whose fact the report looks up).
    workers: std::collections::HashMap<[u8; 16], usize>,
}

impl RegionFacts {
    pub fn new(mut facts: Vec<Fact>) -> RegionFacts {
        facts.sort_by_key(|f| f.region);
        let workers = facts
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind == RecordKind::Worker)
            .map(|(i, f)| (f.id, i))
            .collect();
        RegionFacts { facts, workers }
    }

    /// The facts of `region` and below: a slice of the sorted facts.
    fn within(&self, region: &RegionCode) -> std::ops::Range<usize> {
        let from = self.facts.partition_point(|f| f.region < *region);
        let to = from
            + self.facts[from..]
                .partition_point(|f| f.region == *region || region.contains(&f.region));
        from..to
    }

    /// `report::report(period, region, all the facts, county_priority)`, from `region`'s slice
    /// and the facts of the workers its placements name that are registered outside it (which
    /// the report looks up and does not count), which are rare.
    pub fn report(
        &self,
        period: &Period,
        region: &RegionCode,
        county_priority: &BTreeMap<RegionCode, u64>,
    ) -> Report {
        let range = self.within(region);
        let own = &self.facts[range.clone()];
        let outside: Vec<usize> = own
            .iter()
            .filter(|f| f.kind == RecordKind::Placement)
            .filter_map(|f| f.at_end.as_ref()?.get("worker")?.as_str())
            .filter_map(report::short_of)
            .filter_map(|w| self.workers.get(&w).copied())
            .filter(|i| !range.contains(i))
            .collect::<std::collections::BTreeSet<usize>>()
            .into_iter()
            .collect();
        if outside.is_empty() {
            return report::report(period, region, own, county_priority);
        }
        // The region's facts and those workers', by reference (not copied).
        let facts: Vec<&Fact> = own
            .iter()
            .chain(outside.into_iter().map(|i| &self.facts[i]))
            .collect();
        report::report(period, region, &facts, county_priority)
    }
}

/// The figures a report shows, in the CSV's order, with their labels (`(field, 中文, English)`):
/// the console's report page and the readable `report` output.
pub const FIGURE_LABELS: [(&str, &str, &str); 12] = [
    ("job_seekers", "求职登记人数", "Job seekers"),
    ("job_seekers_new", "其中新登记", "of which new"),
    ("employers", "用工主体数", "Employers"),
    ("employers_new", "其中新登记", "of which new"),
    ("posts", "发布岗位数", "Posts published"),
    ("headcount", "岗位招聘人数", "Places offered"),
    ("placements", "实现上岗人数", "Placements"),
    (
        "placements_priority",
        "其中重点帮扶对象",
        "of which priority workers",
    ),
    (
        "avg_daily_wage",
        "平均日工资（元）",
        "Average daily wage (yuan)",
    ),
    ("complaints", "受理投诉数", "Complaints"),
    ("complaints_resolved", "办结投诉数", "Complaints resolved"),
    (
        "arrears_recovered",
        "追回欠薪（元）",
        "Arrears recovered (yuan)",
    ),
];

/// A figure as shown to a person: amounts with two decimals, a figure that cannot be computed
/// (an average over nothing) as 无法计算 / n/a.
pub fn figure_text(v: &Value, en: bool) -> String {
    match v {
        Value::Null => if en { "n/a" } else { "无法计算" }.to_string(),
        Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

/// The figures as a JSON object.
pub fn figures_json(f: &Figures) -> Map<String, Value> {
    f.fields()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report of each region from its slice of the facts sorted by region
    /// ([`RegionFacts::report`]) is the report over every fact: facts in two cities, their
    /// counties, townships and villages, and at the cities' own level, with placements naming
    /// workers registered in their own county, in another county, in another city, and nowhere
    /// held; reports of the province, each city, each county, a township and a county holding
    /// nothing.
    #[test]
    fn a_region_reported_from_its_slice_is_reported_as_from_every_fact() {
        let period = Period::parse("2026-11").unwrap();
        let t = period.start_ms() + 86_400_000;
        let code = |s: &str| RegionCode::parse(s).unwrap();
        let places = [
            "520102001001",
            "520102001",
            "520102",
            "520103002003",
            "520103",
            "5201",
            "520302001001",
            "520302",
            "5203",
        ];
        let view = |pairs: &[(&str, Value)]| -> Option<Map<String, Value>> {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        let mut facts = Vec::new();
        let mut workers: Vec<[u8; 16]> = Vec::new();
        for (i, place) in places.iter().enumerate() {
            let mut worker = [0u8; 16];
            worker[0] = i as u8;
            workers.push(worker);
            let flags = if i % 2 == 0 {
                json!(["残疾人"])
            } else {
                json!([])
            };
            facts.push(Fact {
                kind: RecordKind::Worker,
                id: worker,
                region: code(place),
                created_ms: t,
                touched_ms: vec![t],
                at_start: None,
                at_end: view(&[("flags", flags)]),
            });
            let mut post = [1u8; 16];
            post[0] = i as u8;
            facts.push(Fact {
                kind: RecordKind::Post,
                id: post,
                region: code(place),
                created_ms: t,
                touched_ms: vec![t],
                at_start: None,
                at_end: view(&[
                    ("review", json!("approved")),
                    ("headcount", json!(i + 1)),
                    ("wage", json!(150 + i)),
                    ("unit", json!("day")),
                ]),
            });
        }
        // Placements at each place: of its own worker, of the next place's (another county or
        // city at some), of the place three on, and of a worker held nowhere.
        let mut serial = 0u8;
        for (i, place) in places.iter().enumerate() {
            let mut nowhere = [9u8; 16];
            nowhere[0] = i as u8;
            for worker in [
                workers[i],
                workers[(i + 1) % places.len()],
                workers[(i + 3) % places.len()],
                nowhere,
            ] {
                serial += 1;
                let mut id = [2u8; 16];
                id[0] = serial;
                facts.push(Fact {
                    kind: RecordKind::Placement,
                    id,
                    region: code(place),
                    created_ms: t,
                    touched_ms: vec![t],
                    at_start: None,
                    at_end: view(&[("worker", json!(hex::encode(worker)))]),
                });
            }
        }
        let by_region = RegionFacts::new(facts.clone());
        let mut priority = BTreeMap::new();
        priority.insert(code("520102"), 3);
        let mut regions: Vec<RegionCode> = places.iter().map(|p| code(p)).collect();
        regions.extend([code("52"), code("520111"), code("520102002")]);
        for region in regions {
            let whole = report::report(&period, &region, &facts, &priority);
            assert_eq!(
                by_region.report(&period, &region, &priority),
                whole,
                "{region}"
            );
        }
        // Not vacuous: the province counts every placement, and a county's placements name
        // workers registered outside it, whose priority flags change its figures (its own
        // facts alone leave them unknown).
        let all = report::report(&period, &code("52"), &facts, &priority);
        assert_eq!(all.figures.placements, 4 * places.len() as u64);
        let county = code("520302");
        let own: Vec<Fact> = facts
            .iter()
            .filter(|f| county.contains(&f.region))
            .cloned()
            .collect();
        assert_ne!(
            report::report(&period, &county, &own, &priority),
            by_region.report(&period, &county, &priority)
        );
    }

    /// One pass over the records for several periods ([`collect_facts_of`]) gives each period
    /// the facts its walk ([`collect_facts`]) gives, in whatever order: a village holding
    /// sample posts, some approved, for this month, this quarter and last month.
    #[test]
    fn one_pass_for_several_periods_gives_each_the_facts_of_its_walk() {
        use lingong_protocol::dates;
        let dir = tempfile::tempdir().unwrap();
        let region = RegionCode::parse("522622101001").unwrap();
        let (key, chain) = lingong_protocol::fixture::Hierarchy::new(7).node(&region);
        let home = crate::home::Home::new(Some(dir.path().join("v")));
        crate::station::init(&home, "测试村", "522622101001", Vec::new(), None).unwrap();
        crate::home::write_atomically(&home.key_path(), &key.seed()).unwrap();
        let mut station = Station::open(&home).unwrap();
        crate::services::certs::install(&mut station, &chain.to_json()).unwrap();
        crate::demo::sample_posts(&mut station, 30).unwrap();
        let queue = crate::services::review::queue(&station, Some(30), None).unwrap();
        for row in queue.as_array().unwrap().iter().step_by(2) {
            crate::services::review::decide(&mut station, row["id"].as_str().unwrap(), true, None)
                .unwrap();
        }
        let today = dates::today_cst(crate::station::now_ms());
        let month = Period::month_of(today);
        let periods = vec![
            month.clone(),
            Period::quarter_of(today),
            Period::month_of(month.first_day - 1),
        ];
        let sorted = |mut facts: Vec<Fact>| {
            facts.sort_by_key(|f| (f.kind as u8, f.id));
            facts
        };
        let together = collect_facts_of(&station, &periods).unwrap();
        assert_eq!(together.len(), periods.len());
        for (period, facts) in periods.iter().zip(together) {
            let walked = collect_facts(&station, period).unwrap();
            assert_eq!(sorted(facts), sorted(walked.clone()), "{}", period.text);
        }
        // Not vacuous: this month's walk finds the posts.
        let this_month = collect_facts(&station, &periods[0]).unwrap();
        assert!(
            this_month
                .iter()
                .filter(|f| f.kind == RecordKind::Post)
                .count()
                >= 30,
            "{}",
            this_month.len()
        );
    }

    /// A record as the store writes it, read back by [`Stored`]: every field it decodes
    /// agrees with the store's own decoding, with and without a document.
    #[test]
    fn the_borrowed_decode_reads_a_stored_record_as_the_store_does() {
        let mut view = Map::new();
        view.insert("review".into(), json!("approved"));
        view.insert("title".into(), json!("搬运工 \"急招\""));
        view.insert("headcount".into(), json!(3));
        for doc in [Some(vec![0x85, 0x6f, 0x4a, 0x83, 0, 255, 7]), None] {
            let state = RecordState {
                kind: RecordKind::Post,
                creator: PublicKey([7; 32]),
                serial: 300,
                region: RegionCode::parse("522622101001").unwrap(),
                reach: RegionCode::parse("522622").unwrap(),
                created_ms: 1_764_000_000_000,
                updated_ms: 1_764_100_000_000,
                changes: vec![[1; 32], [2; 32]],
                doc: doc.clone(),
                waiting: doc.is_none(),
                view: view.clone(),
            };
            let bytes = postcard::to_allocvec(&state).unwrap();
            let rec = Stored::decode(&bytes).unwrap();
            assert_eq!(rec.kind, state.kind);
            assert_eq!(rec.short(), state.id().short());
            assert_eq!((rec.region, rec.reach), (state.region, state.reach));
            assert_eq!(
                (rec.created_ms, rec.updated_ms),
                (state.created_ms, state.updated_ms)
            );
            assert_eq!(rec.changes, state.changes);
            assert_eq!(rec.doc.map(<[u8]>::to_vec), state.doc);
            assert_eq!(rec.waiting, state.waiting);
            assert_eq!(
                serde_json::from_str::<Map<String, Value>>(rec.view).unwrap(),
                state.view
            );
        }
    }

    /// The fields a report reads, parsed with the others skipped ([`fields_of`]), are those of
    /// the whole view parsed and then filtered: nested values, escaped keys and strings, a
    /// repeated key (the last kept), a field read whose name is escaped in the text; and what
    /// the whole parse refuses is refused (not an object, bad JSON inside a skipped field,
    /// text after the object).
    #[test]
    fn a_view_parsed_for_the_fields_read_is_the_whole_view_filtered() {
        let read = report::fields_read(RecordKind::Post);
        let whole = |text: &str| -> Option<Map<String, Value>> {
            let mut view = serde_json::from_str::<Map<String, Value>>(text).ok()?;
            view.retain(|k, _| read.contains(&k.as_str()));
            Some(view)
        };
        for text in [
            r#"{"review":"approved","headcount":3,"title":"搬运工 \"急招\"","wage":{"amount":180},"unit":"day"}"#,
            r#"{"tags":[1,[2,{"review":"no"}]],"employer":"00ff","rev\u0069ew":"approved","wage":150.5}"#,
            r#"{"headcount":1,"headcount":4,"x":null,"unit":"hour"}"#,
            r#"{}"#,
            r#" { "unit" : "month" } "#,
        ] {
            let fast = fields_of(text, read).unwrap();
            assert_eq!(Some(fast.clone()), whole(text), "{text}");
            assert!(fast.keys().all(|k| read.contains(&k.as_str())), "{text}");
        }
        assert_eq!(
            fields_of(r#"{"headcount":1,"headcount":4}"#, read).unwrap()["headcount"],
            4
        );
        for bad in [
            r#"[1,2]"#,
            r#"{"title":[1,}"#,
            r#"{"title":"a"} x"#,
            r#"{"review":"approved""#,
            "",
        ] {
            assert!(whole(bad).is_none(), "{bad}");
            assert!(fields_of(bad, read).is_err(), "{bad}");
        }
    }
}
