//! Service reports (《零工市场服务成效表》): the figures of a region and a period as a pure
//! function of the records they count, the commitment to those records, and the rules a seal is
//! checked by.
//!
//! Every figure is computable from what an ancestor holds, the province included, where worker
//! records arrive as signed headers only (PROTOCOL.md §12). So the job-seeker figures are
//! defined on what a header and a placement carry: a worker record's envelopes (their
//! timestamps) and the placements naming it, never the worker's fields. The one figure that
//! needs a worker's fields, placements of priority workers (older, disabled, long-wait flags),
//! is computed where the worker records are held in full (a county and below) and carried
//! upwards by the county's signed seal: above the county it is the sum of the latest county
//! seals of the period held.
//!
//! The rules (the `report` command, docs/cli.md, and the CSV header say the same):
//! - a record belongs to the region containing its home region; it counts in the period
//!   `[start, end)` of China time (`YYYY-MM` a month, `YYYY-Qn` a quarter);
//! - a record's fields are read **as of** the period's start and end: from its changes dated
//!   before that instant ([`view_as_of`]), so a later edit never changes a closed period;
//! - `job_seekers_new`: worker records created in the period; `job_seekers`: worker records
//!   with an envelope dated in the period (registered, updated) or named by a placement counted;
//! - `employers_new`: employer records created in the period; `employers`: those, and the
//!   employers named by the posts and placements counted;
//! - `posts`, `headcount`: posts approved by the end and not by the start (published in the
//!   period), and their places;
//! - `placements`: placements created in the period and not cancelled by its end;
//!   `placements_priority`: those whose worker carried a priority flag at the end;
//! - `avg_daily_wage`: the mean over the posts counted of the wage per day (a day's wage as
//!   is, an hour's × 8, a month's ÷ 21.75; piece wages excluded), in yuan rounded to the fen,
//!   computed in whole fen so the order of the records never changes it;
//! - `complaints`: complaints created in the period; `complaints_resolved`: complaints
//!   `resolved` or `closed` by the end and not by the start; `arrears_recovered`: the sum of
//!   their `recovered` amounts (yuan);
//! - the **commitment**: `records`, the number of distinct records counted (the short ids of
//!   every record behind any figure, the workers and employers named included), and
//!   `fingerprint` = hex SHA-256 of `domain("lingong/report-records/v1") ‖ u64(records) ‖` the
//!   16-byte short ids in ascending order ([`fingerprint`]).

use crate::canon::{Writer, sha256};
use crate::dates::{self, CST_OFFSET_MS};
use crate::error::{Error, Result};
use crate::record::{self, RecordKind};
use crate::region::{Level, RegionCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

const DAY_MS: i64 = 86_400_000;

/// Working days in a month, for a monthly wage per day (the 21.75 of the national rule).
pub const WORKDAYS_PER_MONTH: f64 = 21.75;
/// Hours in a working day, for an hourly wage per day.
pub const HOURS_PER_DAY: i64 = 8;
/// A period's seal is due by the end of this many days after the period ends (the 10th of
/// the next month).
pub const SEAL_GRACE_DAYS: i64 = 10;

/// The rule of the average wage, in the words of the CSV header.
pub const WAGE_RULE_EN: &str =
    "yuan per day: day wage as is, hour wage x8, month wage /21.75, piece wages excluded";
pub const WAGE_RULE_ZH: &str = "元/天：日薪照计，时薪×8，月薪÷21.75，计件不计";

/// A report period: a month (`2026-11`) or a quarter (`2026-Q4`), as days of China time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The normalized text, `YYYY-MM` or `YYYY-Qn`.
    pub text: String,
    /// First day, as days since the epoch.
    pub first_day: i64,
    /// The day after the last.
    pub end_day: i64,
}

impl Period {
    /// Parses `YYYY-MM` or `YYYY-Qn` (the error names the field `period`).
    pub fn parse(s: &str) -> Result<Period> {
        let (first_day, end_day) = dates::parse_period(s)?;
        let (y, m, _) = dates::civil_from_days(first_day);
        let text = if s.trim().contains('Q') {
            format!("{y:04}-Q{}", (m - 1) / 3 + 1)
        } else {
            format!("{y:04}-{m:02}")
        };
        Ok(Period {
            text,
            first_day,
            end_day,
        })
    }

    /// The month containing `day`.
    pub fn month_of(day: i64) -> Period {
        let (y, m, _) = dates::civil_from_days(day);
        Period::parse(&format!("{y:04}-{m:02}")).expect("a valid month")
    }

    /// The quarter containing `day`.
    pub fn quarter_of(day: i64) -> Period {
        let (y, m, _) = dates::civil_from_days(day);
        Period::parse(&format!("{y:04}-Q{}", (m - 1) / 3 + 1)).expect("a valid quarter")
    }

    pub fn is_quarter(&self) -> bool {
        self.text.contains('Q')
    }

    /// The months of a quarter (a month: itself).
    pub fn months(&self) -> Vec<Period> {
        let mut out = Vec::new();
        let mut day = self.first_day;
        while day < self.end_day {
            let m = Period::month_of(day);
            day = m.end_day;
            out.push(m);
        }
        out
    }

    /// The period before this one, of the same length.
    pub fn previous(&self) -> Period {
        let before = self.first_day - 1;
        if self.is_quarter() {
            Period::quarter_of(before)
        } else {
            Period::month_of(before)
        }
    }

    /// The first instant of the period (unix ms).
    pub fn start_ms(&self) -> i64 {
        self.first_day * DAY_MS - CST_OFFSET_MS
    }

    /// The first instant after the period (unix ms).
    pub fn end_ms(&self) -> i64 {
        self.end_day * DAY_MS - CST_OFFSET_MS
    }

    /// The last day a seal of the period is on time (China time, days since the epoch).
    pub fn seal_deadline_day(&self) -> i64 {
        self.end_day + SEAL_GRACE_DAYS - 1
    }
}

/// What a report reads of one record: its identity, when it was created, the timestamps of its
/// envelopes held, and its fields as of the period's start and end (`None`: it did not exist
/// yet, or only its headers are held here; a reader may also leave out a worker's fields when
/// no placement of the facts names it, and any field not in [`fields_read`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    pub kind: RecordKind,
    /// The record's short id.
    pub id: [u8; 16],
    pub region: RegionCode,
    pub created_ms: i64,
    pub touched_ms: Vec<i64>,
    pub at_start: Option<Map<String, Json>>,
    pub at_end: Option<Map<String, Json>>,
}

/// The figures of one region and period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub job_seekers: u64,
    pub job_seekers_new: u64,
    pub employers: u64,
    pub employers_new: u64,
    pub posts: u64,
    pub headcount: u64,
    pub placements: u64,
    /// `None` where it cannot be computed from what is held (worker fields above the county
    /// with no county seal to carry it).
    pub placements_priority: Option<u64>,
    /// When `placements_priority` is `None` at a county or below because some placements
    /// counted name a worker whose fields at the period's end are not held here (the worker
    /// was erased since, and the bodies of its earlier changes were dropped with its flags;
    /// or it is held as headers only): the least and the most the figure can be (the
    /// placements of workers held with a priority flag; those plus the placements of workers
    /// not held). Not part of a seal (`serde` skips it); [`compare`] checks a sealed figure
    /// against it, so an erasure after a seal is not taken for tampering and the figure is
    /// still checked.
    #[serde(skip)]
    pub placements_priority_bounds: Option<(u64, u64)>,
    /// `None` when no post with a day, hour or month wage was published.
    pub avg_daily_wage: Option<f64>,
    pub complaints: u64,
    pub complaints_resolved: u64,
    pub arrears_recovered: f64,
}

impl Figures {
    /// The figures by name, in the order of the CSV columns.
    pub fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("job_seekers", self.job_seekers.into()),
            ("job_seekers_new", self.job_seekers_new.into()),
            ("employers", self.employers.into()),
            ("employers_new", self.employers_new.into()),
            ("posts", self.posts.into()),
            ("headcount", self.headcount.into()),
            ("placements", self.placements.into()),
            ("placements_priority", self.placements_priority.into()),
            ("avg_daily_wage", self.avg_daily_wage.into()),
            ("complaints", self.complaints.into()),
            ("complaints_resolved", self.complaints_resolved.into()),
            ("arrears_recovered", self.arrears_recovered.into()),
        ]
    }
}

/// The commitment to the records a report counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub records: u64,
    pub fingerprint: String,
}

/// One figure a seal states otherwise than the records held give.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    pub field: String,
    pub sealed: Json,
    pub recomputed: Json,
}

/// A region's report: its figures, the commitment, and the same per child region (records at
/// the region itself, e.g. a county market's own posts, are `own`).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub region: RegionCode,
    pub figures: Figures,
    pub commitment: Commitment,
    pub by_region: Vec<(RegionCode, Figures)>,
    pub own: Option<Figures>,
    /// Counties under the region with no seal of the period held, when the priority figure
    /// comes from county seals.
    pub priority_missing: Vec<RegionCode>,
}

/// The fingerprint of a set of counted records (see the module rules).
pub fn fingerprint(ids: &BTreeSet<[u8; 16]>) -> Commitment {
    fingerprint_of(ids.len(), ids.iter())
}

/// [`fingerprint`] of `len` distinct ids given in ascending order.
fn fingerprint_of<'a>(len: usize, ids: impl Iterator<Item = &'a [u8; 16]>) -> Commitment {
    let mut w = Writer::with_domain("lingong/report-records/v1");
    w.u64(len as u64);
    for id in ids {
        w.fixed(id);
    }
    Commitment {
        records: len as u64,
        fingerprint: hex::encode(sha256(w.as_slice())),
    }
}

/// A record's root fields from its changes dated before `at_ms` (`changes` as (timestamp,
/// Automerge change), any order); `None` when none is.
pub fn view_as_of(changes: &[(i64, &[u8])], at_ms: i64) -> Result<Option<Map<String, Json>>> {
    let before: Vec<Vec<u8>> = changes
        .iter()
        .filter(|(t, _)| *t < at_ms)
        .map(|(_, c)| c.to_vec())
        .collect();
    if before.is_empty() {
        return Ok(None);
    }
    Ok(Some(record::build_document_viewed(&before)?.view))
}

/// The fields of a record of `kind` that a report reads (of [`Fact::at_start`] and
/// [`Fact::at_end`]); a reader may leave every other field out of a fact's views.
pub fn fields_read(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Post => &["review", "headcount", "employer", "wage", "unit"],
        RecordKind::Placement => &["status", "employer", "worker"],
        RecordKind::Complaint => &["status", "recovered", "amount_recovered"],
        RecordKind::Worker => &["flags"],
        _ => &[],
    }
}

/// The short id a record reference (32 hex digits) names.
pub fn short_of(text: &str) -> Option<[u8; 16]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

fn text<'a>(view: &'a Option<Map<String, Json>>, field: &str) -> Option<&'a str> {
    view.as_ref()?.get(field)?.as_str()
}

fn number(view: &Option<Map<String, Json>>, field: &str) -> Option<f64> {
    view.as_ref()?.get(field)?.as_f64()
}

/// A day's wage in 1/2175 fen (exact for every unit: a month's wage in fen ÷ 21.75 is
/// fen × 100 / 2175), or `None` for piece wages and unknown units.
fn daily_wage_units(wage: f64, unit: &str) -> Option<i128> {
    let fen = (wage * 100.0).round() as i128;
    match unit {
        "day" => Some(fen * 2175),
        "hour" => Some(fen * i128::from(HOURS_PER_DAY) * 2175),
        "month" => Some(fen * 100),
        _ => None,
    }
}

fn resolved(view: &Option<Map<String, Json>>) -> bool {
    matches!(text(view, "status"), Some("resolved" | "closed"))
}

fn approved(view: &Option<Map<String, Json>>) -> bool {
    text(view, "review") == Some("approved")
}

fn priority(view: &Option<Map<String, Json>>) -> Option<bool> {
    let flags = view.as_ref()?.get("flags");
    Some(
        flags
            .and_then(Json::as_array)
            .is_some_and(|a| !a.is_empty()),
    )
}

/// A set of short ids built by pushing, each id possibly many times, and made a set once, at
/// the end ([`IdSet::sorted`]: sorted, duplicates removed): one sort of a vector costs less than
/// a tree insertion per id (`report` adds every fact to two tallies, and the audit recomputes
/// 88 county seals at a province).
#[derive(Default)]
struct IdSet(Vec<[u8; 16]>);

impl IdSet {
    fn insert(&mut self, id: [u8; 16]) {
        self.0.push(id);
    }

    /// The distinct ids, ascending.
    fn sorted(&mut self) -> &[[u8; 16]] {
        self.0.sort_unstable();
        self.0.dedup();
        &self.0
    }
}

/// Counts one region's figures over `facts` (those outside the region are skipped).
struct Tally {
    /// Every record counted: kept only for the region's total, whose commitment names them (a
    /// child's or the region's own tally states figures only).
    ids: Option<IdSet>,
    seekers: IdSet,
    seekers_new: u64,
    employers: IdSet,
    employers_new: u64,
    posts: u64,
    headcount: u64,
    placements: u64,
    /// Placements counted whose worker is held with a priority flag at the period's end.
    priority: u64,
    /// Placements counted whose worker's fields at the period's end are not held here.
    priority_unknown: u64,
    wage_units: i128,
    wage_posts: i128,
    complaints: u64,
    resolved: u64,
    recovered_fen: i64,
}

impl Tally {
    /// A tally; `with_ids`: keeping the ids of the records counted, for the commitment.
    fn new(with_ids: bool) -> Tally {
        Tally {
            ids: with_ids.then(IdSet::default),
            seekers: IdSet::default(),
            seekers_new: 0,
            employers: IdSet::default(),
            employers_new: 0,
            posts: 0,
            headcount: 0,
            placements: 0,
            priority: 0,
            priority_unknown: 0,
            wage_units: 0,
            wage_posts: 0,
            complaints: 0,
            resolved: 0,
            recovered_fen: 0,
        }
    }

    /// Names `id` among the records counted (when this tally keeps them).
    fn counted(&mut self, id: [u8; 16]) {
        if let Some(ids) = &mut self.ids {
            ids.insert(id);
        }
    }

    fn add(&mut self, f: &Fact, period: &Period, workers: &HashMap<[u8; 16], &Fact>) {
        let (s, e) = (period.start_ms(), period.end_ms());
        let within = |t: i64| s <= t && t < e;
        match f.kind {
            RecordKind::Worker => {
                if within(f.created_ms) {
                    self.seekers_new += 1;
                    self.counted(f.id);
                }
                if f.touched_ms.iter().any(|t| within(*t)) {
                    self.seekers.insert(f.id);
                    self.counted(f.id);
                }
            }
            RecordKind::Employer if within(f.created_ms) => {
                self.employers_new += 1;
                self.employers.insert(f.id);
                self.counted(f.id);
            }
            RecordKind::Post if approved(&f.at_end) && !approved(&f.at_start) => {
                self.posts += 1;
                self.headcount += number(&f.at_end, "headcount").unwrap_or(0.0).max(0.0) as u64;
                self.counted(f.id);
                if let Some(emp) = text(&f.at_end, "employer").and_then(short_of) {
                    self.employers.insert(emp);
                    self.counted(emp);
                }
                if let (Some(wage), Some(unit)) =
                    (number(&f.at_end, "wage"), text(&f.at_end, "unit"))
                    && let Some(units) = daily_wage_units(wage, unit)
                {
                    self.wage_units += units;
                    self.wage_posts += 1;
                }
            }
            RecordKind::Placement
                if within(f.created_ms) && text(&f.at_end, "status") != Some("cancelled") =>
            {
                self.placements += 1;
                self.counted(f.id);
                if let Some(emp) = text(&f.at_end, "employer").and_then(short_of) {
                    self.employers.insert(emp);
                    self.counted(emp);
                }
                let worker = text(&f.at_end, "worker").and_then(short_of);
                if let Some(w) = worker {
                    self.seekers.insert(w);
                    self.counted(w);
                }
                let flagged = worker
                    .and_then(|w| workers.get(&w))
                    .and_then(|w| priority(&w.at_end));
                match flagged {
                    Some(true) => self.priority += 1,
                    Some(false) => {}
                    None => self.priority_unknown += 1,
                }
            }
            RecordKind::Complaint => {
                if within(f.created_ms) {
                    self.complaints += 1;
                    self.counted(f.id);
                }
                if resolved(&f.at_end) && !resolved(&f.at_start) {
                    self.resolved += 1;
                    self.counted(f.id);
                    let amount = number(&f.at_end, "recovered")
                        .or_else(|| number(&f.at_end, "amount_recovered"))
                        .unwrap_or(0.0);
                    if amount.is_finite() && amount > 0.0 {
                        self.recovered_fen += (amount * 100.0).round() as i64;
                    }
                }
            }
            _ => {}
        }
    }

    fn figures(&mut self) -> Figures {
        let avg = (self.wage_posts > 0).then(|| {
            // Round half up to the fen, in whole numbers.
            let denom = self.wage_posts * 2175;
            let fen = (2 * self.wage_units + denom) / (2 * denom);
            fen as f64 / 100.0
        });
        Figures {
            job_seekers: self.seekers.sorted().len() as u64,
            job_seekers_new: self.seekers_new,
            employers: self.employers.sorted().len() as u64,
            employers_new: self.employers_new,
            posts: self.posts,
            headcount: self.headcount,
            placements: self.placements,
            placements_priority: (self.priority_unknown == 0).then_some(self.priority),
            placements_priority_bounds: (self.priority_unknown > 0)
                .then_some((self.priority, self.priority + self.priority_unknown)),
            avg_daily_wage: avg,
            complaints: self.complaints,
            complaints_resolved: self.resolved,
            arrears_recovered: self.recovered_fen as f64 / 100.0,
        }
    }
}

/// The report of `region` for `period` over `facts` (records outside the region are skipped).
/// `county_priority` holds, per county, the priority placements its latest seal of the period
/// states: above the county that figure is their sum (the worker fields behind it are not held
/// there), and the counties with no seal are named in [`Report::priority_missing`]. `facts`
/// as facts or as references to them (a reader that picks facts out of a larger set need not
/// copy them).
pub fn report<F: std::borrow::Borrow<Fact>>(
    period: &Period,
    region: &RegionCode,
    facts: &[F],
    county_priority: &BTreeMap<RegionCode, u64>,
) -> Report {
    let all = || facts.iter().map(|f| f.borrow());
    // Only the workers the region's placements name are looked up: the table stays the size
    // of one region's placements however many facts (a province's) are passed.
    let named: HashSet<[u8; 16]> = all()
        .filter(|f| f.kind == RecordKind::Placement && region.contains(&f.region))
        .filter_map(|f| text(&f.at_end, "worker").and_then(short_of))
        .collect();
    let workers: HashMap<[u8; 16], &Fact> = if named.is_empty() {
        HashMap::new()
    } else {
        all()
            .filter(|f| f.kind == RecordKind::Worker && named.contains(&f.id))
            .map(|f| (f.id, f))
            .collect()
    };
    let child_level = region.level().below();
    let mut total = Tally::new(true);
    let mut own = Tally::new(false);
    let mut own_any = false;
    let mut children: BTreeMap<RegionCode, Tally> = BTreeMap::new();
    for f in all().filter(|f| region.contains(&f.region)) {
        total.add(f, period, &workers);
        match child_level.and_then(|l| f.region.ancestor_at(l)) {
            Some(child) => children
                .entry(child)
                .or_insert_with(|| Tally::new(false))
                .add(f, period, &workers),
            None => {
                own_any = true;
                own.add(f, period, &workers)
            }
        }
    }
    let above_county = region.level().depth() < Level::County.depth();
    let mut priority_missing = Vec::new();
    let from_seals = |r: &RegionCode, missing: Option<&mut Vec<RegionCode>>| -> Option<u64> {
        let sum = county_priority
            .iter()
            .filter(|(c, _)| r.contains(c))
            .map(|(_, n)| *n)
            .sum();
        if let Some(missing) = missing {
            for county in crate::region::divisions()
                .iter()
                .filter(|d| d.level == Level::County && r.contains(&d.code))
            {
                if !county_priority.contains_key(&county.code) {
                    missing.push(county.code);
                }
            }
        }
        Some(sum)
    };
    let mut figures = total.figures();
    if above_county {
        figures.placements_priority = from_seals(region, Some(&mut priority_missing));
        figures.placements_priority_bounds = None;
    }
    let by_region = children
        .iter_mut()
        .map(|(code, t)| {
            let mut f = t.figures();
            if code.level().depth() < Level::County.depth() {
                f.placements_priority = from_seals(code, None);
                f.placements_priority_bounds = None;
            }
            (*code, f)
        })
        .collect();
    let own = own_any.then(|| {
        let mut f = own.figures();
        if above_county {
            // A station above the county places no worker (it holds none in full).
            f.placements_priority = Some(0);
            f.placements_priority_bounds = None;
        }
        f
    });
    Report {
        region: *region,
        commitment: {
            let ids = total
                .ids
                .as_mut()
                .expect("the total keeps its ids")
                .sorted();
            fingerprint_of(ids.len(), ids.iter())
        },
        figures,
        by_region,
        own,
        priority_missing,
    }
}

/// The figures a seal states against those recomputed here, field by field. A figure the
/// records held here cannot give (`placements_priority` recomputed as `None`: a county's seal
/// checked above the county) is not compared, except against its bounds where some of its
/// placements' workers are not held here ([`Figures::placements_priority_bounds`]: erased
/// since the seal, or headers only): a sealed figure outside them is a mismatch, whose
/// `recomputed` is `{"at_least", "at_most"}`. Money compares to the fen.
pub fn compare(sealed: &Figures, recomputed: &Figures) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for ((name, a), (_, b)) in sealed.fields().into_iter().zip(recomputed.fields()) {
        if name == "placements_priority" && b.is_null() {
            if let (Some((least, most)), Some(n)) =
                (recomputed.placements_priority_bounds, a.as_u64())
                && !(least..=most).contains(&n)
            {
                out.push(Mismatch {
                    field: name.to_string(),
                    sealed: a,
                    recomputed: serde_json::json!({ "at_least": least, "at_most": most }),
                });
            }
            continue;
        }
        let same = match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() < 0.005,
            _ => a == b,
        };
        if !same {
            out.push(Mismatch {
                field: name.to_string(),
                sealed: a,
                recomputed: b,
            });
        }
    }
    out
}

/// The figures of a seal, read back from the JSON text it carries.
pub fn figures_from_json(text: &str) -> Result<Figures> {
    serde_json::from_str(text).map_err(|e| {
        Error::invalid(
            "figures",
            format!("the seal's figures do not read: {e}"),
            format!("报表数据无法读取：{e}"),
        )
    })
}

/// The CSV of a report: a header naming the wage rule, the total, then one row per child
/// region and the region's own records.
pub fn csv(period: &Period, report: &Report, name_of: &dyn Fn(&RegionCode) -> String) -> String {
    let mut out = String::new();
    let mut header = vec!["period".to_string(), "region".into(), "name".into()];
    for (field, _) in report.figures.fields() {
        header.push(match field {
            "avg_daily_wage" => format!("avg_daily_wage ({WAGE_RULE_EN}; {WAGE_RULE_ZH})"),
            other => other.to_string(),
        });
    }
    out.push_str(
        &header
            .iter()
            .map(|h| csv_cell(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    let mut row = |code: String, name: String, f: &Figures| {
        let mut cells = vec![period.text.clone(), code, name];
        for (_, v) in f.fields() {
            cells.push(match v {
                Json::Null => String::new(),
                other => other.to_string(),
            });
        }
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    };
    row(
        report.region.to_string(),
        name_of(&report.region),
        &report.figures,
    );
    for (code, f) in &report.by_region {
        row(code.to_string(), name_of(code), f);
    }
    if let Some(f) = &report.own {
        row(
            format!("{}*", report.region),
            format!("{} (own records / 本级)", name_of(&report.region)),
            f,
        );
    }
    out
}

fn csv_cell(s: &str) -> String {
    // A leading = + - @ would make a spreadsheet read a formula.
    let guarded =
        if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err()) {
            format!("'{s}")
        } else {
            s.to_string()
        };
    if guarded.contains([',', '"', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn view(v: Json) -> Option<Map<String, Json>> {
        v.as_object().cloned()
    }

    const NOV: i64 = 1_762_012_800_000; // 2025-11-01T16:00:00Z, inside 2025-11 in China time

    fn period() -> Period {
        Period::parse("2025-11").unwrap()
    }

    fn fact(kind: RecordKind, n: u8, region: &str, created_ms: i64) -> Fact {
        Fact {
            kind,
            id: [n; 16],
            region: code(region),
            created_ms,
            touched_ms: vec![created_ms],
            at_start: None,
            at_end: None,
        }
    }

    fn post(n: u8, region: &str, wage: f64, unit: &str, headcount: i64) -> Fact {
        let mut f = fact(RecordKind::Post, n, region, NOV);
        f.at_end =
            view(json!({"review": "approved", "wage": wage, "unit": unit, "headcount": headcount}));
        f
    }

    #[test]
    fn periods_parse_normalize_and_bound_in_china_time() {
        let p = Period::parse(" 2026-Q4 ").unwrap();
        assert_eq!(p.text, "2026-Q4");
        assert_eq!(p.months().len(), 3);
        assert_eq!(p.months()[2].text, "2026-12");
        assert_eq!(p.previous().text, "2026-Q3");
        let m = Period::parse("2026-01").unwrap();
        assert_eq!(m.previous().text, "2025-12");
        assert_eq!(dates::rfc3339(m.start_ms()), "2025-12-31T16:00:00Z");
        assert_eq!(dates::format_date(m.seal_deadline_day()), "2026-02-10");
        assert!(Period::parse("2026-13").is_err());
        assert!(Period::parse("2026-Q5").is_err());
        assert!(Period::parse("November").is_err());
    }

    #[test]
    fn the_daily_wage_converts_hours_and_months_and_leaves_pieces_out() {
        let facts = vec![
            post(1, "522622101001", 200.0, "day", 2),
            post(2, "522622101001", 25.0, "hour", 1), // 200 a day
            post(3, "522622101001", 4350.0, "month", 1), // 200 a day
            post(4, "522622101001", 3.0, "piece", 5),
        ];
        let r = report(&period(), &code("522622"), &facts, &BTreeMap::new());
        assert_eq!(r.figures.avg_daily_wage, Some(200.0));
        assert_eq!(r.figures.posts, 4);
        assert_eq!(r.figures.headcount, 9);
        let none = report(&period(), &code("522622"), &facts[3..], &BTreeMap::new());
        assert_eq!(none.figures.avg_daily_wage, None);
    }

    #[test]
    fn a_post_counts_in_the_period_it_was_approved_in() {
        let mut before = post(1, "522622101001", 150.0, "day", 1);
        before.at_start = before.at_end.clone();
        let mut pending = post(2, "522622101001", 150.0, "day", 1);
        pending.at_end =
            view(json!({"review": "pending", "wage": 150.0, "unit": "day", "headcount": 1}));
        let now = post(3, "522622101001", 150.0, "day", 1);
        let r = report(
            &period(),
            &code("52"),
            &[before, pending, now],
            &BTreeMap::new(),
        );
        assert_eq!(r.figures.posts, 1);
        assert_eq!(r.commitment.records, 1);
    }

    #[test]
    fn job_seekers_come_from_headers_and_placements_and_priority_from_county_seals_above() {
        let mut worker = fact(RecordKind::Worker, 1, "522622101001", NOV - 40 * DAY_MS);
        worker.touched_ms = vec![NOV - 40 * DAY_MS];
        worker.at_end = view(json!({"flags": ["older"]}));
        let fresh = fact(RecordKind::Worker, 2, "522622101001", NOV);
        let mut placement = fact(RecordKind::Placement, 3, "522622101001", NOV);
        placement.at_end = view(json!({"worker": hex::encode([1u8; 16]), "status": "active"}));
        let facts = vec![worker.clone(), fresh.clone(), placement.clone()];
        let county = report(&period(), &code("522622"), &facts, &BTreeMap::new());
        assert_eq!(county.figures.job_seekers, 2);
        assert_eq!(county.figures.job_seekers_new, 1);
        assert_eq!(county.figures.placements, 1);
        assert_eq!(county.figures.placements_priority, Some(1));
        // The same records as the province holds them: worker headers only.
        let mut headers = facts.clone();
        headers[0].at_end = None;
        let at_province = report(&period(), &code("522622"), &headers, &BTreeMap::new());
        assert_eq!(at_province.figures.placements_priority, None);
        assert_eq!(at_province.figures.placements_priority_bounds, Some((0, 1)));
        assert!(compare(&county.figures, &at_province.figures).is_empty());
        // A seal stating more priority placements than there are placements is still caught.
        let mut inflated = county.figures.clone();
        inflated.placements_priority = Some(2);
        let m = compare(&inflated, &at_province.figures);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].recomputed, json!({"at_least": 0, "at_most": 1}));
        assert_eq!(county.commitment, at_province.commitment);
        let seals = BTreeMap::from([(code("522622"), 1)]);
        let city = report(&period(), &code("5226"), &headers, &seals);
        assert_eq!(city.figures.placements_priority, Some(1));
        assert!(city.priority_missing.contains(&code("522623")));
        assert!(!city.priority_missing.contains(&code("522622")));
    }

    #[test]
    fn a_complaint_resolved_in_the_period_counts_its_recovered_arrears() {
        let mut c = fact(RecordKind::Complaint, 7, "522622101001", NOV - 60 * DAY_MS);
        c.at_start = view(json!({"status": "handling"}));
        c.at_end = view(json!({"status": "resolved", "recovered": 1234.5}));
        let mut received = fact(RecordKind::Complaint, 8, "522622101001", NOV);
        received.at_end = view(json!({"status": "received"}));
        let r = report(&period(), &code("522622"), &[c, received], &BTreeMap::new());
        assert_eq!(r.figures.complaints, 1);
        assert_eq!(r.figures.complaints_resolved, 1);
        assert_eq!(r.figures.arrears_recovered, 1234.5);
    }

    #[test]
    fn a_figure_that_differs_is_named_and_one_not_computable_here_is_not() {
        let sealed = Figures {
            posts: 3,
            placements_priority: Some(2),
            avg_daily_wage: Some(150.0),
            ..Figures::default()
        };
        let mut here = sealed.clone();
        here.placements_priority = None;
        assert!(compare(&sealed, &here).is_empty());
        here.posts = 4;
        here.avg_daily_wage = Some(150.001);
        let m = compare(&sealed, &here);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, "posts");
        assert_eq!(
            (m[0].sealed.clone(), m[0].recomputed.clone()),
            (json!(3), json!(4))
        );
    }

    #[test]
    fn views_as_of_an_instant_read_only_the_changes_before_it() {
        let actor = crate::keys::PublicKey([9; 32]);
        let c1 = record::make_change(
            None,
            &actor,
            &[("review", record::FieldValue::Text("pending".into()))],
            1_000,
        )
        .unwrap();
        let (saved, _) = record::apply_change(None, &c1).unwrap();
        let c2 = record::make_change(
            Some(&saved),
            &actor,
            &[("review", record::FieldValue::Text("approved".into()))],
            5_000,
        )
        .unwrap();
        let changes = [(5_000, c2.as_slice()), (1_000, c1.as_slice())];
        assert_eq!(view_as_of(&changes, 500).unwrap(), None);
        assert_eq!(
            view_as_of(&changes, 2_000).unwrap().unwrap()["review"],
            "pending"
        );
        assert_eq!(
            view_as_of(&changes, 6_000).unwrap().unwrap()["review"],
            "approved"
        );
    }

    #[test]
    fn the_csv_names_the_wage_rule_and_guards_formulas() {
        let r = report(
            &period(),
            &code("522622"),
            &[post(1, "522622101001", 150.0, "day", 2)],
            &BTreeMap::new(),
        );
        let text = csv(&period(), &r, &|c| {
            if c.to_string() == "522622" {
                "=黄平".into()
            } else {
                c.to_string()
            }
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("month wage /21.75"));
        assert!(lines[1].starts_with("2025-11,522622,'=黄平,"));
        assert_eq!(lines.len(), 3);
    }

    fn any_fact() -> impl Strategy<Value = Fact> {
        let regions = [
            "522622101001",
            "522622101002",
            "522622102001",
            "522622",
            "522623101001",
        ];
        (0usize..5, 0u8..6, 0usize..5, -40i64..40, 0u8..3, 0u8..3, 1i64..9, 0usize..4, 0u8..8)
            .prop_map(move |(k, n, r, day, start, end, headcount, unit, other)| {
                let kind = [RecordKind::Worker, RecordKind::Employer, RecordKind::Post, RecordKind::Placement, RecordKind::Complaint][k];
                let unit_word = ["day", "hour", "month", "piece"][unit];
                let state = |s: u8| match (kind, s) {
                    (_, 0) => None,
                    (RecordKind::Post, 1) => view(json!({"review": "pending", "wage": 100.0 + f64::from(n), "unit": unit_word, "headcount": headcount})),
                    (RecordKind::Post, _) => view(json!({"review": "approved", "wage": 100.0 + f64::from(n), "unit": unit_word, "headcount": headcount, "employer": hex::encode([0xA0 + other; 16])})),
                    (RecordKind::Placement, 1) => view(json!({"status": "cancelled", "worker": hex::encode([0xA0 + other; 16])})),
                    (RecordKind::Placement, _) => view(json!({"status": "active", "worker": hex::encode([0xA0 + other; 16])})),
                    (RecordKind::Complaint, 1) => view(json!({"status": "received"})),
                    (RecordKind::Complaint, _) => view(json!({"status": "resolved", "recovered": f64::from(n) * 10.5})),
                    (RecordKind::Worker, 1) => view(json!({"flags": []})),
                    _ => view(json!({"flags": ["disabled"]})),
                };
                let created = NOV + day * DAY_MS;
                Fact {
                    kind,
                    id: { let mut id = [n; 16]; id[0] = k as u8; id },
                    region: code(regions[r]),
                    created_ms: created,
                    touched_ms: vec![created, created + i64::from(other) * 5 * DAY_MS],
                    at_start: state(start),
                    at_end: state(end),
                }
            })
    }

    proptest! {
        /// The order of the records never changes a figure or the fingerprint; the additive
        /// figures of the children and the region's own records add up to the region's; and
        /// taking away a counted record changes the fingerprint.
        #[test]
        fn reports_depend_on_the_set_of_records_only(mut facts in proptest::collection::vec(any_fact(), 0..40), seed in any::<u64>()) {
            let mut seen = BTreeSet::new();
            facts.retain(|f| seen.insert(f.id));
            let county = code("522622");
            let none = BTreeMap::new();
            let a = report(&period(), &county, &facts, &none);
            let mut shuffled = facts.clone();
            let n = shuffled.len().max(1);
            for i in 0..shuffled.len() {
                let j = (seed as usize).wrapping_mul(i + 7) % n;
                shuffled.swap(i, j);
            }
            let b = report(&period(), &county, &shuffled, &none);
            prop_assert_eq!(&a, &b);
            // `fields_read` names every field a report reads: views cut down to them give the
            // same report.
            let mut trimmed = facts.clone();
            for f in &mut trimmed {
                let read = fields_read(f.kind);
                for v in [&mut f.at_start, &mut f.at_end].into_iter().flatten() {
                    v.retain(|k, _| read.contains(&k.as_str()));
                }
            }
            prop_assert_eq!(&a, &report(&period(), &county, &trimmed, &none));
            let parts: Vec<&Figures> = a.by_region.iter().map(|(_, f)| f).chain(a.own.as_ref()).collect();
            let sum = |get: fn(&Figures) -> u64| parts.iter().map(|f| get(f)).sum::<u64>();
            prop_assert_eq!(sum(|f| f.posts), a.figures.posts);
            prop_assert_eq!(sum(|f| f.headcount), a.figures.headcount);
            prop_assert_eq!(sum(|f| f.placements), a.figures.placements);
            prop_assert_eq!(sum(|f| f.complaints), a.figures.complaints);
            prop_assert_eq!(sum(|f| f.complaints_resolved), a.figures.complaints_resolved);
            prop_assert_eq!(sum(|f| f.job_seekers_new), a.figures.job_seekers_new);
            prop_assert!(a.figures.placements_priority.unwrap_or(0) <= a.figures.placements);
            // Outside the county nothing counts.
            let outside_counts = facts.iter().filter(|f| !county.contains(&f.region)).any(|f| {
                report(&period(), &county, std::slice::from_ref(f), &none).commitment.records > 0
            });
            prop_assert!(!outside_counts);
            // A record counted, taken away, changes the commitment.
            if let Some(i) = facts.iter().position(|f| county.contains(&f.region) && report(&period(), &county, std::slice::from_ref(f), &none).commitment.records > 0) {
                let mut fewer = facts.clone();
                fewer.remove(i);
                let c = report(&period(), &county, &fewer, &none);
                prop_assert_ne!(c.commitment.fingerprint, a.commitment.fingerprint);
            }
        }
    }
}
