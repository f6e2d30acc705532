//! The assistance ledger (困难帮扶台账): what this station did for a worker, and which workers
//! with priority are behind their yearly targets.
//!
//! - `assist log --worker W --kind K [--note T] [--post P] [--result R]`: one assistance record
//!   (kind 9, [`Assistance`]) signed by this station; a post and a result only with
//!   `job-recommendation`.
//! - `assist list [--worker W] [--kind K]`: the records held here, newest first.
//! - `assist due [--worker W]`: active workers with priority (older, disabled, long-wait: the
//!   flags as `worker list` shows them, `long-wait` derived) who are behind a yearly target,
//!   most overdue first (the largest total shortfall, then the higher priority, then the
//!   longest registered). The targets come from `assist_targets` in config.toml over the
//!   defaults of the "1311" service ([`DEFAULT_TARGETS`]). Done this year (China time) counts
//!   the assistance records held here that name the worker, from any station; job
//!   recommendations count once per post, and a placement of the worker (not cancelled)
//!   counts as a recommendation of its post.

use super::{page_limit, priority_flags, required, typed};
use crate::error::{NodeError, Result};
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::assistance::{DEFAULT_TARGETS, shortfalls, year_cst};
use lingong_protocol::schema::worker::priority_of;
use lingong_protocol::schema::{
    AssistKind, Assistance, Choice, Placement, PlacementStatus, PushResult, Schema, Worker,
    WorkerStatus,
};
use lingong_protocol::store::RecordState;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// `assist log` as typed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AssistFields {
    pub worker: Option<String>,
    pub kind: Option<String>,
    pub note: Option<String>,
    pub post: Option<String>,
    pub result: Option<String>,
}

/// The yearly targets in force: the "1311" defaults, with the kinds configured in
/// `assist_targets` replaced (checked when the node opened).
pub fn targets(station: &Station) -> Result<BTreeMap<AssistKind, u32>> {
    let mut t: BTreeMap<AssistKind, u32> = DEFAULT_TARGETS.into_iter().collect();
    for (kind, n) in &station.config.assist_targets {
        t.insert(AssistKind::parse("assist_targets", kind)?, *n);
    }
    Ok(t)
}

/// `assist log`.
pub fn log(station: &mut Station, f: AssistFields) -> Result<Value> {
    let now = now_ms();
    let kind = AssistKind::parse("kind", &required("kind", f.kind)?)?;
    let result = f
        .result
        .as_deref()
        .map(|r| PushResult::parse("result", r))
        .transpose()?;
    let worker_state = station.resolve(RecordKind::Worker, &required("worker", f.worker)?)?;
    let worker: Worker = typed(&worker_state)?;
    if worker.status != WorkerStatus::Active {
        return Err(NodeError::usage(
            "worker",
            "this worker is deregistered",
            "该劳动者已注销",
        ));
    }
    let post = match f.post {
        Some(p) if kind == AssistKind::JobRecommendation => {
            Some(station.resolve(RecordKind::Post, &p)?.id().to_hex())
        }
        other => other,
    };
    let a = Assistance {
        worker: worker_state.id().to_hex(),
        kind,
        post,
        result,
        note: f.note.map(|n| n.trim().to_string()),
        at: dates::rfc3339(now),
        station: station.key.public().node_id(),
        region: station.region,
    };
    a.validate()?;
    let edits = a.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::Assistance,
                reach: None,
            },
            &edits,
            now,
        )?)
    })?;
    Ok(json!({
        "id": env.header.record.to_hex(),
        "worker_id": a.worker,
        "kind": a.kind.as_str(),
    }))
}

/// The assistance records naming a worker, as held here.
fn records_of(station: &Station, worker_id: &str) -> Result<Vec<(RecordState, Assistance)>> {
    let prefix = index::prefix(
        RecordKind::Assistance,
        Some((Field::Worker, worker_id, true)),
    );
    let mut out = Vec::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        if let Ok(a) = Assistance::from_view(&state.view) {
            out.push((state, a));
        }
    }
    Ok(out)
}

fn row(state: &RecordState, a: &Assistance, name: Option<&str>) -> Value {
    json!({
        "id": state.id().to_hex(),
        "worker_id": a.worker,
        "worker_name": name,
        "kind": a.kind.as_str(),
        "kind_zh": a.kind.as_zh(),
        "post_id": a.post,
        "result": a.result.map(|r| r.as_str()),
        "note": a.note,
        "at": a.at,
        "station": a.station,
        "region": state.region.to_string(),
    })
}

/// `assist list [--worker W] [--kind K] [--limit N]`: newest first.
pub fn list(
    station: &Station,
    worker: Option<&str>,
    kind: Option<&str>,
    limit: Option<usize>,
) -> Result<Value> {
    let limit = page_limit(limit)?;
    let kind = kind.map(|k| AssistKind::parse("kind", k)).transpose()?;
    let prefix = match worker {
        Some(w) => {
            let id = station.resolve(RecordKind::Worker, w)?.id().to_hex();
            index::prefix(RecordKind::Assistance, Some((Field::Worker, &id, true)))
        }
        None => index::prefix(RecordKind::Assistance, None),
    };
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut rows = Vec::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        let Ok(a) = Assistance::from_view(&state.view) else {
            continue;
        };
        if kind.is_some_and(|k| k != a.kind) {
            continue;
        }
        let name = names
            .entry(a.worker.clone())
            .or_insert_with(|| {
                station
                    .resolve(RecordKind::Worker, &a.worker)
                    .ok()
                    .and_then(|s| Worker::from_view(&s.view).ok())
                    .map(|w| w.name)
            })
            .clone();
        rows.push(row(&state, &a, name.as_deref()));
        if rows.len() >= limit {
            break;
        }
    }
    Ok(Value::Array(rows))
}

/// What was done for a worker in `year`, per kind: job recommendations once per post (a
/// placement of the worker counting as a recommendation of its post), the other kinds once per
/// record.
fn done_in(station: &Station, state: &RecordState, year: i64) -> Result<BTreeMap<AssistKind, u32>> {
    let wid = state.id().to_hex();
    let mut done: BTreeMap<AssistKind, u32> = BTreeMap::new();
    let mut posts: BTreeSet<String> = BTreeSet::new();
    let in_year = |at: &str| dates::parse_rfc3339(at).is_some_and(|ms| year_cst(ms) == year);
    for (rec, a) in records_of(station, &wid)? {
        let at = dates::parse_rfc3339(&a.at).unwrap_or(rec.created_ms);
        if year_cst(at) != year {
            continue;
        }
        match (&a.kind, &a.post) {
            (AssistKind::JobRecommendation, Some(p)) => {
                posts.insert(p.clone());
            }
            (kind, _) => *done.entry(*kind).or_default() += 1,
        }
    }
    let prefix = index::prefix(RecordKind::Placement, Some((Field::Worker, &wid, true)));
    for p in station.store.list(prefix, None) {
        let p = p?;
        if let Ok(placement) = Placement::from_view(&p.view)
            && placement.status != PlacementStatus::Cancelled
            && (in_year(&placement.created_at)
                || (placement.created_at.is_empty() && year_cst(p.created_ms) == year))
        {
            posts.insert(placement.post);
        }
    }
    *done.entry(AssistKind::JobRecommendation).or_default() += posts.len() as u32;
    Ok(done)
}

/// The `assist due` row of one priority worker.
fn due_row(
    station: &Station,
    state: &RecordState,
    worker: &Worker,
    flags: &[lingong_protocol::schema::Flag],
    targets: &BTreeMap<AssistKind, u32>,
    year: i64,
) -> Result<(u32, Value)> {
    let done = done_in(station, state, year)?;
    let short = shortfalls(targets, &done);
    let total: u32 = short.iter().map(|s| s.short).sum();
    let missing: Vec<String> = short
        .iter()
        .filter(|s| s.short > 0)
        .map(|s| format!("{}×{}", s.kind.as_zh(), s.short))
        .collect();
    let row = json!({
        "worker_id": state.id().to_hex(),
        "name": worker.name,
        "phone": worker.phone,
        "behind": total,
        "missing": missing.join("、"),
        "priority": priority_of(flags),
        "flags": flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "priority_reasons": flags.iter().map(|f| f.as_zh()).collect::<Vec<_>>(),
        "year": year,
        "kinds": short.iter().map(|s| json!({
            "kind": s.kind.as_str(),
            "kind_zh": s.kind.as_zh(),
            "target": s.target,
            "done": s.done,
            "short": s.short,
        })).collect::<Vec<_>>(),
        "registered_at": dates::rfc3339(state.created_ms),
    });
    Ok((total, row))
}

/// `assist due [--worker W]`: priority workers behind their yearly targets, most overdue first;
/// with `--worker`, that worker's row (refused for a worker without priority).
pub fn due(station: &Station, worker: Option<&str>) -> Result<Value> {
    let targets = targets(station)?;
    let year = year_cst(now_ms());
    if let Some(w) = worker {
        let state = station.resolve(RecordKind::Worker, w)?;
        let worker: Worker = typed(&state)?;
        let flags = priority_flags(station, &state, &worker)?;
        if flags.is_empty() || worker.status != WorkerStatus::Active {
            return Err(NodeError::usage(
                "worker",
                "not an active worker with priority (older, disabled or long-wait): yearly assistance targets apply to priority workers only",
                "不是在册的优先帮扶对象（大龄、残疾或长期失业）：年度帮扶目标只适用于优先帮扶对象",
            ));
        }
        let (_, row) = due_row(station, &state, &worker, &flags, &targets, year)?;
        return Ok(Value::Array(vec![row]));
    }
    let mut rows = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Worker, None), None)
    {
        let state = state?;
        if state.doc.is_none() {
            continue;
        }
        let Ok(worker) = Worker::from_view(&state.view) else {
            continue;
        };
        if worker.status != WorkerStatus::Active {
            continue;
        }
        let flags = priority_flags(station, &state, &worker)?;
        if flags.is_empty() {
            continue;
        }
        let (total, row) = due_row(station, &state, &worker, &flags, &targets, year)?;
        if total > 0 {
            rows.push((total, priority_of(&flags), state.created_ms, row));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    Ok(Value::Array(rows.into_iter().map(|r| r.3).collect()))
}
