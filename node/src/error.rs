//! The node's error type: what a command, the daemon or a service can fail with.
//!
//! Each error knows whether it is the user's input (exit status 2) or a failure of the system
//! (exit status 1), a stable machine code for `--json`, and its message in Chinese and English.

use lingong_protocol::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Protocol(#[from] lingong_protocol::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{field}: {rule}")]
    Usage {
        field: String,
        rule: String,
        rule_zh: String,
    },
    #[error("no node in {home}: run `lingong init --name NAME --region CODE` first")]
    NotInitialized { home: String },
    #[error("a node already exists in {home}; choose another --home or remove it")]
    AlreadyInitialized { home: String },
    #[error("no {what} with id {id} here")]
    NotFound { what: &'static str, id: String },
    #[error("the id {id} matches several records; type more of it")]
    Ambiguous { id: String },
    #[error("the daemon did not answer: {detail}")]
    Daemon { detail: String },
    #[error(
        "another lingong process has held the store in {home} for {secs} s and no daemon \
         answers there; try again when it has finished"
    )]
    StoreBusy { home: String, secs: u64 },
    #[error("network: {detail}")]
    Network { detail: String },
}

impl NodeError {
    pub fn usage(
        field: impl Into<String>,
        rule: impl Into<String>,
        rule_zh: impl Into<String>,
    ) -> NodeError {
        NodeError::Usage {
            field: field.into(),
            rule: rule.into(),
            rule_zh: rule_zh.into(),
        }
    }
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            NodeError::Protocol(e) => e.code(),
            NodeError::Store(_) => "store",
            NodeError::Io { .. } => "io",
            NodeError::Usage { .. } => "invalid-field",
            NodeError::NotInitialized { .. } => "not-initialized",
            NodeError::AlreadyInitialized { .. } => "already-initialized",
            NodeError::NotFound { .. } => "not-found",
            NodeError::Ambiguous { .. } => "ambiguous-id",
            NodeError::Daemon { .. } => "daemon",
            NodeError::StoreBusy { .. } => "store-busy",
            NodeError::Network { .. } => "network",
        }
    }

    /// Exit status 2: the input was wrong and nothing changed.
    pub fn is_usage(&self) -> bool {
        match self {
            NodeError::Protocol(e) => e.is_usage(),
            NodeError::Usage { .. }
            | NodeError::AlreadyInitialized { .. }
            | NodeError::NotFound { .. }
            | NodeError::Ambiguous { .. } => true,
            NodeError::NotInitialized { .. } => true,
            _ => false,
        }
    }

    pub fn message(&self, lang: &str) -> String {
        if !lang.starts_with("zh") {
            return self.to_string();
        }
        match self {
            NodeError::Protocol(e) => e.message_zh(),
            NodeError::Store(e) => format!("存储故障：{}", e.0),
            NodeError::Io { path, source } => format!("{path}：读写失败（{source}）"),
            NodeError::Usage { field, rule_zh, .. } => format!("{field}：{rule_zh}"),
            NodeError::NotInitialized { home } => {
                format!("{home} 中没有节点：请先运行 `lingong init --name 名称 --region 区划代码`")
            }
            NodeError::AlreadyInitialized { home } => {
                format!("{home} 中已经有节点；请换一个 --home 目录或先删除它")
            }
            NodeError::NotFound { what, id } => {
                format!("本节点没有编号为 {id} 的{}", what_zh(what))
            }
            NodeError::Ambiguous { id } => format!("编号 {id} 对应多条记录，请输入更长的编号"),
            NodeError::Daemon { detail } => format!("守护进程没有响应：{detail}"),
            NodeError::StoreBusy { home, secs } => format!(
                "另一个 lingong 进程占用 {home} 的存储已有 {secs} 秒，且没有守护进程应答；请待它结束后重试"
            ),
            NodeError::Network { detail } => format!("网络错误：{detail}"),
        }
    }
}

fn what_zh(what: &str) -> &str {
    match what {
        "post" => "岗位",
        "worker" => "劳动者",
        "record" => "记录",
        "node" => "节点",
        "peer" => "对等节点",
        _ => "对象",
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;
