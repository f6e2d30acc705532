//! The directory of markets and stations (名录): this station's own entry, and one row per
//! certified node this station knows of, kept current from certificates.
//!
//! A row comes from a certificate: every author whose certificate record is held here
//! (`Store::authors`), and every chain this node issued itself (`cert issue` notes it locally,
//! so a station certified here shows at once, before its own certificate record arrives). The
//! node's directory entry (address, opening hours, hotline, services, 服务制度), if one is
//! held, fills in the rest. `last_seen` is the time of the newest signed change of that node
//! held here (none yet: `null`). `state` is `revoked` when a revocation of the node, or of a
//! certificate above it in its chain, is held; `expired` when its leaf certificate is past
//! `not_after`; `active` otherwise. Revoked and expired stations stay listed, marked.
//!
//! One region, one current station: a station replaced by a certified successor (a new key
//! whose certificate names it, of the same region: a dead mini PC's) is not a row of its own.
//! It is listed under its successor's row in `predecessors`, newest first, each `replaced`
//! (its revocation, `replaced_by`, its own `last_seen`); the successor's row shows the station's
//! directory entry (its own, or else the newest predecessor's) and the newest `last_seen` of
//! the whole line. `directory set` at a successor edits the entry its predecessor made.
//!
//! `directory export` writes the same rows as CSV (UTF-8 with a byte-order mark, so Excel reads
//! the Chinese; cells that a spreadsheet would run as a formula are prefixed with `'`) or as a
//! printable, self-contained HTML page (no external fonts, scripts or images), mode 0600.

use super::region_arg;
use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::accept::{MAX_SUCCESSION, predecessor_of, succeeds};
use lingong_protocol::author::Target;
use lingong_protocol::cert::CertChain;
use lingong_protocol::dates;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::schema::{line, paragraph};
use lingong_protocol::store::{AuthorInfo, RecordState, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// This node's own directory entry, if it made one, or else the entry of a station it is the
/// certified successor of (the same station's entry, made under the old key).
fn own_entry(station: &Station) -> Result<Option<RecordState>> {
    let me = station.key.public();
    let prefix = index::prefix(
        RecordKind::Directory,
        Some((Field::Region, &station.region.to_string(), true)),
    );
    let my_info = station.store.author(&me)?;
    let mut inherited: Option<RecordState> = None;
    for state in station.store.list(prefix, None) {
        let state = state?;
        if state.creator == me {
            return Ok(Some(state));
        }
        if let Some(info) = &my_info
            && succeeds(&station.store, info, &state.creator, &state.region)?
            && inherited
                .as_ref()
                .is_none_or(|i| i.updated_ms < state.updated_ms)
        {
            inherited = Some(state);
        }
    }
    Ok(inherited)
}

/// What `directory set` changes; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct EntryFields {
    pub address: Option<String>,
    pub hours: Option<String>,
    pub hotline: Option<String>,
    pub services: Option<String>,
    /// The station's service rules (服务制度): free text, line breaks kept.
    pub rules: Option<String>,
}

/// `directory set`: creates or updates this station's entry.
pub fn set(station: &mut Station, f: EntryFields) -> Result<Value> {
    let now = now_ms();
    let mine = own_entry(station)?;
    let mut edits = Vec::new();
    if mine.is_none() {
        edits.push(("name", FieldValue::Text(station.config.name.clone())));
        edits.push((
            "level",
            FieldValue::Text(station.region.level().as_str().into()),
        ));
        edits.push(("region", FieldValue::Text(station.region.to_string())));
    }
    for (name, value, max) in [
        ("address", &f.address, 200),
        ("hours", &f.hours, 100),
        ("hotline", &f.hotline, 30),
    ] {
        if let Some(v) = value {
            edits.push((name, FieldValue::Text(line(name, v, 0, max)?)));
        }
    }
    if let Some(s) = &f.services {
        let list = s
            .split([',', '，', '、'])
            .map(|x| paragraph("services", x, 0, 100))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        edits.push((
            "services",
            FieldValue::List(lingong_protocol::schema::distinct(list)),
        ));
    }
    if let Some(r) = &f.rules {
        edits.push(("rules", FieldValue::Text(paragraph("rules", r, 0, 4000)?)));
    }
    edits.push(("updated_at", FieldValue::Text(dates::rfc3339(now))));
    let target = match &mine {
        Some(s) => Target::Edit(s.id()),
        None => Target::Create {
            kind: RecordKind::Directory,
            reach: None,
        },
    };
    let env = station.write(|author, staged| Ok(author.write(staged, target, &edits, now)?))?;
    Ok(json!({ "id": env.header.record.to_hex() }))
}

/// The state of a certified node as seen here.
fn state_of(station: &Station, chain: &CertChain, now_s: i64) -> Result<(&'static str, Value)> {
    for (i, cert) in chain.certs().iter().enumerate() {
        if let Some(r) = station.store.revocation(&cert.body.subject)? {
            let revocation = json!({
                "at": dates::rfc3339(r.at_ms),
                "reason": r.reason,
                "by": r.by.node_id(),
                // A revocation above the node (its county, say) ends its chain too.
                "of": if i == 0 { Value::Null } else { json!(cert.body.subject.node_id()) },
            });
            return Ok(("revoked", revocation));
        }
    }
    if now_s > chain.leaf().body.not_after {
        return Ok(("expired", Value::Null));
    }
    Ok(("active", Value::Null))
}

/// The time of the newest change of `author` held here.
fn last_seen(station: &Station, author: &AuthorInfo) -> Result<Option<i64>> {
    let Some(id) = station.store.envelope_at(&author.key, author.max_seq)? else {
        return Ok(None);
    };
    Ok(station.store.envelope(&id)?.map(|e| e.header.timestamp_ms))
}

/// One row per certified node known here, by region then name; inside `region` if given.
fn rows(station: &Station, region: Option<RegionCode>) -> Result<Vec<Value>> {
    let now = now_ms();
    // The newest directory entry of each node.
    let mut entries: BTreeMap<PublicKey, RecordState> = BTreeMap::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Directory, None), None)
    {
        let state = state?;
        let newer = entries
            .get(&state.creator)
            .is_none_or(|e| e.updated_ms < state.updated_ms);
        if newer {
            entries.insert(state.creator, state);
        }
    }
    let mut nodes: BTreeMap<PublicKey, (CertChain, Option<AuthorInfo>)> = BTreeMap::new();
    for a in station.store.authors()? {
        nodes.insert(a.key, (a.chain.clone(), Some(a)));
    }
    for chain in station.store.issued()? {
        let key = chain.leaf().body.subject;
        match nodes.get(&key) {
            Some((held, _)) if held.leaf().body.not_after >= chain.leaf().body.not_after => {}
            Some((_, author)) => {
                let author = author.clone();
                nodes.insert(key, (chain, author));
            }
            None => {
                nodes.insert(key, (chain, None));
            }
        }
    }
    // Who replaced whom: a node whose certificate names a predecessor known here, of its own
    // region, is that predecessor's successor.
    let mut replaced_by: BTreeMap<PublicKey, PublicKey> = BTreeMap::new();
    for (key, (chain, author)) in &nodes {
        let named = chain
            .leaf()
            .predecessor
            .or_else(|| author.as_ref().and_then(predecessor_of));
        if let Some(p) = named
            && p != *key
            && nodes
                .get(&p)
                .is_some_and(|(pc, _)| pc.leaf().body.region == chain.leaf().body.region)
        {
            replaced_by.insert(p, *key);
        }
    }
    let predecessor: BTreeMap<PublicKey, PublicKey> =
        replaced_by.iter().map(|(old, new)| (*new, *old)).collect();
    let mut out = Vec::new();
    for (key, (chain, author)) in &nodes {
        if replaced_by.contains_key(key) {
            continue;
        }
        let leaf = chain.leaf();
        let node_region = leaf.body.region;
        if region.is_some_and(|r| !r.contains(&node_region)) {
            continue;
        }
        let (state, revocation) = state_of(station, chain, now / 1000)?;
        let mut seen = match author {
            Some(a) => last_seen(station, a)?,
            None => None,
        };
        // The line of stations this one replaced, newest first.
        let mut predecessors = Vec::new();
        let mut entry = entries.get(key);
        let mut cur = *key;
        while let Some(old) = predecessor.get(&cur).copied() {
            if old == *key || predecessors.len() >= MAX_SUCCESSION {
                break;
            }
            let (old_chain, old_author) = &nodes[&old];
            let old_seen = match old_author {
                Some(a) => last_seen(station, a)?,
                None => None,
            };
            seen = seen.max(old_seen);
            entry = entry.or_else(|| entries.get(&old));
            let (_, old_revocation) = state_of(station, old_chain, now / 1000)?;
            predecessors.push(json!({
                "node_id": old.node_id(),
                "name": old_chain.leaf().name,
                "state": "replaced",
                "replaced_by": cur.node_id(),
                "last_seen": old_seen.map(dates::rfc3339),
                "revocation": old_revocation,
            }));
            cur = old;
        }
        let field = |name: &str| entry.and_then(|e| e.view.get(name).cloned());
        let issuer = chain.certs().get(1).map(|c| c.name.clone());
        out.push(json!({
            "node_id": key.node_id(),
            "name": field("name").unwrap_or_else(|| json!(leaf.name)),
            "region": node_region.to_string(),
            "level": node_region.level().as_str(),
            "address": field("address"),
            "hours": field("hours"),
            "hotline": field("hotline"),
            "services": field("services").unwrap_or_else(|| json!([])),
            "rules": field("rules"),
            "last_seen": seen.map(dates::rfc3339),
            "state": state,
            "valid_until": dates::rfc3339(leaf.body.not_after * 1000),
            "certified_by": issuer,
            "revocation": revocation,
            "entry_updated_at": field("updated_at"),
            "predecessors": predecessors,
        }));
    }
    out.sort_by(|a, b| {
        (a["region"].as_str(), a["name"].as_str()).cmp(&(b["region"].as_str(), b["name"].as_str()))
    });
    Ok(out)
}

/// `directory list [--region CODE]`: every certified node known here (inside CODE if given),
/// each with its directory entry, when it was last heard of, and its state.
pub fn list(station: &Station, region: Option<&str>) -> Result<Value> {
    let region = region.map(|r| region_arg("region", r)).transpose()?;
    Ok(Value::Array(rows(station, region)?))
}

/// The columns of the export: JSON key, Chinese heading.
const COLUMNS: [(&str, &str); 12] = [
    ("name", "名称"),
    ("region", "区划代码"),
    ("level", "层级"),
    ("address", "地址"),
    ("hours", "开放时间"),
    ("hotline", "服务电话"),
    ("services", "服务项目"),
    ("rules", "服务制度"),
    ("last_seen", "最近联系"),
    ("state", "状态"),
    ("valid_until", "证书有效期至"),
    ("node_id", "节点编号"),
];

fn level_zh(level: &str) -> &str {
    match level {
        "province" => "省",
        "city" => "市（州）",
        "county" => "县（市、区）",
        "township" => "乡镇（街道）",
        "village" => "村（社区）",
        other => other,
    }
}

fn state_zh(state: &str) -> &str {
    match state {
        "active" => "正常",
        "revoked" => "已吊销",
        "expired" => "证书已过期",
        "replaced" => "已由接替站点取代",
        other => other,
    }
}

/// A cell's text: lists joined with 、, absent as empty.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join("、"),
        other => other.to_string(),
    }
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `= + - @` (or
/// tab, carriage return) that a spreadsheet would run as a formula is defused with `'` (and a
/// leading `'` doubled, so the escape reads back exactly, as the other CSV exports do).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The directory as CSV: a byte-order mark, the header (the JSON keys, as scripts read them),
/// one line per row, CRLF line ends.
fn to_csv(rows: &[Value]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(
        &COLUMNS
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|(k, _)| csv_field(&text(&row[*k])))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The directory as one printable HTML page: Chinese headings, no external resources, one
/// section per station with its service rules in full.
fn to_html(rows: &[Value], station: &Station, now: i64) -> String {
    let mut h = String::new();
    let title = format!("{}零工市场（站点）名录", html_escape(&station.config.name));
    h.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{title}</title>\n"));
    h.push_str(
        "<style>\n\
         body{font-family:serif;margin:1.5cm;color:#000}\n\
         h1{font-size:20pt;text-align:center;margin-bottom:0.2em}\n\
         p.meta{text-align:center;font-size:10pt;margin-top:0}\n\
         table{border-collapse:collapse;width:100%;font-size:10pt}\n\
         th,td{border:1px solid #000;padding:3px 5px;vertical-align:top;text-align:left}\n\
         th{background:#eee}\n\
         tr{page-break-inside:avoid}\n\
         .revoked,.expired{color:#a00;font-weight:bold}\n\
         h2{font-size:13pt;margin-top:1.2em;page-break-after:avoid}\n\
         .rules{white-space:pre-wrap;border-left:3px solid #999;padding-left:8px;font-size:10pt}\n\
         @page{size:A4 landscape;margin:1.2cm}\n\
         </style>\n</head>\n<body>\n",
    );
    h.push_str(&format!("<h1>{title}</h1>\n"));
    h.push_str(&format!(
        "<p class=\"meta\">编制单位：{}（{}）　生成时间：{}　共 {} 个站点</p>\n",
        html_escape(&station.config.name),
        station.region,
        dates::rfc3339(now),
        rows.len()
    ));
    h.push_str("<table>\n<thead><tr><th>序号</th>");
    for (key, heading) in COLUMNS {
        if key != "rules" && key != "node_id" {
            h.push_str(&format!("<th>{heading}</th>"));
        }
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (i, row) in rows.iter().enumerate() {
        h.push_str(&format!("<tr><td>{}</td>", i + 1));
        for (key, _) in COLUMNS {
            let cell = match key {
                "rules" | "node_id" => continue,
                "level" => level_zh(row[key].as_str().unwrap_or_default()).to_string(),
                "state" => {
                    let s = row[key].as_str().unwrap_or_default();
                    h.push_str(&format!(
                        "<td class=\"{}\">{}</td>",
                        html_escape(s),
                        state_zh(s)
                    ));
                    continue;
                }
                _ => text(&row[key]),
            };
            h.push_str(&format!("<td>{}</td>", html_escape(&cell)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
    let with_rules: Vec<&Value> = rows
        .iter()
        .filter(|r| r["rules"].as_str().is_some_and(|s| !s.trim().is_empty()))
        .collect();
    if !with_rules.is_empty() {
        h.push_str("<h2 style=\"page-break-before:always\">服务制度</h2>\n");
        for row in with_rules {
            h.push_str(&format!(
                "<h2>{}（{}）</h2>\n<div class=\"rules\">{}</div>\n",
                html_escape(&text(&row["name"])),
                html_escape(&text(&row["region"])),
                html_escape(&text(&row["rules"]))
            ));
        }
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// `directory export --out FILE [--format csv|html] [--region CODE]`.
pub fn export(
    station: &Station,
    out: &str,
    format: Option<&str>,
    region: Option<&str>,
) -> Result<Value> {
    let format = format.unwrap_or("csv");
    if !["csv", "html"].contains(&format) {
        return Err(NodeError::usage(
            "format",
            "must be csv or html",
            "必须是 csv 或 html",
        ));
    }
    let region = region.map(|r| region_arg("region", r)).transpose()?;
    let rows = rows(station, region)?;
    let body = if format == "csv" {
        to_csv(&rows)
    } else {
        to_html(&rows, station, now_ms())
    };
    write_atomically(std::path::Path::new(out), body.as_bytes())?;
    Ok(json!({ "file": out, "rows": rows.len(), "format": format }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("贵阳市"), "贵阳市");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("说\"好\""), "\"说\"\"好\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("'引号"), "''引号");
        assert_eq!(csv_field("第一条\n第二条"), "\"第一条\n第二条\"");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<script>&\"'"),
            "&lt;script&gt;&amp;&quot;&#39;"
        );
    }
}
