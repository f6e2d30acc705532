//! `post list` without `--limit` through a running daemon, with real processes: the daemon
//! answers it a page at a time (`node/src/daemon.rs`, `send_whole_post_list`) instead of
//! building every row at once, and the command must still print every matching post, once
//! each, in the order the command gives without a daemon (docs/cli.md: no `--limit`, every
//! match), filtered or not, and a bad filter must still fail naming its field.
//!
//! Run: `cargo test -p lingong-tests --test whole_list`.

use lingong_tests::{Daemon, Node, certify, free_port};
use serde_json::Value;

/// More than two of the daemon's pages (1,000 rows each), and not a multiple of one.
const POSTS: usize = 2_345;

/// The ids of a `post list` answer, in its order.
fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("post list prints rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn a_whole_list_through_the_daemon_is_every_post_in_the_order_of_one_listed_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::init(dir.path(), "province", "贵州省零工服务中心", "52");
    certify(None, &node);
    node.json(&["sample", "--posts", &POSTS.to_string()]);
    // Without a daemon the command lists in its own process, in one go: the reference.
    let whole = ids(&node.json(&["post", "list"]));
    let pending = ids(&node.json(&["post", "list", "--review", "pending"]));
    assert_eq!(whole.len(), POSTS);
    assert!(!pending.is_empty());

    let _daemon = Daemon::start(&node, free_port());
    let through = node.json(&["post", "list"]);
    assert_eq!(ids(&through), whole, "every post, once, in the same order");
    let mut seen = ids(&through);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), POSTS);
    // Every row whole: the fields of the contract, as a page of `--limit` gives them.
    let first_page = node.json(&["post", "list", "--limit", "3"]);
    assert_eq!(
        &through.as_array().expect("rows")[..3],
        &first_page.as_array().expect("rows")[..]
    );
    assert_eq!(
        ids(&node.json(&["post", "list", "--review", "pending"])),
        pending
    );
    // `--after` without `--limit`: every post after that one.
    let after = ids(&node.json(&["post", "list", "--after", &whole[1500]]));
    assert_eq!(after, whole[1501..]);

    // A bad filter is refused on the first page, naming its field, as without a daemon.
    let failure = node.fail(&["post", "list", "--status", "sold"]);
    assert_eq!(failure.status, 2, "{failure:?}");
    assert!(failure.stderr.contains("status"), "{failure:?}");
    // And the daemon answers the next command as before.
    assert_eq!(
        ids(&node.json(&["post", "list", "--limit", "2"])),
        whole[..2]
    );
}
