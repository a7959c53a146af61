//! The OpenAPI documents (`GET /v1/openapi.json` on each listener), checked against real
//! processes: every route a listener serves is documented, each document is valid OpenAPI 3.1,
//! every example validates against its schema, and live answers validate against the schemas
//! documented for them (so the document cannot drift from what serde writes).
//!
//! "Every route a listener serves" is `svea_node::http::PUBLIC_ROUTES` / `OPERATOR_ROUTES`: the
//! tables `http::configure` and `http::configure_operator` register routes from (and from
//! nothing else). The first test also asks the running node each of them, so a table line that
//! registers nothing fails too.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use svea_node::http::{Served, OPERATOR_ROUTES, PUBLIC_ROUTES};

use crate::harness::*;
use crate::needs;

/// The validators, pinned: openapi-spec-validator for the documents, jsonschema (2020-12, the
/// dialect of OpenAPI 3.1) for the examples and the live answers.
const PYTHON_PACKAGES: [&str; 2] = ["openapi-spec-validator==0.9.0", "jsonschema==4.26.0"];

const CHECKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/openapi_check.py");

/// Generous request buckets: these tests send more than the default burst from one address.
const ROOMY: [(&str, &str); 3] = [("operator.token", OPERATOR_TOKEN), ("abuse.requests_per_second", "1000"), ("abuse.burst", "1000")];

fn documents(n: &NodeProc) -> (Value, Value) {
    let public = n.get("/v1/openapi.json");
    assert_eq!(public.status, 200, "{}", public.body);
    assert_eq!(public.content_type, "application/json");
    // The operator document needs no token: it holds no secret.
    let operator = n.operator_get("/v1/openapi.json", &[]);
    assert_eq!(operator.status, 200, "{}", operator.body);
    (public.body, operator.body)
}

/// Runs the checker in `mode` on `doc` (with `extra` fields); panics with its failures.
fn checker(mode: &str, doc: &Value, extra: Value) -> Value {
    let python = needs::python(&PYTHON_PACKAGES);
    let mut input = json!({"mode": mode, "doc": doc});
    if let Value::Object(m) = extra {
        input.as_object_mut().expect("object").extend(m);
    }
    let mut child = Command::new(python).arg(CHECKER).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python");
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write");
    let out = child.wait_with_output().expect("checker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "openapi_check {mode} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("checker output {stdout:?}: {e}"))
}

/// `path` with its parameters filled in (`{name}` becomes `page.css`, so an asset exists).
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e).expect("closing brace");
        out.push_str(&rest[..start]);
        out.push_str(if &rest[start + 1..end] == "name" { "page.css" } else { "x" });
        rest = &rest[end + 1..];
    }
    out + rest
}

/// The problem `type` of an answer, if it is one (ureq, so that any method can be sent).
fn answer_kind(base: &str, r: &Served) -> (u16, String) {
    let agent = ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(30)).build();
    let req = agent.request(r.method.as_str(), &format!("{base}{}", concrete(r.path)));
    let resp = match req.call() {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{} {}: {e}", r.method, r.path),
    };
    let status = resp.status();
    let body: Value = resp.into_json().unwrap_or(Value::Null);
    (status, body["type"].as_str().unwrap_or("").to_string())
}

fn method_of(r: &Served) -> String {
    r.method.as_str().to_ascii_lowercase()
}

#[test]
fn every_route_either_listener_serves_is_in_its_document() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &ROOMY);
    let (public, operator) = documents(&n);
    for (name, doc, routes, base, other_base) in
        [("public", &public, PUBLIC_ROUTES, &n.url, &n.operator_url), ("operator", &operator, OPERATOR_ROUTES, &n.operator_url, &n.url)]
    {
        assert_eq!(doc["openapi"], "3.1.0", "{name}");
        let mut documented = 0;
        for r in routes {
            let op = &doc["paths"][r.path][method_of(r)];
            assert!(op.is_object(), "{name} listener serves {} {} but its document does not have it", r.method, r.path);
            assert!(op["responses"].as_object().is_some_and(|m| !m.is_empty()), "{} {}: no responses", r.method, r.path);
            // The table line is what the listener serves: the route answers (whatever it answers,
            // not the catch-all `no-route`), and only on its own listener.
            let (status, kind) = answer_kind(base, r);
            assert_ne!(kind, "urn:svea:problem:no-route", "{name}: {} {} is in the table but not served ({status})", r.method, r.path);
            // Both listeners serve their own document and the embedded assets (the console's styles).
            if !["/v1/openapi.json", "/assets/{name}"].contains(&r.path) {
                let (status, kind) = answer_kind(other_base, r);
                assert_eq!((status, kind.as_str()), (404, "urn:svea:problem:no-route"), "{} {} also on the other listener", r.method, r.path);
            }
            documented += 1;
        }
        // Nothing documented that is not served.
        let operations: usize = doc["paths"].as_object().expect("paths").values().map(|item| item.as_object().map_or(0, |m| m.len())).sum();
        assert_eq!(operations, documented, "{name}: the document has operations no route serves");
    }
    // Security schemes as documented: the business key and the tills' signatures on the public
    // listener, the operator token on the operator listener only.
    let schemes = |doc: &Value| -> Vec<String> { doc["components"]["securitySchemes"].as_object().expect("schemes").keys().cloned().collect() };
    let mut p = schemes(&public);
    p.sort();
    assert_eq!(p, ["business_api_key", "business_dashboard", "shopify_signature", "square_signature", "zettle_signature"]);
    let mut o = schemes(&operator);
    o.sort();
    assert_eq!(o, ["metrics_token", "operator_console", "operator_token"]);
    assert_eq!(public["components"]["securitySchemes"]["zettle_signature"]["name"], "x-izettle-signature");
    assert_eq!(public["servers"][0]["url"], n.url.as_str());
    assert_eq!(operator["servers"][0]["url"], n.operator_url.as_str());
    // Every business endpoint asks for the business key, every operator endpoint for the token.
    for (path, item) in public["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let secured = op["security"].to_string().contains("business_api_key");
            let business = path.starts_with("/v1/businesses/{id}");
            assert_eq!(secured, business, "{method} {path}: security {}", op["security"]);
            let limited = op["responses"]["429"]["headers"]["Retry-After"].is_object();
            assert_eq!(limited, !["/health", "/ready"].contains(&path.as_str()), "{method} {path}: 429 with Retry-After");
        }
    }
    for (path, item) in operator["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            // The API takes the token, the console its sign-in cookie; only the document, the
            // assets and the sign-in form itself are open.
            let security = op["security"].to_string();
            let secured = security.contains("operator_token") || security.contains("operator_console") || security.contains("metrics_token");
            // `/metrics` takes the scrape token (and the operator token, which opens more).
            assert_eq!(security.contains("metrics_token"), path == "/metrics", "{method} {path}: the scrape token is /metrics'");
            assert_eq!(secured, !["/v1/openapi.json", "/assets/{name}", "/ops/sign-in"].contains(&path.as_str()), "{method} {path}");
            assert_eq!(security.contains("operator_token"), path.starts_with("/v1/cluster"), "{method} {path}: the token is the API's");
        }
    }
}

/// The tables are the only way a route is registered: no handler is mounted any other way
/// (`cfg.route`, `web::resource`, actix's `#[get]` macros...) anywhere in the node's source, so
/// no route can be served without its table line, and so without being documented.
#[test]
fn routes_are_registered_only_through_the_tables() {
    const ALLOWED: [&str; 2] = [
        // `Served::register`: every table line.
        "cfg.route(path, (self.to)(web::method(self.method.clone())));",
        // The operator scope, with its token middleware, holding the operator table's lines.
        "cfg.service(web::scope(operator::SCOPE).wrap(actix_web::middleware::from_fn(operator::require_token)).configure(|scope| {",
    ];
    const REGISTERING: [&str; 16] = [
        ".route(\"", "cfg.route(", "web::resource(", "web::scope(", ".service(", "web::get()", "web::post()", "web::put()",
        "web::patch()", "web::delete()", "web::method(", "#[get(", "#[post(", "#[put(", "#[patch(", "#[delete(",
    ];
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("source");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim();
            if code.starts_with("//") || ALLOWED.contains(&code) {
                continue;
            }
            if REGISTERING.iter().any(|p| code.contains(p)) {
                found.push(format!("{}:{}: {code}", f.display(), i + 1));
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    assert!(found.is_empty(), "routes registered outside http::PUBLIC_ROUTES / OPERATOR_ROUTES (add a `Served::new` line instead):\n{}", found.join("\n"));
}

#[test]
fn both_documents_are_valid_openapi_3_1_and_every_example_validates() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &ROOMY);
    let (public, operator) = documents(&n);
    for doc in [&public, &operator] {
        checker("spec", doc, json!({}));
        let report = checker("examples", doc, json!({}));
        assert!(report["checked"].as_u64().is_some_and(|c| c >= 20), "{report}");
    }
}

fn answer(method: &str, path: &str, r: &Resp) -> Value {
    json!({"method": method, "path": path, "status": r.status, "content_type": r.content_type,
        "headers": r.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(), "body": r.body})
}

#[test]
fn live_answers_match_their_documented_schemas() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &ROOMY);
    let (public, operator) = documents(&n);
    let mut answers = Vec::new();

    // The document's own example creates a business (a `pos` business).
    let example = public["components"]["schemas"]["CreateBusinessIn"]["example"].clone();
    let created = n.post("/v1/businesses", example);
    assert_eq!(created.status, 201, "{}", created.body);
    answers.push(answer("POST", "/v1/businesses", &created));
    let (id, key) = (created.str("id"), created.str("api_key"));
    answers.push(answer("POST", "/v1/businesses", &n.post("/v1/businesses", public["components"]["schemas"]["CreateBusinessIn"]["example"].clone())));
    answers.push(answer("POST", "/v1/businesses", &n.post_raw("/v1/businesses", "application/json", b"{")));
    answers.push(answer("GET", "/v1/businesses/{id}", &n.get_as(&format!("/v1/businesses/{id}"), &key)));
    answers.push(answer("GET", "/v1/businesses/{id}", &n.get(&format!("/v1/businesses/{id}"))));
    let pos = public["components"]["schemas"]["PosIn"]["example"].clone();
    let lid = created.body["locations"][0]["id"].as_str().expect("location").to_string();
    let pos = json!({"account": pos["account"], "secret": pos["secret"], "locations": {"S8GWD5R9QB376": lid}, "default_location_id": lid});
    let put = n.send_as("PUT", &format!("/v1/businesses/{id}/pos/zettle"), &key, pos);
    assert_eq!(put.status, 200, "{}", put.body);
    answers.push(answer("PUT", "/v1/businesses/{id}/pos/{provider}", &put));
    let patch = n.send_as("PATCH", &format!("/v1/businesses/{id}/settings"), &key, json!({"purchase_verification": "self_declared"}));
    answers.push(answer("PATCH", "/v1/businesses/{id}/settings", &patch));
    let ceiling = n.send_as("PATCH", &format!("/v1/businesses/{id}/settings"), &key, json!({"declared_amount_max_sek": "20000.00"}));
    answers.push(answer("PATCH", "/v1/businesses/{id}/settings", &ceiling));
    answers.push(answer("GET", "/v1/businesses/{id}/held", &n.get_as(&format!("/v1/businesses/{id}/held"), &key)));
    let undecided = n.send_as("POST", &format!("/v1/businesses/{id}/held/s_0123456789abcdef0123456789abcdef"), &key, json!({"decision": "release"}));
    answers.push(answer("POST", "/v1/businesses/{id}/held/{session}", &undecided));
    // Signed with a secret no registration has.
    let webhook = n.post_with(
        "/v1/pos/zettle/webhook",
        json!({"eventName": "InventoryBalanceChanged", "organizationUuid": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "messageId": "m-1",
            "payload": "{}", "timestamp": now_rfc3339()}),
        &[("x-izettle-signature", "00")],
    );
    answers.push(answer("POST", "/v1/pos/{provider}/webhook", &webhook));

    // A customer's whole session at a self-declared business.
    let biz = create_business(&n, "1000.00");
    let other = create_business(&n, "1000.00");
    answers.push(answer("GET", "/v1/businesses/{id}", &n.get_as(&format!("/v1/businesses/{}", biz.id), &other.key)));
    answers.push(answer("GET", "/v1/businesses/{id}/analytics", &n.get_as(&format!("/v1/businesses/{}/analytics", biz.id), &biz.key)));
    let mut device = Device::new();
    let opened = device.scan(&n, &biz.token);
    answers.push(answer("POST", "/v1/sessions", &opened));
    answers.push(answer("POST", "/v1/sessions", &device.scan(&n, &biz.token)));
    let forged = format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64));
    answers.push(answer("POST", "/v1/sessions", &n.post("/v1/sessions", json!({"qr_token": biz.token, "device_token": forged}))));
    answers.push(answer("POST", "/v1/sessions", &n.post("/v1/sessions", json!({"qr_token": biz.token, "device_id": "phone-3b1f6c2a"}))));
    let sid = opened.str("id");
    answers.push(answer("POST", "/v1/sessions/{id}/purchase", &purchase(&n, &sid, "89.50", "K-20260302-0147")));
    answers.push(answer("POST", "/v1/sessions/{id}/feedback", &feedback(&n, &sid, "för kort")));
    let scored = feedback(&n, &sid, GOOD_FEEDBACK);
    assert_eq!(scored.body["state"], "rewarded", "{}", scored.body);
    answers.push(answer("POST", "/v1/sessions/{id}/feedback", &scored));
    answers.push(answer("GET", "/v1/sessions/{id}", &n.get(&format!("/v1/sessions/{sid}"))));
    answers.push(answer("GET", "/v1/sessions/{id}", &n.get("/v1/sessions/s_0123456789abcdef0123456789abcdef")));
    answers.push(answer("POST", "/v1/privacy/export", &n.post("/v1/privacy/export", json!({"device_token": device.token()}))));
    answers.push(answer("POST", "/v1/privacy/export", &n.post("/v1/privacy/export", json!({"device_token": forged}))));
    answers.push(answer("POST", "/v1/privacy/export", &n.post("/v1/privacy/export", json!({"device_id": "phone-3b1f6c2a"}))));
    answers.push(answer("POST", "/v1/privacy/erase", &n.post("/v1/privacy/erase", json!({"device_token": device.token()}))));
    answers.push(answer("POST", "/v1/privacy/erase", &n.post("/v1/privacy/erase", json!({}))));
    // A location added, removed (its code retired: 410), and removed again (404).
    let locations = format!("/v1/businesses/{}/locations", biz.id);
    let added = n.send_as("POST", &locations, &biz.key, json!({"name": "Hamnen", "lat": 55.61, "lon": 12.99}));
    answers.push(answer("POST", "/v1/businesses/{id}/locations", &added));
    let (added_id, added_token) = (added.str("id"), added.str("qr_token"));
    answers.push(answer("PATCH", "/v1/businesses/{id}/locations/{lid}", &n.send_as("PATCH", &format!("{locations}/{added_id}"), &biz.key, json!({"name": ""}))));
    answers.push(answer("DELETE", "/v1/businesses/{id}/locations/{lid}", &n.send_as("DELETE", &format!("{locations}/{added_id}"), &biz.key, json!(null))));
    answers.push(answer("POST", "/v1/sessions", &n.post("/v1/sessions", json!({"qr_token": added_token}))));
    answers.push(answer("DELETE", "/v1/businesses/{id}/locations/{lid}", &n.send_as("DELETE", &format!("{locations}/{added_id}"), &biz.key, json!(null))));
    answers.push(answer("GET", "/v1/route", &n.get("/v1/route?ip=81.227.10.20")));
    answers.push(answer("GET", "/v1/route", &n.get("/v1/route?ip=nowhere")));
    answers.push(answer("GET", "/health", &n.get("/health")));
    answers.push(answer("GET", "/ready", &n.get("/ready")));
    let statuses: Vec<u64> = answers.iter().map(|a| a["status"].as_u64().expect("status")).collect();
    assert_eq!(statuses, [201, 409, 400, 200, 401, 200, 200, 422, 200, 404, 401, 404, 200, 201, 200, 401, 400, 200, 422, 200, 200, 404, 200, 401, 400, 200, 401, 201, 422, 200, 410, 404, 200, 400, 200, 200], "{answers:#?}");
    let report = checker("live", &public, json!({"answers": answers}));
    assert_eq!(report["checked"], statuses.len(), "{report}");

    let (k, v) = ("authorization", format!("Bearer {OPERATOR_TOKEN}"));
    let op = [
        answer("GET", "/v1/cluster", &n.operator_get("/v1/cluster", &[(k, &v)])),
        answer("GET", "/v1/cluster", &n.operator_get("/v1/cluster", &[])),
        answer("GET", "/v1/cluster/self", &n.operator_get("/v1/cluster/self", &[(k, &v)])),
        answer("POST", "/v1/cluster/nodes", &n.operator_post("/v1/cluster/nodes", json!({"id": 1}), &[(k, &v)])),
    ];
    let statuses: Vec<u64> = op.iter().map(|a| a["status"].as_u64().expect("status")).collect();
    assert_eq!(statuses, [200, 401, 200, 400]);
    checker("live", &operator, json!({"answers": op}));
}

#[test]
fn a_rate_limited_answer_matches_its_documented_429() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("abuse.requests_per_second", "1"), ("abuse.burst", "3")]);
    // /ready is not limited; the document is one request, then the bucket runs dry.
    let public = n.get("/v1/openapi.json").body;
    let limited = poll_until(Duration::from_secs(10), || {
        let r = n.get("/v1/sessions/s_0123456789abcdef0123456789abcdef");
        (r.status == 429).then_some(r)
    })
    .expect("429 within the burst");
    limited.problem(429, "rate-limited");
    checker("live", &public, json!({"answers": [answer("GET", "/v1/sessions/{id}", &limited)]}));
}
