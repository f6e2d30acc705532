//! Complaints and the directory with real `lingong` processes.
//!
//! - Over a running network (six daemons: the five-level chain and a sibling village under the
//!   same township, each dialling its parent): a wage-arrears complaint filed at the village
//!   reaches the county and the province; the county's steps up to `resolved` come back down
//!   to the village, with their history; the employer it names shows it at the sibling village,
//!   which holds the employer but not the complaint; a fraud finding upheld at the county closes
//!   the post and suspends the employer in one command, and the village sees the post closed.
//! - Bad input, carried by USB bundles (no daemons): an unknown post or employer, a skipped or
//!   backward step, a step's field given at another step, an update by the sibling village, an
//!   enforcement from below the county: exit 2 naming the field, nothing changed.
//! - The directory: a station certified just now is listed at its parent at once (before its
//!   own certificate record arrives); a revoked one is listed `revoked`, not dropped; the export
//!   writes CSV with a BOM and a self-contained printable HTML page, mode 0600.
//!
//! Nothing sleeps a fixed time: every wait polls with a deadline.

use lingong_tests::{Daemon, Node, carry, certify, free_port, init_chain, poll_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);

/// The sibling village under the chain's township (旧州镇).
const SIBLING: (&str, &str, &str) = ("sibling", "旧州镇邻村零工服务站", "522622101002");

/// The five-level chain and the sibling village, certified (the sibling by the township).
fn nodes(dir: &Path) -> Vec<Node> {
    let mut nodes = init_chain(dir);
    let sibling = Node::init(dir, SIBLING.0, SIBLING.1, SIBLING.2);
    certify(Some(&nodes[3]), &sibling);
    nodes.push(sibling);
    nodes
}

/// Index of each node's parent in [`nodes`].
const PARENT: [Option<usize>; 6] = [None, Some(0), Some(1), Some(2), Some(3), Some(3)];

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// `employer register` of an individual business without a credit code (type `other`).
fn register_employer(node: &Node, name: &str) -> String {
    id(&node.json(&[
        "employer",
        "register",
        "--name",
        name,
        "--type",
        "other",
        "--contact",
        "王老板",
        "--phone",
        "13800000000",
    ]))
}

/// A county post naming `employer`, advertised in the whole county.
fn county_post(county: &Node, title: &str, employer: &str) -> String {
    county.create_post(title, Some("522622"), &["--employer", employer])
}

fn show(node: &Node, complaint: &str) -> Option<Value> {
    let out = node
        .command()
        .args(["--json", "complaint", "show", complaint])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

fn wait_for_status(node: &Node, complaint: &str, status: &str) -> Value {
    poll_until(
        &format!("complaint {complaint} {status} at {}", node.home.display()),
        DEADLINE,
        || show(node, complaint).filter(|c| c["status"] == status),
    )
}

fn post_status(node: &Node, post: &str) -> Option<String> {
    node.json(&["post", "list"])
        .as_array()?
        .iter()
        .find(|p| p["id"] == post)
        .and_then(|p| p["status"].as_str().map(String::from))
}

fn wait_for_post(node: &Node, post: &str, status: &str) {
    poll_until(
        &format!("post {post} {status} at {}", node.home.display()),
        DEADLINE,
        || (post_status(node, post).as_deref() == Some(status)).then_some(()),
    );
}

#[test]
fn complaints_go_up_to_the_county_and_province_and_come_back_down_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = nodes(dir.path());
    let ports: Vec<u16> = nodes.iter().map(|_| free_port()).collect();
    for (i, parent) in PARENT.iter().enumerate() {
        if let Some(p) = parent {
            let addr = format!(
                "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                ports[*p],
                nodes[*p].node_id()
            );
            nodes[i].json(&["peer", "add", &addr]);
        }
    }
    let _daemons: Vec<Daemon> = nodes
        .iter()
        .zip(&ports)
        .map(|(n, p)| Daemon::start(n, *p))
        .collect();
    let (province, county, village, sibling) = (&nodes[0], &nodes[2], &nodes[4], &nodes[5]);

    // The county registers an employer and publishes its post into the whole county.
    let employer = register_employer(county, "黄平某建筑劳务队");
    let post = county_post(county, "工地搬运工", &employer);
    wait_for_post(village, &post, "open");

    // 1. A wage-arrears complaint filed at the village reaches the county and the province.
    let complaint = id(&village.json(&[
        "complaint",
        "file",
        "--kind",
        "wage-arrears",
        "--post",
        &post,
        "--text",
        "干了十天，工资一直未发",
        "--amount",
        "1500",
    ]));
    let at_county = wait_for_status(county, &complaint, "received");
    assert_eq!(
        at_county["employer_id"],
        employer.as_str(),
        "taken from the post"
    );
    assert_eq!(at_county["region"], "522622101001");
    assert!(at_county["due"].is_string() && at_county["overdue"] == false);
    wait_for_status(province, &complaint, "received");

    // 2. The county moves it step by step; "resolved" comes back down to the village.
    county.json(&[
        "complaint",
        "update",
        &complaint,
        "--status",
        "accepted",
        "--note",
        "已受理，约谈用工方",
    ]);
    county.json(&["complaint", "update", &complaint, "--status", "handling"]);
    county.json(&[
        "complaint",
        "update",
        &complaint,
        "--status",
        "resolved",
        "--finding",
        "upheld",
        "--recovered",
        "1500",
        "--note",
        "工资已全额追回",
    ]);
    let at_village = wait_for_status(village, &complaint, "resolved");
    let history = at_village["history"].as_array().expect("history");
    let steps: Vec<&str> = history
        .iter()
        .filter_map(|h| h["status"].as_str())
        .collect();
    assert_eq!(steps, ["received", "accepted", "handling", "resolved"]);
    let county_id = county.node_id();
    assert!(
        history[1..].iter().all(|h| h["by"] == county_id.as_str()),
        "{history:?}"
    );
    assert_eq!(history[0]["by"], village.node_id().as_str());
    assert_eq!(history[1]["note"], "已受理，约谈用工方");
    assert_eq!(history[2]["note"], "", "a step without a note shows none");
    assert_eq!(history[3]["recovered"], 1500.0);
    assert_eq!(at_village["recovered"], 1500.0);
    wait_for_status(province, &complaint, "resolved");

    // 3. The employer shows the complaint at every station that holds it: at the village
    //    (which holds the complaint), and at the sibling village, which holds the employer but
    //    not the complaint (it goes up the filing station's line only): there from the mark
    //    the county wrote on the employer's record.
    let shown = |node: &Node| -> Option<Value> {
        let out = node
            .command()
            .args(["--json", "employer", "show", &employer])
            .output()
            .ok()?;
        let e: Value = serde_json::from_slice(&out.stdout).ok()?;
        e["complaints"]
            .as_array()?
            .iter()
            .find(|c| c["id"] == complaint.as_str() && c["status"] == "resolved")
            .cloned()
    };
    let v = poll_until(
        "the complaint on the employer at the village",
        DEADLINE,
        || shown(village),
    );
    assert_eq!(
        (v["kind"].as_str(), v["held_here"].as_bool()),
        (Some("wage-arrears"), Some(true))
    );
    let s = poll_until(
        "the complaint on the employer at the sibling",
        DEADLINE,
        || shown(sibling),
    );
    assert_eq!(s["held_here"], false);
    assert_eq!(
        (s["amount"].as_f64(), s["recovered"].as_f64()),
        (Some(1500.0), Some(1500.0))
    );
    assert!(
        show(sibling, &complaint).is_none(),
        "the complaint itself stays up the line"
    );

    // 4. A fraud finding upheld at the county closes the post and suspends the employer in one
    //    command; the village sees the post closed.
    let fraud_post = county_post(county, "高薪日结（需交押金）", &employer);
    wait_for_post(village, &fraud_post, "open");
    let fraud = id(&village.json(&[
        "complaint",
        "file",
        "--kind",
        "fraud",
        "--post",
        &fraud_post,
        "--text",
        "收取押金 300 元后失联",
        "--amount",
        "300",
    ]));
    wait_for_status(county, &fraud, "received");
    county.json(&["complaint", "update", &fraud, "--status", "accepted"]);
    county.json(&["complaint", "update", &fraud, "--status", "handling"]);
    let done = county.json(&[
        "complaint",
        "update",
        &fraud,
        "--status",
        "resolved",
        "--finding",
        "upheld",
        "--note",
        "查实虚假招聘",
        "--close-post",
        "--suspend-employer",
    ]);
    assert_eq!(
        (
            done["post_closed"].as_bool(),
            done["employer_suspended"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(post_status(county, &fraud_post).as_deref(), Some("closed"));
    assert_eq!(
        county.json(&["employer", "show", &employer])["status"],
        "suspended"
    );
    wait_for_post(village, &fraud_post, "closed");
    poll_until("the employer suspended at the sibling", DEADLINE, || {
        let e = sibling.json(&["employer", "show", &employer]);
        (e["status"] == "suspended").then_some(())
    });
    wait_for_status(village, &fraud, "resolved");
}

/// The chain and the sibling, with a county post and a village complaint about it carried up
/// to the county by bundles.
struct Offline {
    nodes: Vec<Node>,
    employer: String,
    post: String,
    complaint: String,
}

fn offline(dir: &Path) -> Offline {
    let nodes = nodes(dir);
    let (county, township, village, sibling) = (&nodes[2], &nodes[3], &nodes[4], &nodes[5]);
    let employer = register_employer(county, "施秉某保洁公司");
    let post = county_post(county, "保洁员", &employer);
    carry(county, township);
    carry(township, village);
    carry(township, sibling);
    let complaint = id(&village.json(&[
        "complaint",
        "file",
        "--kind",
        "wage-arrears",
        "--post",
        &post,
        "--text",
        "工资拖欠两周",
    ]));
    carry(village, township);
    carry(township, county);
    carry(township, sibling);
    Offline {
        nodes,
        employer,
        post,
        complaint,
    }
}

/// What a refused command must leave as it was at a node: posts, record counts, complaints.
fn state(node: &Node) -> Value {
    serde_json::json!({
        "snapshot": node.snapshot(),
        "complaints": node.json(&["complaint", "list"]),
    })
}

/// Runs a command that must be refused as bad input naming `field`, and checks that nothing
/// changed at `node`.
fn refused(node: &Node, args: &[&str], field: &str) {
    let before = state(node);
    let f = node.fail(args);
    assert_eq!(
        f.status,
        2,
        "`{}` exit status; stderr: {}",
        args.join(" "),
        f.stderr
    );
    let message = f.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("{field}:")),
        "`{}` should name {field}: {message}",
        args.join(" ")
    );
    assert_eq!(
        state(node),
        before,
        "`{}` changed something",
        args.join(" ")
    );
}

#[test]
fn bad_complaint_input_is_refused_naming_the_field_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = offline(dir.path());
    let (county, township, village, sibling) = (&o.nodes[2], &o.nodes[3], &o.nodes[4], &o.nodes[5]);
    let c = o.complaint.as_str();

    // Filing: things that do not exist here.
    let unknown = "0123456789abcdef0123456789abcdef";
    for (flag, field) in [
        ("--post", "post"),
        ("--employer", "employer"),
        ("--worker", "worker"),
    ] {
        refused(
            village,
            &[
                "complaint",
                "file",
                "--kind",
                "fraud",
                flag,
                unknown,
                "--text",
                "x",
            ],
            field,
        );
    }
    refused(
        village,
        &["complaint", "file", "--kind", "theft", "--text", "x"],
        "kind",
    );
    refused(
        village,
        &[
            "complaint",
            "file",
            "--kind",
            "other",
            "--text",
            "x",
            "--amount=-5",
        ],
        "amount",
    );

    // Steps: skipped, backwards, repeated, fields of another step.
    refused(
        county,
        &["complaint", "update", c, "--status", "handling"],
        "status",
    );
    refused(
        county,
        &[
            "complaint",
            "update",
            c,
            "--status",
            "resolved",
            "--finding",
            "upheld",
            "--recovered",
            "0",
        ],
        "status",
    );
    county.json(&["complaint", "update", c, "--status", "accepted"]);
    refused(
        county,
        &["complaint", "update", c, "--status", "accepted"],
        "status",
    );
    refused(
        county,
        &["complaint", "update", c, "--status", "received"],
        "status",
    );
    refused(
        county,
        &[
            "complaint",
            "update",
            c,
            "--status",
            "handling",
            "--finding",
            "upheld",
        ],
        "finding",
    );
    county.json(&["complaint", "update", c, "--status", "handling"]);
    refused(
        county,
        &["complaint", "update", c, "--status", "referred"],
        "referred_to",
    );
    refused(
        county,
        &[
            "complaint",
            "update",
            c,
            "--status",
            "resolved",
            "--finding",
            "upheld",
        ],
        "recovered",
    );
    // A wage-arrears finding closes no post.
    refused(
        county,
        &[
            "complaint",
            "update",
            c,
            "--status",
            "resolved",
            "--finding",
            "upheld",
            "--recovered",
            "0",
            "--close-post",
        ],
        "close_post",
    );
    county.json(&[
        "complaint",
        "update",
        c,
        "--status",
        "referred",
        "--referred-to",
        "黄平县劳动人事争议仲裁委员会",
    ]);
    refused(
        county,
        &["complaint", "update", c, "--status", "handling"],
        "status",
    );

    // The sibling village holds neither the complaint nor a right to it.
    refused(
        sibling,
        &["complaint", "update", c, "--status", "resolved"],
        "id",
    );
    refused(sibling, &["complaint", "show", c], "id");

    // A fraud finding upheld below the county does not close the post.
    let fraud = id(&village.json(&[
        "complaint",
        "file",
        "--kind",
        "fraud",
        "--post",
        &o.post,
        "--text",
        "收押金",
    ]));
    for step in ["accepted", "handling"] {
        village.json(&["complaint", "update", &fraud, "--status", step]);
    }
    carry(village, township);
    refused(
        township,
        &[
            "complaint",
            "update",
            &fraud,
            "--status",
            "resolved",
            "--finding",
            "upheld",
            "--close-post",
        ],
        "close_post",
    );
    refused(
        village,
        &[
            "complaint",
            "update",
            &fraud,
            "--status",
            "resolved",
            "--finding",
            "upheld",
            "--suspend-employer",
        ],
        "suspend_employer",
    );
    // Not upheld: nothing to enforce, even at the county.
    carry(township, county);
    refused(
        county,
        &[
            "complaint",
            "update",
            &fraud,
            "--status",
            "resolved",
            "--finding",
            "not-upheld",
            "--close-post",
        ],
        "close_post",
    );
    assert_eq!(post_status(county, &o.post).as_deref(), Some("open"));
    assert_eq!(
        county.json(&["employer", "show", &o.employer])["status"],
        "active"
    );
}

#[test]
fn the_directory_lists_stations_from_their_certificates_and_marks_the_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, township) = (&nodes[2], &nodes[3]);
    let row = |node: &Node, id: &str| -> Option<Value> {
        node.json(&["directory", "list"])
            .as_array()?
            .iter()
            .find(|r| r["node_id"] == id)
            .cloned()
    };

    // Certified just now: at its parent at once, before anything was carried.
    let new = Node::init(dir.path(), SIBLING.0, SIBLING.1, SIBLING.2);
    certify(Some(township), &new);
    let new_id = new.node_id();
    let r = row(township, &new_id).expect("the new station is listed at its parent");
    assert_eq!(
        (
            r["state"].as_str(),
            r["region"].as_str(),
            r["level"].as_str()
        ),
        (Some("active"), Some(SIBLING.2), Some("village"))
    );
    assert_eq!(r["name"], SIBLING.1);
    assert!(r["last_seen"].is_null(), "nothing of it is held yet: {r}");

    // Its entry and its certificate record arrive: the entry's fields and last contact show.
    new.json(&[
        "directory",
        "set",
        "--address",
        "旧州镇邻村村委会一楼",
        "--hours",
        "周一至周五 9:00-17:00",
        "--hotline",
        "0855-2412333",
        "--services",
        "岗位发布,求职登记",
        "--rules",
        "一、公开服务事项。\n二、当日登记，当日对接。",
    ]);
    carry(&new, township);
    let r = row(township, &new_id).expect("listed");
    assert_eq!(r["address"], "旧州镇邻村村委会一楼");
    assert_eq!(r["services"], serde_json::json!(["岗位发布", "求职登记"]));
    assert!(r["rules"].as_str().is_some_and(|s| s.contains("当日对接")));
    assert!(r["last_seen"].is_string(), "{r}");

    // Revoked: still listed, marked; at the county too once carried up.
    township.json(&["cert", "revoke", &new_id, "--reason", "站点撤并"]);
    let r = row(township, &new_id).expect("a revoked station stays listed");
    assert_eq!(r["state"], "revoked");
    assert_eq!(r["revocation"]["reason"], "站点撤并");
    carry(township, county);
    let r = row(county, &new_id).expect("listed at the county");
    assert_eq!(r["state"], "revoked");
    // --region keeps the subtree.
    let inside = county.json(&["directory", "list", "--region", "522622101"]);
    let regions: Vec<&str> = inside
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["region"].as_str())
        .collect();
    assert!(
        regions.contains(&SIBLING.2) && regions.iter().all(|r| r.starts_with("522622101")),
        "{regions:?}"
    );

    // Exports: CSV with a BOM, a self-contained printable page; both 0600.
    use std::os::unix::fs::PermissionsExt;
    let csv = dir.path().join("名录.csv");
    let html = dir.path().join("名录.html");
    let out = county.json(&["directory", "export", "--out", csv.to_str().expect("utf-8")]);
    assert!(out["rows"].as_u64().is_some_and(|n| n >= 2), "{out}");
    county.json(&[
        "directory",
        "export",
        "--out",
        html.to_str().expect("utf-8"),
        "--format",
        "html",
    ]);
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.contains("name,region,level"))
    );
    assert!(
        text.contains("revoked")
            && text.contains("\"一、公开服务事项。\n二、当日登记，当日对接。\"")
    );
    let page = std::fs::read_to_string(&html).expect("html");
    for heading in ["名称", "区划代码", "服务电话", "状态", "服务制度", "已吊销"]
    {
        assert!(page.contains(heading), "the page lacks {heading}");
    }
    for external in ["<script", "<link", "src=", "url(", "http://", "https://"] {
        assert!(
            !page.contains(external),
            "the page loads something ({external})"
        );
    }
    for f in [&csv, &html] {
        let mode = std::fs::metadata(f).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let f = county.fail(&[
        "directory",
        "export",
        "--out",
        csv.to_str().expect("utf-8"),
        "--format",
        "pdf",
    ]);
    assert_eq!(f.status, 2);
}
