//! `svea demo`: a three-region cluster on this machine, as three `svea run` processes on
//! loopback with generated certificates and data under one directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use svea_config::loopback::{Cluster, Node};

/// The demo's regions in node-id order: (id, region, HTTP port offset).
pub const DEMO_NODES: [(u64, &str, u16); 3] = [(1, "stockholm", 0), (2, "gothenburg", 1), (3, "malmo", 2)];

/// Raft/QUIC ports are the HTTP port plus this.
pub const RAFT_PORT_OFFSET: u16 = 1000;
/// Operator ports are the HTTP ports plus this (loopback, like everything in the demo).
pub const OPERATOR_PORT_OFFSET: u16 = 2000;

/// How long the children get to stop after SIGTERM before they are killed.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

struct DemoNode {
    region: &'static str,
    url: String,
    operator_url: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// The demo's operator token: made once (128 random bits, hex) and kept in `operator-token`
/// (mode 0600) so `svea cluster ...` keeps working across runs.
fn operator_token(data_dir: &Path) -> anyhow::Result<String> {
    kept_secret(data_dir, "operator-token", 16)
}

/// The demo cluster's `payouts.payee_key`: 32 random bytes, hex, made once and kept in
/// `payee-key` (mode 0600), so the reward page's payee form works in the demo too and payees
/// sealed in one run open in the next.
fn payee_key(data_dir: &Path) -> anyhow::Result<String> {
    kept_secret(data_dir, "payee-key", svea_config::money::PAYEE_KEY_BYTES)
}

/// `len` random bytes as hex, made once and kept in `data_dir/name` (mode 0600).
fn kept_secret(data_dir: &Path, name: &str, len: usize) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join(name);
    if let Ok(t) = std::fs::read_to_string(&path) {
        if t.trim().len() == 2 * len {
            return Ok(t.trim().to_owned());
        }
    }
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    Ok(token)
}

/// Writes certificates (once) and one config per node.
fn prepare(data_dir: &Path, port_base: u16) -> anyhow::Result<Vec<DemoNode>> {
    svea_storage::create_private_dir(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    let tls = data_dir.join("tls");
    if !tls.join("ca.pem").exists() {
        let nodes: Vec<(u64, String)> = DEMO_NODES.iter().map(|(id, r, _)| (*id, r.to_string())).collect();
        super::certs::write_certs(&tls, "svea-demo", &nodes, false)?;
    }
    let token = operator_token(&data_dir)?;
    let payee_key = payee_key(&data_dir)?;
    let port = |offset: u16, extra: u16| -> anyhow::Result<u16> {
        port_base
            .checked_add(offset)
            .and_then(|p| p.checked_add(extra))
            .context("--http-port-base too high: ports are PORT..PORT+2, PORT+1000..PORT+1002 and PORT+2000..PORT+2002")
    };
    let mut nodes = Vec::new();
    for (id, region, off) in DEMO_NODES {
        nodes.push(Node::loopback(id, region, port(off, 0)?, port(off, RAFT_PORT_OFFSET)?).operator_port(port(off, OPERATOR_PORT_OFFSET)?));
    }
    // One public address for every QR code and poster: the first node's. Any node sends a
    // customer on to the region GeoIP picks, so the one address works for every region.
    let base_url = format!("http://127.0.0.1:{}", port(DEMO_NODES[0].2, 0)?);
    let configs = Cluster::new("svea-demo", nodes)
        .dir(&data_dir)
        .set("public.base_url", &base_url)
        .tls(&tls)
        .set("geo.trusted_proxies", "127.0.0.1")
        .set("operator.token", &token)
        .set("payouts.payee_key", &payee_key)
        // Sign-up and sign-in mails as .eml files in one folder for all three nodes (issue 23).
        .set("mail.transport", "folder")
        .set("mail.folder", &mail_dir(&data_dir).display().to_string())
        .write(
            "Written by `svea demo`.\n\
             geo.trusted_proxies lets you play a customer anywhere: curl -H 'X-Forwarded-For: 2.58.0.1' ...",
        )?;
    let mut out = Vec::new();
    for ((_, region, off), config) in DEMO_NODES.into_iter().zip(configs) {
        let url = format!("http://127.0.0.1:{}", port(off, 0)?);
        let operator_url = format!("http://127.0.0.1:{}", port(off, OPERATOR_PORT_OFFSET)?);
        out.push(DemoNode { region, url, operator_url, config, log: data_dir.join(region).join("node.log"), child: None });
    }
    Ok(out)
}

/// Where the demo's nodes write their mails: `<data>/mail/`.
pub fn mail_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("mail")
}

/// Runs the demo until Ctrl-C (or SIGTERM), then stops all nodes cleanly.
pub fn run(data_dir: &Path, port_base: u16) -> anyhow::Result<()> {
    let mut nodes = prepare(data_dir, port_base)?;
    let exe = std::env::current_exe().context("cannot find the svea executable")?;
    for n in &mut nodes {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&n.log)?;
        let child = Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(&n.config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start the {} node", n.region))?;
        n.child = Some(child);
    }
    println!("svea demo: three regions on this machine");
    for n in &nodes {
        println!("  {:<10} {}   (log: {})", n.region, n.url, n.log.display());
    }
    println!("  public address (every QR code and poster): {}", nodes[0].url);
    println!("  sign a business up: {}/   (mails go to {})", nodes[0].url, mail_dir(&data_dir.canonicalize()?).display());
    println!("  try: curl -s {}/ready", nodes[0].url);
    println!(
        "  operator: SVEA_OPERATOR_TOKEN=$(cat {}) svea cluster status --node {}",
        data_dir.join("operator-token").display(),
        nodes[0].operator_url
    );
    println!("  stop with Ctrl-C");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tick.tick() => {
                    for n in &mut nodes {
                        if let Some(c) = n.child.as_mut() {
                            if let Ok(Some(status)) = c.try_wait() {
                                eprintln!("svea demo: the {} node exited ({status}); see {}", n.region, n.log.display());
                                n.child = None;
                            }
                        }
                    }
                    if nodes.iter().all(|n| n.child.is_none()) {
                        anyhow::bail!("all nodes exited");
                    }
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    println!("svea demo: stopping");
    stop_all(&mut nodes);
    Ok(())
}

fn stop_all(nodes: &mut [DemoNode]) {
    for n in nodes.iter_mut() {
        if let Some(c) = &n.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for n in nodes.iter_mut() {
        let Some(mut c) = n.child.take() else { continue };
        loop {
            match c.try_wait() {
                Ok(Some(_)) => break,
                _ if Instant::now() > deadline => {
                    eprintln!("svea demo: the {} node did not stop in {STOP_GRACE:?}; killing it", n.region);
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_cluster_gets_one_payee_key_kept_across_runs() {
        let dir = tempfile::tempdir().expect("tmp");
        let load = |p: &Path| svea_config::Config::load(Some(p), &Default::default()).expect("demo config").payouts.payee_key;
        let first = prepare(dir.path(), 18_080).expect("prepare");
        let keys: Vec<_> = first.iter().map(|n| load(&n.config)).collect();
        assert!(keys[0].is_some(), "the payee form needs a key in the demo too");
        assert!(keys.iter().all(|k| *k == keys[0]), "one key for the whole demo cluster");
        let again = prepare(dir.path(), 18_080).expect("prepare again");
        assert_eq!(load(&again[0].config), keys[0], "payees sealed in one run open in the next");
    }
}
