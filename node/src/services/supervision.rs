//! Supervision (督查): `supervise [--stale-days N]`, `supervise order NODE_ID --reason T
//! --deadline DATE`, `supervise orders`.
//!
//! `supervise` lists the stations below this node (known from their certificate records) that
//! need attention, each with its reasons:
//! - `no-posts`: no post created or updated by the station for N days (default 14), from the
//!   station's own signed log as held here;
//! - `not-heard-from`: nothing signed by the station dated within N days;
//! - `report-unsealed`: no seal of the station for the last quarter whose deadline (the 10th
//!   day after it) has passed, as the quarter or as its three months (quarterly reporting,
//!   from 2024), for a station certified before that quarter ended;
//! - `complaints-overdue`: complaints still `received` after their acknowledgement deadline
//!   (`complaint_ack_days` working days, as `complaint list` shows), counted against the county
//!   the complaint is routed to (or the filing station when the county is this node);
//! - `fork`: a key with an open fork (evidence held, key not yet revoked), wherever it is;
//! - `order-overdue`: a rectification order past its deadline that has not cleared (so the
//!   province sees every one: 通报).
//!
//! A rectification order (限期整改, record kind 11) is issued by a city or county to a station
//! strictly below it, and travels like a revocation: to the station's home area (the station
//! sees it in `supervise orders`) and the issuer's ancestors. Its status is computed where it
//! is read, never stored: `cleared` once the station shows none of the conditions above and
//! has signed something since the order, else `overdue` after the deadline, else `open`.

use super::{today, typed};
use crate::error::{NodeError, Result};
use crate::figures::{self, Below};
use crate::index;
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::{Level, RegionCode};
use lingong_protocol::report::Period;
use lingong_protocol::schema::{Schema, SupervisionOrder, complaint, paragraph};
use lingong_protocol::scope::home_area;
use lingong_protocol::store::Store;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The default `--stale-days`.
pub const DEFAULT_STALE_DAYS: u32 = 14;
/// How far back a station's log is read for its last post.
const LOOKBACK_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

/// What this node knows of one station's activity.
struct Activity {
    last_post_ms: Option<i64>,
    last_heard_ms: Option<i64>,
}

/// The station's last post change and last signed envelope, from its log as held here.
fn activity(station: &Station, key: &PublicKey, now: i64) -> Result<Activity> {
    let log = station.store.author_log(key)?;
    let mut last_heard_ms = None;
    let mut last_post_ms = None;
    for (_, id) in log.iter().rev() {
        let Some(env) = station.store.envelope(id)? else {
            continue;
        };
        let t = env.header.timestamp_ms;
        last_heard_ms = Some(last_heard_ms.unwrap_or(t).max(t));
        if env.header.kind == RecordKind::Post {
            last_post_ms = Some(t);
            break;
        }
        if t < now - LOOKBACK_DAYS * DAY_MS {
            break;
        }
    }
    Ok(Activity {
        last_post_ms,
        last_heard_ms,
    })
}

/// The last quarter whose seal deadline has passed on `day`.
fn due_quarter(day: i64) -> Period {
    let previous = Period::quarter_of(day).previous();
    if day > previous.seal_deadline_day() {
        previous
    } else {
        previous.previous()
    }
}

/// Everything supervision reads once per command.
struct Context {
    now: i64,
    today: i64,
    stale_days: i64,
    /// (author, period) of every seal held.
    sealed: BTreeSet<(PublicKey, String)>,
    /// Overdue complaints per region they count against.
    overdue: BTreeMap<RegionCode, u64>,
    forks: BTreeMap<PublicKey, (u64, String)>,
}

impl Context {
    fn new(station: &Station, stale_days: i64) -> Result<Context> {
        let now = now_ms();
        let today = dates::today_cst(now);
        let sealed = figures::seals(station, None)?
            .into_iter()
            .map(|s| (s.author(), s.seal.period))
            .collect();
        let mut overdue: BTreeMap<RegionCode, u64> = BTreeMap::new();
        for state in station
            .store
            .list(index::prefix(RecordKind::Complaint, None), None)
        {
            let state = state?;
            let Some(status) = state
                .view
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| {
                    <complaint::ComplaintStatus as lingong_protocol::schema::Choice>::parse(
                        "status", s,
                    )
                    .ok()
                })
            else {
                continue;
            };
            let due = complaint::ack_due(
                complaint::filed_day(state.created_ms),
                station.config.complaint_ack_days,
            );
            if complaint::is_overdue(status, due, today) {
                let county = state
                    .region
                    .ancestor_at(Level::County)
                    .filter(|c| station.region.is_strict_ancestor_of(c))
                    .unwrap_or(state.region);
                *overdue.entry(county).or_default() += 1;
            }
        }
        let mut forks = BTreeMap::new();
        for ev in station.store.evidence()? {
            if ev.kind == "fork" && station.store.revocation(&ev.author)?.is_none() {
                let point = station.store.fork_point(&ev.author)?.unwrap_or(ev.seq);
                forks.entry(ev.author).or_insert((point, ev.detail.clone()));
            }
        }
        Ok(Context {
            now,
            today,
            stale_days,
            sealed,
            overdue,
            forks,
        })
    }

    /// The conditions a station shows, with what `supervise` prints of it.
    fn conditions(&self, station: &Station, who: &Below) -> Result<(Vec<String>, Value)> {
        let act = activity(station, &who.key, self.now)?;
        let stale_ms = self.stale_days * DAY_MS;
        let since = who.since_s * 1000;
        let mut reasons = Vec::new();
        let mut details = serde_json::Map::new();
        let last_post = act.last_post_ms.unwrap_or(since);
        if self.now - last_post > stale_ms {
            reasons.push("no-posts".to_string());
        }
        let last_heard = act.last_heard_ms.unwrap_or(since);
        if self.now - last_heard > stale_ms {
            reasons.push("not-heard-from".to_string());
        }
        let quarter = due_quarter(self.today);
        if since < quarter.end_ms() {
            let sealed = |p: &Period| self.sealed.contains(&(who.key, p.text.clone()));
            if !sealed(&quarter) && !quarter.months().iter().all(sealed) {
                reasons.push("report-unsealed".to_string());
                details.insert("unsealed_period".into(), json!(quarter.text));
            }
        }
        if let Some(n) = self.overdue.get(&who.region).filter(|n| **n > 0) {
            reasons.push("complaints-overdue".to_string());
            details.insert("complaints_overdue".into(), json!(n));
        }
        if let Some((seq, detail)) = self.forks.get(&who.key) {
            reasons.push("fork".to_string());
            details.insert("fork_seq".into(), json!(seq));
            details.insert("fork_detail".into(), json!(detail));
        }
        let days = |t: i64| (self.now - t).div_euclid(DAY_MS);
        let mut row = json!({
            "node_id": who.key.node_id(),
            "name": who.name,
            "region": who.region.to_string(),
            "level": who.region.level().as_str(),
            "last_update": act.last_post_ms.map(dates::rfc3339),
            "days_stale": days(last_post),
            "last_heard": act.last_heard_ms.map(dates::rfc3339),
            "days_silent": days(last_heard),
        });
        row.as_object_mut().expect("object").extend(details);
        Ok((reasons, row))
    }
}

fn stale_days_arg(n: Option<u32>) -> Result<i64> {
    let n = n.unwrap_or(DEFAULT_STALE_DAYS);
    if !(1..=365).contains(&n) {
        return Err(NodeError::usage(
            "stale-days",
            "must be 1 to 365",
            "必须在 1 到 365 之间",
        ));
    }
    Ok(i64::from(n))
}

/// An order held, read back, with the station it names as known here.
struct HeldOrder {
    id: String,
    issuer: PublicKey,
    issued_ms: i64,
    order: SupervisionOrder,
}

fn orders_held(station: &Station) -> Result<Vec<HeldOrder>> {
    let mut out = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::SupervisionOrder, None), None)
    {
        let state = state?;
        let Ok(order) = typed::<SupervisionOrder>(&state) else {
            continue;
        };
        out.push(HeldOrder {
            id: state.id().to_hex(),
            issuer: state.creator,
            issued_ms: state.created_ms,
            order,
        });
    }
    Ok(out)
}

/// `open`, `cleared` or `overdue`, from what is held here (`contexts`: one per stale-days
/// value, read once).
fn order_status(
    station: &Station,
    o: &HeldOrder,
    today: i64,
    contexts: &mut BTreeMap<i64, Context>,
) -> Result<(&'static str, Vec<String>)> {
    let Some(key) = PublicKey::from_node_id(&o.order.node) else {
        return Ok(("open", Vec::new()));
    };
    let info = station.store.author(&key)?;
    let who = Below {
        key,
        region: o.order.node_region,
        name: info
            .as_ref()
            .map(|a| a.name().to_string())
            .unwrap_or_default(),
        since_s: info
            .as_ref()
            .map(|a| a.chain.leaf().body.not_before)
            .unwrap_or(0),
    };
    let days = o.order.stale_days.clamp(1, 365);
    let ctx = match contexts.entry(days) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => e.insert(Context::new(station, days)?),
    };
    let (reasons, _) = ctx.conditions(station, &who)?;
    let heard_since = activity(station, &key, ctx.now)?
        .last_heard_ms
        .is_some_and(|t| t > o.issued_ms);
    let deadline = dates::parse_date("deadline", &o.order.deadline).unwrap_or(i64::MAX);
    let status = if reasons.is_empty() && heard_since {
        "cleared"
    } else if today > deadline {
        "overdue"
    } else {
        "open"
    };
    Ok((status, reasons))
}

/// `supervise [--stale-days N]`.
pub fn supervise(station: &Station, stale_days: Option<u32>) -> Result<Value> {
    let stale_days = stale_days_arg(stale_days)?;
    let ctx = Context::new(station, stale_days)?;
    let mut rows: BTreeMap<String, (Vec<String>, Value)> = BTreeMap::new();
    for who in figures::stations_below(station, false)? {
        let (reasons, row) = ctx.conditions(station, &who)?;
        rows.insert(who.key.node_id(), (reasons, row));
    }
    // A fork anywhere held, and orders past their deadline, are listed even for a station not
    // below this node.
    for (key, (seq, detail)) in &ctx.forks {
        let entry = rows.entry(key.node_id()).or_insert_with(|| {
            let info = station.store.author(key).ok().flatten();
            (
                Vec::new(),
                json!({
                    "node_id": key.node_id(),
                    "name": info.as_ref().map(|a| a.name().to_string()),
                    "region": info.as_ref().map(|a| a.region().to_string()),
                    "fork_seq": seq,
                    "fork_detail": detail,
                }),
            )
        });
        if !entry.0.iter().any(|r| r == "fork") {
            entry.0.push("fork".into());
        }
    }
    let mut contexts = BTreeMap::new();
    for o in orders_held(station)? {
        let (status, _) = order_status(station, &o, ctx.today, &mut contexts)?;
        if status != "overdue" {
            continue;
        }
        let entry = rows.entry(o.order.node.clone()).or_insert_with(|| {
            (
                Vec::new(),
                json!({"node_id": o.order.node, "region": o.order.node_region.to_string()}),
            )
        });
        if !entry.0.iter().any(|r| r == "order-overdue") {
            entry.0.push("order-overdue".into());
        }
        let ids = entry.1["orders_overdue"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut ids = ids;
        ids.push(json!(o.id));
        entry.1["orders_overdue"] = Value::Array(ids);
    }
    let mut out: Vec<Value> = rows
        .into_values()
        .filter(|(reasons, _)| !reasons.is_empty())
        .map(|(reasons, mut row)| {
            row["reasons"] = json!(reasons);
            row
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                -(v["days_stale"].as_i64().unwrap_or(0)),
                v["region"].as_str().unwrap_or("").to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(Value::Array(out))
}

/// `supervise order NODE_ID --reason T --deadline DATE`.
pub fn order(station: &mut Station, node_id: &str, reason: &str, deadline: &str) -> Result<Value> {
    let now = now_ms();
    if !matches!(station.region.level(), Level::City | Level::County) {
        return Err(NodeError::usage(
            "node",
            format!(
                "rectification orders are issued by a city or county market; this node is a {}",
                station.region.level().as_str()
            ),
            format!(
                "限期整改通知由市、县零工市场下达；本节点是{}",
                station.region.level().name_zh()
            ),
        ));
    }
    let key = PublicKey::from_node_id(node_id.trim()).ok_or_else(|| {
        NodeError::usage(
            "node",
            "must be a node id (12D3KooW…)",
            "必须是节点编号（12D3KooW…）",
        )
    })?;
    let info = station
        .store
        .author(&key)?
        .ok_or_else(|| NodeError::NotFound {
            what: "node",
            id: node_id.to_string(),
        })?;
    let target = info.region();
    if !station.region.is_strict_ancestor_of(&target) {
        return Err(NodeError::usage(
            "node",
            format!(
                "only a city or county above the station may order it: {} ({target}) is not below this node ({})",
                info.name(),
                station.region
            ),
            format!(
                "只有上级市、县可以对站点下达整改通知：{}（{target}）不在本节点（{}）辖区内",
                info.name(),
                station.region
            ),
        ));
    }
    if station.store.revocation(&key)?.is_some() {
        return Err(NodeError::usage(
            "node",
            "this station's certificate is revoked",
            "该站点的证书已被吊销",
        ));
    }
    let reason = paragraph("reason", reason, 1, 500)?;
    let day = dates::parse_date("deadline", deadline)?;
    if day < today() {
        return Err(NodeError::usage(
            "deadline",
            "must not be in the past",
            "不能早于今天",
        ));
    }
    let ctx = Context::new(station, i64::from(DEFAULT_STALE_DAYS))?;
    let who = Below {
        key,
        region: target,
        name: info.name().to_string(),
        since_s: info.chain.leaf().body.not_before,
    };
    let (conditions, _) = ctx.conditions(station, &who)?;
    let record = SupervisionOrder {
        node: key.node_id(),
        node_region: target,
        reason,
        deadline: dates::format_date(day),
        conditions,
        stale_days: i64::from(DEFAULT_STALE_DAYS),
        region: station.region,
        issued_at: dates::rfc3339(now),
    };
    record.validate()?;
    let edits = record.edits();
    let reach = home_area(&target);
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::SupervisionOrder,
                reach: Some(reach),
            },
            &edits,
            now,
        )?)
    })?;
    Ok(json!({
        "id": env.header.record.to_hex(),
        "node_id": record.node,
        "deadline": record.deadline,
        "conditions": record.conditions,
    }))
}

/// `supervise orders`: the orders held that name this node or a station below it.
pub fn orders(station: &Station) -> Result<Value> {
    let today = today();
    let me = station.key.public().node_id();
    let mut rows = Vec::new();
    let mut contexts = BTreeMap::new();
    for o in orders_held(station)? {
        if o.order.node != me && !station.region.is_strict_ancestor_of(&o.order.node_region) {
            continue;
        }
        let (status, conditions) = order_status(station, &o, today, &mut contexts)?;
        let name = PublicKey::from_node_id(&o.order.node)
            .and_then(|k| station.store.author(&k).ok().flatten())
            .map(|a| a.name().to_string());
        rows.push(json!({
            "id": o.id,
            "node_id": o.order.node,
            "name": name,
            "region": o.order.node_region.to_string(),
            "reason": o.order.reason,
            "deadline": o.order.deadline,
            "issued_by": o.issuer.node_id(),
            "issued_at": o.order.issued_at,
            "conditions_at_issue": o.order.conditions,
            "conditions": conditions,
            "status": status,
        }));
    }
    Ok(Value::Array(rows))
}
