//! `svea cluster ...`: the operator CLI, a client of `/v1/cluster` on a running node's operator
//! listener (`operator.listen_addr`, loopback: run it on the node's machine or through a tunnel).

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use clap::Subcommand;

use crate::http::cluster_json::{ClusterOut, DrainOut, MaintenanceOut, MemberIn, OrgReleaseOut};

/// Environment variable the token is read from when `--token` is not given.
pub const TOKEN_VAR: &str = "SVEA_OPERATOR_TOKEN";
/// Limit for status and removal calls.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit for calls that wait on a learner catching up or a whole drain.
pub const LONG_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The operator token: `--token`, which clap fills from `SVEA_OPERATOR_TOKEN` when not given
/// (the flag's `env`, shown in `--help`).
pub fn token(flag: Option<String>) -> anyhow::Result<String> {
    match flag {
        Some(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => bail!("no operator token: pass --token or set {TOKEN_VAR}"),
    }
}

struct Client {
    token: String,
}

impl Client {
    fn call(&self, method: &str, url: &str, body: Option<&Value>, timeout: Duration) -> anyhow::Result<Value> {
        let req = ureq::request(method, url).timeout(timeout).set("Authorization", &format!("Bearer {}", self.token));
        let result = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        match result {
            Ok(resp) => resp.into_json::<Value>().with_context(|| format!("{method} {url}: answer is not JSON")),
            Err(ureq::Error::Status(code, resp)) => bail!("{method} {url}: {code}: {}", problem_detail(resp)),
            Err(e) => bail!("{method} {url}: {e}"),
        }
    }
}

/// The `detail` of a problem answer (or its text when it is not one).
pub(crate) fn problem_detail(resp: ureq::Response) -> String {
    let text = resp.into_string().unwrap_or_default();
    serde_json::from_str::<Value>(&text).ok().and_then(|v| v["detail"].as_str().map(str::to_owned)).unwrap_or(text)
}

pub(crate) fn base(url: &str) -> anyhow::Result<String> {
    let u = url.trim().trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        bail!("--node {url:?} must be a URL like http://127.0.0.1:8090 (the node's operator.listen_addr)");
    }
    Ok(u.to_owned())
}

fn status_of(client: &Client, node: &str) -> anyhow::Result<ClusterOut> {
    let v = client.call("GET", &format!("{node}/v1/cluster"), None, CALL_TIMEOUT)?;
    serde_json::from_value(v).context("the /v1/cluster answer is not a cluster status")
}

/// Prints the cluster status as a table (or JSON).
pub fn status(node: &str, token: String, json: bool) -> anyhow::Result<()> {
    let client = Client { token };
    let s = status_of(&client, &base(node)?)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    print!("{}", render_status(&s));
    Ok(())
}

/// The human-readable status table.
pub fn render_status(s: &ClusterOut) -> String {
    let mut out = format!(
        "cluster {}  (answered by node {}, term {}, leader {})\n",
        s.cluster,
        s.node,
        s.term,
        s.leader.map_or("none".to_owned(), |l| l.to_string())
    );
    out.push_str(&format!(
        "{:>4}  {:<11} {:<8} {:<7} {:<10} {:>8} {:>6} {:>7}  {}\n",
        "id", "region", "role", "leader", "reachable", "matched", "lag", "actors", "url"
    ));
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    for m in &s.members {
        let role = if m.draining { format!("{}*", m.role) } else { m.role.clone() };
        out.push_str(&format!(
            "{:>4}  {:<11} {:<8} {:<7} {:<10} {:>8} {:>6} {:>7}  {}\n",
            m.id,
            m.region,
            role,
            if m.leader { "yes" } else { "" },
            if m.reachable { "yes" } else { "NO" },
            opt(m.matched_index),
            opt(m.lag),
            m.owned_actors,
            m.public_url
        ));
    }
    if s.members.iter().any(|m| m.draining) {
        out.push_str("(* draining)\n");
    }
    for r in &s.regions {
        out.push_str(&format!("region {:<11} {}  nodes {:?}\n", r.name, if r.healthy { "healthy" } else { "DOWN" }, r.nodes));
    }
    for g in &s.groups {
        out.push_str(&format!(
            "group {:<2} home {:<11} leader {:<5} term {:<5} applied {}\n",
            g.group,
            g.home.as_deref().unwrap_or("-"),
            g.leader.map_or("none".to_owned(), |l| l.to_string()),
            g.term,
            opt(g.last_applied_index)
        ));
    }
    if let Some(e) = &s.replication_error {
        out.push_str(&format!("replication lag unknown: {e}\n"));
    }
    out
}

/// Adds the node running at `new_node` (it describes itself) to the cluster `node` belongs to.
pub fn add(node: &str, new_node: &str, token: String) -> anyhow::Result<()> {
    let client = Client { token };
    let (node, new_node) = (base(node)?, base(new_node)?);
    let me: MemberIn = serde_json::from_value(client.call("GET", &format!("{new_node}/v1/cluster/self"), None, CALL_TIMEOUT)?)
        .context("the /v1/cluster/self answer is not a member description")?;
    eprintln!("adding node {} ({}, raft {}) as learner; waiting for it to catch up, then making it a voter", me.id, me.region, me.raft_addr);
    let body = serde_json::to_value(&me)?;
    let v = client.call("POST", &format!("{node}/v1/cluster/nodes"), Some(&body), LONG_CALL_TIMEOUT)?;
    let s: ClusterOut = serde_json::from_value(v).context("the answer is not a cluster status")?;
    print!("{}", render_status(&s));
    Ok(())
}

/// Drains node `id` through the operator listener `node` (node `id`'s own, or any member's: that
/// node forwards the drain to node `id`, since a drain runs on the node it drains), and waits
/// until it left.
pub fn drain(node: &str, id: u64, token: String) -> anyhow::Result<()> {
    let client = Client { token };
    let url = base(node)?;
    let s = status_of(&client, &url)?;
    if !s.members.iter().any(|m| m.id == id) {
        bail!("node {id} is not a member of the cluster");
    }
    if s.node == id {
        eprintln!("draining node {id} at {url}: handing its actors on, moving leadership, leaving the cluster");
    } else {
        eprintln!("draining node {id} through node {} at {url}, which sends the drain to node {id}: handing its actors on, moving leadership, leaving the cluster", s.node);
    }
    let v = client.call("POST", &format!("{url}/v1/cluster/nodes/{id}/drain"), None, LONG_CALL_TIMEOUT)?;
    let report: DrainOut = serde_json::from_value(v).context("the drain answer is not a drain report")?;
    println!(
        "node {} drained: {} actors handed off{}; it left the cluster and is stopping",
        report.node,
        report.handed_off,
        report.leadership_moved_to.map_or(String::new(), |l| format!(", leadership moved to node {l}"))
    );
    Ok(())
}

/// Removes dead node `id` through `node`.
pub fn remove(node: &str, id: u64, force: bool, token: String) -> anyhow::Result<()> {
    let client = Client { token };
    let node = base(node)?;
    let v = client.call("DELETE", &format!("{node}/v1/cluster/nodes/{id}?force={force}"), None, LONG_CALL_TIMEOUT)?;
    let s: ClusterOut = serde_json::from_value(v).context("the answer is not a cluster status")?;
    println!("node {id} removed");
    print!("{}", render_status(&s));
    Ok(())
}

/// Switches maintenance mode on or off through `node`, and prints it.
pub fn maintenance(node: &str, on: bool, message: Option<String>, retry_after_s: Option<u32>, token: String) -> anyhow::Result<()> {
    let client = Client { token };
    let body = serde_json::json!({"on": on, "message": message, "retry_after_s": retry_after_s});
    let v = client.call("PUT", &format!("{}/v1/cluster/maintenance", base(node)?), Some(&body), CALL_TIMEOUT)?;
    let m: MaintenanceOut = serde_json::from_value(v).context("the answer is not a maintenance state")?;
    match (m.on, m.message, m.retry_after_s) {
        (true, message, retry) => println!(
            "maintenance mode ON in every region: customer endpoints answer 503 (Retry-After {} s), message {:?}",
            retry.unwrap_or_default(),
            message.unwrap_or_default()
        ),
        (false, ..) => println!("maintenance mode OFF: customers are served again"),
    }
    Ok(())
}

/// Releases organisation number `org` through `node`: the business that holds it gives it up.
pub fn release_org(node: &str, org: &str, token: String) -> anyhow::Result<()> {
    let client = Client { token };
    let org = org.trim();
    if org.is_empty() || !org.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        bail!("{org:?} is not an organisation number (NNNNNN-NNNN)");
    }
    let v = client.call("POST", &format!("{}/v1/cluster/org-numbers/{org}/release", base(node)?), None, CALL_TIMEOUT)?;
    let out: OrgReleaseOut = serde_json::from_value(v).context("the answer is not a release")?;
    println!("organisation number {} released from business {}: another business may register it now", out.org_number, out.released_from);
    Ok(())
}

/// `on` or `off`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Switch {
    /// Switch it on.
    On,
    /// Switch it off.
    Off,
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Maintenance mode, replicated to every region: customer endpoints and the customer's page
    /// answer 503 with Retry-After and the message; health, metrics, business endpoints, till
    /// webhooks and the operator API keep working.
    Maintenance {
        /// on or off.
        switch: Switch,
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// What customers are told (on only).
        #[arg(long)]
        message: Option<String>,
        /// Seconds customers are asked to wait (on only; default 300).
        #[arg(long)]
        retry_after: Option<u32>,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
    },
    /// Members, regions, voters and learners, leader, reachability, replication lag, actors per node.
    Status {
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a running node (started with the cluster's members in its config): it joins as
    /// learner, catches up, then becomes a voter.
    Add {
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// The new node's operator URL (it describes itself).
        #[arg(long)]
        new_node: String,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
    },
    /// Drain node ID: it takes no new actors, hands its actors on (same region first), moves
    /// leadership away, leaves the voter set and exits.
    Drain {
        /// An operator URL (operator.listen_addr) of node ID or of any member, which forwards
        /// the drain to node ID.
        #[arg(long)]
        node: String,
        /// The node to drain.
        #[arg(long)]
        id: u64,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
    },
    /// Release organisation number ORG: the business that registered it gives it up, and the
    /// next business to register the number gets it (a company whose number was taken first by
    /// someone else; unverified numbers are also released by themselves after
    /// signup.release_unverified_org_number_after_ms).
    ReleaseOrg {
        /// The organisation number, NNNNNN-NNNN.
        org: String,
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
    },
    /// Remove dead node ID from the cluster.
    Remove {
        /// Any member's operator URL (its operator.listen_addr, e.g. http://127.0.0.1:8090).
        #[arg(long)]
        node: String,
        /// The node to remove.
        #[arg(long)]
        id: u64,
        /// Remove it even though it is reachable (prefer drain).
        #[arg(long)]
        force: bool,
        /// Operator token.
        #[arg(long, env = TOKEN_VAR, hide_env_values = true)]
        token: Option<String>,
    },
}

/// Runs `svea cluster <command>`.
pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Maintenance { switch, node, message, retry_after, token: t } => {
            maintenance(&node, matches!(switch, Switch::On), message, retry_after, token(t)?)
        }
        ClusterCommand::Status { node, token: t, json } => status(&node, token(t)?, json),
        ClusterCommand::Add { node, new_node, token: t } => add(&node, &new_node, token(t)?),
        ClusterCommand::Drain { node, id, token: t } => drain(&node, id, token(t)?),
        ClusterCommand::Remove { node, id, force, token: t } => remove(&node, id, force, token(t)?),
        ClusterCommand::ReleaseOrg { org, node, token: t } => release_org(&node, &org, token(t)?),
    }
}
