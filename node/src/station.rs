//! The station's services: everything a command or a web page asks of one node.
//!
//! [`Request`] is the whole vocabulary (serde, so the same value travels over the daemon's
//! control socket); [`Station::handle`] executes it against the node's own store and returns
//! the `--json` value of the command-line contract. Every write goes through
//! [`lingong_protocol::author::LocalAuthor`] into a staged batch and is committed atomically, so
//! a rejected request leaves the store exactly as it was.

use crate::error::{NodeError, Result};
use crate::home::{Config, Home, write_atomically};
use crate::id_secret::{self, IdHashKey};
use crate::store::SledStore;
use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::dates;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::{NodeKey, PublicKey};
use lingong_protocol::occupation::occupations;
use lingong_protocol::record::{self, FieldValue, RecordKind, Revocation};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{RecordState, Staged, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every operation a node offers, with its arguments as typed by the user.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    CertRequest,
    CertIssue {
        request: CertRequest,
        days: u32,
    },
    CertInstall {
        chain: Value,
    },
    CertShow,
    CertRevoke {
        node_id: String,
        reason: Option<String>,
    },
    PostCreate(PostFields),
    PostList {
        region: Option<String>,
        status: Option<String>,
        occupation: Option<String>,
    },
    PostShow {
        id: String,
    },
    PostUpdate {
        id: String,
        fields: PostFields,
    },
    PostReview {
        id: String,
        approve: bool,
        reason: Option<String>,
    },
    PostExport {
        id: String,
        out: String,
    },
    WorkerRegister(WorkerFields),
    WorkerList,
    DirectorySet {
        address: Option<String>,
        hours: Option<String>,
        hotline: Option<String>,
        services: Option<String>,
    },
    DirectoryList,
    Status,
    PeerAdd {
        addr: String,
    },
    Sync {
        timeout_secs: u64,
    },
    BundleExport {
        out: String,
        for_node: Option<String>,
    },
    BundleImport {
        file: String,
    },
    Sample {
        posts: usize,
    },
}

/// Post fields as typed; `None` means "not given" (keep the current value on update).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PostFields {
    pub title: Option<String>,
    pub occupation: Option<String>,
    pub wage: Option<f64>,
    pub unit: Option<String>,
    pub headcount: Option<i64>,
    pub reach: Option<String>,
    pub expires: Option<String>,
    pub location: Option<String>,
    pub contact: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

/// A registration as typed. Its `Debug` (and so any `{:?}` of a [`Request`]) shows the ID
/// number masked, never in clear.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WorkerFields {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub skills: Option<String>,
    pub wage_min: Option<f64>,
    pub flags: Option<String>,
}

impl std::fmt::Debug for WorkerFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerFields")
            .field("name", &self.name)
            .field("id_number", &record::mask_id_number(&self.id_number))
            .field("phone", &self.phone)
            .field("skills", &self.skills)
            .field("wage_min", &self.wage_min)
            .field("flags", &self.flags)
            .finish()
    }
}

/// One open node: key, configuration, certificate and store.
pub struct Station {
    pub home: Home,
    pub config: Config,
    pub region: RegionCode,
    pub key: NodeKey,
    pub chain: Option<CertChain>,
    pub store: SledStore,
    /// The key of worker records' `id_hash` (`id.secret`, or the province's shared secret).
    pub id_key: IdHashKey,
}

/// Milliseconds since the Unix epoch, from the system clock (the only clock read of a node's
/// services; the protocol takes time as an argument).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Creates a node: key, config and an empty store. Returns the `init --json` value.
pub fn init(
    home: &Home,
    name: &str,
    region: &str,
    listen: Vec<String>,
    http: Option<String>,
) -> Result<Value> {
    if home.exists() {
        return Err(NodeError::AlreadyInitialized {
            home: home.dir.display().to_string(),
        });
    }
    let region = RegionCode::parse_known(region).map_err(lingong_protocol::Error::from)?;
    let mut config = Config::new(name, &region);
    if !listen.is_empty() {
        config.listen = listen;
    }
    if let Some(http) = http {
        config.http = http;
    }
    config.validate()?;
    let key = home.create_key()?;
    id_secret::create(home)?;
    home.save_config(&config)?;
    SledStore::open(&home.store_path())?;
    Ok(identity_json(&key.public(), &region, name))
}

fn identity_json(key: &PublicKey, region: &RegionCode, name: &str) -> Value {
    json!({
        "node_id": key.node_id(),
        "public_key": key.to_hex(),
        "region": region.to_string(),
        "level": region.level().as_str(),
        "name": name,
    })
}

impl Station {
    /// Opens the node in `home` (its store is locked while open), waiting up to
    /// [`crate::store::LOCK_WAIT`] for another process holding the store to let go.
    pub fn open(home: &Home) -> Result<Station> {
        Station::open_waiting(home, Some(crate::store::LOCK_WAIT))?.ok_or_else(|| {
            NodeError::StoreBusy {
                home: home.dir.display().to_string(),
                secs: crate::store::LOCK_WAIT.as_secs(),
            }
        })
    }

    /// Opens the node in `home`, or `None` when another process still holds its store after
    /// `wait` (see [`SledStore::open_waiting`]). Refuses a home others may write and a key
    /// others may read; takes others' access away from what an older version left readable.
    pub fn open_waiting(home: &Home, wait: Option<std::time::Duration>) -> Result<Option<Station>> {
        if !home.exists() {
            return Err(NodeError::NotInitialized {
                home: home.dir.display().to_string(),
            });
        }
        home.check_private()?;
        let config = home.load_config()?;
        let region = config.validate()?;
        let key = home.load_key()?;
        let chain = match std::fs::read_to_string(home.cert_path()) {
            Ok(text) => {
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| NodeError::usage("cert.json", e.to_string(), e.to_string()))?;
                Some(CertChain::from_json(&value)?)
            }
            Err(_) => None,
        };
        let Some(store) = SledStore::open_waiting(&home.store_path(), wait)? else {
            return Ok(None);
        };
        home.tighten()?;
        // After the store's lock is held: one process at a time makes a missing `id.secret`.
        let id_key = IdHashKey::open(home, &config)?;
        Ok(Some(Station {
            home: home.clone(),
            config,
            region,
            key,
            chain,
            store,
            id_key,
        }))
    }

    /// The trust and work settings of the accept path.
    pub fn accept_config(&self) -> Result<AcceptConfig> {
        let chain = self
            .chain
            .as_ref()
            .ok_or(lingong_protocol::Error::NotCertified)?;
        Ok(AcceptConfig {
            root: chain.root().body.subject,
            materialize: true,
        })
    }

    /// Runs `f` against a staged view, then commits what it staged in one atomic write.
    /// Refused while a repair is pending (`crate::repair`): the node's own log may be
    /// incomplete, and a change signed now could fork it.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&LocalAuthor<'_>, &mut Staged<'_, SledStore>) -> Result<T>,
    ) -> Result<T> {
        crate::repair::check_writable(&self.home)?;
        let cfg = self.accept_config()?;
        let author = LocalAuthor {
            key: &self.key,
            cfg,
        };
        let mut staged = Staged::new(&self.store);
        let out = f(&author, &mut staged)?;
        let batch = staged.into_batch();
        self.store.commit(batch)?;
        Ok(out)
    }

    /// Executes `request`; a damaged store found by a read is reported naming this node's store.
    pub fn handle(&mut self, request: Request) -> Result<Value> {
        self.handle_request(request)
            .map_err(|e| e.in_store(&self.home.store_path()))
    }

    fn handle_request(&mut self, request: Request) -> Result<Value> {
        match request {
            Request::CertRequest => {
                let req = CertRequest::new(&self.key, self.region, &self.config.name)?;
                Ok(serde_json::to_value(req).expect("serializable"))
            }
            Request::CertIssue { request, days } => {
                let chain = cert::issue(
                    &self.key,
                    self.chain.as_ref(),
                    &request,
                    now_ms() / 1000,
                    days,
                )?;
                Ok(chain.to_json())
            }
            Request::CertInstall { chain } => self.cert_install(&chain),
            Request::CertShow => match &self.chain {
                Some(c) => Ok(c.to_json()),
                None => Err(lingong_protocol::Error::NotCertified.into()),
            },
            Request::CertRevoke { node_id, reason } => {
                self.cert_revoke(&node_id, reason.unwrap_or_default())
            }
            Request::PostCreate(fields) => self.post_create(fields),
            Request::PostList {
                region,
                status,
                occupation,
            } => self.post_list(region, status, occupation),
            Request::PostShow { id } => self.post_show(&id),
            Request::PostUpdate { id, fields } => self.post_update(&id, fields),
            Request::PostReview {
                id,
                approve,
                reason,
            } => self.post_review(&id, approve, reason),
            Request::PostExport { id, out } => self.post_export(&id, &out),
            Request::WorkerRegister(fields) => self.worker_register(fields),
            Request::WorkerList => self.worker_list(),
            Request::DirectorySet {
                address,
                hours,
                hotline,
                services,
            } => self.directory_set(address, hours, hotline, services),
            Request::DirectoryList => self.directory_list(),
            Request::Status => self.status(),
            Request::PeerAdd { addr } => self.peer_add(&addr),
            Request::Sync { .. } => Err(NodeError::Network {
                detail: "sync runs through control::execute, which brings the network up".into(),
            }),
            Request::BundleExport { out, for_node } => {
                crate::bundle::export(self, &out, for_node.as_deref())
            }
            Request::BundleImport { file } => crate::bundle::import(self, &file),
            Request::Sample { posts } => crate::demo::sample_posts(self, posts),
        }
    }

    fn peer_add(&mut self, addr: &str) -> Result<Value> {
        let (peer, _) = crate::net::parse_peer_addr(addr)?;
        let addr = addr.trim().to_string();
        if !self.config.peers.contains(&addr) {
            self.config.peers.push(addr);
            self.home.save_config(&self.config)?;
        }
        Ok(json!({ "peer": peer.to_base58() }))
    }

    fn cert_install(&mut self, value: &Value) -> Result<Value> {
        let chain = CertChain::from_json(value)?;
        let root = chain.root().body.subject;
        if let Some(old) = &self.chain
            && old.root().body.subject != root
        {
            return Err(lingong_protocol::Error::ForeignRoot.into());
        }
        if chain.leaf().body.subject != self.key.public() {
            return Err(lingong_protocol::Error::BrokenChain {
                detail: "this certificate is for another node's key".into(),
            }
            .into());
        }
        if chain.leaf().body.region != self.region {
            return Err(NodeError::usage(
                "region",
                format!(
                    "the certificate is for region {}, this node serves {}",
                    chain.leaf().body.region,
                    self.region
                ),
                format!(
                    "证书的区划是 {}，本节点的区划是 {}",
                    chain.leaf().body.region,
                    self.region
                ),
            ));
        }
        chain.verify(&root, now_ms() / 1000, &|k| {
            matches!(self.store.revocation(k), Ok(Some(_)))
        })?;
        crate::repair::check_writable(&self.home)?;
        let cfg = AcceptConfig {
            root,
            materialize: true,
        };
        let author = LocalAuthor {
            key: &self.key,
            cfg,
        };
        let mut staged = Staged::new(&self.store);
        author.publish_certificate(&mut staged, &chain, now_ms())?;
        let batch = staged.into_batch();
        write_atomically(
            &self.home.cert_path(),
            serde_json::to_string_pretty(&chain.to_json())
                .expect("json")
                .as_bytes(),
        )?;
        self.store.commit(batch)?;
        self.chain = Some(chain.clone());
        let v = chain.to_json();
        Ok(
            json!({ "chain": v["chain"], "valid_until": dates::rfc3339(v["valid_until"].as_i64().unwrap_or(0) * 1000) }),
        )
    }

    fn cert_revoke(&mut self, node_id: &str, reason: String) -> Result<Value> {
        let target = PublicKey::from_node_id(node_id).ok_or_else(|| {
            NodeError::usage(
                "NODE_ID",
                "must be a node id like 12D3KooW…",
                "必须是形如 12D3KooW… 的节点编号",
            )
        })?;
        let info = self
            .store
            .author(&target)?
            .ok_or_else(|| NodeError::NotFound {
                what: "node",
                id: node_id.to_string(),
            })?;
        if !self.region.is_strict_ancestor_of(&info.region()) {
            return Err(lingong_protocol::Error::OutOfJurisdiction {
                issuer: self.region.to_string(),
                child: info.region().to_string(),
            }
            .into());
        }
        let now = now_ms();
        self.write(|author, staged| {
            Ok(author.revoke(
                staged,
                &Revocation {
                    revoked: target,
                    reason,
                    chain: info.chain.clone(),
                },
                now,
            )?)
        })?;
        Ok(json!({ "revoked": node_id }))
    }

    /// Finds a record of `kind` by the id the user typed.
    pub fn resolve(&self, kind: RecordKind, id: &str) -> Result<RecordState> {
        let what = kind.as_str();
        let what: &'static str = RecordKind::ALL
            .iter()
            .find(|k| k.as_str() == what)
            .map(|k| k.as_str())
            .unwrap_or("record");
        if id.trim().len() < 6 {
            return Err(NodeError::usage(
                "id",
                "type at least 6 characters of the id",
                "编号至少输入 6 位",
            ));
        }
        let found = self.store.find_record(id)?;
        let mut matching = Vec::new();
        for rid in found {
            if let Some(state) = self.store.record(&rid)?
                && state.kind == kind
            {
                matching.push(state);
            }
        }
        match matching.len() {
            0 => Err(NodeError::NotFound {
                what,
                id: id.to_string(),
            }),
            1 => Ok(matching.pop().expect("one")),
            _ => Err(NodeError::Ambiguous { id: id.to_string() }),
        }
    }

    fn post_create(&mut self, f: PostFields) -> Result<Value> {
        let now = now_ms();
        let title = f.title.clone().ok_or_else(|| missing("title"))?;
        let occupation = f.occupation.clone().ok_or_else(|| missing("occupation"))?;
        let wage = f.wage.ok_or_else(|| missing("wage"))?;
        let unit = f.unit.clone().ok_or_else(|| missing("unit"))?;
        let headcount = f.headcount.ok_or_else(|| missing("headcount"))?;
        let reach = match &f.reach {
            Some(r) => RegionCode::parse_known(r)
                .map_err(|e| NodeError::usage("reach", e.to_string(), e.message_zh()))?,
            None => self.region,
        };
        if !lingong_protocol::scope::reach_allowed(&self.region, &reach) {
            return Err(NodeError::usage(
                "reach",
                format!(
                    "must lie inside {} (this station's county, or its own area above the county)",
                    lingong_protocol::scope::home_area(&self.region)
                ),
                format!(
                    "必须在 {} 范围内（本站所在县，县以上为本辖区）",
                    lingong_protocol::scope::home_area(&self.region)
                ),
            ));
        }
        let mut edits = vec![
            (
                "title",
                FieldValue::Text(check_text("title", &title, 1, 100)?),
            ),
            (
                "occupation",
                FieldValue::Text(check_occupation(&occupation)?),
            ),
            ("wage", FieldValue::Number(check_wage(wage, &unit)?)),
            ("unit", FieldValue::Text(unit.clone())),
            ("headcount", FieldValue::Int(check_headcount(headcount)?)),
            ("filled", FieldValue::Counter(0)),
            ("status", FieldValue::Text("open".into())),
            (
                "review",
                FieldValue::Text(
                    if self.region.level().depth() >= 3 {
                        "pending"
                    } else {
                        "approved"
                    }
                    .into(),
                ),
            ),
            ("region", FieldValue::Text(self.region.to_string())),
            ("reach", FieldValue::Text(reach.to_string())),
            ("created_at", FieldValue::Text(dates::rfc3339(now))),
        ];
        let expires = match &f.expires {
            Some(e) => check_expires(e, now)?,
            None => dates::format_date(dates::today_cst(now) + 30),
        };
        edits.push(("expires", FieldValue::Text(expires)));
        for (name, value, max) in [
            ("location", &f.location, 200),
            ("contact", &f.contact, 100),
            ("description", &f.description, 2000),
        ] {
            if let Some(v) = value {
                edits.push((name, FieldValue::Text(check_text(name, v, 0, max)?)));
            }
        }
        let env = self.write(|author, staged| {
            Ok(author.write(
                staged,
                Target::Create {
                    kind: RecordKind::Post,
                    reach: Some(reach),
                },
                &edits,
                now,
            )?)
        })?;
        Ok(json!({ "id": env.header.record.to_hex() }))
    }

    fn post_update(&mut self, id: &str, f: PostFields) -> Result<Value> {
        let now = now_ms();
        let state = self.resolve(RecordKind::Post, id)?;
        let mut edits = Vec::new();
        if let Some(t) = &f.title {
            edits.push(("title", FieldValue::Text(check_text("title", t, 1, 100)?)));
        }
        if let Some(s) = &f.status {
            if !["open", "filled", "closed", "expired"].contains(&s.as_str()) {
                return Err(NodeError::usage(
                    "status",
                    "must be open, filled, closed or expired",
                    "必须是 open、filled、closed 或 expired",
                ));
            }
            edits.push(("status", FieldValue::Text(s.clone())));
        }
        if let Some(h) = f.headcount {
            edits.push(("headcount", FieldValue::Int(check_headcount(h)?)));
        }
        if let Some(w) = f.wage {
            let unit = f
                .unit
                .clone()
                .or_else(|| {
                    state
                        .view
                        .get("unit")
                        .and_then(|u| u.as_str())
                        .map(String::from)
                })
                .unwrap_or_default();
            edits.push(("wage", FieldValue::Number(check_wage(w, &unit)?)));
            if f.unit.is_some() {
                edits.push(("unit", FieldValue::Text(unit)));
            }
        }
        if let Some(e) = &f.expires {
            edits.push(("expires", FieldValue::Text(check_expires(e, now)?)));
        }
        for (name, value, max) in [
            ("location", &f.location, 200),
            ("contact", &f.contact, 100),
            ("description", &f.description, 2000),
        ] {
            if let Some(v) = value {
                edits.push((name, FieldValue::Text(check_text(name, v, 0, max)?)));
            }
        }
        if edits.is_empty() {
            return Err(NodeError::usage(
                "fields",
                "give at least one field to change",
                "请至少指定一个要修改的字段",
            ));
        }
        let rid = state.id();
        self.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
        Ok(json!({ "id": rid.to_hex() }))
    }

    fn post_review(&mut self, id: &str, approve: bool, reason: Option<String>) -> Result<Value> {
        let now = now_ms();
        let state = self.resolve(RecordKind::Post, id)?;
        if !self.region.is_strict_ancestor_of(&state.region) {
            return Err(NodeError::usage(
                "review",
                "only a station above the post's station in jurisdiction may review it",
                "只有该岗位发布站点的上级管辖节点可以审核",
            ));
        }
        let review = if approve { "approved" } else { "rejected" };
        let mut edits = vec![("review", FieldValue::Text(review.into()))];
        if let Some(r) = reason {
            edits.push((
                "review_reason",
                FieldValue::Text(check_text("reason", &r, 0, 500)?),
            ));
        }
        let rid = state.id();
        self.write(|author, staged| Ok(author.write(staged, Target::Edit(rid), &edits, now)?))?;
        Ok(json!({ "id": rid.to_hex(), "review": review }))
    }

    fn post_list(
        &self,
        region: Option<String>,
        status: Option<String>,
        occupation: Option<String>,
    ) -> Result<Value> {
        let region = region
            .map(|r| RegionCode::parse(&r))
            .transpose()
            .map_err(lingong_protocol::Error::from)?;
        let occupation = occupation.map(|o| check_occupation(&o)).transpose()?;
        if let Some(s) = &status
            && !["open", "filled", "closed", "expired"].contains(&s.as_str())
        {
            return Err(NodeError::usage(
                "status",
                "must be open, filled, closed or expired",
                "必须是 open、filled、closed 或 expired",
            ));
        }
        let today = dates::today_cst(now_ms());
        let mut rows = Vec::new();
        for state in self.store.records_of(Some(RecordKind::Post))? {
            if state.doc.is_none() {
                continue;
            }
            let row = post_row(&state, today);
            let keep = region.is_none_or(|r| r.contains(&state.region) || r.contains(&state.reach))
                && status.as_ref().is_none_or(|s| row["status"] == s.as_str())
                && occupation.as_ref().is_none_or(|o| {
                    row["occupation"]
                        .as_str()
                        .is_some_and(|c| c.starts_with(o.trim_end_matches("-00")))
                });
            if keep {
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        Ok(Value::Array(rows))
    }

    fn post_show(&self, id: &str) -> Result<Value> {
        let state = self.resolve(RecordKind::Post, id)?;
        let today = dates::today_cst(now_ms());
        let mut out = post_row(&state, today);
        for key in ["location", "contact", "description", "review_reason"] {
            if let Some(v) = state.view.get(key) {
                out[key] = v.clone();
            }
        }
        let (valid, history) = self.verify_history(&state)?;
        out["signatures_valid"] = json!(valid);
        out["history"] = json!(history);
        Ok(out)
    }

    /// Re-verifies every envelope of a record (signature, payload hash, author chain to the
    /// root) and describes each change by the fields it set.
    fn verify_history(&self, state: &RecordState) -> Result<(bool, Vec<Value>)> {
        let root = self.accept_config()?.root;
        let mut valid = !state.changes.is_empty();
        let mut history = Vec::new();
        let mut changes: Vec<Vec<u8>> = Vec::new();
        let mut before = serde_json::Map::new();
        for id in &state.changes {
            let Some(env) = self.store.envelope(id)? else {
                valid = false;
                continue;
            };
            let author = self.store.author(&env.header.author)?;
            let chain_ok = author.as_ref().is_some_and(|a| {
                a.chain.leaf_hash() == env.header.cert
                    && a.chain
                        .verify(&root, env.header.timestamp_ms / 1000, &|_| false)
                        .is_ok()
            });
            valid &= env.verify_signature().is_ok() && chain_ok;
            let mut summary = Vec::new();
            if let Some(p) = env.payload {
                changes.push(p);
                if let Ok((doc, _)) = record::build_document(&changes) {
                    let after = record::document_view(&doc)?;
                    for (k, v) in &after {
                        if before.get(k) != Some(v) && k != "created_at" {
                            summary.push(format!(
                                "{k}={}",
                                v.as_str()
                                    .map(String::from)
                                    .unwrap_or_else(|| v.to_string())
                            ));
                        }
                    }
                    before = after;
                }
            }
            history.push(json!({
                "author": env.header.author.node_id(),
                "author_name": author.map(|a| a.name().to_string()),
                "at": dates::rfc3339(env.header.timestamp_ms),
                "summary": if env.header.is_genesis() { format!("created: {}", summary.join(", ")) } else { summary.join(", ") },
            }));
        }
        Ok((valid, history))
    }

    fn post_export(&self, id: &str, out: &str) -> Result<Value> {
        let state = self.resolve(RecordKind::Post, id)?;
        let doc = state.doc.clone().ok_or_else(|| NodeError::NotFound {
            what: "post",
            id: id.to_string(),
        })?;
        write_atomically(std::path::Path::new(out), &doc)?;
        Ok(json!({ "id": state.id().to_hex(), "bytes": doc.len() }))
    }

    fn worker_register(&mut self, f: WorkerFields) -> Result<Value> {
        let now = now_ms();
        let name = check_text("name", &f.name, 1, 50)?;
        record::check_id_number(&f.id_number, now)?;
        let id_number = lingong_protocol::id_number::normalize_id_number(&f.id_number);
        let phone = f.phone.trim().to_string();
        if phone.len() != 11
            || !phone.starts_with('1')
            || !phone.chars().all(|c| c.is_ascii_digit())
        {
            return Err(NodeError::usage(
                "phone",
                "must be an 11-digit mobile number starting with 1",
                "必须是以 1 开头的 11 位手机号码",
            ));
        }
        let skills = split_list(f.skills.as_deref())
            .iter()
            .map(|s| check_occupation(s))
            .collect::<Result<Vec<_>>>()?;
        let flags = split_list(f.flags.as_deref());
        for flag in &flags {
            if !["older", "disabled", "long-wait"].contains(&flag.as_str()) {
                return Err(NodeError::usage(
                    "flags",
                    "each flag must be older, disabled or long-wait",
                    "标记只能是 older、disabled 或 long-wait",
                ));
            }
        }
        // The duplicate check looks up the hash, then the clear numbers of the private table
        // (registrations hashed under an earlier key or version); both stay on this node.
        let id_hash = self.id_key.hash(&id_number)?;
        let existing = match self.store.worker_by_id_hash(&id_hash)? {
            Some(found) => Some(found),
            None => self.store.worker_by_id_number(&id_number)?,
        };
        if let Some(existing) = existing {
            return Err(NodeError::usage(
                "id_number",
                format!(
                    "this person is already registered here as worker {}",
                    hex::encode(existing)
                ),
                format!("此人已在本站登记，劳动者编号 {}", hex::encode(existing)),
            ));
        }
        let mut edits = vec![
            ("name", FieldValue::Text(name)),
            (
                "id_masked",
                FieldValue::Text(record::mask_id_number(&id_number)),
            ),
            ("id_hash", FieldValue::Text(record::id_hash_field(&id_hash))),
            ("phone", FieldValue::Text(phone)),
            ("skills", FieldValue::List(skills)),
            ("flags", FieldValue::List(flags)),
            ("availability", FieldValue::Text("available".into())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("created_at", FieldValue::Text(dates::rfc3339(now))),
        ];
        if let Some(w) = f.wage_min {
            if !(0.0..=100_000.0).contains(&w) || !w.is_finite() {
                return Err(NodeError::usage(
                    "wage_min",
                    "must be between 0 and 100000 yuan",
                    "必须在 0 到 100000 元之间",
                ));
            }
            edits.push(("wage_min", FieldValue::Number(w)));
        }
        let env = self.write(|author, staged| {
            Ok(author.write(
                staged,
                Target::Create {
                    kind: RecordKind::Worker,
                    reach: None,
                },
                &edits,
                now,
            )?)
        })?;
        let rid = env.header.record;
        self.store.put_private_id(&rid, &id_number, &id_hash)?;
        Ok(json!({ "id": rid.to_hex() }))
    }

    fn worker_list(&self) -> Result<Value> {
        let mut rows = Vec::new();
        for state in self.store.records_of(Some(RecordKind::Worker))? {
            if state.doc.is_none() {
                continue;
            }
            let v = &state.view;
            let flags: Vec<String> = v
                .get("flags")
                .and_then(|f| f.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            rows.push(json!({
                "id": state.id().to_hex(),
                "name": v.get("name"),
                "skills": v.get("skills"),
                "region": state.region.to_string(),
                "priority": priority_of(&flags),
                "flags": flags,
                // Records written before the narrow mask carry a wider one: narrowed here too.
                "id_masked": v
                    .get("id_masked")
                    .and_then(|m| m.as_str())
                    .map(record::mask_id_number),
                "phone": v.get("phone"),
                "wage_min": v.get("wage_min"),
                "availability": v.get("availability"),
                "created_at": dates::rfc3339(state.created_ms),
            }));
        }
        rows.sort_by(|a, b| {
            b["priority"]
                .as_i64()
                .cmp(&a["priority"].as_i64())
                .then(a["created_at"].as_str().cmp(&b["created_at"].as_str()))
        });
        Ok(Value::Array(rows))
    }

    fn directory_set(
        &mut self,
        address: Option<String>,
        hours: Option<String>,
        hotline: Option<String>,
        services: Option<String>,
    ) -> Result<Value> {
        let now = now_ms();
        let me = self.key.public();
        let mine = self
            .store
            .records_of(Some(RecordKind::Directory))?
            .into_iter()
            .find(|s| s.creator == me);
        let mut edits = Vec::new();
        if mine.is_none() {
            edits.push(("name", FieldValue::Text(self.config.name.clone())));
            edits.push((
                "level",
                FieldValue::Text(self.region.level().as_str().into()),
            ));
            edits.push(("region", FieldValue::Text(self.region.to_string())));
        }
        for (name, value, max) in [
            ("address", &address, 200),
            ("hours", &hours, 100),
            ("hotline", &hotline, 30),
        ] {
            if let Some(v) = value {
                edits.push((name, FieldValue::Text(check_text(name, v, 0, max)?)));
            }
        }
        if services.is_some() {
            edits.push((
                "services",
                FieldValue::List(split_list(services.as_deref())),
            ));
        }
        edits.push(("updated_at", FieldValue::Text(dates::rfc3339(now))));
        let target = match &mine {
            Some(s) => Target::Edit(s.id()),
            None => Target::Create {
                kind: RecordKind::Directory,
                reach: None,
            },
        };
        let env = self.write(|author, staged| Ok(author.write(staged, target, &edits, now)?))?;
        Ok(json!({ "id": env.header.record.to_hex() }))
    }

    fn directory_list(&self) -> Result<Value> {
        let mut rows = Vec::new();
        for state in self.store.records_of(Some(RecordKind::Directory))? {
            let v = &state.view;
            let last_seen = self.store.author(&state.creator)?.and_then(|a| {
                self.store
                    .envelope_at(&a.key, a.max_seq)
                    .ok()
                    .flatten()
                    .and_then(|id| self.store.envelope(&id).ok().flatten())
            });
            rows.push(json!({
                "node_id": state.creator.node_id(),
                "name": v.get("name"),
                "region": state.region.to_string(),
                "level": state.region.level().as_str(),
                "address": v.get("address"),
                "hours": v.get("hours"),
                "hotline": v.get("hotline"),
                "services": v.get("services"),
                "last_seen": dates::rfc3339(last_seen.map(|e| e.header.timestamp_ms).unwrap_or(state.updated_ms)),
            }));
        }
        rows.sort_by(|a, b| a["region"].as_str().cmp(&b["region"].as_str()));
        Ok(Value::Array(rows))
    }

    /// Counts of records by kind and of envelopes.
    pub fn record_counts(&self) -> Result<Value> {
        let mut counts = serde_json::Map::new();
        let plural = |k: RecordKind| match k {
            RecordKind::Directory | RecordKind::Evidence => k.as_str().to_string(),
            other => format!("{}s", other.as_str()),
        };
        for kind in [
            RecordKind::Post,
            RecordKind::Worker,
            RecordKind::Directory,
            RecordKind::Placement,
            RecordKind::Complaint,
            RecordKind::Certificate,
            RecordKind::Revocation,
            RecordKind::Evidence,
        ] {
            counts.insert(plural(kind), json!(0));
        }
        for state in self.store.records_of(None)? {
            let k = plural(state.kind);
            counts[&k] = json!(counts[&k].as_u64().unwrap_or(0) + 1);
        }
        counts.insert("envelopes".into(), json!(self.store.items()?.len()));
        Ok(Value::Object(counts))
    }

    fn status(&self) -> Result<Value> {
        Ok(json!({
            "node_id": self.key.public().node_id(),
            "name": self.config.name,
            "region": self.region.to_string(),
            "level": self.region.level().as_str(),
            "certified": self.chain.is_some(),
            "records": self.record_counts()?,
            "store_bytes": self.store.size_on_disk(),
            "peers": self.config.peers.iter().map(|p| json!({"peer": p, "connected": false, "last_sync": null, "clock_offset_s": null})).collect::<Vec<_>>(),
            "forks": self.open_forks()?,
            "daemon": false,
        }))
    }
}

/// The `post list` row of a post.
pub fn post_row(state: &RecordState, today: i64) -> Value {
    let v = &state.view;
    let mut status = v
        .get("status")
        .and_then(|s| s.as_str())
        .unwrap_or("open")
        .to_string();
    if status == "open"
        && let Some(exp) = v
            .get("expires")
            .and_then(|e| e.as_str())
            .and_then(|e| dates::parse_date("expires", e).ok())
        && exp < today
    {
        status = "expired".into();
    }
    json!({
        "id": state.id().to_hex(),
        "title": v.get("title"),
        "occupation": v.get("occupation"),
        "wage": v.get("wage"),
        "unit": v.get("unit"),
        "headcount": v.get("headcount"),
        "filled": v.get("filled"),
        "status": status,
        "review": v.get("review"),
        "region": state.region.to_string(),
        "reach": state.reach.to_string(),
        "author": state.creator.node_id(),
        "created_at": dates::rfc3339(state.created_ms),
        "expires": v.get("expires"),
    })
}

/// Priority for help first: disabled workers 2, older and long-waiting workers 1 each.
pub fn priority_of(flags: &[String]) -> i64 {
    flags
        .iter()
        .map(|f| if f == "disabled" { 2 } else { 1 })
        .sum()
}

fn missing(field: &str) -> NodeError {
    NodeError::usage(
        field,
        format!("--{field} is required"),
        format!("必须提供 --{field}"),
    )
}

fn split_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| {
        s.split([',', '，'])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn check_text(field: &str, value: &str, min_chars: usize, max_chars: usize) -> Result<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min_chars || n > max_chars || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NodeError::usage(
            field,
            format!("must be {min_chars} to {max_chars} characters of text"),
            format!("必须是 {min_chars} 到 {max_chars} 个字符的文字"),
        ));
    }
    Ok(v.to_string())
}

fn check_occupation(code_or_alias: &str) -> Result<String> {
    let occ = occupations()
        .resolve(code_or_alias)
        .map_err(lingong_protocol::Error::from)?;
    Ok(occ.code.to_string())
}

/// Highest believable wage per unit, in yuan: beyond these a post is a typo or a lure.
fn check_wage(wage: f64, unit: &str) -> Result<f64> {
    let max = match unit {
        "hour" => 1_000.0,
        "day" => 5_000.0,
        "piece" => 10_000.0,
        "month" => 100_000.0,
        _ => {
            return Err(NodeError::usage(
                "unit",
                "must be day, hour, piece or month",
                "必须是 day、hour、piece 或 month",
            ));
        }
    };
    if !wage.is_finite() || wage <= 0.0 || wage > max {
        return Err(NodeError::usage(
            "wage",
            format!("must be more than 0 and at most {max} yuan per {unit}"),
            format!("必须大于 0 且每{}不超过 {max} 元", unit_zh(unit)),
        ));
    }
    Ok((wage * 100.0).round() / 100.0)
}

fn unit_zh(unit: &str) -> &'static str {
    match unit {
        "hour" => "小时",
        "day" => "天",
        "piece" => "件",
        _ => "月",
    }
}

fn check_headcount(n: i64) -> Result<i64> {
    if !(1..=10_000).contains(&n) {
        return Err(NodeError::usage(
            "headcount",
            "must be between 1 and 10000",
            "必须在 1 到 10000 之间",
        ));
    }
    Ok(n)
}

fn check_expires(date: &str, now: i64) -> Result<String> {
    let day = dates::parse_date("expires", date)?;
    if day < dates::today_cst(now) {
        return Err(NodeError::usage(
            "expires",
            "must not be in the past",
            "不能早于今天",
        ));
    }
    Ok(dates::format_date(day))
}

/// What accepting a batch of envelopes from elsewhere (a peer, a bundle) did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AcceptReport {
    pub new: usize,
    pub duplicate: usize,
    /// Rejections by error code (forgeries, unauthorized edits, revoked authors…).
    pub rejected: std::collections::BTreeMap<String, usize>,
    /// Envelopes that may be accepted later (their author's certificate has not arrived).
    pub deferred: usize,
    /// Nodes revoked by envelopes of this batch.
    pub revoked: Vec<PublicKey>,
    /// Forks this node caught in the batch and published as evidence records.
    #[serde(default)]
    pub forks_published: usize,
}

impl Station {
    /// This node's scope (its certified region).
    pub fn scope(&self) -> lingong_protocol::scope::Scope {
        lingong_protocol::scope::Scope::new(self.region)
    }

    /// Verifies a peer's certificate chain (from a sync hello) against this node's root, the
    /// peer's authenticated key and the revocations held here; returns the peer's scope.
    pub fn verify_peer(
        &self,
        peer: &PublicKey,
        chain_bytes: &[u8],
    ) -> Result<lingong_protocol::scope::Scope> {
        let root = self.accept_config()?.root;
        let chain = CertChain::from_bytes(chain_bytes)?;
        if chain.leaf().body.subject != *peer {
            return Err(lingong_protocol::Error::BrokenChain {
                detail: "the peer presented another node's certificate".into(),
            }
            .into());
        }
        chain.verify(&root, now_ms() / 1000, &|k| {
            matches!(self.store.revocation(k), Ok(Some(_)))
        })?;
        Ok(lingong_protocol::scope::Scope::new(
            chain.leaf().body.region,
        ))
    }

    /// Accepts envelopes from elsewhere through the one accept path, as one atomic batch.
    pub fn accept_envelopes(
        &mut self,
        envelopes: &[lingong_protocol::envelope::Envelope],
    ) -> Result<AcceptReport> {
        use lingong_protocol::accept::Accepted;
        let cfg = self.accept_config()?;
        // Batched signature checks, then the one accept path (protocol::ingest).
        let (batch, results) =
            lingong_protocol::ingest::accept_batch(&self.store, &cfg, envelopes, now_ms());
        let mut report = AcceptReport::default();
        for (env, r) in envelopes.iter().zip(results) {
            match r {
                Ok(Accepted::New) | Ok(Accepted::PayloadFilled) => {
                    report.new += 1;
                    if env.header.kind == RecordKind::Revocation
                        && let Some(Ok(rv)) = env.payload.as_deref().map(Revocation::from_bytes)
                    {
                        report.revoked.push(rv.revoked);
                    }
                }
                Ok(Accepted::Duplicate) => report.duplicate += 1,
                Err(e) if e.is_retryable() || e.code() == "unknown-record" => report.deferred += 1,
                Err(e) => {
                    tracing::warn!(author = %env.header.author.short(), code = e.code(), "rejected a change: {e}");
                    *report.rejected.entry(e.code().to_string()).or_default() += 1;
                }
            }
        }
        let caught = self.forks_caught(&batch, envelopes)?;
        self.store.commit(batch)?;
        report.forks_published = self.publish_forks(caught)?;
        Ok(report)
    }

    /// The fork evidence a batch records that this node caught itself (not learned from an
    /// evidence record of the same batch) and that moves an author's fork point: what it
    /// should publish.
    fn forks_caught(
        &self,
        batch: &lingong_protocol::store::Batch,
        envelopes: &[lingong_protocol::envelope::Envelope],
    ) -> Result<Vec<lingong_protocol::store::Evidence>> {
        use lingong_protocol::store::Op;
        let learned: Vec<lingong_protocol::evidence::ForkProof> = envelopes
            .iter()
            .filter(|e| e.header.kind == RecordKind::Evidence)
            .filter_map(|e| e.payload.as_deref())
            .filter_map(|p| lingong_protocol::evidence::ForkProof::from_bytes(p).ok())
            .collect();
        let mut caught = Vec::new();
        for op in &batch.ops {
            if let Op::PutEvidence(ev) = op
                && !learned.iter().any(|p| p.accused == ev.author)
                && self
                    .store
                    .fork_point(&ev.author)?
                    .is_none_or(|point| ev.seq < point)
            {
                caught.push(ev.clone());
            }
        }
        Ok(caught)
    }

    /// Publishes each caught fork as an evidence record, so the ancestors and the forked node's
    /// home area stop taking the key's changes too. A fork of this node's own key is not
    /// published by it (its key can no longer sign): its parent publishes it.
    fn publish_forks(&mut self, caught: Vec<lingong_protocol::store::Evidence>) -> Result<usize> {
        let me = self.key.public();
        let mut published = 0;
        for ev in caught {
            if ev.author == me {
                tracing::error!(
                    seq = ev.seq,
                    "this node's key signed two histories (a copied home or a restored backup \
                     kept writing); it can no longer sign: ask the parent to revoke it and \
                     certify a new key"
                );
                continue;
            }
            let (Some(a), Some(b), Some(accused)) = (
                ev.envelopes
                    .first()
                    .and_then(|b| Envelope::from_bytes(b).ok()),
                ev.envelopes
                    .get(1)
                    .and_then(|b| Envelope::from_bytes(b).ok()),
                self.store.author(&ev.author)?,
            ) else {
                continue;
            };
            // What was received is committed already: a failure here (a repair pending, a full
            // disk) loses only the publication; this node still halts the key and shows the
            // fork in `status`, and any other node that sees both branches publishes it.
            let now = now_ms();
            let published_now =
                lingong_protocol::evidence::ForkProof::from_headers(&a, &b, accused.chain)
                    .map_err(NodeError::from)
                    .and_then(|proof| {
                        self.write(|author, staged| {
                            Ok(author.publish_evidence(staged, &proof, now)?)
                        })
                    });
            match published_now {
                Ok(_) => {
                    tracing::warn!(
                        author = %ev.author.short(),
                        seq = ev.seq,
                        "caught a fork; published the evidence"
                    );
                    published += 1;
                }
                Err(e) => tracing::error!(
                    author = %ev.author.short(),
                    "caught a fork but could not publish the evidence: {e}"
                ),
            }
        }
        Ok(published)
    }

    /// Forks held as evidence against keys not yet revoked: what `status` shows until an
    /// ancestor revokes the forked key (and certifies a new one).
    pub fn open_forks(&self) -> Result<Vec<Value>> {
        let mut rows: Vec<Value> = Vec::new();
        for ev in self.store.evidence()? {
            if ev.kind != "fork" || self.store.revocation(&ev.author)?.is_some() {
                continue;
            }
            let node = ev.author.node_id();
            if rows.iter().any(|r| r["node_id"] == node.as_str()) {
                continue;
            }
            let info = self.store.author(&ev.author)?;
            rows.push(json!({
                "node_id": node,
                "name": info.as_ref().map(|a| a.name().to_string()),
                "region": info.as_ref().map(|a| a.region().to_string()),
                "fork_seq": self.store.fork_point(&ev.author)?,
                "detail": ev.detail,
            }));
        }
        Ok(rows)
    }
}

impl Station {
    /// The item set this node shares with a peer of scope `peer`, kept by the store between
    /// sessions. A store that cannot be read shares nothing this time (the session then
    /// only receives).
    pub fn shared_set(
        &self,
        peer: lingong_protocol::scope::Scope,
    ) -> std::sync::Arc<lingong_protocol::sync::SharedSet> {
        let me = self.scope();
        self.store.shared_set(me, peer).unwrap_or_else(|e| {
            tracing::error!("reading the store for a sync session failed: {e}");
            std::sync::Arc::new(lingong_protocol::sync::SharedSet::build(&me, &peer, &[]))
        })
    }
}
