//! Flexible workers (灵活就业人员): register (登记), update, deregister (注销), list (priority
//! first), show.
//!
//! The clear ID number is checked, hashed with the node's ID-hash key (`crate::id_secret`) and
//! kept only in this station's private table; the record carries the mask and the hash.
//! Registering the same person twice at a station is refused (by the hash, or by the private
//! table for registrations hashed under an earlier key). A worker who has waited long is also
//! flagged by derivation: registered and available `long_wait_days` (configuration, default
//! 30) with no live placement.
//!
//! `worker erase` (PIPL 删除): only the registering station (or its certified successor) erases
//! a worker: one signed change blanks the personal fields and sets the final `erased` marker
//! (`lingong_protocol::schema::worker`), then the clear ID number and its de-duplication rows
//! leave the private table. No service edits an erased record afterwards, here or at any
//! station that has received the erasure (SECURITY.md §7). The accept path then drops the
//! bodies of the record's other changes, here and wherever the erasure arrives, keeping their
//! signed headers (`lingong_protocol::accept`, PROTOCOL.md §8).

use super::{required, typed, write_edits};
use crate::error::{NodeError, Result};
use crate::index;
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::id_number;
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::worker::{
    erased_at, erasure_edits, parse_flags, parse_skills, priority_of,
};
use lingong_protocol::schema::{Choice, Schema, Worker, WorkerStatus};
use lingong_protocol::store::{RecordState, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A registration or update as typed. Its `Debug` (and so any `{:?}` of a request) shows the
/// ID number masked, never in clear.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WorkerFields {
    pub name: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub skills: Option<String>,
    pub wage_min: Option<f64>,
    pub flags: Option<String>,
    #[serde(default)]
    pub available_from: Option<String>,
    #[serde(default)]
    pub available_to: Option<String>,
}

impl std::fmt::Debug for WorkerFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerFields")
            .field("name", &self.name)
            .field(
                "id_number",
                &self.id_number.as_deref().map(id_number::mask_id_number),
            )
            .field("phone", &self.phone)
            .field("skills", &self.skills)
            .field("wage_min", &self.wage_min)
            .field("flags", &self.flags)
            .finish()
    }
}

/// Days a registered, available worker without a placement waits before counting as
/// long-waiting (困难帮扶: 长期失业).
pub const LONG_WAIT_DAYS: i64 = 30;

/// A registration checked and ready to sign: the record, and what goes into this station's
/// private table once it is stored.
pub struct NewWorker {
    pub worker: Worker,
    /// The clear ID number (never leaves this station).
    pub clear_id: String,
    pub id_hash: [u8; 32],
}

/// `worker register`.
pub fn register(station: &mut Station, f: WorkerFields) -> Result<Value> {
    let now = now_ms();
    let new = prepare(station, f, now)?;
    let edits = new.worker.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::Worker,
                reach: None,
            },
            &edits,
            now,
        )?)
    })?;
    let rid = env.header.record;
    station
        .store
        .put_private_id(&rid, &new.clear_id, &new.id_hash)?;
    Ok(json!({ "id": rid.to_hex() }))
}

/// A registration from the fields as typed, with every rule `worker register` applies checked
/// (the ID number, the person not registered here yet, the schema's field rules); nothing is
/// written. `worker import` prepares every row with it before it writes any.
pub fn prepare(station: &Station, f: WorkerFields, now: i64) -> Result<NewWorker> {
    let given_id = required("id-number", f.id_number.clone())?;
    id_number::check_id_number(&given_id, now)?;
    let clear = id_number::normalize_id_number(&given_id);
    // The duplicate check looks up the hash, then the clear numbers of the private table
    // (registrations hashed under an earlier key or version); both stay on this node.
    let id_hash = station.id_key.hash(&clear)?;
    let existing = match station.store.worker_by_id_hash(&id_hash)? {
        Some(found) => Some(found),
        None => station.store.worker_by_id_number(&clear)?,
    };
    if let Some(existing) = existing {
        return Err(NodeError::usage(
            "id_number",
            format!(
                "this person is already registered here as worker {}",
                hex::encode(existing)
            ),
            format!("此人已在本站登记，劳动者编号 {}", hex::encode(existing)),
        ));
    }
    let worker = Worker {
        name: required("name", f.name)?.trim().to_string(),
        id_masked: id_number::mask_id_number(&clear),
        id_hash: id_number::id_hash_field(&id_hash),
        phone: required("phone", f.phone)?.trim().to_string(),
        skills: f
            .skills
            .as_deref()
            .map(parse_skills)
            .transpose()?
            .unwrap_or_default(),
        wage_min: f
            .wage_min
            .map(|w| lingong_protocol::schema::money("wage_min", w, true, 100_000.0))
            .transpose()?,
        flags: f
            .flags
            .as_deref()
            .map(parse_flags)
            .transpose()?
            .unwrap_or_default(),
        available_from: f.available_from,
        available_to: f.available_to,
        status: WorkerStatus::Active,
        region: station.region,
        created_at: dates::rfc3339(now),
    };
    worker.validate()?;
    Ok(NewWorker {
        worker,
        clear_id: clear,
        id_hash,
    })
}

/// `worker update ID …`: name, phone, skills, wage expectation, flags, availability (the ID
/// number cannot change: deregister and register again).
pub fn update(station: &mut Station, id: &str, f: WorkerFields) -> Result<Value> {
    let now = now_ms();
    if f.id_number.is_some() {
        return Err(NodeError::usage(
            "id_number",
            "cannot change; deregister the worker and register again",
            "不能修改；请注销后重新登记",
        ));
    }
    let state = station.resolve(RecordKind::Worker, id)?;
    refuse_erased(&state)?;
    let before: Worker = typed(&state)?;
    let mut worker = before.clone();
    if let Some(n) = f.name {
        worker.name = n.trim().to_string();
    }
    if let Some(p) = f.phone {
        worker.phone = p.trim().to_string();
    }
    if let Some(s) = &f.skills {
        worker.skills = parse_skills(s)?;
    }
    if let Some(w) = f.wage_min {
        worker.wage_min = Some(lingong_protocol::schema::money(
            "wage_min", w, true, 100_000.0,
        )?);
    }
    if let Some(fl) = &f.flags {
        worker.flags = parse_flags(fl)?;
    }
    if f.available_from.is_some() {
        worker.available_from = f.available_from;
    }
    if f.available_to.is_some() {
        worker.available_to = f.available_to;
    }
    worker.validate()?;
    write_edits(station, &state, &before, &worker, now)
}

/// `worker deregister ID` (注销): the record stays, marked deregistered; it is no longer matched.
pub fn deregister(station: &mut Station, id: &str) -> Result<Value> {
    let now = now_ms();
    let state = station.resolve(RecordKind::Worker, id)?;
    refuse_erased(&state)?;
    let before: Worker = typed(&state)?;
    if before.status == WorkerStatus::Deregistered {
        return Err(NodeError::usage(
            "id",
            "this worker is already deregistered",
            "该劳动者已经注销",
        ));
    }
    let mut worker = before.clone();
    worker.status = WorkerStatus::Deregistered;
    write_edits(station, &state, &before, &worker, now)?;
    Ok(json!({ "id": state.id().to_hex(), "status": worker.status.as_str() }))
}

/// The refusal of any edit of an erased worker record (the erasure is final).
fn refuse_erased(state: &RecordState) -> Result<()> {
    match erased_at(&state.view) {
        None => Ok(()),
        Some(at) => Err(NodeError::usage(
            "id",
            format!(
                "this worker's personal data was erased at {at} (PIPL); the record can no longer be edited"
            ),
            format!("该劳动者的个人信息已于 {at} 依法删除，记录不能再修改"),
        )),
    }
}

/// True when this station registered the record, or is the certified successor of the station
/// that did (`accept::succeeds`, the rule the accept path applies to edits).
fn registered_here(station: &Station, state: &RecordState) -> bool {
    let me = station.key.public();
    state.creator == me
        || matches!(station.store.author(&me), Ok(Some(info))
            if lingong_protocol::accept::succeeds(&station.store, &info, &state.creator, &state.region)
                .unwrap_or(false))
}

/// `worker erase ID --reason T` (PIPL 删除): at the registering station, one signed change
/// blanks the worker's personal fields and sets the final `erased` marker; then the clear ID
/// number and its de-duplication rows leave the private table. Refused (exit 2, nothing
/// changed) without a reason, for an unknown id, at a station that did not register the
/// worker, and for a record already erased (a clear number left behind by an interrupted
/// erasure is dropped then).
pub fn erase(station: &mut Station, id: &str, reason: Option<String>) -> Result<Value> {
    let now = now_ms();
    let reason = required("reason", reason)?;
    let reason = lingong_protocol::schema::worker::erase_reason(&reason)?;
    let state = station.resolve(RecordKind::Worker, id)?;
    if !registered_here(station, &state) {
        return Err(NodeError::usage(
            "id",
            "only the station that registered this worker can erase the record; ask it (the worker's personal data stays with it)",
            "只有登记该劳动者的服务站才能删除其个人信息，请联系该站",
        ));
    }
    if state.doc.is_none() {
        return Err(NodeError::usage(
            "id",
            "this node holds only the record's signed header, not its contents",
            "本节点只保存了该记录的签名头，没有内容",
        ));
    }
    if erased_at(&state.view).is_some() {
        if station.store.remove_private_id(&state.id())? {
            return Ok(json!({ "id": state.id().to_hex(), "erased": true }));
        }
        refuse_erased(&state)?;
    }
    let edits = erasure_edits(&state.view, &dates::rfc3339(now), &reason);
    let rid = state.id();
    station.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
    station.store.remove_private_id(&rid)?;
    Ok(json!({ "id": rid.to_hex(), "erased": true }))
}

/// The `worker list` row (never a clear ID number).
fn row(station: &Station, state: &RecordState, worker: &Worker) -> Result<Value> {
    let flags = super::priority_flags(station, state, worker)?;
    Ok(json!({
        "id": state.id().to_hex(),
        "name": worker.name,
        "skills": worker.skills,
        "region": state.region.to_string(),
        "priority": priority_of(&flags),
        "priority_reasons": flags.iter().map(|f| f.as_zh()).collect::<Vec<_>>(),
        "flags": flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "id_masked": worker.id_masked,
        "phone": worker.phone,
        "wage_min": worker.wage_min,
        "available_from": worker.available_from,
        "available_to": worker.available_to,
        "status": worker.status.as_str(),
        "created_at": dates::rfc3339(state.created_ms),
        "erased": erased_at(&state.view).is_some(),
    }))
}

/// `worker list [--priority]`: registered workers held here (full records only), priority
/// first, then longest registered; with `--priority`, only workers with a priority.
pub fn list(station: &Station, only_priority: bool) -> Result<Value> {
    let mut rows = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Worker, None), None)
    {
        let state = state?;
        let Ok(worker) = Worker::from_view(&state.view) else {
            continue;
        };
        if worker.status != WorkerStatus::Active {
            continue;
        }
        let row = row(station, &state, &worker)?;
        if !only_priority || row["priority"].as_i64() > Some(0) {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| {
        b["priority"]
            .as_i64()
            .cmp(&a["priority"].as_i64())
            .then(a["created_at"].as_str().cmp(&b["created_at"].as_str()))
    });
    Ok(Value::Array(rows))
}

/// `worker show ID`.
pub fn show(station: &Station, id: &str) -> Result<Value> {
    let state = station.resolve(RecordKind::Worker, id)?;
    let worker: Worker = typed(&state)?;
    row(station, &state, &worker)
}
