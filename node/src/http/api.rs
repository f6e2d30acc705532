//! The JSON API under `/api/`: each endpoint turns its path, query and body into a
//! [`Request`] and runs it through the daemon's executor, after checking who asks
//! ([`Caller`]) and whether their role allows it ([`auth::allowed`]).
//!
//! Adding a service's endpoints is one line each in [`routes`]: a method, a path, a summary and
//! a constructor ([`none`], [`query`], [`id`], [`body`], [`id_body`]) from what the endpoint
//! takes to the `Request`; the OpenAPI document (`/openapi.json`) is generated from the same
//! table with utoipa, so it cannot drift from the router.
//!
//! Answers: 200 with the service's JSON; 400 `{"error":{"code","message","field"}}` for bad
//! input (malformed JSON, an unknown or mistyped field, a rule the service refuses), the message
//! in the `Accept-Language` language (Chinese unless English is asked for); 401 without a valid
//! login or token; 403 outside the caller's role or for a session write without its CSRF
//! token; 404 for an unknown record; 413 over the body limit; 429 for a locked login. Every
//! answer passes through [`redact`]: a string that is a valid resident ID number never leaves
//! the node in clear.

use super::AppState;
use super::auth::{self, Auth, Caller, LoginError};
use crate::error::NodeError;
use crate::request::{
    AssistFields, EmployerFields, PlacementFields, PostFields, PostFilter, Request, WorkerFields,
};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The language of an answer: `en` when `Accept-Language` prefers English, else `zh`.
pub fn lang_of(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim_start().to_ascii_lowercase().starts_with("en") {
        "en"
    } else {
        "zh"
    }
}

/// The one error shape.
pub fn error_body(
    status: StatusCode,
    code: &str,
    zh: &str,
    en: &str,
    field: Option<&str>,
    lang: &str,
) -> (StatusCode, Json<Value>) {
    let message = if lang == "en" { en } else { zh };
    (
        status,
        Json(json!({ "error": { "code": code, "message": message, "field": field } })),
    )
}

/// The field a node error names, when it names one.
pub fn field_of(e: &NodeError) -> Option<String> {
    use lingong_protocol::Error as P;
    match e {
        NodeError::Usage { field, .. } => Some(field.trim_start_matches("--").to_string()),
        NodeError::Protocol(P::InvalidField { field, .. }) => Some(field.to_string()),
        NodeError::Protocol(P::Occupation(_)) => Some("occupation".into()),
        NodeError::NotFound { .. } | NodeError::Ambiguous { .. } => Some("id".into()),
        _ => None,
    }
}

/// The HTTP status of a node error.
pub fn status_of(e: &NodeError) -> StatusCode {
    match e.code() {
        "not-found" | "unknown-record" => StatusCode::NOT_FOUND,
        "unauthorized-edit" | "out-of-jurisdiction" => StatusCode::FORBIDDEN,
        "store-busy" | "repair-pending" | "catching-up" => StatusCode::SERVICE_UNAVAILABLE,
        // push_command, the station's own sender, failed for some messages.
        "push-failed" => StatusCode::BAD_GATEWAY,
        _ if e.is_usage() => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A node error as an HTTP answer, through the control socket's [`crate::control::ErrorReply`].
pub fn node_error(e: &NodeError, lang: &str) -> Response {
    let reply = crate::control::ErrorReply::from(e);
    error_body(
        status_of(e),
        &reply.code,
        &reply.message_zh,
        &reply.message_en,
        field_of(e).as_deref(),
        lang,
    )
    .into_response()
}

fn bad(code: &str, field: Option<&str>, en: String, zh: String) -> NodeError {
    let _ = code;
    NodeError::usage(field.unwrap_or("body"), en, zh)
}

/// Replaces, anywhere in `value`, a string that is a valid resident ID number with its mask:
/// no endpoint ever returns a clear ID number, whatever a service puts in its answer.
pub fn redact(value: &mut Value) {
    match value {
        Value::String(s) => {
            let t = s.trim();
            if t.len() == 18
                && lingong_protocol::id_number::check_id_number(t, crate::station::now_ms()).is_ok()
            {
                *s = lingong_protocol::id_number::mask_id_number(t);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        Value::Object(o) => o.values_mut().for_each(redact),
        _ => {}
    }
}

/// Fills in what a request takes from the HTTP exchange rather than from its fields.
fn fill_lang(req: &mut Request, lang: &str) {
    if let Request::MatchWorker { lang: l, .. }
    | Request::MatchPost { lang: l, .. }
    | Request::PushList { lang: l, .. } = req
        && l.is_empty()
    {
        *l = lang.to_string();
    }
}

/// Checks the caller, then runs `req`. `write` is whether the HTTP method may change
/// something (a session then needs its CSRF token).
pub async fn call(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    write: bool,
    mut req: Request,
) -> Response {
    let lang = lang_of(headers);
    if let Err(refused) = admit(caller, headers, write, &req) {
        return *refused;
    }
    fill_lang(&mut req, lang);
    tracing::debug!(who = caller.name(), ?req, "http request");
    match state.run(req).await {
        Ok(mut v) => {
            redact(&mut v);
            Json(v).into_response()
        }
        Err(e) => node_error(&e, lang),
    }
}

/// Whether `caller` may ask `req`: 401 without a login or token, 403 outside the role or for a
/// session write without its CSRF token. Endpoints that run several requests check each here.
pub fn admit(
    caller: &Caller,
    headers: &HeaderMap,
    write: bool,
    req: &Request,
) -> Result<(), Box<Response>> {
    let lang = lang_of(headers);
    let Some(role) = caller.role() else {
        let (en, zh) = match caller {
            Caller::Anonymous { bad_token: true } => (
                "the API token is not valid (revoked or mistyped)",
                "API 令牌无效（已吊销或输入有误）",
            ),
            _ => ("log in or give an API token", "请先登录或提供 API 令牌"),
        };
        return Err(Box::new(
            error_body(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                zh,
                en,
                None,
                lang,
            )
            .into_response(),
        ));
    };
    if !auth::allowed(role, req) {
        let need = auth::min_role(req);
        return Err(Box::new(
            error_body(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!(
                    "{}无权执行此操作（需要{}）",
                    role.label_zh(),
                    need.label_zh()
                ),
                &format!(
                    "a {} may not do this (needs {})",
                    role.as_str(),
                    need.as_str()
                ),
                None,
                lang,
            )
            .into_response(),
        ));
    }
    if write {
        let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if !caller.csrf_ok(given) {
            return Err(Box::new(
                error_body(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "页面已过期，请刷新后重试（缺少或错误的 CSRF 令牌）",
                    "the page is stale: reload it and try again (missing or wrong CSRF token)",
                    None,
                    lang,
                )
                .into_response(),
            ));
        }
    }
    Ok(())
}

/// A JSON body of type `B`, strictly: malformed JSON, a field `B` does not have, or a field of
/// the wrong type is refused naming the field.
pub fn parse_body<B: DeserializeOwned + Default + Serialize>(bytes: &[u8]) -> Result<B, NodeError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            bad(
                "bad-json",
                None,
                format!("the body is not valid JSON: {e}"),
                format!("请求内容不是有效的 JSON：{e}"),
            )
        })?
    };
    parse_value(value)
}

/// [`parse_body`] over a value already parsed (a form's fields, as strings, are coerced to
/// numbers and booleans where `B` wants them).
pub fn parse_value<B: DeserializeOwned + Default + Serialize>(
    value: Value,
) -> Result<B, NodeError> {
    let Value::Object(map) = value else {
        return Err(bad(
            "bad-json",
            None,
            "the body must be a JSON object".into(),
            "请求内容必须是 JSON 对象".into(),
        ));
    };
    let known = match serde_json::to_value(B::default()) {
        Ok(Value::Object(k)) => k,
        _ => serde_json::Map::new(),
    };
    for key in map.keys() {
        if !known.contains_key(key) {
            // A key of spaces or none at all names nothing: the body is at fault (found by the
            // `http_body` fuzz target, which refused `{"":"x"}` naming the field "").
            let (field, shown) = match key.trim().is_empty() {
                true => ("body", format!("{key:?}")),
                false => (key.as_str(), key.clone()),
            };
            return Err(NodeError::usage(
                field,
                format!("unknown field {shown}"),
                format!("未知字段 {shown}"),
            ));
        }
    }
    serde_json::from_value(Value::Object(map.clone())).map_err(|e| {
        let field = map
            .iter()
            .find(|(k, v)| serde_json::from_value::<B>(json!({ k.as_str(): v })).is_err())
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "body".into());
        NodeError::usage(
            field,
            format!("wrong type: {e}"),
            "类型错误（应为数字、文字或是/否）",
        )
    })
}

/// One endpoint: how to make its handler for a method, and what the OpenAPI document says of
/// its inputs.
pub struct Spec {
    make: Box<dyn FnOnce(MethodFilter) -> MethodRouter<AppState>>,
    query: Vec<String>,
    body: Vec<String>,
}

fn keys_of<T: Default + Serialize>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

type Made = Result<Request, NodeError>;

fn answer_err(e: NodeError, headers: &HeaderMap) -> Response {
    node_error(&e, lang_of(headers))
}

/// An endpoint that takes nothing.
pub fn none(f: fn() -> Made) -> Spec {
    Spec {
        make: Box::new(move |m| {
            on(
                m,
                move |State(s): State<AppState>, caller: Caller, method: Method, h: HeaderMap| async move {
                    match f() {
                        Ok(req) => call(&s, &caller, &h, auth::is_write_method(&method), req).await,
                        Err(e) => answer_err(e, &h),
                    }
                },
            )
        }),
        query: Vec::new(),
        body: Vec::new(),
    }
}

/// An endpoint that takes a query string of type `Q`.
pub fn query<Q: DeserializeOwned + Default + Serialize + Send + 'static>(f: fn(Q) -> Made) -> Spec {
    Spec {
        make: Box::new(move |m| {
            on(
                m,
                move |State(s): State<AppState>,
                      caller: Caller,
                      method: Method,
                      h: HeaderMap,
                      uri: Uri| async move {
                    if caller.role().is_none() {
                        return call(&s, &caller, &h, false, Request::Status).await;
                    }
                    let q = match Query::<Q>::try_from_uri(&uri) {
                        Ok(Query(q)) => q,
                        Err(e) => {
                            return answer_err(
                                NodeError::usage(
                                    "query",
                                    format!("bad query string: {}", e.body_text()),
                                    format!("查询参数有误：{}", e.body_text()),
                                ),
                                &h,
                            );
                        }
                    };
                    match f(q) {
                        Ok(req) => call(&s, &caller, &h, auth::is_write_method(&method), req).await,
                        Err(e) => answer_err(e, &h),
                    }
                },
            )
        }),
        query: keys_of::<Q>(),
        body: Vec::new(),
    }
}

/// An endpoint on one record (`{id}` in the path).
pub fn id(f: fn(String) -> Made) -> Spec {
    Spec {
        make: Box::new(move |m| {
            on(
                m,
                move |State(s): State<AppState>,
                      caller: Caller,
                      method: Method,
                      h: HeaderMap,
                      Path(id): Path<String>| async move {
                    match f(id) {
                        Ok(req) => call(&s, &caller, &h, auth::is_write_method(&method), req).await,
                        Err(e) => answer_err(e, &h),
                    }
                },
            )
        }),
        query: Vec::new(),
        body: Vec::new(),
    }
}

/// An endpoint that takes a JSON body of type `B`.
pub fn body<B: DeserializeOwned + Default + Serialize + Send + 'static>(f: fn(B) -> Made) -> Spec {
    Spec {
        make: Box::new(move |m| {
            on(
                m,
                move |State(s): State<AppState>,
                      caller: Caller,
                      method: Method,
                      h: HeaderMap,
                      bytes: Bytes| async move {
                    // Who asks comes before what they sent: a stranger learns nothing of the rules.
                    if caller.role().is_none() {
                        return call(&s, &caller, &h, true, Request::Status).await;
                    }
                    match parse_body::<B>(&bytes).and_then(f) {
                        Ok(req) => call(&s, &caller, &h, auth::is_write_method(&method), req).await,
                        Err(e) => answer_err(e, &h),
                    }
                },
            )
        }),
        query: Vec::new(),
        body: keys_of::<B>(),
    }
}

/// An endpoint with its own handler (one that runs several requests, each checked with
/// [`admit`]); `query` names its query keys for the OpenAPI document.
pub fn custom(
    make: impl FnOnce(MethodFilter) -> MethodRouter<AppState> + 'static,
    query: &[&str],
) -> Spec {
    Spec {
        make: Box::new(make),
        query: query.iter().map(|q| q.to_string()).collect(),
        body: Vec::new(),
    }
}

/// An endpoint on one record that takes a JSON body of type `B`.
pub fn id_body<B: DeserializeOwned + Default + Serialize + Send + 'static>(
    f: fn(String, B) -> Made,
) -> Spec {
    Spec {
        make: Box::new(move |m| {
            on(
                m,
                move |State(s): State<AppState>,
                      caller: Caller,
                      method: Method,
                      h: HeaderMap,
                      Path(id): Path<String>,
                      bytes: Bytes| async move {
                    if caller.role().is_none() {
                        return call(&s, &caller, &h, true, Request::Status).await;
                    }
                    match parse_body::<B>(&bytes).and_then(|b| f(id, b)) {
                        Ok(req) => call(&s, &caller, &h, auth::is_write_method(&method), req).await,
                        Err(e) => answer_err(e, &h),
                    }
                },
            )
        }),
        query: Vec::new(),
        body: keys_of::<B>(),
    }
}

/// The API's router and its OpenAPI description, built together.
pub struct Api {
    router: Router<AppState>,
    paths: Vec<(String, &'static str, &'static str, Vec<String>, Vec<String>)>,
}

impl Api {
    fn new() -> Api {
        Api {
            router: Router::new(),
            paths: Vec::new(),
        }
    }
    fn add(mut self, method: &'static str, path: &str, summary: &'static str, spec: Spec) -> Api {
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            "put" => MethodFilter::PUT,
            "patch" => MethodFilter::PATCH,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, (spec.make)(filter));
        self.paths
            .push((path.to_string(), method, summary, spec.query, spec.body));
        self
    }
    pub fn get(self, path: &str, summary: &'static str, spec: Spec) -> Api {
        self.add("get", path, summary, spec)
    }
    pub fn post(self, path: &str, summary: &'static str, spec: Spec) -> Api {
        self.add("post", path, summary, spec)
    }
    pub fn patch(self, path: &str, summary: &'static str, spec: Spec) -> Api {
        self.add("patch", path, summary, spec)
    }
    pub fn put(self, path: &str, summary: &'static str, spec: Spec) -> Api {
        self.add("put", path, summary, spec)
    }
    pub fn delete(self, path: &str, summary: &'static str, spec: Spec) -> Api {
        self.add("delete", path, summary, spec)
    }
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReviewBody {
    pub approve: bool,
    pub reason: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReasonBody {
    pub reason: String,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OutcomeBody {
    pub outcome: String,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PriorityQuery {
    pub priority: bool,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StatusQuery {
    pub status: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MatchQuery {
    pub worker: Option<String>,
    pub post: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub limit: Option<usize>,
    pub after: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlacementQuery {
    pub post: Option<String>,
    pub worker: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DirectoryBody {
    pub address: Option<String>,
    pub hours: Option<String>,
    pub hotline: Option<String>,
    pub services: Option<String>,
    pub rules: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RegionQuery {
    pub region: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoginBody {
    pub name: String,
    pub password: String,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PushQuery {
    pub post: Option<String>,
    pub days: Option<i64>,
    pub limit: Option<usize>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PushMarkBody {
    pub worker: Option<String>,
    pub result: Option<String>,
    pub note: Option<String>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PushSendBody {
    pub post: Option<String>,
    pub worker: Option<String>,
    pub days: Option<i64>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AssistQuery {
    pub worker: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WorkerQuery {
    pub worker: Option<String>,
}

fn match_request(q: MatchQuery) -> Made {
    match (q.worker, q.post) {
        (Some(id), None) => Ok(Request::MatchWorker {
            id,
            limit: q.limit,
            lang: String::new(),
        }),
        (None, Some(id)) => Ok(Request::MatchPost {
            id,
            limit: q.limit,
            lang: String::new(),
        }),
        _ => Err(NodeError::usage(
            "worker",
            "give either worker or post",
            "请指定 worker（劳动者）或 post（岗位）之一",
        )),
    }
}

/// Every API endpoint. One line per endpoint: complaints, reports, supervision and audit add
/// theirs here as their services land.
pub fn table() -> Api {
    Api::new()
        .get(
            "/api/posts",
            "岗位列表 List posts",
            query(|f: PostFilter| Ok(Request::PostList(f))),
        )
        .post(
            "/api/posts",
            "发布岗位 Create a post (pending review)",
            body(|f: PostFields| Ok(Request::PostCreate(f))),
        )
        .get(
            "/api/posts/{id}",
            "岗位详情 Show a post",
            id(|id| Ok(Request::PostShow { id })),
        )
        .patch(
            "/api/posts/{id}",
            "修改岗位 Update a post",
            id_body(|id, fields: PostFields| Ok(Request::PostUpdate { id, fields })),
        )
        .get(
            "/api/review",
            "待审核岗位 The review queue with findings",
            query(|q: PageQuery| {
                Ok(Request::PostReviewQueue {
                    limit: q.limit,
                    after: q.after,
                })
            }),
        )
        .post(
            "/api/posts/{id}/review",
            "审核岗位 Approve or reject a post",
            id_body(|id, b: ReviewBody| {
                Ok(Request::PostReview {
                    id,
                    approve: b.approve,
                    reason: b.reason,
                })
            }),
        )
        .get(
            "/api/employers",
            "用工主体列表 List employers",
            query(|q: StatusQuery| Ok(Request::EmployerList { status: q.status })),
        )
        .post(
            "/api/employers",
            "登记用工主体 Register an employer",
            body(|f: EmployerFields| Ok(Request::EmployerRegister(f))),
        )
        .get(
            "/api/employers/{id}",
            "用工主体详情 Show an employer",
            id(|id| Ok(Request::EmployerShow { id })),
        )
        .patch(
            "/api/employers/{id}",
            "修改用工主体 Update an employer",
            id_body(|id, fields: EmployerFields| Ok(Request::EmployerUpdate { id, fields })),
        )
        .post(
            "/api/employers/{id}/suspend",
            "暂停用工主体 Suspend an employer",
            id_body(|id, b: ReasonBody| {
                Ok(Request::EmployerSuspend {
                    id,
                    reason: b.reason,
                })
            }),
        )
        .get(
            "/api/workers",
            "劳动者列表 List workers, priority first",
            query(|q: PriorityQuery| {
                Ok(Request::WorkerList {
                    priority: q.priority,
                })
            }),
        )
        .post(
            "/api/workers",
            "登记劳动者 Register a worker",
            body(|f: WorkerFields| Ok(Request::WorkerRegister(f))),
        )
        .get(
            "/api/workers/{id}",
            "劳动者详情 Show a worker",
            id(|id| Ok(Request::WorkerShow { id })),
        )
        .patch(
            "/api/workers/{id}",
            "修改劳动者 Update a worker",
            id_body(|id, fields: WorkerFields| Ok(Request::WorkerUpdate { id, fields })),
        )
        .delete(
            "/api/workers/{id}",
            "注销劳动者 Deregister a worker",
            id(|id| Ok(Request::WorkerDeregister { id })),
        )
        .get(
            "/api/match",
            "匹配 Posts for a worker or workers for a post",
            query(match_request),
        )
        .get(
            "/api/placements",
            "上岗记录 List placements",
            query(|q: PlacementQuery| {
                Ok(Request::PlacementList {
                    post: q.post,
                    worker: q.worker,
                })
            }),
        )
        .post(
            "/api/placements",
            "确认上岗 Confirm a placement",
            body(|f: PlacementFields| Ok(Request::PlacementConfirm(f))),
        )
        .post(
            "/api/placements/{id}/cancel",
            "取消上岗 Cancel a placement",
            id_body(|id, b: ReasonBody| {
                Ok(Request::PlacementCancel {
                    id,
                    reason: b.reason,
                })
            }),
        )
        .post(
            "/api/placements/{id}/end",
            "结束上岗 End a placement",
            id_body(|id, b: OutcomeBody| {
                Ok(Request::PlacementEnd {
                    id,
                    outcome: b.outcome,
                })
            }),
        )
        .get(
            "/api/directory",
            "名录 The directory of markets and stations",
            query(|q: RegionQuery| Ok(Request::DirectoryList { region: q.region })),
        )
        .put(
            "/api/directory",
            "本站名录 Set this station's directory entry",
            body(|b: DirectoryBody| {
                Ok(Request::DirectorySet {
                    address: b.address,
                    hours: b.hours,
                    hotline: b.hotline,
                    services: b.services,
                    rules: b.rules,
                })
            }),
        )
        .get(
            "/api/status",
            "节点状态 What this node holds and whom it talks to",
            none(|| Ok(Request::Status)),
        )
        .get(
            "/api/push",
            "推送清单 Workers to contact for newly approved posts, priority first",
            query(|q: PushQuery| {
                Ok(Request::PushList {
                    post: q.post,
                    days: q.days,
                    limit: q.limit,
                    lang: String::new(),
                })
            }),
        )
        .post(
            "/api/push/{id}/mark",
            "记录推送结果 Record the result of contacting a worker about a post",
            id_body(|post, b: PushMarkBody| {
                Ok(Request::PushMark {
                    post,
                    worker: b.worker,
                    result: b.result,
                    note: b.note,
                })
            }),
        )
        .post(
            "/api/push/send",
            "发送推送 Send the push lists' messages through the configured command",
            body(|b: PushSendBody| {
                Ok(Request::PushSend {
                    post: b.post,
                    worker: b.worker,
                    days: b.days,
                })
            }),
        )
        .get(
            "/api/assist",
            "帮扶台账 Assistance records, newest first",
            query(|q: AssistQuery| {
                Ok(Request::AssistList {
                    worker: q.worker,
                    kind: q.kind,
                    limit: q.limit,
                })
            }),
        )
        .post(
            "/api/assist",
            "记录帮扶 Record assistance given to a worker",
            body(|f: AssistFields| Ok(Request::AssistLog(f))),
        )
        .get(
            "/api/assist/due",
            "帮扶待办 Priority workers behind their yearly targets",
            query(|q: WorkerQuery| Ok(Request::AssistDue { worker: q.worker })),
        )
}

/// The API's routes, the session endpoints and `/openapi.json`.
pub fn routes() -> Router<AppState> {
    let api = super::oversight::api(table());
    let doc = openapi(&api.paths);
    api.router
        .route("/api/login", axum::routing::post(login))
        .route("/api/logout", axum::routing::post(logout))
        .route("/api/session", axum::routing::get(session))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], doc) }
            }),
        )
}

/// `POST /api/login {name, password}`: sets the session cookie; answers the name, role and the
/// session's CSRF token.
async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&h);
    let b: LoginBody = match parse_body(&bytes) {
        Ok(b) => b,
        Err(e) => return node_error(&e, lang),
    };
    match Auth::login(&s, &b.name, &b.password, Some(addr)).await {
        Ok((id, session)) => (
            [(header::SET_COOKIE, auth::session_cookie(&id))],
            Json(json!({ "name": session.name, "role": session.role.as_str(), "csrf": session.csrf })),
        )
            .into_response(),
        Err(e) => login_error(e, lang).into_response(),
    }
}

/// The answer to a failed login.
pub fn login_error(e: LoginError, lang: &str) -> (StatusCode, Json<Value>) {
    match e {
        LoginError::Wrong => error_body(
            StatusCode::UNAUTHORIZED,
            "login-failed",
            "用户名或密码错误",
            "wrong name or password",
            Some("password"),
            lang,
        ),
        LoginError::Locked(secs) => error_body(
            StatusCode::TOO_MANY_REQUESTS,
            "login-locked",
            &format!("登录失败次数过多，请 {secs} 秒后再试"),
            &format!("too many failed logins; try again in {secs} s"),
            None,
            lang,
        ),
        LoginError::Node(e) => {
            let r = crate::control::ErrorReply::from(&e);
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                &r.code,
                &r.message_zh,
                &r.message_en,
                None,
                lang,
            )
        }
    }
}

async fn logout(State(s): State<AppState>, caller: Caller) -> Response {
    if let Caller::Staff { id, .. } = &caller {
        s.auth.logout(id);
    }
    (
        [(header::SET_COOKIE, auth::clear_cookie())],
        Json(json!({ "logged_out": true })),
    )
        .into_response()
}

async fn session(caller: Caller, h: HeaderMap) -> Response {
    match caller.role() {
        Some(role) => Json(json!({
            "name": caller.name(),
            "role": role.as_str(),
            "csrf": caller.csrf(),
        }))
        .into_response(),
        None => error_body(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "请先登录",
            "log in first",
            None,
            lang_of(&h),
        )
        .into_response(),
    }
}

/// The OpenAPI 3.1 document of the table, built with utoipa.
fn openapi(paths: &[(String, &'static str, &'static str, Vec<String>, Vec<String>)]) -> String {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{
        ContentBuilder, HttpMethod, InfoBuilder, ObjectBuilder, OpenApiBuilder, PathItem,
        PathsBuilder, Required, ResponseBuilder, Type,
    };
    let error = || {
        ContentBuilder::new()
            .schema(Some(
                ObjectBuilder::new().property(
                    "error",
                    ObjectBuilder::new()
                        .property("code", ObjectBuilder::new().schema_type(Type::String))
                        .property("message", ObjectBuilder::new().schema_type(Type::String))
                        .property("field", ObjectBuilder::new().schema_type(Type::String)),
                ),
            ))
            .build()
    };
    let mut builder = PathsBuilder::new();
    for (path, method, summary, query, body) in paths {
        let http = match *method {
            "get" => HttpMethod::Get,
            "post" => HttpMethod::Post,
            "put" => HttpMethod::Put,
            "patch" => HttpMethod::Patch,
            _ => HttpMethod::Delete,
        };
        let mut op = OperationBuilder::new()
            .summary(Some(*summary))
            .tag(path.split('/').nth(2).unwrap_or("api"))
            .response(
                "200",
                ResponseBuilder::new().description("the service's answer (JSON)"),
            );
        for (code, what) in [
            (
                "400",
                "bad input: the field and the rule, in the Accept-Language language",
            ),
            ("401", "no valid login or token"),
            (
                "403",
                "outside the caller's role, or a session write without its CSRF token",
            ),
            ("404", "no such record here"),
            ("413", "body over the limit"),
        ] {
            op = op.response(
                code,
                ResponseBuilder::new()
                    .description(what)
                    .content("application/json", error()),
            );
        }
        if path.contains("{id}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("the record's id, or enough of its start")),
            );
        }
        for q in query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(q)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False),
            );
        }
        if !body.is_empty() {
            let mut obj = ObjectBuilder::new();
            for b in body {
                obj = obj.property(b, ObjectBuilder::new());
            }
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(obj)).build(),
                    )
                    .build(),
            ));
        }
        builder = builder.path(path.clone(), PathItem::new(http, op.build()));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("lingong node API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The JSON API of one lingong node (零工驿站). Log in with POST /api/login \
                     (cookie session; writes need the X-CSRF-Token header) or send \
                     Authorization: Bearer <token> (lingong token add).",
                )),
        )
        .paths(builder.build())
        .build()
        .to_pretty_json()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_id_number_never_leaves() {
        let mut v = json!({ "a": ["11010519491231002X", "not an id", 5], "b": { "c": "11010519491231002X" } });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("11010519491231002X"), "{text}");
        assert!(text.contains("not an id"));
    }

    #[test]
    fn a_body_with_an_unknown_or_mistyped_field_names_it() {
        let e = parse_body::<PostFields>(br#"{"title":"x","colour":"red"}"#).unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("colour"));
        let e = parse_body::<PostFields>(br#"{"title":"x","wage":"lots"}"#).unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("wage"));
        assert!(parse_body::<PostFields>(b"{nope").is_err());
        assert!(parse_body::<PostFields>(br#"{"title":"x","wage":150}"#).is_ok());
        // A key with no name is the body's fault, and the message shows the key quoted.
        let e = parse_body::<PostFields>(br#"{"title":"x","":"y"}"#).unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("body"));
        assert!(e.to_string().contains(r#"unknown field """#), "{e}");
    }
}
