//! The API keeps its contract (issue 24 item 6): schemathesis (pinned) fuzzes a running node
//! through both OpenAPI documents, the public one and the operator one, with every check it has
//! (`--checks all`: no 5xx, status codes, content types, headers and bodies as documented, bad
//! input refused and good input accepted, 405 with `Allow` for undeclared methods, auth that is
//! not ignored). A fixed seed and a bounded number of examples per operation keep the run
//! deterministic and within minutes; a failure prints schemathesis's own report.

use std::path::Path;
use std::process::Command;

use crate::harness::*;
use crate::needs;

/// Pinned with the other validators of `openapi.rs` (one `pip install` keeps them consistent).
const PYTHON_PACKAGES: [&str; 3] = ["openapi-spec-validator==0.9.0", "jsonschema==4.26.0", "schemathesis==4.32.5"];

/// Fixed: the same cases every run, so a failure reproduces with the printed command.
const SEED: &str = "24006";

/// Cases per operation and phase: enough to reach every constraint's edges, few enough that both
/// documents take a few minutes on the 2-core CI machine.
const EXAMPLES: &str = "12";

/// Loose limits: schemathesis sends far more than one address's default burst, and every
/// sign-up it makes comes from 127.0.0.1. A 429 is documented and would pass, but would hide
/// the answers behind it.
const LOOSE: [(&str, &str); 6] = [
    ("operator.token", OPERATOR_TOKEN),
    ("abuse.requests_per_second", "100000"),
    ("abuse.burst", "100000"),
    ("abuse.privacy_requests_per_minute", "100000"),
    ("abuse.privacy_burst", "100000"),
    ("signup.creations_per_address_hour", "100000"),
];

/// What schemathesis is told besides the command line: the statuses schema-valid input may get.
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/schemathesis.toml");

/// Runs schemathesis against `doc_url` with `headers` and `extra` arguments; panics with its
/// report unless it found no failure.
fn schemathesis(dir: &Path, name: &str, doc_url: &str, headers: &[String], extra: &[&str]) {
    let python = needs::python(&PYTHON_PACKAGES);
    let st = python.parent().expect("venv bin").join("schemathesis");
    let report = dir.join(format!("{name}-report"));
    let mut cmd = Command::new(&st);
    cmd.args(["--config-file", CONFIG, "run", doc_url]).args(extra).args(["--checks", "all", "--seed", SEED, "--max-examples", EXAMPLES, "--workers", "1", "--suppress-health-check", "all"])
        .args(["--request-timeout", "30", "--no-color", "--output-sanitize", "false", "--report", "junit", "--report-dir"])
        .arg(&report)
        // No telemetry from the tests, and no cache of earlier failures between runs.
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir);
    for h in headers {
        cmd.args(["--header", h]);
    }
    let out = cmd.output().expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures in the {name} document ({doc_url}); repro: {} {}\n{stdout}\n{stderr}",
        st.display(),
        [&["--config-file", CONFIG, "run", doc_url], extra, &["--checks", "all", "--seed", SEED, "--max-examples", EXAMPLES]].concat().join(" ")
    );
    assert!(stdout.contains("passed") || stdout.contains("No issues found"), "schemathesis ran nothing?\n{stdout}\n{stderr}");
}

#[test]
fn schemathesis_finds_nothing_in_the_public_document() {
    let dir = tempfile::tempdir().expect("tmp");
    // Mail on (into the test's folder): the sign-up and sign-in pages answer as in production
    // instead of "this node sends no mail" (503).
    let folder = dir.path().join("mail").display().to_string();
    let overrides = [&LOOSE[..], &[("mail.transport", "folder"), ("mail.folder", folder.as_str())]].concat();
    let n = NodeProc::start(dir.path(), &overrides);
    // A real business's key, so that the business endpoints answer more than 401 (schemathesis
    // makes up the ids, so most of them answer 404: documented).
    let biz = create_business(&n, "1000.00");
    schemathesis(dir.path(), "public", &format!("{}/v1/openapi.json", n.url), &[format!("Authorization: Bearer {}", biz.key)], &[]);
}

#[test]
fn schemathesis_finds_nothing_in_the_operator_document() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &LOOSE);
    let doc = format!("{}/v1/openapi.json", n.operator_url);
    let token = [format!("Authorization: Bearer {OPERATOR_TOKEN}")];
    // Everything but membership changes, with every check.
    schemathesis(dir.path(), "operator", &doc, &token, &["--exclude-path-regex", MEMBERSHIP]);
    // Membership changes with bad input only (and without the examples phase, which sends the
    // documented examples, valid by definition): a schema-valid add makes an unreachable address a
    // voter of this one-node cluster, which then rightly loses its quorum (503 from then on), and
    // a valid remove or drain of node 1 takes the node out. What is checked is that every bad
    // request is refused as documented, and undeclared methods and missing auth as elsewhere.
    schemathesis(dir.path(), "operator-membership", &doc, &token, &["--include-path-regex", MEMBERSHIP, "--mode", "negative", "--phases", "coverage,fuzzing,stateful"]);
}

/// The operator routes that change the cluster's membership.
const MEMBERSHIP: &str = "^/v1/cluster/nodes";

/// A sign-up's body, its organisation number fresh.
fn signup_body(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "org_number": next_org_number().to_string(),
        "locations": [{"name": "Lilla Torg", "lat": 55.6046, "lon": 12.9996}],
        "reward_budget_sek": "500.00"
    })
}

/// A sign-up whose answer was lost is retried with the same `Idempotency-Key` and body: the
/// retry answers the same business with the same API key (which works), creates nothing more,
/// and survives a restart (the answer is re-derived, nothing of it was stored but hashes);
/// another body with the key is 409 `idempotency-key-reused`; a short key is 400.
#[test]
fn a_sign_up_retried_with_its_idempotency_key_gets_its_first_answer_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = NodeProc::start(dir.path(), &LOOSE);
    let key = "3f1c9a0e7b5d4c2a8e6f1b0d9c7a5e3f";
    let body = signup_body("Kafé Idempotent");
    let first = n.post_with("/v1/businesses", body.clone(), &[("idempotency-key", key)]);
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.str("id");
    let api_key = first.str("api_key");
    // The retry (the first answer "lost"): the same answer, not `org-number-registered`.
    let again = n.post_with("/v1/businesses", body.clone(), &[("idempotency-key", key)]);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!((again.str("id"), again.str("api_key")), (id.clone(), api_key.clone()));
    assert_eq!(again.body["locations"], first.body["locations"], "the same QR codes");
    assert_eq!(again.header("location"), first.header("location"));
    // The key the retry returned is the business's key.
    let me = n.get_as(&format!("/v1/businesses/{id}"), &api_key);
    assert_eq!(me.status, 200, "{}", me.body);
    // The same body with its keys in another order and other spacing is the same request.
    let reordered: serde_json::Value = serde_json::from_str(&format!(
        "{{ \"reward_budget_sek\": \"500.00\", \"locations\": {},  \"org_number\": {}, \"name\": {} }}",
        body["locations"], body["org_number"], body["name"]
    ))
    .expect("json");
    let same = n.post_with("/v1/businesses", reordered, &[("idempotency-key", key)]);
    assert_eq!((same.status, same.str("api_key")), (201, api_key.clone()));
    // Nothing of the answer was kept but hashes: after a restart it is derived again.
    n.terminate();
    n.restart();
    let after = n.post_with("/v1/businesses", body.clone(), &[("idempotency-key", key)]);
    assert_eq!((after.status, after.str("id"), after.str("api_key")), (201, id.clone(), api_key.clone()), "{}", after.body);
    // The key with another body.
    let mut other = body.clone();
    other["name"] = "Another Café".into();
    n.post_with("/v1/businesses", other, &[("idempotency-key", key)]).problem(409, "idempotency-key-reused");
    // Keys too short to be secret are refused before anything is created.
    n.post_with("/v1/businesses", signup_body("Short"), &[("idempotency-key", "retry-1")]).problem(400, "invalid-idempotency-key");
    // Without a key, a retry is another sign-up: the number is taken by the first.
    n.post("/v1/businesses", body).problem(409, "org-number-registered");
    // A rotated key is not handed out again by the old idempotency key.
    let rotated = n.send_as("POST", &format!("/v1/businesses/{id}/keys"), &api_key, serde_json::json!({}));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    n.post_with("/v1/businesses", signup_body("Kafé Idempotent"), &[("idempotency-key", key)]).problem(409, "idempotency-key-reused");
}

/// A path the listener serves, asked with a method it does not serve there, is 405 with `Allow`
/// naming the methods it does (a problem document like every refusal); an unknown path stays 404.
#[test]
fn an_undeclared_method_on_a_known_path_is_405_with_allow() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &LOOSE);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let ask = |method: &str, url: &str| -> (u16, Option<String>, serde_json::Value) {
        // The operator API's token opens its scope (without it, 401 comes first).
        let resp = match agent.request(method, url).set("authorization", &format!("Bearer {OPERATOR_TOKEN}")).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let (status, allow) = (resp.status(), resp.header("allow").map(str::to_owned));
        (status, allow, resp.into_json().unwrap_or(serde_json::Value::Null))
    };
    for (method, url, allow) in [
        ("DELETE", format!("{}/v1/businesses", n.url), "POST"),
        ("PUT", format!("{}/v1/sessions/s_0123456789abcdef0123456789abcdef", n.url), "GET"),
        // The literal path wins over `/pos/{provider}`.
        ("DELETE", format!("{}/v1/businesses/b_0123456789abcdef0123456789abcdef/pos/locks", n.url), "GET"),
        ("POST", format!("{}/v1/openapi.json", n.url), "GET"),
        ("POST", format!("{}/v1/cluster/maintenance", n.operator_url), "GET, PUT"),
        ("PATCH", format!("{}/ops", n.operator_url), "GET"),
    ] {
        let (status, got, body) = ask(method, &url);
        assert_eq!((status, got.as_deref()), (405, Some(allow)), "{method} {url}: {body}");
        assert_eq!(body["type"], "urn:svea:problem:method-not-allowed", "{method} {url}");
    }
    let (status, allow, body) = ask("DELETE", &format!("{}/v1/nothing-here", n.url));
    assert_eq!((status, allow), (404, None));
    assert_eq!(body["type"], "urn:svea:problem:no-route");
}

/// The API reference page: served by the node itself with the vendored renderer (no CDN: every
/// script and stylesheet it links is one of the node's `/assets/`, and they all load), under the
/// pages' Content-Security-Policy (no inline script, nothing from elsewhere), pointing at the
/// document, with the renderer's licence served beside it.
#[test]
fn the_api_reference_page_and_all_it_links_are_served_by_the_node() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &LOOSE);
    let get = |path: &str| -> (u16, String, Option<String>, Vec<u8>) {
        let resp = match ureq::get(&format!("{}{path}", n.url)).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        let (status, ct, csp) = (resp.status(), resp.content_type().to_owned(), resp.header("content-security-policy").map(str::to_owned));
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).expect("body");
        (status, ct, csp, bytes)
    };
    let (status, ct, csp, body) = get("/api-reference");
    let html = String::from_utf8(body).expect("utf-8");
    assert_eq!((status, ct.as_str()), (200, "text/html"), "{html}");
    let csp = csp.expect("a Content-Security-Policy");
    assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(csp, svea_node::http::security::CSP_DATA_IMAGES, "the pages' policy with data: images, nothing more");
    // Every script is a file of the node's (no inline script the CSP would block anyway).
    assert_eq!(html.matches("<script").count(), html.matches("<script src=\"/assets/").count(), "{html}");
    assert!(!html.contains("://"), "nothing linked from elsewhere: {html}");
    let mut linked = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = &part[..part.find('"').expect("closing quote")];
            if url.starts_with("/assets/") {
                linked.push(url.replace("&amp;", "&"));
            }
        }
    }
    for name in ["swagger-ui-bundle.js", "swagger-ui.css", "api-reference.js", "swagger-ui.LICENSE"] {
        assert!(linked.iter().any(|u| u.starts_with(&format!("/assets/{name}?v="))), "{name} not linked: {linked:?}");
    }
    for url in &linked {
        let (status, ct, _, bytes) = get(url);
        assert_eq!(status, 200, "{url}");
        assert!(!bytes.is_empty(), "{url}");
        let want = match url.split('?').next().and_then(|p| p.rsplit('.').next()) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            _ => "text/plain",
        };
        assert_eq!(ct, want, "{url}");
    }
    // The page's script starts the renderer on this node's own document, which is there.
    let (_, _, _, script) = get("/assets/api-reference.js");
    assert!(String::from_utf8_lossy(&script).contains("url: \"/v1/openapi.json\""));
    let (_, _, _, licence) = get("/assets/swagger-ui.LICENSE");
    assert!(String::from_utf8_lossy(&licence).contains("Apache License"));
    assert_eq!(get("/v1/openapi.json").0, 200);
}
