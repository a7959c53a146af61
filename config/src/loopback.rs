//! The configs of a cluster whose nodes share one machine: `svea demo`, the simulation tools and
//! hosts, and the integration tests. Each node's [`RawConfig`] lists every node as an initial
//! member; files are written by serializing it, so paths and strings are escaped by the TOML
//! serializer.
//!
//! ```
//! use svea_config::loopback::{Cluster, Node};
//! let cluster = Cluster::new("svea-demo", [
//!     Node::loopback(1, "stockholm", 8080, 9080),
//!     Node::loopback(2, "gothenburg", 8081, 9081).set("geo.trusted_proxies", "127.0.0.1"),
//! ])
//! .dir("/tmp/svea-demo".as_ref())
//! .tls("/tmp/svea-demo/tls".as_ref())
//! .set("timeouts.failover_after_ms", "1000");
//! let configs = cluster.configs()?;
//! let config = configs[1].clone().validate()?;
//! assert_eq!(config.node.data_dir, std::path::Path::new("/tmp/svea-demo/gothenburg/data"));
//! assert_eq!(config.tls.node_cert, std::path::Path::new("/tmp/svea-demo/tls/gothenburg.pem"));
//! assert_eq!(config.initial_members().len(), 2);
//! assert_eq!(config.privacy.device_key, configs[0].clone().validate()?.privacy.device_key);
//! # Ok::<(), svea_config::Error>(())
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::raw::{RawCluster, RawConfig, RawMember, RawTls};
use crate::Error;

/// Per-address request rate of a loopback cluster: far above what one machine's tools can send.
pub const LOOPBACK_REQUESTS_PER_SECOND: u32 = 1_000_000;

/// Concurrent connections per address of a loopback cluster: every tool's client is 127.0.0.1.
pub const LOOPBACK_CONNECTIONS_PER_ADDRESS: u32 = 100_000;
/// Rewarded sessions per client network and business a day in a loopback cluster: every client
/// is 127.0.0.1, one network, so the production limit would stop the tools after three rewards.
pub const LOOPBACK_REWARDED_SESSIONS_PER_NETWORK_DAY: u32 = 1_000_000;

/// Name of the config file in each node's directory.
pub const CONFIG_FILE_NAME: &str = "svea.toml";

/// One node: its identity, where it listens and what it advertises, and overrides of its own.
#[derive(Debug, Clone)]
pub struct Node {
    id: u64,
    region: String,
    label: String,
    http_addr: SocketAddr,
    raft_addr: SocketAddr,
    raft_listen_addr: Option<SocketAddr>,
    public_url: String,
    operator_addr: Option<SocketAddr>,
    overrides: Vec<(String, String)>,
}

impl Node {
    /// Node `id` of `region`, serving HTTP at `http_addr` (public URL `http://<http_addr>`) and
    /// Raft at `raft_addr`. Its label, the name of its directory and TLS files, is the region.
    pub fn new(id: u64, region: &str, http_addr: SocketAddr, raft_addr: SocketAddr) -> Node {
        Node {
            id,
            region: region.to_owned(),
            label: region.to_owned(),
            http_addr,
            raft_addr,
            raft_listen_addr: None,
            public_url: format!("http://{http_addr}"),
            operator_addr: None,
            overrides: Vec::new(),
        }
    }

    /// [`Node::new`] on 127.0.0.1 with these ports.
    pub fn loopback(id: u64, region: &str, http_port: u16, raft_port: u16) -> Node {
        let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Node::new(id, region, at(http_port), at(raft_port))
    }

    /// Name of the node's directory and of its TLS files (`<label>.pem`, `<label>.key`) instead
    /// of the region, for a second node of one region.
    pub fn label(mut self, label: &str) -> Node {
        label.clone_into(&mut self.label);
        self
    }

    /// Bind Raft here while peers reach it at the advertised address (behind a proxy).
    pub fn raft_listen_addr(mut self, addr: SocketAddr) -> Node {
        self.raft_listen_addr = Some(addr);
        self
    }

    /// The base URL customers are sent to, instead of `http://<http_addr>`.
    pub fn public_url(mut self, url: &str) -> Node {
        url.clone_into(&mut self.public_url);
        self
    }

    /// The operator listener on 127.0.0.1 at `port` (`operator.listen_addr`): several nodes on
    /// one machine each need their own.
    pub fn operator_port(mut self, port: u16) -> Node {
        self.operator_addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        self
    }

    /// Override a dotted key for this node only (applied after the cluster's), as
    /// [`RawConfig::set`] does.
    pub fn set(mut self, key: &str, value: &str) -> Node {
        self.overrides.push((key.to_owned(), value.to_owned()));
        self
    }

    /// [`Node::set`] for each pair in order.
    pub fn set_all(self, overrides: &[(&str, &str)]) -> Node {
        overrides.iter().fold(self, |node, (key, value)| node.set(key, value))
    }

    fn member(&self) -> RawMember {
        RawMember {
            id: self.id,
            region: self.region.clone(),
            raft_addr: self.raft_addr.to_string(),
            http_addr: self.http_addr.to_string(),
            public_url: self.public_url.clone(),
        }
    }
}

/// The nodes of one cluster and what their configs share.
#[derive(Debug, Clone)]
pub struct Cluster {
    name: String,
    nodes: Vec<Node>,
    dir: Option<PathBuf>,
    tls: Option<PathBuf>,
    overrides: Vec<(String, String)>,
}

impl Cluster {
    /// The cluster `name` of these nodes, in the order of its initial members.
    pub fn new(name: &str, nodes: impl IntoIterator<Item = Node>) -> Cluster {
        Cluster {
            name: name.to_owned(),
            nodes: nodes.into_iter().collect(),
            dir: None,
            tls: None,
            overrides: Vec::new(),
        }
    }

    /// One more node, last in the initial members.
    pub fn node(mut self, node: Node) -> Cluster {
        self.nodes.push(node);
        self
    }

    /// Each node lives in `<dir>/<label>/`: its data in `data/`, its config in
    /// [`CONFIG_FILE_NAME`]. Without it `node.data_dir` is left as the overrides make it.
    pub fn dir(mut self, dir: &Path) -> Cluster {
        self.dir = Some(dir.to_owned());
        self
    }

    /// The TLS files as `svea certs --out <dir>` writes them: `<dir>/ca.pem`, `<dir>/<label>.pem`
    /// and `<dir>/<label>.key`. Without it they default to `<data_dir>/tls/`.
    pub fn tls(mut self, dir: &Path) -> Cluster {
        self.tls = Some(dir.to_owned());
        self
    }

    /// Override a dotted key for every node, as [`RawConfig::set`] does.
    pub fn set(mut self, key: &str, value: &str) -> Cluster {
        self.overrides.push((key.to_owned(), value.to_owned()));
        self
    }

    /// [`Cluster::set`] for each pair in order.
    pub fn set_all(self, overrides: &[(&str, &str)]) -> Cluster {
        overrides.iter().fold(self, |cluster, (key, value)| cluster.set(key, value))
    }

    /// Each node's config, in node order: defaults, the node's identity and addresses, every node
    /// as an initial member, data and TLS paths, then the cluster's and the node's overrides.
    pub fn configs(&self) -> Result<Vec<RawConfig>, Error> {
        let members: Vec<RawMember> = self.nodes.iter().map(Node::member).collect();
        self.nodes
            .iter()
            .map(|node| self.config(node, &members))
            .collect()
    }

    fn config(&self, node: &Node, members: &[RawMember]) -> Result<RawConfig, Error> {
        let mut raw = RawConfig::default();
        let me = node.member();
        raw.node.id = me.id;
        raw.node.region = me.region;
        raw.node.raft_addr = me.raft_addr;
        raw.node.raft_listen_addr = node
            .raft_listen_addr
            .map_or_else(String::new, |addr| addr.to_string());
        raw.node.http_addr = me.http_addr;
        raw.node.public_url = me.public_url;
        if let Some(addr) = node.operator_addr {
            raw.operator.listen_addr = addr.to_string();
        }
        if let Some(dir) = &self.dir {
            raw.node.data_dir = path_text("node.data_dir", &dir.join(&node.label).join("data"))?;
        }
        if let Some(tls) = &self.tls {
            let file = |key: &str, name: String| path_text(key, &tls.join(name));
            raw.tls = RawTls {
                ca_cert: file("tls.ca_cert", "ca.pem".to_owned())?,
                node_cert: file("tls.node_cert", format!("{}.pem", node.label))?,
                node_key: file("tls.node_key", format!("{}.key", node.label))?,
                ..raw.tls
            };
        }
        // Every client of a loopback cluster (benchmarks, chaos runs, test harnesses) is
        // 127.0.0.1: one address's bucket would throttle the tools, not an attacker. A test of the
        // limit sets `abuse.requests_per_second` and `abuse.burst` (or the privacy routes' own,
        // `abuse.privacy_requests_per_minute` and `abuse.privacy_burst`) back with an override.
        raw.abuse.requests_per_second = LOOPBACK_REQUESTS_PER_SECOND;
        raw.abuse.burst = LOOPBACK_REQUESTS_PER_SECOND;
        // The same for the sign-up bucket and the per-address connection cap (tests of those
        // limits set them back).
        raw.signup.creations_per_address_hour = crate::signup::CREATIONS_PER_ADDRESS_HOUR_MAX;
        raw.http.connections_per_address_max = LOOPBACK_CONNECTIONS_PER_ADDRESS;
        // The same for rewards per client network: a test of that limit sets
        // `abuse.rewarded_sessions_per_network_day` back.
        raw.abuse.rewarded_sessions_per_network_day = LOOPBACK_REWARDED_SESSIONS_PER_NETWORK_DAY;
        raw.abuse.privacy_requests_per_minute = LOOPBACK_REQUESTS_PER_SECOND;
        raw.abuse.privacy_burst = LOOPBACK_REQUESTS_PER_SECOND;
        raw.cluster = RawCluster {
            name: self.name.clone(),
            initial_members: members.to_vec(),
            ..RawCluster::default()
        };
        raw.privacy.device_key = loopback_device_key(&self.name);
        raw.set_all(self.overrides.iter().chain(&node.overrides).map(|(k, v)| (k, v)))?;
        Ok(raw)
    }

    /// Validates node `index`'s config and writes it to `<dir>/<label>/svea.toml` (creating the
    /// directory) under `header`, each of its lines a TOML comment; returns the file's path.
    /// Needs [`Cluster::dir`].
    ///
    /// # Panics
    /// If `index` is not a node's index.
    pub fn write_node(&self, index: usize, header: &str) -> Result<PathBuf, Error> {
        let members: Vec<RawMember> = self.nodes.iter().map(Node::member).collect();
        let node = &self.nodes[index];
        let raw = self.config(node, &members)?;
        raw.clone().validate()?;
        let Some(dir) = &self.dir else {
            return Err(Error::Write {
                path: PathBuf::from(CONFIG_FILE_NAME),
                source: std::io::Error::other("the cluster has no directory (loopback::Cluster::dir)"),
            });
        };
        let node_dir = dir.join(&node.label);
        let path = node_dir.join(CONFIG_FILE_NAME);
        let mut text: String = header.lines().map(|line| format!("# {line}\n")).collect();
        text.push_str(&raw.to_toml_string()?);
        std::fs::create_dir_all(&node_dir)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// [`Cluster::write_node`] for every node; the paths in node order.
    pub fn write(&self, header: &str) -> Result<Vec<PathBuf>, Error> {
        (0..self.nodes.len())
            .map(|index| self.write_node(index, header))
            .collect()
    }
}

/// The device key of a cluster on one machine: the same on every node (so every node computes the
/// same device hashes), fixed by the cluster's name, and no secret (the configs are for tests, the
/// demo and the tools; a real cluster sets `privacy.device_key` itself).
pub fn loopback_device_key(cluster: &str) -> String {
    format!("svea-loopback-{cluster}-device-key-not-secret")
}

/// A path as config text; a config file is UTF-8, so a path that is not cannot be written in one.
fn path_text(key: &str, path: &Path) -> Result<String, Error> {
    path.to_str().map(str::to_owned).ok_or_else(|| Error::BadValue {
        key: key.to_owned(),
        reason: format!("path {} is not valid utf-8", path.display()),
    })
}
