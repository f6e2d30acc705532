//! What `lingong doctor` reads of the store: this node's own log (its length, its newest
//! change, and how many of its changes were signed after a given instant, i.e. since the last
//! completed sync with the parent), whether its key is revoked or forked, and the newest change
//! held from each configured peer, and a sample of the envelopes' sizes (for the store's room
//! against its records' bytes). A read only; the rest of the doctor (files, certificate,
//! disk, peers, clock) is in `crate::doctor`, which asks the daemon for this when one runs and
//! opens the store itself otherwise.

use crate::error::Result;
use crate::station::Station;
use crate::store::SledStore;
use lingong_protocol::dates;
use lingong_protocol::envelope::EnvelopeId;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::store::Store;
use serde_json::{Value, json};

/// Envelopes read for the sample of their sizes: enough for a mean within a few per cent, few
/// enough to read in milliseconds.
pub const ENVELOPE_SAMPLE: usize = 4096;

/// The facts through a running daemon's station (`Request::DoctorStore`).
pub fn facts(station: &Station, since_ms: Option<i64>, peers: &[String]) -> Result<Value> {
    store_facts(&station.store, &station.key.public(), since_ms, peers)
}

/// The facts from an open store: `me` is this node's key, `since_ms` the instant after which
/// its own changes count as not yet sent up (`null` when unknown), `peers` the node ids
/// (`12D3KooW…`) of the configured peers.
///
/// `{"envelopes", "own_changes", "own_newest", "own_since": n|null, "revoked": bool,
/// "fork_seq": n|null, "peers": [{"node_id", "newest_change": time|null}],
/// "envelope_sample": {"envelopes", "bytes"}}` (the first [`ENVELOPE_SAMPLE`] envelopes in id
/// order).
pub fn store_facts(
    store: &SledStore,
    me: &PublicKey,
    since_ms: Option<i64>,
    peers: &[String],
) -> Result<Value> {
    let log = store.author_log(me)?;
    let timestamp = |id: &EnvelopeId| -> Result<Option<i64>> {
        Ok(store.envelope(id)?.map(|e| e.header.timestamp_ms))
    };
    let own_newest = match log.last() {
        Some((_, id)) => timestamp(id)?,
        None => None,
    };
    // Newest first, until a change signed at or before `since`.
    let own_since = match since_ms {
        Some(since) => {
            let mut n = 0u64;
            for (_, id) in log.iter().rev() {
                match timestamp(id)? {
                    Some(t) if t <= since => break,
                    _ => n += 1,
                }
            }
            Some(n)
        }
        None => None,
    };
    let (sampled, sampled_bytes) = store.envelope_size_sample(ENVELOPE_SAMPLE)?;
    let mut peer_rows = Vec::new();
    for node_id in peers {
        let newest = match PublicKey::from_node_id(node_id) {
            Some(key) => {
                let log = store.author_log(&key)?;
                match log.last() {
                    Some((_, id)) => timestamp(id)?,
                    None => None,
                }
            }
            None => None,
        };
        peer_rows.push(json!({
            "node_id": node_id,
            "newest_change": newest.map(dates::rfc3339),
        }));
    }
    Ok(json!({
        "envelopes": store.envelope_count()?,
        "own_changes": log.len(),
        "own_newest": own_newest.map(dates::rfc3339),
        "own_since": own_since,
        "revoked": store.revocation(me)?.is_some(),
        "fork_seq": store.fork_point(me)?,
        "peers": peer_rows,
        "envelope_sample": {
            "envelopes": sampled,
            "bytes": sampled_bytes,
        },
    }))
}
