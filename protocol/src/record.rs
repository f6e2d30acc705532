//! Records: job posts, workers, directory entries, placements, complaints, assistance records,
//! certificates and revocations, and how their contents are built and read.
//!
//! Posts, workers, directory entries, placements and complaints are each their own Automerge
//! document whose root map holds the fields listed in [`fields`]; every edit is one Automerge
//! change, wrapped in a signed envelope. Certificates and revocations are control records whose
//! payload is canonical bytes rather than an Automerge change (PROTOCOL.md).
//!
//! The clear ID number of a worker never enters a record: only a masked form and a keyed,
//! memory-hard hash for de-duplication do ([`mask_id_number`], [`id_number_hash`]; see
//! [`crate::id_number`] and SECURITY.md).

use crate::canon::{Reader, Writer, sha256};
use crate::cert::CertChain;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The kinds of record, with their wire number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum RecordKind {
    Certificate = 0,
    Revocation = 1,
    Directory = 2,
    Post = 3,
    Worker = 4,
    Placement = 5,
    Complaint = 6,
    /// A fork proof ([`crate::evidence::ForkProof`]): not a document, never edited.
    Evidence = 7,
    /// An employer (用工主体): travels like a directory entry, where its posts can go.
    Employer = 8,
    /// An assistance record (困难帮扶台账): what a station did for a worker
    /// ([`crate::schema::Assistance`]); travels like the worker record it names.
    Assistance = 9,
    /// A sealed service report (成效表) of one region and period: figures, the commitment to
    /// the records counted, the child seals included ([`crate::schema::ReportSeal`]).
    #[serde(rename = "report-seal")]
    ReportSeal = 10,
    /// A rectification order (限期整改) to a station from a city or county above it
    /// ([`crate::schema::SupervisionOrder`]); travels like a revocation, around the ordered
    /// station.
    #[serde(rename = "supervision-order")]
    SupervisionOrder = 11,
}

impl RecordKind {
    /// Every kind, in wire-number order (numbers not in use are skipped).
    pub const ALL: [RecordKind; 12] = [
        RecordKind::Certificate,
        RecordKind::Revocation,
        RecordKind::Directory,
        RecordKind::Post,
        RecordKind::Worker,
        RecordKind::Placement,
        RecordKind::Complaint,
        RecordKind::Evidence,
        RecordKind::Employer,
        RecordKind::Assistance,
        RecordKind::ReportSeal,
        RecordKind::SupervisionOrder,
    ];

    /// The kind of a wire number: by value, so a number not in use (12 and above) is refused.
    pub fn from_u8(v: u8) -> Result<RecordKind> {
        RecordKind::ALL
            .iter()
            .copied()
            .find(|k| *k as u8 == v)
            .ok_or_else(|| {
                Error::invalid(
                    "header.kind",
                    "must be a kind in use in 0..=11",
                    "必须是 0 到 11 之间已使用的类型",
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Certificate => "certificate",
            RecordKind::Revocation => "revocation",
            RecordKind::Directory => "directory",
            RecordKind::Post => "post",
            RecordKind::Worker => "worker",
            RecordKind::Placement => "placement",
            RecordKind::Complaint => "complaint",
            RecordKind::Evidence => "evidence",
            RecordKind::Employer => "employer",
            RecordKind::Assistance => "assistance",
            RecordKind::ReportSeal => "report-seal",
            RecordKind::SupervisionOrder => "supervision-order",
        }
    }

    /// The kind's key in the counts a node reports (`status`, the sync page): plural (`posts`)
    /// but for the two mass nouns, `directory` and `evidence`.
    pub fn count_key(self) -> String {
        match self {
            RecordKind::Directory | RecordKind::Evidence => self.as_str().to_string(),
            other => format!("{}s", other.as_str()),
        }
    }

    /// The kind named `name`: its own name (`post`) or its key in counts (`posts`).
    pub fn named(name: &str) -> Option<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name || k.count_key() == name)
    }

    /// What a station clerk calls records of this kind.
    pub fn name_zh(self) -> &'static str {
        match self {
            RecordKind::Certificate => "证书",
            RecordKind::Revocation => "吊销",
            RecordKind::Directory => "名录条目",
            RecordKind::Post => "岗位",
            RecordKind::Worker => "劳动者",
            RecordKind::Placement => "上岗",
            RecordKind::Complaint => "投诉",
            RecordKind::Evidence => "分叉证据",
            RecordKind::Employer => "用工主体",
            RecordKind::Assistance => "帮扶记录",
            RecordKind::ReportSeal => "报表签章",
            RecordKind::SupervisionOrder => "整改通知",
        }
    }

    /// Order of sending on a thin link, lowest first: trust first (a change cannot be accepted
    /// before its author's certificate), then revocations and complaints, placements, posts,
    /// and bulk history last.
    pub fn send_priority(self) -> u8 {
        match self {
            RecordKind::Certificate => 0,
            RecordKind::Revocation | RecordKind::Evidence => 1,
            RecordKind::Complaint | RecordKind::SupervisionOrder => 2,
            RecordKind::Placement => 3,
            RecordKind::Post | RecordKind::Employer => 4,
            RecordKind::Directory | RecordKind::ReportSeal => 5,
            RecordKind::Worker | RecordKind::Assistance => 6,
        }
    }

    /// True for kinds whose payload is an Automerge change (report seals and supervision
    /// orders are documents too).
    pub fn is_document(self) -> bool {
        !matches!(
            self,
            RecordKind::Certificate | RecordKind::Revocation | RecordKind::Evidence
        )
    }
}

/// A record is named by its creator and the creator's sequence number at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub creator: PublicKey,
    pub serial: u64,
}

impl RecordId {
    /// The 16-byte short id shown to users (32 hex digits).
    pub fn short(&self) -> [u8; 16] {
        let mut w = Writer::with_domain("lingong/record-id/v1");
        w.fixed(&self.creator.0).u64(self.serial);
        sha256(w.as_slice())[..16].try_into().expect("16 bytes")
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.short())
    }
}

/// Payload of a revocation record. It carries the revoked node's certificate chain, so every
/// node can check the revoker's jurisdiction over the revoked node without holding that node's
/// certificate record (which travels only within the node's home area, while a revocation
/// travels to the whole province).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub revoked: PublicKey,
    pub reason: String,
    /// The revoked node's chain, leaf first: its leaf's subject is `revoked`.
    pub chain: CertChain,
}

impl Revocation {
    const DOMAIN: &'static str = "lingong/revocation/v2";
    /// Largest encoded chain a revocation may carry.
    const MAX_CHAIN_BYTES: usize = 8192;

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(Self::DOMAIN);
        w.fixed(&self.revoked.0)
            .str(&self.reason)
            .var(&self.chain.to_bytes());
        w.finish()
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Revocation> {
        let mut r = Reader::new(bytes);
        r.domain(Self::DOMAIN)?;
        let revoked = PublicKey(r.array("revocation.revoked")?);
        let reason = r.str("revocation.reason", 1000)?.to_string();
        let chain = CertChain::from_bytes(r.var("revocation.chain", Self::MAX_CHAIN_BYTES)?)?;
        r.finish()?;
        if chain.leaf().body.subject != revoked {
            return Err(Error::BrokenChain {
                detail: "a revocation's chain does not end in the revoked key".into(),
            });
        }
        Ok(Revocation {
            revoked,
            reason,
            chain,
        })
    }
}

/// A value to write into a record's root map.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Int(i64),
    Number(f64),
    /// An Automerge counter: concurrent increments add up (`filled` of a post).
    Counter(i64),
    /// Add to an existing counter.
    Increment(i64),
    List(Vec<String>),
}

/// Makes one Automerge change on top of `saved` (the record's current document, or `None` for
/// a new record) and returns the change's bytes. `actor` is the node's key, so each node writes
/// under its own Automerge actor.
pub fn make_change(
    saved: Option<&[u8]>,
    actor: &PublicKey,
    edits: &[(&str, FieldValue)],
    at_ms: i64,
) -> Result<Vec<u8>> {
    edited_doc(saved, actor, edits, at_ms).map(|(_, change)| change)
}

/// [`make_change`], also returning the document with the change applied, saved (what
/// [`apply_change`] of the change to `saved` returns, without loading the document again).
pub fn make_change_saved(
    saved: Option<&[u8]>,
    actor: &PublicKey,
    edits: &[(&str, FieldValue)],
    at_ms: i64,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut doc, change) = edited_doc(saved, actor, edits, at_ms)?;
    Ok((change, doc.save()))
}

/// The document after one local change, and the change's bytes.
fn edited_doc(
    saved: Option<&[u8]>,
    actor: &PublicKey,
    edits: &[(&str, FieldValue)],
    at_ms: i64,
) -> Result<(AutoCommit, Vec<u8>)> {
    let mut doc = match saved {
        Some(bytes) => AutoCommit::load(bytes).map_err(|e| Error::BadChange {
            detail: e.to_string(),
        })?,
        None => AutoCommit::new(),
    };
    doc.set_actor(actor_of(actor));
    let am = |e: automerge::AutomergeError| Error::BadChange {
        detail: e.to_string(),
    };
    for (key, value) in edits {
        let root = automerge::ROOT;
        match value {
            FieldValue::Text(s) => doc.put(root, *key, s.as_str()).map_err(am)?,
            FieldValue::Int(i) => doc.put(root, *key, *i).map_err(am)?,
            FieldValue::Number(n) => doc.put(root, *key, *n).map_err(am)?,
            FieldValue::Counter(c) => doc.put(root, *key, ScalarValue::counter(*c)).map_err(am)?,
            FieldValue::Increment(by) => doc.increment(root, *key, *by).map_err(am)?,
            FieldValue::List(items) => {
                let list = doc.put_object(root, *key, ObjType::List).map_err(am)?;
                for (i, item) in items.iter().enumerate() {
                    doc.insert(&list, i, item.as_str()).map_err(am)?;
                }
            }
        }
    }
    // An edit that sets every field to the value it already has makes no change: refuse it
    // rather than re-sign an older change.
    let unchanged = || {
        Error::invalid(
            "fields",
            "the edit changes nothing",
            "修改内容与现有内容相同",
        )
    };
    let hash = doc
        .commit_with(
            automerge::transaction::CommitOptions::default().with_time(at_ms.div_euclid(1000)),
        )
        .ok_or_else(unchanged)?;
    let change = doc.get_change_by_hash(&hash).ok_or_else(unchanged)?;
    let bytes = change.raw_bytes().to_vec();
    Ok((doc, bytes))
}

/// A document after changes were applied to it: its saved bytes, whether it still waits for a
/// change it depends on, and its root view (what [`document_view`] of the saved bytes returns).
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub saved: Vec<u8>,
    pub waiting: bool,
    pub view: Map<String, Json>,
}

/// The Automerge actor id of every change `author` signs: the first 16 bytes of its key.
pub fn actor_of(author: &PublicKey) -> automerge::ActorId {
    automerge::ActorId::from(&author.0[..16])
}

/// Checks that a document change says who and when its envelope says (PROTOCOL.md §8 and §11
/// step 7): its actor id is [`actor_of`] the envelope's author and its time is the envelope's
/// timestamp in whole seconds. Without this, one author could sign operations that the
/// document attributes to another node, or date them at will.
pub fn check_change_origin(change: &[u8], author: &PublicKey, timestamp_ms: i64) -> Result<()> {
    let parsed = automerge::Change::from_bytes(change.to_vec()).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })?;
    if *parsed.actor_id() != actor_of(author) {
        return Err(Error::BadChange {
            detail: format!(
                "the change's actor id {} is not its author's ({})",
                parsed.actor_id(),
                actor_of(author)
            ),
        });
    }
    if parsed.timestamp() != timestamp_ms.div_euclid(1000) {
        return Err(Error::BadChange {
            detail: format!(
                "the change's time {} s is not its envelope's timestamp {} s",
                parsed.timestamp(),
                timestamp_ms.div_euclid(1000)
            ),
        });
    }
    Ok(())
}

/// Applies change bytes to a saved document (or a new one) and returns the new saved bytes and
/// whether the document still waits for changes it depends on.
pub fn apply_change(saved: Option<&[u8]>, change: &[u8]) -> Result<(Vec<u8>, bool)> {
    let mut doc = changed_doc(saved, change)?;
    let waiting = !doc.get_missing_deps(&[]).is_empty();
    Ok((doc.save(), waiting))
}

/// [`apply_change`], with the view read from the document in memory (no second load).
pub fn apply_change_viewed(saved: Option<&[u8]>, change: &[u8]) -> Result<Applied> {
    applied(changed_doc(saved, change)?)
}

fn changed_doc(saved: Option<&[u8]>, change: &[u8]) -> Result<AutoCommit> {
    let mut doc = match saved {
        Some(bytes) => AutoCommit::load(bytes).map_err(|e| Error::BadChange {
            detail: e.to_string(),
        })?,
        None => AutoCommit::new(),
    };
    let change = automerge::Change::from_bytes(change.to_vec()).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })?;
    doc.apply_changes([change]).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })?;
    Ok(doc)
}

/// Rebuilds a document from all its changes, in any order (used when a change arrived before
/// one it depends on).
pub fn build_document(changes: &[Vec<u8>]) -> Result<(Vec<u8>, bool)> {
    let mut doc = built_doc(changes)?;
    let waiting = !doc.get_missing_deps(&[]).is_empty();
    Ok((doc.save(), waiting))
}

/// [`build_document`], with the view read from the document in memory (no second load).
pub fn build_document_viewed(changes: &[Vec<u8>]) -> Result<Applied> {
    applied(built_doc(changes)?)
}

fn built_doc(changes: &[Vec<u8>]) -> Result<AutoCommit> {
    let mut doc = AutoCommit::new();
    let parsed = changes
        .iter()
        .map(|c| {
            automerge::Change::from_bytes(c.clone()).map_err(|e| Error::BadChange {
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    doc.apply_changes(parsed).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })?;
    Ok(doc)
}

fn applied(mut doc: AutoCommit) -> Result<Applied> {
    let waiting = !doc.get_missing_deps(&[]).is_empty();
    let view = root_view(&doc);
    Ok(Applied {
        saved: doc.save(),
        waiting,
        view,
    })
}

/// The root map of a saved document as JSON (lists become arrays, counters numbers).
pub fn document_view(saved: &[u8]) -> Result<Map<String, Json>> {
    let doc = AutoCommit::load(saved).map_err(|e| Error::BadChange {
        detail: e.to_string(),
    })?;
    Ok(root_view(&doc))
}

fn root_view(doc: &AutoCommit) -> Map<String, Json> {
    let mut out = Map::new();
    // One pass over the root map (a `get` per key seeks the op set once per key).
    for item in doc.map_range(automerge::ROOT, ..) {
        let json = match item.value.clone().into_value() {
            Value::Scalar(s) => scalar_json(&s),
            Value::Object(ObjType::List) => {
                let id = item.id();
                let n = doc.length(&id);
                Json::Array(
                    (0..n)
                        .filter_map(|i| match doc.get(&id, i) {
                            Ok(Some((Value::Scalar(s), _))) => Some(scalar_json(&s)),
                            _ => None,
                        })
                        .collect(),
                )
            }
            Value::Object(_) => Json::Null,
        };
        out.insert(item.key.into_owned(), json);
    }
    out
}

fn scalar_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(t) => Json::String(t.to_string()),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => Json::from(*f),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        other => Json::String(other.to_string()),
    }
}

// The ID-number helpers live in `id_number`; re-exported here, where worker records use them.
pub use crate::id_number::{
    check_id_number, complete_id_number, id_hash_field, id_number_hash, mask_id_number,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_name_and_its_count_key_and_has_a_chinese_name() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::named(kind.as_str()), Some(kind));
            assert_eq!(RecordKind::named(&kind.count_key()), Some(kind));
            assert!(
                kind.name_zh()
                    .chars()
                    .all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            );
        }
        assert_eq!(RecordKind::Post.count_key(), "posts");
        assert_eq!(RecordKind::Evidence.count_key(), "evidence");
        assert_eq!(RecordKind::named("envelopes"), None);
    }

    #[test]
    fn a_change_made_on_one_side_applies_on_the_other() {
        let actor = PublicKey([3; 32]);
        let c1 = make_change(
            None,
            &actor,
            &[
                ("title", FieldValue::Text("搬运工".into())),
                ("filled", FieldValue::Counter(0)),
            ],
            1000,
        )
        .unwrap();
        let (saved, waiting) = apply_change(None, &c1).unwrap();
        assert!(!waiting);
        let c2 = make_change(
            Some(&saved),
            &actor,
            &[("filled", FieldValue::Increment(2))],
            2000,
        )
        .unwrap();
        let (saved2, _) = apply_change(Some(&saved), &c2).unwrap();
        let view = document_view(&saved2).unwrap();
        assert_eq!(view["title"], "搬运工");
        assert_eq!(view["filled"], 2);
        // Out of order: the second change first waits, then completes.
        let (half, waiting) = apply_change(None, &c2).unwrap();
        assert!(waiting);
        let (rebuilt, waiting) = build_document(&[c2, c1]).unwrap();
        assert!(!waiting);
        assert_eq!(document_view(&rebuilt).unwrap(), view);
        assert!(!half.is_empty());
    }

    #[test]
    fn a_change_made_with_its_document_saved_is_the_change_and_the_document_applying_it_gives() {
        let actor = PublicKey([5; 32]);
        let create = [
            ("title", FieldValue::Text("采茶工".into())),
            ("filled", FieldValue::Counter(0)),
        ];
        let (change, saved) = make_change_saved(None, &actor, &create, 1000).unwrap();
        assert_eq!(change, make_change(None, &actor, &create, 1000).unwrap());
        assert_eq!((saved.clone(), false), apply_change(None, &change).unwrap());
        let edit = [("filled", FieldValue::Increment(3))];
        let (change2, saved2) = make_change_saved(Some(&saved), &actor, &edit, 2000).unwrap();
        assert_eq!(
            change2,
            make_change(Some(&saved), &actor, &edit, 2000).unwrap()
        );
        assert_eq!(
            (saved2, false),
            apply_change(Some(&saved), &change2).unwrap()
        );
    }
}
