//! The end-of-run check: every node must hold exactly what its scope implies.
//!
//! The expected set of a node is computed from the global set of valid changes (envelopes the
//! honest write path produced and at least one node accepted, minus writes lost in a crash
//! before anyone else held them) and the protocol's own [`Scope::wants`]: a node wanting a
//! change in full must hold it with its payload, a node wanting only the header must hold it
//! without (never the payload: worker data stays below the county), and a node must hold
//! nothing its scope excludes. Documented exceptions, each counted in the report:
//! - a revoked node is left out (its peers refuse it after the revocation);
//! - changes a revoked node signed and no other node held when it was cut off are *stranded*;
//! - changes a revoked node signed after its revocation are neither expected nor forbidden:
//!   nodes that had not yet heard of the revocation accepted them, as the protocol allows;
//! - for an equivocation (two envelopes under one sequence number), each node must hold
//!   exactly one of the two: whichever reached it first, the other is rejected as a fork;
//! - changes an equivocating node signed after its fork point are neither expected nor
//!   forbidden: a node that caught the fork takes none of them, a node that never saw the
//!   other branch takes them all (PROTOCOL.md §10; in the network the caught fork travels as an
//!   evidence record, which the simulator does not publish).
//!
//! [`Scope::wants`]: lingong_protocol::scope::Scope::wants

use crate::arena::Label;
use crate::sim::Sim;
use lingong_protocol::scope::Want;
use std::collections::BTreeMap;

/// Figures of the check.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Valid changes at the end (accepted somewhere, not lost in a crash).
    pub valid_changes: u64,
    /// Valid changes missing at one or more nodes that should hold them.
    pub lost_changes: u64,
    /// (node, change) pairs missing.
    pub missing_holdings: u64,
    /// Changes held where the scope says nothing.
    pub out_of_scope_holdings: u64,
    /// Payloads held where only the header is wanted.
    pub privacy_violations: u64,
    /// Nodes holding both sides of a fork.
    pub double_forks: u64,
    pub stranded_by_revocation: u64,
    /// Holdings of changes signed after their author's revocation.
    pub held_after_revocation: u64,
    /// Changes an equivocating node signed after its fork point (neither expected nor forbidden).
    pub after_fork: u64,
    /// Per level (depth 0..=4): nodes, total holdings, max holdings, total bytes, max bytes.
    pub store_by_level: [[u64; 5]; 5],
}

/// The check's failures (empty when the network converged) and figures.
pub struct Check {
    pub failures: Vec<String>,
    pub summary: Summary,
}

pub fn check(sim: &Sim) -> Check {
    let arena = &sim.arena;
    let mut s = Summary::default();
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut forks: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut fork_points: BTreeMap<[u8; 32], u64> = BTreeMap::new();
    for (i, e) in arena.entries.iter().enumerate() {
        if let Label::Equivocation { original } = e.label {
            forks.entry(original).or_default().push(i as u32);
            let h = &e.env.header;
            let point = fork_points.entry(h.author.0).or_insert(h.seq);
            *point = (*point).min(h.seq);
        }
    }
    let mut holders = Vec::new();
    for (i, e) in arena.entries.iter().enumerate() {
        let idx = i as u32;
        if e.label != Label::Valid || sim.tallies[i].holders == 0 {
            continue;
        }
        s.valid_changes += 1;
        let h = &e.env.header;
        if fork_points.get(&h.author.0).is_some_and(|&p| h.seq > p) {
            s.after_fork += 1;
            continue;
        }
        let creator = e.creator_node;
        let creator_revoked = sim.revoked_nodes.contains(&creator);
        if creator_revoked {
            let only_creator =
                sim.tallies[i].holders == 1 && sim.nodes[creator as usize].held.get(idx).is_some();
            if only_creator {
                s.stranded_by_revocation += 1;
                continue;
            }
        }
        sim.expected_holders(idx, &mut holders);
        let group = forks.get(&idx);
        let mut missing_here = 0u64;
        for &(n, want) in &holders {
            let held = &sim.nodes[n as usize].held;
            match group {
                None => {
                    let ok = matches!(
                        (want, held.get(idx)),
                        (Want::Full, Some(true)) | (Want::Header, Some(_))
                    );
                    if !ok {
                        missing_here += 1;
                        if examples.len() < 5 {
                            examples.push(format!(
                                "{} lacks a {} of {} ({:?})",
                                sim.nodes[n as usize].region,
                                arena.meta(idx).kind.as_str(),
                                arena.meta(idx).region,
                                want
                            ));
                        }
                    }
                }
                Some(g) => {
                    let count = usize::from(held.get(idx).is_some())
                        + g.iter().filter(|&&f| held.get(f).is_some()).count();
                    if count == 0 {
                        missing_here += 1;
                    } else if count > 1 {
                        s.double_forks += 1;
                    }
                }
            }
        }
        if missing_here > 0 {
            s.lost_changes += 1;
            s.missing_holdings += missing_here;
        }
    }
    for (n, node) in sim.nodes.iter().enumerate() {
        let d = usize::from(node.level.depth());
        let row = &mut s.store_by_level[d];
        row[0] += 1;
        row[1] += node.held.len() as u64;
        row[2] = row[2].max(node.held.len() as u64);
        row[3] += node.bytes_held;
        row[4] = row[4].max(node.bytes_held);
        if sim.revoked_nodes.contains(&(n as u32)) {
            continue;
        }
        for (idx, payload) in node.held.iter() {
            let e = &arena.entries[idx as usize];
            let m = arena.meta(idx);
            let want = node.scope.wants(m.kind, &m.region, &m.reach);
            match want {
                Want::Nothing => s.out_of_scope_holdings += 1,
                Want::Header if payload => s.privacy_violations += 1,
                _ => {}
            }
            if e.label == Label::AfterRevocation {
                s.held_after_revocation += 1;
            }
        }
    }
    if s.lost_changes > 0 {
        failures.push(format!(
            "{} changes are missing at {} places their scope says they should be, e.g. {}",
            s.lost_changes,
            s.missing_holdings,
            examples.join("; ")
        ));
    }
    if s.out_of_scope_holdings > 0 {
        failures.push(format!(
            "{} changes are held by nodes whose scope excludes them",
            s.out_of_scope_holdings
        ));
    }
    if s.privacy_violations > 0 {
        failures.push(format!(
            "{} payloads are held where only the header may be",
            s.privacy_violations
        ));
    }
    if s.double_forks > 0 {
        failures.push(format!(
            "{} nodes hold both sides of a fork",
            s.double_forks
        ));
    }
    Check {
        failures,
        summary: s,
    }
}
