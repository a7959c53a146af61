//! The customer's page as HTML (maud: every interpolated value is escaped). One layout, one
//! section per step of a session, and the pages for an unknown code, an error and a rate limit.
//! Pure functions of what they are given: the handlers in `super` decide which one to show.

use maud::{html, Markup, DOCTYPE};

use super::texts::{Lang, Texts};
use super::WAIT_REFRESH_S;
use crate::http::assets::{href, ICON_SVG, PAGE_CSS, PAGE_JS};
use crate::actors::session::{Session, SessionState};
use crate::domain::scoring::COMPONENT_MAX;
use crate::domain::day::swedish_local;
use crate::domain::validate::{FEEDBACK_CHARS_MAX, FEEDBACK_CHARS_MIN};
use crate::domain::{Ore, RewardTier};

/// The QR code's business and location, as the page names them.
pub struct Place<'a> {
    /// The QR token (the page's own path).
    pub token: &'a str,
    /// Business name.
    pub business: &'a str,
    /// Location name.
    pub location: &'a str,
}

/// What the customer typed, shown again when a form comes back with an error.
#[derive(Debug, Default, Clone)]
pub struct Draft {
    /// Purchase amount as typed.
    pub amount: String,
    /// Purchase time as typed (`datetime-local`: `YYYY-MM-DDTHH:MM`, Swedish time).
    pub purchased_at: String,
    /// Receipt or transaction number as typed.
    pub receipt: String,
    /// Feedback text as typed.
    pub text: String,
}

/// Everything one render of the customer's page needs.
pub struct Page<'a> {
    /// Language.
    pub lang: Lang,
    /// Business and location.
    pub place: Place<'a>,
    /// The customer's session, if one is open on this device for this location.
    pub session: Option<&'a Session>,
    /// A sentence saying what went wrong with the last form, if something did.
    pub error: Option<&'static str>,
    /// The last form's values.
    pub draft: Draft,
    /// The purchase time offered by default (now, Swedish time, `YYYY-MM-DDTHH:MM`).
    pub now_local: String,
    /// Whether the business has funds for rewards (the start page says so before anything is written).
    pub funded: bool,
    /// The customer's cashback, on the reward step when they have a wallet.
    pub wallet: Option<WalletSummary>,
    /// The business's highest reward, basis points (its top tier), on the start page; `None`
    /// when it could not be read now (the offer then names no number).
    pub top_basis_points: Option<u32>,
}

/// A customer's cashback as their page shows it.
pub struct WalletSummary {
    /// Balance (owed, not in a payout).
    pub balance: Ore,
    /// Latest postings, oldest first.
    pub postings: Vec<crate::domain::ledger::Posting>,
    /// Payouts, oldest first.
    pub payouts: Vec<(crate::domain::ledger::PayoutId, crate::actors::keys::PayoutRecord)>,
    /// The payout minimum.
    pub minimum: Ore,
    /// Whether payouts are demo (the ledger-only rail).
    pub demo: bool,
    /// Whether the wallet has a payee (sealed; never shown).
    pub has_payee: bool,
    /// Whether the payee form is offered (the cluster has `payouts.payee_key`).
    pub payee_form: bool,
}

/// `datetime-local` format, Swedish time.
pub const LOCAL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M";

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    swedish_local(t).format("%Y-%m-%d %H:%M").to_string()
}

pub use super::format::money;
use super::format::{money_input, percent};

/// An HTML document in `lang` with the head every page shares (charset, viewport, `title`),
/// then `head` (the page's own stylesheets and scripts), and `body`.
pub(crate) fn document(lang: Lang, title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                // Every page's icon: without it a browser asks for /favicon.ico, gets a 404 and logs an error.
                link rel="icon" type="image/svg+xml" href=(href(&ICON_SVG));
                (head)
            }
            body { (body) }
        }
    }
}

pub(super) fn layout(lang: Lang, title: &str, refresh: bool, body: Markup) -> Markup {
    let t = lang.texts();
    let head = html! {
        // Without JavaScript the waiting page reloads itself; with it, page.js asks in the
        // background and reloads only once the till has answered (a timed reload under a reader
        // is what WCAG 2.2.1 and axe's meta-refresh rule forbid).
        @if refresh {
            noscript { meta http-equiv="refresh" content=(WAIT_REFRESH_S); }
        }
        link rel="stylesheet" href=(href(&PAGE_CSS));
        script src=(href(&PAGE_JS)) defer {}
    };
    let body = html! {
        header.bar {
            span.brand { "svea" }
            a.lang href={ "?lang=" (lang.other().tag()) } hreflang=(lang.other().tag()) lang=(lang.other().tag()) {
                (lang.other().texts().language_name)
            }
        }
        main { (body) }
    };
    document(lang, &format!("{title} · {}", t.title), head, body)
}

pub(super) fn error_box(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            div.error role="alert" { p { (e) } }
        }
    }
}

/// The step a session is at: 0 start, 1 purchase, 2 feedback, 3 reward; `None` when expired.
pub fn step_of(session: Option<&Session>) -> Option<usize> {
    match session.map(|s| s.state) {
        None => Some(0),
        Some(SessionState::Opened | SessionState::AwaitingPurchase) => Some(1),
        Some(SessionState::PurchaseConfirmed) => Some(2),
        Some(SessionState::Rewarded | SessionState::Rejected) => Some(3),
        Some(SessionState::Expired) => None,
    }
}

fn steps(t: &Texts, current: Option<usize>) -> Markup {
    html! {
        @if let Some(current) = current {
            ol.steps aria-label=(t.step_of) {
                @for (i, name) in t.steps.iter().enumerate() {
                    @if i == current {
                        li.current aria-current="step" { (name) }
                    } @else if i < current {
                        li.done { (name) }
                    } @else {
                        li { (name) }
                    }
                }
            }
        }
    }
}

/// The customer's page at the step its session is at.
pub fn customer_page(p: &Page<'_>) -> Markup {
    let t = p.lang.texts();
    let waiting = p.session.is_some_and(|s| s.state == SessionState::AwaitingPurchase);
    let body = html! {
        @if p.session.is_none() {
            (offer(t, p))
        }
        hgroup.place {
            h1 { (p.place.business) }
            p { (t.at_location) " " strong { (p.place.location) } }
        }
        (steps(t, step_of(p.session)))
        (error_box(p.error))
        @match p.session {
            None => (start(t, p)),
            Some(s) => @match s.state {
                SessionState::Opened => (purchase(t, p, s)),
                SessionState::AwaitingPurchase => (awaiting(t, p, s)),
                SessionState::PurchaseConfirmed => (feedback(t, p, s)),
                SessionState::Rewarded | SessionState::Rejected => (result(t, p, s)),
                SessionState::Expired => (expired(t, p)),
            },
        }
    };
    layout(p.lang, p.place.business, waiting, body)
}

fn action(p: &Page<'_>, step: &str) -> String {
    format!("/q/{}/{step}", p.place.token)
}

/// What the customer gets, before anything else on the start page: the reward range of the
/// purchase, how and when it is paid, and where their data is explained. Without funds the
/// notice takes the range's place.
fn offer(t: &Texts, p: &Page<'_>) -> Markup {
    html! {
        aside.offer #offer aria-label=(t.title) {
            @if !p.funded {
                p.notice #no-funds role="status" { (t.no_funds_notice) }
            } @else {
                p.range {
                    (t.offer_before) " "
                    strong #offer-range { @match p.top_basis_points {
                        Some(bp) => { "0–" (percent(p.lang, bp)) },
                        None => "cashback",
                    } }
                    " " (t.offer_after)
                }
                p #offer-paid { (t.offer_paid) }
            }
            p { a #privacy-link href={ "/privacy?lang=" (p.lang.tag()) } { (t.privacy_link) } }
        }
    }
}

fn start(t: &Texts, p: &Page<'_>) -> Markup {
    html! {
        section aria-labelledby="h-start" {
            h2 #h-start { (t.title) }
            p { (t.intro) }
            form method="post" action=(action(p, "open")) {
                button type="submit" { (t.open_button) }
            }
        }
    }
}

fn purchase(t: &Texts, p: &Page<'_>, s: &Session) -> Markup {
    // A purchase the till did not back comes back with its values and why.
    let refused = s.purchase_refusal.as_ref();
    let draft = match refused {
        Some(r) if p.draft.amount.is_empty() => Draft {
            amount: money_input(p.lang, r.purchase.amount),
            purchased_at: swedish_local(r.purchase.purchased_at).format(LOCAL_TIME_FORMAT).to_string(),
            receipt: r.purchase.transaction_id.to_string(),
            text: String::new(),
        },
        _ => p.draft.clone(),
    };
    let time = if draft.purchased_at.is_empty() { p.now_local.clone() } else { draft.purchased_at.clone() };
    html! {
        @if p.error.is_none() {
            @if let Some(r) = refused { (error_box(Some(t.problem(r.kind.as_str())))) }
        }
        section aria-labelledby="h-purchase" {
            h2 #h-purchase { (t.purchase_heading) }
            p { (t.purchase_help) }
            form method="post" action=(action(p, "purchase")) {
                label for="amount" { (t.amount_label) }
                input #amount name="amount" type="text" inputmode="decimal" autocomplete="off" required
                    maxlength="16" aria-describedby="amount-hint" value=(draft.amount);
                p.hint #amount-hint { (t.amount_hint) }
                label for="purchased_at" { (t.time_label) }
                input #purchased_at name="purchased_at" type="datetime-local" required value=(time);
                label for="receipt" { (t.receipt_label) }
                input #receipt name="receipt" type="text" autocomplete="off" required maxlength=(crate::domain::ids::TRANSACTION_ID_LEN_MAX)
                    aria-describedby="receipt-hint" value=(draft.receipt);
                p.hint #receipt-hint { (t.receipt_hint) }
                button type="submit" { (t.purchase_button) }
            }
        }
    }
}


fn purchase_summary(t: &Texts, p: &Page<'_>, s: &Session) -> Markup {
    html! {
        @if let Some(pu) = &s.purchase {
            p.summary { (t.purchase_shown) ": " (money(p.lang, pu.amount)) ", " (when(pu.purchased_at)) ", " (pu.transaction_id.as_str()) }
        }
    }
}

fn awaiting(t: &Texts, p: &Page<'_>, s: &Session) -> Markup {
    html! {
        section.waiting aria-labelledby="h-wait" aria-live="polite" data-refresh-s=(WAIT_REFRESH_S) {
            h2 #h-wait { (t.waiting_heading) }
            p { (t.waiting_text) }
            (purchase_summary(t, p, s))
            @if let Some(until) = s.await_until {
                p { (t.waiting_until) " " (when(until)) "." }
            }
            p { a.button href={ "/q/" (p.place.token) } { (t.reload) } }
        }
    }
}

fn feedback(t: &Texts, p: &Page<'_>, s: &Session) -> Markup {
    html! {
        (purchase_summary(t, p, s))
        section aria-labelledby="h-feedback" {
            h2 #h-feedback { (t.feedback_heading) }
            p { (t.feedback_help) }
            form method="post" action=(action(p, "feedback")) {
                label for="text" { (t.feedback_label) }
                textarea #text name="text" rows="8" required minlength=(FEEDBACK_CHARS_MIN) maxlength=(FEEDBACK_CHARS_MAX)
                    aria-describedby="text-hint text-count" { (p.draft.text) }
                p.hint #text-hint { (t.feedback_hint) }
                p.hint.counter #text-count aria-live="polite" hidden
                    data-for="text" data-min=(FEEDBACK_CHARS_MIN) data-max=(FEEDBACK_CHARS_MAX)
                    data-max-text=(super::format::count(p.lang, FEEDBACK_CHARS_MAX as u64)) data-unit=(t.characters)
                    data-short=(t.problem("feedback-length")) {}
                button type="submit" { (t.feedback_button) }
            }
        }
    }
}

fn tier_name(t: &Texts, tier: RewardTier) -> &'static str {
    t.tier_names[match tier {
        RewardTier::None => 0,
        RewardTier::Low => 1,
        RewardTier::Mid => 2,
        RewardTier::High => 3,
    }]
}

/// A serde-named enum's wire name (`withheld`, `capped_by` keys of the texts).
fn wire_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn result(t: &Texts, p: &Page<'_>, s: &Session) -> Markup {
    let Some(f) = &s.feedback else { return expired(t, p) };
    let settlement = f.settlement;
    let r = &f.score.rubric;
    let parts = [r.substance, r.specific, r.actionable, r.balanced];
    html! {
        section.result aria-labelledby="h-result" {
            h2 #h-result { (t.result_heading) }
            p.score { (t.score_label) ": " strong #score { (f.score.total) } " / 100" }
            dl.breakdown {
                @for (name, value) in t.breakdown.iter().zip(parts) {
                    dt { (name) }
                    dd { meter min="0" max=(COMPONENT_MAX) value=(value) {} " " (value) " / " (COMPONENT_MAX) }
                }
            }
            @if let Some(st) = settlement {
                p.reward { (t.reward_label) ": " strong #reward { (money(p.lang, st.decision.amount)) } }
                p { (t.tier_label) ": " (tier_name(t, st.decision.tier)) }
                @if let Some(w) = st.withheld {
                    p.notice #withheld { (t.withheld(&wire_name(w))) }
                } @else if s.state == SessionState::Rejected {
                    p.notice { (t.no_reward_text) }
                } @else {
                    p { (t.rewarded_text) }
                }
                @if let Some(c) = st.decision.capped_by {
                    p.notice { (t.capped(&wire_name(c))) }
                }
                @if s.refund.is_some_and(|r| r.reversed > crate::domain::Ore::ZERO) {
                    p.notice #reversed { (t.reversed_text) }
                }
            }
            (purchase_summary(t, p, s))
            @if let Some(w) = &p.wallet {
                (wallet(t, p, w))
            }
            (new_visit(t, p))
        }
    }
}

fn wallet(t: &Texts, p: &Page<'_>, w: &WalletSummary) -> Markup {
    use crate::actors::keys::PayoutState;
    let lang = p.lang;
    html! {
        section.wallet #wallet aria-labelledby="h-wallet" {
            h2 #h-wallet { (t.wallet_heading) }
            p { (t.wallet_balance) ": " strong #balance { (money(lang, w.balance)) } }
            p.hint { (t.wallet_minimum) " " (money(lang, w.minimum)) "." }
            ul.entries {
                @for posting in w.postings.iter().rev() {
                    li.entry data-kind=(posting.kind.as_str()) {
                        time { (when(chrono::DateTime::from_timestamp_millis(posting.at_ms).unwrap_or_default())) }
                        " " (t.entry_names[posting.kind.index()]) " " strong { (money(lang, posting.amount)) }
                    }
                }
            }
            @if !w.payouts.is_empty() {
                ul.payouts {
                    @for (id, r) in w.payouts.iter().rev() {
                        @let state = match &r.state { PayoutState::InFlight => "in_flight", PayoutState::Paid { .. } => "paid", PayoutState::Failed { .. } => "failed" };
                        li.payout data-state=(state) data-payout=(id.as_str()) {
                            (money(lang, r.amount)) ": "
                            @match &r.state {
                                PayoutState::InFlight => (t.payout_states[0]),
                                PayoutState::Paid { .. } => (t.payout_states[1]),
                                PayoutState::Failed { code, reason, .. } => { (t.payout_states[2]) ": " span.reason { (t.payout_failure(code, reason)) } },
                            }
                            @if w.demo { " · " em { (t.demo_note) } }
                        }
                    }
                }
            }
            @if w.payee_form {
                // A plain form post (no JavaScript), the same Origin check and cookies as the
                // page's other forms; the numbers typed are never echoed back.
                form.payee #payee method="post" action=(action(p, "payee")) aria-labelledby="h-payee" {
                    h3 #h-payee { (t.payee_heading) }
                    @if w.has_payee { p #payee-set { (t.payee_set) } }
                    p.hint { (t.payee_help) }
                    label for="swish_number" { (t.swish_number_label) }
                    input #swish_number name="swish_number" type="tel" inputmode="tel" autocomplete="tel" maxlength="40" required;
                    label for="personnummer" { (t.personnummer_label) }
                    input #personnummer name="personnummer" type="text" inputmode="numeric" autocomplete="off" maxlength="40" required;
                    button type="submit" { (t.payee_button) }
                }
            }
        }
    }
}

fn new_visit(t: &Texts, p: &Page<'_>) -> Markup {
    html! {
        form.secondary method="post" action=(action(p, "open")) {
            button type="submit" { (t.new_visit) }
        }
    }
}

fn expired(t: &Texts, p: &Page<'_>) -> Markup {
    html! {
        section aria-labelledby="h-expired" {
            h2 #h-expired { (t.expired_heading) }
            p { (t.expired_text) }
            (new_visit(t, p))
        }
    }
}

/// The page for a QR code whose location its business removed (410).
pub fn retired(lang: Lang) -> Markup {
    let t = lang.texts();
    layout(lang, t.retired_heading, false, html! { h1 #retired { (t.retired_heading) } p { (t.retired_text) } })
}

/// The friendly page for a QR code that leads nowhere.
pub fn not_found(lang: Lang) -> Markup {
    let t = lang.texts();
    layout(lang, t.not_found_heading, false, html! { h1 { (t.not_found_heading) } p { (t.not_found_text) } })
}

/// A page that only says what went wrong (when not even the QR code could be read).
pub fn error_page(lang: Lang, sentence: &str) -> Markup {
    let t = lang.texts();
    layout(lang, t.error_heading, false, html! { h1 { (t.error_heading) } (error_box(Some(sentence))) })
}

/// The page for a client over its request bucket.
pub fn rate_limited(lang: Lang) -> Markup {
    let t = lang.texts();
    layout(lang, t.rate_limited_heading, false, html! { h1 { (t.rate_limited_heading) } p { (t.rate_limited_text) } })
}

/// The page while maintenance mode is on, with the operator's message (escaped like any text).
pub fn maintenance(lang: Lang, message: &str) -> Markup {
    let t = lang.texts();
    layout(lang, t.maintenance_heading, false, html! {
        h1 { (t.maintenance_heading) }
        p.notice #maintenance { (message) }
        p { (t.maintenance_text) }
    })
}
