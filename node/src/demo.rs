//! `lingong demo`: a five-level network on this machine with sample data, opened in a browser.
//!
//! Creates the province (贵州省), a prefecture (黔东南州), a county (黄平县), a township (旧州镇)
//! and a community station (乐源社区) in sub-folders of one directory, issues the certificate
//! chain level by level exactly as operators would (request → issue → install), records a
//! directory entry at every level, an administrator account at every node (password made and
//! shown once), and the village's day at the hiring desk: an employer checked, posts reviewed
//! and approved, workers registered (some with priority), a hire confirmed. It checks that a
//! request from another county is refused, then starts the five daemons with their web consoles
//! on 127.0.0.1, shows changes travelling up to the province and down to the village, writes
//! where to look into `demo.json` in the demo folder (owner-only: it holds the passwords) and
//! runs until Ctrl-C (`--no-wait`: stop after showing, for scripts and tests).

use crate::error::{NodeError, Result};
use crate::home::Home;
use crate::request::{PostFields, PostFilter, Request, WorkerFields, dispatch};
use crate::station::{self, Station};
use lingong_protocol::record::complete_id_number;
use serde_json::{Value, json};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One demo node: folder name, display name, region code.
pub const DEMO_NODES: [(&str, &str, &str); 5] = [
    ("province", "贵州省零工服务中心", "52"),
    ("city", "黔东南州零工市场", "5226"),
    ("county", "黄平县零工市场", "522622"),
    ("township", "旧州镇零工驿站", "522622101"),
    ("village", "乐源社区零工服务站", "522622101001"),
];

fn say(lang: &str, zh: &str, en: &str) {
    eprintln!("{}", if lang.starts_with("zh") { zh } else { en });
}

/// Creates and certifies a chain of nodes in `dir` (default `./lingong-demo`).
pub fn run(dir: Option<PathBuf>, lang: &str, wait: bool) -> Result<Value> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("lingong-demo"));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(NodeError::usage(
            "--dir",
            format!("{} is not empty; choose a new folder", dir.display()),
            format!("{} 不是空目录，请换一个新目录", dir.display()),
        ));
    }
    crate::home::create_private_dir(&dir)?;
    let mut parent: Option<Station> = None;
    let mut nodes = Vec::new();
    for (i, (folder, name, region)) in DEMO_NODES.iter().enumerate() {
        let home = Home::new(Some(dir.join(folder)));
        say(
            lang,
            &format!("[{}/5] 创建节点 {name}（{region}）", i + 1),
            &format!("[{}/5] creating node {name} ({region})", i + 1),
        );
        let identity = station::init(
            &home,
            name,
            region,
            vec!["/ip4/127.0.0.1/tcp/0".into()],
            None,
        )?;
        let mut node = Station::open(&home)?;
        let request: lingong_protocol::cert::CertRequest =
            serde_json::from_value(dispatch(&mut node, Request::CertRequest)?).expect("request");
        let issuer = parent.as_mut().unwrap_or(&mut node);
        let chain = dispatch(issuer, Request::CertIssue { request, days: 365 })?;
        dispatch(&mut node, Request::CertInstall { chain })?;
        dispatch(
            &mut node,
            Request::DirectorySet {
                address: Some(format!("{name}服务大厅")),
                hours: Some("周一至周五 8:30-17:30".into()),
                hotline: Some("0855-12333".into()),
                services: Some("岗位发布,求职登记,劳务对接,欠薪投诉".into()),
                rules: None,
            },
        )?;
        let password = demo_password()?;
        dispatch(
            &mut node,
            Request::StaffAdd {
                name: "admin".into(),
                role: "admin".into(),
                password: Some(crate::services::staff::Secret(password.clone())),
            },
        )?;
        nodes.push(json!({ "name": name, "region": region, "home": home.dir.display().to_string(), "node_id": identity["node_id"], "login": {"name": "admin", "password": password} }));
        parent = Some(node);
    }
    let mut village = parent.expect("five nodes");
    let post = dispatch(
        &mut village,
        Request::PostCreate(PostFields {
            title: Some("茶园采茶工".into()),
            occupation: Some("5-01-02-01".into()),
            wage: Some(150.0),
            unit: Some("day".into()),
            headcount: Some(8),
            reach: Some("522622".into()),
            location: Some("旧州镇乐源社区茶园".into()),
            contact: Some("站点电话 0855-12333".into()),
            description: Some("包午餐，日结".into()),
            ..Default::default()
        }),
    );
    let post = match post {
        Ok(p) => p,
        Err(NodeError::Protocol(lingong_protocol::Error::Occupation(_))) => dispatch(
            &mut village,
            Request::PostCreate(PostFields {
                title: Some("家政钟点工".into()),
                occupation: Some("钟点工".into()),
                wage: Some(30.0),
                unit: Some("hour".into()),
                headcount: Some(3),
                reach: Some("522622".into()),
                ..Default::default()
            }),
        )?,
        Err(e) => return Err(e),
    };
    let worker = hiring_desk_day(&mut village, post["id"].as_str().unwrap_or_default())?;
    let post_id = post["id"].as_str().unwrap_or_default().to_string();
    let shown = dispatch(
        &mut village,
        Request::PostShow {
            id: post_id.clone(),
        },
    )?;
    say(
        lang,
        &format!(
            "村站岗位 {post_id} 已发布，签名校验：{}",
            shown["signatures_valid"]
        ),
        &format!(
            "village post {post_id} recorded, signatures_valid: {}",
            shown["signatures_valid"]
        ),
    );
    // A node in another county asks the county for a certificate: refused.
    let foreign_home = Home::new(Some(dir.join("foreign-township")));
    station::init(&foreign_home, "施秉县城关镇驿站", "522623100", vec![], None)?;
    let mut foreign = Station::open(&foreign_home)?;
    let request: lingong_protocol::cert::CertRequest =
        serde_json::from_value(dispatch(&mut foreign, Request::CertRequest)?).expect("request");
    let mut county = Station::open(&Home::new(Some(dir.join("county"))))?;
    let refused = match dispatch(&mut county, Request::CertIssue { request, days: 365 }) {
        Ok(_) => {
            return Err(NodeError::usage(
                "demo",
                "the county issued a certificate outside its jurisdiction",
                "县级节点越权签发了证书",
            ));
        }
        Err(e) => e.message(lang),
    };
    say(
        lang,
        &format!("另一县的证书申请被拒绝：{refused}"),
        &format!("a request from another county was refused: {refused}"),
    );
    drop((village, county, foreign));
    let network = run_network(&dir, lang, wait, &nodes)?;
    Ok(json!({
        "dir": dir.display().to_string(),
        "nodes": nodes,
        "network": network,
        "post": post_id,
        "worker": worker,
        "signatures_valid": shown["signatures_valid"],
        "foreign_request_refused": refused,
        "next": format!("lingong --home {}/village post show {post_id}", dir.display()),
    }))
}

/// A daemon the demo started.
struct DemoDaemon {
    child: std::process::Child,
}

impl Drop for DemoDaemon {
    fn drop(&mut self) {
        // SIGTERM lets the daemon flush and remove its socket; wait for it.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn daemon_json(home: &Home, request: Request) -> Option<Value> {
    crate::control::call_daemon(home, &request).and_then(|r| r.ok())
}

/// Starts a daemon per node (each dialling its parent on 127.0.0.1), records sample data, and
/// shows the changes travelling up and down the chain.
fn run_network(dir: &std::path::Path, lang: &str, wait: bool, nodes: &[Value]) -> Result<Value> {
    let exe = std::env::current_exe().map_err(|e| NodeError::io("current executable", e))?;
    let homes: Vec<Home> = DEMO_NODES
        .iter()
        .map(|(folder, _, _)| Home::new(Some(dir.join(folder))))
        .collect();
    let free_port = |preferred: u16| -> std::io::Result<u16> {
        std::net::TcpListener::bind(("127.0.0.1", preferred))
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
    };
    let ports: Vec<u16> = (0..homes.len())
        .map(|_| free_port(0))
        .collect::<std::io::Result<_>>()
        .map_err(|e| NodeError::io("127.0.0.1", e))?;
    // The web consoles on 8081 (province) … 8085 (village) when those are free.
    let web_ports: Vec<u16> = (0..homes.len())
        .map(|i| free_port(8081 + i as u16))
        .collect::<std::io::Result<_>>()
        .map_err(|e| NodeError::io("127.0.0.1", e))?;
    for i in 1..homes.len() {
        let parent = Station::open(&homes[i - 1])?;
        let parent_addr = format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            ports[i - 1],
            parent.key.public().node_id()
        );
        drop(parent);
        dispatch(
            &mut Station::open(&homes[i])?,
            Request::PeerAdd { addr: parent_addr },
        )?;
    }
    // The village has been busy: 200 sample posts recorded before it comes online.
    sample_posts(&mut Station::open(&homes[4])?, 200)?;
    let mut daemons = Vec::new();
    for (home, port) in homes.iter().zip(&ports) {
        let log = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(crate::home::FILE_MODE)
            .open(home.dir.join("daemon.log"))
            .map_err(|e| NodeError::io(home.dir.join("daemon.log"), e))?;
        let child = std::process::Command::new(&exe)
            .arg("--home")
            .arg(&home.dir)
            .args([
                "run",
                "--listen",
                &format!("/ip4/127.0.0.1/tcp/{port}"),
                "--http",
                &format!("127.0.0.1:{}", web_ports[daemons.len()]),
                "--sync-interval",
                "2",
                "--no-mdns",
            ])
            .env("LINGONG_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| NodeError::io(&exe, e))?;
        daemons.push(DemoDaemon { child });
    }
    for home in &homes {
        wait_for(Duration::from_secs(30), || {
            daemon_json(home, Request::Status)
        })
        .ok_or_else(|| NodeError::Daemon {
            detail: format!(
                "the daemon in {} did not start; see its daemon.log",
                home.dir.display()
            ),
        })?;
    }
    say(
        lang,
        "五个节点的守护进程已启动，开始同步……",
        "five daemons running; syncing…",
    );
    let started = Instant::now();
    // Everything the village holds, and the county's post below, must reach the province.
    let expected = daemon_json(&homes[4], Request::Status)
        .and_then(|s| s["records"]["posts"].as_u64())
        .unwrap_or(0)
        + 1;
    let county_post = daemon_json(
        &homes[2],
        Request::PostCreate(PostFields {
            title: Some("县城物流园装卸工".into()),
            occupation: Some("装卸工".into()),
            wage: Some(220.0),
            unit: Some("day".into()),
            headcount: Some(12),
            reach: Some("522622".into()),
            ..Default::default()
        }),
    )
    .ok_or_else(|| NodeError::Daemon {
        detail: "the county daemon refused the post".into(),
    })?;
    let county_post_id = county_post["id"].as_str().unwrap_or_default().to_string();
    let posts_at = |home: &Home| {
        daemon_json(home, Request::Status)
            .and_then(|s| s["records"]["posts"].as_u64())
            .unwrap_or(0)
    };
    let mut last_shown = u64::MAX;
    let reached_province = wait_for(Duration::from_secs(300), || {
        let n = posts_at(&homes[0]);
        if n != last_shown {
            say(
                lang,
                &format!("  省中心已收到 {n} / {expected} 个岗位"),
                &format!("  province holds {n} / {expected} posts"),
            );
            last_shown = n;
        }
        (n >= expected).then_some(started.elapsed())
    });
    let reached_village = wait_for(Duration::from_secs(120), || {
        let list = daemon_json(&homes[4], Request::PostList(PostFilter::default()))?;
        list.as_array()?
            .iter()
            .any(|p| p["id"] == county_post_id.as_str())
            .then_some(started.elapsed())
    });
    match (reached_province, reached_village) {
        (Some(up), Some(down)) => say(
            lang,
            &format!(
                "村站的 {} 个岗位在 {:.1} 秒内到达省中心；县岗位在 {:.1} 秒内到达村站",
                expected - 1,
                up.as_secs_f64(),
                down.as_secs_f64()
            ),
            &format!(
                "the village's {} posts reached the province in {:.1} s; the county post reached the village in {:.1} s",
                expected - 1,
                up.as_secs_f64(),
                down.as_secs_f64()
            ),
        ),
        _ => {
            return Err(NodeError::Network {
                detail: "the demo network did not converge in time; see the daemon.log files"
                    .into(),
            });
        }
    }
    let peers: Vec<Value> = homes
        .iter()
        .filter_map(|h| daemon_json(h, Request::Status))
        .map(|s| json!({"name": s["name"], "posts": s["records"]["posts"], "peers": s["peers"]}))
        .collect();
    let consoles: Vec<Value> = nodes
        .iter()
        .zip(&web_ports)
        .map(|(n, port)| {
            let base = format!("http://127.0.0.1:{port}");
            json!({
                "name": n["name"],
                "console": format!("{base}/"),
                "screen": format!("{base}/screen"),
                "posts": format!("{base}/posts"),
                "posters": format!("{base}/posters/today"),
                "directory": format!("{base}/directory"),
                "login": n["login"],
            })
        })
        .collect();
    let summary = json!({
        "province_received_village_posts_s": reached_province.map(|d| d.as_secs_f64()),
        "village_received_county_post_s": reached_village.map(|d| d.as_secs_f64()),
        "consoles": consoles,
        "nodes": peers,
    });
    crate::home::write_atomically(
        &dir.join("demo.json"),
        serde_json::to_string_pretty(&summary)
            .expect("json")
            .as_bytes(),
    )?;
    say(
        lang,
        "在浏览器中打开（用户名 admin，密码如下）：",
        "open in a browser (user admin, passwords below):",
    );
    for c in &consoles {
        say(
            lang,
            &format!(
                "  {}  控制台 {}  大屏 {}  公开岗位 {}  密码 {}",
                c["name"].as_str().unwrap_or_default(),
                c["console"].as_str().unwrap_or_default(),
                c["screen"].as_str().unwrap_or_default(),
                c["posts"].as_str().unwrap_or_default(),
                c["login"]["password"].as_str().unwrap_or_default()
            ),
            &format!(
                "  {}  console {}  screen {}  public posts {}  password {}",
                c["name"].as_str().unwrap_or_default(),
                c["console"].as_str().unwrap_or_default(),
                c["screen"].as_str().unwrap_or_default(),
                c["posts"].as_str().unwrap_or_default(),
                c["login"]["password"].as_str().unwrap_or_default()
            ),
        );
    }
    if wait {
        say(
            lang,
            &format!(
                "守护进程继续运行（地址和密码也在 {}/demo.json）。也可以试试：lingong --home {}/village post list    按 Ctrl-C 停止",
                dir.display(),
                dir.display()
            ),
            &format!(
                "daemons keep running (addresses and passwords also in {}/demo.json). Try: lingong --home {}/village post list    Ctrl-C stops them",
                dir.display(),
                dir.display()
            ),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let _ = ctrlc_channel(tx);
        let _ = rx.recv();
    }
    drop(daemons);
    Ok(summary)
}

/// A password for a demo account: 12 letters and digits, shown once (and kept in the
/// owner-only `demo.json`).
fn demo_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes: [u8; 12] = crate::services::staff::random_bytes()?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// The village's day at the hiring desk, through the same requests a clerk makes: an employer
/// registered and checked, the morning's post approved with two more, workers registered
/// (two with priority), the best candidate placed with both sides confirming on paper.
/// Returns the placed worker's id.
fn hiring_desk_day(village: &mut Station, first_post: &str) -> Result<Value> {
    let employer = dispatch(
        village,
        Request::EmployerRegister(crate::request::EmployerFields {
            name: Some("乐源茶叶专业合作社".into()),
            kind: Some("individual-business".into()),
            contact: Some("杨经理".into()),
            phone: Some("13985500001".into()),
            address: Some("旧州镇乐源社区茶园路 1 号".into()),
            verified_by: Some("站点工作人员 吴敏，营业执照原件".into()),
            ..Default::default()
        }),
    )?;
    let employer = employer["id"].as_str().unwrap_or_default().to_string();
    let mut posts = vec![first_post.to_string()];
    for (title, occupation, wage, unit, headcount) in [
        ("茶叶加工临时工", "茶叶加工工", 160.0, "day", 6),
        ("合作社仓库搬运工", "装卸工", 25.0, "hour", 4),
    ] {
        let p = dispatch(
            village,
            Request::PostCreate(PostFields {
                title: Some(title.into()),
                occupation: Some(occupation.into()),
                wage: Some(wage),
                unit: Some(unit.into()),
                headcount: Some(headcount),
                employer: Some(employer.clone()),
                reach: Some("522622101".into()),
                location: Some("旧州镇乐源社区".into()),
                contact: Some("杨经理 13985500001".into()),
                description: Some("当天结算，提供午餐".into()),
                ..Default::default()
            }),
        );
        match p {
            Ok(p) => posts.push(p["id"].as_str().unwrap_or_default().to_string()),
            Err(NodeError::Protocol(lingong_protocol::Error::Occupation(_))) => {}
            Err(e) => return Err(e),
        }
    }
    for id in &posts {
        dispatch(
            village,
            Request::PostReview {
                id: id.clone(),
                approve: true,
                reason: None,
            },
        )?;
    }
    let mut placed = Value::Null;
    for (i, (name, birth, skills, flags)) in [
        ("王秀英", "19700101", "钟点工,茶叶加工工", Some("older")),
        ("杨志强", "19880315", "装卸工", Some("disabled")),
        ("吴小燕", "19950620", "茶叶加工工", None),
    ]
    .into_iter()
    .enumerate()
    {
        let worker = dispatch(
            village,
            Request::WorkerRegister(WorkerFields {
                name: Some(name.into()),
                id_number: Some(complete_id_number(&format!("522622{birth}{:03}", 120 + i))),
                phone: Some(format!("1380000000{i}")),
                skills: Some(skills.into()),
                wage_min: Some(120.0),
                flags: flags.map(String::from),
                ..Default::default()
            }),
        )?;
        if i == 0 {
            placed = worker["id"].clone();
        }
    }
    dispatch(
        village,
        Request::PlacementConfirm(crate::request::PlacementFields {
            post: Some(first_post.to_string()),
            worker: placed.as_str().map(String::from),
            worker_confirmed: Some("paper".into()),
            employer_confirmed: Some("paper".into()),
            ..Default::default()
        }),
    )?;
    Ok(placed)
}

/// Delivers one message on `tx` at SIGINT or SIGTERM.
fn ctrlc_channel(tx: std::sync::mpsc::Sender<()>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("signal handler");
            let mut int = signal(SignalKind::interrupt()).expect("signal handler");
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        });
        let _ = tx.send(());
    });
    Ok(())
}

/// Records `count` sample posts at this node, 500 per atomic batch, written through the post
/// schema like any other post (pending review).
pub fn sample_posts(station: &mut Station, count: usize) -> Result<Value> {
    use lingong_protocol::author::Target;
    use lingong_protocol::record::RecordKind;
    use lingong_protocol::schema::{Post, PostStatus, ReviewState, Schema, WageUnit};
    if count == 0 || count > 1_000_000 {
        return Err(NodeError::usage(
            "--posts",
            "must be between 1 and 1000000",
            "必须在 1 到 1000000 之间",
        ));
    }
    let region = station.region;
    let mut made = 0;
    while made < count {
        let n = (count - made).min(500);
        let start = made;
        station.write(|author, staged| {
            for i in start..start + n {
                let (title, occupation, wage) = lingong_protocol::fixture::SAMPLE_POSTS
                    [i % lingong_protocol::fixture::SAMPLE_POSTS.len()];
                let now = station::now_ms();
                let post = Post {
                    title: format!("{title}（样例 {}）", i + 1),
                    occupation: occupation.into(),
                    wage,
                    unit: WageUnit::Day,
                    headcount: 1 + (i % 10) as i64,
                    employer: None,
                    status: PostStatus::Open,
                    review: ReviewState::Pending,
                    review_reason: None,
                    reviewed_by: None,
                    reviewed_at: None,
                    region,
                    reach: region,
                    location: None,
                    contact: None,
                    description: None,
                    expires: Some(lingong_protocol::dates::format_date(
                        lingong_protocol::dates::today_cst(now) + 30,
                    )),
                    created_at: lingong_protocol::dates::rfc3339(now),
                };
                author.write(
                    staged,
                    Target::Create {
                        kind: RecordKind::Post,
                        reach: None,
                    },
                    &post.edits(),
                    now,
                )?;
            }
            Ok(())
        })?;
        made += n;
    }
    Ok(json!({ "posts": made }))
}
