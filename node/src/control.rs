//! The daemon's control socket: how a command reaches a running node.
//!
//! A command first tries `daemon.sock` in the node's home; when a daemon answers, the request is
//! sent there as one JSON line and the reply comes back as one JSON line. When no daemon runs,
//! the command opens the store itself. Either way the user sees the same result, and never a
//! "database is locked" error.
//!
//! Start-up in either order ([`execute`]): a command tries the socket, then the store's lock,
//! and again, until one of them serves it. A daemon binds its socket before it waits for the
//! store, and accepts connections only once the store is open, so a command connected to a
//! daemon still starting waits for its answer; a daemon that stops before it served a
//! connection never read its request (no [`READY_LINE`] came), and the command tries again.

use crate::error::{CsvRowError, NodeError, Result};
use crate::home::Home;
use crate::request::{Request, dispatch};
use crate::station::Station;
use crate::store::{LOCK_WAIT, WAIT_NOTICE_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};

/// The daemon's reply to one request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Ok(Value),
    Error(ErrorReply),
}

/// An error as it crosses the socket: enough to print it in either language and pick the exit
/// status.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: String,
    pub message_en: String,
    pub message_zh: String,
    pub usage: bool,
    /// The bad rows of a refused CSV import (code `csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<CsvRowError>>,
}

impl From<&NodeError> for ErrorReply {
    fn from(e: &NodeError) -> Self {
        ErrorReply {
            code: e.code().to_string(),
            message_en: e.message("en"),
            message_zh: e.message("zh"),
            usage: e.is_usage(),
            rows: match e {
                NodeError::Csv { rows } => Some(rows.clone()),
                _ => None,
            },
        }
    }
}

/// A failure as the command line reports it, whether it happened here or in the daemon.
#[derive(Debug)]
pub enum Failure {
    Local(NodeError),
    Remote(ErrorReply),
}

impl Failure {
    pub fn code(&self) -> String {
        match self {
            Failure::Local(e) => e.code().to_string(),
            Failure::Remote(r) => r.code.clone(),
        }
    }
    pub fn message(&self, lang: &str) -> String {
        match self {
            Failure::Local(e) => e.message(lang),
            Failure::Remote(r) if lang.starts_with("zh") => r.message_zh.clone(),
            Failure::Remote(r) => r.message_en.clone(),
        }
    }
    pub fn is_usage(&self) -> bool {
        match self {
            Failure::Local(e) => e.is_usage(),
            Failure::Remote(r) => r.usage,
        }
    }
    /// The bad rows of a refused CSV import, when that is the failure.
    pub fn csv_rows(&self) -> Option<&[CsvRowError]> {
        match self {
            Failure::Local(NodeError::Csv { rows }) => Some(rows),
            Failure::Remote(r) => r.rows.as_deref(),
            Failure::Local(_) => None,
        }
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        Failure::Local(e)
    }
}

/// The line a daemon writes on every connection it accepts, before it reads the request: it
/// accepts only once its store is open, so a command that sees the connection end before this
/// line knows its request was never read.
pub const READY_LINE: &str = "{\"ready\":true}\n";

/// Sends `request` to the running daemon, if one serves the home's socket. `None` when none
/// does: no socket, nobody listening, or a daemon that ended before it served this connection
/// (its request unread). A daemon still opening its store is waited for.
pub fn call_daemon(home: &Home, request: &Request) -> Option<std::result::Result<Value, Failure>> {
    let path = home.socket_path();
    let stream = std::os::unix::net::UnixStream::connect(&path).ok()?;
    let mut line = serde_json::to_string(request).expect("serializable");
    line.push('\n');
    // The request waits in the socket's buffer until the daemon has accepted the connection.
    let mut writer = stream.try_clone().ok()?;
    writer.write_all(line.as_bytes()).ok()?;
    writer.flush().ok()?;
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    match reader.read_line(&mut first) {
        Ok(n) if n > 0 && first.ends_with('\n') => {}
        _ => return None,
    }
    let result = (|| -> std::io::Result<Reply> {
        let reply = if first == READY_LINE {
            let mut reply = String::new();
            if reader.read_line(&mut reply)? == 0 {
                return Err(std::io::Error::other(
                    "it closed the connection before answering",
                ));
            }
            reply
        } else {
            first // a daemon of a version that sent no ready line
        };
        serde_json::from_str(&reply).map_err(std::io::Error::other)
    })();
    Some(match result {
        Ok(Reply::Ok(v)) => Ok(v),
        Ok(Reply::Error(e)) => Err(Failure::Remote(e)),
        Err(e) => Err(Failure::Local(NodeError::Daemon {
            detail: e.to_string(),
        })),
    })
}

/// Runs `request` through the daemon when it runs, otherwise against the store directly.
///
/// Tries the daemon's socket, then the store's lock (once, without waiting), and again every
/// 25 ms, until one serves the request: a command started while the daemon starts is served
/// by the daemon (whose lock it never waits for), and one started while another command holds
/// the store runs when that one ends. Gives up after [`LOCK_WAIT`] of neither.
pub fn execute(home: &Home, request: Request) -> std::result::Result<Value, Failure> {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        if let Some(result) = call_daemon(home, &request) {
            return result;
        }
        if let Some(station) = Station::open_waiting(home, Some(std::time::Duration::ZERO))? {
            return match request {
                Request::Sync { timeout_secs } => crate::net::sync_offline(station, timeout_secs),
                other => {
                    let mut station = station;
                    dispatch(&mut station, other)
                }
            }
            .map_err(Failure::Local);
        }
        let waited = started.elapsed();
        if waited >= LOCK_WAIT {
            return Err(Failure::Local(NodeError::StoreBusy {
                home: home.dir.display().to_string(),
                secs: LOCK_WAIT.as_secs(),
            }));
        }
        if !said && waited >= WAIT_NOTICE_AFTER {
            tracing::warn!(
                home = %home.dir.display(),
                "another lingong process holds the store; waiting for it (up to {} s) / 另一个 \
                 lingong 进程正在使用存储，正在等待（最多 {} 秒）",
                LOCK_WAIT.as_secs(),
                LOCK_WAIT.as_secs()
            );
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// Turns a daemon-side result into the reply line.
pub fn reply_line(result: Result<Value>) -> String {
    let reply = match result {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Error(ErrorReply::from(&e)),
    };
    let mut line = serde_json::to_string(&reply).expect("serializable");
    line.push('\n');
    line
}
