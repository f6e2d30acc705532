//! Jurisdiction certificates: who vouched for a node, for which region, until when.
//!
//! The province node self-signs the root. Every other certificate is signed by a node whose
//! certified region strictly contains the child's region, and names the child's key, region,
//! level, name and validity window. A [`CertChain`] lists the leaf first and the root last, so a
//! chain is self-contained: whoever holds the province root key can verify it alone.
//! Revocations are separate signed records (see [`crate::record::Revocation`]).
//!
//! A certificate may name a **predecessor**: the key of the station this one replaces (a dead
//! mini PC's, say), of the same region. Such a certificate is encoded under its own domain tag
//! (`lingong/cert/v2`, the predecessor's key after `not_after`); one without keeps the
//! `lingong/cert/v1` bytes, so certificates issued before the field existed decode and hash
//! exactly as before.

use crate::canon::{Hash32, Reader, Writer, sha256};
use crate::error::{Error, Result};
use crate::keys::{NodeKey, PublicKey, Signature};
use crate::region::{Level, RegionCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const CERT_DOMAIN: &str = "lingong/cert/v1";
/// The domain of a certificate naming its predecessor; as long as [`CERT_DOMAIN`], so a reader
/// tells the two apart from the first 16 bytes.
const SUCCESSOR_DOMAIN: &str = "lingong/cert/v2";
const REQUEST_DOMAIN: &str = "lingong/cert-request/v1";
/// Longest node name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// Longest chain accepted: province, city, county, township, village, plus one spare level.
pub const MAX_CHAIN_LEN: usize = 6;

/// A node asking its parent for a certificate; signed by the node itself (proof it holds the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRequest {
    pub node_id: String,
    pub public_key: String,
    pub region: RegionCode,
    pub level: Level,
    pub name: String,
    pub signature: String,
}

impl CertRequest {
    fn signed_bytes(subject: &PublicKey, region: &RegionCode, level: Level, name: &str) -> Vec<u8> {
        let mut w = Writer::with_domain(REQUEST_DOMAIN);
        w.fixed(&subject.0)
            .fixed(&region.to_bytes())
            .u8(level.depth())
            .str(name);
        w.finish()
    }

    pub fn new(key: &NodeKey, region: RegionCode, name: &str) -> Result<CertRequest> {
        check_name(name)?;
        let level = region.level();
        let sig = key.sign(&Self::signed_bytes(&key.public(), &region, level, name));
        Ok(CertRequest {
            node_id: key.public().node_id(),
            public_key: key.public().to_hex(),
            region,
            level,
            name: name.to_string(),
            signature: sig.to_hex(),
        })
    }

    /// The requesting key, after checking the request's own signature.
    pub fn verify(&self) -> Result<PublicKey> {
        let key = PublicKey::from_hex(&self.public_key).ok_or_else(|| {
            Error::invalid(
                "public_key",
                "must be 64 hex digits",
                "必须是 64 位十六进制数",
            )
        })?;
        if key.node_id() != self.node_id {
            return Err(Error::invalid(
                "node_id",
                "does not match public_key",
                "与 public_key 不一致",
            ));
        }
        if self.level != self.region.level() {
            return Err(Error::invalid(
                "level",
                format!("must be {} for region {}", self.region.level(), self.region),
                format!(
                    "区划 {} 的级别应为 {}",
                    self.region,
                    self.region.level().name_zh()
                ),
            ));
        }
        check_name(&self.name)?;
        let sig = parse_signature(&self.signature)?;
        if !key.verify(
            &Self::signed_bytes(&key, &self.region, self.level, &self.name),
            &sig,
        ) {
            return Err(Error::BadSignature {
                what: "certificate request",
            });
        }
        Ok(key)
    }
}

/// One link of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertBody {
    pub subject: PublicKey,
    pub region: RegionCode,
    pub level: Level,
    pub issuer: PublicKey,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub body: CertBody,
    pub name: String,
    /// The station this certificate's subject replaces (same region, its key revoked when this
    /// was issued); `None` for an ordinary certificate.
    pub predecessor: Option<PublicKey>,
    pub signature: Signature,
}

impl Certificate {
    /// The bytes the issuer signs for a certificate without a predecessor (see PROTOCOL.md,
    /// "Certificate").
    pub fn signed_bytes(body: &CertBody, name: &str) -> Vec<u8> {
        Self::signed_bytes_with(body, name, None)
    }

    /// The bytes the issuer signs: `lingong/cert/v1` without a predecessor, `lingong/cert/v2`
    /// followed by the same fields and the predecessor's key with one.
    pub fn signed_bytes_with(
        body: &CertBody,
        name: &str,
        predecessor: Option<&PublicKey>,
    ) -> Vec<u8> {
        let mut w = Writer::with_domain(if predecessor.is_some() {
            SUCCESSOR_DOMAIN
        } else {
            CERT_DOMAIN
        });
        w.fixed(&body.subject.0)
            .fixed(&body.region.to_bytes())
            .u8(body.level.depth())
            .str(name)
            .fixed(&body.issuer.0)
            .i64(body.not_before)
            .i64(body.not_after);
        if let Some(p) = predecessor {
            w.fixed(&p.0);
        }
        w.finish()
    }

    /// The bytes this certificate's issuer signed.
    pub fn signed(&self) -> Vec<u8> {
        Self::signed_bytes_with(&self.body, &self.name, self.predecessor.as_ref())
    }

    pub fn sign(issuer: &NodeKey, body: CertBody, name: &str) -> Certificate {
        Self::sign_with(issuer, body, name, None)
    }

    /// [`Certificate::sign`] for a certificate naming the station its subject replaces.
    pub fn sign_with(
        issuer: &NodeKey,
        body: CertBody,
        name: &str,
        predecessor: Option<PublicKey>,
    ) -> Certificate {
        let signature = issuer.sign(&Self::signed_bytes_with(&body, name, predecessor.as_ref()));
        Certificate {
            body,
            name: name.to_string(),
            predecessor,
            signature,
        }
    }

    /// Canonical bytes: the signed bytes followed by the 64-byte signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.signed();
        b.extend_from_slice(&self.signature.0);
        b
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Certificate> {
        // Both domain tags are 16 bytes with their NUL: read them once, then tell them apart.
        let tag = r.take(CERT_DOMAIN.len() + 1, "domain tag").map_err(|_| {
            crate::canon::DecodeError::WrongDomain {
                expected: CERT_DOMAIN,
            }
        })?;
        let with_predecessor = match tag.split_last() {
            Some((0, t)) if t == CERT_DOMAIN.as_bytes() => false,
            Some((0, t)) if t == SUCCESSOR_DOMAIN.as_bytes() => true,
            _ => {
                return Err(crate::canon::DecodeError::WrongDomain {
                    expected: CERT_DOMAIN,
                }
                .into());
            }
        };
        let subject = PublicKey(r.array("cert.subject")?);
        let region = RegionCode::from_bytes(&r.array("cert.region")?)?;
        let level = level_from_depth(r.u8("cert.level")?)?;
        let name = r.str("cert.name", MAX_NAME_BYTES)?.to_string();
        let issuer = PublicKey(r.array("cert.issuer")?);
        let not_before = r.i64("cert.not_before")?;
        let not_after = r.i64("cert.not_after")?;
        let predecessor = if with_predecessor {
            Some(PublicKey(r.array("cert.predecessor")?))
        } else {
            None
        };
        let signature = Signature(r.array("cert.signature")?);
        Ok(Certificate {
            body: CertBody {
                subject,
                region,
                level,
                issuer,
                not_before,
                not_after,
            },
            name,
            predecessor,
            signature,
        })
    }

    /// SHA-256 of the canonical bytes: how envelopes refer to their author's certificate.
    pub fn hash(&self) -> Hash32 {
        sha256(&self.to_bytes())
    }

    pub fn signature_valid(&self) -> bool {
        self.body.issuer.verify(&self.signed(), &self.signature)
    }

    pub fn valid_at(&self, unix_s: i64) -> bool {
        self.body.not_before <= unix_s && unix_s <= self.body.not_after
    }
}

/// Leaf first, root last. Shared, not copied, when cloned: every node's author table and every
/// accepted envelope's author lookup hold the same chain. The leaf's hash, which every
/// envelope names its certificate by, is computed once, when the chain is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertChain {
    certs: Arc<[Certificate]>,
    leaf_hash: Hash32,
}

impl CertChain {
    /// The chain of `certs`, leaf first. [`CertChain::verify`] refuses an empty one.
    pub fn new(certs: Vec<Certificate>) -> CertChain {
        let leaf_hash = certs.first().map(Certificate::hash).unwrap_or_default();
        CertChain {
            certs: certs.into(),
            leaf_hash,
        }
    }
    /// The certificates, leaf first.
    pub fn certs(&self) -> &[Certificate] {
        &self.certs
    }
    pub fn leaf(&self) -> &Certificate {
        &self.certs[0]
    }
    /// `self.leaf().hash()`, computed once.
    pub fn leaf_hash(&self) -> Hash32 {
        self.leaf_hash
    }
    pub fn root(&self) -> &Certificate {
        self.certs.last().expect("a chain is never empty")
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.certs.len() as u8);
        for c in self.certs.iter() {
            w.var(&c.to_bytes());
        }
        w.finish()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<CertChain> {
        let mut r = Reader::new(bytes);
        let n = r.u8("chain.length")? as usize;
        if n == 0 || n > MAX_CHAIN_LEN {
            return Err(Error::BrokenChain {
                detail: format!("a chain has 1..={MAX_CHAIN_LEN} links, not {n}"),
            });
        }
        let mut certs = Vec::with_capacity(n);
        for _ in 0..n {
            let raw = r.var("chain.certificate", 4096)?;
            let mut cr = Reader::new(raw);
            certs.push(Certificate::read(&mut cr)?);
            cr.finish()?;
        }
        r.finish()?;
        Ok(CertChain::new(certs))
    }

    /// Checks every link: signatures, issuer/subject linkage, strict jurisdiction nesting,
    /// validity at `at_s` (unix seconds), the root being `root`, and that no link is revoked.
    pub fn verify(
        &self,
        root: &PublicKey,
        at_s: i64,
        is_revoked: &dyn Fn(&PublicKey) -> bool,
    ) -> Result<()> {
        self.verify_with(root, at_s, is_revoked, &mut |c| c.signature_valid())
    }

    /// [`CertChain::verify`] with the signature check supplied by the caller (a cache of
    /// certificates already verified, keyed by [`Certificate::hash`], which covers the signed
    /// bytes and the signature).
    pub fn verify_with(
        &self,
        root: &PublicKey,
        at_s: i64,
        is_revoked: &dyn Fn(&PublicKey) -> bool,
        signature_valid: &mut dyn FnMut(&Certificate) -> bool,
    ) -> Result<()> {
        let certs = &self.certs;
        if certs.is_empty() || certs.len() > MAX_CHAIN_LEN {
            return Err(Error::BrokenChain {
                detail: format!("a chain has 1..={MAX_CHAIN_LEN} links"),
            });
        }
        let top = self.root();
        if top.body.subject != top.body.issuer || top.body.region.level() != Level::Province {
            return Err(Error::BrokenChain {
                detail: "the last link is not a self-signed province root".into(),
            });
        }
        if top.body.subject != *root {
            return Err(Error::ForeignRoot);
        }
        for (i, cert) in certs.iter().enumerate() {
            if cert.body.level != cert.body.region.level() {
                return Err(Error::BrokenChain {
                    detail: format!("link {i}: level does not match region code"),
                });
            }
            if !signature_valid(cert) {
                return Err(Error::BadSignature {
                    what: "certificate",
                });
            }
            if !cert.valid_at(at_s) {
                return Err(Error::CertExpired {
                    node: cert.body.subject.node_id(),
                    at_ms: at_s.saturating_mul(1000),
                    not_before: cert.body.not_before,
                    not_after: cert.body.not_after,
                });
            }
            if is_revoked(&cert.body.subject) {
                return Err(Error::Revoked {
                    node: cert.body.subject.node_id(),
                });
            }
            if let Some(parent) = certs.get(i + 1) {
                if cert.body.issuer != parent.body.subject {
                    return Err(Error::BrokenChain {
                        detail: format!("link {i} was not issued by the next link's key"),
                    });
                }
                if !parent.body.region.is_strict_ancestor_of(&cert.body.region) {
                    return Err(Error::OutOfJurisdiction {
                        issuer: parent.body.region.to_string(),
                        child: cert.body.region.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The chain as JSON for `cert show` and certificate files.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "chain": self.certs.iter().map(|c| {
                let mut link = serde_json::json!({
                    "node_id": c.body.subject.node_id(),
                    "name": c.name,
                    "region": c.body.region.to_string(),
                    "level": c.body.level.as_str(),
                    "issuer": c.body.issuer.node_id(),
                    "not_before": c.body.not_before,
                    "not_after": c.body.not_after,
                });
                if let Some(p) = &c.predecessor {
                    link["predecessor"] = serde_json::json!(p.node_id());
                }
                link
            }).collect::<Vec<_>>(),
            "valid_until": self.certs.iter().map(|c| c.body.not_after).min().unwrap_or(0),
            "bytes": hex::encode(self.to_bytes()),
        })
    }

    /// Reads a certificate file written by [`CertChain::to_json`] (only `bytes` is trusted).
    pub fn from_json(value: &serde_json::Value) -> Result<CertChain> {
        let hex_bytes = value.get("bytes").and_then(|b| b.as_str()).ok_or_else(|| {
            Error::invalid(
                "bytes",
                "the certificate file has no \"bytes\" field",
                "证书文件缺少 \"bytes\" 字段",
            )
        })?;
        let raw = hex::decode(hex_bytes)
            .map_err(|_| Error::invalid("bytes", "must be hexadecimal", "必须是十六进制"))?;
        CertChain::from_bytes(&raw)
    }
}

/// Issues a certificate for `request`. `issuer_chain` is `None` only for the province node
/// signing its own request, which makes the self-signed root.
pub fn issue(
    issuer: &NodeKey,
    issuer_chain: Option<&CertChain>,
    request: &CertRequest,
    now_s: i64,
    days: u32,
) -> Result<CertChain> {
    issue_with(issuer, issuer_chain, request, now_s, days, None)
}

/// Issues a certificate for `request` naming `predecessor` (the leaf certificate of the station
/// it replaces): [`issue`]'s rules, and the predecessor must be another key of the very region
/// requested, itself in the issuer's jurisdiction. Refusals name the field `successor_of`.
pub fn issue_successor(
    issuer: &NodeKey,
    issuer_chain: &CertChain,
    request: &CertRequest,
    predecessor: &Certificate,
    now_s: i64,
    days: u32,
) -> Result<CertChain> {
    check_successor(request, predecessor)?;
    issue_with(
        issuer,
        Some(issuer_chain),
        request,
        now_s,
        days,
        Some(predecessor.body.subject),
    )
}

/// The rules a successor's request must meet against its predecessor's certificate: same
/// region, another key.
pub fn check_successor(request: &CertRequest, predecessor: &Certificate) -> Result<()> {
    if predecessor.body.region != request.region {
        return Err(Error::invalid(
            "successor_of",
            format!(
                "the predecessor serves {}, the request is for {}: a successor takes over its predecessor's own region",
                predecessor.body.region, request.region
            ),
            format!(
                "前任站点的区划是 {}，申请的区划是 {}：接替站点必须与前任同一区划",
                predecessor.body.region, request.region
            ),
        ));
    }
    if predecessor.body.subject.node_id() == request.node_id {
        return Err(Error::invalid(
            "successor_of",
            "names the requesting key itself: a successor has a new key",
            "指向申请节点自身：接替站点必须使用新的密钥",
        ));
    }
    Ok(())
}

fn issue_with(
    issuer: &NodeKey,
    issuer_chain: Option<&CertChain>,
    request: &CertRequest,
    now_s: i64,
    days: u32,
    predecessor: Option<PublicKey>,
) -> Result<CertChain> {
    let subject = request.verify()?;
    if days == 0 || days > 3650 {
        return Err(Error::invalid(
            "days",
            "must be between 1 and 3650",
            "必须在 1 到 3650 之间",
        ));
    }
    let not_before = now_s - 3600; // an hour of slack for clocks that run a little behind
    let not_after = now_s + i64::from(days) * 86_400;
    match issuer_chain {
        None => {
            if subject != issuer.public() || request.region.level() != Level::Province {
                return Err(Error::NotCertified);
            }
            let body = CertBody {
                subject,
                region: request.region,
                level: Level::Province,
                issuer: subject,
                not_before,
                not_after,
            };
            Ok(CertChain::new(vec![Certificate::sign(
                issuer,
                body,
                &request.name,
            )]))
        }
        Some(chain) => {
            let mine = chain.leaf();
            if mine.body.subject != issuer.public() {
                return Err(Error::BrokenChain {
                    detail: "the issuer's chain is not for the issuer's key".into(),
                });
            }
            if !mine.body.region.is_strict_ancestor_of(&request.region) {
                return Err(Error::OutOfJurisdiction {
                    issuer: mine.body.region.to_string(),
                    child: request.region.to_string(),
                });
            }
            let body = CertBody {
                subject,
                region: request.region,
                level: request.level,
                issuer: issuer.public(),
                not_before,
                not_after: not_after.min(mine.body.not_after),
            };
            let mut certs = vec![Certificate::sign_with(
                issuer,
                body,
                &request.name,
                predecessor,
            )];
            certs.extend(chain.certs.iter().cloned());
            Ok(CertChain::new(certs))
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_BYTES} bytes"),
            format!("名称长度必须在 1 到 {MAX_NAME_BYTES} 字节之间"),
        ));
    }
    Ok(())
}

pub(crate) fn level_from_depth(depth: u8) -> Result<Level> {
    [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ]
    .get(depth as usize)
    .copied()
    .ok_or_else(|| Error::invalid("level", "must be 0..=4", "必须是 0 到 4"))
}

pub(crate) fn parse_signature(hex_sig: &str) -> Result<Signature> {
    let raw = hex::decode(hex_sig)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
        .ok_or_else(|| {
            Error::invalid(
                "signature",
                "must be 128 hex digits",
                "必须是 128 位十六进制数",
            )
        })?;
    Ok(Signature(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn chain_for(issuer: &NodeKey, above: &CertChain, key: &NodeKey, region: &str) -> CertChain {
        let req = CertRequest::new(key, RegionCode::parse(region).unwrap(), "站点").unwrap();
        issue(issuer, Some(above), &req, NOW, 365).unwrap()
    }

    fn township() -> (NodeKey, CertChain) {
        let province = NodeKey::from_seed([1; 32]);
        let req = CertRequest::new(&province, RegionCode::parse("52").unwrap(), "省").unwrap();
        let root = issue(&province, None, &req, NOW, 3650).unwrap();
        let town = NodeKey::from_seed([2; 32]);
        let chain = chain_for(&province, &root, &town, "522622101");
        (town, chain)
    }

    #[test]
    fn a_successor_certificate_names_its_predecessor_and_reads_back_from_its_bytes() {
        let (town, town_chain) = township();
        let old = chain_for(
            &town,
            &town_chain,
            &NodeKey::from_seed([3; 32]),
            "522622101001",
        );
        let new_key = NodeKey::from_seed([4; 32]);
        let req = CertRequest::new(&new_key, old.leaf().body.region, "新站点").unwrap();
        let chain = issue_successor(&town, &town_chain, &req, old.leaf(), NOW, 365).unwrap();
        let leaf = chain.leaf();
        assert_eq!(leaf.predecessor, Some(old.leaf().body.subject));
        assert!(leaf.to_bytes().starts_with(b"lingong/cert/v2\0"));
        assert!(old.leaf().to_bytes().starts_with(b"lingong/cert/v1\0"));
        let back = CertChain::from_bytes(&chain.to_bytes()).unwrap();
        assert_eq!(back, chain);
        assert_eq!(back.leaf().hash(), leaf.hash());
        back.verify(&chain.root().body.subject, NOW, &|_| false)
            .expect("the successor's chain verifies");
        assert_eq!(
            chain.to_json()["chain"][0]["predecessor"],
            old.leaf().body.subject.node_id()
        );
        assert!(chain.to_json()["chain"][1].get("predecessor").is_none());
        // The predecessor is signed: changing it breaks the issuer's signature.
        let mut forged = leaf.clone();
        forged.predecessor = Some(NodeKey::from_seed([9; 32]).public());
        assert!(!forged.signature_valid());
        let mut dropped = leaf.clone();
        dropped.predecessor = None;
        assert!(!dropped.signature_valid());
    }

    #[test]
    fn a_successor_must_take_over_its_predecessors_own_region_with_a_new_key() {
        let (town, town_chain) = township();
        let old = chain_for(
            &town,
            &town_chain,
            &NodeKey::from_seed([3; 32]),
            "522622101001",
        );
        let other = NodeKey::from_seed([5; 32]);
        let req =
            CertRequest::new(&other, RegionCode::parse("522622101002").unwrap(), "邻村").unwrap();
        let e = issue_successor(&town, &town_chain, &req, old.leaf(), NOW, 365).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::InvalidField {
                    field: "successor_of",
                    ..
                }
            ),
            "{e:?}"
        );
        let same = CertRequest::new(
            &NodeKey::from_seed([3; 32]),
            old.leaf().body.region,
            "旧站点",
        )
        .unwrap();
        let e = issue_successor(&town, &town_chain, &same, old.leaf(), NOW, 365).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::InvalidField {
                    field: "successor_of",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_certificate_with_an_unknown_domain_tag_is_refused() {
        let (_, chain) = township();
        let mut raw = chain.leaf().to_bytes();
        raw[14] = b'3';
        assert!(Certificate::read(&mut Reader::new(&raw)).is_err());
    }
}
