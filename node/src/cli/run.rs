//! `svea run`: one node for real: the core on its thread, actix-web at the edge. Two listeners:
//! the public one (`node.http_addr`, HTTPS when `[http] tls_cert` / `tls_key` are set) and, when
//! an operator token is configured, the operator one (`operator.listen_addr`, loopback); a third,
//! serving only `/metrics`, when `operator.metrics_listen_addr` is set.

use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use svea_config::Config;

use crate::core::RunningNode;
use crate::http;
use crate::http::security::{self, Https};

/// HTTP worker threads. The core does the work; workers only parse and forward.
pub const HTTP_WORKERS: usize = 2;
/// Worker threads of the operator listener: a handful of operator calls at a time.
pub const OPERATOR_WORKERS: usize = 1;

/// Runs one node until SIGINT or SIGTERM, then drains HTTP, stops actors and Raft, and flushes.
pub fn run(config: Config) -> anyhow::Result<()> {
    let http_addr = config.node.http_addr;
    let grace = config.timeouts.shutdown_grace;
    let region = config.node.region.to_string();
    let id = config.node.id;
    let tls_reload_interval = config.tls.reload_interval;
    // Read the HTTPS files before starting anything: a wrong path or a key that does not fit is
    // a startup error naming the file.
    let https = match &config.http.tls {
        Some(files) => Some(
            svea_cluster::tls::https_server_config(&files.cert, &files.key)
                .context("cannot serve https with [http] tls_cert / tls_key")?,
        ),
        None => None,
    };
    let operator_addr = config.operator.token.is_some().then_some(config.operator.listen_addr);
    let metrics_addr = config.operator.metrics_listen_addr;
    let https_cert = config.http.tls.as_ref().map(|files| files.cert.clone());
    let node = RunningNode::spawn(config)?;
    if let Some(cert) = &https_cert {
        crate::core::record_cert_expiry(node.handle.telemetry().events(), crate::telemetry::CertKind::Https, cert);
    }
    let handle = node.handle.clone();
    let system = actix_web::rt::System::new();
    let exit = crate::http::operator::ExitHandle::default();
    let served = system.block_on(async move {
        let (name, value) = http::region_header(&handle);
        // One set of buckets for every worker: the limit is per address and node, not per worker.
        let limiter = {
            let c = handle.config();
            web::Data::new(http::ratelimit::AddressLimiter::new(&c.abuse, c.geo.trusted_proxies.clone()))
        };
        // The sign-up bucket, the same way: per address and node.
        let signup = {
            let c = handle.config();
            web::Data::new(http::ratelimit::SignupLimiter::new(&c.signup, c.abuse.prune_interval, c.geo.trusted_proxies.clone()))
        };
        // Sign-in links by e-mail (issue 23): per client address and per e-mail address.
        let signin_links = {
            let c = handle.config();
            web::Data::new(http::ratelimit::SigninLinkLimiter::new(c.abuse.prune_interval, c.geo.trusted_proxies.clone()))
        };
        // Slow clients (issue 20): the whole request within the read deadline, the head within
        // its first half (actix's own timer), the body within the second half after the head
        // (`http::deadline`), and at most so many connections per address, counted as each
        // connection opens and uncounted as it closes.
        let (head_timeout, body_timeout) = http::deadline::split(handle.config().http.request_read_timeout);
        let deadline = web::Data::new(http::deadline::ReadDeadline(body_timeout));
        let connections = http::deadline::Connections::new(handle.config().http.connections_per_address_max, handle.config().geo.trusted_proxies.clone());
        let privacy_limiter = {
            let c = handle.config();
            web::Data::new(http::ratelimit::PrivacyLimiter::new(&c.abuse, c.geo.trusted_proxies.clone()))
        };
        let is_https = web::Data::new(Https(https.is_some()));
        let public = {
            let (h, name, value, is_https) = (handle.clone(), name.clone(), value.clone(), is_https.clone());
            HttpServer::new(move || {
                let h = h.clone();
                App::new()
                    .app_data(limiter.clone())
                    .app_data(signup.clone())
                    .app_data(signin_links.clone())
                    .app_data(deadline.clone())
                    .app_data(privacy_limiter.clone())
                    .wrap(from_fn(http::maintenance::gate))
                    .wrap(from_fn(http::ratelimit::limit))
                    .wrap(from_fn(http::deadline::body))
                    .wrap(from_fn(security::headers))
                    .wrap(DefaultHeaders::new().add((name.clone(), value.clone())))
                    .wrap(from_fn(http::observe::observe))
                    .app_data(is_https.clone())
                    .configure(move |c| http::configure(h, c))
            })
            .on_connect(move |conn, ext| {
                if let Some(slot) = http::deadline::peer_of(conn).and_then(|peer| connections.admit(peer)) {
                    ext.insert(slot);
                }
            })
            .client_request_timeout(head_timeout)
            .workers(HTTP_WORKERS)
            .shutdown_timeout(grace.as_secs().max(1))
        };
        let (public, https_watch) = match https {
            Some((tls, cert)) => {
                // New connections get a rotated certificate; open ones keep theirs.
                let shown = cert.clone();
                let events = handle.telemetry().events().clone();
                let cert_file = https_cert.clone();
                let item = crate::tls_reload::Watched {
                    what: "https",
                    reload: Box::new(move || cert.reload()),
                    fingerprint: Box::new(move || shown.slot().fingerprint()),
                    reloaded: Box::new(move || {
                        if let Some(path) = &cert_file {
                            crate::core::record_cert_expiry(&events, crate::telemetry::CertKind::Https, path);
                        }
                    }),
                };
                (public.bind_rustls_0_23(http_addr, tls)?, Some(actix_web::rt::spawn(crate::tls_reload::watch(vec![item], tls_reload_interval))))
            }
            None => (public.bind(http_addr)?, None),
        };
        let public = public.run();
        exit.set(public.handle());
        // Drained at another node's request (a console or `svea cluster drain` sent there):
        // stop like a drain sent here does.
        let stop_on_request = {
            let (h, exit) = (handle.clone(), exit.clone());
            actix_web::rt::spawn(async move {
                h.stop_requested().await;
                exit.exit_soon();
            })
        };
        let header = (name, value);
        let operator = match operator_addr {
            Some(addr) => {
                let server = side_listener(&handle, &header, addr, "operator.listen_addr", Some(exit.clone()), head_timeout, grace, http::configure_operator)?;
                tracing::info!(node = %id, operator = %addr, "serving the operator api");
                Some(server)
            }
            None => None,
        };
        let metrics = match metrics_addr {
            Some(addr) => {
                let server = side_listener(&handle, &header, addr, "operator.metrics_listen_addr", None, head_timeout, grace, http::configure_metrics)?;
                tracing::info!(node = %id, metrics = %addr, "serving /metrics");
                Some(server)
            }
            None => None,
        };
        let scheme = if is_https.0 { "https" } else { "http" };
        tracing::info!(node = %id, region = %region, http = %http_addr, scheme, "serving HTTP");
        let others: Vec<_> = operator.into_iter().chain(metrics).map(|server| (server.handle(), actix_web::rt::spawn(server))).collect();
        let served = public.await;
        stop_on_request.abort();
        if let Some(w) = https_watch {
            w.abort();
        }
        // The public listener stopped (signal or drain): the operator and metrics ones go with it.
        for (handle, task) in others {
            handle.stop(true).await;
            let _ = task.await;
        }
        served
    });
    node.stop();
    served.map_err(|e| anyhow::anyhow!("http server on {http_addr}: {e}"))
}

/// A listener beside the public one (the operator listener, the metrics-only listener): security
/// headers, the region header and the access log like the public one, no request bucket (its
/// callers are operators and Prometheus, and every route there needs a token or holds no
/// secret), the same read deadline for the request head. `key` names the config key of `addr`
/// in a bind error.
#[allow(clippy::too_many_arguments)]
fn side_listener(
    handle: &crate::core::NodeHandle,
    (name, value): &(actix_web::http::header::HeaderName, actix_web::http::header::HeaderValue),
    addr: std::net::SocketAddr,
    key: &'static str,
    exit: Option<crate::http::operator::ExitHandle>,
    head_timeout: std::time::Duration,
    grace: std::time::Duration,
    configure: fn(crate::core::NodeHandle, &mut web::ServiceConfig),
) -> std::io::Result<actix_web::dev::Server> {
    let (h, name, value) = (handle.clone(), name.clone(), value.clone());
    let exit = exit.map(web::Data::new);
    let server = HttpServer::new(move || {
        let h = h.clone();
        let mut app = App::new()
            .wrap(from_fn(security::headers))
            .wrap(DefaultHeaders::new().add((name.clone(), value.clone())))
            .wrap(from_fn(http::observe::observe));
        if let Some(exit) = &exit {
            app = app.app_data(exit.clone());
        }
        app.configure(move |c| configure(h, c))
    })
    .client_request_timeout(head_timeout)
    .workers(OPERATOR_WORKERS)
    .shutdown_timeout(grace.as_secs().max(1))
    .bind(addr)
    .map_err(|e| std::io::Error::new(e.kind(), format!("{key} listener on {addr}: {e}")))?
    .run();
    Ok(server)
}
