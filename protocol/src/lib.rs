//! lingong-protocol: the pure core of lingong.
//!
//! Everything here is deterministic and free of IO: no sockets, no files, no clock reads, no
//! tokio, no sled. Time is always passed in by the caller. The node (`lingong-node`) and the
//! simulator (`lingong-sim`) are two drivers of the same code.
//!
//! Layout:
//! - [`region`]: statistical division codes and the bundled Guizhou division table.
//! - [`occupation`]: the 2022 national occupation classification with everyday aliases.
//! - [`schema`]: one typed schema per document record kind (post, worker, employer,
//!   placement): fields, rules, Automerge edits and reading back.
//! - [`reconcile`]: range-based set reconciliation over `(timestamp, id)` items.
//! - [`id_number`]: resident ID numbers: validation, the mask, the keyed argon2id hash.
//! - [`matching`]: ranking posts for a worker and workers for a post, priority workers first.
//! - [`credit_code`]: unified social credit codes of employers (GB 32100): validation.
//! - [`min_wage`]: Guizhou's minimum wage by area class, a replaceable TOML table.
//! - [`review`]: the automatic findings a reviewer sees before approving a post.
//! - [`report`]: service reports (成效表): figures as a function of the records counted, the
//!   commitment to them, and how a seal is checked.
pub mod accept;
pub mod author;
pub mod bundle;
pub mod canon;
pub mod cert;
pub mod credit_code;
pub mod dates;
pub mod envelope;
pub mod error;
pub mod evidence;
pub mod fixture;
pub mod id_number;
pub mod ingest;
pub mod keys;
pub mod matching;
pub mod min_wage;
pub mod occupation;
pub mod reconcile;
pub mod record;
pub mod region;
pub mod report;
pub mod review;
pub mod schema;
pub mod scope;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
