//! USB bundles: signed changes carried on a stick where no link exists.
//!
//! A bundle file is `LINGONG-BUNDLE/1\n` followed by envelopes in wire form, each prefixed by
//! its length (u32 big-endian); the format and its decoder are `lingong_protocol::bundle`
//! (fuzzed with the other decoders of untrusted bytes). Export takes what this node holds that
//! the target's scope wants (headers only where the target may hold only headers), most urgent
//! kinds first; import hands every envelope to the one accept path, in batches, exactly like a
//! sync session.
//!
//! Personal data travels sealed (SECURITY.md §7): an export that would carry a worker or an
//! assistance record in full (names, phones, the help a person got) is refused unless it names
//! its receiver with `--to NODE_ID` (or a certificate file of that node); the file is then
//! sealed to that node's key (`lingong_protocol::bundle::seal`), so a lost stick reveals
//! nothing. Import opens a sealed bundle with this node's key (one sealed to another node is
//! refused, naming it) and then verifies every envelope exactly as a plain bundle's.
//!
//! Each export and import that succeeds is remembered in `last_bundle.json` in the node's home
//! (mode 0600, written atomically): when, which file, how many changes, and for an export the
//! node it was made for. The sync-state page and `/api/sync` show it ([`last`]).

use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::station::{Station, now_ms};
use lingong_protocol::bundle::{self, BundleError, MAGIC};
use lingong_protocol::cert::CertChain;
use lingong_protocol::dates;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::RecordKind;
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

/// Kinds whose records in full carry personal data: a bundle holding one is sealed.
pub const PERSONAL_KINDS: &[RecordKind] = &[RecordKind::Worker, RecordKind::Assistance];

/// The receiver a bundle is sealed to: `--to` as a node id (`12D3KooW…`), or the path of a
/// certificate chain file of that node (as `cert issue --out` writes it), which must verify to
/// this node's province root.
fn receiver(station: &Station, to: &str) -> Result<PublicKey> {
    if let Some(key) = PublicKey::from_node_id(to) {
        return Ok(key);
    }
    let bad = || {
        NodeError::usage(
            "--to",
            "must be the receiving node's id (12D3KooW…) or a certificate file of that node",
            "必须是接收节点的编号（12D3KooW…）或该节点的证书文件",
        )
    };
    let path = std::path::Path::new(to);
    if !path.is_file() {
        return Err(bad());
    }
    let text = std::fs::read(path).map_err(|e| NodeError::io(to, e))?;
    let value: Value = serde_json::from_slice(&text).map_err(|_| bad())?;
    let chain = CertChain::from_json(&value).map_err(|_| bad())?;
    let root = station.accept_config()?.root;
    let revoked = |k: &PublicKey| matches!(station.store.revocation(k), Ok(Some(_)));
    chain
        .verify(&root, now_ms().div_euclid(1000), &revoked)
        .map_err(|e| {
            NodeError::usage(
                "--to",
                format!("the certificate does not verify: {e}"),
                format!("证书验证未通过：{e}"),
            )
        })?;
    Ok(chain.leaf().body.subject)
}

/// Writes a bundle for `for_node` (a node id; its scope is read from its certificate record
/// held here), or of everything this node holds; sealed to `to` when given. Refused, with
/// nothing written, when it would carry personal data ([`PERSONAL_KINDS`] in full) and `to`
/// is not given.
pub fn export(
    station: &Station,
    out: &str,
    for_node: Option<&str>,
    to: Option<&str>,
) -> Result<Value> {
    let receiver = to.map(|t| receiver(station, t)).transpose()?;
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
    let mut personal = 0usize;
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
            if env.payload.is_some() && PERSONAL_KINDS.contains(&m.kind) {
                personal += 1;
            }
            env.to_bytes()
        };
        bundle::push(&mut bytes, &wire);
        count += 1;
    }
    let bytes = match receiver {
        Some(key) => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| {
                NodeError::io(out, std::io::Error::other(format!("no random bytes: {e}")))
            })?;
            bundle::seal(&bytes, &key, seed).map_err(|_| {
                NodeError::usage("--to", "this key cannot be sealed to", "无法用此密钥加密")
            })?
        }
        None if personal > 0 => {
            return Err(NodeError::usage(
                "--to",
                format!(
                    "this bundle would carry personal data ({personal} worker or assistance changes in full); name the node that will import it with --to NODE_ID so the file is sealed to its key"
                ),
                format!(
                    "此数据包含有个人信息（{personal} 条劳动者或帮扶记录的完整内容）；请用 --to 节点编号 指定导入的节点，数据包将用其密钥加密"
                ),
            ));
        }
        None => bytes,
    };
    write_atomically(std::path::Path::new(out), &bytes)?;
    let to_id = receiver.map(|k| k.node_id());
    remember(
        station,
        "export",
        json!({ "file": out, "changes": count, "bytes": bytes.len(), "for": for_node, "to": to_id }),
    );
    Ok(json!({ "changes": count, "bytes": bytes.len(), "sealed_to": to_id }))
}

/// Accepts every envelope of a bundle file.
pub fn import(station: &mut Station, file: &str) -> Result<Value> {
    let raw = std::fs::read(file).map_err(|e| NodeError::io(file, e))?;
    let envelopes = bundle::parse_for(&raw, &station.key).map_err(|e| match e {
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
        BundleError::NotForThisNode { receiver } => NodeError::usage(
            "FILE",
            format!(
                "the bundle is sealed to another node ({}); only that node can open it",
                receiver.node_id()
            ),
            format!(
                "数据包已加密给另一个节点（{}），只有该节点能打开",
                receiver.node_id()
            ),
        ),
        BundleError::Unsealable | BundleError::BadReceiver => NodeError::usage(
            "FILE",
            "the sealed bundle does not open with this node's key: it is damaged or forged",
            "加密数据包无法用本节点的密钥打开：文件已损坏或被伪造",
        ),
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
