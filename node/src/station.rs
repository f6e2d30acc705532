//! The station core: one open node (key, configuration, certificate, store) and what every
//! service needs of it: opening, the write funnel ([`Station::write`]: sign one change, accept
//! it through the one accept path into a staged batch, commit atomically), resolving the ids
//! users type, the record counters, accepting envelopes from elsewhere (peers, bundles) and
//! publishing the forks it catches, verifying peers, and the item sets shared with them.
//!
//! The services (`crate::services`, one file each) are free functions over a `Station`; the
//! request vocabulary and its dispatch are in `crate::request`. This module imports neither.

use crate::error::{NodeError, Result};
use crate::home::{Config, Home};
use crate::id_secret::{self, IdHashKey};
use crate::store::SledStore;
use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::LocalAuthor;
use lingong_protocol::cert::CertChain;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::{NodeKey, PublicKey};
use lingong_protocol::record::{RecordKind, Revocation};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{RecordState, Staged, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
///
/// Test hook: when the environment variable `LINGONG_NOW` holds an RFC 3339 time
/// (`2026-11-15T09:00:00+08:00`), this process's clock starts at that instant when first read
/// and runs on from there, so a test can run a command "15 days later" without sleeping. It is
/// read here and nowhere else; operators never set it.
pub fn now_ms() -> i64 {
    static OFFSET_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let system = system_ms();
    let offset = *OFFSET_MS.get_or_init(|| match std::env::var("LINGONG_NOW") {
        Ok(text) => match lingong_protocol::dates::parse_rfc3339(&text) {
            Some(at) => at - system,
            None => {
                tracing::error!(
                    "LINGONG_NOW={text:?} is not an RFC 3339 time; using the system clock"
                );
                0
            }
        },
        Err(_) => 0,
    });
    system + offset
}

fn system_ms() -> i64 {
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
        let cache_bytes = config.store_cache_mb << 20;
        let Some(store) = SledStore::open_with_cache(&home.store_path(), wait, cache_bytes)? else {
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
    /// Refused while a repair is pending (`crate::repair`) or a restored node catches up
    /// (`crate::backup`): the node's own log may be incomplete, and a change signed now could
    /// fork it; and while the clock is off against the parent's (`crate::clock`).
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&LocalAuthor<'_>, &mut Staged<'_, SledStore>) -> Result<T>,
    ) -> Result<T> {
        crate::repair::check_writable(&self.home)?;
        crate::backup::check_writable(&self.home)?;
        crate::clock::check_writable(&self.home)?;
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

    /// Counts of records by kind and of envelopes, from the store's counters.
    pub fn record_counts(&self) -> Result<Value> {
        let mut counts = serde_json::Map::new();
        for kind in RecordKind::ALL {
            counts.insert(kind.count_key(), json!(self.store.count(kind)?));
        }
        counts.insert("envelopes".into(), json!(self.store.envelope_count()?));
        Ok(Value::Object(counts))
    }
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
    /// This node's scope (its certified region, under this release's scope rules).
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
}

impl Station {
    /// The item set this node shares with a peer of scope `peer`, kept by the store between
    /// sessions, one per peer scope and scope rules: both ends under the older of their rules
    /// (`Scope::on_link`: a peer of an older release is listed what it lists). A store that
    /// cannot be read shares nothing this time (the session then only receives).
    pub fn shared_set(
        &self,
        peer: lingong_protocol::scope::Scope,
    ) -> std::sync::Arc<lingong_protocol::sync::SharedSet> {
        let (me, peer) = self.scope().on_link(peer);
        self.store.shared_set(me, peer).unwrap_or_else(|e| {
            tracing::error!("reading the store for a sync session failed: {e}");
            std::sync::Arc::new(lingong_protocol::sync::SharedSet::build(&me, &peer, &[]))
        })
    }
}
