//! The dashboard's top-up: the form (amount in SEK) and `POST /business/top-up`. With card funding
//! (`funding.provider = "stripe"`) it answers `303` to Stripe's Checkout page, and Stripe sends the
//! business back to `/business/top-up/done` or `/business/top-up/cancelled`, which say what happens
//! next; the budget is credited only by Stripe's webhook (`http::stripe`), never by coming back
//! here. With demo funding (`svea demo`) it credits demo money at once, once per form request.
//!
//! Each render of the form carries a fresh request id (a hidden field): a double click, a
//! reload of the posted form or a retry after a timeout sends the same id, and so the same
//! `Idempotency-Key` to Stripe, which answers with the Checkout Session it made the first time.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::{form_start, render, see, Extra, ShowQuery, BASE};
use crate::core::NodeHandle;
use crate::domain::Ore;
use crate::http::error::ApiError;
use crate::http::page::{money, Lang};

/// Where Stripe sends a business that paid.
pub const TOP_UP_DONE: &str = "/business/top-up/done";
/// Where Stripe sends a business that gave up.
pub const TOP_UP_CANCELLED: &str = "/business/top-up/cancelled";
/// `?saved=` of the dashboard after a payment.
const SAVED_DONE: &str = "top-up";
/// `?saved=` of the dashboard after a cancelled payment.
const SAVED_CANCELLED: &str = "top-up-cancelled";
/// `?saved=` of the dashboard after a demo top-up.
const SAVED_DEMO: &str = "top-up-demo";

/// What the form offers: the bounds from `[stripe]` (or the demo bounds).
pub struct Offer {
    /// Demo money, credited at once (`funding.provider = "demo"`).
    pub demo: bool,
    /// `stripe.top_up_min_sek`.
    pub min: Ore,
    /// `stripe.top_up_max_sek`.
    pub max: Ore,
    /// This render's request id.
    pub request: String,
}

/// The smallest demo top-up the form offers: 1 SEK.
const DEMO_MIN_ORE: i64 = 100;

/// The offer: card top-ups when Stripe funds this cluster, demo money with demo funding.
pub(super) fn offer(node: &NodeHandle) -> Option<Offer> {
    let request = format!("{:032x}", rand::random::<u128>());
    match node.config().funding.provider {
        svea_config::FundingProvider::Demo => {
            Some(Offer { demo: true, min: Ore::from_ore(DEMO_MIN_ORE), max: Ore::from_ore(crate::core::funding::TOP_UP_ORE_MAX), request })
        }
        svea_config::FundingProvider::Stripe => node.card_top_ups().then(|| {
            let c = &node.config().stripe;
            Offer { demo: false, min: Ore::from_ore(c.top_up_min_ore), max: Ore::from_ore(c.top_up_max_ore), request }
        }),
    }
}

struct Words {
    heading: &'static str,
    help: &'static str,
    demo_help: &'static str,
    demo_button: &'static str,
    demo_done: &'static str,
    amount: &'static str,
    button: &'static str,
    done: &'static str,
    cancelled: &'static str,
}

const SV: Words = Words {
    heading: "Fyll på budgeten",
    help: "Betala med kort hos Stripe. Budgeten ökar när Stripe har bekräftat betalningen.",
    demo_help: "Demo: beloppet läggs till direkt som låtsaspengar, inget betalas.",
    demo_button: "Lägg till demopengar",
    demo_done: "Demopengarna är tillagda i budgeten.",
    amount: "Belopp (kr)",
    button: "Till betalning",
    done: "Tack! Betalningen bekräftas av Stripe: budgeten ökar så snart bekräftelsen har kommit (oftast inom några sekunder). Ladda om sidan för att se den.",
    cancelled: "Betalningen avbröts. Inget har dragits.",
};

const EN: Words = Words {
    heading: "Top up the budget",
    help: "Pay by card with Stripe. The budget grows once Stripe has confirmed the payment.",
    demo_help: "Demo: the amount is added at once as play money; nothing is paid.",
    demo_button: "Add demo money",
    demo_done: "The demo money was added to the budget.",
    amount: "Amount (SEK)",
    button: "Go to payment",
    done: "Thank you! Stripe is confirming the payment: the budget grows as soon as the confirmation arrives (usually within seconds). Reload the page to see it.",
    cancelled: "The payment was cancelled. Nothing was charged.",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        _ => &SV,
    }
}

/// The sentence of `?saved=` values this module sets.
pub(super) fn notice(lang: Lang, saved: &str) -> Option<&'static str> {
    match saved {
        SAVED_DONE => Some(words(lang).done),
        SAVED_CANCELLED => Some(words(lang).cancelled),
        SAVED_DEMO => Some(words(lang).demo_done),
        _ => None,
    }
}

/// The form, when card top-ups are on.
pub(super) fn form(lang: Lang, offer: Option<&Offer>) -> Markup {
    let w = words(lang);
    html! {
        @if let Some(o) = offer {
            section aria-labelledby="h-top-up" {
                h2 #h-top-up { (w.heading) }
                p #top-up-help { (if o.demo { w.demo_help } else { w.help }) " (" (money(lang, o.min)) " – " (money(lang, o.max)) ")" }
                form #top-up-form method="post" action={ (BASE) "/top-up" } {
                    input type="hidden" name="request" value=(o.request);
                    label for="top-up-amount" { (w.amount) }
                    input #top-up-amount name="amount_sek" type="number" inputmode="decimal" required
                        min=(o.min.as_ore() / 100) max=(o.max.as_ore() / 100) step="0.01" value=(o.min.as_ore() / 100);
                    button #top-up-button type="submit" { (if o.demo { w.demo_button } else { w.button }) }
                }
            }
        }
    }
}

/// The top-up form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"amount_sek": "500", "request": "7d1c0e5b2a9f4c3e8d6b1a0f2e4c6d8b"}))]
pub(in crate::http) struct TopUpForm {
    /// The amount, SEK (`500`, `500.00`, `500,50`).
    amount_sek: String,
    /// The form's request id (the same on every retry of this top-up).
    request: String,
}

/// `POST /business/top-up`.
#[utoipa::path(post, path = "/business/top-up", tag = "pages", operation_id = "dashboard_top_up", summary = "Top up from the dashboard", description = "Starts a card top-up: a Stripe Checkout Session, answered with a redirect to Stripe's page.", security(("business_dashboard" = [])),
    request_body(content = TopUpForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Card funding: to Stripe's Checkout page for this top-up (the same page again for a retry of the same form). Demo funding: credited at once (once per form request), to the dashboard.",
            headers(("Location" = String, description = "The Checkout Session's `url`, or `/business?saved=top-up-demo`."))),
        super::DashboardAnswers))]
pub(in crate::http) async fn top_up(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<TopUpForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if node.config().funding.provider == svea_config::FundingProvider::Demo {
        // Demo money: credited at once, once per form request (its id is the Idempotency-Key).
        let request = form.request.trim();
        let credited = match (Ore::parse_sek(form.amount_sek.trim()), crate::core::stripe::valid_request(request)) {
            (Ok(amount), true) => match crate::core::funding::check_amount(amount) {
                Ok(amount) => node.demo_top_up(auth.business.id.clone(), amount, Some(request)).await.map_err(ApiError::from),
                Err(e) => Err(ApiError::from(e)),
            },
            (Err(e), _) => Err(ApiError::from(crate::domain::DomainError::from(e))),
            (Ok(_), false) => Err(ApiError::TopUp(crate::core::stripe::TopUpError::Request)),
        };
        return match credited {
            Ok(_) => see(&format!("{BASE}?saved={SAVED_DEMO}#h-budget"), Vec::new()),
            Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
        };
    }
    let started = match Ore::parse_sek(form.amount_sek.trim()) {
        Ok(amount) => crate::http::stripe::start_checkout(&node, auth.business.id.clone(), amount, form.request.trim().to_owned()).await,
        Err(e) => Err(ApiError::from(crate::domain::DomainError::from(e))),
    };
    match started {
        Ok(session) => see(&session.url, Vec::new()),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// `GET /business/top-up/done`: Stripe's `success_url`.
#[utoipa::path(get, path = "/business/top-up/done", tag = "pages", operation_id = "dashboard_top_up_done", summary = "Return from a paid top-up", description = "Stripe's `success_url`: the dashboard says the payment is being confirmed (only Stripe's webhook credits it).",
    params(("session_id" = Option<String>, Query, description = "The Checkout Session Stripe filled in (not trusted: the webhook credits).", example = "cs_test_a1b2c3d4")),
    responses((status = 303, description = "To the dashboard, which says the payment is being confirmed.", headers(("Location" = String, description = "`/business?saved=top-up`"))),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn done() -> HttpResponse {
    see(&format!("{BASE}?saved={SAVED_DONE}#h-budget"), Vec::new())
}

/// `GET /business/top-up/cancelled`: Stripe's `cancel_url`.
#[utoipa::path(get, path = "/business/top-up/cancelled", tag = "pages", operation_id = "dashboard_top_up_cancelled", summary = "Return from a cancelled top-up", description = "Stripe's `cancel_url`: the dashboard says nothing was charged.",
    responses((status = 303, description = "To the dashboard, which says nothing was charged.", headers(("Location" = String, description = "`/business?saved=top-up-cancelled`"))),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn cancelled() -> HttpResponse {
    see(&format!("{BASE}?saved={SAVED_CANCELLED}#h-top-up"), Vec::new())
}
