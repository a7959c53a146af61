//! Money over HTTP (issue 21): a business's top-ups and funds, and a customer's wallet.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiResult;
use crate::actors::business::{Business, TopUpOutcome};
use crate::core::NodeHandle;
use crate::domain::ledger::Funds;
use crate::domain::{DomainError, Ore};

/// A business's money, from its ledger account.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"funded_sek": "5000.00", "refunded_sek": "0.00", "rewarded_sek": "124.50", "available_sek": "4875.50", "has_funds": true}))]
pub(super) struct FundsOut {
    /// Topped up, all time.
    funded_sek: String,
    /// Refunded to the card, all time.
    refunded_sek: String,
    /// Reserved for customers as rewards (net of reversals), all time: owed to them until paid out.
    rewarded_sek: String,
    /// Available for rewards; negative after a refund of money already rewarded.
    available_sek: String,
    /// Whether rewards are reserved now (available above 0).
    has_funds: bool,
}

pub(super) fn funds_out(f: &Funds) -> FundsOut {
    FundsOut {
        funded_sek: f.funded.to_sek_string(),
        refunded_sek: f.refunded.to_sek_string(),
        rewarded_sek: f.rewarded.to_sek_string(),
        available_sek: f.available.to_sek_string(),
        has_funds: f.available > Ore::ZERO,
    }
}

/// A top-up asked for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount_sek": "500.00"}))]
pub(super) struct TopUpIn {
    /// Amount in SEK (`"500.00"`), 0.01 to 1000000.00.
    #[schema(pattern = "^[0-9]{1,9}(\\.[0-9]{1,2})?$", example = "500.00")]
    amount_sek: String,
}

/// What a top-up did.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "credited", "provider": "demo", "amount_sek": "500.00", "funds": {"funded_sek": "5500.00", "refunded_sek": "0.00", "rewarded_sek": "124.50", "available_sek": "5375.50", "has_funds": true}}))]
pub(super) struct TopUpOut {
    /// `credited` (demo money, at once), `already_credited` (a retry with the same
    /// `Idempotency-Key`: nothing new) or `checkout` (Stripe: nothing is credited until Stripe's
    /// webhook says the Checkout Session was paid; pay at `checkout_url`).
    status: &'static str,
    /// The funding provider (`demo`, `stripe`).
    provider: &'static str,
    /// Amount credited, or to be paid.
    amount_sek: String,
    /// Stripe's Checkout page for this top-up (`stripe` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_url: Option<String>,
    /// Stripe's Checkout Session id, `cs_...` (`stripe` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_session: Option<String>,
    /// The business's money afterwards (with Stripe: still before this top-up).
    funds: FundsOut,
}

/// Longest `Idempotency-Key` svea accepts (Stripe's limit is 255; 64 holds a UUID or 256 bits
/// in hex).
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 64;

/// The `Idempotency-Key` request header, when given: `len_min` to [`IDEMPOTENCY_KEY_LEN_MAX`]
/// printable ASCII characters (a top-up takes any key from 1; a sign-up's derives its API key
/// and must be long: `domain::signup::SIGNUP_IDEMPOTENCY_KEY_LEN_MIN`).
pub(super) fn idempotency_key(req: &HttpRequest, len_min: usize) -> Result<Option<String>, super::error::ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if (len_min..=IDEMPOTENCY_KEY_LEN_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_owned())),
        _ => Err(super::error::bad(
            "invalid-idempotency-key",
            format!("Idempotency-Key must be {len_min} to {IDEMPOTENCY_KEY_LEN_MAX} printable ASCII characters"),
        )),
    }
}

/// `POST /v1/businesses/{id}/top-ups`: with `funding.provider = "demo"`, credits demo money at
/// once (one ledger entry, card -> business); with `"stripe"`, starts a Stripe Checkout Session
/// and answers where to pay (the webhook credits it). An `Idempotency-Key` makes a retry answer
/// the same top-up (demo: credited once; Stripe: the same Checkout Session).
#[utoipa::path(post, path = "/v1/businesses/{id}/top-ups", tag = "businesses", operation_id = "top_up", summary = "Top up the budget", description = "Adds money to the business's budget: demo money at once, or a Stripe Checkout Session to pay by card. An `Idempotency-Key` makes a retry the same top-up.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}(?!\\n)$", description = "1 to 64 printable ASCII characters; a retry with the same key is the same top-up.")),
    security(("business_api_key" = [])),
    request_body(content = TopUpIn, content_type = "application/json"),
    responses((status = 201, description = "Credited (demo funding), or a Checkout Session to pay (Stripe).", body = TopUpOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 409, description = "`top-up-request-reused`: the Idempotency-Key was used for another amount.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-amount`, `top-up-amount-out-of-range` (demo: 0.01..=1000000.00 SEK; Stripe: within `stripe.top_up_min_sek`..`top_up_max_sek`).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn top_up(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, body: web::Json<TopUpIn>) -> ApiResult {
    let auth = super::auth::authorize(&node, &req, &id).await?;
    let key = idempotency_key(&req, 1)?;
    let amount = crate::core::funding::check_amount(Ore::parse_sek(&body.amount_sek).map_err(DomainError::from)?)?;
    if node.config().funding.provider == svea_config::FundingProvider::Stripe {
        let request = key.unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
        let session = super::stripe::start_checkout(&node, auth.business.id.clone(), amount, request).await?;
        return Ok(HttpResponse::Created().json(TopUpOut {
            status: "checkout",
            provider: "stripe",
            amount_sek: amount.to_sek_string(),
            checkout_url: Some(session.url),
            checkout_session: Some(session.id.to_string()),
            funds: business_funds(&auth.business),
        }));
    }
    let outcome = node.demo_top_up(auth.business.id.clone(), amount, key.as_deref()).await?;
    let (status, funds) = match outcome {
        TopUpOutcome::Recorded { funds, .. } => ("credited", funds),
        TopUpOutcome::Duplicate { funds } => ("already_credited", funds),
    };
    Ok(HttpResponse::Created().json(TopUpOut {
        status,
        provider: "demo",
        amount_sek: amount.to_sek_string(),
        checkout_url: None,
        checkout_session: None,
        funds: funds_out(&funds),
    }))
}

/// The funds of `b` (for the business's answers).
pub(super) fn business_funds(b: &Business) -> FundsOut {
    funds_out(&b.funds())
}

/// `?month=` of a statement.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MonthQuery {
    /// The calendar month in Swedish time, `YYYY-MM` (years 2000 to 2999).
    #[param(pattern = "^2[0-9]{3}-(0[1-9]|1[0-2])$", example = "2026-03")]
    month: String,
}

fn month(q: &MonthQuery) -> Result<crate::core::statement::Month, super::error::ApiError> {
    crate::core::statement::Month::parse(&q.month).ok_or_else(|| super::error::bad("invalid-month", format!("month {:?} is not YYYY-MM", q.month.chars().take(16).collect::<String>())))
}

/// Öre as a Swedish bookkeeper writes SEK: `1234,50`, `-0,05`.
fn sek_sv(o: Ore) -> String {
    o.to_sek_string().replace('.', ",")
}

/// Öre as the printed statement shows it, the pages' way: `1 234,50` (`page::format`).
fn sek_page(o: Ore) -> String {
    super::page::format::amount(super::page::Lang::Sv, o)
}

fn local_time(ms: i64) -> String {
    crate::domain::day::swedish_local(chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()).format("%Y-%m-%d %H:%M").to_string()
}

/// A CSV cell: quoted when it holds `;`, `"` or a line break (RFC 4180 with `;`, as Swedish
/// spreadsheets read it), and a leading `'` before what a spreadsheet would run as a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The statement as CSV (`;`-separated, decimal comma, UTF-8 with BOM so spreadsheets read å ä ö).
pub(super) fn statement_csv(s: &crate::core::statement::Statement) -> String {
    let mut out = String::from("\u{feff}datum;verifikation;typ;referens;belopp_sek;saldo_sek\n");
    out.push_str(&format!("{};;Ingående saldo;;;{}\n", s.month.key(), sek_sv(s.opening)));
    for p in &s.lines {
        // Amounts are numbers: a negative one stays a number, never a quoted formula guard.
        out.push_str(&format!("{};{};{};{};{};{}\n", local_time(p.at_ms), cell(p.entry.as_str()), cell(p.kind.swedish()), cell(&p.reference), sek_sv(p.amount), sek_sv(p.totals.balance())));
    }
    out.push_str(&format!("{};;Utgående saldo;;;{}\n", s.month.key(), sek_sv(s.closing)));
    out
}

/// `GET /v1/businesses/{id}/statement.csv`.
#[utoipa::path(get, path = "/v1/businesses/{id}/statement.csv", tag = "businesses", operation_id = "statement_csv", summary = "Download a monthly statement", description = "The month's ledger lines of the business's account as CSV, with opening and closing balances.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), MonthQuery), security(("business_api_key" = [])),
    responses((status = 200, description = "The month's ledger lines of the business's account (Europe/Stockholm dates, SEK with öre and a decimal comma, `;`-separated, one line per ledger entry, running balance; opening and closing balance lines).",
            content_type = "text/csv; charset=utf-8", body = String,
            example = "datum;verifikation;typ;referens;belopp_sek;saldo_sek\n2026-03;;Ingående saldo;;;0,00\n2026-03-02 10:14;topup:evt_1;Insättning;pi_1;5000,00;5000,00\n2026-03;;Utgående saldo;;;5000,00\n"),
        (status = 400, description = "`invalid-month`: not `YYYY-MM`.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn statement_csv_route(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, q: web::Query<MonthQuery>) -> ApiResult {
    // Who asks first: without the key, nothing about the request is answered.
    let auth = super::auth::authorize(&node, &req, &id).await?;
    let month = month(&q)?;
    let s = node.statement(&auth.business.id, month).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"svea-{}.csv\"", month.key())))
        .body(statement_csv(&s)))
}

/// `GET /v1/businesses/{id}/statement`: the same month as a printable page.
#[utoipa::path(get, path = "/v1/businesses/{id}/statement", tag = "businesses", operation_id = "statement_page", summary = "Show a monthly statement", description = "The month's ledger lines of the business's account as a printable page.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), MonthQuery), security(("business_api_key" = [])),
    responses((status = 200, description = "The month's statement as a printable HTML page (Swedish).", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "`invalid-month`: not `YYYY-MM`.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn statement_page(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, q: web::Query<MonthQuery>) -> ApiResult {
    // Who asks first: without the key, nothing about the request is answered.
    let auth = super::auth::authorize(&node, &req, &id).await?;
    let month = month(&q)?;
    let s = node.statement(&auth.business.id, month).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(statement_html(&auth.business, &s).into_string()))
}

/// The printable statement: every value a business or customer typed is escaped by maud.
pub(super) fn statement_html(b: &Business, s: &crate::core::statement::Statement) -> maud::Markup {
    use maud::html;
    let title = format!("Kontoutdrag {} · {}", s.month.key(), b.name);
    let body = html! {
        main.statement {
            h1 { "Kontoutdrag " (s.month.key()) }
            p { strong { (b.name) } " · org.nr " (b.org_number) " · belöningskonto hos svea" }
            p { "Datum i svensk tid (Europe/Stockholm), belopp i kronor med öre." }
            @if s.cut { p.notice { "Utdraget är avkortat: för många rader." } }
            // Six columns do not fit a phone: the table scrolls sideways in its frame, which takes
            // keyboard focus so it can be scrolled without a pointer.
            div.scroll tabindex="0" role="region" aria-label="Kontoutdragets rader" {
            table {
                thead { tr { th { "Datum" } th { "Verifikation" } th { "Typ" } th { "Referens" } th.num { "Belopp (kr)" } th.num { "Saldo (kr)" } } }
                tbody {
                    tr.opening { td { (s.month.key()) } td {} td { "Ingående saldo" } td {} td {} td.num { (sek_page(s.opening)) } }
                    @for p in &s.lines {
                        tr { td { (local_time(p.at_ms)) } td { code { (p.entry.as_str()) } } td { (p.kind.swedish()) } td { (p.reference) } td.num { (sek_page(p.amount)) } td.num { (sek_page(p.totals.balance())) } }
                    }
                    tr.closing { td { (s.month.key()) } td {} td { "Utgående saldo" } td {} td {} td.num { (sek_page(s.closing)) } }
                }
            }
            }
        }
    };
    // The pages' stylesheet (an inline <style> is what the CSP refuses).
    let head = html! { link rel="stylesheet" href=(super::assets::href(&super::assets::PAGE_CSS)); };
    super::page::view::document(super::page::texts::Lang::Sv, &title, head, body)
}

/// A wallet request: the device credential svea issued.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks"}))]
pub(super) struct WalletIn {
    /// The `device_token` from the first `POST /v1/sessions`.
    device_token: String,
}

/// One line of a customer's cashback.
#[derive(Serialize, ToSchema)]
struct WalletLineOut {
    /// `reward_reserved`, `reward_reversed`, `payout_started`, `payout_failed`.
    kind: crate::domain::ledger::EntryKind,
    /// The ledger entry.
    entry: String,
    /// RFC 3339.
    at: String,
    /// Signed amount on the customer's balance.
    amount_sek: String,
    /// Balance after it.
    balance_sek: String,
}

/// One payout.
#[derive(Serialize, ToSchema)]
struct PayoutOut {
    /// The instruction id (32 hex characters).
    id: String,
    amount_sek: String,
    /// `in_flight`, `paid` or `failed`.
    state: &'static str,
    /// Why it failed, for the customer.
    reason: Option<String>,
    /// The rail (`ledger-only` payouts are demo: nothing was sent).
    rail: String,
    /// Whether it is demo money (the ledger-only rail).
    demo: bool,
    started_at: String,
}

/// A customer's cashback.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"balance_sek": "12.50", "payout_minimum_sek": "50.00", "has_payee": false, "lines": [{"kind": "reward_reserved", "entry": "reward:b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e:s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "at": "2026-03-02T11:47:55Z", "amount_sek": "12.50", "balance_sek": "12.50"}], "payouts": []}))]
pub(super) struct WalletOut {
    /// Owed, not in a payout.
    balance_sek: String,
    /// A payout starts when the balance reaches this.
    payout_minimum_sek: String,
    /// Whether a payee is set (never the payee itself).
    has_payee: bool,
    /// The latest lines, oldest first.
    lines: Vec<WalletLineOut>,
    /// The payouts, oldest first.
    payouts: Vec<PayoutOut>,
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `POST /v1/wallet`: the holder of a device token sees their cashback, its lines and payouts.
#[utoipa::path(post, path = "/v1/wallet", tag = "sessions", operation_id = "wallet", summary = "Read a customer's wallet", description = "The holder of a device token sees their cashback, its lines and their payouts.",
    request_body(content = WalletIn, content_type = "application/json"),
    responses((status = 200, description = "The device's cashback (zero and empty before its first reward).", body = WalletOut),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy, super::error::answers::DeviceAuth))]
pub(super) async fn wallet(node: web::Data<NodeHandle>, body: web::Json<WalletIn>) -> ApiResult {
    use crate::actors::keys::PayoutState;
    let device = node.devices().verify(&body.device_token)?;
    let v = node.wallet(&device).await?;
    let demo = node.payout_rail() == svea_config::PayoutRailKind::LedgerOnly;
    let (balance, has_payee) = v.wallet.as_ref().map_or((Ore::ZERO, false), |w| (w.balance(), w.payee.is_some()));
    Ok(HttpResponse::Ok().json(WalletOut {
        balance_sek: balance.to_sek_string(),
        payout_minimum_sek: Ore::from_ore(node.config().payouts.minimum_ore).to_sek_string(),
        has_payee,
        lines: v
            .postings
            .iter()
            .map(|p| WalletLineOut { kind: p.kind, entry: p.entry.to_string(), at: rfc3339_ms(p.at_ms), amount_sek: p.amount.to_sek_string(), balance_sek: p.totals.balance().to_sek_string() })
            .collect(),
        payouts: v
            .payouts
            .iter()
            .map(|(id, r)| {
                let (state, reason) = match &r.state {
                    PayoutState::InFlight => ("in_flight", None),
                    PayoutState::Paid { .. } => ("paid", None),
                    PayoutState::Failed { reason, .. } => ("failed", Some(reason.clone())),
                };
                PayoutOut { id: id.to_string(), amount_sek: r.amount.to_sek_string(), state, reason, rail: r.rail.clone(), demo: demo && r.rail == "ledger-only", started_at: rfc3339_ms(r.started_ms) }
            })
            .collect(),
    }))
}
