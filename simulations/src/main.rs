//! The `lingong-sim` binary: parses the command line (see `shared/contract/cli.md`), runs the
//! scenario, prints the summary, writes the JSON and the plots, and exits 1 when a safety or
//! convergence check failed, printing the seed and the command that reproduces the run.

use anyhow::{Context, bail};
use lingong_sim::config::{BUILTIN, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator (see `lingong_sim::alloc`).
#[global_allocator]
static ALLOCATOR: lingong_sim::alloc::MiMalloc = lingong_sim::alloc::MiMalloc;

const USAGE: &str = "usage: lingong-sim --scenario NAME [--only CODE] [--days N] [--seed S] \
[--json FILE] [--config FILE] [--villages-share F] [--converge-days N] [--quiet]
scenarios: guizhou (default rates, whole province, a light mix of every fault), calm, crash, \
crash-lose, skew, revoke, misbehave, partition, all-faults";

struct Args {
    scenario: String,
    only: Option<String>,
    days: Option<f64>,
    seed: Option<u64>,
    json: Option<PathBuf>,
    config: Option<PathBuf>,
    villages_share: Option<f64>,
    converge_days: Option<f64>,
    quiet: bool,
}

fn parse() -> anyhow::Result<Args> {
    let mut a = Args {
        scenario: "guizhou".into(),
        only: None,
        days: None,
        seed: None,
        json: None,
        config: None,
        villages_share: None,
        converge_days: None,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--scenario" => a.scenario = value()?,
            "--only" => a.only = Some(value()?),
            "--days" => a.days = Some(value()?.parse().context("--days")?),
            "--seed" => a.seed = Some(value()?.parse().context("--seed")?),
            "--json" => a.json = Some(value()?.into()),
            "--config" => a.config = Some(value()?.into()),
            "--villages-share" => {
                a.villages_share = Some(value()?.parse().context("--villages-share")?)
            }
            "--converge-days" => {
                a.converge_days = Some(value()?.parse().context("--converge-days")?)
            }
            "--quiet" => a.quiet = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(a)
}

/// The command that reproduces this run.
fn reproduce(a: &Args, seed: u64, days: f64) -> String {
    let mut cmd = format!(
        "lingong-sim --scenario {} --seed {seed} --days {days}",
        a.scenario
    );
    if let Some(o) = &a.only {
        cmd.push_str(&format!(" --only {o}"));
    }
    if let Some(v) = a.villages_share {
        cmd.push_str(&format!(" --villages-share {v}"));
    }
    if let Some(c) = a.converge_days {
        cmd.push_str(&format!(" --converge-days {c}"));
    }
    if let Some(c) = &a.config {
        cmd.push_str(&format!(" --config {}", c.display()));
    }
    cmd
}

fn main() -> ExitCode {
    lingong_sim::alloc::keep_freed_memory();
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lingong-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let a = parse()?;
    let mut scenario = Scenario::builtin(&a.scenario).with_context(|| {
        format!(
            "unknown scenario {:?}; known: {}",
            a.scenario,
            BUILTIN.join(", ")
        )
    })?;
    if let Some(path) = &a.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        scenario = scenario
            .merge_toml(&text)
            .with_context(|| format!("{} is not a valid scenario", path.display()))?;
    }
    if let Some(o) = &a.only {
        scenario.run.only = o.clone();
    }
    if let Some(d) = a.days {
        scenario.run.days = d;
    }
    if let Some(s) = a.seed {
        scenario.run.seed = s;
    }
    if let Some(v) = a.villages_share {
        scenario.run.villages_share = v;
    }
    if let Some(c) = a.converge_days {
        scenario.run.converge_max_days = c;
    }
    if a.quiet {
        scenario.run.progress = false;
    }
    let (seed, days) = (scenario.run.seed, scenario.run.days);
    let started = std::time::Instant::now();
    let mut outcome = lingong_sim::run(scenario)?;
    let wall = started.elapsed().as_secs_f64();
    let j = lingong_sim::report::to_json(&mut outcome, wall, &a.scenario);
    println!("{}", lingong_sim::report::table(&j));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&j)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        for p in lingong_sim::report::plots(&outcome, &j, path)? {
            println!("wrote {}", p.display());
        }
        println!("wrote {}", path.display());
    }
    if !outcome.failures.is_empty() {
        eprintln!("lingong-sim: FAILED (seed {seed}):");
        for f in &outcome.failures {
            eprintln!("  - {f}");
        }
        eprintln!("reproduce with: {}", reproduce(&a, seed, days));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
