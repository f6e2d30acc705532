//! The whole province's workload at the simulator's default rates, for the province-sized
//! store bench: every station of Guizhou's division table (9 cities, 88 counties, 1,510
//! townships, 17,964 villages and relocation sites) with its own key and a certificate from its
//! parent under the province root, writing a day of records at a time as the simulator's
//! defaults say a station of its level does (`lingong_sim::config::Workload::default()`, taken
//! from the field figures): employers, worker registrations and their edits, posts (a village's
//! reviewed by its township the next day, half of them given a new wage, all closed after the
//! posts' mean life), placements on the open approved posts of the station's county, complaints
//! (each stepped by its county two, four, twelve and sixteen days on: accepted, handling,
//! resolved with the arrears recovered, closed) and assistance records. Counts per day follow
//! each rate exactly over time (a fractional rate, such as 0.3 a day, gives a write every third
//! day or so, from a per-station phase); writes fall in working hours, 08:00–18:00 China time.
//!
//! Changes are made as the simulator makes them (an Automerge change on top of the record's
//! document, then `Envelope::sign` with the author's next sequence number and previous
//! envelope's hash): the accept path that checks them is the receiving store's. Certificate
//! records go through `LocalAuthor::publish_certificate`. Left out of the defaults: the quarterly
//! directory-entry updates (one in 90 days per station) and the county's rectification orders.
#![allow(dead_code)]

use lingong_node::home::Home;
use lingong_node::station::{self, Station};
use lingong_protocol::accept::AcceptConfig;
use lingong_protocol::author::LocalAuthor;
use lingong_protocol::canon::Hash32;
use lingong_protocol::cert::{self, CertChain, CertRequest};
use lingong_protocol::credit_code::{check_character, org_check_character};
use lingong_protocol::dates;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{self, FieldValue, RecordId, RecordKind};
use lingong_protocol::region::{Level, RegionCode, divisions};
use lingong_protocol::schema::complaint::StepFields;
use lingong_protocol::schema::{
    AssistKind, Assistance, Choice, Complaint, ComplaintKind, ComplaintStatus, Confirmation,
    Employer, EmployerStatus, EmployerType, Finding, Placement, PlacementStatus, Post, PostStatus,
    PushResult, ReviewState, Schema, WageUnit, Worker, WorkerStatus,
};
use lingong_protocol::store::{MemoryStore, NO_PREV, Staged, Store};
use lingong_sim::config::{Rates, Workload};
use std::collections::{BTreeMap, HashMap, VecDeque};

pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Days a worker's document is kept for edits, placements and assistance after registering
/// (the station's recent registrations; older workers are not edited here).
const WORKER_DAYS: i64 = 30;
/// Days on which a county steps a complaint after it was filed, and the step it takes.
const STEPS: [(i64, ComplaintStatus); 4] = [
    (2, ComplaintStatus::Accepted),
    (4, ComplaintStatus::Handling),
    (12, ComplaintStatus::Resolved),
    (16, ComplaintStatus::Closed),
];
pub const OCCUPATIONS: [&str; 8] = [
    "4-10-01-06",
    "4-02-06-03",
    "6-29-01-00",
    "5-01-02-01",
    "4-03-02-01",
    "6-18-01-01",
    "4-10-03-01",
    "6-24-01-00",
];

/// A small deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn name_of(code: &RegionCode) -> String {
    divisions()
        .name(code)
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string())
}

/// A station in a fresh home under `dir`, certified from `certified_s` for `days` by `issuer`
/// (the protocol's `cert::issue` with a backdated start, its certificate record published as
/// of that start and the chain kept in the home, as `cert install` did then; without an issuer
/// it issues its own root).
pub fn station_certified_at(
    dir: &std::path::Path,
    region: &RegionCode,
    issuer: Option<&Station>,
    certified_s: i64,
    days: u32,
) -> Station {
    let home = Home::new(Some(dir.join(region.to_string())));
    station::init(
        &home,
        &name_of(region),
        &region.to_string(),
        vec!["/ip4/127.0.0.1/tcp/0".into()],
        None,
    )
    .expect("init");
    let mut node = Station::open(&home).expect("open");
    let request = CertRequest::new(&node.key, *region, &name_of(region)).expect("request");
    let chain = match issuer {
        Some(parent) => cert::issue(
            &parent.key,
            parent.chain.as_ref(),
            &request,
            certified_s,
            days,
        ),
        None => cert::issue(&node.key, None, &request, certified_s, days),
    }
    .expect("issued");
    let author = LocalAuthor {
        key: &node.key,
        cfg: AcceptConfig {
            root: chain.root().body.subject,
            materialize: true,
        },
    };
    let mut staged = Staged::new(&node.store);
    author
        .publish_certificate(&mut staged, &chain, certified_s * 1000)
        .expect("certificate record");
    let batch = staged.into_batch();
    // Kept in the home as `cert install` keeps it, so that the store opened again (the
    // measuring process) has its chain, hence its root.
    lingong_node::home::write_atomically(
        &home.cert_path(),
        serde_json::to_string_pretty(&chain.to_json())
            .expect("json")
            .as_bytes(),
    )
    .expect("cert.json");
    node.store.commit(batch).expect("committed");
    node.chain = Some(chain);
    node
}

/// One station below the province.
pub struct Node {
    pub key: NodeKey,
    pub chain: CertChain,
    pub region: RegionCode,
    pub level: Level,
    /// The station that certified it (`None`: the province).
    pub issuer: Option<usize>,
    /// Its county's station (itself for a county; `None` above the county).
    pub county: Option<usize>,
    rates: Rates,
    phase: f64,
    seq: u64,
    head: Hash32,
    /// Its workers registered in the last `WORKER_DAYS` days (documents kept), oldest first.
    workers: VecDeque<(RecordId, i64)>,
}

/// A post open for placements.
#[derive(Clone)]
struct OpenPost {
    record: RecordId,
    employer: Option<String>,
    wage: f64,
    unit: WageUnit,
}

/// What the posts and employers of one county (or of a city's own market) offer.
#[derive(Default)]
struct Pool {
    employers: Vec<String>,
    posts: Vec<OpenPost>,
}

/// A document kept for a later edit.
struct Doc {
    kind: RecordKind,
    region: RegionCode,
    reach: RegionCode,
    saved: Vec<u8>,
}

/// Work a station does on a later day.
enum Later {
    /// A township approves a village's post.
    Review(RecordId),
    /// A post's author gives it a new wage.
    Wage(RecordId, f64),
    /// A post's author closes it.
    Close(RecordId),
    /// A county takes a complaint one step: the complaint as it was and as it will be.
    Step(RecordId, Box<Complaint>, Box<Complaint>),
}

/// Counts of what was written, by kind of write.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Writes the rates asked for that had nothing to act on (a placement with no open post or
    /// no recent worker at the station, a complaint with no employer in the county).
    pub skipped: u64,
}

impl Counts {
    fn add(&mut self, what: &'static str) {
        *self.by_kind.entry(what).or_default() += 1;
    }
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

/// The province's stations and what they have written so far.
pub struct Province {
    pub nodes: Vec<Node>,
    cfg: AcceptConfig,
    /// Midnight (China time) of the first simulated day.
    pub start_ms: i64,
    pub certified_ms: i64,
    workload: Workload,
    pools: HashMap<usize, Pool>,
    docs: HashMap<RecordId, Doc>,
    /// Villages' posts waiting for their township's review.
    pending_posts: HashMap<RecordId, OpenPost>,
    later: BTreeMap<i64, Vec<(usize, Later)>>,
    rng: Rng,
    pub counts: Counts,
}

impl Province {
    /// Every station of the division table below `root` (the province station), certified
    /// from `certified_s` for `days` by its nearest ancestor, with the default workload.
    pub fn new(root: &Station, certified_s: i64, days: u32, start_ms: i64) -> Province {
        let workload = Workload::default();
        let root_chain = root.chain.as_ref().expect("the province is certified");
        let mut levels: Vec<_> = divisions()
            .iter()
            .filter(|d| d.level != Level::Province)
            .map(|d| d.code)
            .collect();
        levels.sort_by_key(|c| (c.level().depth(), *c));
        let mut at: HashMap<RegionCode, usize> = HashMap::new();
        let mut nodes: Vec<Node> = Vec::with_capacity(levels.len());
        for (i, code) in levels.into_iter().enumerate() {
            let mut seed = [0x5eu8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            let key = NodeKey::from_seed(seed);
            let mut up = code.parent();
            while let Some(p) = up {
                if at.contains_key(&p) || p.level() == Level::Province {
                    break;
                }
                up = p.parent();
            }
            let issuer = up.and_then(|p| at.get(&p).copied());
            let request = CertRequest::new(&key, code, &name_of(&code)).expect("request");
            let chain = match issuer {
                Some(k) => cert::issue(
                    &nodes[k].key,
                    Some(&nodes[k].chain),
                    &request,
                    certified_s,
                    days,
                ),
                None => cert::issue(&root.key, Some(root_chain), &request, certified_s, days),
            }
            .expect("issued");
            let level = code.level();
            let county = match level {
                Level::County => Some(i),
                _ => issuer.and_then(|k| nodes[k].county),
            };
            let rates = match level {
                Level::City => workload.city.clone(),
                Level::County => workload.county.clone(),
                Level::Township => workload.township.clone(),
                _ => workload.village.clone(),
            };
            let mut phase = Rng(i as u64 ^ 0x1234_5678);
            nodes.push(Node {
                key,
                chain,
                region: code,
                level,
                issuer,
                county,
                rates,
                phase: phase.unit(),
                seq: 0,
                head: NO_PREV,
                workers: VecDeque::new(),
            });
            at.insert(code, i);
        }
        Province {
            nodes,
            cfg: AcceptConfig {
                root: root.key.public(),
                materialize: true,
            },
            start_ms,
            certified_ms: certified_s * 1000,
            workload,
            pools: HashMap::new(),
            docs: HashMap::new(),
            pending_posts: HashMap::new(),
            later: BTreeMap::new(),
            rng: Rng(0x9d_2c5680),
            counts: Counts::default(),
        }
    }

    /// Every station's certificate record, parents first (each through the one accept path
    /// against a fresh view, as `cert install` publishes it).
    pub fn certificates(&mut self) -> Vec<Envelope> {
        let cfg = self.cfg;
        let at = self.certified_ms + 60_000;
        self.nodes
            .iter_mut()
            .map(|n| {
                let scratch = MemoryStore::new();
                let mut staged = Staged::new(&scratch);
                let env = LocalAuthor { key: &n.key, cfg }
                    .publish_certificate(&mut staged, &n.chain, at)
                    .expect("certificate record");
                n.seq = env.header.seq;
                n.head = env.id();
                env
            })
            .collect()
    }

    /// The stations a county's seal names as its children: those it certified.
    pub fn children_of(&self, i: usize) -> Vec<RegionCode> {
        let mut out: Vec<RegionCode> = self
            .nodes
            .iter()
            .filter(|n| n.issuer == Some(i))
            .map(|n| n.region)
            .collect();
        out.sort();
        out
    }

    /// The county stations, by index.
    pub fn counties(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].level == Level::County)
            .collect()
    }

    /// Signs a change of node `i`: a new record of `kind` advertised in `reach`, or an edit of
    /// `edit`; the document is kept for later edits when `keep`.
    fn sign(
        &mut self,
        i: usize,
        create: Option<(RecordKind, RegionCode)>,
        edit: Option<RecordId>,
        edits: &[(&str, FieldValue)],
        at_ms: i64,
        keep: bool,
    ) -> Option<Envelope> {
        let n = &self.nodes[i];
        let me = n.key.public();
        let (record, kind, region, reach, saved) = match (create, edit) {
            (Some((kind, reach)), _) => (
                RecordId {
                    creator: me,
                    serial: n.seq + 1,
                },
                kind,
                n.region,
                reach,
                None,
            ),
            (None, Some(id)) => {
                let doc = self.docs.remove(&id).expect("a kept document");
                (id, doc.kind, doc.region, doc.reach, Some(doc.saved))
            }
            (None, None) => unreachable!("a create or an edit"),
        };
        let (change, saved) = match record::make_change_saved(saved.as_deref(), &me, edits, at_ms) {
            Ok(made) => made,
            // An edit that would change nothing (a worker's availability set to the date it
            // already has) is not written, as the simulator skips it; the document stays.
            Err(e) if edit.is_some() && e.code() == "invalid-field" => {
                let saved = saved.expect("an edit's document");
                self.docs.insert(
                    record,
                    Doc {
                        kind,
                        region,
                        reach,
                        saved,
                    },
                );
                return None;
            }
            Err(e) => panic!("an Automerge change: {e}"),
        };
        let env = Envelope::sign(
            &n.key,
            n.seq + 1,
            n.head,
            record,
            kind,
            region,
            reach,
            at_ms,
            n.chain.leaf_hash(),
            change,
        );
        if keep {
            self.docs.insert(
                record,
                Doc {
                    kind,
                    region,
                    reach,
                    saved,
                },
            );
        }
        let n = &mut self.nodes[i];
        n.seq += 1;
        n.head = env.id();
        Some(env)
    }

    /// A new record of node `i` (public for the seals, which the bench signs).
    pub fn create(
        &mut self,
        i: usize,
        kind: RecordKind,
        reach: Option<RegionCode>,
        edits: &[(&str, FieldValue)],
        at_ms: i64,
    ) -> Envelope {
        let reach = reach.unwrap_or(self.nodes[i].region);
        self.sign(i, Some((kind, reach)), None, edits, at_ms, false)
            .expect("a new record")
    }

    /// Writes of `rate` a day falling on `day` for a station of `phase`.
    fn on_day(rate: f64, phase: f64, day: i64) -> usize {
        let upto = |d: i64| (rate * d as f64 + phase).floor() as i64;
        (upto(day + 1) - upto(day)).max(0) as usize
    }

    /// Every station's writes of simulated day `day` (0: the first), in the order signed.
    pub fn day(&mut self, day: i64) -> Vec<Envelope> {
        let day_start = self.start_ms + day * DAY_MS;
        let date = dates::today_cst(day_start);
        let mut later: HashMap<usize, Vec<Later>> = HashMap::new();
        for (i, work) in self.later.remove(&day).unwrap_or_default() {
            later.entry(i).or_default().push(work);
        }
        let mut out = Vec::new();
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            while n.workers.front().is_some_and(|w| w.1 + WORKER_DAYS <= day) {
                let (old, _) = n.workers.pop_front().expect("a worker");
                self.docs.remove(&old);
            }
            let r = n.rates.clone();
            let count = |rate: f64| Self::on_day(rate, n.phase, day);
            let plan = [
                ("employer", count(r.employers)),
                ("worker", count(r.registrations)),
                ("post", count(r.posts)),
                ("placement", count(r.placements)),
                ("worker-edit", count(r.worker_edits)),
                ("complaint", count(r.complaints)),
                ("assistance", count(r.assistance)),
            ];
            let mine = later.remove(&i).unwrap_or_default();
            let total = plan.iter().map(|p| p.1).sum::<usize>() + mine.len();
            if total == 0 {
                continue;
            }
            // Evenly over working hours, 08:00 to 18:00, in the order written.
            let step = 10 * HOUR_MS / (total as i64 + 1);
            let mut k = 0i64;
            let mut tick = || {
                k += 1;
                day_start + 8 * HOUR_MS + k * step
            };
            for work in mine {
                let at = tick();
                out.push(self.later_work(i, work, at));
            }
            for (what, times) in plan {
                for _ in 0..times {
                    let at = tick();
                    match self.write(i, what, at, date, day) {
                        Some(env) => {
                            self.counts.add(what);
                            out.push(env);
                        }
                        None => self.counts.skipped += 1,
                    }
                }
            }
        }
        out
    }

    fn schedule(&mut self, day: i64, i: usize, work: Later) {
        self.later.entry(day).or_default().push((i, work));
    }

    fn pool(&mut self, i: usize) -> &mut Pool {
        let key = self.nodes[i].county.unwrap_or(i);
        self.pools.entry(key).or_default()
    }

    fn later_work(&mut self, i: usize, work: Later, at: i64) -> Envelope {
        match work {
            Later::Review(post) => {
                self.counts.add("post-review");
                let by = self.nodes[i].key.public().node_id();
                let env = self
                    .sign(
                        i,
                        None,
                        Some(post),
                        &[
                            ("review", FieldValue::Text("approved".into())),
                            ("reviewed_by", FieldValue::Text(by)),
                            ("reviewed_at", FieldValue::Text(dates::rfc3339(at))),
                        ],
                        at,
                        true,
                    )
                    .expect("a review");
                if let Some(p) = self.pending_posts.remove(&post) {
                    self.pool(i).posts.push(p);
                }
                env
            }
            Later::Wage(post, wage) => {
                self.counts.add("post-wage");
                let edits = [("wage", FieldValue::Number(wage))];
                self.sign(i, None, Some(post), &edits, at, true)
                    .expect("a new wage")
            }
            Later::Close(post) => {
                self.counts.add("post-close");
                let edits = [("status", FieldValue::Text("closed".into()))];
                self.pool(i).posts.retain(|p| p.record != post);
                self.pending_posts.remove(&post);
                self.sign(i, None, Some(post), &edits, at, false)
                    .expect("a closure")
            }
            Later::Step(complaint, before, after) => {
                self.counts.add("complaint-step");
                let keep = after.status != ComplaintStatus::Closed;
                let edits = after.edits_since(&before);
                self.sign(i, None, Some(complaint), &edits, at, keep)
                    .expect("a step")
            }
        }
    }

    /// One write of node `i`, or `None` when it has nothing to act on.
    fn write(&mut self, i: usize, what: &str, at: i64, date: i64, day: i64) -> Option<Envelope> {
        let region = self.nodes[i].region;
        let created_at = dates::rfc3339(at);
        match what {
            "employer" => {
                let serial = self.nodes[i].seq + 1;
                let org = format!("{:08}", (i as u64 * 1_000 + serial) % 100_000_000);
                let org = format!("{org}{}", org_check_character(&org).expect("org"));
                let first17 = format!("91{}{org}", &region.to_string()[..6]);
                let code = format!("{first17}{}", check_character(&first17).expect("code"));
                let employer = Employer {
                    name: format!("用工主体 {i}-{serial}"),
                    kind: EmployerType::Enterprise,
                    credit_code: Some(code),
                    id_masked: None,
                    id_hash: None,
                    contact: "张经理".into(),
                    phone: "13800001111".into(),
                    address: None,
                    verified_by: Some("营业执照原件".into()),
                    verified_at: Some(created_at.clone()),
                    status: EmployerStatus::Active,
                    suspend_reason: None,
                    region,
                    created_at,
                };
                debug_assert_eq!(employer.validate(), Ok(()));
                let env = self.create(i, RecordKind::Employer, None, &employer.edits(), at);
                let id = hex::encode(env.header.record.short());
                self.pool(i).employers.push(id);
                Some(env)
            }
            "worker" => {
                let serial = self.nodes[i].seq + 1;
                let skill = OCCUPATIONS[self.rng.below(OCCUPATIONS.len())];
                let worker = Worker {
                    name: format!("劳动者 {i}-{serial}"),
                    id_masked: "52***************X".into(),
                    id_hash: format!("v2:{:032x}{serial:032x}", i),
                    phone: "13900000000".into(),
                    skills: vec![skill.into()],
                    wage_min: Some(100.0 + self.rng.below(10) as f64 * 10.0),
                    flags: if self.rng.below(6) == 0 {
                        vec![lingong_protocol::schema::Flag::Older]
                    } else {
                        Vec::new()
                    },
                    available_from: None,
                    available_to: None,
                    status: WorkerStatus::Active,
                    region,
                    created_at,
                };
                debug_assert_eq!(worker.validate(), Ok(()));
                let reach = region;
                let env = self
                    .sign(
                        i,
                        Some((RecordKind::Worker, reach)),
                        None,
                        &worker.edits(),
                        at,
                        true,
                    )
                    .expect("a new record");
                self.nodes[i].workers.push_back((env.header.record, day));
                Some(env)
            }
            "worker-edit" => {
                let n = &self.nodes[i];
                if n.workers.is_empty() {
                    return None;
                }
                let (w, _) = n.workers[self.rng.below(n.workers.len())];
                let from = dates::format_date(date + self.rng.below(7) as i64);
                let edits = [("available_from", FieldValue::Text(from))];
                self.sign(i, None, Some(w), &edits, at, true)
            }
            "post" => Some(self.post(i, at, date, day)),
            "placement" => {
                let n = &self.nodes[i];
                if n.workers.is_empty() {
                    return None;
                }
                let (w, _) = n.workers[self.rng.below(n.workers.len())];
                let pick = self.rng.next() as usize;
                let pool = self.pool(i);
                if pool.posts.is_empty() {
                    return None;
                }
                let post = pool.posts[pick % pool.posts.len()].clone();
                let placement = Placement {
                    post: hex::encode(post.record.short()),
                    worker: hex::encode(w.short()),
                    employer: post.employer,
                    wage: post.wage,
                    unit: post.unit,
                    start: dates::format_date(date),
                    end: None,
                    status: PlacementStatus::Active,
                    worker_confirmed: Some(Confirmation::Paper),
                    employer_confirmed: Some(Confirmation::Spoken),
                    cancel_reason: None,
                    outcome: None,
                    region,
                    created_at,
                };
                debug_assert_eq!(placement.validate(), Ok(()));
                Some(self.create(i, RecordKind::Placement, None, &placement.edits(), at))
            }
            "complaint" => {
                let county = self.nodes[i].county?;
                let worker = {
                    let n = &self.nodes[i];
                    (!n.workers.is_empty())
                        .then(|| hex::encode(n.workers[self.rng.below(n.workers.len())].0.short()))
                };
                let pick = self.rng.next() as usize;
                let amount = (5 + self.rng.below(50)) as f64 * 100.0;
                let pool = self.pool(i);
                if pool.employers.is_empty() {
                    return None;
                }
                let employer = pool.employers[pick % pool.employers.len()].clone();
                let complaint = Complaint {
                    kind: ComplaintKind::WageArrears,
                    post: None,
                    employer: Some(employer),
                    worker,
                    text: "工资未按约定支付".into(),
                    amount: Some(amount),
                    status: ComplaintStatus::Received,
                    note: String::new(),
                    referred_to: None,
                    finding: None,
                    recovered: None,
                    region,
                    created_at,
                };
                debug_assert_eq!(complaint.validate(), Ok(()));
                let env = self
                    .sign(
                        i,
                        Some((RecordKind::Complaint, region)),
                        None,
                        &complaint.edits(),
                        at,
                        true,
                    )
                    .expect("a new record");
                let mut state = complaint;
                for (days, to) in STEPS {
                    let resolved = to == ComplaintStatus::Resolved;
                    let next = state
                        .step(
                            to,
                            StepFields {
                                finding: resolved.then_some(Finding::Upheld),
                                recovered: state.amount.filter(|_| resolved),
                                ..StepFields::default()
                            },
                        )
                        .expect("a step forward");
                    let work =
                        Later::Step(env.header.record, Box::new(state), Box::new(next.clone()));
                    self.schedule(day + days, county, work);
                    state = next;
                }
                Some(env)
            }
            "assistance" => {
                let n = &self.nodes[i];
                if n.workers.is_empty() {
                    return None;
                }
                let (w, _) = n.workers[self.rng.below(n.workers.len())];
                let station = n.key.public().node_id();
                let mut kind = AssistKind::ALL[self.rng.below(AssistKind::ALL.len())];
                let pick = self.rng.next() as usize;
                let pool = self.pool(i);
                let post = (kind == AssistKind::JobRecommendation && !pool.posts.is_empty())
                    .then(|| pool.posts[pick % pool.posts.len()].record.to_hex());
                if kind == AssistKind::JobRecommendation && post.is_none() {
                    kind = AssistKind::CareerGuidance;
                }
                let assistance = Assistance {
                    worker: w.to_hex(),
                    kind,
                    result: post.as_ref().map(|_| PushResult::Contacted),
                    post,
                    note: None,
                    at: created_at,
                    station,
                    region,
                };
                debug_assert_eq!(assistance.validate(), Ok(()));
                Some(self.create(i, RecordKind::Assistance, None, &assistance.edits(), at))
            }
            other => unreachable!("no write {other}"),
        }
    }

    /// A post of node `i`: a village's waits for its township's review the next day; a post is
    /// given a new wage two days on at the level's share, and closed after the posts' mean life.
    fn post(&mut self, i: usize, at: i64, date: i64, day: i64) -> Envelope {
        let n = &self.nodes[i];
        let r = n.rates.clone();
        let reviewer = (n.level == Level::Village).then_some(n.issuer).flatten();
        let region = n.region;
        let county_region = n.county.map(|c| self.nodes[c].region);
        let x = self.rng.unit() * (r.reach_own + r.reach_parent + r.reach_county);
        let reach = if x < r.reach_own {
            region
        } else if x < r.reach_own + r.reach_parent {
            n.issuer.map_or(region, |k| self.nodes[k].region)
        } else {
            county_region.unwrap_or(region)
        };
        let unit = match self.rng.below(10) {
            0 => WageUnit::Hour,
            1 => WageUnit::Month,
            _ => WageUnit::Day,
        };
        let wage = match unit {
            WageUnit::Hour => 20.0 + self.rng.below(10) as f64,
            WageUnit::Month => 3000.0 + self.rng.below(20) as f64 * 100.0,
            _ => 120.0 + self.rng.below(20) as f64 * 10.0,
        };
        let pick = self.rng.next() as usize;
        let named = self.rng.below(10) < 7;
        let employer = {
            let pool = self.pool(i);
            (named && !pool.employers.is_empty())
                .then(|| pool.employers[pick % pool.employers.len()].clone())
        };
        let post = Post {
            title: format!("岗位 {i}-{}", self.nodes[i].seq + 1),
            occupation: OCCUPATIONS[self.rng.below(OCCUPATIONS.len())].into(),
            wage,
            unit,
            headcount: 1 + self.rng.below(5) as i64,
            employer: employer.clone(),
            status: PostStatus::Open,
            review: if reviewer.is_some() {
                ReviewState::Pending
            } else {
                ReviewState::Approved
            },
            review_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            region,
            reach,
            location: None,
            contact: Some("13800000000".into()),
            description: None,
            expires: Some(dates::format_date(date + 30)),
            created_at: dates::rfc3339(at),
        };
        debug_assert_eq!(post.validate(), Ok(()));
        let env = self
            .sign(
                i,
                Some((RecordKind::Post, reach)),
                None,
                &post.edits(),
                at,
                true,
            )
            .expect("a new record");
        let record = env.header.record;
        let open = OpenPost {
            record,
            employer,
            wage,
            unit,
        };
        match reviewer {
            Some(township) => {
                self.pending_posts.insert(record, open);
                self.schedule(day + 1, township, Later::Review(record));
            }
            None => self.pool(i).posts.push(open),
        }
        let life = self.workload.post_life_days.round().max(2.0) as i64;
        if self.rng.unit() < r.post_edit_share {
            let new_wage = match unit {
                WageUnit::Hour => wage + 2.0,
                WageUnit::Month => wage + 200.0,
                _ => wage + 10.0,
            };
            self.schedule(day + 2, i, Later::Wage(record, new_wage));
        }
        self.schedule(day + life, i, Later::Close(record));
        env
    }
}
