//! The network's resource limits against a hostile peer: how many connections, streams, sync
//! sessions and inbound frame bytes a node holds at once, and how long a connection that has
//! not proved a certificate may stay (SECURITY.md, "Resource limits of the network").
//!
//! - [`connection_limits`]: libp2p's `connection_limits` behaviour (pending inbound handshakes,
//!   established inbound, in total, per peer).
//! - [`AddressGate`]: at most [`MAX_INBOUND_PER_IP`] inbound connections (pending or
//!   established) from one IP address, refused before the noise handshake.
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
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{PeerId, connection_limits};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Inbound connections still in their transport handshake (TCP accepted, noise and yamux not
/// done), over all addresses. Beyond it a new connection is closed at once, holding no file.
pub const MAX_PENDING_INCOMING: u32 = 64;
/// Established inbound connections.
pub const MAX_ESTABLISHED_INCOMING: u32 = 96;
/// Established connections, inbound and outbound.
pub const MAX_ESTABLISHED_TOTAL: u32 = 128;
/// Established connections with one peer (one key).
pub const MAX_ESTABLISHED_PER_PEER: u32 = 2;
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

/// libp2p's connection gate with this node's limits.
pub fn connection_limits() -> connection_limits::Behaviour {
    connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
            .with_max_established_incoming(Some(MAX_ESTABLISHED_INCOMING))
            .with_max_established(Some(MAX_ESTABLISHED_TOTAL))
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER)),
    )
}

/// A connection refused because its address already holds [`MAX_INBOUND_PER_IP`].
#[derive(Debug)]
pub struct TooManyFromAddress {
    pub ip: IpAddr,
}

impl std::fmt::Display for TooManyFromAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} already holds {MAX_INBOUND_PER_IP} inbound connections",
            self.ip
        )
    }
}

impl std::error::Error for TooManyFromAddress {}

/// Counts inbound connections by the remote IP address, from the moment TCP accepts them
/// until they close, and refuses one more than [`MAX_INBOUND_PER_IP`] before any handshake.
#[derive(Default)]
pub struct AddressGate {
    by_ip: HashMap<IpAddr, usize>,
    conns: HashMap<ConnectionId, IpAddr>,
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl AddressGate {
    fn forget(&mut self, id: ConnectionId) {
        if let Some(ip) = self.conns.remove(&id)
            && let Some(n) = self.by_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }
}

impl NetworkBehaviour for AddressGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote) else {
            return Ok(());
        };
        let n = self.by_ip.entry(ip).or_default();
        if *n >= MAX_INBOUND_PER_IP {
            tracing::debug!(%ip, "refusing an inbound connection: {MAX_INBOUND_PER_IP} from this address");
            return Err(ConnectionDenied::new(TooManyFromAddress { ip }));
        }
        *n += 1;
        self.conns.insert(connection_id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(e) => self.forget(e.connection_id),
            FromSwarm::ListenFailure(e) => self.forget(e.connection_id),
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

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
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

    #[test]
    fn the_address_gate_counts_by_ip() {
        let mut gate = AddressGate::default();
        let local: Multiaddr = "/ip4/127.0.0.1/tcp/4000".parse().unwrap();
        let a: Multiaddr = "/ip4/10.0.0.1/tcp/5000".parse().unwrap();
        let b: Multiaddr = "/ip4/10.0.0.2/tcp/5000".parse().unwrap();
        for i in 0..MAX_INBOUND_PER_IP {
            gate.handle_pending_inbound_connection(ConnectionId::new_unchecked(i), &local, &a)
                .expect("within the limit");
        }
        assert!(
            gate.handle_pending_inbound_connection(ConnectionId::new_unchecked(100), &local, &a)
                .is_err()
        );
        gate.handle_pending_inbound_connection(ConnectionId::new_unchecked(101), &local, &b)
            .expect("another address is counted apart");
        gate.forget(ConnectionId::new_unchecked(0));
        gate.handle_pending_inbound_connection(ConnectionId::new_unchecked(102), &local, &a)
            .expect("a closed connection frees its place");
    }
}
