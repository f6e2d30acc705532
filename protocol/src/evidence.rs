//! Fork proofs: the payload of an evidence record (PROTOCOL.md §8, §10).
//!
//! A node whose key signed two histories (a village home copied to a second machine, a restored
//! backup that keeps writing) is caught by whoever first holds envelopes of both branches: two
//! headers the key signed for one sequence number, or a header whose `prev` names another
//! envelope than the one held at the sequence number before. The catching node publishes the
//! two signed headers as an evidence record; every node that accepts it stops taking the forked
//! key's envelopes from the fork point on (while keeping everything before it) until an ancestor
//! revokes the key and certifies a new one. The proof verifies from its own bytes: the accused
//! key's two signatures and its certificate chain, nothing the publisher could forge.

use crate::canon::{Reader, Writer};
use crate::cert::CertChain;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::keys::PublicKey;

/// Two headers one key signed that cannot both belong to its log, and the key's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkProof {
    pub accused: PublicKey,
    /// Header-only envelopes, in log order: the first at the fork point, the second either at
    /// the same sequence number or at the next one with a `prev` that is not the first's id.
    pub first: Envelope,
    pub second: Envelope,
    /// The accused key's certificate chain, leaf first (its region decides where the proof
    /// travels: the accused node's home area and the publisher's ancestors).
    pub chain: CertChain,
}

impl ForkProof {
    const DOMAIN: &'static str = "lingong/fork-proof/v1";
    const MAX_HEADER_BYTES: usize = 1024;
    const MAX_CHAIN_BYTES: usize = 8192;

    /// The proof for two conflicting headers held or received by a node, if they are one
    /// (in either order).
    pub fn from_headers(a: &Envelope, b: &Envelope, chain: CertChain) -> Result<ForkProof> {
        let (first, second) = if a.header.seq <= b.header.seq {
            (a.header_only(), b.header_only())
        } else {
            (b.header_only(), a.header_only())
        };
        let proof = ForkProof {
            accused: first.header.author,
            first,
            second,
            chain,
        };
        proof.fork_seq()?;
        Ok(proof)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(Self::DOMAIN);
        w.fixed(&self.accused.0)
            .var(&self.first.to_bytes())
            .var(&self.second.to_bytes())
            .var(&self.chain.to_bytes());
        w.finish()
    }

    /// Decodes a proof and checks it (see [`ForkProof::fork_seq`]); the chain is decoded but
    /// verified to the root by the accept path, which knows the root and the time.
    pub fn from_bytes(bytes: &[u8]) -> Result<ForkProof> {
        let mut r = Reader::new(bytes);
        r.domain(Self::DOMAIN)?;
        let accused = PublicKey(r.array("fork_proof.accused")?);
        let first = Envelope::from_bytes(r.var("fork_proof.first", Self::MAX_HEADER_BYTES)?)?;
        let second = Envelope::from_bytes(r.var("fork_proof.second", Self::MAX_HEADER_BYTES)?)?;
        let chain = CertChain::from_bytes(r.var("fork_proof.chain", Self::MAX_CHAIN_BYTES)?)?;
        r.finish()?;
        let proof = ForkProof {
            accused,
            first,
            second,
            chain,
        };
        proof.fork_seq()?;
        Ok(proof)
    }

    /// Checks that the proof proves a fork and returns the sequence number at which the key
    /// signed two envelopes: both headers carry no payload, are signed by `accused` (whose
    /// chain ends in it), and either share a sequence number with different ids, or the second
    /// is the first's successor by number but links to another envelope.
    pub fn fork_seq(&self) -> Result<u64> {
        let bad = |detail: &str| Error::BadChange {
            detail: format!("not a fork proof: {detail}"),
        };
        if self.chain.leaf().body.subject != self.accused {
            return Err(Error::BrokenChain {
                detail: "a fork proof's chain does not end in the accused key".into(),
            });
        }
        for env in [&self.first, &self.second] {
            if env.payload.is_some() {
                return Err(bad("a header carries a payload"));
            }
            if env.header.author != self.accused {
                return Err(bad("a header is not the accused key's"));
            }
            env.verify_signature()?;
        }
        let (a, b) = (&self.first.header, &self.second.header);
        let same_seq = a.seq == b.seq && self.first.id() != self.second.id();
        let broken_link = b.seq == a.seq + 1 && b.prev != self.first.id();
        if same_seq || broken_link {
            Ok(a.seq)
        } else {
            Err(bad(
                "the two headers fit one log (neither the same sequence number nor a broken link)",
            ))
        }
    }
}
