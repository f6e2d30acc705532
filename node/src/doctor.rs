//! `lingong doctor`: checks a node's home and explains, in the user's language, what needs a
//! person and what to do about it. Works whether or not the daemon runs, and changes nothing.
//!
//! What it checks, in order ([`doctor`]):
//! - the home folder and the key: present, not writable or readable by others (the same rules
//!   `Home::check_private` and `Home::load_key` enforce, with the `chmod` to run); the other
//!   files of the home (`config.toml`, `cert.json`, `id.secret`, everything under `store/`)
//!   closed to others;
//! - `config.toml` valid;
//! - the certificate chain in `cert.json`: present, for this key and region, its links
//!   signed and nested, every link valid now; a warning [`EXPIRY_WARNING_DAYS`] days before
//!   the first link expires, an error after, saying that the parent issues a new one;
//! - the store: opens (a damaged store is named with `lingong repair`); a store of an older
//!   format is not opened (opening migrates it): the finding `store-migration-due` says what
//!   the next `lingong run` will do and the space it needs (`store-migration-no-space` when
//!   the disk lacks it); no repair pending
//!   (`repair-pending`) and no restore catching up (`catching-up`): either way the node signs
//!   nothing until it synced with its parent; this node's key neither revoked nor forked;
//! - free disk on the home's file system: a warning under [`DISK_LOW_BYTES`] or
//!   [`DISK_LOW_PERCENT`] %;
//! - the store's room: its files' bytes against its envelopes' own bytes (estimated from a
//!   sample of their sizes); a warning (`store-room`) suggesting `lingong compact
//!   --only-if-smaller` beyond [`STORE_ROOM_RATIO`] on a store of [`STORE_ROOM_MIN_BYTES`] or
//!   more;
//! - each configured peer: a valid address; reachable now (the running daemon says it is
//!   connected, or a TCP connection to the address opens within [`CONNECT_TIMEOUT`]); when it
//!   last synced (known to a running daemon only: it keeps per-peer sync state in memory) and
//!   the newest change held from it; the program and version it announced, and an error when
//!   the two share no sync protocol version (the daemon's advice on which side to upgrade);
//! - the clock against the parent (the offset the daemon measured in its last session with it;
//!   unknown without a daemon): a warning beyond [`CLOCK_WARN_SECS`], an error beyond
//!   [`CLOCK_ERROR_SECS`];
//! - what waits to go up: this node's own changes signed after the last completed sync with
//!   its parent (unknown without a daemon);
//! - the running version.
//!
//! With a daemon running, the store and the per-peer state come from it over the control
//! socket (`Request::Status`, `Request::DoctorStore`); without one, the store is opened here
//! (one try of its lock: a command holding it makes the store's checks unknown, not failed).
//! [`Report::findings`] holds what needs a person (severity `warning` or `error`, a code, a
//! message and what to do); [`Report::checks`] every check with its state. The command exits
//! 0 without findings and 1 with any.

use crate::control::{Failure, call_daemon};
use crate::error::NodeError;
use crate::home::{Config, Home};
use crate::request::Request;
use crate::services::peers::parse_peer_addr;
use crate::station::now_ms;
use crate::store::SledStore;
use lingong_protocol::cert::CertChain;
use lingong_protocol::dates;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::region::RegionCode;
use serde::Serialize;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Days before the certificate's end from which the doctor warns.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// Free space under which the doctor warns (1 GiB) …
pub const DISK_LOW_BYTES: u64 = 1 << 30;
/// … or under this share of the file system.
pub const DISK_LOW_PERCENT: u64 = 5;
/// How long a peer's TCP address may take to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Clock offset against the parent beyond which the doctor warns, in seconds.
pub const CLOCK_WARN_SECS: i64 = 60;
/// Clock offset beyond which it is an error: peers hold back changes more than a day ahead,
/// and an hour off already puts records in the wrong day near midnight.
pub const CLOCK_ERROR_SECS: i64 = 3600;
/// Hours after which changes still waiting to go up are a warning.
pub const UPLOAD_WAIT_WARN_HOURS: i64 = 24;
/// The store's bytes on disk against its envelopes' own bytes beyond which the doctor suggests
/// `lingong compact --only-if-smaller` (issue 18's bound: 2.5×). A store written in large
/// batches, as a new station's first sync writes one, measured 2.64× at 100,000 posts and
/// 1.78× once compacted (`cargo bench -p lingong-node --bench store_size`, 7 December 2026).
pub const STORE_ROOM_RATIO: f64 = 2.5;
/// Below this much on disk the ratio says nothing (sled's segments and the indexes take a
/// fixed part of a small store) and the doctor only reports it.
pub const STORE_ROOM_MIN_BYTES: u64 = 64 << 20;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Something that needs a person: what, and what to do.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub fix: String,
}

/// The state of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Warning,
    Error,
    /// Could not be checked here (no daemon, store held by another command, …).
    Unknown,
}

/// One line of the report: a check, its state and what was seen.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub state: State,
    pub detail: String,
}

/// What the doctor found. `--json` prints it as it is.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub version: &'static str,
    pub home: String,
    pub daemon: bool,
    pub findings: Vec<Finding>,
    pub checks: Vec<Check>,
}

/// The report as text for a terminal, in `lang`.
impl Report {
    pub fn render(&self, lang: &str) -> String {
        let zh = lang.starts_with("zh");
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.state {
                State::Ok => "[ok]  ",
                State::Warning => "[warn]",
                State::Error => "[err] ",
                State::Unknown => "[?]   ",
            };
            out.push_str(&format!("{mark} {}: {}\n", c.check, c.detail));
        }
        out.push('\n');
        if self.findings.is_empty() {
            out.push_str(if zh {
                "一切正常。\n"
            } else {
                "All is well.\n"
            });
        } else {
            out.push_str(&if zh {
                format!("发现 {} 个问题：\n", self.findings.len())
            } else {
                format!(
                    "{} finding{}:\n",
                    self.findings.len(),
                    if self.findings.len() == 1 { "" } else { "s" }
                )
            });
            for f in &self.findings {
                let sev = match (f.severity, zh) {
                    (Severity::Error, true) => "错误",
                    (Severity::Warning, true) => "警告",
                    (Severity::Error, false) => "error",
                    (Severity::Warning, false) => "warning",
                };
                out.push_str(&format!("- {sev} [{}] {}\n", f.code, f.message));
                out.push_str(&format!(
                    "  {} {}\n",
                    if zh { "处理：" } else { "to do:" },
                    f.fix
                ));
            }
        }
        out
    }
}

/// The text in the user's language.
fn t(lang: &str, en: impl Into<String>, zh: impl Into<String>) -> String {
    if lang.starts_with("zh") {
        zh.into()
    } else {
        en.into()
    }
}

/// A time the node keeps (RFC 3339, UTC) as the Chinese text gives it: 北京时间 and China
/// Standard Time (the English text keeps the UTC time with its Z).
fn beijing(time: &str) -> String {
    dates::cst_time(time)
        .map(|t| format!("北京时间 {t}"))
        .unwrap_or_else(|| time.to_string())
}

/// Collects checks and findings as the doctor goes.
struct Doctor<'a> {
    lang: &'a str,
    findings: Vec<Finding>,
    checks: Vec<Check>,
}

impl Doctor<'_> {
    fn t(&self, en: impl Into<String>, zh: impl Into<String>) -> String {
        t(self.lang, en, zh)
    }
    fn check(&mut self, en: &str, zh: &str, state: State, detail: String) {
        let check = self.t(en, zh);
        self.checks.push(Check {
            check,
            state,
            detail,
        });
    }
    fn find(&mut self, code: &'static str, severity: Severity, message: String, fix: String) {
        self.findings.push(Finding {
            code,
            severity,
            message,
            fix,
        });
    }
}

fn mode_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// Checks the node in `home`; messages in `lang` (`zh` or `en`). Never changes anything.
pub fn doctor(home: &Home, lang: &str) -> Report {
    let mut d = Doctor {
        lang,
        findings: Vec::new(),
        checks: Vec::new(),
    };
    let version = env!("CARGO_PKG_VERSION");
    let mut daemon = false;
    d.check("version", "版本", State::Ok, format!("lingong {version}"));
    if !home.exists() {
        let dir = home.dir.display();
        let msg = d.t(
            format!("no node in {dir}: no key or no config.toml"),
            format!("{dir} 中没有节点：缺少密钥或 config.toml"),
        );
        let fix = d.t(
            format!(
                "make one with `lingong --home {dir} setup --name NAME --region CODE --out-request \
                 request.json`, or point --home at the node's folder"
            ),
            format!(
                "运行 `lingong --home {dir} setup --name 名称 --region 区划代码 --out-request \
                 request.json` 创建节点，或用 --home 指向节点所在目录"
            ),
        );
        d.check("home", "节点目录", State::Error, msg.clone());
        d.find("not-initialized", Severity::Error, msg, fix);
        return finish(d, home, version, daemon);
    }

    let key = check_files(&mut d, home);
    let config = check_config(&mut d, home);
    let region = config.as_ref().and_then(|c| c.validate().ok());
    let chain = check_cert(&mut d, home, key.as_ref(), region.as_ref());
    check_disk(&mut d, home);

    // The store and the network state: from the daemon when it runs.
    let peers: Vec<(String, Option<String>)> = config
        .as_ref()
        .map(|c| {
            c.peers
                .iter()
                .map(|p| {
                    let id = parse_peer_addr(p).ok().map(|(id, _)| id.to_base58());
                    (p.clone(), id)
                })
                .collect()
        })
        .unwrap_or_default();
    let peer_ids: Vec<String> = peers.iter().filter_map(|(_, id)| id.clone()).collect();
    let status = match call_daemon(home, &Request::Status) {
        Some(Ok(v)) => {
            daemon = true;
            Some(v)
        }
        Some(Err(f)) => {
            daemon = true;
            store_failure(&mut d, home, &f);
            None
        }
        None => None,
    };
    let parent_status = region
        .as_ref()
        .and_then(|r| status.as_ref().and_then(|s| parent_peer(s, r)));
    let since_ms = parent_status
        .as_ref()
        .and_then(|p| p["last_sync"].as_str())
        .and_then(dates::parse_rfc3339);
    let facts = if daemon {
        d.check("daemon", "守护进程", State::Ok, d.t("running", "正在运行"));
        match (
            &status,
            call_daemon(
                home,
                &Request::DoctorStore {
                    since_ms,
                    peers: peer_ids.clone(),
                },
            ),
        ) {
            (Some(_), Some(Ok(v))) => {
                let detail = d.t("opened by the daemon", "由守护进程打开");
                d.check("store", "存储", State::Ok, detail);
                Some(v)
            }
            (Some(_), Some(Err(f))) => {
                store_failure(&mut d, home, &f);
                None
            }
            _ => None,
        }
    } else {
        let detail = d.t(
            "not running: nothing syncs until it runs (`systemctl start lingong` or `lingong \
             run`); last syncs and the clock offset are unknown",
            "未运行：启动前不会同步（`systemctl start lingong` 或 `lingong run`）；最近同步时间\
             和时钟偏差未知",
        );
        d.check("daemon", "守护进程", State::Unknown, detail);
        if owned_by_another_user(&mut d, home) {
            None
        } else {
            open_store(&mut d, home, key.as_ref(), &peer_ids)
        }
    };
    check_repair_pending(&mut d, home);
    if let Some(f) = &facts {
        check_own_key(&mut d, f);
        check_store_room(&mut d, home, f);
    }
    check_peers(
        &mut d,
        region.as_ref(),
        &peers,
        status.as_ref(),
        facts.as_ref(),
    );
    check_clock(&mut d, region.as_ref(), daemon, parent_status.as_ref());
    check_upload(
        &mut d,
        region.as_ref(),
        chain.is_some(),
        daemon,
        parent_status.as_ref(),
        facts.as_ref(),
    );
    finish(d, home, version, daemon)
}

fn finish(d: Doctor<'_>, home: &Home, version: &'static str, daemon: bool) -> Report {
    Report {
        ok: d.findings.is_empty(),
        version,
        home: home.dir.display().to_string(),
        daemon,
        findings: d.findings,
        checks: d.checks,
    }
}

/// The home folder, the key and the other files: modes. Returns the key when it reads.
fn check_files(d: &mut Doctor<'_>, home: &Home) -> Option<NodeKey> {
    let dir = home.dir.display().to_string();
    match home.check_private() {
        Ok(()) => {
            let mode = mode_of(&home.dir).unwrap_or(0);
            d.check(
                "home folder",
                "节点目录",
                State::Ok,
                format!("{dir} ({mode:o})"),
            );
        }
        Err(e) => {
            let msg = e.message(d.lang);
            d.check("home folder", "节点目录", State::Error, msg.clone());
            let fix = format!("chmod 700 {dir}");
            d.find("home-mode", Severity::Error, msg, fix);
        }
    }
    let key_path = home.key_path();
    let key = match home.load_key() {
        Ok(key) => {
            let detail = d.t(
                format!(
                    "{} (600), node {}",
                    key_path.display(),
                    key.public().node_id()
                ),
                format!(
                    "{}（600），节点 {}",
                    key_path.display(),
                    key.public().node_id()
                ),
            );
            d.check("key", "密钥", State::Ok, detail);
            Some(key)
        }
        Err(e) => {
            let msg = e.message(d.lang);
            d.check("key", "密钥", State::Error, msg.clone());
            let mode = mode_of(&key_path).unwrap_or(0);
            if mode & 0o077 != 0 {
                let fix = d.t(
                    format!(
                        "run `chmod 600 {}`; if someone else may have copied the key, ask the \
                         parent to revoke this node (`cert revoke`) and certify a new key",
                        key_path.display()
                    ),
                    format!(
                        "运行 `chmod 600 {}`；如果密钥可能已被他人复制，请上级节点吊销本节点\
                         （`cert revoke`）并为新密钥签发证书",
                        key_path.display()
                    ),
                );
                d.find("key-mode", Severity::Error, msg, fix);
                // Still read, to check the certificate against it (this process is its owner).
                std::fs::read(&key_path)
                    .ok()
                    .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
                    .map(NodeKey::from_seed)
            } else {
                let fix = d.t(
                    "the key is lost or damaged: restore it from a backup of this home, or make \
                     a new node (`lingong setup`) and have the parent certify it and revoke the \
                     old one",
                    "密钥丢失或损坏：从本节点目录的备份恢复，或新建节点（`lingong setup`），由上级\
                     节点为其签发证书并吊销旧节点",
                );
                d.find("key-unreadable", Severity::Error, msg, fix);
                None
            }
        }
    };
    // Everything else a node writes is 0600 (folders 0700): `Home::tighten` takes others'
    // access away when the node next opens; this only reports.
    let mut open: Vec<PathBuf> = Vec::new();
    let mut files = vec![
        home.config_path(),
        home.cert_path(),
        home.dir.join("id.secret"),
    ];
    let mut pending = vec![home.store_path()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        files.push(folder);
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    for f in files {
        if mode_of(&f).is_some_and(|m| m & 0o077 != 0) {
            open.push(f);
        }
    }
    if open.is_empty() {
        let detail = d.t("closed to others", "其他用户无权访问");
        d.check("file modes", "文件权限", State::Ok, detail);
    } else {
        let names: Vec<String> = open
            .iter()
            .take(5)
            .map(|p| format!("{} ({:o})", p.display(), mode_of(p).unwrap_or(0)))
            .collect();
        let more = open.len().saturating_sub(5);
        let list = if more > 0 {
            format!("{} … (+{more})", names.join(", "))
        } else {
            names.join(", ")
        };
        let msg = d.t(
            format!(
                "{} files or folders of the home are open to other users (they hold clear ID \
                 numbers and the node's secrets): {list}",
                open.len()
            ),
            format!(
                "节点目录中有 {} 个文件或目录其他用户可以访问（其中有身份证号码和节点的密钥）：{list}",
                open.len()
            ),
        );
        d.check("file modes", "文件权限", State::Warning, msg.clone());
        let fix = d.t(
            format!("run `chmod -R go-rwx {dir}` (the node also does it when it next starts)"),
            format!("运行 `chmod -R go-rwx {dir}`（节点下次启动时也会自动收回）"),
        );
        d.find("file-mode", Severity::Warning, msg, fix);
    }
    key
}

fn check_config(d: &mut Doctor<'_>, home: &Home) -> Option<Config> {
    let result = home
        .load_config()
        .and_then(|c| c.validate().map(|region| (c, region)));
    match result {
        Ok((config, region)) => {
            let detail = format!("{} {} ({})", config.name, region, region.level().as_str());
            d.check("configuration", "配置", State::Ok, detail);
            Some(config)
        }
        Err(e) => {
            let msg = e.message(d.lang);
            d.check("configuration", "配置", State::Error, msg.clone());
            let fix = d.t(
                format!(
                    "correct {} (docs/cli.md lists its fields)",
                    home.config_path().display()
                ),
                format!(
                    "修改 {}（字段说明见 docs/cli.md）",
                    home.config_path().display()
                ),
            );
            d.find("config-invalid", Severity::Error, msg, fix);
            home.load_config().ok()
        }
    }
}

/// How a child gets a certificate from its parent, in `lang`.
fn certify_steps(lang: &str) -> String {
    t(
        lang,
        "make a request with `lingong cert request --out request.json` and take it to the parent \
         station; there, `lingong cert issue --request request.json --out cert.json`; back here, \
         `lingong cert install cert.json`",
        "用 `lingong cert request --out request.json` 生成证书申请并交给上级节点；上级运行 \
         `lingong cert issue --request request.json --out cert.json`；拿回后在本机运行 \
         `lingong cert install cert.json`",
    )
}

fn check_cert(
    d: &mut Doctor<'_>,
    home: &Home,
    key: Option<&NodeKey>,
    region: Option<&RegionCode>,
) -> Option<CertChain> {
    let path = home.cert_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) => {
            let msg = d.t(
                "no certificate: this node signs nothing and no peer syncs with it",
                "没有证书：本节点不能签署任何记录，其他节点也不与它同步",
            );
            d.check("certificate", "证书", State::Error, msg.clone());
            let fix = certify_steps(d.lang);
            d.find("cert-missing", Severity::Error, msg, fix);
            return None;
        }
    };
    let chain = serde_json::from_str::<Value>(&text)
        .map_err(|e| NodeError::usage("cert.json", e.to_string(), e.to_string()))
        .and_then(|v| Ok(CertChain::from_json(&v)?));
    let chain = match chain {
        Ok(c) => c,
        Err(e) => {
            let msg = d.t(
                format!(
                    "{} does not hold a certificate chain: {}",
                    path.display(),
                    e.message("en")
                ),
                format!("{} 不是有效的证书链：{}", path.display(), e.message("zh")),
            );
            d.check("certificate", "证书", State::Error, msg.clone());
            let fix = certify_steps(d.lang);
            d.find("cert-invalid", Severity::Error, msg, fix);
            return None;
        }
    };
    let leaf = chain.leaf();
    // The links' signatures and nesting, checked at an instant inside every link's validity
    // (validity against today's date is the next check, with its own message).
    let at = chain
        .certs()
        .iter()
        .map(|c| c.body.not_before)
        .max()
        .unwrap_or(0);
    let structure = chain.verify(&chain.root().body.subject, at, &|_| false);
    let wrong = if let Err(e) = structure {
        Some(NodeError::from(e).message(d.lang))
    } else if key.is_some_and(|k| k.public() != leaf.body.subject) {
        Some(d.t(
            "the certificate is for another node's key",
            "证书属于另一个节点的密钥",
        ))
    } else if region.is_some_and(|r| *r != leaf.body.region) {
        Some(d.t(
            format!(
                "the certificate is for region {}, config.toml says {}",
                leaf.body.region,
                region.map(|r| r.to_string()).unwrap_or_default()
            ),
            format!(
                "证书的区划是 {}，config.toml 中是 {}",
                leaf.body.region,
                region.map(|r| r.to_string()).unwrap_or_default()
            ),
        ))
    } else {
        None
    };
    if let Some(msg) = wrong {
        d.check("certificate", "证书", State::Error, msg.clone());
        let fix = certify_steps(d.lang);
        d.find("cert-invalid", Severity::Error, msg, fix);
        return Some(chain);
    }
    let now_s = now_ms() / 1000;
    // The link that ends first (the parent's may end before this node's own).
    let first_end = chain
        .certs()
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| c.body.not_after)
        .expect("a chain is never empty");
    let (index, ending) = first_end;
    let ends = dates::rfc3339(ending.body.not_after * 1000);
    let whose = if index == 0 {
        d.t("this node's certificate", "本节点的证书")
    } else {
        d.t(
            format!(
                "the certificate of {} ({}), a link of this node's chain",
                ending.name, ending.body.region
            ),
            format!("证书链中 {}（{}）的证书", ending.name, ending.body.region),
        )
    };
    let renew = if index == 0 {
        t(
            d.lang,
            format!("the parent must issue a new one: {}", certify_steps("en")),
            format!("需要上级节点签发新证书：{}", certify_steps("zh")),
        )
    } else {
        d.t(
            format!(
                "{} must be renewed by its own parent first; then the parent issues this node a \
                 new certificate: {}",
                ending.name,
                certify_steps("en")
            ),
            format!(
                "{} 须先由其上级续签证书，然后上级节点为本节点签发新证书：{}",
                ending.name,
                certify_steps("zh")
            ),
        )
    };
    let days_left = (ending.body.not_after - now_s).div_euclid(86_400);
    if let Some(early) = chain.certs().iter().find(|c| c.body.not_before > now_s) {
        let msg = d.t(
            format!(
                "the certificate of {} is valid only from {}: this machine's clock is probably \
                 behind",
                early.name,
                dates::rfc3339(early.body.not_before * 1000)
            ),
            format!(
                "{} 的证书从 {} 起才有效：本机时钟可能偏慢",
                early.name,
                beijing(&dates::rfc3339(early.body.not_before * 1000))
            ),
        );
        d.check("certificate", "证书", State::Error, msg.clone());
        let fix = d.t(
            "set the clock right (`timedatectl set-ntp true`, or `date -s`)",
            "校准本机时钟（`timedatectl set-ntp true` 或 `date -s`）",
        );
        d.find("cert-not-yet-valid", Severity::Error, msg, fix);
    } else if ending.body.not_after < now_s {
        let msg = d.t(
            format!("{whose} expired on {ends}: this node's changes are refused everywhere"),
            format!(
                "{whose}已于{}过期：本节点的记录在各处都会被拒收",
                beijing(&ends)
            ),
        );
        d.check("certificate", "证书", State::Error, msg.clone());
        d.find("cert-expired", Severity::Error, msg, renew);
    } else if days_left < EXPIRY_WARNING_DAYS {
        let msg = d.t(
            format!("{whose} expires on {ends}, in {days_left} days"),
            format!("{whose}将于{}过期，还剩 {days_left} 天", beijing(&ends)),
        );
        d.check("certificate", "证书", State::Warning, msg.clone());
        d.find("cert-expiring", Severity::Warning, msg, renew);
    } else {
        let detail = d.t(
            format!(
                "{} {}, valid until {ends} ({days_left} days)",
                leaf.name, leaf.body.region
            ),
            format!(
                "{} {}，有效期至{}（还剩 {days_left} 天）",
                leaf.name,
                leaf.body.region,
                beijing(&ends)
            ),
        );
        d.check("certificate", "证书", State::Ok, detail);
    }
    Some(chain)
}

fn check_disk(d: &mut Doctor<'_>, home: &Home) {
    let stat = match rustix::fs::statvfs(&home.dir) {
        Ok(s) => s,
        Err(e) => {
            let detail = format!("{}: {e}", home.dir.display());
            d.check("free disk", "磁盘空间", State::Unknown, detail);
            return;
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let total = stat.f_blocks.saturating_mul(stat.f_frsize);
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let percent = (free as f64 * 100.0 / total.max(1) as f64).round() as u64;
    let low = free < DISK_LOW_BYTES || free.saturating_mul(100) < total * DISK_LOW_PERCENT;
    let detail = d.t(
        format!("{} free of {} ({percent} %)", gib(free), gib(total)),
        format!("可用 {}，共 {}（{percent}%）", gib(free), gib(total)),
    );
    if !low {
        d.check("free disk", "磁盘空间", State::Ok, detail);
        return;
    }
    d.check("free disk", "磁盘空间", State::Warning, detail.clone());
    let damaged: Vec<String> = std::fs::read_dir(&home.dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("store.damaged-"))
                .collect()
        })
        .unwrap_or_default();
    let msg = d.t(
        format!(
            "little disk space left where the home is ({detail}); the store stops taking changes \
             when the disk is full"
        ),
        format!("节点目录所在磁盘空间不足（{detail}）；磁盘写满后存储将无法接收新记录"),
    );
    let mut fix = d.t(
        "free space on this disk or move the home to a larger one",
        "清理该磁盘或将节点目录迁到更大的磁盘",
    );
    if !damaged.is_empty() {
        fix.push_str(&d.t(
            format!(
                "; the damaged stores a repair set aside ({}) may be deleted once the repair's \
                 report was read",
                damaged.join(", ")
            ),
            format!(
                "；修复时移开的损坏存储（{}）在看过修复报告后可以删除",
                damaged.join("，")
            ),
        ));
    }
    d.find("disk-low", Severity::Warning, msg, fix);
}

/// The store is of an older format: the next open (`lingong run`, or any command) copies it
/// aside and migrates it; the doctor only says so, with the space it needs.
fn migration_due(d: &mut Doctor<'_>, home: &Home, p: &crate::migrate::Pending) {
    let path = home.store_path();
    let (found, target) = (p.found, p.target);
    // Without opening the store, a format-2 store and a format-1 one look alike.
    let backup = match found {
        Some(n) => crate::migrate::backup_path(&path, n, now_ms())
            .display()
            .to_string(),
        None => {
            let day = &dates::rfc3339(now_ms())[..10];
            format!("{}.backup-v<1|2>-{day}", path.display())
        }
    };
    let (found_en, found_zh) = match found {
        Some(n) => (n.to_string(), n.to_string()),
        None => ("1 or 2".to_string(), "1 或 2".to_string()),
    };
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let detail = d.t(
        format!(
            "{} is format {found_en}, older than this lingong's ({target}); not opened here",
            path.display()
        ),
        format!(
            "{} 的格式版本为 {found_zh}，比本程序的版本 {target} 旧；此处未打开",
            path.display()
        ),
    );
    let room = p.free >= p.needed;
    let state = if room { State::Warning } else { State::Error };
    d.check("store", "存储", state, detail);
    let msg = d.t(
        format!(
            "the store needs a migration from format {found_en} to {target}: the next \
             `lingong run` (or any command that opens the store) first copies it to {} and \
             then migrates it; it needs {} free ({} of store), {} is free",
            backup,
            mb(p.needed),
            mb(p.store_bytes),
            mb(p.free)
        ),
        format!(
            "存储需要从格式 {found_zh} 迁移到 {target}：下次 `lingong run`（或任何打开存储的命令）\
             会先把它复制到 {}，再进行迁移；需要 {} 可用空间（存储 {}），现有 {}",
            backup,
            mb(p.needed),
            mb(p.store_bytes),
            mb(p.free)
        ),
    );
    if room {
        let fix = d.t(
            "start the node (`systemctl start lingong` or `lingong run`) when a pause of the \
             migration's length suits; remove the copy once the node runs well",
            "在可以暂停服务的时候启动节点（`systemctl start lingong` 或 `lingong run`）完成迁移；\
             确认节点运行正常后可删除副本",
        );
        d.find("store-migration-due", Severity::Warning, msg, fix);
    } else {
        let fix = d.t(
            format!(
                "free at least {} on this disk before starting the node: the migration is \
                 refused without it",
                mb(p.needed - p.free)
            ),
            format!(
                "启动节点前请在该磁盘上至少腾出 {}：空间不足时迁移会被拒绝",
                mb(p.needed - p.free)
            ),
        );
        d.find("store-migration-no-space", Severity::Error, msg, fix);
    }
}

/// A failure the daemon or the store reported: a damaged store, or another error.
fn store_failure(d: &mut Doctor<'_>, home: &Home, f: &Failure) {
    let msg = f.message(d.lang);
    d.check("store", "存储", State::Error, msg.clone());
    if f.code() == "store-corrupt" {
        let fix = d.t(
            format!(
                "stop the daemon (`systemctl stop lingong`), then run `lingong --home {} repair`",
                home.dir.display()
            ),
            format!(
                "停止守护进程（`systemctl stop lingong`），然后运行 `lingong --home {} repair`",
                home.dir.display()
            ),
        );
        d.find("store-corrupt", Severity::Error, msg, fix);
    } else {
        let fix = d.t(
            "read the message; the daemon's log (`journalctl -u lingong`) may say more",
            "请阅读上面的信息；守护进程日志（`journalctl -u lingong`）中可能有更多说明",
        );
        d.find("store-error", Severity::Error, msg, fix);
    }
}

/// True (and says so) when this process runs as another user than the home's owner (say root
/// on the service's `/var/lib/lingong`): the store is then not opened here, since files sled
/// made while open would belong to this user and the service could no longer write them.
fn owned_by_another_user(d: &mut Doctor<'_>, home: &Home) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(&home.dir) else {
        return false;
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() == me {
        return false;
    }
    let dir = home.dir.display();
    let msg = d.t(
        format!(
            "doctor runs as user {me}, the home {dir} belongs to user {}: the store was not \
             opened (files made now would belong to the wrong user)",
            meta.uid()
        ),
        format!(
            "doctor 以用户 {me} 运行，而节点目录 {dir} 属于用户 {}：未打开存储（此时生成的文件会\
             属于错误的用户）",
            meta.uid()
        ),
    );
    d.check("store", "存储", State::Unknown, msg.clone());
    let fix = d.t(
        format!(
            "run it as the home's owner (user {}; for the service: `sudo -u lingong lingong \
             --home {dir} doctor`)",
            meta.uid()
        ),
        format!(
            "请以节点目录的所有者（用户 {}）运行；服务的节点目录：`sudo -u lingong lingong \
             --home {dir} doctor`",
            meta.uid()
        ),
    );
    d.find("other-user", Severity::Warning, msg, fix);
    true
}

/// Opens the store here (no daemon runs): one try of its lock.
fn open_store(
    d: &mut Doctor<'_>,
    home: &Home,
    key: Option<&NodeKey>,
    peers: &[String],
) -> Option<Value> {
    let path = home.store_path();
    if !path.is_dir() {
        let msg = d.t(
            format!("the store {} is missing", path.display()),
            format!("存储 {} 不存在", path.display()),
        );
        d.check("store", "存储", State::Error, msg.clone());
        let fix = d.t(
            "if this node signed anything before, run `lingong repair`: it fetches the node's own \
             log back from the peers before the node signs again (a new empty store would fork it)",
            "如果本节点以前签署过记录，请运行 `lingong repair`：它先从其他节点取回本节点的记录链，\
             再恢复写入（直接用新的空存储会造成分叉）",
        );
        d.find("store-missing", Severity::Error, msg, fix);
        return None;
    }
    // Opening the store would migrate an older one: say what `run` will do instead.
    match crate::migrate::pending(&path) {
        Ok(crate::migrate::Due::Migration(p)) => {
            migration_due(d, home, &p);
            return None;
        }
        Ok(crate::migrate::Due::Held) => {
            let detail = d.t(
                "another lingong command holds the store; run doctor again when it ends",
                "另一个 lingong 命令正在使用存储；它结束后请再运行 doctor",
            );
            d.check("store", "存储", State::Unknown, detail);
            return None;
        }
        // A newer store: the open below refuses it, naming both versions.
        Ok(crate::migrate::Due::Nothing | crate::migrate::Due::Newer(_)) => {}
        Err(e) => {
            store_failure(d, home, &Failure::Local(NodeError::from(e).in_store(&path)));
            return None;
        }
    }
    match SledStore::open_waiting(&path, Some(Duration::ZERO)) {
        Ok(Some(store)) => {
            let me = key.map(|k| k.public());
            let facts = match &me {
                Some(me) => crate::services::doctor::store_facts(&store, me, None, peers),
                None => store
                    .envelope_count()
                    .map(|n| json!({ "envelopes": n }))
                    .map_err(NodeError::from),
            };
            match facts {
                Ok(v) => {
                    let detail = d.t(
                        format!("{} opens; {} envelopes", path.display(), v["envelopes"]),
                        format!(
                            "{} 可以打开；共 {} 条签名记录",
                            path.display(),
                            v["envelopes"]
                        ),
                    );
                    d.check("store", "存储", State::Ok, detail);
                    Some(v)
                }
                Err(e) => {
                    store_failure(d, home, &Failure::Local(e.in_store(&path)));
                    None
                }
            }
        }
        Ok(None) => {
            let detail = d.t(
                "another lingong command holds the store; run doctor again when it ends",
                "另一个 lingong 命令正在使用存储；它结束后请再运行 doctor",
            );
            d.check("store", "存储", State::Unknown, detail);
            None
        }
        Err(e) => {
            store_failure(d, home, &Failure::Local(NodeError::from(e).in_store(&path)));
            None
        }
    }
}

/// The marker a restored backup leaves in the home until its own log is caught up from the
/// parent (`lingong restore`, `crate::backup`): the node signs nothing meanwhile.
const CATCHING_UP: &str = "catching-up";

fn check_repair_pending(d: &mut Doctor<'_>, home: &Home) {
    if home.dir.join(CATCHING_UP).exists() {
        let msg = d.t(
            "this node was restored from a backup and signs nothing until a sync with its parent \
             gave back its own log (a change signed before could fork it)",
            "本节点由备份恢复，在与上级同步取回本节点的记录链之前不签署任何记录（否则可能分叉）",
        );
        d.check("restore", "恢复", State::Error, msg.clone());
        let fix = d.t(
            "make sure the parent is reachable (see the peers below), then run `lingong sync` or \
             let the daemon sync; never run the old machine again with this key",
            "确认上级节点可以连通（见下面的对等节点），然后运行 `lingong sync` 或等守护进程同步；\
             旧机器不得再使用此密钥运行",
        );
        d.find("catching-up", Severity::Error, msg, fix);
    }
    if crate::repair::check_writable(home).is_ok() {
        return;
    }
    let msg = NodeError::RepairPending.message(d.lang);
    d.check("repair", "修复", State::Error, msg.clone());
    let fix = d.t(
        "make sure the parent is reachable (see the peers below), then run `lingong sync` or let \
         the daemon sync; the node writes again once a sync with the parent completed",
        "确认上级节点可以连通（见下面的对等节点），然后运行 `lingong sync` 或等守护进程同步；\
         与上级同步完成后即可恢复写入",
    );
    d.find("repair-pending", Severity::Error, msg, fix);
}

fn check_own_key(d: &mut Doctor<'_>, facts: &Value) {
    if facts["revoked"].as_bool() == Some(true) {
        let msg = d.t(
            "this node's key is revoked: its changes are refused everywhere",
            "本节点的密钥已被吊销：其记录在各处都会被拒收",
        );
        d.check("key status", "密钥状态", State::Error, msg.clone());
        let fix = d.t(
            "make a new node (`lingong setup`) and have the parent certify it",
            "新建节点（`lingong setup`），由上级节点签发证书",
        );
        d.find("key-revoked", Severity::Error, msg, fix);
    } else if let Some(seq) = facts["fork_seq"].as_u64() {
        let msg = d.t(
            format!(
                "evidence of a fork of this node's log at change {seq} is held: two different \
                 changes signed with the same number (a restored copy of the home, or two \
                 machines with one key); its changes from there on are refused everywhere"
            ),
            format!(
                "存有本节点记录链在第 {seq} 条处分叉的证据：同一编号签署了两条不同记录（可能恢复了\
                 旧的节点目录，或两台机器使用同一密钥）；此后的记录在各处都会被拒收"
            ),
        );
        d.check("key status", "密钥状态", State::Error, msg.clone());
        let fix = d.t(
            "stop every other machine using this key; the parent revokes this key and certifies a \
             new node (`lingong setup`)",
            "停止所有使用此密钥的其他机器；由上级节点吊销此密钥并为新节点（`lingong setup`）签发证书",
        );
        d.find("key-forked", Severity::Error, msg, fix);
    } else if facts.get("revoked").is_some() {
        let detail = d.t(
            format!(
                "not revoked, no fork; {} changes signed here",
                facts["own_changes"]
            ),
            format!(
                "未被吊销，无分叉；本节点已签署 {} 条记录",
                facts["own_changes"]
            ),
        );
        d.check("key status", "密钥状态", State::Ok, detail);
    }
}

/// What the store's files take against its envelopes' own bytes, the latter estimated from a
/// sample ([`crate::services::doctor::ENVELOPE_SAMPLE`] envelopes: their mean size × the
/// envelopes held). `None` when there is nothing to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
struct StoreRoom {
    on_disk: u64,
    records: u64,
    ratio: f64,
}

impl StoreRoom {
    fn of(on_disk: u64, envelopes: u64, sampled: u64, sampled_bytes: u64) -> Option<Self> {
        if envelopes == 0 || sampled == 0 || sampled_bytes == 0 {
            return None;
        }
        let records = (sampled_bytes as f64 / sampled as f64 * envelopes as f64).round() as u64;
        Some(StoreRoom {
            on_disk,
            records,
            ratio: on_disk as f64 / records.max(1) as f64,
        })
    }

    /// Worth a compaction: large enough for the ratio to mean something, and beyond the bound.
    fn too_large(&self) -> bool {
        self.on_disk >= STORE_ROOM_MIN_BYTES && self.ratio > STORE_ROOM_RATIO
    }
}

fn check_store_room(d: &mut Doctor<'_>, home: &Home, facts: &Value) {
    let sample = &facts["envelope_sample"];
    let (Some(envelopes), Some(sampled), Some(sampled_bytes)) = (
        facts["envelopes"].as_u64(),
        sample["envelopes"].as_u64(),
        sample["bytes"].as_u64(),
    ) else {
        return;
    };
    let path = home.store_path();
    let on_disk = match crate::migrate::folder_size(&path) {
        Ok(b) => b,
        Err(e) => {
            let detail = format!("{}: {e}", path.display());
            d.check("store room", "存储占用", State::Unknown, detail);
            return;
        }
    };
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64);
    let Some(room) = StoreRoom::of(on_disk, envelopes, sampled, sampled_bytes) else {
        let detail = d.t(
            format!("{} on disk; no records yet", mib(on_disk)),
            format!("磁盘占用 {}；尚无记录", mib(on_disk)),
        );
        d.check("store room", "存储占用", State::Ok, detail);
        return;
    };
    let detail = d.t(
        format!(
            "{} on disk for about {} of signed records ({:.2}×; estimated from {sampled} of {envelopes})",
            mib(room.on_disk),
            mib(room.records),
            room.ratio
        ),
        format!(
            "磁盘占用 {}，签名记录本身约 {}（{:.2} 倍；按 {envelopes} 条中的 {sampled} 条估算）",
            mib(room.on_disk),
            mib(room.records),
            room.ratio
        ),
    );
    if !room.too_large() {
        d.check("store room", "存储占用", State::Ok, detail);
        return;
    }
    d.check("store room", "存储占用", State::Warning, detail.clone());
    let msg = d.t(
        format!(
            "the store takes more room than it needs ({detail}, over {STORE_ROOM_RATIO}×): written in large batches, as a first sync writes it, sled reclaims the room slowly"
        ),
        format!(
            "存储占用超出所需（{detail}，超过 {STORE_ROOM_RATIO} 倍）：成批写入（如首次同步）后，sled 回收空间较慢"
        ),
    );
    let fix = d.t(
        "stop the node (`systemctl stop lingong`), run `lingong compact --only-if-smaller`, then start it again; it needs free space for a second copy of the store and keeps the store as it was if the rewrite is not smaller",
        "停止节点（`systemctl stop lingong`），运行 `lingong compact --only-if-smaller`，再启动；需要能再放下一份存储的空闲磁盘，若整理后不更小则保持原样",
    );
    d.find("store-room", Severity::Warning, msg, fix);
}

/// The daemon's status row of the configured parent: the connected peer certified for an
/// ancestor of `me`, nearest first.
fn parent_peer(status: &Value, me: &RegionCode) -> Option<Value> {
    let rows = status["peers"].as_array()?;
    rows.iter()
        .filter_map(|p| {
            let r = RegionCode::parse(p["region"].as_str()?).ok()?;
            r.is_strict_ancestor_of(me).then(|| (r.level(), p.clone()))
        })
        .max_by_key(|(level, _)| *level)
        .map(|(_, p)| p)
}

/// The host and TCP port of a multiaddr, if it has them.
fn tcp_target(addr: &str) -> Option<(String, u16)> {
    let ma: libp2p::Multiaddr = addr.trim().parse().ok()?;
    let mut host = None;
    let mut port = None;
    for p in ma.iter() {
        use libp2p::multiaddr::Protocol;
        match p {
            Protocol::Ip4(ip) => host = Some(ip.to_string()),
            Protocol::Ip6(ip) => host = Some(ip.to_string()),
            Protocol::Dns(h) | Protocol::Dns4(h) | Protocol::Dns6(h) => host = Some(h.to_string()),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some((host?, port?))
}

/// Opens a TCP connection to `host:port` within [`CONNECT_TIMEOUT`].
fn tcp_reachable(host: &str, port: u16) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

fn check_peers(
    d: &mut Doctor<'_>,
    region: Option<&RegionCode>,
    peers: &[(String, Option<String>)],
    status: Option<&Value>,
    facts: Option<&Value>,
) {
    if peers.is_empty() {
        if region.is_some_and(|r| r.parent().is_some()) {
            let msg = d.t(
                "no peer configured: this node syncs only with peers found on its local network",
                "未配置对等节点：本节点只能与局域网中发现的节点同步",
            );
            d.check("peers", "对等节点", State::Warning, msg.clone());
            let fix = d.t(
                "add the parent station's address: `lingong peer add /ip4/ADDRESS/tcp/PORT/p2p/NODE_ID` \
                 (the parent's `lingong status` shows its node id and addresses)",
                "添加上级节点的地址：`lingong peer add /ip4/地址/tcp/端口/p2p/节点编号`（上级运行 \
                 `lingong status` 可查看节点编号和地址）",
            );
            d.find("no-peers", Severity::Warning, msg, fix);
        } else {
            let detail = d.t("none configured", "未配置");
            d.check("peers", "对等节点", State::Ok, detail);
        }
        return;
    }
    for (addr, id) in peers {
        let label = d.t(format!("peer {addr}"), format!("对等节点 {addr}"));
        let Some(id) = id else {
            let msg = d.t(
                format!("{addr} in config.toml is not a peer address (a multiaddr ending in /p2p/NODE_ID)"),
                format!("config.toml 中的 {addr} 不是有效的节点地址（应以 /p2p/节点编号 结尾）"),
            );
            d.checks.push(Check {
                check: label,
                state: State::Error,
                detail: msg.clone(),
            });
            let fix = d.t(
                "correct it in config.toml, or remove it and use `lingong peer add`",
                "在 config.toml 中改正，或删除后用 `lingong peer add` 添加",
            );
            d.find("peer-address", Severity::Error, msg, fix);
            continue;
        };
        let live = status
            .and_then(|s| s["peers"].as_array())
            .and_then(|rows| rows.iter().find(|p| p["peer"] == id.as_str()));
        let connected = live.is_some_and(|p| p["connected"] == true);
        let last_sync = live.and_then(|p| p["last_sync"].as_str()).map(String::from);
        let newest = facts
            .and_then(|f| f["peers"].as_array())
            .and_then(|rows| rows.iter().find(|p| p["node_id"] == id.as_str()))
            .and_then(|p| p["newest_change"].as_str())
            .map(String::from);
        let reach = if connected {
            Ok(d.t("connected to the daemon", "已与守护进程连接"))
        } else {
            match tcp_target(addr) {
                Some((host, port)) => match tcp_reachable(&host, port) {
                    Ok(()) => Ok(d.t(
                        format!("reachable ({host}:{port} accepts connections)"),
                        format!("可以连通（{host}:{port} 接受连接）"),
                    )),
                    Err(e) => Err(d.t(
                        format!("not reachable: {host}:{port}: {e}"),
                        format!("无法连通：{host}:{port}：{e}"),
                    )),
                },
                None => Ok(d.t(
                    "reachability not checked (not a TCP address)",
                    "未检查连通性（不是 TCP 地址）",
                )),
            }
        };
        let sync = match (&last_sync, status.is_some()) {
            (Some(t), _) => d.t(
                format!("last synced {t}"),
                format!("最近同步于{}", beijing(t)),
            ),
            (None, true) => d.t(
                "not synced since the daemon started",
                "守护进程启动以来尚未同步",
            ),
            (None, false) => d.t(
                "last sync unknown (no daemon)",
                "最近同步时间未知（守护进程未运行）",
            ),
        };
        let newest = match newest {
            Some(t) => d.t(
                format!("newest change held from it {t}"),
                format!("其最新记录签于{}", beijing(&t)),
            ),
            None => d.t("no change held from it", "尚无其记录"),
        };
        // The program the peer announced (identify), and the daemon's advice when the two
        // share no sync protocol version.
        let newest = match live.and_then(|p| p["agent"].as_str()) {
            Some(agent) => {
                let ours = concat!("lingong/", env!("CARGO_PKG_VERSION"));
                let runs = if agent == ours {
                    d.t(format!("runs {agent}"), format!("运行 {agent}"))
                } else {
                    d.t(
                        format!("runs {agent} (this node: {ours})"),
                        format!("运行 {agent}（本节点：{ours}）"),
                    )
                };
                format!(
                    "{newest}{}{runs}",
                    if d.lang.starts_with("zh") {
                        "；"
                    } else {
                        "; "
                    }
                )
            }
            None => newest,
        };
        if let Some(advice) = live.and_then(|p| p["upgrade"].as_str()) {
            let msg = d.t(
                format!("peer {addr} and this node share no sync protocol version: {advice}"),
                format!("对等节点 {addr} 与本节点没有共同的同步协议版本：{advice}"),
            );
            let fix = d.t(
                "upgrade the side named to the newer lingong (install the newer package, then \
                 `systemctl restart lingong`); until then the two do not sync",
                "按提示升级相应一方的 lingong（安装新版软件包后运行 `systemctl restart \
                 lingong`）；升级前双方无法同步",
            );
            d.find("version-incompatible", Severity::Error, msg, fix);
        }
        let sep = if d.lang.starts_with("zh") {
            "；"
        } else {
            "; "
        };
        match reach {
            Ok(r) => {
                d.checks.push(Check {
                    check: label,
                    state: State::Ok,
                    detail: [r, sync, newest].join(sep),
                });
            }
            Err(r) => {
                d.checks.push(Check {
                    check: label,
                    state: State::Warning,
                    detail: [r.clone(), sync, newest].join(sep),
                });
                let msg = d.t(format!("peer {addr}: {r}"), format!("对等节点 {addr}：{r}"));
                let fix = d.t(
                    "check this machine's network link and that the peer's daemon runs (its \
                     operator: `systemctl status lingong`); if the peer moved, correct its \
                     address in config.toml. Nothing is lost meanwhile: changes wait and go \
                     when the link is back",
                    "检查本机网络，并确认对方守护进程在运行（请对方运行 `systemctl status \
                     lingong`）；如对方地址已变，请在 config.toml 中改正。期间不会丢失数据：\
                     记录会等待，连通后自动同步",
                );
                d.find("peer-unreachable", Severity::Warning, msg, fix);
            }
        }
    }
}

fn check_clock(
    d: &mut Doctor<'_>,
    region: Option<&RegionCode>,
    daemon: bool,
    parent: Option<&Value>,
) {
    if region.is_some_and(|r| r.parent().is_none()) {
        let detail = d.t(
            "the province has no parent to compare with",
            "省级节点没有上级可比较",
        );
        d.check("clock", "时钟", State::Ok, detail);
        return;
    }
    let Some(offset) = parent.and_then(|p| p["clock_offset_s"].as_i64()) else {
        let detail = if daemon {
            d.t(
                "offset against the parent unknown: no session with it yet",
                "与上级的时钟偏差未知：尚未与其同步",
            )
        } else {
            d.t(
                "offset against the parent unknown (no daemon)",
                "与上级的时钟偏差未知（守护进程未运行）",
            )
        };
        d.check("clock", "时钟", State::Unknown, detail);
        return;
    };
    // The parent's clock minus this node's.
    let detail = if offset >= 0 {
        d.t(
            format!("{offset} s behind the parent's"),
            format!("比上级慢 {offset} 秒"),
        )
    } else {
        d.t(
            format!("{} s ahead of the parent's", -offset),
            format!("比上级快 {} 秒", -offset),
        )
    };
    if offset.abs() <= CLOCK_WARN_SECS {
        d.check("clock", "时钟", State::Ok, detail);
        return;
    }
    let severity = if offset.abs() > CLOCK_ERROR_SECS {
        Severity::Error
    } else {
        Severity::Warning
    };
    d.check(
        "clock",
        "时钟",
        if severity == Severity::Error {
            State::Error
        } else {
            State::Warning
        },
        detail.clone(),
    );
    let msg = d.t(
        format!(
            "this machine's clock is {detail}: records get wrong times, and changes more than a \
             day ahead are held back by peers"
        ),
        format!("本机时钟{detail}：记录时间会出错，超前一天以上的记录会被其他节点暂缓接收"),
    );
    let fix = d.t(
        "set the clock right: `timedatectl set-ntp true` where there is internet, otherwise \
         `date -s 'YYYY-MM-DD HH:MM:SS'` from a reliable clock",
        "校准本机时钟：有网络时运行 `timedatectl set-ntp true`，否则按可靠时间运行 \
         `date -s 'YYYY-MM-DD HH:MM:SS'`",
    );
    d.find("clock-offset", severity, msg, fix);
}

fn check_upload(
    d: &mut Doctor<'_>,
    region: Option<&RegionCode>,
    certified: bool,
    daemon: bool,
    parent: Option<&Value>,
    facts: Option<&Value>,
) {
    if region.is_some_and(|r| r.parent().is_none()) || !certified {
        return;
    }
    let last_sync = parent
        .and_then(|p| p["last_sync"].as_str())
        .map(String::from);
    let own = facts.and_then(|f| f["own_changes"].as_u64());
    let waiting = facts.and_then(|f| f["own_since"].as_u64());
    match (last_sync, waiting) {
        (Some(at), Some(n)) => {
            let detail = d.t(
                format!(
                    "{n} of this node's changes signed since the last sync with the parent ({at})"
                ),
                format!(
                    "自上次与上级同步（{}）以来本节点签署了 {n} 条记录待上传",
                    beijing(&at)
                ),
            );
            let old = dates::parse_rfc3339(&at)
                .is_some_and(|t| now_ms() - t > UPLOAD_WAIT_WARN_HOURS * 3_600_000);
            if n > 0 && old {
                d.check("waiting to go up", "待上传", State::Warning, detail.clone());
                let msg = d.t(
                    format!("{detail}, more than {UPLOAD_WAIT_WARN_HOURS} hours ago"),
                    format!("{detail}，已超过 {UPLOAD_WAIT_WARN_HOURS} 小时"),
                );
                // The bundle is sealed to the parent (it may carry workers' records in full).
                let to = parent
                    .and_then(|p| p["node_id"].as_str())
                    .unwrap_or("PARENT_ID");
                let fix = d.t(
                    format!(
                        "restore the link to the parent, or carry the changes on a USB stick: \
                         `lingong bundle export --to {to} --out FILE` here (sealed to the \
                         parent), `lingong bundle import FILE` there"
                    ),
                    format!(
                        "恢复与上级的连接，或用 U 盘传递：本机 `lingong bundle export --to {to} \
                         --out 文件`（只有上级能打开），上级 `lingong bundle import 文件`"
                    ),
                );
                d.find("upload-waiting", Severity::Warning, msg, fix);
            } else {
                d.check("waiting to go up", "待上传", State::Ok, detail);
            }
        }
        _ => {
            let detail = match (daemon, own) {
                (true, _) => d.t(
                    "unknown: no sync with the parent since the daemon started",
                    "未知：守护进程启动以来尚未与上级同步",
                ),
                (false, Some(n)) => d.t(
                    format!(
                        "unknown without a daemon (it keeps the sync state); this node has signed \
                         {n} changes"
                    ),
                    format!(
                        "守护进程未运行，无法得知（同步状态由它保存）；本节点共签署 {n} 条记录"
                    ),
                ),
                (false, None) => d.t("unknown without a daemon", "守护进程未运行，无法得知"),
            };
            d.check("waiting to go up", "待上传", State::Unknown, detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_room_is_the_files_against_the_sampled_mean_times_the_envelopes() {
        // 100,000 envelopes of 600 B on average (a sample of 4,096 summing to 2,457,600 B):
        // 60 MB of records.
        let room = StoreRoom::of(158_400_000, 100_000, 4_096, 2_457_600).unwrap();
        assert_eq!(room.records, 60_000_000);
        assert!((room.ratio - 2.64).abs() < 1e-9, "{room:?}");
        assert!(room.too_large());
        // Compacted to 1.78×: no finding.
        let compacted = StoreRoom::of(106_800_000, 100_000, 4_096, 2_457_600).unwrap();
        assert!(!compacted.too_large(), "{compacted:?}");
    }

    #[test]
    fn a_small_store_or_an_empty_one_never_asks_for_a_compaction() {
        // 3× but 30 MB on disk: sled's fixed part, nothing to reclaim worth a stop.
        let small = StoreRoom::of(30_000_000, 16_000, 4_096, 2_560_000).unwrap();
        assert!(
            small.ratio > STORE_ROOM_RATIO && !small.too_large(),
            "{small:?}"
        );
        assert_eq!(StoreRoom::of(1_000_000, 0, 0, 0), None);
        assert_eq!(StoreRoom::of(1_000_000, 10, 0, 0), None);
    }
}
