//! GeoIP benchmark: lookups per second and the cost of one routing decision, on the bundled Nordic
//! database (or `--db FILE`). Prints numbers; asserts nothing.
//!
//! `cargo run --release -p svea-geo --example bench_geo [-- --db FILE --n 1000000]`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use svea_geo::{route, GeoDb};

/// A small deterministic generator so runs are comparable (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let db_path = arg("--db").unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/data/dbip-city-lite-nordic.mmdb").to_string());
    let n: usize = arg("--n").map(|v| v.parse()).transpose()?.unwrap_or(1_000_000);
    let t = Instant::now();
    let db = GeoDb::open(&db_path)?;
    println!("opened {db_path} in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);

    let cfg = svea_config::RawConfig::default().validate()?;
    let mut rng = Rng(0x5ee_d5eed);
    // Addresses: half uniformly random IPv4 (mostly not in a Nordic subset), half from the issue's
    // Swedish examples with random host bits (always found).
    let nordic = [[1u8, 178, 93], [2, 66, 78], [2, 58, 0], [2, 248, 90], [2, 66, 58]];
    let ips: Vec<IpAddr> = (0..n)
        .map(|i| {
            let r = rng.next();
            if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(r as u32))
            } else {
                let p = nordic[(r >> 40) as usize % nordic.len()];
                IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], r as u8))
            }
        })
        .collect();

    let (found, lookup) = timed(&ips, |ip| Ok(db.lookup(ip)?.is_some()))?;
    report("lookup:  ", n, lookup, "lookups", &format!("{found} found"));
    let (to_stockholm, routing) = timed(&ips, |ip| {
        let r = route(Some(&db), ip, &cfg.regions, &cfg.geo.default_order, |r| r.as_str() != "malmo");
        Ok(r.region.as_ref().is_some_and(|r| r.as_str() == "stockholm"))
    })?;
    report("route:   ", n, routing, "decisions", &format!("lookup + distances + choice; {to_stockholm} to stockholm"));
    Ok(())
}

/// Runs `f` over every address; how many answered true, and how long it took.
fn timed(
    ips: &[std::net::IpAddr],
    mut f: impl FnMut(std::net::IpAddr) -> Result<bool, Box<dyn std::error::Error>>,
) -> Result<(usize, std::time::Duration), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut hits = 0usize;
    for ip in ips {
        hits += usize::from(f(*ip)?);
    }
    Ok((hits, t.elapsed()))
}

fn report(label: &str, n: usize, took: std::time::Duration, what: &str, detail: &str) {
    println!(
        "{label} {n} {what} in {:.3} s = {:.0} {what}/s, {:.0} ns each ({detail})",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        took.as_nanos() as f64 / n as f64
    );
}
