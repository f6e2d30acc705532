//! The network's resource limits against a hostile peer: how many connections, streams, sync
//! sessions and inbound frame bytes a node holds at once, and how long a connection that has
//! not proved a certificate may stay (SECURITY.md, "Resource limits of the network").
//!
//! - [`InboundGate`]: pending inbound handshakes (in all, per address, and fair by address
//!   above a high-water mark), inbound connections per address, established connections
//!   inbound and in total, with places for known stations (configured, or proved a
//!   certificate before): the oldest connection that proved nothing closes for one.
//! - [`connection_limits`]: libp2p's `connection_limits` behaviour, for established
//!   connections per peer.
//! - [`FrameBudget`]: the bytes of inbound sync frames being read at once, over all
//!   connections; a frame that would exceed it is refused before it is read.
//! - [`RequestRate`]: a token bucket per peer id over the sync requests (frames) it sends:
//!   [`PEER_REQUEST_BURST`] at once, then [`PEER_REQUESTS_PER_SEC`]; a request beyond it is
//!   answered with a refusal ([`refusal`]) naming the reason and when to retry, before it is
//!   decoded, and the connection stays open. One chatty or hostile peer then takes no more
//!   than its share of the loop, whatever the others do.
//! - the stream and session limits and the grace of an unproved connection, as constants used
//!   by `net.rs`.
//!
//! Every limit is a constant: a village station serves a township, a few villages and the odd
//! mobile station; a province serves its nine cities. The figures leave room for ten times that.

use libp2p::core::{Endpoint, Multiaddr, multiaddr::Protocol, transport::PortUse};
use libp2p::swarm::{
    CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{PeerId, connection_limits};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Inbound connections still in their transport handshake (TCP accepted, noise and yamux not
/// done), over all addresses. Beyond it a new connection is closed at once, holding no file.
pub const MAX_PENDING_INCOMING: u32 = 64;
/// From this many pending handshakes on, a new one is admitted only from an address that
/// holds none ([`InboundGate`]).
pub const PENDING_HIGH_WATER: usize = 48;
/// Pending handshakes from one address: an honest station dials one connection at a time and
/// its handshake takes milliseconds (a few round trips over a slow link).
pub const MAX_PENDING_PER_IP: usize = 2;
/// Established inbound connections.
pub const MAX_ESTABLISHED_INCOMING: u32 = 96;
/// Established connections, inbound and outbound.
pub const MAX_ESTABLISHED_TOTAL: u32 = 128;
/// Established connections with one peer (one key).
pub const MAX_ESTABLISHED_PER_PEER: u32 = 2;
/// Peer ids remembered as having proved a certificate chain, for the places kept for known
/// stations ([`InboundGate`]): far more than the stations a node talks to, 4,096 peer ids of
/// about 40 bytes (with their map entries, a few hundred kB at most).
pub const KNOWN_PEERS_KEPT: usize = 4096;
/// Inbound connections, pending or established, from one IP address.
pub const MAX_INBOUND_PER_IP: usize = 8;
/// Yamux streams open at once on one connection.
pub const MAX_STREAMS_PER_CONNECTION: usize = 32;
/// Inbound streams still negotiating their protocol on one connection.
pub const MAX_NEGOTIATING_STREAMS: usize = 8;
/// Sync requests (frames) in flight on one connection, each direction.
pub const MAX_SYNC_STREAMS: usize = 4;
/// Inbound sync sessions held at once (each holds a copy of the item set both scopes share).
pub const MAX_INBOUND_SESSIONS: usize = 32;
/// A connection whose peer has not proved a certificate chain (in a handshake frame either
/// way) after this long is closed.
pub const HANDSHAKE_GRACE: Duration = Duration::from_secs(30);
/// Bytes of inbound sync frames being read at once, over all connections: 16 frames of the
/// largest size.
pub const FRAME_BUDGET_BYTES: usize = 16 * lingong_protocol::sync::MAX_FRAME_BYTES;

/// Sync requests (frames) one peer may send at once before the rate below applies: 100,000
/// envelopes of about 577 bytes fill about 28 frames of 2 MiB, so several first syncs of a
/// large store fit.
pub const PEER_REQUEST_BURST: u32 = 256;
/// Sync requests per second one peer may send after its burst. An honest session is a
/// handshake, a few reconciliation rounds and the frames of the changes it pushes.
pub const PEER_REQUESTS_PER_SEC: u32 = 32;
/// Peers whose buckets are kept; beyond it, full buckets (the same as new ones) are dropped.
const MAX_TRACKED_PEERS: usize = 1024;

/// libp2p's connection gate, for the one limit [`InboundGate`] leaves to it: established
/// connections with one peer (one key).
pub fn connection_limits() -> connection_limits::Behaviour {
    connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER)),
    )
}

/// Why [`InboundGate`] refused a connection (in the daemon's debug log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The address already holds [`MAX_INBOUND_PER_IP`] inbound connections.
    AddressFull { ip: IpAddr },
    /// The address already holds [`MAX_PENDING_PER_IP`] handshakes.
    AddressPending { ip: IpAddr },
    /// [`PENDING_HIGH_WATER`] handshakes or more are pending and this address holds one.
    PendingFairShare { ip: IpAddr, pending: usize },
    /// All [`MAX_PENDING_INCOMING`] handshake places are taken.
    PendingFull,
    /// All [`MAX_ESTABLISHED_INCOMING`] established inbound places are taken and the peer is
    /// not a known station.
    InboundFull,
    /// All [`MAX_ESTABLISHED_TOTAL`] established places are taken and the peer is not a known
    /// station.
    TotalFull,
    /// A known station found the places full and every inbound connection proved a
    /// certificate: there is none to close for it.
    NoUnprovedToClose,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::AddressFull { ip } => write!(
                f,
                "{ip} already holds {MAX_INBOUND_PER_IP} inbound connections"
            ),
            Refused::AddressPending { ip } => {
                write!(
                    f,
                    "{ip} already holds {MAX_PENDING_PER_IP} pending handshakes"
                )
            }
            Refused::PendingFairShare { ip, pending } => write!(
                f,
                "{pending} handshakes pending (high-water mark {PENDING_HIGH_WATER}) and {ip} \
                 already holds one"
            ),
            Refused::PendingFull => {
                write!(f, "all {MAX_PENDING_INCOMING} handshake places are taken")
            }
            Refused::InboundFull => write!(
                f,
                "all {MAX_ESTABLISHED_INCOMING} established inbound places are taken and the \
                 peer is not a known station"
            ),
            Refused::TotalFull => write!(
                f,
                "all {MAX_ESTABLISHED_TOTAL} established places are taken and the peer is not \
                 a known station"
            ),
            Refused::NoUnprovedToClose => write!(
                f,
                "the established places are full and every inbound connection proved a \
                 certificate: none to close for this known station"
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// The peer ids that proved a certificate chain to this node, the most recent
/// [`KNOWN_PEERS_KEPT`] of them (least recently proved forgotten first).
struct ProvedPeers {
    by_peer: HashMap<PeerId, u64>,
    by_stamp: BTreeMap<u64, PeerId>,
    next: u64,
}

impl Default for ProvedPeers {
    fn default() -> Self {
        ProvedPeers {
            by_peer: HashMap::new(),
            by_stamp: BTreeMap::new(),
            next: 0,
        }
    }
}

impl ProvedPeers {
    fn insert(&mut self, peer: PeerId) {
        if let Some(old) = self.by_peer.insert(peer, self.next) {
            self.by_stamp.remove(&old);
        }
        self.by_stamp.insert(self.next, peer);
        self.next += 1;
        while self.by_peer.len() > KNOWN_PEERS_KEPT {
            let Some((_, oldest)) = self.by_stamp.pop_first() else {
                break;
            };
            self.by_peer.remove(&oldest);
        }
    }

    fn remove(&mut self, peer: &PeerId) {
        if let Some(stamp) = self.by_peer.remove(peer) {
            self.by_stamp.remove(&stamp);
        }
    }

    fn contains(&self, peer: &PeerId) -> bool {
        self.by_peer.contains_key(peer)
    }
}

/// One address's inbound connections.
#[derive(Default)]
struct PerAddress {
    pending: usize,
    established: usize,
}

/// An established connection the gate admitted.
struct Admitted {
    peer: PeerId,
    /// The remote address of an inbound connection (outbound ones are not counted by address).
    ip: Option<IpAddr>,
    inbound: bool,
    /// Admission order: the lowest is the oldest.
    order: u64,
    /// Its peer proved a certificate chain (now or before, or is a configured peer).
    proved: bool,
    /// Asked to close, to make room for a known station.
    closing: bool,
}

/// The connection gate in front of the handshake and after it (SECURITY.md, "Resource limits
/// of the network"):
///
/// - *Pending handshakes* (TCP accepted, noise and yamux not done, no peer id yet): at most
///   [`MAX_PENDING_INCOMING`] in all, [`MAX_PENDING_PER_IP`] from one address, and from
///   [`PENDING_HIGH_WATER`] on only from an address that holds none. A flood from N addresses
///   then holds at most `min(2 N, 48) + max(0, N - 24)` of the 64 places (below the mark each
///   address takes 2 at most; above it each takes one, and only when it held none, but it
///   keeps it), so a new address gets a place whenever N < 40: the 24 addresses of the test's
///   flood hold 48 at most, leaving 16 places to anyone else. With 40 addresses or more an
///   attacker can hold all 64 (libp2p 0.57 cannot close a pending connection from a
///   behaviour, so no place is taken back; it frees at the 10 s connection timeout, and the
///   attacker may take it again).
/// - *Inbound connections per address*: at most [`MAX_INBOUND_PER_IP`], pending or
///   established.
/// - *Established connections*: [`MAX_ESTABLISHED_INCOMING`] inbound and
///   [`MAX_ESTABLISHED_TOTAL`] in all, with places for known stations: a peer that is
///   configured here or proved a certificate chain to this node before (the last
///   [`KNOWN_PEERS_KEPT`] of them) is admitted at the limit, and the oldest inbound connection
///   whose peer has proved nothing is closed for it (`ToSwarm::CloseConnection`). Connections
///   are counted until they have closed, so the live ones exceed a limit only by those being
///   closed, one per known station admitted; a known station that finds every inbound
///   connection proved is refused like any other.
pub struct InboundGate {
    by_ip: HashMap<IpAddr, PerAddress>,
    pending: HashMap<ConnectionId, Option<IpAddr>>,
    established: HashMap<ConnectionId, Admitted>,
    configured: HashSet<PeerId>,
    proved: ProvedPeers,
    next_order: u64,
    to_close: VecDeque<(PeerId, ConnectionId)>,
    waker: Option<Waker>,
}

impl Default for InboundGate {
    fn default() -> Self {
        InboundGate {
            by_ip: HashMap::new(),
            pending: HashMap::new(),
            established: HashMap::new(),
            configured: HashSet::new(),
            proved: ProvedPeers::default(),
            next_order: 0,
            to_close: VecDeque::new(),
            waker: None,
        }
    }
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl InboundGate {
    /// A configured peer of this node: a known station for as long as the daemon runs.
    pub fn configure(&mut self, peer: PeerId) {
        self.configured.insert(peer);
        self.mark(peer, true);
    }

    /// `peer` proved a certificate chain to this node: a known station from now on, its
    /// connections no longer the first to close.
    pub fn proved(&mut self, peer: PeerId) {
        self.proved.insert(peer);
        self.mark(peer, true);
    }

    /// `peer` failed to prove its certificate, or was revoked: no longer a known station
    /// (unless configured), its connections the first to close.
    pub fn distrust(&mut self, peer: PeerId) {
        self.proved.remove(&peer);
        if !self.configured.contains(&peer) {
            self.mark(peer, false);
        }
    }

    /// Whether `peer` is a known station: configured, or proved a certificate before.
    pub fn is_known(&self, peer: &PeerId) -> bool {
        self.configured.contains(peer) || self.proved.contains(peer)
    }

    fn mark(&mut self, peer: PeerId, proved: bool) {
        for c in self.established.values_mut().filter(|c| c.peer == peer) {
            c.proved = proved;
        }
    }

    /// Handshakes pending now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Established connections now: inbound, and in all.
    pub fn established(&self) -> (usize, usize) {
        let inbound = self.established.values().filter(|c| c.inbound).count();
        (inbound, self.established.len())
    }

    /// A new inbound connection from `ip`, before its handshake.
    fn admit_pending(&mut self, id: ConnectionId, ip: Option<IpAddr>) -> Result<(), Refused> {
        let pending = self.pending.len();
        if pending >= MAX_PENDING_INCOMING as usize {
            return Err(Refused::PendingFull);
        }
        if let Some(ip) = ip {
            let (here_pending, here_established) = self
                .by_ip
                .get(&ip)
                .map_or((0, 0), |h| (h.pending, h.established));
            if here_pending + here_established >= MAX_INBOUND_PER_IP {
                return Err(Refused::AddressFull { ip });
            }
            if here_pending >= MAX_PENDING_PER_IP {
                return Err(Refused::AddressPending { ip });
            }
            if pending >= PENDING_HIGH_WATER && here_pending > 0 {
                return Err(Refused::PendingFairShare { ip, pending });
            }
            self.by_ip.entry(ip).or_default().pending += 1;
        }
        self.pending.insert(id, ip);
        Ok(())
    }

    /// A connection whose handshake is done, with `peer`: admitted, with the connection to
    /// close to make room for it if it is a known station at a limit, or refused.
    fn admit_established(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        inbound: bool,
    ) -> Result<Option<(PeerId, ConnectionId)>, Refused> {
        let (mut live_in, mut live, mut closing_in, mut closing) = (0, 0, 0, 0);
        for c in self.established.values() {
            live += 1;
            closing += usize::from(c.closing);
            if c.inbound {
                live_in += 1;
                closing_in += usize::from(c.closing);
            }
        }
        let known = self.is_known(&peer);
        let mut victim = None;
        if (inbound && live_in >= MAX_ESTABLISHED_INCOMING as usize)
            || live >= MAX_ESTABLISHED_TOTAL as usize
        {
            if !known {
                return Err(if inbound && live_in >= MAX_ESTABLISHED_INCOMING as usize {
                    Refused::InboundFull
                } else {
                    Refused::TotalFull
                });
            }
            // A known station: room the connections already closing will free is its, and
            // beyond that the oldest inbound connection that proved nothing closes for it.
            if (inbound && live_in - closing_in >= MAX_ESTABLISHED_INCOMING as usize)
                || live - closing >= MAX_ESTABLISHED_TOTAL as usize
            {
                let (&vid, v) = self
                    .established
                    .iter_mut()
                    .filter(|(_, c)| c.inbound && !c.proved && !c.closing)
                    .min_by_key(|(_, c)| c.order)
                    .ok_or(Refused::NoUnprovedToClose)?;
                v.closing = true;
                victim = Some((v.peer, vid));
            }
        }
        let ip = if inbound {
            self.pending.remove(&id).flatten()
        } else {
            None
        };
        if let Some(ip) = ip {
            let here = self.by_ip.entry(ip).or_default();
            here.pending = here.pending.saturating_sub(1);
            here.established += 1;
        }
        self.established.insert(
            id,
            Admitted {
                peer,
                ip,
                inbound,
                order: self.next_order,
                proved: known,
                closing: false,
            },
        );
        self.next_order += 1;
        Ok(victim)
    }

    /// A connection closed or failed, pending or established: its places free.
    fn forget(&mut self, id: ConnectionId) {
        let (ip, was_pending) = if let Some(ip) = self.pending.remove(&id) {
            (ip, true)
        } else if let Some(c) = self.established.remove(&id) {
            (c.ip, false)
        } else {
            return;
        };
        if let Some(ip) = ip
            && let Some(here) = self.by_ip.get_mut(&ip)
        {
            if was_pending {
                here.pending = here.pending.saturating_sub(1);
            } else {
                here.established = here.established.saturating_sub(1);
            }
            if here.pending + here.established == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }
}

impl NetworkBehaviour for InboundGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.admit_pending(connection_id, ip_of(remote))
            .map_err(|refused| {
                tracing::debug!(%remote, "refusing an inbound connection: {refused}");
                ConnectionDenied::new(refused)
            })
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        match self.admit_established(connection_id, peer, true) {
            Ok(victim) => {
                self.close_for(peer, victim);
                Ok(dummy::ConnectionHandler)
            }
            Err(refused) => {
                tracing::debug!(%peer, %remote, "refusing an inbound connection: {refused}");
                Err(ConnectionDenied::new(refused))
            }
        }
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        match self.admit_established(connection_id, peer, false) {
            Ok(victim) => {
                self.close_for(peer, victim);
                Ok(dummy::ConnectionHandler)
            }
            Err(refused) => {
                tracing::debug!(%peer, "refusing an outbound connection: {refused}");
                Err(ConnectionDenied::new(refused))
            }
        }
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(e) => self.forget(e.connection_id),
            FromSwarm::ListenFailure(e) => self.forget(e.connection_id),
            FromSwarm::DialFailure(e) => self.forget(e.connection_id),
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some((peer_id, id)) = self.to_close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl InboundGate {
    /// Queues the close of `victim`, made room for known station `peer`.
    fn close_for(&mut self, peer: PeerId, victim: Option<(PeerId, ConnectionId)>) {
        let Some((victim_peer, id)) = victim else {
            return;
        };
        tracing::info!(
            peer = %peer,
            closed = %victim_peer,
            "the established places are full: closing the oldest connection that proved no \
             certificate, for a known station"
        );
        self.to_close.push_back((victim_peer, id));
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// A request refused by [`RequestRate`]: the peer may send again in `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: Duration,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rate-limited: more than {PEER_REQUEST_BURST} sync requests at once or \
             {PEER_REQUESTS_PER_SEC} a second from this peer; retry in {} ms",
            self.retry_after.as_millis().max(1)
        )
    }
}

/// One token bucket per peer id (noise proves the id): each sync request takes a token;
/// tokens come back at [`PEER_REQUESTS_PER_SEC`] up to [`PEER_REQUEST_BURST`]. Kept across
/// reconnections, so a peer cannot refill its bucket by dialling again.
#[derive(Default)]
pub struct RequestRate {
    /// Tokens (in thousandths) and when they were last counted.
    buckets: HashMap<PeerId, (u64, Instant)>,
}

impl RequestRate {
    const FULL: u64 = PEER_REQUEST_BURST as u64 * 1000;

    /// Takes one token of `peer`'s bucket at `now`, or says when the next one comes.
    pub fn admit(&mut self, peer: PeerId, now: Instant) -> Result<(), RateLimited> {
        if self.buckets.len() >= MAX_TRACKED_PEERS && !self.buckets.contains_key(&peer) {
            self.buckets
                .retain(|_, bucket| Self::refilled(*bucket, now) < Self::FULL);
        }
        let bucket = self.buckets.entry(peer).or_insert((Self::FULL, now));
        let tokens = Self::refilled(*bucket, now);
        if tokens < 1000 {
            *bucket = (tokens, now);
            let missing = 1000 - tokens;
            let per_ms = PEER_REQUESTS_PER_SEC as u64; // thousandths of a token per ms
            return Err(RateLimited {
                retry_after: Duration::from_millis(missing.div_ceil(per_ms)),
            });
        }
        *bucket = (tokens - 1000, now);
        Ok(())
    }

    /// The bucket's tokens (thousandths) at `now`.
    fn refilled((tokens, at): (u64, Instant), now: Instant) -> u64 {
        let ms = now.saturating_duration_since(at).as_millis() as u64;
        tokens
            .saturating_add(ms.saturating_mul(PEER_REQUESTS_PER_SEC as u64))
            .min(Self::FULL)
    }
}

/// The first bytes of a refusal sent instead of a sync frame (a frame never starts with them:
/// its second byte is an option tag, 0 or 1); the rest is the reason, UTF-8.
pub const REFUSAL_MAGIC: &[u8] = b"LINGONG-REFUSED/1\n";

/// The response refusing a request, carrying `reason`.
pub fn refusal(reason: &str) -> Vec<u8> {
    [REFUSAL_MAGIC, reason.as_bytes()].concat()
}

/// The reason of a refusal, if `response` is one.
pub fn refusal_reason(response: &[u8]) -> Option<String> {
    response
        .strip_prefix(REFUSAL_MAGIC)
        .map(|r| String::from_utf8_lossy(r).into_owned())
}

/// The bytes of inbound frames being read now, over the whole process (one daemon).
static FRAME_BYTES_READING: AtomicUsize = AtomicUsize::new(0);

/// A share of [`FRAME_BUDGET_BYTES`] held while one frame is read.
pub struct FrameBudget {
    counter: &'static AtomicUsize,
    bytes: usize,
}

impl FrameBudget {
    /// Reserves `bytes`, or refuses when the frames being read already hold the budget.
    pub fn reserve(bytes: usize) -> std::io::Result<FrameBudget> {
        FrameBudget::reserve_from(&FRAME_BYTES_READING, bytes)
    }

    fn reserve_from(counter: &'static AtomicUsize, bytes: usize) -> std::io::Result<FrameBudget> {
        let mut now = counter.load(Ordering::Relaxed);
        loop {
            if now + bytes > FRAME_BUDGET_BYTES {
                return Err(std::io::Error::other(format!(
                    "{now} bytes of inbound frames are being read; a frame of {bytes} bytes \
                     would exceed the {FRAME_BUDGET_BYTES}-byte budget"
                )));
            }
            match counter.compare_exchange_weak(
                now,
                now + bytes,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(FrameBudget { counter, bytes }),
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for FrameBudget {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_budget_refuses_beyond_its_bound_and_frees_on_drop() {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let max = lingong_protocol::sync::MAX_FRAME_BYTES;
        let held: Vec<FrameBudget> = (0..16)
            .map(|_| FrameBudget::reserve_from(&COUNTER, max).expect("within the budget"))
            .collect();
        assert!(
            FrameBudget::reserve_from(&COUNTER, 1).is_err(),
            "the budget is full"
        );
        drop(held);
        assert!(
            FrameBudget::reserve_from(&COUNTER, max).is_ok(),
            "freed on drop"
        );
        assert_eq!(COUNTER.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_peers_bucket_refuses_beyond_its_burst_and_refills_at_its_rate() {
        let mut rate = RequestRate::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        for _ in 0..PEER_REQUEST_BURST {
            rate.admit(a, t0).expect("within the burst");
        }
        let refused = rate.admit(a, t0).expect_err("beyond the burst");
        // One token comes back in 1000 / rate ms, rounded up.
        assert_eq!(
            refused.retry_after,
            Duration::from_millis(1000u64.div_ceil(PEER_REQUESTS_PER_SEC as u64))
        );
        assert!(refused.to_string().starts_with("rate-limited"));
        rate.admit(b, t0).expect("another peer has its own bucket");
        // One second later: exactly the rate's worth again.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..PEER_REQUESTS_PER_SEC {
            rate.admit(a, t1).expect("refilled");
        }
        assert!(rate.admit(a, t1).is_err());
        // Long idle: full again, never more.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..PEER_REQUEST_BURST {
            rate.admit(a, t2).expect("full after a rest");
        }
        assert!(rate.admit(a, t2).is_err());
    }

    #[test]
    fn a_refusal_is_never_a_frame_and_carries_its_reason() {
        let r = refusal("rate-limited: retry in 31 ms");
        assert!(lingong_protocol::sync::Frame::decode(&r).is_err());
        assert_eq!(
            refusal_reason(&r).as_deref(),
            Some("rate-limited: retry in 31 ms")
        );
        let frame = lingong_protocol::sync::Frame::default().encode();
        assert_eq!(refusal_reason(&frame), None);
    }

    fn cid(n: usize) -> ConnectionId {
        ConnectionId::new_unchecked(n)
    }

    fn ip(a: u8, b: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, a, b)))
    }

    #[test]
    fn the_gate_counts_inbound_connections_by_address() {
        let mut gate = InboundGate::default();
        let (a, b) = (ip(0, 1), ip(0, 2));
        // Two handshakes at once from one address, not a third.
        gate.admit_pending(cid(0), a).expect("first");
        gate.admit_pending(cid(1), a).expect("second");
        assert_eq!(
            gate.admit_pending(cid(2), a),
            Err(Refused::AddressPending { ip: a.unwrap() })
        );
        gate.admit_pending(cid(3), b)
            .expect("another address is counted apart");
        // Handshakes done, the address may start others, up to 8 connections in all.
        for id in [0, 1] {
            gate.admit_established(cid(id), PeerId::random(), true)
                .expect("an established place");
        }
        let mut next = 10;
        for _ in 0..(MAX_INBOUND_PER_IP - 2) / 2 {
            for id in [next, next + 1] {
                gate.admit_pending(cid(id), a).expect("a handshake place");
                gate.admit_established(cid(id), PeerId::random(), true)
                    .expect("an established place");
            }
            next += 2;
        }
        assert_eq!(
            gate.admit_pending(cid(99), a),
            Err(Refused::AddressFull { ip: a.unwrap() })
        );
        gate.forget(cid(10));
        gate.admit_pending(cid(100), a)
            .expect("a closed connection frees its place");
        // A failed handshake frees its place too, and an address with nothing left is dropped.
        gate.forget(cid(3));
        assert!(!gate.by_ip.contains_key(&b.unwrap()));
        assert_eq!(gate.pending(), 1);
        assert_eq!(
            gate.established(),
            (MAX_INBOUND_PER_IP - 1, MAX_INBOUND_PER_IP - 1)
        );
    }

    /// Each of `addresses` in turn takes every handshake place it can (the order that holds
    /// the most: the first 24 take two each below the mark, the others one each above it);
    /// returns how many places they hold.
    fn flood_pending(gate: &mut InboundGate, addresses: u8, next: &mut usize) -> usize {
        for i in 0..addresses {
            for _ in 0..MAX_PENDING_PER_IP + 1 {
                let _ = gate.admit_pending(cid(*next), ip(1, i));
                *next += 1;
            }
        }
        gate.pending()
    }

    #[test]
    fn a_flood_from_fewer_than_40_addresses_leaves_a_handshake_place_to_a_new_address() {
        let mut next = 0;
        // The test's flood: 24 addresses hold 48 places at most.
        let mut gate = InboundGate::default();
        assert_eq!(flood_pending(&mut gate, 24, &mut next), 48);
        gate.admit_pending(cid(next), ip(2, 1))
            .expect("a new address gets a place");
        // Above the mark one place per address that held none: 30 addresses hold 2 x 24 + 6.
        let mut gate = InboundGate::default();
        assert_eq!(flood_pending(&mut gate, 30, &mut next), 54);
        assert_eq!(
            gate.admit_pending(cid(next), ip(1, 29)),
            Err(Refused::PendingFairShare {
                ip: ip(1, 29).unwrap(),
                pending: 54
            }),
            "above the high-water mark an address that holds one gets no more"
        );
        gate.admit_pending(cid(next + 1), ip(2, 1))
            .expect("a new address gets a place");
        // 39 addresses: 48 + 15 = 63, one place left for a new address.
        let mut gate = InboundGate::default();
        assert_eq!(flood_pending(&mut gate, 39, &mut next), 63);
        gate.admit_pending(cid(next), ip(2, 1))
            .expect("a new address gets the last place");
        // 40 addresses hold them all: the bound of the rule.
        let mut gate = InboundGate::default();
        assert_eq!(
            flood_pending(&mut gate, 40, &mut next),
            MAX_PENDING_INCOMING as usize
        );
        assert_eq!(
            gate.admit_pending(cid(next), ip(2, 1)),
            Err(Refused::PendingFull)
        );
        // A handshake that ends (done or failed) frees a place, which an address of the flood
        // that still holds one cannot take back, and the new address can.
        let held_by_first = *gate
            .pending
            .iter()
            .find(|(_, a)| **a == ip(1, 0))
            .expect("the first address holds a place")
            .0;
        gate.forget(held_by_first);
        assert_eq!(
            gate.admit_pending(cid(next + 1), ip(1, 0)),
            Err(Refused::PendingFairShare {
                ip: ip(1, 0).unwrap(),
                pending: 63
            })
        );
        gate.admit_pending(cid(next + 2), ip(2, 1))
            .expect("the freed place goes to the new address");
    }

    /// Fills the established inbound places with connections of throwaway keys; returns their
    /// ids in the order admitted.
    fn fill_inbound(gate: &mut InboundGate, next: &mut usize) -> Vec<ConnectionId> {
        (0..MAX_ESTABLISHED_INCOMING)
            .map(|i| {
                let id = cid(*next);
                *next += 1;
                gate.admit_pending(id, ip(3, i as u8)).expect("pending");
                gate.admit_established(id, PeerId::random(), true)
                    .expect("a place");
                id
            })
            .collect()
    }

    #[test]
    fn a_known_station_gets_an_inbound_place_at_the_limit_and_the_oldest_unproved_closes() {
        let mut gate = InboundGate::default();
        let mut next = 0;
        let throwaway = fill_inbound(&mut gate, &mut next);
        // An unknown peer at the limit is refused.
        assert_eq!(
            gate.admit_established(cid(1000), PeerId::random(), true),
            Err(Refused::InboundFull)
        );
        // A peer that proved a certificate before is admitted; the oldest throwaway closes.
        let township = PeerId::random();
        gate.proved(township);
        let victim = gate
            .admit_established(cid(1001), township, true)
            .expect("a known station is admitted")
            .expect("a connection closes for it");
        assert_eq!(victim.1, throwaway[0], "the oldest unproved connection");
        // A configured peer too, and the next oldest closes (not the one already closing).
        let parent = PeerId::random();
        gate.configure(parent);
        let victim = gate
            .admit_established(cid(1002), parent, true)
            .expect("a configured peer is admitted")
            .expect("a connection closes for it");
        assert_eq!(victim.1, throwaway[1]);
        // Bounded: the live connections exceed the limit only by those closing.
        assert_eq!(gate.established().0, MAX_ESTABLISHED_INCOMING as usize + 2);
        gate.forget(throwaway[0]);
        gate.forget(throwaway[1]);
        assert_eq!(gate.established().0, MAX_ESTABLISHED_INCOMING as usize);
        // Still full for an unknown peer.
        assert_eq!(
            gate.admit_established(cid(1003), PeerId::random(), true),
            Err(Refused::InboundFull)
        );
        // A known station's connection is never the one closed: with every other connection
        // of a proved peer, there is none to close.
        for id in &throwaway[2..] {
            let peer = gate.established[id].peer;
            gate.proved(peer);
        }
        let other = PeerId::random();
        gate.proved(other);
        assert_eq!(
            gate.admit_established(cid(1004), other, true),
            Err(Refused::NoUnprovedToClose)
        );
        // A peer whose certificate failed or was revoked is no longer known.
        let revoked = gate.established[&throwaway[2]].peer;
        gate.distrust(revoked);
        assert!(!gate.is_known(&revoked));
        let victim = gate
            .admit_established(cid(1005), other, true)
            .expect("admitted")
            .expect("the distrusted peer's connection closes");
        assert_eq!(victim, (revoked, throwaway[2]));
    }

    #[test]
    fn a_known_station_dialled_out_gets_a_place_when_all_are_taken() {
        let mut gate = InboundGate::default();
        let mut next = 0;
        let throwaway = fill_inbound(&mut gate, &mut next);
        let outbound = (MAX_ESTABLISHED_TOTAL - MAX_ESTABLISHED_INCOMING) as usize;
        for _ in 0..outbound {
            gate.admit_established(cid(next), PeerId::random(), false)
                .expect("outbound places");
            next += 1;
        }
        assert_eq!(
            gate.admit_established(cid(next), PeerId::random(), false),
            Err(Refused::TotalFull)
        );
        let parent = PeerId::random();
        gate.configure(parent);
        let victim = gate
            .admit_established(cid(next + 1), parent, false)
            .expect("the configured parent is admitted")
            .expect("an inbound throwaway closes for it");
        assert_eq!(victim.1, throwaway[0]);
        assert_eq!(gate.established().1, MAX_ESTABLISHED_TOTAL as usize + 1);
    }

    #[test]
    fn the_proved_peers_are_bounded_and_the_least_recent_is_forgotten() {
        let mut proved = ProvedPeers::default();
        let first = PeerId::random();
        let second = PeerId::random();
        proved.insert(first);
        proved.insert(second);
        // Proving again makes the first the most recent.
        proved.insert(first);
        for _ in 0..KNOWN_PEERS_KEPT - 1 {
            proved.insert(PeerId::random());
        }
        assert_eq!(proved.by_peer.len(), KNOWN_PEERS_KEPT);
        assert_eq!(proved.by_stamp.len(), KNOWN_PEERS_KEPT);
        assert!(proved.contains(&first), "proved again recently: kept");
        assert!(!proved.contains(&second), "the least recent: forgotten");
    }
}
