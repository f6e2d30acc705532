//! Deterministic certified identities for tests, benches, the demo and the simulator.
//!
//! A [`Hierarchy`] derives each node's key from a seed and its region code, and issues its
//! certificate from its parent's, exactly as operators do with `cert issue`, so code that needs
//! a certified node anywhere in the tree gets one without touching disk.

use crate::accept::AcceptConfig;
use crate::author::{LocalAuthor, Target};
use crate::canon::sha256;
use crate::cert::{CertChain, CertRequest, issue};
use crate::envelope::Envelope;
use crate::keys::{NodeKey, PublicKey};
use crate::record::FieldValue;
use crate::region::RegionCode;
use crate::store::{Staged, Store};
use std::collections::BTreeMap;

/// Sample job titles with their occupation codes (2022 classification) and day wages: the
/// posts `lingong sample`, the demo and the benches record.
pub const SAMPLE_POSTS: [(&str, &str, f64); 6] = [
    ("砌筑工（泥瓦工）", "6-29-01-01", 200.0),
    ("家政钟点工", "4-10-01-06", 180.0),
    ("茶叶采摘工", "5-01-02-01", 150.0),
    ("装卸搬运工", "4-02-05-01", 220.0),
    ("餐厅服务员", "4-03-02-05", 130.0),
    ("保洁员", "4-09-08-01", 140.0),
];

/// Validity of fixture certificates: 2020-01-01 to 2040-01-01 (unix seconds).
pub const FIXTURE_NOT_BEFORE_S: i64 = 1_577_836_800;
const FIXTURE_DAYS: u32 = 3650;

/// Keys and chains of a tree of nodes, created on demand.
pub struct Hierarchy {
    seed: u64,
    nodes: BTreeMap<RegionCode, (NodeKey, CertChain)>,
}

impl Hierarchy {
    pub fn new(seed: u64) -> Hierarchy {
        Hierarchy {
            seed,
            nodes: BTreeMap::new(),
        }
    }

    /// The key of the node serving `region` (derived from the seed and the code).
    pub fn key_for(&self, region: &RegionCode) -> NodeKey {
        let mut material = self.seed.to_be_bytes().to_vec();
        material.extend_from_slice(&region.to_bytes());
        NodeKey::from_seed(sha256(&material))
    }

    /// The province root's public key.
    pub fn root(&mut self) -> PublicKey {
        self.node(&RegionCode::parse("52").expect("valid"))
            .0
            .public()
    }

    pub fn accept_config(&mut self) -> AcceptConfig {
        AcceptConfig {
            root: self.root(),
            materialize: true,
        }
    }

    /// The key and chain of the node serving `region`, certifying its ancestors as needed.
    pub fn node(&mut self, region: &RegionCode) -> (NodeKey, CertChain) {
        if let Some(n) = self.nodes.get(region) {
            return n.clone();
        }
        let key = self.key_for(region);
        let request =
            CertRequest::new(&key, *region, &format!("node {region}")).expect("valid request");
        let chain = match region.parent() {
            None => issue(
                &key,
                None,
                &request,
                FIXTURE_NOT_BEFORE_S + 3600,
                FIXTURE_DAYS,
            ),
            Some(parent) => {
                let (pkey, pchain) = self.node(&parent);
                issue(
                    &pkey,
                    Some(&pchain),
                    &request,
                    FIXTURE_NOT_BEFORE_S + 3600,
                    FIXTURE_DAYS,
                )
            }
        }
        .expect("fixture chains are valid");
        self.nodes.insert(*region, (key.clone(), chain.clone()));
        (key, chain)
    }

    /// Publishes the certificate record of `region`'s node into `store` at `now_ms`; returns it.
    pub fn publish<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        region: &RegionCode,
        now_ms: i64,
    ) -> Envelope {
        let cfg = self.accept_config();
        let (key, chain) = self.node(region);
        let author = LocalAuthor { key: &key, cfg };
        let mut staged = Staged::new(&*store);
        let env = author
            .publish_certificate(&mut staged, &chain, now_ms)
            .expect("certificate record accepted");
        let batch = staged.into_batch();
        store.commit(batch).expect("memory commit");
        env
    }

    /// `region`'s node writes `edits` to `target` in `store` at `now_ms` (committed); returns
    /// the envelope.
    pub fn write<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        region: &RegionCode,
        target: Target,
        edits: &[(&str, FieldValue)],
        now_ms: i64,
    ) -> Envelope {
        let cfg = self.accept_config();
        let (key, _) = self.node(region);
        let author = LocalAuthor { key: &key, cfg };
        let mut staged = Staged::new(&*store);
        let env = author
            .write(&mut staged, target, edits, now_ms)
            .expect("the write is accepted");
        let batch = staged.into_batch();
        store.commit(batch).expect("memory commit");
        env
    }
}
