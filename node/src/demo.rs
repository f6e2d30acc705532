//! `lingong demo`: a five-level network on this machine with sample data.
//!
//! Creates the province (贵州省), a prefecture (黔东南州), a county (黄平县), a township (旧州镇)
//! and a community station (乐源社区) in sub-folders of one directory, issues the certificate
//! chain level by level exactly as operators would (request → issue → install), records a
//! directory entry at every level, a post and a worker at the village, and checks that the
//! village's post verifies and that a request from another county is refused.

use crate::error::{NodeError, Result};
use crate::home::Home;
use crate::station::{self, PostFields, Request, Station, WorkerFields};
use lingong_protocol::record::complete_id_number;
use serde_json::{Value, json};
use std::path::PathBuf;

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
pub fn run(dir: Option<PathBuf>, lang: &str) -> Result<Value> {
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
    std::fs::create_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
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
            serde_json::from_value(node.handle(Request::CertRequest)?).expect("request");
        let issuer = parent.as_mut().unwrap_or(&mut node);
        let chain = issuer.handle(Request::CertIssue { request, days: 365 })?;
        node.handle(Request::CertInstall { chain })?;
        node.handle(Request::DirectorySet {
            address: Some(format!("{name}服务大厅")),
            hours: Some("周一至周五 8:30-17:30".into()),
            hotline: Some("0855-12333".into()),
            services: Some("岗位发布,求职登记,劳务对接,欠薪投诉".into()),
        })?;
        nodes.push(json!({ "name": name, "region": region, "home": home.dir.display().to_string(), "node_id": identity["node_id"] }));
        parent = Some(node);
    }
    let mut village = parent.expect("five nodes");
    let post = village.handle(Request::PostCreate(PostFields {
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
    }));
    let post = match post {
        Ok(p) => p,
        Err(NodeError::Protocol(lingong_protocol::Error::Occupation(_))) => {
            village.handle(Request::PostCreate(PostFields {
                title: Some("家政钟点工".into()),
                occupation: Some("钟点工".into()),
                wage: Some(30.0),
                unit: Some("hour".into()),
                headcount: Some(3),
                reach: Some("522622".into()),
                ..Default::default()
            }))?
        }
        Err(e) => return Err(e),
    };
    let worker = village.handle(Request::WorkerRegister(WorkerFields {
        name: "王秀英".into(),
        id_number: complete_id_number("52262219700101234"),
        phone: "13800000000".into(),
        skills: Some("钟点工".into()),
        wage_min: Some(120.0),
        flags: Some("older".into()),
    }))?;
    let post_id = post["id"].as_str().unwrap_or_default().to_string();
    let shown = village.handle(Request::PostShow {
        id: post_id.clone(),
    })?;
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
        serde_json::from_value(foreign.handle(Request::CertRequest)?).expect("request");
    let mut county = Station::open(&Home::new(Some(dir.join("county"))))?;
    let refused = match county.handle(Request::CertIssue { request, days: 365 }) {
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
    Ok(json!({
        "dir": dir.display().to_string(),
        "nodes": nodes,
        "post": post_id,
        "worker": worker["id"],
        "signatures_valid": shown["signatures_valid"],
        "foreign_request_refused": refused,
        "next": format!("lingong --home {}/village post show {post_id}", dir.display()),
    }))
}

/// Sample job titles with their occupation codes (2022 classification) and day wages.
const SAMPLE_POSTS: [(&str, &str, f64); 6] = [
    ("砌筑工（泥瓦工）", "6-29-01-01", 200.0),
    ("家政钟点工", "4-10-01-06", 180.0),
    ("茶叶采摘工", "5-01-02-01", 150.0),
    ("装卸搬运工", "4-02-05-01", 220.0),
    ("餐厅服务员", "4-03-02-05", 130.0),
    ("保洁员", "4-09-08-01", 140.0),
];

/// Records `count` sample posts at this node, 500 per atomic batch.
pub fn sample_posts(station: &mut Station, count: usize) -> Result<Value> {
    use lingong_protocol::author::Target;
    use lingong_protocol::record::{FieldValue, RecordKind};
    if count == 0 || count > 1_000_000 {
        return Err(NodeError::usage(
            "--posts",
            "must be between 1 and 1000000",
            "必须在 1 到 1000000 之间",
        ));
    }
    let region = station.region.to_string();
    let mut made = 0;
    while made < count {
        let n = (count - made).min(500);
        let start = made;
        station.write(|author, staged| {
            for i in start..start + n {
                let (title, occupation, wage) = SAMPLE_POSTS[i % SAMPLE_POSTS.len()];
                let now = station::now_ms();
                let edits = [
                    (
                        "title",
                        FieldValue::Text(format!("{title}（样例 {}）", i + 1)),
                    ),
                    ("occupation", FieldValue::Text(occupation.into())),
                    ("wage", FieldValue::Number(wage)),
                    ("unit", FieldValue::Text("day".into())),
                    ("headcount", FieldValue::Int(1 + (i % 10) as i64)),
                    ("filled", FieldValue::Counter(0)),
                    ("status", FieldValue::Text("open".into())),
                    ("review", FieldValue::Text("pending".into())),
                    ("region", FieldValue::Text(region.clone())),
                    ("reach", FieldValue::Text(region.clone())),
                    (
                        "created_at",
                        FieldValue::Text(lingong_protocol::dates::rfc3339(now)),
                    ),
                    (
                        "expires",
                        FieldValue::Text(lingong_protocol::dates::format_date(
                            lingong_protocol::dates::today_cst(now) + 30,
                        )),
                    ),
                ];
                author.write(
                    staged,
                    Target::Create {
                        kind: RecordKind::Post,
                        reach: None,
                    },
                    &edits,
                    now,
                )?;
            }
            Ok(())
        })?;
        made += n;
    }
    Ok(json!({ "posts": made }))
}
