//! The node's HTTP server: the JSON API (`/api/…`, [`api`]), the staff console, the hall's big
//! screen, the public pages and posters ([`pages`]), the public feed and the OpenAPI document,
//! with staff sessions and API tokens ([`auth`]); complaints, reports, supervision, audit and
//! the sync state as endpoints and console pages ([`oversight`]); the push list and the
//! assistance ledger as console pages ([`desk`]).
//!
//! It runs on the daemon's tokio runtime and is started by `daemon::run` on the configured
//! address (`--http`, else `http` in config.toml; 127.0.0.1 with a free port by default). Every
//! request that asks something of the node becomes a [`Request`] and goes through the daemon's
//! own executor ([`Execute`]: the same `dispatch`, the same network nudge after a write), so
//! the command line and the web can never disagree.
//!
//! Limits: bodies over [`BODY_LIMIT`] are refused with 413; a request taking longer than
//! [`REQUEST_TIMEOUT`] gets 408. Every response carries a content security policy that lets a
//! page load only from this node (`default-src 'self'`): nothing from the internet, no CDN.
//! Errors have one shape, `{"error":{"code","message","field"}}`, built from the control
//! socket's [`crate::control::ErrorReply`].

pub mod api;
pub mod auth;
pub mod desk;
pub mod live;
pub mod oversight;
pub mod pages;

use crate::error::{NodeError, Result};
use crate::request::Request;
use crate::station::Station;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Largest request body accepted (a post with a long description is about 2 KB).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a page's computed value ([`Kept`]) serves while the store has no write.
const KEPT_FOR: Duration = Duration::from_secs(60);

/// Runs one request the way the daemon runs a command from its control socket.
pub type Execute =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Result<Value>> + Send>> + Send + Sync>;

/// What every handler shares.
pub struct Web {
    pub station: Arc<RwLock<Station>>,
    pub execute: Execute,
    pub auth: auth::Auth,
    /// The station's name, division code and node id, read once at start.
    pub name: String,
    pub region: String,
    pub node_id: String,
    /// The store's count of durable writes, as last seen ([`live::watch_writes`]): it moves
    /// whenever anything is committed, a local write or one accepted from a peer or a bundle.
    pub writes: tokio::sync::watch::Receiver<u64>,
    /// Where the store keeps that count ([`crate::store::WRITES_FILE`]).
    pub writes_file: std::path::PathBuf,
    /// Reports computed, by (period, region), with the write count they were computed at
    /// (the oversight pages' chart; [`oversight`]).
    pub reports: Mutex<std::collections::HashMap<(String, Option<String>), (u64, Value)>>,
    /// Per (period, region), the one computation of that report under way: requests arriving
    /// meanwhile take its answer (or show its progress) instead of scanning the store beside
    /// it, while other reports (the chart's months) are computed alongside
    /// ([`oversight::Flight`]; removed once done, its figures in [`Web::reports`]).
    pub report_computing:
        Mutex<std::collections::HashMap<(String, Option<String>), Arc<oversight::Flight>>>,
    /// How many report computations this server has started (each flight's number).
    pub report_runs: std::sync::atomic::AtomicU64,
    /// How long a request waits for a report being computed again before it shows the one
    /// computed before the store's last commits (`report_wait_ms` in the configuration).
    pub report_wait: Duration,
    /// The poster QR codes printed today ([`pages::PosterCodes`]).
    pub poster_codes: pages::PosterCodes,
    /// The push lists last gathered for `/push` ([`push::gather_all`]: every approved post's
    /// workers ranked, the costly part), by its filters (post, days): a clerk paging through
    /// the week's call sheet pays for the ranking once.
    pub push_lists: Kept<(Option<String>, Option<i64>), crate::services::push::Gathered>,
    /// The open approved posts last listed for the public pages, the big screen and its
    /// events (`/posts`, `/screen`, `/feed.json`, `/posters/today`: 500 rows), by occupation
    /// filter: five screens told of a write ask for the same rows at once.
    pub open_posts: Kept<Option<String>, Vec<Value>>,
}

/// What a page computed from the store, kept for the next requests while the store's write
/// count ([`crate::store::SledStore::write_count`], which moves before a commit returns:
/// nothing written is missed), the China-time day and the request's key are those it was
/// computed at, for at most `for_at_most` (what follows the clock alone, such as a post
/// leaving the week, shows that much later). One value is kept: the last key asked.
pub struct Kept<K, V> {
    for_at_most: Duration,
    kept: Mutex<Option<KeptValue<K, V>>>,
}

struct KeptValue<K, V> {
    writes: u64,
    day: i64,
    key: K,
    at: std::time::Instant,
    value: Arc<V>,
}

impl<K: PartialEq, V> Kept<K, V> {
    pub fn new(for_at_most: Duration) -> Kept<K, V> {
        Kept {
            for_at_most,
            kept: Mutex::new(None),
        }
    }

    fn held(&self, kept: &Option<KeptValue<K, V>>, writes: u64, key: &K) -> Option<Arc<V>> {
        kept.as_ref()
            .filter(|k| {
                k.writes == writes
                    && k.day == crate::services::today()
                    && k.key == *key
                    && k.at.elapsed() < self.for_at_most
            })
            .map(|k| Arc::clone(&k.value))
    }

    fn put(kept: &mut Option<KeptValue<K, V>>, writes: u64, key: K, value: &Arc<V>) {
        *kept = Some(KeptValue {
            writes,
            day: crate::services::today(),
            key,
            at: std::time::Instant::now(),
            value: Arc::clone(value),
        });
    }

    /// The value kept for `key` at the store's `writes`, if it still holds.
    pub fn get(&self, writes: u64, key: &K) -> Option<Arc<V>> {
        self.held(&self.kept.lock().expect("kept value"), writes, key)
    }

    /// Keeps `value`, computed at the store's `writes` for `key`.
    pub fn keep(&self, writes: u64, key: K, value: &Arc<V>) {
        Self::put(
            &mut self.kept.lock().expect("kept value"),
            writes,
            key,
            value,
        );
    }

    /// The value kept for `key`, or `compute`'s, then kept. The lock is held while computing:
    /// requests arriving meanwhile wait for that value instead of computing the same beside it
    /// on the same cores (for a caller on a blocking thread).
    pub fn get_or_compute(
        &self,
        writes: u64,
        key: K,
        compute: impl FnOnce(&K) -> Result<V>,
    ) -> Result<Arc<V>> {
        let mut kept = self.kept.lock().expect("kept value");
        if let Some(value) = self.held(&kept, writes, &key) {
            return Ok(value);
        }
        let value = Arc::new(compute(&key)?);
        Self::put(&mut kept, writes, key, &value);
        Ok(value)
    }
}

pub type AppState = Arc<Web>;

impl Web {
    /// Runs a request through the daemon's executor; a clear ID number in the answer is masked
    /// ([`api::redact`]) before any page or endpoint sees it.
    pub async fn run(&self, req: Request) -> Result<Value> {
        let mut v = (self.execute)(req).await?;
        api::redact(&mut v);
        Ok(v)
    }

    /// Reads the station on a blocking thread (sled reads, argon2).
    pub async fn with_station<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Station) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let station = Arc::clone(&self.station);
        tokio::task::spawn_blocking(move || f(&station.read().expect("station lock")))
            .await
            .map_err(|e| NodeError::Daemon {
                detail: e.to_string(),
            })?
    }
}

/// The page of a paged list the query asks for (`?page=N`, counted from 1): 1 when absent or
/// not a whole number; the caller clamps it to the pages there are.
pub(crate) fn page_asked(q: &std::collections::HashMap<String, String>) -> usize {
    q.get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
}

/// The whole router: API, pages, static files, with the limits and headers of every response.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(oversight::routes())
        .merge(desk::routes())
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outermost: sees every answer, the layers' own included.
        .layer(axum::middleware::map_response(finish))
        .with_state(state)
}

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Security headers on every response, and the one error shape for the errors that the
/// layers and the router make themselves (413, 408, 404, 405) with no body of ours.
async fn finish(mut res: Response) -> Response {
    let status = res.status();
    // Our answers are JSON or HTML; plain text comes from axum's or tower-http's own errors.
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| !t.starts_with("text/plain"));
    if !ours && (status.is_client_error() || status.is_server_error()) {
        let (code, en, zh) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (
                "too-large",
                format!("the request body is larger than {} KiB", BODY_LIMIT / 1024),
                format!("请求内容超过 {} KiB", BODY_LIMIT / 1024),
            ),
            StatusCode::REQUEST_TIMEOUT => (
                "timeout",
                "the request took too long".to_string(),
                "请求处理超时".to_string(),
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "this address does not take that method".to_string(),
                "该地址不支持此请求方法".to_string(),
            ),
            StatusCode::NOT_FOUND => (
                "not-found",
                "no such page".to_string(),
                "没有这个页面".to_string(),
            ),
            _ => ("error", status.to_string(), status.to_string()),
        };
        let headers = std::mem::take(res.headers_mut());
        res = api::error_body(status, code, &zh, &en, None, "zh").into_response();
        for (k, v) in headers.iter() {
            if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
                res.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// A running HTTP server: its address, and the task serving it.
pub struct Server {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` and serves until `stop` turns true. Must be called on the daemon's runtime.
pub async fn start(
    addr: &str,
    station: Arc<RwLock<Station>>,
    execute: Execute,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Server> {
    let (name, region, node_id, store_path, report_wait) = {
        let s = station.read().expect("station lock");
        (
            s.config.name.clone(),
            s.region.to_string(),
            s.key.public().node_id(),
            s.home.store_path(),
            Duration::from_millis(s.config.report_wait_ms),
        )
    };
    let writes_file = store_path.join(crate::store::WRITES_FILE);
    let writes = live::watch_writes(writes_file.clone(), stop.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        NodeError::usage(
            "--http",
            format!("cannot listen on {addr}: {e}"),
            format!("无法在 {addr} 上监听：{e}"),
        )
    })?;
    let bound = listener.local_addr().map_err(|e| NodeError::io(addr, e))?;
    let state = Arc::new(Web {
        station,
        execute,
        auth: auth::Auth::default(),
        name,
        region,
        node_id,
        writes,
        writes_file,
        reports: Mutex::new(Default::default()),
        report_computing: Mutex::new(Default::default()),
        report_runs: Default::default(),
        report_wait,
        poster_codes: Default::default(),
        push_lists: Kept::new(KEPT_FOR),
        open_posts: Kept::new(KEPT_FOR),
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!("http server stopped: {e}");
        }
    });
    Ok(Server { addr: bound, task })
}
