//! Service reports (《零工市场服务成效表》): `report`, `report seal`, `report verify`.
//!
//! `report --period 2026-11|2026-Q4 [--region CODE] [--csv]` computes a region's figures from
//! the records held here (`lingong_protocol::report` says which records count and how), with
//! one row per child region. `report seal` signs them as a report seal record (kind 10): the
//! figures, the commitment to exactly the records counted (their number and fingerprint), the
//! seals of the stations directly below that are held (and the ones not held, named), so a
//! parent seals after its children or says which are missing. A period is sealed once; a
//! correction is a new seal with `--amend --reason`, naming the seal it replaces. A certified
//! successor (`accept::succeeds`) holds its predecessors' seals as its own: it amends them the
//! same way, and a second seal without `--amend` is refused as for the station itself. `report
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
use lingong_protocol::store::Store;
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
    divisions().name_or_code(code)
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
    let (period, region) = report_args(station, period, region)?;
    let facts = figures::collect_facts(station, &period)?;
    report_value(station, &period, &region, &facts, csv)
}

/// How many times [`report_in_slices`] starts its walk again after a commit before it walks
/// holding the station throughout.
pub const SLICED_ATTEMPTS: usize = 4;

/// [`report`] without holding the station for the whole computation: the records are walked
/// ([`figures::FactWalk`]) in slices of about `slice` each under the shared side of the
/// station's lock, let go in between, so a write waiting for the lock (a clerk's form, a sync
/// frame) waits for one slice, not for the whole report. The answer is exactly [`report`]'s
/// over one state of the store: `writes` (the store's count of durable writes) is read under
/// the lock at every slice, and a walk that a commit came between starts again. After
/// [`SLICED_ATTEMPTS`] walks each cut short by a commit (commits arriving faster than a walk
/// takes: a first sync), the last walk holds the lock to its end, as [`report`] does.
/// The figures' last part (the seals held, the sums) is made under the lock of the last slice.
/// `walked` is told after every slice how many rows the walk under way has visited
/// ([`figures::FactWalk::walked`]; a walk begun again starts from 0).
pub fn report_in_slices(
    station: &std::sync::RwLock<Station>,
    writes: impl Fn() -> u64,
    period: &str,
    region: Option<&str>,
    csv: bool,
    slice: std::time::Duration,
    walked: impl Fn(u64),
) -> Result<Value> {
    let read = || station.read().expect("station lock");
    let (period, region) = report_args(&read(), period, region)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let whole = attempts > SLICED_ATTEMPTS;
        let mut walk = figures::FactWalk::new(&period);
        let mut from = None;
        loop {
            let s = read();
            let now = writes();
            if *from.get_or_insert(now) != now {
                break;
            }
            let until = (!whole).then(|| std::time::Instant::now() + slice);
            if walk.step(&s, until)? {
                return report_value(&s, &period, &region, walk.facts(), csv);
            }
            walked(walk.walked());
        }
    }
}

/// `report`'s arguments checked: the period (parsed, not in the future) and the region (this
/// node's when not given, and within it).
pub fn report_args(
    station: &Station,
    period: &str,
    region: Option<&str>,
) -> Result<(Period, RegionCode)> {
    report_args_within(station.region, period, region)
}

/// [`report_args`] for a node of region `here`, without the station: the console's `/report`
/// checks them before it starts a computation, without waiting for the station's lock (a
/// write or a sync frame holding it would otherwise hold up the page's answer).
pub fn report_args_within(
    here: RegionCode,
    period: &str,
    region: Option<&str>,
) -> Result<(Period, RegionCode)> {
    let period = period_arg(period)?;
    let region = match region {
        Some(r) => region_arg("region", r)?,
        None => here,
    };
    if !here.contains(&region) {
        return Err(NodeError::usage(
            "region",
            format!(
                "{region} is outside this node's region {here}: a node reports on its own area"
            ),
            format!("{region} 不在本节点辖区 {here} 之内"),
        ));
    }
    Ok((period, region))
}

/// `report`'s answer from the period's facts ([`figures::collect_facts`]).
fn report_value(
    station: &Station,
    period: &Period,
    region: &RegionCode,
    facts: &[report::Fact],
    csv: bool,
) -> Result<Value> {
    let region = *region;
    let r = figures::report_from(station, period, &region, facts)?;
    if csv {
        return Ok(Value::String(report::csv(period, &r, &name_of)));
    }
    let all = figures::seals(station, Some(period))?;
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
        "job_seekers": JOB_SEEKERS_RULE_EN,
        "placements_priority": PRIORITY_RULE_EN,
    });
    Ok(out)
}

/// The counting rules `report` states beside the wage rule, in both languages.
const JOB_SEEKERS_RULE_EN: &str = "worker records with an envelope dated in the period, or named by a placement counted (what headers and placements carry)";
const JOB_SEEKERS_RULE_ZH: &str = "求职登记人数：期内有签名变更的求职者记录，或被计入的上岗记录所指的求职者（报头与上岗记录所载）";
const PRIORITY_RULE_EN: &str = "from worker flags at a county and below; above the county the sum of the latest county seals held";
const PRIORITY_RULE_ZH: &str =
    "重点帮扶对象：县及以下按求职者标记计算；县以上为所持各县最新签章之和";

/// The figures of the readable table, four to a block, so that each block fits a terminal
/// line and an "of which" column stays beside the figure it belongs to.
const BLOCKS: [[&str; 4]; 3] = [
    [
        "job_seekers",
        "job_seekers_new",
        "employers",
        "employers_new",
    ],
    ["posts", "headcount", "placements", "placements_priority"],
    [
        "avg_daily_wage",
        "complaints",
        "complaints_resolved",
        "arrears_recovered",
    ],
];

/// Terminal width of text: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `report`'s value (what `--json` prints) as a person reads it, in Chinese, or English when
/// `lang` starts with `en`: a heading with the period, region, the records counted and the
/// seal, then the figures as tables, one row for the region's total, one per child region and
/// one for the region's own records, and the counting rules under them.
pub fn readable(value: &Value, lang: &str) -> String {
    let en = lang.starts_with("en");
    let t = |zh: &'static str, en_text: &'static str| if en { en_text } else { zh };
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = String::new();
    out.push_str(&if en {
        format!(
            "Service report (成效表) {}: {}, {} to {}\n",
            s(&value["name"]),
            s(&value["period"]),
            s(&value["from"]),
            s(&value["to"])
        )
    } else {
        format!(
            "零工市场服务成效表  {}  {}（{} 至 {}）\n",
            s(&value["name"]),
            s(&value["period"]),
            s(&value["from"]),
            s(&value["to"])
        )
    });
    out.push_str(&if en {
        format!(
            "Region {}; records counted: {}, fingerprint {}\n",
            s(&value["region"]),
            value["records"],
            s(&value["fingerprint"])
        )
    } else {
        format!(
            "区划代码 {}；计入记录 {} 条，指纹 {}\n",
            s(&value["region"]),
            value["records"],
            s(&value["fingerprint"])
        )
    });
    let seal = &value["seal"];
    out.push_str(
        &match (seal.is_null(), seal["matches"].as_bool().unwrap_or(false)) {
            (true, _) => t("签章：本期尚未签章\n", "Seal: not sealed\n").to_string(),
            (false, matches) => {
                let state = match (matches, en) {
                    (true, true) => "matches the records held",
                    (false, true) => "DIFFERS from the records held (see report verify)",
                    (true, false) => "与所持记录一致",
                    (false, false) => "与所持记录不一致（见 report verify）",
                };
                let amended = if seal["amends"].is_null() {
                    ""
                } else {
                    t("（更正签章）", " (an amended seal)")
                };
                if en {
                    format!(
                        "Seal: {}{amended}, signed {} by {}; {state}\n",
                        s(&seal["id"]),
                        s(&seal["sealed_at"]),
                        s(&seal["by"])
                    )
                } else {
                    format!(
                        "签章：{}{amended}，{} 由 {} 签章；{state}\n",
                        s(&seal["id"]),
                        s(&seal["sealed_at"]),
                        s(&seal["by"])
                    )
                }
            }
        },
    );
    // The rows: the total, each child region, the region's own records.
    let mut rows: Vec<(String, &Value)> = vec![(
        format!("{} {}", s(&value["name"]), t("合计", "total")),
        value,
    )];
    for row in value["by_region"].as_array().into_iter().flatten() {
        rows.push((format!("  {} {}", s(&row["name"]), s(&row["region"])), row));
    }
    if value["own"].is_object() {
        rows.push((format!("  {}", t("本级记录", "own records")), &value["own"]));
    }
    let region_head = t("地区", "Region").to_string();
    let first = rows
        .iter()
        .map(|(name, _)| display_width(name))
        .chain([display_width(&region_head)])
        .max()
        .unwrap_or(0);
    let pad = |text: &str, width: usize, right: bool| {
        let fill = " ".repeat(width.saturating_sub(display_width(text)));
        if right {
            format!("{fill}{text}")
        } else {
            format!("{text}{fill}")
        }
    };
    for block in BLOCKS {
        out.push('\n');
        let heads: Vec<String> = block
            .iter()
            .map(|field| {
                figures::FIGURE_LABELS
                    .iter()
                    .find(|(k, ..)| k == field)
                    .map(|(_, zh, en_label)| t(zh, en_label).to_string())
                    .unwrap_or_else(|| field.to_string())
            })
            .collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|(_, row)| {
                block
                    .iter()
                    .map(|f| figures::figure_text(&row[*f], en))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..block.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| display_width(&r[i]))
                    .chain([display_width(&heads[i])])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = pad(&region_head, first, false);
        for (h, w) in heads.iter().zip(&widths) {
            line.push_str("  ");
            line.push_str(&pad(h, *w, true));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for ((name, _), row) in rows.iter().zip(&cells) {
            let mut line = pad(name, first, false);
            for (c, w) in row.iter().zip(&widths) {
                line.push_str("  ");
                line.push_str(&pad(c, *w, true));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    let missing: Vec<String> = value["priority_missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .map(|c| {
            RegionCode::parse(c)
                .map(|code| format!("{} {c}", name_of(&code)))
                .unwrap_or_else(|_| c.to_string())
        })
        .collect();
    // At most eight named; the rest counted (the province before any county has sealed).
    const NAMED: usize = 8;
    let more = missing.len().saturating_sub(NAMED);
    let listed = &missing[..missing.len().min(NAMED)];
    if !missing.is_empty() {
        out.push_str(&if en {
            let rest = if more > 0 {
                format!(" and {more} more (report --json lists them all)")
            } else {
                String::new()
            };
            format!(
                "Priority placements not included (no county seal held): {}{rest}\n",
                listed.join(", ")
            )
        } else {
            let rest = if more > 0 {
                format!(" 等 {} 个县（report --json 列出全部）", missing.len())
            } else {
                String::new()
            };
            format!(
                "以下县尚无签章，重点帮扶对象未计入：{}{rest}\n",
                listed.join("、")
            )
        });
    }
    if en {
        out.push_str(&format!(
            "Rules: average daily wage: {WAGE_RULE_EN}; job seekers: {JOB_SEEKERS_RULE_EN}; priority workers: {PRIORITY_RULE_EN}.\n"
        ));
    } else {
        out.push_str(&format!(
            "说明：平均日工资 {WAGE_RULE_ZH}；{JOB_SEEKERS_RULE_ZH}；{PRIORITY_RULE_ZH}。\n"
        ));
    }
    out
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
                "an amended seal says why",
                "更正签章必须说明原因",
            ));
        }
        (false, Some(_)) => {
            return Err(NodeError::usage(
                "reason",
                "a reason is given only when amending a seal",
                "只有更正签章时才填写原因",
            ));
        }
        (false, None) => None,
    };
    let me = station.key.public();
    let all = figures::seals(station, Some(&period))?;
    let latest = figures::latest_seals(&all);
    // This station's seal of the period: its own, or one a station it succeeds made (a
    // certified successor takes over its predecessor's seals as it does its other records).
    let info = station.store.author(&me)?;
    let mut mine: Option<&HeldSeal> = None;
    for s in all.iter().filter(|s| s.state.region == station.region) {
        let ours = s.author() == me
            || info.as_ref().is_some_and(|info| {
                lingong_protocol::accept::succeeds(
                    &station.store,
                    info,
                    &s.author(),
                    &station.region,
                )
                .unwrap_or(false)
            });
        if ours && mine.is_none_or(|m| (s.state.created_ms, s.id()) > (m.state.created_ms, m.id()))
        {
            mine = Some(s);
        }
    }
    let amends = match (mine, amend) {
        (Some(s), false) => {
            let by = if s.author() == me {
                (String::new(), String::new())
            } else {
                (
                    format!(
                        " by the station this one succeeds ({})",
                        s.author().node_id()
                    ),
                    format!("（由本站接替的站点 {} 签章）", s.author().node_id()),
                )
            };
            return Err(NodeError::usage(
                "period",
                format!(
                    "{} was sealed at {}{} (seal {}); to correct it, amend it with a reason",
                    period.text,
                    s.seal.sealed_at,
                    by.0,
                    s.id()
                ),
                format!(
                    "{} 已于 {} 签章{}（{}）；如需更正，请更正签章并说明原因",
                    period.text,
                    s.seal.sealed_at,
                    by.1,
                    s.id()
                ),
            ));
        }
        (Some(s), true) => Some(s.id()),
        (None, true) => {
            return Err(NodeError::usage(
                "amend",
                format!(
                    "{} has no seal of this node (or of a station it succeeds) to amend",
                    period.text
                ),
                format!("{} 没有本节点（或其接替的站点）的签章可以更正", period.text),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::{Home, write_atomically};
    use std::sync::{Arc, RwLock};

    /// A certified village station (the protocol's fixture chain) in a fresh home.
    fn village(dir: &std::path::Path) -> Station {
        let region = RegionCode::parse("522622101001").unwrap();
        let (key, chain) = lingong_protocol::fixture::Hierarchy::new(7).node(&region);
        let home = Home::new(Some(dir.join("v")));
        crate::station::init(&home, "测试村", "522622101001", Vec::new(), None).unwrap();
        write_atomically(&home.key_path(), &key.seed()).unwrap();
        let mut station = Station::open(&home).unwrap();
        crate::services::certs::install(&mut station, &chain.to_json()).unwrap();
        station
    }

    /// `count` sample posts written and approved at `station` (the report counts approved
    /// posts only).
    fn approved_posts(station: &mut Station, count: usize) {
        crate::demo::sample_posts(station, count).unwrap();
        let queue = crate::services::review::queue(station, Some(count), None).unwrap();
        for row in queue.as_array().unwrap() {
            crate::services::review::decide(station, row["id"].as_str().unwrap(), true, None)
                .unwrap();
        }
    }

    /// A report walked in slices of 32 rows, letting go of the station between them, while
    /// another thread commits posts: the answer is `report`'s over one of the states the store
    /// went through (each computed right after its commit, under the write lock), and with no
    /// commit meanwhile it is the answer of the state the walk began in.
    #[test]
    fn a_report_walked_in_slices_while_posts_are_written_is_the_report_of_one_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut station = village(dir.path());
        approved_posts(&mut station, 300);
        let month = dates::format_date(today())[..7].to_string();
        let writes_file = station.home.store_path().join(crate::store::WRITES_FILE);
        let writes = || crate::http::live::write_count(&writes_file);
        let whole = |s: &Station| report(s, &month, None, false).unwrap();
        let station = Arc::new(RwLock::new(station));
        let sliced = || {
            report_in_slices(
                &station,
                writes,
                &month,
                None,
                false,
                Default::default(),
                |_| {},
            )
        };

        let quiet = whole(&station.read().unwrap());
        assert_eq!(quiet["posts"], 300, "{quiet}");
        assert_eq!(sliced().unwrap(), quiet);

        let mut states = vec![quiet];
        let walked = std::thread::scope(|scope| {
            let walking = scope.spawn(sliced);
            for _ in 0..6 {
                let mut s = station.write().unwrap();
                approved_posts(&mut s, 10);
                states.push(whole(&s));
            }
            walking.join().unwrap().unwrap()
        });
        assert!(
            states.contains(&walked),
            "{} posts counted, none of the states the store went through",
            walked["posts"]
        );
        assert_eq!(states.last().unwrap()["posts"], 360);
        assert_eq!(sliced().unwrap(), *states.last().unwrap());
    }
}
