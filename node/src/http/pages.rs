//! Server-rendered pages (maud: the templates are Rust, compiled into the binary) and the static
//! files they use (`static/`, embedded with `include_str!`: no CDN, no web font, no build step).
//!
//! - Staff console `/` (login at `/login`): today's posts, publish a post, the review queue
//!   with its automatic findings, workers (register, list priority first), matching for a post
//!   and confirming a placement on the spot, employers. Forms post to `/console/…` with the
//!   session's CSRF token; the same field structs and the same [`Request`]s as the API and the
//!   command line. A refused form is shown again with what was typed and the message next to
//!   the field, in the page's language (Chinese; `?lang=en` switches to English).
//! - `/screen`: the hall's big screen (large type, high contrast), scrolling the open approved
//!   posts; it takes the feed from `/screen/events` (server-sent events, [`super::live`]) as
//!   soon as posts change, also fetches `/feed.json` every 10 s (the fallback where events do
//!   not get through) and, when the node cannot be reached, keeps the last posts with
//!   "最后更新" and the time. `?occupation=`, `?speed=` (px/s) and
//!   `?orientation=portrait`.
//! - Public, no login: `/posts` (search by everyday occupation words and by place), `/posts/ID`
//!   (with the poster check), `/directory`, `/feed.json`, `/occupations.json`.
//! - Posters: `/posts/ID/poster` and `/posters/today`, printable A4, with a QR code (SVG) that
//!   opens `/posts/ID?by=NODE&t=TIME&h=DIGEST&s=SIGNATURE`: the post's id, the node that printed
//!   it, when (unix seconds), a digest of the fields printed, and the printing node's ed25519
//!   signature over `lingong/poster/v1` ‖ id ‖ digest ‖ time ([`poster_message`]). Whichever
//!   node the phone reaches checks the signature with the printer's key and that key's
//!   certificate chain to the province root as this node holds it (the chain verification of
//!   `lingong_protocol::cert`), then, if it holds the post, whether the printed fields still
//!   match and whether it is still open ([`check_poster`]; SECURITY.md, "Posters").

use super::AppState;
use super::api::{self, field_of, lang_of, parse_value};
use super::auth::{self, Auth, Caller, LoginError};
use crate::error::NodeError;
use crate::request::{
    EmployerFields, PlacementFields, PostFields, PostFilter, Request, WorkerFields,
};
use crate::services::staff::Role;
use axum::Router;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use lingong_protocol::schema::{
    Choice, EmployerStatus, EmployerType, PostStatus, ReviewState, WageUnit,
};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const CSS: &str = include_str!("static/app.css");
const APP_JS: &str = include_str!("static/app.js");
const SCREEN_JS: &str = include_str!("static/screen.js");
/// The station's icon (工 on the console's red), for the browser's tab and bookmarks.
const ICON_SVG: &str = include_str!("static/icon.svg");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(console))
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
        .route("/console/{action}", post(console_form))
        .route("/console/{action}/{id}", post(console_form_id))
        .route("/screen", get(screen))
        .route("/posts", get(public_posts))
        .route("/posts/{id}", get(public_post))
        .route("/posts/{id}/poster", get(poster))
        .route("/posters/today", get(posters_today))
        .route("/directory", get(public_directory))
        .route("/feed.json", get(feed))
        .route("/screen/events", get(super::live::screen_events))
        .route("/occupations.json", get(occupations_json))
        .route(
            "/static/app.css",
            static_file("text/css; charset=utf-8", CSS),
        )
        .route(
            "/static/app.js",
            static_file("text/javascript; charset=utf-8", APP_JS),
        )
        .route(
            "/static/screen.js",
            static_file("text/javascript; charset=utf-8", SCREEN_JS),
        )
        .route("/static/icon.svg", static_file("image/svg+xml", ICON_SVG))
        // Browsers ask for it whatever the page says; an SVG answers them all.
        .route("/favicon.ico", static_file("image/svg+xml", ICON_SVG))
}

/// A file built into the binary, served with its type and an hour's caching.
pub(super) fn static_file(
    content_type: &'static str,
    body: &'static str,
) -> MethodRouter<AppState> {
    get(move || async move {
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            body,
        )
    })
}

/// The page's language: `?lang=` (remembered in a cookie), else the cookie, else
/// `Accept-Language`, else Chinese.
#[derive(Clone, Copy)]
pub(super) struct L(pub(super) &'static str);

impl L {
    pub(super) fn of(headers: &HeaderMap, query: &HashMap<String, String>) -> L {
        match query
            .get("lang")
            .map(String::as_str)
            .or_else(|| auth::cookie(headers, "lang"))
        {
            Some("en") => L("en"),
            Some(_) => L("zh"),
            None => L(lang_of(headers)),
        }
    }
    pub(super) fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        if self.0 == "en" { en } else { zh }
    }
    pub(super) fn en(self) -> bool {
        self.0 == "en"
    }
    /// A choice value's name in the page's language (the schema's Chinese or English name).
    pub(super) fn name<C: Choice>(self, c: C) -> &'static str {
        self.t(c.as_zh(), c.as_en())
    }
    /// A stored choice value (a post's status, an employer's type…) in the page's language;
    /// a value the schema does not know is shown as stored.
    pub(super) fn choice<C: Choice>(self, stored: &str) -> String {
        match C::parse("value", stored) {
            Ok(c) => self.name(c).to_string(),
            Err(_) => stored.to_string(),
        }
    }
    /// The options of a picker of `C`: a first row with an empty value when `prompt` is given
    /// (`(中文, English)`: a form whose service refuses the empty value, naming the field), then
    /// every value of `C` with its name in the page's language.
    pub(super) fn options<C: Choice>(
        self,
        prompt: Option<(&'static str, &'static str)>,
    ) -> Vec<(&'static str, &'static str)> {
        let first = prompt.map(|(zh, en)| ("", self.t(zh, en)));
        first
            .into_iter()
            .chain(C::ALL.iter().map(|c| (c.as_str(), self.name(*c))))
            .collect()
    }
}

/// What every staff page starts from, as an extractor: the caller, the page's language and the
/// query. A caller without a login or a token is sent to `/login` before the handler runs.
pub(super) struct StaffPage {
    pub(super) caller: Caller,
    pub(super) lang: L,
    pub(super) q: HashMap<String, String>,
}

impl FromRequestParts<AppState> for StaffPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(caller) = Caller::from_request_parts(parts, state).await;
        let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if caller.role().is_none() {
            return Err(Redirect::to("/login").into_response());
        }
        let lang = L::of(&parts.headers, &q);
        Ok(StaffPage { caller, lang, q })
    }
}

impl StaffPage {
    /// The page `m`, 200, in the page's language (remembered when the query chose it).
    pub(super) fn show(&self, m: Markup) -> Response {
        html_response(StatusCode::OK, self.lang, &self.q, m)
    }
}

pub(super) fn html_response(
    status: StatusCode,
    lang: L,
    query: &HashMap<String, String>,
    m: Markup,
) -> Response {
    let mut res = (status, m.into_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if query.contains_key("lang")
        && let Ok(v) = header::HeaderValue::from_str(&format!(
            "lang={}; Path=/; SameSite=Strict; Max-Age=31536000",
            lang.0
        ))
    {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub(super) fn layout(lang: L, title: &str, top: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang.en() { "en" } else { "zh-CN" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                script src="/static/app.js" defer {}
            }
            body {
                (top)
                main { (body) }
            }
        }
    }
}

fn public_top(state: &AppState, lang: L) -> Markup {
    html! {
        header.top {
            strong { (state.name) }
            a href="/posts" { (lang.t("岗位信息", "Jobs")) }
            a href="/directory" { (lang.t("驿站名录", "Directory")) }
            a href="/screen" { (lang.t("大屏", "Big screen")) }
            span.who {
                @if lang.en() { a href="?lang=zh" { "中文" } } @else { a href="?lang=en" { "English" } }
            }
        }
    }
}

// ----- data helpers -------------------------------------------------------------------------

/// A wage unit as printed after an amount: 元/天, yuan/day.
pub(super) fn per_unit(unit: &str, lang: L) -> String {
    format!("{}/{}", lang.t("元", "yuan"), lang.choice::<WageUnit>(unit))
}

fn wage_text(p: &Value, lang: L) -> String {
    let w = p["wage"].as_f64().unwrap_or(0.0);
    let w = if w.fract() == 0.0 {
        format!("{w:.0}")
    } else {
        format!("{w:.2}")
    };
    format!("{w} {}", per_unit(p["unit"].as_str().unwrap_or(""), lang))
}

fn left_text(p: &Value, lang: L) -> String {
    let left = p["headcount"].as_i64().unwrap_or(0) - p["filled"].as_i64().unwrap_or(0);
    if lang.en() {
        format!("{} of {} left", left.max(0), p["headcount"])
    } else {
        format!("招 {} 人，余 {} 人", p["headcount"], left.max(0))
    }
}

pub(super) fn occupation_name(code: &str) -> String {
    lingong_protocol::occupation::occupations()
        .get(code)
        .map(|o| o.name.clone())
        .unwrap_or_else(|| code.to_string())
}

pub(super) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn is_priority(v: &Value) -> bool {
    v.as_i64().is_some_and(|n| n > 0) || v.as_bool() == Some(true)
}

/// A time the node wrote (RFC 3339, in UTC) as the station's clerks read a clock: China
/// Standard Time, `2026-12-08 05:42:01`; what is not a time is shown as it is.
pub(super) fn clock(time: &str) -> String {
    lingong_protocol::dates::cst_time(time).unwrap_or_else(|| time.to_string())
}

/// A division code as the page shows it: its official name (乐源社区居民委员会), then the code,
/// muted; a code not in the division table as it is.
pub(super) fn place(code: &str) -> Markup {
    let name = lingong_protocol::region::RegionCode::parse(code)
        .ok()
        .and_then(|c| lingong_protocol::region::divisions().name(&c));
    html! {
        @if let Some(name) = name { (name) " " span.muted.code { (code) } } @else { (code) }
    }
}

/// A record kind as the node names it in its counts (`posts`) or lists (`post`), in the
/// page's language; `envelopes` is every signed change held.
pub(super) fn kind_name(name: &str, lang: L) -> String {
    match lingong_protocol::record::RecordKind::named(name) {
        _ if lang.en() => name.to_string(),
        Some(kind) => kind.name_zh().to_string(),
        None if name == "envelopes" => "签名变更（共计）".to_string(),
        None => name.to_string(),
    }
}

pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Open approved posts held here, newest first (what the public sees): listed once per write
/// and kept between writes ([`super::Web::open_posts`]).
async fn open_posts(
    state: &AppState,
    occupation: Option<String>,
) -> Result<Arc<Vec<Value>>, NodeError> {
    let writes = state.with_station(|st| Ok(st.store.write_count())).await?;
    if let Some(posts) = state.open_posts.get(writes, &occupation) {
        return Ok(posts);
    }
    let v = state
        .run(Request::PostList(PostFilter {
            status: Some("open".into()),
            review: Some("approved".into()),
            occupation: occupation.clone(),
            limit: Some(500),
            ..Default::default()
        }))
        .await?;
    let posts = Arc::new(match v {
        Value::Array(rows) => rows,
        _ => Vec::new(),
    });
    // Kept as of the count read before the list: a write landing between the two makes the
    // next request list again, never serve rows older than its count.
    state.open_posts.keep(writes, occupation, &posts);
    Ok(posts)
}

/// Employer id → name, and node id → station name (from the directory).
async fn names(state: &AppState) -> (HashMap<String, String>, HashMap<String, String>) {
    let mut employers = HashMap::new();
    if let Ok(Value::Array(rows)) = state.run(Request::EmployerList { status: None }).await {
        for r in rows {
            employers.insert(s(&r["id"]).to_string(), s(&r["name"]).to_string());
        }
    }
    let mut stations = HashMap::new();
    if let Ok(Value::Array(rows)) = state.run(Request::DirectoryList { region: None }).await {
        for r in rows {
            stations.insert(s(&r["node_id"]).to_string(), s(&r["name"]).to_string());
        }
    }
    stations.insert(state.node_id.clone(), state.name.clone());
    (employers, stations)
}

/// The digest a poster prints: 16 bytes of SHA-256 (hex) over the canonical encoding of the
/// fields a worker reads on it (title, wage and unit, headcount, occupation, place, contact,
/// employer, expiry).
fn poster_digest(p: &Value) -> String {
    let mut w = lingong_protocol::canon::Writer::new();
    for f in [
        "title",
        "unit",
        "occupation",
        "location",
        "contact",
        "employer",
        "expires",
    ] {
        w.str(s(&p[f]));
    }
    w.str(&p["wage"].to_string())
        .str(&p["headcount"].to_string());
    hex::encode(&lingong_protocol::canon::sha256(w.as_slice())[..16])
}

/// Domain tag of what a poster's printing node signs: no other signed message of lingong starts
/// with it (certificates, envelopes and seals have their own).
const POSTER_DOMAIN: &str = "lingong/poster/v1";

/// The bytes a printing node signs for a poster: the domain tag, the post's id, the digest of
/// the printed fields ([`poster_digest`]) and when it was printed (unix seconds).
fn poster_message(id: &str, digest: &str, at_s: i64) -> Vec<u8> {
    let mut w = lingong_protocol::canon::Writer::with_domain(POSTER_DOMAIN);
    w.str(id).str(digest).i64(at_s);
    w.finish()
}

/// How many printed codes [`PosterCodes`] keeps (a day's posters at a busy county, with room):
/// codes of another day are dropped at every print, and past this number all are.
const POSTER_CODES_KEPT: usize = 5_000;

/// The QR codes this node has printed today, by the link's origin, the post's id and the
/// printed fields' digest ([`poster_digest`]): a post printed again the same day (China time)
/// with the same fields gets the same code, its signature and time from the first print, so
/// `/posters/today` signs and draws each post once a day instead of at every request (20 codes
/// a page: about 200 ms of its answer on the web bench's village). A post whose printed fields
/// changed has another digest, so a new code; tomorrow's prints are signed again.
#[derive(Default)]
pub struct PosterCodes {
    printed: Mutex<HashMap<(String, String, String), PrintedCode>>,
}

/// One printed QR code: the signed link and its SVG drawing.
#[derive(Clone)]
struct PrintedCode {
    /// The China-time day it was first printed (days since the epoch).
    day: i64,
    url: Arc<str>,
    svg: Arc<str>,
}

impl PosterCodes {
    fn get(&self, key: &(String, String, String), day: i64) -> Option<PrintedCode> {
        let printed = self.printed.lock().expect("poster codes");
        printed.get(key).filter(|c| c.day == day).cloned()
    }

    fn keep(&self, new: Vec<((String, String, String), PrintedCode)>, day: i64) {
        let mut printed = self.printed.lock().expect("poster codes");
        printed.retain(|_, c| c.day == day);
        if printed.len() + new.len() > POSTER_CODES_KEPT {
            printed.clear();
        }
        printed.extend(new);
    }
}

/// The QR codes of posters this node prints now, one per post (link and drawing): each link
/// signed with the node's key (one trip to the station for all the posts not printed yet
/// today, [`PosterCodes`]). A node that cannot sign (no station) prints links without a
/// signature, which every node's check calls unsigned.
async fn poster_codes(state: &AppState, origin: &str, posts: &[&Value]) -> Vec<PrintedCode> {
    let now_ms = crate::station::now_ms();
    let day = lingong_protocol::dates::today_cst(now_ms);
    let at_s = now_ms / 1000;
    let keys: Vec<(String, String, String)> = posts
        .iter()
        .map(|p| {
            (
                origin.to_string(),
                s(&p["id"]).to_string(),
                poster_digest(p),
            )
        })
        .collect();
    let mut codes: Vec<Option<PrintedCode>> = keys
        .iter()
        .map(|k| state.poster_codes.get(k, day))
        .collect();
    let missing: Vec<usize> = (0..keys.len()).filter(|&i| codes[i].is_none()).collect();
    if !missing.is_empty() {
        let to_sign: Vec<(String, String)> = missing
            .iter()
            .map(|&i| (keys[i].1.clone(), keys[i].2.clone()))
            .collect();
        let signed = state
            .with_station(move |st| {
                Ok(to_sign
                    .iter()
                    .map(|(id, d)| st.key.sign(&poster_message(id, d, at_s)).to_hex())
                    .collect::<Vec<_>>())
            })
            .await
            .unwrap_or_default();
        let mut new = Vec::new();
        for (n, &i) in missing.iter().enumerate() {
            let (_, id, digest) = &keys[i];
            let mut url = format!(
                "{origin}/posts/{id}?by={}&t={at_s}&h={digest}",
                state.node_id
            );
            if let Some(sig) = signed.get(n) {
                url.push_str("&s=");
                url.push_str(sig);
            }
            let code = PrintedCode {
                day,
                svg: qr_svg(&url).into(),
                url: url.into(),
            };
            // An unsigned code (no station to sign with) is not kept: the next print signs.
            if !signed.is_empty() {
                new.push((keys[i].clone(), code.clone()));
            }
            codes[i] = Some(code);
        }
        state.poster_codes.keep(new, day);
    }
    codes.into_iter().flatten().collect()
}

/// What the public page found of a poster's QR parameters.
enum PosterCheck {
    /// The signature verifies with the printer's key, and that key's certificate chain (as this
    /// node holds it) leads to the province root, valid when printed and not revoked.
    Valid {
        printer: String,
        date: String,
        digest: String,
    },
    /// Parameters missing or malformed, or the signature does not verify: altered or forged.
    Forged,
    /// The signature verifies but the printer's chain does not (revoked, expired when printed,
    /// another root).
    Uncertified { printer: String, reason: String },
    /// This node holds no certificate of the printer: the signature cannot be checked here.
    Unknown,
    /// A poster without a signature (printed before posters were signed).
    Unsigned,
}

/// Checks a poster's QR parameters (`by`, `t`, `h`, `s`) for the post id in its link: the
/// signature with the key the `by` node id embeds, then that key's certificate chain to this
/// node's root through [`lingong_protocol::cert::CertChain::verify`] at the time printed, with the
/// revocations held here. The chain is the printer's as this node holds it: its own, a link of
/// its own chain (its ancestors), or an author's certificate record replicated here. `None`
/// when the link came from no poster.
async fn check_poster(
    state: &AppState,
    id: &str,
    q: &HashMap<String, String>,
) -> Option<PosterCheck> {
    use lingong_protocol::keys::{PublicKey, Signature};
    use lingong_protocol::store::Store as _;
    if !["by", "t", "h", "s"].iter().any(|k| q.contains_key(*k)) {
        return None;
    }
    let (Some(by), Some(h)) = (q.get("by"), q.get("h")) else {
        return Some(PosterCheck::Forged);
    };
    let Some(sig) = q.get("s") else {
        return Some(PosterCheck::Unsigned);
    };
    let key = PublicKey::from_node_id(by);
    let at_s = q.get("t").and_then(|t| t.parse::<i64>().ok());
    let sig = hex::decode(sig)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok());
    let (Some(key), Some(at_s), Some(sig)) = (key, at_s, sig) else {
        return Some(PosterCheck::Forged);
    };
    if !key.verify(&poster_message(id, h, at_s), &Signature(sig)) {
        return Some(PosterCheck::Forged);
    }
    let digest = h.clone();
    let checked = state
        .with_station(move |st| {
            let mut chains = Vec::new();
            if let Some(own) = &st.chain
                && let Some(i) = own.certs().iter().position(|c| c.body.subject == key)
            {
                chains.push(lingong_protocol::cert::CertChain::new(
                    own.certs()[i..].to_vec(),
                ));
            }
            if let Some(author) = st.store.author(&key)? {
                chains.push(author.chain.clone());
                chains.extend(author.earlier.iter().cloned());
            }
            let Some(first) = chains.first() else {
                return Ok(PosterCheck::Unknown);
            };
            let printer = first.leaf().name.clone();
            let root = st.accept_config()?.root;
            let revoked = |k: &PublicKey| matches!(st.store.revocation(k), Ok(Some(_)));
            let mut reason = String::new();
            for chain in &chains {
                match chain.verify(&root, at_s, &revoked) {
                    Ok(()) => {
                        let date = lingong_protocol::dates::format_date(
                            lingong_protocol::dates::today_cst(at_s.saturating_mul(1000)),
                        );
                        return Ok(PosterCheck::Valid {
                            printer: chain.leaf().name.clone(),
                            date,
                            digest,
                        });
                    }
                    Err(e) => reason = e.to_string(),
                }
            }
            Ok(PosterCheck::Uncertified { printer, reason })
        })
        .await;
    Some(checked.unwrap_or(PosterCheck::Unknown))
}

/// The check's box at the top of a post's public page. `held` is the post as this node holds
/// it, if it does: a valid poster is then compared with it (fields, review, signatures, open).
fn poster_check_box(check: &PosterCheck, held: Option<&Value>, lang: L) -> Markup {
    match check {
        PosterCheck::Valid {
            printer,
            date,
            digest,
        } => {
            let changed = held.is_some_and(|p| {
                *digest != poster_digest(p)
                    || s(&p["review"]) != "approved"
                    || !p["signatures_valid"].as_bool().unwrap_or(false)
            });
            let open = held.map(|p| s(&p["status"]) == "open");
            let state = match (changed, open) {
                (true, _) => "changed",
                (false, Some(false)) => "closed",
                _ => "genuine",
            };
            let warn = changed || open == Some(false);
            html! {
                div.check.good[!warn].bad[warn] data-check=(state) {
                    "✔ " (lang.t("由 ", "Printed by ")) strong { (printer) } (lang.t(" 于 ", " on ")) (date)
                    (lang.t(" 印制，签名有效", ", signature valid"))
                    @if changed {
                        br; "✘ " (lang.t("但海报印制后岗位信息已更改或正在重新审核，海报上的内容已不准确，请以驿站公布的为准", "but the post has changed since it was printed, or is being reviewed again: the poster is out of date; check with the station"))
                    } @else if open == Some(false) {
                        br; "⚠ " (lang.t("但该岗位现已关闭或招满", "but the post is now closed or filled"))
                    } @else if open.is_none() {
                        br; (lang.t("本节点没有这个已审核的岗位，无法确认它是否仍在招聘，请拨打驿站电话核实", "This node holds no reviewed post with this id, so it cannot tell whether the post is still open: check with the station"))
                    }
                }
            }
        }
        PosterCheck::Forged => html! {
            div.check.bad data-check="forged" {
                "✘ " (lang.t("海报的签名无效：海报被篡改或是伪造的，请勿轻信，可拨打驿站电话核实", "The poster's signature is not valid: the poster was altered or forged. Do not trust it; check with the station."))
            }
        },
        PosterCheck::Uncertified { printer, reason } => html! {
            div.check.bad data-check="uncertified" {
                "✘ " (lang.t("海报签名者 ", "The poster was signed by ")) (printer)
                (lang.t("，但其证书未通过核验（已吊销、印制时不在有效期内或不属于本省）：请勿轻信", ", whose certificate does not check (revoked, not valid when printed, or of another province): do not trust it"))
                span.muted { " (" (reason) ")" }
            }
        },
        PosterCheck::Unknown => html! {
            div.check.bad data-check="unverifiable" {
                "⚠ " (lang.t("本节点没有印制海报的驿站的证书，无法在这里核验签名；请换一个驿站的页面扫码，或拨打驿站电话核实", "This node holds no certificate of the station that printed the poster, so the signature cannot be checked here: try another station's page, or check with the station"))
            }
        },
        PosterCheck::Unsigned => html! {
            div.check.bad data-check="unsigned" {
                "⚠ " (lang.t("这张海报没有签名（旧版海报），无法核验，请与下方登记的岗位对照", "This poster carries no signature (an older poster) and cannot be checked: compare it with the registered post below"))
            }
        },
    }
}

// ----- public pages ---------------------------------------------------------------------------

/// `/feed.json`: the open approved posts, for the big screen and for other public employment
/// sites. No personal data: a post's public fields, the employer's name and the signing node.
async fn feed(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let occupation = q
        .get("occupation")
        .filter(|o| !o.trim().is_empty())
        .cloned();
    match feed_value(&state, lang, occupation).await {
        Ok(out) => axum::Json(out).into_response(),
        Err(e) => api::node_error(&e, lang.0),
    }
}

/// What `/feed.json` answers (and `/screen/events` sends): the open approved posts held here.
pub(super) async fn feed_value(
    state: &AppState,
    lang: L,
    occupation: Option<String>,
) -> Result<Value, NodeError> {
    let posts = open_posts(state, occupation).await?;
    let (employers, _) = names(state).await;
    let rows: Vec<Value> = posts
        .iter()
        .map(|p| {
            json!({
                "id": p["id"],
                "title": p["title"],
                "occupation": p["occupation"],
                "occupation_name": occupation_name(s(&p["occupation"])),
                "wage": p["wage"],
                "unit": p["unit"],
                "wage_text": wage_text(p, lang),
                "headcount": p["headcount"],
                "filled": p["filled"],
                "left_text": left_text(p, lang),
                "location": p["location"],
                "contact": p["contact"],
                "employer": employers.get(s(&p["employer"])).cloned(),
                "region": p["region"],
                "expires": p["expires"],
                "signed_by": p["author"],
                "url": format!("/posts/{}", s(&p["id"])),
            })
        })
        .collect();
    let mut out = json!({
        "station": state.name,
        "region": state.region,
        "node_id": state.node_id,
        "generated_at": lingong_protocol::dates::rfc3339(crate::station::now_ms()),
        "posts": rows,
    });
    api::redact(&mut out);
    Ok(out)
}

/// `/occupations.json?q=搬运`: occupations whose official name or everyday name contains the
/// words (at most 20), for the console's picker and the public search.
async fn occupations_json(Query(q): Query<HashMap<String, String>>) -> Response {
    let words = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    axum::Json(search_occupations(&words, 20)).into_response()
}

fn search_occupations(words: &str, max: usize) -> Vec<Value> {
    if words.is_empty() {
        return Vec::new();
    }
    lingong_protocol::occupation::occupations()
        .iter()
        .filter(|o| o.level == 4 || o.code.as_str().starts_with(words))
        .filter(|o| {
            o.name.contains(words)
                || o.aliases.iter().any(|a| a.contains(words))
                || o.code.as_str().starts_with(words)
        })
        .take(max)
        .map(|o| json!({ "code": o.code.as_str(), "name": o.name, "aliases": o.aliases }))
        .collect()
}

async fn public_posts(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let words = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let place = q
        .get("place")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let all = open_posts(&state, None).await.unwrap_or_default();
    let mut posts: Vec<&Value> = all.iter().collect();
    if !words.is_empty() {
        let codes: Vec<String> = search_occupations(&words, 200)
            .iter()
            .map(|o| s(&o["code"]).to_string())
            .collect();
        posts.retain(|p| {
            s(&p["title"]).contains(&words) || codes.iter().any(|c| s(&p["occupation"]) == c)
        });
    }
    if !place.is_empty() {
        posts.retain(|p| s(&p["location"]).contains(&place) || s(&p["region"]).starts_with(&place));
    }
    let (employers, _) = names(&state).await;
    let body = html! {
        h1 { (lang.t("招工岗位", "Open jobs")) " · " (state.name) }
        form method="get" action="/posts" class="grid" {
            div.field { label for="q" { (lang.t("工种（如 钟点工、搬运）", "Work (e.g. 钟点工, 搬运)")) } input id="q" name="q" value=(words); }
            div.field { label for="place" { (lang.t("地点", "Place")) } input id="place" name="place" value=(place); }
            div.field { label { " " } button type="submit" { (lang.t("查找", "Search")) } }
        }
        p.muted { (posts.len()) (lang.t(" 个岗位，均已通过真实性审核", " jobs, all reviewed for authenticity")) }
        ul.posts {
            @for p in &posts {
                li data-id=(s(&p["id"])) {
                    div.title { a href={ "/posts/" (s(&p["id"])) } { (s(&p["title"])) } }
                    div { span.wage { (wage_text(p, lang)) } " · " (left_text(p, lang)) " · " (occupation_name(s(&p["occupation"]))) }
                    div { (s(&p["location"])) }
                    @if let Some(e) = employers.get(s(&p["employer"])) { div.muted { (e) } }
                    div { (lang.t("联系：", "Contact: ")) (s(&p["contact"])) }
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
            lang.t("招工岗位", "Open jobs"),
            public_top(&state, lang),
            body,
        ),
    )
}

async fn public_post(
    State(state): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let shown = state.run(Request::PostShow { id: id.clone() }).await;
    let (employers, stations) = names(&state).await;
    let poster_check = check_poster(&state, &id, &q).await;
    let body = match &shown {
        Ok(p) if s(&p["review"]) == "approved" => {
            let author = s(&p["author"]).to_string();
            let station = stations
                .get(&author)
                .cloned()
                .unwrap_or_else(|| short(&author).to_string());
            let open = s(&p["status"]) == "open";
            html! {
                @if let Some(check) = &poster_check {
                    (poster_check_box(check, Some(p), lang))
                }
                h1 { (s(&p["title"])) }
                table {
                    tr { th { (lang.t("工资", "Wage")) } td.wage { (wage_text(p, lang)) } }
                    tr { th { (lang.t("人数", "Places")) } td { (left_text(p, lang)) } }
                    tr { th { (lang.t("工种", "Occupation")) } td { (occupation_name(s(&p["occupation"]))) } }
                    tr { th { (lang.t("地点", "Place")) } td { (s(&p["location"])) } }
                    tr { th { (lang.t("联系", "Contact")) } td { (s(&p["contact"])) } }
                    @if let Some(e) = employers.get(s(&p["employer"])) { tr { th { (lang.t("用工单位", "Employer")) } td { (e) } } }
                    tr { th { (lang.t("说明", "Details")) } td { (s(&p["description"])) } }
                    tr { th { (lang.t("截止", "Until")) } td { (s(&p["expires"])) } }
                    tr { th { (lang.t("状态", "Status")) } td { (if open { lang.t("招聘中", "open") } else { lang.t("已关闭或招满", "closed or filled") }) } }
                    tr { th { (lang.t("发布驿站", "Station")) } td { (station) " " span.muted { (short(&author)) } } }
                }
                p.noprint { a href={ "/posts/" (id) "/poster" } { (lang.t("打印海报", "Print poster")) } }
            }
        }
        _ => html! {
            @if let Some(check) = &poster_check {
                (poster_check_box(check, shown.as_ref().ok(), lang))
            }
            h1 { (lang.t("没有找到该岗位", "No such post")) }
        },
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(lang, lang.t("岗位", "Job"), public_top(&state, lang), body),
    )
}

async fn public_directory(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let rows = match state.run(Request::DirectoryList { region: None }).await {
        Ok(Value::Array(r)) => r,
        _ => Vec::new(),
    };
    let body = html! {
        h1 { (lang.t("零工市场和驿站名录", "Markets and stations")) }
        ul.posts {
            @for r in &rows {
                li {
                    div.title { (s(&r["name"])) }
                    div { (lang.t("地址：", "Address: ")) (s(&r["address"])) }
                    div { (lang.t("服务时间：", "Hours: ")) (s(&r["hours"])) }
                    div { (lang.t("服务电话：", "Hotline: ")) (s(&r["hotline"])) }
                    @if let Some(list) = r["services"].as_array() {
                        div { (lang.t("服务：", "Services: ")) @for x in list { span.tag { (s(x)) } " " } }
                    }
                    @if !s(&r["rules"]).is_empty() { div { (lang.t("服务制度：", "Rules: ")) (s(&r["rules"])) } }
                }
            }
        }
        @if rows.is_empty() { p.muted { (lang.t("暂无名录", "No entries yet")) } }
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(
            lang,
            lang.t("名录", "Directory"),
            public_top(&state, lang),
            body,
        ),
    )
}

async fn screen(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let occupation = q
        .get("occupation")
        .filter(|o| !o.trim().is_empty())
        .cloned();
    let posts = open_posts(&state, occupation).await.unwrap_or_default();
    let (employers, _) = names(&state).await;
    let portrait = q.get("orientation").is_some_and(|o| o == "portrait");
    let now = lingong_protocol::dates::rfc3339(crate::station::now_ms());
    let m = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (state.name) " · " (lang.t("招工信息", "Jobs")) }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                script src="/static/screen.js" defer {}
            }
            body.screen.portrait[portrait]
                data-updated=(lang.t("最后更新", "Last updated"))
                data-offline=(lang.t("网络中断，最后更新", "Offline, last updated"))
                data-since-start=(lang.t("（开机时）", "(at start)"))
                data-empty=(lang.t("暂无招工信息", "No open jobs right now")) {
                header {
                    span { (state.name) " · " (lang.t("招工信息（均已审核）", "Open jobs (reviewed)")) }
                    span #stamp .stamp { (lang.t("最后更新", "Last updated")) " " (clock(&now).get(11..).unwrap_or("")) }
                }
                div #viewport .viewport {
                    div #rows .rows {
                        @for p in posts.iter() {
                            div.row data-id=(s(&p["id"])) {
                                div.t { (s(&p["title"])) }
                                div.w { (wage_text(p, lang)) }
                                div.h { (left_text(p, lang)) }
                                div.l { (s(&p["location"])) }
                                div.c { (employers.get(s(&p["employer"])).map(String::as_str).unwrap_or("")) " " (s(&p["contact"])) }
                            }
                        }
                        @if posts.is_empty() { div.empty { (lang.t("暂无招工信息", "No open jobs right now")) } }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, lang, &q, m)
}

fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

fn origin(h: &HeaderMap) -> String {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// One A4 poster; `code` is its signed QR code ([`poster_codes`]), `station` the printing
/// node's name.
fn poster_sheet(
    p: &Value,
    lang: L,
    code: &PrintedCode,
    station: &str,
    employer: Option<&String>,
) -> Markup {
    let id = s(&p["id"]);
    html! {
        div.poster data-id=(id) data-check-url=(&*code.url) {
            h1 { (s(&p["title"])) }
            p.wage { (wage_text(p, lang)) }
            p.big { (left_text(p, lang)) " · " (occupation_name(s(&p["occupation"]))) }
            p.big { (lang.t("地点：", "Place: ")) (s(&p["location"])) }
            p.big { (lang.t("联系：", "Contact: ")) (s(&p["contact"])) }
            @if let Some(e) = employer { p.big { (lang.t("用工单位：", "Employer: ")) (e) } }
            p { (lang.t("截止：", "Until: ")) (s(&p["expires"])) }
            div.qr {
                (PreEscaped(&*code.svg))
                div {
                    p { (lang.t("扫码核验：由 ", "Scan to check: printed by ")) strong { (station) } (lang.t(" 印制并签名，岗位已经审核", ", signed; the post is reviewed")) }
                    p.small { (lang.t("岗位编号 ", "Post id ")) (id) }
                    p.small { (lang.t("发布节点 ", "Published by node ")) (s(&p["author"])) }
                }
            }
        }
    }
}

async fn poster(
    State(state): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let (employers, _) = names(&state).await;
    let body = match state.run(Request::PostShow { id }).await {
        Ok(p) if s(&p["review"]) == "approved" => {
            let codes = poster_codes(&state, &origin(&h), &[&p]).await;
            poster_sheet(
                &p,
                lang,
                &codes[0],
                &state.name,
                employers.get(s(&p["employer"])),
            )
        }
        _ => html! { h1 { (lang.t("没有这个已审核的岗位", "No reviewed post with this id")) } },
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(lang, lang.t("岗位海报", "Poster"), html! {}, body),
    )
}

/// Whether post `p` was published on `day` (days since the epoch, China time): `created_at` is
/// written in UTC, so between 00:00 and 08:00 China time its date is the day before.
fn published_on(p: &Value, day: i64) -> bool {
    lingong_protocol::dates::cst_day_of(s(&p["created_at"])) == Some(day)
}

/// How many posters `/posters/today` prints per page.
const POSTERS_PER_PAGE: usize = 20;

async fn posters_today(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    let today_cst = crate::services::today();
    let today = lingong_protocol::dates::format_date(today_cst);
    let posts = open_posts(&state, None).await.unwrap_or_default();
    let (employers, _) = names(&state).await;
    let origin = origin(&h);
    let all_today: Vec<&Value> = posts
        .iter()
        .filter(|p| published_on(p, today_cst))
        .collect();
    // One page of A4 sheets at a time (each carries a signed QR code).
    let pages = all_today.len().div_ceil(POSTERS_PER_PAGE).max(1);
    let page = super::page_asked(&q).clamp(1, pages);
    let todays: Vec<&Value> = all_today
        .iter()
        .skip((page - 1) * POSTERS_PER_PAGE)
        .take(POSTERS_PER_PAGE)
        .copied()
        .collect();
    let codes = poster_codes(&state, &origin, &todays).await;
    let body = html! {
        p.noprint {
            (lang.t("今日发布并已审核的岗位：", "Posts published and reviewed today: ")) (all_today.len()) " · " (today)
            @if pages > 1 {
                " · " (lang.t("第 ", "page ")) (page) " / " (pages) (lang.t(" 页", ""))
                @if page > 1 { " · " a href={ "/posters/today?page=" (page - 1) } { (lang.t("上一页", "previous")) } }
                @if page < pages { " · " a href={ "/posters/today?page=" (page + 1) } { (lang.t("下一页", "next")) } }
            }
        }
        @for (p, code) in todays.iter().zip(&codes) {
            (poster_sheet(p, lang, code, &state.name, employers.get(s(&p["employer"]))))
        }
    };
    html_response(
        StatusCode::OK,
        lang,
        &q,
        layout(
            lang,
            lang.t("今日岗位海报", "Today's posters"),
            html! {},
            body,
        ),
    )
}

// ----- the console ------------------------------------------------------------------------------

async fn login_page(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &q);
    html_response(
        StatusCode::OK,
        lang,
        &q,
        login_markup(&state, lang, "", None),
    )
}

fn login_markup(state: &AppState, lang: L, name: &str, error: Option<String>) -> Markup {
    let body = html! {
        section.card.login {
            h1 { (state.name) " · " (lang.t("工作人员登录", "Staff login")) }
            @if let Some(e) = &error { div.banner.err #error { (e) } }
            form method="post" action="/login" {
                div.field.bad[error.is_some()] { label for="name" { (lang.t("用户名", "Name")) } input #name name="name" value=(name) autocomplete="username" required; }
                div.field.bad[error.is_some()] { label for="password" { (lang.t("密码", "Password")) } input #password type="password" name="password" autocomplete="current-password" required; }
                p { button type="submit" { (lang.t("登录", "Log in")) } }
            }
            p.muted { a href="/posts" { (lang.t("公开岗位信息（无需登录）", "Public job list (no login)")) } }
        }
    };
    layout(
        lang,
        lang.t("登录", "Log in"),
        public_top(state, lang),
        body,
    )
}

async fn login_form(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let lang = L::of(&h, &HashMap::new());
    let name = f.get("name").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    match Auth::login(&state, &name, &password, Some(addr)).await {
        Ok((id, _)) => {
            let mut res = Redirect::to("/").into_response();
            if let Ok(v) = header::HeaderValue::from_str(&auth::session_cookie(&id)) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let (status, body) = api::login_error(e_clone(&e), lang.0);
            let msg = body.0["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let _ = e;
            html_response(
                status,
                lang,
                &HashMap::new(),
                login_markup(&state, lang, &name, Some(msg)),
            )
        }
    }
}

fn e_clone(e: &LoginError) -> LoginError {
    match e {
        LoginError::Wrong => LoginError::Wrong,
        LoginError::Locked(s) => LoginError::Locked(*s),
        LoginError::Node(n) => LoginError::Node(NodeError::Daemon {
            detail: n.to_string(),
        }),
    }
}

async fn logout_form(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Caller::Staff { id, .. } = &caller
        && caller.csrf_ok(f.get("csrf").map(String::as_str))
    {
        state.auth.logout(id);
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = header::HeaderValue::from_str(&auth::clear_cookie()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// A refused form: which form, what was typed, and the error.
pub(super) struct Refused {
    pub(super) form: String,
    pub(super) values: HashMap<String, String>,
    pub(super) field: Option<String>,
    pub(super) message: String,
}

async fn console(State(state): State<AppState>, p: StaffPage) -> Response {
    let done = p.q.get("done").cloned();
    p.show(console_markup(&state, &p.caller, p.lang, &p.q, None, done).await)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn field(
    lang: L,
    name: &str,
    zh: &'static str,
    en: &'static str,
    kind: &str,
    refused: Option<&Refused>,
    form: &str,
    extra: Markup,
) -> Markup {
    let mine = refused.filter(|r| r.form == form);
    let bad = mine.is_some_and(|r| r.field.as_deref() == Some(name));
    let value = mine
        .and_then(|r| r.values.get(name))
        .map(String::as_str)
        .unwrap_or("");
    let id = format!("{form}-{name}");
    html! {
        div.field.bad[bad] data-field=(name) {
            label for=(id) { (lang.t(zh, en)) }
            @if kind == "textarea" {
                textarea id=(id) name=(name) rows="2" { (value) }
            } @else {
                input id=(id) name=(name) type=(kind) value=(value) step=[(kind == "number").then_some("any")];
            }
            (extra)
            @if bad { div.err role="alert" { (mine.map(|r| r.message.as_str()).unwrap_or("")) } }
        }
    }
}

/// How many posts of the review queue the console shows: the oldest waiting (the queue of a
/// county can hold tens of thousands; the page must stay small).
const QUEUE_SHOWN: usize = 50;

/// The employer picker's options: none, then the employers held, by name.
pub(super) fn employer_options(lang: L, employers: &[Value]) -> Vec<(&str, &str)> {
    let none = ("", lang.t("（不指定）", "(none)"));
    std::iter::once(none)
        .chain(employers.iter().map(|e| (s(&e["id"]), s(&e["name"]))))
        .collect()
}

/// A `<select>` field with the error next to it when it is the field refused: `options` are
/// `(value, text shown)` ([`L::options`] for a schema's choices), `chosen` the value selected
/// when the form is not shown again after a refusal.
#[allow(clippy::too_many_arguments)]
pub(super) fn select(
    lang: L,
    name: &str,
    zh: &'static str,
    en: &'static str,
    options: &[(&str, &str)],
    r: Option<&Refused>,
    form: &str,
    chosen: Option<&str>,
) -> Markup {
    let mine = r.filter(|r| r.form == form);
    let bad = mine.is_some_and(|r| r.field.as_deref() == Some(name));
    let value = mine
        .and_then(|r| r.values.get(name))
        .map(String::as_str)
        .or(chosen)
        .unwrap_or("");
    let id = format!("{form}-{name}");
    html! {
        div.field.bad[bad] data-field=(name) {
            label for=(id) { (lang.t(zh, en)) }
            select id=(id) name=(name) {
                @for (v, shown) in options {
                    option value=(v) selected[*v == value] { (shown) }
                }
            }
            @if bad { div.err role="alert" { (mine.map(|r| r.message.as_str()).unwrap_or("")) } }
        }
    }
}

async fn console_markup(
    state: &AppState,
    caller: &Caller,
    lang: L,
    q: &HashMap<String, String>,
    refused: Option<Refused>,
    done: Option<String>,
) -> Markup {
    let role = caller.role().unwrap_or(Role::Clerk);
    let csrf = caller.csrf().unwrap_or("").to_string();
    let r = refused.as_ref();
    let posts = match state
        .run(Request::PostList(PostFilter {
            limit: Some(50),
            ..Default::default()
        }))
        .await
    {
        Ok(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let today = crate::services::today();
    let queue = if role >= Role::Reviewer {
        match state
            .run(Request::PostReviewQueue {
                limit: Some(QUEUE_SHOWN),
                after: None,
            })
            .await
        {
            Ok(Value::Array(p)) => p,
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let workers = match state.run(Request::WorkerList { priority: false }).await {
        Ok(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let employers = match state.run(Request::EmployerList { status: None }).await {
        Ok(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let match_post = q.get("match").cloned();
    let candidates = match &match_post {
        Some(id) => state
            .run(Request::MatchPost {
                id: id.clone(),
                limit: Some(20),
                lang: lang.0.to_string(),
            })
            .await
            .ok(),
        None => None,
    };
    let top = html! {
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
            a href="#posts" { (lang.t("今日岗位", "Today's posts")) }
            a href="#publish" { (lang.t("发布岗位", "Publish")) }
            @if role >= Role::Reviewer { a href="#review" { (lang.t("审核", "Review")) " (" (queue.len()) @if queue.len() >= QUEUE_SHOWN { "+" } ")" } }
            a href="#workers" { (lang.t("劳动者", "Workers")) }
            a href="#match" { (lang.t("匹配与上岗", "Match & place")) }
            a href="#employers" { (lang.t("用工主体", "Employers")) }
            (super::desk::nav_links(lang, role, ""))
            (super::oversight::nav_links(lang, role, ""))
            a href="/screen" { (lang.t("大屏", "Screen")) }
            a href="/posters/today" { (lang.t("今日海报", "Today's posters")) }
            a href="/posts" { (lang.t("公开页面", "Public page")) }
        }
    };
    let body = html! {
        (super::oversight::banners(lang, done.as_ref(), r))
        section.card #posts {
            h2 { (lang.t("最近岗位", "Recent posts")) }
            table {
                tr { th { (lang.t("岗位", "Post")) } th { (lang.t("工资", "Wage")) } th { (lang.t("人数", "Places")) } th { (lang.t("审核", "Review")) } th { (lang.t("状态", "Status")) } th {} }
                @for p in &posts {
                    tr data-id=(s(&p["id"])) {
                        td { (s(&p["title"])) @if published_on(p, today) { " " span.tag { (lang.t("今日", "today")) } } br; span.muted { (short(s(&p["id"]))) } }
                        td { (wage_text(p, lang)) }
                        td { (left_text(p, lang)) }
                        td { (lang.choice::<ReviewState>(s(&p["review"]))) }
                        td { (lang.choice::<PostStatus>(s(&p["status"]))) }
                        td {
                            a href={ "?match=" (s(&p["id"])) "#match" } { (lang.t("匹配", "Match")) }
                            @if s(&p["review"]) == "approved" { " · " a href={ "/posts/" (s(&p["id"])) "/poster" } { (lang.t("海报", "Poster")) } }
                        }
                    }
                }
            }
        }
        section.card #publish {
            h2 { (lang.t("发布岗位（提交后进入审核）", "Publish a post (goes to review)")) }
            form.grid method="post" action="/console/post" {
                input type="hidden" name="csrf" value=(csrf);
                (field(lang, "title", "岗位名称", "Title", "text", r, "post", html!{}))
                (field(lang, "occupation", "工种（可输入 钟点工、搬运 等）", "Occupation (e.g. 钟点工, 搬运)", "text", r, "post", html!{ datalist #occupations {} }))
                (field(lang, "wage", "工资（元）", "Wage (yuan)", "number", r, "post", html!{}))
                (select(lang, "unit", "计薪单位", "Per", &lang.options::<WageUnit>(None), r, "post", Some(WageUnit::Day.as_str())))
                (field(lang, "headcount", "招聘人数", "Places", "number", r, "post", html!{}))
                (field(lang, "location", "工作地点", "Place", "text", r, "post", html!{}))
                (field(lang, "contact", "联系人及电话", "Contact and phone", "text", r, "post", html!{}))
                (field(lang, "expires", "截止日期", "Until", "date", r, "post", html!{}))
                (select(lang, "employer", "用工主体", "Employer", &employer_options(lang, &employers), r, "post", None))
                div.wide { (field(lang, "description", "岗位说明", "Details", "textarea", r, "post", html!{})) }
                div.wide { button type="submit" { (lang.t("提交审核", "Submit for review")) } }
            }
        }
        @if role >= Role::Reviewer {
            section.card #review {
                h2 { (lang.t("待审核岗位（真实性审查）", "Review queue")) }
                @if queue.is_empty() { p.muted { (lang.t("没有待审核的岗位", "Nothing waiting")) } }
                @if queue.len() >= QUEUE_SHOWN {
                    p.muted { @if lang.en() { "The " (QUEUE_SHOWN) " waiting longest; the rest follow as these are decided" } @else { "显示等待最久的 " (QUEUE_SHOWN) " 条；审核后其余依次显示" } }
                }
                table {
                    @for p in &queue {
                        tr data-id=(s(&p["id"])) {
                            td { strong { (s(&p["title"])) } br; span.muted { (short(s(&p["id"]))) " · " (clock(s(&p["waiting_since"]))) } }
                            td {
                                @if let Some(f) = p["findings"].as_array() {
                                    @if f.is_empty() { span.tag { (lang.t("未发现问题", "no findings")) } }
                                    @for x in f { div.tag.find { (if lang.en() { s(&x["message_en"]) } else { s(&x["message_zh"]) }) } " " }
                                }
                            }
                            td {
                                form method="post" action={ "/console/review/" (s(&p["id"])) } class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="approve" value="true";
                                    button type="submit" name="decision" value="approve" { (lang.t("通过", "Approve")) }
                                }
                                " "
                                form method="post" action={ "/console/review/" (s(&p["id"])) } class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="approve" value="false";
                                    input.reason name="reason" placeholder=(lang.t("不通过原因", "Reason"));
                                    button.quiet type="submit" { (lang.t("不通过", "Reject")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #workers {
            h2 { (lang.t("登记劳动者", "Register a worker")) }
            form.grid method="post" action="/console/worker" {
                input type="hidden" name="csrf" value=(csrf);
                (field(lang, "name", "姓名", "Name", "text", r, "worker", html!{}))
                (field(lang, "id_number", "身份证号", "ID number", "text", r, "worker", html!{}))
                (field(lang, "phone", "电话", "Phone", "tel", r, "worker", html!{}))
                (field(lang, "skills", "技能（工种，逗号分隔）", "Skills (comma separated)", "text", r, "worker", html!{}))
                (field(lang, "wage_min", "期望最低工资", "Lowest wage wanted", "number", r, "worker", html!{}))
                (field(lang, "flags", "帮扶标记（如 脱贫劳动力）", "Assistance flags", "text", r, "worker", html!{}))
                div.wide { button type="submit" { (lang.t("登记", "Register")) } }
            }
            h2 { (lang.t("劳动者（优先帮扶在前）", "Workers (priority first)")) }
            table {
                tr { th { (lang.t("姓名", "Name")) } th { (lang.t("身份证", "ID")) } th { (lang.t("电话", "Phone")) } th { (lang.t("优先", "Priority")) } }
                @for w in &workers {
                    tr data-id=(s(&w["id"])) {
                        td { (s(&w["name"])) br; span.muted { (short(s(&w["id"]))) } }
                        td { (s(&w["id_masked"])) }
                        td { (s(&w["phone"])) }
                        td { @if is_priority(&w["priority"]) { span.tag.pri { (lang.t("优先", "priority")) } } }
                    }
                }
            }
        }
        section.card #match {
            h2 { (lang.t("岗位匹配与上岗确认", "Match and confirm a placement")) }
            form method="get" action="/" class="grid" {
                div.field { label for="match-post" { (lang.t("岗位编号", "Post id")) } input #match-post name="match" value=(match_post.clone().unwrap_or_default()); }
                div.field { label { " " } button type="submit" { (lang.t("找劳动者", "Find workers")) } }
            }
            @if let Some(Value::Array(c)) = &candidates {
                table {
                    tr { th { (lang.t("劳动者", "Worker")) } th { (lang.t("理由", "Why")) } th {} }
                    @for w in c {
                        tr data-id=(s(&w["worker_id"])) {
                            td { (s(&w["name"])) " " @if is_priority(&w["priority"]) { span.tag.pri { (lang.t("优先", "priority")) } } }
                            td.muted { @if let Some(rs) = w["reasons"].as_array() { @for x in rs { (s(x)) "；" } } }
                            td {
                                form method="post" action="/console/placement" class="inline" data-confirm=(lang.t("确认该劳动者上岗？", "Confirm this placement?")) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="post" value=(match_post.clone().unwrap_or_default());
                                    input type="hidden" name="worker" value=(s(&w["worker_id"]));
                                    input type="hidden" name="worker_confirmed" value="spoken";
                                    input type="hidden" name="employer_confirmed" value="phone-code";
                                    button type="submit" { (lang.t("确认上岗", "Confirm placement")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #employers {
            h2 { (lang.t("登记用工主体", "Register an employer")) }
            form.grid method="post" action="/console/employer" {
                input type="hidden" name="csrf" value=(csrf);
                (field(lang, "name", "名称", "Name", "text", r, "employer", html!{}))
                (select(lang, "type", "类型", "Type", &lang.options::<EmployerType>(None), r, "employer", None))
                (field(lang, "credit_code", "统一社会信用代码", "Credit code", "text", r, "employer", html!{}))
                (field(lang, "contact", "联系人", "Contact", "text", r, "employer", html!{}))
                (field(lang, "phone", "电话", "Phone", "tel", r, "employer", html!{}))
                (field(lang, "address", "地址", "Address", "text", r, "employer", html!{}))
                (field(lang, "verified_by", "核验人及方式", "Verified by", "text", r, "employer", html!{}))
                div.wide { button type="submit" { (lang.t("登记", "Register")) } }
            }
            table {
                @for e in &employers {
                    tr data-id=(s(&e["id"])) { td { (s(&e["name"])) } td { (lang.choice::<EmployerType>(s(&e["kind"]))) } td { (lang.choice::<EmployerStatus>(s(&e["status"]))) } td.muted { (short(s(&e["id"]))) } }
                }
            }
        }
    };
    layout(lang, lang.t("零工驿站工作台", "Station console"), top, body)
}

/// Form values as JSON for the field struct `B`: empty values dropped, and a value turned into
/// a number or a boolean where `B` wants one.
pub(super) fn form_to<B: serde::de::DeserializeOwned + Default + serde::Serialize>(
    f: &BTreeMap<String, String>,
) -> Result<B, NodeError> {
    let mut map = serde_json::Map::new();
    for (k, v) in f {
        if k == "csrf" || k == "decision" || v.trim().is_empty() {
            continue;
        }
        map.insert(k.clone(), Value::String(v.clone()));
    }
    for _ in 0..=map.len() {
        match parse_value::<B>(Value::Object(map.clone())) {
            Ok(b) => return Ok(b),
            Err(e) => {
                let Some(field) = field_of(&e).filter(|f| map.contains_key(f)) else {
                    return Err(e);
                };
                let text = map[&field].as_str().unwrap_or("").trim().to_string();
                let coerced = if let Ok(n) = text.parse::<i64>() {
                    json!(n)
                } else if let Ok(x) = text.parse::<f64>() {
                    json!(x)
                } else if text == "true" || text == "false" {
                    json!(text == "true")
                } else {
                    return Err(NodeError::usage(field, "must be a number", "必须是数字"));
                };
                if map[&field] == coerced {
                    return Err(e);
                }
                map.insert(field, coerced);
            }
        }
    }
    parse_value::<B>(Value::Object(map))
}

async fn console_form(
    state: State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Path(action): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    console_submit(state, caller, h, action, None, f).await
}

async fn console_form_id(
    state: State<AppState>,
    caller: Caller,
    h: HeaderMap,
    Path((action, id)): Path<(String, String)>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    console_submit(state, caller, h, action, Some(id), f).await
}

async fn console_submit(
    State(state): State<AppState>,
    caller: Caller,
    h: HeaderMap,
    action: String,
    id: Option<String>,
    f: BTreeMap<String, String>,
) -> Response {
    let q = HashMap::new();
    let lang = L::of(&h, &q);
    let Some(role) = caller.role() else {
        return Redirect::to("/login").into_response();
    };
    if !caller.csrf_ok(f.get("csrf").map(String::as_str)) {
        return html_response(
            StatusCode::FORBIDDEN,
            lang,
            &q,
            layout(
                lang,
                "403",
                html! {},
                html! { div.banner.err #error { (lang.t("页面已过期或表单被重复提交，请返回刷新后重试", "The page is stale or the form was replayed: go back, reload and try again")) } p { a href="/" { (lang.t("返回工作台", "Back to the console")) } } },
            ),
        );
    }
    let made: Result<(Request, &'static str, &'static str), NodeError> = match (action.as_str(), id)
    {
        ("post", None) => form_to::<PostFields>(&f).map(|b| {
            (
                Request::PostCreate(b),
                "岗位已提交审核",
                "Post submitted for review",
            )
        }),
        ("worker", None) => form_to::<WorkerFields>(&f).map(|b| {
            (
                Request::WorkerRegister(b),
                "劳动者已登记",
                "Worker registered",
            )
        }),
        ("employer", None) => form_to::<EmployerFields>(&f).map(|b| {
            (
                Request::EmployerRegister(b),
                "用工主体已登记",
                "Employer registered",
            )
        }),
        ("placement", None) => form_to::<PlacementFields>(&f).map(|b| {
            (
                Request::PlacementConfirm(b),
                "已确认上岗",
                "Placement confirmed",
            )
        }),
        ("review", Some(id)) => form_to::<api::ReviewBody>(&f).map(|b| {
            (
                Request::PostReview {
                    id,
                    approve: b.approve,
                    reason: b.reason,
                },
                "审核结果已保存",
                "Review saved",
            )
        }),
        _ => return (StatusCode::NOT_FOUND, "").into_response(),
    };
    let form = match action.as_str() {
        "review" => "review",
        "worker" => "worker",
        "employer" => "employer",
        "placement" => "placement",
        _ => "post",
    };
    let refuse = |e: NodeError| Refused {
        form: form.to_string(),
        values: f
            .iter()
            .filter(|(k, _)| *k != "csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        field: field_of(&e).map(|x| x.replace('-', "_")),
        message: e.message(lang.0),
    };
    let (req, ok_zh, ok_en) = match made {
        Ok(m) => m,
        Err(e) => {
            let refused = refuse(e);
            return html_response(
                StatusCode::BAD_REQUEST,
                lang,
                &q,
                console_markup(&state, &caller, lang, &q, Some(refused), None).await,
            );
        }
    };
    if !auth::allowed(role, &req) {
        let refused = Refused {
            form: form.into(),
            values: HashMap::new(),
            field: None,
            message: lang
                .t("您的角色无权执行此操作", "Your role may not do this")
                .into(),
        };
        return html_response(
            StatusCode::FORBIDDEN,
            lang,
            &q,
            console_markup(&state, &caller, lang, &q, Some(refused), None).await,
        );
    }
    match state.run(req).await {
        Ok(v) => {
            let done = format!("{}（{}）", lang.t(ok_zh, ok_en), short(s(&v["id"])));
            let target = format!("/?done={}", urlencode(&done));
            Redirect::to(&target).into_response()
        }
        Err(e) => {
            let status = api::status_of(&e);
            let refused = refuse(e);
            html_response(
                status,
                lang,
                &q,
                console_markup(&state, &caller, lang, &q, Some(refused), None).await,
            )
        }
    }
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lingong_protocol::dates::{days_from_civil, parse_date};

    #[test]
    fn a_post_published_after_midnight_china_time_counts_for_that_day() {
        // 01:43 on 8 December in China is 17:43 UTC on the 7th.
        let post = json!({"created_at": "2026-12-07T17:43:06Z"});
        let eighth = parse_date("day", "2026-12-08").unwrap();
        assert_eq!(eighth, days_from_civil(2026, 12, 8));
        assert!(published_on(&post, eighth));
        assert!(!published_on(&post, eighth - 1));
        // 07:59 UTC is still the same day in China; 16:00 UTC is the next.
        assert!(published_on(
            &json!({"created_at": "2026-12-08T07:59:00Z"}),
            eighth
        ));
        assert!(!published_on(
            &json!({"created_at": "2026-12-08T16:00:00Z"}),
            eighth
        ));
        assert!(!published_on(&json!({"created_at": "not a time"}), eighth));
    }
}
