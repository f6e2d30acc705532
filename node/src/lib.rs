//! lingong-node: one lingong node.
//!
//! Layout:
//! - [`home`]: the home folder (key, config, certificate, store paths) and [`home::Config`].
//! - [`id_secret`]: the key of the ID-number hash (`id.secret`, or the province's secret).
//! - [`index`]: the store's secondary indexes and counters (what lists read).
//! - [`store`]: [`store::SledStore`], the protocol's store contract over sled, plus the local
//!   private table of clear ID numbers.
//! - [`migrate`]: the store's format version; an older store is copied aside and migrated
//!   at open, a newer one refused.
//! - [`station`]: the station core: open, the write funnel, resolve, accept, peers.
//! - [`request`]: the request vocabulary ([`request::Request`]) and its one dispatcher.
//! - [`services`]: one file per service (posts, review, employers, workers, placements, …).
//! - [`control`]: the daemon control socket and the command path through it.
//! - [`http`]: the HTTP API, the staff console, the big screen, public pages and posters.
//! - [`error`]: [`error::NodeError`], bilingual, with exit-status classification.
//! - [`figures`]: what reports, supervision and audit read of the store (report facts, seals,
//!   the stations below, the check of a seal).
//! - [`repair`]: `lingong repair` of a damaged store, and the no-signing-until-caught-up rule.
//! - [`compact`]: `lingong compact`, the store written afresh (erased data gone from its files).
//! - [`backup`]: `lingong backup` (one encrypted file) and `lingong restore`, whose restored
//!   node signs nothing until its parent has given back its own log.
//! - [`clock`]: no signing while the last measurement against the parent found this node's
//!   clock off by more than the back-dating tolerance (the `clock-off` marker).
//! - [`doctor`]: `lingong doctor`: files, certificate, store, disk, peers, clock, what waits to
//!   go up; findings with what to do, with or without a running daemon.
pub mod backup;
pub mod clock;
pub mod compact;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod figures;
pub mod home;
pub mod http;
pub mod id_secret;
pub mod index;
pub mod migrate;
pub mod net;
pub mod net_limits;
pub mod repair;
pub mod request;
pub mod services;
pub mod station;
pub mod store;
