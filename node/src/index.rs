//! Secondary indexes of the store: which rows a record adds, and how a list reads them.
//!
//! Lists, the review queue, matching, fill counts and `status` read these rows instead of
//! scanning every record. [`crate::store::SledStore::commit`] writes them in the same atomic
//! batch as the record (removing the rows of the record's previous state), so an index never
//! disagrees with the records after a crash.
//!
//! Key layout (private to a node, like the rest of the store):
//! - `k` kind(1) order(48) → (): every record of a kind, in creation order;
//! - `i` kind(1) field(1) value 0x00 order(48) → (): records of a kind by a field's value;
//! - `c` kind(1) → u64 big-endian: records of a kind held; `c` 0xFF: envelopes held;
//! - `i` kind(1) `M` code 0x00 order(48) → terms: the matching rows ([`match_rows`]): an open
//!   approved post under its occupation code, an active worker under each skill's code (the
//!   empty code when none resolves), each row holding what the ranking reads of the record
//!   (postcard [`matching::PostTerms`] / [`matching::WorkerTerms`]), so matching ranks
//!   candidates without reading their records; `i` Post `T` code 0x00 order → terms: a post
//!   under each occupation its title names (the `occupation-alias` rule).
//!
//! `order` is the record's creation time (ms, big-endian, so keys sort by time) and its id
//! (creator 32, serial 8): a stable total order in which lists page newest first. Values are
//! ASCII words, codes and ids; division codes are digit strings in which containment is a
//! prefix (`5226` contains `522622101001`), so a region filter is a prefix scan.

use lingong_protocol::matching::{self, PostTerms, WorkerTerms};
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::schema::{Post, Schema, Worker};
use lingong_protocol::store::RecordState;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

/// The version of the layout below; a store whose indexes were written by another version
/// rebuilds them when it opens (2: the matching rows).
pub const VERSION: u8 = 2;

/// The key holding [`VERSION`] of the indexes present.
pub const VERSION_KEY: &[u8] = b"I";

/// The counter of envelopes held (`c` 0xFF).
pub const ENVELOPE_COUNTER: [u8; 2] = [b'c', 0xFF];

/// A field a list can be filtered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The stored status word (posts, workers, employers, placements, complaints).
    Status,
    /// A post's review state.
    Review,
    /// A post's occupation code, or a worker's skills (one row per skill).
    Occupation,
    /// The employer a post, placement or complaint names (`employer show` lists the
    /// complaints naming an employer from this index).
    Employer,
    /// The record's home region (for a post, also its reach: a region filter lists the posts
    /// from or into an area).
    Region,
    /// A post's reach.
    Reach,
    /// A post's last day.
    Expires,
    /// The post a placement or complaint names.
    Post,
    /// The worker a placement or complaint names.
    Worker,
}

impl Field {
    fn tag(self) -> u8 {
        match self {
            Field::Status => b's',
            Field::Review => b'v',
            Field::Occupation => b'o',
            Field::Employer => b'e',
            Field::Region => b'g',
            Field::Reach => b'h',
            Field::Expires => b'x',
            Field::Post => b'p',
            Field::Worker => b'w',
        }
    }

    /// The view fields this index reads, per record kind.
    fn values(self, state: &RecordState) -> Vec<String> {
        let text = |name: &str| {
            state
                .view
                .get(name)
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        match self {
            // A post is listed in the area it comes from and in the area it reaches.
            Field::Region if state.kind == RecordKind::Post && state.reach != state.region => {
                vec![state.region.to_string(), state.reach.to_string()]
            }
            Field::Region => vec![state.region.to_string()],
            Field::Reach if state.kind == RecordKind::Post => vec![state.reach.to_string()],
            Field::Occupation if state.kind == RecordKind::Worker => state
                .view
                .get("skills")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            Field::Status => text("status").into_iter().collect(),
            Field::Review => text("review").into_iter().collect(),
            Field::Occupation => text("occupation").into_iter().collect(),
            Field::Employer => text("employer").into_iter().collect(),
            Field::Expires => text("expires").into_iter().collect(),
            Field::Post => text("post").into_iter().collect(),
            Field::Worker => text("worker").into_iter().collect(),
            Field::Reach => Vec::new(),
        }
    }

    const ALL: [Field; 9] = [
        Field::Status,
        Field::Review,
        Field::Occupation,
        Field::Employer,
        Field::Region,
        Field::Reach,
        Field::Expires,
        Field::Post,
        Field::Worker,
    ];
}

/// The order suffix of a record's index keys.
pub fn order(state: &RecordState) -> [u8; 48] {
    let mut o = [0u8; 48];
    o[..8].copy_from_slice(&(state.created_ms as u64 ^ (1 << 63)).to_be_bytes());
    o[8..40].copy_from_slice(&state.creator.0);
    o[40..].copy_from_slice(&state.serial.to_be_bytes());
    o
}

/// The record id an index key ends in.
pub fn record_of(key: &[u8]) -> Option<RecordId> {
    let tail = key.get(key.len().checked_sub(40)?..)?;
    Some(RecordId {
        creator: lingong_protocol::keys::PublicKey(tail[..32].try_into().ok()?),
        serial: u64::from_be_bytes(tail[32..].try_into().ok()?),
    })
}

/// Every index key of a record in this state. Header-only records (no document) are indexed
/// by kind and region only: their fields are not held here.
pub fn keys(state: &RecordState) -> Vec<Vec<u8>> {
    let kind = state.kind as u8;
    let order = order(state);
    let mut out = vec![[&[b'k', kind][..], &order].concat()];
    let fields: &[Field] = if state.doc.is_some() {
        &Field::ALL
    } else {
        &[Field::Region]
    };
    for field in fields {
        for value in field.values(state) {
            out.push(
                [
                    &[b'i', kind, field.tag()][..],
                    value.as_bytes(),
                    &[0],
                    &order,
                ]
                .concat(),
            );
        }
    }
    out
}

/// The prefix a list scans: every record of `kind`, or those whose `field` equals `value`
/// (`exact`) or starts with it.
pub fn prefix(kind: RecordKind, by: Option<(Field, &str, bool)>) -> Vec<u8> {
    match by {
        None => vec![b'k', kind as u8],
        Some((field, value, exact)) => {
            let mut p = vec![b'i', kind as u8, field.tag()];
            p.extend_from_slice(value.as_bytes());
            if exact {
                p.push(0);
            }
            p
        }
    }
}

/// Among `keys(state)`, the one under `prefix`: where a list scanning that prefix continues
/// after this record.
pub fn cursor(state: &RecordState, prefix: &[u8]) -> Option<Vec<u8>> {
    keys(state).into_iter().find(|k| k.starts_with(prefix))
}

/// Where a list scanning `prefix` continues after `state` (`--after ID`): its key under the
/// prefix ([`cursor`]) or, for a record that left an exact-value index since the previous page
/// (a pending post approved meanwhile), the place its key would have there, so the next page
/// neither starts over nor skips. `None` for a record not under a prefix of a value's start
/// (a region or occupation filter it does not match): no place in that order is its own.
pub fn resume_after(state: &RecordState, prefix: &[u8]) -> Option<Vec<u8>> {
    cursor(state, prefix).or_else(|| {
        let exact = match prefix {
            [b'k', kind] => *kind == state.kind as u8,
            [b'i', kind, _, .., 0] => *kind == state.kind as u8,
            _ => false,
        };
        exact.then(|| [prefix, &order(state)[..]].concat())
    })
}

/// The tag of the matching rows by occupation (posts) or skill (workers).
const MATCH: u8 = b'M';
/// The tag of a post's matching rows by the occupations its title names.
const TITLE: u8 = b'T';
/// Where a post whose occupation is not a well-formed code is filed among the matching rows
/// (none is, once validated; such a post is always a candidate).
pub const ODD_CODE: &str = "*";

/// True for a code of the 2022 table's form, `d-dd-dd-dd`: one whose groups are its prefixes.
pub fn well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| match i {
            1 | 4 | 7 => c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The matching rows of a record in this state, with their values (see the key layout above):
/// for a post whose fields read and which is open and approved, a row under its occupation and
/// one under each occupation its title names; for an active worker whose fields read, one row
/// under each distinct skill code (under the empty code when none resolves). Others have none:
/// they are never matched. Written by [`crate::store::SledStore::commit`] with [`keys`].
pub fn match_rows(state: &RecordState) -> Vec<(Vec<u8>, Vec<u8>)> {
    if state.doc.is_none() {
        return Vec::new();
    }
    let kind = state.kind as u8;
    let order = order(state);
    let row = |tag: u8, code: &str, value: &[u8]| {
        (
            [&[b'i', kind, tag][..], code.as_bytes(), &[0], &order].concat(),
            value.to_vec(),
        )
    };
    match state.kind {
        RecordKind::Post => {
            let Ok(post) = Post::from_view(&state.view) else {
                return Vec::new();
            };
            let terms = PostTerms::of(&post);
            if !terms.listed {
                return Vec::new();
            }
            let Ok(value) = postcard::to_allocvec(&terms) else {
                return Vec::new();
            };
            let code = if well_formed(&terms.occupation) {
                terms.occupation.as_str()
            } else {
                ODD_CODE
            };
            let mut out = vec![row(MATCH, code, &value)];
            for named in matching::title_occupations(&terms.title) {
                out.push(row(TITLE, named, &value));
            }
            out
        }
        RecordKind::Worker => {
            let Ok(worker) = Worker::from_view(&state.view) else {
                return Vec::new();
            };
            let terms = WorkerTerms::of(&worker);
            if !terms.active {
                return Vec::new();
            }
            let Ok(value) = postcard::to_allocvec(&terms) else {
                return Vec::new();
            };
            let mut codes: Vec<&str> = terms.skills.iter().map(String::as_str).collect();
            codes.sort_unstable();
            codes.dedup();
            if codes.is_empty() {
                codes.push("");
            }
            codes.into_iter().map(|c| row(MATCH, c, &value)).collect()
        }
        _ => Vec::new(),
    }
}

/// The prefix of the matching rows of `kind` under an occupation code (`exact`), or under every
/// code that starts with `code` (`4-10-01-`: a unit group; the empty string: every row).
pub fn match_prefix(kind: RecordKind, code: &str, exact: bool) -> Vec<u8> {
    let mut p = vec![b'i', kind as u8, MATCH];
    p.extend_from_slice(code.as_bytes());
    if exact {
        p.push(0);
    }
    p
}

/// The prefix of the posts' matching rows under an occupation their title names.
pub fn title_prefix(code: &str) -> Vec<u8> {
    let mut p = vec![b'i', RecordKind::Post as u8, TITLE];
    p.extend_from_slice(code.as_bytes());
    p.push(0);
    p
}

/// The order suffix a matching row ends in.
pub fn order_of(key: &[u8]) -> Option<[u8; 48]> {
    key.get(key.len().checked_sub(48)?..)?.try_into().ok()
}

/// The decoded value of a matching row ([`match_rows`]): what the ranking reads of a post or
/// a worker. Rows with equal bytes share one value.
#[derive(Clone, Debug)]
pub enum Terms {
    Post(Arc<PostTerms>),
    Worker(Arc<WorkerTerms>),
}

impl Terms {
    /// The value of the matching row `key` (of a post or of a worker, by its kind byte).
    fn decode(key: &[u8], value: &[u8]) -> Option<Terms> {
        match key.get(1).copied() {
            Some(k) if k == RecordKind::Post as u8 => postcard::from_bytes(value)
                .ok()
                .map(|t| Terms::Post(Arc::new(t))),
            Some(k) if k == RecordKind::Worker as u8 => postcard::from_bytes(value)
                .ok()
                .map(|t| Terms::Worker(Arc::new(t))),
            _ => None,
        }
    }
}

/// The prefixes of every matching row: posts by occupation and by title, workers by skill.
pub fn match_row_prefixes() -> [[u8; 3]; 3] {
    [
        [b'i', RecordKind::Post as u8, MATCH],
        [b'i', RecordKind::Post as u8, TITLE],
        [b'i', RecordKind::Worker as u8, MATCH],
    ]
}

/// Every matching row of the store in memory, decoded: the same keys as in the tree, so a
/// match reads its groups by the same prefixes ([`match_prefix`], [`title_prefix`]) at a small
/// fraction of the cost of reading them from sled (a county's 25,000 live posts and 50,000
/// workers: some 90,000 rows, about 20 MB). The posts' rows are also held by [`PostSource`]
/// ([`MatchTable::post_sources`]), so `match --worker` bounds each source's rows at once.
#[derive(Default)]
pub struct MatchTable {
    rows: BTreeMap<Vec<u8>, Terms>,
    posts: BTreeMap<PostSource, BTreeMap<[u8; 48], Arc<PostTerms>>>,
}

/// The posts' matching rows that rank alike for any one worker as far as a bound can tell:
/// rows of one kind (by occupation, or by an occupation the title names) under one code, of
/// posts from one region reaching one region, paying one day wage, with one number of places
/// (five or more counting as five). A worker's occupation fit by the code, where the worker
/// stands to the region and reach, the wage against the worker's minimum and the places are
/// the same for each of them, so the best any of them can rank
/// (`matching::Ranker::ceiling`: only the last day and the fill are left) is known before one
/// is read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostSource {
    /// Rows by an occupation the title names (`i` Post `T`), not by the post's own.
    pub title: bool,
    /// The code of the rows' keys ([`ODD_CODE`] for a post whose occupation is not
    /// well-formed).
    pub code: Vec<u8>,
    pub region: lingong_protocol::region::RegionCode,
    pub reach: lingong_protocol::region::RegionCode,
    /// [`PostTerms::day_wage_fen`].
    pub day_wage_fen: Option<i64>,
    /// The headcount, 0 to 5 (the most the `places-left` rule counts).
    pub places: i64,
}

impl PostSource {
    /// The source of a post's matching row `key` holding `terms`; `None` for any other row.
    fn of(key: &[u8], terms: &PostTerms) -> Option<PostSource> {
        let [b'i', kind, tag, rest @ ..] = key else {
            return None;
        };
        let code = rest.get(..rest.len().checked_sub(49)?)?;
        (*kind == RecordKind::Post as u8 && (*tag == MATCH || *tag == TITLE)).then(|| PostSource {
            title: *tag == TITLE,
            code: code.to_vec(),
            region: terms.region,
            reach: terms.reach,
            day_wage_fen: terms.day_wage_fen,
            places: terms.headcount.clamp(0, 5),
        })
    }

    /// The key of this source's row of the post created in `order`.
    pub fn key(&self, order: &[u8; 48]) -> Vec<u8> {
        let tag = if self.title { TITLE } else { MATCH };
        [
            &[b'i', RecordKind::Post as u8, tag][..],
            &self.code,
            &[0],
            order,
        ]
        .concat()
    }
}

impl MatchTable {
    /// The rows under `prefix`, in key order.
    pub fn scan<'a>(
        &'a self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], &'a Terms)> {
        // The first key after every key that starts with `prefix`: its last byte below 0xFF
        // raised by one, the bytes after it dropped (none: no end).
        let end = prefix
            .iter()
            .rposition(|&b| b < 0xFF)
            .map(|at| [&prefix[..at], &[prefix[at] + 1]].concat());
        let end = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        self.rows
            .range::<[u8], _>((Bound::Included(prefix), end))
            .map(|(k, v)| (k.as_slice(), v))
    }

    /// The posts' matching rows by [`PostSource`], each source's rows by their order suffix
    /// (creation time, then id: the last is the newest).
    pub fn post_sources(
        &self,
    ) -> impl Iterator<Item = (&PostSource, &BTreeMap<[u8; 48], Arc<PostTerms>>)> {
        self.posts.iter()
    }

    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when it holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// About how many bytes of memory it holds: each key and entry, each shared value once
    /// (the map's own nodes not counted).
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let mut values: std::collections::HashSet<usize> = Default::default();
        let mut n = 0;
        for (key, terms) in &self.rows {
            n += key.capacity() + size_of::<Vec<u8>>() + size_of::<Terms>();
            if let Terms::Post(_) = terms {
                // Its entry among the sources: the order and the shared value.
                n += 48 + size_of::<Arc<PostTerms>>();
            }
            n += match terms {
                Terms::Post(p) if values.insert(Arc::as_ptr(p) as usize) => {
                    2 * size_of::<usize>()
                        + size_of::<PostTerms>()
                        + p.occupation.capacity()
                        + p.title.capacity()
                }
                Terms::Worker(w) if values.insert(Arc::as_ptr(w) as usize) => {
                    2 * size_of::<usize>()
                        + size_of::<WorkerTerms>()
                        + w.skills.capacity() * size_of::<String>()
                        + w.skills.iter().map(String::capacity).sum::<usize>()
                }
                _ => 0,
            };
        }
        n
    }

    /// Applies the matching rows' part of a committed batch, in the batch's order (a later
    /// write of a key wins, as in the tree): `None` removes the row. A value that does not
    /// decode is left out, as a read of the rows from the tree skips it.
    fn apply(&mut self, ops: &[(Vec<u8>, Option<Vec<u8>>)]) {
        let mut seen: HashMap<&[u8], Terms> = HashMap::new();
        for (key, value) in ops {
            let terms = value.as_deref().and_then(|v| match seen.get(v) {
                Some(t) => Some(t.clone()),
                None => {
                    let t = Terms::decode(key, v)?;
                    seen.insert(v, t.clone());
                    Some(t)
                }
            });
            let old = match terms {
                Some(t) => {
                    self.link(key, &t);
                    self.rows.insert(key.clone(), t)
                }
                None => self.rows.remove(key),
            };
            if let Some(old) = old {
                let now = self.rows.get(key).cloned();
                self.unlink(key, &old, now.as_ref());
            }
        }
    }

    /// Files a post's row under its source.
    fn link(&mut self, key: &[u8], terms: &Terms) {
        if let (Terms::Post(p), Some(order)) = (terms, order_of(key))
            && let Some(source) = PostSource::of(key, p)
        {
            self.posts
                .entry(source)
                .or_default()
                .insert(order, p.clone());
        }
    }

    /// Removes a post's row of the terms `old` from its source, unless the row `now` holding
    /// the same key (just written) is filed under that same source.
    fn unlink(&mut self, key: &[u8], old: &Terms, now: Option<&Terms>) {
        let (Terms::Post(p), Some(order)) = (old, order_of(key)) else {
            return;
        };
        let Some(source) = PostSource::of(key, p) else {
            return;
        };
        if let Some(Terms::Post(n)) = now
            && PostSource::of(key, n).as_ref() == Some(&source)
        {
            return;
        }
        if let Some(rows) = self.posts.get_mut(&source) {
            rows.remove(&order);
            if rows.is_empty() {
                self.posts.remove(&source);
            }
        }
    }
}

/// The [`MatchTable`] of an open store: loaded from the tree's matching rows at first use,
/// kept current by every commit ([`MatchCache::committed`], called with the rows the commit
/// wrote once the tree took them), and dropped on any doubt (a commit that failed, a panic
/// while it was held), to be loaded again at the next use.
#[derive(Default)]
pub struct MatchCache(Mutex<Option<MatchTable>>);

impl MatchCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MatchTable>> {
        self.0.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }

    /// Drops the table: the next use loads it again from the tree.
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    /// Brings a loaded table up to date with the matching rows a commit wrote: `(key, None)`
    /// for a row removed, `(key, Some(value))` for a row written, in the batch's order.
    pub fn committed(&self, ops: &[(Vec<u8>, Option<Vec<u8>>)]) {
        if ops.is_empty() {
            return;
        }
        if let Some(table) = self.lock().as_mut() {
            table.apply(ops);
        }
    }

    /// Calls `f` with the table, first loading it with `rows` (the tree's rows under a prefix)
    /// if it is not held. The table stays locked while `f` runs.
    pub fn with<R, E, I>(
        &self,
        rows: impl Fn(&[u8]) -> I,
        f: impl FnOnce(&MatchTable) -> R,
    ) -> Result<R, E>
    where
        I: Iterator<Item = Result<(sled::IVec, sled::IVec), E>>,
    {
        let mut guard = self.lock();
        if guard.is_none() {
            let mut table = MatchTable::default();
            for prefix in match_row_prefixes() {
                let mut ops = Vec::new();
                for row in rows(&prefix) {
                    let (k, v) = row?;
                    ops.push((k.to_vec(), Some(v.to_vec())));
                }
                table.apply(&ops);
            }
            *guard = Some(table);
        }
        Ok(f(guard.as_ref().expect("loaded above")))
    }
}

/// The counter key of a kind.
pub fn counter(kind: RecordKind) -> [u8; 2] {
    [b'c', kind as u8]
}

#[cfg(test)]
mod tests {
    use super::*;
    use lingong_protocol::keys::PublicKey;
    use lingong_protocol::region::RegionCode;

    fn post(created_ms: i64, status: &str) -> RecordState {
        let mut view = serde_json::Map::new();
        view.insert("status".into(), status.into());
        view.insert("occupation".into(), "4-10-01-06".into());
        RecordState {
            kind: RecordKind::Post,
            creator: PublicKey([3; 32]),
            serial: 7,
            region: RegionCode::parse("522622101001").unwrap(),
            reach: RegionCode::parse("522622101").unwrap(),
            created_ms,
            updated_ms: created_ms,
            changes: Vec::new(),
            doc: Some(Vec::new()),
            waiting: false,
            view,
        }
    }

    /// A matching row of a post with this occupation, created at `ms`, and its value.
    fn post_row(occupation: &str, ms: i64) -> (Vec<u8>, Vec<u8>) {
        let state = post(ms, "open");
        let terms = PostTerms {
            occupation: occupation.into(),
            title: "岗位".into(),
            region: state.region,
            reach: state.reach,
            day_wage_fen: Some(20_000),
            headcount: 2,
            last_day: None,
            listed: true,
        };
        (
            [
                &match_prefix(RecordKind::Post, occupation, true)[..],
                &order(&state),
            ]
            .concat(),
            postcard::to_allocvec(&terms).unwrap(),
        )
    }

    /// The keys a table holds under `prefix`, after loading it from `tree` if not held; checks
    /// that the table's post sources hold exactly its posts' rows, each under its source.
    fn keys_in(cache: &MatchCache, tree: &[(Vec<u8>, Vec<u8>)], prefix: &[u8]) -> Vec<Vec<u8>> {
        let rows = |p: &[u8]| {
            tree.iter()
                .filter(|(k, _)| k.starts_with(p))
                .map(|(k, v)| Ok::<_, ()>((k[..].into(), v[..].into())))
                .collect::<Vec<_>>()
                .into_iter()
        };
        cache
            .with(rows, |t| {
                let mut by_source = Vec::new();
                for (source, rows) in t.post_sources() {
                    assert!(!rows.is_empty(), "no empty source is kept");
                    for (order, terms) in rows {
                        assert_eq!(
                            PostSource::of(&source.key(order), terms).as_ref(),
                            Some(source)
                        );
                        by_source.push(source.key(order));
                    }
                }
                by_source.sort();
                let mut posts: Vec<Vec<u8>> = Vec::new();
                for p in &match_row_prefixes()[..2] {
                    posts.extend(t.scan(p).map(|(k, _)| k.to_vec()));
                }
                assert_eq!(by_source, posts, "the sources are the posts' rows");
                t.scan(prefix).map(|(k, _)| k.to_vec()).collect()
            })
            .unwrap()
    }

    #[test]
    fn the_match_table_follows_commits_and_reloads_once_invalidated() {
        let (a, b, c) = (
            post_row("4-10-01-06", 1_000),
            post_row("4-10-01-06", 2_000),
            post_row("4-10-02-01", 3_000),
        );
        let cache = MatchCache::default();
        // A commit before the first use changes nothing: the table loads from the tree.
        cache.committed(&[(c.0.clone(), Some(c.1.clone()))]);
        let tree = vec![a.clone(), b.clone()];
        let unit = match_prefix(RecordKind::Post, "4-10-01-", false);
        assert_eq!(
            keys_in(&cache, &tree, &unit),
            vec![a.0.clone(), b.0.clone()]
        );
        // Held: commits apply in their order (a later write of a key wins); the tree is not
        // read again.
        cache.committed(&[
            (a.0.clone(), None),
            (c.0.clone(), Some(c.1.clone())),
            (b.0.clone(), None),
            (b.0.clone(), Some(b.1.clone())),
        ]);
        let every = match_prefix(RecordKind::Post, "", false);
        assert_eq!(keys_in(&cache, &[], &every), vec![b.0.clone(), c.0.clone()]);
        // A row written again with another reach moves to that reach's source.
        let mut moved: PostTerms = postcard::from_bytes(&c.1).unwrap();
        moved.reach = RegionCode::parse("522622102").unwrap();
        cache.committed(&[(c.0.clone(), Some(postcard::to_allocvec(&moved).unwrap()))]);
        assert_eq!(keys_in(&cache, &[], &every), vec![b.0.clone(), c.0.clone()]);
        // A value that does not decode is left out, as a read from the tree skips it.
        cache.committed(&[(b.0.clone(), Some(vec![0xFF]))]);
        assert!(keys_in(&cache, &[], &unit).is_empty());
        // Dropped: the next use loads the tree again.
        cache.invalidate();
        assert_eq!(keys_in(&cache, std::slice::from_ref(&a), &every), vec![a.0]);
    }

    #[test]
    fn keys_sort_by_creation_time_and_end_in_the_record_id() {
        let (a, b) = (post(1_000, "open"), post(2_000, "open"));
        assert!(keys(&a)[0] < keys(&b)[0]);
        assert_eq!(record_of(&keys(&a)[0]), Some(a.id()));
        let old = post(-5, "open");
        assert!(keys(&old)[0] < keys(&a)[0], "times before 1970 sort first");
    }

    #[test]
    fn a_region_filter_is_a_prefix_and_a_status_filter_exact() {
        let p = post(1_000, "open");
        let ks = keys(&p);
        let region = prefix(RecordKind::Post, Some((Field::Region, "5226", false)));
        assert!(ks.iter().any(|k| k.starts_with(&region)));
        let status = prefix(RecordKind::Post, Some((Field::Status, "open", true)));
        assert!(ks.iter().any(|k| k.starts_with(&status)));
        let other = prefix(RecordKind::Post, Some((Field::Status, "ope", true)));
        assert!(!ks.iter().any(|k| k.starts_with(&other)));
        assert_eq!(
            cursor(&p, &status).as_deref().map(record_of),
            Some(Some(p.id()))
        );
    }

    #[test]
    fn a_page_resumes_where_a_record_that_left_an_exact_index_was() {
        let (older, cursor_post, newer) = (
            post(1_000, "open"),
            post(2_000, "closed"),
            post(3_000, "open"),
        );
        let open = prefix(RecordKind::Post, Some((Field::Status, "open", true)));
        let at = resume_after(&cursor_post, &open).expect("an exact index");
        assert!(keys(&older).iter().any(|k| k.starts_with(&open) && *k < at));
        assert!(keys(&newer).iter().any(|k| k.starts_with(&open) && *k > at));
        let region = prefix(RecordKind::Post, Some((Field::Region, "5227", false)));
        assert_eq!(resume_after(&cursor_post, &region), None);
        let region = prefix(RecordKind::Post, Some((Field::Region, "5226", false)));
        assert_eq!(
            resume_after(&cursor_post, &region),
            cursor(&cursor_post, &region)
        );
    }
}
