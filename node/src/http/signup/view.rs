//! The sign-up page's HTML (maud): the landing text, the form (plain HTML, every error in words
//! beside its field), the "check your e-mail" page and the mailed link's page.

use maud::{html, Markup};

use super::texts::Texts;
use super::SignupForm;
use crate::http::assets::{href, PAGE_CSS, SIGNUP_CSS, SIGNUP_JS};
use crate::http::page::view::{document, money};
use crate::http::page::Lang;

/// One field's error.
pub struct FieldError {
    /// The field's `name`.
    pub field: &'static str,
    /// What is wrong, in the page's language.
    pub text: String,
}

/// What the form page shows.
pub struct FormPage<'a> {
    /// Language.
    pub lang: Lang,
    /// What was typed (empty at first).
    pub form: &'a SignupForm,
    /// Errors, by field (`""`: the whole form).
    pub errors: &'a [FieldError],
    /// The region of the typed position, when it is one.
    pub region: Option<&'a str>,
    /// Every region with its point, for the script's live answer (`name lat lon;...`).
    pub regions: String,
    /// The payout minimum.
    pub payout_minimum: crate::domain::Ore,
}

/// The page in `lang`; `here` is the GET path (with its query, if any) the language link
/// reloads in the other language.
fn layout(lang: Lang, here: &str, title: &str, body: Markup) -> Markup {
    let t = Texts::of(lang);
    let head = html! {
        link rel="stylesheet" href=(href(&PAGE_CSS));
        link rel="stylesheet" href=(href(&SIGNUP_CSS));
        script src=(href(&SIGNUP_JS)) defer {}
    };
    let body = html! {
        header.bar {
            span.brand { "svea" }
            a.lang href={ (here) (if here.contains('?') { "&" } else { "?" }) "lang=" (lang.other().tag()) } hreflang=(lang.other().tag()) lang=(lang.other().tag()) {
                (lang.other().texts().language_name)
            }
        }
        main.signup { (body) }
    };
    document(lang, &format!("{title} · {}", t.title), head, body)
}

fn error_of<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.text.as_str())
}

/// A labelled text input with its hint and error, `aria-invalid` and `aria-describedby` set.
fn field(errors: &[FieldError], name: &'static str, id: &str, label: &str, kind: &str, value: &str, hint: Option<&str>) -> Markup {
    let error = error_of(errors, name);
    let described = [hint.map(|_| format!("{id}-hint")), error.map(|_| format!("{id}-error"))].into_iter().flatten().collect::<Vec<_>>().join(" ");
    html! {
        div.field {
            label for=(id) { (label) }
            input #(id) name=(name) type=(kind) value=(value) aria-invalid=[error.map(|_| "true")] aria-describedby=[(!described.is_empty()).then_some(described.as_str())];
            @if let Some(h) = hint { p.hint id={ (id) "-hint" } { (h) } }
            @if let Some(e) = error { p.field-error id={ (id) "-error" } { (e) } }
        }
    }
}

/// The landing page with the form.
pub fn form_page(p: &FormPage<'_>) -> Markup {
    let t = Texts::of(p.lang);
    let f = p.form;
    let body = html! {
        h1 { (t.heading) }
        p.lead { (t.what) }
        div.facts {
            section aria-labelledby="h-cost" { h2 #h-cost { (t.cost_heading) } p { (t.cost) } }
            section aria-labelledby="h-paid" { h2 #h-paid { (t.paid_heading) } p { (t.paid.replace("{min}", &money(p.lang, p.payout_minimum))) } }
        }
        section aria-labelledby="h-form" {
            h2 #h-form { (t.form_heading) }
            @if !p.errors.is_empty() {
                div.error role="alert" #signup-errors {
                    p { (t.errors_heading) }
                    ul { @for e in p.errors { li { (e.text) } } }
                }
            }
            form #signup method="post" action={ "/signup?lang=" (p.lang.tag()) } novalidate data-regions=(p.regions)
                data-org-ok=(t.org_ok) data-org-bad=(t.org_bad_digit) data-org-incomplete=(t.org_incomplete)
                data-region-unknown=(t.region_unknown) data-position-failed=(t.position_failed)
                data-region-names=(t.region_names.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";")) {
                (field(p.errors, "name", "name", t.name_label, "text", &f.name, None))
                div.field {
                    @let error = error_of(p.errors, "org_number");
                    label for="org-number" { (t.org_label) }
                    input #org-number name="org_number" type="text" inputmode="numeric" autocomplete="off" value=(f.org_number) maxlength="11"
                        aria-invalid=[error.map(|_| "true")] aria-describedby="org-number-hint org-number-check";
                    p.hint #org-number-hint { (t.org_hint) }
                    p.check #org-number-check aria-live="polite" {}
                    @if let Some(e) = error { p.field-error #org-number-error { (e) } }
                }
                (field(p.errors, "email", "email", t.email_label, "email", &f.email, Some(t.email_hint)))
                fieldset {
                    legend { (t.location_heading) }
                    (field(p.errors, "location_name", "location-name", t.location_name_label, "text", &f.location_name, None))
                    (field(p.errors, "address", "address", t.address_label, "text", &f.address, None))
                    p.hint #position-hint { (t.position_hint) }
                    div.coords {
                        (field(p.errors, "lat", "lat", t.lat_label, "text", &f.lat, None))
                        (field(p.errors, "lon", "lon", t.lon_label, "text", &f.lon, None))
                    }
                    button.secondary #use-position type="button" hidden { (t.use_position) }
                    p.region aria-live="polite" {
                        (t.region_label) ": "
                        strong #region { (p.region.map_or(t.region_unknown, |r| t.region_name(r))) }
                    }
                    button.secondary #preview type="submit" name="preview" value="1" { (t.preview_button) }
                }
                button #signup-submit type="submit" { (t.submit_button) }
            }
            p { a href={ "/business?lang=" (p.lang.tag()) } { (t.have_account) } }
        }
    };
    layout(p.lang, "/", t.title, body)
}

/// After a sign-up: the mail is on its way.
pub fn sent_page(lang: Lang, email: &str, region: &str, life: &str) -> Markup {
    let t = Texts::of(lang);
    let body = html! {
        h1 #sent { (t.sent_heading) }
        div.notice role="status" { p { (t.sent.replace("{email}", email).replace("{life}", life)) } }
        p { (t.sent_region) " " strong #home-region { (t.region_name(region)) } "." }
    };
    layout(lang, "/", t.sent_heading, body)
}

/// The mailed link's page: one button that follows it (a `POST`: a mail scanner's `GET` of
/// the link uses nothing up).
pub fn link_page(lang: Lang, token: &str) -> Markup {
    let t = Texts::of(lang);
    let body = html! {
        h1 { (t.link_heading) }
        p { (t.link_help) }
        form method="post" action="/business/link" {
            input type="hidden" name="t" value=(token);
            button #follow-link type="submit" { (t.link_button) }
        }
    };
    layout(lang, &format!("/business/link?t={token}"), t.link_heading, body)
}

/// A link that cannot be followed, in words, with the way to a new one.
pub fn link_refused(lang: Lang, sentence: &str) -> Markup {
    let t = Texts::of(lang);
    let body = html! {
        h1 { (t.link_heading) }
        div.error role="alert" #link-refused { p { (sentence) } }
        p { a href={ "/business?lang=" (lang.tag()) } { (t.link_new) } }
    };
    layout(lang, "/business", t.link_heading, body)
}
