//! Real `svea` processes on 127.0.0.1: finding or building the binary, certificates, configs,
//! optional UDP delay proxies in front of every node, starting, signalling, restarting and stopping
//! the processes, and the small blocking HTTP client the tools drive them with.
//!
//! Shared by `bench-cluster` (measures) and `chaos` (attacks). With proxies, every node binds its
//! real port (`node.raft_listen_addr`) but advertises its proxy's (`node.raft_addr` and the
//! membership), so all Raft and forwarded-actor traffic between two regions passes a proxy that
//! adds the pair's one-way delay in each direction and can drop or black-hole it.
//!
//! Every process is started with `PR_SET_PDEATHSIG = SIGKILL` from the calling thread: start and
//! restart nodes from a thread that lives as long as the cluster (the tools use their main thread),
//! so a crashed or killed tool leaves no nodes behind.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use serde_json::{json, Value};
use svea_config::loopback::{self, Node};

use crate::udp_proxy::{ProxyConfig, ProxyHandle, SourceSpec, UdpProxy, QUEUE_PACKETS_DEFAULT};

/// The cluster: (node id, region). The region is also the certificate label, and the ids follow
/// the order of `svea certs --nodes`.
pub const NODES: [(u64, &str); 3] = [(1, "stockholm"), (2, "gothenburg"), (3, "malmo")];

/// A place in each region of [`NODES`], in its order: a business located there has that region
/// as its home (and, with a Raft group per region, its group).
pub const PLACES: [(f64, f64); 3] = [(59.3293, 18.0686), (57.7089, 11.9746), (55.6046, 12.9996)];

/// One-way delays between regions in microseconds, the WAN profile the proxies apply.
pub const ONE_WAY_DELAY_US: [(&str, &str, u64); 3] = [
    ("stockholm", "gothenburg", 2_000),
    ("stockholm", "malmo", 2_650),
    ("gothenburg", "malmo", 1_250),
];

/// How long `cargo build --release -p svea-node -p simulations` may take (a cold build on 2 cores is minutes).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long `svea certs` may take.
const CERTS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the cluster may take until every node's `/ready` answers 200.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two rounds of readiness checks (and of child-exit checks while waiting).
pub const POLL: Duration = Duration::from_millis(100);
/// How long a node gets to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(15);
/// Connect limit of one HTTP request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request limit of one HTTP request of [`agent`] (above the node's 5 s write timeout and
/// its 4 routing rounds, so the node's own answer, a 503, arrives before the client gives up).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the proxies' runtime may take to shut down.
const PROXY_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of each node's log shown when something fails.
const LOG_TAIL_LINES: usize = 25;
/// Bytes read from the end of a log for that tail.
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// The one-way delay between two regions of [`NODES`].
pub fn one_way_delay(a: &str, b: &str) -> Duration {
    let us = ONE_WAY_DELAY_US
        .iter()
        .find(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
        .map(|(_, _, us)| *us)
        .expect("ONE_WAY_DELAY_US covers every pair of NODES");
    Duration::from_micros(us)
}

/// Parses `20s`, `1500ms`, `2m` or a bare number of seconds, within `min..=max`.
pub fn parse_duration_within(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20s, 1500ms or 2m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s or m"
            ))
        }
    };
    if !(min..=max).contains(&d) {
        return Err(format!("{text} is outside {min:?}..={max:?}"));
    }
    Ok(d)
}

// ---------- the svea binary ----------

/// The flags of a tool that starts `svea` processes (flattened into its own `Args`).
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs {
    /// The `svea` binary to run; default: build it, then look next to this binary.
    #[arg(long)]
    pub svea_bin: Option<PathBuf>,
    /// Do not run `cargo build --release -p svea-node -p simulations` first.
    #[arg(long)]
    pub no_build: bool,
    /// The nodes' log filter (`log.filter`); their logs go to files in the run directory.
    #[arg(long, default_value = "warn")]
    pub node_log_filter: String,
    /// Keep the run directory (configs, certificates, data, node logs) instead of removing it.
    #[arg(long)]
    pub keep_dir: bool,
    /// The nodes' `cluster.groups`: a Raft group per region, or everything in one group (to
    /// measure what the groups buy).
    #[arg(long, default_value = GROUPS_PER_REGION, value_parser = [GROUPS_PER_REGION, GROUPS_ONE])]
    pub groups: String,
}

/// `--groups per-region`: a Raft group per region, each led from its region.
pub const GROUPS_PER_REGION: &str = "per-region";
/// `--groups one`: one Raft group for the whole cluster.
pub const GROUPS_ONE: &str = "one";

impl ProcessArgs {
    /// The release `svea` binary these flags name ([`svea_binary`]); `tool` prefixes messages.
    pub fn release_binary(&self, tool: &str) -> anyhow::Result<PathBuf> {
        let source = BinarySource { path: self.svea_bin.clone(), no_build: self.no_build, debug: false };
        svea_binary(&source, tool)
    }
}

/// Where the `svea` binary comes from.
#[derive(Debug, Clone, Default)]
pub struct BinarySource {
    /// Use this file.
    pub path: Option<PathBuf>,
    /// Do not run `cargo build [--release] -p svea-node -p simulations` first.
    pub no_build: bool,
    /// Build and use the debug binary (what integration tests use: `cargo test` builds in the
    /// debug profile) instead of the release one.
    pub debug: bool,
}

/// The `svea` binary: `source.path`, else `cargo build [--release] -p svea-node -p simulations` (a no-op when
/// up to date, unless `no_build`) and the binary of that profile next to the running one (or
/// next to its `deps/` folder, for a test binary), else `<workspace>/target/<profile>/svea`.
/// (`CARGO_BIN_EXE_svea` is only set for the package that owns the binary, so it cannot be used
/// here.) `tool` prefixes messages.
pub fn svea_binary(source: &BinarySource, tool: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = &source.path {
        ensure!(
            path.is_file(),
            "--svea-bin {} is not a file",
            path.display()
        );
        return Ok(path.clone());
    }
    let workspace = workspace_dir()?;
    if !source.no_build {
        build_svea(&workspace, tool, source.debug)?;
    }
    let profile = if source.debug { "debug" } else { "release" };
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
    {
        let dir = if dir.ends_with("deps") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        };
        if dir.ends_with(profile) {
            candidates.push(dir.join("svea"));
        }
    }
    candidates.push(workspace.join("target").join(profile).join("svea"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        anyhow!(
            "no {profile} svea binary next to this one or in {}/target/{profile}; run `cargo build{} -p svea-node` or pass --svea-bin",
            workspace.display(),
            if source.debug { "" } else { " --release" }
        )
    })
}

/// The workspace root (the parent of this crate).
pub fn workspace_dir() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the simulations crate has no parent directory")
}

/// The build of the `svea` binary a run uses, its output on our stderr (stdout may carry JSON).
/// It must be a no-op when the binary is current, so it asks for the features of the build that
/// is running us: a debug build is the tests' (`cargo test --workspace`: every package's tests,
/// whose dev-dependencies add features to shared dependencies, so `cargo build -p ...` would
/// rebuild storage, cluster, node and overwrite the binary: 73 s of every CI run); a release
/// build is `cargo run --release -p simulations`'s (`-p svea-node -p simulations`, so the
/// dependencies keep the `planted-bugs` switches, which stay off in `svea` either way).
fn build_svea(workspace: &Path, tool: &str, debug: bool) -> anyhow::Result<()> {
    let args: &[&str] = if debug {
        &["build", "--workspace", "--tests"]
    } else {
        &["build", "--release", "-p", "svea-node", "-p", "simulations"]
    };
    eprintln!("{tool}: cargo {}", args.join(" "));
    // `cargo run` tells its child which cargo it is; fall back to the one on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let stderr = std::io::stderr();
    let out = std::os::fd::AsFd::as_fd(&stderr).try_clone_to_owned()?;
    let mut build = Command::new(cargo);
    // `cargo run` hands us the package variables of `simulations` (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, ...). Build scripts that watch them (ring's does) would see a change and
    // rebuild ring, rustls, quinn and everything above, and the next plain build back again.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if CARGO_RUN_VARS.contains(&name_text.as_ref()) || name_text.starts_with("CARGO_PKG_") {
            build.env_remove(&name);
        }
    }
    let mut child = build
        .args(args)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .spawn()
        .context("cannot run cargo to build svea (or pass --svea-bin / --no-build)")?;
    let status = wait_bounded(&mut child, BUILD_TIMEOUT)?
        .ok_or_else(|| anyhow!("cargo build did not finish within {BUILD_TIMEOUT:?}; killed it"))?;
    ensure!(
        status.success(),
        "cargo {} failed: {status}",
        args.join(" ")
    );
    Ok(())
}

/// Variables `cargo run` sets for the program it runs, besides `CARGO_PKG_*`; not for a nested build.
const CARGO_RUN_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// Waits for `child` at most `limit`; kills it and returns `None` when the limit passes.
pub fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// A `svea` command with no inherited `SVEA_*` variables (they would override the configs we
/// write, and an unknown one makes `svea run` refuse to start), killed if we die.
fn svea_command(svea: &Path) -> Command {
    guarded_command(svea, "SVEA_")
}

/// A command for `program` without the inherited environment variables named `env_prefix*`,
/// killed (SIGKILL) when the thread that spawns it exits; see the module documentation.
pub fn guarded_command(program: &Path, env_prefix: &str) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(env_prefix) {
            cmd.env_remove(name);
        }
    }
    // SAFETY: prctl is async-signal-safe and touches only the child being set up. The parent
    // death signal fires when the spawning thread exits; see the module documentation.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

// ---------- the cluster ----------

/// One `svea run` process.
pub struct NodeProc {
    /// Its region (and certificate label).
    pub region: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its metrics-only listener, `http://127.0.0.1:PORT` (`/metrics` is not on the public port;
    /// send [`METRICS_TOKEN`] as bearer).
    pub metrics_url: String,
    /// Its log file (stdout and stderr, appended across restarts).
    pub log: PathBuf,
    config: PathBuf,
    svea: PathBuf,
    child: Option<Child>,
}

impl NodeProc {
    /// Whether a process is running (or stopped by SIGSTOP) for this node.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        ensure!(
            self.child.is_none(),
            "the {} node is already running",
            self.region
        );
        let file = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let child = svea_command(&self.svea)
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .spawn()
            .with_context(|| format!("cannot start the {} node", self.region))?;
        self.child = Some(child);
        Ok(())
    }

    fn signal(&self, signal: libc::c_int) -> anyhow::Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| anyhow!("the {} node is not running", self.region))?;
        let pid = i32::try_from(child.id())
            .with_context(|| format!("pid {} does not fit kill(2)", child.id()))?;
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        if unsafe { libc::kill(pid, signal) } != 0 {
            bail!(
                "kill({pid}, {signal}) of the {} node: {}",
                self.region,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }
}

/// The three processes; stopped (SIGTERM, then SIGKILL after [`STOP_GRACE`]) on drop at the latest.
pub struct Cluster {
    /// In [`NODES`] order.
    pub nodes: Vec<NodeProc>,
}

impl Cluster {
    /// The index of `region` in [`NODES`].
    pub fn index_of(region: &str) -> anyhow::Result<usize> {
        NODES.iter().position(|(_, r)| *r == region).ok_or_else(|| {
            anyhow!(
                "unknown region {region:?}; one of {}",
                NODES.map(|(_, r)| r).join(", ")
            )
        })
    }

    /// The nodes' URLs in [`NODES`] order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }

    /// Each node's metrics listener, in node order ([`NodeProc::metrics_url`]).
    pub fn metrics_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.metrics_url.clone()).collect()
    }

    /// SIGKILL node `i` and reap it: no shutdown, no flush.
    pub fn kill9(&mut self, i: usize) -> anyhow::Result<()> {
        let n = &mut self.nodes[i];
        n.signal(libc::SIGKILL)?;
        if let Some(mut c) = n.child.take() {
            wait_bounded(&mut c, STOP_GRACE)?;
        }
        Ok(())
    }

    /// SIGSTOP node `i`: frozen like a stalled machine, its sockets stay open.
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes[i].signal(libc::SIGSTOP)
    }

    /// SIGCONT node `i` after [`Cluster::pause`].
    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes[i].signal(libc::SIGCONT)
    }

    /// SIGTERM node `i` and wait up to [`STOP_GRACE`] (then SIGKILL); returns how it stopped.
    pub fn terminate(&mut self, i: usize) -> anyhow::Result<String> {
        let n = &mut self.nodes[i];
        n.signal(libc::SIGTERM)?;
        let mut c = n.child.take().expect("signal() checked the child is there");
        Ok(match wait_bounded(&mut c, STOP_GRACE)? {
            Some(status) => format!("{} {status} after SIGTERM", n.region),
            None => format!(
                "{} killed: not stopped {STOP_GRACE:?} after SIGTERM",
                n.region
            ),
        })
    }

    /// Starts node `i` again with the same config and data (after [`Cluster::kill9`] or
    /// [`Cluster::terminate`]); its log is appended to.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes[i].spawn()
    }

    /// Stops every node still running; returns how each one stopped.
    pub fn stop(&mut self) -> Vec<String> {
        for n in &self.nodes {
            if n.child.is_some() {
                // A paused node must run again to handle SIGTERM.
                for signal in [libc::SIGCONT, libc::SIGTERM] {
                    if let Err(e) = n.signal(signal) {
                        eprintln!("warning: {e}");
                    }
                }
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut how = Vec::new();
        for n in &mut self.nodes {
            let Some(mut c) = n.child.take() else {
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match wait_bounded(&mut c, left) {
                Ok(Some(status)) => how.push(format!("{} {status} after SIGTERM", n.region)),
                _ => how.push(format!(
                    "{} killed: not stopped {STOP_GRACE:?} after SIGTERM",
                    n.region
                )),
            }
        }
        how
    }

    /// Fails if a node has exited on its own, naming it and showing its log.
    pub fn check_alive(&mut self, hint: &str) -> anyhow::Result<()> {
        for n in &mut self.nodes {
            if let Some(c) = n.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    n.child = None;
                    bail!(
                        "the {} node exited ({status}){hint}; last lines of {}:\n{}",
                        n.region,
                        n.log.display(),
                        log_tail(&n.log)
                    );
                }
            }
        }
        Ok(())
    }

    /// The last lines of every node's log.
    pub fn logs_tail(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "--- {} ({}):\n{}",
                    n.region,
                    n.log.display(),
                    log_tail(&n.log)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last [`LOG_TAIL_LINES`] lines of the log at `path` (or why it cannot be read).
pub fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        Ok(lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"))
    };
    read().unwrap_or_else(|e| format!("(cannot read: {e})"))
}

/// Where one node listens and what it advertises.
struct Ports {
    http: SocketAddr,
    /// The metrics-only listener (`operator.metrics_listen_addr`).
    metrics: SocketAddr,
    /// The address the node binds for Raft/QUIC.
    raft_listen: SocketAddr,
    /// The address in the membership: `raft_listen`, or the node's proxy.
    raft_advertised: SocketAddr,
}

/// Free loopback ports: `tcp` TCP and `udp` UDP ones, all distinct (each probe socket is held
/// until all are picked). Another process could take one before a node binds it; a node that
/// cannot bind exits, and the tool reports that.
pub fn free_ports(tcp: usize, udp: usize) -> anyhow::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a literal socket address");
    let tcp: Vec<TcpListener> = (0..tcp)
        .map(|_| TcpListener::bind(loopback))
        .collect::<Result<_, _>>()?;
    let udp: Vec<UdpSocket> = (0..udp)
        .map(|_| UdpSocket::bind(loopback))
        .collect::<Result<_, _>>()?;
    let tcp = tcp
        .iter()
        .map(TcpListener::local_addr)
        .collect::<Result<_, _>>()?;
    let udp = udp
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<Result<_, _>>()?;
    Ok((tcp, udp))
}

/// The scrape token of the tools' clusters (`operator.metrics_token`): no secret, the clusters
/// run on loopback for a benchmark.
pub const METRICS_TOKEN: &str = "svea-bench-metrics-token-not-secret";

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Prefix of messages (the tool's name) and part of the cluster name.
    pub tool: &'static str,
    /// Put a [`UdpProxy`] in front of every node.
    pub proxies: bool,
    /// `node.routing`: `serve` or `redirect`.
    pub routing: &'static str,
    /// `log.filter` of the nodes.
    pub log_filter: String,
    /// `cluster.groups` of the nodes ([`GROUPS_PER_REGION`] or [`GROUPS_ONE`]).
    pub groups: String,
}

fn write_configs(
    dir: &Path,
    tls: &Path,
    ports: &[Ports],
    spec: &ClusterSpec,
) -> anyhow::Result<Vec<PathBuf>> {
    // Without proxies the two Raft addresses are one, and raft_listen_addr = raft_addr says so.
    let nodes = NODES.iter().zip(ports).map(|((id, region), p)| {
        Node::new(*id, region, p.http, p.raft_advertised)
            .raft_listen_addr(p.raft_listen)
            .set("operator.metrics_listen_addr", &p.metrics.to_string())
    });
    let paths = loopback::Cluster::new("svea-bench", nodes)
        .dir(dir)
        .tls(tls)
        .set("operator.metrics_token", METRICS_TOKEN)
        .set("node.routing", spec.routing)
        .set("log.filter", &spec.log_filter)
        .set("cluster.groups", &spec.groups)
        .write(&format!("Written by `simulations {}`.", spec.tool))?;
    Ok(paths)
}

/// The proxies and the runtime they run on; stopped on drop.
pub struct Proxies {
    runtime: Option<tokio::runtime::Runtime>,
    proxies: Vec<UdpProxy>,
    /// The nodes' real Raft addresses (the proxies' targets, and the sources the proxies know).
    pub real: Vec<SocketAddr>,
}

impl Proxies {
    /// One proxy per node, listening on a fresh loopback port, forwarding to `real[i]`, with the
    /// pair delays for the other two nodes as known sources.
    fn start(real: &[SocketAddr]) -> anyhow::Result<Proxies> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("udp-proxy")
            .enable_all()
            .build()
            .context("cannot start the proxies' runtime")?;
        let mut proxies = Vec::new();
        for (i, (_, region)) in NODES.iter().enumerate() {
            let sources = NODES
                .iter()
                .zip(real)
                .filter(|((_, other), _)| other != region)
                .map(|((_, other), addr)| SourceSpec {
                    name: (*other).to_owned(),
                    addr: *addr,
                    one_way_delay: one_way_delay(region, other),
                })
                .collect();
            let config = ProxyConfig {
                name: (*region).to_owned(),
                listen: "127.0.0.1:0".parse().expect("a literal socket address"),
                target: real[i],
                sources,
                unknown_source_delay: None,
                queue_packets_max: QUEUE_PACKETS_DEFAULT,
                seed: i as u64,
            };
            proxies.push(runtime.block_on(UdpProxy::start(config))?);
        }
        Ok(Proxies {
            runtime: Some(runtime),
            proxies,
            real: real.to_vec(),
        })
    }

    /// Controls of every proxy, in [`NODES`] order (proxy `i` stands in front of node `i`).
    pub fn handles(&self) -> Vec<ProxyHandle> {
        self.proxies.iter().map(UdpProxy::handle).collect()
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        self.proxies.clear();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(PROXY_SHUTDOWN_TIMEOUT);
        }
    }
}

/// A started cluster. Field order matters: the nodes stop before the proxies.
pub struct Running {
    /// The processes.
    pub cluster: Cluster,
    /// The proxies, when [`ClusterSpec::proxies`].
    pub proxies: Option<Proxies>,
    /// `/ready` of every node once all answered 200.
    pub ready: Vec<Value>,
    /// From the first spawn to all ready.
    pub ready_after: Duration,
}

/// Certificates, ports, proxies, configs, three `svea run` processes under `dir`, and waits until
/// every node is ready (within [`READY_TIMEOUT`]).
pub fn start(svea: &Path, dir: &Path, spec: &ClusterSpec) -> anyhow::Result<Running> {
    let tls = dir.join("tls");
    let mut certs = svea_command(svea);
    certs
        .args(["certs", "--cluster-name", "svea-bench", "--out"])
        .arg(&tls)
        .arg("--nodes");
    certs
        .args(NODES.iter().map(|(_, r)| *r))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut child = certs
        .spawn()
        .with_context(|| format!("cannot run {} certs", svea.display()))?;
    let status = wait_bounded(&mut child, CERTS_TIMEOUT)?
        .ok_or_else(|| anyhow!("svea certs did not finish in time"))?;
    ensure!(status.success(), "svea certs failed: {status}");

    let (tcp, raft) = free_ports(2 * NODES.len(), NODES.len())?;
    let (http, metrics) = tcp.split_at(NODES.len());
    let proxies = if spec.proxies {
        Some(Proxies::start(&raft)?)
    } else {
        None
    };
    let ports: Vec<Ports> = (0..NODES.len())
        .map(|i| Ports {
            http: http[i],
            metrics: metrics[i],
            raft_listen: raft[i],
            raft_advertised: proxies
                .as_ref()
                .map_or(raft[i], |p| p.proxies[i].listen_addr()),
        })
        .collect();
    let configs = write_configs(dir, &tls, &ports, spec)?;
    let hint = if spec.proxies {
        " (behind proxies each node must bind node.raft_listen_addr and advertise node.raft_addr; \
          a svea built before that change binds the proxy's port and fails)"
    } else {
        ""
    };

    let mut cluster = Cluster { nodes: Vec::new() };
    let start = Instant::now();
    for (((_, region), config), p) in NODES.iter().zip(configs).zip(&ports) {
        let mut node = NodeProc {
            region,
            url: format!("http://{}", p.http),
            metrics_url: format!("http://{}", p.metrics),
            log: dir.join(region).join("node.log"),
            config,
            svea: svea.to_path_buf(),
            child: None,
        };
        node.spawn()?;
        cluster.nodes.push(node);
    }
    let ready = wait_ready(&mut cluster, hint)?;
    Ok(Running {
        cluster,
        proxies,
        ready,
        ready_after: start.elapsed(),
    })
}

// ---------- HTTP ----------

/// What one request came to.
pub enum Outcome {
    /// 2xx, with the JSON body.
    Ok(Value),
    /// 3xx with a `Location` (ureq does not follow a 307 for a request with a body).
    Redirect(String),
    /// Any other status.
    Status(u16),
    /// No HTTP answer: connect failure, timeout, reset, unreadable body.
    Transport(String),
}

/// An HTTP answer with its body (problem+json for errors; `Value::Null` when not JSON).
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Location` of a 3xx.
    pub location: Option<String>,
    /// The body as JSON.
    pub body: Value,
}

/// No HTTP answer.
pub struct TransportError {
    /// The connection could not be made: certainly nothing was sent.
    pub not_sent: bool,
    /// What happened.
    pub message: String,
}

/// A blocking HTTP client with [`REQUEST_TIMEOUT`].
pub fn agent() -> ureq::Agent {
    agent_with_timeout(REQUEST_TIMEOUT)
}

/// A blocking HTTP client whose requests give up after `timeout`.
pub fn agent_with_timeout(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .build()
}

/// One request; any status is a [`Reply`], only a missing answer is an error.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Reply, TransportError> {
    send_as(agent, method, url, body, None)
}

/// [`send`] with `Authorization: Bearer <bearer>` (a business's API key), if given.
pub fn send_as(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
    bearer: Option<&str>,
) -> Result<Reply, TransportError> {
    let mut req = agent.request(method, url);
    if let Some(token) = bearer {
        req = req.set("Authorization", &format!("Bearer {token}"));
    }
    let sent = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match sent {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(ureq::Error::Transport(t)) => {
            let not_sent = matches!(
                t.kind(),
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns
            );
            return Err(TransportError {
                not_sent,
                message: t.to_string(),
            });
        }
    };
    let status = resp.status();
    let location = resp.header("location").map(str::to_owned);
    // Read the whole body (also of errors) so the connection can be reused.
    match resp.into_string() {
        Ok(text) => Ok(Reply {
            status,
            location,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }),
        Err(e) => Err(TransportError {
            not_sent: false,
            message: format!("unreadable body: {e}"),
        }),
    }
}

/// One request, summarized as an [`Outcome`].
pub fn request(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Outcome {
    request_as(agent, method, url, body, None)
}

/// [`request`] with a business's API key.
pub fn request_as(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>, bearer: Option<&str>) -> Outcome {
    match send_as(agent, method, url, body, bearer) {
        Ok(r) if (300..400).contains(&r.status) => r
            .location
            .map_or(Outcome::Status(r.status), Outcome::Redirect),
        Ok(r) if (200..300).contains(&r.status) => match r.body {
            Value::Null => Outcome::Transport("unreadable body: not JSON".into()),
            body => Outcome::Ok(body),
        },
        Ok(r) => Outcome::Status(r.status),
        Err(e) => Outcome::Transport(e.message),
    }
}

/// Whether node `url` answers `/ready` with 200 within [`PROBE_TIMEOUT`]; its answer if so.
pub fn probe_ready(url: &str) -> Option<Value> {
    let agent = agent_with_timeout(PROBE_TIMEOUT);
    match request(&agent, "GET", &format!("{url}/ready"), None) {
        Outcome::Ok(v) => Some(v),
        _ => None,
    }
}

/// Leader and term as `/ready` reports them, once every node answers 200, within [`READY_TIMEOUT`].
pub fn wait_ready(cluster: &mut Cluster, hint: &str) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        cluster.check_alive(hint)?;
        let answers: Vec<Option<Value>> =
            cluster.nodes.iter().map(|n| probe_ready(&n.url)).collect();
        if answers.iter().all(Option::is_some) {
            return Ok(answers.into_iter().flatten().collect());
        }
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = cluster
                .nodes
                .iter()
                .zip(&answers)
                .filter(|(_, a)| a.is_none())
                .map(|(n, _)| n.region)
                .collect();
            bail!(
                "not ready within {READY_TIMEOUT:?}: {}{hint}\n{}",
                waiting.join(", "),
                cluster.logs_tail()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// One business in Malmö (at Lilla Torg) with `budget_sek`: (id, the QR token of its location).
pub fn create_business(
    url: &str,
    name: &str,
    budget_sek: &str,
) -> anyhow::Result<CreatedBusiness> {
    create_business_at(url, name, budget_sek, (55.6046, 12.9996))
}

/// A business as its creator knows it.
#[derive(Debug, Clone)]
pub struct CreatedBusiness {
    /// Its id.
    pub id: String,
    /// The QR token of its (one) location.
    pub token: String,
    /// Its API key (`Authorization: Bearer` for its analytics).
    pub key: String,
}

/// Serial of the next organisation number this process registers (each registers once).
static NEXT_ORG_NUMBER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// One business with one location at `(lat, lon)` and `budget_sek`, created through the node at
/// `url` (whose node then owns its actor): (id, the QR token of its location).
pub fn create_business_at(
    url: &str,
    name: &str,
    budget_sek: &str,
    (lat, lon): (f64, f64),
) -> anyhow::Result<CreatedBusiness> {
    let serial = NEXT_ORG_NUMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = json!({
        "name": name,
        "org_number": svea_node::domain::OrgNumber::numbered(serial).to_string(),
        "locations": [{"name": "Storgatan", "lat": lat, "lon": lon}],
        "reward_budget_sek": budget_sek,
    });
    match request(
        &agent(),
        "POST",
        &format!("{url}/v1/businesses"),
        Some(&body),
    ) {
        Outcome::Ok(b) => {
            let id = b["id"]
                .as_str()
                .context("business answer without id")?
                .to_owned();
            let token = b["locations"][0]["qr_token"]
                .as_str()
                .context("business answer without a qr token")?
                .to_owned();
            let key = b["api_key"]
                .as_str()
                .context("business answer without an api key")?
                .to_owned();
            Ok(CreatedBusiness { id, token, key })
        }
        Outcome::Status(code) => bail!("POST /v1/businesses answered {code}"),
        Outcome::Redirect(to) => bail!("POST /v1/businesses answered a redirect to {to}"),
        Outcome::Transport(e) => bail!("POST /v1/businesses failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_has_a_delay_and_it_is_symmetric() {
        for (_, a) in NODES {
            for (_, b) in NODES {
                if a != b {
                    assert_eq!(one_way_delay(a, b), one_way_delay(b, a));
                    assert!(one_way_delay(a, b) > Duration::ZERO);
                }
            }
        }
        assert_eq!(
            one_way_delay("stockholm", "malmo"),
            Duration::from_micros(2_650)
        );
    }

    #[test]
    fn regions_are_found_and_unknown_ones_named() {
        assert_eq!(Cluster::index_of("malmo").ok(), Some(2));
        let e = Cluster::index_of("uppsala")
            .err()
            .expect("unknown region")
            .to_string();
        assert!(e.contains("uppsala") && e.contains("stockholm"), "{e}");
    }
}
