//! quinn over turmoil's simulated UDP, with seeded per-link message loss.
//!
//! turmoil's `UdpSocket` has only async receive; quinn wants `poll_recv`. A small pump task (on
//! the host's runtime, so it dies with a crash) moves datagrams into a bounded queue that
//! `poll_recv` drains. Sends go straight to turmoil, which is never full. Loss is decided here,
//! per datagram, from the run's seeded generator: the order of sends is deterministic, so is loss.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use rand::rngs::StdRng;
use rand::Rng;
use tokio::sync::mpsc;

/// Datagrams received but not yet taken by quinn; more wait in turmoil's own queue.
pub const RECV_QUEUE_LEN: usize = 1024;
/// Largest datagram the pump accepts (QUIC never sends more than this).
const DATAGRAM_BYTES_MAX: usize = 65_535;

/// Per-link loss probabilities, shared by every host's socket. Lives on the simulation thread.
#[derive(Default)]
pub struct Loss {
    per_link: BTreeMap<(IpAddr, IpAddr), f64>,
    rng: Option<StdRng>,
    /// Datagrams dropped so far.
    pub dropped: u64,
}

thread_local! {
    static LOSS: RefCell<Loss> = RefCell::new(Loss::default());
}

/// Resets loss for a new run with its own generator.
pub fn reset_loss(rng: StdRng) {
    LOSS.with(|l| *l.borrow_mut() = Loss { per_link: BTreeMap::new(), rng: Some(rng), dropped: 0 });
}

/// Sets the loss probability from `a` to `b` (0 removes it).
pub fn set_loss(a: IpAddr, b: IpAddr, p: f64) {
    LOSS.with(|l| {
        let mut l = l.borrow_mut();
        if p <= 0.0 {
            l.per_link.remove(&(a, b));
        } else {
            l.per_link.insert((a, b), p.min(1.0));
        }
    });
}

/// Removes every loss setting.
pub fn clear_loss() {
    LOSS.with(|l| l.borrow_mut().per_link.clear());
}

/// Datagrams dropped so far in this run.
pub fn dropped() -> u64 {
    LOSS.with(|l| l.borrow().dropped)
}

fn lose(from: IpAddr, to: IpAddr) -> bool {
    LOSS.with(|l| {
        let mut l = l.borrow_mut();
        let Some(&p) = l.per_link.get(&(from, to)) else { return false };
        let lost = match l.rng.as_mut() {
            Some(rng) => rng.gen_bool(p),
            None => false,
        };
        if lost {
            l.dropped += 1;
        }
        lost
    })
}

/// A turmoil UDP socket as quinn's `AsyncUdpSocket`.
pub struct SimUdp {
    /// `None` once closed (see [`CloseOnDrop`]).
    socket: Mutex<Option<Arc<turmoil::net::UdpSocket>>>,
    local: SocketAddr,
    rx: Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    pump: tokio::task::AbortHandle,
}

impl fmt::Debug for SimUdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUdp").field("local", &self.local).finish()
    }
}

impl Drop for SimUdp {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl SimUdp {
    /// Binds `addr` on the current simulated host and starts the receive pump.
    pub async fn bind(addr: SocketAddr) -> io::Result<Arc<SimUdp>> {
        let socket = Arc::new(turmoil::net::UdpSocket::bind(addr).await?);
        let local = socket.local_addr()?;
        let (tx, rx) = mpsc::channel(RECV_QUEUE_LEN);
        let pump = tokio::spawn(pump(socket.clone(), tx)).abort_handle();
        Ok(Arc::new(SimUdp { socket: Mutex::new(Some(socket)), local, rx: Mutex::new(rx), pump }))
    }

    /// Releases the simulated port. Must run inside the host's simulation context.
    fn close(&self) {
        self.pump.abort();
        self.socket.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Closes the socket when dropped. The host's software keeps one on its stack, so a crash (which
/// drops the host's tasks inside its simulation context) frees the port for the restart even
/// while other objects of the dead incarnation still point at the socket (the transport and Raft
/// handles refer to each other and are never freed; in production the process exits instead).
pub struct CloseOnDrop(pub Arc<SimUdp>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

async fn pump(socket: Arc<turmoil::net::UdpSocket>, tx: mpsc::Sender<(Vec<u8>, SocketAddr)>) {
    loop {
        let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
        let Ok((n, from)) = socket.recv_from(&mut buf).await else { return };
        buf.truncate(n);
        if tx.send((buf, from)).await.is_err() {
            return;
        }
    }
}

/// turmoil never pushes back on sends.
#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for SimUdp {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        if lose(self.local.ip(), transmit.destination.ip()) {
            return Ok(());
        }
        let socket = self.socket.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match socket {
            Some(s) => s.try_send_to(transmit.contents, transmit.destination).map(|_| ()),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "simulated socket closed")),
        }
    }

    fn poll_recv(&self, cx: &mut Context, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else { return Poll::Ready(Ok(0)) };
        let mut rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        match rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "simulated socket closed"))),
            Poll::Ready(Some((data, from))) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                let mut meta = RecvMeta::default();
                meta.addr = from;
                meta.len = n;
                meta.stride = n;
                *m = meta;
                Poll::Ready(Ok(1))
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Shared, single-threaded cell used by the simulation's parts (everything runs on one thread).
pub type Shared<T> = Rc<RefCell<T>>;
