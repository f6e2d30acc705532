//! The network: libp2p transports and behaviours, and the event loop that drives sync
//! sessions over them.
//!
//! One `#[derive(NetworkBehaviour)]` struct (sync request-response, identify, ping, mDNS), one
//! loop that owns the Swarm in a `select!` with a command channel (the file-sharing example of
//! rust-libp2p is the model). The loop is a driver of the sans-IO
//! [`lingong_protocol::sync::Session`]: requests are the initiator's frames, responses the
//! responder's. Every received batch goes through [`Station::accept_envelopes`] (the one
//! accept path) and is committed before the next frame is built.
//!
//! Trust: noise authenticates the peer's key (its PeerId is its node key). The first frame of
//! every session carries the sender's certificate chain; a peer whose chain does not verify to
//! this node's province root, or is revoked, gets no session and is disconnected.

use crate::error::{NodeError, Result};
use crate::services::peers::parse_peer_addr;
use crate::station::{AcceptReport, Station};
use futures::StreamExt;
use libp2p::futures::{AsyncRead, AsyncWrite};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent, behaviour::toggle::Toggle};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, identify, mdns, noise, ping, tcp, yamux};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::scope::{SCOPE_VERSION, Scope};
use lingong_protocol::sync::Compatibility;
use lingong_protocol::sync::{
    Frame, MAX_FRAME_BYTES, PROTOCOL_VERSIONS, Session, SyncConfig, SyncStats, frame_is_empty,
    window_floor,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a sync request may take before it fails. The libp2p default (10 s) is too short for
/// a frame over a 50 kbit/s village link when the link is shared with the other direction.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Keep idle connections open this long: re-establishing one over a weak mobile link costs
/// several round trips, and the next sync round comes within the sync interval anyway.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(600);
/// A responder forgets a session that has been silent this long.
const SESSION_IDLE: Duration = Duration::from_secs(900);
/// Envelope bytes per frame: small enough that a frame crosses a 50 kbit/s link in ~5 s, so a
/// link that drops loses at most one frame's worth of work, and so the stream of a concurrent
/// session in the other direction can still be negotiated within libp2p's fixed 10 s
/// substream upgrade timeout (request-response 0.30 does not let us raise that one).
/// (The protocol's default, which the simulator models too.)
const FRAME_ENVELOPE_BYTES: usize = lingong_protocol::sync::DEFAULT_FRAME_ENVELOPE_BYTES;

/// A peer clock further off than this is worth the operator's attention.
const CLOCK_WARNING_MS: i64 = 5 * 60_000;

/// The limits of this node's sync sessions, with the configured window margin
/// (`sync_window_margin_secs`).
fn sync_config(window_margin_secs: u64) -> SyncConfig {
    SyncConfig {
        max_frame_envelope_bytes: FRAME_ENVELOPE_BYTES,
        window_margin_ms: i64::try_from(window_margin_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX),
        ..SyncConfig::default()
    }
}

/// Reads one frame: a 4-byte big-endian length, then that many bytes; refuses lengths above
/// `limit` before allocating.
async fn read_length_prefixed<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    use futures::AsyncReadExt;
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {limit}-byte limit"),
        ));
    }
    // Resource limits (crate::net_limits): the frame's bytes count against the budget of
    // frames being read at once, and memory grows only as bytes actually arrive.
    let _budget = crate::net_limits::FrameBudget::reserve(len)?;
    let mut buf = Vec::with_capacity(len.min(64 * 1024));
    io.take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

async fn write_length_prefixed<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
) -> std::io::Result<()> {
    use futures::AsyncWriteExt;
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.flush().await
}

/// The sync protocol version a stream was negotiated for (`/lingong/sync/<version>`).
fn wire_version(protocol: &StreamProtocol) -> u32 {
    lingong_protocol::sync::protocol_version(protocol.as_ref())
        .unwrap_or(lingong_protocol::sync::PROTOCOL_VERSION)
}

/// A frame of the current encoding as the stream's version carries it.
fn to_wire(protocol: &StreamProtocol, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    lingong_protocol::sync::frame_to_version(bytes, wire_version(protocol))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

/// The length-prefixed frame codec of the sync protocol; frames above [`MAX_FRAME_BYTES`] are
/// refused before they are read, which closes that stream and nothing else. The rest of the
/// node sees every frame in the current encoding: a stream negotiated for an older version
/// ([`PROTOCOL_VERSIONS`]) is carried in that version's form
/// (`sync::frame_to_version`, `sync::frame_from_version`).
#[derive(Clone, Default)]
pub struct FrameCodec;

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        let bytes = read_length_prefixed(io, MAX_FRAME_BYTES).await?;
        Ok(lingong_protocol::sync::frame_from_version(
            bytes,
            wire_version(protocol),
        ))
    }
    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        let bytes = read_length_prefixed(io, MAX_FRAME_BYTES).await?;
        Ok(lingong_protocol::sync::frame_from_version(
            bytes,
            wire_version(protocol),
        ))
    }
    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()> {
        write_length_prefixed(io, to_wire(protocol, req)?).await?;
        futures::AsyncWriteExt::close(io).await
    }
    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()> {
        write_length_prefixed(io, to_wire(protocol, res)?).await?;
        futures::AsyncWriteExt::close(io).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    /// Connection gates (crate::net_limits), first: per peer, then the gate that counts
    /// pending handshakes and established connections and keeps places for known stations
    /// (last, so a connection it admits, closing another for it, is not refused after).
    limits: libp2p::connection_limits::Behaviour,
    gate: crate::net_limits::InboundGate,
    sync: request_response::Behaviour<FrameCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

/// Result of syncing with one peer, as `lingong sync --json` prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerSyncReport {
    pub peer: String,
    pub ok: bool,
    pub sent_bytes: u64,
    pub received_bytes: u64,
    pub changes_sent: u64,
    pub changes_received: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PeerSyncReport {
    /// The report of a peer whose session did not happen or did not finish.
    fn failed(peer: &PeerId, error: String) -> PeerSyncReport {
        PeerSyncReport {
            peer: peer.to_base58(),
            ok: false,
            sent_bytes: 0,
            received_bytes: 0,
            changes_sent: 0,
            changes_received: 0,
            error: Some(error),
        }
    }
}

/// What `status` shows of a peer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerStatus {
    pub peer: String,
    pub connected: bool,
    pub last_sync: Option<String>,
    pub region: Option<String>,
    /// How far the peer's clock is ahead of this node's (negative: behind), in seconds, as
    /// of the last session; a large value means one of the two clocks is wrong.
    pub clock_offset_s: Option<i64>,
    /// The sync protocol version the two speak (the newest both announced), once the peer
    /// identified itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_version: Option<u32>,
    /// The program and version the peer announced (`lingong/0.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// When the two share no sync protocol version: which side to upgrade, in English and
    /// Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
}

/// Commands from the daemon's control socket to the network loop.
pub enum Command {
    SyncNow {
        timeout: Duration,
        reply: oneshot::Sender<Vec<PeerSyncReport>>,
    },
    AddPeer(Multiaddr),
    /// Something was written locally: offer it to the peers now.
    Nudge,
    Status(oneshot::Sender<(Vec<PeerStatus>, Vec<String>)>),
}

/// A cloneable handle to the network loop.
#[derive(Clone)]
pub struct NetHandle {
    tx: mpsc::Sender<Command>,
}

impl NetHandle {
    pub async fn sync_now(&self, timeout: Duration) -> Result<Vec<PeerSyncReport>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::SyncNow { timeout, reply })
            .await
            .map_err(|_| net_err("network loop stopped"))?;
        rx.await.map_err(|_| net_err("network loop stopped"))
    }
    pub async fn add_peer(&self, addr: Multiaddr) -> Result<()> {
        self.tx
            .send(Command::AddPeer(addr))
            .await
            .map_err(|_| net_err("network loop stopped"))
    }
    /// Tells the loop that something was written locally.
    pub async fn nudge(&self) {
        let _ = self.tx.send(Command::Nudge).await;
    }

    pub async fn status(&self) -> Result<(Vec<PeerStatus>, Vec<String>)> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Status(reply))
            .await
            .map_err(|_| net_err("network loop stopped"))?;
        rx.await.map_err(|_| net_err("network loop stopped"))
    }
}

fn net_err(detail: impl Into<String>) -> NodeError {
    NodeError::Network {
        detail: detail.into(),
    }
}

/// Parses a peer address; it must end in `/p2p/<node id>`.
fn peer_key(peer: &PeerId) -> Option<PublicKey> {
    PublicKey::from_node_id(&peer.to_base58())
}

/// The libp2p peer id of a station's key ([`peer_key`] the other way).
fn peer_of(key: &PublicKey) -> Option<PeerId> {
    libp2p::identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .ok()
        .map(|k| libp2p::identity::PublicKey::from(k).to_peer_id())
}

/// Stations known before any connects, for the places the connection gate keeps
/// (crate::net_limits::InboundGate), so they survive a restart of the daemon: the issuers of
/// this node's certificate chain (its parent and the parent's ancestors) and the stations it
/// certified (its children), unless revoked here. Two reads: the node's own chain and the
/// few certificates it issued.
fn known_stations(station: &Station) -> Vec<PeerId> {
    let me = station.key.public();
    let mut keys: Vec<PublicKey> = station
        .chain
        .iter()
        .flat_map(|chain| chain.certs().iter().map(|c| c.body.issuer))
        .collect();
    match station.store.issued() {
        Ok(issued) => keys.extend(issued.iter().map(|c| c.leaf().body.subject)),
        Err(e) => tracing::warn!("the certificates this node issued could not be read: {e}"),
    }
    keys.into_iter()
        .filter(|k| {
            *k != me
                && !matches!(
                    lingong_protocol::store::Store::revocation(&station.store, k),
                    Ok(Some(_))
                )
        })
        .filter_map(|k| peer_of(&k))
        .collect()
}

/// The node's libp2p identity: the same ed25519 seed as its signing key.
pub fn keypair(station: &Station) -> libp2p::identity::Keypair {
    libp2p::identity::Keypair::ed25519_from_bytes(station.key.seed()).expect("32-byte seed")
}

enum Outbound {
    Handshake { id: u64 },
    Running { session: Box<Session> },
}

struct PeerState {
    addrs: Vec<Multiaddr>,
    configured: bool,
    /// Addresses found by mDNS and not yet expired: redialed with backoff like a configured
    /// peer (mDNS reports a peer once per TTL, so a failed first dial must not be the last).
    discovered: Vec<Multiaddr>,
    connected: bool,
    scope: Option<Scope>,
    last_sync_ms: Option<i64>,
    /// When the running outbound session started, and when the last one that completed did
    /// (this node's clock): the next session looks at single changes from two days below it
    /// (`sync::window_floor`). Kept in memory: a restarted node starts from the whole set.
    session_started_ms: Option<i64>,
    last_completed_ms: Option<i64>,
    /// The peer's clock minus this node's, from the last session's first frame.
    clock_offset_ms: Option<i64>,
    last_attempt: Option<Instant>,
    next_dial: Instant,
    backoff: Duration,
    outbound: Option<(Outbound, OutboundRequestId, Instant)>,
    /// A sync round wants a fresh session after the current one.
    resync: bool,
    /// The sync protocol versions and the program the peer announced (libp2p identify).
    sync_versions: Option<Vec<u32>>,
    agent: Option<String>,
}

impl PeerState {
    fn new(configured: bool) -> PeerState {
        PeerState {
            addrs: Vec::new(),
            configured,
            discovered: Vec::new(),
            connected: false,
            scope: None,
            last_sync_ms: None,
            session_started_ms: None,
            last_completed_ms: None,
            clock_offset_ms: None,
            last_attempt: None,
            next_dial: Instant::now(),
            backoff: Duration::from_secs(1),
            outbound: None,
            resync: false,
            sync_versions: None,
            agent: None,
        }
    }
}

impl PeerState {
    /// Whether this node and the peer share a sync protocol version, once the peer announced
    /// its versions.
    fn compatibility(&self) -> Option<Compatibility> {
        let theirs = self.sync_versions.as_ref()?;
        Some(lingong_protocol::sync::compatibility(
            &PROTOCOL_VERSIONS,
            theirs,
        ))
    }
}

struct Round {
    waiting: BTreeMap<PeerId, Option<PeerSyncReport>>,
    deadline: Instant,
    reply: oneshot::Sender<Vec<PeerSyncReport>>,
}

/// The network loop's state.
pub struct Network {
    station: Arc<RwLock<Station>>,
    swarm: Swarm<Behaviour>,
    peers: HashMap<PeerId, PeerState>,
    inbound: HashMap<(PeerId, u64), (Session, Instant)>,
    rounds: Vec<Round>,
    sync_interval: Duration,
    /// This node's sync limits and window margin.
    sync_config: SyncConfig,
    max_backoff: Duration,
    my_chain: Vec<u8>,
    listening: Vec<String>,
    /// Connected peers that have not proved a certificate chain yet, since when: closed after
    /// `net_limits::HANDSHAKE_GRACE`.
    unproved: HashMap<PeerId, Instant>,
    /// Each peer's token bucket over the sync requests it sends (`net_limits::RequestRate`).
    rate: crate::net_limits::RequestRate,
}

/// Starts the network for `station`: listens, dials configured peers. Returns the loop (run it
/// with [`Network::run`]) and a handle to command it.
pub fn start(
    station: Arc<RwLock<Station>>,
    extra_listen: &[String],
) -> Result<(Network, NetHandle, mpsc::Receiver<Command>)> {
    let (config, keypair, my_chain, known) = {
        let s = station.read().expect("station lock");
        let chain = s
            .chain
            .as_ref()
            .ok_or(lingong_protocol::Error::NotCertified)?
            .to_bytes();
        (s.config.clone(), keypair(&s), chain, known_stations(&s))
    };
    let local_peer = keypair.public().to_peer_id();
    let mdns_enabled = config.mdns;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            || {
                let mut c = yamux::Config::default();
                c.set_max_num_streams(crate::net_limits::MAX_STREAMS_PER_CONNECTION);
                c
            },
        )
        .map_err(|e| net_err(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| {
            let sync = request_response::Behaviour::new(
                // Every version this release speaks, newest first: the dialer offers them in
                // this order, the listener takes the first it speaks.
                PROTOCOL_VERSIONS.map(|v| {
                    let id = lingong_protocol::sync::protocol_id(v);
                    let id = StreamProtocol::try_from_owned(id).expect("a valid protocol id");
                    (id, ProtocolSupport::Full)
                }),
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(crate::net_limits::MAX_SYNC_STREAMS),
            );
            let mdns = if mdns_enabled {
                mdns::tokio::Behaviour::new(mdns::Config::default(), local_peer).ok()
            } else {
                None
            };
            Behaviour {
                limits: crate::net_limits::connection_limits(),
                gate: crate::net_limits::InboundGate::default(),
                sync,
                identify: identify::Behaviour::new(
                    identify::Config::new("/lingong/1".into(), key.public())
                        .with_agent_version(format!("lingong/{}", env!("CARGO_PKG_VERSION"))),
                ),
                ping: ping::Behaviour::new(
                    ping::Config::new().with_interval(Duration::from_secs(30)),
                ),
                mdns: Toggle::from(mdns),
            }
        })
        .map_err(|e| net_err(e.to_string()))?
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT)
                .with_max_negotiating_inbound_streams(crate::net_limits::MAX_NEGOTIATING_STREAMS)
        })
        .build();
    let listen: Vec<String> = if extra_listen.is_empty() {
        config.listen.clone()
    } else {
        extra_listen.to_vec()
    };
    for addr in &listen {
        let ma: Multiaddr = addr.parse().map_err(|e| {
            NodeError::usage("listen", format!("{addr}: {e}"), format!("{addr}：{e}"))
        })?;
        swarm
            .listen_on(ma)
            .map_err(|e| net_err(format!("cannot listen on {addr}: {e}")))?;
    }
    for peer in known {
        swarm.behaviour_mut().gate.proved(peer);
    }
    let mut peers = HashMap::new();
    for p in &config.peers {
        let (id, addr) = parse_peer_addr(p)?;
        swarm.behaviour_mut().gate.configure(id);
        let state = peers.entry(id).or_insert_with(|| PeerState::new(true));
        state.addrs.push(addr);
    }
    let (tx, rx) = mpsc::channel(64);
    let net = Network {
        station,
        swarm,
        peers,
        inbound: HashMap::new(),
        rounds: Vec::new(),
        sync_interval: Duration::from_secs(config.sync_interval_secs),
        sync_config: sync_config(config.sync_window_margin_secs),
        max_backoff: Duration::from_secs(config.max_redial_secs),
        my_chain,
        listening: Vec::new(),
        unproved: HashMap::new(),
        rate: crate::net_limits::RequestRate::default(),
    };
    Ok((net, NetHandle { tx }, rx))
}

impl Network {
    /// Runs until `shutdown` resolves or every handle is dropped.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_event(event),
                _ = tick.tick() => self.on_tick(),
            }
        }
        for round in self.rounds.drain(..) {
            let _ = round.reply.send(Vec::new());
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Nudge => self.nudge(None),
            Command::AddPeer(addr) => {
                if let Ok((id, addr)) = parse_peer_addr(&addr.to_string()) {
                    self.swarm.behaviour_mut().gate.configure(id);
                    let state = self.peers.entry(id).or_insert_with(|| PeerState::new(true));
                    state.configured = true;
                    state.addrs.push(addr);
                    state.next_dial = Instant::now();
                }
            }
            Command::Status(reply) => {
                let peers = self
                    .peers
                    .iter()
                    .map(|(id, p)| PeerStatus {
                        peer: id.to_base58(),
                        connected: p.connected,
                        last_sync: p.last_sync_ms.map(lingong_protocol::dates::rfc3339),
                        region: p.scope.map(|s| s.region.to_string()),
                        clock_offset_s: p.clock_offset_ms.map(|ms| ms / 1000),
                        sync_version: match p.compatibility() {
                            Some(Compatibility::Common(v)) => Some(v),
                            _ => None,
                        },
                        agent: p.agent.clone(),
                        upgrade: p.compatibility().and_then(|c| c.advice()),
                    })
                    .collect();
                let _ = reply.send((peers, self.listening.clone()));
            }
            Command::SyncNow { timeout, reply } => {
                let targets: Vec<PeerId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.configured || p.connected)
                    .map(|(id, _)| *id)
                    .collect();
                let mut waiting = BTreeMap::new();
                for id in targets {
                    waiting.insert(id, None);
                    let now = Instant::now();
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.next_dial = now;
                        p.resync = true;
                    }
                    self.kick(id);
                }
                if waiting.is_empty() {
                    let _ = reply.send(Vec::new());
                    return;
                }
                self.rounds.push(Round {
                    waiting,
                    deadline: Instant::now() + timeout,
                    reply,
                });
            }
        }
    }

    /// Starts a session with `peer` now if connected and idle, or dials it.
    fn kick(&mut self, peer: PeerId) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.connected {
            if state.outbound.is_none() {
                self.start_session(peer);
            }
        } else {
            self.dial(peer);
        }
    }

    fn dial(&mut self, peer: PeerId) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.addrs.is_empty() || state.connected {
            return;
        }
        state.last_attempt = Some(Instant::now());
        state.next_dial = Instant::now() + state.backoff;
        state.backoff = (state.backoff * 2).min(self.max_backoff);
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
            .addresses(state.addrs.clone())
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(peer = %peer, "dial failed: {e}");
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            let (connected, due_dial, due_sync, stuck) = {
                let p = &self.peers[&id];
                let due_sync = p.outbound.is_none()
                    && (p.resync
                        || p.last_sync_ms.is_none_or(|t| {
                            crate::station::now_ms() - t >= self.sync_interval.as_millis() as i64
                        }));
                let stuck = p.outbound.as_ref().is_some_and(|(_, _, started)| {
                    now.duration_since(*started) > REQUEST_TIMEOUT * 2
                });
                (
                    p.connected,
                    (p.configured || !p.discovered.is_empty())
                        && !p.connected
                        && p.next_dial <= now,
                    due_sync,
                    stuck,
                )
            };
            if stuck {
                self.finish_outbound(id, Err("session timed out".into()));
            }
            if due_dial {
                self.dial(id);
            } else if connected && due_sync {
                self.start_session(id);
            }
        }
        self.inbound
            .retain(|_, (_, last)| now.duration_since(*last) < SESSION_IDLE);
        self.close_unproved(now);
        self.close_rounds(false);
    }

    /// The connection gate: a peer connected for [`net_limits::HANDSHAKE_GRACE`] without
    /// proving a certificate chain is disconnected.
    ///
    /// [`net_limits::HANDSHAKE_GRACE`]: crate::net_limits::HANDSHAKE_GRACE
    fn close_unproved(&mut self, now: Instant) {
        let late: Vec<PeerId> = self
            .unproved
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= crate::net_limits::HANDSHAKE_GRACE)
            .map(|(p, _)| *p)
            .collect();
        for peer in late {
            self.unproved.remove(&peer);
            tracing::info!(peer = %peer, "closing a connection that proved no certificate");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn close_rounds(&mut self, _force: bool) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.rounds.len() {
            let complete = self.rounds[i].waiting.values().all(|r| r.is_some());
            if complete || now >= self.rounds[i].deadline {
                let round = self.rounds.remove(i);
                let reports = round
                    .waiting
                    .into_iter()
                    .map(|(id, r)| {
                        r.unwrap_or_else(|| {
                            PeerSyncReport::failed(
                                &id,
                                "timed out before a sync session finished".into(),
                            )
                        })
                    })
                    .collect();
                let _ = round.reply.send(reports);
            } else {
                i += 1;
            }
        }
    }

    fn start_session(&mut self, peer: PeerId) {
        let id = rand_u64();
        let frame = Frame {
            session: id,
            hello: Some(self.my_chain.clone()),
            scope_version: Some(SCOPE_VERSION),
            ..Default::default()
        };
        let request_id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, frame.encode());
        if let Some(p) = self.peers.get_mut(&peer) {
            p.resync = false;
            p.outbound = Some((Outbound::Handshake { id }, request_id, Instant::now()));
        }
    }

    fn finish_outbound(&mut self, peer: PeerId, result: std::result::Result<SyncStats, String>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.outbound = None;
        let report = match &result {
            Ok(stats) => {
                p.last_sync_ms = Some(crate::station::now_ms());
                p.last_completed_ms = p.session_started_ms;
                // A completed session with an ancestor ends a pending repair (crate::repair).
                if let Some(scope) = p.scope {
                    let station = self.station.read().expect("station lock");
                    crate::repair::note_completed_session(
                        &station.home,
                        &station.region,
                        &scope.region,
                    );
                    // And ends a restored node's catching up when that peer is its parent.
                    if let Some(key) = peer_key(&peer) {
                        crate::backup::note_completed_session(&station, &key, &scope.region);
                    }
                }
                tracing::info!(peer = %peer, sent = stats.changes_sent, received = stats.changes_received, bytes_out = stats.sent_bytes, bytes_in = stats.received_bytes, "sync finished");
                PeerSyncReport {
                    peer: peer.to_base58(),
                    ok: true,
                    sent_bytes: stats.sent_bytes,
                    received_bytes: stats.received_bytes,
                    changes_sent: stats.changes_sent,
                    changes_received: stats.changes_received,
                    error: None,
                }
            }
            Err(e) => {
                tracing::info!(peer = %peer, "sync failed: {e}");
                PeerSyncReport::failed(&peer, e.clone())
            }
        };
        let resync = p.resync;
        for round in &mut self.rounds {
            if let Some(slot) = round.waiting.get_mut(&peer)
                && slot.is_none()
                && !resync
            {
                *slot = Some(report.clone());
            }
        }
        if resync && self.peers.get(&peer).is_some_and(|p| p.connected) {
            self.start_session(peer);
        }
        self.close_rounds(false);
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                let full = format!("{address}/p2p/{}", self.swarm.local_peer_id());
                tracing::info!("listening on {full}");
                self.listening.push(full);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let state = self
                    .peers
                    .entry(peer_id)
                    .or_insert_with(|| PeerState::new(false));
                state.connected = true;
                state.backoff = Duration::from_secs(1);
                if state.scope.is_none() {
                    self.unproved.entry(peer_id).or_insert_with(Instant::now);
                }
                if endpoint.is_dialer()
                    && !state.addrs.contains(endpoint.get_remote_address())
                    && !state.configured
                {
                    state.addrs.push(endpoint.get_remote_address().clone());
                }
                if state.outbound.is_none() {
                    self.start_session(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                if let Some(p) = self.peers.get_mut(&peer_id) {
                    p.connected = false;
                    p.next_dial = Instant::now() + p.backoff;
                }
                // A peer that never proved a certificate and is neither configured nor found
                // leaves nothing behind (a flood of throwaway keys does not grow the table).
                self.unproved.remove(&peer_id);
                if self.peers.get(&peer_id).is_some_and(|p| {
                    p.scope.is_none()
                        && !p.configured
                        && p.discovered.is_empty()
                        && p.outbound.is_none()
                }) && !self.rounds.iter().any(|r| r.waiting.contains_key(&peer_id))
                {
                    self.peers.remove(&peer_id);
                }
                if self
                    .peers
                    .get(&peer_id)
                    .is_some_and(|p| p.outbound.is_some())
                {
                    self.finish_outbound(peer_id, Err("connection closed".into()));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                tracing::debug!(peer = %peer, "could not connect: {error}");
                if self
                    .rounds
                    .iter()
                    .any(|r| r.waiting.get(&peer).is_some_and(|s| s.is_none()))
                {
                    let msg = format!("could not connect: {error}");
                    for round in &mut self.rounds {
                        if let Some(slot) = round.waiting.get_mut(&peer)
                            && slot.is_none()
                        {
                            *slot = Some(PeerSyncReport::failed(&peer, msg.clone()));
                        }
                    }
                    self.close_rounds(false);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if peer == *self.swarm.local_peer_id() {
                        continue;
                    }
                    let state = self
                        .peers
                        .entry(peer)
                        .or_insert_with(|| PeerState::new(false));
                    if !state.addrs.contains(&addr) {
                        state.addrs.push(addr.clone());
                    }
                    if !state.discovered.contains(&addr) {
                        state.discovered.push(addr);
                    }
                    if !state.connected {
                        // A new sighting is worth a dial now, whatever the backoff says.
                        state.next_dial = Instant::now();
                        self.dial(peer);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Expired(gone))) => {
                for (peer, addr) in gone {
                    if let Some(state) = self.peers.get_mut(&peer) {
                        state.discovered.retain(|a| *a != addr);
                        if !state.configured {
                            state.addrs.retain(|a| *a != addr);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.note_identify(peer_id, &info),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            _ => {}
        }
    }

    fn on_sync_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                self.on_request(peer, request, channel);
            }
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                self.on_response(peer, request_id, response);
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if self
                    .peers
                    .get(&peer)
                    .and_then(|p| p.outbound.as_ref())
                    .is_some_and(|(_, r, _)| *r == request_id)
                {
                    let why = match error {
                        request_response::OutboundFailure::UnsupportedProtocols => {
                            self.no_common_version(peer)
                        }
                        e => e.to_string(),
                    };
                    self.finish_outbound(peer, Err(why));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                error: request_response::InboundFailure::UnsupportedProtocols,
                ..
            } => {
                let why = self.no_common_version(peer);
                tracing::warn!(peer = %peer, "refused the peer's sync stream: {why}");
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %peer, "inbound sync failure: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// What the peer announced of itself (libp2p identify): its sync protocol versions and
    /// program. When the two share no version, says which side to upgrade in the log (once per
    /// change) and in `status` (`upgrade`).
    fn note_identify(&mut self, peer: PeerId, info: &identify::Info) {
        let versions: Vec<u32> = info
            .protocols
            .iter()
            .filter_map(|p| lingong_protocol::sync::protocol_version(p.as_ref()))
            .collect();
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let changed = state.sync_versions.as_ref() != Some(&versions);
        state.sync_versions = Some(versions);
        state.agent = Some(info.agent_version.clone());
        if let (true, Some(advice)) = (changed, state.compatibility().and_then(|c| c.advice())) {
            tracing::warn!(peer = %peer, agent = %info.agent_version, "{advice}");
        }
    }

    /// Why a sync stream with `peer` could not be negotiated, in English and Chinese: which
    /// side to upgrade when the peer announced its versions, else the versions this node
    /// speaks.
    fn no_common_version(&self, peer: PeerId) -> String {
        if let Some(advice) = self
            .peers
            .get(&peer)
            .and_then(|p| p.compatibility())
            .and_then(|c| c.advice())
        {
            return advice;
        }
        let ours = PROTOCOL_VERSIONS
            .map(lingong_protocol::sync::protocol_id)
            .join(", ");
        format!(
            "the peer speaks none of the sync protocols {ours}; compare both versions \
             (`lingong --version`) and upgrade the older one / 对方不支持同步协议 {ours} 中的任何\
             一个：请核对双方的版本（`lingong --version`），升级较旧的一方"
        )
    }

    /// A peer that failed to prove its certificate, or was revoked: cut it off.
    fn reject_peer(&mut self, peer: PeerId, why: &str) {
        tracing::warn!(peer = %peer, "refusing peer: {why}");
        if let Some(p) = self.peers.get_mut(&peer) {
            p.outbound = None;
            p.next_dial = Instant::now() + self.max_backoff;
        }
        self.inbound.retain(|(p, _), _| *p != peer);
        self.swarm.behaviour_mut().gate.distrust(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn verify_hello(&mut self, peer: PeerId, hello: &[u8]) -> std::result::Result<Scope, String> {
        let key = peer_key(&peer).ok_or("the peer's id is not an ed25519 key")?;
        let station = self.station.read().expect("station lock");
        let scope = station
            .verify_peer(&key, hello)
            .map_err(|e| e.message("en"))?;
        drop(station);
        self.unproved.remove(&peer);
        self.swarm.behaviour_mut().gate.proved(peer);
        Ok(scope)
    }

    /// A sync session with a peer of scope `peer` (its version: the scope rules it said it
    /// applies), over the item set the store keeps for that scope (built once, then brought up
    /// to date: no scan of the whole store per session), with this node's clock at its start,
    /// `now_ms`. Both ends apply the older of their scope rules ([`Scope::on_link`]).
    fn new_session(&self, id: u64, peer: Scope, now_ms: i64) -> Session {
        let station = self.station.read().expect("station lock");
        let (me, peer) = station.scope().on_link(peer);
        let shared = tokio::task::block_in_place(|| station.shared_set(peer));
        let mut session = Session::with_shared(id, me, shared, Vec::new(), self.sync_config);
        session.set_clock(now_ms);
        session
    }

    /// Remembers how far the peer's clock is from ours, and warns the operator (once per
    /// change) when it is off by more than five minutes: changes dated ahead of the slower
    /// clock wait for it, up to a day.
    fn note_clock(&mut self, peer: PeerId, offset_ms: Option<i64>) {
        let (Some(offset), Some(p)) = (offset_ms, self.peers.get_mut(&peer)) else {
            return;
        };
        let before = p.clock_offset_ms.replace(offset);
        let noticeable = |o: i64| o.abs() > CLOCK_WARNING_MS;
        let moved = before.is_none_or(|b| (b - offset).abs() > 60_000);
        // Against the parent: no signing while off by more than the tolerance (crate::clock).
        // Noted at the first measurement (a marker from an earlier run is set right), when it
        // moved, and when it crossed the tolerance.
        let off = |o: i64| o.abs() > crate::clock::TOLERANCE_MS;
        if (moved || before.is_some_and(|b| off(b) != off(offset)))
            && let (Some(scope), Some(key)) = (p.scope, peer_key(&peer))
        {
            let station = self.station.read().expect("station lock");
            crate::clock::note_offset(&station, &key, &scope.region, offset);
        }
        if noticeable(offset) && moved {
            tracing::warn!(
                peer = %peer,
                offset_s = offset / 1000,
                "the peer's clock is {:.1} hours {} this node's: check both clocks (changes dated ahead of the slower one wait for it)",
                offset.abs() as f64 / 3_600_000.0,
                if offset > 0 { "ahead of" } else { "behind" }
            );
        }
    }

    fn on_request(&mut self, peer: PeerId, bytes: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        // The peer's rate first, before any work on the frame (crate::net_limits). A peer that
        // proved a certificate hears why and when to retry, and keeps its connection; one that
        // did not (a throwaway key) hears nothing and goes at the handshake grace.
        if let Err(limited) = self.rate.admit(peer, Instant::now()) {
            if self.peers.get(&peer).is_some_and(|p| p.scope.is_some()) {
                tracing::debug!(peer = %peer, "refusing a sync request: {limited}");
                let refusal = crate::net_limits::refusal(&limited.to_string());
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, refusal);
            }
            return;
        }
        let frame = match Frame::decode(&bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(peer = %peer, "malformed sync request: {e}");
                return; // dropping the channel closes this stream only
            }
        };
        if let Some(hello) = &frame.hello {
            // The session runs under the older of the two ends' scope rules.
            let scope = match self.verify_hello(peer, hello) {
                Ok(s) => s.at_version(frame.peer_scope_version()),
                Err(why) => return self.reject_peer(peer, &why),
            };
            self.peers
                .entry(peer)
                .or_insert_with(|| PeerState::new(false))
                .scope = Some(scope);
            // The peer's earlier session goes first: it holds the kept set, which would
            // otherwise be copied to take in what was committed since.
            self.inbound.retain(|(p, _), _| *p != peer);
            if self.inbound.len() >= crate::net_limits::MAX_INBOUND_SESSIONS {
                tracing::warn!(peer = %peer, "refusing a sync session: {} sessions run already", self.inbound.len());
                return; // dropping the channel closes this stream only; the peer retries later
            }
            let session = self.new_session(frame.session, scope, crate::station::now_ms());
            self.inbound
                .insert((peer, frame.session), (session, Instant::now()));
            let reply = Frame {
                session: frame.session,
                hello: Some(self.my_chain.clone()),
                scope_version: Some(SCOPE_VERSION),
                ..Default::default()
            };
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, reply.encode());
            return;
        }
        let Some((mut session, _)) = self.inbound.remove(&(peer, frame.session)) else {
            tracing::debug!(peer = %peer, "sync request for an unknown session");
            return;
        };
        let station = Arc::clone(&self.station);
        let (reply, report) = match drive(&station, &mut session, &frame, bytes.len()) {
            Ok(r) => r,
            Err(e) => return self.reject_peer(peer, &e),
        };
        self.note_clock(peer, session.peer_clock_offset_ms());
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, reply.encode());
        self.inbound
            .insert((peer, frame.session), (session, Instant::now()));
        self.after_accept(peer, &report);
    }

    fn on_response(&mut self, peer: PeerId, request_id: OutboundRequestId, bytes: Vec<u8>) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some((outbound, rid, started)) = state.outbound.take() else {
            return;
        };
        if rid != request_id {
            state.outbound = Some((outbound, rid, started));
            return;
        }
        if let Some(reason) = crate::net_limits::refusal_reason(&bytes) {
            return self.finish_outbound(peer, Err(format!("the peer refused: {reason}")));
        }
        let frame = match Frame::decode(&bytes) {
            Ok(f) => f,
            Err(e) => return self.finish_outbound(peer, Err(e.to_string())),
        };
        let mut session = match outbound {
            Outbound::Handshake { id } => {
                let Some(hello) = frame.hello.as_deref() else {
                    return self.finish_outbound(peer, Err("the peer sent no certificate".into()));
                };
                let scope = match self.verify_hello(peer, hello) {
                    Ok(s) => s.at_version(frame.peer_scope_version()),
                    Err(why) => {
                        self.finish_outbound(peer, Err(why.clone()));
                        return self.reject_peer(peer, &why);
                    }
                };
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.scope = Some(scope);
                }
                let started_ms = crate::station::now_ms();
                let mut session = self.new_session(id, scope, started_ms);
                let last_completed = self.peers.get(&peer).and_then(|p| p.last_completed_ms);
                // The kept set is whole, so a session can start from any floor.
                let floor = window_floor(last_completed, &self.sync_config);
                tracing::debug!(%peer, ?floor, "sync session starts");
                let first = session
                    .start_from(floor)
                    .unwrap_or_else(|_| session.start());
                let rid = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, first.encode());
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.session_started_ms = Some(started_ms);
                    p.outbound = Some((
                        Outbound::Running {
                            session: Box::new(session),
                        },
                        rid,
                        started,
                    ));
                }
                return;
            }
            Outbound::Running { session } => session,
        };
        let station = Arc::clone(&self.station);
        let (next, report) = match drive(&station, &mut session, &frame, bytes.len()) {
            Ok(r) => r,
            Err(e) => {
                self.finish_outbound(peer, Err(e.clone()));
                return self.reject_peer(peer, &e);
            }
        };
        self.note_clock(peer, session.peer_clock_offset_ms());
        self.after_accept(peer, &report);
        if session.finished() && frame_is_empty(&next) {
            let stats = session.stats();
            self.finish_outbound(peer, Ok(stats));
        } else {
            let rid = self
                .swarm
                .behaviour_mut()
                .sync
                .send_request(&peer, next.encode());
            if let Some(p) = self.peers.get_mut(&peer) {
                p.outbound = Some((Outbound::Running { session }, rid, started));
            }
        }
    }

    /// After a batch from `from` was accepted: cut off nodes it revoked, and pass anything new
    /// on to the other connected peers at once (store-and-forward without waiting for the next
    /// sync interval).
    fn after_accept(&mut self, from: PeerId, report: &AcceptReport) {
        for key in &report.revoked {
            let id = key.node_id();
            if let Some(peer) = self.peers.keys().find(|p| p.to_base58() == id).copied() {
                self.reject_peer(peer, "its certificate was revoked");
            }
        }
        if report.new > 0 || report.forks_published > 0 {
            self.nudge(Some(from));
        }
    }

    /// Asks for a sync with every connected peer except `except` as soon as possible.
    fn nudge(&mut self, except: Option<PeerId>) {
        for (id, p) in self.peers.iter_mut() {
            if p.connected && Some(*id) != except {
                p.resync = true;
            }
        }
    }
}

/// One step of a session on either side: accept what the frame carried (holding the station
/// alone, and only when the frame carried something), then build the next frame (sharing it
/// with reads: the frame that ends reconciliation reads the author and sequence number of
/// every change found for the peer, which for a first sync is every change the node holds).
fn drive(
    station: &Arc<RwLock<Station>>,
    session: &mut Session,
    frame: &Frame,
    wire_len: usize,
) -> std::result::Result<(Frame, AcceptReport), String> {
    let received = session
        .receive(frame, wire_len)
        .map_err(|e| e.to_string())?;
    tokio::task::block_in_place(|| {
        let mut report = AcceptReport::default();
        if !received.is_empty() {
            let mut s = station.write().expect("station lock");
            report = s.accept_envelopes(&received).map_err(|e| e.message("en"))?;
        }
        let s = station.read().expect("station lock");
        let next = session.next_frame(&mut lingong_protocol::sync::load_from(&s.store));
        Ok((next, report))
    })
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// `lingong sync --once` without a daemon: with the node opened, brings the network up just long
/// enough to sync with every configured peer, then stops.
pub fn sync_offline(station: Station, timeout_secs: u64) -> Result<serde_json::Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::io("tokio runtime", e))?;
    let shared = Arc::new(RwLock::new(station));
    let reports = runtime.block_on(async {
        let (network, handle, commands) =
            start(Arc::clone(&shared), &["/ip4/0.0.0.0/tcp/0".to_string()])?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(network.run(commands, async move {
            let _ = stop_rx.await;
        }));
        let reports = handle
            .sync_now(Duration::from_secs(timeout_secs.max(1)))
            .await;
        let _ = stop_tx.send(());
        let _ = task.await;
        reports
    })?;
    Ok(serde_json::json!({ "peers": reports }))
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use libp2p::request_response::Codec;

    /// A frame written on a stream negotiated for `/lingong/sync/1` is a version 1 frame on
    /// the wire (no clock, no scope version), on `/lingong/sync/2` a version 2 frame (no scope
    /// version: such a peer applies version 2's scope rules), and each reads back in the
    /// current encoding; on `/lingong/sync/3` the bytes pass untouched.
    #[test]
    fn the_codec_carries_each_negotiated_version_in_its_own_form() {
        let frame = Frame {
            session: 5,
            hello: Some(vec![9; 20]),
            envelopes: vec![vec![1; 100]],
            clock_ms: Some(1_765_000_000_000),
            scope_version: Some(SCOPE_VERSION),
            ..Frame::default()
        };
        futures::executor::block_on(async {
            for (v, clock, scopes, missing) in [
                (1, None, None, 2),
                (2, frame.clock_ms, None, 1),
                (3, frame.clock_ms, frame.scope_version, 0),
            ] {
                let protocol =
                    StreamProtocol::try_from_owned(lingong_protocol::sync::protocol_id(v)).unwrap();
                let mut wire = futures::io::Cursor::new(Vec::new());
                FrameCodec
                    .write_request(&protocol, &mut wire, frame.encode())
                    .await
                    .unwrap();
                let bytes = wire.into_inner();
                let body = &bytes[4..];
                let read_back = Frame {
                    clock_ms: clock,
                    scope_version: scopes,
                    ..frame.clone()
                };
                // What the version lacks, less the `None` tags the current encoding has for it.
                assert_eq!(
                    body.len(),
                    read_back.encode().len() - missing,
                    "version {v}"
                );
                let mut read = futures::io::Cursor::new(bytes.clone());
                let got = FrameCodec.read_request(&protocol, &mut read).await.unwrap();
                assert_eq!(Frame::decode(&got).unwrap(), read_back, "version {v}");
            }
        });
    }
}
