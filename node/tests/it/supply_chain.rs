//! The supply chain (issue 24 item 8): every dependency's licence, duplicate versions and source
//! over `cargo metadata`, and every locked crate version against the RustSec advisories committed
//! in tools/advisory-db/ (refreshed by tools/refresh-advisories). The policy and its explained
//! exceptions are tools/supply-chain.toml. cargo-deny would do this, but cannot be had here
//! without adding minutes to CI (docs/operating.md, "Supply chain").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- the policy ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    licenses: Licenses,
    duplicates: Vec<Explained>,
    advisories: Advisories,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Licenses {
    allow: Vec<String>,
    exception: Vec<LicenseException>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseException {
    #[serde(rename = "crate")]
    name: String,
    license: String,
    /// Only the tests use it: no crate the workspace ships may depend on it.
    #[serde(default)]
    dev_only: bool,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Explained {
    #[serde(rename = "crate")]
    name: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advisories {
    ignore: Vec<IgnoredAdvisory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoredAdvisory {
    id: String,
    #[serde(rename = "crate")]
    name: String,
    reason: String,
}

/// A reason long enough to say something.
const REASON_LEN_MIN: usize = 30;

fn policy() -> Policy {
    let p: Policy = toml::from_str(&read(&root().join("tools/supply-chain.toml"))).expect("tools/supply-chain.toml");
    let reasons = p.licenses.exception.iter().map(|e| (&e.name, &e.reason)).chain(p.duplicates.iter().map(|d| (&d.name, &d.reason))).chain(p.advisories.ignore.iter().map(|a| (&a.name, &a.reason)));
    for (name, reason) in reasons {
        assert!(reason.len() >= REASON_LEN_MIN, "the exception for {name} does not say why");
    }
    p
}

// ---- SPDX licence expressions --------------------------------------------------------------------

/// Whether the SPDX expression `expr` holds when exactly the licences `allowed` are acceptable:
/// `A OR B` needs one, `A AND B` both, `A WITH exception` counts as `A` (an exception only adds
/// permissions); the legacy `A/B` is `A OR B`. `None` when the expression does not parse.
fn licence_ok(expr: &str, allowed: &dyn Fn(&str) -> bool) -> Option<bool> {
    let spaced = expr.replace('/', " OR ").replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    let value = or_expr(&tokens, &mut at, allowed)?;
    (at == tokens.len()).then_some(value)
}

fn or_expr(t: &[&str], at: &mut usize, allowed: &dyn Fn(&str) -> bool) -> Option<bool> {
    let mut v = and_expr(t, at, allowed)?;
    while t.get(*at) == Some(&"OR") {
        *at += 1;
        v |= and_expr(t, at, allowed)?;
    }
    Some(v)
}

fn and_expr(t: &[&str], at: &mut usize, allowed: &dyn Fn(&str) -> bool) -> Option<bool> {
    let mut v = term(t, at, allowed)?;
    while t.get(*at) == Some(&"AND") {
        *at += 1;
        v &= term(t, at, allowed)?;
    }
    Some(v)
}

fn term(t: &[&str], at: &mut usize, allowed: &dyn Fn(&str) -> bool) -> Option<bool> {
    let token = *t.get(*at)?;
    *at += 1;
    if token == "(" {
        let v = or_expr(t, at, allowed)?;
        (t.get(*at) == Some(&")")).then(|| *at += 1)?;
        return Some(v);
    }
    if matches!(token, ")" | "AND" | "OR" | "WITH") {
        return None;
    }
    if t.get(*at) == Some(&"WITH") {
        *at += 2;
        t.get(*at - 1)?;
    }
    Some(allowed(token))
}

#[test]
fn licence_expressions_are_read_as_spdx_says() {
    let allowed = |l: &str| ["MIT", "Apache-2.0", "ISC"].contains(&l);
    for (expr, ok) in [
        ("MIT", Some(true)),
        ("GPL-3.0", Some(false)),
        ("MIT OR GPL-3.0", Some(true)),
        ("MIT AND GPL-3.0", Some(false)),
        ("(MIT OR Apache-2.0) AND ISC", Some(true)),
        ("(MIT OR Apache-2.0) AND Unicode-3.0", Some(false)),
        ("Apache-2.0 WITH LLVM-exception OR GPL-3.0", Some(true)),
        ("MIT/Apache-2.0", Some(true)),
        ("GPL-2.0 / GPL-3.0", Some(false)),
        ("MIT OR", None),
        ("(MIT", None),
        ("MIT MIT", None),
    ] {
        assert_eq!(licence_ok(expr, &allowed), ok, "{expr}");
    }
}

// ---- cargo metadata ------------------------------------------------------------------------------

/// `cargo metadata` of the workspace, its resolve limited to this machine's platform (the one the
/// binary is built for; crates only another platform pulls in are neither built nor shipped here).
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc).arg("-vV").output().expect("rustc -vV");
    let host = String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_owned)).expect("rustc's host triple");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", &host])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}

struct Graph {
    /// Package id -> its package object, for every package in the resolve.
    packages: BTreeMap<String, Value>,
    workspace: BTreeSet<String>,
    /// Package id -> (dependency id, only as a dev-dependency).
    deps: BTreeMap<String, Vec<(String, bool)>>,
}

fn graph(meta: &Value) -> Graph {
    let all: BTreeMap<String, &Value> = meta["packages"].as_array().expect("packages").iter().map(|p| (p["id"].as_str().expect("id").to_owned(), p)).collect();
    let mut packages = BTreeMap::new();
    let mut deps = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().expect("node id").to_owned();
        packages.insert(id.clone(), (*all.get(&id).expect("a resolved package is listed")).clone());
        let edges = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"].as_array().expect("dep_kinds");
                let dev_only = kinds.iter().all(|k| k["kind"] == "dev");
                (d["pkg"].as_str().expect("pkg").to_owned(), dev_only)
            })
            .collect();
        deps.insert(id, edges);
    }
    let workspace = meta["workspace_members"].as_array().expect("workspace_members").iter().filter_map(|m| m.as_str().map(str::to_owned)).collect();
    Graph { packages, workspace, deps }
}

impl Graph {
    /// Every package the workspace's crates reach without a dev-dependency edge: what the shipped
    /// binary (and its build) is made of.
    fn shipped(&self) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = self.workspace.clone();
        let mut todo: Vec<String> = self.workspace.iter().cloned().collect();
        while let Some(id) = todo.pop() {
            for (dep, dev_only) in self.deps.get(&id).into_iter().flatten() {
                if !dev_only && seen.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }
}

/// crates.io, as cargo names its index in `source` (git protocol or sparse).
const CRATES_IO: [&str; 2] = ["registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"];

#[test]
fn supply_chain_every_dependency_is_licensed_unduplicated_and_from_crates_io() {
    let policy = policy();
    let g = graph(&metadata());
    let shipped = g.shipped();
    let allowed = |l: &str| policy.licenses.allow.iter().any(|a| a == l);
    let mut refused = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    let mut names: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, p) in &g.packages {
        let name = p["name"].as_str().expect("name");
        names.entry(name).or_default().insert(p["version"].as_str().expect("version"));
        // Source: crates.io, or a member of this workspace (path dependencies outside it are not).
        match p["source"].as_str() {
            None => assert!(g.workspace.contains(id), "{name} is a path dependency outside the workspace ({})", p["manifest_path"]),
            Some(source) => assert!(CRATES_IO.contains(&source), "{name} comes from {source}, not crates.io"),
        }
        if g.workspace.contains(id) {
            continue;
        }
        let licence = p["license"].as_str();
        if let Some(e) = policy.licenses.exception.iter().find(|e| e.name == name) {
            used_exceptions.insert(name);
            assert!(!e.dev_only || !shipped.contains(id), "{name} ({}) is allowed for the tests only, but a shipped crate depends on it", e.license);
            continue;
        }
        match licence.map(|l| licence_ok(l, &allowed)) {
            Some(Some(true)) => {}
            Some(Some(false)) => refused.push(format!("{name} {}: {}", p["version"], licence.unwrap_or_default())),
            Some(None) => refused.push(format!("{name}: unreadable licence expression {licence:?}")),
            None => refused.push(format!("{name}: no licence expression (license-file {})", p["license_file"])),
        }
    }
    assert!(refused.is_empty(), "licences outside tools/supply-chain.toml's allow-list (allow the licence or explain an exception):\n{}", refused.join("\n"));
    for e in &policy.licenses.exception {
        assert!(used_exceptions.contains(e.name.as_str()), "the licence exception for {} matches no dependency: remove it", e.name);
    }

    let duplicated: BTreeMap<&str, &BTreeSet<&str>> = names.iter().filter(|(_, v)| v.len() > 1).map(|(k, v)| (*k, v)).collect();
    let explained: BTreeSet<&str> = policy.duplicates.iter().map(|d| d.name.as_str()).collect();
    let unexplained: Vec<String> = duplicated.iter().filter(|(n, _)| !explained.contains(*n)).map(|(n, v)| format!("{n} {v:?}")).collect();
    assert!(unexplained.is_empty(), "crates in more than one version, not explained in tools/supply-chain.toml:\n{}", unexplained.join("\n"));
    let stale: Vec<&&str> = explained.iter().filter(|n| !duplicated.contains_key(*n)).collect();
    assert!(stale.is_empty(), "duplicates explained in tools/supply-chain.toml that are no longer duplicated: {stale:?}");
}

#[test]
fn supply_chain_the_lock_file_names_only_crates_io() {
    let lock: toml::Value = toml::from_str(&read(&root().join("Cargo.lock"))).expect("Cargo.lock");
    for p in lock["package"].as_array().expect("packages") {
        if let Some(source) = p.get("source").and_then(toml::Value::as_str) {
            assert!(CRATES_IO.contains(&source), "{} comes from {source}", p["name"]);
        }
    }
}

// ---- RustSec advisories --------------------------------------------------------------------------

/// The TOML front matter of a RustSec advisory (its ```toml block), the fields we decide by.
#[derive(Deserialize)]
struct Advisory {
    advisory: AdvisoryHead,
    #[serde(default)]
    versions: AdvisoryVersions,
}

#[derive(Deserialize)]
struct AdvisoryHead {
    id: String,
    package: String,
    #[serde(default)]
    withdrawn: Option<toml::Value>,
    #[serde(default)]
    informational: Option<String>,
}

#[derive(Deserialize, Default)]
struct AdvisoryVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

fn parse_advisory(text: &str) -> Result<Advisory, String> {
    let body = text.trim_start().strip_prefix("```toml").ok_or("no ```toml front matter")?;
    let end = body.find("\n```").ok_or("unterminated front matter")?;
    toml::from_str(&body[..end]).map_err(|e| e.to_string())
}

impl Advisory {
    /// Whether `version` is affected: not withdrawn, and no patched or unaffected range matches.
    fn affects(&self, version: &semver::Version) -> Result<bool, String> {
        if self.advisory.withdrawn.is_some() {
            return Ok(false);
        }
        for req in self.versions.patched.iter().chain(&self.versions.unaffected) {
            let req = semver::VersionReq::parse(req).map_err(|e| format!("{}: range {req:?}: {e}", self.advisory.id))?;
            if req.matches(version) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Every (advisory, locked version) of `lock` that the advisories in `db` (a crates/ directory)
/// say is affected.
fn applicable(db: &Path, lock: &[(String, semver::Version)]) -> Vec<(String, String, semver::Version, Option<String>)> {
    let mut found = Vec::new();
    for (name, version) in lock {
        let dir = db.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("advisory entry").path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let a = parse_advisory(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(&a.advisory.package, name, "{} is filed under another crate", path.display());
            if a.affects(version).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
                found.push((a.advisory.id.clone(), name.clone(), version.clone(), a.advisory.informational.clone()));
            }
        }
    }
    found
}

fn locked_versions() -> Vec<(String, semver::Version)> {
    let lock: toml::Value = toml::from_str(&read(&root().join("Cargo.lock"))).expect("Cargo.lock");
    lock["package"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p.get("source").is_some())
        .map(|p| {
            let name = p["name"].as_str().expect("name").to_owned();
            let version = semver::Version::parse(p["version"].as_str().expect("version")).expect("a semver version");
            (name, version)
        })
        .collect()
}

#[test]
fn supply_chain_no_locked_crate_has_an_advisory_that_is_not_explained() {
    let policy = policy();
    let db = root().join("tools/advisory-db");
    assert!(db.join("LICENSE.txt").exists() && read(&db.join("COMMIT")).contains("commit = "), "the snapshot keeps its licence and commit");
    let found = applicable(&db.join("crates"), &locked_versions());
    let ignored = |id: &str, name: &str| policy.advisories.ignore.iter().any(|i| i.id == id && i.name == name);
    let open: Vec<String> = found
        .iter()
        .filter(|(id, name, ..)| !ignored(id, name))
        .map(|(id, name, v, info)| format!("{id}: {name} {v}{}", info.as_ref().map(|i| format!(" ({i})")).unwrap_or_default()))
        .collect();
    assert!(open.is_empty(), "RustSec advisories apply to locked crates (upgrade, or explain in tools/supply-chain.toml):\n{}", open.join("\n"));
    for i in &policy.advisories.ignore {
        assert!(found.iter().any(|(id, name, ..)| *id == i.id && *name == i.name), "ignored advisory {} ({}) no longer applies: remove it", i.id, i.name);
    }
}

/// The advisory check is live: a crate version inside an advisory's range is found, one in its
/// patched or unaffected range is not, and a withdrawn advisory never applies.
#[test]
fn supply_chain_advisory_ranges_are_read_as_rustsec_means_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let write = |name: &str, id: &str, extra: &str, versions: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        let text = format!("```toml\n[advisory]\nid = \"{id}\"\npackage = \"{name}\"\ndate = \"2024-01-01\"\n{extra}\n[versions]\n{versions}\n```\n\n# A planted advisory\n");
        std::fs::write(d.join(format!("{id}.md")), text).expect("write");
    };
    write("alpha", "RUSTSEC-0000-0001", "", "patched = [\">= 1.4.2\"]\nunaffected = [\"< 1.0.0\"]");
    write("beta", "RUSTSEC-0000-0002", "withdrawn = \"2024-02-01\"", "patched = []");
    write("gamma", "RUSTSEC-0000-0003", "informational = \"unmaintained\"", "patched = []");
    write("delta", "RUSTSEC-0000-0004", "", "patched = [\">= 0.7.3, < 0.8.0\", \"^0.8.1\"]");
    let v = |s: &str| semver::Version::parse(s).expect("version");
    let lock = [
        ("alpha", "1.4.1"),
        ("alpha", "1.4.2"),
        ("alpha", "0.9.0"),
        ("beta", "1.0.0"),
        ("gamma", "2.0.1"),
        ("delta", "0.7.5"),
        ("delta", "0.8.0"),
        ("delta", "0.8.4"),
        ("epsilon", "1.0.0"),
    ]
    .map(|(n, s)| (n.to_owned(), v(s)));
    let found: BTreeSet<(String, String)> = applicable(dir.path(), &lock).into_iter().map(|(id, _, version, _)| (id, version.to_string())).collect();
    let want: BTreeSet<(String, String)> =
        [("RUSTSEC-0000-0001", "1.4.1"), ("RUSTSEC-0000-0003", "2.0.1"), ("RUSTSEC-0000-0004", "0.8.0")].map(|(a, b)| (a.to_owned(), b.to_owned())).into();
    assert_eq!(found, want);
}
