//! Key rotation and a compromised key, with real `lingong` processes and USB bundles (sealed to
//! their receivers) between a village, its township and its county.
//!
//! Rotation in place: the village makes its next key (`cert rotate`), the township certifies it
//! as the successor of the current key (`cert issue --successor-of`, which revokes the current
//! key from that moment), and `cert install` switches the village to it in the same home. The
//! new certificate names the old key; the records signed before stay valid at the township and
//! the county (signatures valid, listed, the worker readable), the new key edits them and writes
//! on, and a copy of the old key that signs afterwards is refused everywhere.
//!
//! Compromise: the county revokes the village's key; a thief holding a copy of it signs a post
//! that the township and the county refuse (`revoked`), the village itself signs nothing more
//! with it, and everything signed before the revocation is kept, with valid signatures. The
//! village then rotates to a new key certified as the successor of the revoked one, and goes on.
//!
//! Run: `cargo test -p lingong-tests --test keys`.

use lingong_tests::{Node, carry, init_chain};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

fn find<'a>(rows: &'a Value, id: &str) -> Option<&'a Value> {
    rows.as_array()
        .expect("a list")
        .iter()
        .find(|r| r["id"] == id)
}

fn register_worker(village: &Node) -> String {
    let id_number = lingong_protocol::record::complete_id_number("52262219820303456");
    village.json(&[
        "worker",
        "register",
        "--name",
        "潘志强",
        "--id-number",
        &id_number,
        "--phone",
        "13800001111",
    ])["id"]
        .as_str()
        .expect("worker id")
        .to_string()
}

/// `post` is held at `node` with valid signatures, by `author`, with `status`.
fn assert_post(node: &Node, who: &str, post: &str, author: &str, status: &str) {
    let shown = node.json(&["post", "show", post]);
    assert_eq!(shown["signatures_valid"], true, "{who}: {shown}");
    let row = node.json(&["post", "list"]);
    let row = find(&row, post).unwrap_or_else(|| panic!("{who}: {post} not listed"));
    assert_eq!(row["author"], author, "{who}: {row}");
    assert_eq!(row["status"], status, "{who}: {row}");
}

/// A bundle from `from` sealed to `to` and imported there: refused, naming `revoked`.
fn refused_as_revoked(from: &Node, to: &Node, who: &str, file: &Path) {
    let receiver = to.node_id();
    from.json(&["bundle", "export", "--out", &path(file), "--to", &receiver]);
    let refused = to.fail(&["bundle", "import", &path(file)]);
    assert_eq!(refused.status, 1, "{who}: {}", refused.stderr);
    assert_eq!(refused.json["error"]["code"], "bundle-refused", "{who}");
    let message = refused.json["error"]["message"]
        .as_str()
        .unwrap_or(&refused.stderr)
        .to_string();
    assert!(message.contains("revoked"), "{who}: {message}");
}

/// `cert rotate` at `node`, certified by `parent` as the successor of the current key, then
/// installed. Returns (old node id, new node id).
fn rotate(node: &Node, parent: &Node) -> (String, String) {
    let old = node.node_id();
    let request = node.home.join("rotate-request.json");
    let first = node.json(&["cert", "rotate", "--out", &path(&request)]);
    // Asking again gives the same next key (a rotation under way is not restarted).
    let again = node.json(&["cert", "rotate"]);
    assert_eq!(first["node_id"], again["node_id"], "{first} / {again}");
    let next = node.home.join("node.key.next");
    let mode = std::fs::metadata(&next)
        .expect("node.key.next")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the next key is its owner's only");
    // Until the certificate is installed the node keeps its key.
    assert_eq!(node.node_id(), old);
    let cert = node.home.join("rotated-cert.json");
    parent.json(&[
        "cert",
        "issue",
        "--request",
        &path(&request),
        "--successor-of",
        &old,
        "--out",
        &path(&cert),
    ]);
    let installed = node.json(&["cert", "install", &path(&cert)]);
    assert_eq!(installed["rotated"], true, "{installed}");
    let new = node.node_id();
    assert_ne!(new, old);
    assert_eq!(installed["node_id"], new.as_str());
    assert_eq!(
        first["node_id"],
        new.as_str(),
        "the requested key is installed"
    );
    assert_eq!(
        node.json(&["cert", "show"])["chain"][0]["predecessor"],
        old.as_str(),
        "the new certificate names the old key"
    );
    assert!(!next.exists(), "the next key became the node key");
    let key_mode = std::fs::metadata(node.home.join("node.key"))
        .expect("node.key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    (old, new)
}

#[test]
fn a_rotated_key_keeps_earlier_records_valid_and_the_old_key_is_refused_afterwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    let before = village.create_post("轮换前的岗位", None, &[]);
    let worker = register_worker(village);
    carry(village, township);
    carry(township, county);

    // An image of the disk before the rotation: the old key, which must not count afterwards.
    let image = dir.path().join("old-image");
    lingong_tests::copy_home(&village.home, &image);

    let (old, new) = rotate(village, township);
    carry(township, village);

    // The new key edits the old key's post and writes on; both reach the county.
    village.json(&["post", "update", &before, "--status", "closed"]);
    let after = village.create_post("轮换后的岗位", None, &[]);
    carry(village, township);
    carry(township, county);
    for (who, node) in [
        ("village", village),
        ("township", township),
        ("county", county),
    ] {
        assert_post(node, who, &before, &old, "closed");
        assert_post(node, who, &after, &new, "open");
    }
    for (who, node) in [("township", township), ("county", county)] {
        assert_eq!(
            node.json(&["worker", "show", &worker])["name"],
            "潘志强",
            "{who}"
        );
        let audit = node.json(&["audit"]);
        let problems = audit["problems"].as_array().expect("problems");
        assert!(
            problems.iter().all(|p| {
                p["kind"] != "unauthorized-edit"
                    && p["kind"] != "revoked"
                    && p["kind"] != "bad-signature"
            }),
            "{who}: {audit}"
        );
    }

    // The old key, revived from the image, signs a post: refused at the township and county.
    let ghost = Node::at(&image);
    let ghost_post = ghost.create_post("旧密钥轮换后签的岗位", None, &[]);
    refused_as_revoked(
        &ghost,
        township,
        "township",
        &dir.path().join("ghost-t.bundle"),
    );
    refused_as_revoked(&ghost, county, "county", &dir.path().join("ghost-c.bundle"));
    for node in [township, county] {
        assert!(find(&node.json(&["post", "list"]), &ghost_post).is_none());
    }
}

#[test]
fn a_revoked_compromised_key_signs_nothing_accepted_and_earlier_records_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    let before = village.create_post("泄露前的岗位", None, &[]);
    let worker = register_worker(village);
    carry(village, township);
    carry(township, county);
    let old = village.node_id();

    // A thief copies the station's disk; the county revokes the key.
    let stolen = dir.path().join("stolen");
    lingong_tests::copy_home(&village.home, &stolen);
    let revoked = county.json(&[
        "cert",
        "revoke",
        &old,
        "--reason",
        "密钥泄露 / key compromised",
    ]);
    assert_eq!(revoked["revoked"], old.as_str(), "{revoked}");
    carry(county, township);
    carry(township, village);

    // The thief's post, signed after the revocation, is refused everywhere.
    let thief = Node::at(&stolen);
    let forged = thief.create_post("盗用密钥发布的岗位", None, &[]);
    refused_as_revoked(
        &thief,
        township,
        "township",
        &dir.path().join("thief-t.bundle"),
    );
    refused_as_revoked(&thief, county, "county", &dir.path().join("thief-c.bundle"));
    // The station itself signs nothing more with the revoked key.
    let own = village.fail(&[
        "post",
        "create",
        "--title",
        "吊销后的岗位",
        "--occupation",
        "4-10-01-06",
        "--wage",
        "150",
        "--unit",
        "day",
        "--headcount",
        "1",
    ]);
    assert!(
        own.stderr.contains("revoked") || own.json.to_string().contains("revoked"),
        "{} {}",
        own.stderr,
        own.json
    );

    // Everything signed before the revocation is kept, signatures valid.
    for (who, node) in [
        ("village", village),
        ("township", township),
        ("county", county),
    ] {
        assert_post(node, who, &before, &old, "open");
        assert!(
            find(&node.json(&["post", "list"]), &forged).is_none(),
            "{who}"
        );
    }
    assert_eq!(county.json(&["worker", "show", &worker])["name"], "潘志强");

    // The station recovers with a new key certified as the successor of the revoked one, in
    // the same home: it edits what the old key made and writes on, accepted up the tree.
    let (from, new) = rotate(village, township);
    assert_eq!(from, old);
    carry(township, village);
    village.json(&["post", "update", &before, "--status", "closed"]);
    let fresh = village.create_post("换钥之后的岗位", None, &[]);
    carry(village, township);
    carry(township, county);
    for (who, node) in [("township", township), ("county", county)] {
        assert_post(node, who, &before, &old, "closed");
        assert_post(node, who, &fresh, &new, "open");
    }
}
