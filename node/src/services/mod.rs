//! The station's services: one file per service, each a set of free functions over
//! [`crate::station::Station`] that [`crate::request::dispatch`] calls.
//!
//! Services do not import each other; what several need (reading arguments, paging, the date
//! today) lives here. Every write goes through [`Station::write`] (one signed change, accepted
//! by the one accept path, committed atomically), so a refused request changes nothing.
//!
//! - [`certs`]: certificate requests, issuing, installing, revoking;
//! - [`posts`]: job posts, their rows with fill derived from placements, export;
//! - [`review`]: the authenticity review queue and decisions;
//! - [`employers`]: employers (用工主体);
//! - [`matching`]: posts for a worker and workers for a post, priority first;
//! - [`workers`]: flexible workers: register, update, deregister, lists by priority;
//! - [`placements`]: placements confirmed on the spot, cancellations, ends, agreements;
//! - [`push`]: push lists (精准推送): the workers to contact for newly approved posts, the
//!   results marked, messages sent through a configured command;
//! - [`assistance`]: the assistance ledger (困难帮扶台账) and who is behind the yearly targets;
//! - [`complaints`]: complaints filed, their status steps, deadlines and history;
//! - [`directory`]: this station's directory entry and the directory it holds;
//! - [`status`]: what the node holds (from the counters) and open forks;
//! - [`doctor`]: what `lingong doctor` reads of the store (own changes not yet sent up, the
//!   newest change held from each peer, a revoked or forked key);
//! - [`reports`]: service reports (成效表): figures, seals, verification of seals;
//! - [`supervision`]: stations that need attention, rectification orders (限期整改);
//! - [`audit`]: every signature, chain, log and seal held, checked;
//! - [`peers`]: peers to dial;
//! - [`sync_state`]: this node's own changes signed since an instant (what may wait to go up);
//! - [`staff`]: local staff accounts and API tokens (never replicated);
//! - [`bundle`]: USB bundles;
//! - [`csv`]: spreadsheet files: imports of posts, workers and employers (all rows or none),
//!   CSV exports. The one service that builds on others (their `prepare` and `list`); none
//!   imports it.
//!
//! [`Station::write`]: crate::station::Station::write

pub mod assistance;
pub mod audit;
pub mod bundle;
pub mod certs;
pub mod complaints;
pub mod csv;
pub mod directory;
pub mod doctor;
pub mod employers;
pub mod matching;
pub mod peers;
pub mod placements;
pub mod posts;
pub mod push;
pub mod reports;
pub mod review;
pub mod staff;
pub mod status;
pub mod supervision;
pub mod sync_state;
pub mod workers;

use crate::error::{NodeError, Result};
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::RegionCode;
use lingong_protocol::schema::placement::{Fill, fill};
use lingong_protocol::schema::{Choice, Placement, PlacementStatus, Post, Schema};
use lingong_protocol::store::RecordState;

/// The error for a field that must be given. The message names the field only through the
/// error's `field` (shown before it: `kind: must be given`), so it reads right under a command
/// line flag and next to a web form's field alike.
pub fn missing(field: &str) -> NodeError {
    NodeError::usage(field, "must be given", "必须填写")
}

/// `value`, or the error naming the missing flag.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| missing(field))
}

/// A division code typed by the user, checked against the bundled table.
pub fn region_arg(field: &str, value: &str) -> Result<RegionCode> {
    RegionCode::parse_known(value)
        .map_err(|e| NodeError::usage(field, e.to_string(), e.message_zh()))
}

/// Today in China time, as days since the epoch.
pub fn today() -> i64 {
    dates::today_cst(now_ms())
}

/// The largest `--limit` a list takes.
pub const MAX_LIMIT: usize = 1_000_000;

/// A list's page size: `--limit N`, or everything that matches when it is not given (the
/// contract: `post list` without `--limit` lists every matching post; scripts rely on it).
pub fn page_limit(limit: Option<usize>) -> Result<usize> {
    match limit {
        None => Ok(usize::MAX),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(NodeError::usage(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
            format!("必须在 1 到 {MAX_LIMIT} 之间"),
        )),
    }
}

/// The cursor record of `--after ID`.
pub fn cursor(
    station: &Station,
    kind: RecordKind,
    after: Option<&str>,
) -> Result<Option<RecordState>> {
    after.map(|id| station.resolve(kind, id)).transpose()
}

/// Reads a document record of a typed schema, naming the record when it cannot.
pub fn typed<T: lingong_protocol::schema::Schema>(state: &RecordState) -> Result<T> {
    if state.doc.is_none() {
        return Err(NodeError::usage(
            "id",
            "this node holds only the record's signed header, not its contents",
            "本节点只保存了该记录的签名头，没有内容",
        ));
    }
    Ok(T::from_view(&state.view)?)
}

/// The placements naming a post, as held here.
pub fn placements_of(
    station: &Station,
    post: &RecordState,
) -> Result<Vec<(RecordState, Placement)>> {
    let prefix = index::prefix(
        RecordKind::Placement,
        Some((Field::Post, &post.id().to_hex(), true)),
    );
    let mut out = Vec::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        if let Ok(p) = Placement::from_view(&state.view) {
            out.push((state, p));
        }
    }
    Ok(out)
}

/// A post's fill, from the placements naming it.
pub fn fill_of(station: &Station, state: &RecordState, post: &Post) -> Result<Fill> {
    Ok(fill(
        post.headcount,
        placements_of(station, state)?.iter().map(|(_, p)| p.status),
    ))
}

/// The complaints naming an employer, as this station knows them: those it holds (read from the
/// complaint index by employer: their current status), then those it does not hold but whose
/// mark the employer's record carries (status as last marked by a station that may edit the
/// employer: `lingong_protocol::schema::complaint::Mark`). Newest first.
pub fn complaints_of_employer(
    station: &Station,
    employer: &RecordState,
) -> Result<Vec<serde_json::Value>> {
    use lingong_protocol::schema::complaint::{self, Complaint};
    use serde_json::json;
    let id = employer.id().to_hex();
    let prefix = index::prefix(RecordKind::Complaint, Some((Field::Employer, &id, true)));
    let mut rows = Vec::new();
    let mut held = std::collections::HashSet::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        let Ok(c) = Complaint::from_view(&state.view) else {
            continue;
        };
        held.insert(state.id().to_hex());
        rows.push(json!({
            "id": state.id().to_hex(),
            "kind": c.kind.as_str(),
            "status": c.status.as_str(),
            "amount": c.amount,
            "recovered": c.recovered,
            "filed_at": c.created_at,
            "held_here": true,
        }));
    }
    for (cid, mark) in complaint::marks_in(&employer.view) {
        if !held.contains(&cid) {
            rows.push(json!({
                "id": cid,
                "kind": mark.kind.as_str(),
                "status": mark.status.as_str(),
                "amount": mark.amount,
                "recovered": mark.recovered,
                "filed_at": mark.filed_at,
                "held_here": false,
            }));
        }
    }
    rows.sort_by(|a, b| b["filed_at"].as_str().cmp(&a["filed_at"].as_str()));
    Ok(rows)
}

/// The automatic review findings of a post (discriminatory phrases, a wage under the minimum
/// wage in force, a missing contact), each with its rule, phrase and message in both languages.
pub fn findings(post: &Post) -> Vec<lingong_protocol::review::Finding> {
    lingong_protocol::review::check_post(
        &lingong_protocol::review::PostCheck {
            title: &post.title,
            description: post.description.as_deref().unwrap_or_default(),
            contact: post.contact.as_deref().unwrap_or_default(),
            occupation: &post.occupation,
            wage: post.wage,
            unit: post.unit.as_str(),
            region: post.region,
        },
        lingong_protocol::min_wage::MinimumWages::bundled(),
    )
}

/// Signs the edits that turn `before` into `after` on the record `state` (only the fields that
/// differ); refuses an edit that changes nothing, naming no single field.
pub fn write_edits<T: Schema>(
    station: &mut Station,
    state: &RecordState,
    before: &T,
    after: &T,
    now: i64,
) -> Result<serde_json::Value> {
    let edits = after.edits_since(before);
    if edits.is_empty() {
        return Err(NodeError::usage(
            "fields",
            "give at least one field to change",
            "请至少指定一个要修改的字段",
        ));
    }
    let rid = state.id();
    station.write(|author, staged| {
        Ok(author.write(
            staged,
            lingong_protocol::author::Target::Edit(rid),
            &edits,
            now,
        )?)
    })?;
    Ok(serde_json::json!({ "id": rid.to_hex() }))
}

/// A worker's priority flags (困难帮扶) with `long-wait` derived as `worker list` derives it:
/// registered and active [`workers::LONG_WAIT_DAYS`] days or more with no live placement.
/// `worker list` shows these; the push lists and the assistance ledger select and rank by
/// them.
pub fn priority_flags(
    station: &Station,
    state: &RecordState,
    worker: &lingong_protocol::schema::Worker,
) -> Result<Vec<lingong_protocol::schema::Flag>> {
    use lingong_protocol::schema::{Flag, WorkerStatus};
    let mut flags = worker.flags.clone();
    let waited = (now_ms() - state.created_ms) / 86_400_000;
    if !flags.contains(&Flag::LongWait)
        && worker.status == WorkerStatus::Active
        && waited >= workers::LONG_WAIT_DAYS
    {
        let prefix = index::prefix(
            RecordKind::Placement,
            Some((Field::Worker, &state.id().to_hex(), true)),
        );
        let mut placed = false;
        for p in station.store.list(prefix, None) {
            if Placement::from_view(&p?.view).is_ok_and(|p| p.status != PlacementStatus::Cancelled)
            {
                placed = true;
                break;
            }
        }
        if !placed {
            flags.push(Flag::LongWait);
        }
    }
    Ok(flags)
}
