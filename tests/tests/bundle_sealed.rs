//! Sealed USB bundles, with real `lingong` processes: a village holding a worker cannot export
//! a bundle without naming its receiver (exit 2 naming `--to`, no file written); sealed to its
//! township (by node id, or by the township's certificate file), the file holds neither the
//! worker's name nor phone, opens at the township only — the county is refused, in English
//! and in Chinese, and keeps nothing — and the envelopes inside are still verified one by one
//! (a forged signature re-sealed to the township is refused). A damaged sealed file is refused.
//! A bundle without personal data (the province's posts) stays a plain bundle.
//!
//! Run: `cargo test -p lingong-tests --test bundle_sealed`.

use lingong_protocol::bundle;
use lingong_protocol::keys::NodeKey;
use lingong_tests::{Node, init_chain};
use std::path::Path;

const NAME: &str = "龙秀珍";
const PHONE: &str = "13812340987";

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

fn contains(raw: &[u8], text: &str) -> bool {
    raw.windows(text.len()).any(|w| w == text.as_bytes())
}

/// The node's own key, read from its home (what only that node holds).
fn key_of(node: &Node) -> NodeKey {
    let seed: [u8; 32] = std::fs::read(node.home.join("node.key"))
        .expect("node.key")
        .try_into()
        .expect("a 32-byte seed");
    NodeKey::from_seed(seed)
}

#[test]
fn a_bundle_with_personal_data_is_sealed_to_its_receiver_and_opens_nowhere_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (city, county, township, village) = (&nodes[1], &nodes[2], &nodes[3], &nodes[4]);
    let id_number = lingong_protocol::record::complete_id_number("52262219750505123");
    let worker = village.json(&[
        "worker",
        "register",
        "--name",
        NAME,
        "--id-number",
        &id_number,
        "--phone",
        PHONE,
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string();
    village.create_post("乐源社区搬运工", None, &[]);

    // Without a receiver: refused, naming --to, nothing written.
    let unsealed = dir.path().join("unsealed.bundle");
    let refused = village.fail(&["bundle", "export", "--out", &path(&unsealed)]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--to"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("personal data"),
        "{}",
        refused.stderr
    );
    let zh = village
        .command()
        .args([
            "--lang",
            "zh",
            "bundle",
            "export",
            "--out",
            &path(&unsealed),
        ])
        .output()
        .expect("runs");
    assert_eq!(zh.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&zh.stderr).contains("个人信息"),
        "{}",
        String::from_utf8_lossy(&zh.stderr)
    );
    assert!(!unsealed.exists(), "a refused export wrote its file");

    // Sealed to the township by its node id.
    let township_id = township.node_id();
    let sealed = dir.path().join("for-township.bundle");
    let out = village.json(&[
        "bundle",
        "export",
        "--out",
        &path(&sealed),
        "--to",
        &township_id,
    ]);
    assert_eq!(out["sealed_to"], township_id.as_str(), "{out}");
    let raw = std::fs::read(&sealed).expect("bundle");
    assert!(raw.starts_with(bundle::SEALED_MAGIC));
    for secret in [NAME, PHONE, &id_number, "LINGONG-BUNDLE", "乐源社区搬运工"] {
        assert!(
            !contains(&raw, secret),
            "{secret} readable in the sealed file"
        );
    }
    // What it holds, opened with the township's key: the worker in full.
    let plain = bundle::open(&raw, &key_of(township)).expect("opens with the township's key");
    assert!(contains(&plain, NAME) && contains(&plain, PHONE));
    assert!(
        !contains(&plain, &id_number),
        "the clear ID number never travels"
    );

    // The county is not the receiver: refused in both languages, nothing kept.
    let county_before = county.json(&["status"])["records"].clone();
    let wrong = county.fail(&["bundle", "import", &path(&sealed)]);
    assert_eq!(wrong.status, 2, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("sealed to another node") && wrong.stderr.contains(&township_id),
        "{}",
        wrong.stderr
    );
    let wrong_zh = county
        .command()
        .args(["--lang", "zh", "bundle", "import", &path(&sealed)])
        .output()
        .expect("runs");
    assert_eq!(wrong_zh.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong_zh.stderr).contains("加密给另一个节点"),
        "{}",
        String::from_utf8_lossy(&wrong_zh.stderr)
    );
    assert_eq!(county.json(&["status"])["records"], county_before);

    // The township opens it and verifies every change as from any bundle.
    let imported = township.json(&["bundle", "import", &path(&sealed)]);
    assert!(imported["changes"].as_u64() > Some(0), "{imported}");
    assert_eq!(township.json(&["worker", "show", &worker])["name"], NAME);

    // Sealed by the township's certificate file instead of its id: the same receiver.
    let by_cert = dir.path().join("by-cert.bundle");
    let cert_file = township.home.join("issued-cert.json");
    let out = village.json(&[
        "bundle",
        "export",
        "--out",
        &path(&by_cert),
        "--to",
        &path(&cert_file),
    ]);
    assert_eq!(out["sealed_to"], township_id.as_str(), "{out}");
    let again = township.json(&["bundle", "import", &path(&by_cert)]);
    assert_eq!(again["changes"], 0, "{again}");
    let bad_to = village.fail(&[
        "bundle",
        "export",
        "--out",
        &path(&by_cert),
        "--to",
        "nobody",
    ]);
    assert_eq!(bad_to.status, 2, "{}", bad_to.stderr);
    assert!(bad_to.stderr.contains("--to"), "{}", bad_to.stderr);

    // A damaged sealed file does not open.
    let mut damaged = raw.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    let damaged_file = dir.path().join("damaged.bundle");
    std::fs::write(&damaged_file, &damaged).expect("write");
    let broken = township.fail(&["bundle", "import", &path(&damaged_file)]);
    assert_eq!(broken.status, 2, "{}", broken.stderr);
    assert!(
        broken.stderr.contains("damaged or forged"),
        "{}",
        broken.stderr
    );

    // Sealing proves who may read, not who wrote: a forged signature inside a bundle properly
    // sealed to the township is refused by the accept path.
    let envelopes = bundle::parse(&plain).expect("plain bundle");
    let mut forged = bundle::MAGIC.to_vec();
    let mut target = None;
    for env in &envelopes {
        let mut env = env.clone();
        if target.is_none() && env.header.kind == lingong_protocol::record::RecordKind::Post {
            env.signature.0[10] ^= 1;
            target = Some(());
        }
        bundle::push(&mut forged, &env.to_bytes());
    }
    assert!(target.is_some(), "the bundle holds the post");
    let resealed = bundle::seal(&forged, &key_of(township).public(), [42; 32]).expect("seal");
    let forged_file = dir.path().join("forged.bundle");
    std::fs::write(&forged_file, resealed).expect("write");
    let forged_import = township.fail(&["bundle", "import", &path(&forged_file)]);
    assert_eq!(forged_import.status, 1, "{}", forged_import.stderr);
    assert_eq!(
        forged_import.json["error"]["code"], "bundle-refused",
        "{:?}",
        forged_import.json
    );
    assert!(
        forged_import.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("bad-signature"),
        "{:?}",
        forged_import.json
    );

    // A bundle without personal data (the province's post) stays plain and imports as before.
    let province = &nodes[0];
    province.create_post("省级招聘会搬运工", None, &[]);
    let plain_file = dir.path().join("province.bundle");
    let out = province.json(&["bundle", "export", "--out", &path(&plain_file)]);
    assert!(out["sealed_to"].is_null(), "{out}");
    let raw = std::fs::read(&plain_file).expect("bundle");
    assert!(raw.starts_with(bundle::MAGIC));
    assert!(contains(&raw, "省级招聘会搬运工"));
    let at_city = city.json(&["bundle", "import", &path(&plain_file)]);
    assert!(at_city["changes"].as_u64() > Some(0), "{at_city}");
}
