//! What a test needs from the machine, installed when it is missing, so the README's one test
//! command works on a fresh machine with nothing installed by hand: Debian packages through
//! `apt-get` (the CI machine runs as root; otherwise through `sudo -n`) and Python packages in a
//! virtual environment under `target/test-tools/`. A missing tool that cannot be installed fails the
//! test with the installer's own words; it is never skipped quietly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One installer at a time within this test binary (cargo runs test binaries one after another).
static INSTALLING: Mutex<()> = Mutex::new(());

/// `target/` of this build: the test binary lives in `target/<profile>/deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().nth(3).expect("target/<profile>/deps/<binary>").to_path_buf()
}

/// Where `program` is on `PATH`, if anywhere.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// The path of `program`, installing the Debian `package` that provides it when it is missing.
pub fn debian(program: &str, package: &str) -> PathBuf {
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = on_path(program) {
        return p;
    }
    // A fresh machine's package lists may be empty or stale: refresh them once per install.
    apt(&["update", "-qq"]);
    apt(&["install", "-y", "-qq", "--no-install-recommends", package]);
    on_path(program).unwrap_or_else(|| panic!("installed Debian {package}, but {program} is still not on PATH"))
}

fn apt(args: &[&str]) {
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root { Command::new("apt-get") } else { let mut c = Command::new("sudo"); c.args(["-n", "apt-get"]); c };
    // Wait for another apt (a package timer, a second CI job) instead of failing at once, but not forever.
    cmd.args(["-o", "DPkg::Lock::Timeout=300"]).args(args).env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut cmd, &format!("apt-get {args:?}"));
}

/// The Python interpreter of the tests' virtual environment (`target/test-tools/venv`), with each of
/// `packages` (pip requirement strings, pinned by the caller) installed from PyPI when missing.
pub fn python(packages: &[&str]) -> PathBuf {
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let venv = target_dir().join("test-tools").join("venv");
    let py = venv.join("bin").join("python");
    if !py.exists() {
        let system = on_path("python3").expect("python3 on PATH (Debian python3)");
        run(Command::new(system).args(["-m", "venv"]).arg(&venv), "python3 -m venv");
    }
    // `pip install` of what is already there is a quick no-op; one call keeps the versions consistent.
    run(Command::new(&py).args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]).args(packages), "pip install");
    py
}

/// The folder of the npm `package` (pinned `name@version`) under `target/test-tools/npm`,
/// installed from the npm registry with the machine's npm (Debian `npm` when missing) first.
pub fn npm(package: &str) -> PathBuf {
    let name = package.rsplit_once('@').map_or(package, |(n, _)| n);
    let prefix = target_dir().join("test-tools").join("npm");
    let dir = prefix.join("node_modules").join(name);
    let version = package.rsplit_once('@').map(|(_, v)| v);
    let installed = || {
        let manifest = std::fs::read_to_string(dir.join("package.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&manifest).ok()?;
        Some(version.is_none_or(|want| v["version"] == want))
    };
    if installed() == Some(true) {
        return dir;
    }
    let npm = debian("npm", "npm");
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::create_dir_all(&prefix).expect("npm prefix");
    run(Command::new(npm).args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"]).arg(&prefix).arg(package), &format!("npm install {package}"));
    assert_eq!(installed(), Some(true), "npm installed {package}, but {} does not hold it", dir.display());
    dir
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_tool_is_found_on_path_after_install() {
    // `sh` is always there: `debian` must return it without touching apt.
    let sh = debian("sh", "dash");
    assert!(sh.ends_with("sh") && is_executable(&sh));
    assert!(on_path("svea-no-such-program-anywhere").is_none());
    assert!(target_dir().join("debug").exists() || target_dir().join("release").exists(), "{:?}", target_dir());
}
