//! Signed envelopes: the unit of replication.
//!
//! Every change a node makes is wrapped in an [`Envelope`]: a [`Header`] that the author signs
//! and a payload that travels beside it (an Automerge change, a certificate chain or a
//! revocation). The header carries the payload's hash, so a node outside a record's privacy
//! scope can hold and verify the header without the payload, and an erased payload leaves a
//! header that still verifies. The per-author `seq`/`prev` hash chain makes gaps and forks in an
//! author's log detectable. PROTOCOL.md gives the exact bytes and test vectors.

use crate::canon::{Hash32, Reader, Writer, sha256};
use crate::error::{Error, Result};
use crate::keys::{NodeKey, PublicKey, Signature};
use crate::record::{RecordId, RecordKind};
use crate::region::RegionCode;
use sha2::{Digest, Sha256};

const HEADER_DOMAIN: &str = "lingong/envelope/v1";
const ID_DOMAIN: &str = "lingong/envelope-id/v1";
/// Largest payload accepted (64 KiB): a job post change is a few hundred bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Largest encoded envelope accepted.
pub const MAX_ENVELOPE_BYTES: usize = MAX_PAYLOAD_BYTES + 1024;

/// What the author signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub author: PublicKey,
    /// 1 for the author's first envelope, then +1 each time.
    pub seq: u64,
    /// The id of the author's envelope `seq - 1`; all zero when `seq == 1`.
    pub prev: Hash32,
    pub record: RecordId,
    pub kind: RecordKind,
    /// The record's home region: the creator's certified region.
    pub region: RegionCode,
    /// Where the record is advertised (posts); equal to `region` for other kinds.
    pub reach: RegionCode,
    /// Milliseconds since the Unix epoch, by the author's clock.
    pub timestamp_ms: i64,
    /// SHA-256 of the author's leaf certificate.
    pub cert: Hash32,
    pub payload_hash: Hash32,
    pub payload_len: u32,
}

/// The 32-byte id of an envelope: SHA-256 over its signed header and signature.
pub type EnvelopeId = Hash32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub header: Header,
    pub signature: Signature,
    /// `None` where this node holds only the header (outside the record's privacy scope).
    pub payload: Option<Vec<u8>>,
}

impl Header {
    /// The exact bytes that are signed (PROTOCOL.md, "Envelope header").
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(HEADER_DOMAIN);
        w.u8(1)
            .fixed(&self.author.0)
            .u64(self.seq)
            .fixed(&self.prev)
            .fixed(&self.record.creator.0)
            .u64(self.record.serial)
            .u8(self.kind as u8)
            .fixed(&self.region.to_bytes())
            .fixed(&self.reach.to_bytes())
            .i64(self.timestamp_ms)
            .fixed(&self.cert)
            .fixed(&self.payload_hash)
            .u32(self.payload_len);
        w.finish()
    }

    fn read(bytes: &[u8]) -> Result<Header> {
        let mut r = Reader::new(bytes);
        r.domain(HEADER_DOMAIN)?;
        let version = r.u8("header.version")?;
        if version != 1 {
            return Err(Error::invalid("header.version", "must be 1", "必须为 1"));
        }
        let h = Header {
            author: PublicKey(r.array("header.author")?),
            seq: r.u64("header.seq")?,
            prev: r.array("header.prev")?,
            record: RecordId {
                creator: PublicKey(r.array("header.record_creator")?),
                serial: r.u64("header.record_serial")?,
            },
            kind: RecordKind::from_u8(r.u8("header.kind")?)?,
            region: RegionCode::from_bytes(&r.array("header.region")?)?,
            reach: RegionCode::from_bytes(&r.array("header.reach")?)?,
            timestamp_ms: r.i64("header.timestamp_ms")?,
            cert: r.array("header.cert")?,
            payload_hash: r.array("header.payload_hash")?,
            payload_len: r.u32("header.payload_len")?,
        };
        r.finish()?;
        if h.seq == 0 {
            return Err(Error::invalid("header.seq", "starts at 1", "从 1 开始"));
        }
        if h.payload_len as usize > MAX_PAYLOAD_BYTES {
            return Err(Error::invalid(
                "header.payload_len",
                "at most 64 KiB",
                "最多 64 KiB",
            ));
        }
        Ok(h)
    }

    /// True for the change that creates its record.
    pub fn is_genesis(&self) -> bool {
        self.author == self.record.creator && self.seq == self.record.serial
    }
}

impl Envelope {
    /// Signs a new envelope over `payload`.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        key: &NodeKey,
        seq: u64,
        prev: Hash32,
        record: RecordId,
        kind: RecordKind,
        region: RegionCode,
        reach: RegionCode,
        timestamp_ms: i64,
        cert: Hash32,
        payload: Vec<u8>,
    ) -> Envelope {
        let header = Header {
            author: key.public(),
            seq,
            prev,
            record,
            kind,
            region,
            reach,
            timestamp_ms,
            cert,
            payload_hash: sha256(&payload),
            payload_len: payload.len() as u32,
        };
        let signature = key.sign(&header.signed_bytes());
        Envelope {
            header,
            signature,
            payload: Some(payload),
        }
    }

    pub fn id(&self) -> EnvelopeId {
        self.id_of_signed(&self.header.signed_bytes())
    }

    /// [`Envelope::id`] from the header's signed bytes made already (`signed` must be
    /// `self.header.signed_bytes()`), for a caller that verifies the signature over the same
    /// bytes: the header is encoded once, and hashed where it lies, not copied.
    pub fn id_of_signed(&self, signed: &[u8]) -> EnvelopeId {
        // The bytes of `Writer::with_domain(ID_DOMAIN)`, then the header and the signature.
        let mut h = Sha256::new();
        h.update(ID_DOMAIN.as_bytes());
        h.update([0]);
        h.update(signed);
        h.update(self.signature.0);
        h.finalize().into()
    }

    /// Checks the author's signature over the header, and the payload (if present) against
    /// the header's hash and length.
    pub fn verify_signature(&self) -> Result<()> {
        if !self
            .header
            .author
            .verify(&self.header.signed_bytes(), &self.signature)
        {
            return Err(Error::BadSignature { what: "envelope" });
        }
        self.verify_payload()
    }

    pub fn verify_payload(&self) -> Result<()> {
        if let Some(p) = &self.payload
            && (p.len() != self.header.payload_len as usize
                || sha256(p) != self.header.payload_hash)
        {
            return Err(Error::BadSignature {
                what: "envelope payload",
            });
        }
        Ok(())
    }

    /// The same envelope without its payload.
    pub fn header_only(&self) -> Envelope {
        Envelope {
            header: self.header,
            signature: self.signature,
            payload: None,
        }
    }

    /// Wire and storage form: header bytes, signature, then the payload if present.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_in_form(true)
    }

    /// [`Envelope::to_bytes`] of the envelope, or of [`Envelope::header_only`] of it when
    /// `with_payload` is false (without copying it first).
    pub fn to_bytes_in_form(&self, with_payload: bool) -> Vec<u8> {
        let header = self.header.signed_bytes();
        let payload = self.payload.as_ref().filter(|_| with_payload);
        let len =
            4 + header.len() + self.signature.0.len() + 1 + payload.map_or(0, |p| 4 + p.len());
        let mut w = Writer::with_capacity(len);
        w.var(&header).fixed(&self.signature.0);
        match payload {
            Some(p) => w.u8(1).var(p),
            None => w.u8(0),
        };
        w.finish()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(Error::invalid(
                "envelope",
                "larger than the size limit",
                "超过大小上限",
            ));
        }
        let mut r = Reader::new(bytes);
        let header = Header::read(r.var("envelope.header", 1024)?)?;
        let signature = Signature(r.array("envelope.signature")?);
        let payload = match r.u8("envelope.has_payload")? {
            0 => None,
            1 => Some(r.var("envelope.payload", MAX_PAYLOAD_BYTES)?.to_vec()),
            _ => {
                return Err(Error::invalid(
                    "envelope.has_payload",
                    "must be 0 or 1",
                    "必须为 0 或 1",
                ));
            }
        };
        r.finish()?;
        Ok(Envelope {
            header,
            signature,
            payload,
        })
    }
}
