//! Placements (即时确认结果): confirm a hire on the spot, list, cancel (how an overfill is
//! resolved), end with an outcome, and write the labour agreement (用工协议) prefilled from it.
//!
//! A placement is refused on a post that is not approved, open and unexpired, or has no place
//! left as seen here; for a worker not held here or deregistered; and at a station that is
//! neither inside the post's reach nor above the post's station. Two stations that place on the
//! last place at once both keep their placements: the post then shows `overfilled` wherever
//! both are held, until one is cancelled.

use super::{fill_of, required, today, typed};
use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::{
    Choice, Confirmation, Outcome, Placement, PlacementStatus, Post, Schema, Worker, WorkerStatus,
    paragraph,
};
use lingong_protocol::store::RecordState;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `placement confirm` as typed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PlacementFields {
    pub post: Option<String>,
    pub worker: Option<String>,
    pub wage: Option<f64>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// paper, spoken or phone-code.
    pub worker_confirmed: Option<String>,
    pub employer_confirmed: Option<String>,
}

/// `placement confirm --post ID --worker ID …`.
pub fn confirm(station: &mut Station, f: PlacementFields) -> Result<Value> {
    let now = now_ms();
    let post_state = station.resolve(RecordKind::Post, &required("post", f.post)?)?;
    let post: Post = typed(&post_state)?;
    let day = today();
    if !post.is_live(day) {
        return Err(NodeError::usage(
            "post",
            format!(
                "the post is {} (review {}): only approved, open, unexpired posts take placements",
                post.shown_status(day, 0),
                post.review.as_str()
            ),
            format!(
                "该岗位状态为{}（审核：{}）：只有已通过审核、招聘中且未过期的岗位可以确认上岗",
                post.shown_status(day, 0),
                post.review.as_zh()
            ),
        ));
    }
    let inside_reach = post_state.reach.contains(&station.region);
    let above = station.region.contains(&post_state.region);
    if !inside_reach && !above {
        return Err(NodeError::usage(
            "post",
            format!(
                "this station ({}) is outside the post's reach ({})",
                station.region, post_state.reach
            ),
            format!(
                "本站（{}）不在该岗位的发布范围（{}）内",
                station.region, post_state.reach
            ),
        ));
    }
    let fill = fill_of(station, &post_state, &post)?;
    if fill.left() == 0 {
        return Err(NodeError::usage(
            "post",
            format!("all {} places are taken", post.headcount),
            format!("{} 个名额已满", post.headcount),
        ));
    }
    let worker_state = station.resolve(RecordKind::Worker, &required("worker", f.worker)?)?;
    let worker: Worker = typed(&worker_state)?;
    if worker.status != WorkerStatus::Active {
        return Err(NodeError::usage(
            "worker",
            "this worker is deregistered",
            "该劳动者已注销",
        ));
    }
    let worker_id = worker_state.id().to_hex();
    let already = placements_naming(station, Field::Worker, &worker_id)?
        .into_iter()
        .any(|(_, p)| p.post == post_state.id().to_hex() && p.status != PlacementStatus::Cancelled);
    if already {
        return Err(NodeError::usage(
            "worker",
            "this worker is already placed on this post",
            "该劳动者已在此岗位上岗",
        ));
    }
    let confirmation = |field: &'static str, v: Option<String>| {
        v.map(|m| Confirmation::parse(field, &m)).transpose()
    };
    let placement = Placement {
        post: post_state.id().to_hex(),
        worker: worker_id,
        employer: post.employer.clone(),
        wage: lingong_protocol::schema::money(
            "wage",
            f.wage.unwrap_or(post.wage),
            false,
            post.unit.max_wage(),
        )?,
        unit: post.unit,
        start: match f.start {
            Some(s) => dates::format_date(dates::parse_date("start", &s)?),
            None => dates::format_date(day),
        },
        end: f
            .end
            .map(|e| dates::parse_date("end", &e).map(dates::format_date))
            .transpose()?,
        status: PlacementStatus::Active,
        worker_confirmed: confirmation("worker_confirmed", f.worker_confirmed)?,
        employer_confirmed: confirmation("employer_confirmed", f.employer_confirmed)?,
        cancel_reason: None,
        outcome: None,
        region: station.region,
        created_at: dates::rfc3339(now),
    };
    placement.validate()?;
    let edits = placement.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::Placement,
                reach: None,
            },
            &edits,
            now,
        )?)
    })?;
    Ok(json!({ "id": env.header.record.to_hex() }))
}

/// The longest run of digits a cancellation's reason may carry: a date's year or a count,
/// never a phone (11 digits) or an ID number (17 or 18).
const MAX_DIGITS_IN_REASON: usize = 6;

fn placements_naming(
    station: &Station,
    field: Field,
    id: &str,
) -> Result<Vec<(RecordState, Placement)>> {
    let prefix = index::prefix(RecordKind::Placement, Some((field, id, true)));
    let mut out = Vec::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        if let Ok(p) = Placement::from_view(&state.view) {
            out.push((state, p));
        }
    }
    Ok(out)
}

fn row(state: &RecordState, p: &Placement) -> Value {
    json!({
        "id": state.id().to_hex(),
        "post_id": p.post,
        "worker_id": p.worker,
        "employer_id": p.employer,
        "wage": p.wage,
        "unit": p.unit.as_str(),
        "start": p.start,
        "end": p.end,
        "status": p.status.as_str(),
        "worker_confirmed": p.worker_confirmed.map(|c| c.as_str()),
        "employer_confirmed": p.employer_confirmed.map(|c| c.as_str()),
        "cancel_reason": p.cancel_reason,
        "outcome": p.outcome.map(|o| o.as_str()),
        "region": state.region.to_string(),
        "created_at": dates::rfc3339(state.created_ms),
    })
}

/// `placement list [--post ID] [--worker ID]`.
pub fn list(station: &Station, post: Option<&str>, worker: Option<&str>) -> Result<Value> {
    let post = post
        .map(|p| {
            station
                .resolve(RecordKind::Post, p)
                .map(|s| s.id().to_hex())
        })
        .transpose()?;
    let worker = worker
        .map(|w| {
            station
                .resolve(RecordKind::Worker, w)
                .map(|s| s.id().to_hex())
        })
        .transpose()?;
    let found = match (&post, &worker) {
        (Some(p), _) => placements_naming(station, Field::Post, p)?,
        (None, Some(w)) => placements_naming(station, Field::Worker, w)?,
        (None, None) => {
            let mut all = Vec::new();
            for state in station
                .store
                .list(index::prefix(RecordKind::Placement, None), None)
            {
                let state = state?;
                if let Ok(p) = Placement::from_view(&state.view) {
                    all.push((state, p));
                }
            }
            all
        }
    };
    Ok(Value::Array(
        found
            .iter()
            .filter(|(_, p)| worker.as_deref().is_none_or(|w| p.worker == w))
            .map(|(s, p)| row(s, p))
            .collect(),
    ))
}

fn change(
    station: &mut Station,
    id: &str,
    apply: impl FnOnce(&mut Placement) -> Result<()>,
) -> Result<Value> {
    let now = now_ms();
    let state = station.resolve(RecordKind::Placement, id)?;
    let before: Placement = typed(&state)?;
    if before.status != PlacementStatus::Active {
        return Err(NodeError::usage(
            "id",
            format!("this placement is already {}", before.status.as_str()),
            format!("该上岗记录已经{}", before.status.as_zh()),
        ));
    }
    let mut after = before.clone();
    apply(&mut after)?;
    after.validate()?;
    let edits = after.edits_since(&before);
    let rid = state.id();
    station.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
    Ok(json!({ "id": rid.to_hex(), "status": after.status.as_str() }))
}

/// `placement cancel ID --reason T`: how an overfill is resolved, or a hire that fell through.
/// The reason travels with the placement to every station of its county (scope rules version
/// 3) and up to the province, where the worker is unknown: it may name neither the placed
/// worker (as held here) nor a phone or ID number (no run of [`MAX_DIGITS_IN_REASON`] + 1
/// digits).
pub fn cancel(station: &mut Station, id: &str, reason: &str) -> Result<Value> {
    let reason = paragraph("reason", reason, 1, 500)?;
    let placed: Placement = typed(&station.resolve(RecordKind::Placement, id)?)?;
    let worker: Option<Worker> = station
        .resolve(RecordKind::Worker, &placed.worker)
        .ok()
        .and_then(|s| typed(&s).ok());
    let digits = reason
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    let names_worker = worker.is_some_and(|w| {
        let name = w.name.trim();
        !name.is_empty() && reason.contains(name)
    });
    if names_worker || digits > MAX_DIGITS_IN_REASON {
        return Err(NodeError::usage(
            "reason",
            format!(
                "must not name the worker or carry a phone or ID number (no name of the placed \
                 worker, no more than {MAX_DIGITS_IN_REASON} digits in a row): the reason goes \
                 to every station of the county and up to the province"
            ),
            format!(
                "不得写劳动者姓名、电话或身份证号（不含被安置劳动者的姓名，连续数字不超过 \
                 {MAX_DIGITS_IN_REASON} 位）：取消原因会同步到全县各站点并上报至省"
            ),
        ));
    }
    change(station, id, |p| {
        p.status = PlacementStatus::Cancelled;
        p.cancel_reason = Some(reason);
        Ok(())
    })
}

/// `placement end ID --outcome paid|paid-late|unpaid|left-early`; `unpaid` points to the
/// wage-arrears complaint.
pub fn end(station: &mut Station, id: &str, outcome: &str) -> Result<Value> {
    let outcome = Outcome::parse("outcome", outcome)?;
    let today = dates::format_date(today());
    let mut out = change(station, id, |p| {
        p.status = PlacementStatus::Ended;
        p.outcome = Some(outcome);
        if p.end.as_deref().is_none_or(|e| e > today.as_str()) {
            p.end = Some(today.clone());
        }
        Ok(())
    })?;
    if outcome == Outcome::Unpaid {
        out["next"] = json!({
            "en": "the worker was not paid: file a wage-arrears complaint (lingong complaint file --kind wage-arrears)",
            "zh": "劳动者未获支付：请登记欠薪投诉（lingong complaint file --kind wage-arrears）",
        });
    }
    Ok(out)
}

/// `placement agreement ID --out FILE`: the labour agreement (用工协议) prefilled from the
/// placement, its post, its worker and employer as held here, and this station's directory
/// hotline, as plain UTF-8 text to print.
pub fn agreement(station: &Station, id: &str, out: &str) -> Result<Value> {
    let state = station.resolve(RecordKind::Placement, id)?;
    let p: Placement = typed(&state)?;
    let post: Option<Post> = station
        .resolve(RecordKind::Post, &p.post)
        .ok()
        .and_then(|s| typed(&s).ok());
    let worker: Option<Worker> = station
        .resolve(RecordKind::Worker, &p.worker)
        .ok()
        .and_then(|s| typed(&s).ok());
    let employer: Option<lingong_protocol::schema::Employer> = p
        .employer
        .as_deref()
        .and_then(|e| station.resolve(RecordKind::Employer, e).ok())
        .and_then(|s| typed(&s).ok());
    let hotline = {
        let me = station.key.public();
        let prefix = index::prefix(
            RecordKind::Directory,
            Some((Field::Region, &station.region.to_string(), true)),
        );
        station
            .store
            .list(prefix, None)
            .filter_map(|s| s.ok())
            .find(|s| s.creator == me)
            .and_then(|s| {
                s.view
                    .get("hotline")
                    .and_then(|h| h.as_str())
                    .map(String::from)
            })
            .unwrap_or_else(|| "12333".into())
    };
    let blank = "________";
    let text = format!(
        "用工协议（零工）\n\n\
         甲方（用工方）：{employer}\n\
         乙方（劳动者）：{worker}\n\
         工作内容：{title}（职业代码 {occupation}）\n\
         工作地点：{location}\n\
         工资：{wage} 元/{unit}，于每个计薪周期结束后当日（或双方约定的 {blank}）足额支付，不得拖欠\n\
         起止日期：{start} 至 {end}\n\
         安全与保障：甲方提供符合国家规定的劳动安全条件和必要的劳动防护用品，并告知岗位风险\n\
         争议处理：如有工资或其他争议，可拨打 {station} 服务电话 {hotline} 或 12333 求助\n\
         记录编号：{id}（由 {station} 于 {at} 确认）\n\n\
         甲方签字：{blank}    乙方签字：{blank}    日期：{blank}\n",
        employer = employer.as_ref().map(|e| e.name.as_str()).unwrap_or(blank),
        worker = worker.as_ref().map(|w| w.name.as_str()).unwrap_or(blank),
        title = post.as_ref().map(|x| x.title.as_str()).unwrap_or(blank),
        occupation = post
            .as_ref()
            .map(|x| x.occupation.as_str())
            .unwrap_or(blank),
        location = post
            .as_ref()
            .and_then(|x| x.location.as_deref())
            .unwrap_or(blank),
        wage = p.wage,
        unit = p.unit.as_zh(),
        start = p.start,
        end = p.end.as_deref().unwrap_or("双方约定之日"),
        station = station.config.name,
        id = state.id().to_hex(),
        at = p.created_at,
    );
    write_atomically(std::path::Path::new(out), text.as_bytes())?;
    Ok(json!({ "id": state.id().to_hex(), "file": out }))
}
