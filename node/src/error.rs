//! The node's error type: what a command, the daemon or a service can fail with.
//!
//! Each error knows whether it is the user's input (exit status 2) or a failure of the system
//! (exit status 1), a stable machine code for `--json`, and its message in Chinese and English.
//!
//! A damaged store is its own error, [`NodeError::StoreCorrupt`] (code `store-corrupt`): the
//! store reports it as a [`StoreError`] in the form [`crate::store::corrupt`] makes, and the
//! conversion below recognises it, so sled's own text (English, and in its log lines ANSI
//! colours) never reaches the user; the message names the store and says to run
//! `lingong repair`. [`NodeError::RepairPending`] refuses a write after a repair until the node's
//! own log is caught up (`node/src/repair.rs`).
//!
//! A CSV import refused for bad rows is one error, [`NodeError::Csv`] (code `csv`, exit 2),
//! carrying every bad row ([`CsvRowError`]) so `--json` can list them all.

use lingong_protocol::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Protocol(#[from] lingong_protocol::Error),
    #[error(transparent)]
    Store(StoreError),
    #[error(
        "the store {path} is damaged ({detail}); stop the daemon if it runs, then run \
         `lingong repair`: it moves the damaged store aside, keeps what still verifies and \
         fetches the rest from the network"
    )]
    StoreCorrupt {
        /// The store's folder (empty when a read deep inside did not know it).
        path: String,
        /// Sled found corrupted data (`None`), or this many of the store's last writes are
        /// missing (sled opened it with the end of its log cut off).
        missing: Option<u64>,
        detail: String,
    },
    #[error(
        "the store was repaired and this node's own log may still be incomplete, so it signs \
         nothing yet (a change signed now could fork its log): run `lingong sync` with the \
         parent node reachable, then write again"
    )]
    RepairPending,
    /// A node restored from a backup waits for its own signed log from its parent before it
    /// signs again (`node/src/backup.rs`).
    #[error(
        "this node was restored from a backup and waits for its own signed log from its parent \
         ({parent}), so it signs nothing yet (a change signed now could reuse a sequence number \
         the old machine already used: a fork, which halts the key): keep the parent reachable \
         and let the daemon sync (or run `lingong sync`), then write again"
    )]
    CatchingUp { parent: String },
    /// The last sync with the parent measured this node's clock off by more than an hour
    /// (`node/src/clock.rs`): it signs nothing until the clock is set right.
    #[error(
        "this node's clock is {} s {} its parent's ({parent}), more than the hour allowed, so it \
         signs nothing (its changes would be dated wrongly): set the clock right (`timedatectl`), \
         let the daemon sync with the parent (or run `lingong sync`), then write again",
        offset_s.abs(),
        if *offset_s > 0 { "behind" } else { "ahead of" }
    )]
    ClockOff { parent: String, offset_s: i64 },
    /// A backup file that cannot be restored: not a backup, a newer format, cut short,
    /// damaged, or a wrong passphrase (`code` says which; exit 2, nothing written).
    #[error("{file}: {en}")]
    BadBackup {
        code: &'static str,
        file: String,
        en: String,
        zh: String,
    },
    #[error(
        "the daemon of {home} is running: stop it (SIGTERM) before `lingong repair`, which needs \
         the store to itself"
    )]
    DaemonRunning { home: String },
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
    #[error("{}", csv_message(rows, "en"))]
    Csv { rows: Vec<CsvRowError> },
    /// A bundle import kept what verified and refused the rest (exit 1: the partial result
    /// must be unmistakable to a script).
    #[error("{}", refused_message(*kept, refused, "en"))]
    BundleRefused {
        kept: usize,
        refused: std::collections::BTreeMap<String, usize>,
    },
    /// `push send` ran `push_command` and some runs failed (exit 1): the successful sends are
    /// recorded; each failure is named (post, worker, reason).
    #[error("{}", push_failed_message(*sent, failed, "en"))]
    PushFailed {
        sent: usize,
        failed: Vec<(String, String, String)>,
    },
}

/// "N messages could not be sent (worker about post: reason; …); the M sent were recorded", in
/// the user's language; at most ten failures named.
fn push_failed_message(sent: usize, failed: &[(String, String, String)], lang: &str) -> String {
    const NAMED: usize = 10;
    let mut each: Vec<String> = failed
        .iter()
        .take(NAMED)
        .map(|(post, worker, reason)| {
            if lang.starts_with("zh") {
                format!("劳动者 {worker}（岗位 {post}）：{reason}")
            } else {
                format!("worker {worker} about post {post}: {reason}")
            }
        })
        .collect();
    if failed.len() > NAMED {
        each.push(if lang.starts_with("zh") {
            format!("另有 {} 条", failed.len() - NAMED)
        } else {
            format!("{} more", failed.len() - NAMED)
        });
    }
    if lang.starts_with("zh") {
        format!(
            "{} 条消息未能通过 push_command 发送（{}）；已发送的 {sent} 条已记为岗位推荐",
            failed.len(),
            each.join("；")
        )
    } else {
        format!(
            "{} messages could not be sent through push_command ({}); the {sent} sent were recorded as job recommendations",
            failed.len(),
            each.join("; ")
        )
    }
}

/// "kept N; refused M (reason: count, …)" in the user's language.
fn refused_message(
    kept: usize,
    refused: &std::collections::BTreeMap<String, usize>,
    lang: &str,
) -> String {
    let total: usize = refused.values().sum();
    let reasons: Vec<String> = refused.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if lang.starts_with("zh") {
        format!(
            "U 盘数据包中有 {total} 条变更被拒绝（{}）；通过校验的 {kept} 条已保存",
            reasons.join("，")
        )
    } else {
        format!(
            "{total} changes of the bundle were refused ({}); the {kept} that verified were kept",
            reasons.join(", ")
        )
    }
}

/// One bad row of a CSV file (`post import` and the like): the row as a spreadsheet numbers it
/// (the header line is row 1), the column as its header reads in the file, the field it feeds
/// (the command's flag name, empty when none), and what is wrong, in both languages.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CsvRowError {
    pub row: usize,
    pub column: String,
    #[serde(default)]
    pub field: String,
    pub message_en: String,
    pub message_zh: String,
}

impl CsvRowError {
    /// The message in `lang` (`zh…` or English).
    pub fn message(&self, lang: &str) -> &str {
        if lang.starts_with("zh") {
            &self.message_zh
        } else {
            &self.message_en
        }
    }
}

/// How many bad rows the one-line message of [`NodeError::Csv`] spells out.
const CSV_ROWS_IN_MESSAGE: usize = 5;

fn csv_message(rows: &[CsvRowError], lang: &str) -> String {
    let zh = lang.starts_with("zh");
    let shown: Vec<String> = rows
        .iter()
        .take(CSV_ROWS_IN_MESSAGE)
        .map(|r| match (zh, r.column.is_empty()) {
            (true, false) => format!("第 {} 行「{}」：{}", r.row, r.column, r.message_zh),
            (true, true) => format!("第 {} 行：{}", r.row, r.message_zh),
            (false, false) => format!("row {} ({}): {}", r.row, r.column, r.message_en),
            (false, true) => format!("row {}: {}", r.row, r.message_en),
        })
        .collect();
    let more = rows.len().saturating_sub(CSV_ROWS_IN_MESSAGE);
    if zh {
        let more = if more > 0 {
            format!("；另有 {more} 处")
        } else {
            String::new()
        };
        format!(
            "文件有 {} 处错误，未导入任何记录：{}{more}",
            rows.len(),
            shown.join("；")
        )
    } else {
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        format!(
            "the file has {} error{}, nothing was imported: {}{more}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            shown.join("; ")
        )
    }
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
            NodeError::StoreCorrupt { .. } => "store-corrupt",
            NodeError::RepairPending => "repair-pending",
            NodeError::CatchingUp { .. } => "catching-up",
            NodeError::ClockOff { .. } => "clock-off",
            NodeError::BadBackup { code, .. } => *code,
            NodeError::DaemonRunning { .. } => "daemon-running",
            NodeError::Io { .. } => "io",
            NodeError::Usage { .. } => "invalid-field",
            NodeError::NotInitialized { .. } => "not-initialized",
            NodeError::AlreadyInitialized { .. } => "already-initialized",
            NodeError::NotFound { .. } => "not-found",
            NodeError::Ambiguous { .. } => "ambiguous-id",
            NodeError::Daemon { .. } => "daemon",
            NodeError::StoreBusy { .. } => "store-busy",
            NodeError::BundleRefused { .. } => "bundle-refused",
            NodeError::PushFailed { .. } => "push-failed",
            NodeError::Network { .. } => "network",
            NodeError::Csv { .. } => "csv",
        }
    }

    /// Exit status 2: the input was wrong and nothing changed.
    pub fn is_usage(&self) -> bool {
        match self {
            NodeError::Protocol(e) => e.is_usage(),
            NodeError::Usage { .. }
            | NodeError::AlreadyInitialized { .. }
            | NodeError::NotFound { .. }
            | NodeError::Ambiguous { .. }
            | NodeError::Csv { .. } => true,
            NodeError::NotInitialized { .. } => true,
            NodeError::BadBackup { .. } => true,
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
            NodeError::StoreCorrupt { path, missing, .. } => {
                let what = match missing {
                    Some(n) => format!("最近的 {n} 次写入丢失"),
                    None => "磁盘上的数据已损坏".to_string(),
                };
                format!(
                    "存储 {path} 已损坏（{what}）；如守护进程在运行请先停止，然后运行 \
                     `lingong repair`：它把损坏的存储移到一旁，保留仍能验证的数据，其余从网络重新获取"
                )
            }
            NodeError::RepairPending => {
                "存储已修复，但本节点自己的记录链可能尚不完整，因此暂不签署任何内容\
                 （现在签署可能造成分叉）：请在上级节点可连通时运行 `lingong sync`，然后再写入"
                    .to_string()
            }
            NodeError::CatchingUp { parent } => format!(
                "本节点由备份恢复，正在等待上级节点（{parent}）传回本节点自己签署的记录链，因此暂不签署任何内容\
                 （现在签署可能重复使用旧机器已用过的序号，造成分叉并使密钥停用）：请保持上级节点可连通，\
                 等守护进程完成同步（或运行 `lingong sync`）后再写入"
            ),
            NodeError::ClockOff { parent, offset_s } => format!(
                "本节点时钟比上级节点（{parent}）{} {} 秒，超过允许的一小时，因此暂不签署任何内容\
                 （签署的变更时间会出错）：请校准时钟（`timedatectl`），让守护进程与上级同步\
                 （或运行 `lingong sync`）后再写入",
                if *offset_s > 0 { "慢" } else { "快" },
                offset_s.abs()
            ),
            NodeError::BadBackup { file, zh, .. } => format!("{file}：{zh}"),
            NodeError::DaemonRunning { home } => format!(
                "{home} 的守护进程正在运行：请先停止它（SIGTERM），`lingong repair` 需要独占存储"
            ),
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
            NodeError::Csv { rows } => csv_message(rows, "zh"),
            NodeError::BundleRefused { kept, refused } => refused_message(*kept, refused, "zh"),
            NodeError::PushFailed { sent, failed } => push_failed_message(*sent, failed, "zh"),
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

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> NodeError {
        match crate::store::parse_corrupt(&e) {
            Some((path, missing, detail)) => NodeError::StoreCorrupt {
                path,
                missing,
                detail,
            },
            None => NodeError::Store(e),
        }
    }
}

impl NodeError {
    /// Names the store in a [`NodeError::StoreCorrupt`] raised by a read that did not know
    /// which store it was reading; any other error is returned as it is.
    pub fn in_store(self, store: &std::path::Path) -> NodeError {
        match self {
            NodeError::StoreCorrupt {
                path,
                missing,
                detail,
            } if path.is_empty() => NodeError::StoreCorrupt {
                path: store.display().to_string(),
                missing,
                detail,
            },
            other => other,
        }
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;
