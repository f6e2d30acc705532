//! The workload's oversight: overfilled posts resolved by their county, and cities'
//! rectification orders to silent stations.
//!
//! - **Overfills.** A station places a worker on an approved post of its own, or of its parent
//!   when the post reaches it, only if the post has a place left *as the station sees it* (the
//!   placements it holds naming the post, not cancelled there: the fill arithmetic of
//!   `lingong_protocol::schema::fill`). Placements travel up and to every station of their
//!   county (scope rules version 3), so a station sees every placement on a post it can place
//!   on once it synced; two stations can still take the last place between two syncs, and
//!   the post becomes overfilled. The county holds every placement
//!   of its area; when it accepts one that leaves a post overfilled as it holds it, it cancels
//!   the newest live placement on the post (`placement cancel` semantics: a signed edit of the
//!   placement record, status `cancelled` with a reason) [`CANCEL_DELAY_MS`] later, in the
//!   convergence phase too: `field-figures.md` gives no rate for this, so the county acts as
//!   soon as it sees the overfill. After the convergence phase no post may be overfilled at its
//!   county ([`Sim::overfills_left`]) unless that county's certificate was revoked.
//! - **Supervision.** Each city (in a one-county run, the county, as `supervise order` also
//!   allows) looks at the stations below it once a working day (17:00) and
//!   orders every one whose latest post change it holds (or its certification, for a station
//!   that never posted) is older than `workload.stale_days` (the node's `supervise` default,
//!   14 days) to rectify (限期整改, a supervision order record through its schema, reach the
//!   station's home area, deadline ten days on), once per station: the rule of
//!   `node/src/services/supervision.rs` (`no-posts`) at the rate the stations' own posting
//!   leaves; `field-figures.md` gives no rate of its own.

use super::*;
use lingong_protocol::dates;
use lingong_protocol::schema::{Choice, PlacementStatus, Schema, SupervisionOrder};

/// How long after accepting the placement that overfills a post its county cancels one.
pub(super) const CANCEL_DELAY_MS: i64 = 10 * 60 * 1000;
/// Days a rectification order gives the station.
const ORDER_DEADLINE_DAYS: i64 = 10;
/// The reason a county writes on the placement it cancels.
const CANCEL_REASON: &str =
    "岗位超额录用，撤销最后确认的一条 (post overfilled: the last placement confirmed is cancelled)";

/// A placement written by the workload.
pub(super) struct SimPlacement {
    record: RecordId,
    /// Arena index of its creation.
    genesis: u32,
    post: u32,
    /// Arena index of its county's cancellation, once written.
    cancel: Option<u32>,
}

impl Sim {
    /// The post node `i` places a worker on now, if any: one of its own approved open posts or
    /// of its parent's that reach it and it holds, chosen with `rng`, if the post has a place
    /// left as `i` sees it.
    pub(super) fn placement_post(&self, i: u32, rng: &mut ChaCha8Rng) -> Option<u32> {
        let n = &self.nodes[i as usize];
        let own = n.open_posts.iter().copied();
        let parent = n
            .parent
            .map(|p| self.nodes[p as usize].open_posts.as_slice());
        let candidates: Vec<u32> = own
            .chain(parent.unwrap_or_default().iter().copied().filter(|&p| {
                let post = &self.posts[p as usize];
                post.reach.contains(&n.region)
                    && self
                        .genesis_of(&post.record)
                        .is_some_and(|g| n.held.get(g).is_some())
            }))
            .filter(|&p| self.posts[p as usize].approved)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let p = candidates[rng.random_range(0..candidates.len())];
        (self.filled_at(i, p) < self.posts[p as usize].headcount).then_some(p)
    }

    /// The live placements on post `p` node `i` holds (created and not cancelled as held there).
    fn live_at(&self, i: u32, p: u32) -> impl Iterator<Item = u32> + '_ {
        let held = &self.nodes[i as usize].held;
        self.posts[p as usize]
            .placements
            .iter()
            .copied()
            .filter(move |&k| {
                let pl = &self.placements[k as usize];
                held.get(pl.genesis).is_some() && pl.cancel.is_none_or(|c| held.get(c).is_none())
            })
    }

    /// Post `p`'s fill as node `i` holds it.
    fn filled_at(&self, i: u32, p: u32) -> u32 {
        self.live_at(i, p).count() as u32
    }

    /// The node that resolves post `p`'s overfills: the county of its station (the post's own
    /// station above the county).
    fn overfill_watcher(&self, p: u32) -> u32 {
        let node = self.posts[p as usize].node;
        self.county_of(node).unwrap_or(node)
    }

    /// Placement `record` on post `post`, just written by node `i`.
    pub(super) fn remember_placement(&mut self, i: u32, post: u32, record: RecordId) {
        let Some(genesis) = self.genesis_of(&record) else {
            return;
        };
        let k = self.placements.len() as u32;
        self.placements.push(SimPlacement {
            record,
            genesis,
            post,
            cancel: None,
        });
        self.posts[post as usize].placements.push(k);
        self.placement_of.insert(genesis, k);
        // Its author's own accept came before it was known here: it may be the post's county.
        self.watch_overfill(i, post);
    }

    /// Bookkeeping of a valid change node `i` accepted new (`idx`, of `kind`).
    pub(super) fn on_fresh_oversight(&mut self, i: u32, idx: u32, kind: RecordKind, genesis: bool) {
        match kind {
            RecordKind::Placement if genesis => {
                if let Some(&k) = self.placement_of.get(&idx) {
                    let post = self.placements[k as usize].post;
                    self.watch_overfill(i, post);
                }
            }
            RecordKind::Post if self.supervises(i) => {
                let e = &self.arena.entries[idx as usize];
                let creator = e.creator_node as usize;
                let t = e.env.header.timestamp_ms;
                if creator != i as usize
                    && let Some(seen) = self.post_seen.get_mut(creator)
                {
                    *seen = (*seen).max(t);
                }
            }
            _ => {}
        }
    }

    /// Schedules a cancellation if node `i`, which just took in a placement on post `p`, is
    /// the post's county, the post is overfilled there and no cancellation is pending.
    fn watch_overfill(&mut self, i: u32, p: u32) {
        let county = self.overfill_watcher(p);
        if i != county || self.cancel_pending.contains(&p) {
            return;
        }
        if self.filled_at(county, p) > self.posts[p as usize].headcount {
            self.stats.overfills_seen += 1;
            self.cancel_pending.insert(p);
            self.push(
                self.now + CANCEL_DELAY_MS,
                Ev::Cancel {
                    node: county,
                    post: p,
                },
            );
        }
    }

    /// County `i` cancels the newest live placement of post `p` if the post is still
    /// overfilled as it holds it.
    pub(super) fn on_cancel(&mut self, i: u32, p: u32) {
        if self.nodes[i as usize].down {
            self.push(self.now + HOUR, Ev::Cancel { node: i, post: p });
            return;
        }
        self.cancel_pending.remove(&p);
        let headcount = self.posts[p as usize].headcount;
        if self.filled_at(i, p) <= headcount {
            return;
        }
        let newest = self.live_at(i, p).max_by_key(|&k| {
            let pl = &self.placements[k as usize];
            let h = &self.arena.entries[pl.genesis as usize].env.header;
            (h.timestamp_ms, pl.record)
        });
        let Some(k) = newest else {
            return;
        };
        let record = self.placements[k as usize].record;
        let fields = vec![
            (
                "status",
                FieldValue::Text(PlacementStatus::Cancelled.as_str().into()),
            ),
            ("cancel_reason", FieldValue::Text(CANCEL_REASON.into())),
        ];
        if self.write_edit(i, record, fields, &mut LentWrites::new()) {
            let idx = *self.nodes[i as usize]
                .own
                .last()
                .expect("an edit just accepted");
            self.placements[k as usize].cancel = Some(idx);
            self.stats.placements_cancelled += 1;
            self.docs.remove(&record);
            // Overfilled by more than one: the next one shortly. (A cancellation its own store
            // refuses is not tried again: the end check reports the post.)
            self.watch_overfill(i, p);
        }
    }

    /// Schedules a cancellation for every post overfilled at its county (at the start of the
    /// convergence phase: a cancellation lost in a crash is taken up again).
    pub(super) fn sweep_overfills(&mut self) {
        for p in 0..self.posts.len() as u32 {
            if !self.posts[p as usize].placements.is_empty() {
                let county = self.overfill_watcher(p);
                self.watch_overfill(county, p);
            }
        }
    }

    /// Posts still overfilled at their county after the convergence phase, as failures
    /// (counted in `Stats::overfilled_left`); those at a revoked county are counted, with
    /// their reason, but are no failure.
    pub(super) fn overfills_left(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut revoked = 0;
        for p in 0..self.posts.len() as u32 {
            let post = &self.posts[p as usize];
            if post.placements.is_empty() {
                continue;
            }
            let county = self.overfill_watcher(p);
            let filled = self.filled_at(county, p);
            if filled <= post.headcount {
                continue;
            }
            self.stats.overfilled_left += 1;
            if self.revoked_nodes.contains(&county) {
                revoked += 1;
                continue;
            }
            if failures.len() < 5 {
                failures.push(format!(
                    "a post of {} is still overfilled at {} after the convergence phase ({filled} placements for {} places)",
                    self.nodes[post.node as usize].region,
                    self.nodes[county as usize].region,
                    post.headcount
                ));
            }
        }
        if revoked > 0 && self.scenario.run.progress {
            eprintln!(
                "[lingong-sim] {revoked} posts stay overfilled at a county whose certificate was revoked (it signs nothing accepted afterwards)"
            );
        }
        failures
    }

    /// Whether node `i` supervises the stations below it: a city, or a county where no city
    /// is simulated above it (a one-county run).
    fn supervises(&self, i: u32) -> bool {
        let n = &self.nodes[i as usize];
        n.level == Level::City || (n.level == Level::County && n.parent.is_none())
    }

    /// Every city's first daily supervision (a county's at the top of a one-county run), and each station's starting point (its
    /// certification at the run's start).
    pub(super) fn setup_supervision(&mut self) {
        self.post_seen = vec![0; self.nodes.len()];
        self.ordered = vec![false; self.nodes.len()];
        for i in 0..self.nodes.len() as u32 {
            if self.supervises(i) {
                self.push(17 * HOUR, Ev::Supervise { node: i });
            }
        }
    }

    /// City `i`'s daily supervision: a rectification order to every station below it with no
    /// post change held here for `workload.stale_days`, once per station.
    pub(super) fn on_supervise(&mut self, i: u32) {
        if self.now + DAY < self.end_ms {
            self.push(self.now + DAY, Ev::Supervise { node: i });
        }
        if self.converging || self.nodes[i as usize].down {
            return;
        }
        let stale_ms = (self.scenario.workload.stale_days * DAY as f64) as i64;
        let local = self.local_ms(i);
        let mut below = self.nodes[i as usize].children.clone();
        let mut stale = Vec::new();
        while let Some(j) = below.pop() {
            below.extend_from_slice(&self.nodes[j as usize].children);
            let n = &self.nodes[j as usize];
            let last = EPOCH_MS.max(self.post_seen[j as usize]);
            if !self.ordered[j as usize]
                && n.revoked_at.is_none()
                && !self.knows_revoked(i, &n.key.public())
                && local - last > stale_ms
            {
                stale.push(j);
            }
        }
        stale.sort_unstable();
        let today = dates::today_cst(local);
        for j in stale {
            let n = &self.nodes[j as usize];
            let order = SupervisionOrder {
                node: n.key.public().node_id(),
                node_region: n.region,
                reason: format!(
                    "{} 天未采集或更新岗位信息，请限期整改 (no post collected or updated for {} days)",
                    self.scenario.workload.stale_days, self.scenario.workload.stale_days
                ),
                deadline: dates::format_date(today + ORDER_DEADLINE_DAYS),
                conditions: vec!["no-posts".into()],
                stale_days: self.scenario.workload.stale_days.round().max(1.0) as i64,
                region: self.nodes[i as usize].region,
                issued_at: dates::rfc3339(local),
            };
            debug_assert_eq!(order.validate(), Ok(()));
            let reach = Some(home_area(&n.region));
            let kind = RecordKind::SupervisionOrder;
            let written = self.write_create(i, kind, reach, order.edits(), &mut LentWrites::new());
            if let Some(record) = written {
                self.docs.remove(&record);
                self.ordered[j as usize] = true;
                self.stats.supervision_orders += 1;
            }
        }
    }
}
