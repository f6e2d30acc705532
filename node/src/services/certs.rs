//! Certificates: a node's request, an ancestor issuing it, installing the chain (the node's
//! first signed record), showing it, and revoking a node in the issuer's jurisdiction; issuing
//! a successor's certificate (a replaced station's new key) revokes its predecessor's.
//!
//! Key rotation in place (SECURITY.md §8): `cert rotate` makes the next key (`node.key.next`,
//! 0600) and its certificate request; the parent certifies it with `cert issue
//! --successor-of` (the certificate names the current key, which is revoked from then on);
//! `cert install` of that certificate makes the next key the node's key, keeping the home and
//! its store. Records signed before stay valid everywhere, and the new key may edit them
//! (`accept::succeeds`).

use crate::error::{NodeError, Result};
use crate::home::write_atomically;
use crate::station::{Station, now_ms};
use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::LocalAuthor;
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::dates;
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::Revocation;
use lingong_protocol::store::{Staged, Store};
use serde_json::{Value, json};

/// `cert request`: this node's certificate request.
pub fn request(station: &Station) -> Result<Value> {
    let req = CertRequest::new(&station.key, station.region, &station.config.name)?;
    Ok(serde_json::to_value(req).expect("serializable"))
}

/// `cert issue`: signs a child's request (or, at the province, its own root), and notes the
/// chain in this node's local register of issued certificates, so the station shows in
/// `directory list` here at once, before its own certificate record arrives.
pub fn issue(station: &Station, request: &CertRequest, days: u32) -> Result<Value> {
    let chain = cert::issue(
        &station.key,
        station.chain.as_ref(),
        request,
        now_ms() / 1000,
        days,
    )?;
    station.store.put_issued(&chain)?;
    Ok(chain.to_json())
}

/// `cert issue --successor-of NODE_ID`: certifies a new key as the successor of a station of
/// this node's jurisdiction (a dead mini PC replaced, its key lost), and revokes the old key in
/// the same step unless a revocation of it is already held. The new certificate names the
/// predecessor; the successor must request the predecessor's very region. Every check runs
/// before anything is written: a refusal changes nothing. The revocation is signed first and
/// the new chain registered after it (two writes): a crash between them leaves the old key
/// revoked and no certificate printed, and running the same command again finds the
/// revocation held and issues the certificate, so the steps never end the other way round (a
/// successor certified beside a live predecessor).
pub fn issue_successor(
    station: &mut Station,
    request: &CertRequest,
    days: u32,
    successor_of: &str,
) -> Result<Value> {
    let old = PublicKey::from_node_id(successor_of).ok_or_else(|| {
        NodeError::usage(
            "successor_of",
            "must be a node id like 12D3KooW…",
            "必须是形如 12D3KooW… 的节点编号",
        )
    })?;
    // The predecessor's chain: from its certificate record, or from the register of chains
    // this node issued (a station that died before its certificate record went up).
    let held = match station.store.author(&old)? {
        Some(info) => Some(info.chain),
        None => station
            .store
            .issued()?
            .into_iter()
            .find(|c| c.leaf().body.subject == old),
    };
    let old_chain = held.ok_or_else(|| {
        NodeError::usage(
            "successor_of",
            format!(
                "names no node known here ({successor_of}): the predecessor must be a station whose certificate this node holds or issued"
            ),
            format!(
                "本节点不认识该节点（{successor_of}）：前任必须是本节点持有或签发过证书的站点"
            ),
        )
    })?;
    // One region, one current station: a predecessor already replaced by another key is
    // replaced again by naming that successor instead.
    let replaced = station
        .store
        .authors()?
        .into_iter()
        .map(|a| a.chain)
        .chain(station.store.issued()?)
        .find(|c| {
            c.leaf().predecessor == Some(old) && c.leaf().body.subject.node_id() != request.node_id
        });
    if let Some(other) = replaced {
        let other = other.leaf().body.subject.node_id();
        return Err(NodeError::usage(
            "successor_of",
            format!(
                "{successor_of} was already replaced by {other}: name the current station, --successor-of {other}"
            ),
            format!("{successor_of} 已由 {other} 接替：请指定当前站点 --successor-of {other}"),
        ));
    }
    let Some(my_chain) = station.chain.as_ref() else {
        return Err(lingong_protocol::Error::NotCertified.into());
    };
    let chain = cert::issue_successor(
        &station.key,
        my_chain,
        request,
        old_chain.leaf(),
        now_ms() / 1000,
        days,
    )?;
    let already = station.store.revocation(&old)?.is_some();
    if !already {
        let now = now_ms();
        let reason = format!(
            "由接替站点 {} 取代 / replaced by its successor {}",
            request.node_id, request.node_id
        );
        station.write(|author, staged| {
            Ok(author.revoke(
                staged,
                &Revocation {
                    revoked: old,
                    reason: reason.clone(),
                    chain: old_chain.clone(),
                },
                now,
            )?)
        })?;
    }
    station.store.put_issued(&chain)?;
    let mut v = chain.to_json();
    v["predecessor"] = json!({
        "node_id": successor_of,
        "revoked": true,
        "already_revoked": already,
    });
    Ok(v)
}

/// The file of the next key while a rotation is under way (`cert rotate`).
pub const NEXT_KEY_FILE: &str = "node.key.next";

/// The next key of a rotation under way, if any.
fn next_key(station: &Station) -> Result<Option<lingong_protocol::keys::NodeKey>> {
    let path = station.home.dir.join(NEXT_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes.try_into().map_err(|_| {
                NodeError::usage(
                    NEXT_KEY_FILE,
                    "must hold exactly 32 bytes",
                    "必须正好 32 字节",
                )
            })?;
            Ok(Some(lingong_protocol::keys::NodeKey::from_seed(seed)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NodeError::io(&path, e)),
    }
}

/// `cert rotate`: the certificate request of this node's next key, made now (or the one a
/// rotation under way already made), for the parent to certify with `cert issue
/// --successor-of THIS_NODE_ID`. Nothing is signed and the current key keeps working until the
/// certificate is installed.
pub fn rotate(station: &Station) -> Result<Value> {
    if station.chain.is_none() {
        return Err(lingong_protocol::Error::NotCertified.into());
    }
    let key = match next_key(station)? {
        Some(k) => k,
        None => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| {
                NodeError::io(
                    NEXT_KEY_FILE,
                    std::io::Error::other(format!("no random bytes: {e}")),
                )
            })?;
            write_atomically(&station.home.dir.join(NEXT_KEY_FILE), &seed)?;
            lingong_protocol::keys::NodeKey::from_seed(seed)
        }
    };
    let req = CertRequest::new(&key, station.region, &station.config.name)?;
    Ok(serde_json::to_value(req).expect("serializable"))
}

/// `cert show`.
pub fn show(station: &Station) -> Result<Value> {
    match &station.chain {
        Some(c) => Ok(c.to_json()),
        None => Err(lingong_protocol::Error::NotCertified.into()),
    }
}

/// `cert install`: verifies the chain to its root and publishes it as this node's certificate
/// record; from then on the node signs records.
pub fn install(station: &mut Station, value: &Value) -> Result<Value> {
    let chain = CertChain::from_json(value)?;
    let root = chain.root().body.subject;
    if let Some(old) = &station.chain
        && old.root().body.subject != root
    {
        return Err(lingong_protocol::Error::ForeignRoot.into());
    }
    // A rotation: the certificate is for the next key and names the current one.
    let rotating = match next_key(station)? {
        Some(next)
            if chain.leaf().body.subject == next.public()
                && chain.leaf().predecessor == Some(station.key.public()) =>
        {
            Some(next)
        }
        _ => None,
    };
    if chain.leaf().body.subject != station.key.public() && rotating.is_none() {
        return Err(lingong_protocol::Error::BrokenChain {
            detail: "this certificate is for another node's key".into(),
        }
        .into());
    }
    if chain.leaf().body.region != station.region {
        return Err(NodeError::usage(
            "region",
            format!(
                "the certificate is for region {}, this node serves {}",
                chain.leaf().body.region,
                station.region
            ),
            format!(
                "证书的区划是 {}，本节点的区划是 {}",
                chain.leaf().body.region,
                station.region
            ),
        ));
    }
    chain.verify(&root, now_ms() / 1000, &|k| {
        matches!(station.store.revocation(k), Ok(Some(_)))
    })?;
    crate::repair::check_writable(&station.home)?;
    crate::backup::check_writable(&station.home)?;
    crate::clock::check_writable(&station.home)?;
    let rotated = rotating.is_some();
    if let Some(next) = rotating {
        // The next key becomes the node's key first (one rename): a failure after it leaves a
        // node whose key matches the certificate, and `cert install` again finishes.
        let key_path = station.home.key_path();
        std::fs::rename(station.home.dir.join(NEXT_KEY_FILE), &key_path)
            .map_err(|e| NodeError::io(&key_path, e))?;
        station.key = next;
    }
    // Not through `Station::write`: before this, the node has no chain to take the root from.
    let author = LocalAuthor {
        key: &station.key,
        cfg: AcceptConfig {
            root,
            materialize: true,
        },
    };
    let mut staged = Staged::new(&station.store);
    author.publish_certificate(&mut staged, &chain, now_ms())?;
    let batch = staged.into_batch();
    write_atomically(
        &station.home.cert_path(),
        serde_json::to_string_pretty(&chain.to_json())
            .expect("json")
            .as_bytes(),
    )?;
    station.store.commit(batch)?;
    station.chain = Some(chain.clone());
    let v = chain.to_json();
    Ok(json!({
        "chain": v["chain"],
        "valid_until": dates::rfc3339(v["valid_until"].as_i64().unwrap_or(0) * 1000),
        "node_id": station.key.public().node_id(),
        "rotated": rotated,
    }))
}

/// `cert revoke`: an ancestor revokes a node in its jurisdiction.
pub fn revoke(station: &mut Station, node_id: &str, reason: String) -> Result<Value> {
    let target = PublicKey::from_node_id(node_id).ok_or_else(|| {
        NodeError::usage(
            "NODE_ID",
            "must be a node id like 12D3KooW…",
            "必须是形如 12D3KooW… 的节点编号",
        )
    })?;
    let info = station
        .store
        .author(&target)?
        .ok_or_else(|| NodeError::NotFound {
            what: "node",
            id: node_id.to_string(),
        })?;
    if !station.region.is_strict_ancestor_of(&info.region()) {
        return Err(lingong_protocol::Error::OutOfJurisdiction {
            issuer: station.region.to_string(),
            child: info.region().to_string(),
        }
        .into());
    }
    let now = now_ms();
    station.write(|author, staged| {
        Ok(author.revoke(
            staged,
            &Revocation {
                revoked: target,
                reason,
                chain: info.chain.clone(),
            },
            now,
        )?)
    })?;
    Ok(json!({ "revoked": node_id }))
}
