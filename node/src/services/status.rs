//! `status`: what this node is, what it holds (from the store's counters, never a scan), and
//! the forks it holds evidence of against keys not yet revoked.

use crate::error::Result;
use crate::station::Station;
use lingong_protocol::store::Store;
use serde_json::{Value, json};

/// The `status --json` value (the daemon adds its live peers and listen addresses).
pub fn status(station: &Station) -> Result<Value> {
    Ok(json!({
        "node_id": station.key.public().node_id(),
        "name": station.config.name,
        "region": station.region.to_string(),
        "level": station.region.level().as_str(),
        "certified": station.chain.is_some(),
        "records": station.record_counts()?,
        "store_bytes": station.store.size_on_disk(),
        "peers": station.config.peers.iter().map(|p| json!({"peer": p, "connected": false, "last_sync": null, "clock_offset_s": null})).collect::<Vec<_>>(),
        "forks": open_forks(station)?,
        // Signing refused until a sync with the parent: after a restore, after a repair.
        "catching_up": crate::backup::is_catching_up(&station.home),
        "repair_pending": crate::repair::check_writable(&station.home).is_err(),
        "daemon": false,
    }))
}

/// Forks held as evidence against keys not yet revoked: shown until an ancestor revokes the
/// forked key (and certifies a new one).
pub fn open_forks(station: &Station) -> Result<Vec<Value>> {
    let mut rows: Vec<Value> = Vec::new();
    for ev in station.store.evidence()? {
        if ev.kind != "fork" || station.store.revocation(&ev.author)?.is_some() {
            continue;
        }
        let node = ev.author.node_id();
        if rows.iter().any(|r| r["node_id"] == node.as_str()) {
            continue;
        }
        let info = station.store.author(&ev.author)?;
        rows.push(json!({
            "node_id": node,
            "name": info.as_ref().map(|a| a.name().to_string()),
            "region": info.as_ref().map(|a| a.region().to_string()),
            "fork_seq": station.store.fork_point(&ev.author)?,
            "detail": ev.detail,
        }));
    }
    Ok(rows)
}
