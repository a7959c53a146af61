//! `svea backup` and `svea restore`: a consistent snapshot of a running cluster streamed from a
//! node's operator API into a checksummed file, and a new cluster's store seeded from one (the
//! file format is `svea_storage::backup`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use svea_config::Config;
use svea_storage::backup::BackupMeta;

use super::cluster::{base, problem_detail};

/// A backup file's permission bits: owner read/write only (it holds every feedback text).
pub const BACKUP_FILE_MODE: u32 = 0o600;

/// Limit for the whole download of a backup when `--timeout` is not given (the CLI's default).
pub const BACKUP_TIMEOUT: Duration = Duration::from_secs(3600);
/// How often a spinner without a known total redraws.
const SPINNER_TICK: Duration = Duration::from_millis(120);

/// A progress bar on stderr when it is a terminal; a hidden one (drawing nothing) otherwise, so
/// logs, pipes and cron mails get only the result lines.
fn progress(total: Option<u64>, counted: bool, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(len) => indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("a fixed, valid template")
                .progress_chars("=> "),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            // Bytes only when they are counted (a download); a restore shows its time alone.
            indicatif::ProgressStyle::with_template(if counted { "{spinner} {msg} {bytes} {elapsed}" } else { "{spinner} {msg} {elapsed}" })
                .expect("a fixed, valid template"),
        ),
    };
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(SPINNER_TICK);
    bar
}

/// Whether `e` says an I/O wait ran out of time (ureq's deadline shows as one).
fn timed_out(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock))
            || cause.to_string().contains("timed out")
    })
}

/// What a backup says about itself: a line for the whole, then a line per Raft group's cut
/// (each group's cut is its own point in its log).
fn describe(meta: &BackupMeta) -> String {
    let when = chrono::DateTime::from_timestamp_millis(meta.created_at_ms).map_or_else(|| meta.created_at_ms.to_string(), |t| t.to_rfc3339());
    let mut out = format!(
        "cluster {:?}, store format {}, {} records in {} raft group(s), taken {when} by node {}",
        meta.cluster,
        meta.storage_format,
        meta.pairs(),
        meta.groups.len(),
        meta.node
    );
    for g in &meta.groups {
        out.push_str(&format!("\n  group {}: raft index {} (term {}), {} records", g.group, g.index, g.term, g.pairs));
    }
    out
}

/// Checks the backup file at `path` and returns what it says about itself.
pub fn check(path: &Path) -> anyhow::Result<BackupMeta> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    Ok(svea_storage::backup::verify(std::io::BufReader::new(f), len)?)
}

/// `svea verify-backup`: checks the file and prints what it holds.
pub fn verify(path: &Path) -> anyhow::Result<()> {
    let meta = check(path).with_context(|| format!("{} is refused", path.display()))?;
    println!("{} is a valid backup: {}", path.display(), describe(&meta));
    Ok(())
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// `svea backup`: streams `GET /v1/cluster/backup` from `node` into `<out>.tmp`, syncs it,
/// verifies it, and renames it to `out`.
pub fn backup(node: &str, out: &Path, token: String, timeout: Duration) -> anyhow::Result<()> {
    backup_within(node, out, token, timeout).map_err(|e| {
        if timed_out(&e) {
            e.context(format!("the backup did not finish within --timeout {timeout:?} (nothing was written to {}); give it more time, e.g. --timeout 2h", out.display()))
        } else {
            e
        }
    })
}

fn backup_within(node: &str, out: &Path, token: String, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("{}/v1/cluster/backup", base(node)?);
    // ureq's timeout bounds the whole exchange, the body's download included.
    let resp = match ureq::get(&url).timeout(timeout).set("Authorization", &format!("Bearer {token}")).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, resp)) => bail!("GET {url}: {code}: {}", problem_detail(resp)),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("GET {url}"))),
    };
    let total = resp.header("Content-Length").and_then(|v| v.parse::<u64>().ok());
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| -> anyhow::Result<BackupMeta> {
        // Owner-only from the first byte: a backup holds every feedback text. `create_new` so a
        // leftover `.tmp` from a crashed run (whatever its mode) is not reused.
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(BACKUP_FILE_MODE)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let bar = progress(total, true, "backup");
        let copied = std::io::copy(&mut bar.wrap_read(resp.into_reader()), &mut f);
        bar.finish_and_clear();
        copied.with_context(|| format!("download from {url}"))?;
        f.flush()?;
        f.sync_all()?;
        check(&tmp)
    })();
    let meta = match written {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context("the backup was not written"));
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
    sync_dir(out)?;
    println!("wrote {}: {}", out.display(), describe(&meta));
    Ok(())
}

/// `svea restore`: seeds `<data_dir>/store` of one member of a new cluster (members and data
/// directory from `cfg`) from the backup at `from`, every Raft group from its own section. A
/// backup holding a group this configuration does not run is refused, nothing written.
pub fn restore(from: &Path, cfg: &Config) -> anyhow::Result<()> {
    let store = cfg.node.data_dir.join("store");
    let members = cfg.initial_members().iter().map(|m| (m.id.get(), svea_cluster::member_node(m))).collect();
    // The store's restore reads the file itself: a spinner with the time it has taken.
    let bar = progress(None, false, "restoring");
    let groups = crate::core::group_count(cfg);
    let restored = svea_storage::backup::restore(from, &store, members, cfg.limits.storage_cache_bytes, groups);
    bar.finish_and_clear();
    let meta = restored.with_context(|| format!("cannot restore {}", from.display()))?;
    crate::core::record_store_groups(&store, groups)?;
    println!("restored {} into {}: {}", from.display(), store.display(), describe(&meta));
    println!("start every member of the new cluster with `svea run`; members restored from the same file start with identical state, empty ones receive it by snapshot");
    Ok(())
}
