//! Starts real `svea` processes on loopback and talks HTTP to them.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use svea_config::loopback::{Cluster, Node};

pub use crate::poll::{eventually, poll_until};

/// How long a node may take to become ready.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Where test ports are taken from: below Linux's ephemeral range (32768-60999), so that no
/// client connection of the many tests running at once gets a just-picked port as its source port
/// before the node binds it (port 0 hands out ephemeral ports, and that race failed CI once: a
/// node's operator listener found its port taken).
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;
/// The next candidate, per test process (each process starts elsewhere in the range).
static NEXT_TEST_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// A loopback port no other socket uses now, TCP and UDP alike (bound and released; only this
/// test process hands it out).
fn unused_port() -> u16 {
    let span = TEST_PORTS.end - TEST_PORTS.start;
    let start = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let n = NEXT_TEST_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = TEST_PORTS.start + (start.wrapping_add(n)) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {TEST_PORTS:?}");
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    unused_port()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts a problem+json answer with this status and kind, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["type"], format!("urn:svea:problem:{kind}"), "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_else(|| panic!("field {field} missing in {}", self.body)).to_string()
    }
}

/// One `svea run` process with its own data directory and config.
pub struct NodeProc {
    child: Option<Child>,
    pub url: String,
    /// The operator listener (`operator.listen_addr`); it answers only when a token is set.
    pub operator_url: String,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl NodeProc {
    /// Writes the config of a single node into `dir`, with `overrides` (dotted key, value, as
    /// `svea_config::RawConfig::set` takes them), and starts the node; waits until `/ready`
    /// answers 200.
    pub fn start(dir: &Path, overrides: &[(&str, &str)]) -> NodeProc {
        let (http, operator) = (free_port(), free_port());
        // The operator listener is on (with the test token) so that `/metrics` can be read there.
        let config = Cluster::new("svea", [Node::loopback(1, "stockholm", http, free_port()).operator_port(operator)])
            .dir(dir)
            .set("operator.token", OPERATOR_TOKEN)
            .set_all(overrides)
            .write_node(0, "Written by the svea tests.")
            .expect("write config");
        let mut n = NodeProc {
            child: None,
            url: format!("http://127.0.0.1:{http}"),
            operator_url: format!("http://127.0.0.1:{operator}"),
            config,
            log: dir.join("node.log"),
        };
        n.spawn();
        n
    }

    /// Writes the config of `node` alone (with `overrides`) into `dir` and starts it without
    /// waiting for anything: for nodes the plain-HTTP readiness poll cannot reach (HTTPS) or
    /// that are expected to refuse to start.
    pub fn start_unready(dir: &Path, node: Node, overrides: &[(&str, &str)], url: &str, operator_url: &str) -> NodeProc {
        let config = Cluster::new("svea", [node]).dir(dir).set_all(overrides).write_node(0, "Written by the svea tests.").expect("write config");
        let mut n = NodeProc { child: None, url: url.to_owned(), operator_url: operator_url.to_owned(), config, log: dir.join("node.log") };
        n.spawn_no_wait();
        n
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        self.spawn_no_wait_inner(log);
        self.wait_ready();
    }

    fn spawn_no_wait(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        self.spawn_no_wait_inner(log);
    }

    fn spawn_no_wait_inner(&mut self, log: std::fs::File) {
        let child = Command::new(env!("CARGO_BIN_EXE_svea"))
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::from(log.try_clone().expect("dup")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn svea");
        self.child = Some(child);
    }

    pub fn wait_ready(&mut self) {
        let ready = poll_until(READY_DEADLINE, || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("svea exited with {status} before ready; log:\n{}", self.log_text());
                }
            }
            ureq::get(&format!("{}/ready", self.url)).timeout(Duration::from_secs(2)).call().is_ok_and(|r| r.status() == 200)
        });
        assert!(ready.is_ok(), "node not ready in {READY_DEADLINE:?}; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    /// SIGSTOP: the process is frozen (a stalled machine), its sockets stay open.
    /// Returns once every thread of it is stopped: a signal is delivered asynchronously, and a
    /// thread still running could answer a request sent after this returns.
    pub fn pause(&self) {
        let pid = self.pid().expect("running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        eventually(Duration::from_secs(5), format_args!("every thread of process {pid} stopped"), || all_threads_stopped(pid));
    }

    /// SIGCONT after [`NodeProc::pause`].
    pub fn resume(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid().expect("running") as i32, libc::SIGCONT) };
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        match poll_until(Duration::from_secs(30), || c.try_wait().ok().flatten()) {
            Ok(status) => status.code(),
            Err(_) => {
                let _ = c.kill();
                panic!("svea did not stop within 30 s of SIGTERM");
            }
        }
    }

    /// Waits (bounded) for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let c = self.child.as_mut()?;
        let exited = poll_until(limit, || c.try_wait().ok().flatten());
        let Ok(status) = exited else {
            panic!("process did not exit within {limit:?}; log:\n{}", self.log_text());
        };
        self.child = None;
        status.code()
    }

    /// The status of a GET, or `None` when nothing answers (connection refused, timeout).
    pub fn get_alive(&self, path: &str) -> Option<u16> {
        match agent().get(&format!("{}{path}", self.url)).timeout(Duration::from_secs(5)).call() {
            Ok(r) => Some(r.status()),
            Err(ureq::Error::Status(code, _)) => Some(code),
            Err(_) => None,
        }
    }

    /// Starts the stopped process again without waiting for it to become ready.
    pub fn restart_unready(&mut self) {
        assert!(self.child.is_none(), "stop the node first");
        self.spawn_no_wait();
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the node first");
        self.spawn();
    }

    pub fn get(&self, path: &str) -> Resp {
        send(agent().get(&format!("{}{path}", self.url)), None)
    }

    /// GET as the business whose API key is `key`.
    pub fn get_as(&self, path: &str, key: &str) -> Resp {
        self.get_with(path, &[("authorization", &format!("Bearer {key}"))])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut r = agent().get(&format!("{}{path}", self.url));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        send(r, None)
    }

    /// `GET /metrics` on the operator listener with the operator token: the public listener never
    /// serves it.
    pub fn metrics(&self) -> Resp {
        self.operator_get("/metrics", &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))])
    }

    /// A GET on the operator listener.
    pub fn operator_get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut r = agent().get(&format!("{}{path}", self.operator_url));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        send(r, None)
    }

    /// A POST of JSON on the operator listener.
    pub fn operator_post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        let mut r = agent().post(&format!("{}{path}", self.operator_url)).set("content-type", "application/json");
        for (k, v) in headers {
            r = r.set(k, v);
        }
        send(r, Some(body.to_string().as_bytes()))
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.post_raw(path, "application/json", body.to_string().as_bytes())
    }

    pub fn post_with(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        let mut r = agent().post(&format!("{}{path}", self.url)).set("content-type", "application/json");
        for (k, v) in headers {
            r = r.set(k, v);
        }
        send(r, Some(body.to_string().as_bytes()))
    }

    /// A JSON request with any `method` as the business whose API key is `key`.
    pub fn send_as(&self, method: &str, path: &str, key: &str, body: Value) -> Resp {
        let r = agent().request(method, &format!("{}{path}", self.url)).set("content-type", "application/json").set("authorization", &format!("Bearer {key}"));
        send(r, Some(body.to_string().as_bytes()))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, bytes: &[u8]) -> Resp {
        send(agent().post(&format!("{}{path}", self.url)).set("content-type", content_type), Some(bytes))
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client that does not follow redirects (tests look at the 307 itself).
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

fn send(req: ureq::Request, body: Option<&[u8]>) -> Resp {
    let req = req.timeout(Duration::from_secs(30));
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("http transport error: {e}"),
    };
    let status = resp.status();
    let content_type = resp.header("content-type").unwrap_or("").to_string();
    let headers = resp.headers_names().iter().map(|n| (n.clone(), resp.header(n).unwrap_or("").to_string())).collect();
    let mut text = String::new();
    resp.into_reader().read_to_string(&mut text).expect("read body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Resp { status, content_type, body, headers }
}

/// A valid organisationsnummer (Luhn-checked).
pub const ORG_NUMBER: &str = "556036-0793";

/// A feedback text that scores in a reward tier.
pub const GOOD_FEEDBACK: &str = "Kaffet var gott och personalen trevlig, men kön var lång vid lunch. \
    Ni borde öppna en kassa till mellan 12 och 13, då hade det varit bättre.";

/// Feedback texts of reward-tier quality that are not near-duplicates of each other (nor of
/// [`GOOD_FEEDBACK`]): a business pays each text once, so a test that expects several rewards at
/// one business uses one of these per session, as real customers would write their own.
pub const DISTINCT_FEEDBACK: [&str; 8] = [
    "Latten för 45 kr var perfekt tempererad och baristan Elin log. Tyvärr saknades havremjölk. Ni borde ha två sorter!",
    "Smörgåsen med räkor kostade 89 kr och var fräsch, men brödet var torrt. Förslag: baka på eftermiddagen också.",
    "Väntade 20 minuter på bord vid 18:30 trots bokning. Personalen bad om ursäkt och maten var god. Skicka sms när bordet är klart.",
    "Toaletterna var rena och doftade gott. Däremot var skylten till entrén svår att se från parkeringen, ni borde sätta upp en större skylt.",
    "Glassen i våfflan för 55 kr smälte direkt i värmen, men smaken pistage var fantastisk. Ni borde ställa frysdisken i skuggan i juli.",
    "Kassören Ahmed hjälpte mig hitta glutenfri pasta i hylla 7. Bra service! Priserna på frukt var dock höga, jag önskar en veckokampanj.",
    "Wifi-lösenordet stod ingenstans och uttagen vid fönstret fungerade inte. Kanelbullen var ändå utmärkt, ni borde fixa eluttagen.",
    "Hämtmaten var klar på 12 minuter som utlovat, riktigt bra. Tyvärr läckte såsen i påsen. Förslag: använd lock som sluter tätt.",
];

/// The `i`-th of [`DISTINCT_FEEDBACK`] (wrapping around).
pub fn distinct_feedback(i: usize) -> &'static str {
    DISTINCT_FEEDBACK[i % DISTINCT_FEEDBACK.len()]
}

/// A business as its creator knows it.
#[derive(Debug, Clone)]
pub struct Biz {
    /// Business id.
    pub id: String,
    /// The QR token of its one location.
    pub token: String,
    /// Its API key.
    pub key: String,
}

/// Serial of the next organisation number the tests register (each registers once per cluster;
/// one counter for the whole test binary keeps them distinct in every cluster).
static NEXT_ORG_SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(100);

/// A valid organisation number not used before by this test binary.
pub fn next_org_number() -> svea_node::domain::OrgNumber {
    svea_node::domain::OrgNumber::numbered(NEXT_ORG_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Creates a business with one location in Malmö.
pub fn create_business(n: &NodeProc, budget: &str) -> Biz {
    create_business_with(n, budget, 55.6046, 12.9996)
}

/// Creates a business with one location at (lat, lon) (its home region is the nearest) and a
/// budget of 100 000 SEK.
pub fn create_business_at(n: &NodeProc, lat: f64, lon: f64) -> Biz {
    create_business_with(n, "100000.00", lat, lon)
}

fn create_business_with(n: &NodeProc, budget: &str, lat: f64, lon: f64) -> Biz {
    let r = n.post(
        "/v1/businesses",
        serde_json::json!({
            "name": "Kafé Lilla Torget",
            "org_number": next_org_number().to_string(),
            "locations": [{"name": "Lilla Torg", "lat": lat, "lon": lon}],
            "reward_budget_sek": budget
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    Biz { id: r.str("id"), token: r.body["locations"][0]["qr_token"].as_str().expect("token").to_string(), key: r.str("api_key") }
}

/// What every device token starts with.
pub const DEVICE_TOKEN_PREFIX: &str = "svea_dt_";

/// A customer's phone as the API knows it: the device token svea issued on its first scan
/// (`None` before it), sent with every later scan. Every scan checks the issuing rule: a first
/// scan gets a token, this once; a later one never gets one again.
#[derive(Debug, Default, Clone)]
pub struct Device {
    pub token: Option<String>,
}

impl Device {
    /// A phone that has never scanned.
    pub fn new() -> Device {
        Device::default()
    }

    /// `POST /v1/sessions` for the QR token `qr` from this phone; keeps the token a first scan
    /// issues.
    pub fn scan(&mut self, n: &NodeProc, qr: &str) -> Resp {
        self.scan_with(n, qr, &[])
    }

    /// [`Self::scan`] with extra request headers.
    #[track_caller]
    pub fn scan_with(&mut self, n: &NodeProc, qr: &str, headers: &[(&str, &str)]) -> Resp {
        let r = n.post_with("/v1/sessions", open_body(qr, self.token.as_deref()), headers);
        self.keep(&r);
        r
    }

    /// Keeps the token `r` (an answer to this phone's scan) issued, after checking the rule.
    #[track_caller]
    pub fn keep(&mut self, r: &Resp) {
        let issued = r.body.get("device_token").and_then(Value::as_str);
        match (&self.token, r.status) {
            (None, 200 | 201) => {
                let t = issued.unwrap_or_else(|| panic!("a first scan is issued a device token: {}", r.body));
                assert!(t.starts_with(DEVICE_TOKEN_PREFIX), "{t}");
                self.token = Some(t.to_string());
            }
            _ => assert!(issued.is_none(), "a device token is issued once, never again: {}", r.body),
        }
    }

    /// Opens a session (201 Created) and returns its id.
    #[track_caller]
    pub fn open(&mut self, n: &NodeProc, qr: &str) -> String {
        let r = self.scan(n, qr);
        assert_eq!(r.status, 201, "{}", r.body);
        r.str("id")
    }

    /// The token svea issued this phone (it has scanned).
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("the phone has scanned and holds its device token")
    }
}

/// The body of `POST /v1/sessions`: the QR token, and the device token when the phone has one.
pub fn open_body(qr: &str, device_token: Option<&str>) -> Value {
    match device_token {
        Some(t) => serde_json::json!({"qr_token": qr, "device_token": t}),
        None => serde_json::json!({"qr_token": qr}),
    }
}

/// Opens a session from a new phone and returns its id.
#[track_caller]
pub fn open_session(n: &NodeProc, qr: &str) -> String {
    Device::new().open(n, qr)
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Confirms a purchase; returns the response.
pub fn purchase(n: &NodeProc, sid: &str, amount: &str, txn: &str) -> Resp {
    n.post(
        &format!("/v1/sessions/{sid}/purchase"),
        serde_json::json!({"amount_sek": amount, "purchased_at": now_rfc3339(), "transaction_id": txn}),
    )
}

pub fn feedback(n: &NodeProc, sid: &str, text: &str) -> Resp {
    n.post(&format!("/v1/sessions/{sid}/feedback"), serde_json::json!({"text": text}))
}

/// A three-region cluster of real processes: stockholm (1), gothenburg (2), malmo (3).
pub struct Cluster3 {
    pub nodes: Vec<NodeProc>,
    pub tls: PathBuf,
    pub raft_addrs: Vec<std::net::SocketAddr>,
    /// The nodes' configs: every member, with the overrides all of them share.
    pub layout: Cluster,
}

/// The operator token every test cluster is configured with.
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

/// Runs the `svea` binary with `args`; returns (exit code, stdout, stderr).
pub fn svea_cli(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_svea"));
    cmd.args(args).env_remove("SVEA_OPERATOR_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run svea");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub const REGIONS: [&str; 3] = ["stockholm", "gothenburg", "malmo"];

impl Cluster3 {
    /// Generates certificates with `svea certs`, writes one config per node with `overrides`
    /// (dotted key, value) and starts all three.
    pub fn start(dir: &Path, overrides: &[(&str, &str)]) -> Cluster3 {
        // These tests are about serving any request anywhere, not about geo routing: serve.
        Self::start_with(dir, &[&[("node.routing", "serve")], overrides].concat(), [&[], &[], &[]])
    }

    /// Like [`Cluster3::start`] (routing left to `overrides`), with overrides of each node's own
    /// (stockholm, gothenburg, malmo).
    pub fn start_with(dir: &Path, overrides: &[(&str, &str)], own: [&[(&str, &str)]; 3]) -> Cluster3 {
        Self::start_prepared(dir, overrides, own, |_| {})
    }

    /// Like [`Cluster3::start_with`], running `prepare` on the written config files (stockholm,
    /// gothenburg, malmo) before any node starts (a restore seeds their stores there).
    pub fn start_prepared(dir: &Path, overrides: &[(&str, &str)], own: [&[(&str, &str)]; 3], prepare: impl FnOnce(&[PathBuf])) -> Cluster3 {
        let tls = dir.join("tls");
        let out = Command::new(env!("CARGO_BIN_EXE_svea"))
            .args(["certs", "--out"])
            .arg(&tls)
            .args(["--nodes", "stockholm", "gothenburg", "malmo"])
            .output()
            .expect("svea certs");
        assert!(out.status.success(), "svea certs failed: {}", String::from_utf8_lossy(&out.stderr));
        let http: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let operator: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let raft: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
        let nodes = (0..3).map(|i| Node::loopback(i as u64 + 1, REGIONS[i], http[i], raft[i]).operator_port(operator[i]).set_all(own[i]));
        let layout = Cluster::new("svea-test", nodes)
            .dir(dir)
            .tls(&tls)
            .set("operator.token", OPERATOR_TOKEN)
            .set_all(overrides);
        let paths = layout.write("Written by the svea tests.").expect("write configs");
        prepare(&paths);
        let configs = (0..3).map(|i| (paths[i].clone(), format!("http://127.0.0.1:{}", http[i]), dir.join(REGIONS[i]).join("node.log")));
        // Start all three before waiting: a single node cannot become ready without a quorum.
        let mut nodes = Vec::new();
        for (i, (config, url, log)) in configs.enumerate() {
            let operator_url = format!("http://127.0.0.1:{}", operator[i]);
            let mut n = NodeProc { child: None, url, operator_url, config, log };
            n.spawn_no_wait();
            nodes.push(n);
        }
        for n in &mut nodes {
            n.wait_ready();
        }
        let raft_addrs = raft.iter().map(|p| format!("127.0.0.1:{p}").parse().expect("addr")).collect();
        Cluster3 { nodes, tls, raft_addrs, layout }
    }

    /// Signs a certificate for node `id` with the cluster CA (`svea certs --add`), writes its
    /// config (every member plus itself) and starts it, waiting only for `/health`: it is not
    /// a member until an operator adds it.
    pub fn spawn_extra(&self, dir: &Path, id: u64, region: &str) -> NodeProc {
        let label = format!("{region}-{id}");
        let tls = self.tls.display().to_string();
        let (code, _, err) = svea_cli(&["certs", "--add", "--out", &tls, "--nodes", &format!("{label}:{id}")], &[]);
        assert_eq!(code, Some(0), "svea certs --add: {err}");
        let (http, operator, raft) = (free_port(), free_port(), free_udp_port());
        let layout = self.layout.clone().dir(dir).node(Node::loopback(id, region, http, raft).label(&label).operator_port(operator));
        let config = layout.write_node(3, "Written by the svea tests.").expect("write config");
        let ndir = dir.join(&label);
        let mut n = NodeProc {
            child: None,
            url: format!("http://127.0.0.1:{http}"),
            operator_url: format!("http://127.0.0.1:{operator}"),
            config,
            log: ndir.join("node.log"),
        };
        n.spawn_no_wait();
        let healthy = poll_until(READY_DEADLINE, || n.get_alive("/health") == Some(200));
        assert!(healthy.is_ok(), "node {id} never answered /health; log:\n{}", n.log_text());
        n
    }

    /// Starts every stopped node again, all before waiting (one alone has no quorum to be ready).
    pub fn restart_stopped(&mut self) {
        let stopped: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].child.is_none()).collect();
        for i in &stopped {
            self.nodes[*i].spawn_no_wait();
        }
        for i in stopped {
            self.nodes[i].wait_ready();
        }
    }

    pub fn by_region(&self, region: &str) -> &NodeProc {
        &self.nodes[REGIONS.iter().position(|r| *r == region).expect("region")]
    }

    /// Index of the node that currently leads, as node 1 sees it.
    pub fn leader_index(&self) -> usize {
        let leader = eventually(READY_DEADLINE, "a node that reports a leader", || {
            self.nodes.iter().filter(|n| n.child.is_some()).find_map(|n| n.get("/ready").body["leader"].as_u64())
        });
        (leader - 1) as usize
    }
}

/// A free loopback UDP port.
pub fn free_udp_port() -> u16 {
    unused_port()
}

/// Whether every thread of `pid` is in the stopped state (`T` in /proc/<pid>/task/*/stat).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The state follows the parenthesised command name, which may itself contain spaces.
        stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('T')).unwrap_or(false)
    })
}
