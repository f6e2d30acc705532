//! What the oversight services read from the store: the facts a service report counts, the
//! report seals held, the stations below a node, and the check of a seal against the records
//! held (`report verify`, and the `seal-mismatch` problems of `audit`).
//!
//! The arithmetic is `lingong_protocol::report` (pure); this module only reads: a record's
//! fields as of an instant come from its current view when no change is dated after that
//! instant, and otherwise from its changes dated before it, rebuilt
//! ([`lingong_protocol::report::view_as_of`]). Used by `services::reports`, `services::supervision`
//! and `services::audit`, which do not import each other.

use crate::error::Result;
use crate::index;
use crate::station::Station;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::RegionCode;
use lingong_protocol::report::{self, Fact, Figures, Period, Report};
use lingong_protocol::schema::{ReportSeal, Schema};
use lingong_protocol::store::{RecordState, Store};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

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

/// The timestamps of a record's envelopes held.
/// Only whether one falls in `[start, end)` matters to a report: when the record's first and
/// last changes settle it, the envelopes are not read.
fn touched(station: &Station, state: &RecordState, start: i64, end: i64) -> Result<Vec<i64>> {
    if state.updated_ms < start || state.created_ms >= start {
        return Ok(vec![state.created_ms, state.updated_ms]);
    }
    if state.updated_ms < end {
        return Ok(vec![state.updated_ms]);
    }
    let mut out = Vec::with_capacity(state.changes.len());
    for id in &state.changes {
        if let Some(env) = station.store.envelope(id)? {
            out.push(env.header.timestamp_ms);
        }
    }
    Ok(out)
}

/// A record's fields as of `at_ms` (`None`: not created yet, or only headers held here).
fn view_at(
    station: &Station,
    state: &RecordState,
    at_ms: i64,
) -> Result<Option<Map<String, Value>>> {
    if state.created_ms >= at_ms || state.doc.is_none() {
        return Ok(None);
    }
    if state.updated_ms < at_ms {
        return Ok(Some(state.view.clone()));
    }
    let mut changes: Vec<(i64, Vec<u8>)> = Vec::new();
    for id in &state.changes {
        if let Some(env) = station.store.envelope(id)?
            && let Some(payload) = env.payload
        {
            changes.push((env.header.timestamp_ms, payload));
        }
    }
    let borrowed: Vec<(i64, &[u8])> = changes.iter().map(|(t, c)| (*t, c.as_slice())).collect();
    Ok(report::view_as_of(&borrowed, at_ms)?)
}

/// The facts a report of `period` may count, over every record held (a report filters them by
/// region). Records that cannot count are left out early: anything created after the period,
/// posts and complaints unchanged since before it, placements made outside it.
pub fn collect_facts(station: &Station, period: &Period) -> Result<Vec<Fact>> {
    let (start, end) = (period.start_ms(), period.end_ms());
    let mut facts = Vec::new();
    for kind in [
        RecordKind::Worker,
        RecordKind::Employer,
        RecordKind::Post,
        RecordKind::Placement,
        RecordKind::Complaint,
    ] {
        // Newest first (the kind's rows are in creation order): placements made before the
        // period end the walk, as they cannot count.
        for state in station.store.list(index::prefix(kind, None), None) {
            let state = state?;
            if state.created_ms >= end {
                continue;
            }
            if kind == RecordKind::Placement && state.created_ms < start {
                break;
            }
            let keep = match kind {
                RecordKind::Post | RecordKind::Complaint => {
                    state.updated_ms >= start || state.created_ms >= start
                }
                RecordKind::Placement => state.created_ms >= start,
                _ => true,
            };
            if !keep {
                continue;
            }
            let (at_start, at_end) = match kind {
                RecordKind::Post | RecordKind::Complaint => (
                    view_at(station, &state, start)?,
                    view_at(station, &state, end)?,
                ),
                RecordKind::Worker | RecordKind::Placement => {
                    (None, view_at(station, &state, end)?)
                }
                _ => (None, None),
            };
            facts.push(Fact {
                kind,
                id: state.id().short(),
                region: state.region,
                created_ms: state.created_ms,
                touched_ms: if kind == RecordKind::Worker {
                    touched(station, &state, start, end)?
                } else {
                    vec![state.created_ms]
                },
                at_start,
                at_end,
            });
        }
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
    let facts = collect_facts(station, period)?;
    let all = seals(station, Some(period))?;
    let latest = latest_seals(&all);
    Ok(report::report(
        period,
        region,
        &facts,
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
pub fn check_seals(station: &Station, period: Option<&Period>) -> Result<SealCheck> {
    let all = seals(station, period)?;
    let latest = latest_seals(&all);
    let mut by_period: BTreeMap<String, Vec<&HeldSeal>> = BTreeMap::new();
    for s in latest.values() {
        by_period.entry(s.seal.period.clone()).or_default().push(s);
    }
    let mut mismatches = Vec::new();
    for (text, seals) in by_period {
        let period = Period::parse(&text)?;
        let facts = collect_facts(station, &period)?;
        let priority = county_priority(&latest, &period);
        for s in seals {
            let again = report::report(&period, &s.state.region, &facts, &priority);
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
