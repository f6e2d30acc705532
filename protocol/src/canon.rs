//! The canonical byte encoding used for everything that is signed or hashed.
//!
//! Big-endian fixed-width integers, length-prefixed (u32 big-endian) byte strings and UTF-8
//! strings, and a NUL-terminated ASCII domain tag at the front of every signed message so a
//! signature made for one purpose can never be replayed as another. PROTOCOL.md documents the
//! exact layouts built from these pieces; [`Reader`] parses them back without panicking on
//! hostile input.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 digest.
pub type Hash32 = [u8; 32];

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Sha256::digest(bytes).into()
}

/// Builds canonical bytes field by field.
#[derive(Default, Debug, Clone)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// A writer whose first bytes are the domain tag `tag` followed by a NUL byte.
    pub fn with_domain(tag: &str) -> Writer {
        let mut w = Writer {
            bytes: Vec::with_capacity(256),
        };
        w.bytes.extend_from_slice(tag.as_bytes());
        w.bytes.push(0);
        w
    }
    pub fn new() -> Writer {
        Writer::default()
    }
    /// An empty writer with room for `capacity` bytes (no reallocation when known ahead).
    pub fn with_capacity(capacity: usize) -> Writer {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Fixed-width bytes (no length prefix): the reader must know the width.
    pub fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(v);
        self
    }
    /// Length-prefixed bytes: u32 big-endian length, then the bytes.
    pub fn var(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.bytes.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.var(v.as_bytes())
    }
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

/// Why canonical bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the data ends early while reading {field}")]
    Truncated { field: &'static str },
    #[error("{field} is longer than the {limit}-byte limit")]
    TooLong { field: &'static str, limit: usize },
    #[error("{field} is not valid: {rule}")]
    Invalid { field: &'static str, rule: String },
    #[error("{extra} unexpected bytes after the end of the data")]
    TrailingBytes { extra: usize },
    #[error("the data starts with the wrong domain tag (expected {expected})")]
    WrongDomain { expected: &'static str },
}

impl DecodeError {
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "decode-truncated",
            DecodeError::TooLong { .. } => "decode-too-long",
            DecodeError::Invalid { .. } => "decode-invalid",
            DecodeError::TrailingBytes { .. } => "decode-trailing-bytes",
            DecodeError::WrongDomain { .. } => "decode-wrong-domain",
        }
    }
    pub fn message_zh(&self) -> String {
        match self {
            DecodeError::Truncated { field } => format!("数据不完整：读取 {field} 时数据提前结束"),
            DecodeError::TooLong { field, limit } => format!("{field} 超过 {limit} 字节的上限"),
            DecodeError::Invalid { field, rule } => format!("{field} 无效：{rule}"),
            DecodeError::TrailingBytes { extra } => format!("数据末尾多出 {extra} 个字节"),
            DecodeError::WrongDomain { expected } => format!("数据类型标记错误（应为 {expected}）"),
        }
    }
}

/// Reads canonical bytes; every read is bounds-checked.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }
    /// Expects the domain tag `tag` and its NUL terminator.
    pub fn domain(&mut self, tag: &'static str) -> Result<(), DecodeError> {
        let want = tag.len() + 1;
        let got = self
            .take(want, "domain tag")
            .map_err(|_| DecodeError::WrongDomain { expected: tag })?;
        if &got[..tag.len()] != tag.as_bytes() || got[tag.len()] != 0 {
            return Err(DecodeError::WrongDomain { expected: tag });
        }
        Ok(())
    }
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() - self.pos < n {
            return Err(DecodeError::Truncated { field });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(
            self.take(4, field)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(
            self.take(8, field)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(
            self.take(8, field)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N, field)?.try_into().expect("N bytes"))
    }
    /// Length-prefixed bytes, refusing lengths above `limit` before reading them.
    pub fn var(&mut self, field: &'static str, limit: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > limit {
            return Err(DecodeError::TooLong { field, limit });
        }
        self.take(len, field)
    }
    pub fn str(&mut self, field: &'static str, limit: usize) -> Result<&'a str, DecodeError> {
        let raw = self.var(field, limit)?;
        std::str::from_utf8(raw).map_err(|_| DecodeError::Invalid {
            field,
            rule: "must be UTF-8 text".into(),
        })
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { extra }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_back_what_writer_wrote() {
        let mut w = Writer::with_domain("lingong/test/v1");
        w.u8(7).u32(9).u64(11).i64(-5).fixed(&[1, 2, 3]).str("零工");
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        r.domain("lingong/test/v1").unwrap();
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u32("b").unwrap(), 9);
        assert_eq!(r.u64("c").unwrap(), 11);
        assert_eq!(r.i64("d").unwrap(), -5);
        assert_eq!(r.array::<3>("e").unwrap(), [1, 2, 3]);
        assert_eq!(r.str("f", 100).unwrap(), "零工");
        r.finish().unwrap();
    }

    #[test]
    fn reader_refuses_huge_length_without_allocating() {
        let mut w = Writer::new();
        w.u32(u32::MAX);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert!(matches!(
            r.var("payload", 1024),
            Err(DecodeError::TooLong { .. })
        ));
    }
}
