//! Replacing a dead mini PC, with real `lingong` processes: a village station writes posts, a
//! worker, a complaint and its directory entry and syncs them to its township; then its home is
//! lost with its key. A new home made for the same region is certified by the township with
//! `cert issue --successor-of OLD_NODE_ID` (which revokes the old key in the same step), syncs
//! with the township, and continues as the same station: it lists the old posts and worker,
//! reports the same figures, closes an old post and steps the old complaint (accepted at the
//! township too), and the township's directory has one row for the region, the successor
//! current and the predecessor `replaced`. The old key, revived from a copy of the dead disk,
//! signs a post that every station refuses (revoked). Bad `--successor-of` values are refused
//! with exit 2 naming the field, and change nothing.
//!
//! Run: `cargo test -p lingong-tests --test successor`.

use lingong_tests::{Daemon, Node, certify, free_port, init_chain};
use serde_json::Value;
use std::path::Path;

const VILLAGE_REGION: &str = "522622101001";

fn sync_ok(node: &Node) -> Value {
    let out = node.json(&["sync", "--timeout", "60"]);
    let peers = out["peers"].as_array().expect("peers");
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync: {out}"
    );
    out
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// The ids of `rows` (a list command's output).
fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn find<'a>(rows: &'a Value, id: &str) -> &'a Value {
    rows.as_array()
        .expect("a list")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {rows}"))
}

/// `cert request --out` at `node`; returns the file.
fn request_of(node: &Node) -> String {
    let file = path(&node.home.join("request.json"));
    node.json(&["cert", "request", "--out", &file]);
    file
}

/// The current month as `YYYY-MM`, the period `report` takes.
fn this_month() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    lingong_protocol::dates::rfc3339(now_ms)[..7].to_string()
}

#[test]
fn a_new_machine_certified_as_successor_continues_the_dead_stations_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let port = free_port();
    let township_addr = format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id());
    let _parent = Daemon::start(township, port);
    village.json(&["peer", "add", &township_addr]);

    // The old station's history.
    let posts: Vec<String> = (0..3)
        .map(|i| village.create_post(&format!("乐源旧站岗位{i}"), None, &[]))
        .collect();
    let id_number = lingong_protocol::record::complete_id_number("52262219800101234");
    let worker = village.json(&[
        "worker",
        "register",
        "--name",
        "杨秀英",
        "--id-number",
        &id_number,
        "--phone",
        "13800000000",
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string();
    let complaint = village.json(&[
        "complaint",
        "file",
        "--kind",
        "other",
        "--text",
        "用工方临时变更工作地点，未提前告知",
    ])["id"]
        .as_str()
        .expect("complaint id")
        .to_string();
    village.json(&[
        "directory",
        "set",
        "--address",
        "乐源社区服务中心一楼",
        "--hotline",
        "0855-5555555",
    ]);
    let period = this_month();
    let report_before = village.json(&["report", "--period", &period]);
    sync_ok(village);
    let at_township = ids(&township.json(&["post", "list"]));
    assert!(posts.iter().all(|p| at_township.contains(p)));
    let old_id = village.node_id();

    // The mini PC dies with its key. A technician keeps an image of its disk (used at the end
    // to show that the old key, if it ever signs again, is refused everywhere).
    let old_disk = dir.path().join("old-disk");
    lingong_tests::copy_home(&village.home, &old_disk);
    std::fs::remove_dir_all(&village.home).expect("the old home is gone");

    // A new machine with a new key for the same region, certified as the successor.
    let new = Node::init(
        dir.path(),
        "village-new",
        "乐源社区零工服务站",
        VILLAGE_REGION,
    );
    let new_id = new.node_id();
    assert_ne!(new_id, old_id);
    new.json(&["peer", "add", &township_addr]);
    let request = request_of(&new);
    let cert_file = path(&new.home.join("issued-cert.json"));
    let issued = township.json(&[
        "cert",
        "issue",
        "--request",
        &request,
        "--successor-of",
        &old_id,
        "--out",
        &cert_file,
    ]);
    eprintln!("issued: {issued}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(&cert_file).expect("cert file")).expect("json");
    assert_eq!(written["chain"][0]["node_id"], new_id.as_str());
    assert_eq!(
        written["chain"][0]["predecessor"],
        old_id.as_str(),
        "the certificate names the predecessor"
    );
    assert_eq!(written["predecessor"]["revoked"], true);
    assert_eq!(written["predecessor"]["already_revoked"], false);
    new.json(&["cert", "install", &cert_file]);
    assert_eq!(
        new.json(&["cert", "show"])["chain"][0]["predecessor"],
        old_id.as_str()
    );

    // One sync with the parent: the station's region comes back.
    sync_ok(&new);
    let listed = new.json(&["post", "list"]);
    for p in &posts {
        assert_eq!(
            find(&listed, p)["author"],
            old_id.as_str(),
            "the old key's post"
        );
    }
    let workers = new.json(&["worker", "list"]);
    assert_eq!(find(&workers, &worker)["name"], "杨秀英");
    let complaints = new.json(&["complaint", "list"]);
    assert_eq!(find(&complaints, &complaint)["status"], "received");
    let report_after = new.json(&["report", "--period", &period]);
    for figure in [
        "posts",
        "headcount",
        "job_seekers",
        "job_seekers_new",
        "complaints",
        "records",
        "fingerprint",
    ] {
        assert_eq!(
            report_after[figure], report_before[figure],
            "report figure {figure}: the old key's records count as this station's"
        );
    }
    // Posts count once approved; the worker and the complaint count from the start.
    assert_eq!(report_after["job_seekers"], 1, "{report_after}");
    assert_eq!(report_after["complaints"], 1, "{report_after}");

    // The new station edits what the old one made: closes an old post, steps the old
    // complaint, updates the station's directory entry; and writes on.
    new.json(&["post", "update", &posts[0], "--status", "closed"]);
    let stepped = new.json(&[
        "complaint",
        "update",
        &complaint,
        "--status",
        "accepted",
        "--note",
        "新设备接手后受理",
    ]);
    assert_eq!(stepped["status"], "accepted");
    let entry = new.json(&["directory", "set", "--hours", "周一至周五 9:00-17:00"]);
    let fresh = new.create_post("乐源新站岗位", None, &[]);
    sync_ok(&new);
    let at_township = township.json(&["post", "list"]);
    assert_eq!(find(&at_township, &posts[0])["status"], "closed");
    assert_eq!(find(&at_township, &fresh)["author"], new_id.as_str());
    let shown = township.json(&["complaint", "show", &complaint]);
    assert_eq!(shown["status"], "accepted", "{shown}");
    let steps = shown["history"].as_array().expect("history");
    assert_eq!(
        steps.last().expect("a step")["by"],
        new_id.as_str(),
        "{shown}"
    );

    // The audit at the township finds the successor's edits authorized.
    let audit = township.json(&["audit"]);
    let problems = audit["problems"].as_array().expect("problems");
    assert!(
        problems.iter().all(|p| p["kind"] != "unauthorized-edit"),
        "{audit}"
    );

    // The directory: one row for the region, the successor current, the predecessor replaced;
    // the station's entry (made under the old key, edited under the new) is its entry.
    for (who, node) in [("township", township), ("new village", &new)] {
        let rows = node.json(&["directory", "list", "--region", VILLAGE_REGION]);
        let rows = rows.as_array().expect("rows");
        assert_eq!(rows.len(), 1, "{who}: one row for the region: {rows:?}");
        let row = &rows[0];
        assert_eq!(row["node_id"], new_id.as_str(), "{who}");
        assert_eq!(row["state"], "active", "{who}");
        assert_eq!(row["address"], "乐源社区服务中心一楼", "{who}");
        assert_eq!(row["hours"], "周一至周五 9:00-17:00", "{who}");
        let preds = row["predecessors"].as_array().expect("predecessors");
        assert_eq!(preds.len(), 1, "{who}: {row}");
        assert_eq!(preds[0]["node_id"], old_id.as_str(), "{who}");
        assert_eq!(preds[0]["state"], "replaced", "{who}");
        assert_eq!(preds[0]["replaced_by"], new_id.as_str(), "{who}");
        assert!(preds[0]["revocation"]["at"].is_string(), "{who}: {row}");
    }
    assert!(entry["id"].is_string());

    // The dead disk revived: the old key still signs locally, but its new change is refused
    // at the township and at the new station (revoked), and listed nowhere.
    let ghost = Node::at(&old_disk);
    let ghost_post = ghost.create_post("旧设备复活后的岗位", None, &[]);
    for (who, node) in [("township", township), ("new village", &new)] {
        // It holds a worker, so its bundle is sealed to the node it is carried to.
        let bundle = path(&dir.path().join(format!("ghost-{}.bundle", node.node_id())));
        ghost.json(&[
            "bundle",
            "export",
            "--out",
            &bundle,
            "--to",
            &node.node_id(),
        ]);
        let refused = node.fail(&["bundle", "import", &bundle]);
        assert_eq!(refused.status, 1, "{who}: {}", refused.stderr);
        let message = refused.json["error"]["message"]
            .as_str()
            .unwrap_or(&refused.stderr)
            .to_string();
        assert!(message.contains("revoked"), "{who}: {message}");
        let listed = ids(&node.json(&["post", "list"]));
        assert!(!listed.contains(&ghost_post), "{who} holds the ghost post");
    }
    // Nor does a live session carry it: the township refuses the revoked key as a peer.
    ghost.json(&["peer", "add", &township_addr]);
    let out = ghost.json(&["sync", "--timeout", "30"]);
    assert!(
        out["peers"]
            .as_array()
            .expect("peers")
            .iter()
            .all(|p| p["ok"] != true),
        "a revoked node's session: {out}"
    );
    assert!(!ids(&township.json(&["post", "list"])).contains(&ghost_post));
}

/// What a refused `cert issue` must leave unchanged at the township.
fn township_state(township: &Node) -> Value {
    serde_json::json!({
        "directory": township.json(&["directory", "list"]),
        "records": township.json(&["status"])["records"],
    })
}

fn refused(township: &Node, args: &[&str], rule: &str) {
    let before = township_state(township);
    let f = township.fail(args);
    assert_eq!(f.status, 2, "`{}`: {}", args.join(" "), f.stderr);
    let message = f.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("successor_of:") && message.contains(rule),
        "`{}` should name successor_of and say {rule:?}: {message}",
        args.join(" ")
    );
    assert_eq!(
        township_state(township),
        before,
        "`{}` changed something",
        args.join(" ")
    );
}

#[test]
fn a_successor_of_an_unknown_node_or_of_another_region_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let old_id = village.node_id();
    let sibling = Node::init(dir.path(), "sibling", "乐源邻村服务站", "522622101002");
    certify(Some(township), &sibling);
    let sibling_id = sibling.node_id();
    // A key no station here has certified.
    let stranger = Node::init(dir.path(), "stranger", "陌生站点", VILLAGE_REGION);
    let new = Node::init(
        dir.path(),
        "village-new",
        "乐源社区零工服务站",
        VILLAGE_REGION,
    );
    let request = request_of(&new);
    let issue = |of: &str| {
        vec![
            "cert".to_string(),
            "issue".into(),
            "--request".into(),
            request.clone(),
            "--successor-of".into(),
            of.to_string(),
        ]
    };
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    refused(township, &strs(&issue("not-a-node-id")), "node id");
    refused(
        township,
        &strs(&issue(&stranger.node_id())),
        "names no node known here",
    );
    // A predecessor of another region: the sibling village for a request of this village.
    refused(
        township,
        &strs(&issue(&sibling_id)),
        "a successor takes over its predecessor's own region",
    );
    // Naming the requesting key itself (the old station's own request).
    let own = request_of(village);
    refused(
        township,
        &[
            "cert",
            "issue",
            "--request",
            &own,
            "--successor-of",
            &old_id,
        ],
        "a successor has a new key",
    );
    for row in township
        .json(&["directory", "list"])
        .as_array()
        .expect("rows")
    {
        assert_ne!(row["state"], "revoked", "nothing was revoked: {row}");
    }

    // The right predecessor is accepted; a second successor of the same old key (another
    // new key) is refused, naming the current station to replace instead.
    township.json(&[
        "cert",
        "issue",
        "--request",
        &request,
        "--successor-of",
        &old_id,
    ]);
    let other = Node::init(
        dir.path(),
        "village-other",
        "乐源另一台新设备",
        VILLAGE_REGION,
    );
    let other_request = request_of(&other);
    refused(
        township,
        &[
            "cert",
            "issue",
            "--request",
            &other_request,
            "--successor-of",
            &old_id,
        ],
        "already replaced",
    );
}
