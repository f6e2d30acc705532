//! What a run reports: the JSON document of the `lingong-sim` contract (plus extra keys), a
//! summary table for the terminal, and SVG plots written next to the JSON.

use crate::sim::Outcome;
use plotters::prelude::*;
use serde_json::{Value, json};
use std::path::Path;

const LEVELS: [&str; 5] = ["province", "city", "county", "township", "village"];

/// Peak resident memory of this process (VmHWM from /proc/self/status), 0 if unknown.
pub fn peak_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// p50, p90, p99 and max of `v` (sorted in place); nulls when empty.
fn percentiles(v: &mut [f32]) -> Value {
    if v.is_empty() {
        return json!({"p50": null, "p90": null, "p99": null, "max": null, "count": 0});
    }
    v.sort_unstable_by(f32::total_cmp);
    let at = |q: f64| {
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        f64::from(v[i])
    };
    json!({
        "p50": round(at(0.5)),
        "p90": round(at(0.9)),
        "p99": round(at(0.99)),
        "max": round(at(1.0)),
        "count": v.len(),
    })
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The JSON document. `wall_seconds` is the run's wall time.
pub fn to_json(o: &mut Outcome, wall_seconds: f64, scenario: &str) -> Value {
    let s = &o.stats;
    let total_days = o.days + o.converge_days;
    let mut bytes_by_level = serde_json::Map::new();
    let mut totals = serde_json::Map::new();
    let mut envelopes = serde_json::Map::new();
    let mut sessions = serde_json::Map::new();
    // Links are named by their lower end: no level-0 (province) links.
    for (d, &level) in LEVELS.iter().enumerate().skip(1) {
        let links = o.link_count_by_level[d];
        if links == 0 {
            continue;
        }
        bytes_by_level.insert(
            level.into(),
            json!((s.wire_bytes[d] as f64 / links as f64 / total_days).round()),
        );
        totals.insert(level.into(), json!(s.wire_bytes[d]));
        envelopes.insert(level.into(), json!(s.envelope_bytes[d]));
        sessions.insert(level.into(), json!(s.sessions_by_level[d]));
    }
    let wire: u64 = s.wire_bytes.iter().sum();
    let env: u64 = s.envelope_bytes.iter().sum();
    let mut stores = serde_json::Map::new();
    for (d, row) in o.check.store_by_level.iter().enumerate() {
        if row[0] == 0 {
            continue;
        }
        stores.insert(
            LEVELS[d].into(),
            json!({
                "nodes": row[0],
                "mean_changes": row[1] / row[0],
                "max_changes": row[2],
                "mean_bytes": row[3] / row[0],
                "max_bytes": row[4],
            }),
        );
    }
    let converged = o.failures.is_empty();
    let nodes: usize = o.node_count_by_level.iter().sum();
    json!({
        "seed": o.seed,
        "nodes": nodes,
        "days": o.days,
        "events": s.events,
        "converged": converged,
        "lost_changes": o.check.lost_changes,
        "accepted_forgeries": s.accepted_forgeries,
        "latency_to_province_s": percentiles(&mut o.latency_to_top_s),
        "latency_to_reach_s": percentiles(&mut o.latency_to_reach_s),
        "bytes_by_level": bytes_by_level,
        "overhead_ratio": if env > 0 { json!(round(wire as f64 / env as f64 * 10.0) / 10.0) } else { Value::Null },
        "peak_memory_bytes": peak_memory_bytes(),
        "wall_seconds": round(wall_seconds),
        // Extra keys.
        "scenario": scenario,
        "top_region": o.top_region.to_string(),
        "nodes_by_level": LEVELS.iter().zip(o.node_count_by_level).map(|(l, n)| (l.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "events_per_second": (s.events as f64 / wall_seconds.max(1e-9)).round(),
        "convergence_days": round(o.converge_days * 100.0) / 100.0,
        "went_quiet": o.quiet,
        "changes_written": s.writes,
        "changes_written_by_kind": lingong_protocol::record::RecordKind::ALL.iter().map(|k| (serde_json::to_value(k).expect("kind").as_str().expect("a name").to_string(), json!(s.writes_by_kind[*k as usize]))).collect::<serde_json::Map<_, _>>(),
        "desk_work": {"village_posts_reviewed": s.reviews, "complaints_filed": s.complaints_filed, "complaint_steps": s.complaint_steps, "complaints_closed": s.complaints_closed, "overfills_seen": s.overfills_seen, "placements_cancelled": s.placements_cancelled, "overfilled_left": s.overfilled_left, "supervision_orders": s.supervision_orders, "report_seals": s.seals, "seals_missing_children": s.seals_missing_children, "seals_verified": s.seals_verified, "seal_mismatches": s.seal_mismatches, "top_seal_figures": s.top_seal},
        "valid_changes": o.check.valid_changes,
        "payload_bytes_written": s.payload_bytes_written,
        "accepted": s.accepted,
        "duplicates": s.duplicates,
        "deferred": s.deferred,
        "set_builds": s.set_builds,
        "set_build_items": s.set_build_items,
        "whole_set_fallbacks": s.whole_set_fallbacks,
        "lent_to_helper": s.lent_to_helper,
        "lent_done_by_engine": s.lent_done_by_engine,
        "lent_writes": s.lent_writes,
        "held_back": s.held_back,
        "events_by_kind": crate::sim::EVENT_KINDS.iter().zip(s.events_by_kind).map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "deferred_by_kind": s.deferred_by_kind,
        "rejected_by_kind": s.rejected,
        "bytes_total_by_level": totals,
        "envelope_bytes_by_level": envelopes,
        "sessions_by_level": sessions,
        "sessions": {"started": s.sessions, "completed": s.sessions_completed, "cut": s.sessions_cut, "refused": s.sessions_refused, "frames": s.frames},
        "store_by_level": stores,
        "faults": {
            "crashes": s.crashes,
            "revocations": s.revocations,
            "partitions": s.partitions,
            "long_outages": s.outages,
            "lost_unsynced_writes": s.lost_unsynced_writes,
            "forgeries_injected": s.forged_injected,
            "replays_injected": s.replays_injected,
            "equivocations": s.equivocations,
            "fork_evidence": s.evidence,
            "accepted_after_revocation": s.accepted_after_revocation,
            "held_after_revocation": o.check.held_after_revocation,
            "after_fork": o.check.after_fork,
            "stranded_by_revocation": o.check.stranded_by_revocation,
            "double_forks": o.check.double_forks,
            "out_of_scope_holdings": o.check.out_of_scope_holdings,
            "privacy_violations": o.check.privacy_violations,
            "missing_holdings": o.check.missing_holdings,
        },
        "trace_hash": format!("{:016x}", o.trace_hash),
        "failures": o.failures,
    })
}

/// The terminal summary.
pub fn table(j: &Value) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<34} {v}\n"));
    let lat = |v: &Value| {
        format!(
            "p50 {} s, p90 {} s, p99 {} s, max {} s ({} samples)",
            v["p50"], v["p90"], v["p99"], v["max"], v["count"]
        )
    };
    out.push_str("lingong-sim summary\n");
    line(
        &mut out,
        "scenario / seed",
        format!("{} / {}", j["scenario"].as_str().unwrap_or(""), j["seed"]),
    );
    line(
        &mut out,
        "nodes (top region)",
        format!(
            "{} ({})",
            j["nodes"],
            j["top_region"].as_str().unwrap_or("")
        ),
    );
    line(
        &mut out,
        "days (+ convergence)",
        format!("{} (+{})", j["days"], j["convergence_days"]),
    );
    line(
        &mut out,
        "events (per second)",
        format!("{} ({})", j["events"], j["events_per_second"]),
    );
    line(
        &mut out,
        "changes written / valid",
        format!("{} / {}", j["changes_written"], j["valid_changes"]),
    );
    line(&mut out, "converged", j["converged"].to_string());
    line(&mut out, "lost changes", j["lost_changes"].to_string());
    line(
        &mut out,
        "accepted forgeries",
        j["accepted_forgeries"].to_string(),
    );
    line(
        &mut out,
        "latency to the top node",
        lat(&j["latency_to_province_s"]),
    );
    line(
        &mut out,
        "latency to villages in reach",
        lat(&j["latency_to_reach_s"]),
    );
    if let Some(m) = j["bytes_by_level"].as_object() {
        for (k, v) in m {
            line(&mut out, &format!("bytes/link/day {k}"), v.to_string());
        }
    }
    line(
        &mut out,
        "wire bytes / envelope bytes",
        j["overhead_ratio"].to_string(),
    );
    if let Some(m) = j["store_by_level"].as_object() {
        for (k, v) in m {
            line(
                &mut out,
                &format!("store {k}"),
                format!(
                    "mean {} changes ({} bytes), max {}",
                    v["mean_changes"], v["mean_bytes"], v["max_changes"]
                ),
            );
        }
    }
    line(
        &mut out,
        "rejected by kind",
        j["rejected_by_kind"].to_string(),
    );
    line(
        &mut out,
        "deferred by kind",
        j["deferred_by_kind"].to_string(),
    );
    line(&mut out, "sessions", j["sessions"].to_string());
    line(&mut out, "events by kind", j["events_by_kind"].to_string());
    line(&mut out, "faults", j["faults"].to_string());
    line(
        &mut out,
        "peak memory (MB)",
        format!(
            "{}",
            j["peak_memory_bytes"].as_u64().unwrap_or(0) / 1_000_000
        ),
    );
    line(&mut out, "wall seconds", j["wall_seconds"].to_string());
    out
}

/// Writes `<stem>-latency.svg`, `<stem>-bytes.svg` and `<stem>-convergence.svg` next to `json`.
pub fn plots(o: &Outcome, j: &Value, json: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = json.parent().unwrap_or(Path::new("."));
    let stem = json
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("lingong-sim");
    let latency = dir.join(format!("{stem}-latency.svg"));
    let bytes = dir.join(format!("{stem}-bytes.svg"));
    let convergence = dir.join(format!("{stem}-convergence.svg"));
    plot_latency(o, &latency).map_err(|e| anyhow::anyhow!("latency plot: {e}"))?;
    plot_bytes(j, &bytes).map_err(|e| anyhow::anyhow!("bytes plot: {e}"))?;
    plot_convergence(o, &convergence).map_err(|e| anyhow::anyhow!("convergence plot: {e}"))?;
    Ok(vec![latency, bytes, convergence])
}

fn cdf(v: &[f32]) -> Vec<(f64, f64)> {
    // `v` is sorted by `to_json`; thin it to at most 500 points.
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let step = (n / 500).max(1);
    let mut pts: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (f64::from(v[i]) / 3600.0, (i + 1) as f64 / n as f64))
        .collect();
    pts.push((f64::from(v[n - 1]) / 3600.0, 1.0));
    pts
}

fn plot_latency(o: &Outcome, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let top = cdf(&o.latency_to_top_s);
    let reach = cdf(&o.latency_to_reach_s);
    let xmax = top
        .iter()
        .chain(reach.iter())
        .map(|p| p.0)
        .fold(1.0f64, f64::max);
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Latency from post to the top node and to villages in reach (CDF)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..xmax * 1.02, 0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("hours after the post was written")
        .y_desc("share of deliveries")
        .draw()?;
    chart
        .draw_series(LineSeries::new(top, BLUE.stroke_width(2)))?
        .label("to the top node")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(reach, RED.stroke_width(2)))?
        .label("to villages in reach")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn plot_bytes(j: &Value, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let levels: Vec<(String, f64)> = j["bytes_by_level"]
        .as_object()
        .map(|m| {
            LEVELS
                .iter()
                .filter_map(|l| {
                    m.get(*l)
                        .and_then(Value::as_f64)
                        .map(|v| (l.to_string(), v / 1000.0))
                })
                .collect()
        })
        .unwrap_or_default();
    let ymax = levels.iter().map(|l| l.1).fold(1.0f64, f64::max) * 1.15;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = levels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Bytes per link per day, by the level of the link's lower end",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..ymax)?;
    let names = levels.iter().map(|l| l.0.clone()).collect::<Vec<_>>();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(levels.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 && i < names.len() {
                names[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc("kB per link per day")
        .draw()?;
    chart.draw_series(levels.iter().enumerate().map(|(i, (_, v))| {
        Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, *v)], BLUE.filled())
    }))?;
    root.present()?;
    Ok(())
}

fn plot_convergence(o: &Outcome, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let pts: Vec<(f64, f64)> = o.backlog.iter().map(|(d, b)| (*d, *b as f64)).collect();
    let xmax = pts.last().map(|p| p.0).unwrap_or(1.0).max(0.1);
    let ymax = pts.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Deliveries still outstanding (node × change pairs the scopes imply)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("simulated day (convergence phase after the last workload day)")
        .y_desc("outstanding deliveries")
        .draw()?;
    chart.draw_series(LineSeries::new(pts, BLUE.stroke_width(2)))?;
    let end = o.days;
    chart.draw_series(LineSeries::new(
        vec![(end, 0.0), (end, ymax)],
        BLACK.mix(0.5),
    ))?;
    root.present()?;
    Ok(())
}
