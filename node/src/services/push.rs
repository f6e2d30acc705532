//! Push lists (精准推送): for each newly approved open post that reaches this station, the
//! workers to contact, ranked by the matching rules with priority workers first (困难帮扶),
//! each with the phone this station holds; the result of each contact marked as a
//! job-recommendation assistance record; messages sent through a configured command.
//!
//! - `push list [--post ID] [--days N] [--limit N]`: posts approved in the last `days` days
//!   (default [`DEFAULT_DAYS`]), live (approved, open, unexpired) with places left, that this
//!   station may place on (inside their reach, or above their station); for each, the active
//!   workers held here in the strong and fair bands of `lingong_protocol::matching` (a weak
//!   match is not worth a call), best band first, priority first within a band (the flags with
//!   `long-wait` derived, as `worker list` shows them), then score. A worker already placed on
//!   the post, or whose contact about it was marked (by any station whose record is held here),
//!   leaves the post's list.
//! - `push mark POST --worker W --result contacted|interested|declined|unreachable [--note T]`:
//!   records a job recommendation (kind 9, [`Assistance`]) naming the post and the result.
//! - `push send [--post ID] [--worker W] [--days N]`: runs `push_command` from config.toml
//!   (program and arguments, no shell) once per worker on the lists, the message on its
//!   standard input, the phone in `LINGONG_PUSH_PHONE` (and the ids in `LINGONG_PUSH_POST`,
//!   `LINGONG_PUSH_WORKER`); every send that exits 0 is recorded as a job recommendation with
//!   result `contacted`, all in one batch; any failed send makes the command exit 1 naming
//!   each (the successful ones stay recorded). Without a `push_command` nothing is sent: the
//!   command is optional. The daemon prepares the messages and records the results holding the
//!   station, and runs the command without it.

use super::{fill_of, page_limit, priority_flags, required, today, typed};
use crate::error::{NodeError, Result};
use crate::index::{self, Field};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::dates;
use lingong_protocol::matching::{self, BANDS, WEAKEST_BAND};
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::placement::Fill;
use lingong_protocol::schema::{
    AssistKind, Assistance, Choice, Placement, PlacementStatus, Post, PushResult, ReviewState,
    Schema, Worker, WorkerStatus, paragraph,
};
use lingong_protocol::store::RecordState;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A post counts as newly approved for this many days after its approval.
pub const DEFAULT_DAYS: i64 = 7;

/// The longest `--days` accepted.
pub const MAX_DAYS: i64 = 366;

/// How long one run of `push_command` may take before it is stopped and counted as failed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// One post's push list.
struct PushList {
    state: RecordState,
    post: Post,
    fill: Fill,
    approved_ms: i64,
    /// The workers to contact, in rank order, their reasons not yet written: indices into
    /// [`Gathered::workers`], with each one's rank and priority.
    picks: Vec<(usize, matching::Rank, i64)>,
}

impl PushList {
    /// The workers to contact, with the reasons of each match (the costly part: written only
    /// for the lists shown).
    fn contacts(&self, workers: &[(String, Worker)], day: i64) -> Vec<Contact> {
        self.picks
            .iter()
            .map(|&(i, rank, priority)| {
                let (id, worker) = &workers[i];
                let m = matching::WorkerPick {
                    id: i,
                    rank,
                    priority,
                    worker,
                }
                .assess(&self.post, self.fill, day);
                Contact {
                    id: id.clone(),
                    worker: worker.clone(),
                    band: m.band,
                    score: m.score,
                    priority,
                    reasons: m.reasons,
                }
            })
            .collect()
    }
}

/// What [`gather`] found: the active workers held here and the posts' lists, newest approval
/// first.
pub struct Gathered {
    workers: Vec<(String, Worker)>,
    lists: Vec<PushList>,
}

/// One worker to contact about a post.
struct Contact {
    id: String,
    worker: Worker,
    band: u8,
    score: u32,
    priority: i64,
    reasons: Vec<lingong_protocol::matching::Reason>,
}

fn days_arg(days: Option<i64>) -> Result<i64> {
    let d = days.unwrap_or(DEFAULT_DAYS);
    if (1..=MAX_DAYS).contains(&d) {
        Ok(d)
    } else {
        Err(NodeError::usage(
            "days",
            format!("must be 1 to {MAX_DAYS}"),
            format!("必须在 1 到 {MAX_DAYS} 之间"),
        ))
    }
}

/// True when this station may place workers on the post: inside its reach, or above its
/// station (the rule of `placement confirm`).
fn reaches_here(station: &Station, state: &RecordState) -> bool {
    state.reach.contains(&station.region) || station.region.contains(&state.region)
}

/// When the post was approved (its `reviewed_at`, else when it was created).
fn approved_ms(state: &RecordState, post: &Post) -> i64 {
    post.reviewed_at
        .as_deref()
        .and_then(dates::parse_rfc3339)
        .unwrap_or(state.created_ms)
}

/// The workers whose contact about `post_id` was marked (a job recommendation naming the post
/// with a result), from every assistance record held here.
fn marked_for(station: &Station, post_id: &str) -> Result<HashSet<String>> {
    let prefix = index::prefix(RecordKind::Assistance, Some((Field::Post, post_id, true)));
    let mut out = HashSet::new();
    for state in station.store.list(prefix, None) {
        let state = state?;
        if let Ok(a) = Assistance::from_view(&state.view)
            && a.kind == AssistKind::JobRecommendation
            && a.result.is_some()
        {
            out.insert(a.worker);
        }
    }
    Ok(out)
}

/// The workers with a live placement on `post_id`.
fn placed_on(station: &Station, post_id: &str) -> Result<HashSet<String>> {
    let prefix = index::prefix(RecordKind::Placement, Some((Field::Post, post_id, true)));
    let mut out = HashSet::new();
    for state in station.store.list(prefix, None) {
        if let Ok(p) = Placement::from_view(&state?.view)
            && p.status != PlacementStatus::Cancelled
        {
            out.insert(p.worker);
        }
    }
    Ok(out)
}

/// Every active worker held here in full, with its priority flags (`long-wait` derived).
fn workers_held(station: &Station) -> Result<Vec<(String, Worker)>> {
    let mut out = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Worker, None), None)
    {
        let state = state?;
        if state.doc.is_none() {
            continue;
        }
        let Ok(mut worker) = Worker::from_view(&state.view) else {
            continue;
        };
        if worker.status != WorkerStatus::Active {
            continue;
        }
        worker.flags = priority_flags(station, &state, &worker)?;
        out.push((state.id().to_hex(), worker));
    }
    Ok(out)
}

/// The active workers held here, each with its [`matching::Ranker`] prepared once for every
/// post the push list ranks them for.
struct Pool<'t> {
    workers: &'t [(String, Worker)],
    rankers: Vec<matching::Ranker<'t>>,
}

impl<'t> Pool<'t> {
    fn new(workers: &'t [(String, Worker)], terms: &'t [matching::WorkerTerms]) -> Pool<'t> {
        Pool {
            workers,
            rankers: terms.iter().map(matching::Ranker::new).collect(),
        }
    }

    /// Every worker's rank for `post` with its `fill`, in the pool's order.
    fn ranks(&self, post: &Post, fill: Fill, day: i64) -> Vec<matching::Rank> {
        let terms = matching::PostTerms::of(post);
        self.rankers
            .iter()
            .map(|r| r.rank(&terms, fill, day))
            .collect()
    }
}

/// Each worker's terms for the matching rules, read once.
fn terms_of(workers: &[(String, Worker)]) -> Vec<matching::WorkerTerms> {
    workers
        .iter()
        .map(|(_, w)| matching::WorkerTerms::of(w))
        .collect()
}

/// The push list of one live post with places left.
fn list_of(
    station: &Station,
    state: RecordState,
    post: Post,
    fill: Fill,
    pool: &Pool,
    ranks: &[matching::Rank],
    limit: usize,
) -> Result<PushList> {
    let post_id = state.id().to_hex();
    let marked = marked_for(station, &post_id)?;
    let placed = placed_on(station, &post_id)?;
    // Sorted by band first: the first `limit` hold every candidate the list shows.
    let picks = matching::pick_workers(
        pool.workers
            .iter()
            .zip(ranks)
            .enumerate()
            .filter(|(_, ((id, _), _))| !marked.contains(id))
            .map(|(i, ((id, w), rank))| (i, w, *rank, placed.contains(id))),
        limit,
    )
    .into_iter()
    .filter(|p| p.rank.band < WEAKEST_BAND)
    .map(|p| (p.id, p.rank, p.priority))
    .collect();
    // The list keeps the record's id and reach, not its document, view or history (the
    // console keeps the lists between pages).
    let mut state = state;
    state.doc = None;
    state.changes = Vec::new();
    state.view = Default::default();
    Ok(PushList {
        approved_ms: approved_ms(&state, &post),
        state,
        post,
        fill,
        picks,
    })
}

/// The push lists: of one post (`--post`), or of every post approved in the last `days` days
/// that reaches this station, newest approval first.
fn gather(
    station: &Station,
    post: Option<&str>,
    days: Option<i64>,
    limit: Option<usize>,
) -> Result<Gathered> {
    let days = days_arg(days)?;
    let limit = page_limit(limit.or(Some(20)))?;
    let day = today();
    if let Some(id) = post {
        let state = station.resolve(RecordKind::Post, id)?;
        let post: Post = typed(&state)?;
        let fill = fill_of(station, &state, &post)?;
        if !matching::matchable(&post, fill, day) {
            return Err(NodeError::usage(
                "post",
                format!(
                    "the post is {} (review {}): only approved, open, unexpired posts with places left are pushed",
                    post.shown_status(day, fill.filled),
                    post.review.as_str()
                ),
                format!(
                    "该岗位状态为{}（审核：{}）：只推送已通过审核、招聘中、未过期且仍有名额的岗位",
                    post.shown_status(day, fill.filled),
                    post.review.as_zh()
                ),
            ));
        }
        if !reaches_here(station, &state) {
            return Err(NodeError::usage(
                "post",
                format!(
                    "this station ({}) is outside the post's reach ({})",
                    station.region, state.reach
                ),
                format!(
                    "本站（{}）不在该岗位的发布范围（{}）内",
                    station.region, state.reach
                ),
            ));
        }
        let workers = workers_held(station)?;
        let terms = terms_of(&workers);
        let pool = Pool::new(&workers, &terms);
        let ranks = pool.ranks(&post, fill, day);
        let lists = vec![list_of(station, state, post, fill, &pool, &ranks, limit)?];
        drop(pool);
        return Ok(Gathered { workers, lists });
    }
    // No one to contact, no post to read.
    let workers = workers_held(station)?;
    if workers.is_empty() {
        return Ok(Gathered {
            workers,
            lists: Vec::new(),
        });
    }
    let terms = terms_of(&workers);
    let pool = Pool::new(&workers, &terms);
    let since = now_ms() - days * 86_400_000;
    let approved = index::prefix(
        RecordKind::Post,
        Some((Field::Review, ReviewState::Approved.as_str(), true)),
    );
    let mut lists = Vec::new();
    for state in station.store.list(approved, None) {
        let state = state?;
        let Ok(post) = Post::from_view(&state.view) else {
            continue;
        };
        if !reaches_here(station, &state)
            || approved_ms(&state, &post) < since
            || !post.is_live(day)
        {
            continue;
        }
        let fill = fill_of(station, &state, &post)?;
        if !matching::matchable(&post, fill, day) {
            continue;
        }
        // A post nobody fits is passed over before its contacts and placements are read.
        let ranks = pool.ranks(&post, fill, day);
        if !ranks.iter().any(|r| r.band < WEAKEST_BAND) {
            continue;
        }
        let list = list_of(station, state, post, fill, &pool, &ranks, limit)?;
        // A post with no one left to contact has no row.
        if !list.picks.is_empty() {
            lists.push(list);
        }
    }
    drop(pool);
    // Each list's id written out once, not twice per comparison.
    lists.sort_by_cached_key(|l| (Reverse(l.approved_ms), l.state.id().to_hex()));
    Ok(Gathered { workers, lists })
}

fn word(lang: &str, c: impl Choice) -> &'static str {
    if lang.starts_with("zh") {
        c.as_zh()
    } else {
        c.as_str()
    }
}

/// `push list`: one row per worker to contact, the posts newest approval first and each
/// post's workers in rank order (a call sheet: a post with no one left to contact has no row).
pub fn list(
    station: &Station,
    post: Option<&str>,
    days: Option<i64>,
    limit: Option<usize>,
    lang: &str,
) -> Result<Value> {
    let g = gather(station, post, days, limit)?;
    Ok(Value::Array(rows_of(&g, &g.lists, lang)))
}

/// One page of the push list for the console: the rows of `per_page` posts from the
/// `page`-th (1-based; past the last, the last), and how many posts and calls there are in
/// all.
pub struct PushPage {
    pub rows: Vec<Value>,
    pub posts: usize,
    pub calls: usize,
    pub page: usize,
    pub pages: usize,
}

/// The push lists for the console's pages ([`page`]): every post's workers ranked, no
/// reasons written yet. What the console keeps between requests while the store has had no
/// write.
pub fn gather_all(station: &Station, post: Option<&str>, days: Option<i64>) -> Result<Gathered> {
    gather(station, post, days, None)
}

/// One page of `g` ([`PushPage`]): only its rows are written out with their reasons.
pub fn page(g: &Gathered, lang: &str, page: usize, per_page: usize) -> PushPage {
    let per_page = per_page.max(1);
    let pages = g.lists.len().div_ceil(per_page).max(1);
    let page = page.clamp(1, pages);
    let shown = g.lists.iter().skip((page - 1) * per_page).take(per_page);
    PushPage {
        rows: rows_of(g, shown, lang),
        posts: g.lists.len(),
        calls: g.lists.iter().map(|l| l.picks.len()).sum(),
        page,
        pages,
    }
}

/// The rows of `lists` (from `g`), one per worker to contact.
fn rows_of<'l>(
    g: &Gathered,
    lists: impl IntoIterator<Item = &'l PushList>,
    lang: &str,
) -> Vec<Value> {
    let day = today();
    let mut rows = Vec::new();
    for l in lists {
        for c in l.contacts(&g.workers, day) {
            rows.push(json!({
                "post_id": l.state.id().to_hex(),
                "title": l.post.title,
                "worker_id": c.id,
                "name": c.worker.name,
                "phone": c.worker.phone,
                "priority": c.priority,
                "priority_reasons": c.worker.flags.iter().map(|f| word(lang, *f)).collect::<Vec<_>>(),
                "band": BANDS[c.band as usize].0,
                "score": c.score,
                "flags": c.worker.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                "reasons": c.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>(),
                "wage": l.post.wage,
                "unit": l.post.unit.as_str(),
                "places_left": l.fill.left(),
                "reach": l.state.reach.to_string(),
                "approved_at": dates::rfc3339(l.approved_ms),
            }));
        }
    }
    rows
}

/// A job recommendation of `post` to `worker` with `result`, checked, by this station now.
fn recommendation(
    station: &Station,
    post: &RecordState,
    worker: &RecordState,
    result: PushResult,
    note: Option<String>,
    now: i64,
) -> Result<Assistance> {
    let a = Assistance {
        worker: worker.id().to_hex(),
        kind: AssistKind::JobRecommendation,
        post: Some(post.id().to_hex()),
        result: Some(result),
        note,
        at: dates::rfc3339(now),
        station: station.key.public().node_id(),
        region: station.region,
    };
    a.validate()?;
    Ok(a)
}

fn create_edits(
    a: &Assistance,
) -> (
    Target,
    Vec<(&'static str, lingong_protocol::record::FieldValue)>,
) {
    (
        Target::Create {
            kind: RecordKind::Assistance,
            reach: None,
        },
        a.edits(),
    )
}

/// `push mark POST --worker W --result R [--note T]`: records the contact as a job
/// recommendation; the worker leaves the post's push list.
pub fn mark(
    station: &mut Station,
    post: &str,
    worker: Option<&str>,
    result: Option<&str>,
    note: Option<&str>,
) -> Result<Value> {
    let now = now_ms();
    let result = PushResult::parse("result", &required("result", result)?)?;
    let note = note.map(|n| paragraph("note", n, 1, 500)).transpose()?;
    let post_state = station.resolve(RecordKind::Post, post)?;
    let post: Post = typed(&post_state)?;
    if post.review != ReviewState::Approved {
        return Err(NodeError::usage(
            "post",
            format!(
                "the post is {} in review: only approved posts are pushed",
                post.review.as_str()
            ),
            format!(
                "该岗位审核状态为{}：只推送已通过审核的岗位",
                post.review.as_zh()
            ),
        ));
    }
    let worker_state = station.resolve(RecordKind::Worker, &required("worker", worker)?)?;
    let w: Worker = typed(&worker_state)?;
    if w.status != WorkerStatus::Active {
        return Err(NodeError::usage(
            "worker",
            "this worker is deregistered",
            "该劳动者已注销",
        ));
    }
    let a = recommendation(station, &post_state, &worker_state, result, note, now)?;
    let (target, edits) = create_edits(&a);
    let env = station.write(|author, staged| Ok(author.write(staged, target, &edits, now)?))?;
    Ok(json!({
        "id": env.header.record.to_hex(),
        "post_id": a.post,
        "worker_id": a.worker,
        "kind": a.kind.as_str(),
        "result": result.as_str(),
    }))
}

/// The message sent to a worker about a post (Chinese: the station's clerks and the workers
/// read it).
fn message(station: &Station, l: &PushList, c: &Contact) -> String {
    let mut text = format!(
        "{}：{}您好，推荐岗位「{}」，{} 元/{}，尚缺 {} 人",
        station.config.name,
        c.worker.name,
        l.post.title,
        l.post.wage,
        l.post.unit.as_zh(),
        l.fill.left()
    );
    if let Some(loc) = &l.post.location {
        text.push_str(&format!("，地点：{loc}"));
    }
    if let Some(contact) = &l.post.contact {
        text.push_str(&format!("，联系：{contact}"));
    }
    text.push_str(&format!(
        "。有意向请回复或到站咨询。岗位编号 {}\n",
        l.state.id().to_hex()
    ));
    text
}

/// Runs `push_command` once with `text` on its standard input; `Ok` when it exits 0 within
/// [`SEND_TIMEOUT`].
fn run_command(
    command: &[String],
    text: &str,
    phone: &str,
    post: &str,
    worker: &str,
) -> std::result::Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .env("LINGONG_PUSH_PHONE", phone)
        .env("LINGONG_PUSH_POST", post)
        .env("LINGONG_PUSH_WORKER", worker)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", command[0]))?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(text.as_bytes()))
        .unwrap_or(Ok(()));
    let deadline = Instant::now() + SEND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("stopped after {} s", SEND_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    written.map_err(|e| format!("writing the message: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

/// One message `push send` hands to `push_command`: prepared while holding the station, sent
/// without it (a modem may take seconds per message; the desk keeps working meanwhile).
pub struct Outgoing {
    post_id: String,
    worker_id: String,
    phone: String,
    text: String,
}

/// What `push send` will do: the command and every message, in push-list order.
pub struct SendPlan {
    command: Vec<String>,
    outgoing: Vec<Outgoing>,
}

/// The messages of a [`SendPlan`] after running the command: those that went out, and those
/// that did not with the reason.
pub struct Sent {
    ok: Vec<Outgoing>,
    failed: Vec<(Outgoing, String)>,
}

/// `push send [--post ID] [--worker W] [--days N]`: sends each worker on the push lists the
/// post's message through `push_command`, and records every send that succeeded as a job
/// recommendation with result `contacted` (one batch). Any send that failed makes the command
/// fail (exit 1, [`NodeError::PushFailed`] naming each) after the successful ones are recorded.
/// The daemon runs the three steps itself so the station is free while messages go out.
pub fn send(
    station: &mut Station,
    post: Option<&str>,
    worker: Option<&str>,
    days: Option<i64>,
) -> Result<Value> {
    let plan = plan_send(station, post, worker, days)?;
    record_sent(station, plan.run())
}

/// The first step of `push send`: checks the configuration and the arguments and prepares every
/// message. Writes nothing.
pub fn plan_send(
    station: &mut Station,
    post: Option<&str>,
    worker: Option<&str>,
    days: Option<i64>,
) -> Result<SendPlan> {
    let command = station.config.push_command.clone();
    if command.is_empty() {
        return Err(NodeError::usage(
            "push_command",
            "no push_command is configured in config.toml: contact the workers of `push list` and record each with `push mark`",
            "config.toml 中没有配置 push_command：请按 push list 联系劳动者，并用 push mark 记录结果",
        ));
    }
    let only = worker
        .map(|w| {
            station
                .resolve(RecordKind::Worker, w)
                .map(|s| s.id().to_hex())
        })
        .transpose()?;
    let g = gather(station, post, days, None)?;
    let day = today();
    let mut outgoing = Vec::new();
    for l in &g.lists {
        for c in &l.contacts(&g.workers, day) {
            if only.as_ref().is_some_and(|w| *w != c.id) {
                continue;
            }
            outgoing.push(Outgoing {
                post_id: l.state.id().to_hex(),
                worker_id: c.id.clone(),
                phone: c.worker.phone.clone(),
                text: message(station, l, c),
            });
        }
    }
    Ok(SendPlan { command, outgoing })
}

impl SendPlan {
    /// The second step: runs `push_command` once per message. Needs no station.
    pub fn run(self) -> Sent {
        let mut sent = Sent {
            ok: Vec::new(),
            failed: Vec::new(),
        };
        for o in self.outgoing {
            match run_command(&self.command, &o.text, &o.phone, &o.post_id, &o.worker_id) {
                Ok(()) => sent.ok.push(o),
                Err(e) => sent.failed.push((o, e)),
            }
        }
        sent
    }
}

/// The last step of `push send`: records each message that went out as a job recommendation
/// with result `contacted` (one batch), then reports the failures, if any, as the error.
pub fn record_sent(station: &mut Station, sent: Sent) -> Result<Value> {
    let now = now_ms();
    let mut records = Vec::new();
    for o in &sent.ok {
        let post_state = station.resolve(RecordKind::Post, &o.post_id)?;
        let worker_state = station.resolve(RecordKind::Worker, &o.worker_id)?;
        records.push(recommendation(
            station,
            &post_state,
            &worker_state,
            PushResult::Contacted,
            Some("push_command".into()),
            now,
        )?);
    }
    let ids = if records.is_empty() {
        Vec::new()
    } else {
        station.write(|author, staged| {
            let mut ids = Vec::new();
            for a in &records {
                let (target, edits) = create_edits(a);
                ids.push(
                    author
                        .write(staged, target, &edits, now)?
                        .header
                        .record
                        .to_hex(),
                );
            }
            Ok(ids)
        })?
    };
    if !sent.failed.is_empty() {
        return Err(NodeError::PushFailed {
            sent: sent.ok.len(),
            failed: sent
                .failed
                .into_iter()
                .map(|(o, e)| (o.post_id, o.worker_id, e))
                .collect(),
        });
    }
    let rows: Vec<Value> = sent
        .ok
        .iter()
        .zip(ids)
        .map(|(o, id)| {
            json!({ "post_id": o.post_id, "worker_id": o.worker_id, "phone": o.phone, "record": id })
        })
        .collect();
    Ok(json!({ "sent": rows, "failed": [] }))
}
