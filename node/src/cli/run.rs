//! `svea run`: one node for real: the core on its thread, actix-web at the edge.

use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{App, HttpServer};
use svea_config::Config;

use crate::http;
use crate::core::RunningNode;

/// HTTP worker threads. The core does the work; workers only parse and forward.
pub const HTTP_WORKERS: usize = 2;

/// Runs one node until SIGINT or SIGTERM, then drains HTTP, stops actors and Raft, and flushes.
pub fn run(config: Config) -> anyhow::Result<()> {
    let http_addr = config.node.http_addr;
    let grace = config.timeouts.shutdown_grace;
    let region = config.node.region.to_string();
    let id = config.node.id;
    let node = RunningNode::spawn(config)?;
    let handle = node.handle.clone();
    let system = actix_web::rt::System::new();
    let exit = crate::http::operator::ExitHandle::default();
    let served = system.block_on(async move {
        let (name, value) = http::region_header(&handle);
        let exit_data = actix_web::web::Data::new(exit.clone());
        // One set of buckets for every worker: the limit is per address and node, not per worker.
        let limiter = {
            let c = handle.config();
            actix_web::web::Data::new(http::ratelimit::AddressLimiter::new(&c.abuse, c.geo.trusted_proxies.clone()))
        };
        let server = HttpServer::new(move || {
            let h = handle.clone();
            App::new()
                .app_data(limiter.clone())
                .wrap(from_fn(http::ratelimit::limit))
                .wrap(DefaultHeaders::new().add((name.clone(), value.clone())))
                .app_data(exit_data.clone())
                .configure(move |c| http::configure(h, c))
        })
        .workers(HTTP_WORKERS)
        .shutdown_timeout(grace.as_secs().max(1))
        .bind(http_addr)?
        .run();
        exit.set(server.handle());
        tracing::info!(node = %id, region = %region, http = %http_addr, "serving HTTP");
        server.await
    });
    node.stop();
    served.map_err(|e| anyhow::anyhow!("http server on {http_addr}: {e}"))
}
