//! A user-space UDP delay proxy: WAN latency (and, for chaos tests, loss and partitions) between
//! processes that all run on one machine.
//!
//! One proxy stands in front of one destination node. It listens on the address the destination
//! advertises to its peers and forwards every datagram to the destination's real listen address.
//! Senders are told apart by their socket address (a node sends from the socket it listens on);
//! each known sender gets its own upstream socket towards the destination, so the destination's
//! replies, which arrive on that upstream socket, can be routed back to the right sender. Both
//! directions of a sender's traffic are held back by that sender's one-way delay.
//!
//! ```text
//!   node A (src) --d--> [proxy of B: listen = B's advertised addr] --upstream(A)--> B (real addr)
//!   node A       <--d-- [                                        ] <-------------- B
//! ```
//!
//! Each (sender, direction) pair is a *link* with a FIFO delay line: a bounded queue drained by one
//! task that sleeps (tokio::time) until each packet is due. Every packet of a link waits the same
//! delay, so due times are in arrival order and a FIFO is enough (no reordering is introduced;
//! after a runtime delay decrease, packets still leave in order). A full queue drops the packet
//! and counts it. For chaos tests a cloneable [`ProxyHandle`] switches, at run time and per link
//! and direction, a drop probability and a "black hole" (drop everything), and reads counters.
//!
//! Delay lines are timed with a Linux `timerfd` awaited through tokio's reactor, not with
//! `tokio::time`: tokio's timer wheel has millisecond resolution and rounds deadlines up, which
//! added about 1 ms to every delay (a 1.25 ms link measured 2.34 ms on average, 2.65 ms measured
//! 3.67 ms). A timerfd fires within tens of microseconds of its deadline. The counters keep the
//! mean and maximum delay really applied (which also includes waiting for a CPU on a loaded
//! machine); benchmarks print them next to the configured value.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::unix::AsyncFd;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Largest UDP payload; every receive buffer has this size so nothing is ever truncated.
pub const DATAGRAM_BYTES_MAX: usize = 65_535;
/// Default bound of each link's delay line, in packets. At 1 Gbit/s of 1200-byte QUIC packets
/// and a 3 ms delay about 300 packets are in flight per link, so this leaves ample headroom while
/// bounding memory at 4096 x 64 KiB in the worst case.
pub const QUEUE_PACKETS_DEFAULT: usize = 4096;
/// Most senders one proxy keeps an upstream socket (and two delay lines) for.
pub const SOURCES_MAX: usize = 64;
/// Drop probabilities are kept as integer parts per million.
const PPM: u32 = 1_000_000;
/// Pause after a failed receive, so a socket error that repeats cannot spin a core.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Which way a datagram travels through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From a sender to the destination node.
    ToTarget,
    /// From the destination node back to a sender.
    ToSource,
}

impl Direction {
    /// Both directions, in index order.
    pub const BOTH: [Direction; 2] = [Direction::ToTarget, Direction::ToSource];

    fn index(self) -> usize {
        match self {
            Direction::ToTarget => 0,
            Direction::ToSource => 1,
        }
    }

    /// `to-target` or `to-source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToTarget => "to-target",
            Direction::ToSource => "to-source",
        }
    }
}

/// A sender the proxy knows: its name (for reports), the socket address its datagrams come from,
/// and the one-way delay of its link to the destination.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// A label for reports, e.g. `stockholm`.
    pub name: String,
    /// The sender's socket address as the proxy sees it.
    pub addr: SocketAddr,
    /// Delay applied to each datagram, in both directions.
    pub one_way_delay: Duration,
}

/// What one proxy instance does.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// A label for reports, e.g. the destination's region.
    pub name: String,
    /// Address to listen on (the destination's advertised address); port 0 picks a free one.
    pub listen: SocketAddr,
    /// The destination's real listen address.
    pub target: SocketAddr,
    /// Known senders.
    pub sources: Vec<SourceSpec>,
    /// Delay for senders not in `sources`; `None` drops their datagrams (and counts them).
    pub unknown_source_delay: Option<Duration>,
    /// Bound of each link's delay line, in packets (at least 1).
    pub queue_packets_max: usize,
    /// Seed of the random drop decisions.
    pub seed: u64,
}

/// Counters of one link direction, as read by [`ProxyHandle::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStats {
    /// The proxy's name.
    pub proxy: String,
    /// The sender's name (`unknown-<addr>` for senders not configured).
    pub source: String,
    /// The sender's socket address.
    pub source_addr: SocketAddr,
    /// Which way.
    pub direction: Direction,
    /// The configured one-way delay.
    pub delay: Duration,
    /// Datagrams that arrived for this link direction.
    pub received: u64,
    /// Datagrams sent on after their delay.
    pub forwarded: u64,
    /// Dropped by the black hole or the drop probability.
    pub dropped_chaos: u64,
    /// Dropped because the delay line was full.
    pub dropped_overflow: u64,
    /// Sends the operating system refused (e.g. nothing listening at the destination).
    pub send_errors: u64,
    /// Mean delay really applied to forwarded datagrams (zero if none).
    pub applied_delay_mean: Duration,
    /// Largest delay really applied.
    pub applied_delay_max: Duration,
}

/// Counters of a whole proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyStats {
    /// Per link direction, ordered by sender address then direction.
    pub links: Vec<LinkStats>,
    /// Datagrams from unknown senders that were dropped (no `unknown_source_delay`, or more than
    /// [`SOURCES_MAX`] senders).
    pub dropped_unknown_source: u64,
}

#[derive(Default)]
struct DirState {
    black_hole: AtomicBool,
    drop_ppm: AtomicU32,
    received: AtomicU64,
    forwarded: AtomicU64,
    dropped_chaos: AtomicU64,
    dropped_overflow: AtomicU64,
    send_errors: AtomicU64,
    applied_us_total: AtomicU64,
    applied_us_max: AtomicU64,
}

struct Link {
    name: String,
    source: SocketAddr,
    delay_us: AtomicU64,
    dirs: [DirState; 2],
}

impl Link {
    fn new(name: String, source: SocketAddr, delay: Duration) -> Link {
        Link {
            name,
            source,
            delay_us: AtomicU64::new(duration_us(delay)),
            dirs: Default::default(),
        }
    }

    fn dir(&self, direction: Direction) -> &DirState {
        &self.dirs[direction.index()]
    }
}

struct Shared {
    name: String,
    listen: SocketAddr,
    links: Mutex<BTreeMap<SocketAddr, Arc<Link>>>,
    /// Proxy-wide black hole per direction, on top of the per-link switches.
    black_hole_all: [AtomicBool; 2],
    dropped_unknown_source: AtomicU64,
}

impl Shared {
    fn links(&self) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, Arc<Link>>> {
        // The map is only ever inserted into; a panic elsewhere cannot leave it half-written.
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg_attr(not(test), allow(dead_code))] // behind the chaos controls
    fn link(&self, source: SocketAddr) -> anyhow::Result<Arc<Link>> {
        match self.links().get(&source) {
            Some(link) => Ok(link.clone()),
            None => bail!(
                "proxy {} has no link from {source} (yet: unknown senders get one with their first datagram)",
                self.name
            ),
        }
    }

    fn black_holed(&self, link: &Link, direction: Direction) -> bool {
        self.black_hole_all[direction.index()].load(Ordering::Relaxed)
            || link.dir(direction).black_hole.load(Ordering::Relaxed)
    }
}

/// Controls and counters of a running proxy; cheap to clone and usable from any thread.
#[derive(Clone)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
}

// The chaos controls are exercised by the tests below and meant for the chaos tool; the
// benchmark only reads counters.
#[cfg_attr(not(test), allow(dead_code))]
impl ProxyHandle {
    /// The address the proxy listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.shared.listen
    }

    /// Drop everything from (`ToTarget`) or to (`ToSource`) `source`, or stop doing so. Datagrams
    /// already in the delay line are dropped too when they come due.
    pub fn set_black_hole(
        &self,
        source: SocketAddr,
        direction: Direction,
        on: bool,
    ) -> anyhow::Result<()> {
        let link = self.shared.link(source)?;
        link.dir(direction).black_hole.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Black-hole one direction for every sender, present and future.
    pub fn set_black_hole_all(&self, direction: Direction, on: bool) {
        self.shared.black_hole_all[direction.index()].store(on, Ordering::Relaxed);
    }

    /// Drop each datagram of the link direction with probability `p` in [0, 1].
    pub fn set_drop_probability(
        &self,
        source: SocketAddr,
        direction: Direction,
        p: f64,
    ) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&p) {
            bail!("drop probability {p} is outside [0, 1]");
        }
        let link = self.shared.link(source)?;
        // In [0, 1e6] by the check above, so the cast neither truncates nor wraps.
        let ppm = (p * f64::from(PPM)).round() as u32;
        link.dir(direction).drop_ppm.store(ppm, Ordering::Relaxed);
        Ok(())
    }

    /// Change a link's one-way delay (both directions); applies to datagrams arriving from now on.
    pub fn set_delay(&self, source: SocketAddr, delay: Duration) -> anyhow::Result<()> {
        self.shared
            .link(source)?
            .delay_us
            .store(duration_us(delay), Ordering::Relaxed);
        Ok(())
    }

    /// A snapshot of all counters.
    pub fn stats(&self) -> ProxyStats {
        let links: Vec<Arc<Link>> = self.shared.links().values().cloned().collect();
        let mut out = Vec::with_capacity(links.len() * 2);
        for link in links {
            for direction in Direction::BOTH {
                let d = link.dir(direction);
                let forwarded = d.forwarded.load(Ordering::Relaxed);
                let total = d.applied_us_total.load(Ordering::Relaxed);
                out.push(LinkStats {
                    proxy: self.shared.name.clone(),
                    source: link.name.clone(),
                    source_addr: link.source,
                    direction,
                    delay: Duration::from_micros(link.delay_us.load(Ordering::Relaxed)),
                    received: d.received.load(Ordering::Relaxed),
                    forwarded,
                    dropped_chaos: d.dropped_chaos.load(Ordering::Relaxed),
                    dropped_overflow: d.dropped_overflow.load(Ordering::Relaxed),
                    send_errors: d.send_errors.load(Ordering::Relaxed),
                    applied_delay_mean: Duration::from_micros(
                        total.checked_div(forwarded).unwrap_or(0),
                    ),
                    applied_delay_max: Duration::from_micros(
                        d.applied_us_max.load(Ordering::Relaxed),
                    ),
                });
            }
        }
        ProxyStats {
            links: out,
            dropped_unknown_source: self.shared.dropped_unknown_source.load(Ordering::Relaxed),
        }
    }
}

/// A running proxy. Its tasks stop when it is dropped; datagrams still in delay lines are discarded.
pub struct UdpProxy {
    handle: ProxyHandle,
    task: JoinHandle<()>,
}

impl UdpProxy {
    /// Binds `config.listen` and starts forwarding. Must be called inside a tokio runtime with
    /// time and I/O enabled; the proxy's tasks run on that runtime.
    pub async fn start(config: ProxyConfig) -> anyhow::Result<UdpProxy> {
        if config.queue_packets_max == 0 {
            bail!(
                "proxy {}: queue_packets_max must be at least 1",
                config.name
            );
        }
        if config.sources.len() > SOURCES_MAX {
            bail!(
                "proxy {}: {} sources, at most {SOURCES_MAX}",
                config.name,
                config.sources.len()
            );
        }
        let listen = UdpSocket::bind(config.listen)
            .await
            .with_context(|| format!("proxy {}: cannot bind {}", config.name, config.listen))?;
        let listen_addr = listen.local_addr()?;
        let links = config
            .sources
            .iter()
            .map(|s| {
                (
                    s.addr,
                    Arc::new(Link::new(s.name.clone(), s.addr, s.one_way_delay)),
                )
            })
            .collect();
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            listen: listen_addr,
            links: Mutex::new(links),
            black_hole_all: Default::default(),
            dropped_unknown_source: AtomicU64::new(0),
        });
        let task = tokio::spawn(run_listener(Arc::new(listen), shared.clone(), config));
        Ok(UdpProxy {
            handle: ProxyHandle { shared },
            task,
        })
    }

    /// The controls and counters.
    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }

    /// The address the proxy listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.handle.listen_addr()
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        // The listener task owns every other task of this proxy in a JoinSet, which aborts them
        // when the listener is dropped.
        self.task.abort();
    }
}

/// A datagram waiting in a delay line.
struct Packet {
    received_at: Instant,
    due: Instant,
    data: Vec<u8>,
}

/// The ways in and out of one link: the queue towards the destination and the link's state.
struct Route {
    link: Arc<Link>,
    to_target: mpsc::Sender<Packet>,
}

/// Receives from senders on the listen socket; owns (through `tasks`) everything else.
async fn run_listener(listen: Arc<UdpSocket>, shared: Arc<Shared>, config: ProxyConfig) {
    let mut tasks = JoinSet::new();
    let mut routes: HashMap<SocketAddr, Route> = HashMap::new();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
    loop {
        let (len, from) = match listen.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(_) => {
                tokio::time::sleep(RECV_ERROR_PAUSE).await;
                continue;
            }
        };
        // Reap finished tasks so the set does not grow (none finish in normal operation).
        while tasks.try_join_next().is_some() {}
        if !routes.contains_key(&from) {
            match open_route(&listen, &shared, &config, from, &mut tasks).await {
                Some(route) => {
                    routes.insert(from, route);
                }
                None => {
                    shared
                        .dropped_unknown_source
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let route = &routes[&from];
        offer(
            &shared,
            &route.link,
            Direction::ToTarget,
            &route.to_target,
            &buf[..len],
            &mut rng,
        );
    }
}

/// Sets up a sender's upstream socket and its two delay lines; `None` if the sender is not
/// welcome (unknown without `unknown_source_delay`, too many senders, or no socket).
async fn open_route(
    listen: &Arc<UdpSocket>,
    shared: &Arc<Shared>,
    config: &ProxyConfig,
    from: SocketAddr,
    tasks: &mut JoinSet<()>,
) -> Option<Route> {
    let known = shared.links().get(&from).cloned();
    let link = match known {
        Some(link) => link,
        None => {
            let delay = config.unknown_source_delay?;
            let mut links = shared.links();
            if links.len() >= SOURCES_MAX {
                return None;
            }
            let link = Arc::new(Link::new(format!("unknown-{from}"), from, delay));
            links.insert(from, link.clone());
            link
        }
    };
    // One upstream socket per sender: the destination answers to it, which tells us whom to
    // route the answer to. Bound on the listen address's IP, so loopback stays loopback.
    let upstream = UdpSocket::bind(SocketAddr::new(shared.listen.ip(), 0))
        .await
        .ok()?;
    upstream.connect(config.target).await.ok()?;
    let upstream = Arc::new(upstream);

    let (to_target, to_target_rx) = mpsc::channel(config.queue_packets_max);
    let (to_source, to_source_rx) = mpsc::channel(config.queue_packets_max);
    tasks.spawn(delay_line(
        to_target_rx,
        upstream.clone(),
        None,
        shared.clone(),
        link.clone(),
        Direction::ToTarget,
    ));
    tasks.spawn(delay_line(
        to_source_rx,
        listen.clone(),
        Some(from),
        shared.clone(),
        link.clone(),
        Direction::ToSource,
    ));
    let seed = config.seed ^ u64::from(from.port()).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    tasks.spawn(run_upstream(
        upstream,
        to_source,
        shared.clone(),
        link.clone(),
        seed,
    ));
    Some(Route { link, to_target })
}

/// Receives the destination's replies for one sender and queues them towards that sender.
async fn run_upstream(
    upstream: Arc<UdpSocket>,
    to_source: mpsc::Sender<Packet>,
    shared: Arc<Shared>,
    link: Arc<Link>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
    loop {
        // A connected socket only receives from `target`; errors are ICMP reports of earlier
        // sends (nothing listening yet) and are not fatal.
        let len = match upstream.recv(&mut buf).await {
            Ok(len) => len,
            Err(_) => {
                link.dir(Direction::ToTarget)
                    .send_errors
                    .fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(RECV_ERROR_PAUSE).await;
                continue;
            }
        };
        offer(
            &shared,
            &link,
            Direction::ToSource,
            &to_source,
            &buf[..len],
            &mut rng,
        );
    }
}

/// Decides a datagram's fate on arrival: chaos drop, overflow drop, or into the delay line.
fn offer(
    shared: &Shared,
    link: &Link,
    direction: Direction,
    queue: &mpsc::Sender<Packet>,
    data: &[u8],
    rng: &mut StdRng,
) {
    let d = link.dir(direction);
    d.received.fetch_add(1, Ordering::Relaxed);
    if shared.black_holed(link, direction) {
        d.dropped_chaos.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let ppm = d.drop_ppm.load(Ordering::Relaxed);
    if ppm > 0 && rng.gen_range(0..PPM) < ppm {
        d.dropped_chaos.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let now = Instant::now();
    let packet = Packet {
        received_at: now,
        due: now + Duration::from_micros(link.delay_us.load(Ordering::Relaxed)),
        data: data.to_vec(),
    };
    if queue.try_send(packet).is_err() {
        d.dropped_overflow.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends each queued datagram when it is due. `dest` is `None` for a connected socket.
async fn delay_line(
    mut queue: mpsc::Receiver<Packet>,
    socket: Arc<UdpSocket>,
    dest: Option<SocketAddr>,
    shared: Arc<Shared>,
    link: Arc<Link>,
    direction: Direction,
) {
    let d = link.dir(direction);
    let timer = match PreciseTimer::new() {
        Ok(timer) => Some(timer),
        Err(e) => {
            eprintln!(
                "udp proxy {}: no timerfd ({e}); delays fall back to tokio::time (+~1 ms)",
                shared.name
            );
            None
        }
    };
    while let Some(packet) = queue.recv().await {
        if packet.due > Instant::now() {
            let precise = match &timer {
                Some(timer) => timer.sleep_until(packet.due).await.is_ok(),
                None => false,
            };
            if !precise {
                tokio::time::sleep_until(packet.due).await;
            }
        }
        // A black hole switched on while the packet waited swallows it too.
        if shared.black_holed(&link, direction) {
            d.dropped_chaos.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let sent = match dest {
            Some(dest) => socket.send_to(&packet.data, dest).await,
            None => socket.send(&packet.data).await,
        };
        match sent {
            Ok(_) => {
                let applied = duration_us(packet.received_at.elapsed());
                d.forwarded.fetch_add(1, Ordering::Relaxed);
                d.applied_us_total.fetch_add(applied, Ordering::Relaxed);
                d.applied_us_max.fetch_max(applied, Ordering::Relaxed);
            }
            Err(_) => {
                d.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A one-shot timer with nanosecond deadlines: a `timerfd` on `CLOCK_MONOTONIC` (the clock of
/// `Instant` on Linux), awaited through tokio's reactor.
struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    fn new() -> std::io::Result<PreciseTimer> {
        // SAFETY: timerfd_create has no memory arguments; a non-negative result is a new fd we own.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid, open fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: an OwnedFd stays open, and is the same fd, for as long as the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(PreciseTimer { fd })
    }

    /// Returns at `deadline` (or at once if it has passed).
    async fn sleep_until(&self, deadline: Instant) -> std::io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(()); // a zero it_value would disarm the timer instead of firing it
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                // Delays are milliseconds, far inside time_t; tv_nsec < 1e9 fits c_long.
                tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::try_from(left.subsec_nanos()).unwrap_or(0),
            },
        };
        // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) }
            != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        loop {
            let mut ready = self.fd.readable().await?;
            let read = ready.try_io(|fd| {
                let mut expirations = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer, as timerfd requires.
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        expirations.len(),
                    )
                };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(result) => return result,
                Err(_would_block) => continue, // stale readiness: wait again
            }
        }
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upper bound on any single wait in these tests; they finish in milliseconds when healthy.
    const TEST_WAIT: Duration = Duration::from_secs(10);

    fn localhost() -> SocketAddr {
        "127.0.0.1:0".parse().expect("literal address")
    }

    /// An echo server that answers every datagram with the same bytes; counts what it received.
    async fn echo_server() -> (SocketAddr, Arc<AtomicU64>, JoinHandle<()>) {
        let socket = UdpSocket::bind(localhost()).await.expect("bind echo");
        let addr = socket.local_addr().expect("echo addr");
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = socket.send_to(&buf[..len], from).await;
            }
        });
        (addr, received, task)
    }

    async fn proxy_for(
        client: &UdpSocket,
        target: SocketAddr,
        delay: Duration,
        queue: usize,
    ) -> UdpProxy {
        UdpProxy::start(ProxyConfig {
            name: "test".into(),
            listen: localhost(),
            target,
            sources: vec![SourceSpec {
                name: "client".into(),
                addr: client.local_addr().expect("client addr"),
                one_way_delay: delay,
            }],
            unknown_source_delay: None,
            queue_packets_max: queue,
            seed: 7,
        })
        .await
        .expect("proxy starts")
    }

    /// Receives one datagram and checks it came from `from`.
    async fn recv_from(client: &UdpSocket, from: SocketAddr) -> Vec<u8> {
        let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
        let (len, sender) = tokio::time::timeout(TEST_WAIT, client.recv_from(&mut buf))
            .await
            .expect("an answer within the test wait")
            .expect("recv");
        assert_eq!(sender, from, "answers come from the proxy's listen address");
        buf.truncate(len);
        buf
    }

    /// Polls `stat` until `done` holds, within [`TEST_WAIT`].
    async fn eventually(
        handle: &ProxyHandle,
        what: &str,
        done: impl Fn(&ProxyStats) -> bool,
    ) -> ProxyStats {
        let deadline = Instant::now() + TEST_WAIT;
        loop {
            let stats = handle.stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not happen: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn link(stats: &ProxyStats, direction: Direction) -> &LinkStats {
        stats
            .links
            .iter()
            .find(|l| l.direction == direction)
            .expect("the client's link")
    }

    #[tokio::test]
    async fn passthrough_forwards_both_ways_and_routes_replies_back() {
        let (echo, echoed, _server) = echo_server().await;
        let client = UdpSocket::bind(localhost()).await.expect("bind client");
        let proxy = proxy_for(&client, echo, Duration::ZERO, QUEUE_PACKETS_DEFAULT).await;
        for i in 0..20u32 {
            client
                .send_to(&i.to_be_bytes(), proxy.listen_addr())
                .await
                .expect("send");
            assert_eq!(
                recv_from(&client, proxy.listen_addr()).await,
                i.to_be_bytes()
            );
        }
        assert_eq!(echoed.load(Ordering::SeqCst), 20);
        let stats = proxy.handle().stats();
        assert_eq!(link(&stats, Direction::ToTarget).forwarded, 20);
        assert_eq!(link(&stats, Direction::ToSource).forwarded, 20);
        // A large datagram goes through whole.
        let big = vec![0xA5u8; 60_000];
        client
            .send_to(&big, proxy.listen_addr())
            .await
            .expect("send big");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, big);
    }

    #[tokio::test]
    async fn the_one_way_delay_is_applied_in_both_directions() {
        let (echo, _, _server) = echo_server().await;
        let client = UdpSocket::bind(localhost()).await.expect("bind client");
        let delay = Duration::from_millis(25);
        let proxy = proxy_for(&client, echo, delay, QUEUE_PACKETS_DEFAULT).await;
        for _ in 0..3 {
            let start = Instant::now();
            client
                .send_to(b"ping", proxy.listen_addr())
                .await
                .expect("send");
            assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"ping");
            let rtt = start.elapsed();
            // A functional lower bound: the packet waited once each way.
            assert!(
                rtt >= 2 * delay,
                "round trip {rtt:?} is shorter than twice the one-way delay {delay:?}"
            );
        }
        let stats = proxy.handle().stats();
        for direction in Direction::BOTH {
            assert!(
                link(&stats, direction).applied_delay_mean >= delay,
                "{stats:?}"
            );
        }

        // A delay changed at run time applies to the next datagrams.
        let longer = Duration::from_millis(40);
        proxy
            .handle()
            .set_delay(client.local_addr().expect("client addr"), longer)
            .expect("known link");
        let start = Instant::now();
        client
            .send_to(b"pong", proxy.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"pong");
        assert!(
            start.elapsed() >= 2 * longer,
            "round trip {:?} after raising the delay to {longer:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn the_precise_timer_never_fires_early_and_can_be_rearmed() {
        let timer = PreciseTimer::new().expect("timerfd");
        for us in [0u64, 300, 1_250, 2_650] {
            let start = Instant::now();
            let deadline = start + Duration::from_micros(us);
            timer.sleep_until(deadline).await.expect("timer");
            assert!(
                Instant::now() >= deadline,
                "woke {:?} into a {us} us sleep",
                start.elapsed()
            );
        }
        // A deadline in the past returns at once instead of disarming the timer and hanging.
        tokio::time::timeout(
            TEST_WAIT,
            timer.sleep_until(Instant::now() - Duration::from_millis(1)),
        )
        .await
        .expect("a past deadline returns")
        .expect("timer");
    }

    #[tokio::test]
    async fn a_black_hole_drops_everything_in_its_direction_until_switched_off() {
        let (echo, echoed, _server) = echo_server().await;
        let client = UdpSocket::bind(localhost()).await.expect("bind client");
        let client_addr = client.local_addr().expect("client addr");
        let proxy = proxy_for(&client, echo, Duration::ZERO, QUEUE_PACKETS_DEFAULT).await;
        let handle = proxy.handle();
        // Open the link first: the handle only knows links it has seen or was configured with.
        client
            .send_to(b"0", proxy.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"0");

        // Towards the target: the echo server never sees datagram 1.
        handle
            .set_black_hole(client_addr, Direction::ToTarget, true)
            .expect("known link");
        client
            .send_to(b"1", proxy.listen_addr())
            .await
            .expect("send");
        eventually(&handle, "drop towards the target", |s| {
            link(s, Direction::ToTarget).dropped_chaos == 1
        })
        .await;
        handle
            .set_black_hole(client_addr, Direction::ToTarget, false)
            .expect("known link");
        client
            .send_to(b"2", proxy.listen_addr())
            .await
            .expect("send");
        // The delay line is FIFO: had 1 gone through, its echo would come first.
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"2");
        assert_eq!(
            echoed.load(Ordering::SeqCst),
            2,
            "the black-holed datagram reached the target"
        );

        // Back towards the sender: the echo server answers datagram 3, the answer is swallowed.
        handle
            .set_black_hole(client_addr, Direction::ToSource, true)
            .expect("known link");
        client
            .send_to(b"3", proxy.listen_addr())
            .await
            .expect("send");
        eventually(&handle, "drop towards the source", |s| {
            link(s, Direction::ToSource).dropped_chaos == 1
        })
        .await;
        assert_eq!(echoed.load(Ordering::SeqCst), 3);
        handle
            .set_black_hole(client_addr, Direction::ToSource, false)
            .expect("known link");
        client
            .send_to(b"4", proxy.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"4");

        // The proxy-wide switch works the same way.
        handle.set_black_hole_all(Direction::ToTarget, true);
        client
            .send_to(b"5", proxy.listen_addr())
            .await
            .expect("send");
        eventually(&handle, "proxy-wide drop", |s| {
            link(s, Direction::ToTarget).dropped_chaos == 2
        })
        .await;
        handle.set_black_hole_all(Direction::ToTarget, false);
        client
            .send_to(b"6", proxy.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"6");
        assert_eq!(echoed.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn drop_probability_one_drops_all_and_zero_none() {
        let (echo, echoed, _server) = echo_server().await;
        let client = UdpSocket::bind(localhost()).await.expect("bind client");
        let client_addr = client.local_addr().expect("client addr");
        let proxy = proxy_for(&client, echo, Duration::ZERO, QUEUE_PACKETS_DEFAULT).await;
        let handle = proxy.handle();
        assert!(handle
            .set_drop_probability(client_addr, Direction::ToTarget, 1.5)
            .is_err());
        handle
            .set_drop_probability(client_addr, Direction::ToTarget, 1.0)
            .expect("known link");
        for _ in 0..10 {
            client
                .send_to(b"x", proxy.listen_addr())
                .await
                .expect("send");
        }
        eventually(&handle, "ten drops", |s| {
            link(s, Direction::ToTarget).dropped_chaos == 10
        })
        .await;
        handle
            .set_drop_probability(client_addr, Direction::ToTarget, 0.0)
            .expect("known link");
        client
            .send_to(b"y", proxy.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&client, proxy.listen_addr()).await, b"y");
        assert_eq!(echoed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_full_delay_line_drops_and_counts() {
        let (echo, _, _server) = echo_server().await;
        let client = UdpSocket::bind(localhost()).await.expect("bind client");
        // A long delay keeps everything queued; the test reads counters and never waits for it.
        let proxy = proxy_for(&client, echo, Duration::from_secs(3600), 4).await;
        for _ in 0..10 {
            client
                .send_to(b"q", proxy.listen_addr())
                .await
                .expect("send");
        }
        let stats = eventually(&proxy.handle(), "ten arrivals", |s| {
            link(s, Direction::ToTarget).received == 10
        })
        .await;
        // 4 fit in the queue, plus at most one the delay line already took out to wait on.
        let overflow = link(&stats, Direction::ToTarget).dropped_overflow;
        assert!((5..=6).contains(&overflow), "{stats:?}");
        assert_eq!(link(&stats, Direction::ToTarget).forwarded, 0);
    }

    #[tokio::test]
    async fn unknown_senders_are_dropped_unless_a_delay_is_configured_for_them() {
        let (echo, _, _server) = echo_server().await;
        let known = UdpSocket::bind(localhost()).await.expect("bind");
        let stranger = UdpSocket::bind(localhost()).await.expect("bind");
        let proxy = proxy_for(&known, echo, Duration::ZERO, 16).await;
        stranger
            .send_to(b"?", proxy.listen_addr())
            .await
            .expect("send");
        eventually(&proxy.handle(), "unknown drop", |s| {
            s.dropped_unknown_source == 1
        })
        .await;

        let open = UdpProxy::start(ProxyConfig {
            name: "open".into(),
            listen: localhost(),
            target: echo,
            sources: Vec::new(),
            unknown_source_delay: Some(Duration::ZERO),
            queue_packets_max: 16,
            seed: 1,
        })
        .await
        .expect("proxy starts");
        stranger
            .send_to(b"!", open.listen_addr())
            .await
            .expect("send");
        assert_eq!(recv_from(&stranger, open.listen_addr()).await, b"!");
        assert_eq!(
            open.handle().stats().links.len(),
            2,
            "one link, two directions"
        );
    }
}
