//! `lingong repair`: rebuilds a damaged store, and keeps the node from signing until its own
//! log is caught up again.
//!
//! A damaged store (sled's checksum failed, or the store lost writes it had reported durable:
//! `node/src/store.rs`) stops every command with `NodeError::StoreCorrupt`. The repair, which
//! needs the store to itself (it refuses while the daemon runs or another command holds the
//! store), then:
//!
//! 1. writes the marker [`PENDING`] in the home (when the node is certified, so may have signed
//!    something), then moves `store/` aside to `store.damaged-<UTC time>/` (mode 0700: it holds
//!    clear ID numbers) and leaves it untouched there;
//! 2. copies it to a scratch folder and opens the copy with sled (if sled refuses, once more
//!    without its snapshot files: sled then replays its log up to the damage), and reads every
//!    row it still can, range by range, so one bad page costs the rows on that page only;
//! 3. hands every envelope that still decodes to the one accept path
//!    (`protocol::ingest::accept_batch`, as sync does) into a fresh `store/`: signatures,
//!    chains, logs and authorization are checked again, so nothing forged or half-written comes
//!    back; copies the local private tables (`P`, `H`: the clear ID numbers of the workers
//!    registered here, which no other node holds; `U`: staff accounts and API tokens) as they
//!    were read;
//! 4. syncs with the configured peers (`net::sync_offline`, what `lingong sync` does) to fetch
//!    what the network holds of this node's scope, and retries the envelopes that waited for an
//!    author's certificate;
//! 5. reports what came back and what did not ([`repair`]).
//!
//! No fork: the node signs its next envelope with the sequence number after the highest of its
//! own that it holds. If it signed before its own log is back, it could reuse a number some
//! other node already holds: a fork, which every node keeps as evidence against it. While
//! [`PENDING`] exists, every write that signs (`Station::write`, `cert install`) refuses with
//! `NodeError::RepairPending`. The marker goes when an outbound sync session with an ancestor
//! (normally the parent; any peer for the province, which has none) completes
//! ([`note_completed_session`], called by the network loop of `lingong sync`, the daemon and
//! the repair itself). That is enough because every envelope this node signs has the node's
//! own region or one inside it as its home region, and `Scope::wants` (protocol/src/scope.rs)
//! gives every ancestor of that region at least the header of every kind: whatever of this
//! node's log ever left the node reached its parent first (peers are parents, or children
//! that take from it) and is held there, and a completed session moves everything both sides
//! want, at least as a header, which is enough for the log (sequence number and hash).
//!
//! Limits (documented in ARCHITECTURE.md): an envelope that reached only a child of this node
//! (a post pushed down to a village before the parent synced) comes back only if that child
//! syncs with the node before it writes; one the parent holds back for a clock more than a day
//! behind comes later. The province has no parent: any completed session clears its marker.

use crate::error::{NodeError, Result};
use crate::home::{Home, write_atomically};
use crate::station::{Station, now_ms};
use crate::store::{SledStore, WRITES_FILE, is_corruption};
use lingong_protocol::accept::Accepted;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::store::{RecordState, Store};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The marker file in the home: present from the start of a repair until the node's own log is
/// caught up (see the module documentation).
pub const PENDING: &str = "repair-pending";

/// Envelopes handed to the accept path per batch (one commit each).
const CHUNK: usize = 2_000;

fn pending_path(home: &Home) -> PathBuf {
    home.dir.join(PENDING)
}

/// Refuses a write that would sign while a repair is pending.
pub fn check_writable(home: &Home) -> Result<()> {
    if pending_path(home).exists() {
        return Err(NodeError::RepairPending);
    }
    Ok(())
}

/// Called when an outbound sync session with a peer certified for `peer` completed, at the node
/// certified for `me`: clears a pending repair if that peer is an ancestor (or `me` is the
/// province). Returns whether it cleared one.
pub fn note_completed_session(home: &Home, me: &RegionCode, peer: &RegionCode) -> bool {
    let path = pending_path(home);
    if !path.exists() || !(peer.is_strict_ancestor_of(me) || me.parent().is_none()) {
        return false;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {
            tracing::info!(
                %peer,
                "this node's own log is caught up from an ancestor after the repair: it signs \
                 again / 修复后已从上级节点补齐本节点的记录链，恢复写入"
            );
            true
        }
        Err(e) => {
            tracing::warn!("could not remove {}: {e}", path.display());
            false
        }
    }
}

/// What could be read from the damaged store.
#[derive(Default)]
struct Salvage {
    /// Sled opened (a copy of) the damaged store at all.
    opened: bool,
    /// Sled opened it only without its snapshot files, replaying its log up to the damage.
    log_cut: bool,
    /// Key ranges where a read failed part-way (the rows on a damaged page).
    unreadable_ranges: usize,
    /// Writes the store had counted as durable that are not in what sled read.
    missing_writes: u64,
    envelopes: Vec<Envelope>,
    /// `e` rows that did not decode as an envelope.
    undecodable: usize,
    /// Every envelope id any index of the old store names, with whether it held the payload.
    known: BTreeMap<EnvelopeId, bool>,
    /// The old store's records and their kinds (`None`: the row did not decode).
    records: Vec<(RecordId, Option<RecordKind>)>,
    /// Sequence numbers of this node's own envelopes in the old store's log index.
    own_seqs: BTreeSet<u64>,
    /// Rows of the local private tables (`P`, `H`, and `U`: staff accounts and API tokens).
    private: Vec<(Vec<u8>, Vec<u8>)>,
    /// Rows of fork evidence (`x`).
    evidence: usize,
}

/// Every row under `prefix` that can still be read, and how many ranges failed part-way. The
/// key space is read in 256 ranges (by the byte after the prefix; the keys there are ids and
/// hashes, spread evenly), each forwards until a read fails and then backwards from its end
/// until one fails: sled retries the same page forever after a failed read, and the rows of the
/// other pages stay readable.
fn tolerant_rows(tree: &sled::Tree, prefix: u8) -> (Vec<(Vec<u8>, Vec<u8>)>, usize) {
    use std::ops::Bound::{Excluded, Included};
    let mut out: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut failed = 0;
    for b in 0..=255u8 {
        let lo = vec![prefix, b];
        let hi = if b == 255 {
            vec![prefix + 1]
        } else {
            vec![prefix, b + 1]
        };
        let range = || (Included(lo.clone()), Excluded(hi.clone()));
        let mut broke = false;
        for item in tree.range::<Vec<u8>, _>(range()) {
            match item {
                Ok((k, v)) => {
                    out.insert(k.to_vec(), v.to_vec());
                }
                Err(_) => {
                    broke = true;
                    break;
                }
            }
        }
        if broke {
            failed += 1;
            for item in tree.range::<Vec<u8>, _>(range()).rev() {
                match item {
                    Ok((k, v)) => {
                        if out.insert(k.to_vec(), v.to_vec()).is_some() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }
    (out.into_iter().collect(), failed)
}

/// Copies the folder `from` to `to` (files and subfolders; not the lock file).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != crate::store::OPEN_LOCK {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Opens the scratch copy with sled; if sled refuses, once more without its snapshot files.
fn open_damaged(dir: &Path) -> Option<(sled::Db, bool)> {
    let open = || crate::store::sled_config(dir).flush_every_ms(None).open();
    match open() {
        Ok(db) => return Some((db, false)),
        Err(e) => tracing::info!(
            corrupt = is_corruption(&e),
            "sled refused the damaged store; trying without its snapshot"
        ),
    }
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("snap.") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    open().ok().map(|db| (db, true))
}

/// Reads what it can from the scratch copy `dir` of the damaged store of the node `me`.
fn salvage(dir: &Path, me: &PublicKey) -> Salvage {
    let mut s = Salvage::default();
    let Some((db, log_cut)) = open_damaged(dir) else {
        return s;
    };
    s.opened = true;
    s.log_cut = log_cut;
    // The tree's name, as `SledStore::open` gives it.
    let Ok(tree) = db.open_tree("lingong") else {
        s.opened = false;
        return s;
    };
    let held = tree
        .get(b"#")
        .ok()
        .flatten()
        .and_then(|v| v.as_ref().try_into().ok())
        .map_or(0, u64::from_be_bytes);
    let recorded = std::fs::read(dir.join(WRITES_FILE))
        .ok()
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes);
    s.missing_writes = recorded.saturating_sub(held);
    let mut read = |prefix: u8| {
        let (rows, failed) = tolerant_rows(&tree, prefix);
        s.unreadable_ranges += failed;
        rows
    };
    let e_rows = read(b'e');
    let m_rows = read(b'm');
    let l_rows = read(b'l');
    let r_rows = read(b'r');
    let mut private = read(b'P');
    private.extend(read(b'H'));
    private.extend(read(b'U'));
    let evidence = read(b'x').len();
    for (k, v) in &m_rows {
        if let (Ok(id), Ok(meta)) = (
            <EnvelopeId>::try_from(&k[1..]),
            postcard::from_bytes::<lingong_protocol::store::ItemMeta>(v),
        ) {
            s.known.insert(id, meta.has_payload);
        }
    }
    for (k, v) in &l_rows {
        if let Ok(id) = <EnvelopeId>::try_from(&v[..]) {
            s.known.entry(id).or_insert(false);
        }
        if k.len() == 41 && k[1..33] == me.0 {
            s.own_seqs
                .insert(u64::from_be_bytes(k[33..41].try_into().expect("8 bytes")));
        }
    }
    for (_, v) in e_rows {
        match Envelope::from_bytes(&v) {
            Ok(env) => {
                let full = env.payload.is_some();
                let known = s.known.entry(env.id()).or_insert(full);
                *known |= full;
                s.envelopes.push(env);
            }
            Err(_) => s.undecodable += 1,
        }
    }
    for (k, v) in &r_rows {
        if k.len() != 41 {
            continue;
        }
        let id = RecordId {
            creator: PublicKey(k[1..33].try_into().expect("32 bytes")),
            serial: u64::from_be_bytes(k[33..41].try_into().expect("8 bytes")),
        };
        let kind = postcard::from_bytes::<RecordState>(v).ok().map(|r| r.kind);
        s.records.push((id, kind));
    }
    s.private = private;
    s.evidence = evidence;
    s
}

/// [`salvage`], with a panic inside sled (it has asserts on what it reads) counted as an
/// unreadable store rather than ending the repair.
fn salvage_guarded(dir: &Path, me: &PublicKey) -> Salvage {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| salvage(dir, me)));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|_| Salvage {
        unreadable_ranges: 1,
        ..Salvage::default()
    })
}

/// The plural key of a kind in the counts (`posts`, `workers`, `directory`, …), as `status`.
fn plural(kind: RecordKind) -> String {
    match kind {
        RecordKind::Directory | RecordKind::Evidence => kind.as_str().to_string(),
        other => format!("{}s", other.as_str()),
    }
}

/// What re-accepting a list of envelopes did.
#[derive(Default)]
pub(crate) struct Reaccepted {
    pub(crate) new: u64,
    pub(crate) duplicate: u64,
    pub(crate) rejected: BTreeMap<String, u64>,
    /// Waiting for an author's certificate or a record's creation (retried after the sync).
    pub(crate) waiting: Vec<Envelope>,
}

/// Hands `envelopes` to the one accept path in batches (one commit each), then retries those
/// that waited for something later in the list until nothing more goes in. Also used by
/// `lingong restore` (`crate::backup`).
pub(crate) fn reaccept(
    station: &mut Station,
    mut envelopes: Vec<Envelope>,
    progress: &dyn Fn(usize, usize),
) -> Result<Reaccepted> {
    // Certificates first, then as they were made: what most envelopes need is then held.
    envelopes.sort_by_key(|e| {
        (
            e.header.kind != RecordKind::Certificate,
            e.header.timestamp_ms,
            e.header.author.0,
            e.header.seq,
        )
    });
    let cfg = station.accept_config()?;
    let mut out = Reaccepted::default();
    let total = envelopes.len();
    let pass = |station: &mut Station, list: &[Envelope], out: &mut Reaccepted| -> Result<u64> {
        let mut took = 0;
        for chunk in list.chunks(CHUNK) {
            let (batch, results) =
                lingong_protocol::ingest::accept_batch(&station.store, &cfg, chunk, now_ms());
            station.store.commit(batch)?;
            for (env, r) in chunk.iter().zip(results) {
                match r {
                    Ok(Accepted::Duplicate) => out.duplicate += 1,
                    Ok(_) => {
                        out.new += 1;
                        took += 1;
                    }
                    Err(e) if e.is_retryable() || e.code() == "unknown-record" => {
                        out.waiting.push(env.clone())
                    }
                    Err(e) => *out.rejected.entry(e.code().to_string()).or_default() += 1,
                }
            }
            progress(out.new as usize + out.duplicate as usize, total);
        }
        Ok(took)
    };
    pass(station, &envelopes, &mut out)?;
    loop {
        let list = std::mem::take(&mut out.waiting);
        if list.is_empty() || pass(station, &list, &mut out)? == 0 {
            break;
        }
    }
    Ok(out)
}

/// Retries what waited, after the sync brought certificates and records; counts what still
/// does not go in as rejected, by its error code.
fn reaccept_waiting(station: &mut Station, out: &mut Reaccepted) -> Result<()> {
    let list = std::mem::take(&mut out.waiting);
    if list.is_empty() {
        return Ok(());
    }
    let mut retry = reaccept(station, list, &|_, _| {})?;
    out.new += retry.new;
    out.duplicate += retry.duplicate;
    for (code, n) in std::mem::take(&mut retry.rejected) {
        *out.rejected.entry(code).or_default() += n;
    }
    if !retry.waiting.is_empty() {
        let cfg = station.accept_config()?;
        for env in &retry.waiting {
            let mut staged = lingong_protocol::store::Staged::new(&station.store);
            if let Err(e) = lingong_protocol::accept::accept(&mut staged, &cfg, env, now_ms()) {
                *out.rejected.entry(e.code().to_string()).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// A progress line on stderr, in the user's language.
fn say(lang: &str, en: &str, zh: &str) {
    if lang.starts_with("zh") {
        eprintln!("修复：{zh}");
    } else {
        eprintln!("repair: {en}");
    }
}

/// The folder the damaged store moves to: `store.damaged-<UTC time>` (with `-2`, `-3`, … if
/// taken).
fn damaged_path(home: &Home) -> PathBuf {
    let stamp: String = lingong_protocol::dates::rfc3339(now_ms())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = home.dir.join(format!("store.damaged-{stamp}"));
    let mut path = base.clone();
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = PathBuf::from(format!("{}-{n}", base.display()));
    }
    path
}

/// `lingong repair`: see the module documentation. `force` repairs a store that opens fine
/// (otherwise refused: nothing to repair). `timeout_secs` bounds the sync with the peers.
/// Returns `{"moved_to", "recovered": {...}, "lost": {...}, "caught_up", "peers"}`.
pub fn repair(home: &Home, force: bool, timeout_secs: u64, lang: &str) -> Result<Value> {
    if !home.exists() {
        return Err(NodeError::NotInitialized {
            home: home.dir.display().to_string(),
        });
    }
    if std::os::unix::net::UnixStream::connect(home.socket_path()).is_ok() {
        return Err(NodeError::DaemonRunning {
            home: home.dir.display().to_string(),
        });
    }
    let store_dir = home.store_path();
    let busy = || NodeError::StoreBusy {
        home: home.dir.display().to_string(),
        secs: 0,
    };
    let opened =
        SledStore::open_waiting(&store_dir, Some(std::time::Duration::ZERO)).and_then(|store| {
            match store {
                Some(store) => store.check_readable(&store_dir).map(|()| Some(store)),
                None => Ok(None),
            }
        });
    let damage = match opened {
        Ok(Some(_healthy)) if !force => {
            return Err(NodeError::usage(
                "repair",
                format!(
                    "the store {} opens and reads fine: there is nothing to repair (--force \
                     rebuilds it anyway)",
                    store_dir.display()
                ),
                format!(
                    "存储 {} 可以正常打开和读取，无需修复（如仍要重建请加 --force）",
                    store_dir.display()
                ),
            ));
        }
        Ok(Some(store)) => {
            drop(store); // let go of the store before it moves
            "none: rebuilt on request (--force)".to_string()
        }
        Ok(None) => return Err(busy()),
        Err(e) => match NodeError::from(e) {
            NodeError::StoreCorrupt { detail, .. } => detail,
            other => return Err(other),
        },
    };
    // Hold the store's lock while it moves: no command opens it meanwhile.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store_dir.join(crate::store::OPEN_LOCK))
        .map_err(|e| NodeError::io(&store_dir, e))?;
    if lock.try_lock().is_err() {
        return Err(busy());
    }
    let station_key = home.load_key()?.public();
    let certified = home.cert_path().exists();
    let moved_to = damaged_path(home);
    if certified {
        // Before the move: from now on nothing signs until the log is caught up.
        let note = json!({ "moved_to": moved_to.display().to_string(), "started": lingong_protocol::dates::rfc3339(now_ms()) });
        write_atomically(&pending_path(home), note.to_string().as_bytes())?;
    }
    std::fs::rename(&store_dir, &moved_to).map_err(|e| NodeError::io(&store_dir, e))?;
    drop(lock);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&moved_to, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| NodeError::io(&moved_to, e))?;
    }
    say(
        lang,
        &format!(
            "the damaged store ({damage}) is now {}; reading what it still holds",
            moved_to.display()
        ),
        &format!(
            "已把损坏的存储移到 {}，正在读取其中仍可读的数据",
            moved_to.display()
        ),
    );

    let scratch = home.dir.join(format!(
        "repair-scratch-{}",
        moved_to
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&moved_to, &scratch).map_err(|e| NodeError::io(&scratch, e))?;
    let old = salvage_guarded(&scratch, &station_key);
    let _ = std::fs::remove_dir_all(&scratch);
    say(
        lang,
        &format!(
            "read {} envelopes and {} private-table rows from the damaged store{}",
            old.envelopes.len(),
            old.private.len(),
            if old.opened {
                ""
            } else {
                " (sled could not open it at all)"
            }
        ),
        &format!(
            "从损坏的存储读出 {} 条变更、{} 行本地私有表{}",
            old.envelopes.len(),
            old.private.len(),
            if old.opened {
                ""
            } else {
                "（sled 完全无法打开它）"
            }
        ),
    );

    let mut station = Station::open(home)?;
    let salvaged_total = old.envelopes.len();
    let mut back = if station.chain.is_some() {
        reaccept(&mut station, old.envelopes.clone(), &|done, total| {
            if total >= 10 * CHUNK || done == total {
                say(
                    lang,
                    &format!("re-verified {done} of {total} envelopes"),
                    &format!("已重新验证 {done}/{total} 条变更"),
                );
            }
        })?
    } else {
        // Uncertified: it never signed, and can verify nothing; what it held is only kept aside.
        Reaccepted {
            rejected: BTreeMap::from([("not-certified".to_string(), salvaged_total as u64)]),
            ..Reaccepted::default()
        }
    };
    station.store.put_private_rows(&old.private)?;
    let clear_ids = old
        .private
        .iter()
        .filter(|(k, _)| k.first() == Some(&b'P'))
        .count();
    let salvaged_counts = station.record_counts()?;

    // Fetch what the network holds of this node's scope.
    let peers = station.config.peers.len();
    let sync = if station.chain.is_some() && peers > 0 {
        say(
            lang,
            &format!("syncing with {peers} configured peer(s) (up to {timeout_secs} s)"),
            &format!("正在与 {peers} 个已配置的对等节点同步（最多 {timeout_secs} 秒）"),
        );
        let report = crate::net::sync_offline(station, timeout_secs)?;
        station = Station::open(home)?;
        report["peers"].clone()
    } else {
        Value::Array(Vec::new())
    };
    let synced_counts = station.record_counts()?;
    reaccept_waiting(&mut station, &mut back)?;
    let now_counts = station.record_counts()?;

    // What is not back.
    let mut lost_records = Map::new();
    for kind in RecordKind::ALL {
        lost_records.insert(plural(kind), json!(0));
    }
    let mut undecodable_records = 0u64;
    for (id, kind) in &old.records {
        if station.store.record(id)?.is_none() {
            match kind {
                Some(k) => {
                    let key = plural(*k);
                    lost_records[&key] = json!(lost_records[&key].as_u64().unwrap_or(0) + 1);
                }
                None => undecodable_records += 1,
            }
        }
    }
    let mut lost_envelopes = 0u64;
    let mut lost_payloads = 0u64;
    for (id, had_payload) in &old.known {
        match station.store.has_envelope(id)? {
            None => lost_envelopes += 1,
            Some(false) if *had_payload => lost_payloads += 1,
            Some(_) => {}
        }
    }
    let own_now: BTreeSet<u64> = station
        .store
        .author_log(&station_key)?
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    let own_lost = old.own_seqs.difference(&own_now).count();
    let with_clear_id = station.store.private_ids()?;
    let mine_without_clear_id = station
        .store
        .records_of(Some(RecordKind::Worker))?
        .iter()
        .filter(|w| w.creator == station_key && !with_clear_id.contains(&w.id().short()))
        .count();
    // The counts above are exact only if the old store was read whole; otherwise they are
    // what its readable part shows.
    let complete =
        old.opened && !old.log_cut && old.unreadable_ranges == 0 && old.missing_writes == 0;
    let lost = json!({
        "complete": complete,
        "records": lost_records,
        "undecodable_records": undecodable_records,
        "envelopes": lost_envelopes,
        "payloads": lost_payloads,
        "own_envelopes": own_lost,
        "clear_id_numbers": mine_without_clear_id,
        "rejected": back.rejected,
        "undecodable_envelopes": old.undecodable,
        "fork_evidence": old.evidence,
        "writes": old.missing_writes,
        "unreadable_ranges": old.unreadable_ranges,
        "store_unreadable": !old.opened,
        "log_cut": old.log_cut,
    });

    let kinds = |counts: &Value| -> Map<String, Value> {
        let mut m = counts.as_object().cloned().unwrap_or_default();
        m.remove("envelopes");
        m
    };
    let total = |counts: &Value| counts["envelopes"].as_u64().unwrap_or(0);
    // Fetched: what the sync added. Recovered: what the damaged store's envelopes made, before
    // the sync and (those that waited for a certificate the sync brought) after it.
    let n = |counts: &Value, k: &str| counts[k].as_u64().unwrap_or(0);
    let mut fetched_records = Map::new();
    let mut recovered_records = Map::new();
    for k in kinds(&now_counts).keys() {
        let fetched = n(&synced_counts, k).saturating_sub(n(&salvaged_counts, k));
        let retried = n(&now_counts, k).saturating_sub(n(&synced_counts, k));
        fetched_records.insert(k.clone(), json!(fetched));
        recovered_records.insert(k.clone(), json!(n(&salvaged_counts, k) + retried));
    }
    let recovered = json!({
        // Re-accepted from the damaged store, and the records they make.
        "envelopes": back.new,
        "read": salvaged_total,
        "records": recovered_records,
        "clear_id_numbers": clear_ids,
        "fetched": {
            "envelopes": total(&synced_counts).saturating_sub(total(&salvaged_counts)),
            "records": fetched_records,
        },
    });

    let caught_up = !pending_path(home).exists();
    if caught_up {
        say(
            lang,
            "done; this node's own log is caught up, writes are allowed",
            "完成；本节点的记录链已补齐，可以写入",
        );
    } else {
        say(
            lang,
            "done; no sync with the parent node completed, so this node signs nothing until \
             `lingong sync` completes with the parent reachable",
            "完成；尚未与上级节点完成同步，在上级节点可连通时运行 `lingong sync` 完成之前，本节点不签署任何内容",
        );
    }
    Ok(json!({
        "moved_to": moved_to.display().to_string(),
        "damage": damage,
        "recovered": recovered,
        "lost": lost,
        "records": now_counts,
        "caught_up": caught_up,
        "peers": sync,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_cleared_only_by_an_ancestor_or_for_the_province() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(Some(dir.path().to_path_buf()));
        let code = |s: &str| RegionCode::parse(s).unwrap();
        std::fs::write(pending_path(&home), b"{}").unwrap();
        assert!(matches!(
            check_writable(&home),
            Err(NodeError::RepairPending)
        ));
        let township = code("522622101");
        assert!(!note_completed_session(
            &home,
            &township,
            &code("522622101001")
        ));
        assert!(!note_completed_session(
            &home,
            &township,
            &code("522622102")
        ));
        assert!(check_writable(&home).is_err());
        assert!(note_completed_session(&home, &township, &code("5226")));
        assert!(check_writable(&home).is_ok());
        std::fs::write(pending_path(&home), b"{}").unwrap();
        assert!(note_completed_session(&home, &code("52"), &code("5226")));
        assert!(check_writable(&home).is_ok());
    }
}
