//! Matching (人岗匹配): ranking open posts for a worker and candidate workers for a post, with
//! the reasons of every result in both languages, workers in difficulty first (困难帮扶).
//!
//! Pure functions: no IO, no clock. `today` is the day number (days since 1970-01-01, China
//! time, see [`crate::dates`]) the caller passes in; the same inputs always give the same
//! ranking.
//!
//! # Who is matched at all
//!
//! - A post is matched only while it is live on `today` ([`Post::is_live`]: open, approved by
//!   the authenticity review, not past its last day) and has places left ([`Fill::left`] > 0).
//!   A closed, filled, expired, pending or rejected post never appears in
//!   [`posts_for_worker`], and [`workers_for_post`] gives nothing for it.
//! - A deregistered worker is never matched; a worker who already has a live placement on the
//!   post is left out of that post's candidates.
//! - Nothing else excludes: a post below the worker's minimum wage, outside the post's reach
//!   or outside the worker's available dates is still listed, scored low and put in the weak
//!   band, because a clerk may still talk it through and the day-wage conversions below are
//!   approximations.
//!
//! # Score (0 to 100)
//!
//! Each criterion gives exactly one [`Reason`] (whatever its points, so the user sees why a
//! result is low too); the score is the sum of the points, floored at 0.
//!
//! | criterion | reason code | points |
//! |---|---|---|
//! | occupation: a skill is the post's code | `occupation-exact` | 40 |
//! | same unit group (小类, first 3 parts, `4-10-01`) | `occupation-unit-group` | 30 |
//! | the post's title names a skill (its name or an everyday alias, 保姆) | `occupation-alias` | 30 |
//! | same minor group (中类, first 2 parts, `4-10`) | `occupation-minor-group` | 18 |
//! | same major group (大类, first part, `4`) | `occupation-major-group` | 10 |
//! | no skills listed (neutral) | `occupation-unlisted` | 6 |
//! | skills listed, none related | `occupation-other` | 0 |
//! | division: same village (村/社区) | `same-village` | 30 |
//! | same township (乡镇/街道) | `same-township` | 24 |
//! | same county (县/区) | `same-county` | 16 |
//! | same city (市/州) | `same-city` | 8 |
//! | farther | `other-city` | 0 |
//! | the worker is outside the post's reach (extra reason) | `outside-reach` | −10 |
//! | wage per day at least 1.2 × the worker's minimum | `wage-ok` | 15 |
//! | wage per day at least the minimum | `wage-ok` | 10 |
//! | wage per day below the minimum | `wage-below` | −30 |
//! | paid per piece: not comparable (neutral) | `wage-not-comparable` | 5 |
//! | no minimum given, or 0 (neutral) | `wage-no-minimum` | 5 |
//! | dates: available on `today` | `available-now` | 10 |
//! | available from a later day, before the post's last day | `available-later` | 5 |
//! | the worker's dates and the post's do not overlap | `not-available` | −20 |
//! | places left: 1 point a place, at most 5 | `places-left` | 1–5 |
//!
//! Occupation: a worker's skills are read through [`crate::occupation::OccupationTable::resolve`],
//! so a skill stored as an everyday word (钟点工) counts as its code; skills that resolve to
//! nothing are ignored. The best skill counts. The title check (`occupation-alias`) is made
//! only when no skill is in the post's unit group; it looks for each skill's name and aliases
//! of two characters or more (three for Latin ones), except 招聘, which every title says.
//!
//! Division: the deepest level at which the worker's region and the post's region (where the
//! work is) share an ancestor. A worker registered at a coarser level (a county only) is as
//! close as that level allows. The worker is inside the post's reach when the reach contains
//! the worker's region or the worker's region contains the reach (the two overlap).
//!
//! Wage: the worker's `wage_min` is per day. A post's wage is converted to a day: per hour × 8,
//! per month ÷ 21.75 (the legal average of working days a month), per day as is; per piece is
//! not comparable. Amounts are compared in fen.
//!
//! Dates: the worker is available from `available_from` (or always) to `available_to` (or
//! always); the post is open from `today` to its `expires` day (or without end). Unparsable
//! dates count as absent.
//!
//! # Bands
//!
//! - band 0, strong: occupation exact, unit group or alias; inside the post's reach and in its
//!   county; wage not below the minimum; dates overlap.
//! - band 1, fair: occupation at least minor group, or no skills listed; in the post's city;
//!   wage not below the minimum; dates overlap.
//! - band 2, weak: everything else.
//!
//! # Order
//!
//! [`posts_for_worker`]: band ascending, then score descending. [`workers_for_post`]: band
//! ascending, then priority descending ([`Worker::priority`], disability counting double), then
//! score descending. Both sorts are stable, so equal keys keep the caller's input order; the
//! first `limit` results are returned. Priority orders workers but never adds to the score, so
//! a score always means fit. A worker with priority gets a `priority` reason (优先帮扶：残疾、大龄).
//!
//! # Ranking many candidates
//!
//! [`rank`] gives [`assess`]'s band and score from [`WorkerTerms`] and [`PostTerms`] (the few
//! fields the rules read, prepared once), through the same measures and without making any
//! text; [`ceiling`] bounds what a pair of a given occupation [`Fit`] can reach, and
//! [`Ranker::ceiling`] what one worker can reach with any post of a given fit, region,
//! reach, day wage and headcount, whatever its last day and fill ([`Ranker::code_fit`]);
//! [`title_occupations`] lists the skills a title names (the `occupation-alias` rule). A node keeps the terms beside its index rows, ranks
//! only the candidates its occupation index gives, stops when no unread group can rank above
//! what it holds, and assesses only what it returns.

use crate::dates;
use crate::occupation::{Occupation, occupations};
use crate::region::{Level, RegionCode, divisions};
use crate::schema::placement::Fill;
use crate::schema::{Choice, Flag, Post, PostStatus, ReviewState, WageUnit, Worker, WorkerStatus};
use serde::Serialize;
use std::cmp::Reverse;

/// Why a result scored as it did, in English and Chinese.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// A stable word for programs and tests (`occupation-exact`, `same-township`, …).
    pub code: &'static str,
    pub en: String,
    pub zh: String,
}

impl Reason {
    fn new(code: &'static str, en: impl Into<String>, zh: impl Into<String>) -> Reason {
        Reason {
            code,
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// The text in the user's language: Chinese when `lang` starts with `zh`, else English.
    pub fn text(&self, lang: &str) -> &str {
        if lang.starts_with("zh") {
            &self.zh
        } else {
            &self.en
        }
    }
}

/// The band names, indexed by band: `(English, Chinese)`.
pub const BANDS: [(&str, &str); 3] = [("strong", "高"), ("fair", "中"), ("weak", "低")];

/// The weakest band.
pub const WEAKEST_BAND: u8 = 2;

/// A post ranked for a worker.
#[derive(Clone, Debug)]
pub struct PostMatch<'a, Id> {
    pub id: Id,
    pub score: u32,
    pub band: u8,
    pub reasons: Vec<Reason>,
    pub post: &'a Post,
}

/// A worker ranked for a post.
#[derive(Clone, Debug)]
pub struct WorkerMatch<'a, Id> {
    pub id: Id,
    pub score: u32,
    pub band: u8,
    /// [`Worker::priority`]: 0 for none, higher helped first.
    pub priority: i64,
    pub reasons: Vec<Reason>,
    pub worker: &'a Worker,
}

/// How one worker fits one post: score, band and reasons (no exclusion rules applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub score: u32,
    pub band: u8,
    pub reasons: Vec<Reason>,
}

/// Posts for a worker, best first; only posts that are live on `today` ([`Post::is_live`])
/// with places left ([`Fill::left`] > 0), and nothing for a deregistered worker.
pub fn posts_for_worker<'a, Id: Clone>(
    worker: &Worker,
    posts: impl IntoIterator<Item = (Id, &'a Post, Fill)>,
    today: i64,
    limit: usize,
) -> Vec<PostMatch<'a, Id>> {
    if worker.status != WorkerStatus::Active || limit == 0 {
        return Vec::new();
    }
    let mut out: Vec<PostMatch<'a, Id>> = posts
        .into_iter()
        .filter(|(_, post, fill)| matchable(post, *fill, today))
        .map(|(id, post, fill)| {
            let a = assess(worker, post, fill, today);
            PostMatch {
                id,
                score: a.score,
                band: a.band,
                reasons: a.reasons,
                post,
            }
        })
        .collect();
    out.sort_by_key(|m| (m.band, Reverse(m.score)));
    out.truncate(limit);
    out
}

/// Workers for a post, best band first, priority workers first within a band, then score;
/// empty if the post is not live on `today` or has no places left. Deregistered workers never
/// appear, nor workers with `placed` set (a live placement on this post already). Every
/// worker is ranked without reasons ([`rank`], [`pick_workers`]); only the first `limit` are
/// assessed for theirs.
pub fn workers_for_post<'a, Id: Clone>(
    post: &Post,
    fill: Fill,
    workers: impl IntoIterator<Item = (Id, &'a Worker, bool)>,
    today: i64,
    limit: usize,
) -> Vec<WorkerMatch<'a, Id>> {
    if !matchable(post, fill, today) || limit == 0 {
        return Vec::new();
    }
    let terms = PostTerms::of(post);
    pick_workers(
        workers.into_iter().map(|(id, worker, placed)| {
            let rank = rank(&WorkerTerms::of(worker), &terms, fill, today);
            (id, worker, rank, placed)
        }),
        limit,
    )
    .into_iter()
    .map(|pick| pick.assess(post, fill, today))
    .collect()
}

/// One worker ranked for a post by [`pick_workers`], its reasons not yet written.
#[derive(Clone, Debug)]
pub struct WorkerPick<'a, Id> {
    pub id: Id,
    pub rank: Rank,
    pub priority: i64,
    pub worker: &'a Worker,
}

impl<'a, Id> WorkerPick<'a, Id> {
    /// The match with its reasons, as [`workers_for_post`] gives it.
    pub fn assess(self, post: &Post, fill: Fill, today: i64) -> WorkerMatch<'a, Id> {
        let mut a = assess(self.worker, post, fill, today);
        if self.priority > 0 {
            a.reasons.push(priority_reason(&self.worker.flags));
        }
        WorkerMatch {
            id: self.id,
            score: a.score,
            band: a.band,
            priority: self.priority,
            reasons: a.reasons,
            worker: self.worker,
        }
    }
}

/// The first `limit` of workers already ranked for one post, in [`workers_for_post`]'s order:
/// the placed and the inactive left out, then by band, priority (higher first) and score
/// (higher first), input order kept among equals. The ranks must be taken with the post's
/// own [`Fill`] (a score counts the places left). A station ranking many posts against the same
/// workers (the push list) takes them from a [`Ranker`] per worker, prepared once.
pub fn pick_workers<'a, Id>(
    ranked: impl IntoIterator<Item = (Id, &'a Worker, Rank, bool)>,
    limit: usize,
) -> Vec<WorkerPick<'a, Id>> {
    let mut picks: Vec<(usize, WorkerPick<'a, Id>)> = ranked
        .into_iter()
        .filter(|(_, worker, _, placed)| !placed && worker.status == WorkerStatus::Active)
        .map(|(id, worker, rank, _)| WorkerPick {
            rank,
            priority: worker.priority(),
            id,
            worker,
        })
        .enumerate()
        .collect();
    // Band, priority, score, then the order given: the key is unique, so the first `limit`
    // are picked without sorting the rest (the push list picks from every worker for every
    // post) and come out as a stable sort of all of them would give them.
    let key = |(at, p): &(usize, WorkerPick<'a, Id>)| {
        (p.rank.band, Reverse(p.priority), Reverse(p.rank.score), *at)
    };
    if limit == 0 {
        picks.clear();
    } else if picks.len() > limit {
        picks.select_nth_unstable_by_key(limit - 1, key);
        picks.truncate(limit);
    }
    picks.sort_unstable_by_key(key);
    picks.into_iter().map(|(_, p)| p).collect()
}

/// Live on `today` with places left: the only posts matched.
pub fn matchable(post: &Post, fill: Fill, today: i64) -> bool {
    post.is_live(today) && fill.left() > 0
}

/// What the rules read of a worker, prepared once: the skills that resolve in the occupation
/// table (as codes, in the worker's order), the minimum day wage in fen (when above 0), the
/// available dates as day numbers (unparsable ones absent), the priority. Small enough to keep
/// beside an index row, so a node ranks many workers without reading their records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WorkerTerms {
    pub skills: Vec<String>,
    pub region: RegionCode,
    pub wage_min_fen: Option<i64>,
    pub available_from: Option<i64>,
    pub available_to: Option<i64>,
    /// [`Worker::priority`].
    pub priority: i64,
    /// Active (not deregistered): the only workers matched.
    pub active: bool,
}

impl WorkerTerms {
    pub fn of(worker: &Worker) -> WorkerTerms {
        let table = occupations();
        WorkerTerms {
            skills: worker
                .skills
                .iter()
                .filter_map(|s| table.resolve(s).ok())
                .map(|o| o.code.as_str().to_string())
                .collect(),
            region: worker.region,
            wage_min_fen: worker.wage_min.map(fen).filter(|m| *m > 0),
            available_from: parse_day("available_from", &worker.available_from),
            available_to: parse_day("available_to", &worker.available_to),
            priority: worker.priority(),
            active: worker.status == WorkerStatus::Active,
        }
    }

    /// The skills as table entries.
    fn occupations(&self) -> Vec<&'static Occupation> {
        let table = occupations();
        self.skills.iter().filter_map(|c| table.get(c)).collect()
    }
}

/// What the rules read of a post: its occupation (trimmed) and title, where the work is and
/// whom it reaches, the wage per day in fen ([`day_wage_fen`]), the headcount, the last day (a
/// day number; unparsable counts as absent) and whether it is open and approved. Like
/// [`WorkerTerms`], small enough to keep beside an index row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PostTerms {
    pub occupation: String,
    pub title: String,
    pub region: RegionCode,
    pub reach: RegionCode,
    pub day_wage_fen: Option<i64>,
    pub headcount: i64,
    pub last_day: Option<i64>,
    /// Open and approved by the review (the last day is checked against `today` apart).
    pub listed: bool,
}

impl PostTerms {
    pub fn of(post: &Post) -> PostTerms {
        PostTerms {
            occupation: post.occupation.trim().to_string(),
            title: post.title.clone(),
            region: post.region,
            reach: post.reach,
            day_wage_fen: day_wage_fen(post.wage, post.unit),
            headcount: post.headcount,
            last_day: parse_day("expires", &post.expires),
            listed: post.status == PostStatus::Open && post.review == ReviewState::Approved,
        }
    }

    /// [`Post::is_live`] of the post these terms were read from.
    pub fn is_live(&self, today: i64) -> bool {
        self.listed && self.last_day.is_none_or(|last| last >= today)
    }
}

/// A date field as a day number; unparsable counts as absent.
fn parse_day(field: &'static str, d: &Option<String>) -> Option<i64> {
    d.as_deref().and_then(|s| dates::parse_date(field, s).ok())
}

/// The band and score of one worker for one post ([`assess`] without the reasons, from the
/// same measures): what a node ranks candidates by before it reads the records it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rank {
    pub band: u8,
    pub score: u32,
}

/// [`assess`]'s band and score, from the terms. Applies no exclusion.
pub fn rank(worker: &WorkerTerms, post: &PostTerms, fill: Fill, today: i64) -> Rank {
    let skills = worker.occupations();
    let place = place_of(worker.region, post.region, post.reach);
    measure(worker, &skills, None, place, post, today).rank(fill)
}

/// [`rank`] for one worker against many posts: the worker's skills and the words a title is
/// searched for looked up once, and where the worker stands to a post's region and reach
/// remembered for each pair met (a county's posts come from and reach a few hundred places).
pub struct Ranker<'a> {
    worker: &'a WorkerTerms,
    skills: Vec<&'static Occupation>,
    words: Vec<(&'static Occupation, &'static str)>,
    /// The first character of each of `words`, sorted: a title holding none of them names no
    /// skill.
    firsts: Vec<char>,
    /// `firsts` as bits (a character's code modulo 128): a title character whose bit is clear
    /// is none of them, found without a search (the push list asks this of every worker for
    /// every post).
    firsts_bits: u128,
    places: std::cell::RefCell<std::collections::HashMap<(RegionCode, RegionCode), Place>>,
    /// The pair asked last and its place: a station's posts mostly share their region and
    /// reach, so most asks are answered without hashing.
    last_place: std::cell::Cell<Option<((RegionCode, RegionCode), Place)>>,
}

impl<'a> Ranker<'a> {
    pub fn new(worker: &'a WorkerTerms) -> Ranker<'a> {
        let skills = worker.occupations();
        let words: Vec<_> = title_words(&skills).collect();
        let mut firsts: Vec<char> = words.iter().filter_map(|(_, w)| w.chars().next()).collect();
        firsts.sort_unstable();
        firsts.dedup();
        let firsts_bits = firsts.iter().fold(0u128, |bits, c| bits | char_bit(*c));
        Ranker {
            worker,
            words,
            firsts,
            firsts_bits,
            skills,
            places: Default::default(),
            last_place: Default::default(),
        }
    }

    /// Whether `title` holds the first character of one of the worker's skill words (then
    /// [`occupation_fit`] looks for the words themselves).
    fn title_may_name_a_skill(&self, title: &str) -> bool {
        title
            .chars()
            .any(|c| self.firsts_bits & char_bit(c) != 0 && self.firsts.binary_search(&c).is_ok())
    }

    /// Where the worker stands to a post from `region` reaching `reach` (remembered for each
    /// pair met).
    pub fn place(&self, region: RegionCode, reach: RegionCode) -> Place {
        let key = (region, reach);
        if let Some((last, place)) = self.last_place.get()
            && last == key
        {
            return place;
        }
        let known = self.places.borrow().get(&key).copied();
        let place = known.unwrap_or_else(|| {
            let place = place_of(self.worker.region, region, reach);
            self.places.borrow_mut().insert(key, place);
            place
        });
        self.last_place.set(Some((key, place)));
        place
    }

    /// The occupation fit of the worker for a post of occupation `code` by the code alone,
    /// the title aside: a post of that code fits at most this well, or as [`Fit::Alias`] when
    /// its title names one of the worker's skills ([`title_occupations`]).
    pub fn code_fit(&self, code: &str) -> Fit {
        occupation_fit(&self.skills, Some(&[]), code, "").fit()
    }

    /// The best band and the highest score the worker can reach on `today` for any post from
    /// `region` reaching `reach`, paying `day_wage_fen` a day, with `headcount` places, whose
    /// occupation fits at most as `fit` (the code's fit, [`Ranker::code_fit`], or
    /// [`Fit::Alias`] for a title naming a skill), whatever its last day and fill: what lets a
    /// node rank posts alike in these only while one of them could still enter its results.
    pub fn ceiling(
        &self,
        fit: Fit,
        region: RegionCode,
        reach: RegionCode,
        day_wage_fen: Option<i64>,
        headcount: i64,
        today: i64,
    ) -> Rank {
        rank_of(
            fit,
            self.place(region, reach),
            wage_fit(self.worker.wage_min_fen, day_wage_fen),
            // A post without a last day is the best case of the dates.
            dates_fit(self.worker, None, today),
            headcount,
        )
    }

    /// [`rank`] of the worker for `post`.
    pub fn rank(&self, post: &PostTerms, fill: Fill, today: i64) -> Rank {
        let place = self.place(post.region, post.reach);
        measure(
            self.worker,
            &self.skills,
            Some(if self.title_may_name_a_skill(&post.title) {
                &self.words
            } else {
                &[]
            }),
            place,
            post,
            today,
        )
        .rank(fill)
    }
}

/// A character's bit in [`Ranker`]'s `firsts_bits`: its code modulo 128.
fn char_bit(c: char) -> u128 {
    1u128 << (u32::from(c) % 128)
}

/// Scores one worker against one post (see the module doc for the weights and bands). Applies
/// no exclusion: callers rank through [`posts_for_worker`] and [`workers_for_post`].
pub fn assess(worker: &Worker, post: &Post, fill: Fill, today: i64) -> Assessment {
    let terms = WorkerTerms::of(worker);
    let skills = terms.occupations();
    let post_terms = PostTerms::of(post);
    let place = place_of(terms.region, post_terms.region, post_terms.reach);
    let m = measure(&terms, &skills, None, place, &post_terms, today);
    let Rank { band, score } = m.rank(fill);
    let left = fill.left();
    let mut reasons = vec![
        occupation_reason(&m.occupation, &skills, post),
        place_reason(m.common, &worker.region, &post.region),
    ];
    if !m.inside_reach {
        let n = region_name(&post.reach);
        reasons.push(Reason::new(
            "outside-reach",
            format!("outside the post's reach ({n})"),
            format!("不在岗位招聘范围（{n}）内"),
        ));
    }
    reasons.push(wage_reason(m.wage, &terms, post, post_terms.day_wage_fen));
    reasons.push(dates_reason(m.dates, &terms, post_terms.last_day));
    reasons.push(Reason::new(
        "places-left",
        format!("{left} of {} places left", fill.headcount),
        format!("剩余 {left}/{} 个名额", fill.headcount),
    ));
    Assessment {
        score,
        band,
        reasons,
    }
}

/// How a worker's skills relate to a post's occupation, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    /// Skills listed, none related.
    Other,
    /// No skill listed (or none that resolves).
    Unlisted,
    /// Same major group (大类).
    MajorGroup,
    /// Same minor group (中类).
    MinorGroup,
    /// The post's title names a skill.
    Alias,
    /// Same unit group (小类).
    UnitGroup,
    /// The same code.
    Exact,
}

impl Fit {
    fn points(self) -> i64 {
        match self {
            Fit::Exact => 40,
            Fit::UnitGroup | Fit::Alias => 30,
            Fit::MinorGroup => 18,
            Fit::MajorGroup => 10,
            Fit::Unlisted => 6,
            Fit::Other => 0,
        }
    }
}

/// The best band and the highest score a worker and a post whose occupation fit is at most
/// `fit` can reach, whatever their places, wages, dates and fill: what lets a node stop reading
/// candidates once it holds enough that rank above it.
pub fn ceiling(fit: Fit) -> Rank {
    // Same village, inside the reach, wage 1.2 × the minimum, available now, five places.
    rank_of(
        fit,
        Place::BEST,
        WageFit::Ok { high: true },
        DatesFit::Now,
        5,
    )
}

/// The points of where a worker stands to a post: the shared division, less 10 outside the
/// post's reach.
fn place_points(place: Place) -> i64 {
    let shared = match place.common {
        Some(Level::Village) => 30,
        Some(Level::Township) => 24,
        Some(Level::County) => 16,
        Some(Level::City) => 8,
        _ => 0,
    };
    if place.inside_reach {
        shared
    } else {
        shared - 10
    }
}

/// The band of a pair (see the module doc); `fits`: wage not below the minimum and dates that
/// overlap.
fn band_of(fit: Fit, place: Place, fits: bool) -> u8 {
    if fits && fit >= Fit::Alias && place.inside_reach && place.common >= Some(Level::County) {
        0
    } else if fits
        && (fit >= Fit::MinorGroup || fit == Fit::Unlisted)
        && place.common >= Some(Level::City)
    {
        1
    } else {
        WEAKEST_BAND
    }
}

/// The highest [`Worker::priority`] a worker can have (every flag once).
pub fn max_priority() -> i64 {
    crate::schema::worker::priority_of(Flag::ALL)
}

/// The codes of the occupations whose name or an everyday alias (of two characters or more,
/// three for Latin ones, not 招聘) a post's title contains: the posts a worker with one of these
/// skills fits by `occupation-alias`. Sorted, each once.
pub fn title_occupations(title: &str) -> Vec<&'static str> {
    static WORDS: std::sync::OnceLock<
        std::collections::HashMap<char, Vec<(&'static str, &'static str)>>,
    > = std::sync::OnceLock::new();
    let words = WORDS.get_or_init(|| {
        let mut map: std::collections::HashMap<char, Vec<(&'static str, &'static str)>> =
            Default::default();
        for o in occupations().iter() {
            for word in skill_words(o) {
                if title_word(word)
                    && let Some(first) = word.chars().next()
                {
                    map.entry(first).or_default().push((word, o.code.as_str()));
                }
            }
        }
        map
    });
    let mut out = Vec::new();
    for (i, c) in title.char_indices() {
        for (word, code) in words.get(&c).into_iter().flatten() {
            if title[i..].starts_with(word) {
                out.push(*code);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// An occupation's official name, then its aliases.
fn skill_words(o: &'static Occupation) -> impl Iterator<Item = &'static str> {
    std::iter::once(o.name.as_str()).chain(o.aliases.iter().map(String::as_str))
}

/// Everything the score and band of a pair depend on, before any text is made.
struct Measure {
    occupation: OccupationFit,
    common: Option<Level>,
    inside_reach: bool,
    wage: WageFit,
    dates: DatesFit,
}

impl Measure {
    fn rank(&self, fill: Fill) -> Rank {
        let place = Place {
            common: self.common,
            inside_reach: self.inside_reach,
        };
        rank_of(
            self.occupation.fit(),
            place,
            self.wage,
            self.dates,
            fill.left(),
        )
    }
}

/// The band and score of a pair from its measures (`left`: places left).
fn rank_of(fit: Fit, place: Place, wage: WageFit, dates: DatesFit, left: i64) -> Rank {
    let wage_points = match wage {
        WageFit::NoMinimum | WageFit::NotComparable => 5,
        WageFit::Below => -30,
        WageFit::Ok { high: true } => 15,
        WageFit::Ok { high: false } => 10,
    };
    let (dates, overlap) = match dates {
        DatesFit::Now => (10, true),
        DatesFit::Later { .. } => (5, true),
        DatesFit::Past { .. } | DatesFit::EndsBeforeStart { .. } | DatesFit::After { .. } => {
            (-20, false)
        }
    };
    let places = left.clamp(0, 5);
    let points = fit.points() + place_points(place) + wage_points + dates + places;
    let fits = wage != WageFit::Below && overlap;
    Rank {
        band: band_of(fit, place, fits),
        score: u32::try_from(points.max(0)).unwrap_or(0),
    }
}

/// Where a worker stands to a post: the deepest level at which the worker's region and the
/// post's share an ancestor, and whether the worker is inside the post's reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub common: Option<Level>,
    pub inside_reach: bool,
}

impl Place {
    /// Where a worker stands to a post in the same village and inside its reach: the best.
    const BEST: Place = Place {
        common: Some(Level::Village),
        inside_reach: true,
    };
}

/// Where a worker in `w` stands to a post from `region` reaching `reach`.
fn place_of(w: RegionCode, region: RegionCode, reach: RegionCode) -> Place {
    let common = Level::ALL.iter().rev().copied().find(|&level| {
        matches!((w.ancestor_at(level), region.ancestor_at(level)), (Some(a), Some(b)) if a == b)
    });
    Place {
        common,
        inside_reach: reach.contains(&w) || w.contains(&reach),
    }
}

/// `words`: [`title_words`] of `skills` when the caller holds them (read here otherwise).
fn measure(
    worker: &WorkerTerms,
    skills: &[&'static Occupation],
    words: Option<&[(&'static Occupation, &'static str)]>,
    place: Place,
    post: &PostTerms,
    today: i64,
) -> Measure {
    Measure {
        occupation: occupation_fit(skills, words, &post.occupation, &post.title),
        common: place.common,
        inside_reach: place.inside_reach,
        wage: wage_fit(worker.wage_min_fen, post.day_wage_fen),
        dates: dates_fit(worker, post.last_day, today),
    }
}

/// `4-10-01-06 家政服务员`, or the code alone when the table lacks it.
fn occupation_label(code: &str) -> String {
    match occupations().get(code) {
        Some(o) => format!("{code} {}", o.name),
        None => code.to_string(),
    }
}

/// The group of `code` at `parts` parts with its name: `4-10-01 生活照料服务人员`.
fn group_label(code: &str, parts: usize) -> String {
    let prefix: Vec<&str> = code.split('-').take(parts).collect();
    let mut group = prefix.clone();
    while group.len() < 4 {
        group.push("00");
    }
    let group = group.join("-");
    let prefix = prefix.join("-");
    match occupations().get(&group) {
        Some(o) => format!("{prefix} {}", o.name),
        None => prefix,
    }
}

/// Number of leading `-` parts two codes share (`a.split('-')` zipped with `b.split('-')`,
/// counted while equal), in one walk over the bytes: the push list asks it of every skill of
/// every worker for every post.
fn shared_parts(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut shared, mut at) = (0, 0);
    loop {
        let mut end = at;
        while end < a.len() && end < b.len() && a[end] == b[end] && a[end] != b'-' {
            end += 1;
        }
        let part_ends = |s: &[u8]| end == s.len() || s[end] == b'-';
        if !(part_ends(a) && part_ends(b)) {
            return shared;
        }
        shared += 1;
        if end == a.len() || end == b.len() {
            return shared;
        }
        at = end + 1;
    }
}

/// A name or alias long enough to look for in a title.
fn title_word(word: &str) -> bool {
    let n = word.chars().count();
    let min = if word.is_ascii() { 3 } else { 2 };
    n >= min && word != "招聘"
}

/// The occupation fit with what its reason names: the best skill, or the skill and the word the
/// title holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OccupationFit {
    Unlisted,
    Exact,
    UnitGroup(&'static Occupation),
    Alias(&'static Occupation, &'static str),
    MinorGroup(&'static Occupation),
    MajorGroup(&'static Occupation),
    Other,
}

impl OccupationFit {
    fn fit(self) -> Fit {
        match self {
            OccupationFit::Unlisted => Fit::Unlisted,
            OccupationFit::Exact => Fit::Exact,
            OccupationFit::UnitGroup(_) => Fit::UnitGroup,
            OccupationFit::Alias(..) => Fit::Alias,
            OccupationFit::MinorGroup(_) => Fit::MinorGroup,
            OccupationFit::MajorGroup(_) => Fit::MajorGroup,
            OccupationFit::Other => Fit::Other,
        }
    }
}

/// The words of `skills` a post's title is searched for (`occupation-alias`), in order: each
/// skill's name, then its aliases, those long enough ([`title_word`]).
fn title_words<'s>(
    skills: &'s [&'static Occupation],
) -> impl Iterator<Item = (&'static Occupation, &'static str)> + 's {
    skills.iter().flat_map(|&s| {
        skill_words(s)
            .filter(|w| title_word(w))
            .map(move |w| (s, w))
    })
}

/// `words`: [`title_words`] of `skills`, when the caller holds them.
fn occupation_fit(
    skills: &[&'static Occupation],
    words: Option<&[(&'static Occupation, &'static str)]>,
    target: &str,
    title: &str,
) -> OccupationFit {
    if skills.is_empty() {
        return OccupationFit::Unlisted;
    }
    // The best skill by shared parts; the first one wins a tie.
    let mut best: Option<(usize, &'static Occupation)> = None;
    for s in skills {
        let n = shared_parts(s.code.as_str(), target);
        if best.is_none_or(|(b, _)| n > b) {
            best = Some((n, s));
        }
    }
    let (shared, skill) = best.expect("skills is not empty");
    if shared >= 4 {
        return OccupationFit::Exact;
    }
    if shared == 3 {
        return OccupationFit::UnitGroup(skill);
    }
    let named = match words {
        Some(words) => words.iter().copied().find(|(_, w)| title.contains(w)),
        None => title_words(skills).find(|(_, w)| title.contains(w)),
    };
    if let Some((s, word)) = named {
        return OccupationFit::Alias(s, word);
    }
    match shared {
        2 => OccupationFit::MinorGroup(skill),
        1 => OccupationFit::MajorGroup(skill),
        _ => OccupationFit::Other,
    }
}

fn occupation_reason(fit: &OccupationFit, skills: &[&'static Occupation], post: &Post) -> Reason {
    let target = post.occupation.trim();
    let post_label = occupation_label(target);
    match *fit {
        OccupationFit::Unlisted => Reason::new(
            "occupation-unlisted",
            format!("no skills listed (the post is {post_label})"),
            format!("未填写技能（岗位工种 {post_label}）"),
        ),
        OccupationFit::Exact => Reason::new(
            "occupation-exact",
            format!("same occupation ({post_label})"),
            format!("工种相同（{post_label}）"),
        ),
        OccupationFit::UnitGroup(skill) => {
            let skill_label = occupation_label(skill.code.as_str());
            let group = group_label(target, 3);
            Reason::new(
                "occupation-unit-group",
                format!("same unit group ({group}): skill {skill_label}, post {post_label}"),
                format!("同一小类（{group}）：会 {skill_label}，岗位 {post_label}"),
            )
        }
        OccupationFit::Alias(s, word) => {
            let title = post.title.as_str();
            let label = occupation_label(s.code.as_str());
            Reason::new(
                "occupation-alias",
                format!("the post title “{title}” names the skill {label} ({word})"),
                format!("岗位名称“{title}”提到所会技能 {label}（{word}）"),
            )
        }
        OccupationFit::MinorGroup(skill) => {
            let skill_label = occupation_label(skill.code.as_str());
            let group = group_label(target, 2);
            Reason::new(
                "occupation-minor-group",
                format!("same minor group ({group}): skill {skill_label}, post {post_label}"),
                format!("同一中类（{group}）：会 {skill_label}，岗位 {post_label}"),
            )
        }
        OccupationFit::MajorGroup(skill) => {
            let skill_label = occupation_label(skill.code.as_str());
            let group = group_label(target, 1);
            Reason::new(
                "occupation-major-group",
                format!("same major group ({group}): skill {skill_label}, post {post_label}"),
                format!("同一大类（{group}）：会 {skill_label}，岗位 {post_label}"),
            )
        }
        OccupationFit::Other => {
            let listed: Vec<String> = skills
                .iter()
                .map(|s| occupation_label(s.code.as_str()))
                .collect();
            Reason::new(
                "occupation-other",
                format!(
                    "skills {} differ from the post's {post_label}",
                    listed.join(", ")
                ),
                format!(
                    "所会技能 {} 与岗位工种 {post_label} 不同",
                    listed.join("、")
                ),
            )
        }
    }
}

/// The official name of a division, or its digits.
fn region_name(code: &RegionCode) -> String {
    divisions().name_or_code(code)
}

/// The reason for the deepest level at which the worker's region `w` and the post's region `p`
/// share an ancestor.
fn place_reason(common: Option<Level>, w: &RegionCode, p: &RegionCode) -> Reason {
    let named = |level: Level| region_name(&w.ancestor_at(level).expect("common level"));
    match common {
        Some(Level::Village) => {
            let n = named(Level::Village);
            Reason::new(
                "same-village",
                format!("same village ({n})"),
                format!("同一村（社区）（{n}）"),
            )
        }
        Some(Level::Township) => {
            let n = named(Level::Township);
            Reason::new(
                "same-township",
                format!("same township ({n})"),
                format!("同一乡镇（{n}）"),
            )
        }
        Some(Level::County) => {
            let n = named(Level::County);
            Reason::new(
                "same-county",
                format!("same county ({n})"),
                format!("同一县（区）（{n}）"),
            )
        }
        Some(Level::City) => {
            let n = named(Level::City);
            Reason::new(
                "same-city",
                format!("same city ({n})"),
                format!("同一市（州）（{n}）"),
            )
        }
        _ => {
            let n = region_name(p);
            Reason::new(
                "other-city",
                format!("the work is in another city ({n})"),
                format!("工作地点在其他市（州）（{n}）"),
            )
        }
    }
}

/// How the post's wage compares with the worker's minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WageFit {
    NoMinimum,
    NotComparable,
    Below,
    /// `high`: at least 1.2 × the minimum.
    Ok {
        high: bool,
    },
}

/// Yuan to fen, rounded.
fn fen(yuan: f64) -> i64 {
    (yuan * 100.0).round() as i64
}

/// Fen as yuan text: `150`, `137.93`.
fn yuan(fen: i64) -> String {
    if fen % 100 == 0 {
        format!("{}", fen / 100)
    } else {
        format!("{}.{:02}", fen / 100, (fen % 100).abs())
    }
}

/// The post's wage per day in fen, if it can be compared with a day wage.
pub fn day_wage_fen(wage: f64, unit: WageUnit) -> Option<i64> {
    let f = fen(wage);
    match unit {
        WageUnit::Day => Some(f),
        WageUnit::Hour => Some(f * 8),
        // ÷ 21.75 = × 4 / 87, rounded to the fen.
        WageUnit::Month => Some((f * 8 + 87) / 174),
        WageUnit::Piece => None,
    }
}

fn wage_fit(min: Option<i64>, day: Option<i64>) -> WageFit {
    let Some(min) = min else {
        return WageFit::NoMinimum;
    };
    let Some(day) = day else {
        return WageFit::NotComparable;
    };
    if day < min {
        return WageFit::Below;
    }
    WageFit::Ok {
        high: day * 5 >= min * 6,
    }
}

fn wage_reason(fit: WageFit, worker: &WorkerTerms, post: &Post, day: Option<i64>) -> Reason {
    let unit = post.unit;
    let pay_en = format!("{} yuan/{}", yuan(fen(post.wage)), unit.as_str());
    let pay_zh = format!("{} 元/{}", yuan(fen(post.wage)), unit.as_zh());
    let (pay_en, pay_zh) = match (unit, day) {
        (WageUnit::Hour, Some(d)) => (
            format!("{pay_en} (about {} yuan/day at 8 hours)", yuan(d)),
            format!("{pay_zh}（按 8 小时约 {} 元/天）", yuan(d)),
        ),
        (WageUnit::Month, Some(d)) => (
            format!("{pay_en} (about {} yuan/day at 21.75 days)", yuan(d)),
            format!("{pay_zh}（按 21.75 天约 {} 元/天）", yuan(d)),
        ),
        _ => (pay_en, pay_zh),
    };
    let min = yuan(worker.wage_min_fen.unwrap_or(0));
    match fit {
        WageFit::NoMinimum => Reason::new(
            "wage-no-minimum",
            format!("no minimum wage given; the post pays {pay_en}"),
            format!("未填写期望工资；岗位工资 {pay_zh}"),
        ),
        WageFit::NotComparable => Reason::new(
            "wage-not-comparable",
            format!("paid per piece ({pay_en}): not comparable with the wanted {min} yuan/day"),
            format!("按件计酬（{pay_zh}），无法与期望 {min} 元/天比较"),
        ),
        WageFit::Below => Reason::new(
            "wage-below",
            format!("wage {pay_en}, below the wanted {min} yuan/day"),
            format!("工资 {pay_zh}，低于期望 {min} 元/天"),
        ),
        WageFit::Ok { .. } => Reason::new(
            "wage-ok",
            format!("wage {pay_en}, not below the wanted {min} yuan/day"),
            format!("工资 {pay_zh}，不低于期望 {min} 元/天"),
        ),
    }
}

/// How the worker's dates meet the post's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DatesFit {
    /// Available only until `to`, before today.
    Past {
        to: i64,
    },
    /// Available from `start` but only until `to`, before it.
    EndsBeforeStart {
        start: i64,
        to: i64,
    },
    /// Available from `start`, after the post's last day.
    After {
        start: i64,
    },
    /// Available from `start`, later than today, within the post's days.
    Later {
        start: i64,
    },
    Now,
}

fn dates_fit(worker: &WorkerTerms, last: Option<i64>, today: i64) -> DatesFit {
    let (from, to) = (worker.available_from, worker.available_to);
    let start = from.map_or(today, |f| f.max(today));
    if let Some(to) = to
        && to < today
    {
        return DatesFit::Past { to };
    }
    if let Some(to) = to
        && to < start
    {
        return DatesFit::EndsBeforeStart { start, to };
    }
    if last.is_some_and(|l| start > l) {
        return DatesFit::After { start };
    }
    if start > today {
        return DatesFit::Later { start };
    }
    DatesFit::Now
}

fn dates_reason(fit: DatesFit, worker: &WorkerTerms, last: Option<i64>) -> Reason {
    let (last_en, last_zh) = match last {
        Some(l) => (
            format!("the post's last day {}", dates::format_date(l)),
            format!("岗位截止日 {}", dates::format_date(l)),
        ),
        None => ("the post, which has no end".into(), "岗位长期有效".into()),
    };
    match fit {
        DatesFit::Past { to } => {
            let d = dates::format_date(to);
            Reason::new(
                "not-available",
                format!("available only until {d}, already past"),
                format!("可工作时间截至 {d}，已过"),
            )
        }
        DatesFit::EndsBeforeStart { start, to } => {
            let (a, b) = (dates::format_date(start), dates::format_date(to));
            Reason::new(
                "not-available",
                format!("available from {a} but only until {b}"),
                format!("{a} 起可工作，但截至 {b}"),
            )
        }
        DatesFit::After { start } => {
            let d = dates::format_date(start);
            Reason::new(
                "not-available",
                format!("available from {d}, after {last_en}"),
                format!("{d} 起才可工作，晚于{last_zh}"),
            )
        }
        DatesFit::Later { start } => {
            let d = dates::format_date(start);
            let (en, zh) = if last.is_some() {
                (
                    format!("available from {d}, before {last_en}"),
                    format!("{d} 起可上岗，早于{last_zh}"),
                )
            } else {
                (
                    format!("available from {d}; {last_en}"),
                    format!("{d} 起可上岗；{last_zh}"),
                )
            };
            Reason::new("available-later", en, zh)
        }
        DatesFit::Now => {
            let (en, zh) = match worker.available_to {
                Some(to) => {
                    let d = dates::format_date(to);
                    (
                        format!("available now, until {d}"),
                        format!("现在可上岗，至 {d}"),
                    )
                }
                None if worker.available_from.is_none() => (
                    "available now (no dates given)".to_string(),
                    "现在可上岗（未填写可工作日期）".to_string(),
                ),
                None => ("available now".to_string(), "现在可上岗".to_string()),
            };
            Reason::new("available-now", en, zh)
        }
    }
}

/// `priority: disabled, older` / `优先帮扶：残疾、大龄`: distinct flags, heaviest first.
fn priority_reason(flags: &[Flag]) -> Reason {
    let mut seen: Vec<Flag> = Vec::new();
    for f in flags {
        if !seen.contains(f) {
            seen.push(*f);
        }
    }
    seen.sort_by_key(|f| Reverse(f.weight()));
    let en: Vec<&str> = seen.iter().map(|f| f.as_str()).collect();
    let zh: Vec<&str> = seen.iter().map(|f| f.as_zh()).collect();
    Reason::new(
        "priority",
        format!("priority: {}", en.join(", ")),
        format!("优先帮扶：{}", zh.join("、")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{PostStatus, ReviewState};
    use proptest::prelude::*;

    fn day(s: &str) -> i64 {
        dates::parse_date("day", s).unwrap()
    }

    fn today() -> i64 {
        day("2026-12-10")
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn post(occupation: &str, region: &str, reach: &str) -> Post {
        Post {
            title: "岗位".into(),
            occupation: occupation.into(),
            wage: 150.0,
            unit: WageUnit::Day,
            headcount: 8,
            employer: None,
            status: PostStatus::Open,
            review: ReviewState::Approved,
            review_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            region: code(region),
            reach: code(reach),
            location: None,
            contact: None,
            description: None,
            expires: Some("2026-12-31".into()),
            created_at: "2026-12-01T09:00:00+08:00".into(),
        }
    }

    fn worker(skills: &[&str], region: &str) -> Worker {
        Worker {
            name: "张三".into(),
            id_masked: String::new(),
            id_hash: String::new(),
            phone: "13812345678".into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            wage_min: Some(120.0),
            flags: Vec::new(),
            available_from: None,
            available_to: None,
            status: WorkerStatus::Active,
            region: code(region),
            created_at: "2026-11-01T09:00:00+08:00".into(),
        }
    }

    fn fill(headcount: i64, filled: i64) -> Fill {
        Fill { headcount, filled }
    }

    /// The reason codes of an assessment.
    fn codes(a: &Assessment) -> Vec<&'static str> {
        a.reasons.iter().map(|r| r.code).collect()
    }

    fn reason<'r>(a: &'r Assessment, code: &str) -> &'r Reason {
        a.reasons
            .iter()
            .find(|r| r.code == code)
            .unwrap_or_else(|| panic!("no {code} in {:?}", codes(a)))
    }

    const HOME: &str = "522622101001";
    const TOWNSHIP: &str = "522622101";

    fn assess_home(w: &Worker, p: &Post) -> Assessment {
        assess(w, p, fill(8, 0), today())
    }

    #[test]
    fn occupation_fit_ranks_exact_unit_minor_major_other() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let cases = [
            (vec!["4-10-01-06"], "occupation-exact", 40),
            (vec!["4-10-01-05"], "occupation-unit-group", 30),
            (vec!["4-10-02-01"], "occupation-minor-group", 18),
            (vec!["4-03-02-05"], "occupation-major-group", 10),
            (vec!["6-29-01-01"], "occupation-other", 0),
            (vec![], "occupation-unlisted", 6),
            // The best of several skills counts.
            (
                vec!["6-29-01-01", "4-10-01-05"],
                "occupation-unit-group",
                30,
            ),
        ];
        let base = assess_home(&worker(&[], HOME), &p).score - 6;
        for (skills, want, points) in cases {
            let a = assess_home(&worker(&skills, HOME), &p);
            assert_eq!(a.reasons[0].code, want, "{skills:?}");
            assert_eq!(a.score, base + points, "{skills:?}");
        }
        let a = assess_home(&worker(&["4-10-01-06"], HOME), &p);
        assert_eq!(a.reasons[0].text("zh"), "工种相同（4-10-01-06 家政服务员）");
        assert_eq!(
            a.reasons[0].text("en"),
            "same occupation (4-10-01-06 家政服务员)"
        );
        let a = assess_home(&worker(&["4-10-01-05"], HOME), &p);
        assert!(
            a.reasons[0].zh.contains("4-10-01 生活照料服务人员"),
            "{}",
            a.reasons[0].zh
        );
    }

    #[test]
    fn a_skill_written_as_an_everyday_word_counts_as_its_code() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let a = assess_home(&worker(&["钟点工"], HOME), &p);
        assert_eq!(a.reasons[0].code, "occupation-exact");
        let a = assess_home(&worker(&["不是工种"], HOME), &p);
        assert_eq!(a.reasons[0].code, "occupation-unlisted");
    }

    #[test]
    fn a_title_naming_a_skill_by_its_alias_is_an_alias_fit() {
        let mut p = post("4-09-08-01", HOME, TOWNSHIP);
        p.title = "急招保姆兼保洁".into();
        let a = assess_home(&worker(&["4-10-01-06"], HOME), &p);
        assert_eq!(a.reasons[0].code, "occupation-alias");
        assert!(a.reasons[0].zh.contains("保姆"), "{}", a.reasons[0].zh);
        assert_eq!(a.band, 0);
        // 招聘 is in every title: it names no skill.
        p.title = "招聘搬运工".into();
        let a = assess_home(&worker(&["4-07-03-08"], HOME), &p);
        assert_eq!(a.reasons[0].code, "occupation-major-group");
        // A unit-group fit is not replaced by the alias.
        p.occupation = "4-10-01-05".into();
        p.title = "保姆".into();
        let a = assess_home(&worker(&["4-10-01-06"], HOME), &p);
        assert_eq!(a.reasons[0].code, "occupation-unit-group");
    }

    #[test]
    fn division_distance_scores_village_township_county_city_and_farther() {
        let p = post("4-10-01-06", HOME, "522622");
        let cases = [
            ("522622101001", "same-village", 30, "乐源社区居民委员会"),
            ("522622101002", "same-township", 24, "旧州镇"),
            ("522622102001", "same-county", 16, "黄平县"),
            ("522623101001", "same-city", 8, "黔东南苗族侗族自治州"),
            ("520102001001", "other-city", 0, "乐源社区居民委员会"),
        ];
        let far = assess_home(&worker(&["4-10-01-06"], "520102001001"), &p).score;
        for (region, want, points, name) in cases {
            let a = assess_home(&worker(&["4-10-01-06"], region), &p);
            let r = &a.reasons[1];
            assert_eq!(r.code, want, "{region}");
            assert!(r.zh.contains(name), "{}", r.zh);
            // Outside the county reach: 10 off, on top of the distance.
            let off = if region.starts_with("522622") { 0 } else { 10 };
            assert_eq!(a.score + off, far + 10 + points, "{region}");
        }
        // A worker registered at the county only is as close as the county.
        let a = assess_home(&worker(&["4-10-01-06"], "522622"), &p);
        assert_eq!(a.reasons[1].code, "same-county");
        assert_eq!(a.band, 0, "{:?}", codes(&a));
    }

    #[test]
    fn outside_the_reach_is_listed_low_and_never_strong() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let inside = assess_home(&worker(&["4-10-01-06"], "522622101002"), &p);
        let outside = assess_home(&worker(&["4-10-01-06"], "522622102001"), &p);
        assert!(!codes(&inside).contains(&"outside-reach"));
        assert_eq!(inside.band, 0);
        assert_eq!(
            reason(&outside, "outside-reach").zh,
            "不在岗位招聘范围（旧州镇）内"
        );
        assert_eq!(outside.band, 1);
        assert_eq!(inside.score - outside.score, (24 - 16) + 10);
        let elsewhere = assess_home(&worker(&["4-10-01-06"], "520102001001"), &p);
        assert_eq!(elsewhere.band, 2);
    }

    #[test]
    fn wages_are_compared_per_day_when_the_units_allow() {
        let base = post("4-10-01-06", HOME, TOWNSHIP);
        let w = worker(&["4-10-01-06"], HOME);
        let case = |wage: f64, unit: WageUnit, wage_min: Option<f64>| {
            let mut p = base.clone();
            p.wage = wage;
            p.unit = unit;
            let mut w = w.clone();
            w.wage_min = wage_min;
            let a = assess_home(&w, &p);
            let r = a
                .reasons
                .iter()
                .find(|r| r.code.starts_with("wage"))
                .unwrap()
                .clone();
            (a, r)
        };
        let (good, r) = case(150.0, WageUnit::Day, Some(120.0));
        assert_eq!(r.code, "wage-ok");
        assert_eq!(r.zh, "工资 150 元/天，不低于期望 120 元/天");
        let (ok, _) = case(130.0, WageUnit::Day, Some(120.0));
        assert_eq!(
            good.score - ok.score,
            5,
            "1.2 × the minimum earns 15, else 10"
        );
        let (below, r) = case(100.0, WageUnit::Day, Some(120.0));
        assert_eq!(r.code, "wage-below");
        assert_eq!(r.zh, "工资 100 元/天，低于期望 120 元/天");
        assert_eq!(below.band, 2);
        assert_eq!(ok.score - below.score, 40);
        // 20 an hour is 160 a day; 16 an hour is 128.
        let (_, r) = case(20.0, WageUnit::Hour, Some(150.0));
        assert_eq!(r.code, "wage-ok");
        assert!(r.zh.contains("约 160 元/天"), "{}", r.zh);
        assert_eq!(case(16.0, WageUnit::Hour, Some(150.0)).1.code, "wage-below");
        // 3000 a month is 137.93 a day.
        let (_, r) = case(3000.0, WageUnit::Month, Some(137.93));
        assert_eq!(r.code, "wage-ok");
        assert!(r.en.contains("about 137.93 yuan/day"), "{}", r.en);
        assert_eq!(
            case(3000.0, WageUnit::Month, Some(137.94)).1.code,
            "wage-below"
        );
        // Per piece, or no minimum: neutral.
        let (piece, r) = case(2.0, WageUnit::Piece, Some(120.0));
        assert_eq!(r.code, "wage-not-comparable");
        assert_eq!(piece.band, 0);
        assert_eq!(case(100.0, WageUnit::Day, None).1.code, "wage-no-minimum");
        assert_eq!(
            case(100.0, WageUnit::Day, Some(0.0)).1.code,
            "wage-no-minimum"
        );
        assert_eq!(day_wage_fen(3000.0, WageUnit::Month), Some(13_793));
    }

    #[test]
    fn availability_dates_against_today_and_the_last_day() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let case = |from: Option<&str>, to: Option<&str>| {
            let mut w = worker(&["4-10-01-06"], HOME);
            w.available_from = from.map(String::from);
            w.available_to = to.map(String::from);
            assess_home(&w, &p)
        };
        let now = case(None, None);
        assert_eq!(
            reason(&now, "available-now").zh,
            "现在可上岗（未填写可工作日期）"
        );
        let started = case(Some("2026-12-01"), Some("2026-12-20"));
        assert_eq!(
            reason(&started, "available-now").zh,
            "现在可上岗，至 2026-12-20"
        );
        let later = case(Some("2026-12-20"), None);
        assert_eq!(
            reason(&later, "available-later").zh,
            "2026-12-20 起可上岗，早于岗位截止日 2026-12-31"
        );
        assert_eq!(now.score - later.score, 5);
        assert_eq!(later.band, 0);
        let past = case(None, Some("2026-12-09"));
        assert_eq!(
            reason(&past, "not-available").zh,
            "可工作时间截至 2026-12-09，已过"
        );
        assert_eq!(past.band, 2);
        assert_eq!(now.score - past.score, 30);
        let after = case(Some("2027-01-05"), None);
        assert_eq!(
            reason(&after, "not-available").zh,
            "2027-01-05 起才可工作，晚于岗位截止日 2026-12-31"
        );
        // A post without an end day overlaps every future start.
        let mut open_ended = p.clone();
        open_ended.expires = None;
        let mut w = worker(&["4-10-01-06"], HOME);
        w.available_from = Some("2027-01-05".into());
        let a = assess_home(&w, &open_ended);
        assert_eq!(
            reason(&a, "available-later").zh,
            "2027-01-05 起可上岗；岗位长期有效"
        );
    }

    #[test]
    fn places_left_add_a_point_each_up_to_five() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let w = worker(&["4-10-01-06"], HOME);
        let at = |filled| assess(&w, &p, fill(8, filled), today());
        assert_eq!(at(0).score - at(7).score, 4);
        assert_eq!(at(0).score, at(3).score);
        assert_eq!(reason(&at(5), "places-left").zh, "剩余 3/8 个名额");
        // Everything at its best is 100.
        assert_eq!(at(0).score, 100);
    }

    #[test]
    fn reasons_speak_the_users_language() {
        let r = Reason::new("same-township", "same township", "同一乡镇");
        assert_eq!(r.text("zh-CN"), "同一乡镇");
        assert_eq!(r.text("zh"), "同一乡镇");
        assert_eq!(r.text("en"), "same township");
        assert_eq!(r.text(""), "same township");
    }

    #[test]
    fn priority_workers_come_first_within_a_band_and_say_why() {
        let p = post("4-10-01-06", HOME, TOWNSHIP);
        let plain = worker(&["4-10-01-06"], HOME);
        let mut older = worker(&["4-10-01-05"], "522622101002");
        older.flags = vec![Flag::Older];
        let mut both = worker(&["4-10-02-01"], HOME);
        both.flags = vec![Flag::Older, Flag::Disabled];
        let mut far = worker(&["4-10-01-06"], "520102001001");
        far.flags = vec![Flag::Disabled];
        let list = [
            (1, &plain, false),
            (2, &older, false),
            (3, &both, false),
            (4, &far, false),
        ];
        let got = workers_for_post(&p, fill(8, 0), list, today(), 10);
        let ids: Vec<i32> = got.iter().map(|m| m.id).collect();
        // Band 0: older (priority 1) before plain (higher score); band 1: both; band 2: far.
        assert_eq!(ids, vec![2, 1, 3, 4]);
        assert_eq!(
            got.iter().map(|m| m.band).collect::<Vec<_>>(),
            vec![0, 0, 1, 2]
        );
        assert!(got[1].score > got[0].score);
        let why = got[2]
            .reasons
            .iter()
            .find(|r| r.code == "priority")
            .unwrap();
        assert_eq!(why.zh, "优先帮扶：残疾、大龄");
        assert_eq!(why.en, "priority: disabled, older");
        assert!(got[1].reasons.iter().all(|r| r.code != "priority"));
    }

    #[test]
    fn only_live_posts_with_places_left_are_matched() {
        let w = worker(&["4-10-01-06"], HOME);
        let live = post("4-10-01-06", HOME, TOWNSHIP);
        let mut closed = live.clone();
        closed.status = PostStatus::Closed;
        let mut pending = live.clone();
        pending.review = ReviewState::Pending;
        let mut rejected = live.clone();
        rejected.review = ReviewState::Rejected;
        let mut expired = live.clone();
        expired.expires = Some("2026-12-09".into());
        let mut last_day = live.clone();
        last_day.expires = Some("2026-12-10".into());
        let posts = [
            ("live", &live, fill(8, 7)),
            ("full", &live, fill(8, 8)),
            ("overfilled", &live, fill(1, 2)),
            ("closed", &closed, fill(8, 0)),
            ("pending", &pending, fill(8, 0)),
            ("rejected", &rejected, fill(8, 0)),
            ("expired", &expired, fill(8, 0)),
            ("last-day", &last_day, fill(8, 0)),
        ];
        let got = posts_for_worker(&w, posts, today(), 10);
        let ids: Vec<&str> = got.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec!["last-day", "live"]);
        for (_, p, f) in posts.iter().skip(1).take(6) {
            assert!(workers_for_post(p, *f, [(1, &w, false)], today(), 10).is_empty());
        }
        let mut gone = w.clone();
        gone.status = WorkerStatus::Deregistered;
        assert!(posts_for_worker(&gone, posts, today(), 10).is_empty());
        let list = [(1, &w, false), (2, &gone, false), (3, &w, true)];
        let got = workers_for_post(&live, fill(8, 0), list, today(), 10);
        assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), vec![1]);
        assert!(workers_for_post(&live, fill(8, 0), list, today(), 0).is_empty());
    }

    #[test]
    fn a_title_names_the_occupations_whose_words_it_contains() {
        let brute = |title: &str| {
            let mut v: Vec<&str> = occupations()
                .iter()
                .filter(|o| skill_words(o).any(|w| title_word(w) && title.contains(w)))
                .map(|o| o.code.as_str())
                .collect();
            v.sort_unstable();
            v
        };
        let mut titles = vec![
            String::from("急招保姆两名"),
            "搬运工，日结".into(),
            "招聘保洁".into(),
            "岗位".into(),
            String::new(),
        ];
        // Every word of a sample of the table, inside a title.
        for o in occupations().iter().step_by(7) {
            for w in skill_words(o) {
                titles.push(format!("急招{w}若干"));
            }
        }
        for t in &titles {
            assert_eq!(title_occupations(t), brute(t), "{t}");
        }
        assert!(title_occupations("急招保姆两名").contains(&"4-10-01-06"));
        assert!(title_occupations("招聘").is_empty());
    }

    // Property tests over small pools of real codes.

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
    const REGIONS: &[&str] = &[
        "522622101001",
        "522622101002",
        "522622102001",
        "522623101001",
        "520102001001",
    ];
    const WORKER_REGIONS: &[&str] = &[
        "522622101001",
        "522622101002",
        "522622102001",
        "522623101001",
        "520102001001",
        "522622",
        "522622101",
    ];

    fn any_date() -> impl Strategy<Value = Option<String>> {
        prop::option::of((-20i64..40).prop_map(|d| dates::format_date(day("2026-12-10") + d)))
    }

    prop_compose! {
        fn any_post()(
            occupation in prop::sample::select(OCCUPATIONS),
            region in prop::sample::select(REGIONS),
            reach_level in 0usize..3,
            wage in 1u32..400,
            unit in prop::sample::select(WageUnit::ALL),
            headcount in 1i64..6,
            status in prop::sample::select(PostStatus::ALL),
            review in prop::sample::select(ReviewState::ALL),
            expires in any_date(),
            title in prop::sample::select(&["岗位", "急招保姆", "搬运工", "招聘保洁"][..]),
        ) -> Post {
            let mut p = post(occupation, region, region);
            let level = [Level::County, Level::Township, Level::Village][reach_level];
            p.reach = p.region.ancestor_at(level).unwrap();
            p.wage = f64::from(wage) * if unit == WageUnit::Month { 20.0 } else { 1.0 };
            p.unit = unit;
            p.headcount = headcount;
            p.status = status;
            p.review = review;
            p.expires = expires;
            p.title = title.to_string();
            p
        }
    }

    prop_compose! {
        fn any_worker()(
            skills in prop::collection::vec(prop::sample::select(OCCUPATIONS), 0..3),
            region in prop::sample::select(WORKER_REGIONS),
            wage_min in prop::option::of(0u32..300),
            flags in prop::collection::vec(prop::sample::select(Flag::ALL), 0..3),
            from in any_date(),
            to in any_date(),
            deregistered in prop::bool::weighted(0.2),
        ) -> Worker {
            let mut w = worker(&skills, region);
            w.wage_min = wage_min.map(f64::from);
            w.flags = flags;
            w.available_from = from;
            w.available_to = to;
            if deregistered {
                w.status = WorkerStatus::Deregistered;
            }
            w
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn workers_are_ordered_by_band_priority_score_and_input(
            p in any_post(),
            filled in 0i64..3,
            workers in prop::collection::vec((any_worker(), prop::bool::weighted(0.1)), 0..16),
            limit in 0usize..20,
        ) {
            let f = fill(p.headcount, filled);
            let input = workers.iter().enumerate().map(|(i, (w, placed))| (i, w, *placed));
            let all = workers_for_post(&p, f, input.clone(), today(), usize::MAX);
            let got = workers_for_post(&p, f, input, today(), limit);
            prop_assert!(got.len() <= limit);
            // Truncation keeps a prefix: no priority worker is cut while a weaker one stays.
            prop_assert_eq!(
                got.iter().map(|m| m.id).collect::<Vec<_>>(),
                all.iter().take(limit).map(|m| m.id).collect::<Vec<_>>()
            );
            for pair in all.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                prop_assert!(a.band <= b.band);
                if a.band == b.band {
                    // Within a band no priority worker ranks below a non-priority one.
                    prop_assert!(!(a.priority == 0 && b.priority > 0));
                    prop_assert!(a.priority >= b.priority);
                    if a.priority == b.priority {
                        prop_assert!(a.score >= b.score);
                        if a.score == b.score {
                            prop_assert!(a.id < b.id, "stable: input order kept");
                        }
                    }
                }
            }
            for m in &all {
                let (w, placed) = &workers[m.id];
                prop_assert_eq!(w.status, WorkerStatus::Active);
                prop_assert!(!placed);
                prop_assert_eq!(m.priority, w.priority());
                prop_assert!(m.score <= 100 && m.band <= WEAKEST_BAND);
                prop_assert_eq!(m.priority > 0, m.reasons.iter().any(|r| r.code == "priority"));
            }
            // Every eligible worker appears when the post is matchable, none otherwise.
            let eligible = workers
                .iter()
                .filter(|(w, placed)| !placed && w.status == WorkerStatus::Active)
                .count();
            let live = p.is_live(today()) && f.left() > 0;
            prop_assert_eq!(all.len(), if live { eligible } else { 0 });
        }

        #[test]
        fn prepared_workers_match_as_workers_for_post_does(
            p in any_post(),
            filled in 0i64..3,
            workers in prop::collection::vec((any_worker(), prop::bool::weighted(0.1)), 0..16),
            limit in 0usize..20,
        ) {
            let f = fill(p.headcount, filled);
            let terms: Vec<WorkerTerms> = workers.iter().map(|(w, _)| WorkerTerms::of(w)).collect();
            let rankers: Vec<Ranker> = terms.iter().map(Ranker::new).collect();
            let plain = workers_for_post(
                &p,
                f,
                workers.iter().enumerate().map(|(i, (w, placed))| (i, w, *placed)),
                today(),
                limit,
            );
            // As the push list ranks: a Ranker per worker, every worker ranked, then assessed.
            let terms_of_post = PostTerms::of(&p);
            let prepared: Vec<WorkerMatch<usize>> = if matchable(&p, f, today()) && limit > 0 {
                pick_workers(
                    workers
                        .iter()
                        .zip(&rankers)
                        .enumerate()
                        .map(|(i, ((w, placed), r))| (i, w, r.rank(&terms_of_post, f, today()), *placed)),
                    limit,
                )
                .into_iter()
                .map(|pick| pick.assess(&p, f, today()))
                .collect()
            } else {
                Vec::new()
            };
            let key = |m: &WorkerMatch<usize>| (m.id, m.score, m.band, m.priority, m.reasons.clone());
            prop_assert_eq!(
                plain.iter().map(key).collect::<Vec<_>>(),
                prepared.iter().map(key).collect::<Vec<_>>()
            );
        }

        #[test]
        fn posts_are_live_with_places_left_and_ordered(
            w in any_worker(),
            posts in prop::collection::vec((any_post(), 0i64..7), 0..16),
            limit in 0usize..20,
        ) {
            let input = posts
                .iter()
                .enumerate()
                .map(|(i, (p, filled))| (i, p, fill(p.headcount, *filled)));
            let all = posts_for_worker(&w, input.clone(), today(), usize::MAX);
            let got = posts_for_worker(&w, input, today(), limit);
            prop_assert!(got.len() <= limit);
            prop_assert_eq!(
                got.iter().map(|m| m.id).collect::<Vec<_>>(),
                all.iter().take(limit).map(|m| m.id).collect::<Vec<_>>()
            );
            for m in &all {
                let (p, filled) = &posts[m.id];
                prop_assert!(p.status == PostStatus::Open);
                prop_assert!(p.review == ReviewState::Approved);
                prop_assert!(!p.expired_on(today()));
                prop_assert!(fill(p.headcount, *filled).left() > 0);
            }
            for pair in all.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                prop_assert!((a.band, Reverse(a.score), a.id) < (b.band, Reverse(b.score), b.id));
            }
            let eligible = posts
                .iter()
                .filter(|(p, filled)| p.is_live(today()) && fill(p.headcount, *filled).left() > 0)
                .count();
            let active = w.status == WorkerStatus::Active;
            prop_assert_eq!(all.len(), if active { eligible } else { 0 });
        }

        #[test]
        fn priority_never_changes_score_or_band(
            p in any_post(),
            w in any_worker(),
            flags in prop::collection::vec(prop::sample::select(Flag::ALL), 0..3),
        ) {
            let mut flagged = w.clone();
            flagged.flags = flags;
            let f = fill(p.headcount, 0);
            let (a, b) = (assess(&w, &p, f, today()), assess(&flagged, &p, f, today()));
            prop_assert_eq!((a.score, a.band), (b.score, b.band));
            prop_assert_eq!(a.reasons, b.reasons);
        }

        #[test]
        fn shared_parts_counts_the_leading_parts_split_finds_equal(
            a in "[-40a]{0,12}",
            b in "[-40a]{0,12}",
        ) {
            let split = a.split('-').zip(b.split('-')).take_while(|(x, y)| x == y).count();
            prop_assert_eq!(shared_parts(&a, &b), split);
            prop_assert_eq!(shared_parts(&a, &a), a.split('-').count());
        }

        #[test]
        fn ranking_from_the_terms_is_the_assessment(
            p in any_post(),
            w in any_worker(),
            filled in 0i64..7,
            days in -30i64..30,
        ) {
            let (wt, pt) = (WorkerTerms::of(&w), PostTerms::of(&p));
            let (f, on) = (fill(p.headcount, filled), today() + days);
            let a = assess(&w, &p, f, on);
            prop_assert_eq!(rank(&wt, &pt, f, on), Rank { band: a.band, score: a.score });
            let ranked = Ranker::new(&wt).rank(&pt, f, on);
            prop_assert_eq!(ranked, Rank { band: a.band, score: a.score });
            prop_assert_eq!(pt.is_live(on), p.is_live(on));
            prop_assert_eq!(wt.active, w.status == WorkerStatus::Active);
            prop_assert_eq!(wt.priority, w.priority());
            prop_assert!(wt.priority <= max_priority());
            // Nothing ranks above the ceiling of its occupation fit, nor does an emptier post.
            let m = measure(&wt, &wt.occupations(), None, place_of(wt.region, pt.region, pt.reach), &pt, on);
            let (got, top) = (m.rank(f), ceiling(m.occupation.fit()));
            prop_assert!(got.band >= top.band && got.score <= top.score);
            // Nor above the ceiling of its code's fit where it stands, or of the alias fit
            // when its title names a skill (what a node bounds a group of posts by).
            let ranker = Ranker::new(&wt);
            let top = |fit| {
                ranker.ceiling(fit, pt.region, pt.reach, pt.day_wage_fen, pt.headcount, on)
            };
            let by_code = top(ranker.code_fit(&pt.occupation));
            let named = title_occupations(&p.title);
            let by_title = wt
                .skills
                .iter()
                .any(|s| named.contains(&s.as_str()))
                .then(|| top(Fit::Alias));
            let covered = |top: Rank| got.band >= top.band && got.score <= top.score;
            prop_assert!(covered(by_code) || by_title.is_some_and(covered));
            let empty = m.rank(fill(p.headcount, 0));
            prop_assert!(empty.band == got.band && empty.score >= got.score);
            // The title index finds exactly the skills the alias rule finds.
            let named = title_occupations(&p.title);
            let alias = wt.occupations().iter().any(|s| named.contains(&s.code.as_str()));
            let by_rule = wt.occupations().iter().any(|s| {
                skill_words(s).any(|word| title_word(word) && p.title.contains(word))
            });
            prop_assert_eq!(alias, by_rule);
        }

        #[test]
        fn the_strong_band_fits_on_every_hard_criterion(
            p in any_post(),
            w in any_worker(),
        ) {
            let a = assess(&w, &p, fill(p.headcount, 0), today());
            let has = |c: &str| a.reasons.iter().any(|r| r.code == c);
            if a.band == 0 {
                prop_assert!(has("occupation-exact") || has("occupation-unit-group") || has("occupation-alias"));
                prop_assert!(!has("outside-reach") && !has("wage-below") && !has("not-available"));
            }
            if has("wage-below") || has("not-available") {
                prop_assert_eq!(a.band, WEAKEST_BAND);
            }
        }
    }
}
