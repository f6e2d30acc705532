//! The README's first command: `lingong demo` builds the five-level network, starts the
//! daemons with their web consoles, writes where to look into `demo.json`, and keeps running
//! until stopped. This test starts it as a newcomer would, waits (polling, with a deadline) for
//! `demo.json`, opens the village's big screen and public posts over HTTP, logs in to the
//! village console's API with the printed password, and stops the demo with SIGTERM.

use lingong_tests::{lingong_bin, poll_until};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

/// Generous: CI builds and runs this on two loaded cores.
const DEADLINE: Duration = Duration::from_secs(300);

/// One HTTP/1.1 request to `url` (http://127.0.0.1:PORT/PATH); returns the status code and body.
fn http(url: &str, method: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_demo_serves_its_consoles_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let mut demo = std::process::Command::new(lingong_bin())
        .args(["--lang", "zh", "demo", "--dir"])
        .arg(&demo_dir)
        .env_remove("LINGONG_HOME")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo starts");
    let summary: Value = poll_until("demo.json", DEADLINE, || {
        if let Ok(Some(status)) = demo.try_wait() {
            panic!("the demo exited early with {status}");
        }
        let text = std::fs::read_to_string(demo_dir.join("demo.json")).ok()?;
        serde_json::from_str(&text).ok()
    });
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(demo_dir.join("demo.json"))
        .expect("demo.json")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "demo.json holds passwords: owner only");
    let village = &summary["consoles"][4];
    assert_eq!(village["name"], "乐源社区零工服务站");
    let (status, page) = http(village["screen"].as_str().expect("screen url"), "GET", None);
    assert_eq!(status, 200, "{page}");
    let (status, page) = http(village["posts"].as_str().expect("posts url"), "GET", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("茶"),
        "the village's approved posts are public: {page}"
    );
    let console = village["console"].as_str().expect("console url");
    let login = serde_json::json!({
        "name": "admin",
        "password": village["login"]["password"],
    })
    .to_string();
    let (status, answer) = http(&format!("{console}api/login"), "POST", Some(&login));
    assert_eq!(status, 200, "{answer}");
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(demo.id().to_string())
        .status();
    let stopped = poll_until("the demo to stop", Duration::from_secs(60), || {
        demo.try_wait().ok().flatten()
    });
    assert!(stopped.success(), "{stopped}");
}
