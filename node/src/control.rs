//! The daemon's control socket: how a command reaches a running node.
//!
//! A command first tries `daemon.sock` in the node's home; when a daemon answers, the request is
//! sent there as one JSON line and the reply comes back as one JSON line. When no daemon runs,
//! the command opens the store itself. Either way the user sees the same result, and never a
//! "database is locked" error.

use crate::error::{NodeError, Result};
use crate::home::Home;
use crate::station::{Request, Station};
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
}

impl From<&NodeError> for ErrorReply {
    fn from(e: &NodeError) -> Self {
        ErrorReply {
            code: e.code().to_string(),
            message_en: e.message("en"),
            message_zh: e.message("zh"),
            usage: e.is_usage(),
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
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        Failure::Local(e)
    }
}

/// Sends `request` to the running daemon, if one answers on the home's socket.
pub fn call_daemon(home: &Home, request: &Request) -> Option<std::result::Result<Value, Failure>> {
    let path = home.socket_path();
    let stream = std::os::unix::net::UnixStream::connect(&path).ok()?;
    let result = (|| -> std::io::Result<Reply> {
        let mut writer = stream.try_clone()?;
        let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
        line.push('\n');
        writer.write_all(line.as_bytes())?;
        writer.flush()?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
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
pub fn execute(home: &Home, request: Request) -> std::result::Result<Value, Failure> {
    if let Some(result) = call_daemon(home, &request) {
        return result;
    }
    if let Request::Sync { timeout_secs } = request {
        return crate::net::sync_offline(home, timeout_secs).map_err(Failure::Local);
    }
    let mut station = Station::open(home).map_err(Failure::Local)?;
    station.handle(request).map_err(Failure::Local)
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
