//! Service reports (《零工市场服务成效表》): `report`, `report seal`, `report verify`.
//!
//! `report --period 2026-11|2026-Q4 [--region CODE] [--csv]` computes a region's figures from
//! the records held here (`lingong_protocol::report` says which records count and how), with
//! one row per child region. `report seal` signs them as a report seal record (kind 10): the
//! figures, the commitment to exactly the records counted (their number and fingerprint), the
//! seals of the stations directly below that are held (and the ones not held, named), so a
//! parent seals after its children or says which are missing. A period is sealed once; a
//! correction is a new seal with `--amend --reason`, naming the seal it replaces. `report
//! verify` recomputes every seal in force held here from the records held here and lists each
//! figure that differs: at the province, every county's, city's and its own seal.
//!
//! Bad input (exit 2, nothing changed): a period that does not parse or lies in the future, a
//! region outside this node's, a seal of a period not yet over, a second seal of a period
//! without `--amend`, `--amend` with nothing to amend or without a reason.

use super::{region_arg, today};
use crate::error::{NodeError, Result};
use crate::figures::{self, HeldSeal};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::RecordKind;
use lingong_protocol::region::{RegionCode, divisions};
use lingong_protocol::report::{self, Period, WAGE_RULE_EN, WAGE_RULE_ZH};
use lingong_protocol::schema::{ChildSeal, ReportSeal, Schema, paragraph};
use serde_json::{Value, json};

/// A period typed by the user: it must parse and must not lie in the future.
fn period_arg(text: &str) -> Result<Period> {
    let period = Period::parse(text)?;
    if period.first_day > today() {
        return Err(NodeError::usage(
            "period",
            format!("{} lies in the future", period.text),
            format!("{} 尚未开始", period.text),
        ));
    }
    Ok(period)
}

fn name_of(code: &RegionCode) -> String {
    divisions()
        .name(code)
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string())
}

fn seal_ref(s: &HeldSeal) -> Value {
    json!({
        "id": s.id(),
        "sealed_at": s.seal.sealed_at,
        "by": s.author().node_id(),
        "amends": s.seal.amends,
    })
}

/// `report --period P [--region CODE] [--csv]`.
pub fn report(station: &Station, period: &str, region: Option<&str>, csv: bool) -> Result<Value> {
    let period = period_arg(period)?;
    let region = match region {
        Some(r) => region_arg("region", r)?,
        None => station.region,
    };
    if !station.region.contains(&region) {
        return Err(NodeError::usage(
            "region",
            format!(
                "{region} is outside this node's region {}: a node reports on its own area",
                station.region
            ),
            format!("{region} 不在本节点辖区 {} 之内", station.region),
        ));
    }
    let r = figures::report_of(station, &period, &region)?;
    if csv {
        return Ok(Value::String(report::csv(&period, &r, &name_of)));
    }
    let all = figures::seals(station, Some(&period))?;
    let latest = figures::latest_seals(&all);
    let sealed = latest.get(&(region, period.text.clone())).map(|s| {
        let mut v = seal_ref(s);
        v["matches"] = json!(
            report::compare(&s.seal.figures, &r.figures).is_empty()
                && s.seal.commitment == r.commitment
        );
        v
    });
    let mut out = json!({
        "period": period.text,
        "from": dates::format_date(period.first_day),
        "to": dates::format_date(period.end_day - 1),
        "region": region.to_string(),
        "name": name_of(&region),
    });
    out.as_object_mut()
        .expect("object")
        .extend(figures::figures_json(&r.figures));
    out["records"] = json!(r.commitment.records);
    out["fingerprint"] = json!(r.commitment.fingerprint);
    out["by_region"] = Value::Array(
        r.by_region
            .iter()
            .map(|(code, f)| {
                let mut row = json!({"region": code.to_string(), "name": name_of(code)});
                row.as_object_mut()
                    .expect("object")
                    .extend(figures::figures_json(f));
                row
            })
            .collect(),
    );
    out["own"] = r
        .own
        .as_ref()
        .map(|f| Value::Object(figures::figures_json(f)))
        .unwrap_or(Value::Null);
    out["priority_missing"] = json!(
        r.priority_missing
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
    );
    out["seal"] = sealed.unwrap_or(Value::Null);
    out["rules"] = json!({
        "avg_daily_wage": {"en": WAGE_RULE_EN, "zh": WAGE_RULE_ZH},
        "job_seekers": "worker records with an envelope dated in the period, or named by a placement counted (what headers and placements carry)",
        "placements_priority": "from worker flags at a county and below; above the county the sum of the latest county seals held",
    });
    Ok(out)
}

/// `report seal --period P [--amend --reason T]`.
pub fn seal(
    station: &mut Station,
    period: &str,
    amend: bool,
    reason: Option<String>,
) -> Result<Value> {
    let now = now_ms();
    let period = period_arg(period)?;
    if period.end_day > today() {
        return Err(NodeError::usage(
            "period",
            format!(
                "{} is not over yet (it ends {}): a seal is made once a period has ended",
                period.text,
                dates::format_date(period.end_day - 1)
            ),
            format!(
                "{} 尚未结束（至 {}）：报表在期末之后签章",
                period.text,
                dates::format_date(period.end_day - 1)
            ),
        ));
    }
    let reason = match (amend, reason) {
        (true, Some(r)) => Some(paragraph("reason", &r, 1, 500)?),
        (true, None) => {
            return Err(NodeError::usage(
                "reason",
                "an amended seal says why: --amend --reason TEXT",
                "更正签章必须说明原因：--amend --reason 原因",
            ));
        }
        (false, Some(_)) => {
            return Err(NodeError::usage(
                "reason",
                "--reason goes with --amend",
                "--reason 只能与 --amend 一起使用",
            ));
        }
        (false, None) => None,
    };
    let me = station.key.public();
    let all = figures::seals(station, Some(&period))?;
    let latest = figures::latest_seals(&all);
    let mine = all
        .iter()
        .filter(|s| s.author() == me && s.state.region == station.region)
        .max_by_key(|s| (s.state.created_ms, s.id()));
    let amends = match (mine, amend) {
        (Some(s), false) => {
            return Err(NodeError::usage(
                "period",
                format!(
                    "{} was sealed at {} (seal {}); to correct it: --amend --reason TEXT",
                    period.text,
                    s.seal.sealed_at,
                    s.id()
                ),
                format!(
                    "{} 已于 {} 签章（{}）；如需更正：--amend --reason 原因",
                    period.text,
                    s.seal.sealed_at,
                    s.id()
                ),
            ));
        }
        (Some(s), true) => Some(s.id()),
        (None, true) => {
            return Err(NodeError::usage(
                "amend",
                format!("{} has no seal of this node to amend", period.text),
                format!("{} 没有本节点的签章可以更正", period.text),
            ));
        }
        (None, false) => None,
    };
    let r = figures::report_of(station, &period, &station.region)?;
    let mut children = Vec::new();
    let mut missing = Vec::new();
    let mut regions: Vec<RegionCode> = figures::stations_below(station, true)?
        .into_iter()
        .map(|b| b.region)
        .collect();
    regions.dedup();
    for region in regions {
        match latest.get(&(region, period.text.clone())) {
            Some(s) => children.push(ChildSeal {
                region,
                seal: s.id(),
            }),
            None => missing.push(region),
        }
    }
    let record = ReportSeal {
        period: period.text.clone(),
        region: station.region,
        figures: r.figures.clone(),
        commitment: r.commitment.clone(),
        children,
        missing_children: missing,
        amends,
        reason,
        sealed_at: dates::rfc3339(now),
    };
    record.validate()?;
    let edits = record.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::ReportSeal,
                reach: None,
            },
            &edits,
            now,
        )?)
    })?;
    Ok(json!({
        "id": env.header.record.to_hex(),
        "period": record.period,
        "region": record.region.to_string(),
        "figures": figures::figures_json(&record.figures),
        "records": record.commitment.records,
        "fingerprint": record.commitment.fingerprint,
        "children": record.children.iter().map(|c| json!({"region": c.region.to_string(), "seal": c.seal})).collect::<Vec<_>>(),
        "missing_children": record.missing_children.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "amends": record.amends,
        "reason": record.reason,
    }))
}

/// `report verify [--period P]`.
pub fn verify(station: &Station, period: Option<&str>) -> Result<Value> {
    let period = period.map(period_arg).transpose()?;
    let check = figures::check_seals(station, period.as_ref())?;
    Ok(json!({
        "checked": check.checked,
        "superseded": check.superseded,
        "mismatches": check.mismatches,
    }))
}
