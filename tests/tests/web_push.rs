//! The console's push list (`/push`) and assistance ledger (`/assist`), and the last bundle on
//! the sync state, against real `lingong run` daemons.
//!
//! - The last bundle (no browser): `bundle export` at a node records when and how many changes
//!   in `last_bundle.json` (mode 0600); a daemon started after it answers `/api/sync` with that
//!   time and count; a `bundle import` through the daemon makes the import the last one.
//! - The send button and the forms without a browser (a clerk's API token, which pages take
//!   too): `/push` shows no send button without a `push_command`; with one (a real shell script)
//!   it does, and the form runs the command for the post's workers, who are then recorded as
//!   contacted; a mark form with an unknown result answers 400 with the message next to the
//!   `result` field and records nothing.
//! - In a browser (`tests/js/web_push.mjs`: playwright-core driving Debian's headless Chromium)
//!   at a village of the certified chain, logged in as a clerk: after a post is approved there,
//!   `/push` lists a priority worker first; a mark without a result is refused next to the field
//!   and changes nothing; marked "interested" the worker leaves the list; `/assist` shows the
//!   worker due, a record without a kind is refused next to the field, a training-info record
//!   is logged and the due figure drops by one; switched to English, both pages show no Chinese
//!   of their own and a refused mark answers in English naming the result field; the sync page
//!   shows the last bundle. Then the
//!   command line agrees: the push list, the ledger and `assist due`. Where Chromium, Node.js
//!   or playwright-core is missing the browser test prints why and skips.
//!
//! Nothing sleeps a fixed time: every wait polls with a deadline.

use lingong_tests::{
    Node, add_token, browser_ready, free_port, http, init_chain, json_of, run_browser_script,
    start_web, web_request,
};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;

/// One HTTP/1.1 GET: the status and the body.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http(addr, "GET", path, headers, b"")
}

/// `/api/sync` with a clerk's token.
fn sync_state(addr: &str, token: &str) -> Value {
    let bearer = format!("Bearer {token}");
    let (status, body) = get(addr, "/api/sync", &[("Authorization", &bearer)]);
    assert_eq!(status, 200, "{body}");
    json_of(&body)
}

#[test]
fn the_last_bundle_exported_or_imported_is_in_the_sync_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::init(dir.path(), "station", "贵州省零工服务中心", "52");
    lingong_tests::certify(None, &node);
    node.create_post("省级招聘会搬运工", None, &[]);
    let token = add_token(&node, "desk", "clerk");
    let file = dir.path().join("stick.bundle");
    let file = file.to_str().expect("utf-8 path");
    let exported = node.json(&["bundle", "export", "--out", file]);
    let changes = exported["changes"].as_u64().expect("changes");
    assert!(changes > 0, "{exported}");
    let held = node.home.join("last_bundle.json");
    let mode = std::fs::metadata(&held)
        .expect("last_bundle.json written by the export")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "last_bundle.json is the owner's only");

    let (_daemon, addr) = start_web(&node, free_port(), &[]);
    let sync = sync_state(&addr, &token);
    let last = &sync["last_bundle"];
    let at = last["export"]["at"].as_str().expect("the export's time");
    assert!(
        lingong_protocol::dates::parse_rfc3339(at).is_some(),
        "{sync}"
    );
    assert_eq!(last["export"]["changes"], changes, "{sync}");
    assert_eq!(last["export"]["file"], file, "{sync}");
    assert_eq!(last["last"]["direction"], "export", "{sync}");
    assert!(last["import"].is_null(), "nothing imported yet: {sync}");

    // An import through the running daemon becomes the last bundle.
    let imported = node.json(&["bundle", "import", file]);
    let sync = sync_state(&addr, &token);
    let last = &sync["last_bundle"];
    assert_eq!(last["last"]["direction"], "import", "{sync}");
    assert_eq!(last["import"]["changes"], imported["changes"], "{sync}");
    assert_eq!(last["import"]["duplicate"], imported["duplicate"], "{sync}");
    assert!(
        last["import"]["at"].as_str() >= Some(at),
        "the import is not before the export: {sync}"
    );
    assert_eq!(
        last["export"]["at"], at,
        "the export is still shown: {sync}"
    );
}

/// The priority worker's row of `assist due`: how far behind.
fn behind(node: &Node, worker: &str) -> u64 {
    node.json(&["assist", "due", "--worker", worker])[0]["behind"]
        .as_u64()
        .expect("behind")
}

#[test]
fn a_clerk_marks_a_priority_worker_on_the_push_list_and_logs_assistance_in_the_browser() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    // Alike but for their priority, the plain one registered first.
    let plain = village.register_porter("龙建国", 1, &[]);
    let older = village.register_porter("吴秀英", 2, &["--flags", "older"]);
    let post = village.create_post("村里仓库搬运工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let before = behind(village, &older);
    let stick = dir.path().join("stick.bundle");
    let own_id = village.node_id();
    village.json(&[
        "bundle",
        "export",
        "--out",
        stick.to_str().expect("utf-8 path"),
        "--to",
        &own_id,
    ]);

    let password = "cangku-2026-push";
    let (_daemon, web) = start_web(village, free_port(), &[("wu", "clerk", password)]);

    let shots = tempfile::tempdir().expect("screenshots");
    run_browser_script(
        "web_push.mjs",
        &[
            &format!("http://{web}/"),
            &"wu",
            &password,
            &post,
            &older,
            &plain,
            &shots.path(),
        ],
        dir.path(),
    );
    for shot in ["push.png", "assist.png"] {
        assert!(shots.path().join(shot).exists(), "no screenshot {shot}");
    }

    // What the pages did is what the command line says: the worker left the post's list, the
    // ledger holds the mark and the training record (the refused forms wrote nothing), and the
    // worker is two behind fewer.
    let list = village.json(&["push", "list", "--post", &post]);
    let on_list: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["worker_id"].as_str().expect("worker_id"))
        .collect();
    assert_eq!(on_list, vec![plain.as_str()], "{list}");
    let ledger = village.json(&["assist", "list", "--worker", &older]);
    let rows = ledger.as_array().expect("a list");
    assert_eq!(rows.len(), 2, "{ledger}");
    assert!(
        rows.iter().any(|r| r["kind"] == "job-recommendation"
            && r["result"] == "interested"
            && r["post_id"] == post.as_str()),
        "{ledger}"
    );
    assert!(
        rows.iter().any(|r| r["kind"] == "training-info"),
        "{ledger}"
    );
    assert_eq!(behind(village, &older), before - 2);
}

#[test]
fn the_send_button_runs_the_push_command_and_a_refused_mark_records_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let worker = village.register_porter("杨光荣", 3, &["--flags", "disabled"]);
    let post = village.create_post("村里仓库搬运工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let token = add_token(village, "desk", "clerk");
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];

    // No push command: no send button.
    let (daemon, web) = start_web(village, free_port(), &[]);
    let (status, page) = get(&web, "/push", &auth);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(r#"data-worker="{worker}""#)),
        "{page}"
    );
    assert!(
        !page.contains(r#"id="send""#),
        "a send button without a command"
    );

    // A mark with an unknown result: 400, the message next to `result`, nothing recorded.
    let form = [
        ("post", post.as_str()),
        ("worker", worker.as_str()),
        ("result", "maybe"),
    ];
    let encoded: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let (status, answer) = http(
        &web,
        "POST",
        "/push/mark",
        &headers,
        encoded.join("&").as_bytes(),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains(r#"class="field bad" data-field="result""#),
        "the error is not next to the result field: {answer}"
    );
    assert_eq!(village.json(&["assist", "list"]), json!([]));
    drop(daemon);

    // With a push command: the button, and the form sends through it.
    let out_dir = dir.path().join("sent");
    std::fs::create_dir(&out_dir).expect("out dir");
    let script = dir.path().join("sms.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > \"$1/$LINGONG_PUSH_WORKER.txt\"\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let config = village.home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config.toml");
    std::fs::write(
        &config,
        format!(
            "push_command = [{:?}, {:?}]\n{text}",
            script.display().to_string(),
            out_dir.display().to_string()
        ),
    )
    .expect("config.toml written");
    let (_daemon, web) = start_web(village, free_port(), &[]);
    let (status, page) = get(&web, "/push", &auth);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"id="send""#),
        "no send button with a command"
    );
    let sent = web_request(&web, "POST", "/push/send", &headers, b"days=7");
    assert_eq!(sent.status, 303, "{}", sent.head);
    assert!(sent.head.contains("location: /push?done="), "{}", sent.head);
    let message = std::fs::read_to_string(out_dir.join(format!("{worker}.txt"))).expect("sent");
    assert!(message.contains("村里仓库搬运工"), "{message}");
    let ledger = village.json(&["assist", "list", "--worker", &worker]);
    assert_eq!(ledger[0]["result"], "contacted", "{ledger}");
    let (_, page) = get(&web, "/push", &auth);
    assert!(
        !page.contains(&format!(r#"data-worker="{worker}""#)),
        "the contacted worker is still on the list"
    );
}

#[test]
fn the_push_page_shows_ten_posts_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    village.register_porter("龙德明", 3, &[]);
    for i in 1..=12 {
        let post = village.create_post(&format!("仓库搬运工 {i}"), None, &[]);
        village.json(&["post", "review", &post, "--approve"]);
    }
    let token = add_token(village, "desk", "clerk");
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let (_daemon, web) = start_web(village, free_port(), &[]);
    let cards = |page: &str| page.matches("data-post=").count();

    let (status, first) = get(&web, "/push?days=7", &auth);
    assert_eq!(status, 200, "{first}");
    assert_eq!(cards(&first), 10, "{first}");
    assert!(first.contains("第 1 / 2 页"), "{first}");
    assert!(
        first.contains(r#"href="/push?page=2&amp;days=7""#),
        "no link to the next page keeping the days: {first}"
    );
    let (status, second) = get(&web, "/push?page=2&days=7", &auth);
    assert_eq!(status, 200, "{second}");
    assert_eq!(cards(&second), 2, "{second}");
    // Together the two pages hold the twelve posts, each once.
    let titles = |page: &str| -> Vec<u32> {
        page.match_indices("仓库搬运工 ")
            .filter_map(|(at, m)| {
                page[at + m.len()..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    };
    let mut both = titles(&first);
    both.dedup();
    let mut rest = titles(&second);
    rest.dedup();
    both.extend(rest);
    both.sort_unstable();
    assert_eq!(both, (1..=12).collect::<Vec<_>>(), "{both:?}");
}
