//! `post export` writes the standard Automerge binary format: the JavaScript implementation
//! (@automerge/automerge, a different code base from the Rust crate lingong uses) loads the
//! exported file and sees the same fields as `post show`.
//!
//! Needs Node.js and the npm registry (for `npm ci` in tests/js the first time); where either is
//! missing the test prints why and passes without checking anything else.

use lingong_protocol::schema::Post;
use lingong_tests::{init_chain, workspace_root};
use serde_json::Value;
use std::process::Command;

#[test]
fn the_javascript_automerge_loads_an_exported_post_with_the_same_fields() {
    let js = workspace_root().join("tests/js");
    if !js.join("node_modules/@automerge/automerge").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status();
        if !matches!(installed, Ok(s) if s.success()) {
            eprintln!(
                "skipped: could not install @automerge/automerge with npm in {} ({installed:?})",
                js.display()
            );
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let village = init_chain(dir.path()).pop().expect("village");
    let id = village.json(&[
        "post",
        "create",
        "--title",
        "茶园采茶工",
        "--occupation",
        "钟点工",
        "--wage",
        "150.5",
        "--unit",
        "day",
        "--headcount",
        "8",
        "--location",
        "乐源社区茶园",
        "--description",
        "包午餐，日结",
    ])["id"]
        .as_str()
        .expect("id")
        .to_string();
    village.json(&["post", "update", &id, "--headcount", "9"]);
    let file = dir.path().join("post.automerge");
    village.json(&[
        "post",
        "export",
        &id,
        "--out",
        file.to_str().expect("utf-8"),
    ]);
    let out = Command::new("node")
        .arg(js.join("load.mjs"))
        .arg(&file)
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => {
            eprintln!("skipped: node could not run the loader ({other:?})");
            return;
        }
    };
    let loaded: Value = serde_json::from_slice(&out.stdout).expect("the loader prints JSON");
    let shown = village.json(&["post", "show", &id]);
    // Every field of a post document; those this post never set are absent on both sides.
    for field in Post::FIELDS {
        assert_eq!(
            loaded[field], shown[field],
            "field {field} differs between Automerge-JS and post show"
        );
    }
    assert_eq!(loaded["headcount"], 9);
}
