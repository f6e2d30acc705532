//! The one error type of the protocol's record and trust rules.
//!
//! Every variant names the field or the rule that failed so a station clerk can act on it.
//! `Display` is English; [`Error::message_zh`] is the same message in Chinese; [`Error::code`] is
//! a stable machine code used in `--json` output and in the audit report. [`Error::is_usage`]
//! tells the command line whether the failure is bad input (exit status 2) or something else.

use crate::canon::DecodeError;
use crate::occupation::OccupationError;
use crate::region::RegionError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Region(#[from] RegionError),
    #[error(transparent)]
    Occupation(#[from] OccupationError),
    #[error("malformed data: {0}")]
    Decode(#[from] DecodeError),
    #[error("{field}: {rule}")]
    InvalidField {
        field: &'static str,
        rule: String,
        rule_zh: String,
    },
    #[error("signature of the {what} does not verify: it was altered or signed by another key")]
    BadSignature { what: &'static str },
    #[error("certificate chain is broken: {detail}")]
    BrokenChain { detail: String },
    #[error("certificate chain does not lead to this network's province root")]
    ForeignRoot,
    #[error("certificate of {node} is not valid at {at_ms} ms (valid {not_before}..{not_after} s)")]
    CertExpired {
        node: String,
        at_ms: i64,
        not_before: i64,
        not_after: i64,
    },
    #[error(
        "region {child} is not inside the issuer's jurisdiction {issuer} (must lie at least one level below it)"
    )]
    OutOfJurisdiction { issuer: String, child: String },
    #[error("node {node} was revoked")]
    Revoked { node: String },
    #[error(
        "this node has no installed certificate yet: run `lingong cert request`, have the parent issue it, then `lingong cert install`"
    )]
    NotCertified,
    #[error("the author {node} is unknown here: its certificate has not arrived yet")]
    UnknownAuthor { node: String },
    #[error(
        "node {author} may not change record {record}: only its creator and the creator's ancestors in jurisdiction may"
    )]
    Unauthorized { author: String, record: String },
    #[error("fork: author {author} signed two different changes with sequence number {seq}")]
    Fork { author: String, seq: u64 },
    #[error("the record {record} does not exist here")]
    UnknownRecord { record: String },
    #[error("the change does not apply to its record: {detail}")]
    BadChange { detail: String },
    #[error(
        "timestamp {at_ms} ms lies too far in the future (more than a day ahead of this node's clock)"
    )]
    FromTheFuture { at_ms: i64 },
    /// A change dated more than [`crate::accept::MAX_BACKDATE_MS`] before its predecessor in
    /// the author's log (`seq` is the later of the two, dated `at_ms`; its predecessor `prev_ms`).
    #[error(
        "the author's change {seq} is dated {at_ms} ms, more than an hour before its previous change ({prev_ms} ms): a change may not be dated earlier than the one before it in its author's log by more than an hour (check the signing node's clock)"
    )]
    BackDated { seq: u64, at_ms: i64, prev_ms: i64 },
}

impl Error {
    /// A field failed a rule; both messages must name the field.
    pub fn invalid(
        field: &'static str,
        rule: impl Into<String>,
        rule_zh: impl Into<String>,
    ) -> Error {
        Error::InvalidField {
            field,
            rule: rule.into(),
            rule_zh: rule_zh.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Region(e) => e.code(),
            Error::Occupation(e) => e.code(),
            Error::Decode(e) => e.code(),
            Error::InvalidField { .. } => "invalid-field",
            Error::BadSignature { .. } => "bad-signature",
            Error::BrokenChain { .. } => "broken-chain",
            Error::ForeignRoot => "foreign-root",
            Error::CertExpired { .. } => "expired-cert",
            Error::OutOfJurisdiction { .. } => "out-of-jurisdiction",
            Error::Revoked { .. } => "revoked",
            Error::NotCertified => "not-certified",
            Error::UnknownAuthor { .. } => "unknown-author",
            Error::Unauthorized { .. } => "unauthorized-edit",
            Error::Fork { .. } => "fork",
            Error::UnknownRecord { .. } => "unknown-record",
            Error::BadChange { .. } => "bad-change",
            Error::FromTheFuture { .. } => "from-the-future",
            Error::BackDated { .. } => "back-dated",
        }
    }

    /// True when the failure is the caller's input (exit status 2), not the system.
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::UnknownAuthor { .. })
    }

    /// True when the same envelope may be accepted later (its certificate or record may still
    /// arrive), so a sync session should not count it as an attack.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::UnknownAuthor { .. })
    }

    pub fn message_zh(&self) -> String {
        match self {
            Error::Region(e) => e.message_zh(),
            Error::Occupation(e) => e.message_zh(),
            Error::Decode(e) => format!("数据格式错误：{}", e.message_zh()),
            Error::InvalidField { field, rule_zh, .. } => format!("{field}：{rule_zh}"),
            Error::BadSignature { what } => format!("{what} 的签名校验失败：内容被篡改或由其他密钥签名"),
            Error::BrokenChain { detail } => format!("证书链断裂：{detail}"),
            Error::ForeignRoot => "证书链没有指向本网络的省级根证书".into(),
            Error::CertExpired { node, .. } => format!("节点 {node} 的证书在该时间不在有效期内"),
            Error::OutOfJurisdiction { issuer, child } => {
                format!("区划 {child} 不在签发方 {issuer} 的管辖范围内（必须至少低一级）")
            }
            Error::Revoked { node } => format!("节点 {node} 的证书已被吊销"),
            Error::NotCertified => "本节点尚未安装证书：请先运行 `lingong cert request`，由上级签发后运行 `lingong cert install`".into(),
            Error::UnknownAuthor { node } => format!("作者 {node} 的证书尚未到达本节点"),
            Error::Unauthorized { author, record } => {
                format!("节点 {author} 无权修改记录 {record}：只有创建者及其上级管辖节点可以修改")
            }
            Error::Fork { author, seq } => format!("分叉：作者 {author} 对序号 {seq} 签署了两个不同的变更"),
            Error::UnknownRecord { record } => format!("本节点没有记录 {record}"),
            Error::BadChange { detail } => format!("变更无法应用到记录：{detail}"),
            Error::FromTheFuture { .. } => "时间戳超前本节点时钟一天以上".into(),
            Error::BackDated { seq, at_ms, prev_ms } => format!(
                "作者的第 {seq} 条变更时间为 {at_ms} 毫秒，比其上一条变更（{prev_ms} 毫秒）早一小时以上：\
                 变更的时间不得早于作者记录链中前一条变更一小时以上（请检查签署节点的时钟）"
            ),
        }
    }

    /// The message in the requested language (`"zh"` or anything else for English).
    pub fn message(&self, lang: &str) -> String {
        if lang.starts_with("zh") {
            self.message_zh()
        } else {
            self.to_string()
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
