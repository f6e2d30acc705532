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
