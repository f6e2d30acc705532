//! Local writes: how a node turns an edit into a signed envelope and hands it to the same
//! accept path that network changes take.
//!
//! [`Writer::sign`] picks the next sequence number and previous-envelope hash from the store,
//! signs, and accepts the envelope into a [`Staged`] batch; nothing is written unless accept
//! succeeds, so a rejected command leaves the store exactly as it was.

use crate::accept::{AcceptConfig, accept};
use crate::cert::CertChain;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::evidence::ForkProof;
use crate::keys::NodeKey;
use crate::record::{self, FieldValue, RecordId, RecordKind, Revocation};
use crate::region::RegionCode;
use crate::store::{NO_PREV, Staged, Store};

/// What a local write targets.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// A new record of this kind, advertised in `reach` (posts) or its own region.
    Create {
        kind: RecordKind,
        reach: Option<RegionCode>,
    },
    /// An existing record.
    Edit(RecordId),
}

/// The node's signing side.
pub struct LocalAuthor<'k> {
    pub key: &'k NodeKey,
    pub cfg: AcceptConfig,
}

impl<'k> LocalAuthor<'k> {
    /// Publishes this node's certificate record: the first envelope every node signs after
    /// `cert install` (and again after a renewal).
    pub fn publish_certificate<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        chain: &CertChain,
        now_ms: i64,
    ) -> Result<Envelope> {
        if chain.leaf().body.subject != self.key.public() {
            return Err(Error::BrokenChain {
                detail: "this certificate is for another node's key".into(),
            });
        }
        let me = self.key.public();
        let (seq, prev) = match staged.author(&me).map_err(se)? {
            Some(info) => (
                info.max_seq + 1,
                staged
                    .envelope_at(&me, info.max_seq)
                    .map_err(se)?
                    .unwrap_or(NO_PREV),
            ),
            None => (1, NO_PREV),
        };
        let region = chain.leaf().body.region;
        let env = Envelope::sign(
            self.key,
            seq,
            prev,
            RecordId {
                creator: me,
                serial: seq,
            },
            RecordKind::Certificate,
            region,
            region,
            now_ms,
            chain.leaf_hash(),
            chain.to_bytes(),
        );
        accept(staged, &self.cfg, &env, now_ms)?;
        Ok(env)
    }

    /// Signs and accepts one document edit; returns the envelope.
    pub fn write<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        target: Target,
        edits: &[(&str, FieldValue)],
        now_ms: i64,
    ) -> Result<Envelope> {
        let me = self.key.public();
        let info = staged.author(&me).map_err(se)?.ok_or(Error::NotCertified)?;
        let (record_id, kind, region, reach, saved) = match target {
            Target::Create { kind, reach } => {
                let id = RecordId {
                    creator: me,
                    serial: info.max_seq + 1,
                };
                (
                    id,
                    kind,
                    info.region(),
                    reach.unwrap_or(info.region()),
                    None,
                )
            }
            Target::Edit(id) => {
                let state =
                    staged
                        .record(&id)
                        .map_err(se)?
                        .ok_or_else(|| Error::UnknownRecord {
                            record: id.to_hex(),
                        })?;
                if state.doc.is_none() {
                    return Err(Error::BadChange {
                        detail: "this node holds only the record's header, not its contents".into(),
                    });
                }
                (id, state.kind, state.region, state.reach, state.doc)
            }
        };
        let payload = record::make_change(saved.as_deref(), &me, edits, now_ms)?;
        self.sign_payload(
            staged,
            info.max_seq,
            record_id,
            kind,
            region,
            reach,
            payload,
            now_ms,
        )
    }

    /// Signs and accepts a revocation of `revocation.revoked`, advertised in the revoked node's
    /// home area.
    pub fn revoke<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        revocation: &Revocation,
        now_ms: i64,
    ) -> Result<Envelope> {
        // It travels where the revoked node's certificate travels (see `scope`).
        let reach = crate::scope::home_area(&revocation.chain.leaf().body.region);
        self.create_whole(
            staged,
            RecordKind::Revocation,
            reach,
            revocation.to_bytes(),
            now_ms,
        )
    }

    /// Signs and accepts an evidence record carrying `proof` (a fork this node caught).
    pub fn publish_evidence<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        proof: &ForkProof,
        now_ms: i64,
    ) -> Result<Envelope> {
        // It travels where the accused node's changes can go (see `scope`).
        let reach = crate::scope::home_area(&proof.chain.leaf().body.region);
        self.create_whole(
            staged,
            RecordKind::Evidence,
            reach,
            proof.to_bytes(),
            now_ms,
        )
    }

    /// Creates a record whose payload is written whole, once (revocations, evidence).
    fn create_whole<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        kind: RecordKind,
        reach: RegionCode,
        payload: Vec<u8>,
        now_ms: i64,
    ) -> Result<Envelope> {
        let me = self.key.public();
        let info = staged.author(&me).map_err(se)?.ok_or(Error::NotCertified)?;
        let id = RecordId {
            creator: me,
            serial: info.max_seq + 1,
        };
        self.sign_payload(
            staged,
            info.max_seq,
            id,
            kind,
            info.region(),
            reach,
            payload,
            now_ms,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn sign_payload<S: Store + ?Sized>(
        &self,
        staged: &mut Staged<'_, S>,
        max_seq: u64,
        record: RecordId,
        kind: RecordKind,
        region: RegionCode,
        reach: RegionCode,
        payload: Vec<u8>,
        now_ms: i64,
    ) -> Result<Envelope> {
        let me = self.key.public();
        let info = staged.author(&me).map_err(se)?.ok_or(Error::NotCertified)?;
        let prev = staged
            .envelope_at(&me, max_seq)
            .map_err(se)?
            .unwrap_or(NO_PREV);
        let env = Envelope::sign(
            self.key,
            max_seq + 1,
            prev,
            record,
            kind,
            region,
            reach,
            now_ms,
            info.chain.leaf_hash(),
            payload,
        );
        accept(staged, &self.cfg, &env, now_ms)?;
        Ok(env)
    }
}

fn se(e: crate::store::StoreError) -> Error {
    Error::BadChange {
        detail: e.to_string(),
    }
}
