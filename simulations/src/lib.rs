//! lingong-sim: a deterministic discrete-event simulator of the whole Guizhou lingong network,
//! driving the protocol crate's own code for every node.
//!
//! Layout:
//! - [`config`]: the scenario (rates, links, faults) as TOML with defaults from the field figures.
//! - [`topology`]: the nodes and links, from the real division table.
//! - [`arena`]: every envelope once, and each node's store as indices into it (a [`Store`]).
//! - [`sim`]: the event queue, the links, the sessions and the faults; `sim/writes.rs` the
//!   workload's writes (what each write event writes, and its Automerge change and signature,
//!   which can be worked out ahead); `sim/oversight.rs` overfills cancelled by their county
//!   and cities' rectification orders; `sim/seals.rs` the month seals in the DHIS2 order and
//!   their recomputation.
//! - [`check`]: the end-of-run comparison of every node's holdings with its scope.
//! - [`report`]: the JSON document, the summary table and the plots.
//! - [`verifier`]: the signatures of the simulator's own writes, checked on a second thread.
//! - [`alloc`]: the binaries' allocator (mimalloc, keeping the memory it frees).
//! - [`helper`]: a second thread that receives frames, opens sessions and signs writes ahead
//!   of their time, when nothing before them can change the answer (the run stays the same).
//!
//! Architecture invariant: the simulator never accepts, signs or replicates a change except
//! through `lingong_protocol` (`accept::accept_all`, `envelope::Envelope::sign`,
//! `sync::Session`); it adds only the environment (time, links, faults, workload) and the
//! bookkeeping that checks the outcome. It never compiles libp2p or sled.
//!
//! [`Store`]: lingong_protocol::store::Store
#![recursion_limit = "256"]

pub mod alloc;
pub mod arena;
pub mod check;
pub mod config;
pub mod helper;
pub mod report;
pub mod sim;
pub mod topology;
pub mod verifier;

pub use config::Scenario;
pub use sim::{Outcome, Sim};

/// Runs a scenario to the end (workload, convergence, check).
pub fn run(scenario: Scenario) -> anyhow::Result<Outcome> {
    Ok(Sim::new(scenario)?.run())
}
