//! Observability through real processes: `/metrics` of a loaded node (request histograms, Raft
//! indexes, actor counts, every family of the deploy contract, a valid exposition), and request
//! ids (answered, replaced when an untrusted caller picks one, kept from a trusted proxy, in
//! problem documents, and in both nodes' JSON log lines when a request is forwarded).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;
use crate::poll::eventually;

/// Every metric family the deploy helper's alert rules and dashboard may use (the contract in
/// README "Observability"; counters with the `_total` Prometheus gives them).
pub const CONTRACT_FAMILIES: &[&str] = &[
    "svea_http_requests_total",
    "svea_http_request_duration_seconds",
    "svea_raft_term",
    "svea_raft_is_leader",
    "svea_raft_leader_id",
    "svea_raft_last_log_index",
    "svea_raft_commit_index",
    "svea_raft_applied_index",
    "svea_raft_replication_lag_entries",
    "svea_raft_append_duration_seconds",
    "svea_raft_flush_duration_seconds",
    "svea_raft_apply_duration_seconds",
    "svea_raft_snapshots_built_total",
    "svea_raft_snapshots_installed_total",
    "svea_cluster_peer_up",
    "svea_cluster_members",
    "svea_actors_active",
    "svea_actor_activations_total",
    "svea_actor_passivations_total",
    "svea_actor_takeovers_total",
    "svea_actor_handoffs_total",
    "svea_actor_busy_total",
    "svea_registry_queue_depth",
    "svea_geo_decisions_total",
    "svea_sessions_total",
    "svea_rewards_paid_ore_total",
    "svea_business_budget_remaining_ratio_min",
    "svea_businesses_budget_nearly_spent",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_start_time_seconds",
    "svea_maintenance_mode",
];

/// `/metrics` of `n` as text.
pub fn metrics_text(n: &NodeProc) -> String {
    let m = n.metrics();
    assert_eq!(m.status, 200);
    m.body.as_str().map(str::to_owned).unwrap_or_else(|| panic!("/metrics is not text: {}", m.body))
}

/// The metric family names `n` exports (as Prometheus names them: counters end in `_total`).
/// The deploy tests check the names their rules and dashboard use against this.
pub fn exported_families(n: &NodeProc) -> BTreeSet<String> {
    svea_node::telemetry::family_names(&metrics_text(n))
}

/// The value of the first sample whose line starts with `prefix` (name and labels so far).
fn first_sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

/// Checks the exposition line by line: comments are HELP/TYPE/UNIT/EOF, every sample belongs
/// to a declared family, has well-formed labels and a numeric value, and `# EOF` ends it.
fn assert_valid_exposition(text: &str) {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    let mut families: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut it = rest.splitn(3, ' ');
            match (it.next(), it.next(), it.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                    families.push((name.to_owned(), kind.to_owned()));
                }
                (Some("HELP" | "UNIT"), Some(_), _) | (Some("EOF"), None, None) => {}
                _ => panic!("unexpected comment line {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "value of {line:?}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'), "name of {line:?}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "labels of {line:?}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("label {pair:?} in {line:?}"));
                    assert!(!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "label {k:?} in {line:?}");
                    assert!(!v.trim_end_matches('"').contains('"'), "label value in {line:?}");
                }
            }
        }
        let declared = families.iter().any(|(f, kind)| match kind.as_str() {
            "counter" => name == format!("{f}_total") || name == format!("{f}_created"),
            "histogram" => [format!("{f}_bucket"), format!("{f}_sum"), format!("{f}_count")].contains(&name.to_owned()),
            _ => name == f,
        });
        assert!(declared, "sample {line:?} belongs to no declared family");
    }
}

#[test]
fn a_loaded_node_exports_request_histograms_raft_indexes_actor_counts_and_every_contract_family() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "1000.00");
    for i in 0..5 {
        let sid = open_session(&n, &biz.token);
        assert_eq!(purchase(&n, &sid, "50.00", &format!("OBS-{i}")).status, 200);
        assert_eq!(n.get(&format!("/v1/sessions/{sid}")).status, 200);
    }
    let text = eventually(Duration::from_secs(20), "the writes applied and counted", || {
        let text = metrics_text(&n);
        let applied = first_sample(&text, "svea_raft_applied_index ").unwrap_or(0.0);
        let committed = first_sample(&text, "svea_raft_commit_index ").unwrap_or(0.0);
        if applied > 0.0 && committed > 0.0 {
            Ok(text)
        } else {
            Err(format!("applied {applied}, committed {committed}"))
        }
    });
    assert_valid_exposition(&text);
    let names = exported_families(&n);
    let missing: Vec<_> = CONTRACT_FAMILIES.iter().filter(|f| !names.contains(**f)).collect();
    assert!(missing.is_empty(), "families missing from /metrics: {missing:?}\n{text}");

    // Request histograms by route pattern (never the raw path: the session ids are not there).
    let count = |route: &str, method: &str, status: u16| {
        first_sample(&text, &format!("svea_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"))
            .unwrap_or(0.0)
    };
    assert!(count("/v1/sessions", "POST", 201) >= 5.0, "{text}");
    assert!(count("/v1/sessions/{id}", "GET", 200) >= 5.0, "{text}");
    assert!(count("/v1/sessions/{id}/purchase", "POST", 200) >= 5.0, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("svea_http") && l.contains("obs-")), "a raw path leaked into a label");
    // Raft, actors, storage timings.
    for prefix in ["svea_raft_term ", "svea_raft_is_leader ", "svea_raft_last_log_index ", "svea_raft_leader_id "] {
        assert!(first_sample(&text, prefix).is_some_and(|v| v > 0.0), "{prefix}: {text}");
    }
    assert!(first_sample(&text, "svea_actors_active{kind=\"session\"} ").is_some_and(|v| v >= 1.0), "{text}");
    assert!(first_sample(&text, "svea_actor_activations_total{kind=\"business\"} ").is_some_and(|v| v >= 1.0), "{text}");
    for h in ["svea_raft_append_duration_seconds_count ", "svea_raft_flush_duration_seconds_count ", "svea_raft_apply_duration_seconds_count "] {
        assert!(first_sample(&text, h).is_some_and(|v| v > 0.0), "{h}: {text}");
    }
    assert!(first_sample(&text, "process_resident_memory_bytes ").is_some_and(|v| v > 1e6), "{text}");
    assert!(first_sample(&text, "process_open_fds ").is_some_and(|v| v > 3.0), "{text}");
    // Geo decisions (each session opening routes the customer).
    assert!(text.lines().any(|l| l.starts_with("svea_geo_decisions_total{reason=\"private_address\"")), "{text}");
}

#[test]
fn request_ids_are_answered_replaced_for_untrusted_callers_kept_from_a_trusted_proxy_and_in_problems() {
    let dir = tempfile::tempdir().expect("tmp");
    let plain = NodeProc::start(&dir.path().join("plain"), &[]);
    let chosen = "caller-chosen-id-1";
    // Not a trusted proxy: the caller's id is not the one the request is logged under.
    let r = plain.get_with("/health", &[("x-request-id", chosen)]);
    let id = r.header("x-request-id").expect("x-request-id answered").to_owned();
    assert_ne!(id, chosen);
    assert!(!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert!(!plain.log_text().contains(chosen), "the untrusted id reached the log");
    // A problem names the request it answered.
    let p = plain.get_with("/v1/no-such-thing", &[("x-request-id", chosen)]);
    let pid = p.header("x-request-id").expect("id").to_owned();
    assert_eq!(p.body["instance"], format!("urn:svea:request:{pid}"), "{}", p.body);

    // Behind a trusted proxy (here: loopback), its well-formed id is kept, and badly formed ones
    // are replaced all the same.
    let proxied = NodeProc::start(&dir.path().join("proxied"), &[("geo.trusted_proxies", "127.0.0.1/32")]);
    let r = proxied.get_with("/v1/no-such-thing", &[("x-request-id", chosen)]);
    assert_eq!(r.header("x-request-id"), Some(chosen));
    assert_eq!(r.body["instance"], format!("urn:svea:request:{chosen}"), "{}", r.body);
    let access = proxied.log_text();
    assert!(access.lines().any(|l| l.contains(chosen) && l.contains("status=404")), "no access-log line with the id:\n{access}");
    for evil in ["a b", "id\"}{", &"x".repeat(65)] {
        let r = proxied.get_with("/health", &[("x-request-id", evil)]);
        assert_ne!(r.header("x-request-id"), Some(evil));
    }
}

#[test]
fn a_forwarded_request_shows_the_same_request_id_in_both_nodes_json_logs() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[("log.format", "json")]);
    // The business lives in Malmö (its location's region); ask Stockholm for it.
    let biz = create_business(&c.nodes[0], "100.00");
    let (sthlm, malmo) = (c.by_region("stockholm"), c.by_region("malmo"));
    let r = sthlm.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.header("x-request-id").expect("id").to_owned();
    let lines_with = |n: &NodeProc| -> Vec<serde_json::Value> {
        n.log_text()
            .lines()
            .filter(|l| l.contains(&id))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
            .collect()
    };
    let here = lines_with(sthlm);
    let access = here.iter().find(|l| l["fields"]["message"] == "request").unwrap_or_else(|| panic!("no access line: {here:?}"));
    assert_eq!(access["span"]["request_id"], id.as_str());
    assert_eq!(access["fields"]["route"], "/v1/businesses/{id}");
    assert_eq!(access["fields"]["status"], 200);
    assert!(access["fields"]["latency_ms"].as_f64().is_some(), "{access}");
    let there = eventually(Duration::from_secs(10), "the owner logged the forwarded call", || {
        let l = lines_with(malmo);
        if l.is_empty() {
            Err("nothing yet".to_owned())
        } else {
            Ok(l)
        }
    });
    assert!(
        there.iter().any(|l| l["fields"]["message"] == "forwarded actor call served" && l["span"]["request_id"] == id.as_str()),
        "{there:?}"
    );
}
