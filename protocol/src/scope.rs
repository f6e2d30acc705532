//! Scopes, not routes: which records a node should hold, from its certified region alone.
//!
//! Two peers exchange exactly the records both of their scopes want, so a township relays for
//! its villages without a routing table, and a mobile station certified for a county syncs with
//! any station of that county it meets. The rules (ARCHITECTURE.md, "Scopes"):
//! - everything authored in or about a node's subtree flows up to all its ancestors;
//! - posts flow down to every node inside their reach;
//! - certificates, directory entries and employers flow to the ancestors and to the whole county around
//!   their node (a chain is self-contained, so that is everywhere one of the node's records can
//!   go); a revocation flows to the revoker's ancestors and to the revoked node's home area and
//!   its ancestors: everywhere the revoked node's certificate (and so any change it signed)
//!   can be; a fork proof (evidence) flows the same way around the forked node, and so does a
//!   supervision order around the ordered station;
//! - report seals flow up to the ancestors of their region, like placements;
//! - worker records flow up to the county in full and never sideways or down; above the county
//!   only their signed headers travel (no personal data), so the province can still prove every
//!   author's log complete. Assistance records (what a station did for a worker) travel the
//!   same way.

use crate::record::RecordKind;
use crate::region::{Level, RegionCode};
use serde::{Deserialize, Serialize};

/// How much of a record a node should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Want {
    Nothing,
    Header,
    Full,
}

/// A node's scope: its certified region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub region: RegionCode,
}

/// The region a record's author is known in: its county, or its own region above the county.
pub fn home_area(region: &RegionCode) -> RegionCode {
    region.ancestor_at(Level::County).unwrap_or(*region)
}

/// The widest reach a record from `region` may have: its home area.
pub fn reach_allowed(region: &RegionCode, reach: &RegionCode) -> bool {
    home_area(region).contains(reach)
}

impl Scope {
    pub fn new(region: RegionCode) -> Scope {
        Scope { region }
    }

    /// How much of a record of `kind`, whose home region is `region` and which is advertised in
    /// `reach`, this node should hold.
    pub fn wants(&self, kind: RecordKind, region: &RegionCode, reach: &RegionCode) -> Want {
        let above = self.region.contains(region);
        let full_if = |yes: bool| if yes { Want::Full } else { Want::Nothing };
        match kind {
            // `reach` is the revoked node's home area (checked at accept): the revocation goes
            // wherever that node's certificate and records can go, plus the revoker's ancestors.
            // A fork proof's `reach` is the accused node's home area: it goes where the
            // forked key's changes can go, and to the publisher's ancestors.
            // A supervision order's `reach` is the ordered station's home area: it goes where
            // that station is, and to the issuer's ancestors.
            RecordKind::Revocation | RecordKind::Evidence | RecordKind::SupervisionOrder => {
                full_if(above || reach.contains(&self.region) || self.region.contains(reach))
            }
            // An employer goes where the posts naming it can go: its home area.
            RecordKind::Certificate | RecordKind::Directory | RecordKind::Employer => {
                full_if(above || home_area(region).contains(&self.region))
            }
            RecordKind::Post => full_if(above || reach.contains(&self.region)),
            RecordKind::Placement | RecordKind::Complaint | RecordKind::ReportSeal => {
                full_if(above)
            }
            // An assistance record names a worker and travels like the worker record.
            RecordKind::Worker | RecordKind::Assistance => {
                match (above, self.region.level().depth() >= Level::County.depth()) {
                    (false, _) => Want::Nothing,
                    (true, true) => Want::Full,
                    (true, false) => Want::Header,
                }
            }
        }
    }

    /// What `self` should send `peer` of a record `self` holds: `Nothing` if either side's scope
    /// excludes it, otherwise the peer's want.
    pub fn share_with(
        &self,
        peer: &Scope,
        kind: RecordKind,
        region: &RegionCode,
        reach: &RegionCode,
    ) -> Want {
        if self.wants(kind, region, reach) == Want::Nothing {
            return Want::Nothing;
        }
        peer.wants(kind, region, reach)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn worker_records_stop_at_the_county_and_only_headers_go_higher() {
        let village = code("520102001001");
        let k = RecordKind::Worker;
        assert_eq!(
            Scope::new(code("520102001")).wants(k, &village, &village),
            Want::Full
        );
        assert_eq!(
            Scope::new(code("520102")).wants(k, &village, &village),
            Want::Full
        );
        assert_eq!(
            Scope::new(code("5201")).wants(k, &village, &village),
            Want::Header
        );
        assert_eq!(
            Scope::new(code("52")).wants(k, &village, &village),
            Want::Header
        );
        assert_eq!(
            Scope::new(code("520102001002")).wants(k, &village, &village),
            Want::Nothing
        );
    }

    #[test]
    fn posts_reach_down_into_their_reach_only() {
        let county = code("520102");
        let other = code("520103");
        let village = Scope::new(code("520102001001"));
        assert_eq!(
            village.wants(RecordKind::Post, &county, &county),
            Want::Full
        );
        assert_eq!(
            village.wants(RecordKind::Post, &other, &other),
            Want::Nothing
        );
        assert_eq!(
            Scope::new(code("52")).wants(RecordKind::Post, &other, &other),
            Want::Full
        );
    }

    fn any_region() -> impl Strategy<Value = RegionCode> {
        let table = crate::region::divisions();
        let n = table.len();
        (0..n).prop_map(move |i| table.iter().nth(i).expect("index in range").code)
    }

    proptest! {
        /// A child's scope, minus what stays below the county (worker payloads above it become
        /// headers), lies inside its parent's: whatever a node wants, its parent wants too.
        #[test]
        fn a_childs_scope_lies_inside_its_parents(node in any_region(), rec in any_region(), reach_up in 0u8..4, kind_i in 0usize..RecordKind::ALL.len()) {
            prop_assume!(node.parent().is_some());
            let kind = RecordKind::ALL[kind_i];
            let reach = (0..reach_up).fold(rec, |r, _| r.parent().filter(|p| reach_allowed(&rec, p)).unwrap_or(r));
            let child = Scope::new(node);
            let parent = Scope::new(node.parent().unwrap());
            let c = child.wants(kind, &rec, &reach);
            let p = parent.wants(kind, &rec, &reach);
            if c != Want::Nothing {
                prop_assert!(p != Want::Nothing, "child {node} wants {kind:?} of {rec} reach {reach} but parent does not");
            }
            if c == Want::Full && !matches!(kind, RecordKind::Worker | RecordKind::Assistance) {
                prop_assert_eq!(p, Want::Full);
            }
        }

        /// A revocation (by any ancestor of the revoked node, advertised in the revoked node's
        /// home area) is wanted by every node that wants the revoked node's certificate, only
        /// where the revoker's certificate goes too, and by a node's parent whenever by the node.
        #[test]
        fn a_revocation_goes_wherever_the_revoked_certificate_goes(node in any_region(), target in any_region(), up in 1u8..5) {
            let Some(revoker) = (0..up).try_fold(target, |r, _| r.parent()) else {
                return Ok(());
            };
            let reach = home_area(&target);
            let me = Scope::new(node);
            let wants = me.wants(RecordKind::Revocation, &revoker, &reach);
            if me.wants(RecordKind::Certificate, &target, &target) != Want::Nothing {
                prop_assert_eq!(wants, Want::Full, "{} holds {}'s certificate", node, target);
            }
            if wants != Want::Nothing {
                // It can check the signature: the revoker's certificate comes there too.
                prop_assert_eq!(me.wants(RecordKind::Certificate, &revoker, &revoker), Want::Full, "{} lacks the revoker {}'s certificate", node, revoker);
            }
            if let (Want::Full, Some(parent)) = (wants, node.parent()) {
                prop_assert_eq!(Scope::new(parent).wants(RecordKind::Revocation, &revoker, &reach), Want::Full);
            }
        }
    }
}
