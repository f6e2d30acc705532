//! The scenario: every rate, link model and fault of a run, as a serde TOML document with
//! defaults taken from the public field figures (`shared/data/field-figures.md`).
//!
//! A scenario file only needs the fields it changes: every table and field has a default.
//! Built-in scenarios ([`Scenario::builtin`]) start from the defaults and switch faults on.
//!
//! Sources of the default rates (quoted from `field-figures.md`):
//! - "Suggested default rates per county: 2,000–5,000 registered workers; 100–300 employers;
//!   posts per day low 5, base 40, high 200; township stations 5–30 events a day; about half of
//!   daily visitors placed." We take the base: 40 posts per county per day, split as 20 at the
//!   county market (Panzhou's market "shows the day's posts" on a wall screen), about 1 per
//!   township station (≈17 per county) and a few from village stations; about 10 events per
//!   township station per day.
//! - Workers: 2,000–5,000 registered per county, built up over about a year (Jingtai county:
//!   2,300 registered): about 10 new registrations per county per day.
//! - Placements: "about half of daily visitors placed"; Jingtai's 12,000 matches to date and
//!   Jiaozuo's 4,218 placements a year put a county at roughly 10–30 a day: we take 20.
//! - Village links: "online a few windows a day over mobile data (tens of kbit/s to a few
//!   Mbit/s); CHT and OpenCRVS report field links around 50 kbit/s and long outages."
//! - Reports: "a quarterly report per market (job seekers, hires, placements)" (Shaanxi 2024):
//!   a directory-entry update every 90 days at county and township stations.

use serde::{Deserialize, Serialize};

/// One whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Scenario {
    pub run: RunConfig,
    pub workload: Workload,
    pub links: Links,
    pub faults: Faults,
}

/// What to simulate and for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Simulated days with workload and faults.
    pub days: f64,
    pub seed: u64,
    /// Keep only this city's or county's subtree ("" for the whole province).
    pub only: String,
    /// Share of villages kept (chosen by the seed), 0..=1.
    pub villages_share: f64,
    /// Longest convergence phase (all links up, no faults, no workload) before giving up.
    pub converge_max_days: f64,
    /// Envelope bytes per sync frame; by default what the node uses
    /// (`lingong_protocol::sync::DEFAULT_FRAME_ENVELOPE_BYTES`, 32 KiB).
    pub frame_envelope_bytes: usize,
    /// Links whose lower end is at most this deep keep the item sets their two ends share
    /// between sessions, windowed at each session's floor (4: every link; 0: every session
    /// builds its sets from the holdings, the baseline of `cargo bench -p lingong-sim`). The
    /// run is the same either way; only speed and memory differ.
    pub keep_sets_max_depth: u8,
    /// Kept sets of links at most this deep list their whole history (2: city and county
    /// links; the rest are windowed at each session's floor). A session that reaches below a
    /// windowed set's floor builds the whole set from the holdings, which on a link near the
    /// top means a large part of the province's changes, and changes that arrive days late
    /// (a village back from a long outage) do that on every link on their way up. Speed and
    /// memory only, as above.
    pub whole_sets_max_depth: u8,
    /// Links deeper than that (village links) keep their sets while the link stays up, through
    /// the few sessions of one up window, and drop them when it goes down (and build them per
    /// session in the convergence phase, when every link is up at once). Speed only, as above.
    pub keep_sets_while_up: bool,
    /// Build the two sets of a session start on two threads when both ends hold many
    /// envelopes. Speed only: the run is the same.
    pub parallel_set_builds: bool,
    /// Receive frames to leaves ahead of their time on a second thread when nothing before
    /// their arrival can change them (`crate::helper`). Speed only: the run is the same.
    pub frame_helper: bool,
    /// Retry delay after a session that left changes deferred (author or record not yet known,
    /// timestamp ahead of the receiver's clock).
    pub retry_s: f64,
    /// Payloads: real Automerge changes (`true`) or random bytes of the same size (`false`,
    /// faster; the simulator never parses payloads).
    pub automerge_payloads: bool,
    /// Print a progress line on stderr.
    pub progress: bool,
    /// How far below the start of the last completed session a session's first message
    /// starts looking at single changes (`SyncConfig::window_margin_ms`; the node's default,
    /// two days).
    pub window_margin_s: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            days: 30.0,
            seed: 1,
            only: String::new(),
            villages_share: 1.0,
            converge_max_days: 5.0,
            frame_envelope_bytes: lingong_protocol::sync::DEFAULT_FRAME_ENVELOPE_BYTES,
            keep_sets_max_depth: 4,
            whole_sets_max_depth: 2,
            keep_sets_while_up: true,
            parallel_set_builds: true,
            frame_helper: true,
            retry_s: 600.0,
            automerge_payloads: true,
            progress: true,
            window_margin_s: (lingong_protocol::sync::DEFAULT_WINDOW_MARGIN_MS / 1000) as f64,
        }
    }
}

/// Rates of local writes at one node of a level, per day (events fall in working hours,
/// 08:00–18:00).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rates {
    pub posts: f64,
    pub registrations: f64,
    pub placements: f64,
    pub complaints: f64,
    /// Edits of a worker record (availability, skills).
    pub worker_edits: f64,
    /// Employers registered (用工主体; a county has 100–300, field figures).
    pub employers: f64,
    /// Assistance records (困难帮扶) for the station's workers: the "1311" service asks six a
    /// year for each worker in difficulty; with about a fifth of a county's 3,000 workers in
    /// difficulty, some 15 a working day per county, most of them at the county and its
    /// townships.
    pub assistance: f64,
    /// Share of posts edited once (wage, description) during their life.
    pub post_edit_share: f64,
    /// Where posts are advertised, as shares of [own region, parent region, county]; a share
    /// that does not apply (above the county) falls back to the own region.
    pub reach_own: f64,
    pub reach_parent: f64,
    pub reach_county: f64,
    /// Quarterly report: directory-entry updates per day.
    pub reports: f64,
    /// Chances per day to take up waiting work: a township reviews its villages' posts (a
    /// village's post is pending until then), a county takes a complaint of its area one step
    /// further (received → accepted → handling → resolved → closed). A chance with nothing
    /// waiting, or only work the station does not hold yet, writes nothing.
    pub tasks: f64,
}

impl Rates {
    /// Writes per working day of every kind together.
    pub fn writes_per_day(&self) -> f64 {
        self.posts
            + self.registrations
            + self.placements
            + self.complaints
            + self.worker_edits
            + self.employers
            + self.assistance
            + self.reports
            + self.tasks
    }

    fn zero() -> Rates {
        Rates {
            posts: 0.0,
            registrations: 0.0,
            placements: 0.0,
            complaints: 0.0,
            worker_edits: 0.0,
            employers: 0.0,
            assistance: 0.0,
            post_edit_share: 0.5,
            reach_own: 1.0,
            reach_parent: 0.0,
            reach_county: 0.0,
            reports: 0.0,
            tasks: 0.0,
        }
    }
}

impl Default for Rates {
    fn default() -> Self {
        Rates::zero()
    }
}

/// Workload per level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub province: Rates,
    pub city: Rates,
    pub county: Rates,
    pub township: Rates,
    pub village: Rates,
    /// Mean days a post stays open before its closure edit.
    pub post_life_days: f64,
    /// Days without a post change after which a city orders a station below it to rectify
    /// (限期整改; `supervise`'s default `--stale-days`, 14).
    pub stale_days: f64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            province: Rates::zero(),
            // City markets exist in the capital; a few posts a day, advertised city-wide.
            city: Rates {
                posts: 2.0,
                placements: 1.0,
                reports: 1.0 / 90.0,
                ..Rates::zero()
            },
            // The county gig market: half of the base 40 posts per county per day.
            county: Rates {
                posts: 20.0,
                registrations: 4.0,
                placements: 10.0,
                complaints: 0.5,
                worker_edits: 2.0,
                employers: 0.5,
                assistance: 5.0,
                post_edit_share: 0.5,
                reach_own: 1.0,
                reach_parent: 0.0,
                reach_county: 0.0,
                reports: 1.0 / 90.0,
                // About 6 complaints a day reach a county from its own desk, ~17 townships
                // and ~200 villages at the rates here, each taking four steps.
                tasks: 30.0,
            },
            // A township station: about 10 events a day (field figures: 5–30).
            township: Rates {
                posts: 1.0,
                registrations: 3.0,
                placements: 3.0,
                complaints: 0.1,
                worker_edits: 1.0,
                employers: 0.05,
                assistance: 0.4,
                post_edit_share: 0.5,
                reach_own: 0.6,
                reach_parent: 0.4,
                reach_county: 0.0,
                reports: 1.0 / 90.0,
                // Its ~12 villages post about 1.2 posts a day for it to review.
                tasks: 3.0,
            },
            // Village and community stations: a few events a week.
            village: Rates {
                posts: 0.1,
                registrations: 0.3,
                placements: 0.1,
                complaints: 0.02,
                worker_edits: 0.05,
                employers: 0.0,
                assistance: 0.03,
                post_edit_share: 0.3,
                reach_own: 0.3,
                reach_parent: 0.5,
                reach_county: 0.2,
                reports: 0.0,
                tasks: 0.0,
            },
            post_life_days: 7.0,
            stale_days: 14.0,
        }
    }
}

/// A link model: alternating up and down periods drawn from exponential distributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkModel {
    pub mean_up_s: f64,
    pub mean_down_s: f64,
    pub bandwidth_bps: f64,
    pub latency_ms: f64,
    /// Probability that a frame is lost (the session is cut and retried later).
    pub loss: f64,
    /// Probability per day that a down period becomes a long outage.
    pub outage_per_day: f64,
    pub outage_min_days: f64,
    pub outage_max_days: f64,
    /// Shortest gap between two sessions on the link. The node polls every peer every 30 s;
    /// the simulator opens a session only when a link comes up or either end accepted
    /// something the other shares, and no sooner than this after the previous one.
    pub sync_interval_s: f64,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel::wired()
    }
}

impl LinkModel {
    fn wired() -> LinkModel {
        LinkModel {
            mean_up_s: 30.0 * 86_400.0,
            mean_down_s: 3_600.0,
            bandwidth_bps: 10_000_000.0,
            latency_ms: 20.0,
            loss: 0.0,
            outage_per_day: 0.0,
            outage_min_days: 1.0,
            outage_max_days: 2.0,
            sync_interval_s: 300.0,
        }
    }
}

/// Link models by the level of the link's lower end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Links {
    /// City ↔ province.
    pub city: LinkModel,
    /// County ↔ city.
    pub county: LinkModel,
    /// Township ↔ county: up most of the day.
    pub township: LinkModel,
    /// Village ↔ township: a few windows a day at ~50 kbit/s, long outages (field figures).
    pub village: LinkModel,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            city: LinkModel::wired(),
            county: LinkModel::wired(),
            township: LinkModel {
                mean_up_s: 6.0 * 3_600.0,
                mean_down_s: 30.0 * 60.0,
                bandwidth_bps: 1_000_000.0,
                latency_ms: 80.0,
                loss: 0.001,
                outage_per_day: 0.01,
                outage_min_days: 0.5,
                outage_max_days: 1.0,
                sync_interval_s: 300.0,
            },
            village: LinkModel {
                mean_up_s: 45.0 * 60.0,
                mean_down_s: 7.0 * 3_600.0,
                bandwidth_bps: 50_000.0,
                latency_ms: 300.0,
                loss: 0.01,
                outage_per_day: 0.02,
                outage_min_days: 1.0,
                outage_max_days: 3.0,
                sync_interval_s: 300.0,
            },
        }
    }
}

/// Faults, all off by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Nodes that crash and restart with their store intact.
    pub crash_restart: u32,
    /// Nodes that crash and lose their writes no other node holds yet.
    pub crash_lose: u32,
    pub crash_down_hours: f64,
    /// Share of nodes with a small clock offset (±`skew_small_s`).
    pub skew_share: f64,
    pub skew_small_s: f64,
    /// Nodes whose clock is `skew_large_s` ahead (alternately behind).
    pub skew_large: u32,
    pub skew_large_s: f64,
    /// Village stations whose certificate their county revokes mid-run.
    pub revoke: u32,
    /// Misbehaving township stations (forge, replay, equivocate).
    pub misbehave: u32,
    /// Probability that a misbehaving node tampers with a frame it sends.
    pub misbehave_rate: f64,
    /// Counties cut off from their city for `partition_days`.
    pub partition: u32,
    pub partition_days: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            crash_restart: 0,
            crash_lose: 0,
            crash_down_hours: 6.0,
            skew_share: 0.0,
            skew_small_s: 300.0,
            skew_large: 0,
            skew_large_s: 30.0 * 3_600.0,
            revoke: 0,
            misbehave: 0,
            misbehave_rate: 0.3,
            partition: 0,
            partition_days: 2.0,
        }
    }
}

/// Names of the built-in scenarios.
pub const BUILTIN: &[&str] = &[
    "guizhou",
    "calm",
    "crash",
    "crash-lose",
    "skew",
    "revoke",
    "misbehave",
    "partition",
    "all-faults",
];

impl Scenario {
    /// A built-in scenario by name: `guizhou` (default rates, the whole province, a light mix of
    /// every fault), `calm` (no faults), or one fault kind at a time.
    pub fn builtin(name: &str) -> Option<Scenario> {
        let mut s = Scenario::default();
        let f = &mut s.faults;
        match name {
            "calm" => {}
            "guizhou" | "all-faults" => {
                f.crash_restart = 3;
                f.crash_lose = 2;
                f.skew_share = 0.05;
                f.skew_large = 2;
                f.revoke = 1;
                f.misbehave = 1;
                f.partition = 1;
            }
            "crash" => f.crash_restart = 3,
            "crash-lose" => f.crash_lose = 3,
            "skew" => {
                f.skew_share = 0.2;
                f.skew_large = 2;
            }
            "revoke" => f.revoke = 2,
            "misbehave" => {
                f.misbehave = 1;
                f.misbehave_rate = 0.6;
            }
            "partition" => f.partition = 1,
            _ => return None,
        }
        Some(s)
    }

    /// Reads a TOML scenario file on top of `self` (fields it leaves out keep their values).
    pub fn merge_toml(&self, text: &str) -> anyhow::Result<Scenario> {
        let mut base = toml::Table::try_from(self)?;
        let over: toml::Table = toml::from_str(text)?;
        merge(&mut base, over);
        Ok(toml::Value::Table(base).try_into()?)
    }

    /// Checks ranges once at start-up.
    pub fn validate(&self) -> anyhow::Result<()> {
        let r = &self.run;
        anyhow::ensure!(
            r.days > 0.0 && r.days <= 366.0,
            "run.days must be in (0, 366]"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&r.villages_share),
            "run.villages_share must be in [0, 1]"
        );
        anyhow::ensure!(
            r.frame_envelope_bytes >= 1024,
            "run.frame_envelope_bytes too small"
        );
        for (name, l) in [
            ("city", &self.links.city),
            ("county", &self.links.county),
            ("township", &self.links.township),
            ("village", &self.links.village),
        ] {
            anyhow::ensure!(
                l.mean_up_s > 0.0 && l.mean_down_s > 0.0 && l.bandwidth_bps > 0.0,
                "links.{name}: mean_up_s, mean_down_s and bandwidth_bps must be positive"
            );
            anyhow::ensure!(
                (0.0..1.0).contains(&l.loss),
                "links.{name}.loss must be in [0, 1)"
            );
        }
        anyhow::ensure!(
            (1.0..=365.0).contains(&self.workload.stale_days),
            "workload.stale_days must be in [1, 365] (as supervise --stale-days)"
        );
        Ok(())
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_overrides_only_what_it_names() {
        let base = Scenario::builtin("calm").unwrap();
        let s = base
            .merge_toml("[workload.county]\nposts = 5.0\n[run]\ndays = 2.0\n")
            .unwrap();
        assert_eq!(s.workload.county.posts, 5.0);
        assert_eq!(s.run.days, 2.0);
        assert_eq!(
            s.workload.county.placements,
            base.workload.county.placements
        );
        assert!(base.merge_toml("[run]\nnonsense = 1\n").is_err());
    }

    #[test]
    fn the_example_scenario_file_is_valid() {
        let text = include_str!("../scenarios/example.toml");
        let s = Scenario::builtin("calm").unwrap().merge_toml(text).unwrap();
        s.validate().unwrap();
        assert_eq!(s.workload.county.posts, 100.0);
    }

    #[test]
    fn every_builtin_scenario_is_valid() {
        for name in BUILTIN {
            Scenario::builtin(name).unwrap().validate().unwrap();
        }
    }
}
