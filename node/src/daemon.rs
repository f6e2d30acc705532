//! `lingong run`: the daemon. Owns the node's store for as long as it runs, serves commands on
//! the control socket, and runs the network loop; SIGTERM or SIGINT stop it cleanly (the store
//! is flushed and the socket removed). While it runs, it hands the memory its allocator keeps
//! free back to the system after large work ([`trim_freed_memory`]).

use crate::control::{READY_LINE, reply_line};
use crate::error::{NodeError, Result};
use crate::home::{FILE_MODE, Home};
use crate::net::{self, NetHandle};
use crate::request::{Request, dispatch};
use crate::station::Station;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// Runs the daemon until a signal arrives. `http` overrides the configuration's address of the
/// web console and API (`crate::http`).
pub fn run(
    home: &Home,
    listen: Vec<String>,
    http: Option<String>,
    sync_interval: Option<u64>,
    no_mdns: bool,
) -> Result<()> {
    // Bind the control socket before opening the store: a command that starts meanwhile
    // connects and waits for its answer instead of contending for the store's lock. The
    // connections wait in the socket's backlog until the store is open (`serve_control`).
    let socket = home.socket_path();
    if !home.exists() {
        return Err(NodeError::NotInitialized {
            home: home.dir.display().to_string(),
        });
    }
    if sync_interval == Some(0) {
        return Err(NodeError::usage(
            "--sync-interval",
            "must be at least 1 second",
            "至少为 1 秒",
        ));
    }
    home.check_private()?;
    limit_malloc_arenas();
    // One daemon per home: the claim comes before anything is touched, so a second daemon
    // started at the same moment exits here, naming the first, with nothing changed.
    let _claim = Claim::take(home)?;
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        // A daemon of a version that took no claim.
        return Err(NodeError::usage(
            "--home",
            format!("a daemon already runs for {}", home.dir.display()),
            format!("{} 的守护进程已经在运行", home.dir.display()),
        ));
    }
    // Only the claim's holder gets here: a socket left by a daemon that was killed is stale.
    let _ = std::fs::remove_file(&socket);
    let std_listener =
        std::os::unix::net::UnixListener::bind(&socket).map_err(|e| NodeError::io(&socket, e))?;
    // Owner only, whatever the umask (the home is 0700 as well).
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(FILE_MODE))
        .and_then(|_| std_listener.set_nonblocking(true))
        .map_err(|e| NodeError::io(&socket, e))?;
    // A command holding the store (one started before the socket was bound) is waited for as
    // long as it takes; the commands arriving meanwhile wait in the backlog.
    let mut station = match Station::open_waiting(home, None) {
        Ok(Some(s)) => s,
        Ok(None) => unreachable!("a wait without limit ends only with the store open"),
        Err(e) => {
            let _ = std::fs::remove_file(&socket);
            return Err(e);
        }
    };
    if let Some(secs) = sync_interval {
        station.config.sync_interval_secs = secs;
    }
    if no_mdns {
        station.config.mdns = false;
    }
    // A restored node says that it waits for its parent (crate::backup).
    crate::backup::note_start(&station);
    let http_addr = http.unwrap_or_else(|| station.config.http.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::io("tokio runtime", e))?;
    runtime.block_on(async move {
        let station = Arc::new(RwLock::new(station));
        let (network, handle, commands) = net::start(Arc::clone(&station), &listen)?;
        let listener =
            UnixListener::from_std(std_listener).map_err(|e| NodeError::io(&socket, e))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let control = tokio::spawn(serve_control(
            listener,
            Arc::clone(&station),
            handle.clone(),
            stop_rx.clone(),
        ));
        let execute: crate::http::Execute = {
            let (station, net) = (Arc::clone(&station), handle.clone());
            Arc::new(move |req| {
                let (station, net) = (Arc::clone(&station), net.clone());
                Box::pin(async move { self::handle(&station, &net, req).await })
            })
        };
        let web =
            match crate::http::start(&http_addr, Arc::clone(&station), execute, stop_rx.clone())
                .await
            {
                Ok(web) => web,
                Err(e) => {
                    control.abort();
                    let _ = std::fs::remove_file(&socket);
                    return Err(e);
                }
            };
        tracing::info!(
            "web console: http://{}/  (API /api/, OpenAPI /openapi.json)",
            web.addr
        );
        eprintln!("web console / 网页控制台: http://{}/", web.addr);
        let trim = tokio::spawn(trim_freed_memory(stop_rx.clone()));
        let mut net_stop = stop_rx.clone();
        let net_task = tokio::spawn(network.run(commands, async move {
            let _ = net_stop.wait_for(|s| *s).await;
        }));
        shutdown_signal().await;
        tracing::info!("stopping");
        let _ = stop_tx.send(true);
        let _ = net_task.await;
        control.abort();
        web.task.abort();
        trim.abort();
        let _ = std::fs::remove_file(&socket);
        let s = station.read().expect("station lock");
        drop(s);
        Ok(())
    })
}

/// The daemon's claim on its home: `daemon.pid` ([`Home::pid_path`]) under an exclusive lock
/// (`flock`) held for as long as the daemon runs, with the daemon's process id in it.
///
/// The kernel releases the lock when the process ends however it ends, so a daemon killed with
/// SIGKILL leaves a file (and a socket) that do not block the next start: the next daemon takes
/// the lock, overwrites the process id and replaces the socket. The file is never removed (a
/// daemon that removed it could let two later daemons lock two different files); a daemon
/// that stops cleanly empties it.
struct Claim {
    file: std::fs::File,
}

/// How long a daemon that lost the claim waits for the winner's process id to appear (the
/// winner writes it right after it took the lock).
const PID_WAIT: Duration = Duration::from_secs(2);

impl Claim {
    fn take(home: &Home) -> Result<Claim> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = home.pid_path();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|e| NodeError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let dir = home.dir.display();
                return Err(match running_pid(&path) {
                    Some(pid) => NodeError::usage(
                        "--home",
                        format!(
                            "a daemon (pid {pid}) already runs for {dir}; use it, or stop it \
                             first (kill {pid})"
                        ),
                        format!(
                            "{dir} 的守护进程（进程号 {pid}）已经在运行；请直接使用它，\
                             或先停止它（kill {pid}）"
                        ),
                    ),
                    None => NodeError::usage(
                        "--home",
                        format!("a daemon already runs for {dir} (its pid is not known yet)"),
                        format!("{dir} 的守护进程已经在运行（尚不知其进程号）"),
                    ),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(NodeError::io(&path, e)),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(FILE_MODE))
            .and_then(|_| file.set_len(0))
            .and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| NodeError::io(&path, e))?;
        Ok(Claim { file })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Stopped cleanly: the file names no process (the lock goes with the file handle).
        let _ = self.file.set_len(0);
    }
}

/// The process id in `daemon.pid`, waiting up to [`PID_WAIT`] for the daemon holding it to
/// write it. Until it has, the file may still name a daemon killed earlier (SIGKILL leaves its
/// id in place): an id is taken only once it names a live process.
fn running_pid(path: &std::path::Path) -> Option<u32> {
    let deadline = std::time::Instant::now() + PID_WAIT;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|pid| is_alive(*pid))
        {
            return Some(pid);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` runs: it exists and is not a zombie (a killed process its parent has
/// not yet reaped).
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) state …": the name may hold spaces and parentheses.
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// How often the daemon compares its resident memory with the level after its last trim.
const TRIM_EVERY: Duration = Duration::from_secs(2);
/// Growth of the resident memory past the level after the last trim (KiB) that makes the
/// daemon trim again.
const TRIM_GROWTH_KIB: u64 = 16 * 1024;
/// What a trim must give back (KiB) for the next tick to trim again without new growth.
const TRIM_AGAIN_KIB: u64 = 1024;

/// Hands back to the system the memory glibc's malloc keeps free after large work (a first
/// sync of 100,000 posts, a whole list as JSON, a report): malloc returns freed memory to the
/// system only from the top of each arena, and the daemon's threads each use their own arena,
/// so without a trim a daemon stayed hundreds of MB above what it held (docs/figures.md, "Daemon
/// memory"; `tests/benches/daemon_memory.rs`). Every [`TRIM_EVERY`], once the resident memory
/// has grown by [`TRIM_GROWTH_KIB`] past its level after the last trim, `malloc_trim` runs on
/// a blocking thread; and at the next tick again, and so on while each trim gives back at
/// least [`TRIM_AGAIN_KIB`]: a trim in the middle of large work (a sync, a whole list) sets the
/// level high, and what the work frees when it ends would otherwise stay until the memory
/// grew past that level again. An idle daemon is never trimmed.
async fn trim_freed_memory(mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(mut floor) = resident_kib() else {
        return;
    };
    let mut again = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TRIM_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let Some(now) = resident_kib() else {
            return;
        };
        let grew = now > floor + TRIM_GROWTH_KIB;
        if grew || again {
            let after = tokio::task::spawn_blocking(|| {
                malloc_trim();
                resident_kib()
            })
            .await;
            floor = after.ok().flatten().unwrap_or(now);
            again = grew || now.saturating_sub(floor) >= TRIM_AGAIN_KIB;
            tracing::debug!(
                before_kib = now,
                after_kib = floor,
                "freed memory handed back"
            );
        } else {
            floor = floor.min(now);
        }
    }
}

/// This process's resident memory (`VmRSS` in `/proc/self/status`, KiB).
fn resident_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Holds glibc's malloc to one arena per core (its default is eight per core: sixteen on a
/// village's two cores), before the daemon starts its threads. Each thread that allocates
/// while the others hold their arenas gets one of its own, and the memory freed in each stays
/// there, in pages that `malloc_trim` cannot return while anything else in them lives: a
/// village daemon after its first sync of 100,000 posts and 100 lists held about 80 MB of
/// such free memory beside 97 MB in use, with fourteen arenas (docs/figures.md, "Daemon memory").
/// `MALLOC_ARENA_MAX` (or `GLIBC_TUNABLES`) in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    let set_by_env = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc.arena_max"));
    if set_by_env {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // SAFETY: a plain C call with two integers, made before the daemon starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, cores.clamp(2, 64) as libc::c_int);
    }
}

/// Other C libraries have no arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// glibc's `malloc_trim(0)`: every arena's free pages returned to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn malloc_trim() {
    // SAFETY: a plain C call with an integer argument; glibc takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries have no `malloc_trim`: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_trim() {}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("signal handler");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

/// The pause after a failed accept on the control socket (axum's server pauses likewise).
const CONTROL_ACCEPT_RETRY: Duration = Duration::from_millis(100);

async fn serve_control(
    listener: UnixListener,
    station: Arc<RwLock<Station>>,
    net: NetHandle,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of files (EMFILE) or another transient failure: the waiting command stays
                // in the backlog, so retrying at once would spin a core until a file frees.
                tracing::warn!("control socket: accept failed ({e}); retrying in 100 ms");
                tokio::time::sleep(CONTROL_ACCEPT_RETRY).await;
                continue;
            }
        };
        if *stop.borrow() {
            return;
        }
        let station = Arc::clone(&station);
        let net = net.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            // Accepted only now that the store is open: tell the command its request will be
            // read (a connection the daemon drops before this line, it never read).
            if write.write_all(READY_LINE.as_bytes()).await.is_err() {
                return;
            }
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let result = match serde_json::from_str::<Request>(&line) {
                    Ok(Request::PostList(filter)) if filter.limit.is_none() => {
                        if send_whole_post_list(&station, filter, &mut write).await {
                            continue;
                        }
                        return;
                    }
                    Ok(req) => handle(&station, &net, req).await,
                    Err(e) => Err(NodeError::Daemon {
                        detail: format!("bad request: {e}"),
                    }),
                };
                if write
                    .write_all(reply_line(result).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// Rows of a whole `post list` built and sent at a time ([`send_whole_post_list`]).
const LIST_PAGE: usize = 1000;

/// `post list` without `--limit` (every matching post), answered a page of [`LIST_PAGE`] rows
/// at a time: each page is listed under the shared lock as `post list --limit 1000 --after
/// LAST` would list it (`services::posts::list`), written to the socket as text, and dropped
/// before the next, so the daemon never holds the whole answer (100,000 posts as JSON values
/// took it from 181 to 646 MB: docs/figures.md, "Daemon memory"). The command reads the same one reply
/// line as before, every row in the same order. A write arriving between two pages is seen
/// as by a script paging with `--after`: a post created meanwhile (newer than the rows sent)
/// is not listed, one that left the filters is not listed again.
///
/// An error on the first page is the reply; one on a later page (the store failing, or the
/// last row's post no longer under a `--region` or `--occupation` filter) ends the connection
/// with the reply cut short, so the command fails instead of printing a shortened list.
/// Returns whether the connection may go on.
async fn send_whole_post_list(
    station: &Arc<RwLock<Station>>,
    mut filter: crate::services::posts::PostFilter,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> bool {
    // The reply line's text around its rows: `{"ok":[` and `]}`.
    let empty = reply_line(Ok(Value::Array(Vec::new())));
    let Some((head, tail)) = empty.split_once("[]") else {
        return false;
    };
    let (head, tail) = (format!("{head}["), format!("]{tail}"));
    let mut text = head;
    let mut rows_sent = 0usize;
    loop {
        filter.limit = Some(LIST_PAGE);
        let rows = match blocking(station, Request::PostList(filter.clone())).await {
            Ok(Value::Array(rows)) => rows,
            Ok(_) => return false,
            Err(e) if rows_sent == 0 => {
                return write.write_all(reply_line(Err(e)).as_bytes()).await.is_ok();
            }
            Err(e) => {
                tracing::warn!("a whole post list ended after {rows_sent} rows: {e}");
                return false;
            }
        };
        for row in &rows {
            if rows_sent > 0 {
                text.push(',');
            }
            text.push_str(&row.to_string());
            rows_sent += 1;
        }
        let done = rows.len() < LIST_PAGE;
        filter.after = rows.last().and_then(|r| r["id"].as_str()).map(String::from);
        if done || filter.after.is_none() {
            text.push_str(&tail);
        }
        if write.write_all(text.as_bytes()).await.is_err() {
            return false;
        }
        if done || filter.after.is_none() {
            return true;
        }
        text.clear();
    }
}

/// A request inside the daemon: network requests go to the network loop, the rest to the
/// station (on a blocking thread: sled writes flush to disk).
async fn handle(station: &Arc<RwLock<Station>>, net: &NetHandle, req: Request) -> Result<Value> {
    match req {
        Request::Sync { timeout_secs } => {
            let reports = net
                .sync_now(Duration::from_secs(timeout_secs.max(1)))
                .await?;
            Ok(json!({ "peers": reports }))
        }
        Request::PeerAdd { addr } => {
            let out = blocking(station, Request::PeerAdd { addr: addr.clone() }).await?;
            if let Ok((_, ma)) = crate::services::peers::parse_peer_addr(&addr) {
                net.add_peer(ma).await?;
            }
            Ok(out)
        }
        Request::Status => {
            let mut out = blocking(station, Request::Status).await?;
            let (peers, listening) = net.status().await?;
            out["peers"] = json!(peers);
            out["listen"] = json!(listening);
            out["daemon"] = json!(true);
            out["daemon_pid"] = json!(std::process::id());
            Ok(out)
        }
        // The messages go out without holding the station: a modem may take seconds each.
        Request::PushSend { post, worker, days } => {
            let plan = with_station(station, move |s| {
                crate::services::push::plan_send(s, post.as_deref(), worker.as_deref(), days)
            })
            .await?;
            let sent = tokio::task::spawn_blocking(move || plan.run())
                .await
                .map_err(|e| NodeError::Daemon {
                    detail: e.to_string(),
                })?;
            let out = with_station(station, move |s| {
                crate::services::push::record_sent(s, sent)
            })
            .await;
            net.nudge().await;
            out
        }
        other => {
            let writes = other.is_write();
            let out = blocking(station, other).await?;
            if writes {
                net.nudge().await;
            }
            Ok(out)
        }
    }
}

/// A request on a blocking thread: a read under the shared lock (reads run side by side and
/// wait only for a write's commit, not for each other), anything else under the exclusive one.
async fn blocking(station: &Arc<RwLock<Station>>, req: Request) -> Result<Value> {
    let shared = Arc::clone(station);
    let answered = tokio::task::spawn_blocking(move || {
        let s = shared.read().expect("station lock");
        crate::request::dispatch_read(&s, req)
    })
    .await
    .map_err(|e| NodeError::Daemon {
        detail: e.to_string(),
    })?;
    match answered {
        Ok(out) => out,
        Err(req) => with_station(station, move |s| dispatch(s, req)).await,
    }
}

/// Runs `f` on a blocking thread holding the station.
async fn with_station<T: Send + 'static>(
    station: &Arc<RwLock<Station>>,
    f: impl FnOnce(&mut Station) -> Result<T> + Send + 'static,
) -> Result<T> {
    let station = Arc::clone(station);
    tokio::task::spawn_blocking(move || f(&mut station.write().expect("station lock")))
        .await
        .map_err(|e| NodeError::Daemon {
            detail: e.to_string(),
        })?
}
