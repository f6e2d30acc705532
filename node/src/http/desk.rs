//! The station desk's two call sheets as console pages: the push list (精准推送) and the
//! assistance ledger of workers in difficulty (困难帮扶台账). Like [`super::oversight`], every
//! page and every form becomes a [`Request`] that goes through the daemon's executor
//! (`request::dispatch`, the services `lingong push` and `lingong assist` call); nothing here
//! ranks a worker, counts a target or checks a field of its own.
//!
//! Pages (staff, clerk and up; Chinese first, `?lang=en` for English; laid out for 1366×768):
//! - `/push` (`?days=N`, `?post=ID`): the call sheet of `push list`, one table per post (title,
//!   wage, places left, approval time), its workers in rank order with priority workers marked
//!   and their reasons, the phone as held here and why they match; on each row a form marking
//!   the result of the call (`push mark`: contacted, interested, declined, unreachable, and a
//!   note), after which the worker leaves the post's list; a "send" button (`push send`) only
//!   when the node has a `push_command` in config.toml.
//! - `/assist` (`?worker=ID`): `assist due` (priority workers behind their yearly "1311"
//!   targets, most overdue first, with what is missing), the form logging an assistance record
//!   (`assist log`, the kinds by their Chinese names), and the chosen worker's ledger
//!   (`assist list --worker`) with their own targets.
//!
//! A refused form is shown again with what was typed and the message next to the field, with
//! status 400, and nothing is changed (the services validate before they stage anything).

use super::AppState;
use super::api;
use super::auth::Caller;
use super::oversight::{Submit, banners, forbidden, refused, run_form, stale, to_login, top};
use super::pages::{
    L, Refused, StaffPage, clock, field, form_to, html_response, layout, per_unit, place, s,
    select, short, urlencode,
};
use crate::request::{AssistFields, Request};
use crate::services::push;
use crate::services::staff::Role;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use lingong_protocol::matching::BANDS;
use lingong_protocol::schema::{AssistKind, Flag, PushResult};
use maud::{Markup, html};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/push", get(push_page))
        .route("/push/mark", post(push_mark))
        .route("/push/send", post(push_send))
        .route("/assist", get(assist_page).post(assist_log))
}

/// The desk's links in the console's tab bar (`active`: the page shown).
pub(super) fn nav_links(lang: L, role: Role, active: &str) -> Markup {
    let links: [(&str, &str, &str, Role); 2] = [
        ("/push", "推送清单", "Push list", Role::Clerk),
        ("/assist", "帮扶台账", "Assistance", Role::Clerk),
    ];
    html! {
        @for (href, zh, en, need) in links {
            @if role >= need {
                a.on[active == href] href=(href) { (lang.t(zh, en)) }
            }
        }
    }
}

/// The result picker's first row: no result chosen yet (the service refuses it, naming `result`).
const CHOOSE_RESULT: Option<(&str, &str)> = Some(("（请选择结果）", "(choose the result)"));

/// A row's priority flags (`flags`, the words stored) by their names in the page's language.
fn flags(row: &Value, lang: L) -> Vec<String> {
    let words = row["flags"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    words.iter().map(|f| lang.choice::<Flag>(s(f))).collect()
}

/// A match band (`strong`, `fair`, `weak`) in the page's language.
fn band(word: &str, lang: L) -> &str {
    match BANDS.iter().find(|(en, _)| *en == word) {
        Some((en, zh)) => lang.t(zh, en),
        None => word,
    }
}

/// What a due worker still lacks this year, kind by kind ("培训信息×1、政策咨询×1").
fn missing(row: &Value, lang: L) -> String {
    let kinds = row["kinds"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let lacking: Vec<String> = kinds
        .iter()
        .filter(|k| k["short"].as_u64().unwrap_or(0) > 0)
        .map(|k| {
            format!(
                "{}×{}",
                lang.choice::<AssistKind>(s(&k["kind"])),
                k["short"]
            )
        })
        .collect();
    lacking.join(lang.t("、", ", "))
}

/// The form key of one row of the push list (the ids of its fields are built from it).
fn mark_form(post: &str, worker: &str) -> String {
    format!("mark-{}-{}", short(post), short(worker))
}

/// A number from the query, or nothing (a malformed one is passed on as typed, for the
/// service to refuse).
fn number(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| v.to_string()),
    }
}

// ----- the push list ---------------------------------------------------------------------------

/// How many posts (each with its workers to call) the push page shows at a time.
const PUSH_POSTS_PER_PAGE: usize = 10;

async fn push_page(State(state): State<AppState>, p: StaffPage) -> Response {
    p.show(push_markup(&state, &p.caller, p.lang, &p.q, None).await)
}

async fn push_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    r: Option<Refused>,
) -> Markup {
    let csrf = caller.csrf().unwrap_or("").to_string();
    let r = r.as_ref();
    let post = q.get("post").filter(|p| !p.is_empty()).cloned();
    let wanted_page = super::page_asked(q);
    let (shown, list_error) = match number(q, "days") {
        Err(typed) => (
            None,
            Some(format!(
                "{}「days」{typed}",
                lang.t("天数必须是整数：", "days must be a whole number: ")
            )),
        ),
        Ok(days) => {
            let (post, lang_code, web) = (post.clone(), lang.0.to_string(), Arc::clone(state));
            // One page of posts at a time: a village's week can hold thousands of approved
            // posts, and only the rows shown are written out.
            match state
                .with_station(move |st| {
                    let lists = web.push_lists.get_or_compute(
                        st.store.write_count(),
                        (post, days),
                        |(post, days)| push::gather_all(st, post.as_deref(), *days),
                    )?;
                    Ok(push::page(
                        &lists,
                        &lang_code,
                        wanted_page,
                        PUSH_POSTS_PER_PAGE,
                    ))
                })
                .await
            {
                Ok(page) => (Some(page), None),
                Err(e) => (None, Some(e.message(lang.0))),
            }
        }
    };
    let (rows, all_posts, calls, page, pages) = match shown {
        Some(p) => (p.rows, p.posts, p.calls, p.page, p.pages),
        None => (Vec::new(), 0, 0, 1, 1),
    };
    // The rows come grouped by post, newest approval first: keep that order.
    let mut posts: Vec<(String, Vec<&Value>)> = Vec::new();
    for row in &rows {
        let id = s(&row["post_id"]).to_string();
        match posts.last_mut() {
            Some((p, list)) if *p == id => list.push(row),
            _ => posts.push((id, vec![row])),
        }
    }
    let can_send = state
        .with_station(|st| Ok(!st.config.push_command.is_empty()))
        .await
        .unwrap_or(false);
    let days_shown = q.get("days").cloned().unwrap_or_default();
    let page_link = |n: usize| {
        let mut link = format!("/push?page={n}");
        if !days_shown.is_empty() {
            link.push_str(&format!("&days={}", urlencode(&days_shown)));
        }
        if let Some(p) = &post {
            link.push_str(&format!("&post={}", urlencode(p)));
        }
        link
    };
    let body = html! {
        (banners(lang, q.get("done"), r.filter(|r| r.form.starts_with("mark-") || r.form == "send")))
        section.card #push {
            h2 { (lang.t("推送清单（新审核通过的岗位，优先帮扶对象在前）", "Push list (newly approved posts, priority workers first)")) }
            form.filters method="get" action="/push" {
                label.inline for="days" { (lang.t("最近天数", "Approved in the last (days)")) }
                " "
                input #days name="days" type="number" min="1" max="366" value=(days_shown) placeholder="7";
                " "
                @if let Some(p) = &post { input type="hidden" name="post" value=(p); }
                button.quiet type="submit" { (lang.t("刷新", "Refresh")) }
                @if post.is_some() { " " a href="/push" { (lang.t("全部岗位", "every post")) } }
            }
            @if let Some(e) = &list_error { div.banner.err #list-error role="alert" { (e) } }
            @if can_send && !rows.is_empty() {
                form #send method="post" action="/push/send" {
                    input type="hidden" name="csrf" value=(csrf);
                    @if let Some(p) = &post { input type="hidden" name="post" value=(p); }
                    @if !days_shown.is_empty() { input type="hidden" name="days" value=(days_shown); }
                    button type="submit" { (lang.t("通过推送命令发送短信/消息（成功的记为已联系）", "Send through the push command (each sent counts as contacted)")) }
                }
            }
            @if rows.is_empty() && list_error.is_none() {
                p.muted #empty { (lang.t("没有需要联系的劳动者", "No one to contact")) }
            } @else if list_error.is_none() {
                p.muted #pages {
                    (lang.t("有人可联系的岗位 ", "Posts with someone to contact: ")) (all_posts)
                    (lang.t(" 个，待联系 ", "; calls to make: ")) (calls)
                    @if pages > 1 {
                        " · " (lang.t("第 ", "page ")) (page) " / " (pages) (lang.t(" 页", ""))
                        @if page > 1 { " · " a href=(page_link(page - 1)) { (lang.t("上一页", "previous")) } }
                        @if page < pages { " · " a href=(page_link(page + 1)) { (lang.t("下一页", "next")) } }
                    }
                }
            }
        }
        @for (post_id, list) in &posts {
            @let first = list[0];
            section.card.post data-post=(post_id) {
                h2 {
                    (s(&first["title"])) " "
                    span.muted.mono { (short(post_id)) }
                }
                p.muted {
                    (first["wage"]) " " (per_unit(s(&first["unit"]), lang)) " · "
                    (lang.t("剩余名额 ", "places left ")) (first["places_left"]) " · "
                    (lang.t("审核通过于 ", "approved ")) (clock(s(&first["approved_at"]))) " · "
                    (lang.t("发布范围 ", "reach ")) (place(s(&first["reach"])))
                }
                table {
                    tr {
                        th { (lang.t("劳动者", "Worker")) }
                        th { (lang.t("帮扶", "Priority")) }
                        th { (lang.t("电话（本站登记）", "Phone (held here)")) }
                        th { (lang.t("匹配原因", "Why")) }
                        th { (lang.t("联系结果", "Result of the call")) }
                    }
                    @for row in list {
                        @let wid = s(&row["worker_id"]);
                        @let form = mark_form(post_id, wid);
                        tr.worker data-worker=(wid) data-priority=(row["priority"]) {
                            td { strong { (s(&row["name"])) } br; span.muted.mono { (short(wid)) } }
                            td {
                                @if row["priority"].as_i64().unwrap_or(0) > 0 {
                                    span.tag.late.priority { (lang.t("优先", "priority")) }
                                    @for flag in flags(row, lang) { " " span.tag { (flag) } }
                                }
                            }
                            td.mono { (s(&row["phone"])) }
                            td {
                                span.tag { (band(s(&row["band"]), lang)) } " "
                                @if let Some(reasons) = row["reasons"].as_array() {
                                    @for (i, why) in reasons.iter().enumerate() { @if i > 0 { "；" } (s(why)) }
                                }
                            }
                            td {
                                form.mark method="post" action="/push/mark" data-form=(form) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="form" value=(form);
                                    input type="hidden" name="post" value=(post_id);
                                    input type="hidden" name="worker" value=(wid);
                                    (select(lang, "result", "结果", "Result", &lang.options::<PushResult>(CHOOSE_RESULT), r, &form, None))
                                    (field(lang, "note", "备注（可选）", "Note (optional)", "text", r, &form, html!{}))
                                    button type="submit" { (lang.t("记录", "Record")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(
        lang,
        lang.t("推送清单", "Push list"),
        top(state, caller, lang, "/push"),
        body,
    )
}

/// The answer to a refused form of either page: the page again with what was typed and the
/// message next to the field.
#[allow(clippy::too_many_arguments)]
async fn failed(
    state: &AppState,
    caller: &Caller,
    lang: L,
    page: &str,
    form: &str,
    f: &BTreeMap<String, String>,
    e: Submit,
    q: HashMap<String, String>,
) -> Response {
    match e {
        Submit::Login => to_login(),
        Submit::Stale => stale(state, caller, lang, page),
        Submit::Forbidden(need) => forbidden(state, caller, lang, page, need),
        Submit::Refused(e) => {
            let status = api::status_of(&e);
            let r = refused(form, f, &e, lang);
            let m = if page == "/push" {
                push_markup(state, caller, lang, &q, Some(r)).await
            } else {
                assist_markup(state, caller, lang, &q, Some(r)).await
            };
            html_response(status, lang, &HashMap::new(), m)
        }
    }
}

fn given(f: &BTreeMap<String, String>, key: &str) -> Option<String> {
    f.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

async fn push_mark(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let post = given(&f, "post").unwrap_or_default();
    let worker = given(&f, "worker");
    let req = Request::PushMark {
        post: post.clone(),
        worker: worker.clone(),
        result: given(&f, "result"),
        note: given(&f, "note"),
    };
    let form = mark_form(&post, worker.as_deref().unwrap_or(""));
    match run_form(&state, &caller, &f, Ok(req)).await {
        Ok(_) => {
            let done = format!(
                "{}：{} → {}",
                lang.t("已记录联系结果", "Result recorded"),
                short(&post),
                lang.choice::<PushResult>(f.get("result").map(String::as_str).unwrap_or(""))
            );
            Redirect::to(&format!("/push?done={}", urlencode(&done))).into_response()
        }
        Err(e) => failed(&state, &caller, lang, "/push", &form, &f, e, q).await,
    }
}

async fn push_send(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let made = match given(&f, "days").map(|d| d.parse::<i64>()) {
        Some(Err(_)) => Err(crate::error::NodeError::usage(
            "days",
            "must be a whole number",
            "必须是整数",
        )),
        days => Ok(Request::PushSend {
            post: given(&f, "post"),
            worker: None,
            days: days.and_then(Result::ok),
        }),
    };
    match run_form(&state, &caller, &f, made).await {
        Ok(v) => {
            let sent = v["sent"].as_array().map_or(0, Vec::len);
            let failed = v["failed"].as_array().map_or(0, Vec::len);
            let done = if lang.en() {
                format!("Sent {sent}, failed {failed}")
            } else {
                format!("已发送 {sent} 条，失败 {failed} 条")
            };
            Redirect::to(&format!("/push?done={}", urlencode(&done))).into_response()
        }
        Err(e) => failed(&state, &caller, lang, "/push", "send", &f, e, q).await,
    }
}

// ----- the assistance ledger -------------------------------------------------------------------

async fn assist_page(State(state): State<AppState>, p: StaffPage) -> Response {
    p.show(assist_markup(&state, &p.caller, p.lang, &p.q, None).await)
}

/// One worker's yearly targets, kind by kind ("培训信息 0/1").
fn kinds_text(row: &Value, lang: L) -> Markup {
    html! {
        @if let Some(kinds) = row["kinds"].as_array() {
            @for k in kinds {
                span.tag.late[k["short"].as_u64().unwrap_or(0) > 0] data-kind=(s(&k["kind"])) {
                    (lang.choice::<AssistKind>(s(&k["kind"]))) " " (k["done"]) "/" (k["target"])
                }
                " "
            }
        }
    }
}

async fn assist_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    r: Option<Refused>,
) -> Markup {
    let csrf = caller.csrf().unwrap_or("").to_string();
    let r = r.as_ref();
    let (due, due_error) = match state.run(Request::AssistDue { worker: None }).await {
        Ok(Value::Array(rows)) => (rows, None),
        Ok(_) => (Vec::new(), None),
        Err(e) => (Vec::new(), Some(e.message(lang.0))),
    };
    let workers = match state.run(Request::WorkerList { priority: false }).await {
        Ok(Value::Array(rows)) => rows,
        _ => Vec::new(),
    };
    let chosen = q
        .get("worker")
        .filter(|w| !w.is_empty())
        .cloned()
        .or_else(|| {
            r.filter(|r| r.form == "log")
                .and_then(|r| r.values.get("worker").cloned())
        });
    let ledger = match &chosen {
        Some(w) => Some((
            state
                .run(Request::AssistList {
                    worker: Some(w.clone()),
                    kind: None,
                    limit: None,
                })
                .await,
            state
                .run(Request::AssistDue {
                    worker: Some(w.clone()),
                })
                .await,
        )),
        None => None,
    };
    let worker_name = |id: &str| -> String {
        workers
            .iter()
            .find(|w| s(&w["id"]) == id)
            .map(|w| s(&w["name"]).to_string())
            .unwrap_or_else(|| short(id).to_string())
    };
    let mine = r.filter(|r| r.form == "log");
    let bad_worker = mine.is_some_and(|r| r.field.as_deref() == Some("worker"));
    let typed_worker = mine
        .and_then(|r| r.values.get("worker").cloned())
        .or_else(|| chosen.clone())
        .unwrap_or_default();
    let body = html! {
        (banners(lang, q.get("done"), mine))
        section.card #due {
            h2 { (lang.t("帮扶待办：未完成年度“1311”目标的优先帮扶对象（最欠缺的在前）", "Due: priority workers behind their yearly \"1311\" targets (most overdue first)")) }
            @if let Some(e) = &due_error { div.banner.err role="alert" { (e) } }
            @if due.is_empty() && due_error.is_none() { p.muted #due-empty { (lang.t("没有未完成目标的优先帮扶对象", "No priority worker is behind")) } }
            @else {
                table {
                    tr {
                        th { (lang.t("劳动者", "Worker")) }
                        th { (lang.t("帮扶原因", "Priority")) }
                        th { (lang.t("电话", "Phone")) }
                        th.num { (lang.t("欠缺", "Behind")) }
                        th { (lang.t("尚缺", "Missing")) }
                        th { (lang.t("本年完成/目标", "Done/target this year")) }
                        th {}
                    }
                    @for row in &due {
                        tr.due data-worker=(s(&row["worker_id"])) data-behind=(row["behind"]) {
                            td { strong { (s(&row["name"])) } br; span.muted.mono { (short(s(&row["worker_id"]))) } }
                            td { @for flag in flags(row, lang) { span.tag { (flag) } " " } }
                            td.mono { (s(&row["phone"])) }
                            td.num { strong { (row["behind"]) } }
                            td.missing { (missing(row, lang)) }
                            td { (kinds_text(row, lang)) }
                            td { a href={ "/assist?worker=" (s(&row["worker_id"])) "#ledger" } { (lang.t("台账 / 记录", "Ledger / log")) } }
                        }
                    }
                }
            }
        }
        section.card #log {
            h2 { (lang.t("记录帮扶", "Log assistance")) }
            form.grid method="post" action="/assist" {
                input type="hidden" name="csrf" value=(csrf);
                div.field.bad[bad_worker] data-field="worker" {
                    label for="log-worker" { (lang.t("劳动者", "Worker")) }
                    select #log-worker name="worker" {
                        option value="" { (lang.t("（请选择劳动者）", "(choose the worker)")) }
                        @for w in &workers {
                            @let id = s(&w["id"]);
                            option value=(id) selected[id == typed_worker] {
                                (s(&w["name"])) " · " (short(id))
                                @if w["priority"].as_i64().unwrap_or(0) > 0 { " ★" }
                            }
                        }
                    }
                    @if bad_worker { div.err role="alert" { (mine.map(|r| r.message.as_str()).unwrap_or("")) } }
                }
                (select(lang, "kind", "帮扶类型", "Kind", &lang.options::<AssistKind>(Some(("（请选择帮扶类型）", "(choose the kind)"))), r, "log", None))
                (field(lang, "post", "推荐的岗位编号（岗位推荐时）", "Post id (job recommendation)", "text", r, "log", html!{}))
                (select(lang, "result", "推荐结果（岗位推荐时）", "Result (job recommendation)", &lang.options::<PushResult>(CHOOSE_RESULT), r, "log", None))
                div.wide { (field(lang, "note", "帮扶内容", "What was done", "textarea", r, "log", html!{})) }
                div.wide { button type="submit" { (lang.t("记录并签名", "Log and sign")) } }
            }
        }
        @if let (Some(w), Some((list, own))) = (&chosen, &ledger) {
            section.card #ledger data-worker=(w) {
                h2 { (lang.t("帮扶台账 · ", "Ledger · ")) (worker_name(w)) }
                @match own {
                    Ok(Value::Array(rows)) if !rows.is_empty() => {
                        p #targets { (lang.t("本年目标：", "This year's targets: ")) (kinds_text(&rows[0], lang)) }
                    }
                    Ok(_) => {}
                    Err(e) => { p.muted #targets { (e.message(lang.0)) } }
                }
                @match list {
                    Err(e) => { div.banner.err role="alert" { (e.message(lang.0)) } }
                    Ok(Value::Array(rows)) if !rows.is_empty() => {
                        table #records {
                            tr { th { (lang.t("时间", "When")) } th { (lang.t("类型", "Kind")) } th { (lang.t("岗位 / 结果", "Post / result")) } th { (lang.t("内容", "Note")) } th { (lang.t("站点", "Station")) } }
                            @for a in rows {
                                tr data-kind=(s(&a["kind"])) {
                                    td { (clock(s(&a["at"]))) }
                                    td { (lang.choice::<AssistKind>(s(&a["kind"]))) }
                                    td { @if let Some(p) = a["post_id"].as_str() { span.mono { (short(p)) } } @if let Some(res) = a["result"].as_str() { " · " (lang.choice::<PushResult>(res)) } }
                                    td { (s(&a["note"])) }
                                    td.muted { (s(&a["region"])) }
                                }
                            }
                        }
                    }
                    Ok(_) => { p.muted #records-empty { (lang.t("尚无帮扶记录", "No assistance recorded yet")) } }
                }
            }
        }
    };
    layout(
        lang,
        lang.t("帮扶台账", "Assistance ledger"),
        top(state, caller, lang, "/assist"),
        body,
    )
}

async fn assist_log(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let made = form_to::<AssistFields>(&f).map(Request::AssistLog);
    match run_form(&state, &caller, &f, made).await {
        Ok(v) => {
            let worker = s(&v["worker_id"]).to_string();
            let done = format!(
                "{}：{}",
                lang.t("已记录帮扶并签名", "Assistance logged and signed"),
                lang.choice::<AssistKind>(s(&v["kind"]))
            );
            Redirect::to(&format!(
                "/assist?worker={worker}&done={}#ledger",
                urlencode(&done)
            ))
            .into_response()
        }
        Err(e) => {
            let mut q = HashMap::new();
            if let Some(w) = given(&f, "worker") {
                q.insert("worker".to_string(), w);
            }
            failed(&state, &caller, lang, "/assist", "log", &f, e, q).await
        }
    }
}
