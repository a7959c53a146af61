//! `svea run`: one node for real: the core on its thread, actix-web at the edge. Two listeners:
//! the public one (`node.http_addr`, HTTPS when `[http] tls_cert` / `tls_key` are set) and, when
//! an operator token is configured, the operator one (`operator.listen_addr`, loopback).

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
    let node = RunningNode::spawn(config)?;
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
                    .app_data(privacy_limiter.clone())
                    .wrap(from_fn(http::maintenance::gate))
                    .wrap(from_fn(http::ratelimit::limit))
                    .wrap(from_fn(security::headers))
                    .wrap(DefaultHeaders::new().add((name.clone(), value.clone())))
                    .wrap(from_fn(http::observe::observe))
                    .app_data(is_https.clone())
                    .configure(move |c| http::configure(h, c))
            })
            .workers(HTTP_WORKERS)
            .shutdown_timeout(grace.as_secs().max(1))
        };
        let public = match https {
            Some(tls) => public.bind_rustls_0_23(http_addr, tls)?,
            None => public.bind(http_addr)?,
        }
        .run();
        exit.set(public.handle());
        let operator = match operator_addr {
            Some(addr) => {
                let exit_data = web::Data::new(exit.clone());
                let h = handle.clone();
                let server = HttpServer::new(move || {
                    let h = h.clone();
                    App::new()
                        .wrap(from_fn(security::headers))
                        .wrap(DefaultHeaders::new().add((name.clone(), value.clone())))
                        .wrap(from_fn(http::observe::observe))
                        .app_data(exit_data.clone())
                        .configure(move |c| http::configure_operator(h, c))
                })
                .workers(OPERATOR_WORKERS)
                .shutdown_timeout(grace.as_secs().max(1))
                .bind(addr)
                .map_err(|e| std::io::Error::new(e.kind(), format!("operator listener (operator.listen_addr) on {addr}: {e}")))?
                .run();
                tracing::info!(node = %id, operator = %addr, "serving the operator api");
                Some(server)
            }
            None => None,
        };
        let scheme = if is_https.0 { "https" } else { "http" };
        tracing::info!(node = %id, region = %region, http = %http_addr, scheme, "serving HTTP");
        match operator {
            Some(operator) => {
                let op_handle = operator.handle();
                let op_task = actix_web::rt::spawn(operator);
                let served = public.await;
                // The public listener stopped (signal or drain): the operator one goes with it.
                op_handle.stop(true).await;
                let _ = op_task.await;
                served
            }
            None => public.await,
        }
    });
    node.stop();
    served.map_err(|e| anyhow::anyhow!("http server on {http_addr}: {e}"))
}
