//! The benchmarks' shared fixture: a village station certified under a county under the
//! province root, and its signed job posts (realistic ten-field records), made once, untimed.

use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::dates;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{MemoryStore, Staged, Store};

/// 2026-01-01T00:00:00Z: when the chain is issued and the posts are signed.
pub const NOW_MS: i64 = 1_767_225_600_000;

/// What every measurement works on.
pub struct Fixture {
    pub cfg: AcceptConfig,
    /// The certificate records of root, county and village, in that order.
    pub certs: Vec<Envelope>,
    /// The village station's signed posts, in signing order.
    pub posts: Vec<Envelope>,
}

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("valid region code")
}

fn certify(
    key: &NodeKey,
    issuer: &NodeKey,
    issuer_chain: Option<&CertChain>,
    code: &str,
    name: &str,
) -> CertChain {
    let request = CertRequest::new(key, region(code), name).expect("valid request");
    cert::issue(issuer, issuer_chain, &request, NOW_MS / 1000, 3650).expect("issued")
}

pub fn fixture(posts: usize) -> Fixture {
    let root = NodeKey::from_seed([1; 32]);
    let county = NodeKey::from_seed([2; 32]);
    let village = NodeKey::from_seed([3; 32]);
    let root_chain = certify(&root, &root, None, "52", "贵州省公共就业服务中心");
    let county_chain = certify(
        &county,
        &root,
        Some(&root_chain),
        "520102",
        "南明区就业服务站",
    );
    let village_chain = certify(
        &village,
        &county,
        Some(&county_chain),
        "520102016001",
        "纪念塔社区就业服务点",
    );
    let cfg = AcceptConfig {
        root: root.public(),
        materialize: true,
    };
    let mut scratch = MemoryStore::new();
    let mut certs = Vec::new();
    for (key, chain) in [
        (&root, &root_chain),
        (&county, &county_chain),
        (&village, &village_chain),
    ] {
        let author = LocalAuthor { key, cfg };
        let mut staged = Staged::new(&scratch);
        let env = author
            .publish_certificate(&mut staged, chain, NOW_MS)
            .expect("certificate record");
        let batch = staged.into_batch();
        scratch.commit(batch).expect("memory commit");
        certs.push(env);
    }
    let author = LocalAuthor { key: &village, cfg };
    let mut staged = Staged::new(&scratch);
    let titles = [
        "仓库装卸搬运工",
        "超市夜班理货员",
        "小区保洁员",
        "工地混凝土工",
        "茶叶加工工",
    ];
    let occupations = [
        "4-02-05-01",
        "4-02-06-02",
        "4-09-08-01",
        "6-29-01-03",
        "6-02-06-10",
    ];
    let mut signed = Vec::with_capacity(posts);
    for i in 0..posts {
        let at = NOW_MS + i as i64 * 1000;
        let edits = [
            (
                "title",
                FieldValue::Text(format!("{}（{}号）", titles[i % 5], i)),
            ),
            ("occupation", FieldValue::Text(occupations[i % 5].into())),
            ("wage", FieldValue::Number(150.0 + (i % 50) as f64)),
            ("unit", FieldValue::Text("day".into())),
            ("headcount", FieldValue::Int(1 + (i % 8) as i64)),
            ("filled", FieldValue::Counter(0)),
            ("status", FieldValue::Text("open".into())),
            (
                "location",
                FieldValue::Text("贵阳市南明区新华路 88 号".into()),
            ),
            ("contact", FieldValue::Text("0851-8555 0123".into())),
            ("created_at", FieldValue::Text(dates::rfc3339(at))),
        ];
        let target = Target::Create {
            kind: RecordKind::Post,
            reach: Some(region("520102")),
        };
        signed.push(
            author
                .write(&mut staged, target, &edits, at)
                .expect("post signed"),
        );
    }
    Fixture {
        cfg,
        certs,
        posts: signed,
    }
}
