//! The workload's writes: what each write event does, and its costly part, which can go ahead
//! of its time.
//!
//! A write (a post, a worker's registration, a placement, a complaint, an edit) costs tens of
//! microseconds, mostly in Automerge (the change on top of the record's document) and in the
//! ed25519 signature. Both are pure functions of a [`WriteSpec`]. What a write event does is
//! fixed by its node's state and by the write's own random draws, from a seed drawn when the
//! write was scheduled ([`Node::write_seed`]), never from the shared random stream at the
//! event. So the engine can plan a write it sees coming (`Sim::lend_ahead`) and lend the
//! change and the signature to the helper thread ([`write_all`]). Only writes and post edits
//! of the same node, crashes and restarts change what a write reads, and the look-ahead lends
//! none with such an event before it. At the event, the engine plans again and takes the lent
//! answer only if it was worked out from the same specification (else it works it out
//! itself): the run is exactly the one-loop run.

use super::*;
use lingong_protocol::credit_code::{check_character, org_check_character};
use lingong_protocol::dates;
use lingong_protocol::schema::complaint::StepFields;
use lingong_protocol::schema::{
    self, AssistKind, Assistance, Choice, Complaint, ComplaintKind, ComplaintStatus, Confirmation,
    Employer, EmployerStatus, EmployerType, Finding, Placement, PlacementStatus, PostStatus,
    PushResult, ReviewState, Schema, WageUnit, Worker, WorkerStatus,
};

/// The fields a write puts into a record's root map.
type Fields = Vec<(&'static str, FieldValue)>;

/// Everything one signed change depends on: the same specification gives the same payload,
/// document and envelope (ed25519 signatures are deterministic).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct WriteSpec {
    record: RecordId,
    kind: RecordKind,
    region: RegionCode,
    reach: RegionCode,
    edits: Fields,
    /// The record's document before the change (Automerge payloads; `None` for a new record).
    saved: Option<Vec<u8>>,
    /// Filler bytes instead of an Automerge change (`run.automerge_payloads = false`).
    filler: bool,
    /// The author's clock at the write.
    at_ms: i64,
    seq: u64,
    head: Hash32,
    cert: Hash32,
}

/// A [`WriteSpec`] worked out.
pub(super) struct Written {
    spec: WriteSpec,
    /// The signed envelope and the document after it (`None` with filler payloads); `None`
    /// when the edit would change nothing (the workload then skips it).
    change: Option<(Envelope, Option<Vec<u8>>)>,
}

/// The writes of one event, lent to the helper: each after the first is signed on top of the
/// one before (its `head` is filled in here).
pub(super) struct WriteJob {
    key: NodeKey,
    specs: Vec<WriteSpec>,
}

/// The answers of a lent [`WriteJob`] not yet used, in order.
pub(super) type LentWrites = VecDeque<Written>;

/// Works `spec` out as the node holding `key`: the payload, the document after, the envelope.
fn write(key: &NodeKey, spec: WriteSpec) -> Written {
    let payload = if spec.filler {
        let len = 80 + 24 * spec.edits.len();
        // Filler that differs per author and per sequence number, fixed by the specification.
        let word = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        let seed = spec.seq ^ word(&spec.head) ^ word(&spec.record.creator.0).rotate_left(17);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Some(((0..len).map(|_| rng.random::<u8>()).collect(), None))
    } else {
        record::make_change_saved(
            spec.saved.as_deref(),
            &key.public(),
            &spec.edits,
            spec.at_ms,
        )
        .ok()
        .map(|(change, doc)| (change, Some(doc)))
    };
    let change = payload.map(|(payload, doc)| {
        let s = &spec;
        let env = Envelope::sign(
            key, s.seq, s.head, s.record, s.kind, s.region, s.reach, s.at_ms, s.cert, payload,
        );
        (env, doc)
    });
    Written { spec, change }
}

/// Works a lent [`WriteJob`] out, stopping after a write that changes nothing (the event
/// then writes nothing more).
pub(super) fn write_all(job: WriteJob) -> Vec<Written> {
    let mut done: Vec<Written> = Vec::with_capacity(job.specs.len());
    for mut spec in job.specs {
        if let Some(before) = done.last() {
            let Some((env, _)) = &before.change else {
                break;
            };
            spec.head = env.id();
        }
        done.push(write(&job.key, spec));
    }
    done
}

/// What one write event does ([`Sim::plan_write`]).
pub(super) enum WritePlan {
    Nothing,
    /// A new record: a post (with its reach), a worker's registration, a placement (the
    /// post's fill is derived from its placements, so no edit of the post follows) or a
    /// complaint.
    Create {
        kind: RecordKind,
        reach: Option<RegionCode>,
        fields: Fields,
    },
    /// A worker's availability or the station's directory entry.
    Edit {
        record: RecordId,
        fields: Fields,
    },
    /// A placement on a post (an index into `Sim::posts`) with a place left as seen here.
    Place {
        post: u32,
        fields: Fields,
    },
    /// A complaint filed at this station; it waits at the county above for its steps.
    File {
        complaint: Complaint,
    },
    /// Waiting work taken up: a village post's review, or a complaint's next step (`next`,
    /// the complaint after it).
    Task {
        task: Task,
        record: RecordId,
        fields: Fields,
        next: Option<Complaint>,
    },
}

/// Work waiting for a station above the one that wrote it ([`Node::tasks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Task {
    /// A village's post (an index into `Sim::posts`), pending until its township approves it.
    Review { post: u32 },
    /// A complaint (an index into `Sim::complaints`) its county takes one step further.
    Complaint { complaint: u32 },
}

/// A complaint as the county handling it last left it.
pub(super) struct FiledComplaint {
    record: RecordId,
    state: Complaint,
}

impl WritePlan {
    fn create(kind: RecordKind, reach: Option<RegionCode>, fields: Fields) -> WritePlan {
        WritePlan::Create {
            kind,
            reach,
            fields,
        }
    }
}

/// A post's edit by its creator, drawn when the post is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum PostChange {
    Close,
    Wage(u16),
}

impl Sim {
    /// Schedules node `i`'s next write (Poisson arrivals over working time, 08:00–18:00) and
    /// draws the seed of that write's own choices.
    pub(super) fn schedule_write(&mut self, i: u32) {
        let total = self.nodes[i as usize].rates.writes_per_day();
        if total <= 0.0 {
            return;
        }
        let work_day = 10.0 * 3600.0;
        let now_work = work_time(self.now);
        let next_work = now_work + self.exp(work_day / total);
        let at = wall_time(next_work);
        if at < self.end_ms {
            self.nodes[i as usize].write_seed = self.rng.random::<u64>();
            self.push(at, Ev::Write { node: i });
        }
    }

    /// What node `i`'s write at `at` does, from the node's state and the write's seed.
    fn plan_write(&self, i: u32, at: i64) -> WritePlan {
        let n = &self.nodes[i as usize];
        let mut rng = ChaCha8Rng::seed_from_u64(n.write_seed);
        let r = &n.rates;
        let total = r.writes_per_day();
        let local_ms = self.local_ms_at(i, at);
        let created_at = dates::rfc3339(local_ms);
        let mut x = rng.random::<f64>() * total;
        if x < r.tasks {
            return self.plan_task(i, local_ms);
        }
        x -= r.tasks;
        if x < r.posts {
            let own = n.region;
            let county = home_area(&own);
            let parent = own.parent().filter(|p| county.contains(p)).unwrap_or(own);
            let x = rng.random::<f64>() * (r.reach_own + r.reach_parent + r.reach_county);
            let reach = if x < r.reach_own {
                own
            } else if x < r.reach_own + r.reach_parent {
                parent
            } else {
                county
            };
            let wage = 150 + rng.random_range(0..16) * 10;
            let post = schema::Post {
                title: "搬运工 日结".into(),
                occupation: "4-02-06-03".into(),
                wage: f64::from(wage),
                unit: WageUnit::Day,
                headcount: rng.random_range(1..10),
                employer: (!n.employers.is_empty())
                    .then(|| n.employers[rng.random_range(0..n.employers.len())].to_hex()),
                status: PostStatus::Open,
                // A township or county reviews its own posts as it publishes them; a village's
                // wait for its township (`Task::Review`).
                review: if self.reviewer_of(i).is_some() {
                    ReviewState::Pending
                } else {
                    ReviewState::Approved
                },
                review_reason: None,
                reviewed_by: None,
                reviewed_at: None,
                region: own,
                reach,
                location: None,
                contact: Some("0851-88880000".into()),
                description: None,
                expires: Some(dates::format_date(dates::today_cst(local_ms) + 30)),
                created_at,
            };
            debug_assert_eq!(post.validate(), Ok(()));
            return WritePlan::create(RecordKind::Post, Some(reach), post.edits());
        }
        x -= r.posts;
        if x < r.registrations {
            let fields = worker_fields(n, n.next_seq, created_at);
            return WritePlan::create(RecordKind::Worker, None, fields);
        }
        x -= r.registrations;
        if x < r.placements {
            let Some(p) = self.placement_post(i, &mut rng) else {
                return WritePlan::Nothing;
            };
            let placement = Placement {
                post: self.posts[p as usize].record.to_hex(),
                worker: "0".repeat(32),
                employer: None,
                wage: 200.0,
                unit: WageUnit::Day,
                start: dates::format_date(dates::today_cst(local_ms) + 1),
                end: None,
                status: PlacementStatus::Active,
                worker_confirmed: Some(Confirmation::Spoken),
                employer_confirmed: Some(Confirmation::Spoken),
                cancel_reason: None,
                outcome: None,
                region: n.region,
                created_at,
            };
            debug_assert_eq!(placement.validate(), Ok(()));
            let fields = placement.edits();
            return WritePlan::Place { post: p, fields };
        }
        x -= r.placements;
        if x < r.complaints {
            let complaint = Complaint {
                kind: ComplaintKind::WageArrears,
                post: None,
                employer: None,
                worker: None,
                text: "工资未按约定支付".into(),
                amount: Some(f64::from(rng.random_range(5..60u32) * 100)),
                status: ComplaintStatus::Received,
                note: String::new(),
                referred_to: None,
                finding: None,
                recovered: None,
                region: n.region,
                created_at,
            };
            debug_assert_eq!(complaint.validate(), Ok(()));
            return WritePlan::File { complaint };
        }
        x -= r.complaints;
        if x < r.worker_edits {
            if n.workers.is_empty() {
                return WritePlan::Nothing;
            }
            let record = n.workers[rng.random_range(0..n.workers.len())];
            // Available again from a day within the next week.
            let from = dates::today_cst(local_ms) + rng.random_range(0..7);
            let fields = vec![("available_from", FieldValue::Text(dates::format_date(from)))];
            return WritePlan::Edit { record, fields };
        }
        x -= r.worker_edits;
        if x < r.employers {
            let employer = employer_at(n, n.next_seq, created_at);
            debug_assert_eq!(employer.validate(), Ok(()));
            return WritePlan::create(RecordKind::Employer, None, employer.edits());
        }
        x -= r.employers;
        if x < r.assistance {
            if n.workers.is_empty() {
                return WritePlan::Nothing;
            }
            let worker = n.workers[rng.random_range(0..n.workers.len())];
            let mut kind = AssistKind::ALL[rng.random_range(0..AssistKind::ALL.len())];
            let open = &n.open_posts;
            let post = (kind == AssistKind::JobRecommendation && !open.is_empty())
                .then(|| self.posts[open[rng.random_range(0..open.len())] as usize].record);
            if kind == AssistKind::JobRecommendation && post.is_none() {
                kind = AssistKind::CareerGuidance;
            }
            let assistance = Assistance {
                worker: worker.to_hex(),
                kind,
                post: post.map(|p| p.to_hex()),
                result: post.map(|_| PushResult::Contacted),
                note: None,
                at: created_at,
                station: n.key.public().node_id(),
                region: n.region,
            };
            debug_assert_eq!(assistance.validate(), Ok(()));
            return WritePlan::create(RecordKind::Assistance, None, assistance.edits());
        }
        let Some(record) = n.directory else {
            return WritePlan::Nothing;
        };
        let fields = vec![
            (
                "services",
                FieldValue::Text(format!("quarterly report day {}", at / DAY)),
            ),
            ("updated_at", FieldValue::Text(created_at)),
        ];
        WritePlan::Edit { record, fields }
    }

    /// The township that reviews node `i`'s posts, if `i` is a village.
    fn reviewer_of(&self, i: u32) -> Option<u32> {
        let n = &self.nodes[i as usize];
        (n.level == Level::Village).then_some(n.parent).flatten()
    }

    /// The county (or the node itself, if a county) that handles node `i`'s complaints.
    pub(super) fn county_of(&self, i: u32) -> Option<u32> {
        let mut at = Some(i);
        while let Some(a) = at {
            let n = &self.nodes[a as usize];
            if n.level == Level::County {
                return Some(a);
            }
            at = n.parent;
        }
        None
    }

    /// The oldest waiting work node `i` holds the record of, taken one step: a post approved,
    /// or a complaint moved to its next status (a handled complaint is resolved with the
    /// finding upheld and, for wage arrears, the amount recovered).
    fn plan_task(&self, i: u32, local_ms: i64) -> WritePlan {
        let n = &self.nodes[i as usize];
        for &task in &n.tasks {
            let record = match task {
                Task::Review { post } => {
                    let p = &self.posts[post as usize];
                    if !p.open {
                        continue;
                    }
                    p.record
                }
                Task::Complaint { complaint } => self.complaints[complaint as usize].record,
            };
            let held = self.genesis_of(&record).and_then(|g| n.held.get(g));
            if held.is_none() {
                continue;
            }
            match task {
                Task::Review { .. } => {
                    let fields = vec![
                        ("review", FieldValue::Text("approved".into())),
                        ("reviewed_by", FieldValue::Text(n.key.public().node_id())),
                        ("reviewed_at", FieldValue::Text(dates::rfc3339(local_ms))),
                    ];
                    return WritePlan::Task {
                        task,
                        record,
                        fields,
                        next: None,
                    };
                }
                Task::Complaint { complaint } => {
                    let before = &self.complaints[complaint as usize].state;
                    let Some(&to) = before.status.next().last() else {
                        continue;
                    };
                    let resolved = to == ComplaintStatus::Resolved;
                    let step = StepFields {
                        finding: resolved.then_some(Finding::Upheld),
                        recovered: before.amount.filter(|_| resolved),
                        ..StepFields::default()
                    };
                    let Ok(next) = before.step(to, step) else {
                        continue;
                    };
                    let fields = next.edits_since(before);
                    return WritePlan::Task {
                        task,
                        record,
                        fields,
                        next: Some(next),
                    };
                }
            }
        }
        WritePlan::Nothing
    }

    /// The edit of post `post` that `change` makes, by its node, if the post is still open
    /// and its node up: `(node, record, fields)`.
    fn plan_post_edit(&self, post: u32, change: PostChange) -> Option<(u32, RecordId, Fields)> {
        let p = &self.posts[post as usize];
        if !p.open || self.converging || self.nodes[p.node as usize].down {
            return None;
        }
        let fields = match change {
            PostChange::Close => vec![("status", FieldValue::Text("closed".into()))],
            PostChange::Wage(wage) => vec![("wage", FieldValue::Number(f64::from(wage)))],
        };
        Some((p.node, p.record, fields))
    }

    /// The specification of a change to `record` by node `i` at `at`, signed with `seq` on
    /// top of `head`.
    #[allow(clippy::too_many_arguments)]
    fn spec(
        &self,
        i: u32,
        record: RecordId,
        (kind, region, reach): (RecordKind, RegionCode, RegionCode),
        edits: Fields,
        at: i64,
        seq: u64,
        head: Hash32,
    ) -> WriteSpec {
        let filler = !self.scenario.run.automerge_payloads;
        WriteSpec {
            record,
            kind,
            region,
            reach,
            edits,
            saved: if filler {
                None
            } else {
                self.docs.get(&record).cloned()
            },
            filler,
            at_ms: self.local_ms_at(i, at),
            seq,
            head,
            cert: self.nodes[i as usize].cert,
        }
    }

    /// A new record of `kind` by node `i` (its serial is the sequence number it is signed with).
    fn create_spec(
        &self,
        i: u32,
        kind: RecordKind,
        reach: Option<RegionCode>,
        edits: Fields,
        at: i64,
        (seq, head): (u64, Hash32),
    ) -> WriteSpec {
        let n = &self.nodes[i as usize];
        let record = RecordId {
            creator: n.key.public(),
            serial: seq,
        };
        let header = (kind, n.region, reach.unwrap_or(n.region));
        self.spec(i, record, header, edits, at, seq, head)
    }

    /// An edit of `record` by node `i`, if the record's creation is known and valid.
    fn edit_spec(
        &self,
        i: u32,
        record: RecordId,
        edits: Fields,
        at: i64,
        (seq, head): (u64, Hash32),
    ) -> Option<WriteSpec> {
        let genesis = self.genesis_of(&record)?;
        let h = self.arena.entries[genesis as usize].env.header;
        Some(self.spec(i, record, (h.kind, h.region, h.reach), edits, at, seq, head))
    }

    /// The arena index of `record`'s valid creation, if known.
    pub(super) fn genesis_of(&self, record: &RecordId) -> Option<u32> {
        self.arena.at(&record.creator, record.serial).find(|&i| {
            let e = &self.arena.entries[i as usize];
            e.label == Label::Valid && e.env.header.record == *record
        })
    }

    /// The writes of event `event` (a write or a post edit) at `at`, to lend to the helper:
    /// `None` when it writes nothing. A second write's `head` is filled in by the job.
    pub(super) fn write_job(&self, ev: Ev, at: i64) -> Option<WriteJob> {
        let (i, specs) = match ev {
            Ev::Write { node } => {
                let n = &self.nodes[node as usize];
                if self.converging || n.down {
                    return None;
                }
                let first = (n.next_seq, n.head);
                let specs = match self.plan_write(node, at) {
                    WritePlan::Nothing => Vec::new(),
                    WritePlan::Create {
                        kind,
                        reach,
                        fields,
                    } => vec![self.create_spec(node, kind, reach, fields, at, first)],
                    WritePlan::File { complaint } => {
                        let fields = complaint.edits();
                        let kind = RecordKind::Complaint;
                        vec![self.create_spec(node, kind, None, fields, at, first)]
                    }
                    WritePlan::Place { fields, .. } => {
                        let kind = RecordKind::Placement;
                        vec![self.create_spec(node, kind, None, fields, at, first)]
                    }
                    WritePlan::Edit { record, fields } | WritePlan::Task { record, fields, .. } => {
                        self.edit_spec(node, record, fields, at, first)
                            .into_iter()
                            .collect()
                    }
                };
                (node, specs)
            }
            Ev::PostEdit { post, change } => {
                let (node, record, fields) = self.plan_post_edit(post, change)?;
                let n = &self.nodes[node as usize];
                let first = (n.next_seq, n.head);
                let specs = self
                    .edit_spec(node, record, fields, at, first)
                    .into_iter()
                    .collect();
                (node, specs)
            }
            _ => return None,
        };
        (!specs.is_empty()).then(|| WriteJob {
            key: self.nodes[i as usize].key.clone(),
            specs,
        })
    }

    /// Node `i`'s write: what it writes, and what the workload remembers of it.
    pub(super) fn on_write(&mut self, i: u32, event: u64) {
        let mut lent = self.take_lent_writes(event);
        if self.converging || self.nodes[i as usize].down {
            self.schedule_write(i);
            return;
        }
        let plan = self.plan_write(i, self.now);
        self.schedule_write(i);
        match plan {
            WritePlan::Nothing => {}
            WritePlan::Create {
                kind,
                reach,
                fields,
            } => {
                let terms = PostTerms::of(&fields, reach.unwrap_or(self.nodes[i as usize].region));
                let Some(record) = self.write_create(i, kind, reach, fields, &mut lent) else {
                    return;
                };
                match kind {
                    RecordKind::Employer => self.nodes[i as usize].employers.push(record),
                    RecordKind::Post => {
                        self.remember_post(i, record, terms);
                        if let Some(township) = self.reviewer_of(i) {
                            let post = self.posts.len() as u32 - 1;
                            self.nodes[township as usize]
                                .tasks
                                .push_back(Task::Review { post });
                        }
                    }
                    RecordKind::Worker => self.nodes[i as usize].workers.push(record),
                    _ => {}
                }
            }
            WritePlan::Place { post, fields } => {
                let kind = RecordKind::Placement;
                if let Some(record) = self.write_create(i, kind, None, fields, &mut lent) {
                    self.remember_placement(i, post, record);
                }
            }
            WritePlan::File { complaint } => {
                let (kind, fields) = (RecordKind::Complaint, complaint.edits());
                let Some(record) = self.write_create(i, kind, None, fields, &mut lent) else {
                    return;
                };
                self.stats.complaints_filed += 1;
                if let Some(county) = self.county_of(i) {
                    let at = self.complaints.len() as u32;
                    self.complaints.push(FiledComplaint {
                        record,
                        state: complaint,
                    });
                    let task = Task::Complaint { complaint: at };
                    self.nodes[county as usize].tasks.push_back(task);
                }
            }
            WritePlan::Edit { record, fields } => {
                self.write_edit(i, record, fields, &mut lent);
            }
            WritePlan::Task {
                task,
                record,
                fields,
                next,
            } => {
                let written = self.write_edit(i, record, fields, &mut lent);
                // A review is done with once tried; a complaint waits for its next step until
                // it is closed.
                match task {
                    Task::Review { post } if written => {
                        self.stats.reviews += 1;
                        self.posts[post as usize].approved = true;
                    }
                    Task::Complaint { .. } if written => self.stats.complaint_steps += 1,
                    _ => {}
                }
                let done = match (task, next) {
                    (Task::Complaint { .. }, _) if !written => false,
                    (Task::Complaint { complaint }, Some(next)) => {
                        let closed = next.status == ComplaintStatus::Closed;
                        self.stats.complaints_closed += u64::from(closed);
                        self.complaints[complaint as usize].state = next;
                        closed
                    }
                    _ => true,
                };
                if done {
                    self.nodes[i as usize].tasks.retain(|t| *t != task);
                    if matches!(task, Task::Complaint { .. }) {
                        self.docs.remove(&record);
                    }
                }
            }
        }
    }

    /// Node `i`'s post `record`, just written: its closure and perhaps a wage edit are
    /// scheduled.
    fn remember_post(&mut self, i: u32, record: RecordId, terms: PostTerms) {
        let post = self.posts.len() as u32;
        self.posts.push(Post {
            node: i,
            record,
            open: true,
            approved: terms.approved,
            reach: terms.reach,
            headcount: terms.headcount,
            placements: Vec::new(),
        });
        self.nodes[i as usize].open_posts.push(post);
        let life = self.exp(self.scenario.workload.post_life_days) * DAY as f64;
        let close = PostChange::Close;
        self.push(
            self.now + life as i64,
            Ev::PostEdit {
                post,
                change: close,
            },
        );
        if self.rng.random::<f64>() < self.nodes[i as usize].rates.post_edit_share {
            let t = self.rng.random::<f64>() * life / 2.0;
            let wage = PostChange::Wage(160 + self.rng.random_range(0..16u16) * 10);
            self.push(self.now + t as i64, Ev::PostEdit { post, change: wage });
        }
    }

    /// A post's edit or closure by its creator.
    pub(super) fn on_post_edit(&mut self, post: u32, change: PostChange, event: u64) {
        let mut lent = self.take_lent_writes(event);
        let Some((node, record, fields)) = self.plan_post_edit(post, change) else {
            return;
        };
        if change == PostChange::Close {
            self.posts[post as usize].open = false;
            self.nodes[node as usize].open_posts.retain(|&x| x != post);
            if let Some(township) = self.reviewer_of(node) {
                let review = Task::Review { post };
                self.nodes[township as usize].tasks.retain(|t| *t != review);
            }
        }
        self.write_edit(node, record, fields, &mut lent);
        if change == PostChange::Close {
            self.docs.remove(&record);
        }
    }

    /// A new record of `kind` by node `i`, now; its id if the node accepted it.
    pub(super) fn write_create(
        &mut self,
        i: u32,
        kind: RecordKind,
        reach: Option<RegionCode>,
        fields: Fields,
        lent: &mut LentWrites,
    ) -> Option<RecordId> {
        let n = &self.nodes[i as usize];
        let spec = self.create_spec(i, kind, reach, fields, self.now, (n.next_seq, n.head));
        let record = spec.record;
        self.sign_written(i, spec, lent).map(|_| record)
    }

    /// An edit of `record` by node `i`, now; whether the node accepted it.
    pub(super) fn write_edit(
        &mut self,
        i: u32,
        record: RecordId,
        fields: Fields,
        lent: &mut LentWrites,
    ) -> bool {
        let n = &self.nodes[i as usize];
        let spec = self.edit_spec(i, record, fields, self.now, (n.next_seq, n.head));
        spec.is_some_and(|spec| self.sign_written(i, spec, lent).is_some())
    }

    /// Writes `spec` at node `i`: the helper's answer if it worked out this very
    /// specification, else worked out here; then the node accepts it. Returns its arena
    /// index if accepted.
    fn sign_written(&mut self, i: u32, spec: WriteSpec, lent: &mut LentWrites) -> Option<u32> {
        let written = match lent.pop_front() {
            Some(done) if done.spec == spec => done,
            other => {
                if other.is_some() {
                    // Planned ahead from a state an event since has changed.
                    self.stats.lent_done_by_engine += 1;
                    lent.clear();
                }
                write(&self.nodes[i as usize].key, spec)
            }
        };
        let (env, doc) = written.change?;
        if let Some(doc) = doc {
            self.docs.insert(written.spec.record, doc);
        }
        self.accept_own(i, env)
    }

    /// The answers to event `event`'s writes, if they were lent to the helper.
    fn take_lent_writes(&mut self, event: u64) -> LentWrites {
        match self.take_lent_event(event) {
            Some(Done::Written(done)) => done.into(),
            Some(_) => unreachable!("a write event lends writes"),
            None => LentWrites::new(),
        }
    }
}

/// What placing on a post reads of it, from the fields it was written with.
struct PostTerms {
    approved: bool,
    reach: RegionCode,
    headcount: u32,
}

impl PostTerms {
    fn of(fields: &Fields, reach: RegionCode) -> PostTerms {
        let field = |name: &str| fields.iter().find(|(f, _)| *f == name).map(|(_, v)| v);
        PostTerms {
            approved: matches!(field("review"), Some(FieldValue::Text(t)) if t == ReviewState::Approved.as_str()),
            reach,
            headcount: match field("headcount") {
                Some(FieldValue::Int(h)) => (*h).clamp(0, i64::from(u32::MAX)) as u32,
                _ => 0,
            },
        }
    }
}

/// Seconds of working time (10 hours a day from 08:00) elapsed at wall time `ms`.
fn work_time(ms: i64) -> f64 {
    let day = ms.div_euclid(DAY);
    let into = (ms - day * DAY) as f64 / 1000.0 - 8.0 * 3600.0;
    day as f64 * 36_000.0 + into.clamp(0.0, 36_000.0)
}

/// Wall time (ms) of a working-time instant.
fn wall_time(work_s: f64) -> i64 {
    let day = (work_s / 36_000.0).floor();
    let into = work_s - day * 36_000.0;
    (day as i64) * DAY + ((8.0 * 3600.0 + into) * 1000.0) as i64
}

/// A station's directory entry, written when its node starts.
pub(super) fn directory_fields(n: &Node) -> Fields {
    vec![
        ("name", FieldValue::Text(format!("零工驿站 {}", n.region))),
        ("level", FieldValue::Text(n.level.as_str().into())),
        ("region", FieldValue::Text(n.region.to_string())),
        ("hours", FieldValue::Text("08:00-18:00".into())),
        ("hotline", FieldValue::Text("12333".into())),
        (
            "services",
            FieldValue::List(vec!["posts".into(), "registration".into()]),
        ),
    ]
}

/// A worker's registration record, through the worker schema (`id_masked` in the shape
/// `id_number::mask_id_number` gives: province and check digit only; a fixed stand-in hash).
/// An enterprise registered at node `n` with its `serial`: a unified social credit code valid
/// by GB 32100-2015 (its organization code and its own check characters computed), verified at
/// registration.
fn employer_at(n: &Node, serial: u64, created_at: String) -> Employer {
    let org = format!("{:08}", serial % 100_000_000);
    let org = format!("{org}{}", org_check_character(&org).expect("eight digits"));
    let first17 = format!("91{}{org}", &n.region.to_string()[..6]);
    let code = format!(
        "{first17}{}",
        check_character(&first17).expect("17 characters")
    );
    Employer {
        name: format!("用工主体 {serial}"),
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
        region: n.region,
        created_at,
    }
}

fn worker_fields(n: &Node, serial: u64, created_at: String) -> Fields {
    Worker {
        name: format!("worker {serial}"),
        id_masked: "52***************X".into(),
        id_hash: format!("v2:{serial:064x}"),
        phone: "13800000000".into(),
        skills: vec!["4-02-06-03".into(), "6-29-01-00".into()],
        wage_min: Some(150.0),
        flags: Vec::new(),
        available_from: None,
        available_to: None,
        status: WorkerStatus::Active,
        region: n.region,
        created_at,
    }
    .edits()
}
