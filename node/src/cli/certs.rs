//! `svea certs`: make a cluster CA and one certificate per node, as PEM files an operator copies
//! to each machine (`<label>.pem` and `<label>.key` become that node's `tls.node_cert` and
//! `tls.node_key`, `ca.pem` goes everywhere as `tls.ca_cert`, `ca.key` stays offline).
//!
//! Certificates themselves are made by `svea_cluster::tls`; this module only names, checks and
//! writes files. Private keys are created with mode 0600 from the start (never written and then
//! chmodded), and an existing file is never overwritten without `force`.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use svea_cluster::tls;

/// Most nodes one run makes certificates for; a svea cluster is a handful of nodes per region.
pub const NODES_MAX: usize = 64;

/// Mode of private key files: owner read/write only.
const KEY_FILE_MODE: u32 = 0o600;
/// Mode of certificate files: public, world-readable.
const CERT_FILE_MODE: u32 = 0o644;
/// Mode of the output directory when we create it: it holds the CA key.
const DIR_MODE: u32 = 0o700;

/// Labels that would collide with the CA's own files.
const RESERVED_LABELS: &[&str] = &["ca"];

/// Parse one `--nodes` argument: `label`, whose node id is `position + 1` (position counts from
/// 0 in the order given), or `label:id` to pin the id. Labels follow
/// [`svea_cluster::tls::check_label`] (1 to 32 of `a-z0-9-`, starting with a letter) and may not be
/// `ca`.
pub fn parse_node_arg(s: &str, position: usize) -> Result<(u64, String), String> {
    let (label, id) = match s.split_once(':') {
        None => {
            let id = u64::try_from(position)
                .ok()
                .and_then(|p| p.checked_add(1))
                .ok_or_else(|| format!("node {s:?}: position {position} is out of range"))?;
            (s, id)
        }
        Some((label, id)) => {
            let id: u64 = id
                .parse()
                .map_err(|_| format!("node {s:?}: id {id:?} is not a whole number"))?;
            (label, id)
        }
    };
    check_node(id, label).map_err(|reason| format!("node {s:?}: {reason}"))?;
    Ok((id, label.to_owned()))
}

/// Parse all `--nodes` arguments in order (see [`parse_node_arg`]); ids and labels must be unique.
pub fn parse_nodes(args: &[String]) -> Result<Vec<(u64, String)>, String> {
    let nodes = args
        .iter()
        .enumerate()
        .map(|(position, arg)| parse_node_arg(arg, position))
        .collect::<Result<Vec<_>, _>>()?;
    check_nodes(&nodes)?;
    Ok(nodes)
}

fn check_node(id: u64, label: &str) -> Result<(), String> {
    if id == 0 {
        return Err("node id must be greater than 0".to_owned());
    }
    tls::check_label(label).map_err(|error| error.to_string())?;
    if RESERVED_LABELS.contains(&label) {
        return Err(format!(
            "label {label:?} is reserved for the ca's own files"
        ));
    }
    Ok(())
}

fn check_nodes(nodes: &[(u64, String)]) -> Result<(), String> {
    if nodes.is_empty() {
        return Err("no nodes given".to_owned());
    }
    if nodes.len() > NODES_MAX {
        return Err(format!(
            "{} nodes given, at most {NODES_MAX} per run",
            nodes.len()
        ));
    }
    let mut ids = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for (id, label) in nodes {
        check_node(*id, label).map_err(|reason| format!("node {label:?}: {reason}"))?;
        if let Some(other) = ids.insert(*id, label) {
            return Err(format!(
                "node id {id} is given to both {other:?} and {label:?}"
            ));
        }
        if labels.insert(label, *id).is_some() {
            return Err(format!("label {label:?} is given twice"));
        }
    }
    Ok(())
}

/// One file to write.
struct Output {
    path: PathBuf,
    contents: String,
    mode: u32,
}

/// Make a new CA for `cluster_name` and a certificate for every `(node id, label)` in `nodes`, and
/// write them to `out`: `ca.pem`, `ca.key`, and per node `<label>.pem` and `<label>.key`. Returns
/// the paths written, in that order.
///
/// `out` is created with mode 0700 if it does not exist. Key files get mode 0600, certificates
/// 0644. If any of these files exists (above all `ca.key`: replacing it orphans every certificate
/// it signed), nothing is written unless `force`; with `force` the old files are removed and
/// created afresh, so an old key file's permissions are never inherited.
pub fn write_certs(
    out: &Path,
    cluster_name: &str,
    nodes: &[(u64, String)],
    force: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    check_nodes(nodes).map_err(anyhow::Error::msg)?;

    // Everything is generated before anything is written: a failure leaves no partial set.
    let ca = tls::generate_ca(cluster_name).context("cannot generate the cluster ca")?;
    let mut outputs = ca_outputs(out, &ca);
    outputs.extend(node_outputs(out, &ca, nodes)?);
    write_outputs(out, &outputs, force)
}

/// Sign certificates for nodes joining an existing cluster with its CA (`out/ca.pem` and
/// `out/ca.key`), writing only `<label>.pem` / `<label>.key`.
pub fn add_certs(out: &Path, nodes: &[(u64, String)], force: bool) -> anyhow::Result<Vec<PathBuf>> {
    if nodes.is_empty() {
        bail!("name at least one node");
    }
    let read = |name: &str| {
        let path = out.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {} (the existing cluster ca)", path.display()))
    };
    let ca = tls::GeneratedCa::from_pem(&read("ca.pem")?, &read("ca.key")?)
        .with_context(|| format!("{} and {} are not a usable ca", out.join("ca.pem").display(), out.join("ca.key").display()))?;
    let outputs = node_outputs(out, &ca, nodes)?;
    if !force {
        if let Some(existing) = outputs.iter().find(|o| o.path.symlink_metadata().is_ok()) {
            bail!("refusing to overwrite {}; pass --force to replace it", existing.path.display());
        }
    }
    let mut written = Vec::with_capacity(outputs.len());
    for output in &outputs {
        write_new_file(output, force)?;
        written.push(output.path.clone());
    }
    Ok(written)
}

/// HTTPS server certificates for the public listeners of `nodes` (their labels; ids unused),
/// each naming `hosts`, signed by the HTTPS CA in `out` (`https-ca.pem` / `https-ca.key`), which
/// is made first when absent. Writes `<label>-https.pem` / `<label>-https.key` (the node's
/// `http.tls_cert` / `http.tls_key`); clients trust `https-ca.pem`. A CA apart from the cluster's:
/// whoever holds the https CA key (a web operator) mints no cluster identities.
pub fn https_certs(out: &Path, cluster_name: &str, nodes: &[(u64, String)], hosts: &[String], force: bool) -> anyhow::Result<Vec<PathBuf>> {
    check_nodes(nodes).map_err(anyhow::Error::msg)?;
    let (ca_pem, ca_key) = (out.join("https-ca.pem"), out.join("https-ca.key"));
    let mut outputs = Vec::new();
    let ca = if ca_key.symlink_metadata().is_ok() {
        let read = |path: &Path| std::fs::read_to_string(path).with_context(|| format!("cannot read {} (the https ca)", path.display()));
        tls::GeneratedCa::from_pem(&read(&ca_pem)?, &read(&ca_key)?)
            .with_context(|| format!("{} and {} are not a usable ca", ca_pem.display(), ca_key.display()))?
    } else {
        let ca = tls::generate_ca(&format!("{cluster_name} https")).context("cannot generate the https ca")?;
        outputs.push(Output { path: ca_pem, contents: ca.cert_pem.clone(), mode: CERT_FILE_MODE });
        outputs.push(Output { path: ca_key, contents: ca.key_pem.clone(), mode: KEY_FILE_MODE });
        ca
    };
    for (_, label) in nodes {
        let (cert, key) = tls::generate_https_cert(&ca, hosts).with_context(|| format!("cannot generate the https certificate of {label}"))?;
        outputs.push(Output { path: out.join(format!("{label}-https.pem")), contents: cert, mode: CERT_FILE_MODE });
        outputs.push(Output { path: out.join(format!("{label}-https.key")), contents: key, mode: KEY_FILE_MODE });
    }
    if !force {
        if let Some(existing) = outputs.iter().find(|o| o.path.symlink_metadata().is_ok()) {
            bail!("refusing to overwrite {}; pass --force to replace it", existing.path.display());
        }
    }
    if out.symlink_metadata().is_err() {
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(out).with_context(|| format!("cannot create directory {}", out.display()))?;
    }
    let mut written = Vec::with_capacity(outputs.len());
    for output in &outputs {
        write_new_file(output, force)?;
        written.push(output.path.clone());
    }
    Ok(written)
}

fn ca_outputs(out: &Path, ca: &tls::GeneratedCa) -> Vec<Output> {
    vec![
        Output {
            path: out.join("ca.pem"),
            contents: ca.cert_pem.clone(),
            mode: CERT_FILE_MODE,
        },
        Output {
            path: out.join("ca.key"),
            contents: ca.key_pem.clone(),
            mode: KEY_FILE_MODE,
        },
    ]
}

fn node_outputs(out: &Path, ca: &tls::GeneratedCa, nodes: &[(u64, String)]) -> anyhow::Result<Vec<Output>> {
    let mut outputs = Vec::with_capacity(nodes.len() * 2);
    for (id, label) in nodes {
        let (cert, key) = tls::generate_node_cert(&ca, *id, label)
            .with_context(|| format!("cannot generate the certificate of node {id} ({label})"))?;
        outputs.push(Output {
            path: out.join(format!("{label}.pem")),
            contents: cert,
            mode: CERT_FILE_MODE,
        });
        outputs.push(Output {
            path: out.join(format!("{label}.key")),
            contents: key,
            mode: KEY_FILE_MODE,
        });
    }
    Ok(outputs)
}

fn write_outputs(out: &Path, outputs: &[Output], force: bool) -> anyhow::Result<Vec<PathBuf>> {
    if !force {
        let ca_key = out.join("ca.key");
        if ca_key.symlink_metadata().is_ok() {
            bail!(
                "refusing to overwrite {}: it is the cluster ca key, and a new one makes every \
                 certificate it signed untrusted; pass --force to replace the whole set",
                ca_key.display()
            );
        }
        if let Some(existing) = outputs.iter().find(|o| o.path.symlink_metadata().is_ok()) {
            bail!(
                "refusing to overwrite {}; pass --force to replace it",
                existing.path.display()
            );
        }
    }

    if out.symlink_metadata().is_err() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(out)
            .with_context(|| format!("cannot create directory {}", out.display()))?;
    } else if !out.is_dir() {
        bail!("{} exists and is not a directory", out.display());
    }

    let mut written = Vec::with_capacity(outputs.len());
    for output in outputs {
        write_new_file(output, force)?;
        written.push(output.path.clone());
    }
    std::fs::File::open(out)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("cannot sync directory {}", out.display()))?;
    Ok(written)
}

/// Create `output.path` with its mode set at creation (`O_CREAT | O_EXCL`, so a symlink planted
/// at the path is not followed), write and sync it. With `force` an existing file is removed
/// first.
fn write_new_file(output: &Output, force: bool) -> anyhow::Result<()> {
    let path = &output.path;
    if force && path.symlink_metadata().is_ok() {
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove old {}", path.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(output.mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(output.contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn three() -> Vec<(u64, String)> {
        parse_nodes(&["stockholm".into(), "gothenburg".into(), "malmo".into()]).unwrap()
    }

    #[test]
    fn writes_the_ca_and_a_pair_per_node_with_private_keys_0600() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs");
        let written = write_certs(&out, "svea-test", &three(), false).unwrap();

        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "ca.pem",
                "ca.key",
                "stockholm.pem",
                "stockholm.key",
                "gothenburg.pem",
                "gothenburg.key",
                "malmo.pem",
                "malmo.key"
            ]
        );
        for path in &written {
            assert!(path.is_file(), "{}", path.display());
            assert!(path.starts_with(&out));
            if path.extension().unwrap() == "key" {
                assert_eq!(mode(path), 0o600, "{}", path.display());
            } else {
                // 0644 less whatever the umask takes away; never writable by others.
                assert_eq!(mode(path) & 0o022, 0, "{}", path.display());
            }
        }
        assert_eq!(mode(&out), 0o700);
    }

    #[test]
    fn each_node_certificate_loads_as_that_node() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = parse_nodes(&["stockholm".into(), "malmo:7".into()]).unwrap();
        write_certs(dir.path(), "svea-test", &nodes, false).unwrap();
        for (id, label) in &nodes {
            let identity = tls::Identity::load(
                &dir.path().join("ca.pem"),
                &dir.path().join(format!("{label}.pem")),
                &dir.path().join(format!("{label}.key")),
            )
            .unwrap();
            assert_eq!(identity.node_id(), *id, "{label}");
        }
    }

    #[test]
    fn an_existing_ca_key_is_not_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        write_certs(dir.path(), "svea-test", &three(), false).unwrap();
        let ca_key = dir.path().join("ca.key");
        let before = std::fs::read_to_string(&ca_key).unwrap();

        let error = write_certs(dir.path(), "svea-test", &three(), false).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("refusing to overwrite"), "{message}");
        assert!(message.contains(&ca_key.display().to_string()), "{message}");
        assert!(message.contains("--force"), "{message}");
        assert_eq!(std::fs::read_to_string(&ca_key).unwrap(), before);

        write_certs(dir.path(), "svea-test", &three(), true).unwrap();
        assert_ne!(std::fs::read_to_string(&ca_key).unwrap(), before);
        assert_eq!(mode(&ca_key), 0o600);
    }

    #[test]
    fn other_existing_files_are_not_overwritten_without_force_either() {
        let dir = tempfile::tempdir().unwrap();
        let stray = dir.path().join("malmo.key");
        std::fs::write(&stray, "not ours").unwrap();
        let error = write_certs(dir.path(), "svea-test", &three(), false).unwrap_err();
        assert!(
            format!("{error:#}").contains(&stray.display().to_string()),
            "{error:#}"
        );
        // Nothing was written.
        assert!(!dir.path().join("ca.key").exists());
        assert_eq!(std::fs::read_to_string(&stray).unwrap(), "not ours");
    }

    #[test]
    fn force_replaces_a_world_readable_key_with_a_0600_one() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("malmo.key");
        std::fs::write(&key, "old").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_certs(dir.path(), "svea-test", &three(), true).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY"));
    }

    #[test]
    fn node_args_are_labels_numbered_in_order_or_pinned() {
        assert_eq!(parse_node_arg("stockholm", 0), Ok((1, "stockholm".into())));
        assert_eq!(parse_node_arg("malmo", 2), Ok((3, "malmo".into())));
        assert_eq!(parse_node_arg("malmo:7", 2), Ok((7, "malmo".into())));
        assert_eq!(
            parse_nodes(&["a".into(), "b:5".into(), "c".into()]),
            Ok(vec![(1, "a".into()), (5, "b".into()), (3, "c".into())])
        );
        for bad in [
            "",
            "Stockholm",
            "1abc",
            "sto_1",
            "ca",
            "malmo:0",
            "malmo:x",
            "malmo:-1",
            ":3",
        ] {
            let error = parse_node_arg(bad, 0).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{bad:?}: {error}");
        }
        assert!(parse_nodes(&["a".into(), "b:1".into()])
            .unwrap_err()
            .contains("node id 1 is given to both"));
        assert!(parse_nodes(&["a:1".into(), "a:2".into()])
            .unwrap_err()
            .contains("given twice"));
        assert!(parse_nodes(&[]).unwrap_err().contains("no nodes"));
        let many: Vec<String> = (0..=NODES_MAX).map(|i| format!("n{i}")).collect();
        assert!(parse_nodes(&many).unwrap_err().contains("at most"));
    }
}
