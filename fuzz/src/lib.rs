//! Shared pieces of the fuzz targets (fuzz_targets/*.rs): the checks every decoder target makes
//! on what it accepted, and a small certified network with a pool of valid envelopes for the
//! targets that need signatures that verify (the round trip and the accept path).
//!
//! Every decoder of untrusted bytes must, for any input: not panic; allocate no more than a
//! fixed bound whatever a length field says (run.sh runs libFuzzer with `-malloc_limit_mb`);
//! refuse trailing bytes (an accepted input with one more byte must be refused); and, where the
//! encoding is canonical, give back the same bytes when what it decoded is encoded again.

use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::envelope::Envelope;
use lingong_protocol::evidence::ForkProof;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordId, RecordKind, Revocation};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{MemoryStore, Staged, Store};
use std::sync::LazyLock;

/// Checks that `decode` refuses `data` with one more byte after it, for inputs it accepted.
/// Each of the 256 possible extra bytes is as good as any: the fuzzer picks it.
pub fn refuses_trailing<T, E>(data: &[u8], extra: u8, decode: impl Fn(&[u8]) -> Result<T, E>) {
    let mut longer = Vec::with_capacity(data.len() + 1);
    longer.extend_from_slice(data);
    longer.push(extra);
    assert!(
        decode(&longer).is_err(),
        "an accepted input with a trailing byte was accepted too"
    );
}

/// Checks that every log `store` holds links: the envelope held at `seq` is its author's and
/// names the one held at `seq - 1` (when that is held) as its `prev`.
pub fn logs_link(store: &MemoryStore) {
    for ((author, seq), id) in &store.logs {
        let env = &store.envelopes[id];
        assert_eq!(env.header.seq, *seq);
        assert_eq!(env.header.author, *author);
        if let Some(seq_before) = seq.checked_sub(1)
            && let Some(before) = store.logs.get(&(*author, seq_before))
        {
            assert_eq!(&env.header.prev, before, "a held log does not link at {seq}");
        }
    }
}

/// The fixed "now" of the targets: 2025-06-15T15:06:40Z, in milliseconds.
pub const NOW_MS: i64 = 1_750_000_000_000;
const ISSUED_S: i64 = NOW_MS / 1000 - 86_400;

/// One certified node: its key and chain.
#[derive(Clone)]
pub struct Member {
    pub key: NodeKey,
    pub chain: CertChain,
}

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("valid region code")
}

fn certify(seed: u8, region: &str, parent: Option<&Member>) -> Member {
    let key = NodeKey::from_seed([seed; 32]);
    let request = CertRequest::new(&key, code(region), &format!("node {region}")).expect("request");
    let chain = match parent {
        Some(p) => cert::issue(&p.key, Some(&p.chain), &request, ISSUED_S, 365),
        None => cert::issue(&key, None, &request, ISSUED_S, 365),
    }
    .expect("issued");
    Member { key, chain }
}

/// A province → city → county → township → village chain with a sibling village, a second
/// county, a node certified under a foreign root, and envelopes all of them signed.
pub struct World {
    pub cfg: AcceptConfig,
    /// Province, city, county, township, village, sibling village, other county, foreign root's
    /// village (certified under another province key).
    pub members: Vec<Member>,
    /// Region codes the custom envelopes of the accept target pick from.
    pub regions: Vec<RegionCode>,
    /// Valid envelopes in an order in which each is accepted after those before it (except the
    /// fork branch and the foreign node's, which are rejected), including: every member's
    /// certificate record, village posts, an ancestor's edit, a revocation, a second envelope
    /// for a used sequence number, and an evidence record proving that fork.
    pub pool: Vec<Envelope>,
}

fn post_fields(title: &str) -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", FieldValue::Text(title.to_string())),
        ("occupation", FieldValue::Text("4-10-01-06".into())),
        ("wage", FieldValue::Number(150.0)),
        ("unit", FieldValue::Text("day".into())),
        ("headcount", FieldValue::Int(8)),
        ("status", FieldValue::Text("open".into())),
    ]
}

impl World {
    fn build() -> World {
        let province = certify(1, "52", None);
        let city = certify(2, "5226", Some(&province));
        let county = certify(3, "522622", Some(&city));
        let township = certify(4, "522622101", Some(&county));
        let village = certify(5, "522622101001", Some(&township));
        let sibling = certify(6, "522622101002", Some(&township));
        let other_county = certify(7, "522623", Some(&city));
        let foreign_root = certify(8, "52", None);
        let foreign = certify(9, "522622101001", Some(&foreign_root));
        let cfg = AcceptConfig {
            root: province.key.public(),
            materialize: true,
        };
        let members = vec![
            province,
            city,
            county,
            township,
            village,
            sibling,
            other_county,
            foreign,
        ];
        let mut store = MemoryStore::new();
        let mut pool = Vec::new();
        let step = |store: &mut MemoryStore,
                    pool: &mut Vec<Envelope>,
                    f: &dyn Fn(&mut Staged<'_, MemoryStore>) -> Envelope| {
            let mut staged = Staged::new(&*store);
            let env = f(&mut staged);
            let batch = staged.into_batch();
            store.commit(batch).expect("memory commit");
            pool.push(env);
        };
        let at = |i: i64| NOW_MS - 3_600_000 + i * 1000;
        for (i, m) in members[..7].iter().enumerate() {
            let author = LocalAuthor { key: &m.key, cfg };
            step(&mut store, &mut pool, &|s| {
                author
                    .publish_certificate(s, &m.chain, at(i as i64))
                    .expect("certificate record")
            });
        }
        let (county, village, sibling) = (&members[2], &members[4], &members[5]);
        let township = &members[3];
        let write = |m: &Member, s: &mut Staged<'_, MemoryStore>, target, title: &str, t| {
            LocalAuthor { key: &m.key, cfg }
                .write(s, target, &post_fields(title), t)
                .expect("write accepted")
        };
        let create = Target::Create {
            kind: RecordKind::Post,
            reach: None,
        };
        for i in 0..3 {
            step(&mut store, &mut pool, &|s| {
                write(village, s, create, &format!("岗位{i}"), at(10 + i))
            });
        }
        let first_post = pool[7].header.record;
        step(&mut store, &mut pool, &|s| {
            write(county, s, Target::Edit(first_post), "县里改过", at(20))
        });
        step(&mut store, &mut pool, &|s| {
            write(sibling, s, create, "舞阳岗位", at(21))
        });
        // The village's home copied to a second machine: another post for the last sequence
        // number it used (its third post), signed on a store without that post.
        let fork = {
            let mut copy = MemoryStore::new();
            let mut staged = Staged::new(&copy);
            for env in &pool[..9] {
                lingong_protocol::accept::accept(&mut staged, &cfg, env, NOW_MS).expect("replay");
            }
            let batch = staged.into_batch();
            copy.commit(batch).expect("memory commit");
            let mut staged = Staged::new(&copy);
            write(village, &mut staged, create, "另一台机器", at(12))
        };
        let held = pool[9].clone();
        pool.push(fork.clone());
        let proof = ForkProof::from_headers(&held, &fork, village.chain.clone()).expect("a fork");
        step(&mut store, &mut pool, &|s| {
            LocalAuthor { key: &county.key, cfg }
                .publish_evidence(s, &proof, at(30))
                .expect("evidence accepted")
        });
        let revocation = Revocation {
            revoked: sibling.key.public(),
            reason: "站点撤销".into(),
            chain: sibling.chain.clone(),
        };
        step(&mut store, &mut pool, &|s| {
            LocalAuthor {
                key: &township.key,
                cfg,
            }
            .revoke(s, &revocation, at(31))
            .expect("revocation accepted")
        });
        step(&mut store, &mut pool, &|s| {
            write(sibling, s, create, "吊销前写的", at(21) + 500)
        });
        // The foreign-rooted node's certificate record (rejected: foreign root).
        let foreign = &members[7];
        pool.push(Envelope::sign(
            &foreign.key,
            1,
            [0; 32],
            RecordId {
                creator: foreign.key.public(),
                serial: 1,
            },
            RecordKind::Certificate,
            foreign.chain.leaf().body.region,
            foreign.chain.leaf().body.region,
            at(40),
            foreign.chain.leaf_hash(),
            foreign.chain.to_bytes(),
        ));
        let regions = [
            "52",
            "5226",
            "522622",
            "522622101",
            "522622101001",
            "522622101002",
            "522623",
            "5201",
        ]
        .iter()
        .map(|c| code(c))
        .collect();
        World {
            cfg,
            members,
            regions,
            pool,
        }
    }
}

/// The world, built once per fuzzing process.
pub static WORLD: LazyLock<World> = LazyLock::new(World::build);

/// Reads the fuzzer's bytes as a sequence of small choices; once they run out, every read
/// gives zero, so every input is a complete program.
pub struct Choices<'a> {
    data: &'a [u8],
}

impl<'a> Choices<'a> {
    pub fn new(data: &'a [u8]) -> Choices<'a> {
        Choices { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_be_bytes(b)
    }
    /// One of `n` (n > 0).
    pub fn pick(&mut self, n: usize) -> usize {
        self.u8() as usize % n
    }
    /// Up to `max` bytes, length first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (self.u16() as usize).min(max).min(self.data.len());
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        head
    }
}
