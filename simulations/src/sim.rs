//! The discrete-event engine: one priority queue of timed events, virtual time, one seeded
//! generator for every choice, and every node running the protocol's own code.
//!
//! What each node does, and with which protocol code:
//! - **Local writes** (workload): [`Envelope::sign`] with the node's certified key (from
//!   [`Hierarchy`]), then [`accept_all`] into the node's own store, exactly as a station's
//!   command does.
//! - **Replication**: when a link is up and either end accepted something the other shares
//!   ([`Scope::share_with`]), the lower node opens a [`Session`] to its parent and the two are
//!   driven frame by frame as `node/src/net.rs` drives them (`start`, `receive`, accept,
//!   `next_frame`, `finished`), each frame arriving after the link's latency plus its
//!   encoded size ([`Frame::encoded_len`]) over the link's bandwidth and passing the limits
//!   [`Frame::decode`] applies ([`Frame::check_limits`]). A frame travels as the sender built
//!   it; in debug builds (every test) each one, and in release one in
//!   [`CODEC_CHECK_EVERY`], goes through [`Frame::encode`] and [`Frame::decode`] and must come
//!   back equal. The libp2p handshake (one hello frame each way with the certificate chain) is
//!   implicit, since both scopes are known, but its bytes and round trip are counted.
//! - **Accept**: every received envelope goes through [`accept_all`] against the node's
//!   [`SimStore`], with `AcceptConfig { materialize: false }`.
//!
//! Safety is checked as the run goes (every commit: no forged envelope, no bytes differing from
//! the original under the same id, record views implied by the held changes); after the run, a
//! convergence phase with every link up and no faults or workload runs until the network is
//! quiet, and [`crate::check`] compares every node's holdings with what its scope implies.

use crate::arena::{
    Arena, ArenaChange, CacheOverlay, ForgeryKind, Fresh, Holdings, Label, PREFETCH_AHEAD,
    SimStore, Tally, Verified, prefetch,
};
use crate::config::{LinkModel, Rates, Scenario};
use crate::helper::Helper;
use crate::topology::Topology;
use crate::verifier::Verifier;
use lingong_protocol::accept::{AcceptConfig, Accepted, accept_all_cached};
use lingong_protocol::canon::Hash32;
use lingong_protocol::cert::{CertBody, CertChain, Certificate};
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::error::Error;
use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
use lingong_protocol::keys::{NodeKey, PublicKey};
use lingong_protocol::reconcile::Bound;
use lingong_protocol::record::{self, FieldValue, RecordId, RecordKind, Revocation};
use lingong_protocol::region::{Level, RegionCode};
use lingong_protocol::scope::{Scope, Want, home_area};
use lingong_protocol::store::{NO_PREV, Staged, Store};
use lingong_protocol::sync::{
    Frame, Session, SharedSet, SyncConfig, SyncError, frame_is_empty, window_floor,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use writes::{LentWrites, PostChange, WriteJob, Written, directory_fields, write_all};

mod oversight;
mod seals;
mod writes;

/// Wall-clock time of the run's start: 2024-01-01T00:00:00Z, inside the fixture certificates'
/// validity.
pub const EPOCH_MS: i64 = 1_704_067_200_000;
const _: () = assert!(EPOCH_MS > (FIXTURE_NOT_BEFORE_S + 7200) * 1000);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// No session exchanges more frames than this; reaching it is a liveness failure.
const MAX_FRAMES: u32 = 100_000;
/// In release builds, one frame in this many is encoded and decoded on its way (in debug
/// builds every frame is): the round trip is a check of the codec, not part of the model
/// (the wire length is [`Frame::encoded_len`] either way).
pub const CODEC_CHECK_EVERY: u64 = 64;

/// How many frames the helper holds at most.
const MAX_LENT: usize = 16;

/// How many of the next events the engine looks through for work to lend the helper.
const LOOK_AHEAD: usize = 96;

/// The shortest delay of an event the engine schedules on a link other than the one (or the
/// node) it is handling: a change accepted at a node marks its other links for a sync
/// attempt this much later ([`Sim::mark_dirty`]). Work at a node with children (a frame's
/// arrival, a session's opening) is lent only if it is due sooner than this (see
/// [`Sim::lend_ahead`]).
const MIN_REMOTE_DELAY_MS: i64 = 1000;

/// Names of the event kinds, in the order of their trace tags (1-based).
pub const EVENT_KINDS: [&str; 13] = [
    "write",
    "post_edit",
    "link_toggle",
    "outage",
    "restore",
    "try_sync",
    "frame",
    "crash",
    "restart",
    "revoke",
    "sample",
    "cancel",
    "supervise",
];

/// A timed event. Ordered by time, then by insertion, so equal times run in a fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A local write at a node (workload arrival).
    Write {
        node: u32,
    },
    /// A post's edit or closure by its creator.
    PostEdit {
        post: u32,
        change: PostChange,
    },
    /// The link model flips a link up or down.
    Toggle {
        link: u32,
    },
    /// A long outage or a partition starts on a link.
    Outage {
        link: u32,
        until: i64,
        partition: bool,
    },
    /// A forced-down period ends.
    Restore {
        link: u32,
    },
    /// Try to open a session on a link.
    TrySync {
        link: u32,
    },
    /// A frame arrives (`lost`: it never does; the session times out now).
    Frame {
        link: u32,
        epoch: u32,
        to_parent: bool,
        lost: bool,
    },
    Crash {
        node: u32,
        lose: bool,
    },
    Restart {
        node: u32,
    },
    Revoke {
        node: u32,
    },
    /// Hourly statistics sample (and the quiescence check in the convergence phase).
    Sample,
    /// A county cancels a placement of an overfilled post it holds (`sim/oversight.rs`).
    Cancel {
        node: u32,
        post: u32,
    },
    /// A city's daily supervision of the stations below it (`sim/oversight.rs`).
    Supervise {
        node: u32,
    },
}

/// One node of the run.
pub struct Node {
    pub region: RegionCode,
    pub level: Level,
    pub scope: Scope,
    pub parent: Option<u32>,
    pub children: Vec<u32>,
    key: NodeKey,
    cert: Hash32,
    chain: CertChain,
    /// Size of this node's hello frame (certificate chain) in the implicit handshake.
    hello_len: u32,
    next_seq: u64,
    head: Hash32,
    /// The seed of its next write's own random choices, drawn when that write is scheduled
    /// (see `writes`).
    write_seed: u64,
    pub held: Holdings,
    /// Own envelopes, oldest first.
    pub own: Vec<u32>,
    pub down: bool,
    pub skew_ms: i64,
    /// When its revocation took effect (revoker's clock), if revoked.
    pub revoked_at: Option<i64>,
    pub misbehaving: bool,
    open_posts: Vec<u32>,
    workers: Vec<RecordId>,
    employers: Vec<RecordId>,
    directory: Option<RecordId>,
    /// Work waiting for this station: its villages' posts to review (a township), the
    /// complaints of its area to take a step further (a county); oldest first.
    tasks: VecDeque<writes::Task>,
    pub bytes_held: u64,
    pub evidence: u32,
    rates: Rates,
}

/// A post the workload may still edit or close, and what placing on it reads.
struct Post {
    node: u32,
    record: RecordId,
    open: bool,
    /// Approved (a village's post is pending until its township reviews it).
    approved: bool,
    reach: RegionCode,
    headcount: u32,
    /// Its placements (indices into `Sim::placements`).
    placements: Vec<u32>,
}

/// The link between a node and its parent (indexed by the child).
#[derive(Default)]
struct Link {
    /// Up according to the link model.
    up: bool,
    /// Down until then (long outage or partition).
    forced_until: i64,
    dirty: bool,
    try_pending: bool,
    last_start: i64,
    epoch: u32,
    active: Option<Box<Active>>,
    /// Work on this link is with the helper, ahead of its time (see [`crate::helper`]): a
    /// frame's arrival (`active` is empty meanwhile) or a session's opening (`kept` is).
    lent: bool,
    /// The two ends' shared sets, kept between sessions (every link for good by default).
    kept: Option<Box<KeptSets>>,
    /// When the last session that completed started, by the child's clock (what the child
    /// remembers to choose the next session's floor, `sync::window_floor`); forgotten when
    /// the child restarts.
    last_completed_ms: Option<i64>,
}

/// The item sets a link's two ends share with each other, as of the last session start,
/// windowed at that session's floor, and the envelopes each end has accepted since with
/// whether each filled a payload (inserted at the next session start: a running session
/// reconciles over the set it started with, as on a node).
struct KeptSets {
    child: Arc<SharedSet>,
    parent: Arc<SharedSet>,
    child_new: Vec<(u32, bool)>,
    parent_new: Vec<(u32, bool)>,
}

/// A session in progress on a link.
struct Active {
    child: Session,
    parent: Session,
    /// The frame in flight and its encoded length.
    frame: Option<(Frame, usize)>,
    frames: u32,
    /// Some change was deferred (author, record or clock not there yet): retry later.
    retry: bool,
    /// The child's clock at the start, remembered as `Link::last_completed_ms` if it completes.
    started_local_ms: i64,
}

impl Active {
    /// The session of the parent's end, or of the child's.
    fn side(&mut self, parent: bool) -> &mut Session {
        if parent {
            &mut self.parent
        } else {
            &mut self.child
        }
    }

    /// Changes either end held back for a peer whose clock is behind, so far.
    fn held_back(&self) -> u64 {
        self.child.stats().held_back + self.parent.stats().held_back
    }
}

/// Counters of the run.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub events: u64,
    /// Events by kind, indexed like [`EVENT_KINDS`].
    pub events_by_kind: [u64; EVENT_KINDS.len()],
    /// Shared sets built from a node's holdings (not kept ones brought up to date), and the
    /// holdings they read.
    pub set_builds: u64,
    pub set_build_items: u64,
    /// Sessions in which a side's windowed set could not answer (the two ends differed below
    /// the floor) and it took its whole set.
    pub whole_set_fallbacks: u64,
    /// Events whose work was lent to the helper thread ([`crate::helper`]; speed only).
    pub lent_to_helper: u64,
    /// Of those, done by the engine after all: the helper had not started them when their
    /// turn came.
    pub lent_done_by_engine: u64,
    /// Of those lent, writes (their Automerge change and signature).
    pub lent_writes: u64,
    /// Changes a side did not push because the peer's clock would date them from the future
    /// (`SyncStats::held_back`, summed over sessions, cut ones included).
    pub held_back: u64,
    pub writes: u64,
    /// Writes by record kind, indexed by the kind's wire value.
    pub writes_by_kind: [u64; 16],
    /// The desk's own work among the writes: village posts reviewed at their township,
    /// complaints filed, their status steps taken at the county, and those closed.
    pub reviews: u64,
    pub complaints_filed: u64,
    pub complaint_steps: u64,
    pub complaints_closed: u64,
    /// Overfilled posts a county saw (a post counted once per time it became overfilled
    /// there), placements it cancelled to resolve them, and posts still overfilled at their
    /// county after the convergence phase.
    pub overfills_seen: u64,
    pub placements_cancelled: u64,
    pub overfilled_left: u64,
    /// Rectification orders (限期整改) cities issued to stations with no post for
    /// `workload.stale_days`.
    pub supervision_orders: u64,
    /// Report seals written (counties, then cities, then the province), the child regions
    /// they name as missing, seals recomputed by the end check (at their sealer, and at the
    /// top node for every seal it holds) and those that did not recompute.
    pub seals: u64,
    pub seals_missing_children: u64,
    pub seals_verified: u64,
    pub seal_mismatches: u64,
    /// The figures the top node sealed (the last period's), for the report.
    pub top_seal: Option<lingong_protocol::report::Figures>,
    pub local_rejections: u64,
    pub sessions: u64,
    pub sessions_completed: u64,
    pub sessions_cut: u64,
    pub sessions_refused: u64,
    pub frames: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub deferred: u64,
    /// Deferrals by error code (what a change waited for).
    pub deferred_by_kind: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    pub evidence: u64,
    pub forged_injected: BTreeMap<String, u64>,
    pub replays_injected: u64,
    pub equivocations: u64,
    pub lost_unsynced_writes: u64,
    pub accepted_forgeries: u64,
    pub accepted_after_revocation: u64,
    /// Wire bytes and envelope bytes by the level of the link's lower end (depth 1..=4).
    pub wire_bytes: [u64; 5],
    pub envelope_bytes: [u64; 5],
    pub handshake_bytes: [u64; 5],
    pub payload_bytes_written: u64,
    pub sessions_by_level: [u64; 5],
    pub crashes: u64,
    pub revocations: u64,
    pub partitions: u64,
    pub outages: u64,
}

/// What a run produced, for the report and the checks.
pub struct Outcome {
    pub seed: u64,
    pub stats: Stats,
    pub days: f64,
    pub converge_days: f64,
    pub quiet: bool,
    pub failures: Vec<String>,
    pub latency_to_top_s: Vec<f32>,
    pub latency_to_reach_s: Vec<f32>,
    /// (day, missing deliveries) samples.
    pub backlog: Vec<(f64, u64)>,
    pub trace_hash: u64,
    pub top_region: RegionCode,
    pub node_count_by_level: [usize; 5],
    pub link_count_by_level: [usize; 5],
    pub check: crate::check::Summary,
}

/// FNV-1a over the run's events: equal seeds must give equal hashes.
#[derive(Clone, Copy)]
pub struct Trace(u64);

impl Trace {
    fn mix(&mut self, x: u64) {
        for b in x.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The simulation state.
pub struct Sim {
    pub scenario: Scenario,
    rng: ChaCha8Rng,
    pub now: i64,
    queue: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    /// The next events, in order, taken from `queue` so that the engine can look ahead
    /// ([`Sim::lend_ahead`]); everything here comes before everything in `queue`.
    ahead: VecDeque<(i64, u64, Ev)>,
    seq: u64,
    pub nodes: Vec<Node>,
    links: Vec<Link>,
    /// Every envelope; shared with the helper, changed only through [`Sim::change_arena`].
    pub arena: Arc<Arena>,
    /// With the helper, the arena's second copy, and the changes it lacks.
    spare: Option<Arc<Arena>>,
    behind: Vec<ArenaChange>,
    /// Per envelope, how many nodes hold it and how many expected holders have it.
    pub tallies: Vec<Tally>,
    posts: Vec<Post>,
    /// Every placement written, with its post and cancellation (`sim/oversight.rs`).
    placements: Vec<oversight::SimPlacement>,
    /// The placement of each placement record's creation (by arena index).
    placement_of: BTreeMap<u32, u32>,
    /// Posts with a cancellation scheduled at their county.
    cancel_pending: std::collections::BTreeSet<u32>,
    /// Per node, the time of its latest post change its city holds, and whether a city has
    /// ordered it to rectify (`sim/oversight.rs`).
    post_seen: Vec<i64>,
    ordered: Vec<bool>,
    /// Every report seal written (`sim/seals.rs`).
    seals: Vec<seals::SimSeal>,
    /// Every complaint filed, as it now stands at the county handling it.
    complaints: Vec<writes::FiledComplaint>,
    docs: BTreeMap<RecordId, Vec<u8>>,
    accept_cfg: AcceptConfig,
    /// Signatures this thread verified since the arena's shared cache
    /// ([`Arena::verified`]) last took them in: each change reaches hundreds of nodes in this
    /// one process, and verification is a pure function of the bytes (see
    /// `lingong_protocol::accept::SignatureCache`). Only speed depends on it.
    verified: Verified,
    /// The thread work is lent to (`run.frame_helper`), and the events whose work it holds.
    helper: Option<Helper<Job, Done>>,
    lent: Vec<u64>,
    /// Scratch for [`Sim::lend_ahead`]: per node, the last scan whose events act on it (a link
    /// is named by its lower node).
    touched: Vec<u32>,
    /// Likewise, per node, the last scan with one of its writes or post edits.
    written: Vec<u32>,
    /// Per node, the last write or post edit event the look-ahead planned (lent or not).
    planned: Vec<u64>,
    /// Per node, its parent (the root's is itself) and whether it has no children: the
    /// topology in a compact form for the look-ahead.
    parents: Vec<u32>,
    leaves: Vec<bool>,
    scan: u32,
    /// Verifies the signatures of the honest writes on another thread
    /// ([`crate::verifier`]).
    verifier: Verifier,
    sync_cfg: SyncConfig,
    pub stats: Stats,
    pub failures: Vec<String>,
    lat_top: Vec<f32>,
    lat_reach: Vec<f32>,
    backlog: Vec<(f64, u64)>,
    pub total_expected: u64,
    pub total_delivered: u64,
    trace: Trace,
    /// True in the convergence phase: links forced up, no faults, no workload.
    converging: bool,
    dirty_links: u64,
    active_sessions: u64,
    pending_tries: u64,
    end_ms: i64,
    region_index: BTreeMap<RegionCode, u32>,
    /// Revoked nodes: excluded from what the convergence check expects.
    pub revoked_nodes: Vec<u32>,
    progress_next: i64,
    progress_wall: u64,
    wall_start: std::time::Instant,
    /// Revocation envelopes issued so far (few), with the key each revokes.
    revocation_envelopes: Vec<(u32, PublicKey)>,
    topo: Topology,
}

impl Sim {
    /// Sets the whole run up from the scenario: topology, keys, faults, first events.
    pub fn new(scenario: Scenario) -> anyhow::Result<Sim> {
        scenario.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(scenario.run.seed);
        let topo = Topology::build(&scenario.run.only, scenario.run.villages_share, &mut rng)?;
        let mut hierarchy = Hierarchy::new(scenario.run.seed);
        let root = hierarchy.root();
        let mut nodes = Vec::with_capacity(topo.len());
        let mut region_index = BTreeMap::new();
        for (i, p) in topo.places.iter().enumerate() {
            let (key, chain) = hierarchy.node(&p.region);
            let hello_len = Frame {
                session: u64::MAX,
                hello: Some(chain.to_bytes()),
                ..Default::default()
            }
            .encode()
            .len() as u32;
            let rates = match p.level {
                Level::Province => scenario.workload.province.clone(),
                Level::City => scenario.workload.city.clone(),
                Level::County => scenario.workload.county.clone(),
                Level::Township => scenario.workload.township.clone(),
                Level::Village => scenario.workload.village.clone(),
            };
            region_index.insert(p.region, i as u32);
            nodes.push(Node {
                region: p.region,
                level: p.level,
                scope: Scope::new(p.region),
                parent: p.parent,
                children: p.children.clone(),
                cert: chain.leaf_hash(),
                chain,
                key,
                hello_len,
                next_seq: 1,
                head: NO_PREV,
                write_seed: 0,
                held: Holdings::default(),
                own: Vec::new(),
                down: false,
                skew_ms: 0,
                revoked_at: None,
                misbehaving: false,
                open_posts: Vec::new(),
                workers: Vec::new(),
                employers: Vec::new(),
                directory: None,
                tasks: VecDeque::new(),
                bytes_held: 0,
                evidence: 0,
                rates,
            });
        }
        let links = (0..nodes.len()).map(|_| Link::default()).collect();
        let end_ms = (scenario.run.days * DAY as f64) as i64;
        let sync_cfg = SyncConfig {
            max_frame_envelope_bytes: scenario.run.frame_envelope_bytes,
            window_margin_ms: (scenario.run.window_margin_s * 1000.0) as i64,
            ..SyncConfig::default()
        };
        let mut sim = Sim {
            rng,
            now: 0,
            queue: BinaryHeap::new(),
            ahead: VecDeque::new(),
            seq: 0,
            nodes,
            links,
            arena: Arc::new(Arena::default()),
            spare: None,
            behind: Vec::new(),
            tallies: Vec::new(),
            posts: Vec::new(),
            placements: Vec::new(),
            placement_of: BTreeMap::new(),
            cancel_pending: Default::default(),
            post_seen: Vec::new(),
            ordered: Vec::new(),
            seals: Vec::new(),
            complaints: Vec::new(),
            docs: BTreeMap::new(),
            accept_cfg: AcceptConfig {
                root,
                materialize: false,
            },
            verified: Verified::default(),
            helper: None,
            lent: Vec::new(),
            touched: Vec::new(),
            written: Vec::new(),
            planned: Vec::new(),
            parents: Vec::new(),
            leaves: Vec::new(),
            scan: 0,
            verifier: Verifier::spawn(),
            sync_cfg,
            stats: Stats::default(),
            failures: Vec::new(),
            lat_top: Vec::new(),
            lat_reach: Vec::new(),
            backlog: Vec::new(),
            total_expected: 0,
            total_delivered: 0,
            trace: Trace(0xcbf2_9ce4_8422_2325),
            converging: false,
            dirty_links: 0,
            active_sessions: 0,
            pending_tries: 0,
            end_ms,
            region_index,
            revoked_nodes: Vec::new(),
            progress_next: 0,
            progress_wall: 0,
            wall_start: std::time::Instant::now(),
            revocation_envelopes: Vec::new(),
            topo,
            scenario,
        };
        sim.setup()?;
        Ok(sim)
    }

    fn push(&mut self, at: i64, ev: Ev) {
        self.seq += 1;
        let at = at.max(self.now);
        match self.ahead.back() {
            Some(&(t, seq, _)) if (at, self.seq) < (t, seq) => {
                let pos = self
                    .ahead
                    .partition_point(|&(t, seq, _)| (t, seq) < (at, self.seq));
                self.ahead.insert(pos, (at, self.seq, ev));
            }
            _ => self.queue.push(Reverse((at, self.seq, ev))),
        }
    }

    /// The next event in order, if any.
    fn pop(&mut self) -> Option<(i64, u64, Ev)> {
        self.ahead
            .pop_front()
            .or_else(|| self.queue.pop().map(|Reverse(e)| e))
    }

    /// Makes `change` to the arena, with the signatures this thread verified since the last
    /// change joining the shared cache. With the helper, the arena is kept in two copies so
    /// that neither thread waits for the other: the helper starts each job over the newest
    /// copy (`arena`) and reads nothing else until the job ends, so of the two copies at
    /// least one is not being read. The engine brings that one up to date (the changes it is
    /// `behind`) and makes the change there; if it was the spare, the two swap roles.
    fn change_arena(&mut self, change: ArenaChange) {
        let mut changes = Vec::with_capacity(2);
        if !self.verified.is_empty() {
            changes.push(ArenaChange::Verified(std::mem::take(&mut self.verified)));
        }
        changes.push(change);
        let Some(helper) = self.helper.as_mut() else {
            let arena = Arc::get_mut(&mut self.arena)
                .expect("without a helper the engine holds the only reference to the arena");
            changes.into_iter().for_each(|c| arena.apply(c));
            return;
        };
        // No job starts over the newest copy while it may change.
        helper.withhold();
        let spare = self
            .spare
            .get_or_insert_with(|| Arc::new(Arena::clone(&self.arena)));
        if let Some(fresh) = Arc::get_mut(spare) {
            self.behind.drain(..).for_each(|c| fresh.apply(c));
            changes.iter().cloned().for_each(|c| fresh.apply(c));
            std::mem::swap(&mut self.arena, spare);
        } else {
            // The job running reads the spare.
            let arena = Arc::get_mut(&mut self.arena)
                .expect("the helper reads one copy of the arena at a time");
            changes.iter().cloned().for_each(|c| arena.apply(c));
        }
        self.behind.extend(changes);
        helper.publish(&self.arena);
    }

    /// Adds an envelope the simulator made to the arena (`Arena::intern`), with its tally;
    /// `signed_here` records its signature as good (the verifier thread checks it).
    fn intern(&mut self, env: Envelope, label: Label, creator: u32, signed_here: bool) -> u32 {
        let id = env.id();
        self.change_arena(ArenaChange::Intern {
            env: Box::new(env),
            id,
            label,
            created_ms: self.now,
            creator,
            signed_here,
        });
        let idx = self.arena.find(&id).expect("an envelope just interned");
        if self.tallies.len() <= idx as usize {
            self.tallies.resize(idx as usize + 1, Tally::default());
        }
        idx
    }

    fn exp(&mut self, mean: f64) -> f64 {
        let u: f64 = self.rng.random::<f64>();
        -mean * (1.0 - u).ln()
    }

    fn link_model(&self, link: u32) -> &LinkModel {
        let l = &self.scenario.links;
        match self.nodes[link as usize].level {
            Level::Province | Level::City => &l.city,
            Level::County => &l.county,
            Level::Township => &l.township,
            Level::Village => &l.village,
        }
    }

    fn setup(&mut self) -> anyhow::Result<()> {
        let n = self.nodes.len() as u32;
        // Every node publishes its certificate record and its directory entry at the start.
        for i in 0..n {
            self.publish_certificate(i);
            let fields = directory_fields(&self.nodes[i as usize]);
            let kind = RecordKind::Directory;
            let dir = self.write_create(i, kind, None, fields, &mut LentWrites::new());
            self.nodes[i as usize].directory = dir;
        }
        // Links start in their stationary state.
        for link in 1..n {
            let m = self.link_model(link).clone();
            let up = self.rng.random::<f64>() < m.mean_up_s / (m.mean_up_s + m.mean_down_s);
            self.links[link as usize].up = up;
            self.links[link as usize].dirty = true;
            self.dirty_links += 1;
            let mean = if up { m.mean_up_s } else { m.mean_down_s };
            let t = (self.exp(mean) * 1000.0) as i64;
            self.push(t, Ev::Toggle { link });
            if m.outage_per_day > 0.0 {
                let t = (self.exp(1.0 / m.outage_per_day) * DAY as f64) as i64;
                let d = self
                    .rng
                    .random_range(m.outage_min_days..=m.outage_max_days.max(m.outage_min_days));
                self.push(
                    t,
                    Ev::Outage {
                        link,
                        until: t + (d * DAY as f64) as i64,
                        partition: false,
                    },
                );
            }
            if up {
                self.poke(link, 0);
            }
        }
        // Workload.
        for i in 0..n {
            self.schedule_write(i);
        }
        self.setup_faults();
        self.setup_supervision();
        self.push(HOUR, Ev::Sample);
        Ok(())
    }

    fn pick(&mut self, level: Option<Level>, need_children: bool) -> Option<u32> {
        let candidates: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&i| {
                let n = &self.nodes[i as usize];
                n.parent.is_some()
                    && level.is_none_or(|l| n.level == l)
                    && (!need_children || !n.children.is_empty())
                    && !n.misbehaving
                    && n.revoked_at.is_none()
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[self.rng.random_range(0..candidates.len())])
    }

    fn fault_time(&mut self) -> i64 {
        let f: f64 = self.rng.random_range(0.15..0.7);
        (f * self.end_ms as f64) as i64
    }

    fn setup_faults(&mut self) {
        let f = self.scenario.faults.clone();
        let down = (f.crash_down_hours * HOUR as f64) as i64;
        for (count, lose) in [(f.crash_restart, false), (f.crash_lose, true)] {
            for _ in 0..count {
                // Crash-losing hits villages (offline most of the day, so unsynced writes are
                // likely); crash-restart hits townships (relays for their villages).
                let level = if lose {
                    Level::Village
                } else {
                    Level::Township
                };
                if let Some(node) = self
                    .pick(Some(level), false)
                    .or_else(|| self.pick(None, false))
                {
                    let t = self.fault_time();
                    self.push(t, Ev::Crash { node, lose });
                    self.push(t + down, Ev::Restart { node });
                }
            }
        }
        if f.skew_share > 0.0 {
            for i in 0..self.nodes.len() {
                if self.rng.random::<f64>() < f.skew_share {
                    let s = self.rng.random_range(-f.skew_small_s..=f.skew_small_s);
                    self.nodes[i].skew_ms = (s * 1000.0) as i64;
                }
            }
        }
        for k in 0..f.skew_large {
            if let Some(node) = self.pick(None, false) {
                let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
                self.nodes[node as usize].skew_ms = (sign * f.skew_large_s * 1000.0) as i64;
            }
        }
        for _ in 0..f.revoke {
            let node = self.pick(Some(Level::Village), false);
            if let Some(node) = node {
                let has_county = self.nodes[node as usize]
                    .region
                    .ancestor_at(Level::County)
                    .and_then(|c| self.region_index.get(&c))
                    .is_some();
                if has_county {
                    let t = self.fault_time();
                    self.push(t, Ev::Revoke { node });
                }
            }
        }
        for _ in 0..f.misbehave {
            if let Some(node) = self.pick(Some(Level::Township), true) {
                self.nodes[node as usize].misbehaving = true;
            }
        }
        for _ in 0..f.partition {
            // A whole county cut off from its city (a township in a one-county run).
            let link = self
                .pick(Some(Level::County), false)
                .or_else(|| self.pick(Some(Level::Township), true));
            if let Some(link) = link {
                let t = self.fault_time();
                let until = t + (f.partition_days * DAY as f64) as i64;
                self.push(
                    t,
                    Ev::Outage {
                        link,
                        until,
                        partition: true,
                    },
                );
            }
        }
    }

    // ----- writing -------------------------------------------------------------------------

    fn local_ms(&self, node: u32) -> i64 {
        self.local_ms_at(node, self.now)
    }

    /// Node `node`'s clock when the simulated time is `at`.
    fn local_ms_at(&self, node: u32, at: i64) -> i64 {
        EPOCH_MS + at + self.nodes[node as usize].skew_ms
    }

    fn publish_certificate(&mut self, i: u32) {
        let n = &self.nodes[i as usize];
        let me = n.key.public();
        let record = RecordId {
            creator: me,
            serial: n.next_seq,
        };
        let payload = n.chain.to_bytes();
        let (kind, region) = (RecordKind::Certificate, n.region);
        self.sign_and_accept(i, record, kind, region, region, payload);
    }

    /// Signs one envelope as node `i` at its clock and hands it to its own store through the
    /// accept path. Returns the arena index if accepted.
    fn sign_and_accept(
        &mut self,
        i: u32,
        record: RecordId,
        kind: RecordKind,
        region: RegionCode,
        reach: RegionCode,
        payload: Vec<u8>,
    ) -> Option<u32> {
        let ts = self.local_ms(i);
        let n = &self.nodes[i as usize];
        let env = Envelope::sign(
            &n.key, n.next_seq, n.head, record, kind, region, reach, ts, n.cert, payload,
        );
        self.accept_own(i, env)
    }

    /// Hands node `i`'s own envelope `env` (signed with its next sequence number on top of
    /// its head) to its store through the accept path. Returns the arena index if accepted.
    fn accept_own(&mut self, i: u32, env: Envelope) -> Option<u32> {
        let ts = env.header.timestamp_ms;
        let n = &self.nodes[i as usize];
        let label = match n.revoked_at {
            Some(at) if at <= ts => Label::AfterRevocation,
            _ => Label::Valid,
        };
        self.stats.payload_bytes_written += u64::from(env.header.payload_len);
        // Signed here: its signature is checked on the verifier's thread, not in the author's
        // accept below (see `crate::verifier`).
        let idx = self.intern(env.clone(), label, i, true);
        self.verifier.submit(env.clone());
        self.stats.writes += 1;
        self.stats.writes_by_kind[env.header.kind as usize] += 1;
        let accepted = self.accept_at(i, vec![env], None);
        if accepted == 0 {
            self.stats.local_rejections += 1;
            return None;
        }
        let n = &mut self.nodes[i as usize];
        n.next_seq += 1;
        n.head = self.arena.entries[idx as usize].id;
        n.own.push(idx);
        if label == Label::Valid {
            let expected = self.expected_count(idx);
            self.tallies[idx as usize].expected = expected;
            self.total_expected += u64::from(expected);
        }
        Some(idx)
    }

    // ----- the accept path -----------------------------------------------------------------

    /// Hands envelopes to node `i`'s store through the protocol's accept path and commits the
    /// batch; does the bookkeeping. Returns how many were newly accepted (or filled).
    fn accept_at(&mut self, i: u32, envs: Vec<Envelope>, via: Option<u32>) -> usize {
        let now_local = self.local_ms(i);
        let done = accept_into(
            &self.arena,
            &mut self.verified,
            &mut self.nodes[i as usize].held,
            &envs,
            now_local,
            &self.accept_cfg,
        );
        self.apply_accept(i, done, via)
    }

    /// The bookkeeping of an accept at node `i` ([`accept_into`]), in the order of its
    /// results. Returns how many envelopes were newly accepted (or filled).
    fn apply_accept(&mut self, i: u32, done: AcceptDone, via: Option<u32>) -> usize {
        let AcceptDone {
            results,
            fresh,
            evidence,
            foreign,
        } = done;
        self.nodes[i as usize].evidence += evidence;
        self.stats.evidence += u64::from(evidence);
        for f in foreign {
            self.stats.accepted_forgeries += 1;
            self.fail(format!("node {}: {f}", self.nodes[i as usize].region));
        }
        let mut deferred = false;
        for r in &results {
            match r {
                Ok(Accepted::New) | Ok(Accepted::PayloadFilled) => self.stats.accepted += 1,
                Ok(Accepted::Duplicate) => self.stats.duplicates += 1,
                Err(e)
                    if e.is_retryable()
                        || e.code() == "unknown-record"
                        || e.code() == "from-the-future" =>
                {
                    deferred = true;
                    self.stats.deferred += 1;
                    *self
                        .stats
                        .deferred_by_kind
                        .entry(e.code().to_string())
                        .or_default() += 1;
                }
                Err(e) => *self.stats.rejected.entry(e.code().to_string()).or_default() += 1,
            }
            let code = match r {
                Ok(a) => *a as u64,
                Err(e) => 100 + e.code().len() as u64,
            };
            self.trace.mix(code);
        }
        if deferred
            && let Some(link) = via
            && let Some(a) = self.links[link as usize].active.as_mut()
        {
            a.retry = true;
        }
        let n = fresh.len();
        for (k, f) in fresh.iter().copied().enumerate() {
            if let Some(ahead) = fresh.get(k + PREFETCH_AHEAD) {
                self.arena.prefetch_entry(ahead.idx);
                self.arena.prefetch_item(ahead.idx);
                prefetch(&self.tallies[ahead.idx as usize]);
            }
            if !f.filled {
                self.tallies[f.idx as usize].holders += 1;
            }
            self.on_fresh(i, f, via);
        }
        n
    }

    fn on_fresh(&mut self, i: u32, f: Fresh, via: Option<u32>) {
        let meta = *self.arena.meta(f.idx);
        let e = &self.arena.entries[f.idx as usize];
        let label = e.label;
        let created = e.created_ms;
        let creator = e.creator_node;
        let is_genesis = e.env.header.is_genesis();
        let (full, header) = (e.full_len, e.header_len);
        let node = &mut self.nodes[i as usize];
        node.bytes_held += u64::from(if f.has_payload { full } else { header });
        if f.filled {
            node.bytes_held -= u64::from(header);
        }
        let want = node.scope.wants(meta.kind, &meta.region, &meta.reach);
        let region = node.region;
        match label {
            Label::Forged(kind) => {
                self.stats.accepted_forgeries += 1;
                self.fail(format!("node {region} accepted a forged change ({kind:?})"));
            }
            Label::AfterRevocation => {
                if !f.filled {
                    self.stats.accepted_after_revocation += 1;
                }
            }
            Label::LostUnsynced => {
                self.fail(format!(
                    "node {region} received a write that was lost in a crash"
                ));
            }
            Label::Valid | Label::Equivocation { .. } => {
                let target = match label {
                    Label::Equivocation { original } => original,
                    _ => f.idx,
                };
                let satisfied_now = match want {
                    Want::Full => f.has_payload,
                    Want::Header => true,
                    Want::Nothing => false,
                };
                let satisfied_before = f.filled && want == Want::Header;
                let counts = !self.revoked_nodes.contains(&i)
                    && self.arena.entries[target as usize].label == Label::Valid;
                if satisfied_now && !satisfied_before && counts {
                    self.tallies[target as usize].delivered += 1;
                    self.total_delivered += 1;
                }
                if !f.filled && label == Label::Valid {
                    self.on_fresh_oversight(i, f.idx, meta.kind, is_genesis);
                }
                if !f.filled && meta.kind == RecordKind::Post && is_genesis && label == Label::Valid
                {
                    let lat = ((self.now - created) as f64 / 1000.0) as f32;
                    if i == 0 && creator != 0 {
                        self.lat_top.push(lat);
                    }
                    if self.nodes[i as usize].level == Level::Village && creator != i {
                        self.lat_reach.push(lat);
                    }
                }
            }
        }
        // Tell the links: the other end may want this. Link `i` (to the parent) first, then
        // one per child (a link is named by its lower end).
        let node = &self.nodes[i as usize];
        let me = node.scope;
        let up = node.parent.map(|parent| (i, parent));
        for k in 0..usize::from(up.is_some()) + self.nodes[i as usize].children.len() {
            let (link, peer) = match (up, k) {
                (Some(up), 0) => up,
                _ => {
                    let child = self.nodes[i as usize].children[k - usize::from(up.is_some())];
                    (child, child)
                }
            };
            let peer_scope = self.nodes[peer as usize].scope;
            if me.share_with(&peer_scope, meta.kind, &meta.region, &meta.reach) == Want::Nothing {
                continue;
            }
            // A kept set takes it in at the next session start, even on the link it came by.
            if let Some(kept) = self.links[link as usize].kept.as_mut() {
                if link == i {
                    kept.child_new.push((f.idx, f.filled));
                } else {
                    kept.parent_new.push((f.idx, f.filled));
                }
            }
            if Some(link) != via {
                self.mark_dirty(link);
            }
        }
    }

    fn fail(&mut self, what: String) {
        if self.failures.len() < 100 {
            self.failures.push(what);
        }
    }

    /// The nodes whose scope wants envelope `idx` (revoked nodes left out), with their want.
    pub fn expected_holders(&self, idx: u32, out: &mut Vec<(u32, Want)>) {
        out.clear();
        let meta = *self.arena.meta(idx);
        let mut candidates = Vec::new();
        // Ancestors and the record's own node.
        let mut r = Some(meta.region);
        while let Some(code) = r {
            if let Some(&n) = self.region_index.get(&code) {
                candidates.push(n);
            }
            r = code.parent();
        }
        let below = match meta.kind {
            RecordKind::Revocation | RecordKind::Evidence | RecordKind::SupervisionOrder => {
                Some(meta.reach)
            }
            RecordKind::Post => Some(meta.reach),
            // A placement also goes to its home area from scope rules version 3 on: the
            // candidates include the area, and each node's own rules (`wants`) decide.
            RecordKind::Certificate
            | RecordKind::Directory
            | RecordKind::Employer
            | RecordKind::Placement => Some(home_area(&meta.region)),
            _ => None,
        };
        if let Some(area) = below {
            // The area's ancestors (a revocation reaches them), then the area itself.
            let mut r = area.parent();
            while let Some(code) = r {
                if let Some(&n) = self.region_index.get(&code) {
                    candidates.push(n);
                }
                r = code.parent();
            }
            let top = self.nodes[0].region;
            let root = if top.contains(&area) {
                self.region_index.get(&area).copied()
            } else if area.contains(&top) {
                Some(0)
            } else {
                None
            };
            if let Some(root) = root {
                self.topo.subtree(root, &mut candidates);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        for n in candidates {
            if self.nodes[n as usize].revoked_at.is_some() && self.revoked_nodes.contains(&n) {
                continue;
            }
            let w = self.nodes[n as usize]
                .scope
                .wants(meta.kind, &meta.region, &meta.reach);
            if w != Want::Nothing {
                out.push((n, w));
            }
        }
    }

    fn expected_count(&self, idx: u32) -> u32 {
        let mut out = Vec::new();
        self.expected_holders(idx, &mut out);
        out.len() as u32
    }

    // ----- links and sessions --------------------------------------------------------------

    fn link_up(&self, link: u32) -> bool {
        self.link_up_at(link, self.now)
    }

    /// Whether `link` is up at `at`, as things stand (the engine's look-ahead asks for an
    /// event no earlier event on the link comes before).
    fn link_up_at(&self, link: u32, at: i64) -> bool {
        let l = &self.links[link as usize];
        self.converging || (l.up && at >= l.forced_until)
    }

    fn ends_up(&self, link: u32) -> bool {
        let parent = self.nodes[link as usize]
            .parent
            .expect("a link has a parent");
        !self.nodes[link as usize].down && !self.nodes[parent as usize].down
    }

    fn mark_dirty(&mut self, link: u32) {
        let l = &mut self.links[link as usize];
        if !l.dirty {
            l.dirty = true;
            self.dirty_links += 1;
        }
        if self.link_up(link) {
            self.poke(link, self.now + MIN_REMOTE_DELAY_MS);
        }
    }

    fn clear_dirty(&mut self, link: u32) {
        let l = &mut self.links[link as usize];
        if l.dirty {
            l.dirty = false;
            self.dirty_links -= 1;
        }
    }

    fn poke(&mut self, link: u32, at: i64) {
        let interval = (self.link_model(link).sync_interval_s * 1000.0) as i64;
        let l = &mut self.links[link as usize];
        if l.try_pending || l.active.is_some() || l.lent {
            return;
        }
        l.try_pending = true;
        self.pending_tries += 1;
        let at = at.max(l.last_start + interval);
        self.push(at, Ev::TrySync { link });
    }

    /// Whether node `node` holds a revocation of `key` (revocations are rare: a scan of
    /// those issued is cheap).
    fn knows_revoked(&self, node: u32, key: &PublicKey) -> bool {
        self.revocation_envelopes
            .iter()
            .any(|(i, revoked)| revoked == key && self.nodes[node as usize].held.get(*i).is_some())
    }

    fn on_try_sync(&mut self, link: u32, event: u64) {
        let l = &mut self.links[link as usize];
        l.try_pending = false;
        self.pending_tries -= 1;
        if let Some(done) = self.take_lent(link, event) {
            // Lent only if it opens a session (`Sim::opens_session`).
            let Done::Opened(done) = done else {
                unreachable!("a sync attempt was lent as one")
            };
            self.clear_dirty(link);
            self.after_open(link, *done);
            return;
        }
        let l = &self.links[link as usize];
        if l.active.is_some() || !l.dirty {
            return;
        }
        if !self.link_up(link) || !self.ends_up(link) {
            return;
        }
        if self.handshake_fails(link) {
            // The handshake fails: one side holds the other's revocation.
            self.stats.sessions_refused += 1;
            self.clear_dirty(link);
            return;
        }
        self.clear_dirty(link);
        let job = self.open_job(link, self.now);
        let done = open_session(&self.arena, job);
        self.after_open(link, done);
    }

    /// Whether the handshake on `link` fails: one end holds the other's revocation.
    fn handshake_fails(&self, link: u32) -> bool {
        let parent = self.nodes[link as usize].parent.expect("has parent");
        let ck = self.nodes[link as usize].key.public();
        let pk = self.nodes[parent as usize].key.public();
        self.knows_revoked(parent, &ck) || self.knows_revoked(link, &pk)
    }

    /// Whether a sync attempt on `link` at `at`, with no event on the link or its ends
    /// before, opens a session (the checks of [`Sim::on_try_sync`], as they will be then).
    fn opens_session(&self, link: u32, at: i64) -> bool {
        let l = &self.links[link as usize];
        l.active.is_none()
            && !l.lent
            && l.dirty
            && self.link_up_at(link, at)
            && self.ends_up(link)
            && !self.handshake_fails(link)
    }

    /// The work of opening a session on `link` at `at`, taken out of the engine: both ends'
    /// holdings and the link's kept sets (given back by [`Sim::after_open`]).
    fn open_job(&mut self, link: u32, at: i64) -> OpenJob {
        let windowed = self.windows_sets(link);
        // In the convergence phase every link is up at once: a link that would window its
        // sets but holds none (they were still whole, see `keeps_whole_sets_for_now`) builds
        // them per session rather than holding two whole sets for every village at once.
        let unkept = windowed && self.links[link as usize].kept.is_none();
        let keep = (self.keeps_sets_for_good(link) && !(self.converging && unkept))
            || (self.scenario.run.keep_sets_while_up && !self.converging);
        let parent = self.nodes[link as usize]
            .parent
            .expect("a link has a parent");
        let (child_clock, parent_clock) =
            (self.local_ms_at(link, at), self.local_ms_at(parent, at));
        let l = &mut self.links[link as usize];
        OpenJob {
            child: link,
            parent,
            child_held: std::mem::take(&mut self.nodes[link as usize].held),
            parent_held: std::mem::take(&mut self.nodes[parent as usize].held),
            child_scope: self.nodes[link as usize].scope,
            parent_scope: self.nodes[parent as usize].scope,
            kept: l.kept.take(),
            plan: SetPlan {
                windowed,
                keep,
                parallel: self.scenario.run.parallel_set_builds,
            },
            floor: window_floor(l.last_completed_ms, &self.sync_cfg),
            epoch: l.epoch.wrapping_add(1),
            child_clock,
            parent_clock,
            sync_cfg: self.sync_cfg,
        }
    }

    /// The rest of a session's opening, in the engine, once its sets and first frame are
    /// made ([`open_session`]): the link's state, the counts, the first frame sent.
    fn after_open(&mut self, link: u32, done: OpenDone) {
        let OpenDone {
            job,
            sessions: (cses, pses),
            first,
            builds,
        } = done;
        self.nodes[job.child as usize].held = job.child_held;
        self.nodes[job.parent as usize].held = job.parent_held;
        self.links[link as usize].kept = job.kept;
        self.stats.set_builds += builds.sets;
        self.stats.set_build_items += builds.items;
        let (child, parent) = (job.child, job.parent);
        let started_local_ms = job.child_clock;
        let l = &mut self.links[link as usize];
        l.epoch = job.epoch;
        l.last_start = self.now;
        let level = usize::from(self.nodes[child as usize].level.depth());
        let hs =
            u64::from(self.nodes[child as usize].hello_len + self.nodes[parent as usize].hello_len);
        self.stats.handshake_bytes[level] += hs;
        self.stats.wire_bytes[level] += hs;
        self.stats.sessions += 1;
        self.stats.sessions_by_level[level] += 1;
        self.active_sessions += 1;
        let m = self.link_model(link).clone();
        // The handshake's round trip, then the first frame.
        let handshake_ms = 2.0 * m.latency_ms + hs as f64 * 8000.0 / m.bandwidth_bps;
        let mut active = Box::new(Active {
            child: cses,
            parent: pses,
            frame: None,
            frames: 0,
            retry: false,
            started_local_ms,
        });
        let mut first = first;
        self.tamper(child, &mut first);
        self.send(link, &mut active, first, true, handshake_ms as i64);
        self.links[link as usize].active = Some(active);
    }

    /// Whether `link` windows its kept sets but they still list everything, because nothing
    /// lies below its sessions' floor yet (the first two days of a run, or since the child
    /// restarted): such a link drops them when it goes down (with `run.keep_sets_while_up`),
    /// so that 17,964 villages do not all hold two whole sets between their up windows.
    fn keeps_whole_sets_for_now(&self, link: u32) -> bool {
        self.windows_sets(link)
            && self.scenario.run.keep_sets_while_up
            && self.links[link as usize]
                .kept
                .as_ref()
                .is_some_and(|kept| kept.child.unlisted() == 0 && kept.parent.unlisted() == 0)
    }

    /// Whether `link`'s kept sets are windowed at each session's floor (its lower end deeper
    /// than `run.whole_sets_max_depth`) rather than whole.
    fn windows_sets(&self, link: u32) -> bool {
        self.nodes[link as usize].level.depth() > self.scenario.run.whole_sets_max_depth
    }

    /// Whether `link` drops its kept sets when it goes down and when the convergence phase
    /// starts: it does not keep them for good, or they are still whole for now.
    fn drops_sets_when_down(&self, link: u32) -> bool {
        !self.keeps_sets_for_good(link) || self.keeps_whole_sets_for_now(link)
    }

    /// Whether `link` keeps its shared sets between sessions for the whole run (its lower end
    /// at most `run.keep_sets_max_depth` deep); deeper links keep them through one up window.
    fn keeps_sets_for_good(&self, link: u32) -> bool {
        self.nodes[link as usize].level.depth() <= self.scenario.run.keep_sets_max_depth
    }

    fn send(&mut self, link: u32, a: &mut Active, frame: Frame, to_parent: bool, extra_ms: i64) {
        let wire_len = frame.encoded_len();
        if cfg!(debug_assertions) || self.stats.frames.is_multiple_of(CODEC_CHECK_EVERY) {
            self.check_codec(&frame, wire_len);
        }
        let level = usize::from(self.nodes[link as usize].level.depth());
        self.stats.wire_bytes[level] += wire_len as u64;
        self.stats.envelope_bytes[level] +=
            frame.envelopes.iter().map(|e| e.len() as u64).sum::<u64>();
        self.stats.frames += 1;
        let m = self.link_model(link);
        let transfer = m.latency_ms + wire_len as f64 * 8000.0 / m.bandwidth_bps;
        let loss = m.loss;
        let lost = !self.converging && self.rng.random::<f64>() < loss;
        let epoch = self.links[link as usize].epoch;
        a.frame = Some((frame, wire_len));
        a.frames += 1;
        self.push(
            self.now + extra_ms + transfer.ceil() as i64,
            Ev::Frame {
                link,
                epoch,
                to_parent,
                lost,
            },
        );
    }

    /// Encodes `frame` and decodes it again: it must come back equal, at `wire_len` bytes.
    fn check_codec(&mut self, frame: &Frame, wire_len: usize) {
        let bytes = frame.encode();
        match Frame::decode(&bytes) {
            Ok(back) if back == *frame && bytes.len() == wire_len => {}
            Ok(_) => self.fail(format!(
                "a frame of {wire_len} bytes did not survive encode and decode unchanged ({} bytes encoded)",
                bytes.len()
            )),
            // Over the limits: refused where it arrives (`on_frame`), as after decoding.
            Err(_) if frame.check_limits(wire_len).is_err() => {}
            Err(e) => self.fail(format!("a frame failed to decode: {e}")),
        }
    }

    fn abort(&mut self, link: u32) {
        let l = &mut self.links[link as usize];
        if let Some(a) = l.active.take() {
            self.active_sessions -= 1;
            self.stats.sessions_cut += 1;
            self.stats.held_back += a.held_back();
        }
        l.epoch = l.epoch.wrapping_add(1);
        self.mark_dirty(link);
    }

    fn on_frame(&mut self, link: u32, epoch: u32, to_parent: bool, lost: bool, event: u64) {
        if let Some(done) = self.take_lent(link, event) {
            let Done::Received(done) = done else {
                unreachable!("a frame was lent as one")
            };
            self.after_receive(link, to_parent, *done);
            return;
        }
        let l = &mut self.links[link as usize];
        if l.epoch != epoch || l.active.is_none() {
            return;
        }
        if lost || !self.link_up(link) || !self.ends_up(link) {
            self.abort(link);
            return;
        }
        let job = self.frame_job(link, to_parent, self.now);
        let done = receive_frame(&self.arena, job);
        self.after_receive(link, to_parent, done);
    }

    /// Lends the helper the work of the next events (frames' arrivals, sessions' openings)
    /// that nothing before them can change (see [`crate::helper`]). Such work reads only the
    /// holdings of the link's ends, the link's session or kept sets, and the arena. It is lent
    /// when no earlier event acts on the nodes it reads (a write, an edit of a post, or any
    /// event on one of their links: a toggle, outage or restore, a sync attempt, a frame) and
    /// no crash, restart, revocation or sample comes first (they act on many nodes). At a node
    /// with children, an event the engine schedules later could still act on it, no sooner
    /// than [`MIN_REMOTE_DELAY_MS`] ahead: work there is lent only if due sooner. A leaf can be
    /// reached only through its own link, which no one pokes while its session is active or
    /// lent. Events from `before` on are left alone.
    fn lend_ahead(&mut self, before: i64) {
        if self.helper.is_none() || self.lent.len() >= MAX_LENT {
            return;
        }
        while self.ahead.len() < LOOK_AHEAD {
            match self.queue.pop() {
                Some(Reverse(e)) => self.ahead.push_back(e),
                None => break,
            }
        }
        // A node is touched by the events scanned so far when its stamp is this scan's.
        self.scan = self.scan.wrapping_add(1);
        if self.scan == 0 {
            self.touched.fill(0);
            self.written.fill(0);
            self.scan = 1;
        }
        let scan = self.scan;
        if self.parents.len() != self.nodes.len() {
            // The topology, compact for the scan (the root's parent is itself).
            self.parents = (0..self.nodes.len() as u32)
                .map(|i| self.nodes[i as usize].parent.unwrap_or(i))
                .collect();
            self.leaves = self.nodes.iter().map(|n| n.children.is_empty()).collect();
        }
        let mut touched = std::mem::take(&mut self.touched);
        touched.resize(self.nodes.len(), 0);
        let mut written = std::mem::take(&mut self.written);
        written.resize(self.nodes.len(), 0);
        self.planned.resize(self.nodes.len(), 0);
        // The first event is next: the engine works it out itself.
        for k in 0..self.ahead.len() {
            let (t, event, ev) = self.ahead[k];
            if t >= before {
                break;
            }
            let link = match ev {
                Ev::Write { .. } | Ev::PostEdit { .. } => {
                    let node = match ev {
                        Ev::PostEdit { post, .. } => self.posts[post as usize].node,
                        Ev::Write { node } => node,
                        _ => unreachable!("a write or a post edit"),
                    };
                    // Only the node's earlier writes change what this one writes.
                    if k > 0
                        && written[node as usize] != scan
                        && self.planned[node as usize] != event
                    {
                        self.planned[node as usize] = event;
                        if let Some(job) = self.write_job(ev, t) {
                            self.stats.lent_writes += 1;
                            self.lend_event(event, t, Job::Write(Box::new(job)));
                            if self.lent.len() >= MAX_LENT {
                                break;
                            }
                        }
                    }
                    touched[node as usize] = scan;
                    written[node as usize] = scan;
                    continue;
                }
                // Rare writes at a node with children, scheduled at least
                // `MIN_REMOTE_DELAY_MS` ahead: the scan stops there.
                Ev::Crash { .. }
                | Ev::Restart { .. }
                | Ev::Revoke { .. }
                | Ev::Sample
                | Ev::Cancel { .. }
                | Ev::Supervise { .. } => break,
                Ev::Toggle { link } | Ev::Outage { link, .. } | Ev::Restore { link } => link,
                Ev::TrySync { link } => {
                    let parent = self.parents[link as usize];
                    // The parent has children: the horizon applies.
                    if k > 0
                        && touched[link as usize] != scan
                        && touched[parent as usize] != scan
                        && t < self.now + MIN_REMOTE_DELAY_MS
                        && self.opens_session(link, t)
                    {
                        let job = self.open_job(link, t);
                        self.lend(link, event, t, Job::Open(Box::new(job)));
                        if self.lent.len() >= MAX_LENT {
                            break;
                        }
                    }
                    link
                }
                Ev::Frame {
                    link,
                    epoch,
                    to_parent,
                    lost,
                } => {
                    let to = if to_parent {
                        self.parents[link as usize]
                    } else {
                        link
                    };
                    if k > 0
                        && !lost
                        && touched[to as usize] != scan
                        && (self.leaves[to as usize] || t < self.now + MIN_REMOTE_DELAY_MS)
                        && self.can_lend(link, epoch, t)
                    {
                        let job = self.frame_job(link, to_parent, t);
                        self.lend(link, event, t, Job::Receive(Box::new(job)));
                        if self.lent.len() >= MAX_LENT {
                            break;
                        }
                    }
                    link
                }
            };
            touched[link as usize] = scan;
            touched[self.parents[link as usize] as usize] = scan;
        }
        self.touched = touched;
        self.written = written;
    }

    /// The answer for event `event` on `link`, if its work was lent to the helper ([`Sim::lend`]).
    fn take_lent(&mut self, link: u32, event: u64) -> Option<Done> {
        let done = self.take_lent_event(event)?;
        self.links[link as usize].lent = false;
        Some(done)
    }

    /// The answer for event `event`, if its work was lent to the helper.
    fn take_lent_event(&mut self, event: u64) -> Option<Done> {
        let pos = self.lent.iter().position(|&e| e == event)?;
        self.lent.swap_remove(pos);
        let helper = self.helper.as_mut().expect("lent work has a helper");
        let (done, by_engine) = helper.take(event, &self.arena);
        self.stats.lent_done_by_engine += u64::from(by_engine);
        Some(done)
    }

    /// Lends `job`, the work of event `event` on `link` at `at`, to the helper.
    fn lend(&mut self, link: u32, event: u64, at: i64, job: Job) {
        self.links[link as usize].lent = true;
        self.lend_event(event, at, job);
    }

    /// Lends `job`, the work of event `event` at `at`, to the helper.
    fn lend_event(&mut self, event: u64, at: i64, job: Job) {
        self.lent.push(event);
        self.stats.lent_to_helper += 1;
        let helper = self.helper.as_mut().expect("only lent with a helper");
        helper.lend(event, at, job);
    }

    /// Whether the frame of session `epoch` on `link` may be lent, arriving at `at` with no
    /// event on the link or its ends before: the session is still this one and here, and the
    /// frame will not be cut on arrival (the link up then, both ends up).
    fn can_lend(&self, link: u32, epoch: u32, at: i64) -> bool {
        let l = &self.links[link as usize];
        l.epoch == epoch
            && l.active.is_some()
            && !l.lent
            && self.link_up_at(link, at)
            && self.ends_up(link)
    }

    /// The work of receiving the frame in flight on `link` at its receiving end, arriving at
    /// `at`, taken out of the engine: that end's holdings and the session (given back by
    /// [`Sim::after_receive`]).
    fn frame_job(&mut self, link: u32, to_parent: bool, at: i64) -> FrameJob {
        let node = if to_parent {
            self.nodes[link as usize].parent.expect("has parent")
        } else {
            link
        };
        // Only an end whose kept set is windowed can need its history.
        let windowed = self.windows_sets(link);
        let history = match self.links[link as usize].kept.as_mut() {
            Some(kept) if windowed => {
                let other = if to_parent {
                    link
                } else {
                    self.nodes[link as usize].parent.expect("has parent")
                };
                Some(History {
                    new: std::mem::take(if to_parent {
                        &mut kept.parent_new
                    } else {
                        &mut kept.child_new
                    }),
                    me: self.nodes[node as usize].scope,
                    peer: self.nodes[other as usize].scope,
                })
            }
            _ => None,
        };
        FrameJob {
            node,
            held: std::mem::take(&mut self.nodes[node as usize].held),
            active: self.links[link as usize]
                .active
                .take()
                .expect("a frame event has its session"),
            to_parent,
            now_local: self.local_ms_at(node, at),
            cfg: self.accept_cfg,
            history,
        }
    }

    /// The rest of a frame's arrival, in the engine, once its receiving end has received it
    /// ([`receive_frame`]): the accept's bookkeeping, then the session's end or its next
    /// frame.
    fn after_receive(&mut self, link: u32, to_parent: bool, done: FrameDone) {
        let FrameDone {
            node,
            held,
            active: mut a,
            received,
            mut verified,
            history,
            whole,
        } = done;
        if let Some(kept) = self.links[link as usize].kept.as_mut() {
            let (set, new) = if to_parent {
                (&mut kept.parent, &mut kept.parent_new)
            } else {
                (&mut kept.child, &mut kept.child_new)
            };
            if let Some(history) = history {
                *new = history.new;
            }
            if let Some((whole, items)) = whole {
                *set = whole;
                self.stats.set_builds += 1;
                self.stats.set_build_items += items as u64;
                self.stats.whole_set_fallbacks += 1;
            }
        }
        self.nodes[node as usize].held = held;
        self.verified.absorb(&mut verified);
        let mut next = match received {
            Received::OverLimits(e) => {
                self.fail(format!("a frame was refused: {e}"));
                self.links[link as usize].active = Some(a);
                self.abort(link);
                return;
            }
            Received::Refused(e) => {
                self.fail(format!("a sync frame was refused: {e}"));
                self.links[link as usize].active = Some(a);
                self.abort(link);
                return;
            }
            Received::Frame { accepted, next } => {
                if let Some(accepted) = accepted {
                    // The session's own retry flag lives in `a`, which is out of the link for
                    // now.
                    let before = self.stats.deferred;
                    self.apply_accept(node, accepted, Some(link));
                    if self.stats.deferred > before {
                        a.retry = true;
                    }
                }
                next
            }
        };
        if !to_parent && a.child.finished() && frame_is_empty(&next) {
            self.active_sessions -= 1;
            self.stats.sessions_completed += 1;
            let held_back = a.held_back();
            self.stats.held_back += held_back;
            self.links[link as usize].last_completed_ms = Some(a.started_local_ms);
            let interval = (self.link_model(link).sync_interval_s * 1000.0) as i64;
            // Changes deferred, or held back for a peer whose clock is behind: try again later
            // (a node's daemon syncs on a timer as well).
            if a.retry || held_back > 0 {
                self.mark_dirty(link);
                self.links[link as usize].try_pending = true;
                self.pending_tries += 1;
                let at = self.now + (self.scenario.run.retry_s * 1000.0) as i64;
                self.push(at.max(self.now + interval), Ev::TrySync { link });
            } else if self.links[link as usize].dirty && self.link_up(link) {
                self.poke(link, self.now + interval);
            }
            return;
        }
        if a.frames >= MAX_FRAMES {
            self.fail(format!(
                "a session on link {} exceeded {MAX_FRAMES} frames",
                self.nodes[link as usize].region
            ));
            self.links[link as usize].active = Some(a);
            self.abort(link);
            return;
        }
        self.tamper(node, &mut next);
        self.send(link, &mut a, next, !to_parent, 0);
        self.links[link as usize].active = Some(a);
    }

    fn on_toggle(&mut self, link: u32) {
        let m = self.link_model(link).clone();
        let l = &mut self.links[link as usize];
        l.up = !l.up;
        let up = l.up;
        let mean = if up { m.mean_up_s } else { m.mean_down_s };
        let t = (self.exp(mean) * 1000.0) as i64;
        self.push(self.now + t.max(1000), Ev::Toggle { link });
        if self.link_up(link) {
            if self.links[link as usize].dirty {
                self.poke(link, self.now);
            }
        } else {
            if self.links[link as usize].active.is_some() {
                self.abort(link);
            }
            if !up && self.drops_sets_when_down(link) {
                // Kept for one up window only.
                self.links[link as usize].kept = None;
            }
        }
    }

    fn on_outage(&mut self, link: u32, until: i64, partition: bool) {
        if !partition {
            let m = self.link_model(link).clone();
            if m.outage_per_day > 0.0 {
                let t = (self.exp(1.0 / m.outage_per_day) * DAY as f64) as i64;
                let d = self
                    .rng
                    .random_range(m.outage_min_days..=m.outage_max_days.max(m.outage_min_days));
                let at = self.now + t;
                if at < self.end_ms {
                    self.push(
                        at,
                        Ev::Outage {
                            link,
                            until: at + (d * DAY as f64) as i64,
                            partition: false,
                        },
                    );
                }
            }
        }
        if self.converging {
            return;
        }
        if partition {
            self.stats.partitions += 1;
        } else {
            self.stats.outages += 1;
        }
        let l = &mut self.links[link as usize];
        l.forced_until = l.forced_until.max(until);
        if l.active.is_some() {
            self.abort(link);
        }
        self.push(until, Ev::Restore { link });
    }

    fn node_links(&self, node: u32) -> Vec<u32> {
        let n = &self.nodes[node as usize];
        let mut v = Vec::with_capacity(n.children.len() + 1);
        if n.parent.is_some() {
            v.push(node);
        }
        v.extend_from_slice(&n.children);
        v
    }

    fn on_crash(&mut self, node: u32, lose: bool) {
        if self.converging {
            return;
        }
        self.nodes[node as usize].down = true;
        self.stats.crashes += 1;
        // What it remembered of its last session with its parent is gone.
        self.links[node as usize].last_completed_ms = None;
        for link in self.node_links(node) {
            if self.links[link as usize].active.is_some() {
                self.abort(link);
            }
        }
        if lose {
            self.lose_unsynced(node);
        }
    }

    /// The node's disk lost its writes that no other node holds yet: they vanish, and its log
    /// head goes back to its newest surviving envelope.
    fn lose_unsynced(&mut self, node: u32) {
        // Sets only grow by insertion: the node's kept sets are rebuilt at their next session.
        for link in self.node_links(node) {
            self.links[link as usize].kept = None;
        }
        let own = std::mem::take(&mut self.nodes[node as usize].own);
        let mut kept = Vec::with_capacity(own.len());
        for idx in own {
            let e = &self.arena.entries[idx as usize];
            if self.tallies[idx as usize].holders <= 1 && e.label == Label::Valid {
                let tally = &mut self.tallies[idx as usize];
                tally.holders = 0;
                let delivered = tally.delivered;
                let expected = tally.expected;
                let (bytes, record) = (u64::from(e.full_len), e.env.header.record);
                let label = Label::LostUnsynced;
                self.change_arena(ArenaChange::Relabel { idx, label });
                self.total_expected -= u64::from(expected);
                self.total_delivered -= u64::from(delivered);
                let n = &mut self.nodes[node as usize];
                n.held.remove(idx);
                n.bytes_held = n.bytes_held.saturating_sub(bytes);
                self.stats.lost_unsynced_writes += 1;
                // The workload forgets records whose creation was lost.
                self.docs.remove(&record);
                for p in self.posts.iter_mut() {
                    if p.record == record {
                        p.open = false;
                    }
                }
                let posts = &self.posts;
                let n = &mut self.nodes[node as usize];
                n.open_posts.retain(|&p| posts[p as usize].open);
                n.workers.retain(|w| *w != record);
            } else {
                kept.push(idx);
            }
        }
        let n = &mut self.nodes[node as usize];
        match kept
            .iter()
            .max_by_key(|&&i| self.arena.entries[i as usize].env.header.seq)
        {
            Some(&last) => {
                let e = &self.arena.entries[last as usize];
                n.next_seq = e.env.header.seq + 1;
                n.head = e.id;
            }
            None => {
                n.next_seq = 1;
                n.head = NO_PREV;
            }
        }
        n.own = kept;
    }

    fn on_restart(&mut self, node: u32) {
        self.nodes[node as usize].down = false;
        for link in self.node_links(node) {
            self.mark_dirty(link);
        }
    }

    fn on_revoke(&mut self, node: u32) {
        if self.converging {
            return;
        }
        let county = self.nodes[node as usize]
            .region
            .ancestor_at(Level::County)
            .and_then(|c| self.region_index.get(&c).copied());
        let Some(county) = county else { return };
        let target = self.nodes[node as usize].key.public();
        let at = self.local_ms(county);
        let c = &self.nodes[county as usize];
        let record = RecordId {
            creator: c.key.public(),
            serial: c.next_seq,
        };
        let region = c.region;
        let payload = Revocation {
            revoked: target,
            reason: "station closed after an audit".into(),
            chain: self.nodes[node as usize].chain.clone(),
        }
        .to_bytes();
        let county_knows = self.nodes[county as usize].held.iter().any(|(idx, _)| {
            let e = &self.arena.entries[idx as usize];
            e.env.header.kind == RecordKind::Certificate && e.env.header.author == target
        });
        if !county_knows {
            // The county has not yet received the station's certificate: try again later.
            self.push(self.now + HOUR, Ev::Revoke { node });
            return;
        }
        let reach = home_area(&self.nodes[node as usize].region);
        if self
            .sign_and_accept(
                county,
                record,
                RecordKind::Revocation,
                region,
                reach,
                payload,
            )
            .is_some()
        {
            let idx = *self.nodes[county as usize].own.last().expect("own");
            self.revocation_envelopes.push((idx, target));
            self.nodes[node as usize].revoked_at = Some(at);
            self.stats.revocations += 1;
            self.revoked_nodes.push(node);
            // The revoked node is no longer expected to receive anything.
            for idx in 0..self.arena.len() as u32 {
                let e = &self.arena.entries[idx as usize];
                if e.label != Label::Valid || self.tallies[idx as usize].expected == 0 {
                    continue;
                }
                let m = *self.arena.meta(idx);
                let w = self.nodes[node as usize]
                    .scope
                    .wants(m.kind, &m.region, &m.reach);
                if w == Want::Nothing {
                    continue;
                }
                let had = match self.nodes[node as usize].held.get(idx) {
                    None => false,
                    Some(p) => p || w == Want::Header,
                };
                self.tallies[idx as usize].expected -= 1;
                self.total_expected -= 1;
                if had {
                    self.tallies[idx as usize].delivered -= 1;
                    self.total_delivered -= 1;
                }
            }
        }
    }

    // ----- the misbehaving node ------------------------------------------------------------

    fn tamper(&mut self, node: u32, frame: &mut Frame) {
        if !self.nodes[node as usize].misbehaving
            || self.converging
            || self.rng.random::<f64>() >= self.scenario.faults.misbehave_rate
        {
            return;
        }
        match self.rng.random_range(0..10u32) {
            0..=1 => self.replay(node, frame),
            2 => self.equivocate(node, frame),
            _ => {
                let kind = ForgeryKind::ALL[self.rng.random_range(0..ForgeryKind::ALL.len())];
                if let Some(env) = self.forge(node, kind) {
                    *self
                        .stats
                        .forged_injected
                        .entry(format!("{kind:?}"))
                        .or_default() += 1;
                    frame.envelopes.push(env.to_bytes());
                }
            }
        }
    }

    fn replay(&mut self, node: u32, frame: &mut Frame) {
        let held = &self.nodes[node as usize].held;
        if held.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..held.len());
        let (idx, payload) = held.iter().nth(k).expect("in range");
        let env = &self.arena.entries[idx as usize].env;
        let env = if payload {
            env.clone()
        } else {
            env.header_only()
        };
        frame.envelopes.push(env.to_bytes());
        self.stats.replays_injected += 1;
    }

    fn equivocate(&mut self, node: u32, frame: &mut Frame) {
        // A second, different record under the sequence number of its latest record.
        let n = &self.nodes[node as usize];
        let Some(&orig) = n.own.iter().rev().find(|&&i| {
            let e = &self.arena.entries[i as usize];
            e.env.header.kind.is_document() && e.env.header.is_genesis() && e.label == Label::Valid
        }) else {
            return;
        };
        let already = self
            .arena
            .entries
            .iter()
            .rev()
            .take(5000)
            .any(|e| matches!(e.label, Label::Equivocation { original } if original == orig));
        let h = self.arena.entries[orig as usize].env.header;
        let fork = if already {
            // Re-send the existing fork instead of making another.
            self.arena
                .entries
                .iter()
                .rev()
                .find(|e| matches!(e.label, Label::Equivocation { original } if original == orig))
                .map(|e| e.env.clone())
        } else {
            let payload = format!("a different post under seq {}", h.seq).into_bytes();
            let env = Envelope::sign(
                &n.key,
                h.seq,
                h.prev,
                h.record,
                h.kind,
                h.region,
                h.reach,
                h.timestamp_ms,
                n.cert,
                payload,
            );
            self.intern(
                env.clone(),
                Label::Equivocation { original: orig },
                node,
                false,
            );
            self.stats.equivocations += 1;
            Some(env)
        };
        if let Some(env) = fork {
            frame.envelopes.push(env.to_bytes());
        }
    }

    /// Crafts one forgery of `kind` by misbehaving node `node`; interned as forged.
    fn forge(&mut self, node: u32, kind: ForgeryKind) -> Option<Envelope> {
        let ts = self.local_ms(node);
        let n = &self.nodes[node as usize];
        let me = n.key.public();
        // Far beyond its real log, so a forgery never collides with a real sequence number.
        let seq = n.next_seq + 1_000_000 + self.rng.random_range(0..1_000_000u64);
        let parent = n.parent.map(|p| &self.nodes[p as usize]);
        let post_payload = b"forged post".to_vec();
        let rid = RecordId {
            creator: me,
            serial: seq,
        };
        let env = match kind {
            ForgeryKind::TamperedHeader => {
                let mut env = Envelope::sign(
                    &n.key,
                    seq,
                    n.head,
                    rid,
                    RecordKind::Post,
                    n.region,
                    n.region,
                    ts,
                    n.cert,
                    post_payload,
                );
                env.header.reach = home_area(&n.region);
                env
            }
            ForgeryKind::Impersonation => {
                let p = parent?;
                let mut env = Envelope::sign(
                    &n.key,
                    seq,
                    NO_PREV,
                    RecordId {
                        creator: p.key.public(),
                        serial: seq,
                    },
                    RecordKind::Post,
                    p.region,
                    p.region,
                    ts,
                    p.cert,
                    post_payload,
                );
                env.header.author = p.key.public();
                env
            }
            ForgeryKind::OutOfJurisdiction => {
                let p = parent?;
                let sibling = p
                    .children
                    .iter()
                    .map(|&c| self.nodes[c as usize].region)
                    .find(|r| *r != n.region)?;
                Envelope::sign(
                    &n.key,
                    seq,
                    n.head,
                    rid,
                    RecordKind::Post,
                    sibling,
                    sibling,
                    ts,
                    n.cert,
                    post_payload,
                )
            }
            ForgeryKind::ReachTooWide => Envelope::sign(
                &n.key,
                seq,
                n.head,
                rid,
                RecordKind::Post,
                n.region,
                RegionCode::GUIZHOU,
                ts,
                n.cert,
                post_payload,
            ),
            ForgeryKind::UnauthorizedEdit => {
                let p = parent?;
                let pk = p.key.public();
                let target = p.own.iter().rev().find_map(|&i| {
                    let h = self.arena.entries[i as usize].env.header;
                    (h.kind == RecordKind::Post && h.record.creator == pk).then_some(h)
                })?;
                Envelope::sign(
                    &n.key,
                    seq,
                    n.head,
                    target.record,
                    target.kind,
                    target.region,
                    target.reach,
                    ts,
                    n.cert,
                    b"filled: 999".to_vec(),
                )
            }
            ForgeryKind::ForgedCertificate => {
                let p = parent?;
                let victim = p
                    .children
                    .iter()
                    .filter(|&&c| c != node)
                    .flat_map(|&c| self.nodes[c as usize].children.iter())
                    .next()
                    .map(|&v| self.nodes[v as usize].region)?;
                let k2 = NodeKey::from_seed(self.rng.random());
                let body = CertBody {
                    subject: k2.public(),
                    region: victim,
                    level: victim.level(),
                    issuer: me,
                    not_before: FIXTURE_NOT_BEFORE_S,
                    not_after: FIXTURE_NOT_BEFORE_S + 3000 * 86_400,
                };
                let leaf = Certificate::sign(&n.key, body, "forged station");
                let mut certs = vec![leaf.clone()];
                certs.extend(n.chain.certs().iter().cloned());
                let chain = CertChain::new(certs);
                Envelope::sign(
                    &k2,
                    1,
                    NO_PREV,
                    RecordId {
                        creator: k2.public(),
                        serial: 1,
                    },
                    RecordKind::Certificate,
                    victim,
                    victim,
                    ts,
                    leaf.hash(),
                    chain.to_bytes(),
                )
            }
            ForgeryKind::ForgedRevocation => {
                let p = parent?;
                Envelope::sign(
                    &n.key,
                    seq,
                    n.head,
                    rid,
                    RecordKind::Revocation,
                    n.region,
                    home_area(&p.region),
                    ts,
                    n.cert,
                    Revocation {
                        revoked: p.key.public(),
                        reason: "forged".into(),
                        chain: p.chain.clone(),
                    }
                    .to_bytes(),
                )
            }
            ForgeryKind::UncertifiedKey => {
                let k3 = NodeKey::from_seed(self.rng.random());
                Envelope::sign(
                    &k3,
                    1,
                    NO_PREV,
                    RecordId {
                        creator: k3.public(),
                        serial: 1,
                    },
                    RecordKind::Post,
                    n.region,
                    n.region,
                    ts,
                    [0; 32],
                    post_payload,
                )
            }
        };
        let id = env.id();
        if self.arena.find(&id).is_none() {
            self.intern(env.clone(), Label::Forged(kind), node, false);
        }
        Some(env)
    }

    // ----- the run -------------------------------------------------------------------------

    fn on_sample(&mut self) {
        let day = self.now as f64 / DAY as f64;
        self.backlog.push((
            day,
            self.total_expected.saturating_sub(self.total_delivered),
        ));
        self.push(self.now + HOUR, Ev::Sample);
    }

    fn progress(&mut self) {
        if !self.scenario.run.progress {
            return;
        }
        // Every quarter of a simulated day, or every ten seconds of wall time.
        let by_wall = self.stats.events.is_multiple_of(4096)
            && self.wall_start.elapsed().as_secs() >= self.progress_wall + 10;
        if self.now < self.progress_next && !by_wall {
            return;
        }
        self.progress_wall = self.wall_start.elapsed().as_secs();
        self.progress_next = self.now + DAY / 4;
        let wall = self.wall_start.elapsed().as_secs_f64();
        eprintln!(
            "[lingong-sim] day {:6.2}{} events {:>10} ({:>7.0}/s) changes {:>8} sessions {:>8} backlog {:>9} mem {:>6} MB",
            self.now as f64 / DAY as f64,
            if self.converging { " (converging)" } else { "" },
            self.stats.events,
            self.stats.events as f64 / wall.max(1e-9),
            self.arena.len(),
            self.stats.sessions,
            self.total_expected.saturating_sub(self.total_delivered),
            crate::report::peak_memory_bytes() / 1_000_000,
        );
    }

    fn step(&mut self, event: u64, ev: Ev) {
        self.stats.events += 1;
        let (tag, a, b): (u64, u32, u32) = match ev {
            Ev::Write { node } => (1, node, 0),
            Ev::PostEdit { post, change } => (2, post, u32::from(change == PostChange::Close)),
            Ev::Toggle { link } => (3, link, 0),
            Ev::Outage { link, .. } => (4, link, 0),
            Ev::Restore { link } => (5, link, 0),
            Ev::TrySync { link } => (6, link, 0),
            Ev::Frame { link, epoch, .. } => (7, link, epoch),
            Ev::Crash { node, .. } => (8, node, 0),
            Ev::Restart { node } => (9, node, 0),
            Ev::Revoke { node } => (10, node, 0),
            Ev::Sample => (11, 0, 0),
            Ev::Cancel { node, post } => (12, node, post),
            Ev::Supervise { node } => (13, node, 0),
        };
        self.stats.events_by_kind[tag as usize - 1] += 1;
        self.trace.mix(self.now as u64);
        self.trace
            .mix(tag << 48 | u64::from(a) << 16 | u64::from(b & 0xffff));
        match ev {
            Ev::Write { node } => self.on_write(node, event),
            Ev::PostEdit { post, change } => self.on_post_edit(post, change, event),
            Ev::Toggle { link } => self.on_toggle(link),
            Ev::Outage {
                link,
                until,
                partition,
            } => self.on_outage(link, until, partition),
            Ev::Restore { link } => {
                if self.link_up(link) && self.links[link as usize].dirty {
                    self.poke(link, self.now);
                }
            }
            Ev::TrySync { link } => self.on_try_sync(link, event),
            Ev::Frame {
                link,
                epoch,
                to_parent,
                lost,
            } => self.on_frame(link, epoch, to_parent, lost, event),
            Ev::Crash { node, lose } => self.on_crash(node, lose),
            Ev::Restart { node } => self.on_restart(node),
            Ev::Revoke { node } => self.on_revoke(node),
            Ev::Sample => self.on_sample(),
            Ev::Cancel { node, post } => self.on_cancel(node, post),
            Ev::Supervise { node } => self.on_supervise(node),
        }
        self.progress();
    }

    /// Runs the workload phase, then the convergence phase; returns the outcome.
    pub fn run(mut self) -> Outcome {
        self.run_mut()
    }

    /// [`Sim::run`] keeping the state, for tests that inspect or alter it afterwards.
    pub fn run_mut(&mut self) -> Outcome {
        if self.scenario.run.frame_helper && self.helper.is_none() {
            self.helper = Some(Helper::spawn(Arc::clone(&self.arena), work));
        }
        loop {
            self.lend_ahead(self.end_ms);
            let Some((t, event, ev)) = self.pop() else {
                break;
            };
            if t >= self.end_ms {
                self.ahead.push_front((t, 0, ev));
                break;
            }
            self.now = t;
            self.step(event, ev);
        }
        // Convergence: every link up, every node up, no workload and no faults.
        self.now = self.end_ms;
        self.converging = true;
        for link in 1..self.links.len() as u32 {
            if self.drops_sets_when_down(link) {
                self.links[link as usize].kept = None;
            }
        }
        for i in 0..self.nodes.len() as u32 {
            if self.nodes[i as usize].down {
                self.on_restart(i);
            }
        }
        // Every link syncs once more, the starts spread over an hour so that the sessions (and
        // the item sets they hold) do not all run at once.
        for link in 1..self.nodes.len() as u32 {
            let l = &mut self.links[link as usize];
            if !l.dirty {
                l.dirty = true;
                self.dirty_links += 1;
            }
            let at = self.now + self.rng.random_range(0..HOUR);
            self.poke(link, at);
        }
        // Overfills a county holds and has not resolved (its cancellation lost in a crash)
        // are taken up again.
        self.sweep_overfills();
        let limit = self.end_ms + (self.scenario.run.converge_max_days * DAY as f64) as i64;
        let mut quiet = self.until_quiet(limit);
        // Report seals in the DHIS2 order, each level once the one below has gone quiet
        // (`sim/seals.rs`).
        let mut views = seals::Views::default();
        for level in [Level::County, Level::City, Level::Province] {
            if quiet && self.nodes.iter().any(|n| n.level == level) {
                self.seal_level(level, &mut views);
                quiet = self.until_quiet(limit);
            }
        }
        let mut failures = std::mem::take(&mut self.failures);
        failures.extend(self.verifier.finish());
        if !quiet {
            failures.push(format!(
                "the network did not go quiet within {} days of convergence",
                self.scenario.run.converge_max_days
            ));
        }
        let check = crate::check::check(self);
        failures.extend(check.failures.iter().cloned());
        failures.extend(self.overfills_left());
        failures.extend(self.check_seals(&mut views));
        drop(views);
        self.outcome(quiet, failures, check)
    }

    /// Runs the convergence phase on until the network is quiet (no session, no sync attempt,
    /// no cancellation pending, at an hourly sample) or `limit`; whether it went quiet.
    fn until_quiet(&mut self, limit: i64) -> bool {
        let mut quiet = false;
        loop {
            self.lend_ahead(limit + 1);
            let Some((t, event, ev)) = self.pop() else {
                break;
            };
            if t > limit {
                break;
            }
            self.now = t;
            match ev {
                // Toggles, outages and writes no longer matter; drop them.
                Ev::Write { .. }
                | Ev::PostEdit { .. }
                | Ev::Toggle { .. }
                | Ev::Outage { .. }
                | Ev::Restore { .. }
                | Ev::Crash { .. }
                | Ev::Restart { .. }
                | Ev::Revoke { .. }
                | Ev::Supervise { .. } => continue,
                Ev::Sample => {
                    self.on_sample();
                    if self.active_sessions == 0
                        && self.pending_tries == 0
                        && self.cancel_pending.is_empty()
                    {
                        quiet = true;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            self.step(event, ev);
        }
        quiet
    }

    /// The outcome of the run, from the end check's results.
    fn outcome(
        &mut self,
        quiet: bool,
        failures: Vec<String>,
        check: crate::check::Check,
    ) -> Outcome {
        let converge_days = (self.now - self.end_ms) as f64 / DAY as f64;
        let mut nodes_by_level = [0; 5];
        let mut links_by_level = [0; 5];
        for n in &self.nodes {
            let d = usize::from(n.level.depth());
            nodes_by_level[d] += 1;
            if n.parent.is_some() {
                links_by_level[d] += 1;
            }
        }
        Outcome {
            seed: self.scenario.run.seed,
            days: self.scenario.run.days,
            converge_days,
            quiet,
            failures,
            latency_to_top_s: std::mem::take(&mut self.lat_top),
            latency_to_reach_s: std::mem::take(&mut self.lat_reach),
            backlog: std::mem::take(&mut self.backlog),
            trace_hash: self.trace.0,
            top_region: self.nodes[0].region,
            node_count_by_level: nodes_by_level,
            link_count_by_level: links_by_level,
            stats: self.stats.clone(),
            check: check.summary,
        }
    }
}

/// Work the engine lends the helper thread ([`crate::helper`]).
enum Job {
    Receive(Box<FrameJob>),
    Open(Box<OpenJob>),
    Write(Box<WriteJob>),
}

/// The helper's answer to a [`Job`].
enum Done {
    Received(Box<FrameDone>),
    Opened(Box<OpenDone>),
    Written(Vec<Written>),
}

/// Does a [`Job`]: on the helper thread, or in the engine when it needs the answer first.
fn work(arena: &Arena, job: Job) -> Done {
    match job {
        Job::Receive(job) => Done::Received(Box::new(receive_frame(arena, *job))),
        Job::Open(job) => Done::Opened(Box::new(open_session(arena, *job))),
        Job::Write(job) => Done::Written(write_all(*job)),
    }
}

/// How a link's two shared sets are had at a session start.
#[derive(Clone, Copy)]
struct SetPlan {
    /// Kept sets are windowed at each session's floor ([`Sim::windows_sets`]).
    windowed: bool,
    /// The sets are kept between sessions (else built for this session only).
    keep: bool,
    /// Two large sets are built on two threads (`run.parallel_set_builds`).
    parallel: bool,
}

/// Sets built from holdings, and the holdings they read.
#[derive(Default)]
struct SetBuilds {
    sets: u64,
    items: u64,
}

/// A session's opening on a link, taken out of the engine ([`Sim::open_job`]): both ends'
/// holdings, the link's kept sets, and what the session starts from.
struct OpenJob {
    child: u32,
    parent: u32,
    child_held: Holdings,
    parent_held: Holdings,
    child_scope: Scope,
    parent_scope: Scope,
    kept: Option<Box<KeptSets>>,
    plan: SetPlan,
    floor: Bound,
    /// The new session's epoch.
    epoch: u32,
    child_clock: i64,
    parent_clock: i64,
    sync_cfg: SyncConfig,
}

/// What [`open_session`] gives back: the job (holdings and kept sets as they are now), the
/// two ends' sessions (child's first), the child's first frame, and the sets built.
struct OpenDone {
    job: OpenJob,
    sessions: (Session, Session),
    first: Frame,
    builds: SetBuilds,
}

/// Opens a session on a link: the two ends' shared sets ([`shared_sets`]), their sessions,
/// and the child's first frame from the session's floor. Reads nothing of the engine but the
/// arena, so it may run on the helper thread.
fn open_session(arena: &Arena, mut job: OpenJob) -> OpenDone {
    let mut builds = SetBuilds::default();
    let (cset, pset) = shared_sets(
        arena,
        &mut job.kept,
        (&job.child_held, job.child_scope),
        (&job.parent_held, job.parent_scope),
        job.plan,
        job.floor,
        &mut builds,
    );
    let epoch = u64::from(job.epoch);
    let mut cses = Session::with_shared(epoch, job.child_scope, cset, Vec::new(), job.sync_cfg);
    let mut pses = Session::with_shared(epoch, job.parent_scope, pset, Vec::new(), job.sync_cfg);
    cses.set_clock(job.child_clock);
    pses.set_clock(job.parent_clock);
    let first = cses
        .start_from(job.floor)
        .expect("the kept sets are windowed at or below the session's floor");
    OpenDone {
        job,
        sessions: (cses, pses),
        first,
        builds,
    }
}

/// The sets the two ends of a link share with each other now (child's first), for a session
/// from `floor`: kept (in `kept`) and brought up to date, or built afresh. Either way they
/// answer exactly as the whole set [`Session::new`] would build from the end's holdings (a
/// kept set lists only what lies at or above the floor; when a session needs more, the end
/// takes its whole set, [`whole_set_at_start`]).
///
/// By default (`run.keep_sets_max_depth` = 4) every link keeps its two sets for the whole
/// run; below the county level (`run.whole_sets_max_depth` = 2) windowed at each session's
/// floor (`sync::window_floor`: two days below the start of the last session that
/// completed), so a set costs memory for its recent items and a session start costs what
/// arrived since the last one, however long the history. With a smaller depth, deeper links
/// keep theirs through one up window (`run.keep_sets_while_up`) or build them at every
/// session (the benchmark's baseline).
fn shared_sets(
    arena: &Arena,
    kept: &mut Option<Box<KeptSets>>,
    child: (&Holdings, Scope),
    parent: (&Holdings, Scope),
    plan: SetPlan,
    floor: Bound,
    builds: &mut SetBuilds,
) -> (Arc<SharedSet>, Arc<SharedSet>) {
    let (cs, ps) = (child.1, parent.1);
    let mut build_both = || {
        builds.sets += 2;
        builds.items += (child.0.len() + parent.0.len()) as u64;
        let (child_set, parent_set) =
            build_pair(arena, (child.0, cs, ps), (parent.0, ps, cs), plan.parallel);
        (Arc::new(child_set), Arc::new(parent_set))
    };
    if !plan.keep {
        return build_both();
    }
    let kept = kept.get_or_insert_with(|| {
        let (child, parent) = build_both();
        Box::new(KeptSets {
            child,
            parent,
            child_new: Vec::new(),
            parent_new: Vec::new(),
        })
    });
    let ends = [
        (&mut kept.child, &mut kept.child_new, child.0, cs, ps),
        (&mut kept.parent, &mut kept.parent_new, parent.0, ps, cs),
    ];
    for (set, new, held, me, peer) in ends {
        if set.floor().cmp_position(&floor).is_gt() {
            // The child forgot its last session (it restarted): the window must widen,
            // which only a build can do.
            builds.sets += 1;
            builds.items += held.len() as u64;
            *set = Arc::new(build_set(arena, held, me, peer));
            new.clear();
        }
        let set = Arc::get_mut(set).expect("no session holds a kept set between sessions");
        for k in 0..new.len() {
            if let Some(&(ahead, _)) = new.get(k + PREFETCH_AHEAD) {
                arena.prefetch_item(ahead);
            }
            let (idx, filled) = new[k];
            if let Some(payload) = held.get(idx) {
                let (meta, key) = arena.item(idx, payload);
                set.insert_fresh(&me, &peer, &meta, key, filled);
            }
        }
        new.clear();
        if plan.windowed {
            set.raise_floor(floor);
        }
    }
    (Arc::clone(&kept.child), Arc::clone(&kept.parent))
}

/// What an accept at one node produced, for [`Sim::apply_accept`]: the result per envelope,
/// what the commit added, and what it found amiss.
struct AcceptDone {
    results: Vec<Result<Accepted, Error>>,
    fresh: Vec<Fresh>,
    evidence: u32,
    foreign: Vec<String>,
}

/// Accepts `envs` into the holdings `held` through the protocol's accept path and commits the
/// batch: the part of an accept that reads only the node's holdings and the arena (the
/// signatures it verifies go to `verified`).
fn accept_into(
    arena: &Arena,
    verified: &mut Verified,
    held: &mut Holdings,
    envs: &[Envelope],
    now_local: i64,
    cfg: &AcceptConfig,
) -> AcceptDone {
    let mut store = SimStore::new(arena, held);
    let (results, batch) = {
        let mut staged = Staged::new(&store);
        let mut cache = CacheOverlay {
            shared: &arena.verified,
            local: verified,
        };
        let results = accept_all_cached(&mut staged, cfg, envs, now_local, &mut cache);
        (results, staged.into_batch())
    };
    store
        .commit(batch)
        .expect("the simulator's store never fails");
    AcceptDone {
        results,
        fresh: store.fresh,
        evidence: store.evidence,
        foreign: store.foreign,
    }
}

/// What one end of a link needs to make its whole set as it was at the session's start,
/// should a frame reach below its windowed kept set: the envelopes it has taken in since (the
/// link's `*_new` list, moved out of the kept sets for the frame's job and given back after)
/// and the two ends' scopes.
struct History {
    new: Vec<(u32, bool)>,
    me: Scope,
    peer: Scope,
}

/// The whole set an end shared with the other when the running session started, for a session
/// whose windowed set could not answer: its holdings `held` less what it has taken in since
/// (`history.new`), a filled payload counted as the header it was. It replaces the kept set
/// (the next session start brings it up to date and windows it again).
fn whole_set_at_start(arena: &Arena, held: &Holdings, history: &History) -> SharedSet {
    // Per envelope taken in since the start, in index order: whether it was held (as a
    // header) before. Walked beside the holdings, which are in index order too.
    let mut since: Vec<(u32, bool)> = history.new.clone();
    since.sort_unstable_by_key(|&(idx, _)| idx);
    since.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            first.1 &= later.1;
        }
        same
    });
    let mut since = since.into_iter().peekable();
    let at_start = arena.held_items(held).filter_map(|(idx, payload)| {
        while since.next_if(|&(taken, _)| taken < idx).is_some() {}
        match since.next_if(|&(taken, _)| taken == idx) {
            None => Some(arena.item(idx, payload)),
            Some((_, true)) => Some(arena.item(idx, false)),
            Some((_, false)) => None,
        }
    });
    SharedSet::build_keyed(&history.me, &history.peer, at_start)
}

/// A frame's arrival at one end of a link, taken out of the engine ([`Sim::frame_job`]): that
/// end's holdings, the session (with the frame in flight), that end's clock and, for a
/// windowed kept set, what it needs should the frame reach below the window ([`History`]).
struct FrameJob {
    node: u32,
    held: Holdings,
    active: Box<Active>,
    to_parent: bool,
    now_local: i64,
    cfg: AcceptConfig,
    /// For an end whose kept set is windowed.
    history: Option<History>,
}

/// What [`receive_frame`] gives back: the job's holdings and session, and what happened.
struct FrameDone {
    node: u32,
    held: Holdings,
    active: Box<Active>,
    received: Received,
    /// Signatures verified on the way.
    verified: Verified,
    /// The job's history, given back.
    history: Option<History>,
    /// The whole set the end took when the frame reached below its windowed set, and the
    /// number of envelopes it held then.
    whole: Option<(Arc<SharedSet>, usize)>,
}

/// How a frame's arrival went.
enum Received {
    /// Over the limits `Frame::decode` applies: refused, the session is cut.
    OverLimits(SyncError),
    /// The session refused the frame: the session is cut.
    Refused(SyncError),
    /// Received: the accept of the envelopes it carried, if any, and the next frame.
    Frame {
        accepted: Option<AcceptDone>,
        next: Frame,
    },
}

/// Receives the frame in flight at the job's end of the session: the limits, the session's
/// `receive`, the accept of the envelopes it carried, and the next frame. Reads nothing of
/// the engine but the arena, so it may run on the helper thread (see [`crate::helper`]).
fn receive_frame(arena: &Arena, mut job: FrameJob) -> FrameDone {
    let mut verified = Verified::default();
    let mut whole = None;
    let (frame, wire_len) = job
        .active
        .frame
        .take()
        .expect("a frame event has its frame");
    let received = if let Err(e) = frame.check_limits(wire_len) {
        Received::OverLimits(e)
    } else {
        let session = job.active.side(job.to_parent);
        let mut taken = session.receive(&frame, wire_len);
        if let Err(SyncError::NeedsHistory) = taken {
            // The frame reaches below the end's windowed set: the end takes its whole set and
            // receives the frame again (the session is as it was before the first try).
            let history = job.history.as_ref().expect("only a kept set is windowed");
            let set = Arc::new(whole_set_at_start(arena, &job.held, history));
            session.supply_history(Arc::clone(&set));
            whole = Some((set, job.held.len()));
            taken = session.receive(&frame, wire_len);
        }
        match taken {
            Err(e) => Received::Refused(e),
            Ok(envs) => {
                let accepted = (!envs.is_empty()).then(|| {
                    accept_into(
                        arena,
                        &mut verified,
                        &mut job.held,
                        &envs,
                        job.now_local,
                        &job.cfg,
                    )
                });
                let held = &job.held;
                let next = job
                    .active
                    .side(job.to_parent)
                    .next_frame(&mut |id, want| load(arena, held, id, want));
                Received::Frame { accepted, next }
            }
        }
    };
    FrameDone {
        node: job.node,
        held: job.held,
        active: job.active,
        received,
        verified,
        history: job.history,
        whole,
    }
}

/// The wire bytes of an envelope a node holds, in the form it holds it or without the payload
/// when the peer wants only the header.
fn load(arena: &Arena, held: &Holdings, id: &EnvelopeId, want: Want) -> Option<Vec<u8>> {
    let idx = arena.find(id)?;
    let payload = held.get(idx)?;
    let env = &arena.entries[idx as usize].env;
    Some(env.to_bytes_in_form(payload && want != Want::Header))
}

/// The whole set `me` shares with `peer` from its holdings `held`.
fn build_set(arena: &Arena, held: &Holdings, me: Scope, peer: Scope) -> SharedSet {
    SharedSet::build_keyed(
        &me,
        &peer,
        arena.held_items(held).map(|(i, p)| arena.item(i, p)),
    )
}

/// Holdings at or above which the two sets of a session start are built on two threads.
const PARALLEL_BUILD_MIN: usize = 1_500;

/// The sets the two ends of a link share with each other, built from their holdings
/// (`(holdings, own scope, peer scope)` for each end). Building is a pure function of the
/// arguments, so when both ends hold many envelopes (and `parallel`, `run.parallel_set_builds`)
/// the child's set is built on a second thread (the machine has two cores) and the run stays
/// the same.
fn build_pair(
    arena: &Arena,
    child: (&Holdings, Scope, Scope),
    parent: (&Holdings, Scope, Scope),
    parallel: bool,
) -> (SharedSet, SharedSet) {
    let build = |(held, me, peer): (&Holdings, Scope, Scope)| build_set(arena, held, me, peer);
    if !parallel || child.0.len().min(parent.0.len()) < PARALLEL_BUILD_MIN {
        return (build(child), build(parent));
    }
    std::thread::scope(|scope| {
        let child_set = scope.spawn(|| build(child));
        let parent_set = build(parent);
        (
            child_set
                .join()
                .expect("building a shared set does not panic"),
            parent_set,
        )
    })
}
