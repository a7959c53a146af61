//! The business dashboard as HTML (maud: every interpolated value is escaped), with its charts
//! as inline SVG drawn here on the server: they need no script, carry a `<title>` and a `<desc>`
//! (`role="img"`), and their numbers are in a table beside them. Pure functions of what they
//! are given; the handlers in `super` decide what to show.
//!
//! Stable ids for tests and browsers: `api-key`, `sign-in` (the sign-in form's field and
//! button), `sign-out`, `feedback-list` (one `<li>` per feedback, containing its text),
//! `search`, `older-link`, `csv-export`, `chart-sessions`, `chart-rewards`, `chart-score`,
//! `chart-budget`, `chart-tiers`, `rotate-key`, `new-api-key`, `till-form`, `held-list` (one
//! `<li data-session>` per held reward, with its `release` and `refuse` buttons).

use maud::{html, Markup};

use super::texts::Texts;
use crate::actors::business::{Business, DayPoint};
use crate::actors::keys::LockedReceipt;
use crate::core::feedback::{FeedbackCursor, FeedbackPage};
use crate::core::review::HeldPage;
use crate::domain::day::swedish_local;
use crate::domain::pos::{Provider, PurchaseVerification};
use crate::domain::Ore;
use crate::http::assets::{href, DASHBOARD_CSS, DASHBOARD_JS, PAGE_CSS};
use crate::http::page::format::{count, decimal, percent};
use crate::http::page::{document, money, Lang};

/// The dashboard's path (and its cookie's).
pub const BASE: &str = "/business";

/// Everything one render of the dashboard needs.
pub struct Dashboard<'a> {
    /// Language.
    pub lang: Lang,
    /// The signed-in business.
    pub business: &'a Business,
    /// The charts' days, oldest first.
    pub series: &'a [DayPoint],
    /// The feedback list's page.
    pub page: &'a FeedbackPage,
    /// The search as typed.
    pub search: &'a str,
    /// Whether this page is an older one (a cursor was given).
    pub paged: bool,
    /// A key just issued: shown this once.
    pub new_key: Option<&'a str>,
    /// A sentence saying what was just done.
    pub notice: Option<&'static str>,
    /// A sentence saying what went wrong.
    pub error: Option<&'a str>,
    /// Base URL (no trailing slash) of the webhook addresses to give the till system.
    pub public_url: &'a str,
    /// Rewards the hourly brake holds for the business's review.
    pub held: &'a HeldPage,
    /// The cluster's daily reward cap: the highest daily budget a business may set.
    pub daily_cap: Ore,
    /// Receipts locked by mismatched tries.
    pub locks: &'a [LockedReceipt],
    /// The card top-up form, when card top-ups are on.
    pub top_up: Option<super::top_up::Offer>,
}

fn layout(lang: Lang, title: &str, signed_in: bool, body: Markup) -> Markup {
    let t = Texts::of(lang);
    let head = html! {
        link rel="stylesheet" href=(href(&PAGE_CSS));
        link rel="stylesheet" href=(href(&DASHBOARD_CSS));
        script src=(href(&DASHBOARD_JS)) defer {}
    };
    let body = html! {
        header.bar {
            span.brand { (t.brand) }
            span.actions {
                a.lang href={ (BASE) "?lang=" (lang.other().tag()) } hreflang=(lang.other().tag()) lang=(lang.other().tag()) {
                    (lang.other().texts().language_name)
                }
                @if signed_in {
                    form.inline method="post" action={ (BASE) "/sign-out" } {
                        button #sign-out type="submit" { (t.signout_button) }
                    }
                }
            }
        }
        main.wide { (body) }
    };
    document(lang, &format!("{title} · {}", t.title), head, body)
}

fn message_boxes(error: Option<&str>, notice: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { div.error role="alert" { p { (e) } } }
        @if let Some(n) = notice { div.notice role="status" { p { (n) } } }
    }
}

/// The sign-in page, with `error` (or `notice`) above it: the e-mail form first (how a business
/// signs in), then the API key form (tills and scripts).
pub fn sign_in(lang: Lang, error: Option<&str>, notice: Option<&str>) -> Markup {
    let t = Texts::of(lang);
    let body = html! {
        h1 { (t.signin_heading) }
        (message_boxes(error, notice))
        form method="post" action={ (BASE) "/sign-in/email" } {
            label for="signin-email" { (t.email_label) }
            input #signin-email name="email" type="email" autocomplete="email" required maxlength="254" aria-describedby="signin-email-hint";
            p.hint #signin-email-hint { (t.email_help) }
            button #send-link type="submit" { (t.email_button) }
        }
        p { a href={ "/?lang=" (lang.tag()) } { (t.no_account) } }
        section aria-labelledby="h-key-signin" {
            h2 #h-key-signin { (t.key_signin_heading) }
            p { (t.signin_help) }
            form method="post" action={ (BASE) "/sign-in" } {
                label for="api-key" { (t.key_label) }
                input #api-key name="api_key" type="password" autocomplete="current-password" required spellcheck="false"
                    maxlength="200" aria-describedby="api-key-hint";
                p.hint #api-key-hint { (t.key_hint) }
                button #sign-in type="submit" { (t.signin_button) }
            }
        }
    };
    layout(lang, t.signin_heading, false, body)
}

/// The signed-in dashboard.
pub fn dashboard(d: &Dashboard<'_>) -> Markup {
    let t = Texts::of(d.lang);
    let b = d.business;
    let body = html! {
        h1 { (b.name) }
        (message_boxes(d.error, d.notice))
        @if let Some(key) = d.new_key {
            section.newkey aria-labelledby="h-new-key" {
                h2 #h-new-key { (t.new_key_heading) }
                p { (t.new_key_help) }
                p { code #new-api-key { (key) } }
            }
        }
        (overview(d, t))
        (super::top_up::form(d.lang, d.top_up.as_ref()))
        (held(d, t))
        (charts(d, t))
        (feedback(d, t))
        (locations(d, t))
        (rewards(d, t))
        (key(t))
        (extra_keys(d.business, t))
        (till(d, t))
    };
    layout(d.lang, &b.name, true, body)
}

fn overview(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let b = d.business;
    let a = &b.analytics;
    html! {
        section aria-labelledby="h-budget" {
            h2 #h-budget { (t.budget_heading) }
            dl.figures {
                div { dt { (t.budget) } dd #budget-funded { (money(d.lang, b.funds().funded)) } }
                div { dt { (t.paid) } dd #budget-rewarded { (money(d.lang, b.paid())) } }
                div { dt { (t.left) } dd #budget-left { (money(d.lang, b.remaining())) } }
                @if b.funds().refunded > crate::domain::Ore::ZERO {
                    div { dt { (t.refunded) } dd #budget-refunded { (money(d.lang, b.funds().refunded)) } }
                }
                div { dt { (t.sessions_opened) } dd { (count(d.lang, a.total.opened)) } }
                div { dt { (t.average_score) } dd #average-score { (a.average_score().map_or("–".to_string(), |s| decimal(d.lang, s, 1))) } }
            }
            p { a #statement-link href="/business/statement" { (t.statement) } " · " a href="/business/statement?format=csv" { "CSV" } }
            meter #budget-meter min="0" max=(super::super::api::net_funded(b).as_ore().max(1)) value=(b.remaining().as_ore()) aria-label=(t.left) {
                (money(d.lang, b.remaining()))
            }
        }
    }
}

// ---------- charts ----------

/// The drawing area of every chart, in SVG user units (scaled to the page's width by CSS).
const CHART_W: f64 = 600.0;
const CHART_H: f64 = 200.0;
const PAD_LEFT: f64 = 52.0;
const PAD_RIGHT: f64 = 8.0;
const PAD_TOP: f64 = 10.0;
const PAD_BOTTOM: f64 = 24.0;

fn plot_w() -> f64 {
    CHART_W - PAD_LEFT - PAD_RIGHT
}

fn plot_h() -> f64 {
    CHART_H - PAD_TOP - PAD_BOTTOM
}

/// A number as an axis label: whole numbers, no decimals, grouped the language's way.
fn axis(lang: Lang, v: f64) -> String {
    decimal(lang, v, 0)
}

fn sek(o: Ore) -> f64 {
    o.as_ore() as f64 / 100.0
}

/// One chart's frame: the SVG with its title and description, and the axes.
fn frame(lang: Lang, id: &str, title: &str, desc: &str, days: &[DayPoint], y_max: f64, plot: Markup) -> Markup {
    let (t_id, d_id) = (format!("{id}-title"), format!("{id}-desc"));
    let first = days.first().map(|p| p.day.format("%m-%d").to_string()).unwrap_or_default();
    let last = days.last().map(|p| p.day.format("%m-%d").to_string()).unwrap_or_default();
    let bottom = PAD_TOP + plot_h();
    html! {
        figure.chart {
            figcaption aria-hidden="true" { (title) }
            svg #(id) .chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (CHART_W) " " (CHART_H) } role="img" aria-labelledby={ (t_id) " " (d_id) } {
                title #(t_id) { (title) }
                desc #(d_id) { (desc) }
                line.axis x1=(PAD_LEFT) y1=(bottom) x2=(CHART_W - PAD_RIGHT) y2=(bottom) {}
                line.axis x1=(PAD_LEFT) y1=(PAD_TOP) x2=(PAD_LEFT) y2=(bottom) {}
                text.label x=(PAD_LEFT - 6.0) y=(PAD_TOP + 10.0) text-anchor="end" { (axis(lang, y_max)) }
                text.label x=(PAD_LEFT - 6.0) y=(bottom) text-anchor="end" { "0" }
                text.label x=(PAD_LEFT) y=(CHART_H - 6.0) text-anchor="start" { (first) }
                text.label x=(CHART_W - PAD_RIGHT) y=(CHART_H - 6.0) text-anchor="end" { (last) }
                (plot)
            }
        }
    }
}

/// Stacked bars per day: `stacks[i]` is day i's values, one per class in `classes`.
fn bars(stacks: &[Vec<f64>], classes: &[&str], y_max: f64) -> Markup {
    let n = stacks.len().max(1) as f64;
    let slot = plot_w() / n;
    let width = (slot * 0.8).max(1.0);
    let scale = if y_max > 0.0 { plot_h() / y_max } else { 0.0 };
    html! {
        @for (i, stack) in stacks.iter().enumerate() {
            @let x = PAD_LEFT + slot * i as f64 + (slot - width) / 2.0;
            @let mut y = PAD_TOP + plot_h();
            @for (value, class) in stack.iter().zip(classes) {
                @if *value > 0.0 {
                    @let h = value * scale;
                    @let top = { y -= h; y };
                    rect class=(class) x=(format!("{x:.1}")) y=(format!("{top:.1}")) width=(format!("{width:.1}")) height=(format!("{h:.1}")) {}
                }
            }
        }
    }
}

/// A line through the days that have a value, with a dot on each.
fn line(values: &[Option<f64>], y_max: f64, class: &str) -> Markup {
    let n = values.len().max(1) as f64;
    let slot = plot_w() / n;
    let scale = if y_max > 0.0 { plot_h() / y_max } else { 0.0 };
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (PAD_LEFT + slot * (i as f64 + 0.5), PAD_TOP + plot_h() - v * scale)))
        .collect();
    let path: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    html! {
        polyline class=(class) points=(path.join(" ")) {}
        @for (x, y) in &points {
            circle class=(class) cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" {}
        }
    }
}

fn legend(names: &[&str], classes: &[&str]) -> Markup {
    html! {
        ul.legend {
            @for (name, class) in names.iter().zip(classes) {
                li { span class={ "swatch " (class) } aria-hidden="true" {} (name) }
            }
        }
    }
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= v).unwrap_or(v);
    step
}

fn charts(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let days = d.series;
    let outcome_classes = ["s-completed", "s-rejected", "s-expired"];
    let stacks: Vec<Vec<f64>> = days.iter().map(|p| vec![p.stats.completed as f64, p.stats.rejected as f64, p.stats.expired as f64]).collect();
    let sessions_max = nice_max(stacks.iter().map(|s| s.iter().sum::<f64>()).fold(0.0, f64::max));
    let sum = |f: fn(&DayPoint) -> u64| days.iter().map(f).sum::<u64>();
    let (completed, rejected, expired) = (sum(|p| p.stats.completed), sum(|p| p.stats.rejected), sum(|p| p.stats.expired));
    let sessions_desc = format!(
        "{} {}: {} {completed}, {} {rejected}, {} {expired}.",
        days.len(),
        if d.lang == Lang::Sv { "dagar" } else { "days" },
        t.outcomes[0],
        t.outcomes[1],
        t.outcomes[2]
    );
    let rewards: Vec<Vec<f64>> = days.iter().map(|p| vec![sek(p.stats.rewards_paid)]).collect();
    let rewards_max = nice_max(rewards.iter().map(|r| r[0]).fold(0.0, f64::max));
    let paid: Ore = days.iter().fold(Ore::ZERO, |acc, p| acc.checked_add(p.stats.rewards_paid).unwrap_or(acc));
    let rewards_desc = format!("{}: {}.", t.paid, money(d.lang, paid));
    let scores: Vec<Option<f64>> = days.iter().map(|p| p.stats.average_score()).collect();
    let scored: Vec<f64> = scores.iter().flatten().copied().collect();
    let score_desc = match scored.last() {
        Some(last) => format!("{}: {}.", t.average_score, decimal(d.lang, *last, 1)),
        None => t.no_data.to_string(),
    };
    let budget: Vec<Option<f64>> = days.iter().map(|p| Some(sek(p.budget_left))).collect();
    let budget_max = nice_max(sek(super::super::api::net_funded(&d.business)));
    let budget_desc = format!("{}: {} / {}.", t.left, money(d.lang, d.business.remaining()), money(d.lang, super::super::api::net_funded(&d.business)));
    html! {
        section aria-labelledby="h-charts" {
            h2 #h-charts { (t.charts_heading) }
            p.hint { (t.charts_help) }
            div.charts {
                div {
                    (frame(d.lang, "chart-sessions", t.chart_sessions, &sessions_desc, days, sessions_max, bars(&stacks, &outcome_classes, sessions_max)))
                    (legend(&t.outcomes, &outcome_classes))
                }
                div { (frame(d.lang, "chart-rewards", t.chart_rewards, &rewards_desc, days, rewards_max, bars(&rewards, &["s-rewards"], rewards_max))) }
                div { (frame(d.lang, "chart-score", t.chart_score, &score_desc, days, 100.0, line(&scores, 100.0, "s-score"))) }
                div { (frame(d.lang, "chart-budget", t.chart_budget, &budget_desc, days, budget_max, line(&budget, budget_max, "s-budget"))) }
                div { (tiers(d, t)) }
            }
            details {
                summary { (t.table_summary) }
                div.scroll {
                    table #daily-table {
                        caption { (t.charts_heading) }
                        thead { tr {
                            th scope="col" { (t.day) } th scope="col" { (t.opened) }
                            @for o in &t.outcomes { th scope="col" { (o) } }
                            th scope="col" { (t.paid) } th scope="col" { (t.average_score) } th scope="col" { (t.left) }
                        } }
                        tbody {
                            @for p in days.iter().rev() {
                                tr {
                                    th scope="row" { (p.day.format("%Y-%m-%d")) }
                                    td { (p.stats.opened) } td { (p.stats.completed) } td { (p.stats.rejected) } td { (p.stats.expired) }
                                    td { (money(d.lang, p.stats.rewards_paid)) }
                                    td { (p.stats.average_score().map_or("–".to_string(), |s| decimal(d.lang, s, 1))) }
                                    td { (money(d.lang, p.budget_left)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// All-time sessions per reward tier, as horizontal bars.
fn tiers(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let counts = d.business.analytics.tiers;
    let max = nice_max(counts.iter().copied().max().unwrap_or(0) as f64);
    let row_h = plot_h() / 4.0;
    let desc: Vec<String> = t.tier_names.iter().zip(counts).map(|(n, c)| format!("{n}: {c}")).collect();
    let classes = ["s-tier0", "s-tier1", "s-tier2", "s-tier3"];
    let label_w = 70.0;
    let bar_w = CHART_W - label_w - PAD_RIGHT - 40.0;
    html! {
        figure.chart {
            figcaption aria-hidden="true" { (t.chart_tiers) }
            svg #chart-tiers .chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (CHART_W) " " (CHART_H) } role="img" aria-labelledby="chart-tiers-title chart-tiers-desc" {
                title #chart-tiers-title { (t.chart_tiers) }
                desc #chart-tiers-desc { (desc.join(", ")) "." }
                @for (i, (name, count)) in t.tier_names.iter().zip(counts).enumerate() {
                    @let y = PAD_TOP + row_h * i as f64;
                    @let w = count as f64 / max * bar_w;
                    text.label x=(label_w - 6.0) y=(format!("{:.1}", y + row_h * 0.6)) text-anchor="end" { (name) }
                    rect class=(classes[i]) x=(label_w) y=(format!("{:.1}", y + row_h * 0.15)) width=(format!("{w:.1}")) height=(format!("{:.1}", row_h * 0.7)) {}
                    text.label x=(format!("{:.1}", label_w + w + 6.0)) y=(format!("{:.1}", y + row_h * 0.6)) { (count) }
                }
            }
        }
    }
}

// ---------- feedback, locations, key, till ----------

fn list_link(search: &str, cursor: Option<&FeedbackCursor>) -> String {
    let mut q = Vec::new();
    if !search.is_empty() {
        q.push(format!("q={}", urlencode(search)));
    }
    if let Some(c) = cursor {
        q.push(format!("cursor={}", c.encode()));
    }
    if q.is_empty() {
        format!("{BASE}#feedback")
    } else {
        format!("{BASE}?{}#feedback", q.join("&"))
    }
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn feedback(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let csv = if d.search.is_empty() { format!("{BASE}/feedback.csv") } else { format!("{BASE}/feedback.csv?q={}", urlencode(d.search)) };
    html! {
        section #feedback aria-labelledby="h-feedback" {
            h2 #h-feedback { (t.feedback_heading) }
            form.search method="get" action=(BASE) role="search" {
                label for="search" { (t.search_label) }
                div.row {
                    input #search name="q" type="search" value=(d.search) maxlength="200";
                    button #search-button type="submit" { (t.search_button) }
                }
            }
            p { a #csv-export href=(csv) download="feedback.csv" { (t.export_csv) } }
            @if d.page.items.is_empty() {
                p #feedback-empty { (t.no_feedback) }
            }
            ol #feedback-list {
                @for (session, e) in &d.page.items {
                    li.feedback data-session=(session.to_string()) {
                        p.text { (e.text) }
                        p.meta {
                            span { (t.score) " " strong { (e.score.total) } "/100 (" (t.score_source(e.score.source.as_str())) ")" }
                            " · "
                            span { (t.reward) " " strong { (money(d.lang, e.reward)) } }
                            " · "
                            span { (e.location_name) }
                            " · "
                            time datetime=(crate::http::api::rfc3339(e.given_at)) { (swedish_local(e.given_at).format("%Y-%m-%d %H:%M")) }
                        }
                        p.breakdown {
                            (t.breakdown[0]) " " (e.score.rubric.specific) " · "
                            (t.breakdown[1]) " " (e.score.rubric.actionable) " · "
                            (t.breakdown[2]) " " (e.score.rubric.balanced) " · "
                            (t.breakdown[3]) " " (e.score.rubric.substance)
                        }
                    }
                }
            }
            nav.pager aria-label=(t.feedback_heading) {
                @if d.paged { a #newest-link href=(list_link(d.search, None)) { (t.newest) } }
                @if let Some(next) = &d.page.next { a #older-link rel="next" href=(list_link(d.search, Some(next))) { (t.older) " →" } }
            }
        }
    }
}

/// The held rewards, each with its release and refuse buttons (shown only when there are any).
fn held(d: &Dashboard<'_>, t: &Texts) -> Markup {
    html! {
        @if !d.held.items.is_empty() {
            section #held aria-labelledby="h-held" {
                h2 #h-held { (t.held_heading) }
                p { (t.held_help) }
                ol #held-list {
                    @for (session, h) in &d.held.items {
                        li.held data-session=(session.to_string()) {
                            p.meta {
                                span { (t.reward) " " strong { (money(d.lang, h.reward.amount)) } }
                                " · "
                                span { (t.purchase) " " (money(d.lang, h.purchase)) }
                                " · "
                                span { (t.score) " " (h.score) "/100" }
                                " · "
                                span { (t.held_at) " " time datetime=(crate::http::api::rfc3339(h.held_at)) { (swedish_local(h.held_at).format("%Y-%m-%d %H:%M")) } }
                            }
                            form.inline method="post" action={ (BASE) "/held/" (session.to_string()) } {
                                button name="decision" value="release" type="submit" { (t.release_button) }
                                " "
                                button name="decision" value="refuse" type="submit" { (t.refuse_button) }
                            }
                        }
                    }
                }
                @if d.held.more { p { (t.held_more) } }
            }
        }
    }
}

/// The locations: each with its poster and codes, a rename form and a remove form (a box to
/// tick first: its QR code stops working); then a form that adds one.
fn locations(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let only_one = d.business.locations.len() <= 1;
    html! {
        section aria-labelledby="h-locations" {
            h2 #h-locations { (t.locations_heading) }
            ul #locations {
                @for l in &d.business.locations {
                    @let base = format!("{BASE}/locations/{}", l.id);
                    @let id = l.id.to_string();
                    li.location data-location=(id) {
                        strong.location-name { (l.name) } " "
                        a href={ (base) "/poster" } { (t.poster) } " · "
                        a href={ (base) "/qr.svg" } { "QR (SVG)" } " · "
                        a href={ (base) "/qr.png" } { "QR (PNG)" }
                        form.inline.rename method="post" action={ (base) "/rename" } {
                            label for={ "name-" (id) } { (t.location_name_label) }
                            input id={ "name-" (id) } name="name" type="text" required maxlength="100" value=(l.name);
                            button type="submit" { (t.rename_button) }
                        }
                        @if !only_one {
                            form.inline.remove method="post" action={ (base) "/remove" } {
                                label.check for={ "confirm-" (id) } {
                                    input id={ "confirm-" (id) } name="confirm" type="checkbox" value="yes" required;
                                    " " (t.remove_confirm)
                                }
                                button type="submit" { (t.remove_button) }
                            }
                        }
                    }
                }
            }
            form #add-location method="post" action={ (BASE) "/locations" } aria-labelledby="h-add-location" {
                h3 #h-add-location { (t.add_location_heading) }
                label for="new-location-name" { (t.location_name_label) }
                input #new-location-name name="name" type="text" required maxlength="100";
                p.hint #coordinates-hint { (t.coordinates_hint) }
                label for="new-location-lat" { (t.lat_label) }
                input #new-location-lat name="lat" type="text" inputmode="decimal" maxlength="20" aria-describedby="coordinates-hint";
                label for="new-location-lon" { (t.lon_label) }
                input #new-location-lon name="lon" type="text" inputmode="decimal" maxlength="20" aria-describedby="coordinates-hint";
                button type="submit" { (t.add_location_button) }
            }
        }
    }
}

/// The reward percentages per tier, editable within the policy's bounds.
fn rewards(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let tiers = d.business.policy.tiers;
    let names = ["low", "mid", "high"];
    html! {
        section aria-labelledby="h-rewards" {
            h2 #h-rewards { (t.rewards_heading) }
            p #rewards-help { (t.rewards_help) }
            p #rewards-now { @for (i, tier) in tiers.iter().enumerate() {
                @if i > 0 { " · " }
                (t.reward_tier_labels[i].trim_end_matches(" (%)")) ": " (percent(d.lang, tier.basis_points))
            } }
            form #rewards-form method="post" action={ (BASE) "/rewards" } {
                @for (i, tier) in tiers.iter().enumerate() {
                    label for={ "reward-" (names[i]) } { (t.reward_tier_labels[i]) }
                    input id={ "reward-" (names[i]) } name=(names[i]) type="text" inputmode="decimal" required maxlength="6"
                        aria-describedby="rewards-help" value=(percent(d.lang, tier.basis_points).trim_end_matches(['%', ' ']));
                }
                label for="daily-budget" { (t.daily_budget_label) }
                p.hint #daily-budget-help { (t.daily_budget_help) " " (money(d.lang, d.daily_cap)) "." }
                input #daily-budget name="daily_budget" type="text" inputmode="decimal" maxlength="12" aria-describedby="daily-budget-help"
                    value=(money(d.lang, d.business.daily_cap(d.daily_cap)).trim_end_matches(" kr"));
                button type="submit" { (t.rewards_button) }
            }
        }
    }
}

fn key(t: &Texts) -> Markup {
    html! {
        section aria-labelledby="h-key" {
            h2 #h-key { (t.key_heading) }
            p { (t.key_help) }
            form method="post" action={ (BASE) "/rotate" } data-confirm=(t.key_help) {
                button #rotate-key type="submit" { (t.rotate_button) }
            }
            // Here rather than in the header, beside the other ways to lock others out: a phone's
            // header has room for one button.
            form method="post" action={ (BASE) "/sign-out" } {
                input type="hidden" name="everywhere" value="1";
                button #sign-out-everywhere type="submit" { (t.signout_everywhere_button) }
            }
        }
    }
}

/// The keys the business created, by prefix and date, each with its revoke button; and the
/// button that creates one more (shown once, like a rotated key).
fn extra_keys(b: &Business, t: &Texts) -> Markup {
    html! {
        section aria-labelledby="h-extra-keys" {
            h2 #h-extra-keys { (t.extra_keys_heading) }
            p { (t.extra_keys_help) }
            @if b.extra_keys.is_empty() {
                p { (t.no_extra_keys) }
            } @else {
                ul #extra-keys {
                    @for k in &b.extra_keys {
                        li data-prefix=(k.prefix) {
                            code { (k.prefix) "…" } " " (t.created) " " (swedish_local(k.created_at).format("%Y-%m-%d %H:%M"))
                            form.inline method="post" action={ (BASE) "/keys/revoke" } {
                                input type="hidden" name="prefix" value=(k.prefix);
                                button.secondary type="submit" { (t.revoke_button) }
                            }
                        }
                    }
                }
            }
            form method="post" action={ (BASE) "/keys" } {
                button #create-key type="submit" { (t.create_key_button) }
            }
        }
    }
}

fn till(d: &Dashboard<'_>, t: &Texts) -> Markup {
    let b = d.business;
    let providers = [Provider::Zettle, Provider::Square, Provider::Shopify];
    let modes = [PurchaseVerification::SelfDeclared, PurchaseVerification::Pos];
    html! {
        section aria-labelledby="h-till" {
            h2 #h-till { (t.till_heading) }
            p { (t.till_help) }
            form method="post" action={ (BASE) "/verification" } {
                label for="verification" { (t.verification_label) }
                select #verification name="purchase_verification" {
                    @for (m, name) in modes.iter().zip(t.verification_names) {
                        option value=(m.as_str()) selected[b.purchase_verification == *m] { (name) }
                    }
                }
                button type="submit" { (t.verification_button) }
            }
            @if !b.pos.is_empty() {
                h3 { (t.till_registered) }
                ul #tills {
                    @for i in b.pos.values() {
                        li { strong { (i.provider.as_str()) } " · " (i.account.as_str()) " · " (t.webhook_url) ": "
                            code { (d.public_url) "/v1/pos/" (i.provider.as_str()) "/webhook" } }
                    }
                }
            }
            @if !d.locks.is_empty() {
                h3 #h-locks { (t.locks_heading) }
                p { (t.locks_help) }
                ul #locks {
                    @for l in d.locks {
                        li {
                            (l.receipt.as_str()) " · " (location_name(b, &l.location)) " "
                            form.inline method="post" action={ (BASE) "/release" } {
                                input type="hidden" name="location_id" value=(l.location.to_string());
                                input type="hidden" name="receipt" value=(l.receipt.as_str());
                                button type="submit" { (t.release_button) }
                            }
                        }
                    }
                }
            }
            form #till-form method="post" action={ (BASE) "/till" } {
                label for="provider" { (t.provider_label) }
                select #provider name="provider" {
                    @for p in providers { option value=(p.as_str()) { (p.as_str()) } }
                }
                label for="account" { (t.account_label) }
                input #account name="account" type="text" required maxlength="200" autocomplete="off" spellcheck="false";
                label for="secret" { (t.secret_label) }
                input #secret name="secret" type="password" required maxlength="200" autocomplete="new-password" aria-describedby="secret-hint";
                p.hint #secret-hint { (t.secret_hint) }
                label for="notification_url" { (t.notification_url_label) }
                input #notification_url name="notification_url" type="url" maxlength="500" autocomplete="off" aria-describedby="notification-url-hint";
                p.hint #notification-url-hint { (t.notification_url_hint) }
                label for="default_location" { (t.default_location_label) }
                select #default_location name="default_location_id" {
                    @for l in &b.locations { option value=(l.id.to_string()) { (l.name) } }
                }
                button #till-save type="submit" { (t.till_button) }
            }
        }
    }
}

/// The name of a location of `b` (its id when it has none by that id).
fn location_name(b: &Business, id: &crate::domain::LocationId) -> String {
    b.locations.iter().find(|l| &l.id == id).map_or_else(|| id.to_string(), |l| l.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_and_never_zero() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(1000.0), 1000.0);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(urlencode("kött & bullar#1"), "k%C3%B6tt%20%26%20bullar%231");
    }
}
