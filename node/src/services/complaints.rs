//! Complaints (投诉/维权): a worker's complaint filed at a station, routed up the line to the
//! county's labour inspection (every ancestor of the filing station holds it: `Scope::wants`),
//! updated step by step (received → accepted → handling → (referred) → resolved → closed), each
//! step one signed change that flows back down to the filing station.
//!
//! - `file`: the post, employer and worker named must be held here (a post's employer is taken
//!   from the post); the worker is named only by the worker record's id.
//! - `update`: only the filing station or a station above it (what the accept path allows); the
//!   pure rules of `lingong_protocol::schema::complaint` refuse a skipped step, a step back, and
//!   fields that do not belong to the step. A fraud or discrimination complaint resolved with
//!   the finding `upheld` at a county or above may close the post (`--close-post`) and suspend
//!   the employer (`--suspend-employer`) in the same atomic batch; both must be held here and
//!   editable by this station.
//! - Each write that this station may also make on the employer record it names carries the
//!   complaint's [`Mark`] there (kind, status, amounts; no text, no worker), so every station
//!   holding the employer shows the complaint ([`super::complaints_of_employer`]).
//! - `list`/`show` add the acknowledgement deadline (`due`: `complaint_ack_days` working days,
//!   Monday to Friday, after the filing day in China time, from this node's configuration) and
//!   `overdue` (still `received` after it); `show` adds the status history read from the
//!   record's signed changes.

use super::{required, today, typed};
use crate::error::{NodeError, Result};
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::{FieldValue, RecordId, RecordKind};
use lingong_protocol::schema::complaint::{
    self, Complaint, ComplaintKind, ComplaintStatus, Finding, Mark, StepFields,
};
use lingong_protocol::schema::{
    Choice, Employer, EmployerStatus, Post, PostStatus, Schema, paragraph,
};
use lingong_protocol::store::{RecordState, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `complaint file` as typed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ComplaintFields {
    /// wage-arrears, discrimination, fraud, unsafe-work or other.
    pub kind: Option<String>,
    pub post: Option<String>,
    pub employer: Option<String>,
    pub worker: Option<String>,
    pub text: Option<String>,
    pub amount: Option<f64>,
}

/// `complaint update ID` as typed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ComplaintUpdate {
    pub status: Option<String>,
    pub note: Option<String>,
    pub referred_to: Option<String>,
    pub recovered: Option<f64>,
    /// upheld, partly-upheld or not-upheld (with `--status resolved`).
    pub finding: Option<String>,
    #[serde(default)]
    pub close_post: bool,
    #[serde(default)]
    pub suspend_employer: bool,
}

/// True when this station may sign an edit of the record: its creator, a station whose
/// region strictly contains the record's, or the creator's certified successor (the rules the
/// accept path applies: `accept::succeeds`).
fn may_edit(station: &Station, state: &RecordState) -> bool {
    let me = station.key.public();
    state.creator == me
        || station.region.is_strict_ancestor_of(&state.region)
        || matches!(station.store.author(&me), Ok(Some(info))
            if lingong_protocol::accept::succeeds(&station.store, &info, &state.creator, &state.region)
                .unwrap_or(false))
}

/// Resolves a record a flag names, with errors naming that flag.
fn named(
    station: &Station,
    kind: RecordKind,
    field: &'static str,
    id: &str,
) -> Result<RecordState> {
    station.resolve(kind, id).map_err(|e| match e {
        NodeError::NotFound { .. } => NodeError::usage(
            field,
            format!("no {} with id {id} is held at this station", kind.as_str()),
            format!("本站没有编号为 {id} 的{}", kind_zh(kind)),
        ),
        NodeError::Ambiguous { .. } => NodeError::usage(
            field,
            format!("{id} matches several records; type more of the id"),
            format!("编号 {id} 对应多条记录，请输入更长的编号"),
        ),
        NodeError::Usage { rule, rule_zh, .. } => NodeError::usage(field, rule, rule_zh),
        other => other,
    })
}

fn kind_zh(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Post => "岗位",
        RecordKind::Employer => "用工主体",
        RecordKind::Worker => "劳动者",
        RecordKind::Complaint => "投诉",
        _ => "记录",
    }
}

/// The complaint named by `id`, refused with the rule when this station does not hold it.
fn held(station: &Station, id: &str) -> Result<RecordState> {
    station.resolve(RecordKind::Complaint, id).map_err(|e| match e {
        NodeError::NotFound { .. } => NodeError::usage(
            "id",
            format!(
                "no complaint with id {id} is held here: a complaint is held, and may be updated, \
                 only by the station where it was filed and the stations above it"
            ),
            format!("本站没有编号为 {id} 的投诉：投诉只由受理站点及其上级站点保存和处理"),
        ),
        other => other,
    })
}

/// `complaint file`.
pub fn file(station: &mut Station, f: ComplaintFields) -> Result<Value> {
    let now = now_ms();
    let kind = ComplaintKind::parse("kind", &required("kind", f.kind)?)?;
    let text = paragraph("text", &required("text", f.text)?, 1, 2000)?;
    let mut employer = f
        .employer
        .as_deref()
        .map(|e| named(station, RecordKind::Employer, "employer", e))
        .transpose()?;
    let post = f
        .post
        .as_deref()
        .map(|p| named(station, RecordKind::Post, "post", p))
        .transpose()?;
    if let Some(post_state) = &post {
        let p: Post = typed(post_state)?;
        if let Some(of_post) = &p.employer {
            match &employer {
                Some(e) if e.id().to_hex() != *of_post => {
                    return Err(NodeError::usage(
                        "employer",
                        format!("the post names another employer ({of_post})"),
                        format!("该岗位属于另一用工主体（{of_post}）"),
                    ));
                }
                Some(_) => {}
                None => {
                    employer = Some(named(station, RecordKind::Employer, "post", of_post)?);
                }
            }
        }
    }
    let worker = f
        .worker
        .as_deref()
        .map(|w| named(station, RecordKind::Worker, "worker", w))
        .transpose()?;
    let c = Complaint {
        kind,
        post: post.as_ref().map(|s| s.id().to_hex()),
        employer: employer.as_ref().map(|s| s.id().to_hex()),
        worker: worker.as_ref().map(|s| s.id().to_hex()),
        text,
        amount: f
            .amount
            .map(|a| lingong_protocol::schema::money("amount", a, false, complaint::MAX_AMOUNT))
            .transpose()?,
        status: ComplaintStatus::Received,
        note: String::new(),
        referred_to: None,
        finding: None,
        recovered: None,
        region: station.region,
        created_at: dates::rfc3339(now),
    };
    c.validate()?;
    let edits = c.edits();
    let employer_state = employer.filter(|e| may_edit(station, e) && e.doc.is_some());
    let id = station.write(|author, staged| {
        let env = author.write(
            staged,
            Target::Create {
                kind: RecordKind::Complaint,
                reach: None,
            },
            &edits,
            now,
        )?;
        let id = env.header.record.to_hex();
        if let Some(e) = &employer_state {
            let mark = vec![(
                complaint::mark_key(&id),
                FieldValue::Text(Mark::of(&c).to_text()),
            )];
            write_owned(author, staged, e.id(), mark, now)?;
        }
        Ok(id)
    })?;
    Ok(json!({ "id": id }))
}

/// Writes edits whose field names are owned strings (an employer's complaint marks).
fn write_owned(
    author: &lingong_protocol::author::LocalAuthor<'_>,
    staged: &mut lingong_protocol::store::Staged<'_, crate::store::SledStore>,
    record: RecordId,
    edits: Vec<(String, FieldValue)>,
    now: i64,
) -> Result<()> {
    let edits: Vec<(&str, FieldValue)> =
        edits.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    author.write(staged, Target::Edit(record), &edits, now)?;
    Ok(())
}

/// `complaint update ID --status S …`.
pub fn update(station: &mut Station, id: &str, u: ComplaintUpdate) -> Result<Value> {
    let now = now_ms();
    let state = held(station, id)?;
    if !may_edit(station, &state) {
        return Err(NodeError::usage(
            "id",
            format!(
                "only the station where the complaint was filed ({}) or a station above it may \
                 update it; this station ({}) is neither",
                state.region, station.region
            ),
            format!(
                "只有受理该投诉的站点（{}）或其上级站点可以处理；本站（{}）不是",
                state.region, station.region
            ),
        ));
    }
    let before: Complaint = typed(&state)?;
    let to = ComplaintStatus::parse("status", &required("status", u.status)?)?;
    let finding = u
        .finding
        .as_deref()
        .map(|f| Finding::parse("finding", f))
        .transpose()?;
    let after = before.step(
        to,
        StepFields {
            note: u.note,
            referred_to: u.referred_to,
            finding,
            recovered: u.recovered,
        },
    )?;
    let complaint_id = state.id().to_hex();
    let level = station.region.level();

    // The post to close, if asked: named by the complaint, held and editable here.
    let mut post_edit = None;
    if u.close_post {
        after.check_enforcement("close_post", level)?;
        let pid = after.post.as_deref().ok_or_else(|| {
            NodeError::usage(
                "close_post",
                "the complaint names no post",
                "该投诉没有指明岗位",
            )
        })?;
        let post_state = named(station, RecordKind::Post, "close_post", pid)?;
        editable(station, &post_state, "close_post")?;
        let p: Post = typed(&post_state)?;
        let mut closed = p.clone();
        closed.status = PostStatus::Closed;
        let edits = closed.edits_since(&p);
        if !edits.is_empty() {
            post_edit = Some((post_state.id(), edits));
        }
    }

    // The employer: suspended if asked, and its mark brought up to date where this station may.
    let mut employer_edit: Option<(RecordId, Vec<(String, FieldValue)>)> = None;
    if u.suspend_employer {
        after.check_enforcement("suspend_employer", level)?;
        if after.employer.is_none() {
            return Err(NodeError::usage(
                "suspend_employer",
                "the complaint names no employer",
                "该投诉没有指明用工主体",
            ));
        }
    }
    if let Some(eid) = after.employer.as_deref() {
        let found = named(station, RecordKind::Employer, "suspend_employer", eid);
        let e_state = match found {
            Ok(s) => Some(s),
            Err(e) if u.suspend_employer => return Err(e),
            Err(_) => None,
        };
        if let Some(e_state) = e_state.filter(|s| s.doc.is_some()) {
            let mut edits: Vec<(String, FieldValue)> = Vec::new();
            if u.suspend_employer {
                editable(station, &e_state, "suspend_employer")?;
                let e: Employer = typed(&e_state)?;
                if e.status != EmployerStatus::Suspended {
                    let mut s = e.clone();
                    s.status = EmployerStatus::Suspended;
                    let finding_zh = Finding::Upheld.as_zh();
                    s.suspend_reason = Some(format!(
                        "投诉 {complaint_id} 经查{finding_zh}（{}）{}",
                        after.kind.as_zh(),
                        if after.note.is_empty() {
                            String::new()
                        } else {
                            format!("：{}", after.note)
                        }
                    ));
                    s.validate()?;
                    edits.extend(
                        s.edits_since(&e)
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v)),
                    );
                }
            }
            if may_edit(station, &e_state) {
                let key = complaint::mark_key(&complaint_id);
                let text = Mark::of(&after).to_text();
                if e_state.view.get(&key).and_then(|v| v.as_str()) != Some(text.as_str()) {
                    edits.push((key, FieldValue::Text(text)));
                }
            }
            if !edits.is_empty() {
                employer_edit = Some((e_state.id(), edits));
            }
        }
    }

    let edits = after.edits_since(&before);
    let rid = state.id();
    let post_closed = post_edit.is_some();
    let suspended = u.suspend_employer
        && employer_edit
            .as_ref()
            .is_some_and(|(_, e)| e.iter().any(|(k, _)| k == "status"));
    station.write(|author, staged| {
        author.write(staged, Target::Edit(rid), &edits, now)?;
        if let Some((pid, edits)) = &post_edit {
            author.write(staged, Target::Edit(*pid), edits, now)?;
        }
        if let Some((eid, edits)) = employer_edit {
            write_owned(author, staged, eid, edits, now)?;
        }
        Ok(())
    })?;
    Ok(json!({
        "id": complaint_id,
        "status": after.status.as_str(),
        "post_closed": post_closed,
        "employer_suspended": suspended,
    }))
}

/// Refuses to act on a record this station may not edit, naming the flag and who may.
fn editable(station: &Station, state: &RecordState, field: &'static str) -> Result<()> {
    if may_edit(station, state) {
        return Ok(());
    }
    Err(NodeError::usage(
        field,
        format!(
            "the {} was recorded by a station of {}, which this station ({}) is not above: ask \
             that station or one above it",
            state.kind.as_str(),
            state.region,
            station.region
        ),
        format!(
            "该{}由 {} 的站点登记，本站（{}）不是其上级：请由该站点或其上级处理",
            kind_zh(state.kind),
            state.region,
            station.region
        ),
    ))
}

/// The acknowledgement deadline of a complaint, from this node's configuration.
fn due_day(station: &Station, state: &RecordState) -> i64 {
    complaint::ack_due(
        complaint::filed_day(state.created_ms),
        station.config.complaint_ack_days,
    )
}

fn row(station: &Station, state: &RecordState, c: &Complaint, today: i64) -> Value {
    let due = due_day(station, state);
    json!({
        "id": state.id().to_hex(),
        "kind": c.kind.as_str(),
        "status": c.status.as_str(),
        "region": state.region.to_string(),
        "post_id": c.post,
        "employer_id": c.employer,
        "worker_id": c.worker,
        "amount": c.amount,
        "recovered": c.recovered,
        "filed_at": dates::rfc3339(state.created_ms),
        "due": dates::format_date(due),
        "overdue": complaint::is_overdue(c.status, due, today),
    })
}

/// `complaint list [--status S] [--overdue]`: newest first.
pub fn list(station: &Station, status: Option<&str>, overdue: bool) -> Result<Value> {
    let status = status
        .map(|s| ComplaintStatus::parse("status", s))
        .transpose()?;
    let by = match (status, overdue) {
        (Some(s), _) => Some((Field::Status, s.as_str(), true)),
        (None, true) => Some((Field::Status, ComplaintStatus::Received.as_str(), true)),
        (None, false) => None,
    };
    let today = today();
    let mut rows = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Complaint, by), None)
    {
        let state = state?;
        let Ok(c) = Complaint::from_view(&state.view) else {
            continue;
        };
        let row = row(station, &state, &c, today);
        if status.is_none_or(|s| s == c.status) && (!overdue || row["overdue"] == true) {
            rows.push(row);
        }
    }
    Ok(Value::Array(rows))
}

/// `complaint show ID`: the complaint and its status history.
pub fn show(station: &Station, id: &str) -> Result<Value> {
    let state = held(station, id)?;
    let c: Complaint = typed(&state)?;
    let mut out = row(station, &state, &c, today());
    for (k, v) in [
        ("text", json!(c.text)),
        ("note", json!(c.note)),
        ("referred_to", json!(c.referred_to)),
        ("finding", json!(c.finding.map(|f| f.as_str()))),
        ("author", json!(state.creator.node_id())),
    ] {
        out[k] = v;
    }
    let mut changes = Vec::new();
    for env_id in &state.changes {
        if let Some(env) = station.store.envelope(env_id)?
            && let Some(payload) = env.payload
        {
            changes.push((env.header.author, env.header.timestamp_ms, payload));
        }
    }
    let mut history = Vec::new();
    for step in complaint::history(&changes)? {
        let who = station.store.author(&step.by)?;
        let mut h = json!({
            "status": step.status.as_str(),
            "by": step.by.node_id(),
            "by_name": who.as_ref().map(|a| a.name().to_string()),
            "by_region": who.as_ref().map(|a| a.region().to_string()),
            "at": dates::rfc3339(step.at_ms),
            "note": step.note,
        });
        if let Some(r) = step.referred_to {
            h["referred_to"] = json!(r);
        }
        if let Some(f) = step.finding {
            h["finding"] = json!(f.as_str());
        }
        if let Some(r) = step.recovered {
            h["recovered"] = json!(r);
        }
        history.push(h);
    }
    out["history"] = Value::Array(history);
    Ok(out)
}
