//! Who is asking, and what they may ask.
//!
//! - **Roles** ([`allowed`]): a clerk (经办员) handles posts, workers, employers, matching and
//!   placements; a reviewer (审核员) also reviews; a supervisor (监督员) also oversees
//!   (complaints, reports, supervision, audit, the station's directory entry); an admin (管理员)
//!   may do everything, staff accounts and tokens included. A request kind not named in
//!   [`min_role`] is the administrator's: a new service names its lower roles there.
//! - **Sessions**: a staff member logs in with name and password (`services::staff`); the node
//!   keeps the session in memory (a restart logs everyone out) under a random 32-byte id sent
//!   as the cookie `lingong_session` (HttpOnly, SameSite=Strict, Path=/), for at most
//!   [`SESSION_TTL`]. Each session has its own CSRF token: every form post carries it as the
//!   field `csrf`, every script call as the header `X-CSRF-Token`; a write without it is
//!   refused (403). A session ends at logout, at expiry, and when the account is removed, its
//!   role changed or its password reset.
//! - **Tokens**: `Authorization: Bearer lgt_…` (`lingong token add`), for partner platforms and
//!   the bureau's systems; no cookie, so no CSRF token.
//! - **Login attempts** are limited per name and per address: [`MAX_FAILURES`] failures in a
//!   row lock that name, and that address, for [`LOCKOUT`].

use super::AppState;
use crate::request::Request;
use crate::services::staff::{self, Role, same_bytes};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least role that may ask `req` over HTTP (reads and writes alike).
pub fn min_role(req: &Request) -> Role {
    match req {
        Request::PostCreate(_)
        | Request::PostList(_)
        | Request::PostShow { .. }
        | Request::PostUpdate { .. }
        | Request::EmployerRegister(_)
        | Request::EmployerList { .. }
        | Request::EmployerShow { .. }
        | Request::EmployerUpdate { .. }
        | Request::WorkerRegister(_)
        | Request::WorkerList { .. }
        | Request::WorkerShow { .. }
        | Request::WorkerUpdate { .. }
        | Request::WorkerDeregister { .. }
        | Request::MatchWorker { .. }
        | Request::MatchPost { .. }
        | Request::PlacementConfirm(_)
        | Request::PlacementList { .. }
        | Request::PlacementCancel { .. }
        | Request::PlacementEnd { .. }
        | Request::DirectoryList { .. }
        | Request::ComplaintFile(_)
        | Request::SyncWaiting { .. }
        | Request::PushList { .. }
        | Request::PushMark { .. }
        | Request::PushSend { .. }
        | Request::AssistLog(_)
        | Request::AssistList { .. }
        | Request::AssistDue { .. }
        | Request::Status => Role::Clerk,
        Request::PostReview { .. }
        | Request::PostReviewQueue { .. }
        | Request::EmployerSuspend { .. } => Role::Reviewer,
        Request::DirectorySet { .. }
        | Request::ComplaintList { .. }
        | Request::ComplaintShow { .. }
        | Request::ComplaintUpdate { .. }
        | Request::Report { .. }
        | Request::ReportSeal { .. }
        | Request::ReportVerify { .. }
        | Request::Supervise { .. }
        | Request::SuperviseOrder { .. }
        | Request::SuperviseOrders
        | Request::Audit => Role::Supervisor,
        // Everything else (files on the node's disk, certificates, peers, imports and exports,
        // accounts, and any request kind not named above): the administrator only, until the
        // service that adds it names a lower role here.
        _ => Role::Admin,
    }
}

/// True when `role` may ask `req`.
pub fn allowed(role: Role, req: &Request) -> bool {
    role >= min_role(req)
}

/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(10 * 3600);
/// Failed logins in a row that lock a name or an address.
pub const MAX_FAILURES: u32 = 5;
/// How long a lock lasts.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// The session cookie's name.
pub const COOKIE: &str = "lingong_session";

#[derive(Clone, Debug)]
pub struct Session {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    /// The account's `password_set_at` when the session began: a reset ends the session.
    password_set_at: String,
    expires: Instant,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// Sessions and login failures, in memory.
#[derive(Default)]
pub struct Auth {
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
}

/// Why a login failed.
pub enum LoginError {
    /// Wrong name or password (which one is not said).
    Wrong,
    /// Too many failures: try again after this many seconds.
    Locked(u64),
    Node(crate::error::NodeError),
}

impl Auth {
    fn locked(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let f = self.failures.lock().expect("failures lock");
        keys.iter()
            .filter_map(|k| f.get(k)?.locked_until)
            .filter(|t| *t > now)
            .map(|t| (t - now).as_secs().max(1))
            .max()
    }

    fn failed(&self, keys: &[String]) {
        let mut f = self.failures.lock().expect("failures lock");
        let now = Instant::now();
        for k in keys {
            let e = f.entry(k.clone()).or_default();
            if e.locked_until.is_some_and(|t| t <= now) {
                *e = Failures::default();
            }
            e.count += 1;
            if e.count >= MAX_FAILURES {
                e.locked_until = Some(now + LOCKOUT);
            }
        }
        // Keep the table small: forget what is neither locked nor recent.
        if f.len() > 10_000 {
            f.retain(|_, e| e.locked_until.is_some_and(|t| t > now));
        }
    }

    fn succeeded(&self, keys: &[String]) {
        let mut f = self.failures.lock().expect("failures lock");
        for k in keys {
            f.remove(k);
        }
    }

    /// Checks a name and password; on success opens a session and returns its id.
    pub async fn login(
        state: &AppState,
        name: &str,
        password: &str,
        addr: Option<SocketAddr>,
    ) -> Result<(String, Session), LoginError> {
        let name = name.trim().to_string();
        let mut keys = vec![format!("name:{name}")];
        if let Some(a) = addr {
            keys.push(format!("addr:{}", a.ip()));
        }
        if let Some(secs) = state.auth.locked(&keys) {
            return Err(LoginError::Locked(secs));
        }
        let password = password.to_string();
        let lookup = name.clone();
        let found = state
            .with_station(move |s| {
                let account = staff::staff(s, &lookup)?;
                // The argon2id evaluation runs on this blocking thread; an unknown name costs
                // the same evaluation, against a fixed salt.
                let ok = match &account {
                    Some(a) => staff::verify_password(a, &password),
                    None => {
                        let _ = staff::verify_password(&DUMMY.with(|d| d.clone()), &password);
                        false
                    }
                };
                Ok(account.filter(|_| ok))
            })
            .await
            .map_err(LoginError::Node)?;
        let Some(account) = found else {
            state.auth.failed(&keys);
            return Err(LoginError::Wrong);
        };
        state.auth.succeeded(&keys);
        let id = hex::encode(staff::random_bytes::<32>().map_err(LoginError::Node)?);
        let session = Session {
            name,
            role: account.role,
            csrf: hex::encode(staff::random_bytes::<32>().map_err(LoginError::Node)?),
            password_set_at: account.password_set_at,
            expires: Instant::now() + SESSION_TTL,
        };
        let mut sessions = state.auth.sessions.lock().expect("sessions lock");
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    pub fn logout(&self, id: &str) {
        self.sessions.lock().expect("sessions lock").remove(id);
    }

    fn session(&self, id: &str) -> Option<Session> {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }
}

thread_local! {
    /// An account no password opens, so that an unknown name costs a real evaluation.
    static DUMMY: staff::StaffAccount = serde_json::from_value(serde_json::json!({
        "role": "clerk",
        "salt": "00000000000000000000000000000000",
        "hash": "0000000000000000000000000000000000000000000000000000000000000000",
        "m_kib": 19456, "t": 2,
        "created_at": "", "password_set_at": ""
    })).expect("dummy account");
}

/// The cookie that carries a session.
pub fn session_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// The cookie that ends a session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// A cookie's value from the request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who made a request.
#[derive(Clone, Debug)]
pub enum Caller {
    /// Logged in through the console; `id` is the session's id.
    Staff { id: String, session: Session },
    /// An API token.
    Token { name: String, role: Role },
    /// Nobody (public pages only); `bad_token` when a token was given and is not valid.
    Anonymous { bad_token: bool },
}

impl Caller {
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Staff { session, .. } => Some(session.role),
            Caller::Token { role, .. } => Some(*role),
            Caller::Anonymous { .. } => None,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Caller::Staff { session, .. } => &session.name,
            Caller::Token { name, .. } => name,
            Caller::Anonymous { .. } => "",
        }
    }
    pub fn csrf(&self) -> Option<&str> {
        match self {
            Caller::Staff { session, .. } => Some(&session.csrf),
            _ => None,
        }
    }
    /// True when a write from this caller with this CSRF value may go ahead: a token needs
    /// none, a session needs its own.
    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        match self {
            Caller::Staff { session, .. } => {
                given.is_some_and(|g| same_bytes(g.as_bytes(), session.csrf.as_bytes()))
            }
            Caller::Token { .. } => true,
            Caller::Anonymous { .. } => false,
        }
    }
}

/// True for methods that may change something.
pub fn is_write_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address, when the server was started with connection info.
pub fn client_addr(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_string());
            let Some(token) = token else {
                return Ok(Caller::Anonymous { bad_token: true });
            };
            let found = state
                .with_station(move |s| staff::token_role(s, &token))
                .await
                .ok()
                .flatten();
            return Ok(match found {
                Some((name, role)) => Caller::Token { name, role },
                None => Caller::Anonymous { bad_token: true },
            });
        }
        let Some(id) = cookie(&parts.headers, COOKIE).map(str::to_string) else {
            return Ok(Caller::Anonymous { bad_token: false });
        };
        let Some(session) = state.auth.session(&id) else {
            return Ok(Caller::Anonymous { bad_token: false });
        };
        // The account must still be there, with the same role and password.
        let name = session.name.clone();
        let account = state
            .with_station(move |s| staff::staff(s, &name))
            .await
            .ok()
            .flatten();
        match account {
            Some(a) if a.role == session.role && a.password_set_at == session.password_set_at => {
                Ok(Caller::Staff { id, session })
            }
            _ => {
                state.auth.logout(&id);
                Ok(Caller::Anonymous { bad_token: false })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_build_on_each_other() {
        let create = Request::PostCreate(Default::default());
        let review = Request::PostReview {
            id: "x".into(),
            approve: true,
            reason: None,
        };
        let staff = Request::StaffList;
        assert!(allowed(Role::Clerk, &create));
        assert!(!allowed(Role::Clerk, &review));
        assert!(allowed(Role::Reviewer, &review));
        assert!(!allowed(Role::Supervisor, &staff));
        assert!(allowed(Role::Admin, &staff));
    }

    #[test]
    fn five_failures_lock_for_a_minute() {
        let auth = Auth::default();
        let keys = vec!["name:a".to_string()];
        for _ in 0..MAX_FAILURES - 1 {
            auth.failed(&keys);
        }
        assert!(auth.locked(&keys).is_none());
        auth.failed(&keys);
        assert!(auth.locked(&keys).is_some_and(|s| s <= LOCKOUT.as_secs()));
        assert!(auth.locked(&["name:b".to_string()]).is_none());
    }
}
