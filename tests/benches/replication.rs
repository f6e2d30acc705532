//! The replication benchmark of issue 3: bytes on the wire and time through a thin link, each
//! printed next to a baseline measured in the same run and the ratio of the two.
//!
//! - **(a) Bytes to reconcile** two nodes (a village station and its township) that share
//!   N = 100,000 signed posts and differ by d = 100, once with the 100 as new posts at the
//!   village (a station that was offline) and once with the 100 spread uniformly in time. Ours:
//!   two real [`Session`]s driven exactly as `node/src/net.rs` drives them (handshake frame with
//!   the certificate chains, then `start`/`receive`/`next_frame`/`finished`, every frame encoded
//!   and decoded, every received batch accepted and committed before the next frame is built),
//!   summing the encoded frames both ways. Baseline: Automerge's own per-document sync protocol
//!   (`automerge::sync`, fresh sync states) over the same posts, one document per post, run doc
//!   by doc so memory stays bounded, summing every sync message.
//! - **(b) Overhead**: (a)'s wire bytes over the bytes of the d new signed envelopes.
//! - **(c) Time through a 50 kbit/s link**: two network namespaces joined by a veth pair shaped
//!   with `tc … tbf rate 50kbit` on both ends, a real township daemon in one and a real village
//!   daemon in the other; 100 posts with 1 KB descriptions recorded while the village was down,
//!   timed from the village daemon's restart until the township's `status` counts them.
//!   Baseline: a plain TCP connection pushing the same number of bytes (the 100 envelopes'
//!   wire bytes) through the same link (this binary re-executed inside the namespaces).
//!   Skipped with a clear line where `ip netns` is not allowed (needs root and iproute2).
//!
//! Run: `cargo bench -p lingong-tests --bench replication`. Optional environment:
//! `LINGONG_BENCH_N` (100000), `LINGONG_BENCH_D` (100), `LINGONG_BENCH_NET_POSTS` (100),
//! `LINGONG_BENCH_NET=0` (skip (c)), `LINGONG_BENCH_REPORT=<file>` (append the summary block,
//! in Markdown, to that file), `LINGONG_BENCH_KEEP=1` (keep (c)'s node homes and daemon logs),
//! `LINGONG_BENCH_DAEMON_LOG=<filter>` (the daemons' `LINGONG_LOG`, default `info`).
//! `LINGONG_BENCH_ROLE=sink|source` is internal: the two ends of the TCP baseline.

use automerge::sync::{Message as AmMessage, State as AmState, SyncDoc};
use automerge::{Automerge, Change};
use lingong_protocol::accept::{AcceptConfig, accept_all};
use lingong_protocol::author::{LocalAuthor, Target};
use lingong_protocol::dates;
use lingong_protocol::envelope::{Envelope, EnvelopeId};
use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
use lingong_protocol::keys::NodeKey;
use lingong_protocol::record::{FieldValue, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::scope::Scope;
use lingong_protocol::store::{MemoryStore, Staged, Store};
use lingong_protocol::sync::{Frame, Session, SyncConfig, frame_is_empty, load_from};
use lingong_tests::{Daemon, NetnsPair, Node, init_chain, poll_every};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The certified chain of the fixture, province to village (the same codes as the tests' CHAIN).
const CHAIN_REGIONS: [&str; 5] = ["52", "5226", "522622", "522622101", "522622101001"];
const COUNTY: &str = "522622";
const TOWNSHIP: &str = "522622101";
const VILLAGE: &str = "522622101001";
/// When the fixture certificates are published: a day after they become valid.
const T0: i64 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;
/// The shared posts are spread over this span (a year of a busy county's posts).
const SPAN_MS: i64 = 365 * 86_400_000;

fn main() {
    match std::env::var("LINGONG_BENCH_ROLE").as_deref() {
        Ok("sink") => return tcp_sink(),
        Ok("source") => return tcp_source(),
        _ => {}
    }
    let n = env_usize("LINGONG_BENCH_N", 100_000);
    let d = env_usize("LINGONG_BENCH_D", 100).clamp(1, n / 2);
    let net_posts = env_usize("LINGONG_BENCH_NET_POSTS", 100).max(1);
    let run_net = std::env::var("LINGONG_BENCH_NET").map_or(true, |v| v != "0");
    let started = Instant::now();
    println!("lingong replication benchmark: N = {n}, d = {d}");

    let (new_case, spread_case) = bytes_figures(n, d);
    let net = if run_net {
        println!("\n(c) {net_posts} posts of 1 KB, village → township, through 50 kbit/s");
        match network_figures(net_posts) {
            Ok(f) => Some(Ok(f)),
            Err(Skip(why)) => {
                println!("(c) skipped: needs root and ip netns ({why})");
                Some(Err(why))
            }
        }
    } else {
        println!("\n(c) skipped: LINGONG_BENCH_NET=0");
        None
    };

    let summary = summary_block(n, d, net_posts, &new_case, &spread_case, net.as_ref());
    println!(
        "\n{summary}\n(whole run: {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    if let Ok(path) = std::env::var("LINGONG_BENCH_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        writeln!(f, "{summary}").expect("write report");
        println!("summary appended to {path}");
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("fixture region")
}

// ---------------------------------------------------------------------------------------------
// (a) and (b): bytes to reconcile, against Automerge's per-document sync
// ---------------------------------------------------------------------------------------------

/// One case of (a)/(b): our session and the Automerge baseline over the same two sets.
struct BytesCase {
    name: &'static str,
    ours: SessionFigures,
    /// Sum of the wire bytes of the d envelopes the township lacked.
    new_envelope_bytes: u64,
    baseline: AutomergeFigures,
}

#[derive(Default)]
struct SessionFigures {
    /// The handshake round (both certificate chains), once per connection.
    handshake_bytes: u64,
    /// The session's frames after the handshake, both ways.
    session_bytes: u64,
    frames: u64,
    /// Envelope bytes carried inside the frames.
    envelope_bytes: u64,
    envelopes_moved: u64,
    elapsed: Duration,
}

impl SessionFigures {
    fn total(&self) -> u64 {
        self.handshake_bytes + self.session_bytes
    }
}

#[derive(Default)]
struct AutomergeFigures {
    bytes: u64,
    messages: u64,
    docs: u64,
    elapsed: Duration,
}

/// A post author of the fixture: key, home region, the reach it advertises in.
struct Author {
    key: NodeKey,
    region: RegionCode,
    reach: RegionCode,
}

fn bytes_figures(n: usize, d: usize) -> (BytesCase, BytesCase) {
    let mut h = Hierarchy::new(7);
    let root = h.root();
    let cfg = AcceptConfig {
        root,
        materialize: false,
    };
    // Posts that both sides' scopes share: the village's own (reach = village), the
    // township's (reach = township) and the county's (reach = county), in turn.
    let authors: Vec<Author> = [(VILLAGE, VILLAGE), (TOWNSHIP, TOWNSHIP), (COUNTY, COUNTY)]
        .iter()
        .map(|(region, reach)| Author {
            key: h.node(&code(region)).0,
            region: code(region),
            reach: code(reach),
        })
        .collect();

    let build = Instant::now();
    let mut village = MemoryStore::new();
    for r in CHAIN_REGIONS {
        h.publish(&mut village, &code(r), T0);
    }
    let shared = n - d;
    let step = SPAN_MS / n as i64;
    let first = T0 + 3_600_000;
    write_posts(
        &mut village,
        &authors,
        cfg,
        (0..shared).map(|i| (i % authors.len(), first + i as i64 * step, i)),
    );
    let township = village.clone();
    // The village then goes offline for a week and records d posts.
    let offline = first + SPAN_MS + 7 * 86_400_000;
    let new_ids = write_posts(
        &mut village,
        &authors,
        cfg,
        (0..d).map(|j| (0, offline + j as i64 * 60_000, shared + j)),
    );
    println!(
        "built {} signed post envelopes (real Automerge changes) in {:.1} s",
        n,
        build.elapsed().as_secs_f64()
    );
    let now = offline + d as i64 * 60_000 + 3_600_000;

    // Case 1: the d differing posts are the village's new ones.
    println!("\n(a) case 1: the {d} differing posts are new posts at the village");
    let new_case = run_case(
        "new at one side",
        &mut h,
        cfg,
        &village,
        township,
        &new_ids,
        now,
    );

    // Case 2: the township lacks d village posts spread uniformly in time over all N.
    println!("\n(a) case 2: the {d} differing posts are spread uniformly in time");
    let mut ordered: Vec<(i64, EnvelopeId, bool)> = village
        .metas
        .values()
        .filter(|m| m.kind == RecordKind::Post)
        .map(|m| (m.timestamp_ms, m.id, m.region == code(VILLAGE)))
        .collect();
    ordered.sort();
    let mut spread = Vec::with_capacity(d);
    let mut taken = BTreeSet::new();
    for k in 0..d {
        let mut i = k * n / d + n / (2 * d);
        while i < ordered.len() && (!ordered[i].2 || taken.contains(&ordered[i].1)) {
            i += 1;
        }
        if i < ordered.len() {
            taken.insert(ordered[i].1);
            spread.push(ordered[i].1);
        }
    }
    let mut township = village.clone();
    for id in &spread {
        let env = township.envelopes.remove(id).expect("held");
        township.metas.remove(id);
        township.logs.remove(&(env.header.author, env.header.seq));
        township.records.remove(&env.header.record);
    }
    let spread_case = run_case(
        "spread uniformly",
        &mut h,
        cfg,
        &village,
        township,
        &spread,
        now,
    );
    (new_case, spread_case)
}

/// Signs posts `(author index, timestamp, number)` into `store` through the one accept path
/// (1,000 per committed batch) and returns their envelope ids.
fn write_posts(
    store: &mut MemoryStore,
    authors: &[Author],
    cfg: AcceptConfig,
    specs: impl Iterator<Item = (usize, i64, usize)>,
) -> Vec<EnvelopeId> {
    let specs: Vec<_> = specs.collect();
    let mut ids = Vec::with_capacity(specs.len());
    for chunk in specs.chunks(1000) {
        let mut staged = Staged::new(&*store);
        for &(a, at, i) in chunk {
            let author = &authors[a];
            let signer = LocalAuthor {
                key: &author.key,
                cfg,
            };
            let env = signer
                .write(
                    &mut staged,
                    Target::Create {
                        kind: RecordKind::Post,
                        reach: Some(author.reach),
                    },
                    &post_edits(i, &author.region, &author.reach, at),
                    at,
                )
                .expect("a fixture post is accepted");
            ids.push(env.id());
        }
        let batch = staged.into_batch();
        store.commit(batch).expect("memory commit");
    }
    ids
}

/// The fields `post create` writes (node/src/station.rs), with a location and a contact.
fn post_edits(
    i: usize,
    region: &RegionCode,
    reach: &RegionCode,
    at: i64,
) -> Vec<(&'static str, FieldValue)> {
    let (title, occupation, wage) =
        lingong_protocol::fixture::SAMPLE_POSTS[i % lingong_protocol::fixture::SAMPLE_POSTS.len()];
    vec![
        (
            "title",
            FieldValue::Text(format!("{title}（第 {} 号）", i + 1)),
        ),
        ("occupation", FieldValue::Text(occupation.into())),
        ("wage", FieldValue::Number(wage + (i % 7) as f64 * 10.0)),
        ("unit", FieldValue::Text("day".into())),
        ("headcount", FieldValue::Int(1 + (i % 10) as i64)),
        ("filled", FieldValue::Counter(0)),
        ("status", FieldValue::Text("open".into())),
        ("review", FieldValue::Text("pending".into())),
        ("region", FieldValue::Text(region.to_string())),
        ("reach", FieldValue::Text(reach.to_string())),
        ("created_at", FieldValue::Text(dates::rfc3339(at))),
        (
            "expires",
            FieldValue::Text(dates::format_date(dates::today_cst(at) + 30)),
        ),
        (
            "location",
            FieldValue::Text(format!("黄平县旧州镇第 {} 组", i % 40 + 1)),
        ),
        (
            "contact",
            FieldValue::Text(format!("0855-{:07}", 2_400_000 + i % 1_000_000)),
        ),
    ]
}

fn run_case(
    name: &'static str,
    h: &mut Hierarchy,
    cfg: AcceptConfig,
    village: &MemoryStore,
    mut township: MemoryStore,
    missing: &[EnvelopeId],
    now: i64,
) -> BytesCase {
    let new_envelope_bytes: u64 = missing
        .iter()
        .map(|id| village.envelopes[id].to_bytes().len() as u64)
        .sum();
    // The village session only reads its store (the township has nothing it lacks); a clone
    // keeps the shared village store untouched for the next case.
    let mut v = village.clone();
    let ours = reconcile(h, cfg, &mut v, VILLAGE, &mut township, TOWNSHIP, now);
    drop(v);
    let lacks: BTreeSet<EnvelopeId> = missing.iter().copied().collect();
    for id in &lacks {
        assert!(
            township.metas.contains_key(id),
            "the session did not deliver every missing post"
        );
    }
    assert_eq!(
        township.metas.len(),
        village.metas.len(),
        "after the session both sides hold the same envelopes"
    );
    drop(township);
    println!(
        "  lingong: {} B on the wire ({} B handshake + {} B in {} frames, {} envelopes = {} B) in {:.2} s",
        ours.total(),
        ours.handshake_bytes,
        ours.session_bytes,
        ours.frames,
        ours.envelopes_moved,
        ours.envelope_bytes,
        ours.elapsed.as_secs_f64()
    );
    let baseline = automerge_baseline(village, &lacks);
    println!(
        "  automerge sync (fresh states, one doc per post): {} B in {} messages over {} docs in {:.1} s",
        baseline.bytes,
        baseline.messages,
        baseline.docs,
        baseline.elapsed.as_secs_f64()
    );
    println!(
        "  ratio: automerge / lingong = {:.1}× fewer bytes (target ≥ 20×)",
        baseline.bytes as f64 / ours.total() as f64
    );
    println!(
        "(b) overhead: {} B on the wire / {} B of {} new envelopes = {:.3} (target ≤ 1.5)",
        ours.total(),
        new_envelope_bytes,
        missing.len(),
        ours.total() as f64 / new_envelope_bytes as f64
    );
    BytesCase {
        name,
        ours,
        new_envelope_bytes,
        baseline,
    }
}

/// Runs one sync between `init` (the dialling side) and `resp` as the node's network loop does:
/// a handshake round carrying both certificate chains, then the initiator's `start`, and
/// request/response rounds until the initiator is `finished` with nothing left to send. Every
/// frame is encoded, counted and decoded; every received batch is accepted and committed
/// before the receiving side builds its next frame.
fn reconcile(
    h: &mut Hierarchy,
    cfg: AcceptConfig,
    init: &mut MemoryStore,
    init_region: &str,
    resp: &mut MemoryStore,
    resp_region: &str,
    now: i64,
) -> SessionFigures {
    let started = Instant::now();
    let (init_scope, resp_scope) = (Scope::new(code(init_region)), Scope::new(code(resp_region)));
    // The daemon's limits (node/src/net.rs uses the protocol's default frame size).
    let config = SyncConfig::default();
    let mut fig = SessionFigures::default();
    let id = 0x6c69_6e67_6f6e_6701;

    // The handshake round: each side's chain, then each side builds its session.
    let hello = |h: &mut Hierarchy, region: &str| Frame {
        session: id,
        hello: Some(h.node(&code(region)).1.to_bytes()),
        ..Default::default()
    };
    for frame in [hello(h, init_region), hello(h, resp_region)] {
        let bytes = frame.encode();
        fig.handshake_bytes += bytes.len() as u64;
        let back = Frame::decode(&bytes).expect("decodes");
        assert!(back.hello.is_some());
    }
    let mut responder = Session::new(
        id,
        resp_scope,
        init_scope,
        &resp.items().expect("items"),
        Vec::new(),
        config,
    );
    let mut initiator = Session::new(
        id,
        init_scope,
        resp_scope,
        &init.items().expect("items"),
        Vec::new(),
        config,
    );

    let mut request = initiator.start();
    for _ in 0..100_000 {
        let response = deliver(&request, &mut responder, resp, cfg, now, &mut fig);
        let next = deliver(&response, &mut initiator, init, cfg, now, &mut fig);
        if initiator.finished() && frame_is_empty(&next) {
            let (a, b) = (initiator.stats(), responder.stats());
            fig.envelope_bytes = a.envelope_bytes_sent + b.envelope_bytes_sent;
            fig.envelopes_moved = a.changes_sent + b.changes_sent;
            fig.elapsed = started.elapsed();
            return fig;
        }
        request = next;
    }
    panic!("the sync session did not finish");
}

/// Carries one frame to `to`: encoded and counted, decoded, received, its envelopes accepted
/// and committed into `store`; returns `to`'s next frame.
fn deliver(
    frame: &Frame,
    to: &mut Session,
    store: &mut MemoryStore,
    cfg: AcceptConfig,
    now: i64,
    fig: &mut SessionFigures,
) -> Frame {
    let bytes = frame.encode();
    fig.session_bytes += bytes.len() as u64;
    fig.frames += 1;
    let frame = Frame::decode(&bytes).expect("a frame decodes");
    let got = to
        .receive(&frame, bytes.len())
        .expect("the receiver takes the frame");
    commit(store, cfg, &got, now);
    to.next_frame(&mut load_from(&*store))
}

/// Accepts received envelopes through the one accept path and commits them.
fn commit(store: &mut MemoryStore, cfg: AcceptConfig, envelopes: &[Envelope], now: i64) {
    if envelopes.is_empty() {
        return;
    }
    let mut staged = Staged::new(&*store);
    for r in accept_all(&mut staged, &cfg, envelopes, now) {
        r.expect("a received envelope is accepted");
    }
    let batch = staged.into_batch();
    store.commit(batch).expect("memory commit");
}

/// Automerge's per-document sync over the village's posts: for each post, a document built
/// from its change on the village side, and on the township side the same document (shared
/// posts) or an empty one (posts it lacks); fresh sync states; every message encoded, counted
/// and decoded. One document pair at a time.
fn automerge_baseline(village: &MemoryStore, lacks: &BTreeSet<EnvelopeId>) -> AutomergeFigures {
    let started = Instant::now();
    let mut fig = AutomergeFigures::default();
    for (id, env) in &village.envelopes {
        if env.header.kind != RecordKind::Post {
            continue;
        }
        let payload = env.payload.clone().expect("the village holds its payloads");
        let mut a = Automerge::new();
        a.apply_changes([Change::from_bytes(payload).expect("a change")])
            .expect("applies");
        let mut b = if lacks.contains(id) {
            Automerge::new()
        } else {
            a.clone()
        };
        let (mut sa, mut sb) = (AmState::new(), AmState::new());
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 100, "automerge sync did not settle");
            let mut quiet = true;
            if let Some(m) = a.generate_sync_message(&mut sa) {
                quiet = false;
                let bytes = m.encode();
                fig.bytes += bytes.len() as u64;
                fig.messages += 1;
                let m = AmMessage::decode(&bytes).expect("decodes");
                b.receive_sync_message(&mut sb, m).expect("received");
            }
            if let Some(m) = b.generate_sync_message(&mut sb) {
                quiet = false;
                let bytes = m.encode();
                fig.bytes += bytes.len() as u64;
                fig.messages += 1;
                let m = AmMessage::decode(&bytes).expect("decodes");
                a.receive_sync_message(&mut sa, m).expect("received");
            }
            if quiet {
                break;
            }
        }
        assert_eq!(a.get_heads(), b.get_heads(), "automerge sync converged");
        fig.docs += 1;
    }
    fig.elapsed = started.elapsed();
    fig
}

// ---------------------------------------------------------------------------------------------
// (c): real daemons through a 50 kbit/s link
// ---------------------------------------------------------------------------------------------

/// Why (c) could not run here.
struct Skip(String);

struct NetFigures {
    posts: usize,
    /// Wall time from the village daemon's restart to the township counting every post.
    lingong: Duration,
    /// Sum of the wire bytes of the new envelopes.
    envelope_bytes: u64,
    /// Bytes the shaped link carried during the measurement, village → township and back
    /// (the tc counters: TCP/IP, noise, yamux and libp2p framing included).
    link_up: u64,
    link_down: u64,
    link_up_packets: u64,
    /// Sync sessions the two daemons logged while the posts moved (each logged by its
    /// initiator), and the envelopes they carried in both directions: more than `posts` means
    /// some were sent twice.
    sessions: Sessions,
    /// The plain-TCP baseline: time to push `envelope_bytes` through the same link.
    tcp: Duration,
    tcp_link_up: u64,
    tcp_link_down: u64,
    tcp_up_packets: u64,
}

/// What the daemons' `sync finished` / `sync failed` log lines add up to.
#[derive(Default, Debug)]
struct Sessions {
    finished: u64,
    failed: u64,
    changes: u64,
    bytes: u64,
    /// The failed sessions' log lines.
    failures: Vec<String>,
}

impl Sessions {
    /// Adds the session lines of `who`'s `log` from byte `from` on.
    fn add_log(&mut self, who: &str, log: &Path, from: usize) {
        let text = std::fs::read(log).unwrap_or_default();
        let text = String::from_utf8_lossy(text.get(from..).unwrap_or_default());
        for line in text.lines() {
            let line = strip_ansi(line);
            if line.contains("sync failed") {
                self.failed += 1;
                self.failures.push(format!("{who}: {}", line.trim()));
            }
            if !line.contains("sync finished") {
                continue;
            }
            self.finished += 1;
            for word in line.split_whitespace() {
                let Some((key, value)) = word.split_once('=') else {
                    continue;
                };
                let value: u64 = value.parse().unwrap_or(0);
                match key {
                    "sent" | "received" => self.changes += value,
                    "bytes_out" | "bytes_in" => self.bytes += value,
                    _ => {}
                }
            }
        }
    }
}

/// `line` without terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

const RATE: &str = "50kbit";
const NET_DEADLINE: Duration = Duration::from_secs(600);
/// Every check of (c) starts a `lingong` process; a slower rhythm keeps the machine quieter
/// while the link is timed.
const NET_POLL: Duration = Duration::from_millis(100);

/// `lingong --json status` of `node` (through its daemon's control socket when one runs).
fn status(node: &Node) -> Option<Value> {
    let out = node.command().args(["--json", "status"]).output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `check` every [`NET_POLL`] until it returns `Some`, or panics once `NET_DEADLINE`
/// has passed.
fn poll<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll_every(what, NET_DEADLINE, NET_POLL, check)
}

/// Bytes sent so far village → township and township → village.
fn link_bytes(netns: &NetnsPair) -> (u64, u64) {
    (netns.sent_from_b().0, netns.sent_from_a().0)
}

/// Packets sent so far village → township.
fn up_packets(netns: &NetnsPair) -> u64 {
    netns.sent_from_b().1
}

/// Starts `node`'s daemon in namespace `ns`, listening on `listen`, without waiting for it
/// (see [`network_figures`]); its log filter is `LINGONG_BENCH_DAEMON_LOG`, default `info`.
fn launch_daemon(node: &Node, listen: &str, ns: &str) -> Daemon {
    let mut d = Daemon::new(node, listen, Some(ns));
    d.log_filter = std::env::var("LINGONG_BENCH_DAEMON_LOG").unwrap_or_else(|_| "info".into());
    d.launch();
    d
}

/// True when `node`'s daemon reports a finished sync with `peer_id`.
fn synced_with(node: &Node, peer_id: &str) -> bool {
    status(node)
        .and_then(|s| {
            s["peers"].as_array().map(|peers| {
                peers
                    .iter()
                    .any(|p| p["peer"] == peer_id && p["last_sync"].is_string())
            })
        })
        .unwrap_or(false)
}

fn posts_held(node: &Node) -> Option<u64> {
    status(node)?["records"]["posts"].as_u64()
}

/// Envelope ids and wire sizes of everything `node` holds (`bundle export`, no daemon).
fn held_envelopes(node: &Node, file: &Path) -> Vec<(EnvelopeId, usize)> {
    node.json(&["bundle", "export", "--out", file.to_str().expect("utf-8")]);
    let raw = std::fs::read(file).expect("bundle written");
    let magic = b"LINGONG-BUNDLE/1\n";
    let mut body = raw.strip_prefix(&magic[..]).expect("a bundle");
    let mut out = Vec::new();
    while body.len() >= 4 {
        let len = u32::from_be_bytes(body[..4].try_into().expect("4 bytes")) as usize;
        let wire = &body[4..4 + len];
        let env = Envelope::from_bytes(wire).expect("an envelope");
        out.push((env.id(), wire.len()));
        body = &body[4 + len..];
    }
    out
}

/// About 1,000 bytes of job description, different for every post.
fn description(i: usize) -> String {
    const WORDS: [&str; 16] = [
        "工作地点在镇上的茶园，",
        "包午餐，",
        "按日结算工资，",
        "需要有两年以上经验，",
        "早上七点半集合，",
        "年龄五十五岁以下，",
        "提供工具和劳保用品，",
        "雨天顺延，",
        "可以带家属一起报名，",
        "交通费另行补贴，",
        "请携带身份证，",
        "有意者到村服务站登记，",
        "女工优先，",
        "连续工作满十天另有奖励，",
        "中途休息两次，",
        "下午五点半收工。",
    ];
    let mut s = format!("第 {i} 号岗位说明：");
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = WORDS[(x % WORDS.len() as u64) as usize];
        if s.len() + w.len() > 1000 {
            break;
        }
        s.push_str(w);
    }
    while s.len() < 1000 {
        s.push('.');
    }
    s
}

fn network_figures(posts: usize) -> Result<NetFigures, Skip> {
    // Probe first, so a machine without root or iproute2 skips before any setup.
    // Township in namespace a (10.77.0.1), village in b (10.77.0.2), both ends shaped.
    let netns = NetnsPair::create_shaped("lgbench", 77, RATE).map_err(Skip)?;
    let dir = tempfile::tempdir().expect("tempdir");
    println!("  certifying province → village with the CLI …");
    let nodes = init_chain(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    let township_id = township.node_id();
    let village_id = village.node_id();
    let port = 4101;
    village.json(&[
        "peer",
        "add",
        &format!("/ip4/{}/tcp/{port}/p2p/{township_id}", netns.addr_a),
    ]);
    let mut t_daemon = launch_daemon(
        township,
        &format!("/ip4/{}/tcp/{port}", netns.addr_a),
        &netns.a,
    );
    let village_listen = format!("/ip4/{}/tcp/{}", netns.addr_b, port + 1);
    let mut v_daemon = launch_daemon(village, &village_listen, &netns.b);

    // No command may reach a node before its daemon's control socket is bound: a command that
    // finds no socket opens the store itself and waits (up to 15 s) for the lock the daemon
    // holds.
    let warm = Instant::now();
    poll("both daemons' control sockets", || {
        t_daemon.check_alive();
        v_daemon.check_alive();
        (township.home.join("daemon.sock").exists() && village.home.join("daemon.sock").exists())
            .then_some(())
    });
    // A first sync over the shaped link: certificates both ways.
    poll("a first sync in both directions", || {
        t_daemon.check_alive();
        v_daemon.check_alive();
        (synced_with(village, &township_id) && synced_with(township, &village_id)).then_some(())
    });
    println!(
        "  first sync (certificates) done in {:.1} s",
        warm.elapsed().as_secs_f64()
    );

    // The village goes down and records its posts offline.
    v_daemon.stop();
    let before: BTreeSet<EnvelopeId> = held_envelopes(village, &dir.path().join("before.bundle"))
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    println!("  recording {posts} posts with 1 KB descriptions at the offline village …");
    for i in 0..posts {
        village.create_post(
            &format!("基准测试岗位 {i}"),
            None,
            &["--description", &description(i)],
        );
    }
    let new: Vec<(EnvelopeId, usize)> = held_envelopes(village, &dir.path().join("after.bundle"))
        .into_iter()
        .filter(|(id, _)| !before.contains(id))
        .collect();
    assert_eq!(new.len(), posts, "one new envelope per post");
    let envelope_bytes: u64 = new.iter().map(|(_, len)| *len as u64).sum();
    let held_before = posts_held(township).expect("township status");

    // The village comes back: time until the township holds every post.
    let log_len = |node: &Node| {
        let log = node.home.join("daemon.log");
        let len = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        (log, len)
    };
    let (township_log, township_log_from) = log_len(township);
    let (village_log, village_log_from) = log_len(village);
    let (up0, down0) = link_bytes(&netns);
    let pkts0 = up_packets(&netns);
    let t0 = Instant::now();
    v_daemon.launch();
    poll("the township to hold every new post", || {
        v_daemon.check_alive();
        t_daemon.check_alive();
        (posts_held(township)? >= held_before + posts as u64).then_some(())
    });
    let lingong = t0.elapsed();
    let (up1, down1) = link_bytes(&netns);
    let (link_up, link_down) = (up1.saturating_sub(up0), down1.saturating_sub(down0));
    let link_up_packets = up_packets(&netns).saturating_sub(pkts0);
    println!(
        "  lingong: {:.1} s for {posts} posts ({envelope_bytes} B of envelopes; the link carried \
         {link_up} B up, {link_down} B down)",
        lingong.as_secs_f64(),
    );
    v_daemon.stop();
    t_daemon.stop();
    let mut sessions = Sessions::default();
    sessions.add_log("village", &village_log, village_log_from);
    sessions.add_log("township", &township_log, township_log_from);
    println!(
        "  sessions logged since the restart: {} finished, {} failed, carrying {} envelopes \
         ({} new posts) in {} frame bytes",
        sessions.finished, sessions.failed, sessions.changes, posts, sessions.bytes
    );
    for line in &sessions.failures {
        println!("    {line}");
    }

    // Baseline: a plain TCP connection pushing the same bytes through the same link.
    let (up0, down0) = link_bytes(&netns);
    let pkts0 = up_packets(&netns);
    let tcp = tcp_baseline(&netns, envelope_bytes);
    let (up1, down1) = link_bytes(&netns);
    let tcp_up_packets = up_packets(&netns).saturating_sub(pkts0);
    println!(
        "  plain TCP: {:.1} s for {} B through the same link",
        tcp.as_secs_f64(),
        envelope_bytes
    );
    println!(
        "  ratio: lingong / plain TCP = {:.2} (target: lingong ≤ 30 s)",
        lingong.as_secs_f64() / tcp.as_secs_f64()
    );
    drop(netns);
    if std::env::var("LINGONG_BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!(
            "  node homes and daemon logs kept in {}",
            dir.keep().display()
        );
    }
    Ok(NetFigures {
        posts,
        lingong,
        envelope_bytes,
        link_up,
        link_down,
        link_up_packets,
        sessions,
        tcp,
        tcp_link_up: up1.saturating_sub(up0),
        tcp_link_down: down1.saturating_sub(down0),
        tcp_up_packets,
    })
}

/// Children of the TCP baseline, killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tcp_baseline(netns: &NetnsPair, bytes: u64) -> Duration {
    let me = std::env::current_exe().expect("this binary");
    let addr = format!("{}:5001", netns.addr_a);
    let role = |ns: &str, role: &str| {
        let mut cmd = NetnsPair::exec(ns, &me);
        cmd.env("LINGONG_BENCH_ROLE", role)
            .env("LINGONG_BENCH_ADDR", &addr)
            .env("LINGONG_BENCH_BYTES", bytes.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        cmd
    };
    let mut sink = Killed(role(&netns.a, "sink").spawn().expect("sink starts"));
    let mut lines = BufReader::new(sink.0.stdout.take().expect("piped")).lines();
    let ready = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    assert_eq!(ready, "ready", "the TCP sink did not start");
    let source = role(&netns.b, "source").output().expect("source runs");
    assert!(source.status.success(), "the TCP source failed");
    let out = String::from_utf8_lossy(&source.stdout);
    let ms: f64 = out
        .trim()
        .strip_prefix("elapsed_ms=")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unexpected source output: {out}"));
    let received = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    assert_eq!(
        received,
        format!("received={bytes}"),
        "the sink got every byte"
    );
    Duration::from_secs_f64(ms / 1000.0)
}

/// Role `sink`: accept one connection, read to the end, answer one byte.
fn tcp_sink() {
    let addr = std::env::var("LINGONG_BENCH_ADDR").expect("LINGONG_BENCH_ADDR");
    let listener = std::net::TcpListener::bind(&addr).expect("bind");
    println!("ready");
    std::io::stdout().flush().expect("flush");
    let (mut s, _) = listener.accept().expect("accept");
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0usize;
    loop {
        match s.read(&mut buf).expect("read") {
            0 => break,
            k => n += k,
        }
    }
    s.write_all(b"k").expect("ack");
    println!("received={n}");
}

/// Role `source`: connect, push `LINGONG_BENCH_BYTES` bytes, wait for the sink's one-byte
/// answer; prints the time from before the connect to the answer.
fn tcp_source() {
    let addr = std::env::var("LINGONG_BENCH_ADDR").expect("LINGONG_BENCH_ADDR");
    let bytes: usize = std::env::var("LINGONG_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("LINGONG_BENCH_BYTES");
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let data: Vec<u8> = (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let t = Instant::now();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(&data).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).expect("ack");
    println!("elapsed_ms={}", t.elapsed().as_secs_f64() * 1000.0);
}

// ---------------------------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------------------------

fn summary_block(
    n: usize,
    d: usize,
    net_posts: usize,
    new_case: &BytesCase,
    spread_case: &BytesCase,
    net: Option<&Result<NetFigures, String>>,
) -> String {
    let mut s = String::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let _ = writeln!(s, "## Replication figures\n");
    let _ = writeln!(
        s,
        "Measured {} with `cargo bench -p lingong-tests --bench replication` (N = {n}, d = {d}; \
         2-core machine, release build). Baselines are measured in the same run.\n",
        dates::rfc3339(now_ms)
    );
    let _ = writeln!(s, "| figure | lingong | baseline | ratio | target |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for c in [new_case, spread_case] {
        let _ = writeln!(
            s,
            "| (a) bytes to reconcile, d {} | {} B | Automerge sync, fresh states: {} B | {:.1}× fewer | ≥ 20× |",
            c.name,
            c.ours.total(),
            c.baseline.bytes,
            c.baseline.bytes as f64 / c.ours.total() as f64
        );
    }
    for c in [new_case, spread_case] {
        let _ = writeln!(
            s,
            "| (b) overhead, d {} | {} B on the wire | {} B of new envelopes | {:.3} | ≤ 1.5 |",
            c.name,
            c.ours.total(),
            c.new_envelope_bytes,
            c.ours.total() as f64 / c.new_envelope_bytes as f64
        );
    }
    match net {
        Some(Ok(f)) => {
            let _ = writeln!(
                s,
                "| (c) {} × 1 KB posts village → township at {RATE}/s | {:.1} s | plain TCP, same {} B: {:.1} s | {:.2} | ≤ 30 s |",
                f.posts,
                f.lingong.as_secs_f64(),
                f.envelope_bytes,
                f.tcp.as_secs_f64(),
                f.lingong.as_secs_f64() / f.tcp.as_secs_f64()
            );
        }
        Some(Err(why)) => {
            let _ = writeln!(
                s,
                "| (c) {net_posts} × 1 KB posts at {RATE}/s | skipped: needs root and ip netns ({why}) | | | ≤ 30 s |"
            );
        }
        None => {
            let _ = writeln!(
                s,
                "| (c) {net_posts} × 1 KB posts at {RATE}/s | skipped (LINGONG_BENCH_NET=0) | | | ≤ 30 s |"
            );
        }
    }
    let _ = writeln!(s);
    for c in [new_case, spread_case] {
        let _ = writeln!(
            s,
            "- (a) d {}: lingong {} B = {} B handshake (both certificate chains) + {} B in {} \
             frames, of which {} B are the {} envelopes pushed; Automerge: {} messages over {} documents.",
            c.name,
            c.ours.total(),
            c.ours.handshake_bytes,
            c.ours.session_bytes,
            c.ours.frames,
            c.ours.envelope_bytes,
            c.ours.envelopes_moved,
            c.baseline.messages,
            c.baseline.docs
        );
    }
    if let Some(Ok(f)) = net {
        let _ = writeln!(
            s,
            "- (c) link bytes (tc counters: TCP/IP, noise, yamux included) while lingong ran: \
             {} B village → township in {} packets, {} B back; plain TCP: {} B in {} packets, \
             {} B back. Sync sessions \
             logged by the daemons meanwhile: {} finished, {} failed, carrying {} envelopes for \
             {} new posts ({} B of frames). Timed from the village daemon's restart (process \
             start and libp2p connection included) until the township's `status` counts every \
             post.",
            f.link_up,
            f.link_up_packets,
            f.link_down,
            f.tcp_link_up,
            f.tcp_up_packets,
            f.tcp_link_down,
            f.sessions.finished,
            f.sessions.failed,
            f.sessions.changes,
            f.posts,
            f.sessions.bytes
        );
    }
    s
}
