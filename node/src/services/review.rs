//! The authenticity review (真实性审查): the queue of posts waiting, oldest first, with the
//! automatic findings a reviewer reads; and the decision, by the posting station or an ancestor.
//!
//! Approving needs the post's employer (when it names one) to be held here, verified, and not
//! suspended. Only approved, open, unexpired posts are matched, pushed, shown publicly or
//! counted as published.

use super::{findings, typed};
use crate::error::{NodeError, Result};
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::{
    Choice, Employer, EmployerStatus, Post, ReviewState, Schema, paragraph,
};
use serde_json::{Value, json};

/// `post review --queue`: posts pending review, oldest first.
pub fn queue(station: &Station, limit: Option<usize>, after: Option<&str>) -> Result<Value> {
    let limit = super::page_limit(limit)?;
    let after = super::cursor(station, RecordKind::Post, after)?;
    let prefix = index::prefix(
        RecordKind::Post,
        Some((Field::Review, ReviewState::Pending.as_str(), true)),
    );
    let mut rows = Vec::new();
    for state in station.store.list_oldest_first(prefix, after.as_ref()) {
        if rows.len() >= limit {
            break;
        }
        let state = state?;
        let Ok(post) = Post::from_view(&state.view) else {
            continue;
        };
        if !station.region.contains(&state.region) {
            continue;
        }
        rows.push(json!({
            "id": state.id().to_hex(),
            "title": post.title,
            "region": state.region.to_string(),
            "employer": post.employer,
            "waiting_since": dates::rfc3339(state.created_ms),
            "findings": findings(&post),
        }));
    }
    Ok(Value::Array(rows))
}

/// `post review ID --approve|--reject [--reason T]`.
pub fn decide(
    station: &mut Station,
    id: &str,
    approve: bool,
    reason: Option<String>,
) -> Result<Value> {
    let now = now_ms();
    let state = station.resolve(RecordKind::Post, id)?;
    if !station.region.contains(&state.region) {
        return Err(NodeError::usage(
            "review",
            "only the posting station or a station above it in jurisdiction may review a post",
            "只有发布岗位的站点或其上级管辖站点可以审核",
        ));
    }
    let before: Post = typed(&state)?;
    if approve && let Some(e) = &before.employer {
        let employer: Employer = typed(&station.resolve(RecordKind::Employer, e)?)?;
        if employer.status == EmployerStatus::Suspended {
            return Err(NodeError::usage(
                "employer",
                format!(
                    "the employer {} is suspended; its posts cannot be approved",
                    employer.name
                ),
                format!("用工主体 {} 已被暂停，其岗位不能通过审核", employer.name),
            ));
        }
        if employer.verified_by.is_none() {
            return Err(NodeError::usage(
                "employer",
                format!(
                    "the employer {} is not verified yet: record who checked its licence or ID, and how",
                    employer.name
                ),
                format!(
                    "用工主体 {} 尚未核验：请登记核验人及核验方式",
                    employer.name
                ),
            ));
        }
    }
    if !approve && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(NodeError::usage(
            "reason",
            "a rejection needs its reason",
            "不通过必须说明原因",
        ));
    }
    let mut post = before.clone();
    post.review = if approve {
        ReviewState::Approved
    } else {
        ReviewState::Rejected
    };
    post.review_reason = reason
        .map(|r| paragraph("reason", &r, 0, 500))
        .transpose()?;
    post.reviewed_by = Some(station.key.public().node_id());
    post.reviewed_at = Some(dates::rfc3339(now));
    let edits = post.edits_since(&before);
    let rid = state.id();
    station.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
    Ok(json!({ "id": rid.to_hex(), "review": post.review.as_str() }))
}
