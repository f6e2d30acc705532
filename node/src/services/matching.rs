//! Matching (精准匹配): the open approved posts that fit a worker, and the workers that fit a
//! post, priority workers first within each band (困难帮扶), each with its reasons in the
//! user's language. The rules are the protocol's pure functions (`lingong_protocol::matching`);
//! this service only gathers the candidates.
//!
//! [`for_worker`] and [`for_post`] answer from the matching rows of the index
//! ([`crate::index::match_rows`]: an open approved post under its occupation and under the
//! occupations its title names, an active worker under each skill, each row holding the few
//! fields the ranking reads), held in memory ([`crate::index::MatchTable`], loaded at the
//! first match and kept by every commit), rank each candidate from its row
//! ([`matching::rank`]) and stop as soon as the results they hold rank strictly above the best
//! any unread row can reach. [`for_worker`] reads the posts by source
//! ([`crate::index::PostSource`]: alike in code, region, reach, day wage and places, so the
//! best any of them can rank for the worker, [`Ranker::ceiling`], is known unread), best bound first and newest
//! first among equal bounds, and stops at the first row whose bound the results beat (a worker
//! whose skills relate to no post, or who lists none, no longer ranks every post). [`for_post`]
//! reads the workers group by group, closest occupations first (the unit group and the title's
//! words, then the minor group and workers without skills, then the major group, then the
//! rest), newest first within each, and stops once the results rank strictly above the best
//! any unread group can reach ([`matching::ceiling`]). A post's fill (its
//! placements) is read only for a post that can still enter the results as ranked without
//! placements, since a placement can only lower a rank. Only the records returned are read and assessed with their reasons, in the
//! order found: the answer is the one [`for_worker_scan`] and [`for_post_scan`] give by ranking
//! every record (ties in the order of the scan, newest first), which the tests check on random
//! stores and the `lists` bench times as the baseline.

use super::{fill_of, page_limit, today, typed};
use crate::error::Result;
use crate::index::{self, Field};
use crate::index::{MatchTable, Terms};
use crate::station::Station;
use lingong_protocol::matching::{
    self, BANDS, Fit, PostMatch, PostTerms, Rank, Ranker, WorkerMatch, WorkerTerms,
};
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::schema::placement::{Fill, fill};
use lingong_protocol::schema::{
    Choice, Placement, PlacementStatus, Post, ReviewState, Schema, Worker,
};
use lingong_protocol::store::Store;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

/// `match --worker ID [--limit N]`: open approved posts with places left, best first.
pub fn for_worker(station: &Station, id: &str, limit: Option<usize>, lang: &str) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let state = station.resolve(RecordKind::Worker, id)?;
    let worker: Worker = typed(&state)?;
    let today = today();
    let picked = posts_by_index(station, &worker, today, limit)?;
    let ranked = matching::posts_for_worker(
        &worker,
        picked.iter().map(|(id, p, f)| (id.clone(), p, *f)),
        today,
        limit,
    );
    Ok(post_rows(ranked, lang))
}

/// `match --worker` by a scan of every approved post held: the rules applied to all of them.
/// The baseline [`for_worker`] must agree with (tests, the `lists` bench).
pub fn for_worker_scan(
    station: &Station,
    id: &str,
    limit: Option<usize>,
    lang: &str,
) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let state = station.resolve(RecordKind::Worker, id)?;
    let worker: Worker = typed(&state)?;
    let today = today();
    let approved = index::prefix(
        RecordKind::Post,
        Some((Field::Review, ReviewState::Approved.as_str(), true)),
    );
    let mut candidates = Vec::new();
    for post_state in station.store.list(approved, None) {
        let post_state = post_state?;
        let Ok(post) = Post::from_view(&post_state.view) else {
            continue;
        };
        if !post.is_live(today) {
            continue;
        }
        let fill = fill_of(station, &post_state, &post)?;
        candidates.push((post_state.id().to_hex(), post, fill));
    }
    let ranked = matching::posts_for_worker(
        &worker,
        candidates.iter().map(|(id, p, f)| (id.clone(), p, *f)),
        today,
        limit,
    );
    Ok(post_rows(ranked, lang))
}

fn post_rows(ranked: Vec<PostMatch<'_, String>>, lang: &str) -> Value {
    Value::Array(
        ranked
            .into_iter()
            .map(|m| {
                json!({
                    "post_id": m.id,
                    "title": m.post.title,
                    "score": m.score,
                    "band": BANDS[m.band as usize].0,
                    "reasons": m.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// `match --post ID [--limit N]`: active workers held here, best band first, priority workers
/// first within a band; workers already placed on the post are left out.
pub fn for_post(station: &Station, id: &str, limit: Option<usize>, lang: &str) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let post_state = station.resolve(RecordKind::Post, id)?;
    let post: Post = typed(&post_state)?;
    let fill = fill_of(station, &post_state, &post)?;
    let placed = placed_on(station, &post_state.id().to_hex())?;
    let today = today();
    let picked = workers_by_index(station, &post, fill, &placed, today, limit)?;
    let ranked = matching::workers_for_post(
        &post,
        fill,
        picked.iter().map(|(id, w)| (id.clone(), w, false)),
        today,
        limit,
    );
    Ok(worker_rows(ranked, lang))
}

/// `match --post` by a scan of every worker held: the baseline [`for_post`] must agree with.
pub fn for_post_scan(
    station: &Station,
    id: &str,
    limit: Option<usize>,
    lang: &str,
) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let post_state = station.resolve(RecordKind::Post, id)?;
    let post: Post = typed(&post_state)?;
    let fill = fill_of(station, &post_state, &post)?;
    let placed_here = placed_on(station, &post_state.id().to_hex())?;
    let mut workers = Vec::new();
    for w in station
        .store
        .list(index::prefix(RecordKind::Worker, None), None)
    {
        let w = w?;
        if w.doc.is_none() {
            continue;
        }
        if let Ok(worker) = Worker::from_view(&w.view) {
            let wid = w.id().to_hex();
            let placed = placed_here.contains(&wid);
            workers.push((wid, worker, placed));
        }
    }
    let ranked = matching::workers_for_post(
        &post,
        fill,
        workers
            .iter()
            .map(|(id, w, placed)| (id.clone(), w, *placed)),
        today(),
        limit,
    );
    Ok(worker_rows(ranked, lang))
}

fn worker_rows(ranked: Vec<WorkerMatch<'_, String>>, lang: &str) -> Value {
    Value::Array(
        ranked
            .into_iter()
            .map(|m| {
                json!({
                    "worker_id": m.id,
                    "name": m.worker.name,
                    "phone": m.worker.phone,
                    "score": m.score,
                    "band": BANDS[m.band as usize].0,
                    "priority": m.priority,
                    "priority_reasons": m.worker.flags.iter().map(|f| if lang.starts_with("zh") { f.as_zh() } else { f.as_str() }).collect::<Vec<_>>(),
                    "reasons": m.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The workers with a live (not cancelled) placement on the post `post_id`.
fn placed_on(station: &Station, post_id: &str) -> Result<HashSet<String>> {
    let prefix = index::prefix(RecordKind::Placement, Some((Field::Post, post_id, true)));
    let mut out = HashSet::new();
    for p in station.store.list(prefix, None) {
        if let Ok(p) = Placement::from_view(&p?.view)
            && p.status != PlacementStatus::Cancelled
        {
            out.insert(p.worker);
        }
    }
    Ok(out)
}

/// The fill of the post `post_id` with `headcount` places, from the placements naming it (as
/// `services::fill_of` counts them, without reading the post).
fn fill_by_id(station: &Station, post_id: &str, headcount: i64) -> Result<Fill> {
    let prefix = index::prefix(RecordKind::Placement, Some((Field::Post, post_id, true)));
    let mut statuses = Vec::new();
    for p in station.store.list(prefix, None) {
        if let Ok(p) = Placement::from_view(&p?.view) {
            statuses.push(p.status);
        }
    }
    Ok(fill(headcount, statuses))
}

/// The first `parts` parts of a well-formed code with the dash after them: `4-10-01-`.
fn group_of(code: &str, parts: usize) -> &str {
    // `d-dd-dd-dd`: a group of 1, 2, 3 parts ends at byte 2, 5, 8.
    &code[..[2, 5, 8][parts - 1]]
}

/// A group of candidates to read: index prefixes, and the ceiling of every candidate not in
/// this group or an earlier one (`None`: there is none).
struct Group {
    prefixes: Vec<Vec<u8>>,
    after: Option<Rank>,
}

/// The groups a match reads, closest first, for `codes` (a worker's skills, or a post's
/// occupation with the codes its title names) of `kind`'s rows.
fn groups(
    kind: RecordKind,
    close: Vec<Vec<u8>>,
    codes: &[&str],
    with_unlisted: bool,
) -> Vec<Group> {
    let by_group = |parts: usize| -> Vec<Vec<u8>> {
        codes
            .iter()
            .map(|c| index::match_prefix(kind, group_of(c, parts), false))
            .collect()
    };
    let mut minor = by_group(2);
    if with_unlisted {
        minor.push(index::match_prefix(kind, "", true));
    }
    vec![
        Group {
            prefixes: close,
            after: Some(matching::ceiling(Fit::MinorGroup)),
        },
        Group {
            prefixes: minor,
            after: Some(matching::ceiling(Fit::MajorGroup)),
        },
        Group {
            prefixes: by_group(1),
            after: Some(matching::ceiling(Fit::Other)),
        },
        Group {
            prefixes: vec![index::match_prefix(kind, "", false)],
            after: None,
        },
    ]
}

/// Where a post ranks for a worker: band, then score, then the scan's order (newest first).
type PostKey = (u8, Reverse<u32>, Reverse<[u8; 48]>);

fn post_key(rank: Rank, order: &[u8; 48]) -> PostKey {
    (rank.band, Reverse(rank.score), Reverse(*order))
}

/// Reads the matching rows of a plan's groups in turn from the table in memory, newest first
/// under each prefix (the order ties are broken in, so fewer rows displace a result): each row
/// once per group, rows an earlier group's prefix already held skipped (the groups are
/// nested); `take` ranks a row, `settled` says after each group whether the results rank
/// strictly above that group's ceiling (then reading stops).
fn read_groups<'t>(
    table: &'t MatchTable,
    plan: Vec<Group>,
    mut take: impl FnMut([u8; 48], &'t [u8], &'t Terms) -> Result<()>,
    mut settled: impl FnMut(Option<Rank>) -> Result<bool>,
) -> Result<()> {
    let mut read: Vec<Vec<u8>> = Vec::new();
    for group in plan {
        for prefix in &group.prefixes {
            for (key, terms) in table.scan(prefix).rev() {
                if read.iter().any(|p| key.starts_with(p)) {
                    continue;
                }
                if let Some(order) = index::order_of(key) {
                    take(order, key, terms)?;
                }
            }
        }
        if settled(group.after)? {
            break;
        }
        read.extend(group.prefixes);
    }
    Ok(())
}

/// The posts `match --worker` returns, read from the matching rows in memory: at most
/// `limit`, in their order, each with its fill.
fn posts_by_index(
    station: &Station,
    worker: &Worker,
    today: i64,
    limit: usize,
) -> Result<Vec<(String, Post, Fill)>> {
    let terms = WorkerTerms::of(worker);
    if !terms.active {
        return Ok(Vec::new());
    }
    station
        .store
        .with_match_table(|table| posts_from_table(station, table, &terms, today, limit))?
}

/// One post source's rows being read for a worker, newest first, and the best any of them can
/// rank for the worker ([`Ranker::ceiling`]).
struct Walk<'t> {
    top: Rank,
    rows: std::iter::Rev<std::collections::btree_map::Iter<'t, [u8; 48], Arc<PostTerms>>>,
    head: Option<(&'t [u8; 48], &'t Arc<PostTerms>)>,
}

/// [`posts_by_index`] over the matching rows in memory. Every post source
/// ([`index::PostSource`]: posts alike in code, region, reach, day wage and places) is bounded
/// first by the best its rows can rank for this worker ([`Ranker::ceiling`]): with its code's
/// fit, or the alias fit for a source of titles naming one of the worker's skills (the other
/// title sources add nothing: their posts are ranked through their code). The rows
/// are then read best bound first, newest first among equal bounds (a merge of the sources,
/// each read newest first), so the bound of the next row read, with its order, is at least
/// the key of every row unread: reading stops as soon as the results held rank strictly above
/// it. A post read twice (by its code and its title) is taken once.
fn posts_from_table(
    station: &Station,
    table: &MatchTable,
    terms: &WorkerTerms,
    today: i64,
    limit: usize,
) -> Result<Vec<(String, Post, Fill)>> {
    let ranker = Ranker::new(terms);
    let mut walks: Vec<Walk<'_>> = Vec::new();
    // The next row of each walk by its bound: a min-heap of (bound with the row's order, walk).
    let mut next: BinaryHeap<Reverse<(PostKey, usize)>> = BinaryHeap::new();
    let mut fits: HashMap<&[u8], Fit> = HashMap::new();
    for (source, rows) in table.post_sources() {
        let fit = if source.title {
            if !terms.skills.iter().any(|s| s.as_bytes() == source.code) {
                continue;
            }
            Fit::Alias
        } else if source.code == index::ODD_CODE.as_bytes() {
            // Filed by no code: as good as any.
            Fit::Exact
        } else {
            *fits.entry(&source.code).or_insert_with(|| {
                ranker.code_fit(std::str::from_utf8(&source.code).unwrap_or(index::ODD_CODE))
            })
        };
        let top = ranker.ceiling(
            fit,
            source.region,
            source.reach,
            source.day_wage_fen,
            source.places,
            today,
        );
        let mut rows = rows.iter().rev();
        let head = rows.next();
        if let Some((order, _)) = head {
            next.push(Reverse((post_key(top, order), walks.len())));
        }
        walks.push(Walk { top, rows, head });
    }
    // The best `limit` so far: a heap whose top is the worst of them, each an index into
    // `found` (the post and its fill).
    let mut held = BinaryHeap::<(PostKey, usize)>::new();
    let mut found: Vec<(RecordId, Fill)> = Vec::new();
    // Posts given their fill or left out: a post read twice (by its occupation and its title)
    // is taken once.
    let mut seen: HashSet<[u8; 48]> = HashSet::new();
    while let Some(Reverse((bound, at))) = next.pop() {
        if held.len() >= limit && held.peek().is_some_and(|(worst, _)| *worst < bound) {
            break;
        }
        let walk = &mut walks[at];
        let Some((order, post)) = walk.head else {
            continue;
        };
        walk.head = walk.rows.next();
        if let Some((o, _)) = walk.head {
            next.push(Reverse((post_key(walk.top, o), at)));
        }
        let empty = Fill {
            headcount: post.headcount,
            filled: 0,
        };
        if !post.is_live(today) || empty.left() <= 0 || seen.contains(order) {
            continue;
        }
        // Ranked as if without placements first: the best it can rank, since a placement only
        // lowers a rank. One that cannot enter the results is left there (it never will: the
        // worst held only gets better); only the others' fill is read.
        let hope = post_key(ranker.rank(post, empty, today), order);
        if held.len() >= limit && held.peek().is_some_and(|(worst, _)| *worst < hope) {
            continue;
        }
        let Some(id) = index::record_of(order) else {
            continue;
        };
        seen.insert(*order);
        let f = fill_by_id(station, &id.to_hex(), post.headcount)?;
        if f.left() <= 0 {
            continue;
        }
        held.push((post_key(ranker.rank(post, f, today), order), found.len()));
        found.push((id, f));
        if held.len() > limit {
            held.pop();
        }
    }
    let mut out = Vec::new();
    for (_, at) in held.into_sorted_vec() {
        let (id, f) = found[at];
        if let Some(state) = station.store.record(&id)?
            && let Ok(post) = Post::from_view(&state.view)
        {
            out.push((id.to_hex(), post, f));
        }
    }
    Ok(out)
}

/// Where a worker ranks for a post: band, priority, score, then the scan's order (newest
/// first).
type WorkerKey = (u8, Reverse<i64>, Reverse<u32>, Reverse<[u8; 48]>);

fn worker_key(rank: Rank, priority: i64, order: &[u8; 48]) -> WorkerKey {
    (
        rank.band,
        Reverse(priority),
        Reverse(rank.score),
        Reverse(*order),
    )
}

/// The workers `match --post` returns, read from the indexes: at most `limit`, in their order,
/// leaving out those in `placed`.
fn workers_by_index(
    station: &Station,
    post: &Post,
    fill: Fill,
    placed: &HashSet<String>,
    today: i64,
    limit: usize,
) -> Result<Vec<(String, Worker)>> {
    if !matching::matchable(post, fill, today) {
        return Ok(Vec::new());
    }
    let terms = PostTerms::of(post);
    let code = terms.occupation.as_str();
    let plan = if index::well_formed(code) {
        let mut close = vec![index::match_prefix(
            RecordKind::Worker,
            group_of(code, 3),
            false,
        )];
        for named in matching::title_occupations(&terms.title) {
            close.push(index::match_prefix(RecordKind::Worker, named, true));
        }
        groups(RecordKind::Worker, close, &[code], true)
    } else {
        vec![Group {
            prefixes: vec![index::match_prefix(RecordKind::Worker, "", false)],
            after: None,
        }]
    };
    let held = station.store.with_match_table(|table| {
        workers_from_table(table, &terms, fill, placed, plan, today, limit)
    })??;
    let mut out = Vec::new();
    for (_, id) in held.into_sorted_vec() {
        if let Some(state) = station.store.record(&id)?
            && let Ok(worker) = Worker::from_view(&state.view)
        {
            out.push((id.to_hex(), worker));
        }
    }
    Ok(out)
}

/// The best `limit` workers for a post of these terms and fill among the matching rows in
/// memory, read by the groups of `plan`, leaving out those in `placed`: a heap whose top is
/// the worst of them.
fn workers_from_table(
    table: &MatchTable,
    terms: &PostTerms,
    fill: Fill,
    placed: &HashSet<String>,
    plan: Vec<Group>,
    today: i64,
    limit: usize,
) -> Result<BinaryHeap<(WorkerKey, RecordId)>> {
    let most = matching::max_priority();
    // The best `limit` so far: a heap whose top is the worst of them; a worker with several
    // skills is read once per skill, with the same key each time.
    let held = std::cell::RefCell::new(BinaryHeap::<(WorkerKey, RecordId)>::new());
    let mut inside: HashSet<[u8; 48]> = HashSet::new();
    read_groups(
        table,
        plan,
        |order, key, terms_read| {
            let (Some(id), Terms::Worker(worker)) = (index::record_of(key), terms_read) else {
                return Ok(());
            };
            let k = worker_key(
                matching::rank(worker, terms, fill, today),
                worker.priority,
                &order,
            );
            let mut held = held.borrow_mut();
            if held.len() >= limit && held.peek().is_some_and(|(worst, _)| *worst < k) {
                return Ok(());
            }
            if inside.contains(&order) || (!placed.is_empty() && placed.contains(&id.to_hex())) {
                return Ok(());
            }
            inside.insert(order);
            held.push((k, id));
            if held.len() > limit
                && let Some((gone, _)) = held.pop()
            {
                inside.remove(&gone.3.0);
            }
            Ok(())
        },
        |after| {
            let held = held.borrow();
            Ok(match after {
                None => true,
                Some(top) => {
                    held.len() >= limit
                        && held.peek().is_some_and(|((band, priority, score, _), _)| {
                            (*band, *priority, *score)
                                < (top.band, Reverse(most), Reverse(top.score))
                        })
                }
            })
        },
    )?;
    Ok(held.into_inner())
}

#[cfg(test)]
mod tests {
    //! The indexed answers against the full scans, on random stores written through the real
    //! write path (and then edited, so index rows are replaced and removed).

    use super::*;
    use crate::request::{Request, dispatch};
    use lingong_protocol::author::Target;
    use lingong_protocol::dates;
    use lingong_protocol::region::RegionCode;
    use lingong_protocol::schema::{Flag, PostStatus, WageUnit, WorkerStatus};

    /// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    const OCCUPATIONS: &[&str] = &[
        "4-10-01-06",
        "4-10-01-05",
        "4-10-01-03",
        "4-10-02-01",
        "4-03-02-05",
        "4-03-02-01",
        "4-02-05-01",
        "4-09-08-01",
        "5-01-02-01",
        "6-29-01-01",
    ];
    const PLACES: &[&str] = &[
        "522622101001",
        "522622101002",
        "522622102001",
        "522622103001",
        "522622101",
        "522622102",
        "522622",
    ];
    const TITLES: &[&str] = &[
        "岗位",
        "急招保姆",
        "搬运工",
        "招聘保洁",
        "家政服务员日结",
        "快递员",
    ];

    /// A certified county station in a fresh home under `dir`.
    fn county(dir: &std::path::Path) -> Station {
        let mut parent: Option<Station> = None;
        for (folder, name, region) in [("province", "省中心", "52"), ("county", "黄平县", "522622")]
        {
            let home = crate::home::Home::new(Some(dir.join(folder)));
            crate::station::init(&home, name, region, vec![], None).expect("init");
            let mut node = Station::open(&home).expect("open");
            let request =
                serde_json::from_value(dispatch(&mut node, Request::CertRequest).unwrap()).unwrap();
            let issuer = parent.as_mut().unwrap_or(&mut node);
            let chain = dispatch(issuer, Request::CertIssue { request, days: 365 }).unwrap();
            dispatch(&mut node, Request::CertInstall { chain }).unwrap();
            parent = Some(node);
        }
        parent.expect("county")
    }

    fn date(rng: &mut Rng, today: i64) -> Option<String> {
        rng.chance(60)
            .then(|| dates::format_date(today + rng.below(40) as i64 - 15))
    }

    fn random_post(rng: &mut Rng, region: RegionCode, today: i64, now: i64) -> Post {
        Post {
            title: rng.pick(TITLES).to_string(),
            occupation: rng.pick(OCCUPATIONS).to_string(),
            wage: (20 + rng.below(300)) as f64 * if rng.chance(20) { 20.0 } else { 1.0 },
            unit: *rng.pick(WageUnit::ALL),
            headcount: 1 + rng.below(4) as i64,
            employer: None,
            status: if rng.chance(85) {
                PostStatus::Open
            } else {
                *rng.pick(PostStatus::ALL)
            },
            review: if rng.chance(70) {
                ReviewState::Approved
            } else {
                *rng.pick(ReviewState::ALL)
            },
            review_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            region,
            reach: RegionCode::parse(rng.pick(PLACES).to_owned()).unwrap(),
            location: None,
            contact: Some("13800000000".into()),
            description: None,
            expires: if rng.chance(20) {
                None
            } else {
                Some(dates::format_date(today + rng.below(30) as i64 - 5))
            },
            created_at: dates::rfc3339(now),
        }
    }

    fn random_worker(rng: &mut Rng, i: usize, today: i64, now: i64) -> Worker {
        let mut skills: Vec<String> = (0..rng.below(3))
            .map(|_| rng.pick(OCCUPATIONS).to_string())
            .collect();
        if rng.chance(10) {
            skills.push("钟点工".into());
        }
        let mut flags = Vec::new();
        for f in Flag::ALL {
            if rng.chance(20) {
                flags.push(*f);
            }
        }
        Worker {
            name: format!("劳动者 {i}"),
            id_masked: "52***************X".into(),
            id_hash: format!("v2:{i:064x}"),
            phone: "13900000000".into(),
            skills,
            wage_min: rng.chance(70).then(|| (rng.below(30) * 10) as f64),
            flags,
            available_from: date(rng, today),
            available_to: date(rng, today),
            status: if rng.chance(85) {
                WorkerStatus::Active
            } else {
                WorkerStatus::Deregistered
            },
            region: RegionCode::parse(rng.pick(PLACES).to_owned()).unwrap(),
            created_at: dates::rfc3339(now),
        }
    }

    /// Writes one record of a typed schema; its id.
    fn create<T: Schema>(
        station: &mut Station,
        record: &T,
        reach: Option<RegionCode>,
        at: i64,
    ) -> RecordId {
        let mut made = None;
        station
            .write(|author, staged| {
                let env = author.write(
                    staged,
                    Target::Create {
                        kind: T::KIND,
                        reach,
                    },
                    &record.edits(),
                    at,
                )?;
                made = Some(env.header.record);
                Ok(())
            })
            .expect("written");
        made.expect("a record")
    }

    fn edit<T: Schema>(station: &mut Station, id: RecordId, before: &T, after: &T, at: i64) {
        let edits = after.edits_since(before);
        if edits.is_empty() {
            return;
        }
        station
            .write(|author, staged| {
                author.write(staged, Target::Edit(id), &edits, at)?;
                Ok(())
            })
            .expect("edited");
    }

    /// Every worker's and every post's match, indexed and scanned, each with one of the limits
    /// in turn (1 and 3 stop early, 1,000 reads every group); how many answers were not empty.
    fn compare(station: &Station, posts: &[RecordId], workers: &[RecordId]) -> usize {
        let limits = [Some(1), Some(3), None, Some(1000)];
        let mut nonempty = 0;
        for (i, w) in workers.iter().enumerate() {
            let (id, limit) = (w.to_hex(), limits[i % limits.len()]);
            let indexed = for_worker(station, &id, limit, "zh").unwrap();
            let scanned = for_worker_scan(station, &id, limit, "zh").unwrap();
            assert_eq!(indexed, scanned, "match --worker {id} --limit {limit:?}");
            nonempty += usize::from(indexed.as_array().is_some_and(|a| !a.is_empty()));
        }
        for (i, p) in posts.iter().enumerate() {
            let (id, limit) = (p.to_hex(), limits[i % limits.len()]);
            let indexed = for_post(station, &id, limit, "en").unwrap();
            let scanned = for_post_scan(station, &id, limit, "en").unwrap();
            assert_eq!(indexed, scanned, "match --post {id} --limit {limit:?}");
            nonempty += usize::from(indexed.as_array().is_some_and(|a| !a.is_empty()));
        }
        nonempty
    }

    #[test]
    fn the_indexed_answers_are_the_full_scans_on_random_stores() {
        for seed in [1u64, 2, 3] {
            let dir = tempfile::tempdir().unwrap();
            let mut station = county(dir.path());
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1234_5678_9ABC_DEF1));
            let (now, region) = (crate::station::now_ms(), station.region);
            let today = dates::today_cst(now);
            let mut posts = Vec::new();
            for i in 0..160 {
                let post = random_post(&mut rng, region, today, now);
                let id = create(&mut station, &post, Some(post.reach), now + i);
                posts.push((id, post));
            }
            let mut workers = Vec::new();
            for i in 0..120 {
                let worker = random_worker(&mut rng, i, today, now);
                let id = create(&mut station, &worker, None, now + 1_000 + i as i64);
                workers.push((id, worker));
            }
            // Placements, some cancelled, some on the same place twice (overfilled).
            for i in 0..60 {
                let (post_id, post) = rng.pick(&posts).clone();
                let (worker_id, _) = rng.pick(&workers).clone();
                let placement = Placement {
                    post: post_id.to_hex(),
                    worker: worker_id.to_hex(),
                    employer: None,
                    wage: post.wage,
                    unit: post.unit,
                    start: dates::format_date(today),
                    end: None,
                    status: if rng.chance(75) {
                        PlacementStatus::Active
                    } else {
                        *rng.pick(PlacementStatus::ALL)
                    },
                    worker_confirmed: None,
                    employer_confirmed: None,
                    cancel_reason: None,
                    outcome: None,
                    region,
                    created_at: dates::rfc3339(now),
                };
                create(&mut station, &placement, None, now + 2_000 + i);
            }
            let (post_ids, worker_ids): (Vec<RecordId>, Vec<RecordId>) = (
                posts.iter().map(|(id, _)| *id).collect(),
                workers.iter().map(|(id, _)| *id).collect(),
            );
            assert!(compare(&station, &post_ids, &worker_ids) > 0);
            // Edits: posts closed, approved, retitled; workers deregistered, reskilled.
            for (n, (id, post)) in posts.iter().enumerate().filter(|(n, _)| n % 5 == 0) {
                let mut after = post.clone();
                match n % 3 {
                    0 => after.status = PostStatus::Closed,
                    1 => after.review = ReviewState::Approved,
                    _ => after.title = rng.pick(TITLES).to_string(),
                }
                edit(&mut station, *id, post, &after, now + 3_000 + n as i64);
            }
            for (n, (id, worker)) in workers.iter().enumerate().filter(|(n, _)| n % 4 == 0) {
                let mut after = worker.clone();
                if n % 8 == 0 {
                    after.status = WorkerStatus::Deregistered;
                } else {
                    after.skills = vec![rng.pick(OCCUPATIONS).to_string()];
                }
                edit(&mut station, *id, worker, &after, now + 4_000 + n as i64);
            }
            assert!(compare(&station, &post_ids, &worker_ids) > 0);
            assert_table_is_the_tree(&station);
        }
    }

    /// The matching rows in memory, loaded before the edits and kept by their commits since,
    /// are the tree's matching rows, value for value.
    fn assert_table_is_the_tree(station: &Station) {
        let mut tree = Vec::new();
        for prefix in index::match_row_prefixes() {
            for row in station.store.index_rows(prefix.to_vec()) {
                let (k, v) = row.unwrap();
                tree.push((k.to_vec(), v.to_vec()));
            }
        }
        let table: Vec<(Vec<u8>, Vec<u8>)> = station
            .store
            .with_match_table(|table| {
                table
                    .scan(b"i")
                    .map(|(k, terms)| {
                        let v = match terms {
                            Terms::Post(p) => postcard::to_allocvec(&**p),
                            Terms::Worker(w) => postcard::to_allocvec(&**w),
                        };
                        (k.to_vec(), v.unwrap())
                    })
                    .collect()
            })
            .unwrap();
        tree.sort();
        assert!(!tree.is_empty());
        assert_eq!(
            table, tree,
            "the table in memory is the tree's matching rows"
        );
    }
}
