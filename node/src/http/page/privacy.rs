//! The customer's privacy page, `/privacy` (Swedish, English with `?lang=en`): who holds what,
//! for how long, and two plain forms that act for the device the page's cookie stands for (the
//! device credential, [`super::DEVICE_COOKIE`], the one the customer's page issued):
//!
//! - `POST /privacy/export`: downloads what svea holds about this device as JSON (what
//!   `POST /v1/privacy/export` answers, every page of it up to
//!   [`crate::http::privacy::PAGE_EXPORT_PAGES_MAX`]);
//! - `POST /privacy/erase`: first a confirmation page, then (`confirm=yes`) the erasure of the
//!   device's feedback texts, device links and payee (`POST /v1/privacy/erase`), and the page
//!   with what was erased.
//!
//! Both check the form's origin like every page form ([`super::same_origin`]); another site's
//! form arrives without the `SameSite=Lax` cookie anyway. Both take from the privacy bucket
//! (`http::ratelimit::PRIVACY_PATHS`). Without a credential that verifies there is nothing of
//! this browser's to export or erase, and the page says so.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::texts::Lang;
use super::view::{error_box, layout};
use super::{device_cookie, html, lang_cookie, lang_of, same_origin};
use crate::core::NodeHandle;
use crate::http::error::{kind_of, status_for, ApiError};

/// The privacy page's path.
pub const PRIVACY_PATH: &str = "/privacy";

/// Erasure rounds one confirmed request runs at most (each erases up to
/// `PRIVACY_SESSIONS_PER_REQUEST_MAX` sessions); the page offers another round when more remain.
pub const PAGE_ERASE_ROUNDS_MAX: usize = 10;

/// Whether `path` is the privacy page's (its rate limit answers with a page).
pub fn is_privacy_path(path: &str) -> bool {
    path == PRIVACY_PATH || path.strip_prefix(PRIVACY_PATH).is_some_and(|rest| rest.starts_with('/'))
}

/// The page's texts in one language.
struct Texts {
    title: &'static str,
    intro: &'static str,
    who_heading: &'static str,
    /// (who, what) rows.
    holders: [(&'static str, &'static str); 3],
    how_long_heading: &'static str,
    /// Before and after the number of days.
    how_long: (&'static str, &'static str),
    device_heading: &'static str,
    device_help: &'static str,
    export_button: &'static str,
    erase_button: &'static str,
    confirm_heading: &'static str,
    confirm_text: &'static str,
    confirm_button: &'static str,
    cancel: &'static str,
    erased_heading: &'static str,
    /// Before the number of visits erased.
    erased_text: &'static str,
    payee_erased: &'static str,
    more_left: &'static str,
    no_device: &'static str,
    back: &'static str,
    cross_site: &'static str,
    try_again: &'static str,
}

static SV: Texts = Texts {
    title: "Dina uppgifter",
    intro: "Så här hanterar svea det du lämnar när du skannar en QR-kod, och så hämtar eller raderar du det.",
    who_heading: "Vem har vad",
    holders: [
        ("svea", "Din feedbacktext, köpets belopp och tid, kvittonumret och en hash av din enhet (ett slumpat id i en cookie, aldrig ditt namn)."),
        ("Företaget", "Ser din feedbacktext och dess poäng, men inte vem du är."),
        ("Swish-uppgifter", "Ditt Swishnummer och personnummer sparas krypterade och öppnas bara för dina utbetalningar."),
    ],
    how_long_heading: "Hur länge",
    how_long: ("Feedbacktexter raderas efter", "dagar. Belopp och belöningar finns kvar i bokföringen, utan text."),
    device_heading: "Hämta eller radera",
    device_help: "Knapparna gäller uppgifterna från den här webbläsaren (dess cookie). Använde du en annan telefon, öppna sidan där.",
    export_button: "Hämta mina uppgifter (JSON)",
    erase_button: "Radera mina uppgifter",
    confirm_heading: "Radera dina uppgifter?",
    confirm_text: "Dina feedbacktexter, kopplingen till den här enheten och dina Swish-uppgifter raderas överallt. Det går inte att ångra.",
    confirm_button: "Ja, radera",
    cancel: "Avbryt",
    erased_heading: "Dina uppgifter är raderade",
    erased_text: "Raderade besök:",
    payee_erased: "Dina Swish-uppgifter är raderade.",
    more_left: "Det finns fler besök kvar. Radera igen.",
    no_device: "Den här webbläsaren har inget id från svea, så det finns inga uppgifter här att hämta eller radera.",
    back: "Tillbaka",
    cross_site: "Formuläret kom från en annan webbplats och skickades inte. Försök igen härifrån.",
    try_again: "Något gick fel. Försök igen om en stund.",
};

static EN: Texts = Texts {
    title: "Your data",
    intro: "How svea handles what you give when you scan a QR code, and how to download or erase it.",
    who_heading: "Who holds what",
    holders: [
        ("svea", "Your feedback text, the purchase's amount and time, the receipt number and a hash of your device (a random id in a cookie, never your name)."),
        ("The business", "Sees your feedback text and its score, but not who you are."),
        ("Swish details", "Your Swish number and personnummer are kept encrypted and opened only for your payouts."),
    ],
    how_long_heading: "For how long",
    how_long: ("Feedback texts are erased after", "days. Amounts and rewards stay in the books, without text."),
    device_heading: "Download or erase",
    device_help: "The buttons act on the data of this browser (its cookie). If you used another phone, open this page there.",
    export_button: "Download my data (JSON)",
    erase_button: "Erase my data",
    confirm_heading: "Erase your data?",
    confirm_text: "Your feedback texts, the link to this device and your Swish details are erased everywhere. This cannot be undone.",
    confirm_button: "Yes, erase",
    cancel: "Cancel",
    erased_heading: "Your data is erased",
    erased_text: "Visits erased:",
    payee_erased: "Your Swish details are erased.",
    more_left: "More visits remain. Erase again.",
    no_device: "This browser has no id from svea, so there is no data here to download or erase.",
    back: "Back",
    cross_site: "The form came from another website and was not sent. Please try again from here.",
    try_again: "Something went wrong. Please try again in a moment.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Sv => &SV,
        Lang::En => &EN,
    }
}

/// Days feedback texts are kept (`retention.feedback`, whole days).
fn retention_days(node: &NodeHandle) -> u64 {
    node.config().retention.feedback.as_secs() / 86_400
}

fn page(lang: Lang, body: Markup) -> Markup {
    layout(lang, texts(lang).title, false, body)
}

/// The privacy page, with `notice` or `error` on top.
fn privacy_page(node: &NodeHandle, lang: Lang, notice: Option<&str>, error: Option<&str>) -> Markup {
    let t = texts(lang);
    page(lang, html! {
        h1 { (t.title) }
        (error_box(error))
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { (t.intro) }
        section aria-labelledby="h-who" {
            h2 #h-who { (t.who_heading) }
            dl.holders {
                @for (who, what) in t.holders {
                    dt { (who) }
                    dd { (what) }
                }
            }
        }
        section aria-labelledby="h-how-long" {
            h2 #h-how-long { (t.how_long_heading) }
            p #retention { (t.how_long.0) " " (super::format::count(lang, retention_days(node))) " " (t.how_long.1) }
        }
        section aria-labelledby="h-device" {
            h2 #h-device { (t.device_heading) }
            p { (t.device_help) }
            form method="post" action={ (PRIVACY_PATH) "/export" } {
                button #export type="submit" { (t.export_button) }
            }
            form.secondary method="post" action={ (PRIVACY_PATH) "/erase" } {
                button #erase type="submit" { (t.erase_button) }
            }
        }
    })
}

fn answer(req: &HttpRequest, node: &NodeHandle, status: StatusCode, markup: Markup) -> HttpResponse {
    html(status, markup, lang_cookie(node, req).into_iter().collect())
}

/// A refusal or fault as the privacy page with the error in words.
fn refused(node: &NodeHandle, req: &HttpRequest, e: &ApiError) -> HttpResponse {
    let lang = lang_of(req);
    let t = texts(lang);
    let words = if kind_of(e) == "cross-site-form" { t.cross_site } else { t.try_again };
    let status = match status_for(e) {
        s if s.is_server_error() => {
            tracing::warn!(error = %e, "privacy page request failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
        s => s,
    };
    answer(req, node, status, privacy_page(node, lang, None, Some(words)))
}

/// `GET /privacy`.
#[utoipa::path(get, path = "/privacy", tag = "pages", operation_id = "privacy_page", summary = "Show the privacy page",
    description = "Who holds what and for how long, with forms that download or erase the data of this browser's device credential.",
    params(("lang" = Option<String>, Query, description = "`sv` (default) or `en`; remembered in a cookie.", example = "en")),
    responses((status = 200, description = "The privacy page (HTML, Swedish or English).", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn show(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    answer(&req, &node, StatusCode::OK, privacy_page(&node, lang_of(&req), None, None))
}

/// `POST /privacy/export`.
#[utoipa::path(post, path = "/privacy/export", tag = "pages", operation_id = "privacy_page_export", summary = "Download my data",
    description = "The data of the device the `svea_device` cookie stands for, as a JSON download (what `POST /v1/privacy/export` answers).",
    responses((status = 200, description = "The JSON download, or the privacy page saying this browser has no device credential.",
            content((crate::http::privacy::ExportOut = "application/json"), (String = "text/html; charset=utf-8")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"svea-data.json\"` on the download."))),
        (status = 400, description = "The privacy page with the problem in words: the form came from another site.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The privacy page with a try-again sentence.", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn export(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    if let Err(e) = same_origin(&req) {
        return refused(&node, &req, &e);
    }
    let lang = lang_of(&req);
    let Some(device) = device_cookie(&node, &req) else {
        return answer(&req, &node, StatusCode::OK, privacy_page(&node, lang, Some(texts(lang).no_device), None));
    };
    match crate::http::privacy::export_document(&node, &device).await {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"svea-data.json\""))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => refused(&node, &req, &e),
    }
}

/// The erase form: `yes` once the customer confirmed.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"confirm": "yes"}))]
pub(in crate::http) struct EraseForm {
    /// `yes` on the confirmation page's button; anything else shows that page.
    confirm: String,
}

/// `POST /privacy/erase`.
#[utoipa::path(post, path = "/privacy/erase", tag = "pages", operation_id = "privacy_page_erase", summary = "Erase my data",
    description = "Without `confirm=yes` the confirmation page; with it, erases the data of the device the `svea_device` cookie stands for (what `POST /v1/privacy/erase` does) and says what was erased.",
    request_body(content = EraseForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The confirmation page, what was erased, or that this browser has no device credential.", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "The privacy page with the problem in words: the form came from another site.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The privacy page with a try-again sentence.", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn erase(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<EraseForm>) -> HttpResponse {
    if let Err(e) = same_origin(&req) {
        return refused(&node, &req, &e);
    }
    let lang = lang_of(&req);
    let t = texts(lang);
    let Some(device) = device_cookie(&node, &req) else {
        return answer(&req, &node, StatusCode::OK, privacy_page(&node, lang, Some(t.no_device), None));
    };
    if form.confirm != "yes" {
        return answer(&req, &node, StatusCode::OK, page(lang, html! {
            h1 #h-confirm { (t.confirm_heading) }
            p { (t.confirm_text) }
            form method="post" action={ (PRIVACY_PATH) "/erase" } {
                input type="hidden" name="confirm" value="yes";
                button #confirm-erase type="submit" { (t.confirm_button) }
            }
            p { a href=(PRIVACY_PATH) { (t.cancel) } }
        }));
    }
    let (mut sessions, mut payee, mut more) = (0, false, true);
    for _ in 0..PAGE_ERASE_ROUNDS_MAX {
        match node.erase_device(&device).await {
            Ok(done) => {
                sessions += done.sessions;
                payee |= done.payee_erased;
                more = done.more;
            }
            Err(e) => return refused(&node, &req, &e.into()),
        }
        if !more {
            break;
        }
    }
    answer(&req, &node, StatusCode::OK, page(lang, html! {
        h1 #h-erased { (t.erased_heading) }
        p { (t.erased_text) " " strong #erased-count { (super::format::count(lang, sessions as u64)) } }
        @if payee { p { (t.payee_erased) } }
        @if more {
            p { (t.more_left) }
            form method="post" action={ (PRIVACY_PATH) "/erase" } {
                input type="hidden" name="confirm" value="yes";
                button type="submit" { (t.confirm_button) }
            }
        }
        p { a href=(PRIVACY_PATH) { (t.back) } }
    }))
}
