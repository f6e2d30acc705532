//! Integration tests of one station's command line: the real `lingong` binary run against node
//! homes in temporary folders, checked against the contract in `shared/contract/cli.md`.
//!
//! Covers the five-level certificate chain built with the operator's commands, jurisdiction
//! refusals, bad input (exit 2, the field named on stderr, `{"error"}` with `--json`, the store
//! untouched), message language, Automerge export, who may update a post, worker ID masking
//! and de-duplication, the directory, the key file's mode, and crash safety under `kill -9`.
//!
//! Run: `cargo test -p lingong-tests --test station_cli`.

use lingong_tests::{CHAIN, Node, carry, certify, init_chain, poll_until};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("lingong-cli-test")
        .tempdir()
        .expect("temp dir")
}

/// `post create` arguments for a valid post; tests swap single arguments to make them bad.
const GOOD_POST: [(&str, &str); 5] = [
    ("--title", "茶园采茶工"),
    ("--occupation", "5-01-02-01"),
    ("--wage", "150"),
    ("--unit", "day"),
    ("--headcount", "8"),
];

/// `post create` with [`GOOD_POST`], each `(flag, value)` of `changes` replacing (or, when the
/// flag is new, adding) an argument; a value of `None` drops the flag.
fn post_args(changes: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut pairs: Vec<(String, Option<String>)> = GOOD_POST
        .iter()
        .map(|(f, v)| (f.to_string(), Some(v.to_string())))
        .collect();
    for (flag, value) in changes {
        match pairs.iter_mut().find(|(f, _)| f == flag) {
            Some(pair) => pair.1 = value.map(String::from),
            None => pairs.push((flag.to_string(), value.map(String::from))),
        }
    }
    let mut args = vec!["post".to_string(), "create".to_string()];
    for (flag, value) in pairs {
        if let Some(v) = value {
            // `--flag=value` so that values such as `-5` are not read as flags.
            args.push(format!("{flag}={v}"));
        }
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn create_post(node: &Node, changes: &[(&str, Option<&str>)]) -> String {
    let args = post_args(changes);
    node.json(&strs(&args))["id"]
        .as_str()
        .expect("post create prints the id")
        .to_string()
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A certified province node alone (the cheapest node that can write).
fn certified_province(dir: &Path) -> Node {
    let (folder, name, region) = CHAIN[0];
    let node = Node::init(dir, folder, name, region);
    certify(None, &node);
    node
}

#[test]
fn a_five_level_chain_is_certified_with_the_operators_commands() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let ids: Vec<String> = nodes.iter().map(Node::node_id).collect();
    for (i, node) in nodes.iter().enumerate() {
        let (_, name, region) = CHAIN[i];
        let shown = node.json(&["cert", "show"]);
        let chain = shown["chain"].as_array().expect("chain array");
        assert_eq!(chain.len(), i + 1, "{region}: leaf first, root last");
        for (j, link) in chain.iter().enumerate() {
            // Link j is the certificate of level i - j, issued by the level above it.
            let level = i - j;
            assert_eq!(link["region"], CHAIN[level].2);
            assert_eq!(link["node_id"], ids[level]);
            assert_eq!(link["issuer"], ids[level.saturating_sub(1)]);
        }
        assert_eq!(chain[0]["name"], name);
        let status = node.json(&["status"]);
        for key in ["node_id", "region", "level", "records", "peers"] {
            assert!(
                status.get(key).is_some(),
                "status carries {key:?}: {status}"
            );
        }
        assert_eq!(status["node_id"], ids[i]);
        assert_eq!(status["certified"], true);
        assert_eq!(status["region"], region);
        assert_eq!(
            status["level"],
            ["province", "city", "county", "township", "village"][i]
        );
        assert_eq!(
            status["records"]["certificates"], 1,
            "{region} published its certificate record"
        );
    }
}

#[test]
fn cert_install_prints_the_chain_and_its_expiry() {
    let dir = tmp();
    let province = Node::init(dir.path(), "p", "贵州省零工服务中心", "52");
    let installed = certify(None, &province);
    assert_eq!(installed["chain"].as_array().map(Vec::len), Some(1));
    let until = installed["valid_until"].as_str().expect("valid_until");
    assert!(
        until.len() >= 20 && until.contains('T'),
        "RFC 3339: {until}"
    );
}

#[test]
fn a_village_post_shows_valid_signatures() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let id = create_post(village, &[("--reach", Some("522622"))]);
    let shown = village.json(&["post", "show", &id]);
    assert_eq!(shown["signatures_valid"], true);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["title"], "茶园采茶工");
    assert_eq!(shown["region"], "522622101001");
    assert_eq!(shown["reach"], "522622");
    assert_eq!(shown["author"], village.node_id());
    let history = shown["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["author"], village.node_id());
    let listed = village.json(&["post", "list"]);
    let row = listed
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == id.as_str()))
        .expect("the post is listed");
    // The contract's `post list` row (shared/contract/cli.md), not the document's fields
    // (`lingong_protocol::schema::Post::FIELDS`): a row adds `id` and `author` and leaves the
    // details (`location`, `contact`, `description`, `review_reason`) to `post show`.
    for key in [
        "id",
        "title",
        "occupation",
        "wage",
        "unit",
        "headcount",
        "filled",
        "status",
        "review",
        "region",
        "reach",
        "author",
        "created_at",
        "expires",
    ] {
        assert!(
            row.get(key).is_some(),
            "post list rows carry {key:?}: {row}"
        );
    }
    assert_eq!(row["review"], "pending", "village posts wait for review");
    assert_eq!(row["status"], "open");
    assert_eq!(row["headcount"], 8);
}

#[test]
fn a_county_refuses_a_certificate_request_from_another_county() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let county = &nodes[2];
    let foreign = Node::init(dir.path(), "foreign", "施秉县城关镇驿站", "522623100");
    let request = dir.path().join("foreign-request.json");
    let out = dir.path().join("foreign-cert.json");
    foreign.json(&["cert", "request", "--out", path_str(&request)]);
    let before = county.snapshot();
    let failure = county.fail(&[
        "cert",
        "issue",
        "--request",
        path_str(&request),
        "--out",
        path_str(&out),
    ]);
    assert_eq!(failure.status, 2, "{failure:?}");
    assert!(failure.stderr.contains("522623100"), "{}", failure.stderr);
    assert_eq!(failure.json["error"]["code"], "out-of-jurisdiction");
    assert!(!out.exists(), "no certificate file is written");
    assert_eq!(county.snapshot(), before);
    // The foreign node stays uncertified and cannot write.
    let refused = foreign.fail(&strs(&post_args(&[])));
    assert_eq!(refused.status, 2);
    assert_eq!(refused.json["error"]["code"], "not-certified");
}

/// Asserts the contract for a rejected command: exit 2, one stderr line naming one of
/// `fields`, `{"error": {"code", "message"}}` on stdout, and the node's posts and record counts
/// exactly as before.
fn assert_refused(node: &Node, label: &str, args: &[&str], fields: &[&str]) {
    let before = node.snapshot();
    let failure = node.fail(args);
    assert_eq!(failure.status, 2, "{label}: exit status 2, got {failure:?}");
    let stderr = failure.stderr.trim();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{label}: one line on stderr: {stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(
        fields.iter().any(|f| lower.contains(f)),
        "{label}: stderr must name the field ({fields:?}): {stderr}"
    );
    let error = &failure.json["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{label}: --json prints {{\"error\": {{\"code\", …}}}}: {}",
        failure.json
    );
    let message = error["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        fields.iter().any(|f| message.contains(f)),
        "{label}: the JSON message names the field: {message}"
    );
    assert_eq!(node.snapshot(), before, "{label}: the store changed");
}

/// A bad `post create`: label, the arguments changed from [`GOOD_POST`], the fields the error
/// may name.
type BadPost = (
    &'static str,
    Vec<(&'static str, Option<&'static str>)>,
    &'static [&'static str],
);

#[test]
fn bad_post_input_exits_2_names_the_field_and_changes_nothing() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    create_post(village, &[]);
    let cases: [BadPost; 10] = [
        (
            "malformed region",
            vec![("--reach", Some("52262210"))],
            &["reach", "region"],
        ),
        (
            "letters in region",
            vec![("--reach", Some("5226x2"))],
            &["reach", "region"],
        ),
        (
            "unknown Guizhou region",
            vec![("--reach", Some("522622101999"))],
            &["reach", "region"],
        ),
        (
            "unknown occupation",
            vec![("--occupation", Some("9-99-99-99"))],
            &["occupation"],
        ),
        ("negative wage", vec![("--wage", Some("-5"))], &["wage"]),
        ("absurd wage", vec![("--wage", Some("99999"))], &["wage"]),
        (
            "headcount 0",
            vec![("--headcount", Some("0"))],
            &["headcount"],
        ),
        (
            "expiry in the past",
            vec![("--expires", Some("2020-01-01"))],
            &["expires"],
        ),
        ("missing title", vec![("--title", None)], &["title"]),
        ("wrong unit", vec![("--unit", Some("week"))], &["unit"]),
    ];
    for (label, changes, fields) in cases {
        let args = post_args(&changes);
        assert_refused(village, label, &strs(&args), fields);
    }
}

#[test]
fn a_reach_outside_the_stations_county_is_refused() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let args = post_args(&[("--reach", Some("522623"))]);
    assert_refused(
        &nodes[4],
        "reach in another county",
        &strs(&args),
        &["reach"],
    );
}

#[test]
fn a_bad_id_number_check_digit_is_refused() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let good = lingong_protocol::record::complete_id_number("52262219700101234");
    let last = good.chars().last().expect("18 characters");
    let wrong_digit = if last == '0' { '1' } else { '0' };
    let bad = format!("{}{wrong_digit}", &good[..17]);
    assert_refused(
        &nodes[4],
        "bad check digit",
        &[
            "worker",
            "register",
            "--name",
            "王秀英",
            "--id-number",
            &bad,
            "--phone",
            "13800000000",
        ],
        &["id_number", "id number"],
    );
}

#[test]
fn an_uncertified_node_cannot_write() {
    let dir = tmp();
    let node = Node::init(dir.path(), "new", "乐源社区零工服务站", "522622101001");
    let args = post_args(&[]);
    assert_refused(
        &node,
        "post create before cert install",
        &strs(&args),
        &["cert"],
    );
    let failure = node.fail(&strs(&args));
    assert_eq!(failure.json["error"]["code"], "not-certified");
}

#[test]
fn init_refuses_a_malformed_or_unknown_region_and_creates_nothing() {
    let dir = tmp();
    for (label, region) in [
        ("malformed", "5226221"),
        ("padded", "520000"),
        ("unknown in Guizhou", "522699"),
    ] {
        let node = Node::at(dir.path().join(label.replace(' ', "-")));
        let failure = node.fail(&["init", "--name", "站", "--region", region]);
        assert_eq!(failure.status, 2, "{label}: {failure:?}");
        assert!(
            failure.stderr.to_lowercase().contains("region"),
            "{label}: {}",
            failure.stderr
        );
        assert!(failure.json["error"]["code"].is_string());
        assert!(
            !node.home.join("node.key").exists(),
            "{label}: no key is created"
        );
    }
}

#[test]
fn messages_follow_the_lang_flag_and_lang_environment() {
    let dir = tmp();
    let province = certified_province(dir.path());
    let args = post_args(&[("--headcount", Some("0"))]);
    let mut zh = vec!["--lang", "zh"];
    zh.extend(strs(&args));
    let failure = province.fail(&zh);
    assert_eq!(failure.status, 2);
    assert!(has_cjk(&failure.stderr), "Chinese: {}", failure.stderr);
    assert!(failure.stderr.contains("headcount"), "{}", failure.stderr);
    assert!(has_cjk(
        failure.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
    ));
    let mut en = vec!["--lang", "en"];
    en.extend(strs(&args));
    let failure = province.fail(&en);
    assert!(!has_cjk(&failure.stderr), "English: {}", failure.stderr);
    assert!(failure.stderr.contains("headcount"), "{}", failure.stderr);
    // Without --lang, LANG decides: Chinese when it starts with zh.
    let out = province
        .command()
        .env("LANG", "zh_CN.UTF-8")
        .args(&args)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(has_cjk(&String::from_utf8_lossy(&out.stderr)));
}

fn scalar_json(doc: &automerge::AutoCommit, key: &str) -> Value {
    use automerge::{ReadDoc, ScalarValue, Value as AmValue};
    match doc.get(automerge::ROOT, key).expect("readable") {
        Some((AmValue::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(t) => json!(t.to_string()),
            ScalarValue::Int(i) => json!(i),
            ScalarValue::Uint(u) => json!(u),
            ScalarValue::F64(f) => json!(f),
            ScalarValue::Counter(c) => json!(i64::from(c)),
            other => json!(other.to_string()),
        },
        other => panic!("{key} is not a scalar in the exported document: {other:?}"),
    }
}

#[test]
fn post_export_writes_a_document_that_automerge_loads_with_the_shown_fields() {
    let dir = tmp();
    let province = certified_province(dir.path());
    let id = create_post(
        &province,
        &[("--wage", Some("162.5")), ("--headcount", Some("12"))],
    );
    province.json(&["post", "update", &id, "--headcount", "10"]);
    let out = dir.path().join("post.automerge");
    let exported = province.json(&["post", "export", &id, "--out", path_str(&out)]);
    let bytes = std::fs::read(&out).expect("export file written");
    assert_eq!(exported["id"], id.as_str());
    assert_eq!(exported["bytes"], bytes.len());
    let doc = automerge::AutoCommit::load(&bytes).expect("automerge loads the export");
    let shown = province.json(&["post", "show", &id]);
    for key in ["title", "wage", "headcount", "unit", "occupation", "status"] {
        assert_eq!(scalar_json(&doc, key), shown[key], "field {key}");
    }
    assert_eq!(shown["wage"], 162.5);
    assert_eq!(shown["headcount"], 10);
}

#[test]
fn a_post_is_updated_by_its_creator_and_its_county_but_not_by_a_sibling_village() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let (township, county, village) = (&nodes[3], &nodes[2], &nodes[4]);
    let sibling = Node::init(dir.path(), "sibling", "舞阳社区零工服务站", "522622101002");
    certify(Some(township), &sibling);
    let id = create_post(village, &[("--reach", Some("522622"))]);

    assert_eq!(
        village.json(&["post", "update", &id, "--headcount", "5"])["id"],
        id.as_str()
    );
    assert_eq!(village.json(&["post", "show", &id])["headcount"], 5);

    let carried = carry(village, county);
    assert_eq!(carried["rejected"], json!({}), "{carried}");
    assert!(carried["changes"].as_u64().unwrap_or(0) >= 3, "{carried}");
    county.json(&["post", "update", &id, "--wage", "180"]);
    let at_county = county.json(&["post", "show", &id]);
    assert_eq!(at_county["wage"], 180.0);
    assert_eq!(at_county["headcount"], 5);
    assert_eq!(at_county["signatures_valid"], true);
    let authors: Vec<&Value> = at_county["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| &h["author"])
        .collect();
    assert_eq!(authors.len(), 3);
    assert_eq!(authors[2], &json!(county.node_id()));

    // The county's edit travels back down and merges at the village.
    let back = carry(county, village);
    assert_eq!(back["rejected"], json!({}), "{back}");
    let at_village = village.json(&["post", "show", &id]);
    assert_eq!(at_village["wage"], 180.0);
    assert_eq!(at_village["signatures_valid"], true);

    // The sibling village holds the post (it reaches the whole county) but may not edit it.
    let to_sibling = carry(village, &sibling);
    assert_eq!(to_sibling["rejected"], json!({}), "{to_sibling}");
    assert_eq!(sibling.json(&["post", "show", &id])["wage"], 180.0);
    let before = sibling.snapshot();
    let refused = sibling.fail(&["post", "update", &id, "--headcount", "9"]);
    assert_eq!(refused.status, 2, "{refused:?}");
    assert_eq!(refused.json["error"]["code"], "unauthorized-edit");
    assert_eq!(sibling.snapshot(), before);
}

#[test]
fn worker_registration_masks_the_id_number_and_refuses_a_second_registration() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let id_number = lingong_protocol::record::complete_id_number("52262219700101234");
    let registered = village.json(&[
        "worker",
        "register",
        "--name",
        "王秀英",
        "--id-number",
        &id_number,
        "--phone",
        "13800000000",
        "--skills",
        "钟点工",
        "--flags",
        "older",
    ]);
    let worker_id = registered["id"].as_str().expect("worker id");

    let listed = village.json(&["worker", "list"]);
    let text = listed.to_string();
    assert!(!text.contains(&id_number), "clear ID number in {text}");
    assert!(
        !text.contains(&id_number[6..14]),
        "birth date digits in {text}"
    );
    let row = listed
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == worker_id))
        .expect("the worker is listed");
    let masked = format!("52{}{}", "*".repeat(15), &id_number[17..]);
    assert_eq!(row["id_masked"], masked.as_str());
    for hidden in [&id_number[2..6], &id_number[14..17]] {
        assert!(
            !masked.contains(hidden),
            "region or sequence digits in {masked}"
        );
    }
    assert_eq!(row["name"], "王秀英");
    assert!(
        row["priority"].as_i64().unwrap_or(0) >= 1,
        "older workers first"
    );

    let human = village.run(&["worker", "list"]);
    assert!(human.status.success());
    assert!(!String::from_utf8_lossy(&human.stdout).contains(&id_number));

    for variant in [id_number.clone(), id_number.to_lowercase()] {
        assert_refused(
            village,
            "second registration of the same ID number",
            &[
                "worker",
                "register",
                "--name",
                "王秀",
                "--id-number",
                &variant,
                "--phone",
                "13900000000",
            ],
            &["id_number", "id number"],
        );
    }
}

/// HMAC-SHA256 as version 1 of `id_hash` used it (RFC 2104 over the protocol's SHA-256).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use lingong_protocol::canon::sha256;
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

/// The search the issue describes: every birth date from 1900-01-01 to today between the
/// region (first 6) and sequence (15-17) digits of `visible`, each candidate hashed with
/// `key` as version 1 did; the candidate whose hash is `target`, if any.
fn birth_date_search(visible: &str, key: &[u8], target: &[u8]) -> Option<String> {
    use lingong_protocol::{dates, record::complete_id_number};
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    (dates::days_from_civil(1900, 1, 1)..=dates::today_cst(now_ms)).find_map(|day| {
        let (y, m, d) = dates::civil_from_days(day);
        let candidate = complete_id_number(&format!(
            "{}{y:04}{m:02}{d:02}{}",
            &visible[..6],
            &visible[14..17]
        ));
        (hmac_sha256(key, candidate.as_bytes()) == target).then_some(candidate)
    })
}

/// The worker records in a bundle sealed to `holder` (opened with its key, as the county
/// itself would), as their first change made them (`(id_masked, id_hash)`), and whether the
/// opened bundle's bytes contain `secret` anywhere.
fn worker_records_in_bundle(
    file: &Path,
    holder: &Node,
    secret: &str,
) -> (Vec<(String, String)>, bool) {
    use lingong_protocol::envelope::Envelope;
    use lingong_protocol::record::{RecordKind, apply_change_viewed};
    let seed: [u8; 32] = std::fs::read(holder.home.join("node.key"))
        .expect("node.key")
        .try_into()
        .expect("a 32-byte seed");
    let key = lingong_protocol::keys::NodeKey::from_seed(seed);
    let raw = lingong_protocol::bundle::open(&std::fs::read(file).expect("bundle"), &key)
        .expect("the bundle opens with its receiver's key");
    let leaks = raw.windows(secret.len()).any(|w| w == secret.as_bytes());
    let mut body = raw
        .strip_prefix(b"LINGONG-BUNDLE/1\n".as_slice())
        .expect("bundle header");
    let mut workers = Vec::new();
    while !body.is_empty() {
        let len = u32::from_be_bytes(body[..4].try_into().expect("length")) as usize;
        let env = Envelope::from_bytes(&body[4..4 + len]).expect("envelope");
        body = &body[4 + len..];
        if env.header.kind != RecordKind::Worker {
            continue;
        }
        let payload = env
            .payload
            .expect("the county holds worker records in full");
        let view = apply_change_viewed(None, &payload).expect("change").view;
        let text = |k: &str| view[k].as_str().expect("text field").to_string();
        workers.push((text("id_masked"), text("id_hash")));
    }
    (workers, leaks)
}

#[test]
fn a_county_holding_the_replicated_record_cannot_find_the_id_number_by_a_birth_date_search() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let (province, township, county, village) = (&nodes[0], &nodes[3], &nodes[2], &nodes[4]);
    let id_number = lingong_protocol::record::complete_id_number("52262219870913204");
    village.json(&[
        "worker",
        "register",
        "--name",
        "杨光明",
        "--id-number",
        &id_number,
        "--phone",
        "13800000001",
    ]);
    carry(village, township);
    carry(township, county);
    let bundle = county.home.join("everything.bundle");
    let county_id = county.node_id();
    county.json(&[
        "bundle",
        "export",
        "--out",
        bundle.to_str().expect("utf-8"),
        "--to",
        &county_id,
    ]);
    let (workers, leaks) = worker_records_in_bundle(&bundle, county, &id_number);
    assert!(!leaks, "the clear ID number travels in the county's bundle");
    let [(masked, id_hash)] = workers.as_slice() else {
        panic!("one worker record at the county: {workers:?}");
    };

    // The old search, even handed the region and sequence digits the mask no longer shows,
    // and the province root key every certificate carries: nothing.
    let root =
        lingong_protocol::keys::PublicKey::from_node_id(&province.node_id()).expect("root key");
    let mut v1_key = b"lingong/id-hash/v1:".to_vec();
    v1_key.extend_from_slice(&root.0);
    let untagged = id_hash.strip_prefix("v2:").unwrap_or(id_hash);
    let stored = lingong_protocol::id_number::parse_id_hash_field(&format!("v2:{untagged}"))
        .expect("64 hex digits");
    assert_eq!(
        birth_date_search(&id_number, &v1_key, &stored),
        None,
        "a birth-date search recovered the ID number from the county's copy"
    );

    // What the county sees: the province and the check digit, nothing between.
    assert_eq!(masked, &format!("52{}{}", "*".repeat(15), &id_number[17..]));
    assert!(id_hash.starts_with("v2:"), "a versioned hash: {id_hash}");
    // The same search against a version-1 hash finds the number: the search itself works.
    let v1_hash = hmac_sha256(&v1_key, id_number.as_bytes());
    assert_eq!(
        birth_date_search(&id_number, &v1_key, &v1_hash).as_deref(),
        Some(id_number.as_str())
    );
    // Nor is the version-2 hash keyed by anything public: the true number under keys made
    // from the root key does not give it.
    let mut v2_guess = b"lingong/id-hash/v2:".to_vec();
    v2_guess.extend_from_slice(&root.0);
    for key in [v1_key.clone(), v2_guess, root.0.to_vec()] {
        let h = lingong_protocol::id_number::id_number_hash(&key, &id_number).expect("hash");
        assert_ne!(
            h.as_slice(),
            stored.as_slice(),
            "a hash keyed by public data"
        );
    }
}

#[test]
fn an_id_number_with_an_impossible_birth_date_is_refused() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    for (birth, why) in [
        ("19871301", "month 13"),
        ("19870932", "day 32"),
        ("19870230", "February 30"),
        ("18991231", "before 1900"),
        ("20991231", "in the future"),
    ] {
        let id = lingong_protocol::record::complete_id_number(&format!("522622{birth}204"));
        assert_refused(
            &nodes[4],
            why,
            &[
                "worker",
                "register",
                "--name",
                "杨光明",
                "--id-number",
                &id,
                "--phone",
                "13800000001",
            ],
            &["id_number"],
        );
        let failure = nodes[4].fail(&[
            "--lang",
            "zh",
            "worker",
            "register",
            "--name",
            "杨光明",
            "--id-number",
            &id,
            "--phone",
            "13800000001",
        ]);
        assert!(
            failure.stderr.contains("id_number") && failure.stderr.contains("出生日期"),
            "{why}: the Chinese message names the field and the rule: {}",
            failure.stderr
        );
    }
}

#[test]
fn the_id_secret_is_owner_only_and_a_lost_one_still_refuses_a_second_registration() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let secret_path = village.home.join("id.secret");
    let meta = std::fs::metadata(&secret_path).expect("init makes id.secret");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let first = std::fs::read(&secret_path).expect("read");
    let other = std::fs::read(nodes[3].home.join("id.secret")).expect("read");
    assert_ne!(first, other, "each node draws its own secret");
    let config = std::fs::read_to_string(village.home.join("config.toml")).expect("config");
    let first_hex: String = first.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !config.contains(&first_hex),
        "the secret is not in config.toml"
    );

    let id_number = lingong_protocol::record::complete_id_number("52262219870913204");
    let register = [
        "worker",
        "register",
        "--name",
        "杨光明",
        "--id-number",
        &id_number,
        "--phone",
        "13800000001",
    ];
    village.json(&register);
    // A node from before id.secret existed (or one that lost it) gets a new one on open...
    std::fs::remove_file(&secret_path).expect("remove");
    village.json(&["status"]);
    let meta = std::fs::metadata(&secret_path).expect("made again on open");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_ne!(std::fs::read(&secret_path).expect("read"), first);
    // ...and still refuses the same person, found in its private table of clear numbers.
    assert_refused(
        village,
        "the same person after a new key",
        &register,
        &["id_number"],
    );

    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let failure = village.fail(&["status"]);
    assert_ne!(failure.status, 0, "a secret others may read is refused");
    assert!(failure.stderr.contains("id.secret"), "{}", failure.stderr);
}

#[test]
fn directory_set_then_list_shows_the_entry() {
    let dir = tmp();
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    village.json(&[
        "directory",
        "set",
        "--address",
        "旧州镇乐源社区服务大厅",
        "--hours",
        "周一至周五 8:30-17:30",
        "--hotline",
        "0855-12333",
        "--services",
        "岗位发布,求职登记",
    ]);
    village.json(&["directory", "set", "--hotline", "0855-12345"]);
    let listed = village.json(&["directory", "list"]);
    let rows = listed.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "one entry per node, updated in place");
    let row = &rows[0];
    assert_eq!(row["node_id"], village.node_id());
    assert_eq!(row["name"], CHAIN[4].1);
    assert_eq!(row["region"], "522622101001");
    assert_eq!(row["level"], "village");
    assert_eq!(row["address"], "旧州镇乐源社区服务大厅");
    assert_eq!(row["hours"], "周一至周五 8:30-17:30");
    assert_eq!(row["hotline"], "0855-12345");
    assert_eq!(row["services"], json!(["岗位发布", "求职登记"]));
    assert!(row["last_seen"].is_string());
}

#[test]
fn the_key_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let node = Node::init(dir.path(), "p", "贵州省零工服务中心", "52");
    let meta = std::fs::metadata(node.home.join("node.key")).expect("node.key exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}

/// A small xorshift generator seeded from the clock; the seed is printed so a failing run
/// can be replayed with `LINGONG_CRASH_SEED`.
struct Rng(u64);
impl Rng {
    fn from_env_or_clock() -> Rng {
        let seed = std::env::var("LINGONG_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("crash test seed: LINGONG_CRASH_SEED={seed}");
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The ids printed by completed `post create --json` commands: complete lines only.
fn printed_ids(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a completed command printed {line:?}: {e}"));
            v["id"].as_str().expect("id").to_string()
        })
        .collect()
}

#[test]
fn posts_reported_as_written_survive_kill_9_and_the_store_opens() {
    use std::os::unix::process::CommandExt;
    let dir = tmp();
    let node = certified_province(dir.path());
    let mut rng = Rng::from_env_or_clock();
    let mut all_printed: Vec<String> = Vec::new();
    for round in 0..4 {
        let out_path = dir.path().join(format!("round-{round}.out"));
        let out = std::fs::File::create(&out_path).expect("output file");
        // A shell loop of `lingong post create` invocations, in its own process group so one
        // SIGKILL takes the loop and whichever command is running.
        let script = r#"i=0; while :; do "$0" --home "$1" --json post create --title "crash $2 $i" --occupation 钟点工 --wage 30 --unit hour --headcount 2 || exit 1; i=$((i+1)); done"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(lingong_tests::lingong_bin())
            .arg(&node.home)
            .arg(round.to_string())
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("shell starts");
        let pgid = child.id();
        let wanted = 1 + rng.below(5) as usize;
        poll_until(
            &format!("{wanted} posts written in round {round}"),
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the write loop stopped by itself: {status}");
                }
                (printed_ids(&out_path).len() >= wanted).then_some(())
            },
        );
        // Then a random moment within the next command or so (the loop writes about one post
        // every few tens of milliseconds): this chooses when to crash, it waits for nothing.
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        let killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status()
            .expect("kill runs");
        assert!(killed.success(), "kill -9 of the process group");
        child.wait().expect("the shell is reaped");

        // The store opens again (poll while the killed command's process finishes dying; on a
        // loaded machine a SIGKILL waits for a write in progress to end).
        lingong_tests::poll_until_ok(
            &format!("the store to open after kill -9 in round {round}"),
            Duration::from_secs(90),
            || {
                let out = node.run(&["--json", "status"]);
                if out.status.success() {
                    return Ok(());
                }
                Err(format!(
                    "{}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            },
        );
        let printed = printed_ids(&out_path);
        assert!(printed.len() >= wanted);
        all_printed.extend(printed);
        let listed = node.json(&["post", "list"]);
        let held: Vec<&str> = listed
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        for id in &all_printed {
            assert!(
                held.contains(&id.as_str()),
                "round {round}: post {id} was reported written but is gone"
            );
        }
        // At most one unreported post per kill: the command killed between commit and print.
        assert!(
            held.len() <= all_printed.len() + round + 1,
            "round {round}: {} posts held, {} reported",
            held.len(),
            all_printed.len()
        );
    }
    let last = all_printed.last().expect("posts were written");
    assert_eq!(node.json(&["post", "show", last])["signatures_valid"], true);
}
