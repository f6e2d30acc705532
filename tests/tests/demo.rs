//! The README's first command: `lingong demo` builds the eight-node network (province to three
//! villages), starts the daemons with their web consoles, prints where to look as readable text,
//! writes the same into `demo.json`, and keeps running until stopped. This test starts it as a
//! newcomer would, waits (polling, with a deadline) for `demo.json`, opens the village's big
//! screen and public posts over HTTP, logs in to every village's and the second township's
//! console with the printed passwords, checks through the running village daemon that the
//! county's acceptance of the village's wage-arrears complaint came back down, reads the printed
//! text, and stops the demo with SIGTERM.

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

/// The demo process, stopped with SIGTERM when dropped (also when an assertion fails, so its
/// daemons do not outlive the test).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(self.0.id().to_string())
                .status();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn the_demo_serves_its_consoles_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let demo = std::process::Command::new(lingong_bin())
        .args(["--lang", "zh", "demo", "--dir"])
        .arg(&demo_dir)
        .env_remove("LINGONG_HOME")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.path().join("demo.out")).expect("output file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo starts");
    let mut running = Running(demo);
    let demo = &mut running.0;
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
    // The added nodes: 重安镇 and the villages 舞阳社区, 兴隆街社区, each with its console.
    let consoles = summary["consoles"].as_array().expect("consoles");
    assert_eq!(consoles.len(), 8, "{summary}");
    for (i, name) in [
        (5, "重安镇零工驿站"),
        (6, "舞阳社区零工服务站"),
        (7, "兴隆街社区零工服务站"),
    ] {
        let node = &consoles[i];
        assert_eq!(node["name"], name);
        let (status, page) = http(node["screen"].as_str().expect("screen url"), "GET", None);
        assert_eq!(status, 200, "{name}: {page}");
        let (status, _) = http(node["posts"].as_str().expect("posts url"), "GET", None);
        assert_eq!(status, 200, "{name}");
        let console = node["console"].as_str().expect("console url");
        let login = serde_json::json!({
            "name": "admin",
            "password": node["login"]["password"],
        })
        .to_string();
        let (status, answer) = http(&format!("{console}api/login"), "POST", Some(&login));
        assert_eq!(status, 200, "{name}: {answer}");
    }
    let (_, page) = http(
        consoles[7]["posts"].as_str().expect("posts url"),
        "GET",
        None,
    );
    assert!(
        page.contains("洗碗工"),
        "兴隆街社区's approved post is public: {page}"
    );
    // The complaint filed at 乐源社区 was accepted at the county; the village holds that step.
    let complaint = summary["complaint"].as_str().expect("complaint id");
    let shown = std::process::Command::new(lingong_bin())
        .arg("--home")
        .arg(demo_dir.join("village"))
        .args(["--json", "complaint", "show", complaint])
        .env_remove("LINGONG_HOME")
        .output()
        .expect("complaint show");
    assert!(shown.status.success(), "{shown:?}");
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["status"], "accepted", "{shown}");
    assert_eq!(shown["kind"], "wage-arrears");
    let steps = shown["history"].as_array().expect("history");
    assert!(
        steps
            .iter()
            .any(|s| s["status"] == "accepted" && s["by_region"] == "522622"),
        "the county's step reached the village: {shown}"
    );
    // The printed text: readable Chinese, each node's console, screen and public posts.
    let printed = poll_until("the printed text", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(dir.path().join("demo.out")).ok()?;
        text.contains("Ctrl-C").then_some(text)
    });
    assert!(
        printed.contains("控制台") && printed.contains("大屏"),
        "{printed}"
    );
    for c in consoles {
        for key in ["console", "screen", "posts"] {
            let url = c[key].as_str().expect("url");
            assert!(printed.contains(url), "{url} is printed: {printed}");
        }
    }
    assert!(
        !printed.trim_start().starts_with('{'),
        "human output, not JSON"
    );
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(demo.id().to_string())
        .status();
    let stopped = poll_until("the demo to stop", Duration::from_secs(60), || {
        demo.try_wait().ok().flatten()
    });
    assert!(stopped.success(), "{stopped}");
}
