//! Slow clients cut (issue 20): a deadline for a request's body, and a cap on the connections one
//! client address holds.
//!
//! `http.request_read_timeout_ms` bounds the reading of a whole request, head and body, split in
//! two halves by [`split`]: actix-web's `client_request_timeout` (set to the first half in
//! `cli/run.rs`) bounds only the head, and a client that sends its headers in time and then one
//! body byte every two seconds would hold its connection, and a worker's attention, for as long as
//! it likes. [`body`] wraps the body of every request that has one in a stream that fails once the
//! second half has passed since the head arrived; whatever extractor was reading it (JSON, form,
//! bytes), the answer becomes 408 `request-timeout` and the connection is closed with it. actix
//! does not say when a head's first byte came, so the body cannot be given "what is left": half
//! each keeps the whole request within the setting (a 64 KiB body in 5 s is 13 KB/s, slower than
//! any phone connection that can load the page).
//!
//! [`Connections`] counts the open connections of each socket peer address (the listener's
//! `on_connect` hands every new connection a [`ConnectionSlot`], kept in the connection's
//! extensions and dropped with it). A connection beyond `http.connections_per_address_max` is
//! answered 429 `too-many-connections` at its first request and closed. The peer is the socket
//! peer, not a forwarded-for address (no request has been read when a connection opens), so the
//! trusted proxies of `geo.trusted_proxies`, whose connections carry many customers, are exempt.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage as _, ResponseError};
use futures::Stream;
use svea_config::IpNetwork;

use super::error::ApiError;

/// The deadline and the cap, shared by every worker of the public listener.
#[derive(Debug, Clone, Copy)]
pub struct ReadDeadline(pub Duration);

/// The head's and the body's share of `http.request_read_timeout_ms` (`read`): half each, neither
/// zero (actix reads a zero head timeout as none), so head plus body stay within `read` (within
/// 2 ms for the 1 ms setting).
pub fn split(read: Duration) -> (Duration, Duration) {
    let least = Duration::from_millis(1);
    let head = (read / 2).max(least);
    (head, read.saturating_sub(head).max(least))
}

/// A body stream that fails once its deadline has passed (data already there is still handed
/// out first), and says so through `fired`.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<actix_web::rt::time::Sleep>>,
    fired: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            if item.is_none() {
                self.done = true;
            }
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            self.fired.set(true);
            let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body deadline passed");
            return Poll::Ready(Some(Err(PayloadError::Io(err))));
        }
        Poll::Pending
    }
}

/// Whether the request announces a body (chunked transfer, or a length that is not 0).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    match headers.get(header::CONTENT_LENGTH) {
        None => false,
        Some(v) => v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) != Some(0),
    }
}

/// The middleware of the public listener (`actix_web::middleware::from_fn`): a connection over
/// its address's cap is answered 429 and closed; a body that has not arrived within the
/// deadline makes the answer 408, and the connection is closed.
pub async fn body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(slot) = req.conn_data::<ConnectionSlot>() {
        if slot.over {
            let resp = ApiError::TooManyConnections { max: slot.max }.error_response();
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    let Some(ReadDeadline(after)) = req.app_data::<actix_web::web::Data<ReadDeadline>>().map(|d| *d.get_ref()) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    if !has_body(&req) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let fired = Rc::new(Cell::new(false));
    let inner = req.take_payload();
    let stream = Deadline { inner, sleep: Box::pin(actix_web::rt::time::sleep(after)), fired: fired.clone(), done: false };
    req.set_payload(Payload::Stream { payload: Box::pin(stream) });
    let answered = next.call(req).await;
    if !fired.get() {
        return answered.map(ServiceResponse::map_into_left_body);
    }
    let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
    let resp = ApiError::RequestTimeout { after_ms }.error_response();
    match answered {
        Ok(done) => Ok(done.into_response(resp).map_into_right_body()),
        Err(e) => Err(e),
    }
}

/// Open connections per socket peer address of one listener.
#[derive(Debug)]
pub struct Connections {
    open: Mutex<HashMap<IpAddr, u32>>,
    max: u32,
    exempt: Vec<IpNetwork>,
}

impl Connections {
    /// At most `max` per address; the addresses in `exempt` (trusted proxies) are not counted.
    pub fn new(max: u32, exempt: Vec<IpNetwork>) -> Arc<Connections> {
        Arc::new(Connections { open: Mutex::new(HashMap::new()), max, exempt })
    }

    /// Counts a new connection from `peer`; the slot uncounts it when dropped.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<ConnectionSlot> {
        if self.exempt.iter().any(|n| n.contains(peer)) {
            return None;
        }
        let key = super::ratelimit::bucket_key(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        Some(ConnectionSlot { connections: self.clone(), key, over: *n > self.max, max: self.max })
    }

    /// Connections open from `peer` now.
    pub fn open(&self, peer: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&super::ratelimit::bucket_key(peer)).copied().unwrap_or(0)
    }

    /// Addresses with an open connection.
    pub fn addresses(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One counted connection, in its connection's extensions: dropped (uncounted) when it closes.
#[derive(Debug)]
pub struct ConnectionSlot {
    connections: Arc<Connections>,
    key: IpAddr,
    /// Opened while its address already held the maximum: answered 429 and closed.
    over: bool,
    max: u32,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            // No entry outlives its last connection, so the map is bounded by open connections.
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The socket peer of a new connection, plain TCP or rustls over TCP (what `cli/run.rs` binds).
pub fn peer_of(conn: &dyn std::any::Any) -> Option<IpAddr> {
    use actix_web::rt::net::TcpStream;
    if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
        return tcp.peer_addr().ok().map(|a| a.ip());
    }
    if let Some(tls) = conn.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<TcpStream>>() {
        return tls.get_ref().0.peer_addr().ok().map(|a| a.ip());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_past_the_cap_is_over_and_closing_frees_a_place() {
        let c = Connections::new(2, vec!["10.0.0.0/8".parse().expect("net")]);
        let a: IpAddr = "203.0.113.9".parse().expect("ip");
        let (s1, s2) = (c.admit(a).expect("counted"), c.admit(a).expect("counted"));
        assert!(!s1.over && !s2.over);
        let s3 = c.admit(a).expect("counted");
        assert!(s3.over, "the third of two");
        assert_eq!(c.open(a), 3);
        drop(s3);
        drop(s1);
        assert!(!c.admit(a).expect("counted").over, "a place is free again");
        drop(s2);
        assert_eq!(c.addresses(), 0, "no entry outlives its connections");
        assert!(c.admit("10.1.2.3".parse().expect("ip")).is_none(), "a trusted proxy is not counted");
    }
}
