//! The customer's page through real processes, as a phone without JavaScript uses it: plain
//! GETs and form posts with cookies kept by hand. The whole flow (open, purchase, feedback,
//! reward), resuming after a reload, English, names escaped, errors in words, a cross-site form
//! refused, the 404 page, the assets, the rate limit, and the GeoIP 307 on a three-region cluster.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// A phone: its cookies, kept by hand (name -> value; paths are not needed for one QR code).
/// The console's tests use it as the operator's browser.
#[derive(Default)]
pub(crate) struct Phone {
    pub(crate) cookies: BTreeMap<String, String>,
    extra: Vec<(String, String)>,
}

/// A page answer: status, headers (every `Set-Cookie` kept), body text.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).find(|v| v.starts_with(&format!("{name}=")))
    }

    #[track_caller]
    pub(crate) fn html(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("text/html; charset=utf-8"), "{}", self.body);
        &self.body
    }
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl Phone {
    pub(crate) fn with_header(mut self, name: &str, value: &str) -> Phone {
        self.extra.push((name.into(), value.into()));
        self
    }

    fn send(&mut self, req: ureq::Request, body: Option<&str>) -> Page {
        let mut req = req.timeout(Duration::from_secs(30));
        if !self.cookies.is_empty() {
            let jar = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.set("cookie", &jar);
        }
        for (k, v) in &self.extra {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.set("content-type", "application/x-www-form-urlencoded").send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("http transport error: {e}"),
        };
        let mut headers = Vec::new();
        for name in resp.headers_names() {
            for v in resp.all(&name) {
                headers.push((name.clone(), v.to_string()));
            }
        }
        for (_, v) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")) {
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                self.cookies.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
        let status = resp.status();
        let mut body = String::new();
        resp.into_reader().read_to_string(&mut body).expect("body");
        Page { status, headers, body }
    }

    pub(crate) fn get(&mut self, url: &str) -> Page {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        self.send(agent.get(url), None)
    }

    pub(crate) fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        self.send(agent.post(url), Some(&form(fields)))
    }

    /// Posts a form and follows the 303 back to the page, as a browser does.
    #[track_caller]
    pub(crate) fn submit(&mut self, base: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let r = self.post(&format!("{base}{path}"), fields);
        assert_eq!(r.status, 303, "{}", r.body);
        let to = r.header("location").expect("location").to_string();
        assert!(to.starts_with("/q/"), "{to}");
        self.get(&format!("{base}{to}"))
    }
}

/// The default value the page offers in the purchase time field.
pub(crate) fn offered_time(html: &str) -> String {
    let at = html.find("name=\"purchased_at\"").expect("time field");
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("value") + 7;
    rest[v..v + rest[v..].find('"').expect("end")].to_string()
}

fn create_named(n: &NodeProc, name: &str, location: &str) -> (String, String) {
    let r = n.post(
        "/v1/businesses",
        json!({
            "name": name,
            "org_number": next_org_number().to_string(),
            "locations": [{"name": location, "lat": 55.6046, "lon": 12.9996}],
            "reward_budget_sek": "1000.00"
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    (r.str("id"), r.body["locations"][0]["qr_token"].as_str().expect("token").to_string())
}

#[test]
fn a_phone_without_javascript_completes_the_whole_flow_with_form_posts() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let (_, token) = create_named(&n, "Kafé <b>Fet</b> & Co", "Lilla \"Torg\"");
    let page = format!("{}/q/{token}", n.url);
    let mut phone = Phone::default();

    // The first visit: Swedish, the names escaped, a device cookie set, strict headers.
    let r = phone.get(&page);
    let html = r.html(200);
    assert!(html.contains("<html lang=\"sv\">"), "{html}");
    assert!(html.contains("Kafé &lt;b&gt;Fet&lt;/b&gt; &amp; Co") && html.contains("Lilla &quot;Torg&quot;"), "{html}");
    assert!(!html.contains("<b>Fet"), "the business name is not markup: {html}");
    assert!(html.contains("Lämna feedback") && html.contains("name=\"viewport\""), "{html}");
    let device = r.set_cookie("svea_device").expect("device cookie").to_string();
    assert!(device.contains("HttpOnly") && device.contains("SameSite=Lax") && device.contains("Path=/"), "{device}");
    assert!(!device.contains("Secure"), "plain HTTP on loopback: {device}");
    let csp = r.header("content-security-policy").expect("csp");
    assert!(csp.starts_with("default-src 'self'") && !csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // The cookie is the device credential svea issued; it never appears in the page.
    let credential = phone.cookies["svea_device"].clone();
    assert!(credential.starts_with(DEVICE_TOKEN_PREFIX) && credential.len() == DEVICE_TOKEN_PREFIX.len() + 64, "{credential}");
    // A reload keeps the device: no second device cookie.
    let again = phone.get(&page);
    assert!(again.set_cookie("svea_device").is_none());
    assert!(!again.html(200).contains(&credential) && !html.contains(&credential), "the token is only in the HttpOnly cookie");

    // Open: 303 back to the page, which now asks for the purchase; the session cookie is the
    // QR code's own.
    let r = phone.post(&format!("{page}/open"), &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let sc = r.set_cookie("svea_session").expect("session cookie");
    assert!(sc.contains(&format!("Path=/q/{token}")) && sc.contains("HttpOnly") && sc.contains("SameSite=Lax"), "{sc}");
    let sid = phone.cookies["svea_session"].clone();
    let html = phone.get(&page).html(200).to_string();
    assert!(html.contains(&format!("action=\"/q/{token}/purchase\"")) && html.contains("<label for=\"amount\""), "{html}");
    let when = offered_time(&html);
    assert_eq!(when.len(), "2026-01-01T12:00".len(), "{when}");

    // A wrong amount: the page again, the problem in Swedish words, what was typed kept.
    let r = phone.post(&format!("{page}/purchase"), &[("amount", "nittio"), ("purchased_at", &when), ("receipt", "KV-1001")]);
    let html = r.html(422);
    assert!(html.contains("Skriv beloppet i kronor") && html.contains("value=\"nittio\"") && html.contains("value=\"KV-1001\""), "{html}");
    assert!(!html.contains("urn:svea"), "{html}");
    let html = phone.submit(&n.url, &format!("/q/{token}/purchase"), &[("amount", "249,00"), ("purchased_at", &when), ("receipt", "KV-1001")]).html(200).to_string();
    assert!(html.contains("<textarea") && html.contains("minlength=\"20\"") && html.contains("maxlength=\"5000\""), "{html}");
    assert!(html.contains("249,00 kr") && html.contains("KV-1001"), "{html}");
    assert_eq!(n.get(&format!("/v1/sessions/{sid}")).body["purchase"]["amount_sek"], "249.00");

    // Too short: refused in words, the text kept; then the real feedback.
    let html = phone.post(&format!("{page}/feedback"), &[("text", "För kort <i>")]).html(422).to_string();
    assert!(html.contains("mellan 20 och 5 000 tecken") && html.contains("För kort &lt;i&gt;</textarea>"), "{html}");
    let r = phone.submit(&n.url, &format!("/q/{token}/feedback"), &[("text", GOOD_FEEDBACK)]);
    let html = r.html(200).to_string();
    let api = n.get(&format!("/v1/sessions/{sid}"));
    assert_eq!(api.body["state"], "rewarded", "{}", api.body);
    let score = api.body["quality_score"].as_u64().expect("score");
    let reward = api.str("reward_sek").replace('.', ",");
    assert!(html.contains(&format!("id=\"score\">{score}</strong>")), "{html}");
    assert!(html.contains(&format!("id=\"reward\">{reward} kr</strong>")), "{html}");
    assert!(html.contains("Tack för din feedback") && html.contains("Innehåll") && html.contains("<meter"), "{html}");

    // A reload resumes: the result again, nothing new opened.
    assert_eq!(phone.get(&page).html(200), html);
    // The page's credential is the API's: its holder exports the session the page opened.
    let export = n.post("/v1/privacy/export", json!({"device_token": credential}));
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["sessions"][0]["id"], sid.as_str(), "{}", export.body);
    // English on request, and it sticks through the cookie.
    let r = phone.get(&format!("{page}?lang=en"));
    let en = r.html(200).to_string();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Thank you for your feedback") && en.contains("Your reward"), "{en}");
    assert!(r.set_cookie("svea_lang").is_some_and(|c| c.starts_with("svea_lang=en")));
    assert!(phone.get(&page).html(200).contains("Your reward"));
    assert!(phone.get(&format!("{page}?lang=sv")).html(200).contains("Din belöning"));

    // A cross-site form (another site's page posting with the customer's cookies) is refused.
    let mut forged = Phone { cookies: phone.cookies.clone(), extra: Vec::new() }.with_header("origin", "https://evil.example");
    let html = forged.post(&format!("{page}/open"), &[]).html(400).to_string();
    assert!(html.contains("annan webbplats"), "{html}");
    // Without the cookies (what SameSite=Lax leaves a cross-site post) a form changes nothing.
    let mut stranger = Phone::default();
    let r = stranger.post(&format!("{page}/feedback"), &[("text", GOOD_FEEDBACK)]);
    assert_eq!((r.status, r.header("location")), (303, Some(format!("/q/{token}").as_str())));
    let r = stranger.post(&format!("{page}/open"), &[]);
    assert_eq!(r.status, 303);
    assert!(r.set_cookie("svea_session").is_none(), "no device, no session");
}

#[test]
fn a_device_cookie_svea_did_not_issue_is_replaced_and_opens_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let Biz { token, .. } = create_business(&n, "1000.00");
    let page = format!("{}/q/{token}", n.url);
    // A victim's phone, with its session open through the page.
    let mut victim = Phone::default();
    victim.get(&page).html(200);
    assert_eq!(victim.post(&format!("{page}/open"), &[]).status, 303);
    let victim_session = victim.cookies["svea_session"].clone();
    // Cookies svea did not issue: an earlier version's client-made id, a made-up token, the
    // victim's token with its tag altered.
    let real = victim.cookies["svea_device"].clone();
    let last = if real.ends_with('A') { "B" } else { "A" };
    let altered = format!("{}{last}", &real[..real.len() - 1]);
    for made_up in ["web-0123456789abcdef0123456789abcdef".to_string(), format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64)), altered] {
        let mut attacker = Phone::default();
        attacker.cookies.insert("svea_device".into(), made_up.clone());
        // Posting "open" with it opens nothing and finds nothing: back to the page.
        let r = attacker.post(&format!("{page}/open"), &[]);
        assert_eq!((r.status, r.header("location")), (303, Some(format!("/q/{token}").as_str())), "{made_up}");
        assert!(r.set_cookie("svea_session").is_none(), "{made_up}: a session from a cookie svea did not issue");
        // The page replaces the cookie with a fresh credential of its own.
        let shown = attacker.get(&page);
        shown.html(200);
        let fresh = shown.set_cookie("svea_device").expect("a fresh device cookie").to_string();
        assert!(fresh.starts_with(&format!("svea_device={DEVICE_TOKEN_PREFIX}")) && fresh.contains("HttpOnly"), "{fresh}");
        assert_ne!(attacker.cookies["svea_device"], real);
        // Opening with it now is a session of its own, never the victim's.
        assert_eq!(attacker.post(&format!("{page}/open"), &[]).status, 303);
        assert_ne!(attacker.cookies.get("svea_session"), Some(&victim_session), "{made_up}");
    }
}

#[test]
fn unknown_codes_get_a_friendly_page_assets_are_embedded_and_pages_are_rate_limited() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("abuse.requests_per_second", "1"), ("abuse.burst", "6")]);
    let mut phone = Phone::default();

    let unknown = svea_node::domain::QrToken::random();
    for path in [format!("/q/{unknown}"), "/q/not-a-token".to_string()] {
        let html = phone.get(&format!("{}{path}", n.url)).html(404).to_string();
        assert!(html.contains("Vi hittar inte den här QR-koden") && html.contains("<html lang=\"sv\">"), "{html}");
    }
    let css = phone.get(&format!("{}/assets/page.css", n.url));
    assert_eq!((css.status, css.header("content-type")), (200, Some("text/css; charset=utf-8")));
    assert!(css.header("cache-control").is_some_and(|c| c.starts_with("public, max-age=")), "{:?}", css.headers);
    assert!(css.body.contains(".steps"));
    let js = phone.get(&format!("{}/assets/page.js", n.url));
    assert_eq!((js.status, js.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(phone.get(&format!("{}/assets/nope.js", n.url)).status, 404);

    // The same bucket as the API: a phone reloading in a loop gets a page saying to wait.
    let limited = eventually(Duration::from_secs(10), "a 429", || {
        let r = phone.get(&format!("{}/q/{unknown}", n.url));
        (r.status == 429).then_some(r)
    });
    assert!(limited.html(429).contains("För många försök"));
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn a_malmo_customer_opening_a_stockholm_node_is_sent_to_malmo_first() {
    let dir = tempfile::tempdir().expect("tmp");
    // Stockholm and Malmö believe the loopback proxy's X-Forwarded-For (see geo.rs).
    let trust: &[(&str, &str)] = &[("geo.trusted_proxies", "127.0.0.1")];
    // One public address in front of every node (issue 23): what the QR code carries.
    let public = "https://feedback.svea.test";
    let c = Cluster3::start_with(dir.path(), &[("node.routing", "redirect"), ("public.base_url", public)], [trust, &[], trust]);
    let created = c.by_region("stockholm").post(
        "/v1/businesses",
        json!({"name": "Malmö Bageri", "org_number": next_org_number().to_string(),
            "locations": [{"name": "Södergatan", "lat": 55.6046, "lon": 12.9996}], "reward_budget_sek": "1000.00"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let (id, key) = (created.str("id"), created.str("api_key"));
    let token = created.body["locations"][0]["qr_token"].as_str().expect("token").to_string();
    let (sthlm, malmo) = (c.by_region("stockholm"), c.by_region("malmo"));
    // The code, asked at any node, carries the one public address, not a node's own.
    for n in &c.nodes {
        let b = n.get_as(&format!("/v1/businesses/{id}"), &key).body;
        assert_eq!(b["locations"][0]["qr_url"], format!("{public}/q/{token}"), "{b}");
    }
    // Behind that address any node may take the scan: a Malmö customer at Stockholm's node is
    // sent on to Malmö (below), one at Malmö's is served there.

    let mut phone = Phone::default().with_header("x-forwarded-for", "2.58.0.1");
    let r = phone.get(&format!("{}/q/{token}?lang=en", sthlm.url));
    assert_eq!(r.status, 307, "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("{}/q/{token}?lang=en", malmo.url).as_str()));
    assert!(r.set_cookie("svea_device").is_none(), "nothing rendered or set before routing");
    let html = phone.get(&format!("{}/q/{token}", malmo.url)).html(200).to_string();
    assert!(html.contains("Malmö Bageri") && html.contains("Södergatan"), "{html}");
    let r = phone.post(&format!("{}/q/{token}/open", malmo.url), &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let sid = phone.cookies["svea_session"].clone();
    assert_eq!(malmo.get(&format!("/v1/sessions/{sid}")).body["region"], "malmo");
    // A Stockholm customer is served where they are.
    let html = Phone::default().with_header("x-forwarded-for", "1.178.93.1").get(&format!("{}/q/{token}", sthlm.url)).html(200).to_string();
    assert!(html.contains("Malmö Bageri"));
}

#[test]
fn at_a_till_verified_business_the_page_waits_for_the_till_and_then_asks_for_feedback() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let b = create_business(&n, "1000.00");
    crate::pos::register_tills(&n, &b, &format!("{}/v1/pos/square/webhook", n.url));
    let page = format!("{}/q/{}", n.url, b.token);
    let mut phone = Phone::default();
    phone.get(&page).html(200);
    let when = offered_time(phone.submit(&n.url, &format!("/q/{}/open", b.token), &[]).html(200));

    // The till has not reported the purchase yet: a visible waiting state that reloads itself.
    let r = phone.submit(&n.url, &format!("/q/{}/purchase", b.token), &[("amount", "199,00"), ("purchased_at", &when), ("receipt", "#2002")]);
    let html = r.html(200).to_string();
    assert!(html.contains("Väntar på kassan") && html.contains("<meta http-equiv=\"refresh\""), "{html}");
    assert!(html.contains(&format!("href=\"/q/{}\"", b.token)), "a reload link without script: {html}");
    assert!(!html.contains("<textarea"), "{html}");

    // The till reports it: the next reload asks for feedback.
    let hook = crate::pos::shopify("ev-page-till", "#2002", "199.00").send(&n);
    assert_eq!(hook.body["status"], "recorded", "{}", hook.body);
    let html = phone.get(&page).html(200).to_string();
    assert!(html.contains("<textarea") && !html.contains("http-equiv"), "{html}");
}
