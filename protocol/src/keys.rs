//! Node identity: one ed25519 key per node.
//!
//! The same 32-byte secret seed is the node's signing key here and its libp2p identity in the
//! node crate, so a node's [`PublicKey::node_id`] (the libp2p PeerId string, `12D3KooW…`) is
//! computed here without linking libp2p: it is the base58btc identity multihash of the
//! protobuf-encoded public key (`08 01 12 20 ‖ key`), exactly as libp2p derives it.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ed25519 public key: who a node is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

/// A node's secret signing key. Never printed or logged.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl NodeKey {
    /// The key for a 32-byte secret seed (the node key file holds exactly this seed).
    pub fn from_seed(seed: [u8; 32]) -> NodeKey {
        NodeKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }
    /// X25519 between this key and `peer`, both ed25519 keys taken to their Montgomery form
    /// (the scalar of this key's expansion, RFC 8032 §5.1.5, times the peer's birational
    /// image): what sealed bundles agree on (`crate::bundle`). `None` when `peer` is not a
    /// point or the result is the all-zero value of a small-order point.
    pub fn diffie_hellman(&self, peer: &PublicKey) -> Option<[u8; 32]> {
        let point = VerifyingKey::from_bytes(&peer.0).ok()?.to_montgomery();
        let shared = point.mul_clamped(self.signing.to_scalar_bytes()).to_bytes();
        (shared != [0; 32]).then_some(shared)
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.public().node_id())
    }
}

impl PublicKey {
    /// Verifies `signature` over `message` (strict verification: rejects malleable signatures
    /// and small-order keys).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig).is_ok()
    }

    /// The libp2p PeerId of this key, as its usual base58 string.
    pub fn node_id(&self) -> String {
        let mut mh = Vec::with_capacity(38);
        // multihash: code 0x00 (identity), length 36; then protobuf PublicKey{Type=Ed25519, Data}.
        mh.extend_from_slice(&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
        mh.extend_from_slice(&self.0);
        bs58::encode(mh).into_string()
    }

    /// Parses a node id (PeerId string) back into the ed25519 key it embeds.
    pub fn from_node_id(node_id: &str) -> Option<PublicKey> {
        let raw = bs58::decode(node_id.trim()).into_vec().ok()?;
        if raw.len() != 38 || raw[..6] != [0x00, 0x24, 0x08, 0x01, 0x12, 0x20] {
            return None;
        }
        Some(PublicKey(raw[6..].try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Option<PublicKey> {
        let raw = hex::decode(s.trim()).ok()?;
        Some(PublicKey(raw.try_into().ok()?))
    }
    /// A short form for logs and tables: the last 8 characters of the node id.
    pub fn short(&self) -> String {
        let id = self.node_id();
        id[id.len() - 8..].to_string()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.node_id())
    }
}
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.node_id())
    }
}

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", &self.to_hex()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_round_trips_and_looks_like_a_libp2p_peer_id() {
        let key = NodeKey::from_seed([7; 32]);
        let id = key.public().node_id();
        assert!(id.starts_with("12D3KooW"), "{id}");
        assert_eq!(PublicKey::from_node_id(&id), Some(key.public()));
    }

    #[test]
    fn signature_verifies_only_for_its_message_and_key() {
        let key = NodeKey::from_seed([1; 32]);
        let other = NodeKey::from_seed([2; 32]);
        let sig = key.sign(b"hello");
        assert!(key.public().verify(b"hello", &sig));
        assert!(!key.public().verify(b"hellp", &sig));
        assert!(!other.public().verify(b"hello", &sig));
    }
}
