//! The `svea` binary: run a node, or a local demo cluster.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use svea_config::{Config, RawConfig};

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
    /// Run a local cluster on this machine with embedded defaults (one node: stockholm).
    Demo {
        /// Where the nodes keep their data (reused across runs).
        #[arg(long, default_value = "./svea-demo")]
        data_dir: PathBuf,
        /// HTTP port of the first node.
        #[arg(long, default_value_t = 8080)]
        http_port_base: u16,
    },
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

fn demo_config(data_dir: PathBuf, port: u16) -> anyhow::Result<Config> {
    let raft_port = port.checked_add(1000).context("--http-port-base too high: raft ports are http port + 1000")?;
    let mut raw = RawConfig::default();
    raw.node.id = 1;
    raw.node.region = "stockholm".into();
    raw.node.http_addr = format!("127.0.0.1:{port}");
    raw.node.raft_addr = format!("127.0.0.1:{raft_port}");
    raw.node.public_url = format!("http://127.0.0.1:{port}");
    raw.node.data_dir = data_dir.join("stockholm").to_string_lossy().into_owned();
    raw.apply_env(&svea_config::env_vars())?;
    Ok(raw.validate()?)
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
        Command::Demo { data_dir, http_port_base } => demo_config(data_dir, http_port_base).and_then(|cfg| {
            init_tracing(&cfg.log.filter);
            println!("svea demo: stockholm node at {}", cfg.node.public_url);
            println!("  try: curl -s {}/ready", cfg.node.public_url);
            println!("  stop with Ctrl-C");
            svea_node::server::run(cfg)
        }),
    };
    if let Err(e) = result {
        eprintln!("svea: {e:#}");
        std::process::exit(1);
    }
}
