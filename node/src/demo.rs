//! `lingong demo`: an eight-node network on this machine with sample data, opened in a browser.
//!
//! Creates, from the real division table, the province (贵州省), a prefecture (黔东南州), a
//! county (黄平县), two townships (旧州镇, 重安镇) and three community stations (乐源社区 and
//! 舞阳社区 under 旧州镇, 兴隆街社区 under 重安镇) in sub-folders of one directory. It issues the
//! certificate chain exactly as operators would (request → parent issues → install), records a
//! directory entry at every node, an administrator account at every node and a clerk at every
//! village (passwords made here and shown once), and the villages' day at the hiring desk, all
//! through [`dispatch`] like the console and the command line: employers registered (one
//! suspended, with its reason), posts approved, pending and rejected (with its reason), workers
//! registered (older, disabled, long-waiting), a hire confirmed on the spot, assistance and a
//! recommendation's outcome logged, a wage-arrears complaint filed, and last month's report
//! sealed. It checks that a request from another county is refused, then starts the eight
//! daemons with their web consoles on 127.0.0.1 (8081–8088 when free), peers along the tree,
//! waits until the county has accepted the complaint and the village sees that step, prints
//! where to look (readable text in Chinese, or English with `--lang en`; one JSON value with
//! `--json`), writes the same into `demo.json` in the demo folder (owner-only: it holds the
//! passwords) and runs until Ctrl-C (`--no-wait`: stop after showing, for scripts and tests).

use crate::error::{NodeError, Result};
use crate::home::Home;
use crate::request::{
    AssistFields, ComplaintFields, ComplaintUpdate, EmployerFields, PlacementFields, PostFields,
    PostFilter, Request, WorkerFields, dispatch,
};
use crate::station::{self, Station};
use lingong_protocol::record::complete_id_number;
use serde_json::{Value, json};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One node of the demo network.
pub struct DemoNode {
    /// Sub-folder of the demo directory.
    pub folder: &'static str,
    /// The station's name.
    pub name: &'static str,
    /// Its region code, from `guizhou-divisions.csv`.
    pub region: &'static str,
    /// Index of the parent node in [`DEMO_NODES`] (the province has none).
    pub parent: Option<usize>,
}

/// The demo's nodes, parents before children. The first five keep their folders and their
/// consoles' ports (8081–8085) from the five-node demo; the three added ones use 8086–8088.
pub const DEMO_NODES: [DemoNode; 8] = [
    DemoNode {
        folder: "province",
        name: "贵州省零工服务中心",
        region: "52",
        parent: None,
    },
    DemoNode {
        folder: "city",
        name: "黔东南州零工市场",
        region: "5226",
        parent: Some(0),
    },
    DemoNode {
        folder: "county",
        name: "黄平县零工市场",
        region: "522622",
        parent: Some(1),
    },
    DemoNode {
        folder: "township",
        name: "旧州镇零工驿站",
        region: "522622101",
        parent: Some(2),
    },
    DemoNode {
        folder: "village",
        name: "乐源社区零工服务站",
        region: "522622101001",
        parent: Some(3),
    },
    DemoNode {
        folder: "township-chongan",
        name: "重安镇零工驿站",
        region: "522622102",
        parent: Some(2),
    },
    DemoNode {
        folder: "village-wuyang",
        name: "舞阳社区零工服务站",
        region: "522622101002",
        parent: Some(3),
    },
    DemoNode {
        folder: "village-xinglongjie",
        name: "兴隆街社区零工服务站",
        region: "522622102001",
        parent: Some(5),
    },
];

/// Index of 乐源社区, the village with the fullest day (and the complaint).
const LEYUAN: usize = 4;
/// Index of the county, which accepts the complaint.
const COUNTY: usize = 2;

fn zh(lang: &str) -> bool {
    lang.starts_with("zh")
}

fn say(lang: &str, zh_text: &str, en: &str) {
    eprintln!("{}", if zh(lang) { zh_text } else { en });
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

/// Creates and certifies the network in `dir` (default `./lingong-demo`), records the sample
/// data, runs the daemons and prints where to look: readable text in `lang`, or one JSON value
/// when `json`. Returns the summary also written to `demo.json`.
pub fn run(dir: Option<PathBuf>, lang: &str, wait: bool, json: bool) -> Result<Value> {
    let begun = Instant::now();
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
    let homes: Vec<Home> = DEMO_NODES
        .iter()
        .map(|n| Home::new(Some(dir.join(n.folder))))
        .collect();
    let mut nodes = Vec::new();
    for (i, n) in DEMO_NODES.iter().enumerate() {
        say(
            lang,
            &format!(
                "[{}/{}] 创建节点 {}（{}）",
                i + 1,
                DEMO_NODES.len(),
                n.name,
                n.region
            ),
            &format!(
                "[{}/{}] creating node {} ({})",
                i + 1,
                DEMO_NODES.len(),
                n.name,
                n.region
            ),
        );
        let identity = station::init(
            &homes[i],
            n.name,
            n.region,
            vec!["/ip4/127.0.0.1/tcp/0".into()],
            None,
        )?;
        let mut node = Station::open(&homes[i])?;
        let request: lingong_protocol::cert::CertRequest =
            serde_json::from_value(dispatch(&mut node, Request::CertRequest)?).expect("request");
        let chain = match n.parent {
            Some(p) => dispatch(
                &mut Station::open(&homes[p])?,
                Request::CertIssue { request, days: 365 },
            )?,
            None => dispatch(&mut node, Request::CertIssue { request, days: 365 })?,
        };
        dispatch(&mut node, Request::CertInstall { chain })?;
        let place = n.name.trim_end_matches("零工服务中心");
        let place = place
            .trim_end_matches("零工市场")
            .trim_end_matches("零工驿站")
            .trim_end_matches("零工服务站");
        dispatch(
            &mut node,
            Request::DirectorySet {
                address: Some(format!("{place}政务服务大厅一楼零工窗口")),
                hours: Some("周一至周五 8:30-12:00, 14:00-17:30；赶场天上午加开".into()),
                hotline: Some(format!("0855-{}", 2_411_000 + i * 111)),
                services: Some("岗位发布,求职登记,劳务对接,就业援助,欠薪投诉".into()),
                rules: Some(
                    "岗位经审核后发布；不收取求职者任何费用；用工主体须出示营业执照或身份证".into(),
                ),
            },
        )?;
        let mut logins = vec![staff(&mut node, "admin", "admin")?];
        if n.folder.starts_with("village") {
            logins.push(staff(&mut node, "clerk", "clerk")?);
        }
        nodes.push(json!({
            "name": n.name,
            "region": n.region,
            "home": homes[i].dir.display().to_string(),
            "node_id": identity["node_id"],
            "login": logins[0],
            "logins": logins,
        }));
    }
    say(
        lang,
        "记录各村站的一天：用工主体、岗位、求职者、上岗、帮扶、投诉……",
        "recording the villages' day: employers, posts, workers, a hire, assistance, a complaint…",
    );
    let leyuan = leyuan_day(&mut Station::open(&homes[LEYUAN])?)?;
    wuyang_day(&mut Station::open(&homes[6])?)?;
    xinglongjie_day(&mut Station::open(&homes[7])?)?;
    let post_id = leyuan["post"].as_str().unwrap_or_default().to_string();
    let shown = dispatch(
        &mut Station::open(&homes[LEYUAN])?,
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
    drop(foreign);
    let refused = match dispatch(
        &mut Station::open(&homes[COUNTY])?,
        Request::CertIssue { request, days: 365 },
    ) {
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
    let (network, daemons) = run_network(&homes, lang, &nodes, &leyuan)?;
    let summary = json!({
        "dir": dir.display().to_string(),
        "nodes": nodes,
        "network": network,
        "consoles": network["consoles"],
        "post": post_id,
        "worker": leyuan["worker"],
        "complaint": leyuan["complaint"],
        "sample": leyuan,
        "signatures_valid": shown["signatures_valid"],
        "foreign_request_refused": refused,
        "ready_after_s": begun.elapsed().as_secs_f64(),
        "next": format!("lingong --home {}/village post show {post_id}", dir.display()),
    });
    crate::home::write_atomically(
        &dir.join("demo.json"),
        serde_json::to_string_pretty(&summary)
            .expect("json")
            .as_bytes(),
    )?;
    if json {
        println!("{}", serde_json::to_string(&summary).expect("json"));
    } else {
        print!("{}", human(&summary, lang, wait));
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if wait {
        let (tx, rx) = std::sync::mpsc::channel();
        let _ = ctrlc_channel(tx);
        let _ = rx.recv();
        say(lang, "正在停止各节点……", "stopping the nodes…");
    }
    drop(daemons);
    Ok(summary)
}

/// A staff account with a fresh password: `{"name", "role", "password"}`.
fn staff(node: &mut Station, name: &str, role: &str) -> Result<Value> {
    let password = demo_password()?;
    dispatch(
        node,
        Request::StaffAdd {
            name: name.into(),
            role: role.into(),
            password: Some(crate::services::staff::Secret(password.clone())),
        },
    )?;
    Ok(json!({ "name": name, "role": role, "password": password }))
}

/// The readable text printed when the network is up: per node its console, big screen,
/// public posts and logins, then what the sample data holds and how to stop.
fn human(summary: &Value, lang: &str, wait: bool) -> String {
    let zh = zh(lang);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    let secs = summary["ready_after_s"].as_f64().unwrap_or_default();
    let count = summary["consoles"].as_array().map_or(0, Vec::len);
    out.push_str(&if zh {
        format!("\n零工演示网络已就绪：{count} 个节点在本机运行（准备用时 {secs:.0} 秒）。用浏览器打开：\n")
    } else {
        format!(
            "\nThe lingong demo network is ready: {count} nodes on this machine (set up in {secs:.0} s). Open in a browser:\n"
        )
    });
    for (c, n) in summary["consoles"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(summary["nodes"].as_array().into_iter().flatten())
    {
        out.push_str(&format!("\n  {}（{}）\n", s(&c["name"]), s(&n["region"])));
        let rows: [(&str, &str, &Value); 3] = [
            ("控制台", "console", &c["console"]),
            ("大屏", "big screen", &c["screen"]),
            ("公开岗位", "public posts", &c["posts"]),
        ];
        for (label_zh, label_en, url) in rows {
            let label = if zh { label_zh } else { label_en };
            out.push_str(&format!("    {}{}\n", pad(label), s(url)));
        }
        for login in n["logins"].as_array().into_iter().flatten() {
            let role = s(&login["role"]);
            let role = match (zh, role.as_str()) {
                (true, "admin") => "管理员".to_string(),
                (true, "clerk") => "窗口工作人员".to_string(),
                _ => role,
            };
            out.push_str(&if zh {
                format!(
                    "    {}用户名 {}  密码 {}（{role}）\n",
                    pad("登录"),
                    s(&login["name"]),
                    s(&login["password"])
                )
            } else {
                format!(
                    "    {}user {}  password {} ({role})\n",
                    pad("login"),
                    s(&login["name"]),
                    s(&login["password"])
                )
            });
        }
    }
    let sample = &summary["sample"];
    let network = &summary["network"];
    out.push_str(&if zh {
        format!(
            "\n样例数据：三个村站的用工主体（一家已暂停：{}）、已审核/待审核/已驳回的岗位、大龄/残疾/长期失业的求职者、现场确认的上岗、帮扶记录、推荐结果；\
             乐源社区登记的欠薪投诉 {} 已由县零工市场受理，村站已看到这一步（{:.1} 秒）；乐源社区已签章 {} 月报（本站本月才建立，数字为零）。\n",
            s(&sample["suspended_reason"]),
            s(&sample["complaint"]),
            network["village_saw_complaint_accepted_s"]
                .as_f64()
                .unwrap_or_default(),
            s(&sample["sealed_period"]),
        )
    } else {
        format!(
            "\nSample data: employers at three villages (one suspended: {}), posts approved, pending and rejected, older, disabled and long-waiting workers, a hire confirmed on the spot, assistance records, a recommendation's outcome; \
             the wage-arrears complaint {} filed at 乐源社区 was accepted by the county and the village sees that step ({:.1} s); 乐源社区 sealed its report for {} (the station opened this month, so its figures are zero).\n",
            s(&sample["suspended_reason"]),
            s(&sample["complaint"]),
            network["village_saw_complaint_accepted_s"]
                .as_f64()
                .unwrap_or_default(),
            s(&sample["sealed_period"]),
        )
    });
    out.push_str(&if zh {
        format!(
            "地址和密码也保存在 {}/demo.json（仅本人可读）。也可以试试命令行：lingong --home {}/village post list\n",
            s(&summary["dir"]),
            s(&summary["dir"])
        )
    } else {
        format!(
            "Addresses and passwords are also in {}/demo.json (owner only). Try the command line too: lingong --home {}/village post list\n",
            s(&summary["dir"]),
            s(&summary["dir"])
        )
    });
    if wait {
        out.push_str(if zh {
            "网络保持运行，按 Ctrl-C 停止。\n"
        } else {
            "The network keeps running; Ctrl-C stops it.\n"
        });
    }
    out
}

/// `label` padded to 14 terminal columns (a Chinese character takes two).
fn pad(label: &str) -> String {
    let width: usize = label
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    format!("{label}{}", " ".repeat(14usize.saturating_sub(width)))
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

fn not_converged(what: &str) -> NodeError {
    NodeError::Network {
        detail: format!(
            "the demo network did not converge in time ({what}); see the daemon.log files"
        ),
    }
}

/// Starts a daemon per node (each dialling its parent on 127.0.0.1), then shows changes
/// travelling up and down the tree: every post reaching the province, a county post reaching
/// the village, and the village's complaint accepted at the county with that step back at the
/// village. Returns what it showed and the daemons (stopped when dropped, also on an error).
fn run_network(
    homes: &[Home],
    lang: &str,
    nodes: &[Value],
    leyuan: &Value,
) -> Result<(Value, Vec<DemoDaemon>)> {
    let exe = std::env::current_exe().map_err(|e| NodeError::io("current executable", e))?;
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
    // The web consoles on 8081 (province) … 8088 when those are free.
    let web_ports: Vec<u16> = (0..homes.len())
        .map(|i| free_port(8081 + i as u16))
        .collect::<std::io::Result<_>>()
        .map_err(|e| NodeError::io("127.0.0.1", e))?;
    for (i, n) in DEMO_NODES.iter().enumerate() {
        let Some(p) = n.parent else { continue };
        let parent = Station::open(&homes[p])?;
        let parent_addr = format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            ports[p],
            parent.key.public().node_id()
        );
        drop(parent);
        dispatch(
            &mut Station::open(&homes[i])?,
            Request::PeerAdd { addr: parent_addr },
        )?;
    }
    // The village has been busy: 200 sample posts recorded before it comes online.
    sample_posts(&mut Station::open(&homes[LEYUAN])?, 200)?;
    // Before any sync each node holds only its own posts: their sum, and the county's post
    // made below, is what the province must come to hold.
    let mut expected = 1;
    for home in homes {
        expected += dispatch(&mut Station::open(home)?, Request::Status)?["records"]["posts"]
            .as_u64()
            .unwrap_or(0);
    }
    let mut daemons = Vec::new();
    for ((home, port), web) in homes.iter().zip(&ports).zip(&web_ports) {
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
                &format!("127.0.0.1:{web}"),
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
    for home in homes {
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
        &format!("{} 个节点的守护进程已启动，开始同步……", homes.len()),
        &format!("{} daemons running; syncing…", homes.len()),
    );
    let started = Instant::now();
    let county_post = daemon_json(
        &homes[COUNTY],
        Request::PostCreate(PostFields {
            title: Some("县城物流园装卸工".into()),
            occupation: Some("装卸工".into()),
            wage: Some(220.0),
            unit: Some("day".into()),
            headcount: Some(12),
            reach: Some("522622".into()),
            location: Some("黄平县新州镇物流园".into()),
            contact: Some("县零工市场 0855-2411222".into()),
            ..Default::default()
        }),
    )
    .ok_or_else(|| NodeError::Daemon {
        detail: "the county daemon refused the post".into(),
    })?;
    let county_post_id = id_of(&county_post);
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
    })
    .ok_or_else(|| not_converged("posts to the province"))?;
    let reached_village = wait_for(Duration::from_secs(120), || {
        let list = daemon_json(&homes[LEYUAN], Request::PostList(PostFilter::default()))?;
        list.as_array()?
            .iter()
            .any(|p| p["id"] == county_post_id.as_str())
            .then_some(started.elapsed())
    })
    .ok_or_else(|| not_converged("the county post to the village"))?;
    say(
        lang,
        &format!(
            "各站的 {} 个岗位在 {:.1} 秒内到达省中心；县岗位在 {:.1} 秒内到达乐源社区",
            expected - 1,
            reached_province.as_secs_f64(),
            reached_village.as_secs_f64()
        ),
        &format!(
            "the stations' {} posts reached the province in {:.1} s; the county post reached 乐源社区 in {:.1} s",
            expected - 1,
            reached_province.as_secs_f64(),
            reached_village.as_secs_f64()
        ),
    );
    // The county takes up the wage-arrears complaint filed at the village, once it holds it;
    // the step travels back down.
    let complaint = leyuan["complaint"].as_str().unwrap_or_default().to_string();
    wait_for(Duration::from_secs(120), || {
        daemon_json(
            &homes[COUNTY],
            Request::ComplaintShow {
                id: complaint.clone(),
            },
        )
    })
    .ok_or_else(|| not_converged("the complaint to the county"))?;
    let accepted = crate::control::call_daemon(
        &homes[COUNTY],
        &Request::ComplaintUpdate {
            id: complaint.clone(),
            update: ComplaintUpdate {
                status: Some("accepted".into()),
                note: Some("县零工市场已受理，转县劳动保障监察大队核实工资发放记录".into()),
                ..Default::default()
            },
        },
    )
    .ok_or_else(|| NodeError::Daemon {
        detail: "the county daemon did not answer".into(),
    })?;
    if let Err(failure) = accepted {
        return Err(NodeError::Daemon {
            detail: format!(
                "the county could not accept the complaint: {}",
                failure.message("en")
            ),
        });
    }
    let accepted_at = Instant::now();
    let village_saw = wait_for(Duration::from_secs(120), || {
        let c = daemon_json(
            &homes[LEYUAN],
            Request::ComplaintShow {
                id: complaint.clone(),
            },
        )?;
        (c["status"] == "accepted").then_some(accepted_at.elapsed())
    })
    .ok_or_else(|| not_converged("the complaint's step back to the village"))?;
    say(
        lang,
        &format!(
            "县零工市场受理了乐源社区的欠薪投诉，{:.1} 秒后村站看到了这一步",
            village_saw.as_secs_f64()
        ),
        &format!(
            "the county accepted 乐源社区's wage-arrears complaint; the village saw that step {:.1} s later",
            village_saw.as_secs_f64()
        ),
    );
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
    let shown = json!({
        "province_received_village_posts_s": reached_province.as_secs_f64(),
        "village_received_county_post_s": reached_village.as_secs_f64(),
        "village_saw_complaint_accepted_s": village_saw.as_secs_f64(),
        "consoles": consoles,
        "nodes": peers,
    });
    Ok((shown, daemons))
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

/// An 18-digit ID number for a sample worker of 黄平县 born on `birth` (YYYYMMDD).
fn sample_id(birth: &str, seq: u32) -> String {
    complete_id_number(&format!("522622{birth}{seq:03}"))
}

fn register_worker(
    station: &mut Station,
    name: &str,
    id_number: String,
    phone: &str,
    skills: &str,
    wage_min: f64,
    flags: Option<&str>,
) -> Result<String> {
    Ok(id_of(&dispatch(
        station,
        Request::WorkerRegister(WorkerFields {
            name: Some(name.into()),
            id_number: Some(id_number),
            phone: Some(phone.into()),
            skills: Some(skills.into()),
            wage_min: Some(wage_min),
            flags: flags.map(String::from),
            ..Default::default()
        }),
    )?))
}

/// 乐源社区's day at the hiring desk, through the same requests a clerk makes: an employer
/// registered and checked, the morning's posts approved, one left pending and one rejected,
/// a labour agency suspended, workers registered (older, disabled, long-waiting), the best
/// candidate placed with both sides confirming on paper, a recommendation's outcome and
/// assistance logged, a wage-arrears complaint filed, and last month's report sealed.
fn leyuan_day(village: &mut Station) -> Result<Value> {
    let employer = id_of(&dispatch(
        village,
        Request::EmployerRegister(EmployerFields {
            name: Some("乐源茶叶专业合作社".into()),
            kind: Some("individual-business".into()),
            contact: Some("杨经理".into()),
            phone: Some("13985500001".into()),
            address: Some("旧州镇乐源社区茶园路 1 号".into()),
            verified_by: Some("站点工作人员 吴敏，营业执照原件".into()),
            ..Default::default()
        }),
    )?);
    let agency = id_of(&dispatch(
        village,
        Request::EmployerRegister(EmployerFields {
            name: Some("黄平县鑫达劳务服务部".into()),
            kind: Some("individual-business".into()),
            contact: Some("罗老板".into()),
            phone: Some("13985500002".into()),
            address: Some("旧州镇老街 36 号".into()),
            verified_by: Some("站点工作人员 吴敏，营业执照复印件".into()),
            ..Default::default()
        }),
    )?);
    let suspended_reason = "营业执照已过期，补交新证前暂停发布岗位";
    dispatch(
        village,
        Request::EmployerSuspend {
            id: agency.clone(),
            reason: suspended_reason.into(),
        },
    )?;
    let post = |title: &str,
                occupation: &str,
                wage: f64,
                unit: &str,
                headcount: i64,
                employer: Option<&str>,
                description: &str| PostFields {
        title: Some(title.into()),
        occupation: Some(occupation.into()),
        wage: Some(wage),
        unit: Some(unit.into()),
        headcount: Some(headcount),
        employer: employer.map(String::from),
        reach: Some("522622".into()),
        location: Some("旧州镇乐源社区茶园".into()),
        contact: Some("杨经理 13985500001".into()),
        description: Some(description.into()),
        ..Default::default()
    };
    let first = id_of(&dispatch(
        village,
        Request::PostCreate(post(
            "茶园采茶工",
            "5-01-02-01",
            150.0,
            "day",
            8,
            Some(&employer),
            "春茶前修剪茶园、采摘，包午餐，日结",
        )),
    )?);
    let mut approved = vec![first.clone()];
    for (title, occupation, wage, unit, headcount) in [
        ("茶叶加工临时工", "茶叶加工工", 160.0, "day", 6),
        ("合作社仓库搬运工", "装卸工", 25.0, "hour", 4),
    ] {
        match dispatch(
            village,
            Request::PostCreate(post(
                title,
                occupation,
                wage,
                unit,
                headcount,
                Some(&employer),
                "当天结算，提供午餐",
            )),
        ) {
            Ok(p) => approved.push(id_of(&p)),
            Err(NodeError::Protocol(lingong_protocol::Error::Occupation(_))) => {}
            Err(e) => return Err(e),
        }
    }
    for id in &approved {
        dispatch(
            village,
            Request::PostReview {
                id: id.clone(),
                approve: true,
                reason: None,
            },
        )?;
    }
    // Waiting for the reviewer: a cook for a farm restaurant, entered this afternoon.
    let pending = id_of(&dispatch(
        village,
        Request::PostCreate(PostFields {
            location: Some("旧州古镇农家乐".into()),
            contact: Some("龙老板 13985500003".into()),
            ..post(
                "农家乐帮厨",
                "4-03-02-01",
                130.0,
                "day",
                2,
                None,
                "周末及节假日，管两餐",
            )
        }),
    )?);
    let rejected = id_of(&dispatch(
        village,
        Request::PostCreate(PostFields {
            location: Some("外省，面谈".into()),
            contact: Some("微信联系".into()),
            ..post(
                "高薪日结普工",
                "4-02-05-01",
                800.0,
                "day",
                30,
                None,
                "无需经验，先交押金 200 元",
            )
        }),
    )?);
    let rejected_reason = "未登记用工主体，且要求求职者缴纳押金，不予发布";
    dispatch(
        village,
        Request::PostReview {
            id: rejected.clone(),
            approve: false,
            reason: Some(rejected_reason.into()),
        },
    )?;
    let placed = register_worker(
        village,
        "王秀英",
        sample_id("19700101", 120),
        "13800000000",
        "钟点工,茶叶加工工",
        120.0,
        Some("older"),
    )?;
    let disabled = register_worker(
        village,
        "杨志强",
        sample_id("19880315", 121),
        "13800000001",
        "装卸工",
        120.0,
        Some("disabled"),
    )?;
    let young = register_worker(
        village,
        "吴小燕",
        sample_id("19950620", 122),
        "13800000002",
        "茶叶加工工,5-01-02-01",
        130.0,
        None,
    )?;
    let long_wait = register_worker(
        village,
        "龙德胜",
        sample_id("19680911", 133),
        "13800000003",
        "6-29-01-01,4-02-05-01",
        150.0,
        Some("older,long-wait"),
    )?;
    dispatch(
        village,
        Request::PlacementConfirm(PlacementFields {
            post: Some(first.clone()),
            worker: Some(placed.clone()),
            worker_confirmed: Some("paper".into()),
            employer_confirmed: Some("paper".into()),
            ..Default::default()
        }),
    )?;
    // The warehouse post (or the tea post) recommended to 杨志强 by phone: interested.
    let recommended = approved.last().cloned().unwrap_or_else(|| first.clone());
    dispatch(
        village,
        Request::PushMark {
            post: recommended.clone(),
            worker: Some(disabled.clone()),
            result: Some("interested".into()),
            note: Some("电话联系，明早到合作社面谈".into()),
        },
    )?;
    dispatch(
        village,
        Request::AssistLog(AssistFields {
            worker: Some(long_wait.clone()),
            kind: Some("career-guidance".into()),
            note: Some("失业一年多，了解砌筑和搬运经验，建议参加县里的建筑工培训".into()),
            ..Default::default()
        }),
    )?;
    dispatch(
        village,
        Request::AssistLog(AssistFields {
            worker: Some(disabled.clone()),
            kind: Some("subsidy-application".into()),
            note: Some("协助申领残疾人就业补贴，材料已交乡镇".into()),
            ..Default::default()
        }),
    )?;
    let complaint = id_of(&dispatch(
        village,
        Request::ComplaintFile(ComplaintFields {
            kind: Some("wage-arrears".into()),
            employer: Some(agency.clone()),
            worker: Some(young.clone()),
            text: Some(
                "经鑫达劳务介绍到外地工地做小工 12 天，约定日薪 150 元，工钱 1800 元至今未结"
                    .into(),
            ),
            amount: Some(1800.0),
            ..Default::default()
        }),
    )?);
    let last_month = lingong_protocol::report::Period::month_of(
        lingong_protocol::dates::today_cst(station::now_ms()),
    )
    .previous();
    let seal = dispatch(
        village,
        Request::ReportSeal {
            period: last_month.text.clone(),
            amend: false,
            reason: None,
        },
    )?;
    Ok(json!({
        "post": first,
        "approved": approved,
        "pending": pending,
        "rejected": rejected,
        "rejected_reason": rejected_reason,
        "employer": employer,
        "suspended": agency,
        "suspended_reason": suspended_reason,
        "worker": placed,
        "workers": [placed, disabled, young, long_wait],
        "complaint": complaint,
        "sealed_period": last_month.text,
        "seal": seal["id"],
    }))
}

/// 舞阳社区 (旧州镇): a scenic area's cleaning and kitchen posts, approved; two workers.
fn wuyang_day(village: &mut Station) -> Result<()> {
    let employer = id_of(&dispatch(
        village,
        Request::EmployerRegister(EmployerFields {
            name: Some("旧州古镇景区农家饭庄".into()),
            kind: Some("individual-business".into()),
            contact: Some("潘大姐".into()),
            phone: Some("13985500011".into()),
            address: Some("旧州镇舞阳社区古镇南门".into()),
            verified_by: Some("站点工作人员 潘丽，营业执照原件".into()),
            ..Default::default()
        }),
    )?);
    for (title, occupation, wage, headcount, description) in [
        (
            "古镇景区保洁员",
            "4-09-08-01",
            120.0,
            3,
            "早七点到下午三点，节假日双倍",
        ),
        ("饭庄餐厅服务员", "4-03-02-05", 130.0, 2, "包吃，旺季可住宿"),
    ] {
        let p = dispatch(
            village,
            Request::PostCreate(PostFields {
                title: Some(title.into()),
                occupation: Some(occupation.into()),
                wage: Some(wage),
                unit: Some("day".into()),
                headcount: Some(headcount),
                employer: Some(employer.clone()),
                reach: Some("522622101".into()),
                location: Some("旧州古镇".into()),
                contact: Some("潘大姐 13985500011".into()),
                description: Some(description.into()),
                ..Default::default()
            }),
        )?;
        dispatch(
            village,
            Request::PostReview {
                id: id_of(&p),
                approve: true,
                reason: None,
            },
        )?;
    }
    register_worker(
        village,
        "潘桂芬",
        sample_id("19690402", 210),
        "13800000011",
        "4-09-08-01",
        100.0,
        Some("older"),
    )?;
    register_worker(
        village,
        "张明",
        sample_id("19990817", 211),
        "13800000012",
        "4-03-02-05",
        120.0,
        None,
    )?;
    Ok(())
}

/// 兴隆街社区 (重安镇): a fish restaurant's posts, one approved (two places, one filled on the
/// spot by a disabled worker, so it stays public) and one waiting for review.
fn xinglongjie_day(village: &mut Station) -> Result<()> {
    let employer = id_of(&dispatch(
        village,
        Request::EmployerRegister(EmployerFields {
            name: Some("重安江边鱼餐馆".into()),
            kind: Some("individual-business".into()),
            contact: Some("邰师傅".into()),
            phone: Some("13985500021".into()),
            address: Some("重安镇兴隆街 8 号".into()),
            verified_by: Some("站点工作人员 邰红，营业执照原件".into()),
            ..Default::default()
        }),
    )?);
    let fields = |title: &str, occupation: &str, wage: f64| PostFields {
        title: Some(title.into()),
        occupation: Some(occupation.into()),
        wage: Some(wage),
        unit: Some("day".into()),
        headcount: Some(2),
        employer: Some(employer.clone()),
        reach: Some("522622102".into()),
        location: Some("重安镇兴隆街".into()),
        contact: Some("邰师傅 13985500021".into()),
        description: Some("中午和晚上两班，包餐".into()),
        ..Default::default()
    };
    let washer = id_of(&dispatch(
        village,
        Request::PostCreate(fields("鱼餐馆洗碗工", "4-03-02-00", 110.0)),
    )?);
    dispatch(
        village,
        Request::PostReview {
            id: washer.clone(),
            approve: true,
            reason: None,
        },
    )?;
    dispatch(
        village,
        Request::PostCreate(fields("鱼餐馆厨师助理", "4-03-02-01", 150.0)),
    )?;
    let worker = register_worker(
        village,
        "邰光荣",
        sample_id("19810523", 310),
        "13800000021",
        "4-03-02-00",
        100.0,
        Some("disabled"),
    )?;
    register_worker(
        village,
        "吴建华",
        sample_id("19650112", 311),
        "13800000022",
        "6-29-01-01",
        180.0,
        Some("older,long-wait"),
    )?;
    dispatch(
        village,
        Request::PlacementConfirm(PlacementFields {
            post: Some(washer),
            worker: Some(worker),
            worker_confirmed: Some("spoken".into()),
            employer_confirmed: Some("paper".into()),
            ..Default::default()
        }),
    )?;
    Ok(())
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

/// The contact people of the sample posts (the phone numbers follow them).
const SAMPLE_CONTACTS: [&str; 4] = ["王师傅", "李女士", "杨经理", "张大姐"];

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
    // Where and whom to call, as a clerk writes them: the review's automatic findings then
    // have nothing to say about a sample post but that it waits.
    let place = lingong_protocol::region::divisions().name_or_code(&region);
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
                    location: Some(place.clone()),
                    contact: Some(format!(
                        "{} 139{:08}",
                        SAMPLE_CONTACTS[i % SAMPLE_CONTACTS.len()],
                        85_500_000 + i % 100_000
                    )),
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
