//! Kubernetes as written (issue 24, item 1). kind and k3s cannot run here, so this starts the
//! three pods of `deploy/k8s/` as three `svea run` processes with exactly what the manifests give
//! a pod: the container's `args`, its `env` (secrets filled in), the ConfigMap file mounted where
//! the StatefulSet mounts it, and the service-link variables Kubernetes injects for every
//! Service of `services.yaml` (`SVEA_STOCKHOLM_PORT=tcp://...`, `SVEA_STOCKHOLM_SERVICE_HOST`,
//! ...). Nothing else of the host's environment passes.
//!
//! What a cluster provides and one machine does not is emulated, each by the one means a pod
//! would have had, and said here:
//! - the pod network: every pod gets its own loopback address 127.A.B.(11..13) (all of
//!   127.0.0.0/8 is loopback on Linux), with A.B random per run so concurrent runs never meet.
//!   The config's `0.0.0.0` bind addresses become that address (a pod's 0.0.0.0 is only its own
//!   interfaces), and the operator listener's default `127.0.0.1:8090` that address too (a
//!   pod's loopback is its own);
//! - cluster DNS: the headless Service's pod names resolve through `cluster.hosts`
//!   (`SVEA_CLUSTER_HOSTS`), the config's fixed answers consulted before DNS. Chosen over
//!   `*.localhost` (glibc does not resolve subdomains of localhost: `getent hosts
//!   a.localhost` fails here) and over a private mount namespace with its own /etc/hosts
//!   (user namespaces are often disabled in CI): the name still travels through config,
//!   membership and transport exactly as in the cluster, and only the last step, name to
//!   address, differs;
//! - volumes: every file path in the config must lie under one of the container's
//!   `volumeMounts`; it is given under the pod's own root directory instead (the `SVEA_*`
//!   variable of its key), as the mount would have put it there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::deploy::{k8s_dir, yaml_docs};
use crate::harness::*;
use crate::transport::https_agent;

/// How long three pods may take to become ready (debug binaries on a loaded machine).
const PODS_READY_DEADLINE: Duration = Duration::from_secs(90);

/// The secret values of `svea-secrets`, by key.
fn secrets() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("operator-token", OPERATOR_TOKEN.to_owned()),
        ("metrics-token", "m".repeat(40)),
        ("device-key", "k".repeat(svea_config::DEVICE_KEY_MIN_LEN)),
    ])
}

/// The variables Kubernetes's kubelet injects for one Service (docker-links style, the
/// `enableServiceLinks` default), as documented under "Discovering services: environment
/// variables". Headless Services (`clusterIP: None`) get none.
fn service_links(service: &Value, cluster_ip: &str) -> Vec<(String, String)> {
    let name = service["metadata"]["name"].as_str().expect("service name").to_ascii_uppercase().replace('-', "_");
    let ports = service["spec"]["ports"].as_array().expect("ports");
    let mut vars = vec![(format!("{name}_SERVICE_HOST"), cluster_ip.to_owned())];
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_u64().expect("port");
        let proto = p["protocol"].as_str().unwrap_or("TCP");
        let url = format!("{}://{cluster_ip}:{port}", proto.to_ascii_lowercase());
        if i == 0 {
            vars.push((format!("{name}_SERVICE_PORT"), port.to_string()));
            vars.push((format!("{name}_PORT"), url.clone()));
        }
        if let Some(port_name) = p["name"].as_str() {
            vars.push((format!("{name}_SERVICE_PORT_{}", port_name.to_ascii_uppercase().replace('-', "_")), port.to_string()));
        }
        let prefix = format!("{name}_PORT_{port}_{proto}");
        vars.push((prefix.clone(), url));
        vars.push((format!("{prefix}_PROTO"), proto.to_ascii_lowercase()));
        vars.push((format!("{prefix}_PORT"), port.to_string()));
        vars.push((format!("{prefix}_ADDR"), cluster_ip.to_owned()));
    }
    vars
}

/// One pod of a StatefulSet, as the manifests describe it.
struct Pod {
    region: String,
    /// `<statefulset>-0`.
    name: String,
    /// `<pod>.<serviceName>.<namespace>.svc.cluster.local`.
    dns: String,
    ip: String,
    root: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// mountPath -> the ConfigMap file, the Secret's files or a directory.
    mounts: Vec<String>,
    config_text: String,
}

impl Pod {
    /// `path` as the pod sees it, on this machine: under the pod's root, if under a mount.
    fn host_path(&self, path: &str) -> PathBuf {
        assert!(self.mounts.iter().any(|m| path == m || path.starts_with(&format!("{m}/"))), "{}: {path} is on no volume mount ({:?})", self.name, self.mounts);
        self.root.join(path.trim_start_matches('/'))
    }
}

fn pods(dir: &Path, net: (u8, u8)) -> Vec<Pod> {
    let k8s = k8s_dir();
    let kustomization = &yaml_docs(&k8s.join("kustomization.yaml"))[0];
    let generated = &kustomization["configMapGenerator"][0];
    let config_map = generated["name"].as_str().expect("configmap name").to_owned();
    let config_files: BTreeMap<String, String> = generated["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let rel = f.as_str().expect("file");
            let key = Path::new(rel).file_name().expect("name").to_string_lossy().into_owned();
            (key, std::fs::read_to_string(k8s.join(rel)).expect("configmap file"))
        })
        .collect();
    let services = yaml_docs(&k8s.join("services.yaml"));
    // Every Service with a cluster IP gets its links (made-up IPs from the service CIDR).
    let mut links = Vec::new();
    for (i, s) in services.iter().enumerate() {
        if s["spec"]["clusterIP"] != "None" {
            links.extend(service_links(s, &format!("10.96.0.{}", 10 + i)));
        }
    }
    assert!(links.iter().any(|(k, _)| k == "SVEA_STOCKHOLM_PORT"), "the region Services inject SVEA_STOCKHOLM_PORT: {links:?}");
    // Kubernetes's own Service, in every pod.
    links.extend([("KUBERNETES_SERVICE_HOST".to_owned(), "10.96.0.1".to_owned()), ("KUBERNETES_SERVICE_PORT".to_owned(), "443".to_owned())]);

    let mut pods = Vec::new();
    for (i, region) in REGIONS.iter().enumerate() {
        let ss = yaml_docs(&k8s.join(format!("statefulset-{region}.yaml"))).remove(0);
        let name = format!("{}-0", ss["metadata"]["name"].as_str().expect("name"));
        let namespace = ss["metadata"]["namespace"].as_str().expect("namespace");
        let dns = format!("{name}.{}.{namespace}.svc.cluster.local", ss["spec"]["serviceName"].as_str().expect("serviceName"));
        let pod_spec = &ss["spec"]["template"]["spec"];
        let c = &pod_spec["containers"][0];
        let mut env = vec![("HOSTNAME".to_owned(), name.clone())];
        env.extend(links.iter().cloned());
        for e in c["env"].as_array().expect("env") {
            let var = e["name"].as_str().expect("env name").to_owned();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_owned()
            } else {
                let key = e["valueFrom"]["secretKeyRef"]["key"].as_str().unwrap_or_else(|| panic!("{var}: only values and secret keys are emulated: {e}"));
                secrets().get(key).unwrap_or_else(|| panic!("secret key {key}")).clone()
            };
            env.push((var, value));
        }
        let mounts: Vec<String> = c["volumeMounts"].as_array().expect("mounts").iter().map(|m| m["mountPath"].as_str().expect("path").to_owned()).collect();
        // The config file: the ConfigMap's key `subPath` mounted at its mountPath.
        let cm_volume = pod_spec["volumes"].as_array().expect("volumes").iter().find(|v| v["configMap"]["name"] == config_map.as_str()).expect("configmap volume");
        let cm_mount = c["volumeMounts"].as_array().expect("mounts").iter().find(|m| m["name"] == cm_volume["name"]).expect("configmap mount");
        let config_text = config_files[cm_mount["subPath"].as_str().expect("subPath")].clone();
        let pod = Pod {
            region: region.to_string(),
            dns,
            ip: format!("127.{}.{}.{}", net.0, net.1, 11 + i),
            root: dir.join(&name),
            name,
            args: c["args"].as_array().expect("args").iter().map(|a| a.as_str().expect("arg").to_owned()).collect(),
            env,
            mounts,
            config_text,
        };
        let config_path = pod.host_path(cm_mount["mountPath"].as_str().expect("mountPath"));
        std::fs::create_dir_all(config_path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&config_path, &pod.config_text).expect("config");
        pods.push(pod);
    }
    pods
}

/// `svea certs` for the three nodes and their HTTPS listeners, placed as deploy/README.md puts
/// them into each pod's Secret `svea-tls-<region>` (ca.pem, node.pem, node.key, https.pem,
/// https.key), mounted where the StatefulSet mounts it. Returns the HTTPS CA.
fn tls_secrets(dir: &Path, pods: &[Pod]) -> String {
    let out = dir.join("svea-tls");
    let out_s = out.display().to_string();
    let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "stockholm", "gothenburg", "malmo"], &[]);
    assert_eq!(code, Some(0), "svea certs: {err}");
    let hosts: Vec<String> = pods.iter().flat_map(|p| [p.ip.clone(), p.dns.clone()]).collect();
    let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "stockholm", "gothenburg", "malmo", "--https", &hosts.join(",")], &[]);
    assert_eq!(code, Some(0), "svea certs --https: {err}");
    for p in pods {
        let secret = p.host_path("/etc/svea/tls");
        std::fs::create_dir_all(&secret).expect("mkdir");
        for (key, file) in [("ca.pem", "ca.pem".to_owned()), ("node.pem", format!("{}.pem", p.region)), ("node.key", format!("{}.key", p.region)), ("https.pem", format!("{}-https.pem", p.region)), ("https.key", format!("{}-https.key", p.region))] {
            std::fs::copy(out.join(file), secret.join(key)).expect("secret file");
        }
    }
    out.join("https-ca.pem").display().to_string()
}

/// Starts `pod` with exactly its manifest's args and environment, plus the emulation variables
/// the module documentation lists.
fn start(pod: &Pod, pods: &[Pod]) -> Child {
    let env: BTreeMap<String, String> = pod.env.iter().cloned().collect();
    let cfg = svea_config::Config::from_toml_str(&pod.config_text, &env).unwrap_or_else(|e| panic!("{}: the manifest's config and env do not validate: {e}", pod.name));
    let mut emulation: Vec<(String, String)> = Vec::new();
    // Volumes: every path the config names, under the pod's root.
    let paths = [
        ("SVEA_TLS_CA_CERT", Some(cfg.tls.ca_cert.clone())),
        ("SVEA_TLS_NODE_CERT", Some(cfg.tls.node_cert.clone())),
        ("SVEA_TLS_NODE_KEY", Some(cfg.tls.node_key.clone())),
        ("SVEA_HTTP_TLS_CERT", cfg.http.tls.as_ref().map(|f| f.cert.clone())),
        ("SVEA_HTTP_TLS_KEY", cfg.http.tls.as_ref().map(|f| f.key.clone())),
        ("SVEA_NODE_DATA_DIR", Some(cfg.node.data_dir.clone())),
    ];
    for (var, path) in paths {
        let path = path.unwrap_or_else(|| panic!("{}: {var} is not configured", pod.name));
        emulation.push((var.to_owned(), pod.host_path(&path.display().to_string()).display().to_string()));
    }
    // The pod network: its own address in place of 0.0.0.0 and of its loopback.
    let on_pod = |addr: std::net::SocketAddr| {
        assert!(addr.ip().is_unspecified() || addr.ip().is_loopback(), "{}: binds {addr}", pod.name);
        format!("{}:{}", pod.ip, addr.port())
    };
    emulation.push(("SVEA_NODE_RAFT_LISTEN_ADDR".to_owned(), on_pod(cfg.node.raft_listen_addr)));
    emulation.push(("SVEA_NODE_HTTP_ADDR".to_owned(), on_pod(cfg.node.http_addr)));
    emulation.push(("SVEA_OPERATOR_LISTEN_ADDR".to_owned(), on_pod(cfg.operator.listen_addr)));
    if let Some(m) = cfg.operator.metrics_listen_addr {
        emulation.push(("SVEA_OPERATOR_METRICS_LISTEN_ADDR".to_owned(), on_pod(m)));
    }
    // Cluster DNS for the headless Service's pod names.
    let hosts: Vec<String> = pods.iter().map(|p| format!("{}={}", p.dns, p.ip)).collect();
    emulation.push(("SVEA_CLUSTER_HOSTS".to_owned(), hosts.join(",")));
    for (k, _) in &emulation {
        assert!(!env.contains_key(k), "{}: the manifest sets {k} itself", pod.name);
    }
    // The args, with the paths under a mount taken to the pod's root.
    let args: Vec<String> = pod.args.iter().map(|a| if a.starts_with('/') { pod.host_path(a).display().to_string() } else { a.clone() }).collect();
    let log = std::fs::File::create(pod.root.join("pod.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_svea"))
        .args(&args)
        .env_clear()
        .envs(pod.env.iter().cloned())
        .envs(emulation)
        .stdout(Stdio::from(log.try_clone().expect("dup")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn svea")
}

/// Kills the pods when the test ends, passed or not.
struct Pods(Vec<Child>);

impl Drop for Pods {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn three_pods_started_as_the_manifests_say_form_a_cluster_by_dns_names_and_serve_a_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let net = (1 + (std::process::id() % 250) as u8, 1 + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").subsec_nanos() % 250) as u8);
    let pods = pods(dir.path(), net);
    let ca = tls_secrets(dir.path(), &pods);
    let agent = https_agent(&ca);
    let mut children = Pods(pods.iter().map(|p| start(p, &pods)).collect());

    let log = |p: &Pod| std::fs::read_to_string(p.root.join("pod.log")).unwrap_or_default();
    for (i, p) in pods.iter().enumerate() {
        let url = format!("https://{}:8080/ready", p.ip);
        let ready = poll_until(PODS_READY_DEADLINE, || {
            if let Ok(Some(status)) = children.0[i].try_wait() {
                panic!("{} exited with {status} (a crash-looping pod); log:\n{}", p.name, log(p));
            }
            agent.get(&url).timeout(Duration::from_secs(2)).call().is_ok_and(|r| r.status() == 200)
        });
        assert!(ready.is_ok(), "{} never became ready (its readinessProbe); log:\n{}", p.name, log(p));
    }
    for p in &pods {
        assert!(!log(p).contains("unknown environment variable"), "{}: {}", p.name, log(p));
    }

    // A write through stockholm, read through malmo: the cluster commits and replicates.
    let created = agent
        .post(&format!("https://{}:8080/v1/businesses", pods[0].ip))
        .send_json(json!({
            "name": "Kafé Lilla Torget",
            "org_number": next_org_number().to_string(),
            "locations": [{"name": "Lilla Torg", "lat": 59.33, "lon": 18.07}],
            "reward_budget_sek": "1000.00"
        }))
        .unwrap_or_else(|e| panic!("create a business: {e}; log:\n{}", log(&pods[0])));
    assert_eq!(created.status(), 201);
    let body: Value = created.into_json().expect("json");
    let (id, key) = (body["id"].as_str().expect("id"), body["api_key"].as_str().expect("key"));
    let read = agent
        .get(&format!("https://{}:8080/v1/businesses/{id}", pods[2].ip))
        .set("Authorization", &format!("Bearer {key}"))
        .call()
        .unwrap_or_else(|e| panic!("read it through malmo: {e}; log:\n{}", log(&pods[2])));
    assert_eq!(read.status(), 200);

    // The membership holds the pods' DNS names, not addresses (the operator API, on the pod's
    // loopback as `kubectl exec` would reach it).
    let status: Value = ureq::get(&format!("http://{}:8090/v1/cluster", pods[1].ip))
        .set("Authorization", &format!("Bearer {OPERATOR_TOKEN}"))
        .call()
        .expect("status")
        .into_json()
        .expect("json");
    let mut addrs: Vec<String> = status["members"].as_array().expect("members").iter().map(|m| m["raft_addr"].as_str().expect("raft_addr").to_owned()).collect();
    addrs.sort();
    let mut want: Vec<String> = pods.iter().map(|p| format!("{}:7001", p.dns)).collect();
    want.sort();
    assert_eq!(addrs, want, "members are addressed by their headless Service names");
    assert!(status["members"].as_array().expect("members").iter().all(|m| m["reachable"] == true), "{status}");
}
