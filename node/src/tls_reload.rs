//! Certificates served anew without a restart: the QUIC identity (`[tls]`) and the public
//! listener's HTTPS certificate (`[http] tls_cert` / `tls_key`) are looked at every
//! `tls.reload_interval_ms` and at once on SIGHUP. A changed certificate is presented from the
//! next handshake on (`svea_cluster::tls::CertSlot`, which rustls asks at every handshake);
//! connections already open keep theirs, so nothing is dropped. A new file that does not load
//! (half written, a key that does not fit, another node's certificate) is refused with a log line
//! and the current certificate stays.

use std::time::Duration;

use svea_cluster::tls::TlsError;
use tokio::signal::unix::{signal, SignalKind};

/// One certificate to keep current.
pub struct Watched {
    /// What it is, for the log (`quic`, `https`).
    pub what: &'static str,
    /// Re-reads its files; whether the certificate changed.
    pub reload: Box<dyn Fn() -> Result<bool, TlsError> + Send>,
    /// The SHA-256 of the leaf it presents now, for the log.
    pub fingerprint: Box<dyn Fn() -> String + Send>,
    /// Called after a new certificate was taken: refreshes its expiry gauge
    /// (`svea_tls_cert_expiry_timestamp_seconds`), so the alerts see the rotated certificate.
    pub reloaded: Box<dyn Fn() + Send>,
}

/// Why a look at the files happened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Poll,
    Hangup,
}

/// Watches `items` until the task is aborted: every `interval`, and on SIGHUP.
pub async fn watch(items: Vec<Watched>, interval: Duration) {
    // Without a SIGHUP handler the polling still runs (and SIGHUP keeps its default action).
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler: certificates are reloaded by polling only");
            None
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: the files were just loaded
    // The last refusal of each item: a file that stays bad is logged once, not every interval.
    let mut refused: Vec<Option<String>> = items.iter().map(|_| None).collect();
    loop {
        let trigger = tokio::select! {
            _ = tick.tick() => Trigger::Poll,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => Trigger::Hangup,
        };
        for (item, last) in items.iter().zip(refused.iter_mut()) {
            check(item, last, trigger);
        }
    }
}

fn check(item: &Watched, last_refusal: &mut Option<String>, trigger: Trigger) {
    let on = if trigger == Trigger::Hangup { "sighup" } else { "poll" };
    match (item.reload)() {
        Ok(true) => {
            *last_refusal = None;
            (item.reloaded)();
            tracing::info!(event = "tls_reload", what = item.what, sha256 = %(item.fingerprint)(), trigger = on, "new certificate served from the next handshake on");
        }
        Ok(false) => {
            *last_refusal = None;
            if trigger == Trigger::Hangup {
                tracing::info!(event = "tls_reload", what = item.what, sha256 = %(item.fingerprint)(), "certificate unchanged");
            }
        }
        Err(e) => {
            let reason = e.to_string();
            if trigger == Trigger::Hangup || last_refusal.as_deref() != Some(reason.as_str()) {
                tracing::warn!(event = "tls_reload", what = item.what, error = %reason, trigger = on, "new certificate refused; the current one stays");
            }
            *last_refusal = Some(reason);
        }
    }
}
