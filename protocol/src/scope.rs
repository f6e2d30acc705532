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
//! - placements flow up to the ancestors of their region and, from scope rules version 3
//!   ([`SIDEWAYS_PLACEMENTS`]), to every node of their home area (the county around the placing
//!   station): a post a station can see comes from a station of its own county, and a
//!   placement on it is made inside the post's reach or above the post's station, so every
//!   station that shows the post holds every placement on it and counts the same `filled`.
//!   A placement names its worker only by the worker record's opaque id (no name, phone or
//!   ID number); two peers apply the older of their two rules ([`Scope::on_link`]);
//! - complaints and report seals flow up to the ancestors of their region only;
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

/// The scope rules this release applies: the sync protocol version that brought them
/// ([`crate::sync::PROTOCOL_VERSION`]). Versions 1 and 2 share one set of rules.
pub const SCOPE_VERSION: u32 = 3;

/// The first scope rules under which a placement also goes to every node of its home area.
/// A peer of an older release neither lists nor accepts such a placement, so a link with one
/// keeps to the older rules ([`Scope::on_link`]).
pub const SIDEWAYS_PLACEMENTS: u32 = 3;

/// The scope rules a peer applies when it does not say (a release before version 3).
pub const OLDEST_SCOPE_VERSION: u32 = 2;

/// A node's scope: its certified region, under the scope rules of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub region: RegionCode,
    /// The scope rules applied ([`SCOPE_VERSION`] for a node's own scope; on a link, the
    /// older of the two ends': [`Scope::on_link`]).
    #[serde(default = "current_version")]
    pub version: u32,
}

fn current_version() -> u32 {
    SCOPE_VERSION
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
    /// The scope of a node of `region` under this release's rules ([`SCOPE_VERSION`]).
    pub fn new(region: RegionCode) -> Scope {
        Scope {
            region,
            version: SCOPE_VERSION,
        }
    }

    /// The same region under the scope rules of `version` (at most this release's).
    pub fn at_version(self, version: u32) -> Scope {
        Scope {
            version: version.min(SCOPE_VERSION),
            ..self
        }
    }

    /// The two ends' scopes on a link between `self` and `peer`: both under the older of
    /// their two rules. Both ends must list an envelope the same way, or a session never
    /// settles; and a peer of an older release would drop what only the newer rules want.
    pub fn on_link(self, peer: Scope) -> (Scope, Scope) {
        let version = self.version.min(peer.version);
        (self.at_version(version), peer.at_version(version))
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
            // A placement goes wherever the post it names can be seen: the placing station's
            // home area (from version 3), so no station of the county offers a full post.
            RecordKind::Placement if self.version >= SIDEWAYS_PLACEMENTS => {
                full_if(above || home_area(region).contains(&self.region))
            }
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
    /// excludes it, otherwise the peer's want; both under the older of their rules.
    pub fn share_with(
        &self,
        peer: &Scope,
        kind: RecordKind,
        region: &RegionCode,
        reach: &RegionCode,
    ) -> Want {
        let (me, peer) = self.on_link(*peer);
        if me.wants(kind, region, reach) == Want::Nothing {
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

    #[test]
    fn a_placement_goes_up_and_to_the_whole_county_while_complaints_and_seals_go_up_only() {
        // 黄平县 (522622): village A (旧州镇 乐源社区) places; its sibling in the same township, a
        // village of another township of the county and the county's stations above want it.
        let placing = code("522622101001");
        let wanted_at = [
            "522622101002", // sibling village, same township
            "522622102001", // a village of another township, same county
            "522622102",    // that township
            "522622101",    // the placing village's township
            "522622",
            "5226",
            "52",
        ];
        for node in wanted_at {
            assert_eq!(
                Scope::new(code(node)).wants(RecordKind::Placement, &placing, &placing),
                Want::Full,
                "{node}"
            );
        }
        // A village of another county (施秉县 522623) does not, nor does that county.
        for node in ["522623101001", "522623"] {
            assert_eq!(
                Scope::new(code(node)).wants(RecordKind::Placement, &placing, &placing),
                Want::Nothing,
                "{node}"
            );
        }
        // Complaints and report seals still go up only.
        for kind in [RecordKind::Complaint, RecordKind::ReportSeal] {
            for node in ["522622101002", "522622102001", "522622102"] {
                assert_eq!(
                    Scope::new(code(node)).wants(kind, &placing, &placing),
                    Want::Nothing,
                    "{kind:?} at {node}"
                );
            }
            assert_eq!(
                Scope::new(code("522622101")).wants(kind, &placing, &placing),
                Want::Full
            );
        }
        // A county's own placement goes to its villages.
        let county = code("522622");
        assert_eq!(
            Scope::new(code("522622101002")).wants(RecordKind::Placement, &county, &county),
            Want::Full
        );
    }

    #[test]
    fn a_link_with_a_peer_of_version_2_keeps_placements_going_up_only() {
        let placing = code("522622101001");
        let sibling = Scope::new(code("522622101002"));
        let old = sibling.at_version(2);
        assert_eq!(old.version, 2);
        assert_eq!(
            old.wants(RecordKind::Placement, &placing, &placing),
            Want::Nothing
        );
        assert_eq!(Scope::new(placing).at_version(9).version, SCOPE_VERSION);
        // A township of version 3 shares a sibling's placement with a village of version 3
        // only; with a village of version 2 both ends apply version 2's rules.
        let township = Scope::new(code("522622101"));
        let (me, peer) = township.on_link(old);
        assert_eq!((me.version, peer.version), (2, 2));
        assert_eq!(
            township.share_with(&old, RecordKind::Placement, &placing, &placing),
            Want::Nothing
        );
        assert_eq!(
            township.share_with(&sibling, RecordKind::Placement, &placing, &placing),
            Want::Full
        );
        // Everything else is the same under both rules.
        let post = code("522622");
        assert_eq!(
            township.share_with(&old, RecordKind::Post, &post, &post),
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
        fn a_childs_scope_lies_inside_its_parents(node in any_region(), rec in any_region(), reach_up in 0u8..4, kind_i in 0usize..RecordKind::ALL.len(), version in OLDEST_SCOPE_VERSION..=SCOPE_VERSION) {
            prop_assume!(node.parent().is_some());
            let kind = RecordKind::ALL[kind_i];
            let reach = (0..reach_up).fold(rec, |r, _| r.parent().filter(|p| reach_allowed(&rec, p)).unwrap_or(r));
            let child = Scope::new(node).at_version(version);
            let parent = Scope::new(node.parent().unwrap()).at_version(version);
            let c = child.wants(kind, &rec, &reach);
            let p = parent.wants(kind, &rec, &reach);
            if c != Want::Nothing {
                prop_assert!(p != Want::Nothing, "child {node} wants {kind:?} of {rec} reach {reach} but parent does not");
            }
            if c == Want::Full && !matches!(kind, RecordKind::Worker | RecordKind::Assistance) {
                prop_assert_eq!(p, Want::Full);
            }
        }

        /// Under version 3's rules, a placement on a post of a county or a station below it is
        /// wanted wherever the post is: the placing station is inside the post's reach or above
        /// the post's station (`placement confirm`), so no station that shows the post misses
        /// a placement on it.
        #[test]
        fn a_placement_goes_wherever_its_post_goes(node in any_region(), post in any_region(), reach_up in 0u8..4, pick in any::<usize>(), up in 0u8..5, inside in any::<bool>()) {
            prop_assume!(post.level().depth() >= Level::County.depth());
            let reach = (0..reach_up).fold(post, |r, _| r.parent().filter(|p| reach_allowed(&post, p)).unwrap_or(r));
            let placing = if inside {
                let under: Vec<RegionCode> = crate::region::divisions().iter().map(|d| d.code).filter(|c| reach.contains(c)).collect();
                under[pick % under.len()]
            } else {
                (0..up).fold(post, |r, _| r.parent().unwrap_or(r))
            };
            let me = Scope::new(node);
            if me.wants(RecordKind::Post, &post, &reach) == Want::Full {
                prop_assert_eq!(me.wants(RecordKind::Placement, &placing, &placing), Want::Full, "{} sees {}'s post (reach {}) but not {}'s placement", node, post, reach, placing);
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
