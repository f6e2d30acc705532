//! Peers to dial: `peer add` checks the address and keeps it in the configuration (the daemon
//! also dials it at once).

use crate::error::{NodeError, Result};
use crate::station::Station;
use libp2p::{Multiaddr, PeerId};
use serde_json::{Value, json};

/// Parses a peer address that ends in `/p2p/<node id>`.
pub fn parse_peer_addr(s: &str) -> Result<(PeerId, Multiaddr)> {
    let addr: Multiaddr = s.trim().parse().map_err(|e| {
        NodeError::usage(
            "MULTIADDR",
            format!("not a multiaddr ({e}), e.g. /ip4/127.0.0.1/tcp/4101/p2p/12D3KooW…"),
            format!("不是有效的地址（{e}），例如 /ip4/127.0.0.1/tcp/4101/p2p/12D3KooW…"),
        )
    })?;
    let peer = addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    });
    let peer = peer.ok_or_else(|| {
        NodeError::usage(
            "MULTIADDR",
            "must end in /p2p/<node id>",
            "必须以 /p2p/<节点编号> 结尾",
        )
    })?;
    Ok((peer, addr))
}

/// `peer add`.
pub fn add(station: &mut Station, addr: &str) -> Result<Value> {
    let (peer, _) = parse_peer_addr(addr)?;
    let addr = addr.trim().to_string();
    if !station.config.peers.contains(&addr) {
        station.config.peers.push(addr);
        station.home.save_config(&station.config)?;
    }
    Ok(json!({ "peer": peer.to_base58() }))
}
