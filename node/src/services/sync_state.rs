//! What of this node's own signed changes may still wait to go up: the changes it signed after
//! a given instant (the web console's sync-state page passes the last completed session with a
//! parent, which only the running daemon knows). Read from the node's own log, newest first,
//! so the cost is the number of changes counted, not the size of the store.
//!
//! Changes relayed from stations below are not counted: this node did not sign them, and a
//! relay keeps no record of which of them its parent already holds.
//!
//! The answer also carries `last_bundle`: the last USB bundle exported and imported here
//! ([`super::bundle::last`]), the other way changes go up where no link exists.

use crate::error::{NodeError, Result};
use crate::station::Station;
use lingong_protocol::dates;
use lingong_protocol::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// This node's own changes signed after `since` (RFC 3339), by kind, with the oldest one's
/// time; without `since`, only how many changes the node has signed in all (`waiting` null:
/// not known).
pub fn waiting_up(station: &Station, since: Option<&str>) -> Result<Value> {
    let since_ms = since
        .map(|s| {
            dates::parse_rfc3339(s).ok_or_else(|| {
                NodeError::usage(
                    "since",
                    "must be a time like 2026-12-06T08:30:00Z",
                    "必须是形如 2026-12-06T08:30:00Z 的时间",
                )
            })
        })
        .transpose()?;
    let me = station.key.public();
    let signed = station.store.author(&me)?.map_or(0, |a| a.envelopes);
    let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut waiting = 0u64;
    let mut oldest = None;
    if let Some(since) = since_ms {
        for row in station.store.author_log_newest_first(&me) {
            let (_, id) = row?;
            let Some(env) = station.store.envelope(&id)? else {
                continue;
            };
            if env.header.timestamp_ms <= since {
                break;
            }
            waiting += 1;
            *by_kind.entry(env.header.kind.as_str()).or_default() += 1;
            oldest = Some(env.header.timestamp_ms);
        }
    }
    Ok(json!({
        "signed": signed,
        "since": since_ms.map(dates::rfc3339),
        "waiting": since_ms.map(|_| waiting),
        "by_kind": by_kind,
        "oldest": oldest.map(dates::rfc3339),
        "last_bundle": super::bundle::last(station),
    }))
}
