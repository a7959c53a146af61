//! A Raft group per region on three nodes over one QUIC transport each: every group elects its
//! leader, a command written in one group is applied in that group only, and a group whose
//! leadership left its home region gets it back.

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use svea_cluster::network::QuicNetwork;
use svea_cluster::tls::{self, Identity};
use svea_cluster::transport::{Transport, TransportSettings};
use svea_cluster::{ClusterNode, Placement, Placer};
use svea_config::loopback::{Cluster, Node};
use svea_config::Config;
use svea_storage::engine::mem::MemDisk;
use svea_storage::{Command, CommandResult, Owner};

const REGIONS: [&str; 3] = ["stockholm", "gothenburg", "malmo"];
/// Bound on every wait for the cluster to get somewhere (elections, hand-overs).
const SETTLE: Duration = Duration::from_secs(20);

/// A free UDP port on loopback (bound, read, released).
fn free_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind").local_addr().expect("addr").port()
}

fn configs(dir: &std::path::Path) -> Vec<Config> {
    let ca = tls::generate_ca("groups").expect("ca");
    std::fs::write(dir.join("ca.pem"), &ca.cert_pem).expect("write ca");
    let nodes: Vec<Node> = REGIONS
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let (cert, key) = tls::generate_node_cert(&ca, i as u64 + 1, region).expect("cert");
            std::fs::write(dir.join(format!("{region}.pem")), cert).expect("write cert");
            std::fs::write(dir.join(format!("{region}.key")), key).expect("write key");
            Node::loopback(i as u64 + 1, region, free_port(), free_port())
        })
        .collect();
    Cluster::new("groups", nodes)
        .dir(dir)
        .tls(dir)
        .configs()
        .expect("configs")
        .into_iter()
        .map(|raw| raw.validate().expect("valid config"))
        .collect()
}

/// The test's placement: a key ending in a digit lives in that group, anything else in group 0.
struct LastDigit;

fn last_digit(key: &str) -> u16 {
    key.chars().last().and_then(|c| c.to_digit(10)).map_or(0, |d| d as u16)
}

impl Placer for LastDigit {
    fn actor(&self, actor: &str) -> u16 {
        last_digit(actor)
    }
    fn index(&self, key: &str) -> Placement {
        Placement::Group(last_digit(key))
    }
    fn index_prefix(&self, _: &str) -> Placement {
        Placement::Every
    }
}

async fn start(cfg: &Config) -> ClusterNode {
    let identity = Identity::load(&cfg.tls.ca_cert, &cfg.tls.node_cert, &cfg.tls.node_key).expect("identity");
    let t: Arc<Transport> = Transport::bind(cfg.node.raft_listen_addr, &identity, TransportSettings::from_config(cfg)).expect("bind");
    for m in cfg.initial_members() {
        if m.id != cfg.node.id {
            t.set_peer_addr(m.id.get(), m.raft_addr);
        }
    }
    let disk = MemDisk::new();
    let stores = svea_storage::open_in_memory_groups(&disk, Duration::from_secs(5), 3).expect("stores");
    let homes = REGIONS.iter().map(|r| Some(r.to_string())).collect();
    let network = QuicNetwork::new(t.clone());
    let node = ClusterNode::start_groups(cfg, stores, homes, |g| network.in_group(g), Some(t), Arc::new(LastDigit)).await.expect("start");
    node.bootstrap_if_new(&cfg.initial_members()).await.expect("bootstrap");
    node
}

/// Waits until every node sees `leader` lead `group`.
async fn wait_leader(nodes: &[ClusterNode], group: u16, leader: u64) {
    let all = async {
        loop {
            if nodes.iter().all(|n| n.group(group).expect("group").leader() == Some(leader)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(SETTLE, all).await.is_err() {
        let seen: Vec<_> = nodes.iter().map(|n| n.group(group).expect("group").leader()).collect();
        panic!("group {group}: wanted leader {leader} everywhere, nodes see {seen:?}");
    }
}

/// Starts the three nodes (files under `dir`) and waits until each group is led from home.
async fn start_all(dir: &std::path::Path) -> Vec<ClusterNode> {
    let mut nodes = Vec::new();
    for cfg in &configs(dir) {
        nodes.push(start(cfg).await);
    }
    // Group g's home is REGIONS[g], where node g + 1 lives: it leads from the start.
    for g in 0..3u16 {
        wait_leader(&nodes, g, u64::from(g) + 1).await;
    }
    nodes
}

#[tokio::test(flavor = "current_thread")]
async fn each_region_leads_its_own_group_and_gets_it_back_after_losing_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let nodes = start_all(dir.path()).await;

    // A write through any node lands in the group its key is placed in, and only there; the
    // node's view reads it from there.
    for g in 0..3u16 {
        let via = &nodes[(usize::from(g) + 1) % 3];
        let actor = format!("session/in-group-{g}");
        let c = via.write(Command::Claim { actor: actor.clone(), node: via.id(), expected_epoch: 0 }).await;
        assert!(matches!(c.expect("write").result, CommandResult::Claimed(_)), "group {g}");
        for n in &nodes {
            n.read_barrier().await.expect("barrier");
            assert_eq!(n.view().owner(&actor).expect("read"), Some(Owner { node: via.id(), epoch: 1 }));
            for other in 0..3u16 {
                let owner = n.group(other).expect("group").view().owner(&actor).expect("read");
                let want = (other == g).then_some(Owner { node: via.id(), epoch: 1 });
                assert_eq!(owner, want, "node {} group {other} reading {actor}", n.id());
            }
        }
    }
    // A command whose records belong to two groups is refused before anything is proposed.
    let put = Command::Put {
        actor: "session/in-group-1".into(),
        node: 2,
        epoch: 1,
        expected_version: 0,
        state: b"s".to_vec(),
        index_writes: vec![svea_storage::IndexWrite { key: "record-2".into(), value: b"v".to_vec(), mode: svea_storage::IndexMode::Upsert }],
        index_deletes: vec![],
    };
    let refused = nodes[1].write(put).await.err().expect("refused");
    assert!(matches!(refused, svea_cluster::Error::CrossGroup { .. }), "{refused}");

    // Gothenburg's group loses its leadership to Stockholm (the drain's hand-over); with its
    // home node reachable and caught up, the leadership goes back home by itself.
    nodes[1].group(1).expect("group").transfer_leadership(1).await.expect("hand over");
    assert_eq!(nodes[0].group(1).expect("group").leader(), Some(1));
    wait_leader(&nodes, 1, 2).await;
    let home_transfers = nodes[0].counters().samples().into_iter().find(|s| s.0 == "svea_leadership_home_transfers").map(|s| s.3);
    assert_eq!(home_transfers, Some(1), "stockholm counted the hand-back");
    // The other groups kept their leaders throughout.
    wait_leader(&nodes, 0, 1).await;
    wait_leader(&nodes, 2, 3).await;

    for n in &nodes {
        n.shutdown().await.expect("shutdown");
    }
}

/// Issue 22, backups of a node running several groups: a cut of every group, each holding every
/// write acknowledged in it before the cut (through any node), in its own section only.
#[tokio::test(flavor = "current_thread")]
async fn a_backup_cut_holds_every_groups_acknowledged_writes_in_that_groups_section() {
    let dir = tempfile::tempdir().expect("tmp");
    let nodes = start_all(dir.path()).await;
    // Three writes per group, through each node; the last ones through the leaders of groups 0
    // and 1, acknowledged once the leader applied them, so Malmö (a follower of both) has
    // likely not applied them yet when it takes the cut: its cut needs the barrier in each.
    let mut written = Vec::new();
    for n in 0..3usize {
        for g in [2, 0, 1u16] {
            let via = &nodes[(usize::from(g) + 1 + n) % 3];
            let actor = format!("session/backup-{n}-in-{g}");
            let c = via.write(Command::Claim { actor: actor.clone(), node: via.id(), expected_epoch: 0 }).await.expect("write");
            written.push((g, actor, c.index));
        }
    }
    let sections = nodes[2].backup_cut().await.expect("cut");
    assert_eq!(sections.iter().map(|s| s.group).collect::<Vec<_>>(), vec![0, 1, 2], "a section per group, in order");
    for (g, actor, index) in &written {
        for s in &sections {
            let holds = s.pairs.iter().any(|(k, _)| k == &svea_storage::machine::owner_key(actor));
            assert_eq!(holds, s.group == *g, "section {} holding {actor}, written in group {g}", s.group);
        }
        let applied = sections[usize::from(*g)].applied.expect("group applied something").index;
        assert!(applied >= *index, "group {g}'s cut at {applied}, before the acknowledged write at {index}");
    }
    // The cut encodes as a backup that names each group's cut.
    let mut file = Vec::new();
    let meta = svea_storage::backup::BackupMeta { cluster: "groups".into(), storage_format: svea_storage::FORMAT, created_at_ms: 0, node: 3, groups: Vec::new() };
    svea_storage::backup::write_all(meta, sections.clone(), &mut file).expect("encode");
    let read = svea_storage::backup::verify(&file[..], file.len() as u64).expect("verify");
    assert_eq!(read.groups, sections.iter().map(svea_storage::backup::Section::cut).collect::<Vec<_>>());

    for n in &nodes {
        n.shutdown().await.expect("shutdown");
    }
}
