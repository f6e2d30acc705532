//! Bundle files: signed changes carried on a USB stick where no link exists.
//!
//! A bundle is [`MAGIC`] (`LINGONG-BUNDLE/1\n`) followed by envelopes in wire form
//! ([`Envelope::to_bytes`]), each prefixed by its length (u32 big-endian). The file comes from
//! anywhere (a stick found in a drawer), so [`parse`] is a decoder of untrusted bytes like the
//! envelope decoder: it never panics, refuses a length above [`MAX_ENVELOPE_BYTES`] before
//! reading it, allocates only for envelopes whose bytes are present, and refuses a file that
//! ends inside an envelope. The node exports and imports bundles (`lingong bundle`); every
//! envelope parsed still goes through the one accept path.
//!
//! A bundle carrying personal data is **sealed** to the node that will import it ([`seal`],
//! [`open`]; PROTOCOL.md §14, SECURITY.md §7): [`SEALED_MAGIC`] ‖ receiver key[32] ‖ ephemeral
//! key[32] ‖ ChaCha20-Poly1305 ciphertext of the whole plain bundle (with its tag), under the
//! key HKDF-SHA256 (salt `lingong/sealed-bundle/v1`, info receiver ‖ ephemeral) derives from the
//! X25519 secret of a fresh ephemeral key and the receiver's ed25519 key, both taken to their
//! Montgomery form ([`NodeKey::diffie_hellman`]); the nonce is zero (each key seals one
//! bundle) and the 81 header bytes are the associated data. Only the receiver's secret key
//! opens it; the envelopes inside are then verified like any others.

use crate::envelope::{Envelope, MAX_ENVELOPE_BYTES};
use crate::error::Error;
use crate::keys::{NodeKey, PublicKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The first bytes of every bundle file.
pub const MAGIC: &[u8] = b"LINGONG-BUNDLE/1\n";

/// The first bytes of a sealed bundle file.
pub const SEALED_MAGIC: &[u8] = b"LINGONG-SEALED/1\n";

/// The HKDF salt of sealed bundles (the version of the sealing).
const SEAL_SALT: &[u8] = b"lingong/sealed-bundle/v1";

/// The bytes before a sealed bundle's ciphertext: magic, receiver, ephemeral key.
const SEALED_HEADER: usize = 17 + 32 + 32;

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
    /// A sealed bundle made for another node.
    #[error("the bundle is sealed to another node ({})", receiver.node_id())]
    NotForThisNode { receiver: PublicKey },
    /// A sealed bundle that does not open under the receiver's key: damaged or forged.
    #[error("the sealed bundle does not open: damaged or forged")]
    Unsealable,
    /// Sealing to a key that is not a usable curve point.
    #[error("the receiver's key cannot be sealed to")]
    BadReceiver,
}

/// The key and nonce sealing a bundle from `ephemeral` to `receiver`, given their X25519 secret.
fn seal_cipher(shared: &[u8; 32], header: &[u8]) -> ChaCha20Poly1305 {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(SEAL_SALT), shared);
    let mut key = [0u8; 32];
    hk.expand(&header[SEALED_MAGIC.len()..SEALED_HEADER], &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    ChaCha20Poly1305::new(&Key::from(key))
}

/// Seals a plain bundle (`plain`, as [`push`] writes it) to `receiver`, with the ephemeral key
/// of the secret seed `ephemeral_seed` (fresh random bytes for every bundle: the caller's, the
/// protocol crate has no randomness).
pub fn seal(
    plain: &[u8],
    receiver: &PublicKey,
    ephemeral_seed: [u8; 32],
) -> Result<Vec<u8>, BundleError> {
    let ephemeral = NodeKey::from_seed(ephemeral_seed);
    let shared = ephemeral
        .diffie_hellman(receiver)
        .ok_or(BundleError::BadReceiver)?;
    let mut out = Vec::with_capacity(SEALED_HEADER + plain.len() + 16);
    out.extend_from_slice(SEALED_MAGIC);
    out.extend_from_slice(&receiver.0);
    out.extend_from_slice(&ephemeral.public().0);
    let sealed = seal_cipher(&shared, &out)
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plain,
                aad: &out,
            },
        )
        .map_err(|_| BundleError::BadReceiver)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The node a sealed bundle is sealed to; `None` for a plain bundle or other bytes.
pub fn sealed_to(raw: &[u8]) -> Option<PublicKey> {
    let rest = raw.strip_prefix(SEALED_MAGIC)?;
    Some(PublicKey(rest.get(..32)?.try_into().ok()?))
}

/// Opens a sealed bundle with this node's key, returning the plain bundle inside (still to be
/// [`parse`]d and every envelope verified).
pub fn open(raw: &[u8], key: &NodeKey) -> Result<Vec<u8>, BundleError> {
    let receiver = sealed_to(raw).ok_or(BundleError::WrongHeader)?;
    if receiver != key.public() {
        return Err(BundleError::NotForThisNode { receiver });
    }
    let header = raw.get(..SEALED_HEADER).ok_or(BundleError::Unsealable)?;
    let ephemeral = PublicKey(header[SEALED_HEADER - 32..].try_into().expect("32 bytes"));
    let shared = key
        .diffie_hellman(&ephemeral)
        .ok_or(BundleError::Unsealable)?;
    seal_cipher(&shared, header)
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: &raw[SEALED_HEADER..],
                aad: header,
            },
        )
        .map_err(|_| BundleError::Unsealable)
}

/// Reads a bundle file, plain or sealed to `key`'s node: every envelope, in file order.
pub fn parse_for(raw: &[u8], key: &NodeKey) -> Result<Vec<Envelope>, BundleError> {
    if raw.starts_with(SEALED_MAGIC) {
        parse(&open(raw, key)?)
    } else {
        parse(raw)
    }
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
    fn a_sealed_bundle_opens_only_with_its_receivers_key_and_not_once_altered() {
        let receiver = NodeKey::from_seed([7; 32]);
        let other = NodeKey::from_seed([8; 32]);
        let mut plain = MAGIC.to_vec();
        push(&mut plain, b"\x01\x02 not an envelope, but bytes to carry");
        let sealed = seal(&plain, &receiver.public(), [9; 32]).unwrap();
        assert!(sealed.starts_with(SEALED_MAGIC));
        assert_eq!(sealed_to(&sealed), Some(receiver.public()));
        assert!(
            !sealed
                .windows(10)
                .any(|w| w == &plain[MAGIC.len() + 4..][..10])
        );
        assert_eq!(open(&sealed, &receiver).unwrap(), plain);
        assert_eq!(
            open(&sealed, &other),
            Err(BundleError::NotForThisNode {
                receiver: receiver.public()
            })
        );
        // Naming the other node as receiver in the header does not help it: the header is
        // bound to the key.
        let mut renamed = sealed.clone();
        renamed[SEALED_MAGIC.len()..SEALED_MAGIC.len() + 32].copy_from_slice(&other.public().0);
        assert_eq!(open(&renamed, &other), Err(BundleError::Unsealable));
        for at in [SEALED_HEADER - 1, SEALED_HEADER, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(open(&bad, &receiver).is_err(), "flipped byte {at}");
        }
        assert_eq!(
            open(&sealed[..SEALED_HEADER + 3], &receiver),
            Err(BundleError::Unsealable)
        );
        // Two seals of the same bundle differ (fresh ephemeral keys).
        assert_ne!(seal(&plain, &receiver.public(), [10; 32]).unwrap(), sealed);
        assert_eq!(parse_for(&plain, &other), parse(&plain));
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
