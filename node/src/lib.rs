//! lingong-node: one lingong node.
//!
//! Layout:
//! - [`home`]: the home folder (key, config, certificate, store paths) and [`home::Config`].
//! - [`id_secret`]: the key of the ID-number hash (`id.secret`, or the province's secret).
//! - [`store`]: [`store::SledStore`], the protocol's store contract over sled, plus the local
//!   private table of clear ID numbers.
//! - [`station`]: the station's services behind every command ([`station::Request`]).
//! - [`control`]: the daemon control socket and the command path through it.
//! - [`error`]: [`error::NodeError`], bilingual, with exit-status classification.
//! - [`repair`]: `lingong repair` of a damaged store, and the no-signing-until-caught-up rule.
pub mod bundle;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod error;
pub mod home;
pub mod id_secret;
pub mod net;
pub mod repair;
pub mod station;
pub mod store;
