//! The console as HTML (maud: every interpolated value is escaped). Pure functions of what they
//! are given. Element ids the script and browser tests rely on: `region-<name>` (the map marker,
//! with `data-health="up|down"`), `node-<id>` (the node's table row, with `data-health`),
//! `operator-token` (the sign-in field), `term`, `leader`.

use std::collections::BTreeMap;

use maud::{html, Markup, DOCTYPE};

use super::map;
use super::projection::{ConsoleView, NodeView, RegionView};
use super::REFRESH_S;
use crate::http::cluster_json::{DrainOut, MaintenanceIn, MemberIn, NodeFacts};
use crate::http::assets::{href, ICON_SVG, OPS_CSS, OPS_JS, SWEDEN_LICENSE, SWEDEN_SVG};

fn layout(title: &str, live: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · svea operator console" }
                link rel="icon" type="image/svg+xml" href=(href(&ICON_SVG));
                link rel="stylesheet" href=(href(&OPS_CSS));
                @if live {
                    noscript { meta http-equiv="refresh" content=(REFRESH_S); }
                    script src=(href(&OPS_JS)) defer {}
                }
            }
            // The script polls at the same period as the meta refresh: one constant, read from here.
            body data-refresh-s=(REFRESH_S) {
                (body)
                footer {
                    p {
                        "Map: Made with Natural Earth (public domain), 1:50m Admin 0 countries, via world-atlas 2.0.2. "
                        a href=(href(&SWEDEN_LICENSE)) { "Licence" }
                    }
                }
            }
        }
    }
}

/// The sign-in form, with what went wrong with the last attempt.
pub fn sign_in(error: Option<&str>) -> Markup {
    layout("Sign in", false, html! {
        main.narrow {
            h1 { "svea operator console" }
            @if let Some(e) = error { p.result.error role="alert" { (e) } }
            form method="post" action="/ops/sign-in" {
                label for="operator-token" { "Operator token (" code { "[operator] token" } ")" }
                input #operator-token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        }
    })
}

fn counts(c: &BTreeMap<String, u64>) -> String {
    if c.values().all(|n| *n == 0) {
        return "none".into();
    }
    c.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn lag(n: &NodeView) -> String {
    n.lag.map_or_else(|| "unknown".into(), |l| l.to_string())
}

fn role(n: &NodeView) -> String {
    let mut r = if n.leader { format!("leader ({})", n.role) } else { n.role.clone() };
    if n.draining {
        r.push_str(", draining");
    }
    r
}

/// `3 d 4 h`, `2 h 5 min`, `42 s`: an uptime at a glance.
fn uptime(s: u64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// Bytes in binary units, one decimal: `48.2 MiB`.
fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Server errors of the last minute: `0 of 120`, `3 of 120 (2.5 %)`.
fn errors(f: &NodeFacts) -> String {
    if f.errors_last_minute == 0 {
        return format!("0 of {}", f.answers_last_minute);
    }
    let pct = f.errors_last_minute as f64 * 100.0 / f.answers_last_minute.max(1) as f64;
    format!("{} of {} ({pct:.1} %)", f.errors_last_minute, f.answers_last_minute)
}

/// The revision, short enough for a table cell.
fn short_revision(r: &str) -> &str {
    r.get(..12).unwrap_or(r)
}

fn routed(n: &NodeView) -> String {
    n.routed_last_minute.as_ref().map_or_else(|| "no answer".into(), counts)
}

fn marker(r: &RegionView) -> Markup {
    html! {
        g id={ "region-" (r.name) } class={ "region " (r.health) } data-health=(r.health) {
            circle cx=(format!("{:.1}", r.x)) cy=(format!("{:.1}", r.y)) r="7" {}
            text x=(format!("{:.1}", r.x + 10.0)) y=(format!("{:.1}", r.y + 4.0)) { (r.name) }
        }
    }
}

/// The signed-in console.
pub fn console(v: &ConsoleView, outcome: Option<&Result<String, String>>) -> Markup {
    let (w, h) = map::size();
    let view_box = format!("0 0 {w:.1} {h:.1}");
    layout("Cluster", true, html! {
        header {
            h1 { "svea · " (v.cluster) }
            // The build of the node answering: what an operator quotes when reporting a problem.
            p #build { "version " strong #version { (crate::VERSION) } " · revision " code #revision { (crate::REVISION) } }
            form method="post" action="/ops/sign-out" { button type="submit" { "Sign out" } }
        }
        main {
            (result(outcome))
            p #summary {
                "Node " strong { (v.node) } " answering · term " strong #term { (v.term) }
                " · leader " strong #leader { (v.leader.map_or_else(|| "none".into(), |l| l.to_string())) }
                " · " a href="/ops" { "Refresh" } " " span #live {}
            }
            div.grid {
                figure.map {
                    svg #map viewBox=(view_box) role="img" aria-label="Map of Sweden with the cluster's regions" {
                        image href=(href(&SWEDEN_SVG)) x="0" y="0" width=(format!("{w:.1}")) height=(format!("{h:.1}")) {}
                        @for r in &v.regions { (marker(r)) }
                    }
                    figcaption { "Green: a region with a healthy node. Red: down." }
                }
                div {
                    h2 { "Regions" }
                    table #regions {
                        thead { tr { th { "Region" } th { "Health" } th { "Member node ids" } th { "Customers routed here, last " (v.routed_window_s) " s" } } }
                        tbody {
                            @for r in &v.regions {
                                tr id={ "region-row-" (r.name) } data-health=(r.health) {
                                    td { (r.name) }
                                    td.health { (r.health) }
                                    td.members { (r.nodes.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(", ")) }
                                    td.routed { (r.routed_last_minute) }
                                }
                            }
                        }
                    }
                }
            }
            h2 #h-nodes { "Nodes" }
            // Wide on a desktop too (a column per fact): it scrolls sideways inside its frame
            // rather than widening the page; the frame takes keyboard focus so it can be scrolled.
            div.scroll tabindex="0" role="region" aria-labelledby="h-nodes" {
                    table #nodes {
                        thead { tr { th { "Node" } th { "Region" } th { "Health" } th { "Role" } th { "Version" } th { "Uptime" } th { "Disk" } th { "Server errors, last minute" } th { "Its term · leader" } th { "Lag" } th { "Actors" } th { "Routed by it, last minute" } th { "Actions" } } }
                        tbody {
                            @for n in &v.nodes {
                                tr id={ "node-" (n.id) } data-health=(n.health) {
                                    // `data-label`: a phone shows each row as a card, a cell per line with its header.
                                    td data-label="Node" { (n.id) }
                                    td data-label="Region" { (n.region) }
                                    td.health data-label="Health" { (n.health) }
                                    td.role data-label="Role" { (role(n)) }
                                    @match &n.facts {
                                        Some(f) => {
                                            td.version data-label="Version" { (f.version) " " code title=(f.revision) { (short_revision(&f.revision)) } }
                                            td.uptime data-label="Uptime" { (uptime(f.uptime_s)) }
                                            td.disk data-label="Disk" { (f.disk_bytes.map_or_else(|| "unreadable".into(), bytes)) }
                                            td.errors data-label="Server errors, last minute" data-errors=(f.errors_last_minute) { (errors(f)) }
                                            td.view data-label="Its term · leader" { (f.term) " · " (f.leader.map_or_else(|| "none".into(), |l| format!("#{l}"))) }
                                        }
                                        None => {
                                            @for (class, label) in [("version", "Version"), ("uptime", "Uptime"), ("disk", "Disk"), ("errors", "Server errors, last minute"), ("view", "Its term · leader")] {
                                                td class=(class) data-label=(label) { "no answer" }
                                            }
                                        }
                                    }
                                    td.lag data-label="Lag" { (lag(n)) }
                                    td.actors data-label="Actors" { (counts(&n.actors)) }
                                    td.routed data-label="Routed, last minute" { (routed(n)) }
                                    td.actions data-label="Actions" {
                                        form method="post" action={ "/ops/nodes/" (n.id) "/drain" } { button type="submit" { "Drain" } }
                                        form method="post" action={ "/ops/nodes/" (n.id) "/remove" } { button type="submit" { "Remove" } }
                                    }
                                }
                            }
                        }
                    }
            }
            div {
                    @if let Some(e) = &v.replication_error { p.note { "Replication lag unknown: " (e) } }
                    h2 #h-payouts { "Cashback payouts" }
                    p.note { "Rail " strong #payout-rail { (v.payouts.rail) } ". In flight cluster-wide as this node last saw them; started, paid and failed by wallets this node owns since it started." }
                    table #payouts {
                        thead { tr { th { "In flight" } th { "Stuck" } th { "Started" } th { "Paid" } th { "Failed" } } }
                        tbody {
                            tr data-health=(if v.payouts.stuck > 0 || v.payouts.failed > 0 { "down" } else { "up" }) {
                                td #payouts-in-flight data-label="In flight" { (v.payouts.in_flight) }
                                td #payouts-stuck data-label="Stuck" { (v.payouts.stuck) }
                                td #payouts-started data-label="Started" { (v.payouts.started) }
                                td #payouts-paid data-label="Paid" { (v.payouts.paid) }
                                td #payouts-failed data-label="Failed" { (v.payouts.failed) }
                            }
                        }
                    }
                    p.note { "Drain works from any node's console: it is sent to the node it drains, which hands its actors off, leaves and stops. Remove is for a node that is down." }
            }
            (maintenance_form(v))
            (add_form())
        }
    })
}

fn maintenance_form(v: &ConsoleView) -> Markup {
    let m = &v.maintenance;
    html! {
        section #maintenance data-on=(if m.on { "on" } else { "off" }) {
            h2 { "Maintenance mode" }
            @if m.on {
                p.result.error role="status" #maintenance-state {
                    "On: customers get 503 with Retry-After " (m.retry_after_s.unwrap_or_default()) " s and the message: "
                    q { (m.message.clone().unwrap_or_default()) }
                }
                form method="post" action="/ops/maintenance" {
                    input type="hidden" name="on" value="off";
                    button type="submit" { "Switch maintenance off…" }
                }
            } @else {
                p #maintenance-state { "Off: customers are served." }
                form.add method="post" action="/ops/maintenance" {
                    input type="hidden" name="on" value="on";
                    label for="maintenance-message" { "Message customers see (Swedish and English)" }
                    textarea #maintenance-message name="message" rows="2" maxlength=(crate::core::operator::MAINTENANCE_MESSAGE_CHARS_MAX) placeholder="Vi uppgraderar svea till kl. 06:00. / We are upgrading until 06:00." {}
                    label for="maintenance-retry" { "Customers retry after (seconds)" }
                    input #maintenance-retry name="retry_after_s" type="number" min="1" max=(crate::core::operator::MAINTENANCE_RETRY_AFTER_S_MAX) placeholder=(crate::core::operator::MAINTENANCE_RETRY_AFTER_S_DEFAULT);
                    button type="submit" { "Switch maintenance on…" }
                }
            }
        }
    }
}

fn add_form() -> Markup {
    html! {
        details {
            summary { "Add a node" }
            form.add method="post" action="/ops/nodes" {
                p.note { "The new node runs with the cluster's config and is not a member yet (" code { "GET /v1/cluster/self" } " on it gives these values)." }
                @for (name, label, hint) in [("id", "Node id", "4"), ("region", "Region", "stockholm"), ("raft_addr", "Raft (QUIC) address", "10.0.0.4:7000"), ("http_addr", "HTTP address", "10.0.0.4:8080"), ("public_url", "Public URL", "https://sto2.example.se")] {
                    label for={ "add-" (name) } { (label) }
                    input id={ "add-" (name) } name=(name) placeholder=(hint) required;
                }
                button type="submit" { "Add…" }
            }
        }
    }
}

fn result(outcome: Option<&Result<String, String>>) -> Markup {
    html! {
        @match outcome {
            Some(Ok(done)) => p.result.ok role="status" { (done) },
            Some(Err(e)) => p.result.error role="alert" { (e) },
            None => {},
        }
    }
}

/// The console when the status could not be gathered (no leader to ask, say).
pub fn console_unavailable(error: &str, outcome: Option<&Result<String, String>>) -> Markup {
    layout("Cluster", true, html! {
        main {
            (result(outcome))
            p.result.error role="alert" { "The cluster status is unavailable: " (error) }
            p { a href="/ops" { "Try again" } }
        }
    })
}

fn confirm(title: &str, what: Markup, action: &str, fields: &[(&str, String)]) -> Markup {
    layout(title, false, html! {
        main.narrow {
            h1 { (title) }
            (what)
            form method="post" action=(action) {
                @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
                input type="hidden" name="confirm" value="yes";
                button type="submit" { (title) }
                " "
                a href="/ops" { "Cancel" }
            }
        }
    })
}

/// Asks before adding `m`.
pub fn confirm_add(m: &MemberIn) -> Markup {
    let fields = [
        ("id", m.id.to_string()),
        ("region", m.region.clone()),
        ("raft_addr", m.raft_addr.clone()),
        ("http_addr", m.http_addr.clone()),
        ("public_url", m.public_url.clone()),
    ];
    let what = html! { p { "Node " (m.id) " in " (m.region) " (" (m.raft_addr) ", " (m.public_url) ") joins as a learner, catches up with the log, then becomes a voter." } };
    confirm(&format!("Add node {}", m.id), what, "/ops/nodes", &fields)
}

/// Asks before draining node `id` (`here`: the node serving this console, whose console then ends).
pub fn confirm_drain(id: u64, here: bool) -> Markup {
    let what = html! {
        p { "Node " (id) " stops taking new actors, hands every actor it owns to another node, hands leadership away if it leads, leaves the cluster and stops." }
        @if here { p { "It is the node serving this console: open another node's console afterwards." } }
        @else { p { "The drain is sent to node " (id) " and this console waits for its report." } }
    };
    confirm(&format!("Drain node {id}"), what, &format!("/ops/nodes/{id}/drain"), &[])
}

/// Asks before switching maintenance mode.
pub fn confirm_maintenance(m: &MaintenanceIn) -> Markup {
    let fields = [
        ("on", if m.on { "on" } else { "off" }.to_owned()),
        ("message", m.message.clone().unwrap_or_default()),
        ("retry_after_s", m.retry_after_s.map(|s| s.to_string()).unwrap_or_default()),
    ];
    let what = if m.on {
        html! {
            p { "Every customer request in every region is answered 503 with Retry-After "
                (m.retry_after_s.unwrap_or(crate::core::operator::MAINTENANCE_RETRY_AFTER_S_DEFAULT)) " s and this message:" }
            blockquote { (m.message.clone().unwrap_or_default()) }
        }
    } else {
        html! { p { "Customers are served again in every region." } }
    };
    confirm(if m.on { "Switch maintenance on" } else { "Switch maintenance off" }, what, "/ops/maintenance", &fields)
}

/// What the console says after another node drained at its request.
pub fn drained_elsewhere(report: &DrainOut) -> String {
    let mut s = format!("Node {} drained: {} actors handed off", report.node, report.handed_off);
    if let Some(to) = report.leadership_moved_to {
        s.push_str(&format!(", leadership moved to node {to}"));
    }
    s.push_str("; it left the cluster and stops now.");
    s
}

/// Asks before removing node `id`.
pub fn confirm_remove(id: u64) -> Markup {
    let what = html! { p { "Node " (id) " leaves the membership. Only for a node that is down: a reachable node is refused (drain it instead)." } };
    confirm(&format!("Remove node {id}"), what, &format!("/ops/nodes/{id}/remove"), &[])
}

/// After this node drained: it has left and stops in a moment.
pub fn drained(report: &DrainOut) -> Markup {
    layout("Drained", false, html! {
        main.narrow {
            p.result.ok role="status" {
                "Node " (report.node) " drained: " (report.handed_off) " actors handed off"
                @if let Some(to) = report.leadership_moved_to { ", leadership moved to node " (to) }
                "; it left the cluster and stops now."
            }
            p { "Open another node's console to see the cluster." }
        }
    })
}

/// A form that was refused before anything happened (posted from another site).
pub fn refused(error: &str) -> Markup {
    layout("Refused", false, html! {
        main.narrow {
            p.result.error role="alert" { (error) }
            p { a href="/ops" { "Back to the console" } }
        }
    })
}
