//! Failure detection: which peers, and so which regions, this node can reach right now.
//!
//! Every node pings every other member over QUIC [`PINGS_PER_FAILOVER_WINDOW`] times per
//! `failover_after`. A node counts as unreachable once no ping answered for `failover_after`; a region counts as down when all its
//! nodes are unreachable. This node and its own region are always reachable from here. At
//! startup every peer gets one `failover_after` of grace, so a fresh node does not declare the
//! world down before its first round of pings.
//!
//! A late answer is not a dead peer. Every answered request to a peer counts as an answered
//! ping (Raft's appends and heartbeats, forwarded calls: on a busy cluster these answer many
//! times a second), a ping may take the whole window to come back, and silence this node did not
//! witness does not count: when this node itself was stalled (its pinger ran more than two
//! intervals late, e.g. a host out of CPU), the stall is credited to every peer, and between two
//! rounds of the pinger a peer is judged at the last round plus two intervals at most, so a
//! node that wakes from a stall does not convict its peers before their queued answers are read.

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
/// A ping may take at most `failover_after / PING_TIMEOUT_DIVISOR`: the whole window, so a peer
/// that answers late (a loaded host) still counts as alive when its answer arrives.
pub const PING_TIMEOUT_DIVISOR: u32 = 1;
/// The pinger counts as stalled (and the peers' silence since its last round is forgiven) when a
/// round comes more than this many intervals after the last.
pub const STALL_INTERVALS: u32 = 2;
/// Pings are never sent more often than this, however short `failover_after` is configured.
pub const PING_INTERVAL_MIN: Duration = Duration::from_millis(50);

const _: () = assert!(PINGS_PER_FAILOVER_WINDOW >= 2, "one lost ping must not declare a peer down");
const _: () = assert!(PING_TIMEOUT_DIVISOR >= 1, "a ping ends within the window it vouches for");
const _: () = assert!(STALL_INTERVALS >= 2 && STALL_INTERVALS < PINGS_PER_FAILOVER_WINDOW, "a stall is longer than a round's jitter and shorter than the window");
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
    /// Interval between two rounds of the pinger.
    every: Duration,
    /// When the pinger's last round ran (`None`: no pinger has run, e.g. a node without a
    /// transport: peers are judged at the wall clock).
    ticked: Mutex<Option<Instant>>,
    /// What the last check saw down, so transitions are logged and counted once.
    down: Mutex<(BTreeSet<RaftNodeId>, BTreeSet<String>)>,
    counters: Arc<Counters>,
}

impl Health {
    /// A view for node `me`.
    pub fn new(me: RaftNodeId, failover_after: Duration, counters: Arc<Counters>) -> Arc<Health> {
        let started = Instant::now();
        Arc::new(Health {
            me,
            failover_after,
            started,
            last_ok: Mutex::new(HashMap::new()),
            every: ping_schedule(failover_after).0,
            ticked: Mutex::new(None),
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

    /// Records a successful probe of `node` (a ping's answer, or any answered request).
    pub fn record_ok(&self, node: RaftNodeId) {
        let now = Instant::now();
        let mut last = self.last_ok.lock().unwrap_or_else(|p| p.into_inner());
        let t = last.entry(node).or_insert(now);
        *t = (*t).max(now);
    }

    /// A round of the pinger starts now. If it comes more than [`STALL_INTERVALS`] intervals
    /// after the last, this node was stalled (or starved of CPU) meanwhile: it could neither send
    /// pings nor read answers, so that silence is credited to every peer. Answers the stall
    /// credited, if any.
    pub fn round(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut ticked = self.ticked.lock().unwrap_or_else(|p| p.into_inner());
        // The first round has no last one to be late after.
        let gap = ticked.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        *ticked = Some(now);
        drop(ticked);
        if gap <= self.every * STALL_INTERVALS {
            return None;
        }
        let credit = gap - self.every;
        let mut last = self.last_ok.lock().unwrap_or_else(|p| p.into_inner());
        for t in last.values_mut() {
            *t = (*t + credit).min(now);
        }
        drop(last);
        self.counters.local_stall();
        tracing::info!(event = "local_stall", stalled_ms = credit.as_millis() as u64, "this node's pinger ran late; peers' silence meanwhile is not held against them");
        Some(credit)
    }

    /// The time peers are judged at: now, or at most [`STALL_INTERVALS`] pinger intervals after
    /// its last round (a stalled node does not convict before its pinger has run again).
    fn judged_at(&self) -> Instant {
        let now = Instant::now();
        match *self.ticked.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(ticked) => now.min(ticked + self.every * STALL_INTERVALS),
            None => now,
        }
    }

    /// Whether `node` answered within `failover_after` (or is this node), judged at
    /// [`Self::judged_at`].
    pub fn node_reachable(&self, node: RaftNodeId) -> bool {
        if node == self.me {
            return true;
        }
        let last = self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).get(&node).copied().unwrap_or(self.started);
        self.judged_at().saturating_duration_since(last) < self.failover_after
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
        health.round();
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

    #[tokio::test(start_paused = true)]
    async fn a_stalled_node_does_not_convict_its_peers_for_silence_it_did_not_witness() {
        let failover = Duration::from_millis(400);
        let (every, _) = ping_schedule(failover);
        let counters = Arc::new(Counters::default());
        let health = Health::new(1, failover, counters.clone());
        health.round();
        health.record_ok(2);
        // This node stalls for three windows: no round of its pinger, no answer read.
        tokio::time::advance(failover * 3).await;
        assert!(health.node_reachable(2), "judged before the pinger ran again");
        assert!(health.round().is_some(), "the late round is a stall");
        assert!(health.node_reachable(2), "the stall is not held against the peer");
        assert_eq!(counters.samples().iter().find(|s| s.0 == "svea_failure_detector_stalls").map(|s| s.3), Some(1));
        // Now a silence the pinger witnesses, round after round: the peer is convicted.
        for _ in 0..PINGS_PER_FAILOVER_WINDOW + 1 {
            tokio::time::advance(every).await;
            assert!(health.round().is_none(), "rounds on time are no stall");
        }
        assert!(!health.node_reachable(2), "a peer silent for a whole witnessed window is down");
        // Any answer brings it back at once.
        health.record_ok(2);
        assert!(health.node_reachable(2));
    }

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
