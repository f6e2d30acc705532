//! Small scenarios that run in `cargo test`: one small county (麻江县, 522635) with a share of
//! its villages for a simulated day or two, checking safety and convergence for several seeds,
//! determinism, and each fault kind on its own.

use lingong_protocol::record::RecordKind;
use lingong_sim::{Outcome, Scenario};

/// 麻江县: 7 townships and 70 villages, one of Guizhou's smallest counties.
const COUNTY: &str = "522635";

fn scenario(name: &str, seed: u64, days: f64) -> Scenario {
    let mut s = Scenario::builtin(name).expect("built-in scenario");
    s.run.only = COUNTY.into();
    s.run.villages_share = 0.3;
    s.run.days = days;
    s.run.seed = seed;
    s.run.progress = false;
    s.run.automerge_payloads = false;
    s
}

fn run(s: Scenario) -> Outcome {
    lingong_sim::run(s).expect("the scenario runs")
}

fn assert_safe_and_converged(o: &Outcome) {
    assert!(
        o.failures.is_empty(),
        "seed {} failed: {:#?}",
        o.seed,
        o.failures
    );
    assert_eq!(o.stats.accepted_forgeries, 0);
    assert_eq!(o.check.lost_changes, 0);
    assert!(o.quiet, "seed {}: the network never went quiet", o.seed);
}

#[test]
fn a_small_county_converges_with_nothing_lost_for_several_seeds() {
    for seed in [1, 2, 3] {
        let o = run(scenario("calm", seed, 1.5));
        assert_safe_and_converged(&o);
        assert!(o.check.valid_changes > 100, "seed {seed}: too little work");
        assert!(!o.latency_to_reach_s.is_empty(), "posts reached villages");
        assert!(o.stats.sessions_completed > 0);
    }
}

#[test]
fn the_same_seed_replays_the_same_run_and_another_seed_does_not() {
    let a = run(scenario("all-faults", 7, 1.0));
    let b = run(scenario("all-faults", 7, 1.0));
    let c = run(scenario("all-faults", 8, 1.0));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.stats.events, b.stats.events);
    assert_eq!(a.check.valid_changes, b.check.valid_changes);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn windowed_sets_kept_between_sessions_give_the_same_run_as_whole_sets_built_per_session() {
    // Every fault (crashes that lose writes, equivocations and forged payloads fill and
    // rewrite holdings, skewed clocks and long outages bring old changes late), with windowed
    // sets kept on every level against whole sets built at every session start. A window of
    // two hours instead of two days, so that one simulated day has sessions from a floor,
    // windows and sessions that have to fall back to the whole set.
    let mut windowed = scenario("all-faults", 11, 1.0);
    windowed.run.window_margin_s = 6.0 * 3600.0;
    windowed.run.whole_sets_max_depth = 0;
    let mut baseline = windowed.clone();
    baseline.run.keep_sets_max_depth = 0;
    baseline.run.keep_sets_while_up = false;
    let kept = run(windowed);
    let built = run(baseline);
    assert_safe_and_converged(&kept);
    assert!(
        kept.stats.whole_set_fallbacks > 0,
        "some session needed the history below its floor"
    );
    assert_eq!(built.stats.whole_set_fallbacks, 0);
    assert!(kept.stats.set_builds < built.stats.set_builds / 2);
    assert_eq!(kept.trace_hash, built.trace_hash);
    assert_eq!(kept.stats.events, built.stats.events);
}

#[test]
fn work_lent_to_the_helper_thread_gives_the_same_run_as_the_one_loop() {
    // Every fault kind (crashes, revocations, forgeries and forks change holdings and the
    // arena while frames are lent), several seeds: the helper must change nothing but speed.
    let mut writes = 0;
    for seed in [21, 22, 23] {
        let mut one_loop = scenario("all-faults", seed, 1.5);
        one_loop.run.frame_helper = false;
        let mut helped = one_loop.clone();
        helped.run.frame_helper = true;
        let alone = run(one_loop);
        let helped = run(helped);
        assert_safe_and_converged(&helped);
        assert_eq!(alone.stats.lent_to_helper, 0);
        assert!(
            helped.stats.lent_to_helper > helped.stats.frames / 50,
            "seed {seed}: only {} of {} frames lent",
            helped.stats.lent_to_helper,
            helped.stats.frames
        );
        assert_eq!(alone.trace_hash, helped.trace_hash, "seed {seed}");
        assert_eq!(alone.stats.events, helped.stats.events, "seed {seed}");
        assert_eq!(alone.check.valid_changes, helped.check.valid_changes);
        writes += helped.stats.lent_writes;
    }
    assert!(writes > 0, "no write was lent");
}

#[test]
fn nodes_that_crash_and_restart_keep_their_store_and_catch_up() {
    let o = run(scenario("crash", 11, 2.0));
    assert_safe_and_converged(&o);
    assert!(o.stats.crashes > 0);
}

#[test]
fn a_crash_loses_only_writes_no_other_node_held() {
    let mut s = scenario("crash-lose", 12, 2.0);
    // Busy villages, so a crash finds writes not yet synced.
    s.workload.village.registrations = 12.0;
    s.faults.crash_lose = 4;
    let o = run(s);
    assert_safe_and_converged(&o);
    assert!(o.stats.lost_unsynced_writes > 0, "the fault lost nothing");
}

#[test]
fn skewed_clocks_delay_but_do_not_lose_changes() {
    let mut s = scenario("skew", 13, 2.0);
    s.faults.skew_large_s = 26.0 * 3600.0;
    let o = run(s);
    assert_safe_and_converged(&o);
    // The skew shows: changes deferred or refused at the receiver, or (since each side
    // pushes logs in order, holding back with a change its author's later ones) held back.
    assert!(
        o.stats.rejected.contains_key("from-the-future")
            || o.stats.deferred > 0
            || o.stats.held_back > 0
    );
}

#[test]
fn a_revoked_station_is_cut_off_and_the_rest_converges() {
    let o = run(scenario("revoke", 14, 2.0));
    assert_safe_and_converged(&o);
    assert!(o.stats.revocations > 0, "no revocation was issued");
}

#[test]
fn a_revocation_in_one_county_of_a_city_converges_across_the_city() {
    // Sixteen counties: the revoker's and the revoked node's certificates stay in their county,
    // so the revocation must too (a province-wide revocation could never be accepted in the
    // other counties, and the network would never go quiet).
    let mut s = scenario("revoke", 16, 1.0);
    s.run.only = "5226".into();
    s.run.villages_share = 0.01;
    let o = run(s);
    assert_safe_and_converged(&o);
    assert!(o.stats.revocations > 0, "no revocation was issued");
    assert_eq!(
        o.node_count_by_level[2], 16,
        "the city's sixteen counties ran"
    );
}

#[test]
fn forgeries_replays_and_forks_from_a_misbehaving_station_are_never_accepted() {
    let o = run(scenario("misbehave", 15, 2.0));
    assert_safe_and_converged(&o);
    let injected: u64 = o.stats.forged_injected.values().sum();
    assert!(injected > 5, "too few forgeries tried: {injected}");
    assert!(!o.stats.rejected.is_empty(), "forgeries must be rejected");
    assert!(o.stats.replays_injected > 0);
    assert!(o.stats.equivocations > 0, "no fork was tried");
}

#[test]
fn a_partitioned_subtree_catches_up_after_the_partition_heals() {
    let o = run(scenario("partition", 16, 2.0));
    assert_safe_and_converged(&o);
    assert!(o.stats.partitions > 0);
}

#[test]
fn the_end_check_notices_a_missing_change_and_one_held_outside_its_scope() {
    use lingong_protocol::record::RecordKind;
    use lingong_protocol::region::Level;
    let mut s = scenario("calm", 21, 0.5);
    s.workload.village.registrations = 20.0;
    let mut sim = lingong_sim::Sim::new(s).unwrap();
    let o = sim.run_mut();
    assert_safe_and_converged(&o);
    assert!(lingong_sim::check::check(&sim).failures.is_empty());
    let villages: Vec<usize> = (0..sim.nodes.len())
        .filter(|&i| sim.nodes[i].level == Level::Village)
        .collect();
    // A worker record of one village (wanted only by it and its ancestors) given to another.
    let (owner, worker) = villages
        .iter()
        .find_map(|&v| {
            sim.nodes[v]
                .own
                .iter()
                .copied()
                .find(|&i| sim.arena.meta(i).kind == RecordKind::Worker)
                .map(|w| (v, w))
        })
        .expect("busy villages registered workers");
    let other = villages.iter().copied().find(|&v| v != owner).unwrap();
    sim.nodes[other].held.put(worker, true);
    let c = lingong_sim::check::check(&sim);
    assert!(c.summary.out_of_scope_holdings >= 1);
    // And a change its scope wants, taken away from the owner.
    sim.nodes[owner].held.remove(worker);
    let c = lingong_sim::check::check(&sim);
    assert!(
        c.summary.lost_changes >= 1,
        "a removed change must be reported"
    );
    assert!(!c.failures.is_empty());
}

#[test]
fn the_end_check_expects_a_placement_at_every_station_of_its_county() {
    use lingong_protocol::record::RecordKind;
    use lingong_protocol::scope::home_area;
    let mut s = scenario("calm", 22, 0.5);
    s.workload.township.placements = 20.0;
    let mut sim = lingong_sim::Sim::new(s).unwrap();
    let o = sim.run_mut();
    assert_safe_and_converged(&o);
    // A placement and a station of its county that is not on its way up (a sibling's branch).
    let (placement, sibling) = (0..sim.nodes.len())
        .find_map(|n| {
            let own = sim.nodes[n].own.iter().copied();
            let placement = own
                .filter(|&i| sim.arena.meta(i).kind == RecordKind::Placement)
                .next()?;
            let region = sim.arena.meta(placement).region;
            let sibling = (0..sim.nodes.len()).find(|&m| {
                let there = sim.nodes[m].region;
                !there.contains(&region)
                    && home_area(&region).contains(&there)
                    && sim.nodes[m].held.get(placement) == Some(true)
            })?;
            Some((placement, sibling))
        })
        .expect("townships placed workers and a sibling station holds a placement");
    assert!(lingong_sim::check::check(&sim).failures.is_empty());
    sim.nodes[sibling].held.remove(placement);
    let c = lingong_sim::check::check(&sim);
    assert!(
        c.summary.lost_changes >= 1,
        "a placement missing at a station of its county must be reported: {:?}",
        c.summary
    );
}

#[test]
fn village_posts_are_reviewed_at_their_township_and_complaints_walk_to_closed_at_the_county() {
    let mut s = scenario("calm", 4, 6.0);
    s.run.villages_share = 1.0;
    s.run.automerge_payloads = true;
    // Enough complaints for several to pass every step within the run.
    s.workload.village.complaints = 0.1;
    let o = run(s);
    assert_safe_and_converged(&o);
    let st = &o.stats;
    assert!(st.reviews > 0, "no village post was reviewed: {st:?}");
    assert!(st.complaints_filed > 5, "too few complaints: {st:?}");
    // Each closed complaint took four steps (accepted, handling, resolved, closed).
    assert!(
        st.complaints_closed > 0,
        "no complaint reached closed: {st:?}"
    );
    assert!(st.complaint_steps >= 4 * st.complaints_closed);
    assert!(st.complaint_steps <= 4 * st.complaints_filed);
    // The county registers employers its posts then name, and every level records assistance
    // (each record checked against its schema as it is written, in this debug build).
    let written = |kind: RecordKind| st.writes_by_kind[kind as usize];
    assert!(written(RecordKind::Employer) > 0, "{st:?}");
    assert!(written(RecordKind::Assistance) > 0, "{st:?}");
}

#[test]
fn overfilled_posts_are_cancelled_by_their_county_and_silent_stations_get_orders() {
    // Villages and townships placing often on their own and their parent's posts: two
    // stations take a post's last place at once now and then. Orders after two quiet days.
    let mut s = scenario("all-faults", 5, 4.0);
    s.run.villages_share = 1.0;
    s.workload.village.placements = 1.0;
    s.workload.township.placements = 8.0;
    s.workload.stale_days = 2.0;
    let o = run(s);
    // No post is left overfilled at its county (a failure otherwise).
    assert_safe_and_converged(&o);
    let st = &o.stats;
    assert!(st.overfills_seen > 0, "no post was overfilled: {st:?}");
    assert!(
        st.placements_cancelled >= st.overfills_seen,
        "every overfill seen cancels a placement: {st:?}"
    );
    assert_eq!(st.overfilled_left, 0, "{st:?}");
    assert!(st.supervision_orders > 0, "no station was ordered: {st:?}");
    assert_eq!(
        st.writes_by_kind[RecordKind::SupervisionOrder as usize],
        st.supervision_orders
    );
}

#[test]
fn counties_seal_then_their_city_and_every_seal_recomputes_at_its_sealer_and_at_the_top() {
    // A city of sixteen counties with real Automerge payloads (the figures read fields).
    let mut s = scenario("calm", 3, 1.0);
    s.run.only = "5226".into();
    s.run.villages_share = 0.02;
    s.run.automerge_payloads = true;
    let o = run(s);
    assert_safe_and_converged(&o);
    let st = &o.stats;
    let counties = o.node_count_by_level[2] as u64;
    assert_eq!(counties, 16);
    // One month touched: each county seals, then the city, which finds every county's seal.
    assert_eq!(st.seals, counties + 1, "{st:?}");
    assert_eq!(st.writes_by_kind[RecordKind::ReportSeal as usize], st.seals);
    assert_eq!(st.seals_missing_children, 0, "{st:?}");
    // Each seal at its sealer, and each county's again at the city.
    assert_eq!(st.seals_verified, 2 * counties + 1, "{st:?}");
    assert_eq!(st.seal_mismatches, 0, "{st:?}");
    // The city's figures count what its area did (read from the records' fields).
    let top = st.top_seal.as_ref().expect("the city sealed");
    assert!(top.posts > 0 && top.headcount >= top.posts, "{top:?}");
    assert!(top.placements > 0 && top.job_seekers_new > 0, "{top:?}");
    assert!(top.avg_daily_wage.is_some_and(|w| w >= 150.0), "{top:?}");
}
