//! A stand-in peer for the tests that speak lingong's sync protocol themselves instead of
//! running a second node (`hostile_peer.rs`: hostile frames; `personal_data.rs`: a session
//! captured frame by frame): a libp2p swarm over TCP, noise and yamux, as the node's own
//! (`node/src/net.rs`), that only opens streams (`ProtocolSupport::Outbound`) with the codec
//! the test needs.

use libp2p::request_response::{self, Codec, ProtocolSupport};
use libp2p::{Swarm, identity::Keypair};
use std::time::Duration;

/// The swarm of a stand-in peer with `keypair` (a station's own key, to be taken for it, or a
/// fresh one), whose requests use `config` (timeouts, concurrent streams); a connection is
/// kept for a minute without streams. Must be called inside a tokio runtime.
pub fn outbound_swarm<C>(
    keypair: Keypair,
    config: request_response::Config,
) -> Swarm<request_response::Behaviour<C>>
where
    C: Codec<Protocol = libp2p::StreamProtocol> + Default + Clone + Send + 'static,
{
    let protocol = libp2p::StreamProtocol::new(lingong_protocol::sync::PROTOCOL_ID);
    libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("transport")
        .with_behaviour(|_| {
            request_response::Behaviour::<C>::new([(protocol, ProtocolSupport::Outbound)], config)
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}
