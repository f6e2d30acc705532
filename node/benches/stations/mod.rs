//! What the benchmarks over a real node share (`lists`, `store_size`, `oversight`): a
//! certified county station in a fresh home, and sizes read from the environment. Each bench
//! uses part of it.
#![allow(dead_code)]

use lingong_node::request::{Request, dispatch};
use lingong_node::station::{self, Station};
use std::path::Path;

/// `name` from the environment as a count, else `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A certified county station in a fresh home under `dir` (its province beside it).
pub fn county(dir: &Path) -> Station {
    let mut parent: Option<Station> = None;
    for (folder, name, region) in [
        ("province", "省中心", "52"),
        ("county", "黄平县零工市场", "522622"),
    ] {
        let home = lingong_node::home::Home::new(Some(dir.join(folder)));
        station::init(
            &home,
            name,
            region,
            vec!["/ip4/127.0.0.1/tcp/0".into()],
            None,
        )
        .expect("init");
        let mut node = Station::open(&home).expect("open");
        let request = serde_json::from_value(dispatch(&mut node, Request::CertRequest).unwrap())
            .expect("request");
        let issuer = parent.as_mut().unwrap_or(&mut node);
        let chain = dispatch(issuer, Request::CertIssue { request, days: 365 }).expect("issue");
        dispatch(&mut node, Request::CertInstall { chain }).expect("install");
        parent = Some(node);
    }
    parent.expect("county")
}

/// The baseline of a list page: what `post list --review approved --limit 100` did before the
/// indexes (every post read, the approved ones sorted newest first, the first 100 kept).
pub fn approved_page_by_scan(station: &Station) -> usize {
    let all = station
        .store
        .records_of(Some(lingong_protocol::record::RecordKind::Post))
        .expect("scan");
    let mut approved: Vec<_> = all
        .into_iter()
        .filter(|s| s.view.get("review").and_then(|r| r.as_str()) == Some("approved"))
        .collect();
    approved.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
    approved.truncate(100);
    approved.len()
}
