//! Replication between real `lingong` processes over real libp2p sockets on 127.0.0.1: the
//! five-level chain (province, city, county, township, village), each node a daemon
//! (`lingong run`) dialling its parent. Everything is observed through the command line, which
//! talks to each running daemon over its control socket. Nothing sleeps a fixed time: every
//! wait polls with a deadline.

use lingong_tests::{CHAIN, Daemon, Node, certify, free_port, init_chain, lingong_bin, poll_until};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);

trait NodeExt {
    fn node_id_offline(&self) -> String;
    fn post_titles(&self) -> BTreeSet<String>;
}

impl NodeExt for Node {
    /// The node id, read from the key file (works whether or not a daemon runs).
    fn node_id_offline(&self) -> String {
        self.json(&["status"])["node_id"]
            .as_str()
            .expect("node_id")
            .to_string()
    }
    fn post_titles(&self) -> BTreeSet<String> {
        self.json(&["post", "list"])
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["title"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// The five certified nodes, each configured to dial its parent, with ports chosen.
fn network(dir: &Path) -> (Vec<Node>, Vec<u16>) {
    let nodes = init_chain(dir);
    let ports: Vec<u16> = nodes.iter().map(|_| free_port()).collect();
    for i in 1..nodes.len() {
        let parent_addr = format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            ports[i - 1],
            nodes[i - 1].node_id_offline()
        );
        nodes[i].json(&["peer", "add", &parent_addr]);
    }
    (nodes, ports)
}

/// Starts a daemon for each node on its port.
fn start_all(nodes: &[Node], ports: &[u16]) -> Vec<Daemon> {
    nodes
        .iter()
        .zip(ports)
        .map(|(n, p)| Daemon::start(n, *p))
        .collect()
}

fn wait_for_title(node: &Node, title: &str) {
    poll_until(
        &format!("post {title:?} at {}", node.home.display()),
        DEADLINE,
        || node.post_titles().contains(title).then_some(()),
    );
}

#[test]
fn posts_flow_up_to_the_province_and_down_into_their_reach_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, ports) = network(dir.path());
    let daemons = start_all(&nodes, &ports);
    let (province, city, county, village) = (&nodes[0], &nodes[1], &nodes[2], &nodes[4]);

    // 1. A village post reaches the province.
    village.create_post("村里的采茶工", None, &[]);
    wait_for_title(province, "村里的采茶工");

    // 2. A county post with reach = the county reaches the village; a city post advertised
    //    in another county (施秉县 522623) does not.
    county.create_post("县里的搬运工", Some("522622"), &[]);
    city.create_post("施秉县的保洁员", Some("522623"), &[]);
    wait_for_title(village, "县里的搬运工");
    wait_for_title(province, "施秉县的保洁员");
    // The city post is at the province, so the city has sent it up; wait for fresh sync rounds
    // down the chain (city–county, township–village) and check it went nowhere it should not.
    let county_before = daemon_last_sync(county, city);
    poll_until("another city–county sync round", DEADLINE, || {
        (daemon_last_sync(county, city) != county_before).then_some(())
    });
    let village_before = daemon_last_sync(village, &nodes[3]);
    poll_until("another township–village sync round", DEADLINE, || {
        (daemon_last_sync(village, &nodes[3]) != village_before).then_some(())
    });
    assert!(
        !county.post_titles().contains("施秉县的保洁员"),
        "a post for another county reached this county"
    );
    assert!(
        !village.post_titles().contains("施秉县的保洁员"),
        "a post for another county reached the village"
    );
    assert!(
        !nodes[3].post_titles().contains("施秉县的保洁员"),
        "a post for another county reached the township"
    );
    // Every session told each side the other's clock: on one machine they agree.
    let status = village.json(&["status"]);
    let offsets: Vec<i64> = status["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .filter_map(|p| p["clock_offset_s"].as_i64())
        .collect();
    assert!(
        !offsets.is_empty() && offsets.iter().all(|o| o.abs() < 60),
        "clock offsets in {status}"
    );
    drop(daemons);
}

/// The time of the last sync `node` had with `peer`, as its daemon reports.
fn daemon_last_sync(node: &Node, peer: &Node) -> Option<String> {
    let id = peer.node_id_offline();
    let status = node.json(&["status"]);
    status["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer"] == id.as_str())
        .and_then(|p| p["last_sync"].as_str().map(String::from))
}

#[test]
fn a_killed_village_catches_up_and_its_offline_posts_arrive_after_the_parent_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, ports) = network(dir.path());
    let mut daemons = start_all(&nodes, &ports);
    let (province, county, township, village) = (&nodes[0], &nodes[2], &nodes[3], &nodes[4]);

    // The village dies; the county posts meanwhile.
    daemons[4].kill9();
    county.create_post("村站断电期间的县岗位", Some("522622"), &[]);
    wait_for_title(township, "村站断电期间的县岗位");
    daemons[4].restart();
    wait_for_title(village, "村站断电期间的县岗位");

    // The township dies; the village posts meanwhile; the posts arrive once it returns.
    daemons[3].kill9();
    village.create_post("乡镇断网期间的村岗位", None, &[]);
    poll_until(
        "the village daemon to notice its parent is gone",
        DEADLINE,
        || {
            let s = village.json(&["status"]);
            s["peers"]
                .as_array()?
                .iter()
                .all(|p| p["connected"] == false)
                .then_some(())
        },
    );
    assert!(!province.post_titles().contains("乡镇断网期间的村岗位"));
    daemons[3].restart();
    wait_for_title(province, "乡镇断网期间的村岗位");
}

#[test]
fn killing_the_township_mid_transfer_of_ten_thousand_posts_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, ports) = network(dir.path());
    let (province, township, village) = (&nodes[0], &nodes[3], &nodes[4]);
    // The village recorded 10,000 posts while offline.
    assert_eq!(
        village.json(&["sample", "--posts", "10000"])["posts"],
        10_000
    );
    let mut daemons = start_all(&nodes, &ports);
    // Kill the township in the middle of the transfer.
    poll_until(
        "the township to be part-way through the transfer",
        DEADLINE,
        || {
            let n = township.json(&["status"])["records"]["posts"].as_u64()?;
            (n >= 500).then_some(())
        },
    );
    daemons[3].kill9();
    let held = township.json(&["status"])["records"]["posts"]
        .as_u64()
        .expect("count");
    assert!(
        held < 10_000,
        "the transfer finished before the kill ({held} posts); nothing was tested"
    );
    daemons[3].restart();
    let deadline = Duration::from_secs(600);
    poll_until("all 10,000 posts at the province", deadline, || {
        let n = province.json(&["status"])["records"]["posts"].as_u64()?;
        (n >= 10_000).then_some(())
    });
    let posts = province.json(&["post", "list"]);
    let ids: Vec<&str> = posts
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        10_000,
        "the province holds each post exactly once"
    );
    assert_eq!(unique.len(), 10_000);
}

/// A change that reaches a node only after the floor of its next session with its parent has
/// passed it (written at an offline village, carried up late) still goes up: the first
/// message's range below the floor is split like any other. The township and the county run
/// with a zero window margin, so every session between them that starts after the change was
/// written, whichever side starts it, starts above the change.
#[test]
fn a_change_from_below_the_session_floor_still_reaches_the_parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, ports) = network(dir.path());
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    for n in [county, township] {
        let path = n.home.join("config.toml");
        let text = std::fs::read_to_string(&path).expect("config");
        let text: Vec<&str> = text
            .lines()
            .map(|line| {
                if line.starts_with("sync_window_margin_secs") {
                    "sync_window_margin_secs = 0"
                } else {
                    line
                }
            })
            .collect();
        assert!(text.contains(&"sync_window_margin_secs = 0"), "{text:?}");
        std::fs::write(&path, text.join("\n")).expect("config written");
    }
    let mut daemons = start_all(&nodes[..3], &ports[..3]);
    // The township logs the floor of every session it starts.
    let mut township_daemon =
        Daemon::new(township, &format!("/ip4/127.0.0.1/tcp/{}", ports[3]), None);
    township_daemon.log_filter = "lingong_node::net=debug,info".into();
    township_daemon.restart();
    daemons.push(township_daemon);

    // The village is offline; it writes a post, dated now (before `written_by_ms`).
    village.create_post("断网时写的岗位", None, &[]);
    let written_by_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    // Two sessions each way between the township and the county complete after that: the
    // second one each side starts begins after the first one ended, so after the post.
    for (from, to) in [(township, county), (county, township)] {
        for round in 0..2 {
            let before = daemon_last_sync(from, to);
            poll_until(
                &format!("sync round {round} from {}", from.home.display()),
                DEADLINE,
                || (daemon_last_sync(from, to) != before).then_some(()),
            );
        }
    }
    assert!(!county.post_titles().contains("断网时写的岗位"));

    // The village comes online; the township takes the post and passes it up.
    let log_path = township.home.join("daemon.log");
    let log_before = std::fs::read_to_string(&log_path).expect("log").len();
    daemons.push(Daemon::start(village, ports[4]));
    wait_for_title(township, "断网时写的岗位");
    wait_for_title(county, "断网时写的岗位");
    wait_for_title(&nodes[0], "断网时写的岗位");

    // Every session the township started with the county since then began above the post.
    let county_id = county.node_id_offline();
    let log = std::fs::read_to_string(&log_path).expect("log");
    let floors: Vec<u64> = log[log_before..]
        .lines()
        .filter(|l| l.contains("sync session starts") && l.contains(&county_id))
        .map(|l| {
            let digits = l
                .split("timestamp: ")
                .nth(1)
                .unwrap_or_else(|| panic!("no floor in the log line {l:?}"));
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            digits[..end].parse().expect("a floor timestamp")
        })
        .collect();
    assert!(
        !floors.is_empty(),
        "no session to the county logged:\n{log}"
    );
    assert!(
        floors.iter().all(|&f| f > written_by_ms),
        "a session started at or below the post ({written_by_ms}): {floors:?}"
    );
}

#[test]
fn forged_and_foreign_nodes_cannot_connect_and_a_revoked_nodes_later_changes_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, ports) = network(dir.path());
    let mut daemons = start_all(&nodes, &ports);
    let (province, county, township, village) = (&nodes[0], &nodes[2], &nodes[3], &nodes[4]);
    let township_addr = format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
        ports[3],
        township.node_id_offline()
    );

    // A node certified by a foreign root (its own "province"), claiming a village of the county.
    let foreign_dir = dir.path().join("foreign");
    let foreign_root = Node::init(&foreign_dir, "root", "伪造的省中心", "52");
    certify(None, &foreign_root);
    let mut chain = vec![foreign_root];
    for (folder, name, region) in &CHAIN[1..] {
        let n = Node::init(&foreign_dir, folder, name, region);
        certify(chain.last(), &n);
        chain.push(n);
    }
    let intruder = chain.last().expect("intruder").clone();
    intruder.create_post("伪造的岗位", None, &[]);
    intruder.json(&["peer", "add", &township_addr]);
    let report = intruder.json(&["sync", "--once", "--timeout", "20"]);
    assert_eq!(
        report["peers"][0]["ok"], false,
        "a foreign-root node completed a sync: {report}"
    );
    // Its bundle is refused by the accept path too.
    let bundle = dir.path().join("intruder.bundle");
    intruder.json(&["bundle", "export", "--out", bundle.to_str().expect("utf-8")]);
    let refused = township.fail(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(
        refused.json["error"]["code"], "bundle-refused",
        "{:?}",
        refused.json
    );
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("foreign-root") && message.contains("the 0 that verified"),
        "a foreign bundle was accepted: {message}"
    );
    assert!(!township.post_titles().contains("伪造的岗位"));

    // Revocation: the village goes offline, the county revokes it, and the village's later
    // post is rejected everywhere, by sync and by bundle.
    daemons[4].kill9();
    let village_id = village.node_id_offline();
    county.json(&["cert", "revoke", &village_id, "--reason", "站点撤销"]);
    poll_until("the revocation at the province", DEADLINE, || {
        (province.json(&["status"])["records"]["revocations"] == 1).then_some(())
    });
    poll_until("the revocation at the township", DEADLINE, || {
        (township.json(&["status"])["records"]["revocations"] == 1).then_some(())
    });
    village.create_post("吊销之后的岗位", None, &[]);
    daemons[4].restart();
    let bundle = dir.path().join("revoked.bundle");
    daemons[4].kill9();
    village.json(&["bundle", "export", "--out", bundle.to_str().expect("utf-8")]);
    // An import that refused a change exits 1 and says what it refused and why.
    let refused = township.fail(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(refused.status, 1, "{}", refused.stderr);
    assert_eq!(
        refused.json["error"]["code"], "bundle-refused",
        "{:?}",
        refused.json
    );
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("revoked"),
        "the revoked node's post was not rejected: {message}"
    );
    // Let a few sync rounds pass between the remaining nodes: the post appears nowhere.
    let before = daemon_last_sync(province, &nodes[1]);
    poll_until("more sync rounds", DEADLINE, || {
        (daemon_last_sync(province, &nodes[1]) != before).then_some(())
    });
    for n in [province, county, township] {
        assert!(
            !n.post_titles().contains("吊销之后的岗位"),
            "the revoked node's post reached {}",
            n.home.display()
        );
    }
    let _ = lingong_bin();
}
