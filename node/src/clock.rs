//! The node's clock against its parent's: no signing while it is off by more than the
//! back-dating tolerance.
//!
//! Every sync session exchanges the two ends' clocks (`sync::Session::set_clock`), and the
//! network loop (`crate::net`) remembers the peer's offset. The parent's time is the reference
//! (SECURITY.md "Clocks"): when a session with the parent measures this node's clock off by
//! more than [`TOLERANCE_MS`] (`accept::MAX_BACKDATE_MS`, one hour) either way, the loop writes
//! the marker [`MARKER`] into the home, and while it is there [`Station::write`] refuses every
//! write that signs with `NodeError::ClockOff` (exit 1, code `clock-off`), naming the parent and
//! the offset. A later measurement within the tolerance (the clock was fixed, the daemon or
//! `lingong sync` reached the parent again) removes it. The marker outlives the process, so a
//! command run without the daemon, or a daemon restarted with the clock still wrong, refuses
//! too; a node that never reached its parent has no measurement and signs.
//!
//! Why refuse both ways: a change dated ahead waits at its author until the receivers' clocks
//! reach it (up to a day, then it is refused as from the future), and once the clock is set
//! right every later change of the node would be back-dated against it (`accept` refuses a
//! change dated more than the tolerance before its predecessor in the author's log); a clock
//! behind dates changes in the past.
//!
//! [`Station::write`]: crate::station::Station::write

use crate::backup;
use crate::error::{NodeError, Result};
use crate::home::{Home, write_atomically};
use crate::station::{Station, now_ms};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::region::RegionCode;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The marker file in the home while the last measurement against the parent was off by more
/// than [`TOLERANCE_MS`].
pub const MARKER: &str = "clock-off";

/// How far this node's clock may be from its parent's while it signs: the accept path's
/// back-dating tolerance.
pub const TOLERANCE_MS: i64 = lingong_protocol::accept::MAX_BACKDATE_MS;

fn marker_path(home: &Home) -> PathBuf {
    home.dir.join(MARKER)
}

/// Refuses a write that would sign while the clock is off against the parent's.
pub fn check_writable(home: &Home) -> Result<()> {
    let path = marker_path(home);
    if !path.exists() {
        return Ok(());
    }
    let note = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or(Value::Null);
    Err(NodeError::ClockOff {
        parent: note["parent"]
            .as_str()
            .unwrap_or("the parent node / 上级节点")
            .to_string(),
        offset_s: note["offset_s"].as_i64().unwrap_or(0),
    })
}

/// Called by the network loop with the clock offset (the peer's clock minus this node's) a
/// session with `peer`, certified for `peer_region`, measured: when `peer` is this node's
/// parent, sets or clears the marker. Returns whether signing is now refused.
pub fn note_offset(
    station: &Station,
    peer: &PublicKey,
    peer_region: &RegionCode,
    offset_ms: i64,
) -> bool {
    let path = marker_path(&station.home);
    // The province's clock is the reference: it has no parent to compare with.
    if station.region.parent().is_none() || !backup::is_parent(station, peer, peer_region) {
        return path.exists();
    }
    let off = offset_ms.abs() > TOLERANCE_MS;
    let was_off = path.exists();
    if off {
        let note = json!({
            "parent": peer.node_id(),
            "offset_s": offset_ms / 1000,
            "measured": lingong_protocol::dates::rfc3339(now_ms()),
        });
        if let Err(e) = write_atomically(&path, note.to_string().as_bytes()) {
            tracing::warn!("could not write {}: {e}", path.display());
        }
        if !was_off {
            tracing::error!(
                parent = %peer.node_id(),
                offset_s = offset_ms / 1000,
                "this node's clock is {:.1} hours {} its parent's, more than the hour allowed: \
                 it signs nothing until the clock is set right and a sync with the parent \
                 measures it again / 本节点时钟比上级{}{:.1} 小时，超过允许的一小时：\
                 校准时钟并与上级同步之前不签署任何内容",
                offset_ms.abs() as f64 / 3_600_000.0,
                if offset_ms > 0 { "behind" } else { "ahead of" },
                if offset_ms > 0 { "慢" } else { "快" },
                offset_ms.abs() as f64 / 3_600_000.0,
            );
        }
        return true;
    }
    if was_off {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(
                parent = %peer.node_id(),
                offset_s = offset_ms / 1000,
                "this node's clock is within an hour of its parent's again: it signs again / \
                 本节点时钟与上级相差已在一小时内，恢复写入"
            ),
            Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
        }
    }
    false
}
