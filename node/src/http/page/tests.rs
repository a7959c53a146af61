//! Unit tests of the customer's page: input parsing, the origin check and the rendered HTML.

use actix_web::test::TestRequest;
use chrono::{DateTime, Utc};

use super::view::{customer_page, Draft, Page, Place};
use super::*;
use crate::actors::business::{Outcome, Settlement, Withheld};
use crate::actors::session::{Feedback, Place as SessionPlace, SessionState};
use crate::domain::reward::RewardDecision;
use crate::domain::{BusinessId, LocationId, QualityScore, RewardTier};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

#[test]
fn amounts_are_read_as_customers_write_them() {
    for (typed, ore) in [("89", 8900), ("89,50", 8950), (" 89.50 ", 8950), ("1 234,50 kr", 123_450), ("12 SEK", 1200)] {
        assert_eq!(parse_amount(typed).map(|o| o.as_ore()).ok(), Some(ore), "{typed}");
    }
    for bad in ["", "abc", "-5", "1,2,3", "1e3"] {
        let e = parse_amount(bad).expect_err(bad);
        assert_eq!(kind_of(&e), "invalid-amount", "{bad}");
    }
}

#[test]
fn purchase_times_are_swedish_wall_clock_or_rfc3339() {
    assert_eq!(parse_purchase_time("2026-07-15T13:30").ok(), Some(utc("2026-07-15T11:30:00Z")));
    assert_eq!(parse_purchase_time("2026-01-15T13:30:15").ok(), Some(utc("2026-01-15T12:30:15Z")));
    assert_eq!(parse_purchase_time("2026-01-15T12:30:00Z").ok(), Some(utc("2026-01-15T12:30:00Z")));
    for bad in ["", "yesterday", "2026-03-29T02:30"] {
        assert_eq!(kind_of(&parse_purchase_time(bad).expect_err(bad)), "invalid-timestamp", "{bad}");
    }
}

#[test]
fn forms_from_another_site_are_refused_and_our_own_pass() {
    let post = |headers: &[(&str, &str)]| {
        let mut r = TestRequest::post().uri("/q/x/open").insert_header(("host", "svea.example:8080"));
        for (k, v) in headers {
            r = r.insert_header((*k, *v));
        }
        same_origin(&r.to_http_request())
    };
    assert!(post(&[]).is_ok(), "no browser headers: a plain client");
    assert!(post(&[("origin", "http://svea.example:8080")]).is_ok());
    assert!(post(&[("origin", "https://SVEA.example:8080")]).is_ok());
    assert!(post(&[("referer", "https://svea.example:8080/q/abc")]).is_ok());
    for (k, v) in [("origin", "https://evil.example"), ("origin", "null"), ("origin", "http://svea.example:8080.evil.example"), ("referer", "https://evil.example/svea.example:8080")] {
        let e = post(&[(k, v)]).expect_err(v);
        assert_eq!(kind_of(&e), "cross-site-form");
    }
    // A matching Referer does not rescue a foreign Origin.
    assert!(post(&[("origin", "https://evil.example"), ("referer", "http://svea.example:8080/")]).is_err());
}

fn session(state: SessionState) -> Session {
    let opened = utc("2026-07-15T11:00:00Z");
    Session {
        id: SessionId::generate(&mut rand::rngs::OsRng),
        business_id: BusinessId::generate(&mut rand::rngs::OsRng),
        location_id: LocationId::generate(&mut rand::rngs::OsRng),
        place: SessionPlace { business_name: "b".into(), location_name: "l".into() },
        device: None,
        region: "malmo".parse().expect("region"),
        opened_at: opened,
        expires_at: opened + chrono::Duration::minutes(30),
        state,
        purchase: None,
        feedback: None,
        ended_at: None,
        await_until: None,
        purchase_refusal: None,
        network: None,
        failed_tries: 0,
        await_evaluated: false,
        till_backed: false,
        refund: None,
    }
}

fn render(lang: Lang, s: Option<&Session>, business: &str) -> String {
    let page = Page {
        lang,
        place: Place { token: "tok", business, location: "Lilla <Torg> & co" },
        session: s,
        error: None,
        draft: Draft::default(),
        now_local: "2026-07-15T13:30".into(),
        funded: true,
        wallet: None,
        top_basis_points: Some(800),
    };
    customer_page(&page).into_string()
}

#[test]
fn the_start_page_opens_with_the_offer_and_the_privacy_link() {
    let html = render(Lang::Sv, None, "x");
    let offer = html.find("id=\"offer\"").expect("offer");
    assert!(offer < html.find("<h1").expect("h1"), "the offer comes first: {html}");
    assert!(html.contains("Få <strong id=\"offer-range\">0–8 %</strong> av ditt köp tillbaka"), "{html}");
    assert!(html.contains("Swish") && html.contains("2 minuter"), "{html}");
    assert!(html.contains("href=\"/privacy?lang=sv\""), "{html}");
    let en = render(Lang::En, None, "x");
    assert!(en.contains("0–8%") && en.contains("href=\"/privacy?lang=en\""), "{en}");
    // Past the start, the offer gives way to the step.
    assert!(!render(Lang::Sv, Some(&session(SessionState::Opened)), "x").contains("id=\"offer\""));
}

#[test]
fn names_are_escaped_and_the_page_declares_its_language_and_viewport() {
    let html = render(Lang::Sv, None, "Kafé <b>Fet</b> \"x\"");
    assert!(html.contains("Kafé &lt;b&gt;Fet&lt;/b&gt; &quot;x&quot;"), "{html}");
    assert!(!html.contains("<b>Fet"), "{html}");
    assert!(html.contains("Lilla &lt;Torg&gt; &amp; co"));
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"sv\">"), "{html}");
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("action=\"/q/tok/open\""));
    assert!(!html.contains("<style") && !html.contains("style=") && !html.contains("<script>"), "no inline style or script: {html}");
    assert!(render(Lang::En, None, "x").contains("<html lang=\"en\">"));
}

#[test]
fn every_input_has_a_label() {
    let mut confirmed = session(SessionState::PurchaseConfirmed);
    let states = [session(SessionState::Opened), {
        confirmed.purchase = None;
        confirmed
    }];
    for s in &states {
        let html = render(Lang::Sv, Some(s), "x");
        for id in html.split(" id=\"").skip(1).map(|r| &r[..r.find('"').unwrap_or(0)]) {
            let is_field = html.contains(&format!("<input id=\"{id}\"")) || html.contains(&format!("<textarea id=\"{id}\""));
            if is_field {
                assert!(html.contains(&format!("<label for=\"{id}\"")), "no label for {id}: {html}");
            }
        }
        assert!(html.contains("<label"), "{html}");
    }
}

#[test]
fn waiting_for_the_till_reloads_itself_without_script() {
    let mut s = session(SessionState::AwaitingPurchase);
    s.await_until = Some(utc("2026-07-15T11:05:00Z"));
    let html = render(Lang::Sv, Some(&s), "x");
    assert!(html.contains(&format!("<noscript><meta http-equiv=\"refresh\" content=\"{WAIT_REFRESH_S}\"></noscript>")), "{html}");
    assert!(html.contains("Väntar på kassan") && html.contains("href=\"/q/tok\""), "{html}");
    assert!(html.contains("13:05"), "Swedish time shown: {html}");
    assert!(!render(Lang::Sv, Some(&session(SessionState::Opened)), "x").contains("http-equiv"));
}

#[test]
fn the_result_shows_score_breakdown_reward_and_why_it_was_withheld() {
    let mut s = session(SessionState::Rewarded);
    let score = QualityScore::from_components(20, 15, 10, 25);
    let decision = RewardDecision { tier: RewardTier::Mid, amount: Ore::from_ore(1250), capped_by: None };
    s.feedback = Some(Feedback {
        text: Some("t".into()),
        given_at: s.opened_at,
        score: crate::domain::scoring::Scored::by_rubric(score),
        settlement: Some(Settlement { outcome: Outcome::Scored { score: score.total, purchase: Ore::from_ore(10_000) }, decision, withheld: None, held: None }),
        redacted: None,
    });
    let html = render(Lang::Sv, Some(&s), "x");
    assert!(html.contains(">70</strong>") && html.contains("12,50 kr") && html.contains("mellan"), "{html}");
    assert!(html.contains("value=\"25\"") && html.contains("Innehåll"), "{html}");
    assert!(render(Lang::En, Some(&s), "x").contains("12.50 SEK"));

    let f = s.feedback.as_mut().expect("feedback");
    let st = f.settlement.as_mut().expect("settled");
    st.decision.amount = Ore::ZERO;
    st.withheld = Some(Withheld::DeviceDailyLimit);
    let html = render(Lang::En, Some(&s), "x");
    assert!(html.contains("you have already been rewarded here today"), "{html}");
}
