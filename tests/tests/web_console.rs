//! The web console, the big screen, the public pages and the JSON API, against a real `lingong
//! run` daemon.
//!
//! The API checks speak HTTP/1.1 over a plain socket (no client library): 401 without a login,
//! 403 outside the role, 400 with the field and a message in the `Accept-Language` language,
//! 413 over the body limit, and no clear ID number in any answer. The browser test runs
//! `tests/js/web_console.mjs` (playwright-core driving Debian's headless Chromium at
//! `/usr/bin/chromium`): log in, a refused field, publish, approve from the review queue, see the
//! post on `/screen` without reloading and on `/posts`, a poster's QR check genuine and altered,
//! nothing requested outside 127.0.0.1; it saves the screenshots the README shows into
//! `docs/screenshots/`. Where Chromium, Node.js or playwright-core is missing the browser test
//! prints why and skips.

use lingong_tests::{Daemon, Node, certify, free_port, poll_until, workspace_root};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One HTTP/1.1 exchange: the status and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the node's HTTP server");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    // The server may answer (413) before it has read a large body.
    let _ = s.write_all(body);
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
    (status, body)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A province node with an admin and a clerk token, its daemon running; returns the node, the
/// daemon, the HTTP address, the admin's password and the clerk's token.
fn station(dir: &std::path::Path) -> (Node, Daemon, String, String, String) {
    let node = Node::init(dir, "station", "贵州省零工服务中心", "52");
    certify(None, &node);
    let password = "chaye-2026-web";
    let mut add = node.command();
    add.args([
        "--json",
        "staff",
        "add",
        "--name",
        "amy",
        "--role",
        "admin",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut child = add.spawn().expect("staff add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    assert!(
        child
            .wait_with_output()
            .expect("staff add")
            .status
            .success()
    );
    let token = node.json(&["token", "add", "--name", "partner", "--role", "clerk"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let listed = node.json(&["token", "list"]).to_string();
    assert!(
        !listed.contains(&token),
        "token list shows the token: {listed}"
    );
    let daemon = Daemon::start(&node, free_port());
    let log = node.home.join("daemon.log");
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
    (node, daemon, addr, password.to_string(), token)
}

#[test]
fn the_api_answers_401_403_400_and_413_and_never_a_clear_id_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_node, _daemon, addr, password, token) = station(dir.path());
    let bearer = format!("Bearer {token}");
    let clerk = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];

    // No login, no token: 401, in Chinese by default.
    let (status, body) = http(&addr, "GET", "/api/posts", &[], b"");
    assert_eq!(status, 401, "{body}");
    assert_eq!(json_of(&body)["error"]["code"], "unauthenticated");
    let (status, _) = http(
        &addr,
        "GET",
        "/api/posts",
        &[("Authorization", "Bearer lgt_wrong")],
        b"",
    );
    assert_eq!(status, 401);

    // A clerk's token may publish but not review: 403.
    let (status, body) = http(&addr, "GET", "/api/review", &clerk, b"");
    assert_eq!(status, 403, "{body}");
    assert_eq!(json_of(&body)["error"]["code"], "forbidden");

    // Bad input: 400 naming the field, in the asked language; nothing is written.
    let bad = json!({ "title": "搬运工", "occupation": "钟点工", "wage": "a lot", "unit": "day", "headcount": 2 });
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &clerk,
        bad.to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{body}");
    let e = json_of(&body);
    assert_eq!(e["error"]["field"], "wage", "{body}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "{body}"
    );
    let unknown = json!({ "title": "搬运工", "colour": "red" });
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &clerk,
        unknown.to_string().as_bytes(),
    );
    assert_eq!(
        (status, json_of(&body)["error"]["field"].clone()),
        (400, json!("colour")),
        "{body}"
    );
    let (status, body) = http(&addr, "POST", "/api/posts", &clerk, b"{not json");
    assert_eq!(status, 400, "{body}");
    let too_high = json!({ "title": "搬运工", "occupation": "钟点工", "wage": 100000, "unit": "day", "headcount": 2 });
    let english = [clerk[0], clerk[1], ("Accept-Language", "en-US,en;q=0.9")];
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &english,
        too_high.to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{body}");
    let e = json_of(&body);
    assert_eq!(e["error"]["field"], "wage", "{body}");
    assert!(
        e["error"]["message"].as_str().is_some_and(|m| m.is_ascii()),
        "{body}"
    );
    let (_, body) = http(&addr, "GET", "/api/posts", &clerk, b"");
    assert_eq!(json_of(&body), json!([]), "a refused post was written");

    // Over the body limit: 413, in the same error shape.
    let big = vec![b' '; 200 * 1024];
    let (status, body) = http(&addr, "POST", "/api/posts", &clerk, &big);
    assert_eq!(status, 413, "{body}");
    assert_eq!(json_of(&body)["error"]["code"], "too-large");

    // A good post through the token, then a worker: the answers carry the mask only.
    let good = json!({ "title": "搬运工", "occupation": "钟点工", "wage": 180, "unit": "day", "headcount": 2, "contact": "李师傅 13800001234" });
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &clerk,
        good.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let id_number = "11010519491231002X";
    let worker = json!({ "name": "张三", "id_number": id_number, "phone": "13900001111", "skills": "钟点工" });
    let (status, body) = http(
        &addr,
        "POST",
        "/api/workers",
        &clerk,
        worker.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    for path in ["/api/workers", "/api/posts", "/api/status", "/feed.json"] {
        let (status, body) = http(&addr, "GET", path, &clerk, b"");
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body.contains(id_number),
            "{path} returned a clear ID number: {body}"
        );
    }

    // A session: login, then a write without the CSRF header is refused, with it accepted.
    let login = json!({ "name": "amy", "password": password });
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    let body = login.to_string();
    write!(
        s,
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(
        out.contains("HttpOnly") && out.contains("SameSite=Strict"),
        "{out}"
    );
    let cookie = out
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf = json_of(out.split_once("\r\n\r\n").expect("body").1)["csrf"]
        .as_str()
        .expect("csrf")
        .to_string();
    let again = good.to_string();
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        again.as_bytes(),
    );
    assert_eq!(
        status, 403,
        "a session write without its CSRF token: {body}"
    );
    let (status, body) = http(
        &addr,
        "POST",
        "/api/posts",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        again.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");

    // The OpenAPI document names the endpoints.
    let (status, body) = http(&addr, "GET", "/openapi.json", &[], b"");
    assert_eq!(status, 200);
    let doc = json_of(&body);
    for path in [
        "/api/posts",
        "/api/posts/{id}/review",
        "/api/workers",
        "/api/match",
        "/api/placements",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi.json lacks {path}");
    }

    // Five wrong passwords lock the name.
    for _ in 0..5 {
        let wrong = json!({ "name": "amy", "password": "not-it-at-all" }).to_string();
        let (status, _) = http(&addr, "POST", "/api/login", &[], wrong.as_bytes());
        assert_eq!(status, 401);
    }
    let (status, body) = http(
        &addr,
        "POST",
        "/api/login",
        &[],
        login.to_string().as_bytes(),
    );
    assert_eq!(status, 429, "{body}");
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(js: &std::path::Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium chromium-driver fonts-noto-cjk)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no Node.js".into());
    }
    if !js.join("node_modules/playwright-core").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(js)
            .status();
        if !matches!(installed, Ok(s) if s.success()) {
            return Some(format!(
                "could not install playwright-core with npm in {} ({installed:?})",
                js.display()
            ));
        }
    }
    None
}

#[test]
fn a_clerk_publishes_a_reviewer_approves_and_the_screen_and_public_pages_show_it() {
    let js = workspace_root().join("tests/js");
    if let Some(why) = browser_missing(&js) {
        eprintln!("skipped: the browser test needs Chromium, Node.js and playwright-core: {why}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_node, _daemon, addr, password, _) = station(dir.path());
    let shots = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&shots).expect("docs/screenshots");
    let out = Command::new("node")
        .arg(js.join("web_console.mjs"))
        .arg(format!("http://{addr}/"))
        .arg("amy")
        .arg(&password)
        .arg(&shots)
        .env("HOME", dir.path())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    for shot in [
        "console.png",
        "screen.png",
        "public-posts.png",
        "poster.png",
    ] {
        assert!(shots.join(shot).exists(), "no screenshot {shot}");
    }
}
