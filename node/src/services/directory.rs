//! The directory of markets and stations (名录): this station's own entry, and the entries it
//! holds (its subtree, its county, its ancestors), each with when its node was last heard of.

use crate::error::Result;
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::schema::{line, paragraph};
use lingong_protocol::store::{RecordState, Store};
use serde_json::{Value, json};

/// This node's own directory entry, if it made one.
fn own_entry(station: &Station) -> Result<Option<RecordState>> {
    let me = station.key.public();
    let prefix = index::prefix(
        RecordKind::Directory,
        Some((Field::Region, &station.region.to_string(), true)),
    );
    for state in station.store.list(prefix, None) {
        let state = state?;
        if state.creator == me {
            return Ok(Some(state));
        }
    }
    Ok(None)
}

/// `directory set`: creates or updates this station's entry.
pub fn set(
    station: &mut Station,
    address: Option<String>,
    hours: Option<String>,
    hotline: Option<String>,
    services: Option<String>,
) -> Result<Value> {
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
        ("address", &address, 200),
        ("hours", &hours, 100),
        ("hotline", &hotline, 30),
    ] {
        if let Some(v) = value {
            edits.push((name, FieldValue::Text(line(name, v, 0, max)?)));
        }
    }
    if let Some(s) = &services {
        let list = s
            .split([',', '，', '、'])
            .map(|x| paragraph("services", x, 0, 100))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        edits.push((
            "services",
            FieldValue::List(lingong_protocol::schema::distinct(list)),
        ));
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

/// `directory list`: every entry held, by region.
pub fn list(station: &Station) -> Result<Value> {
    let mut rows = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Directory, None), None)
    {
        let state = state?;
        let v = &state.view;
        let last_seen = station.store.author(&state.creator)?.and_then(|a| {
            station
                .store
                .envelope_at(&a.key, a.max_seq)
                .ok()
                .flatten()
                .and_then(|id| station.store.envelope(&id).ok().flatten())
        });
        rows.push(json!({
            "node_id": state.creator.node_id(),
            "name": v.get("name"),
            "region": state.region.to_string(),
            "level": state.region.level().as_str(),
            "address": v.get("address"),
            "hours": v.get("hours"),
            "hotline": v.get("hotline"),
            "services": v.get("services"),
            "last_seen": dates::rfc3339(last_seen.map(|e| e.header.timestamp_ms).unwrap_or(state.updated_ms)),
        }));
    }
    rows.sort_by(|a, b| a["region"].as_str().cmp(&b["region"].as_str()));
    Ok(Value::Array(rows))
}
