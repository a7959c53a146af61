//! The `svea` command line: one file per subcommand ([`run`], [`demo`], [`certs`], [`geo`],
//! [`cluster`]); this module parses the arguments and dispatches.
//!
//! Habits every subcommand keeps: a flag that names a file or directory a command writes is
//! `--out`, one it reads is `--from` (older spellings stay as hidden aliases, so scripts keep
//! working); a member's operator URL is `--node`; every environment variable the CLI reads is the
//! `env` of its flag, so `--help` shows it.

pub mod backup;
pub mod certs;
pub mod cluster;
pub mod demo;
pub mod geo;
pub mod run;

use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
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
        #[arg(long, env = CONFIG_VAR, default_value = DEFAULT_CONFIG_PATH)]
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
    /// Stream a consistent backup of the cluster (each Raft group at one committed index) from a
    /// node's operator API into FILE (written to FILE.tmp, synced, verified, then renamed).
    Backup {
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
        /// Operator token.
        #[arg(long, env = cluster::TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
        /// Give up when the whole download takes longer (e.g. 90s, 30m, 2h).
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Check a backup file (magic, version, length, SHA-256) and print what it holds; exits 1
    /// with the reason (not a svea backup, unsupported version, truncated, corrupt) otherwise.
    VerifyBackup {
        /// The backup file.
        #[arg(long, alias = "file")]
        from: PathBuf,
    },
    /// Seed one member of a NEW cluster from a backup: its data directory must be empty; the
    /// cluster's members come from the config (run it for every member, or for one and start
    /// the others empty: they receive the state by snapshot).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The member's TOML config (as `svea run` takes it; SVEA_* variables override it).
        #[arg(long, env = CONFIG_VAR, default_value = DEFAULT_CONFIG_PATH)]
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
    /// Print a shell completion script, e.g. `svea completions bash > /etc/bash_completion.d/svea`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `svea man > /usr/local/share/man/man1/svea.1`.
    Man,
}

/// The variable naming the config file of `svea run` and `svea restore` when `--config` is not
/// given. Not a config key: `SVEA_CONFIG` names no section, so the config ignores it.
pub const CONFIG_VAR: &str = "SVEA_CONFIG";
/// The config file when neither `--config` nor `SVEA_CONFIG` names one (the deploy files put it
/// there).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/svea/svea.toml";
/// Longest `--timeout` accepted: a week (a backup larger than that wants another tool).
pub const CLI_TIMEOUT_MAX: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A duration as operators write it: a whole number with a unit, `500ms`, `90s`, `30m`, `2h`
/// (bare numbers are seconds); more than 0 and at most [`CLI_TIMEOUT_MAX`].
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 90s, 30m or 1h"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("{text:?}: unit {unit:?} is not one of ms, s, m, h")),
    };
    let d = std::time::Duration::from_millis(n.saturating_mul(ms_per_unit));
    if d.is_zero() || d > CLI_TIMEOUT_MAX {
        return Err(format!("{text:?} must be more than 0 and at most {}h", CLI_TIMEOUT_MAX.as_secs() / 3600));
    }
    Ok(d)
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
        Command::Backup { node, out, token, timeout } => cluster::token(token).and_then(|t| backup::backup(&node, &out, t, timeout)),
        Command::VerifyBackup { from } => backup::verify(&from),
        Command::Restore { from, config, data_dir } => Config::load(Some(&config), &svea_config::env_vars())
            .with_context(|| format!("cannot load config {}", config.display()))
            .and_then(|mut cfg| {
                if let Some(d) = data_dir {
                    cfg.node.data_dir = d;
                }
                backup::restore(&from, &cfg)
            }),
        Command::Demo { data_dir, http_port_base } => demo::run(&data_dir, http_port_base),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "svea", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()).context("cannot write the manual page"),
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
