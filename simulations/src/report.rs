//! What a chaos run reports: availability per second, time to recover, the checker's verdict; as
//! JSON, as a human summary, and as an SVG timeline (written by hand, no plotting crate).
//!
//! Operations are counted in the second they completed (an invocation that never completed, in
//! the second it was invoked, as `info`). Availability of a second is its `ok` operations over all
//! operations that completed in it; a second in which nothing completed has availability 0. Time
//! to recover is measured on *write* availability: clients read through a random node, so reads
//! sent to a dead node fail for the whole fault by design, while a phone's writes move to a live
//! region after a failure, which is what service recovering means.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::checker::{AnomalyKind, Verdict};
use crate::history::{EventType, Operation};

/// A second counts as available when at least this share of its operations succeeded.
pub const AVAILABLE_SHARE_MIN: f64 = 0.9;

/// A phase of the run (warm-up, fault, heal), in microseconds since the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// `warm-up`, `fault` or `heal`.
    pub name: String,
    /// Start.
    pub start_us: u64,
    /// End.
    pub end_us: u64,
}

/// A moment worth marking on the timeline (a signal sent, a partition switched, a node ready).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// When.
    pub at_us: u64,
    /// What happened.
    pub label: String,
}

/// Completions in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// Acknowledged operations.
    pub ok: u64,
    /// Certainly failed operations.
    pub fail: u64,
    /// Unknown outcomes.
    pub info: u64,
    /// Acknowledged writes (a subset of `ok`).
    pub writes_ok: u64,
    /// All writes (a subset of all).
    pub writes: u64,
}

impl Second {
    /// All operations that completed in this second.
    pub fn total(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    /// `ok / total`, 0 when nothing completed.
    pub fn availability(&self) -> f64 {
        share(self.ok, self.total())
    }

    /// `writes_ok / writes`, 0 when no write completed.
    pub fn write_availability(&self) -> f64 {
        share(self.writes_ok, self.writes)
    }
}

fn share(part: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        part as f64 / all as f64
    }
}

/// Buckets operations by the second they completed, up to `end_us`.
pub fn per_second(ops: &[Operation], end_us: u64) -> Vec<Second> {
    let n = usize::try_from(end_us.div_ceil(1_000_000))
        .unwrap_or(usize::MAX)
        .max(1);
    let mut out = vec![Second::default(); n];
    for o in ops {
        let at = o.complete_us.unwrap_or(o.invoke_us);
        let i = usize::try_from(at / 1_000_000)
            .unwrap_or(usize::MAX)
            .min(n - 1);
        let s = &mut out[i];
        match o.outcome {
            EventType::Ok => s.ok += 1,
            EventType::Fail => s.fail += 1,
            _ => s.info += 1,
        }
        if o.op.is_write() {
            s.writes += 1;
            if o.outcome == EventType::Ok {
                s.writes_ok += 1;
            }
        }
    }
    out
}

/// Seconds from `phase.start_us` until write availability is back for good within the phase: the
/// end of the last second overlapping the phase whose write availability is below
/// [`AVAILABLE_SHARE_MIN`] (0 when there is none). `None` when the phase's last whole second is
/// still unavailable.
pub fn time_to_recover(seconds: &[Second], phase: &Phase) -> Option<f64> {
    let first = usize::try_from(phase.start_us / 1_000_000).ok()?;
    // The last whole second of the phase.
    let last = usize::try_from(phase.end_us / 1_000_000)
        .ok()?
        .checked_sub(1)?
        .min(seconds.len().checked_sub(1)?);
    if first > last {
        return Some(0.0);
    }
    let bad = (first..=last)
        .rev()
        .find(|i| seconds[*i].write_availability() < AVAILABLE_SHARE_MIN);
    match bad {
        None => Some(0.0),
        Some(i) if i == last => None,
        Some(i) => Some(((i as u64 + 1) * 1_000_000).saturating_sub(phase.start_us) as f64 / 1e6),
    }
}

/// Everything a chaos run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The fault's name (`region-loss`, ...).
    pub fault: String,
    /// The region it hit.
    pub region: String,
    /// Client randomness.
    pub seed: u64,
    /// Client processes.
    pub clients: u64,
    /// Warm-up, fault, heal.
    pub phases: Vec<Phase>,
    /// Signals, partitions, restarts.
    pub marks: Vec<Mark>,
    /// Per second of the run.
    pub seconds: Vec<Second>,
    /// The checker's verdict.
    pub verdict: Verdict,
    /// The operations (for citing anomalies).
    pub operations: Vec<Operation>,
    /// Acknowledged writes invoked during the fault phase.
    pub writes_ok_during_fault: u64,
    /// How the nodes stopped, and other remarks.
    pub notes: Vec<String>,
    /// The command that repeats this run.
    pub repro: String,
}

impl RunReport {
    /// A phase by name.
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Seconds from the fault until availability is back for good (see [`time_to_recover`]).
    pub fn time_to_recover_s(&self) -> Option<f64> {
        self.phase("fault")
            .and_then(|p| time_to_recover(&self.seconds, p))
    }

    /// The same for the heal phase (a restarted or resumed node can cause a second blip).
    pub fn heal_time_to_recover_s(&self) -> Option<f64> {
        self.phase("heal")
            .and_then(|p| time_to_recover(&self.seconds, p))
    }

    /// The seconds overlapping the phase.
    pub fn seconds_in(&self, name: &str) -> &[Second] {
        let Some(p) = self.phase(name) else {
            return &[];
        };
        let first = (p.start_us / 1_000_000) as usize;
        let last = (p.end_us.div_ceil(1_000_000) as usize).min(self.seconds.len());
        self.seconds.get(first..last).unwrap_or_default()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "fault": self.fault,
            "region": self.region,
            "seed": self.seed,
            "clients": self.clients,
            "repro": self.repro,
            "phases": self.phases.iter().map(|p| json!({"name": p.name, "start_s": p.start_us as f64 / 1e6, "end_s": p.end_us as f64 / 1e6})).collect::<Vec<_>>(),
            "marks": self.marks.iter().map(|m| json!({"at_s": m.at_us as f64 / 1e6, "label": m.label})).collect::<Vec<_>>(),
            "per_second": self.seconds.iter().enumerate().map(|(i, s)| json!({
                "second": i, "ok": s.ok, "fail": s.fail, "info": s.info,
                "writes_ok": s.writes_ok, "writes": s.writes, "availability": s.availability(),
                "write_availability": s.write_availability(),
            })).collect::<Vec<_>>(),
            "time_to_recover_s": self.time_to_recover_s(),
            "heal_time_to_recover_s": self.heal_time_to_recover_s(),
            "available_share_min": AVAILABLE_SHARE_MIN,
            "writes_ok_during_fault": self.writes_ok_during_fault,
            "lost_writes": self.verdict.count(AnomalyKind::LostWrite),
            "checker": self.verdict.to_json(&self.operations),
            "notes": self.notes,
        })
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let v = &self.verdict;
        let _ = writeln!(
            s,
            "chaos {} --region {} --seed {}: {} client processes",
            self.fault, self.region, self.seed, self.clients
        );
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|p| {
                format!(
                    "{} {:.1}-{:.1} s",
                    p.name,
                    p.start_us as f64 / 1e6,
                    p.end_us as f64 / 1e6
                )
            })
            .collect();
        let _ = writeln!(s, "phases: {}", phases.join(", "));
        for m in &self.marks {
            let _ = writeln!(s, "  {:>6.2} s  {}", m.at_us as f64 / 1e6, m.label);
        }
        let _ = writeln!(
            s,
            "operations: {} (writes: {} ok, {} failed, {} unknown outcome; {} acknowledged reads checked; {} sessions)",
            v.operations, v.writes_ok, v.writes_failed, v.writes_info, v.reads_checked, v.sessions
        );
        for name in ["fault", "heal"] {
            let pct = |f: fn(&Second) -> f64| -> String {
                let v: Vec<String> = self
                    .seconds_in(name)
                    .iter()
                    .map(|x| format!("{:.0}", f(x) * 100.0))
                    .collect();
                v.join(" ")
            };
            let _ = writeln!(
                s,
                "availability per second during {name} (%): writes {}",
                pct(Second::write_availability)
            );
            let _ = writeln!(
                s,
                "{:>width$} all operations {}",
                "",
                pct(Second::availability),
                width = 36 + name.len()
            );
        }
        let ttr =
            |t: Option<f64>| t.map_or("not within the phase".to_owned(), |t| format!("{t:.1} s"));
        let _ = writeln!(
            s,
            "time to recover (write availability >= {:.0}% for good): {} after the fault began, {} after the heal began",
            AVAILABLE_SHARE_MIN * 100.0,
            ttr(self.time_to_recover_s()),
            ttr(self.heal_time_to_recover_s())
        );
        let _ = writeln!(
            s,
            "acknowledged writes invoked during the fault: {}",
            self.writes_ok_during_fault
        );
        if v.is_valid() {
            let _ = writeln!(s, "checker: valid; lost: nothing (0 lost writes, 0 duplicated effects, 0 stale reads, 0 never-written values)");
        } else {
            let _ = writeln!(s, "checker: {} ANOMALIES", v.anomalies.len());
            for kind in [
                AnomalyKind::LostWrite,
                AnomalyKind::DuplicatedEffect,
                AnomalyKind::StaleRead,
                AnomalyKind::NeverWritten,
                AnomalyKind::Divergence,
                AnomalyKind::FinalReadFailed,
                AnomalyKind::MalformedHistory,
            ] {
                let n = v.count(kind);
                if n > 0 {
                    let _ = writeln!(s, "  {kind}: {n}");
                }
            }
            for a in v.anomalies.iter().take(10) {
                let _ = writeln!(
                    s,
                    "  - {} {}: {} (operations {:?})",
                    a.kind, a.subject, a.detail, a.ops
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(s, "repro: {}", self.repro);
        s
    }

    /// The timeline: stacked bars per second (ok green, unknown orange, failed red), the fault
    /// phase shaded, marks as dashed lines.
    pub fn svg(&self) -> String {
        const W: f64 = 960.0;
        const H: f64 = 360.0;
        const LEFT: f64 = 56.0;
        const RIGHT: f64 = 16.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 110.0;
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let n = self.seconds.len().max(1) as f64;
        let max = self
            .seconds
            .iter()
            .map(Second::total)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let x_of = |t_s: f64| LEFT + plot_w * t_s / n;
        let y_of = |count: f64| TOP + plot_h - plot_h * count / max;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="20" font-size="14">chaos {} ({}), seed {}: operations per second by outcome</text>"#,
            xml(&self.fault),
            xml(&self.region),
            self.seed
        );
        if let Some(p) = self.phase("fault") {
            let (x0, x1) = (x_of(p.start_us as f64 / 1e6), x_of(p.end_us as f64 / 1e6));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#fde2e2"/>"##,
                x1 - x0
            );
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="#b00">fault</text>"##,
                x0 + 3.0,
                TOP + 12.0
            );
        }
        let bar_w = (plot_w / n * 0.8).max(1.0);
        for (i, sec) in self.seconds.iter().enumerate() {
            let x = x_of(i as f64) + plot_w / n * 0.1;
            let mut base = 0.0;
            for (count, color) in [
                (sec.ok, "#2e9d48"),
                (sec.info, "#f0a020"),
                (sec.fail, "#d03030"),
            ] {
                if count == 0 {
                    continue;
                }
                let (y_top, y_bottom) = (y_of(base + count as f64), y_of(base));
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y_top:.1}" width="{bar_w:.1}" height="{:.1}" fill="{color}"><title>{i} s: {} ok, {} unknown, {} failed</title></rect>"#,
                    y_bottom - y_top,
                    sec.ok,
                    sec.info,
                    sec.fail
                );
                base += count as f64;
            }
        }
        // Axes, ticks.
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="black"/>"#,
            TOP + plot_h
        );
        let step = ((n / 12.0).ceil() as usize).max(1);
        for t in (0..=self.seconds.len()).step_by(step) {
            let x = x_of(t as f64);
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{t}</text>"#,
                TOP + plot_h + 14.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since start</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h + 28.0
        );
        for frac in [0.0, 0.5, 1.0] {
            let v = (max * frac).round();
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
                LEFT - 4.0,
                y_of(v) + 4.0
            );
        }
        // Marks, with their labels in a list below the axis so they never overlap.
        for (k, m) in self.marks.iter().enumerate() {
            let x = x_of(m.at_us as f64 / 1e6);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="4 3"/>"##,
                TOP + plot_h
            );
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                TOP - 2.0,
                k + 1
            );
            let _ = writeln!(
                s,
                r#"<text x="{LEFT}" y="{:.1}" font-size="10">{}: {:.1} s {}</text>"#,
                TOP + plot_h + 44.0 + 12.0 * (k % 5) as f64,
                k + 1,
                m.at_us as f64 / 1e6,
                xml(&m.label)
            );
        }
        // Legend.
        let lx = LEFT + plot_w - 250.0;
        for (j, (label, color)) in [
            ("ok", "#2e9d48"),
            ("unknown (info)", "#f0a020"),
            ("failed", "#d03030"),
        ]
        .iter()
        .enumerate()
        {
            let x = lx + 85.0 * j as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{color}"/>"#,
                H - 22.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
                x + 14.0,
                H - 13.0
            );
        }
        let verdict = if self.verdict.is_valid() {
            "checker: valid, nothing lost".to_owned()
        } else {
            format!("checker: {} anomalies", self.verdict.anomalies.len())
        };
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{:.1}">{}</text>"#,
            H - 13.0,
            xml(&verdict)
        );
        s.push_str("</svg>\n");
        s
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second of writes only.
    fn sec(ok: u64, fail: u64) -> Second {
        Second {
            ok,
            fail,
            info: 0,
            writes_ok: ok,
            writes: ok + fail,
        }
    }

    #[test]
    fn recovery_is_the_end_of_the_last_bad_second_of_the_phase() {
        let seconds = [
            sec(10, 0),
            sec(2, 8),
            sec(0, 0),
            sec(9, 1),
            sec(10, 0),
            sec(10, 0),
        ];
        let fault = Phase {
            name: "fault".into(),
            start_us: 1_500_000,
            end_us: 6_000_000,
        };
        // Second 2 (nothing completed) is the last bad one: recovered at 3.0 s, 1.5 s after the fault.
        assert_eq!(time_to_recover(&seconds, &fault), Some(1.5));
        let calm = Phase {
            name: "heal".into(),
            start_us: 3_000_000,
            end_us: 6_000_000,
        };
        assert_eq!(time_to_recover(&seconds, &calm), Some(0.0));
        let never = Phase {
            name: "fault".into(),
            start_us: 0,
            end_us: 3_000_000,
        };
        assert_eq!(time_to_recover(&seconds, &never), None);
    }

    #[test]
    fn availability_of_an_empty_second_is_zero() {
        assert_eq!(Second::default().availability(), 0.0);
        assert_eq!(sec(9, 1).availability(), 0.9);
    }

    #[test]
    fn labels_are_escaped_in_the_svg() {
        assert_eq!(xml("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
