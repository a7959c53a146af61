//! Stamps the binary with the git revision it was built from (`svea --version`,
//! `svea_build_info{revision}`, the operator console).
//!
//! `SVEA_BUILD_REVISION` wins when set (the container build copies the tree without `.git`, so
//! the Dockerfile passes the revision in); otherwise `git rev-parse --short=12 HEAD`; otherwise
//! "unknown" (a source tarball). Cargo reruns this script only when that variable or the files
//! behind git's HEAD change (the HEAD file, the branch's ref file, packed-refs), not on every edit.

use std::path::PathBuf;
use std::process::Command;

/// Length of the abbreviated commit id: enough to stay unique in any repository of this size.
const REVISION_LEN: usize = 12;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SVEA_BUILD_REVISION");
    let revision = match std::env::var("SVEA_BUILD_REVISION") {
        Ok(r) if !r.trim().is_empty() => r.trim().to_owned(),
        _ => {
            // The files whose change means a new HEAD; a path that does not exist is not named,
            // since cargo treats a missing rerun-if-changed file as always changed.
            let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch.push(git(&["rev-parse", "--git-path", &branch]));
            }
            watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
            for path in watch.into_iter().flatten().map(PathBuf::from).filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            git(&["rev-parse", &format!("--short={REVISION_LEN}"), "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    // Outside git with no variable, no rerun-if-changed was printed at all, which would make cargo
    // rerun on any change in the package: name this script so it reruns only when it changes.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=SVEA_REVISION={revision}");
}
