//! Failure detection: which peers, and so which regions, this node can reach right now.
//!
//! Every node pings every other member over QUIC [`PINGS_PER_FAILOVER_WINDOW`] times per
//! `failover_after`. A node counts as unreachable once no ping answered for `failover_after`; a region counts as down when all its
//! nodes are unreachable. This node and its own region are always reachable from here. At
//! startup every peer gets one `failover_after` of grace, so a fresh node does not declare the
//! world down before its first round of pings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use svea_storage::{RaftNodeId, SveaNode};
use tokio::time::Instant;

use crate::metrics::Counters;
use crate::rpc::{Ping, Pong};
use crate::transport::Transport;

/// Pings sent to each peer per `failover_after`: a peer is declared down only after this many
/// probes in a row went unanswered, so one lost datagram or slow answer is not a failover.
pub const PINGS_PER_FAILOVER_WINDOW: u32 = 4;
/// A ping may take at most `failover_after / PING_TIMEOUT_DIVISOR`: long enough for a WAN round
/// trip under load, short enough that a late answer still lands inside the window it vouches for.
pub const PING_TIMEOUT_DIVISOR: u32 = 2;
/// Pings are never sent more often than this, however short `failover_after` is configured.
pub const PING_INTERVAL_MIN: Duration = Duration::from_millis(50);

const _: () = assert!(PINGS_PER_FAILOVER_WINDOW >= 2, "one lost ping must not declare a peer down");
const _: () = assert!(PING_TIMEOUT_DIVISOR > 1, "a ping answers within the window it vouches for");
const _: () = assert!(PING_TIMEOUT_DIVISOR <= PINGS_PER_FAILOVER_WINDOW, "a ping may outlive the next one's start, not the window");

/// How often to ping and how long each ping may take, for a failure detector of `failover_after`.
pub fn ping_schedule(failover_after: Duration) -> (Duration, Duration) {
    let every = (failover_after / PINGS_PER_FAILOVER_WINDOW).max(PING_INTERVAL_MIN);
    (every, failover_after / PING_TIMEOUT_DIVISOR)
}

/// The reachability view of one node.
pub struct Health {
    me: RaftNodeId,
    failover_after: Duration,
    started: Instant,
    last_ok: Mutex<HashMap<RaftNodeId, Instant>>,
    /// What the last check saw down, so transitions are logged and counted once.
    down: Mutex<(BTreeSet<RaftNodeId>, BTreeSet<String>)>,
    counters: Arc<Counters>,
}

impl Health {
    /// A view for node `me`.
    pub fn new(me: RaftNodeId, failover_after: Duration, counters: Arc<Counters>) -> Arc<Health> {
        Arc::new(Health {
            me,
            failover_after,
            started: Instant::now(),
            last_ok: Mutex::new(HashMap::new()),
            down: Mutex::new((BTreeSet::new(), BTreeSet::new())),
            counters,
        })
    }

    /// Compares reachability now with the last check: logs (structured) and counts every peer
    /// and region that went down or came back. Called after each round of pings.
    pub fn note_transitions(&self, members: &BTreeMap<RaftNodeId, SveaNode>) {
        let down_nodes: BTreeSet<RaftNodeId> = members.keys().copied().filter(|id| !self.node_reachable(*id)).collect();
        let regions: BTreeSet<&String> = members.values().map(|n| &n.region).collect();
        let healthy = self.healthy_regions(members);
        let down_regions: BTreeSet<String> = regions.into_iter().filter(|r| !healthy.contains(*r)).cloned().collect();
        let mut last = self.down.lock().unwrap_or_else(|p| p.into_inner());
        for id in down_nodes.difference(&last.0) {
            self.counters.peer_down();
            tracing::warn!(event = "peer_down", peer = id, silent_ms = self.silent_for(*id).as_millis() as u64, "peer unreachable");
        }
        for id in last.0.difference(&down_nodes) {
            if members.contains_key(id) {
                self.counters.peer_up();
                tracing::info!(event = "peer_up", peer = id, "peer reachable again");
            }
        }
        for r in down_regions.difference(&last.1) {
            self.counters.region_down();
            tracing::warn!(event = "region_down", region = %r, "region unreachable: failing over its traffic and actors");
        }
        for r in last.1.difference(&down_regions) {
            if healthy.contains(r) {
                self.counters.region_up();
                tracing::info!(event = "region_up", region = %r, "region reachable again");
            }
        }
        *last = (down_nodes, down_regions);
    }

    /// Records a successful probe of `node`.
    pub fn record_ok(&self, node: RaftNodeId) {
        self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).insert(node, Instant::now());
    }

    /// Whether `node` answered within `failover_after` (or is this node).
    pub fn node_reachable(&self, node: RaftNodeId) -> bool {
        if node == self.me {
            return true;
        }
        let last = self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).get(&node).copied().unwrap_or(self.started);
        last.elapsed() < self.failover_after
    }

    /// How long a node may be silent before it counts as unreachable.
    pub fn failover_after(&self) -> Duration {
        self.failover_after
    }

    /// Whether `node` answered a ping at or after `since` (always for this node).
    pub fn answered_since(&self, node: RaftNodeId, since: Instant) -> bool {
        node == self.me || self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).get(&node).is_some_and(|t| *t >= since)
    }

    /// How long ago `node` last answered (since startup when never).
    pub fn silent_for(&self, node: RaftNodeId) -> Duration {
        if node == self.me {
            return Duration::ZERO;
        }
        self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).get(&node).copied().unwrap_or(self.started).elapsed()
    }

    /// Regions with at least one reachable member.
    pub fn healthy_regions(&self, members: &BTreeMap<RaftNodeId, SveaNode>) -> BTreeSet<String> {
        members.iter().filter(|(id, _)| self.node_reachable(**id)).map(|(_, n)| n.region.clone()).collect()
    }
}

/// Pings every member except this node each `every`, bounded by `timeout` per ping, until the
/// transport is closed (checked each round; the node's shutdown also aborts it). `members` is
/// re-read each round so membership changes are followed. Pings still in flight when it stops
/// are dropped with it.
pub async fn run_pinger(
    health: Arc<Health>,
    transport: Arc<Transport>,
    members: impl Fn() -> BTreeMap<RaftNodeId, SveaNode> + Send + 'static,
    every: Duration,
    timeout: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Each ping ends by its timeout, so at most `timeout / every + 1` per member are alive.
    let mut pings = tokio::task::JoinSet::new();
    loop {
        ticker.tick().await;
        if transport.is_closed() {
            return;
        }
        while pings.try_join_next().is_some() {}
        let current = members();
        health.note_transitions(&current);
        for (id, node) in current {
            if id == health.me {
                continue;
            }
            if let Ok(addr) = node.raft_addr.parse::<svea_config::PeerAddr>() {
                transport.set_peer_addr(id, addr);
            }
            let (h, t) = (health.clone(), transport.clone());
            pings.spawn(async move {
                if let Ok(Pong) = t.call(id, &Ping, timeout).await {
                    h.record_ok(id);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{self, Identity};
    use crate::transport::TransportSettings;

    #[tokio::test]
    async fn the_pinger_stops_when_the_transport_closes() {
        let ca = tls::generate_ca("test").expect("ca");
        let (cert, key) = tls::generate_node_cert(&ca, 1, "stockholm").expect("cert");
        let identity = Identity::from_pem(&ca.cert_pem, &cert, &key).expect("identity");
        let second = Duration::from_secs(1);
        let settings = TransportSettings {
            max_frame_bytes: 1 << 20,
            max_snapshot_bytes: 1 << 20,
            connect_timeout: second,
            rpc_timeout: second,
            backoff_max: second,
            idle_timeout: 5 * second,
            keepalive: second,
            rng_seed: None,
        };
        let transport = Transport::bind("127.0.0.1:0".parse().expect("addr"), &identity, settings).expect("bind");
        let health = Health::new(1, second, Arc::new(Counters::default()));
        // A member nobody answers for: the pinger has work every round.
        let peer = SveaNode {
            region: "malmo".into(),
            raft_addr: "127.0.0.1:9".into(),
            http_addr: "127.0.0.1:9".into(),
            public_url: "http://127.0.0.1:9".into(),
            draining: false,
        };
        let members = move || BTreeMap::from([(2, peer.clone())]);
        let (every, timeout) = ping_schedule(Duration::from_millis(200));
        let pinger = tokio::spawn(run_pinger(health, transport.clone(), members, every, timeout));
        transport.close();
        tokio::time::timeout(5 * second, pinger).await.expect("pinger stopped after the transport closed").expect("pinger ran");
    }
}
