//! The `svea` command line: one file per subcommand ([`run`], [`demo`], [`certs`], [`geo`],
//! [`cluster`]); this module parses the arguments and dispatches.

pub mod backup;
pub mod certs;
pub mod cluster;
pub mod demo;
pub mod geo;
pub mod run;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use svea_config::Config;

use cluster::ClusterCommand;
use geo::GeoCommand;

/// svea: customer feedback with cashback, on an edge-distributed actor cluster.
#[derive(Parser)]
#[command(name = "svea", version = crate::LONG_VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run one node from a config file (SVEA_* environment variables override it).
    Run {
        /// TOML config file; see config/example.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a local three-region cluster on this machine (stockholm, gothenburg, malmo) as three
    /// processes with embedded defaults and generated certificates.
    Demo {
        /// Where the nodes keep their data (reused across runs).
        #[arg(long, default_value = "./svea-demo")]
        data_dir: PathBuf,
        /// HTTP port of stockholm; gothenburg and malmo use the next two. Raft ports are +1000.
        #[arg(long, default_value_t = 8080)]
        http_port_base: u16,
    },
    /// Operate a running cluster: status, add, drain and remove nodes (needs the operator token:
    /// --token or SVEA_OPERATOR_TOKEN).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Stream a consistent backup of the cluster (at one committed Raft index) from a node's
    /// operator API into FILE (written to FILE.tmp, synced, verified, then renamed).
    Backup {
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
        /// Operator token (default: SVEA_OPERATOR_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
    /// Check a backup file (magic, version, length, SHA-256) and print what it holds; exits 1
    /// with the reason (not a svea backup, unsupported version, truncated, corrupt) otherwise.
    VerifyBackup {
        /// The backup file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Seed one member of a NEW cluster from a backup: its data directory must be empty; the
    /// cluster's members come from the config (run it for every member, or for one and start
    /// the others empty: they receive the state by snapshot).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The member's TOML config (as `svea run` takes it; SVEA_* variables override it).
        #[arg(long)]
        config: PathBuf,
        /// Data directory to seed instead of the config's node.data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// GeoIP tools: build the bundled database, explain a routing decision.
    Geo {
        #[command(subcommand)]
        command: GeoCommand,
    },
    /// Make a cluster CA and one certificate per node for the mutual TLS between nodes.
    Certs {
        /// Directory for ca.pem, ca.key and <label>.pem / <label>.key (created 0700 if new).
        #[arg(long)]
        out: PathBuf,
        /// Node labels in order; ids are 1..=N by position, or pin one as label:id (e.g. malmo:7).
        #[arg(long, num_args = 1.., required = true)]
        nodes: Vec<String>,
        /// Cluster name written into the CA certificate.
        #[arg(long, default_value = "svea")]
        cluster_name: String,
        /// Replace existing files, ca.key included (certificates it signed stop being trusted).
        #[arg(long)]
        force: bool,
        /// Sign the named nodes with the existing ca.pem / ca.key in --out (nodes joining a
        /// running cluster); give ids explicitly, e.g. stockholm-2:4.
        #[arg(long)]
        add: bool,
        /// Instead of node certificates: an HTTPS server certificate for the public listener of
        /// each --nodes label (<label>-https.pem / .key, for [http] tls_cert / tls_key), naming
        /// these host names and IP addresses, signed by https-ca.pem / https-ca.key in --out
        /// (made on first use; clients trust it with e.g. curl --cacert https-ca.pem).
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        https: Vec<String>,
    },
}

/// Logs to stderr as `[log]` says: the filter, and text or JSON lines (the JSON ones carry the
/// fields of the spans they are in, the request id among them).
fn init_tracing(log: &svea_config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    let _ = match log.format {
        svea_config::LogFormat::Text => fmt.try_init(),
        svea_config::LogFormat::Json => fmt.json().with_current_span(true).with_span_list(true).try_init(),
    };
}

/// Parses the command line, runs the subcommand, and exits 1 with the error on failure.
pub fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => Config::load(Some(&config), &svea_config::env_vars())
            .with_context(|| format!("cannot load config {}", config.display()))
            .and_then(|cfg| {
                init_tracing(&cfg.log);
                run::run(cfg)
            }),
        Command::Cluster { command } => cluster::run(command),
        Command::Backup { node, out, token } => cluster::token(token).and_then(|t| backup::backup(&node, &out, t)),
        Command::VerifyBackup { file } => backup::verify(&file),
        Command::Restore { from, config, data_dir } => Config::load(Some(&config), &svea_config::env_vars())
            .with_context(|| format!("cannot load config {}", config.display()))
            .and_then(|mut cfg| {
                if let Some(d) = data_dir {
                    cfg.node.data_dir = d;
                }
                backup::restore(&from, &cfg)
            }),
        Command::Demo { data_dir, http_port_base } => demo::run(&data_dir, http_port_base),
        Command::Geo { command } => geo::run(command),
        Command::Certs { out, nodes, cluster_name, force, add, https } => certs::parse_nodes(&nodes)
            .map_err(anyhow::Error::msg)
            .and_then(|nodes| {
                if !https.is_empty() {
                    certs::https_certs(&out, &cluster_name, &nodes, &https, force)
                } else if add {
                    certs::add_certs(&out, &nodes, force)
                } else {
                    certs::write_certs(&out, &cluster_name, &nodes, force)
                }
            })
            .map(|written| {
                for path in written {
                    println!("wrote {}", path.display());
                }
            }),
    };
    if let Err(e) = result {
        eprintln!("svea: {e:#}");
        std::process::exit(1);
    }
}
