//! Report seals (成效表签章) in the DHIS2 order, and their check.
//!
//! At the end of the run, once the convergence phase has left the network quiet, every county
//! seals its service report of each month the run touched (a run shorter than a month: the
//! days simulated), the network goes quiet again with those seals, then every city seals
//! (including its counties' seals, naming the counties it holds none of), then the province:
//! a parent always seals after its children or names the missing ones. A seal is what
//! `report seal` makes (`node/src/services/reports.rs`): the figures and the commitment of
//! `lingong_protocol::report::report` over the facts the sealer holds, the priority
//! placements above the county from the county seals held, its child seals, written through
//! the `ReportSeal` schema. Only counties, cities and the province seal in the simulated
//! workflow, so a county names no township as missing.
//!
//! The facts are read from the sealer's holdings as `figures::collect_facts` reads a store:
//! each record's envelopes held there, its fields as of the period's start and end from the
//! Automerge changes whose payloads it holds (`report::view_as_of`). The simulator holds no
//! documents per node, so a view is built when a seal needs it, cached by the exact set of
//! changes it comes from (a county and the province holding a post's same changes share the
//! view) and kept only to the fields a report reads.
//!
//! The check ([`Sim::check_seals`]), after the last quiet period: every seal recomputes, at
//! its sealer, from what the sealer then holds (figures compared as `report verify` compares
//! them, and the commitment), and the top node recomputes every seal it holds from its own
//! holdings (the province's verification of every county and city seal; a figure it cannot
//! compute, the priority placements of a county's workers, is not compared).

use super::*;
use lingong_protocol::dates;
use lingong_protocol::report::{self, Commitment, Fact, Figures, Period};
use lingong_protocol::schema::{ChildSeal, ReportSeal, Schema};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeSet, HashMap};

/// The fields `report::report` reads of a record's view; the cached views keep only these.
const REPORT_FIELDS: [&str; 10] = [
    "review",
    "headcount",
    "employer",
    "wage",
    "unit",
    "status",
    "worker",
    "recovered",
    "amount_recovered",
    "flags",
];

/// A seal the run wrote.
pub(super) struct SimSeal {
    node: u32,
    period: Period,
    record: RecordId,
    seal: ReportSeal,
}

/// Views built for seals and their check, by the changes they come from.
#[derive(Default)]
pub(super) struct Views {
    cache: HashMap<Vec<u32>, Option<Map<String, Json>>>,
}

impl Sim {
    /// The months the run touched, by China time.
    fn run_periods(&self) -> Vec<Period> {
        let mut out: Vec<Period> = Vec::new();
        let last = dates::today_cst(EPOCH_MS + self.end_ms.max(1) - 1);
        let mut day = dates::today_cst(EPOCH_MS);
        while day <= last {
            let p = Period::month_of(day);
            day = p.end_day;
            out.push(p);
        }
        out
    }

    /// Every node of `level` not revoked seals each period of the run.
    pub(super) fn seal_level(&mut self, level: Level, views: &mut Views) {
        let periods = self.run_periods();
        for i in 0..self.nodes.len() as u32 {
            let n = &self.nodes[i as usize];
            if n.level != level || self.revoked_nodes.contains(&i) || n.revoked_at.is_some() {
                continue;
            }
            for period in &periods {
                self.seal(i, period, views);
            }
        }
    }

    /// Node `i` seals `period`.
    fn seal(&mut self, i: u32, period: &Period, views: &mut Views) {
        let facts = self.facts_at(i, period, views);
        let (figures, commitment) = self.report_from(&facts, i, i, period);
        let n = &self.nodes[i as usize];
        let held = self.seals_held(i, period);
        let mut children = Vec::new();
        let mut missing = Vec::new();
        for &c in &n.children {
            let child = &self.nodes[c as usize];
            if !matches!(child.level, Level::City | Level::County)
                || self.knows_revoked(i, &child.key.public())
            {
                continue;
            }
            match held.get(&child.region) {
                Some(&k) => children.push(ChildSeal {
                    region: child.region,
                    seal: self.seals[k].record.to_hex(),
                }),
                None => missing.push(child.region),
            }
        }
        let seal = ReportSeal {
            period: period.text.clone(),
            region: n.region,
            figures,
            commitment,
            children,
            missing_children: missing,
            amends: None,
            reason: None,
            sealed_at: dates::rfc3339(self.local_ms(i)),
        };
        debug_assert_eq!(seal.validate(), Ok(()));
        let kind = RecordKind::ReportSeal;
        if let Some(record) = self.write_create(i, kind, None, seal.edits(), &mut LentWrites::new())
        {
            self.docs.remove(&record);
            self.stats.seals += 1;
            self.stats.seals_missing_children += seal.missing_children.len() as u64;
            if i == 0 {
                self.stats.top_seal = Some(seal.figures.clone());
            }
            self.seals.push(SimSeal {
                node: i,
                period: period.clone(),
                record,
                seal,
            });
        }
    }

    /// The seals of `period` node `i` holds, the latest per region (indices into `seals`).
    fn seals_held(&self, i: u32, period: &Period) -> BTreeMap<RegionCode, usize> {
        let held = &self.nodes[i as usize].held;
        let mut out: BTreeMap<RegionCode, (i64, RecordId, usize)> = BTreeMap::new();
        for (k, s) in self.seals.iter().enumerate() {
            if s.period != *period {
                continue;
            }
            let Some(g) = self.genesis_of(&s.record) else {
                continue;
            };
            if held.get(g).is_none() {
                continue;
            }
            let at = self.arena.entries[g as usize].env.header.timestamp_ms;
            let newer = out
                .get(&s.seal.region)
                .is_none_or(|&(t, r, _)| (at, s.record) > (t, r));
            if newer {
                out.insert(s.seal.region, (at, s.record, k));
            }
        }
        out.into_iter().map(|(r, (_, _, k))| (r, k)).collect()
    }

    /// The figures and commitment of `at`'s region (node `at`) for `period` from the `facts`
    /// node `i` holds and the county seals it holds.
    fn report_from(
        &self,
        facts: &[Fact],
        i: u32,
        at: u32,
        period: &Period,
    ) -> (Figures, Commitment) {
        let priority: BTreeMap<RegionCode, u64> = self
            .seals_held(i, period)
            .into_iter()
            .filter(|(r, _)| r.level() == Level::County)
            .filter_map(|(r, k)| Some((r, self.seals[k].seal.figures.placements_priority?)))
            .collect();
        let r = report::report(period, &self.nodes[at as usize].region, facts, &priority);
        (r.figures, r.commitment)
    }

    /// The facts of `period` node `i` holds: its records of the counted kinds, each with the
    /// timestamps of its changes held and its fields as of the period's start and end.
    fn facts_at(&self, i: u32, period: &Period, views: &mut Views) -> Vec<Fact> {
        let (start, end) = (period.start_ms(), period.end_ms());
        let mut records: BTreeMap<RecordId, Vec<(u32, bool)>> = BTreeMap::new();
        for (idx, payload) in self.nodes[i as usize].held.iter() {
            let h = &self.arena.entries[idx as usize].env.header;
            if matches!(
                h.kind,
                RecordKind::Worker
                    | RecordKind::Employer
                    | RecordKind::Post
                    | RecordKind::Placement
                    | RecordKind::Complaint
            ) {
                records.entry(h.record).or_default().push((idx, payload));
            }
        }
        let mut facts = Vec::new();
        let mut workers = Vec::new();
        for (record, changes) in &records {
            let header = |idx: u32| &self.arena.entries[idx as usize].env.header;
            let Some(&(genesis, _)) = changes.iter().find(|&&(c, _)| header(c).is_genesis()) else {
                continue;
            };
            let g = header(genesis);
            if g.timestamp_ms >= end {
                continue;
            }
            let (at_start, at_end) = match g.kind {
                RecordKind::Post | RecordKind::Complaint => (
                    self.view(changes, start, views),
                    self.view(changes, end, views),
                ),
                RecordKind::Placement => (None, self.view(changes, end, views)),
                RecordKind::Worker => {
                    workers.push((facts.len(), *record));
                    (None, None)
                }
                _ => (None, None),
            };
            facts.push(Fact {
                kind: g.kind,
                id: record.short(),
                region: g.region,
                created_ms: g.timestamp_ms,
                touched_ms: changes
                    .iter()
                    .map(|&(c, _)| header(c).timestamp_ms)
                    .collect(),
                at_start,
                at_end,
            });
        }
        // A worker's fields are read only for the priority of a placement naming it.
        let named: BTreeSet<String> = facts
            .iter()
            .filter(|f| f.kind == RecordKind::Placement)
            .filter_map(|f| {
                f.at_end
                    .as_ref()?
                    .get("worker")?
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        for (k, record) in workers {
            if !named.is_empty() && named.contains(&record.to_hex()) {
                facts[k].at_end = self.view(&records[&record], end, views);
            }
        }
        facts
    }

    /// A record's fields (those a report reads) as of `at_ms`, from its `changes` held with
    /// their payloads; `None` when none is dated before it or no payload is held.
    fn view(
        &self,
        changes: &[(u32, bool)],
        at_ms: i64,
        views: &mut Views,
    ) -> Option<Map<String, Json>> {
        let key: Vec<u32> = changes
            .iter()
            .filter(|&&(c, payload)| {
                payload && self.arena.entries[c as usize].env.header.timestamp_ms < at_ms
            })
            .map(|&(c, _)| c)
            .collect();
        if key.is_empty() {
            return None;
        }
        if let Some(v) = views.cache.get(&key) {
            return v.clone();
        }
        let bytes: Vec<(i64, &[u8])> = key
            .iter()
            .filter_map(|&c| {
                let e = &self.arena.entries[c as usize].env;
                Some((e.header.timestamp_ms, e.payload.as_deref()?))
            })
            .collect();
        // Filler payloads (`run.automerge_payloads = false`) have no fields.
        let view = report::view_as_of(&bytes, at_ms)
            .ok()
            .flatten()
            .map(|mut v| {
                v.retain(|k, _| REPORT_FIELDS.contains(&k.as_str()));
                v
            });
        views.cache.insert(key, view.clone());
        view
    }

    /// The check of every seal after the last quiet period (see the module docs): failures
    /// for seals that do not recompute, counted in `Stats::seal_mismatches`.
    pub(super) fn check_seals(&mut self, views: &mut Views) -> Vec<String> {
        let mut failures = Vec::new();
        let top = 0u32;
        let mut checks: Vec<(usize, u32)> = (0..self.seals.len())
            .map(|k| (k, self.seals[k].node))
            .collect();
        if !self.revoked_nodes.contains(&top) {
            for k in 0..self.seals.len() {
                let s = &self.seals[k];
                let held = self
                    .genesis_of(&s.record)
                    .and_then(|g| self.nodes[top as usize].held.get(g));
                if s.node != top && held.is_some() {
                    checks.push((k, top));
                }
            }
        }
        // Each holder's facts of a period are read once for all the seals it checks.
        checks.sort_by_key(|&(k, by)| (by, self.seals[k].period.clone(), k));
        let mut facts: Option<((u32, Period), Vec<Fact>)> = None;
        for (k, by) in checks {
            let s = &self.seals[k];
            let key = (by, s.period.clone());
            if facts.as_ref().is_none_or(|(held, _)| *held != key) {
                facts = Some((key.clone(), self.facts_at(by, &s.period, views)));
            }
            let held = &facts.as_ref().expect("facts just read").1;
            let (figures, commitment) = self.report_from(held, by, s.node, &s.period);
            let mut differ: Vec<String> = report::compare(&s.seal.figures, &figures)
                .into_iter()
                .map(|m| {
                    format!(
                        "{} sealed {} recomputed {}",
                        m.field, m.sealed, m.recomputed
                    )
                })
                .collect();
            // The province holds a county's worker records as headers only: it recomputes the
            // figures it can, and its commitment names the same records.
            if commitment != s.seal.commitment {
                differ.push(format!(
                    "commitment sealed {} records ({}) recomputed {} ({})",
                    s.seal.commitment.records,
                    s.seal.commitment.fingerprint,
                    commitment.records,
                    commitment.fingerprint
                ));
            }
            self.stats.seals_verified += 1;
            if !differ.is_empty() {
                self.stats.seal_mismatches += 1;
                if failures.len() < 5 {
                    failures.push(format!(
                        "the seal of {} for {} does not recompute at {}: {}",
                        s.seal.region,
                        s.period.text,
                        self.nodes[by as usize].region,
                        differ.join("; ")
                    ));
                }
            }
        }
        failures
    }
}
