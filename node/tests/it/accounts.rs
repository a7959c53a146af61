//! Business accounts: the API key shown once, required by every business endpoint, rotated; an
//! organisation number registers once; a customer sees only what a customer needs.

use serde_json::json;

use crate::harness::*;

const NOWHERE: &str = "b_00000000000000000000000000000000";

fn data_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    fn walk(p: &std::path::Path, needle: &[u8]) -> bool {
        let Ok(entries) = std::fs::read_dir(p) else { return false };
        entries.flatten().any(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path, needle)
            } else {
                std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            }
        })
    }
    walk(dir, needle)
}

#[test]
fn business_data_needs_that_business_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let a = create_business(&n, "500.00");
    let b = create_business(&n, "500.00");

    // The key: 256 random bits after the business id, shown at creation.
    assert!(a.key.starts_with(&format!("svea_sk_{}_", a.id)), "{}", a.key);
    assert_eq!(a.key.len(), "svea_sk_".len() + a.id.len() + 1 + 43);
    assert_ne!(a.key, b.key);

    for path in [format!("/v1/businesses/{}", a.id), format!("/v1/businesses/{}/analytics", a.id)] {
        // Its own key: 200.
        let ok = n.get_as(&path, &a.key);
        assert_eq!(ok.status, 200, "{}", ok.body);
        // No key, a malformed one, another scheme: 401 with a challenge.
        let none = n.get(&path);
        none.problem(401, "unauthorized");
        assert_eq!(none.header("www-authenticate"), Some("Bearer realm=\"svea-business\""));
        n.get_with(&path, &[("authorization", "Bearer not-a-key")]).problem(401, "unauthorized");
        n.get_with(&path, &[("authorization", &format!("Basic {}", a.key))]).problem(401, "unauthorized");
        // Another business's key: 404, the same answer as for a business that does not exist.
        let other = n.get_as(&path, &b.key);
        other.problem(404, "business-not-found");
        // The right business id with a forged secret: 401, as for an id that does not exist.
        let forged = format!("{}{}", &a.key[..a.key.len() - 4], if a.key.ends_with("AAAA") { "BBBA" } else { "AAAA" });
        n.get_as(&path, &forged).problem(401, "unauthorized");
    }
    let forged_nowhere = b.key.replace(&b.id, NOWHERE);
    n.get_as(&format!("/v1/businesses/{NOWHERE}"), &forged_nowhere).problem(401, "unauthorized");
    n.get_as(&format!("/v1/businesses/{NOWHERE}"), &a.key).problem(404, "business-not-found");

    // The business's answer never repeats the key, and the data directory holds only its hash.
    let got = n.get_as(&format!("/v1/businesses/{}", a.id), &a.key);
    assert!(got.body.get("api_key").is_none(), "{}", got.body);
    assert!(!data_contains(dir.path(), a.key.as_bytes()), "the API key is stored in the clear");
    let secret = &a.key[a.key.len() - 43..];
    assert!(!data_contains(dir.path(), secret.as_bytes()), "the key's secret is stored in the clear");
}

#[test]
fn rotating_the_key_retires_the_old_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let a = create_business(&n, "500.00");
    let path = format!("/v1/businesses/{}/keys", a.id);
    n.post(&path, json!({})).problem(401, "unauthorized");
    let rotated = n.post_with(&path, json!({}), &[("authorization", &format!("Bearer {}", a.key))]);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_key = rotated.str("api_key");
    assert_ne!(new_key, a.key);
    n.get_as(&format!("/v1/businesses/{}", a.id), &a.key).problem(401, "unauthorized");
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", a.id), &new_key).status, 200);
    // The old key cannot rotate again either.
    n.post_with(&path, json!({}), &[("authorization", &format!("Bearer {}", a.key))]).problem(401, "unauthorized");
    // And the new key survives a restart (it is replicated state, not memory).
    let mut n = n;
    n.kill9();
    n.restart();
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", a.id), &new_key).status, 200);
    n.get_as(&format!("/v1/businesses/{}", a.id), &a.key).problem(401, "unauthorized");
}

#[test]
fn an_organisation_number_registers_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let org = next_org_number().to_string();
    let body = |name: &str, org: &str| {
        json!({"name": name, "org_number": org, "locations": [{"name": "Torget", "lat": 59.3, "lon": 18.0}], "reward_budget_sek": "100.00"})
    };
    assert_eq!(n.post("/v1/businesses", body("Första", &org)).status, 201);
    n.post("/v1/businesses", body("Andra", &org)).problem(409, "org-number-registered");
    // The same number without the dash is the same number.
    n.post("/v1/businesses", body("Tredje", &org.replace('-', ""))).problem(409, "org-number-registered");
}

#[test]
fn a_customer_sees_names_not_business_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let a = create_business(&n, "500.00");
    let r = Device::new().scan(&n, &a.token);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["business_name"], "Kafé Lilla Torget");
    assert_eq!(r.body["location_name"], "Lilla Torg");
    let text = r.body.to_string();
    for secret in [a.key.as_str(), a.token.as_str(), "budget", "api_key", "qr_token"] {
        assert!(!text.contains(secret), "the session answer shows {secret}: {text}");
    }
    // With the session's business id a customer still reads nothing of the business.
    n.get(&format!("/v1/businesses/{}", r.str("business_id"))).problem(401, "unauthorized");
}
