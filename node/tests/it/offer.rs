//! The customer knows the offer (issue 23, item 5): the start page opens with the reward range
//! and how it is paid; the privacy page says who holds what and for how long, and downloads or
//! erases the customer's data with the device cookie they already have (a confirmation first,
//! plain forms, refused from another site, rate limited); the feedback counter is neutral until
//! a too-short text is submitted; numbers are written the Swedish way. Once without JavaScript
//! (plain HTTP, every abuse tried), once in Chromium at 360 × 640 and 1280 × 900 with
//! screenshots.

use std::time::Duration;

use serde_json::Value;

use crate::browser::{Chromium, DESKTOP};
use crate::harness::*;
use crate::page::{offered_time, Phone};

/// A customer who has given feedback at `biz` through the page: their phone (with its device
/// cookie), and the feedback text.
fn customer_with_feedback(n: &NodeProc, biz: &Biz, amount: &str) -> Phone {
    let mut phone = Phone::default().with_header("origin", &n.url);
    let page = format!("/q/{}", biz.token);
    phone.get(&format!("{}{page}", n.url)).html(200);
    let when = offered_time(phone.submit(&n.url, &format!("{page}/open"), &[]).html(200));
    phone.submit(&n.url, &format!("{page}/purchase"), &[("amount", amount), ("purchased_at", &when), ("receipt", "KV-77")]).html(200);
    phone.submit(&n.url, &format!("{page}/feedback"), &[("text", GOOD_FEEDBACK)]).html(200);
    phone
}

#[test]
fn the_start_page_states_the_offer_and_the_privacy_page_exports_and_erases_with_the_cookie() {
    let dir = tempfile::tempdir().expect("tmp");
    // Purchases up to 5 000 kr may be declared (so one shows a thousands separator).
    let n = NodeProc::start(dir.path(), &[("abuse.privacy_burst", "12"), ("abuse.privacy_requests_per_minute", "1"), ("abuse.declared_amount_max_sek", "5000")]);
    let biz = create_business(&n, "1000.00");

    // The start page: the offer first, with the business's top percentage, how it is paid, the
    // privacy link; then the rest.
    let html = Phone::default().get(&format!("{}/q/{}", n.url, biz.token)).html(200).to_string();
    let offer = html.find("id=\"offer\"").expect("the offer");
    assert!(offer < html.find("<h1").expect("h1"), "the offer comes before anything else: {html}");
    assert!(html.contains("Få <strong id=\"offer-range\">0–8 %</strong> av ditt köp tillbaka"), "{html}");
    assert!(html.contains("med Swish") && html.contains("ungefär 2 minuter") && html.contains("href=\"/privacy?lang=sv\""), "{html}");
    let en = Phone::default().get(&format!("{}/q/{}?lang=en", n.url, biz.token)).html(200).to_string();
    assert!(en.contains("0–8%") && en.contains("paid by Swish"), "{en}");
    // An unfunded business says so instead of a range.
    let broke = create_business(&n, "0.00");
    let html = Phone::default().get(&format!("{}/q/{}", n.url, broke.token)).html(200).to_string();
    assert!(html.contains("id=\"no-funds\"") && !html.contains("offer-range"), "{html}");

    // A customer gives feedback; the numbers on the page are Swedish.
    let mut phone = customer_with_feedback(&n, &biz, "1234,50");
    let result = phone.get(&format!("{}/q/{}", n.url, biz.token)).html(200).to_string();
    assert!(result.contains("1 234,50 kr"), "Swedish thousands and decimals: {result}");

    // The privacy page: who holds what, for how long (retention.feedback_days).
    let html = phone.get(&format!("{}/privacy", n.url)).html(200).to_string();
    for words in ["Vem har vad", "svea", "Företaget", "365 dagar", "Hämta mina uppgifter (JSON)", "Radera mina uppgifter"] {
        assert!(html.contains(words), "{words} missing: {html}");
    }
    assert!(Phone::default().get(&format!("{}/privacy?lang=en", n.url)).html(200).contains("Who holds what"));

    // Export: a JSON download of what svea holds about this device, with the cookie alone.
    let r = phone.post(&format!("{}/privacy/export", n.url), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("content-disposition").is_some_and(|d| d.starts_with("attachment")), "a download");
    let export: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(export["sessions"].as_array().map(Vec::len), Some(1), "{export}");
    assert_eq!(export["sessions"][0]["feedback"]["text"], GOOD_FEEDBACK.trim(), "{export}");
    assert_eq!(export["sessions"][0]["purchase"]["amount_sek"], "1234.50");

    // Without a credential, or with one svea did not issue: nothing to export, said in words.
    let mut stranger = Phone::default().with_header("origin", &n.url);
    assert!(stranger.post(&format!("{}/privacy/export", n.url), &[]).html(200).contains("inget id från svea"));
    let mut forger = Phone::default().with_header("origin", &n.url);
    forger.cookies.insert("svea_device".into(), format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64)));
    assert!(forger.post(&format!("{}/privacy/export", n.url), &[]).html(200).contains("inget id från svea"));
    forger.cookies.insert("svea_device".into(), "x".repeat(5000));
    assert!(forger.post(&format!("{}/privacy/erase", n.url), &[("confirm", "yes")]).html(200).contains("inget id från svea"));
    // Another site's form with the customer's cookie: refused, nothing read or erased.
    let mut evil = Phone::default().with_header("origin", "https://evil.example");
    evil.cookies = phone.cookies.clone();
    assert!(evil.post(&format!("{}/privacy/export", n.url), &[]).html(400).contains("annan webbplats"));
    assert!(evil.post(&format!("{}/privacy/erase", n.url), &[("confirm", "yes")]).html(400).contains("annan webbplats"));

    // Erase: a confirmation page first (nothing erased yet), then the erasure.
    let html = phone.post(&format!("{}/privacy/erase", n.url), &[]).html(200).to_string();
    assert!(html.contains("Radera dina uppgifter?") && html.contains("name=\"confirm\" value=\"yes\""), "{html}");
    let still: Value = serde_json::from_str(&phone.post(&format!("{}/privacy/export", n.url), &[]).body).expect("json");
    assert_eq!(still["sessions"].as_array().map(Vec::len), Some(1), "not erased before the confirmation");
    let html = phone.post(&format!("{}/privacy/erase", n.url), &[("confirm", "yes")]).html(200).to_string();
    assert!(html.contains("Dina uppgifter är raderade") && html.contains("id=\"erased-count\">1<"), "{html}");
    let after = phone.post(&format!("{}/privacy/export", n.url), &[]);
    assert!(!after.body.contains(GOOD_FEEDBACK.trim()), "the text is gone: {}", after.body);
    let feedback = n.get_as(&format!("/v1/businesses/{}/feedback", biz.id), &biz.key);
    assert!(!feedback.body.to_string().contains(GOOD_FEEDBACK.trim()), "gone for the business too: {}", feedback.body);

    // The privacy bucket: a flood gets the rate-limit page with Retry-After, not a 500.
    let limited = eventually(Duration::from_secs(10), "a 429 from the privacy bucket", || {
        let r = phone.post(&format!("{}/privacy/export", n.url), &[]);
        (r.status == 429).then_some(r)
    });
    assert!(limited.html(429).contains("För många försök"));
    assert!(limited.header("retry-after").is_some());
}


#[test]
fn the_offer_counter_privacy_page_and_numbers_in_chromium_at_phone_and_desktop_sizes() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("abuse.declared_amount_max_sek", "5000")]);
    let biz = create_business(&n, "1234.50");
    let web = Chromium::launch("offer");
    let page = format!("{}/q/{}", n.url, biz.token);

    // The start page opens with the offer.
    web.open(&page);
    assert_eq!(web.eval("document.querySelector('main').firstElementChild.id"), "offer");
    assert_eq!(web.text("#offer-range"), "0–8 %");
    assert!(web.text("#offer-paid").contains("Swish"));
    web.shots("start");

    // The counter is neutral until a too-short text is submitted.
    web.submit("form[action$='/open'] button");
    web.type_into("#amount", "1234,50");
    web.type_into("#receipt", "KV-88");
    web.submit("form[action$='/purchase'] button");
    web.wait_until("the feedback form", "document.querySelector('textarea#text') !== null");
    assert_eq!(web.text("#text-count"), "0 / 5 000 tecken");
    assert_eq!(web.eval("document.querySelector('#text-count').classList.contains('short')"), false);
    assert!(web.text(".summary").contains("1 234,50 kr"), "{}", web.text(".summary"));
    web.type_into("#text", "Bra");
    web.wait_text("#text-count", "3 / 5 000 tecken");
    assert_eq!(web.eval("document.querySelector('#text-count').classList.contains('short')"), false, "neutral while typing");
    web.shot("counter-neutral-360x640");
    web.click("form[action$='/feedback'] button");
    web.wait_until("the counter marked after the submit", "document.querySelector('#text-count').classList.contains('short')");
    assert!(web.text("#text-count").contains("mellan 20 och 5 000 tecken"));
    web.shot("counter-too-short-360x640");
    web.clear("#text");
    web.type_into("#text", GOOD_FEEDBACK);
    web.submit("form[action$='/feedback'] button");
    web.wait_until("the result", "document.querySelector('#score') !== null");
    assert!(web.text("#reward").ends_with(" kr") && web.text("#reward").contains(','), "{}", web.text("#reward"));
    web.shot("result-360x640");

    // The privacy page, and an erasure through it with the cookie the phone has.
    web.open(&format!("{}/privacy", n.url));
    assert!(web.text("#retention").contains("365 dagar"));
    web.shots("privacy");
    web.submit("#erase");
    web.wait_text("h1", "Radera dina uppgifter?");
    web.shot("privacy-confirm-360x640");
    web.submit("#confirm-erase");
    web.wait_text("h1", "Dina uppgifter är raderade");
    assert_eq!(web.text("#erased-count"), "1");
    web.shot("privacy-erased-360x640");

    // The dashboard: Swedish money and decimals; the location and reward forms.
    web.open(&format!("{}/business", n.url));
    web.type_into("#api-key", &biz.key);
    web.submit("#sign-in");
    web.wait_until("the dashboard", "document.querySelector('#add-location') !== null");
    assert_eq!(web.text("#budget-funded"), "1 234,50 kr");
    web.shots("dashboard");
    web.set_viewport(DESKTOP.0, DESKTOP.1, false);
    web.type_into("#new-location-name", "Stationen");
    web.submit("#add-location button");
    web.wait_text("#locations", "Stationen");
    web.shot("dashboard-location-added-1280x900");
    web.assert_no_console_errors();
}
