//! A business's locations after sign-up (issue 23, items 3 and 4): added, renamed and removed
//! through the JSON API and through the dashboard's forms; a removed location's QR code answers
//! a page that says it is retired (410), never a JSON 404; every code and poster carries the
//! cluster's one public address (`public.base_url`) and the poster says what the customer gets;
//! the reward percentages are edited within their bounds. Every refusal a client can provoke
//! is tried.

use serde_json::json;

use crate::harness::*;
use crate::page::Phone;
use crate::qr::{decode_png, get_raw};

/// The public address the node is configured with: what every code must carry.
const PUBLIC: &str = "https://feedback.example.se";

fn business(n: &NodeProc, biz: &Biz) -> serde_json::Value {
    let r = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[test]
fn locations_are_added_renamed_and_removed_through_the_api_and_a_removed_code_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("public.base_url", PUBLIC)]);
    let biz = create_business(&n, "1000.00");
    let other = create_business(&n, "1000.00");
    let path = format!("/v1/businesses/{}/locations", biz.id);

    // Added: 201 with its own token, and a code that carries the public address.
    let r = n.send_as("POST", &path, &biz.key, json!({"name": "  Hamnen  ", "lat": 55.61, "lon": 12.99}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "Hamnen", "trimmed: {}", r.body);
    let (lid, token) = (r.str("id"), r.str("qr_token"));
    assert_ne!(token, biz.token);
    assert_eq!(r.body["qr_url"], format!("{PUBLIC}/q/{token}"));
    let png = get_raw(&format!("{}{}", n.url, r.body["links"]["qr_png"].as_str().expect("png link")), Some(&biz.key));
    assert_eq!(png.status, 200);
    assert_eq!(decode_png(&png.bytes), format!("{PUBLIC}/q/{token}"), "the printed code is the public address");
    // The first location's code moved to the public address too.
    assert_eq!(business(&n, &biz)["locations"][0]["qr_url"], format!("{PUBLIC}/q/{}", biz.token));
    assert_eq!(business(&n, &biz)["locations"].as_array().map(Vec::len), Some(2));

    // The poster says what the customer gets, how it is paid and how long it takes.
    let poster = get_raw(&format!("{}{path}/{lid}/poster", n.url), Some(&biz.key)).text();
    for words in ["Få upp till 8 % tillbaka", "Swish", "2 minuter", &format!("{PUBLIC}/q/{token}"), "Hamnen"] {
        assert!(poster.contains(words), "{words} missing on the poster: {poster}");
    }

    // The customer's page works at once, and shows a rename at once.
    let mut phone = Phone::default();
    assert!(phone.get(&format!("{}/q/{token}", n.url)).html(200).contains("Hamnen"));
    let r = n.send_as("PATCH", &format!("{path}/{lid}"), &biz.key, json!({"name": "Hamnen, uteserveringen"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(phone.get(&format!("{}/q/{token}", n.url)).html(200).contains("Hamnen, uteserveringen"));

    // Removed: gone from the business; its code answers a page in words, 410, and the API 410.
    let r = n.send_as("DELETE", &format!("{path}/{lid}"), &biz.key, json!(null));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["locations"].as_array().map(Vec::len), Some(1));
    let page = phone.get(&format!("{}/q/{token}", n.url));
    assert!(page.html(410).contains("Den här QR-koden används inte längre"), "{}", page.body);
    assert!(phone.get(&format!("{}/q/{token}?lang=en", n.url)).html(410).contains("no longer in use"));
    let r = phone.post(&format!("{}/q/{token}/open", n.url), &[]);
    assert!(r.html(410).contains("används inte längre"), "{}", r.body);
    Device::new().scan(&n, &token).problem(410, "qr-token-retired");
    // A code that never existed is still the not-found page.
    let never = "A".repeat(43);
    assert_eq!(phone.get(&format!("{}/q/{never}", n.url)).status, 404);
    // The other location still works.
    assert_eq!(phone.get(&format!("{}/q/{}", n.url, biz.token)).status, 200);

    // Everything a client can get wrong: each refused in words, nothing changed.
    let first = business(&n, &biz)["locations"][0]["id"].as_str().expect("lid").to_string();
    n.send_as("DELETE", &format!("{path}/{first}"), &biz.key, json!(null)).problem(422, "location-count");
    n.send_as("POST", &path, &biz.key, json!({"name": "   ", "lat": 55.6, "lon": 13.0})).problem(422, "location-name-length");
    n.send_as("POST", &path, &biz.key, json!({"name": "x".repeat(101), "lat": 55.6, "lon": 13.0})).problem(422, "location-name-length");
    n.send_as("POST", &path, &biz.key, json!({"name": "Norr", "lat": 91.0, "lon": 13.0})).problem(422, "invalid-coordinates");
    assert_eq!(n.send_as("POST", &path, &biz.key, json!({"name": "Norr", "lat": 55.6, "lon": 13.0, "admin": true})).status, 400);
    assert_eq!(n.send_as("POST", &path, &biz.key, json!({"name": "Norr"})).status, 400);
    assert_eq!(n.send_as("POST", &path, &biz.key, json!("not an object")).status, 400);
    n.post(&path, json!({"name": "Norr", "lat": 55.6, "lon": 13.0})).problem(401, "unauthorized");
    n.send_as("POST", &path, &other.key, json!({"name": "Norr", "lat": 55.6, "lon": 13.0})).problem(404, "business-not-found");
    n.send_as("PATCH", &format!("{path}/{first}"), &other.key, json!({"name": "Stulen"})).problem(404, "business-not-found");
    n.send_as("DELETE", &format!("{path}/{first}"), &other.key, json!(null)).problem(404, "business-not-found");
    n.send_as("PATCH", &format!("{path}/l_nope"), &biz.key, json!({"name": "Norr"})).problem(404, "location-not-found");
    n.send_as("PATCH", &format!("{path}/{lid}"), &biz.key, json!({"name": "Borta"})).problem(404, "location-not-found");
    n.send_as("DELETE", &format!("{path}/{lid}"), &biz.key, json!(null)).problem(404, "location-not-found");
    n.send_as("PATCH", &format!("{path}/{first}"), &biz.key, json!({"name": ""})).problem(422, "location-name-length");
    assert_eq!(n.send_as("PATCH", &format!("{path}/{first}"), &biz.key, json!({"name": 7})).status, 400);
    assert_eq!(business(&n, &biz)["locations"][0]["name"], "Lilla Torg", "nothing changed");
    // At most 20 locations.
    for i in 1..20 {
        let r = n.send_as("POST", &path, &biz.key, json!({"name": format!("Butik {i}"), "lat": 55.6, "lon": 13.0}));
        assert_eq!(r.status, 201, "{i}: {}", r.body);
    }
    n.send_as("POST", &path, &biz.key, json!({"name": "Butik 21", "lat": 55.6, "lon": 13.0})).problem(422, "location-count");
    assert_eq!(business(&n, &biz)["locations"].as_array().map(Vec::len), Some(20));
    // A location a till sends its purchases to stays until the till is registered without it.
    let tilled = business(&n, &biz)["locations"][5]["id"].as_str().expect("lid").to_string();
    let till = json!({"account": "org-locations-1", "secret": "a-long-enough-webhook-secret-0123456789", "default_location_id": tilled});
    assert_eq!(n.send_as("PUT", &format!("/v1/businesses/{}/pos/zettle", biz.id), &biz.key, till).status, 200);
    n.send_as("DELETE", &format!("{path}/{tilled}"), &biz.key, json!(null)).problem(422, "location-used-by-till");
    let till = json!({"account": "org-locations-1", "secret": "a-long-enough-webhook-secret-0123456789", "default_location_id": first});
    assert_eq!(n.send_as("PUT", &format!("/v1/businesses/{}/pos/zettle", biz.id), &biz.key, till).status, 200);
    assert_eq!(n.send_as("DELETE", &format!("{path}/{tilled}"), &biz.key, json!(null)).status, 200);

    // The reward percentages through the API: within bounds, refused in words outside them.
    let settings = format!("/v1/businesses/{}/settings", biz.id);
    let r = n.send_as("PATCH", &settings, &biz.key, json!({"reward_percentages": {"low": "1.5", "mid": "4", "high": "10"}}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["reward_percentages"], json!({"low": "1.50", "mid": "4.00", "high": "10.00"}));
    n.send_as("PATCH", &settings, &biz.key, json!({"reward_percentages": {"low": "1", "mid": "4", "high": "100.01"}})).problem(422, "invalid-reward-policy");
    n.send_as("PATCH", &settings, &biz.key, json!({"reward_percentages": {"low": "5", "mid": "4", "high": "9"}})).problem(422, "invalid-reward-policy");
    n.send_as("PATCH", &settings, &biz.key, json!({"reward_percentages": {"low": "-1", "mid": "4", "high": "9"}})).problem(400, "invalid-percentage");
    n.send_as("PATCH", &settings, &biz.key, json!({"reward_percentages": {"low": "lots", "mid": "4", "high": "9"}})).problem(400, "invalid-percentage");
    assert_eq!(business(&n, &biz)["reward_percentages"]["high"], "10.00", "a refused change changed nothing");
    let poster = get_raw(&format!("{}{path}/{first}/poster", n.url), Some(&biz.key)).text();
    assert!(poster.contains("Få upp till 10 % tillbaka"), "{poster}");
}

#[test]
fn the_dashboard_adds_renames_and_removes_locations_and_sets_rewards_with_plain_forms() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "1000.00");
    let base = n.url.clone();
    let mut browser = Phone::default().with_header("origin", &base);
    assert_eq!(browser.post(&format!("{base}/business/sign-in"), &[("api_key", &biz.key)]).status, 303);

    // Add: the form without coordinates takes the first location's.
    let r = browser.post(&format!("{base}/business/locations"), &[("name", "Stationen"), ("lat", ""), ("lon", "")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let b = business(&n, &biz);
    let added = b["locations"].as_array().and_then(|l| l.iter().find(|l| l["name"] == "Stationen")).expect("added").clone();
    assert_eq!((added["lat"].as_f64(), added["lon"].as_f64()), (b["locations"][0]["lat"].as_f64(), b["locations"][0]["lon"].as_f64()));
    let lid = added["id"].as_str().expect("lid").to_string();
    let token = added["qr_token"].as_str().expect("token").to_string();
    let html = browser.get(&format!("{base}/business?saved=location-added")).html(200).to_string();
    assert!(html.contains("Butiken är tillagd") && html.contains(&format!("/business/locations/{lid}/poster")), "{html}");
    // The poster can be printed again from the dashboard.
    let poster = browser.get(&format!("{base}/business/locations/{lid}/poster"));
    assert!(poster.body.contains("Få upp till 8 % tillbaka") && poster.body.contains("Stationen"), "{}", poster.body);
    // Decimal comma coordinates are understood; a bad one is refused in words.
    let r = browser.post(&format!("{base}/business/locations"), &[("name", "Torget"), ("lat", "55,6"), ("lon", "13,01")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let r = browser.post(&format!("{base}/business/locations"), &[("name", "Torget 2"), ("lat", "norr"), ("lon", "")]);
    assert!(r.html(400).contains("Latitud och longitud måste vara tal"), "{}", r.body);
    let r = browser.post(&format!("{base}/business/locations"), &[("name", ""), ("lat", ""), ("lon", "")]);
    assert!(r.html(422).contains("Namnet måste vara 1 till 100 tecken"), "{}", r.body);

    // Rename.
    let r = browser.post(&format!("{base}/business/locations/{lid}/rename"), &[("name", "Centralstationen")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(Phone::default().get(&format!("{base}/q/{token}")).html(200).contains("Centralstationen"));

    // Remove: refused until confirmed, then the code is retired.
    let r = browser.post(&format!("{base}/business/locations/{lid}/remove"), &[]);
    assert!(r.html(400).contains("Kryssa i rutan"), "{}", r.body);
    assert_eq!(Phone::default().get(&format!("{base}/q/{token}")).status, 200, "not removed without the box");
    let r = browser.post(&format!("{base}/business/locations/{lid}/remove"), &[("confirm", "yes")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(Phone::default().get(&format!("{base}/q/{token}")).html(410).contains("Den här QR-koden används inte längre"));
    let r = browser.post(&format!("{base}/business/locations/{lid}/remove"), &[("confirm", "yes")]);
    assert!(r.html(404).contains("finns inte"), "{}", r.body);
    let r = browser.post(&format!("{base}/business/locations/l_zz/rename"), &[("name", "x")]);
    assert_eq!(r.status, 404, "{}", r.body);

    // Rewards: Swedish decimals accepted, bounds refused in words.
    let r = browser.post(&format!("{base}/business/rewards"), &[("low", "2,5"), ("mid", "5"), ("high", "9")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(business(&n, &biz)["reward_percentages"], json!({"low": "2.50", "mid": "5.00", "high": "9.00"}));
    let html = browser.get(&format!("{base}/business")).html(200).to_string();
    assert!(html.contains("2,5 %") && html.contains("value=\"2,5\""), "{html}");
    let r = browser.post(&format!("{base}/business/rewards"), &[("low", "2"), ("mid", "9"), ("high", "5")]);
    assert!(r.html(422).contains("högre nivå får inte ge mindre"), "{}", r.body);
    let r = browser.post(&format!("{base}/business/rewards"), &[("low", "2"), ("mid", "5"), ("high", "101")]);
    assert!(r.html(422).contains("0 till 100 %"), "{}", r.body);
    assert_eq!(business(&n, &biz)["reward_percentages"]["high"], "9.00");

    // The daily reward budget, in the same form: the cluster's cap until the business sets its
    // own, 1 kr up to that cap, refused in words outside it (and the percentages with it).
    let cap = business(&n, &biz)["daily_budget_sek"].as_str().expect("daily budget").to_string();
    let r = browser.post(&format!("{base}/business/rewards"), &[("low", "2,5"), ("mid", "5"), ("high", "9"), ("daily_budget", "750,50")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(business(&n, &biz)["daily_budget_sek"], "750.50");
    let html = browser.get(&format!("{base}/business")).html(200).to_string();
    assert!(html.contains("value=\"750,50\""), "{html}");
    for wrong in ["0,50", "999999", "mycket"] {
        let r = browser.post(&format!("{base}/business/rewards"), &[("low", "3"), ("mid", "5"), ("high", "9"), ("daily_budget", wrong)]);
        assert!(r.status == 422 || r.status == 400, "{wrong}: {}", r.body);
        assert!(r.body.contains("Dagsbudgeten") || r.body.contains("belopp"), "{wrong}: {}", r.body);
    }
    let b = business(&n, &biz);
    assert_eq!((b["daily_budget_sek"].as_str(), b["reward_percentages"]["low"].as_str()), (Some("750.50"), Some("2.50")), "nothing written: {b}");
    // The API sets it too, with the same bounds.
    let patch = |budget: &str| n.send_as("PATCH", &format!("/v1/businesses/{}/settings", biz.id), &biz.key, json!({"daily_budget_sek": budget}));
    patch("0.99").problem(422, "invalid-daily-budget");
    assert_eq!(patch(&cap).status, 200);
    assert_eq!(business(&n, &biz)["daily_budget_sek"], cap.as_str());

    // Another site's form changes nothing; without sign-in, nothing either.
    let mut forged = Phone::default();
    forged.cookies = browser.cookies.clone();
    let mut forged = forged.with_header("origin", "https://evil.example");
    assert_eq!(forged.post(&format!("{base}/business/locations"), &[("name", "Ond")]).status, 400);
    let first = business(&n, &biz)["locations"][0]["id"].as_str().expect("lid").to_string();
    assert_eq!(forged.post(&format!("{base}/business/locations/{first}/remove"), &[("confirm", "yes")]).status, 400);
    assert_eq!(Phone::default().with_header("origin", &base).post(&format!("{base}/business/rewards"), &[("low", "0"), ("mid", "0"), ("high", "0")]).status, 401);
    let b = business(&n, &biz);
    assert!(b["locations"].as_array().is_some_and(|l| l.iter().all(|l| l["name"] != "Ond")), "{b}");
    assert_eq!(b["reward_percentages"]["high"], "9.00");
}
