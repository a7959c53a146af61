//! Counters of cluster events (failover, membership, leadership), read by the node's `/metrics`
//! ([`Counters::samples`]). One set per node, so several nodes in one process (the
//! simulations) keep their own.

use std::sync::atomic::{AtomicU64, Ordering};

/// One counter sample: family name (without `_total`), help, optional label, value.
pub type CounterSample = (&'static str, &'static str, Option<(&'static str, &'static str)>, u64);

/// Event counters of one node. All monotonic.
#[derive(Debug, Default)]
pub struct Counters {
    leader_changes: AtomicU64,
    peer_down: AtomicU64,
    peer_up: AtomicU64,
    region_down: AtomicU64,
    region_up: AtomicU64,
    local_stalls: AtomicU64,
    actor_takeovers: AtomicU64,
    actor_handoffs: AtomicU64,
    leadership_transfers: AtomicU64,
    leadership_home: AtomicU64,
    add_learner: AtomicU64,
    promote: AtomicU64,
    set_draining: AtomicU64,
    remove: AtomicU64,
    read_index_rounds: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The leader this node follows changed (including to "none").
    pub fn leader_changed(&self) {
        bump(&self.leader_changes);
    }
    /// A peer became unreachable.
    pub fn peer_down(&self) {
        bump(&self.peer_down);
    }
    /// A peer became reachable again.
    pub fn peer_up(&self) {
        bump(&self.peer_up);
    }
    /// Every node of a region became unreachable: its traffic fails over.
    pub fn region_down(&self) {
        bump(&self.region_down);
    }
    /// A region became reachable again.
    pub fn region_up(&self) {
        bump(&self.region_up);
    }
    /// This node's failure detector found itself stalled (and forgave its peers that silence).
    pub fn local_stall(&self) {
        bump(&self.local_stalls);
    }
    /// This node claimed an actor from an unreachable owner.
    pub fn actor_takeover(&self) {
        bump(&self.actor_takeovers);
    }
    /// This node handed an actor it owned to another node (drain).
    pub fn actor_handoff(&self) {
        bump(&self.actor_handoffs);
    }
    /// This node handed leadership to another voter.
    pub fn leadership_transfer(&self) {
        bump(&self.leadership_transfers);
    }
    /// This node handed a group's leadership back to a node of the group's home region.
    pub fn leadership_home(&self) {
        bump(&self.leadership_home);
    }
    /// A membership change this node made as leader (`op` as in `MembershipOp::name`).
    pub fn membership_change(&self, op: &str) {
        match op {
            "add_learner" => bump(&self.add_learner),
            "promote" => bump(&self.promote),
            "set_draining" => bump(&self.set_draining),
            _ => bump(&self.remove),
        }
    }

    /// This node started a read-index round (a quorum check as leader, a request to the leader
    /// as follower); concurrent read barriers share one.
    pub fn read_index_round(&self) {
        bump(&self.read_index_rounds);
    }

    /// Read-index rounds started so far.
    pub fn read_index_rounds(&self) -> u64 {
        self.read_index_rounds.load(Ordering::Relaxed)
    }

    /// Every counter as `(family, help, label, value)`: a family's name without the `_total`
    /// suffix the exposition adds; a family with a label (`op`) has one sample per value, its
    /// help on the first only. `/metrics` encodes them.
    pub fn samples(&self) -> Vec<CounterSample> {
        let v = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let op = |name| Some(("op", name));
        vec![
            ("svea_leader_changes", "Times the leader this node follows changed", None, v(&self.leader_changes)),
            ("svea_peer_down", "Peers declared unreachable after failover_after of silence", None, v(&self.peer_down)),
            ("svea_failure_detector_stalls", "Rounds of the failure detector that found this node stalled (the silence meanwhile was not held against peers)", None, v(&self.local_stalls)),
            ("svea_peer_up", "Peers reachable again after being declared down", None, v(&self.peer_up)),
            ("svea_region_down", "Regions failed over: every node unreachable", None, v(&self.region_down)),
            ("svea_region_up", "Regions reachable again after a failover", None, v(&self.region_up)),
            ("svea_actor_takeovers", "Actors claimed by this node from an unreachable owner", None, v(&self.actor_takeovers)),
            ("svea_actor_handoffs", "Actors this node handed to another node while draining", None, v(&self.actor_handoffs)),
            ("svea_leadership_transfers", "Leadership handed by this node to another voter", None, v(&self.leadership_transfers)),
            ("svea_leadership_home_transfers", "Group leaderships this node handed back to the group's home region", None, v(&self.leadership_home)),
            ("svea_membership_changes", "Membership changes made by this node as leader", op("add_learner"), v(&self.add_learner)),
            ("svea_membership_changes", "", op("promote"), v(&self.promote)),
            ("svea_membership_changes", "", op("set_draining"), v(&self.set_draining)),
            ("svea_membership_changes", "", op("remove"), v(&self.remove)),
            ("svea_read_index_rounds", "Read-index rounds started (shared by concurrent read barriers)", None, v(&self.read_index_rounds)),
        ]
    }
}
