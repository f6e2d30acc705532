//! Job posts: create, update, list (from the indexes, paged), show (with review findings,
//! placements, a re-verification of every signature and the history), export.
//!
//! Every post starts `pending` review ([`super::review`]); a post naming an employer needs that
//! employer to be held here and not suspended. A post's `filled` is derived from the
//! placements naming it ([`fill_of`]), so two stations placing on the last place at once are
//! both kept and the post shows `overfilled`.

use super::{
    cursor, fill_of, findings, page_limit, placements_of, region_arg, required, today, typed,
};
use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::occupation::occupations;
use lingong_protocol::record::{self, RecordKind};
use lingong_protocol::schema::{
    Choice, EmployerStatus, Post, PostStatus, ReviewState, Schema, WageUnit,
};
use lingong_protocol::store::{RecordState, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Post fields as typed; `None` means "not given" (keep the current value on update).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PostFields {
    pub title: Option<String>,
    pub occupation: Option<String>,
    pub wage: Option<f64>,
    pub unit: Option<String>,
    pub headcount: Option<i64>,
    #[serde(default)]
    pub employer: Option<String>,
    pub reach: Option<String>,
    pub expires: Option<String>,
    pub location: Option<String>,
    pub contact: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

/// The filters and page of `post list`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PostFilter {
    pub region: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub review: Option<String>,
    pub occupation: Option<String>,
    #[serde(default)]
    pub employer: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub after: Option<String>,
}

/// Resolves an occupation code or everyday word to its code.
fn occupation_code(value: &str) -> Result<String> {
    Ok(occupations()
        .resolve(value)
        .map_err(lingong_protocol::Error::from)?
        .code
        .to_string())
}

/// The employer a post names, checked: held here, and not suspended.
fn checked_employer(station: &Station, id: &str) -> Result<String> {
    let state = station.resolve(RecordKind::Employer, id)?;
    let employer: lingong_protocol::schema::Employer = typed(&state)?;
    if employer.status == EmployerStatus::Suspended {
        let reason = employer.suspend_reason.unwrap_or_default();
        return Err(NodeError::usage(
            "employer",
            format!("the employer {} is suspended ({reason})", employer.name),
            format!("用工主体 {} 已被暂停（{reason}）", employer.name),
        ));
    }
    Ok(state.id().to_hex())
}

fn check_not_past(field: &'static str, date: &str, now: i64) -> Result<String> {
    let day = dates::parse_date(field, date)?;
    if day < dates::today_cst(now) {
        return Err(NodeError::usage(
            field,
            "must not be in the past",
            "不能早于今天",
        ));
    }
    Ok(dates::format_date(day))
}

/// `post create`.
pub fn create(station: &mut Station, f: PostFields) -> Result<Value> {
    let now = now_ms();
    let post = prepare(station, f, now)?;
    let reach = post.reach;
    let edits = post.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::Post,
                reach: Some(reach),
            },
            &edits,
            now,
        )?)
    })?;
    Ok(json!({ "id": env.header.record.to_hex() }))
}

/// A new post from the fields as typed, with every rule `post create` applies checked (the
/// employer held here and not suspended, the reach, the expiry, the schema's field rules);
/// nothing is written. `post import` prepares every row with it before it writes any.
pub fn prepare(station: &Station, f: PostFields, now: i64) -> Result<Post> {
    let unit = WageUnit::parse("unit", &required("unit", f.unit)?)?;
    let reach = match &f.reach {
        Some(r) => region_arg("reach", r)?,
        None => station.region,
    };
    let employer = f
        .employer
        .as_deref()
        .map(|e| checked_employer(station, e))
        .transpose()?;
    let post = Post {
        title: required("title", f.title)?,
        occupation: occupation_code(&required("occupation", f.occupation)?)?,
        wage: lingong_protocol::schema::money(
            "wage",
            required("wage", f.wage)?,
            false,
            unit.max_wage(),
        )?,
        unit,
        headcount: required("headcount", f.headcount)?,
        employer,
        status: PostStatus::Open,
        review: ReviewState::Pending,
        review_reason: None,
        reviewed_by: None,
        reviewed_at: None,
        region: station.region,
        reach,
        location: f.location.map(|s| s.trim().to_string()),
        contact: f.contact.map(|s| s.trim().to_string()),
        description: f.description.map(|s| s.trim().to_string()),
        expires: Some(match &f.expires {
            Some(e) => check_not_past("expires", e, now)?,
            None => dates::format_date(dates::today_cst(now) + 30),
        }),
        created_at: dates::rfc3339(now),
    };
    post.validate()?;
    Ok(post)
}

/// `post update`: changes the given fields; only what differs is written.
pub fn update(station: &mut Station, id: &str, f: PostFields) -> Result<Value> {
    let now = now_ms();
    let state = station.resolve(RecordKind::Post, id)?;
    let before: Post = typed(&state)?;
    let mut post = before.clone();
    if let Some(t) = f.title {
        post.title = t;
    }
    if let Some(o) = f.occupation {
        post.occupation = occupation_code(&o)?;
    }
    if let Some(u) = &f.unit {
        post.unit = WageUnit::parse("unit", u)?;
    }
    if let Some(w) = f.wage {
        post.wage = lingong_protocol::schema::money("wage", w, false, post.unit.max_wage())?;
    }
    if let Some(h) = f.headcount {
        post.headcount = h;
    }
    if let Some(s) = &f.status {
        post.status = PostStatus::parse("status", s)?;
    }
    if let Some(e) = &f.employer {
        post.employer = Some(checked_employer(station, e)?);
    }
    if let Some(e) = &f.expires {
        post.expires = Some(check_not_past("expires", e, now)?);
    }
    for (value, field) in [
        (f.location, &mut post.location),
        (f.contact, &mut post.contact),
        (f.description, &mut post.description),
    ] {
        if let Some(v) = value {
            *field = Some(v.trim().to_string());
        }
    }
    if f.reach.is_some() {
        return Err(NodeError::usage(
            "reach",
            "cannot change after the post is published; close it and post again",
            "发布后不能修改范围；请关闭后重新发布",
        ));
    }
    post.validate()?;
    // A change of what the review checked (the text, the work, the pay, the places, the
    // employer, the contact) sends an approved or rejected post back to review: an approval
    // covers what was approved, not what it was edited into. Status and expiry do not.
    if before.review != ReviewState::Pending && reviewed_content_changed(&before, &post) {
        post.review = ReviewState::Pending;
        post.review_reason = None;
    }
    let edits = post.edits_since(&before);
    if edits.is_empty() {
        return Err(NodeError::usage(
            "fields",
            "give at least one field to change",
            "请至少指定一个要修改的字段",
        ));
    }
    let rid = state.id();
    station.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
    Ok(json!({ "id": rid.to_hex() }))
}

/// The `post list` row of a post.
pub fn row(station: &Station, state: &RecordState, post: &Post, today: i64) -> Result<Value> {
    let f = fill_of(station, state, post)?;
    Ok(json!({
        "id": state.id().to_hex(),
        "title": post.title,
        "occupation": post.occupation,
        "wage": post.wage,
        "unit": post.unit.as_str(),
        "headcount": post.headcount,
        "filled": f.filled,
        "overfilled": f.overfilled(),
        "status": post.shown_status(today, f.filled),
        "review": post.review.as_str(),
        "region": state.region.to_string(),
        "reach": state.reach.to_string(),
        "employer": post.employer,
        "author": state.creator.node_id(),
        "created_at": dates::rfc3339(state.created_ms),
        "expires": post.expires,
        "location": post.location,
        "contact": post.contact,
    }))
}

/// `post list`: matching posts from the indexes, newest first within an index value, at most
/// `limit` rows after the cursor.
pub fn list(station: &Station, filter: &PostFilter) -> Result<Value> {
    let limit = page_limit(filter.limit)?;
    let region = filter
        .region
        .as_deref()
        .map(|r| region_arg("region", r))
        .transpose()?;
    let occupation = filter
        .occupation
        .as_deref()
        .map(occupation_code)
        .transpose()?;
    let occupation = occupation.map(|o| o.trim_end_matches("-00").to_string());
    let status = filter.status.as_deref();
    if let Some(s) = status
        && !["open", "filled", "closed", "expired"].contains(&s)
    {
        return Err(NodeError::usage(
            "status",
            "must be open, filled, closed or expired",
            "必须是 open、filled、closed 或 expired",
        ));
    }
    let review = filter
        .review
        .as_deref()
        .map(|r| ReviewState::parse("review", r))
        .transpose()?;
    let employer = filter
        .employer
        .as_deref()
        .map(|e| {
            station
                .resolve(RecordKind::Employer, e)
                .map(|s| s.id().to_hex())
        })
        .transpose()?;
    let after = cursor(station, RecordKind::Post, filter.after.as_deref())?;
    // The most selective index the filters allow; the other filters are checked per row.
    let region_text = region.map(|r| r.to_string());
    let by: Option<(Field, &str, bool)> = if let Some(e) = &employer {
        Some((Field::Employer, e, true))
    } else if let Some(o) = &occupation {
        Some((Field::Occupation, o, false))
    } else if let Some(r) = &review {
        Some((Field::Review, r.as_str(), true))
    } else if let Some(r) = &region_text {
        Some((Field::Region, r, false))
    } else if let Some(s @ ("closed" | "open" | "expired")) = status {
        Some((
            Field::Status,
            if s == "closed" { "closed" } else { "open" },
            true,
        ))
    } else {
        None
    };
    let prefix = index::prefix(RecordKind::Post, by);
    if let Some(a) = &after
        && index::resume_after(a, &prefix).is_none()
    {
        return Err(NodeError::usage(
            "after",
            "that post is not listed under these filters; list again from the start",
            "该岗位不在这些筛选条件的列表中；请从头重新列出",
        ));
    }
    let today = today();
    let mut rows = Vec::new();
    for state in station.store.list(prefix, after.as_ref()) {
        let state = state?;
        if state.doc.is_none() {
            continue;
        }
        let Ok(post) = Post::from_view(&state.view) else {
            continue;
        };
        let row = row(station, &state, &post, today)?;
        let keep = region.is_none_or(|r| r.contains(&state.region) || r.contains(&state.reach))
            && status.is_none_or(|s| row["status"] == s)
            && review.is_none_or(|r| post.review == r)
            && employer
                .as_deref()
                .is_none_or(|e| post.employer.as_deref() == Some(e))
            && occupation
                .as_deref()
                .is_none_or(|o| post.occupation.starts_with(o));
        if keep {
            rows.push(row);
            if rows.len() == limit {
                break;
            }
        }
    }
    Ok(Value::Array(rows))
}

/// `post show`: the post, its review findings, its placements, whether every signature still
/// verifies, and its history.
pub fn show(station: &Station, id: &str) -> Result<Value> {
    let state = station.resolve(RecordKind::Post, id)?;
    let post: Post = typed(&state)?;
    let mut out = row(station, &state, &post, today())?;
    for (key, value) in [
        ("location", &post.location),
        ("contact", &post.contact),
        ("description", &post.description),
        ("review_reason", &post.review_reason),
        ("reviewed_by", &post.reviewed_by),
        ("reviewed_at", &post.reviewed_at),
    ] {
        out[key] = json!(value);
    }
    out["findings"] = json!(findings(&post));
    out["placements"] = json!(
        placements_of(station, &state)?
            .iter()
            .map(|(s, p)| json!({
                "id": s.id().to_hex(),
                "worker_id": p.worker,
                "status": p.status.as_str(),
                "region": s.region.to_string(),
                "start": p.start,
            }))
            .collect::<Vec<_>>()
    );
    let (valid, history) = verify_history(station, &state)?;
    out["signatures_valid"] = json!(valid);
    out["history"] = json!(history);
    Ok(out)
}

/// Re-verifies every envelope of a record (signature, payload hash, author chain to the root)
/// and describes each change by the fields it set.
fn verify_history(station: &Station, state: &RecordState) -> Result<(bool, Vec<Value>)> {
    let root = station.accept_config()?.root;
    let mut valid = !state.changes.is_empty();
    let mut history = Vec::new();
    let mut changes: Vec<Vec<u8>> = Vec::new();
    let mut before = serde_json::Map::new();
    for id in &state.changes {
        let Some(env) = station.store.envelope(id)? else {
            valid = false;
            continue;
        };
        let author = station.store.author(&env.header.author)?;
        let chain_ok = author.as_ref().is_some_and(|a| {
            a.chain_named(&env.header.cert).is_some_and(|c| {
                c.verify(&root, env.header.timestamp_ms / 1000, &|_| false)
                    .is_ok()
            })
        });
        valid &= env.verify_signature().is_ok() && chain_ok;
        let mut summary = Vec::new();
        if let Some(p) = env.payload {
            changes.push(p);
            if let Ok((doc, _)) = record::build_document(&changes) {
                let after = record::document_view(&doc)?;
                for (k, v) in &after {
                    if before.get(k) != Some(v) && k != "created_at" {
                        summary.push(format!(
                            "{k}={}",
                            v.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| v.to_string())
                        ));
                    }
                }
                before = after;
            }
        }
        history.push(json!({
            "author": env.header.author.node_id(),
            "author_name": author.map(|a| a.name().to_string()),
            "at": dates::rfc3339(env.header.timestamp_ms),
            "summary": if env.header.is_genesis() { format!("created: {}", summary.join(", ")) } else { summary.join(", ") },
        }));
    }
    Ok((valid, history))
}

/// `post export ID --out FILE`: the post's Automerge document.
pub fn export(station: &Station, id: &str, out: &str) -> Result<Value> {
    let state = station.resolve(RecordKind::Post, id)?;
    let doc = state.doc.clone().ok_or_else(|| NodeError::NotFound {
        what: "post",
        id: id.to_string(),
    })?;
    write_atomically(std::path::Path::new(out), &doc)?;
    Ok(json!({ "id": state.id().to_hex(), "bytes": doc.len() }))
}

/// True when an edit changes a field the authenticity review judged.
fn reviewed_content_changed(before: &Post, after: &Post) -> bool {
    before.title != after.title
        || before.occupation != after.occupation
        || before.wage != after.wage
        || before.unit != after.unit
        || before.headcount != after.headcount
        || before.employer != after.employer
        || before.location != after.location
        || before.contact != after.contact
        || before.description != after.description
}
