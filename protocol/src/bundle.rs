//! Bundle files: signed changes carried on a USB stick where no link exists.
//!
//! A bundle is [`MAGIC`] (`LINGONG-BUNDLE/1\n`) followed by envelopes in wire form
//! ([`Envelope::to_bytes`]), each prefixed by its length (u32 big-endian). The file comes from
//! anywhere (a stick found in a drawer), so [`parse`] is a decoder of untrusted bytes like the
//! envelope decoder: it never panics, refuses a length above [`MAX_ENVELOPE_BYTES`] before
//! reading it, allocates only for envelopes whose bytes are present, and refuses a file that
//! ends inside an envelope. The node exports and imports bundles (`lingong bundle`); every
//! envelope parsed still goes through the one accept path.

use crate::envelope::{Envelope, MAX_ENVELOPE_BYTES};
use crate::error::Error;

/// The first bytes of every bundle file.
pub const MAGIC: &[u8] = b"LINGONG-BUNDLE/1\n";

/// Why a bundle file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("not a lingong bundle (wrong header)")]
    WrongHeader,
    /// A length prefix that is cut off, above the envelope limit, or longer than what follows;
    /// `at` is the byte offset of the prefix in the file.
    #[error("the bundle is damaged at byte {at}")]
    Damaged { at: usize },
    /// The envelope whose length prefix is at `at` does not decode.
    #[error("the envelope at byte {at} does not decode: {error}")]
    Envelope { at: usize, error: Error },
}

/// Appends one envelope in wire form, with its length prefix, to a bundle being written.
pub fn push(bundle: &mut Vec<u8>, wire: &[u8]) {
    bundle.extend_from_slice(&(wire.len() as u32).to_be_bytes());
    bundle.extend_from_slice(wire);
}

/// Reads every envelope of a bundle file, in file order.
pub fn parse(raw: &[u8]) -> Result<Vec<Envelope>, BundleError> {
    let body = raw.strip_prefix(MAGIC).ok_or(BundleError::WrongHeader)?;
    let mut envelopes = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let at = pos + MAGIC.len();
        let damaged = BundleError::Damaged { at };
        let len_bytes: [u8; 4] = body
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(damaged.clone())?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len > MAX_ENVELOPE_BYTES {
            return Err(damaged);
        }
        let wire = body.get(pos + 4..pos + 4 + len).ok_or(damaged)?;
        envelopes
            .push(Envelope::from_bytes(wire).map_err(|error| BundleError::Envelope { at, error })?);
        pos += 4 + len;
    }
    Ok(envelopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bundle_is_the_magic_alone() {
        assert_eq!(parse(MAGIC), Ok(Vec::new()));
        assert_eq!(parse(b"LINGONG-BUNDLE/2\n"), Err(BundleError::WrongHeader));
    }

    #[test]
    fn a_cut_off_or_oversized_length_is_damage_at_its_offset() {
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(&[0, 0]);
        assert_eq!(parse(&raw), Err(BundleError::Damaged { at: MAGIC.len() }));
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(parse(&raw), Err(BundleError::Damaged { at: MAGIC.len() }));
        let mut raw = MAGIC.to_vec();
        push(&mut raw, &[0; 10]);
        raw.truncate(raw.len() - 1);
        assert_eq!(parse(&raw), Err(BundleError::Damaged { at: MAGIC.len() }));
    }
}
