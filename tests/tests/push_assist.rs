//! Push lists (精准推送) and the assistance ledger (困难帮扶台账) with real `lingong` processes:
//! a post approved at the village has a push list with the priority worker first and the phone
//! the village holds; `push mark` records a job recommendation (kind 9) and takes the worker
//! off the list; the record reaches the township on a USB bundle; `assist due` orders the
//! priority workers by how far behind their yearly targets they are (a placement counting as a
//! recommendation, the targets configurable); bad input exits 2 naming the field and leaves
//! every record count as it was; `push send` hands the message to the configured command on its
//! standard input (a real shell script that writes it to a file). The same through the JSON API
//! of a running daemon, with a clerk's token.

use lingong_tests::{Daemon, Node, carry, free_port, init_chain, poll_until};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("the output has an id").to_string()
}

fn phone(seq: u32) -> String {
    format!("1380000{seq:04}")
}

/// The worker ids of the push list of `post` at `node`, in order.
fn push_order(node: &Node, post: &str) -> Vec<String> {
    node.json(&["push", "list"])
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["post_id"] == post)
        .map(|r| r["worker_id"].as_str().expect("worker_id").to_string())
        .collect()
}

/// What a refused command must leave as it was: every record count, the ledger, the push lists.
fn snapshot(node: &Node) -> Value {
    json!({
        "records": node.json(&["status"])["records"],
        "assist": node.json(&["assist", "list"]),
        "push": node.json(&["push", "list"]),
    })
}

/// Runs `args` at `node`: exit 2, stderr and the `--json` error name `field`, nothing changed.
fn assert_refused(node: &Node, args: &[&str], field: &str) {
    let before = snapshot(node);
    let failure = node.fail(args);
    let label = args.join(" ");
    assert_eq!(failure.status, 2, "{label}: exit status 2, got {failure:?}");
    let stderr = failure.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{label}: one line: {stderr}");
    assert!(
        stderr.contains(field),
        "{label}: stderr names {field}: {stderr}"
    );
    let message = failure.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(field),
        "{label}: the JSON error names {field}: {}",
        failure.json
    );
    assert_eq!(snapshot(node), before, "{label}: the store changed");
}

/// Puts `lines` (top-level keys) at the top of the node's config.toml, before any table.
fn configure(node: &Node, lines: &str) {
    let path = node.home.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    std::fs::write(&path, format!("{lines}\n{text}")).expect("config.toml written");
}

#[test]
fn push_lists_put_priority_workers_first_and_marks_and_sends_become_assistance_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);

    // Three porters alike but for their priority, registered in the reverse of the order help
    // is due.
    let plain = village.register_porter("龙建国", 1, &[]);
    let older = village.register_porter("吴秀英", 2, &["--flags", "older"]);
    let disabled = village.register_porter("杨光荣", 3, &["--flags", "disabled"]);

    // A pending post has no push list; approved, it has one, priority first, with phones.
    let post = village.create_post("村里仓库搬运工", None, &[]);
    assert_eq!(
        village.json(&["push", "list"]),
        json!([]),
        "pending: no list"
    );
    assert_refused(village, &["push", "list", "--post", &post], "post");
    village.json(&["post", "review", &post, "--approve"]);
    assert_eq!(
        push_order(village, &post),
        vec![disabled.clone(), older.clone(), plain.clone()]
    );
    let lists = village.json(&["push", "list"]);
    let first = &lists[0];
    assert_eq!(first["phone"], phone(3), "the phone held here: {first}");
    assert_eq!(first["priority"], 2);
    assert_eq!(first["flags"], json!(["disabled"]));
    assert_eq!(first["band"], "strong");
    assert_eq!(first["places_left"], 2);
    assert_eq!(first["title"], "村里仓库搬运工");

    // `push mark` writes one job recommendation and takes the worker off the list.
    let before = village.json(&["status"])["records"]["assistances"].clone();
    assert_eq!(before, 0);
    let marked = village.json(&[
        "push",
        "mark",
        &post,
        "--worker",
        &disabled,
        "--result",
        "interested",
        "--note",
        "电话联系，明天来站",
    ]);
    let record = id_of(&marked);
    assert_eq!(marked["kind"], "job-recommendation");
    assert_eq!(village.json(&["status"])["records"]["assistances"], 1);
    assert_eq!(
        push_order(village, &post),
        vec![older.clone(), plain.clone()]
    );
    let ledger = village.json(&["assist", "list", "--worker", &disabled]);
    assert_eq!(ledger.as_array().map(Vec::len), Some(1), "{ledger}");
    assert_eq!(ledger[0]["id"], record.as_str());
    assert_eq!(ledger[0]["post_id"], post.as_str());
    assert_eq!(ledger[0]["result"], "interested");
    assert_eq!(ledger[0]["worker_name"], "杨光荣");

    // The record reaches the parent (a USB bundle), in full: the township is below the county.
    carry(village, township);
    let at_township = township.json(&["assist", "list"]);
    let row = at_township
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["id"] == record.as_str())
        .unwrap_or_else(|| panic!("the record at the township: {at_township}"));
    assert_eq!(row["kind"], "job-recommendation");
    assert_eq!(row["result"], "interested");
    assert_eq!(row["region"], "522622101001");
    assert_eq!(
        row["worker_name"], "杨光荣",
        "the worker is held in full there"
    );
    // Above the county only the signed header travels: the city counts the record and holds
    // none of its contents.
    let (county, city) = (&nodes[2], &nodes[1]);
    carry(township, county);
    assert_eq!(county.json(&["assist", "list"])[0]["id"], record.as_str());
    carry(county, city);
    assert_eq!(city.json(&["status"])["records"]["assistances"], 1);
    assert_eq!(
        city.json(&["assist", "list"]),
        json!([]),
        "no contents at the city"
    );

    // `assist due`: the older worker has nothing yet (6 behind of 1311), the disabled worker
    // had one recommendation; a career guidance more puts them further apart. The plain
    // worker has no priority and is not listed.
    village.json(&[
        "assist",
        "log",
        "--worker",
        &disabled,
        "--kind",
        "career-guidance",
        "--note",
        "职业指导：叉车证",
    ]);
    let due = village.json(&["assist", "due"]);
    let order: Vec<&str> = due
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["worker_id"].as_str().expect("worker_id"))
        .collect();
    assert_eq!(order, vec![older.as_str(), disabled.as_str()], "{due}");
    assert_eq!(due[0]["behind"], 6);
    assert_eq!(due[1]["behind"], 4);
    assert_eq!(
        due[1]["missing"], "岗位推荐×2、培训信息×1、见习机会×1",
        "{due}"
    );
    let kinds = |row: &Value, kind: &str| -> Value {
        row["kinds"]
            .as_array()
            .expect("kinds")
            .iter()
            .find(|k| k["kind"] == kind)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        kinds(&due[1], "job-recommendation"),
        json!({"kind": "job-recommendation", "kind_zh": "岗位推荐", "target": 3, "done": 1, "short": 2})
    );

    // A placement counts as a recommendation of its post, and takes the worker off the list.
    village.json(&["placement", "confirm", "--post", &post, "--worker", &older]);
    let due = village.json(&["assist", "due", "--worker", &older]);
    assert_eq!(kinds(&due[0], "job-recommendation")["done"], 1, "{due}");
    assert_eq!(due[0]["behind"], 5);
    assert_eq!(push_order(village, &post), vec![plain.clone()]);

    // The targets are configuration: internships off, three career guidances.
    let config = village.home.join("config.toml");
    let original = std::fs::read_to_string(&config).expect("config.toml");
    std::fs::write(
        &config,
        format!("{original}\n[assist_targets]\ninternship-offer = 0\ncareer-guidance = 3\n"),
    )
    .expect("targets configured");
    let due = village.json(&["assist", "due", "--worker", &disabled]);
    assert!(kinds(&due[0], "internship-offer").is_null(), "{due}");
    assert_eq!(kinds(&due[0], "career-guidance")["short"], 2, "{due}");
    assert_eq!(due[0]["behind"], 5, "{due}");
    std::fs::write(&config, &original).expect("config restored");

    // Bad input: exit 2, the field named, nothing changed.
    let bad: [(&[&str], &str); 9] = [
        (
            &[
                "push", "mark", &post, "--worker", &plain, "--result", "maybe",
            ],
            "result",
        ),
        (
            &[
                "push",
                "mark",
                &post,
                "--worker",
                "0000000000aa",
                "--result",
                "contacted",
            ],
            "worker",
        ),
        (&["push", "mark", &post, "--result", "contacted"], "worker"),
        (
            &["assist", "log", "--worker", &plain, "--kind", "haircut"],
            "kind",
        ),
        (
            &[
                "assist",
                "log",
                "--worker",
                "ffffffffff00",
                "--kind",
                "training-info",
            ],
            "worker",
        ),
        (
            &[
                "assist",
                "log",
                "--worker",
                &plain,
                "--kind",
                "career-guidance",
                "--post",
                &post,
            ],
            "post",
        ),
        (&["assist", "due", "--worker", &plain], "worker"),
        (&["push", "list", "--days", "0"], "days"),
        (&["push", "send"], "push_command"),
    ];
    for (args, field) in bad {
        assert_refused(village, args, field);
    }

    // `push send` runs the configured command with the message on its stdin, and records the
    // contact: the worker leaves the list.
    let out_dir = dir.path().join("sent");
    std::fs::create_dir(&out_dir).expect("out dir");
    let script = dir.path().join("sms.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ -f \"$1/modem-down\" ] && { cat >/dev/null; exit 3; }\ncat > \"$1/$LINGONG_PUSH_WORKER.txt\"\nprintf '%s\\n' \"$LINGONG_PUSH_PHONE\" > \"$1/$LINGONG_PUSH_WORKER.phone\"\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    configure(
        village,
        &format!(
            "push_command = [{:?}, {:?}]",
            script.display().to_string(),
            out_dir.display().to_string()
        ),
    );
    // With the modem down every run fails: exit 1 naming the worker, nothing recorded, and the
    // worker stays on the list.
    std::fs::write(out_dir.join("modem-down"), "").expect("modem-down");
    let before = snapshot(village);
    let failure = village.fail(&["push", "send", "--post", &post]);
    assert_eq!(failure.status, 1, "a failed send exits 1: {failure:?}");
    assert_eq!(failure.json["error"]["code"], "push-failed", "{failure:?}");
    assert!(
        failure.stderr.contains(&plain) && failure.stderr.contains("exit"),
        "the message names the worker and the reason: {}",
        failure.stderr
    );
    assert_eq!(snapshot(village), before, "a failed send records nothing");
    assert_eq!(push_order(village, &post), vec![plain.clone()]);
    std::fs::remove_file(out_dir.join("modem-down")).expect("modem up");

    let sent = village.json(&["push", "send", "--post", &post]);
    assert_eq!(sent["failed"], json!([]), "{sent}");
    let rows = sent["sent"].as_array().expect("sent");
    assert_eq!(rows.len(), 1, "{sent}");
    assert_eq!(rows[0]["worker_id"], plain.as_str());
    let message = std::fs::read_to_string(out_dir.join(format!("{plain}.txt"))).expect("message");
    assert!(
        message.contains("村里仓库搬运工") && message.contains(&post) && message.contains("龙建国"),
        "the message names the post and the worker: {message}"
    );
    let to = std::fs::read_to_string(out_dir.join(format!("{plain}.phone"))).expect("phone");
    assert_eq!(to.trim(), phone(1));
    assert_eq!(push_order(village, &post), Vec::<String>::new());
    let ledger = village.json(&["assist", "list", "--worker", &plain]);
    assert_eq!(ledger[0]["result"], "contacted", "{ledger}");
    assert_eq!(ledger[0]["id"], rows[0]["record"]);
    assert_eq!(village.json(&["status"])["records"]["assistances"], 3);

    // 31 days on, the plain worker has waited long without a placement: `long-wait` is
    // derived, and the worker is due assistance too.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let later = lingong_protocol::dates::rfc3339(now_ms + 31 * 86_400_000);
    let due = village.json_env(&[("LINGONG_NOW", &later)], &["assist", "due"]);
    let row = due
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["worker_id"] == plain.as_str())
        .unwrap_or_else(|| panic!("the long-waiting worker is due: {due}"));
    assert_eq!(row["flags"], json!(["long-wait"]), "{row}");
    assert_eq!(row["priority"], 1);
    assert!(
        due.as_array()
            .expect("a list")
            .windows(2)
            .all(|w| w[0]["behind"].as_u64() >= w[1]["behind"].as_u64()),
        "most overdue first: {due}"
    );
}

/// One HTTP/1.1 exchange with the daemon's web server: the status and the body as JSON.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the node's HTTP server");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept-Language: en\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, json)
}

#[test]
fn the_json_api_lists_pushes_marks_them_and_keeps_the_ledger_with_a_clerks_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let village = &nodes[4];
    let older = village.register_porter("吴秀英", 2, &["--flags", "older"]);
    let post = village.create_post("村里仓库搬运工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let token = village.json(&["token", "add", "--name", "desk", "--role", "clerk"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let _daemon = Daemon::start(village, free_port());
    let log = village.home.join("daemon.log");
    let addr = poll_until(
        "the daemon to print its web address",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            let at = text.find("http://")? + "http://".len();
            let rest = &text[at..];
            Some(rest[..rest.find('/')?].to_string())
        },
    );
    let t = Some(token.as_str());

    let (status, _) = http(&addr, "GET", "/api/assist/due", None, &Value::Null);
    assert_eq!(status, 401, "no token, no ledger");
    let (status, lists) = http(&addr, "GET", "/api/push", t, &Value::Null);
    assert_eq!(status, 200, "{lists}");
    assert_eq!(lists[0]["post_id"], post.as_str(), "{lists}");
    assert_eq!(lists[0]["worker_id"], older.as_str());
    assert_eq!(lists[0]["phone"], phone(2));

    // A result not in the list: 400 naming it, nothing written.
    let mark = format!("/api/push/{post}/mark");
    let (status, err) = http(
        &addr,
        "POST",
        &mark,
        t,
        &json!({"worker": older, "result": "maybe"}),
    );
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["field"], "result", "{err}");
    let (_, ledger) = http(&addr, "GET", "/api/assist", t, &Value::Null);
    assert_eq!(ledger, json!([]), "a refused mark writes nothing");

    let (status, marked) = http(
        &addr,
        "POST",
        &mark,
        t,
        &json!({"worker": older, "result": "contacted"}),
    );
    assert_eq!(status, 200, "{marked}");
    let (status, logged) = http(
        &addr,
        "POST",
        "/api/assist",
        t,
        &json!({"worker": older, "kind": "training-info", "note": "电焊培训班 12 月 20 日开班"}),
    );
    assert_eq!(status, 200, "{logged}");
    let (status, err) = http(
        &addr,
        "POST",
        "/api/assist",
        t,
        &json!({"worker": older, "kind": "haircut"}),
    );
    assert_eq!(
        (status, &err["error"]["field"]),
        (400, &json!("kind")),
        "{err}"
    );

    let (_, ledger) = http(
        &addr,
        "GET",
        &format!("/api/assist?worker={older}"),
        t,
        &Value::Null,
    );
    let ids: Vec<&Value> = ledger
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(
        ids,
        vec![&logged["id"], &marked["id"]],
        "newest first: {ledger}"
    );
    let (_, due) = http(&addr, "GET", "/api/assist/due", t, &Value::Null);
    assert_eq!(due[0]["worker_id"], older.as_str(), "{due}");
    assert_eq!(
        due[0]["behind"], 4,
        "6 of 1311, less a recommendation and a training: {due}"
    );
    let (_, lists) = http(&addr, "GET", "/api/push", t, &Value::Null);
    assert_eq!(lists, json!([]), "the marked worker left: {lists}");

    // The routes are described in /openapi.json, generated from the same table.
    let (status, doc) = http(&addr, "GET", "/openapi.json", None, &Value::Null);
    assert_eq!(status, 200);
    for path in [
        "/api/push",
        "/api/push/{id}/mark",
        "/api/push/send",
        "/api/assist",
        "/api/assist/due",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi.json lacks {path}");
    }
}
