//! Certificates: a node's request, an ancestor issuing it, installing the chain (the node's
//! first signed record), showing it, and revoking a node in the issuer's jurisdiction.

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
    if chain.leaf().body.subject != station.key.public() {
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
