//! Shared fixtures for the protocol's integration tests: deterministic keys, a certified
//! province → city → county → township → village chain (plus a sibling village) issued with
//! `cert::issue`, and helpers that sign through `LocalAuthor` and accept into a `MemoryStore`
//! exactly as a node does (stage, accept, commit).
#![allow(dead_code)]

use lingong_protocol::Result;
use lingong_protocol::accept::{AcceptConfig, Accepted, accept, accept_all};
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::{NodeKey, PublicKey};
use lingong_protocol::record::{FieldValue, RecordId, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{MemoryStore, Staged};

/// The fixed "now" of these tests: 2025-06-15T15:06:40Z, in milliseconds.
pub const NOW_MS: i64 = 1_750_000_000_000;
/// Certificates are issued a day before [`NOW_MS`] for a year.
pub const ISSUED_S: i64 = NOW_MS / 1000 - 86_400;

pub fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("valid region code")
}

pub fn key(n: u8) -> NodeKey {
    NodeKey::from_seed([n; 32])
}

/// A certified node: its key and its chain (leaf first).
#[derive(Clone, Debug)]
pub struct Member {
    pub key: NodeKey,
    pub chain: CertChain,
}

impl Member {
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }
    pub fn region(&self) -> RegionCode {
        self.chain.leaf().body.region
    }
}

/// Certifies `key` for `region` under `parent` (or as the self-signed root) with `cert::issue`.
pub fn certify(key: NodeKey, region: &str, name: &str, parent: Option<&Member>) -> Member {
    let request = CertRequest::new(&key, code(region), name).expect("request");
    let chain = match parent {
        Some(p) => cert::issue(&p.key, Some(&p.chain), &request, ISSUED_S, 365),
        None => cert::issue(&key, None, &request, ISSUED_S, 365),
    }
    .expect("issued");
    Member { key, chain }
}

/// The test network: province, city, county, township, village, and a sibling village.
pub struct Net {
    pub province: Member,
    pub city: Member,
    pub county: Member,
    pub township: Member,
    pub village: Member,
    pub sibling: Member,
}

impl Net {
    pub fn new() -> Net {
        let province = certify(key(1), "52", "贵州省零工服务中心", None);
        let city = certify(key(2), "5226", "黔东南州零工市场", Some(&province));
        let county = certify(key(3), "522622", "黄平县零工市场", Some(&city));
        let township = certify(key(4), "522622101", "旧州镇零工驿站", Some(&county));
        let village = certify(
            key(5),
            "522622101001",
            "乐源社区零工服务站",
            Some(&township),
        );
        let sibling = certify(
            key(6),
            "522622101002",
            "舞阳社区零工服务站",
            Some(&township),
        );
        Net {
            province,
            city,
            county,
            township,
            village,
            sibling,
        }
    }
    pub fn cfg(&self) -> AcceptConfig {
        AcceptConfig {
            root: self.province.public(),
            materialize: true,
        }
    }
    pub fn all(&self) -> [&Member; 6] {
        [
            &self.province,
            &self.city,
            &self.county,
            &self.township,
            &self.village,
            &self.sibling,
        ]
    }
    /// A store holding every member's certificate record.
    pub fn store(&self) -> MemoryStore {
        let mut store = MemoryStore::new();
        for m in self.all() {
            self.publish(&mut store, m, NOW_MS - 3_600_000);
        }
        store
    }
    /// Publishes `m`'s certificate record into `store`.
    pub fn publish(&self, store: &mut MemoryStore, m: &Member, at_ms: i64) -> Envelope {
        let author = LocalAuthor {
            key: &m.key,
            cfg: self.cfg(),
        };
        let mut staged = Staged::new(&*store);
        let env = author
            .publish_certificate(&mut staged, &m.chain, at_ms)
            .expect("certificate record accepted");
        let batch = staged.into_batch();
        lingong_protocol::store::Store::commit(store, batch).expect("commit");
        env
    }
    /// Signs one edit by `m` into `store`; commits only when accepted (as a station does).
    pub fn write(
        &self,
        store: &mut MemoryStore,
        m: &Member,
        target: Target,
        edits: &[(&str, FieldValue)],
        at_ms: i64,
    ) -> Result<Envelope> {
        let author = LocalAuthor {
            key: &m.key,
            cfg: self.cfg(),
        };
        let mut staged = Staged::new(&*store);
        let env = author.write(&mut staged, target, edits, at_ms)?;
        let batch = staged.into_batch();
        lingong_protocol::store::Store::commit(store, batch).expect("commit");
        Ok(env)
    }
    /// Accepts one envelope received from elsewhere and commits whatever was staged (on a
    /// rejection that is only fork evidence).
    pub fn receive(
        &self,
        store: &mut MemoryStore,
        env: &Envelope,
        now_ms: i64,
    ) -> Result<Accepted> {
        let mut staged = Staged::new(&*store);
        let result = accept(&mut staged, &self.cfg(), env, now_ms);
        let batch = staged.into_batch();
        lingong_protocol::store::Store::commit(store, batch).expect("commit");
        result
    }
    /// Accepts a batch with `accept_all` and commits it.
    pub fn receive_all(
        &self,
        store: &mut MemoryStore,
        envs: &[Envelope],
        now_ms: i64,
    ) -> Vec<Result<Accepted>> {
        let mut staged = Staged::new(&*store);
        let results = accept_all(&mut staged, &self.cfg(), envs, now_ms);
        let batch = staged.into_batch();
        lingong_protocol::store::Store::commit(store, batch).expect("commit");
        results
    }
}

/// The fields of a fresh job post.
pub fn post_fields(title: &str) -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", FieldValue::Text(title.to_string())),
        ("occupation", FieldValue::Text("4-10-01-06".into())),
        ("wage", FieldValue::Number(150.0)),
        ("unit", FieldValue::Text("day".into())),
        ("headcount", FieldValue::Int(8)),
        ("filled", FieldValue::Counter(0)),
        ("status", FieldValue::Text("open".into())),
    ]
}

/// Creates a post by `m` reaching `reach` (default: its own region); returns its id.
pub fn create_post(
    net: &Net,
    store: &mut MemoryStore,
    m: &Member,
    reach: Option<&str>,
    at_ms: i64,
) -> RecordId {
    let env = net
        .write(
            store,
            m,
            Target::Create {
                kind: RecordKind::Post,
                reach: reach.map(code),
            },
            &post_fields("茶园采茶工"),
            at_ms,
        )
        .expect("post created");
    env.header.record
}
