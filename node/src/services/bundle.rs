//! USB bundles: signed changes carried on a stick where no link exists.
//!
//! A bundle file is `LINGONG-BUNDLE/1\n` followed by envelopes in wire form, each prefixed by
//! its length (u32 big-endian); the format and its decoder are `lingong_protocol::bundle`
//! (fuzzed with the other decoders of untrusted bytes). Export takes what this node holds that
//! the target's scope wants (headers only where the target may hold only headers), most urgent
//! kinds first; import hands every envelope to the one accept path, in batches, exactly like a
//! sync session.
//!
//! Each export and import that succeeds is remembered in `last_bundle.json` in the node's home
//! (mode 0600, written atomically): when, which file, how many changes, and for an export the
//! node it was made for. The sync-state page and `/api/sync` show it ([`last`]).

use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::station::{Station, now_ms};
use lingong_protocol::bundle::{self, BundleError, MAGIC};
use lingong_protocol::dates;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::scope::{Scope, Want};
use lingong_protocol::store::Store;
use serde_json::{Value, json};

/// Envelopes accepted per atomic batch on import.
const IMPORT_BATCH: usize = 500;

/// The file in the node's home remembering the last bundle exported and imported.
pub const LAST_BUNDLE_FILE: &str = "last_bundle.json";

fn last_path(station: &Station) -> std::path::PathBuf {
    station.home.dir.join(LAST_BUNDLE_FILE)
}

/// The last bundle exported and imported here: `{"export": {...}|null, "import": {...}|null,
/// "last": the later of the two}`, each with `at` (RFC 3339, and `at_ms`), `file` and
/// `changes`.
pub fn last(station: &Station) -> Value {
    let held: Value = std::fs::read(last_path(station))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let export = held.get("export").cloned().unwrap_or(Value::Null);
    let import = held.get("import").cloned().unwrap_or(Value::Null);
    // The later by the millisecond (`at` is to the second); a tie goes to the import.
    let ms = |v: &Value| v["at_ms"].as_i64();
    let last = match (ms(&export), ms(&import)) {
        (Some(e), Some(i)) if e > i => json!({"direction": "export", "at": export["at"]}),
        (_, Some(_)) => json!({"direction": "import", "at": import["at"]}),
        (Some(_), None) => json!({"direction": "export", "at": export["at"]}),
        (None, None) => Value::Null,
    };
    json!({ "export": export, "import": import, "last": last })
}

/// Remembers a bundle exported or imported now. The bundle itself is already written or
/// accepted, so a failure here is logged, not returned.
fn remember(station: &Station, direction: &str, mut info: Value) {
    let path = last_path(station);
    let mut held: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let now = now_ms();
    info["at"] = json!(dates::rfc3339(now));
    info["at_ms"] = json!(now);
    held[direction] = info;
    let bytes = serde_json::to_vec_pretty(&held).unwrap_or_default();
    if let Err(e) = write_atomically(&path, &bytes) {
        tracing::warn!("cannot record the last bundle in {}: {e}", path.display());
    }
}

/// Writes a bundle for `for_node` (a node id; its scope is read from its certificate record
/// held here), or of everything this node holds.
pub fn export(station: &Station, out: &str, for_node: Option<&str>) -> Result<Value> {
    let me = station.scope();
    let target = match for_node {
        Some(id) => {
            let key = PublicKey::from_node_id(id).ok_or_else(|| {
                NodeError::usage(
                    "--for",
                    "must be a node id like 12D3KooW…",
                    "必须是形如 12D3KooW… 的节点编号",
                )
            })?;
            let info = station
                .store
                .author(&key)?
                .ok_or_else(|| NodeError::NotFound {
                    what: "node",
                    id: id.to_string(),
                })?;
            Some(Scope::new(info.region()))
        }
        None => None,
    };
    let mut items = station.store.items()?;
    items.sort_by_key(|m| (m.kind.send_priority(), m.timestamp_ms));
    let mut bytes = MAGIC.to_vec();
    let mut count = 0usize;
    for m in items {
        let want = match &target {
            Some(t) => me.share_with(t, m.kind, &m.region, &m.reach),
            None => Want::Full,
        };
        if want == Want::Nothing {
            continue;
        }
        let Some(env) = station.store.envelope(&m.id)? else {
            continue;
        };
        let wire = if want == Want::Header {
            env.header_only().to_bytes()
        } else {
            env.to_bytes()
        };
        bundle::push(&mut bytes, &wire);
        count += 1;
    }
    write_atomically(std::path::Path::new(out), &bytes)?;
    remember(
        station,
        "export",
        json!({ "file": out, "changes": count, "bytes": bytes.len(), "for": for_node }),
    );
    Ok(json!({ "changes": count, "bytes": bytes.len() }))
}

/// Accepts every envelope of a bundle file.
pub fn import(station: &mut Station, file: &str) -> Result<Value> {
    let raw = std::fs::read(file).map_err(|e| NodeError::io(file, e))?;
    let envelopes = bundle::parse(&raw).map_err(|e| match e {
        BundleError::WrongHeader => NodeError::usage(
            "FILE",
            "is not a lingong bundle (wrong header)",
            "不是 lingong 数据包（文件头不对）",
        ),
        BundleError::Damaged { at } => NodeError::usage(
            "FILE",
            format!("the bundle is damaged at byte {at}"),
            format!("数据包在第 {at} 字节处损坏"),
        ),
        BundleError::Envelope { error, .. } => NodeError::from(error),
    })?;
    let me = station.scope();
    let mut wanted = Vec::with_capacity(envelopes.len());
    for env in envelopes {
        match me.wants(env.header.kind, &env.header.region, &env.header.reach) {
            Want::Nothing => {}
            Want::Header => wanted.push(env.header_only()),
            Want::Full => wanted.push(env),
        }
    }
    // Most urgent kinds first, then by time, and each author's changes in log order: a bundle
    // whose import is cut between two batches (a crash, a pulled stick) leaves every author's
    // log without a gap. Changes signed within one millisecond (a `sample` or a CSV import)
    // are otherwise in the order of their ids (tests/tests/crash_kills.rs found that gap).
    wanted.sort_by_key(|e| {
        let h = &e.header;
        (h.kind.send_priority(), h.timestamp_ms, h.author, h.seq)
    });
    let (mut new, mut duplicate, mut deferred) = (0, 0, 0);
    let mut rejected = std::collections::BTreeMap::<String, usize>::new();
    for chunk in wanted.chunks(IMPORT_BATCH) {
        let report = station.accept_envelopes(chunk)?;
        new += report.new;
        duplicate += report.duplicate;
        deferred += report.deferred;
        for (k, v) in report.rejected {
            *rejected.entry(k).or_default() += v;
        }
    }
    remember(
        station,
        "import",
        json!({ "file": file, "changes": new, "duplicate": duplicate, "refused": rejected.values().sum::<usize>() }),
    );
    if !rejected.is_empty() {
        return Err(NodeError::BundleRefused {
            kept: new,
            refused: rejected,
        });
    }
    Ok(
        json!({ "changes": new, "duplicate": duplicate, "deferred": deferred, "rejected": rejected }),
    )
}
