//! Oversight on the web: complaints, the month's service report, supervision, audit and the
//! node's sync state, as JSON endpoints ([`api`], added to the API's one table so they are in
//! `/openapi.json`) and as console pages. Every endpoint and every form becomes a [`Request`]
//! and goes through the daemon's executor (`request::dispatch`, the services the command line
//! calls); nothing here computes a figure, a deadline or a status of its own.
//!
//! Pages (staff only, Chinese first, `?lang=en` for English; laid out for 1366×768):
//! - `/complaints`: file a complaint (any role); the list with status, deadline and overdue
//!   marks, and `?id=` one complaint with its signed status history and the update form
//!   (supervisor and admin, as `auth::min_role` says);
//! - `/report?period=2026-11`: the figures as a table, the child regions, a bar chart of the
//!   last six months drawn on the server as inline SVG (no script), the seal state, the seal
//!   and verify buttons; each month's report is reused while the store's count of durable
//!   writes is unchanged (`Web::reports`), since each reads the records held; a report not
//!   computed again within the page's wait (`report_wait_ms`, counted from the request's
//!   arrival) after a commit is shown from before the last commits, with a banner saying so,
//!   while it is computed again. Nothing is computed before the page is asked for,
//!   and a computation lets go of the station between slices of its walk
//!   (`services::reports::report_in_slices`), so writes do not wait for it. When no figures
//!   of the report are held yet and its first computation takes longer than the page's wait,
//!   the page answers at once with its frame and the computation's progress (rows walked),
//!   without a seal form; its script (`static/report.js`) asks `/report/status` (JSON, same
//!   session) every half second and swaps the figures in when they are all computed, and
//!   without script the page refreshes itself. One computation per (period, region) at a
//!   time ([`Flight`]), whoever asks;
//! - `/supervision`: the stations that need attention with their reasons, a rectification
//!   order with a deadline for each, and the orders held;
//! - `/audit?run=1`: the audit's counts and problems;
//! - `/sync`: peers, their last completed session (last contact), connection and clock offset,
//!   this node's own changes signed since the last session with a parent (what may still wait
//!   to go up), the last USB bundle exported and imported (`services::bundle::last`), listen
//!   addresses and open forks.
//!
//! A refused form is shown again with what was typed and the message next to the field, and
//! nothing is changed (the services validate before they stage anything).

use super::AppState;
use super::api::{self, Api, admit, body, custom, id, id_body, lang_of, node_error, none, query};
use super::auth::{self, Caller};
use super::pages::{
    L, Refused, StaffPage, clock, employer_options, field, form_to, html_response, kind_name,
    layout, place, s, select, short, urlencode,
};
use crate::error::NodeError;
use crate::request::{ComplaintFields, ComplaintUpdate, Request};
use crate::services::staff::Role;
use axum::Json;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, on, post};
use lingong_protocol::schema::{Choice, ComplaintKind, ComplaintStatus, Finding};
use maud::{Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The report page's script: its wait for figures being computed (`static/report.js`).
const REPORT_JS: &str = include_str!("static/report.js");

// ----- the JSON API ----------------------------------------------------------------------------

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ComplaintQuery {
    pub status: Option<String>,
    pub overdue: bool,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    pub period: Option<String>,
    pub region: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SealBody {
    pub period: Option<String>,
    pub amend: bool,
    pub reason: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifyQuery {
    pub period: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SuperviseQuery {
    pub stale_days: Option<u32>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderBody {
    /// The station's node id (12D3KooW…).
    pub node: Option<String>,
    pub reason: Option<String>,
    pub deadline: Option<String>,
}

/// A period as the service reads it: a missing one is refused there, naming `period`.
fn period_of(p: Option<String>) -> String {
    p.unwrap_or_default()
}

fn seal_request(b: SealBody) -> Request {
    Request::ReportSeal {
        period: period_of(b.period),
        amend: b.amend,
        reason: b.reason.filter(|r| !r.trim().is_empty()),
    }
}

fn order_request(b: OrderBody) -> Request {
    Request::SuperviseOrder {
        node_id: b.node.unwrap_or_default(),
        reason: b.reason.unwrap_or_default(),
        deadline: b.deadline.unwrap_or_default(),
    }
}

/// The oversight endpoints, added to the API's table (and so to `/openapi.json`).
pub fn api(table: Api) -> Api {
    table
        .post(
            "/api/complaints",
            "登记投诉 File a complaint",
            body(|f: ComplaintFields| Ok(Request::ComplaintFile(f))),
        )
        .get(
            "/api/complaints",
            "投诉列表 List complaints with deadlines (status, overdue)",
            query(|q: ComplaintQuery| {
                Ok(Request::ComplaintList {
                    status: q.status.filter(|s| !s.is_empty()),
                    overdue: q.overdue,
                })
            }),
        )
        .get(
            "/api/complaints/{id}",
            "投诉详情 Show a complaint with its signed status history",
            id(|id| Ok(Request::ComplaintShow { id })),
        )
        .patch(
            "/api/complaints/{id}",
            "处理投诉 Step a complaint forward (supervisor or admin, filing station or above)",
            id_body(|id, update: ComplaintUpdate| Ok(Request::ComplaintUpdate { id, update })),
        )
        .get(
            "/api/reports",
            "成效表 A period's figures (period=2026-11 or 2026-Q4, region)",
            query(|q: ReportQuery| {
                Ok(Request::Report {
                    period: period_of(q.period),
                    region: q.region.filter(|r| !r.is_empty()),
                    csv: false,
                })
            }),
        )
        .post(
            "/api/reports/seal",
            "报表签章 Seal a period's report (supervisor or admin)",
            body(|b: SealBody| Ok(seal_request(b))),
        )
        .get(
            "/api/reports/verify",
            "核验签章 Recompute every seal in force held here",
            query(|q: VerifyQuery| {
                Ok(Request::ReportVerify {
                    period: q.period.filter(|p| !p.is_empty()),
                })
            }),
        )
        .get(
            "/api/supervision",
            "督查 Stations below that need attention, with their reasons",
            query(|q: SuperviseQuery| {
                Ok(Request::Supervise {
                    stale_days: q.stale_days,
                })
            }),
        )
        .get(
            "/api/supervision/orders",
            "整改通知 Rectification orders held, with their computed status",
            none(|| Ok(Request::SuperviseOrders)),
        )
        .post(
            "/api/supervision/orders",
            "下达整改通知 Issue a rectification order with a deadline",
            body(|b: OrderBody| Ok(order_request(b))),
        )
        .get(
            "/api/audit",
            "审计 Check every signature, chain, log and seal held",
            none(|| Ok(Request::Audit)),
        )
        .get(
            "/api/sync",
            "同步状态 Peers, last contact, own changes since the last session with a parent",
            custom(|m| on(m, sync_api), &[]),
        )
}

/// The sync state: `status` (with the daemon's live peers) and this node's own changes
/// signed since the last completed session with a parent.
async fn sync_state(state: &AppState) -> Result<Value, NodeError> {
    let status = state.run(Request::Status).await?;
    let mine = state.region.clone();
    let parents: Vec<&Value> = status["peers"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter(|p| {
                    let r = s(&p["region"]);
                    !r.is_empty() && r.len() < mine.len() && mine.starts_with(r)
                })
                .collect()
        })
        .unwrap_or_default();
    let parent_last = parents
        .iter()
        .filter_map(|p| p["last_sync"].as_str())
        .max()
        .map(str::to_string);
    let waiting = state
        .run(Request::SyncWaiting {
            since: parent_last.clone(),
        })
        .await?;
    // The peers' station names, from the directory held here.
    let mut peers = status["peers"].clone();
    if let Ok(Value::Array(rows)) = state.run(Request::DirectoryList { region: None }).await
        && let Some(list) = peers.as_array_mut()
    {
        for p in list {
            if let Some(row) = rows.iter().find(|r| r["node_id"] == p["peer"]) {
                p["name"] = row["name"].clone();
            }
        }
    }
    Ok(json!({
        "node_id": status["node_id"],
        "name": status["name"],
        "region": status["region"],
        "level": status["level"],
        "daemon": status["daemon"],
        "listen": status["listen"],
        "peers": peers,
        "parent_connected": parents.iter().any(|p| p["connected"] == true),
        "parent_last_sync": parent_last,
        "last_bundle": waiting["last_bundle"].clone(),
        "waiting_up": waiting,
        "records": status["records"],
        "forks": status["forks"],
    }))
}

async fn sync_api(State(state): State<AppState>, caller: Caller, h: HeaderMap) -> Response {
    for req in [
        Request::Status,
        Request::SyncWaiting { since: None },
        Request::DirectoryList { region: None },
    ] {
        if let Err(refused) = admit(&caller, &h, false, &req) {
            return *refused;
        }
    }
    match sync_state(&state).await {
        Ok(mut v) => {
            api::redact(&mut v);
            Json(v).into_response()
        }
        Err(e) => node_error(&e, lang_of(&h)),
    }
}

// ----- console pages ---------------------------------------------------------------------------

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/complaints", get(complaints_page).post(complaint_file))
        .route("/complaints/{id}", post(complaint_update))
        .route("/report", get(report_page))
        .route("/report/seal", post(report_seal))
        .route("/report/status", get(report_status))
        .route(
            "/static/report.js",
            super::pages::static_file("text/javascript; charset=utf-8", REPORT_JS),
        )
        .route("/supervision", get(supervision_page))
        .route("/supervision/order", post(supervision_order))
        .route("/audit", get(audit_page))
        .route("/sync", get(sync_page))
}

/// The oversight links of the console's tab bar (`active`: the page shown).
pub(super) fn nav_links(lang: L, role: Role, active: &str) -> Markup {
    let links: [(&str, &str, &str, Role); 5] = [
        ("/complaints", "投诉", "Complaints", Role::Clerk),
        ("/report", "成效报表", "Report", Role::Supervisor),
        ("/supervision", "督查", "Supervision", Role::Supervisor),
        ("/audit", "审计", "Audit", Role::Supervisor),
        ("/sync", "同步状态", "Sync state", Role::Clerk),
    ];
    html! {
        @for (href, zh, en, need) in links {
            @if role >= need {
                a.on[active == href] href=(href) { (lang.t(zh, en)) }
            }
        }
    }
}

/// The header and tab bar of an oversight page.
pub(super) fn top(state: &AppState, caller: &Caller, lang: L, active: &str) -> Markup {
    let role = caller.role().unwrap_or(Role::Clerk);
    let csrf = caller.csrf().unwrap_or("");
    html! {
        header.top {
            strong { (state.name) " · " (lang.t("零工驿站工作台", "Station console")) }
            span.who {
                (caller.name()) " (" (if lang.en() { role.as_str() } else { role.label_zh() }) ") "
                @if lang.en() { a href="?lang=zh" { "中文" } } @else { a href="?lang=en" { "English" } }
                " "
                form method="post" action="/logout" class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.quiet type="submit" { (lang.t("退出", "Log out")) }
                }
            }
        }
        nav.tabs {
            a href="/" { (lang.t("工作台", "Console")) }
            (super::desk::nav_links(lang, role, active))
            (nav_links(lang, role, active))
        }
    }
}

/// The way to the login page, for a page asked without a login.
pub(super) fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// The page a role may not see: 403 with the role it needs.
pub(super) fn forbidden(
    state: &AppState,
    caller: &Caller,
    lang: L,
    active: &str,
    need: Role,
) -> Response {
    let q = HashMap::new();
    html_response(
        StatusCode::FORBIDDEN,
        lang,
        &q,
        layout(
            lang,
            "403",
            top(state, caller, lang, active),
            html! {
                div.banner.err #error role="alert" {
                    (lang.t("您的角色无权查看此页面，需要：", "Your role may not see this page; it needs: "))
                    (if lang.en() { need.as_str() } else { need.label_zh() })
                }
            },
        ),
    )
}

/// The page shown for a form whose CSRF token is missing or wrong (a stale page, a replay).
pub(super) fn stale(state: &AppState, caller: &Caller, lang: L, back: &str) -> Response {
    let q = HashMap::new();
    html_response(
        StatusCode::FORBIDDEN,
        lang,
        &q,
        layout(
            lang,
            "403",
            top(state, caller, lang, back),
            html! {
                div.banner.err #error role="alert" { (lang.t("页面已过期或表单被重复提交，请返回刷新后重试", "The page is stale or the form was replayed: go back, reload and try again")) }
                p { a href=(back) { (lang.t("返回", "Back")) } }
            },
        ),
    )
}

/// The error a refused form shows, with what was typed (never the CSRF token).
pub(super) fn refused(form: &str, f: &BTreeMap<String, String>, e: &NodeError, lang: L) -> Refused {
    Refused {
        form: form.to_string(),
        values: f
            .iter()
            .filter(|(k, _)| *k != "csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        field: api::field_of(e).map(|x| x.replace('-', "_")),
        message: e.message(lang.0),
    }
}

/// The banners: done, or not saved with the field named.
pub(super) fn banners(lang: L, done: Option<&String>, r: Option<&Refused>) -> Markup {
    html! {
        @if let Some(d) = done { div.banner.ok #done role="status" { (d) } }
        @if let Some(r) = r {
            div.banner.err #error role="alert" {
                (lang.t("未保存，请检查：", "Not saved, please check: "))
                @if let Some(f) = &r.field { "「" (f) "」 " }
                (r.message)
            }
        }
    }
}

/// A checkbox whose value is `true` when ticked.
fn checkbox(
    lang: L,
    name: &str,
    zh: &'static str,
    en: &'static str,
    r: Option<&Refused>,
    form: &str,
) -> Markup {
    let mine = r.filter(|r| r.form == form);
    let bad = mine.is_some_and(|r| r.field.as_deref() == Some(name));
    let on = mine
        .and_then(|r| r.values.get(name))
        .is_some_and(|v| v == "true");
    let id = format!("{form}-{name}");
    html! {
        div.field.check.bad[bad] data-field=(name) {
            label for=(id) { input id=(id) type="checkbox" name=(name) value="true" checked[on]; " " (lang.t(zh, en)) }
            @if bad { div.err role="alert" { (mine.map(|r| r.message.as_str()).unwrap_or("")) } }
        }
    }
}

/// The page-language text of value `v` in an option table (`(value, 中文, English)`); the
/// placeholder row (empty value) never labels a value, and an unknown value shows as stored.
pub(super) fn label(table: &[(&str, &str, &str)], v: &str, lang: L) -> String {
    table
        .iter()
        .find(|(k, _, _)| *k == v && !k.is_empty())
        .map(|(_, zh, en)| if lang.en() { *en } else { *zh }.to_string())
        .unwrap_or_else(|| v.to_string())
}

// ----- complaints ------------------------------------------------------------------------------

async fn complaints_page(State(state): State<AppState>, p: StaffPage) -> Response {
    p.show(complaints_markup(&state, &p.caller, p.lang, &p.q, None).await)
}

async fn complaints_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    r: Option<Refused>,
) -> Markup {
    let role = caller.role().unwrap_or(Role::Clerk);
    let csrf = caller.csrf().unwrap_or("").to_string();
    let r = r.as_ref();
    let may_follow = auth::allowed(
        role,
        &Request::ComplaintList {
            status: None,
            overdue: false,
        },
    );
    let may_update = auth::allowed(
        role,
        &Request::ComplaintUpdate {
            id: String::new(),
            update: ComplaintUpdate::default(),
        },
    );
    let status_filter = q.get("status").filter(|s| !s.is_empty()).cloned();
    let overdue = q.get("overdue").is_some_and(|v| v == "1" || v == "true");
    let (list, list_error) = if may_follow {
        match state
            .run(Request::ComplaintList {
                status: status_filter.clone(),
                overdue,
            })
            .await
        {
            Ok(Value::Array(rows)) => (rows, None),
            Ok(_) => (Vec::new(), None),
            Err(e) => (Vec::new(), Some(e.message(lang.0))),
        }
    } else {
        (Vec::new(), None)
    };
    let shown_id = q.get("id").filter(|s| !s.is_empty()).cloned();
    let shown = match (&shown_id, may_follow) {
        (Some(id), true) => Some(state.run(Request::ComplaintShow { id: id.clone() }).await),
        _ => None,
    };
    let employers = match state.run(Request::EmployerList { status: None }).await {
        Ok(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let done = q.get("done");
    let body = html! {
        (banners(lang, done, r))
        @if let Some(shown) = &shown {
            section.card #complaint {
                @match shown {
                    Ok(c) => {
                        h2 { (lang.t("投诉 ", "Complaint ")) span.mono { (short(s(&c["id"]))) } " · " (lang.choice::<ComplaintKind>(s(&c["kind"]))) }
                        table.facts {
                            tr { th { (lang.t("状态", "Status")) } td #complaint-status data-status=(s(&c["status"])) { strong { (lang.choice::<ComplaintStatus>(s(&c["status"]))) } @if c["overdue"] == true { " " span.tag.late { (lang.t("逾期未受理", "overdue")) } } } }
                            tr { th { (lang.t("受理期限", "Acknowledge by")) } td { (s(&c["due"])) } }
                            tr { th { (lang.t("登记站点", "Filed at")) } td { (place(s(&c["region"]))) " · " (clock(s(&c["filed_at"]))) } }
                            tr { th { (lang.t("内容", "Text")) } td { (s(&c["text"])) } }
                            @if !c["amount"].is_null() { tr { th { (lang.t("涉及金额（元）", "Amount (yuan)")) } td { (c["amount"]) } } }
                            @if !c["recovered"].is_null() { tr { th { (lang.t("追回金额（元）", "Recovered (yuan)")) } td { (c["recovered"]) } } }
                            @if !c["finding"].is_null() { tr { th { (lang.t("调查结论", "Finding")) } td { (lang.choice::<Finding>(s(&c["finding"]))) } } }
                        }
                        h2 { (lang.t("处理记录（每一步均有签名）", "Status history (each step signed)")) }
                        table #history {
                            tr { th { (lang.t("状态", "Status")) } th { (lang.t("时间", "When")) } th { (lang.t("签名站点", "Signed by")) } th { (lang.t("说明", "Note")) } }
                            @if let Some(hist) = c["history"].as_array() {
                                @for step in hist {
                                    tr data-status=(s(&step["status"])) {
                                        td { (lang.choice::<ComplaintStatus>(s(&step["status"]))) }
                                        td { (clock(s(&step["at"]))) }
                                        td { (step["by_name"].as_str().unwrap_or("")) " " span.muted { (step["by_region"].as_str().unwrap_or("")) " " (short(s(&step["by"]))) } }
                                        td { (s(&step["note"])) @if let Some(f) = step["finding"].as_str() { " · " (lang.choice::<Finding>(f)) } @if let Some(x) = step["referred_to"].as_str() { " → " (x) } }
                                    }
                                }
                            }
                        }
                        @if may_update {
                            h2 { (lang.t("推进处理", "Step forward")) }
                            form.grid #update method="post" action={ "/complaints/" (s(&c["id"])) } {
                                input type="hidden" name="csrf" value=(csrf);
                                (select(lang, "status", "下一步状态", "Next status", &lang.options::<ComplaintStatus>(None), r, "update", next_status(s(&c["status"]))))
                                (field(lang, "note", "处理说明", "Note", "text", r, "update", html!{}))
                                (field(lang, "referred_to", "转办单位（转办时）", "Referred to (when referred)", "text", r, "update", html!{}))
                                (select(lang, "finding", "调查结论（办结时）", "Finding (when resolved)", &lang.options::<Finding>(Some(("（办结时填写）", "(when resolved)"))), r, "update", None))
                                (field(lang, "recovered", "追回金额（欠薪办结时，元）", "Recovered (wage arrears, yuan)", "number", r, "update", html!{}))
                                (checkbox(lang, "close_post", "关闭所涉岗位（县级及以上，属实时）", "Close the post (county or above, upheld)", r, "update"))
                                (checkbox(lang, "suspend_employer", "暂停用工主体（县级及以上，属实时）", "Suspend the employer (county or above, upheld)", r, "update"))
                                div.wide { button type="submit" { (lang.t("保存并签名", "Save and sign")) } }
                            }
                        }
                    }
                    Err(e) => { div.banner.err role="alert" { (e.message(lang.0)) } }
                }
            }
        }
        @if may_follow {
            section.card #list {
                h2 { (lang.t("投诉跟踪", "Complaints")) }
                form.filters method="get" action="/complaints" {
                    select name="status" {
                        option value="" { (lang.t("全部状态", "every status")) }
                        @for (v, name) in lang.options::<ComplaintStatus>(None) { option value=(v) selected[status_filter.as_deref() == Some(v)] { (name) } }
                    }
                    " "
                    label.inline { input type="checkbox" name="overdue" value="1" checked[overdue]; " " (lang.t("仅逾期", "overdue only")) }
                    " "
                    button.quiet type="submit" { (lang.t("筛选", "Filter")) }
                }
                @if let Some(e) = &list_error { div.banner.err { (e) } }
                @if list.is_empty() { p.muted { (lang.t("没有投诉", "No complaints")) } }
                @else {
                    table {
                        tr { th { (lang.t("编号", "Id")) } th { (lang.t("类型", "Kind")) } th { (lang.t("状态", "Status")) } th { (lang.t("受理期限", "Acknowledge by")) } th { (lang.t("登记", "Filed")) } th { (lang.t("站点", "Station")) } }
                        @for c in &list {
                            tr data-id=(s(&c["id"])) data-status=(s(&c["status"])) {
                                td { a href={ "/complaints?id=" (s(&c["id"])) "#complaint" } { (short(s(&c["id"]))) } }
                                td { (lang.choice::<ComplaintKind>(s(&c["kind"]))) }
                                td { (lang.choice::<ComplaintStatus>(s(&c["status"]))) }
                                td { (s(&c["due"])) @if c["overdue"] == true { " " span.tag.late { (lang.t("逾期", "overdue")) } } }
                                td { (china_date(s(&c["filed_at"]))) }
                                td { (place(s(&c["region"]))) }
                            }
                        }
                    }
                }
            }
        }
        section.card #file {
            h2 { (lang.t("登记投诉（劳动者维权）", "File a complaint")) }
            form.grid method="post" action="/complaints" {
                input type="hidden" name="csrf" value=(csrf);
                (select(lang, "kind", "投诉类型", "Kind", &lang.options::<ComplaintKind>(None), r, "file", None))
                (field(lang, "post", "所涉岗位编号（可选）", "Post id (optional)", "text", r, "file", html!{}))
                (select(lang, "employer", "所涉用工主体（可选）", "Employer (optional)", &employer_options(lang, &employers), r, "file", None))
                (field(lang, "worker", "劳动者编号（可选）", "Worker id (optional)", "text", r, "file", html!{}))
                (field(lang, "amount", "涉及金额（元，欠薪时）", "Amount (yuan, wage arrears)", "number", r, "file", html!{}))
                div.wide { (field(lang, "text", "投诉内容", "What happened", "textarea", r, "file", html!{})) }
                div.wide { button type="submit" { (lang.t("登记并签名", "File and sign")) } }
            }
        }
    };
    layout(
        lang,
        lang.t("投诉", "Complaints"),
        top(state, caller, lang, "/complaints"),
        body,
    )
}

/// The status a complaint usually goes to next (the form's default choice): the last of the
/// steps the schema allows, so a complaint being handled is resolved rather than referred.
fn next_status(current: &str) -> Option<&'static str> {
    let now = ComplaintStatus::parse("status", current).ok()?;
    now.next().last().map(|c| c.as_str())
}

/// Runs a form's request after the role and CSRF checks; `Ok` holds the service's answer.
pub(super) async fn submit(
    state: &AppState,
    caller: &Caller,
    f: &BTreeMap<String, String>,
    req: Request,
) -> Result<Value, Submit> {
    let Some(role) = caller.role() else {
        return Err(Submit::Login);
    };
    if !caller.csrf_ok(f.get("csrf").map(String::as_str)) {
        return Err(Submit::Stale);
    }
    if !auth::allowed(role, &req) {
        return Err(Submit::Forbidden(auth::min_role(&req)));
    }
    state.run(req).await.map_err(Submit::Refused)
}

/// A form's request, or the reason it could not be made (a login, a stale page, bad input).
pub(super) async fn run_form(
    state: &AppState,
    caller: &Caller,
    f: &BTreeMap<String, String>,
    made: Result<Request, NodeError>,
) -> Result<Value, Submit> {
    match made {
        Ok(req) => submit(state, caller, f, req).await,
        Err(_) if caller.role().is_none() => Err(Submit::Login),
        Err(_) if !caller.csrf_ok(f.get("csrf").map(String::as_str)) => Err(Submit::Stale),
        Err(e) => Err(Submit::Refused(e)),
    }
}

pub(super) enum Submit {
    Login,
    Stale,
    Forbidden(Role),
    Refused(NodeError),
}

async fn complaint_file(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let made = form_to::<ComplaintFields>(&f).map(Request::ComplaintFile);
    let result = run_form(&state, &caller, &f, made).await;
    match result {
        Ok(v) => {
            let id = s(&v["id"]).to_string();
            let done = format!(
                "{}（{}）",
                lang.t("投诉已登记并签名", "Complaint filed and signed"),
                short(&id)
            );
            let may_follow = caller
                .role()
                .is_some_and(|r| auth::allowed(r, &Request::ComplaintShow { id: String::new() }));
            let target = if may_follow {
                format!("/complaints?id={id}&done={}#complaint", urlencode(&done))
            } else {
                format!("/complaints?done={}", urlencode(&done))
            };
            Redirect::to(&target).into_response()
        }
        Err(e) => form_failed(&state, &caller, lang, "file", &f, e, None).await,
    }
}

async fn complaint_update(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let made = form_to::<ComplaintUpdate>(&f).map(|update| Request::ComplaintUpdate {
        id: id.clone(),
        update,
    });
    let result = run_form(&state, &caller, &f, made).await;
    match result {
        Ok(v) => {
            let done = format!(
                "{}：{}",
                lang.t("已保存并签名，状态", "Saved and signed, status"),
                lang.choice::<ComplaintStatus>(s(&v["status"]))
            );
            Redirect::to(&format!(
                "/complaints?id={}&done={}#complaint",
                urlencode(&id),
                urlencode(&done)
            ))
            .into_response()
        }
        Err(e) => form_failed(&state, &caller, lang, "update", &f, e, Some(id)).await,
    }
}

/// The answer to a refused complaint form: the page again, what was typed, the message next
/// to the field.
async fn form_failed(
    state: &AppState,
    caller: &Caller,
    lang: L,
    form: &str,
    f: &BTreeMap<String, String>,
    e: Submit,
    id: Option<String>,
) -> Response {
    match e {
        Submit::Login => Redirect::to("/login").into_response(),
        Submit::Stale => stale(state, caller, lang, "/complaints"),
        Submit::Forbidden(need) => forbidden(state, caller, lang, "/complaints", need),
        Submit::Refused(e) => {
            let status = api::status_of(&e);
            let mut q = HashMap::new();
            if let Some(id) = id {
                q.insert("id".to_string(), id);
            }
            let r = refused(form, f, &e, lang);
            let m = complaints_markup(state, caller, lang, &q, Some(r)).await;
            html_response(status, lang, &HashMap::new(), m)
        }
    }
}

// ----- the month's report ----------------------------------------------------------------------

/// The figures a report shows, in the CSV's order, with their labels.
const FIGURES: [(&str, &str, &str); 12] = crate::figures::FIGURE_LABELS;

fn figure_text(v: &Value, lang: L) -> String {
    crate::figures::figure_text(v, lang.en())
}

/// The month `n` months before `period` ("2026-11"), or None when `period` is not a month.
fn month_back(period: &str, n: i32) -> Option<String> {
    let (y, m) = period.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    let k = y * 12 + (m - 1) - n;
    Some(format!(
        "{:04}-{:02}",
        k.div_euclid(12),
        k.rem_euclid(12) + 1
    ))
}

/// The series the chart draws: (figure, label zh, label en, colour).
const SERIES: [(&str, &str, &str, &str); 2] = [
    ("posts", "发布岗位", "Posts", "#1a4f9c"),
    ("placements", "实现上岗", "Placements", "#b3261e"),
];

/// A grouped bar chart of the series per month, as inline SVG drawn here (no script, no
/// library): each bar carries its value as `data-value`, and its month as `data-month`.
pub(super) fn bar_chart(months: &[(String, Value)], lang: L) -> String {
    let (w, h) = (640.0_f64, 260.0_f64);
    let (left, right, top, bottom) = (44.0, 12.0, 30.0, 34.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = months
        .iter()
        .flat_map(|(_, r)| {
            SERIES
                .iter()
                .map(move |(k, ..)| r[*k].as_f64().unwrap_or(0.0))
        })
        .fold(0.0_f64, f64::max);
    // A round top for the scale, at least the largest bar and at least 5: 1, 2 or 5 times a
    // power of ten, with 5, 4 or 5 whole-number ticks.
    let (mut scale, mut ticks) = (5.0_f64, 5u32);
    'find: for power in 1..12 {
        for (step, n) in [(1.0, 5), (2.0, 4), (5.0, 5)] {
            if scale >= max {
                break 'find;
            }
            scale = step * 10f64.powi(power);
            ticks = n;
        }
    }
    let group = plot_w / months.len().max(1) as f64;
    let bar = (group * 0.7) / SERIES.len() as f64;
    let mut svg = format!(
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}" font-family="Noto Sans CJK SC, sans-serif" font-size="12">"##,
        lang.t("每月发布岗位与实现上岗", "Posts and placements per month")
    );
    // Axis lines and the scale's ticks.
    for i in 0..=ticks {
        let v = scale * f64::from(i) / f64::from(ticks);
        let y = top + plot_h - plot_h * f64::from(i) / f64::from(ticks);
        svg.push_str(&format!(
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#d7dbe3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5b6475">{}</text>"##,
            w - right,
            left - 6.0,
            y + 4.0,
            if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
        ));
    }
    for (i, (month, r)) in months.iter().enumerate() {
        let x0 = left + group * i as f64 + group * 0.15;
        for (j, (key, _, _, colour)) in SERIES.iter().enumerate() {
            let v = r[*key].as_f64().unwrap_or(0.0);
            let bh = if scale > 0.0 { plot_h * v / scale } else { 0.0 };
            let x = x0 + bar * j as f64;
            let y = top + plot_h - bh;
            svg.push_str(&format!(
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{colour}" data-series="{key}" data-month="{month}" data-value="{v}"><title>{month} {}: {v}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1d2330">{v}</text>"##,
                bar - 2.0,
                key,
                x + (bar - 2.0) / 2.0,
                y - 3.0,
            ));
        }
        svg.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1d2330">{month}</text>"##,
            left + group * i as f64 + group / 2.0,
            h - bottom + 16.0,
        ));
    }
    for (j, (_, zh, en, colour)) in SERIES.iter().enumerate() {
        let x = left + 140.0 * j as f64;
        svg.push_str(&format!(
            r##"<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/><text x="{:.0}" y="18" fill="#1d2330">{}</text>"##,
            x + 16.0,
            if lang.en() { en } else { zh }
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// When a request reached its handler: the first of the handler's extractors, so the instant
/// is taken before the others run (a staff page's session lookup reads the station). The
/// report page's wait for figures counts from here.
pub(super) struct Arrived(tokio::time::Instant);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Arrived {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Arrived(tokio::time::Instant::now()))
    }
}

async fn report_page(arrived: Arrived, State(state): State<AppState>, p: StaffPage) -> Response {
    match report_markup(&state, &p.caller, p.lang, &p.q, None, arrived.0).await {
        Ok(m) => p.show(m),
        Err(need) => forbidden(&state, &p.caller, p.lang, "/report", need),
    }
}

fn this_month() -> String {
    let today = lingong_protocol::dates::format_date(crate::services::today());
    today.get(..7).unwrap_or("").to_string()
}

/// The (period, region) a report page or its status asks for: this month unless `period`
/// is given, this node's region unless `region` is.
fn report_key(q: &HashMap<String, String>) -> (String, Option<String>) {
    let period = q
        .get("period")
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .unwrap_or_else(this_month);
    let region = q.get("region").filter(|p| !p.trim().is_empty()).cloned();
    (period, region)
}

/// The keys of the chart's months before `period` (the five months before a month; none
/// for a quarter), oldest first.
fn chart_keys(period: &str, region: &Option<String>) -> Vec<(String, Option<String>)> {
    (1..6)
        .rev()
        .map_while(|n| month_back(period, n))
        .map(|m| (m, region.clone()))
        .collect()
}

/// The report page's address for `key` in `lang` (its refresh link), and its status's.
fn report_url(path: &str, key: &(String, Option<String>), lang: L) -> String {
    let mut url = format!("{path}?period={}", urlencode(&key.0));
    if let Some(r) = &key.1 {
        url.push_str(&format!("&region={}", urlencode(r)));
    }
    url.push_str(&format!("&lang={}", lang.0));
    url
}

/// `report`'s arguments checked as the service checks them, before a computation is started
/// for them: a bad period or region is refused at once, naming the field, and starts nothing.
/// Checked against this node's region as read at start, without the station's lock.
fn check_report_args(state: &AppState, key: &(String, Option<String>)) -> Result<(), NodeError> {
    let here = state
        .region
        .parse::<lingong_protocol::region::RegionCode>()
        .map_err(|e| NodeError::Daemon {
            detail: format!("this node's region {}: {e}", state.region),
        })?;
    crate::services::reports::report_args_within(here, &key.0, key.1.as_deref()).map(|_| ())
}

/// The report page for `q`; `arrived`: when the request reached its handler, from which the
/// page waits at most `report_wait_ms` in all for figures being computed.
async fn report_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    r: Option<Refused>,
    arrived: tokio::time::Instant,
) -> Result<Markup, Role> {
    let role = caller.role().unwrap_or(Role::Clerk);
    let key = report_key(q);
    let (period, region) = key.clone();
    let req = Request::Report {
        period: period.clone(),
        region: region.clone(),
        csv: false,
    };
    if !auth::allowed(role, &req) {
        return Err(auth::min_role(&req));
    }
    let csrf = caller.csrf().unwrap_or("").to_string();
    // The page waits at most `report_wait_ms` in all for figures being computed, counted from
    // the request's arrival (its session lookup included).
    let deadline = arrived + state.report_wait;
    let checked = tokio::time::Instant::now();
    let shown = match check_report_args(state, &key) {
        Ok(()) => report_cached(state, &key, deadline).await,
        Err(e) => Err(Arc::new(e)),
    };
    let answered = tokio::time::Instant::now();
    // The oldest of the figures shown (the table's or a chart month's) when any is from before
    // the store's last commit: the page says so.
    let mut stale = None;
    // The chart: the six months up to the period (a month), each from the same service, all
    // asked for at once; a month still being computed is left out and counted.
    let mut months = Vec::new();
    let mut months_computing = 0;
    if let Ok(Shown::Figures {
        report: current,
        stale: st,
        ..
    }) = &shown
    {
        stale = st.clone();
        let keys = chart_keys(&period, &region);
        let got =
            futures::future::join_all(keys.iter().map(|k| report_cached(state, k, deadline))).await;
        for (k, v) in keys.into_iter().zip(got) {
            match v {
                Ok(Shown::Figures {
                    report, stale: st, ..
                }) => {
                    if let Some(st) = st
                        && stale
                            .as_ref()
                            .is_none_or(|s: &Stale| st.writes_then < s.writes_then)
                    {
                        stale = Some(st);
                    }
                    months.push((k.0, report));
                }
                Ok(Shown::Computing(_)) => months_computing += 1,
                Err(_) => {}
            }
        }
        if month_back(&period, 0).is_some() {
            months.push((period.clone(), current.clone()));
        }
    }
    let verify = if q.contains_key("verify") && matches!(shown, Ok(Shown::Figures { .. })) {
        Some(
            state
                .run(Request::ReportVerify {
                    period: Some(period.clone()),
                })
                .await,
        )
    } else {
        None
    };
    let r = r.as_ref();
    let done = q.get("done");
    let waiting = matches!(shown, Ok(Shown::Computing(_))) || months_computing > 0;
    // Where the page's time went (`LINGONG_LOG=lingong_node::http=debug`): from the request's
    // arrival to the handler (the session lookup), to the report's answer, to the chart's.
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    tracing::debug!(
        period = %key.0,
        shown = match &shown {
            Ok(Shown::Computing(_)) => "computing",
            Ok(Shown::Figures { stale: Some(_), .. }) => "stale",
            Ok(Shown::Figures { .. }) => "figures",
            Err(_) => "refused",
        },
        months_computing,
        to_handler_ms = ms(checked - arrived),
        to_report_ms = ms(answered - arrived),
        to_chart_ms = ms(arrived.elapsed()),
        wait_ms = ms(state.report_wait),
        "report page"
    );
    let status_url = waiting.then(|| report_url("/report/status", &key, lang));
    let body = html! {
        (banners(lang, done, r))
        section.card #period {
            form.filters method="get" action="/report" {
                label.inline for="period" { (lang.t("统计期（月如 2026-11，季如 2026-Q4）", "Period (month 2026-11 or quarter 2026-Q4)")) }
                " "
                input #period name="period" value=(period) size="10";
                " "
                button type="submit" { (lang.t("查看", "Show")) }
            }
        }
        script src="/static/report.js" defer {}
        // What the page's script swaps in once the figures are computed (the form above stays
        // as typed); without script, the page refreshes itself while anything is computing.
        div #report-live data-status=[status_url.as_deref()] data-page=[waiting.then(|| report_url("/report", &key, lang))] {
            @if waiting { noscript { meta http-equiv="refresh" content=(NO_SCRIPT_REFRESH_S); } }
        @match &shown {
            Err(e) => {
                div.field.bad data-field="period" { div.err #error role="alert" { (e.message(lang.0)) } }
            }
            Ok(Shown::Computing(flight)) => {
                div.banner #report-computing role="status" data-computation=(flight.number) {
                    strong { (computing_title(lang, &period)) } " "
                    span #report-progress { (flight.progress_text(lang)) }
                    " "
                    a #report-refresh href=(report_url("/report", &key, lang)) { (lang.t("刷新", "Refresh")) }
                }
                p.muted { (lang.t("计算完成后本页自动显示报表；也可先离开本页，稍后再来。", "The figures appear on this page once computed; you may also leave and come back later.")) }
                section.card #seal {
                    h2 { (lang.t("签章", "Seal")) }
                    p #seal-state data-sealed="computing" { (lang.t("报表计算完成后才能签章或核验", "Sealing and verifying are offered once the figures are computed")) }
                }
            }
            Ok(Shown::Figures { report: rep, computation, .. }) => {
                @if let Some(st) = &stale {
                    div.banner.err #report-stale role="status" data-writes-then=(st.writes_then) data-writes-now=(st.writes_now) {
                        (lang.t("以下数字为 ", "These figures were computed at "))
                        span.mono { (st.computed_at) }
                        @let since = st.writes_now.saturating_sub(st.writes_then);
                        @if lang.en() {
                            " (the store's write " (st.writes_then) "); " (since) " writes came since and the report is being computed again: reload this page shortly."
                        } @else {
                            " 计算所得（本库第 " (st.writes_then) " 次写入时），此后又有 " (since) " 次写入，正在重新计算，请稍后刷新本页。"
                        }
                    }
                }
                section.card #report data-computation=(computation) {
                    h2 { (s(&rep["name"])) " · " (s(&rep["period"])) " " span.muted { (s(&rep["from"])) " – " (s(&rep["to"])) } }
                    div.twocol {
                        table #figures {
                            tr { th { (lang.t("指标", "Figure")) } th.num { (lang.t("数值", "Value")) } }
                            @for (key, zh, en) in FIGURES {
                                tr data-figure=(key) { td { (if lang.en() { en } else { zh }) } td.num { (figure_text(&rep[key], lang)) } }
                            }
                        }
                        div.chartbox {
                            @if !months.is_empty() { (PreEscaped(bar_chart(&months, lang))) }
                            @if months_computing > 0 {
                                p.muted #chart-computing data-months=(months_computing) {
                                    span #report-progress {
                                        @if lang.en() { (months_computing) " earlier months of the chart are still being computed; they appear when done" }
                                        @else { "图表中还有 " (months_computing) " 个月份正在计算，完成后自动显示" }
                                    }
                                    " " a href=(report_url("/report", &key, lang)) { (lang.t("刷新", "Refresh")) }
                                }
                            }
                            p.muted { (lang.t("近六个月，逐月由同一统计规则计算", "The last six months, each computed by the same rules")) }
                            p.muted { (lang.t("计入记录 ", "Records counted ")) (rep["records"]) " · " (lang.t("指纹 ", "fingerprint ")) span.mono { (short(s(&rep["fingerprint"]))) } }
                        }
                    }
                    @if let Some(rows) = rep["by_region"].as_array().filter(|r| !r.is_empty()) {
                        h2 { (lang.t("下级区域", "Regions below")) }
                        table #by-region {
                            tr { th { (lang.t("区域", "Region")) } th.num { (lang.t("岗位", "Posts")) } th.num { (lang.t("招聘人数", "Places")) } th.num { (lang.t("上岗", "Placements")) } th.num { (lang.t("投诉", "Complaints")) } }
                            @for row in rows {
                                tr { td { (s(&row["name"])) " " span.muted { (s(&row["region"])) } } td.num { (row["posts"]) } td.num { (row["headcount"]) } td.num { (row["placements"]) } td.num { (row["complaints"]) } }
                            }
                        }
                    }
                }
                section.card #seal {
                    h2 { (lang.t("签章", "Seal")) }
                    @if rep["seal"].is_null() {
                        p #seal-state data-sealed="false" { (lang.t("本期尚未签章", "Not sealed yet")) }
                    } @else {
                        p #seal-state data-sealed="true" {
                            (lang.t("已签章 ", "Sealed ")) (clock(s(&rep["seal"]["sealed_at"]))) " · " span.mono { (short(s(&rep["seal"]["id"]))) } " · "
                            @if rep["seal"]["matches"] == true { span.tag.good { (lang.t("与现有记录一致", "matches the records held")) } }
                            @else { span.tag.late { (lang.t("与现有记录不一致", "differs from the records held")) } }
                        }
                    }
                    form.grid method="post" action="/report/seal" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="period" value=(period);
                        (checkbox(lang, "amend", "更正已签章的报表", "Amend a sealed report", r, "seal"))
                        (field(lang, "reason", "更正原因（更正时）", "Reason (when amending)", "text", r, "seal", html!{}))
                        div.wide { button #seal-button type="submit" { (lang.t("签章", "Seal")) } }
                    }
                    form method="get" action="/report" {
                        input type="hidden" name="period" value=(period);
                        input type="hidden" name="verify" value="1";
                        button.quiet #verify-button type="submit" { (lang.t("核验签章", "Verify seals")) }
                    }
                    @if let Some(v) = &verify {
                        @match v {
                            Ok(v) => {
                                div #verify data-mismatches=(v["mismatches"].as_array().map(Vec::len).unwrap_or(0)) {
                                    p { (lang.t("已核验签章 ", "Seals checked: ")) (v["checked"]) (lang.t("，其中已被更正 ", "; superseded: ")) (v["superseded"]) }
                                    @if let Some(ms) = v["mismatches"].as_array() {
                                        @if ms.is_empty() { p.good { "✔ " (lang.t("所有签章与现有记录一致", "Every seal matches the records held")) } }
                                        @else {
                                            table {
                                                tr { th { (lang.t("区域", "Region")) } th { (lang.t("指标", "Figure")) } th { (lang.t("签章值", "Sealed")) } th { (lang.t("重算值", "Recomputed")) } }
                                                @for m in ms { tr { td { (s(&m["region"])) " " (s(&m["period"])) } td { (label(&FIGURES, s(&m["field"]), lang)) } td { (m["sealed"]) } td { (m["recomputed"]) } } }
                                            }
                                        }
                                    }
                                }
                            }
                            Err(e) => { div.banner.err { (e.message(lang.0)) } }
                        }
                    }
                }
            }
        }
        }
    };
    Ok(layout(
        lang,
        lang.t("服务成效报表", "Service report"),
        top(state, caller, lang, "/report"),
        body,
    ))
}

/// How often a page without script refreshes itself while figures are computed (seconds).
const NO_SCRIPT_REFRESH_S: u32 = 5;

/// The computing banner's title: this month's report, or the period's.
fn computing_title(lang: L, period: &str) -> String {
    match (period == this_month(), lang.en()) {
        (true, false) => "正在计算本月报表…".to_string(),
        (true, true) => "Computing this month's report…".to_string(),
        (false, false) => format!("正在计算 {period} 报表…"),
        (false, true) => format!("Computing the report for {period}…"),
    }
}

/// How long a slice of a report's walk holds the station's lock at most (a few rows more):
/// what a write arriving during a report waits for ([`compute_report`]).
const REPORT_SLICE: std::time::Duration = std::time::Duration::from_millis(10);

type ReportKey = (String, Option<String>);

/// A report as the page shows it: the `report` service's answer, with, when it was computed
/// before the store's last commit, what it is as of, and the computation that made it; or,
/// when no figures of it are held yet and its first computation did not end within the
/// page's wait, that computation.
enum Shown {
    Figures {
        report: Value,
        stale: Option<Stale>,
        /// The number of the computation that made these figures ([`Flight::number`]).
        computation: u64,
    },
    Computing(Arc<Flight>),
}

/// What a report shown from before the store's last commit is as of.
#[derive(Clone)]
struct Stale {
    /// The store's count of durable writes when the report was computed, and now.
    writes_then: u64,
    writes_now: u64,
    /// When it was computed (RFC 3339, UTC).
    computed_at: String,
}

/// A computation's answer: the cache entry `{"report", "took_us", "computed_at",
/// "computation"}`, or why it failed.
type Answer = Result<Value, Arc<NodeError>>;

/// One computation of a report under way ([`super::Web::report_computing`]): every request
/// that asks for the report meanwhile takes this computation's answer, or shows how far it
/// has got, rather than starting another; it is removed once done, its figures in
/// [`super::Web::reports`].
pub struct Flight {
    /// Its number among the report computations the server has started (1, 2, …).
    pub number: u64,
    started: std::time::Instant,
    /// Rows of records walked so far by the walk under way, and how many it may visit at
    /// most (`figures::rows_to_walk`, read as it starts).
    walked: AtomicU64,
    rows: AtomicU64,
    /// The answer, once the computation is done.
    done: tokio::sync::watch::Sender<Option<Answer>>,
}

impl Flight {
    /// Waits for the computation's answer.
    async fn answer(&self) -> Answer {
        let mut rx = self.done.subscribe();
        let got = rx
            .wait_for(Option::is_some)
            .await
            .expect("the flight holds its sender");
        got.clone().expect("an answer")
    }

    /// How far it has got, as JSON for the page's status.
    fn progress(&self, key: &ReportKey) -> Value {
        json!({
            "period": key.0,
            "region": key.1,
            "computation": self.number,
            "walked": self.walked.load(Ordering::Relaxed),
            "rows": self.rows.load(Ordering::Relaxed),
            "seconds": self.started.elapsed().as_secs(),
        })
    }

    /// How far it has got, in the page's language.
    fn progress_text(&self, lang: L) -> String {
        let walked = self.walked.load(Ordering::Relaxed);
        let rows = self.rows.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs();
        match (lang.en(), rows) {
            (false, 0) => format!("已用 {secs} 秒"),
            (true, 0) => format!("{secs} s so far"),
            (false, _) => format!("已读取 {walked} 条记录（本站共 {rows} 条），已用 {secs} 秒"),
            (true, _) => format!("{walked} of at most {rows} records read, {secs} s so far"),
        }
    }
}

/// A report's figures held and current, or the one computation of it under way (started
/// here when none is). Looked at under the lock of the computations, which a computation
/// takes to remove itself after it filled the cache: a report is never computed twice at once.
enum Held {
    Current(Value),
    Flight(Arc<Flight>),
}

fn held_or_flight(state: &AppState, key: &ReportKey) -> Held {
    let mut flights = state.report_computing.lock().expect("report flights");
    let writes = super::live::write_count(&state.writes_file);
    if let Some((_, entry)) = state
        .reports
        .lock()
        .expect("report cache")
        .get(key)
        .filter(|(n, _)| *n == writes)
    {
        return Held::Current(entry.clone());
    }
    if let Some(f) = flights.get(key) {
        return Held::Flight(f.clone());
    }
    let flight = Arc::new(Flight {
        number: state.report_runs.fetch_add(1, Ordering::Relaxed) + 1,
        started: std::time::Instant::now(),
        walked: AtomicU64::new(0),
        rows: AtomicU64::new(0),
        done: tokio::sync::watch::Sender::new(None),
    });
    flights.insert(key.clone(), flight.clone());
    tokio::spawn(compute_report(state.clone(), key.clone(), flight.clone()));
    Held::Flight(flight)
}

/// A `report` request's answer, from [`super::Web::reports`] when the store has not changed
/// since it was computed (its count of durable writes is the same): the chart's six months
/// each read the records held, and a store that did not change gives the same figures.
/// Otherwise the report is computed again, one computation of it at a time (requests arriving
/// meanwhile take its answer). A request waits for it until `deadline` (the page's wait,
/// `report_wait_ms` in the configuration, 100 ms by default, from the request's arrival) and
/// then shows, when the report was computed before, the previous figures, saying they are from
/// before the store's last commits; when no figures of it were computed yet, the computation
/// itself (the page shows its progress and fetches the figures when done). Never longer: a
/// report that was quick before is not waited for past the deadline either (on a loaded
/// machine, or after the store grew, its next computation need not be quick). A wait of zero
/// shows either at once, without looking whether the computation is done.
async fn report_cached(
    state: &AppState,
    key: &ReportKey,
    deadline: tokio::time::Instant,
) -> Result<Shown, Arc<NodeError>> {
    let fresh = |entry: &Value| Shown::Figures {
        report: entry["report"].clone(),
        stale: None,
        computation: entry["computation"].as_u64().unwrap_or(0),
    };
    let held = state
        .reports
        .lock()
        .expect("report cache")
        .get(key)
        .cloned();
    let writes = super::live::write_count(&state.writes_file);
    if let Some((n, entry)) = &held
        && *n == writes
    {
        return Ok(fresh(entry));
    }
    let flight = match held_or_flight(state, key) {
        Held::Current(entry) => return Ok(fresh(&entry)),
        Held::Flight(f) => f,
    };
    let waited = async {
        if deadline <= tokio::time::Instant::now() {
            return None;
        }
        tokio::time::timeout_at(deadline, flight.answer())
            .await
            .ok()
    };
    match held {
        Some((then, entry)) => match waited.await {
            Some(answer) => answer.map(|e| fresh(&e)),
            None => Ok(Shown::Figures {
                report: entry["report"].clone(),
                stale: Some(Stale {
                    writes_then: then,
                    writes_now: writes,
                    computed_at: entry["computed_at"].as_str().unwrap_or("").to_string(),
                }),
                computation: entry["computation"].as_u64().unwrap_or(0),
            }),
        },
        None => match waited.await {
            Some(answer) => answer.map(|e| fresh(&e)),
            None => Ok(Shown::Computing(flight)),
        },
    }
}

/// Computes a report for [`report_cached`] (in a task of its own, so it completes and fills the
/// cache even when no request waits for it any more): the one computation of the report under
/// way (`flight`; others, such as the chart's months, alongside). The report is `report`'s,
/// walked in slices of [`REPORT_SLICE`] under the station's shared lock, let go between them
/// (`services::reports::report_in_slices`: a write waits for a slice, not for the report),
/// each slice telling the flight how many rows it has walked. The cache entry is
/// `{"report", "took_us", "computed_at", "computation"}` under the write count read before
/// computing (a commit during the computation makes the next request compute again); then
/// the flight is removed and its waiters get the answer.
async fn compute_report(state: AppState, key: ReportKey, flight: Arc<Flight>) {
    let writes = super::live::write_count(&state.writes_file);
    let report = {
        let state = state.clone();
        let flight = flight.clone();
        let (period, region) = key.clone();
        tokio::task::spawn_blocking(move || {
            let store = state.writes_file.parent().unwrap_or(&state.writes_file);
            let on_thread = flight.started.elapsed();
            let station = state.station.read().expect("station lock");
            let locked = flight.started.elapsed();
            let rows = crate::figures::rows_to_walk(&station).map_err(|e| e.in_store(store))?;
            drop(station);
            flight.rows.store(rows, Ordering::Relaxed);
            // Slices walked, and the longest time between two of them (a slice and the wait
            // for the lock before it), for the log.
            let slices =
                std::cell::Cell::new((0u64, std::time::Instant::now(), std::time::Duration::ZERO));
            let report = crate::services::reports::report_in_slices(
                &state.station,
                || super::live::write_count(&state.writes_file),
                &period,
                region.as_deref(),
                false,
                REPORT_SLICE,
                |n| {
                    flight.walked.store(n, Ordering::Relaxed);
                    let (count, last, longest) = slices.get();
                    slices.set((
                        count + 1,
                        std::time::Instant::now(),
                        longest.max(last.elapsed()),
                    ));
                },
            )
            .map_err(|e| e.in_store(store));
            let (count, _, longest) = slices.get();
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            tracing::debug!(
                computation = flight.number,
                period = %period,
                to_thread_ms = ms(on_thread),
                to_lock_ms = ms(locked),
                slices = count,
                longest_slice_ms = ms(longest),
                total_ms = ms(flight.started.elapsed()),
                "report computed"
            );
            report
        })
        .await
        .map_err(|e| NodeError::Daemon {
            detail: e.to_string(),
        })
        .and_then(|r| r)
    };
    let answer = report.map_err(Arc::new).map(|report| {
        json!({
            "report": report,
            "took_us": flight.started.elapsed().as_micros() as u64,
            "computed_at": lingong_protocol::dates::rfc3339(crate::station::now_ms()),
            "computation": flight.number,
        })
    });
    if let Ok(entry) = &answer {
        let mut cache = state.reports.lock().expect("report cache");
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key.clone(), (writes, entry.clone()));
    }
    {
        let mut flights = state.report_computing.lock().expect("report flights");
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&key);
        }
    }
    flight.done.send_replace(Some(answer));
}

/// `/report/status?period=P&region=CODE`: whether the report page of that period has every
/// figure it shows computed (`ready`: the table's and the chart's months), and otherwise the
/// computations under way with how far each has got (`computations`: period, computation,
/// rows walked, rows at most, seconds) and that in the page's language (`text`). Asked by the
/// page's script every half second while it waits; it starts the computations the page needs
/// that no request started (the chart's months, once the table's figures are held), each at
/// most once at a time. Same roles as the page; a bad period is 400 naming the field.
async fn report_status(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let key = report_key(&q);
    let req = Request::Report {
        period: key.0.clone(),
        region: key.1.clone(),
        csv: false,
    };
    if let Err(refused) = admit(&caller, &h, false, &req) {
        return *refused;
    }
    if let Err(e) = check_report_args(&state, &key) {
        return node_error(&e, lang.0);
    }
    let held = |k: &ReportKey| state.reports.lock().expect("report cache").contains_key(k);
    let mut keys = vec![key.clone()];
    if held(&key) {
        keys.extend(chart_keys(&key.0, &key.1));
    }
    let mut computing = Vec::new();
    let mut text = String::new();
    for k in &keys {
        if held(k) {
            continue;
        }
        if let Held::Flight(f) = held_or_flight(&state, k) {
            if *k == key {
                text = f.progress_text(lang);
            }
            computing.push(f.progress(k));
        }
    }
    if text.is_empty() && !computing.is_empty() {
        text = if lang.en() {
            format!(
                "{} earlier months of the chart are still being computed; they appear when done",
                computing.len()
            )
        } else {
            format!(
                "图表中还有 {} 个月份正在计算，完成后自动显示",
                computing.len()
            )
        };
    }
    Json(json!({
        "period": key.0,
        "region": key.1,
        "ready": computing.is_empty() && held(&key),
        "computations": computing,
        "text": text,
    }))
    .into_response()
}

async fn report_seal(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &HashMap::new());
    let made = form_to::<SealBody>(&f).map(seal_request);
    let result = run_form(&state, &caller, &f, made).await;
    let period = f.get("period").cloned().unwrap_or_default();
    match result {
        Ok(v) => {
            let done = format!(
                "{} {}（{}）",
                s(&v["period"]),
                lang.t("已签章", "sealed"),
                short(s(&v["id"]))
            );
            Redirect::to(&format!(
                "/report?period={}&done={}",
                urlencode(&period),
                urlencode(&done)
            ))
            .into_response()
        }
        Err(Submit::Login) => Redirect::to("/login").into_response(),
        Err(Submit::Stale) => stale(&state, &caller, lang, "/report"),
        Err(Submit::Forbidden(need)) => forbidden(&state, &caller, lang, "/report", need),
        Err(Submit::Refused(e)) => {
            let status = api::status_of(&e);
            let mut q = HashMap::new();
            q.insert("period".to_string(), period);
            let r = refused("seal", &f, &e, lang);
            let now = tokio::time::Instant::now();
            match report_markup(&state, &caller, lang, &q, Some(r), now).await {
                Ok(m) => html_response(status, lang, &HashMap::new(), m),
                Err(need) => forbidden(&state, &caller, lang, "/report", need),
            }
        }
    }
}

// ----- supervision -----------------------------------------------------------------------------

const REASONS: [(&str, &str, &str); 6] = [
    ("no-posts", "长期未发布岗位", "no posts"),
    ("not-heard-from", "长期无任何更新", "not heard from"),
    ("report-unsealed", "报表逾期未签章", "report not sealed"),
    ("complaints-overdue", "投诉逾期未受理", "complaints overdue"),
    ("fork", "密钥分叉", "fork"),
    ("order-overdue", "整改逾期", "order overdue"),
];

async fn supervision_page(State(state): State<AppState>, p: StaffPage) -> Response {
    match supervision_markup(&state, &p.caller, p.lang, &p.q, None).await {
        Ok(m) => p.show(m),
        Err(need) => forbidden(&state, &p.caller, p.lang, "/supervision", need),
    }
}

async fn supervision_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    r: Option<Refused>,
) -> Result<Markup, Role> {
    let role = caller.role().unwrap_or(Role::Clerk);
    let stale_days = q
        .get("stale_days")
        .filter(|v| !v.trim().is_empty())
        .cloned();
    let parsed: Result<Option<u32>, NodeError> = stale_days
        .as_deref()
        .map(|v| {
            v.trim().parse::<u32>().map_err(|_| {
                NodeError::usage("stale-days", "must be 1 to 365", "必须在 1 到 365 之间")
            })
        })
        .transpose();
    let req = Request::Supervise {
        stale_days: parsed.as_ref().ok().copied().flatten(),
    };
    if !auth::allowed(role, &req) {
        return Err(auth::min_role(&req));
    }
    let csrf = caller.csrf().unwrap_or("").to_string();
    let stations = match parsed {
        Ok(_) => state.run(req).await,
        Err(e) => Err(e),
    };
    let orders = state.run(Request::SuperviseOrders).await;
    let r = r.as_ref();
    let done = q.get("done");
    let today = lingong_protocol::dates::format_date(crate::services::today());
    let body = html! {
        (banners(lang, done, r))
        section.card #stations {
            h2 { (lang.t("需要关注的下级站点", "Stations below that need attention")) }
            form.filters method="get" action="/supervision" {
                label.inline for="stale_days" { (lang.t("多少天无更新算作停滞", "Days without updates that count as stale")) }
                " "
                input #stale_days name="stale_days" type="number" value=(stale_days.clone().unwrap_or_else(|| "14".into())) size="4";
                " "
                button.quiet type="submit" { (lang.t("查看", "Show")) }
            }
            @match &stations {
                Err(e) => { div.field.bad data-field="stale_days" { div.err role="alert" { (e.message(lang.0)) } } }
                Ok(rows) => {
                    @let rows = rows.as_array().cloned().unwrap_or_default();
                    @if rows.is_empty() { p.muted #none { (lang.t("所有下级站点运转正常", "Every station below is in order")) } }
                    @else {
                        table {
                            tr { th { (lang.t("站点", "Station")) } th { (lang.t("原因", "Reasons")) } th.num { (lang.t("未发岗天数", "Days without posts")) } th.num { (lang.t("无更新天数", "Days silent")) } th { (lang.t("下达整改通知", "Issue an order")) } }
                            @for row in &rows {
                                tr data-node=(s(&row["node_id"])) {
                                    td { (row["name"].as_str().unwrap_or("")) br; span.muted { (s(&row["region"])) " " (short(s(&row["node_id"]))) } }
                                    td { @if let Some(rs) = row["reasons"].as_array() { @for x in rs { span.tag.late { (label(&REASONS, s(x), lang)) } " " } } }
                                    td.num { (row["days_stale"]) }
                                    td.num { (row["days_silent"]) }
                                    td {
                                        form.order method="post" action="/supervision/order" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="node" value=(s(&row["node_id"]));
                                            input name="reason" placeholder=(lang.t("整改要求", "What to put right")) required;
                                            " "
                                            input name="deadline" type="date" min=(today) required;
                                            " "
                                            button type="submit" { (lang.t("下达", "Issue")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #issue {
            h2 { (lang.t("下达整改通知（市、县）", "Issue a rectification order (city or county)")) }
            form.grid method="post" action="/supervision/order" {
                input type="hidden" name="csrf" value=(csrf);
                (field(lang, "node", "站点节点编号", "Station node id", "text", r, "order", html!{}))
                (field(lang, "deadline", "整改期限", "Deadline", "date", r, "order", html!{}))
                div.wide { (field(lang, "reason", "整改要求", "What to put right", "textarea", r, "order", html!{})) }
                div.wide { button type="submit" { (lang.t("下达并签名", "Issue and sign")) } }
            }
        }
        section.card #orders {
            h2 { (lang.t("整改通知", "Rectification orders")) }
            @match &orders {
                Err(e) => { div.banner.err { (e.message(lang.0)) } }
                Ok(rows) => {
                    @let rows = rows.as_array().cloned().unwrap_or_default();
                    @if rows.is_empty() { p.muted { (lang.t("没有整改通知", "No orders")) } }
                    @else {
                        table {
                            tr { th { (lang.t("站点", "Station")) } th { (lang.t("要求", "Reason")) } th { (lang.t("期限", "Deadline")) } th { (lang.t("状态", "Status")) } }
                            @for o in &rows {
                                tr data-id=(s(&o["id"])) data-status=(s(&o["status"])) {
                                    td { (o["name"].as_str().unwrap_or("")) br; span.muted { (s(&o["region"])) } }
                                    td { (s(&o["reason"])) }
                                    td { (s(&o["deadline"])) }
                                    td { @match s(&o["status"]) {
                                        "cleared" => span.tag.good { (lang.t("已整改", "cleared")) },
                                        "overdue" => span.tag.late { (lang.t("逾期", "overdue")) },
                                        other => span.tag { (if other == "open" { lang.t("整改中", "open") } else { other }) },
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        lang,
        lang.t("督查", "Supervision"),
        top(state, caller, lang, "/supervision"),
        body,
    ))
}

async fn supervision_order(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &HashMap::new());
    let made = form_to::<OrderBody>(&f).map(order_request);
    let result = run_form(&state, &caller, &f, made).await;
    match result {
        Ok(v) => {
            let done = format!(
                "{}（{}，{} {}）",
                lang.t("整改通知已下达", "Order issued"),
                short(s(&v["id"])),
                lang.t("期限", "deadline"),
                s(&v["deadline"])
            );
            Redirect::to(&format!("/supervision?done={}#orders", urlencode(&done))).into_response()
        }
        Err(Submit::Login) => Redirect::to("/login").into_response(),
        Err(Submit::Stale) => stale(&state, &caller, lang, "/supervision"),
        Err(Submit::Forbidden(need)) => forbidden(&state, &caller, lang, "/supervision", need),
        Err(Submit::Refused(e)) => {
            let status = api::status_of(&e);
            let r = refused("order", &f, &e, lang);
            match supervision_markup(&state, &caller, lang, &HashMap::new(), Some(r)).await {
                Ok(m) => html_response(status, lang, &HashMap::new(), m),
                Err(need) => forbidden(&state, &caller, lang, "/supervision", need),
            }
        }
    }
}

// ----- audit -----------------------------------------------------------------------------------

async fn audit_page(State(state): State<AppState>, page: StaffPage) -> Response {
    let StaffPage { caller, lang, q } = page;
    let role = caller.role().unwrap_or(Role::Clerk);
    if !auth::allowed(role, &Request::Audit) {
        return forbidden(
            &state,
            &caller,
            lang,
            "/audit",
            auth::min_role(&Request::Audit),
        );
    }
    let result = if q.contains_key("run") {
        Some(state.run(Request::Audit).await)
    } else {
        None
    };
    let body = html! {
        section.card #audit {
            h2 { (lang.t("审计：逐一核验本节点保存的签名、证书链、日志和报表签章", "Audit: every signature, chain, log and seal held here, checked")) }
            form method="get" action="/audit" {
                input type="hidden" name="run" value="1";
                button #run type="submit" { (lang.t("开始审计", "Run the audit")) }
            }
            @match &result {
                None => { p.muted { (lang.t("审计读取本节点的全部记录，可能需要几秒钟", "The audit reads every record held; it may take a few seconds")) } }
                Some(Err(e)) => { div.banner.err role="alert" { (e.message(lang.0)) } }
                Some(Ok(v)) => {
                    @let problems = v["problems"].as_array().cloned().unwrap_or_default();
                    table.facts #result data-problems=(problems.len()) {
                        tr { th { (lang.t("已核验变更", "Signed changes checked")) } td { (v["records_checked"]) } }
                        tr { th { (lang.t("签名者", "Authors")) } td { (v["authors"]) } }
                        tr { th { (lang.t("已核验签章", "Seals checked")) } td { (v["seals_checked"]) } }
                        tr { th { (lang.t("用时（秒）", "Seconds")) } td { (v["seconds"]) } }
                    }
                    @if problems.is_empty() {
                        p.good #clean { "✔ " (lang.t("未发现问题", "No problems found")) }
                    } @else {
                        table #problems {
                            tr { th { (lang.t("问题", "Problem")) } th { (lang.t("签名者", "Author")) } th { (lang.t("记录", "Record")) } th { (lang.t("详情", "Detail")) } }
                            @for p in &problems {
                                tr data-kind=(s(&p["kind"])) {
                                    td { span.tag.late { (s(&p["kind"])) } }
                                    td.mono { (short(p["author"].as_str().unwrap_or(""))) }
                                    td.mono { (short(p["record"].as_str().unwrap_or(""))) }
                                    td { (s(&p["detail"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(
            lang,
            lang.t("审计", "Audit"),
            top(&state, &caller, lang, "/audit"),
            body,
        ),
    )
}

// ----- sync state ------------------------------------------------------------------------------

async fn sync_page(State(state): State<AppState>, page: StaffPage) -> Response {
    let StaffPage { caller, lang, q } = page;
    let result = sync_state(&state).await;
    let body = html! {
        @match &result {
            Err(e) => { div.banner.err role="alert" { (e.message(lang.0)) } }
            Ok(v) => {
                section.card #sync {
                    h2 { (lang.t("同步状态", "Sync state")) " · " (s(&v["name"])) " " span.muted { (s(&v["region"])) } }
                    table.facts {
                        tr { th { (lang.t("与上级", "With the parent")) } td #parent data-connected=(v["parent_connected"]) {
                            @if v["parent_connected"] == true { span.tag.good { (lang.t("已连接", "connected")) } } @else { span.tag.late { (lang.t("未连接", "not connected")) } }
                            " " (lang.t("上次同步完成：", "last completed session: "))
                            (v["parent_last_sync"].as_str().map(clock).unwrap_or_else(|| lang.t("本次启动后尚无", "none since the daemon started").to_string()))
                        } }
                        tr { th { (lang.t("待上传", "Waiting to go up")) } td #waiting {
                            @match v["waiting_up"]["waiting"].as_u64() {
                                Some(n) => {
                                    strong { (n) } (lang.t(" 条本站签发的变更晚于上次与上级同步", " changes signed here after the last session with a parent"))
                                    @if let Some(k) = v["waiting_up"]["by_kind"].as_object().filter(|k| !k.is_empty()) {
                                        " (" @for (kind, n) in k { (kind_name(kind, lang)) " " (n) " " } ")"
                                    }
                                }
                                None => { (lang.t("未知：本次启动后尚未与上级完成同步；本站共签发 ", "not known: no session with a parent since the daemon started; changes signed here in all: ")) (v["waiting_up"]["signed"]) }
                            }
                        } }
                        tr { th { (lang.t("上次数据包（U盘）", "Last bundle (USB)")) } td #last-bundle data-at=(v["last_bundle"]["last"]["at"].as_str().unwrap_or("")) {
                            @if v["last_bundle"]["last"].is_null() { (lang.t("从未导出或导入", "never exported or imported")) }
                            @for (dir, zh, en) in [("export", "导出", "exported"), ("import", "导入", "imported")] {
                                @let b = &v["last_bundle"][dir];
                                @if let Some(at) = b["at"].as_str() {
                                    div data-direction=(dir) { (lang.t(zh, en)) " " strong { (clock(at)) } " · " (b["changes"]) (lang.t(" 条变更 · ", " changes · ")) span.mono { (s(&b["file"])) } }
                                }
                            }
                        } }
                        tr { th { (lang.t("监听地址", "Listening on")) } td.mono { @if let Some(l) = v["listen"].as_array() { @for a in l { (s(a)) br; } } } }
                    }
                    h2 { (lang.t("对等节点", "Peers")) }
                    table #peers {
                        tr { th { (lang.t("节点", "Node")) } th { (lang.t("区域", "Region")) } th { (lang.t("连接", "Link")) } th { (lang.t("上次同步完成", "Last completed session")) } th.num { (lang.t("时钟偏差（秒）", "Clock offset (s)")) } }
                        @if let Some(peers) = v["peers"].as_array() {
                            @for p in peers {
                                tr data-peer=(s(&p["peer"])) {
                                    td { (p["name"].as_str().unwrap_or("")) " " span.mono.muted { (short(s(&p["peer"]))) } }
                                    td { (place(s(&p["region"]))) }
                                    td { @if p["connected"] == true { span.tag.good { (lang.t("已连接", "connected")) } } @else { span.tag { (lang.t("未连接", "offline")) } } }
                                    td { (p["last_sync"].as_str().map(clock).unwrap_or_else(|| "—".to_string())) }
                                    td.num { (p["clock_offset_s"].as_i64().map(|o| o.to_string()).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                    @if let Some(forks) = v["forks"].as_array().filter(|f| !f.is_empty()) {
                        h2 { (lang.t("密钥分叉（待上级吊销）", "Forks (awaiting revocation)")) }
                        ul { @for f in forks { li { (f["name"].as_str().unwrap_or("")) " " span.mono { (short(s(&f["node_id"]))) } } } }
                    }
                    @if let Some(rec) = v["records"].as_object() {
                        h2 { (lang.t("本节点保存的记录", "Records held")) }
                        p { @for (k, n) in rec { span.tag data-kind=(k) { (kind_name(k, lang)) " " (n) } " " } }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(
            lang,
            lang.t("同步状态", "Sync state"),
            top(&state, &caller, lang, "/sync"),
            body,
        ),
    )
}

/// The day (China time) of an RFC 3339 time written in UTC, as `YYYY-MM-DD`; empty when it is not
/// one. A complaint filed at 01:00 in Guizhou is dated that day, not the day before.
fn china_date(time: &str) -> String {
    lingong_protocol::dates::cst_day_of(time)
        .map(lingong_protocol::dates::format_date)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complaint_filed_after_midnight_china_time_is_dated_that_day() {
        assert_eq!(china_date("2026-12-07T17:43:06Z"), "2026-12-08");
        assert_eq!(china_date("2026-12-08T07:59:59Z"), "2026-12-08");
        assert_eq!(china_date("2026-12-08T16:00:00Z"), "2026-12-09");
        assert_eq!(china_date("garbled"), "");
    }

    #[test]
    fn months_go_back_across_a_year() {
        assert_eq!(month_back("2026-02", 3).as_deref(), Some("2025-11"));
        assert_eq!(month_back("2026-12", 0).as_deref(), Some("2026-12"));
        assert_eq!(month_back("2026-Q4", 1), None);
    }

    #[test]
    fn the_chart_draws_one_bar_per_figure_and_month_with_its_value() {
        let months = vec![
            ("2026-11".to_string(), json!({"posts": 3, "placements": 1})),
            ("2026-12".to_string(), json!({"posts": 7, "placements": 0})),
        ];
        let svg = bar_chart(&months, L("zh"));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("data-series=").count(), 4, "{svg}");
        assert!(
            svg.contains(r#"data-month="2026-12" data-value="7""#),
            "{svg}"
        );
        // The tallest bar fits under the scale's top, and the ticks are whole numbers.
        assert!(!svg.contains("height=\"-"), "{svg}");
        assert!(
            svg.contains(">10</text>") && !svg.contains(".5</text>"),
            "{svg}"
        );
        let big = vec![(
            "2026-12".to_string(),
            json!({"posts": 180, "placements": 40}),
        )];
        let svg = bar_chart(&big, L("zh"));
        assert!(
            svg.contains(">200</text>") && svg.contains(">50</text>"),
            "{svg}"
        );
    }
}
