//! A village home copied to a second machine (a restored backup does the same) writes on both:
//! real `lingong` processes over real libp2p sockets. The township daemon takes the first
//! branch it sees and nothing of the second, keeps the fork as evidence, stops taking the key's
//! changes from the fork point on (the genuine station's too), shows the fork in `status`, and
//! publishes the evidence, which reaches the county and halts the key there as well (a node
//! that learns of the fork before either branch's envelope at the fork point takes neither).
//! `audit` names both branches; once the township certifies a successor of the forked key
//! (revoking it), `status` lists the fork no more, `audit` keeps it marked revoked, and the new
//! key writes on. Nothing sleeps a fixed time: every wait polls with a deadline.

use lingong_tests::{Daemon, Node, free_port, init_chain, poll_until};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);

fn titles(node: &Node) -> BTreeSet<String> {
    node.json(&["post", "list"])
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Syncs `node` with its configured peers once (no daemon at `node`); returns the output.
fn sync(node: &Node) -> Value {
    node.json(&["sync", "--once", "--timeout", "60"])
}

fn forks(node: &Node) -> Vec<Value> {
    node.json(&["status"])["forks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_copied_village_home_is_caught_as_a_fork_and_halted_up_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    let port = free_port();
    let township_addr = format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", township.node_id());
    village.json(&["peer", "add", &township_addr]);
    county.json(&["peer", "add", &township_addr]);
    let _township_daemon = Daemon::start(township, port);

    // Both machines share the village's history up to here.
    village.create_post("共同岗位", None, &[]);
    sync(village);
    poll_until("the shared post at the township", DEADLINE, || {
        titles(township).contains("共同岗位").then_some(())
    });
    let copy = Node::at(dir.path().join("village-copy"));
    lingong_tests::copy_home(&village.home, &copy.home);

    // Each machine writes on its own; the genuine one reaches the township first.
    village.create_post("甲机岗位", None, &[]);
    copy.create_post("乙机岗位", None, &[]);
    sync(village);
    poll_until("the genuine branch at the township", DEADLINE, || {
        titles(township).contains("甲机岗位").then_some(())
    });
    sync(&copy);
    let caught = poll_until("the fork in the township's status", DEADLINE, || {
        forks(township).into_iter().next()
    });
    assert_eq!(caught["node_id"], village.node_id());
    let fork_seq = caught["fork_seq"].as_u64().expect("fork_seq");

    // The genuine station keeps writing: its key is halted from the fork point on.
    village.create_post("分叉后的岗位", None, &[]);
    sync(village);
    let at_township = titles(township);
    assert!(at_township.contains("共同岗位"), "before the fork stays");
    assert!(at_township.contains("甲机岗位"));
    assert!(
        !at_township.contains("乙机岗位"),
        "the copy's branch is never applied"
    );
    assert!(
        !at_township.contains("分叉后的岗位"),
        "halted after the fork"
    );

    // The county learns of the fork from the township's evidence record, not by seeing both
    // branches itself, and halts the key too.
    sync(county);
    let at_county = poll_until("the evidence at the county", DEADLINE, || {
        let f = forks(county);
        if f.is_empty() {
            sync(county);
            None
        } else {
            Some(f)
        }
    });
    assert_eq!(at_county[0]["node_id"], village.node_id());
    assert_eq!(at_county[0]["fork_seq"].as_u64(), Some(fork_seq));
    // Before the fork point everything stays; at the fork point itself the county keeps at
    // most one branch (neither, when the evidence came first: it cannot tell which is real).
    let county_titles = titles(county);
    assert!(county_titles.contains("共同岗位"));
    assert!(!county_titles.contains("乙机岗位"));
    assert!(!county_titles.contains("分叉后的岗位"));
    assert!(
        county.json(&["status"])["records"]["evidence"].as_u64() >= Some(1),
        "the evidence record is held at the county"
    );

    // `audit` shows it too, both branches named, the key not yet revoked.
    let rows = audit_forks(township, &village.node_id());
    assert!(!rows.is_empty(), "the fork in the township's audit");
    assert!(rows.iter().all(|r| r["revoked"] == false), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["branches"].as_array().is_some_and(|b| b.len() == 2)),
        "both signed branches are named: {rows:?}"
    );

    // The end of a fork: the township certifies a new key as the successor of the forked one
    // (which revokes it) and the village installs it. `status` no longer lists the fork at
    // either node, `audit` keeps it as history marked revoked, and the new key's post is
    // accepted at the township and the county.
    let old = village.node_id();
    let request = dir.path().join("successor-request.json");
    let cert = dir.path().join("successor-cert.json");
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();
    village.json(&["cert", "rotate", "--out", &path(&request)]);
    township.json(&[
        "cert",
        "issue",
        "--request",
        &path(&request),
        "--successor-of",
        &old,
        "--out",
        &path(&cert),
    ]);
    village.json(&["cert", "install", &path(&cert)]);
    assert_ne!(village.node_id(), old, "the village signs with its new key");
    village.create_post("新钥匙的岗位", None, &[]);
    sync(village);
    poll_until("the new key's post at the township", DEADLINE, || {
        titles(township).contains("新钥匙的岗位").then_some(())
    });
    assert!(forks(township).is_empty(), "{:?}", forks(township));
    let rows = audit_forks(township, &old);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["revoked"] == true),
        "the fork stays in the audit, marked revoked: {rows:?}"
    );
    poll_until(
        "the revocation and the new post at the county",
        DEADLINE,
        || {
            sync(county);
            (forks(county).is_empty() && titles(county).contains("新钥匙的岗位")).then_some(())
        },
    );
    assert!(titles(county).contains("共同岗位"), "before the fork stays");
}

/// The fork evidence rows of `node`'s `audit` naming `author` (those with both branches).
fn audit_forks(node: &Node, author: &str) -> Vec<Value> {
    node.json(&["audit"])["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| p["kind"] == "fork" && p["author"] == author && p.get("branches").is_some())
        .cloned()
        .collect()
}
