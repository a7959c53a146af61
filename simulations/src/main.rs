//! svea's simulation and benchmark tools: one binary, one subcommand per tool.
//!
//! Owns: driving real node cores from the outside (in-process, through
//! `svea_node::core`) and reporting what they did. Does not own: any production code path;
//! nothing in production depends on this crate.
//!
//! `cargo run -p simulations --release -- bench-node --help`
//! `cargo run -p simulations --release -- bench-cluster --help`
//! `cargo run -p simulations --release -- chaos region-loss --region stockholm --duration 60s`
//! `cargo run -p simulations --release -- sim --seeds 1..200`
//! `cargo run -p simulations --release -- failover --kills 10`
//! `cargo run -p simulations --release -- bench-vs-etcd` (needs `apt-get install etcd-server`)

mod bench_cluster;
mod bench_node;
mod bench_vs_etcd;

use clap::{Parser, Subcommand};

/// svea simulations and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "simulations", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One tool per variant; later tools (`sim`, `chaos`) are added here.
#[derive(Debug, Subcommand)]
enum Command {
    /// Throughput and latency of one in-process node core (actors -> Raft -> sled, real fsyncs).
    BenchNode(bench_node::Args),
    /// Throughput and latency of a three-process cluster on 127.0.0.1 over HTTP, optionally with
    /// WAN delays between the regions (`--wan`).
    BenchCluster(bench_cluster::Args),
    /// A fault against three real processes behind UDP proxies (region-loss, pause, partition,
    /// one-way-partition, rolling-restart), client histories judged by the checker.
    Chaos(simulations::chaos::Args),
    /// Deterministic simulation (turmoil): three regions under faults, invariants checked per seed.
    Sim(simulations::sim::cli::Args),
    /// Failover time: SIGKILL the Raft leader's region under customer load, on a fresh
    /// three-process cluster per kill; prints the time to the first acknowledged write through a
    /// survivor for every kill, the median and the worst.
    Failover(simulations::failover::Args),
    /// svea's write path next to etcd's on this machine: three etcd members, then three svea
    /// processes, on 127.0.0.1, the same closed-loop HTTP clients at 16, 64 and 256; one table
    /// (writes/s, p50, p99, svea/etcd) and a JSON report.
    BenchVsEtcd(bench_vs_etcd::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::BenchNode(args) => bench_node::main(args),
        Command::BenchCluster(args) => bench_cluster::main(args),
        Command::Chaos(args) => simulations::chaos::main(args),
        Command::Sim(args) => simulations::sim::cli::main(args),
        Command::Failover(args) => simulations::failover::main(args),
        Command::BenchVsEtcd(args) => bench_vs_etcd::main(args),
    }
}
