//! Waiting for a condition with a deadline instead of sleeping for a guessed time: [`eventually`]
//! (and [`eventually_async`] on a tokio runtime) looks at a condition, from 1 ms apart doubling to
//! [`PAUSE_MAX`], until it holds, and panics naming what it waited for, how long, and the last
//! thing it saw. [`poll_until`] is the same without the panic, for callers with their own error.
//!
//! A condition is a closure returning `bool`, `Option<T>` (ready when `Some`) or `Result<T, E>`
//! (ready when `Ok`; the last `Err` is shown when time runs out).
//!
//! This file uses only std and tokio, so the integration tests of `svea-node` and `svea-geo`
//! include it by path (`#[path] mod poll;`): they cannot depend on this crate, which depends on
//! them, and production code must not carry a test helper.
#![allow(dead_code)] // each includer uses part of it

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// First pause between two looks.
pub const PAUSE_FIRST: Duration = Duration::from_millis(1);
/// Longest pause between two looks.
pub const PAUSE_MAX: Duration = Duration::from_millis(50);

/// What a condition returns: ready with a value, or not yet (with what it saw, maybe empty).
pub trait Ready {
    /// The value once ready.
    type Output;
    /// `Ok` when ready, else a description of what was seen (empty if nothing to say).
    fn ready(self) -> Result<Self::Output, String>;
}

impl Ready for bool {
    type Output = ();
    fn ready(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

impl<T> Ready for Option<T> {
    type Output = T;
    fn ready(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

impl<T, E: Display> Ready for Result<T, E> {
    type Output = T;
    fn ready(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// The time left and the next pause of one wait.
struct Patience {
    started: Instant,
    within: Duration,
    pause: Duration,
}

impl Patience {
    fn new(within: Duration) -> Patience {
        Patience {
            started: Instant::now(),
            within,
            pause: PAUSE_FIRST,
        }
    }

    /// The pause before the next look; `None` once `within` has passed.
    fn next_pause(&mut self) -> Option<Duration> {
        let left = self.within.checked_sub(self.started.elapsed())?;
        if left.is_zero() {
            return None;
        }
        let pause = self.pause.min(left);
        self.pause = (self.pause * 2).min(PAUSE_MAX);
        Some(pause)
    }
}

/// Why a wait ended without its condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut {
    /// How long it waited.
    pub waited: Duration,
    /// What the condition saw last (may be empty).
    pub last: String,
}

/// Looks at `condition` until it is ready or `within` has passed (it is looked at once more at
/// the end); its value, or what it saw last.
pub fn poll_until<R: Ready>(
    within: Duration,
    mut condition: impl FnMut() -> R,
) -> Result<R::Output, TimedOut> {
    let mut patience = Patience::new(within);
    loop {
        match condition().ready() {
            Ok(value) => return Ok(value),
            Err(last) => match patience.next_pause() {
                Some(pause) => std::thread::sleep(pause),
                None => {
                    return Err(TimedOut {
                        waited: patience.started.elapsed(),
                        last,
                    })
                }
            },
        }
    }
}

/// [`poll_until`] on a tokio runtime: sleeps with tokio, so the runtime's other tasks run.
pub async fn poll_until_async<R: Ready, F: Future<Output = R>>(
    within: Duration,
    mut condition: impl FnMut() -> F,
) -> Result<R::Output, TimedOut> {
    let mut patience = Patience::new(within);
    loop {
        match condition().await.ready() {
            Ok(value) => return Ok(value),
            Err(last) => match patience.next_pause() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => {
                    return Err(TimedOut {
                        waited: patience.started.elapsed(),
                        last,
                    })
                }
            },
        }
    }
}

/// The panic of a wait for `what` that timed out.
#[track_caller]
fn gave_up(what: &dyn Display, within: Duration, timed_out: TimedOut) -> ! {
    let TimedOut { waited, last } = timed_out;
    if last.is_empty() {
        panic!("waited {waited:?} (limit {within:?}) for {what}, in vain");
    }
    panic!("waited {waited:?} (limit {within:?}) for {what}, in vain; last seen: {last}");
}

/// Waits until `condition` is ready and returns its value; panics after `within`, naming `what`
/// was awaited (say it as a condition: "node 2 unreachable").
#[track_caller]
pub fn eventually<R: Ready>(
    within: Duration,
    what: impl Display,
    condition: impl FnMut() -> R,
) -> R::Output {
    poll_until(within, condition).unwrap_or_else(|t| gave_up(&what, within, t))
}

/// [`eventually`] on a tokio runtime.
pub async fn eventually_async<R: Ready, F: Future<Output = R>>(
    within: Duration,
    what: impl Display,
    condition: impl FnMut() -> F,
) -> R::Output {
    match poll_until_async(within, condition).await {
        Ok(value) => value,
        Err(t) => gave_up(&what, within, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_becomes_true_gives_its_value() {
        let mut looks = 0;
        let v = eventually(Duration::from_secs(5), "the third look", || {
            looks += 1;
            (looks == 3).then_some(looks)
        });
        assert_eq!(v, 3);
    }

    #[test]
    fn a_condition_that_never_holds_times_out_with_what_it_saw_last() {
        let t = poll_until(Duration::from_millis(30), || Err::<(), _>("still 503"))
            .expect_err("never ready");
        assert!(t.waited >= Duration::from_millis(30), "{t:?}");
        assert_eq!(t.last, "still 503");
    }

    #[test]
    #[should_panic(expected = "for node 2 unreachable, in vain; last seen: reachable")]
    fn eventually_names_what_it_waited_for() {
        eventually(Duration::from_millis(5), "node 2 unreachable", || {
            Err::<(), _>("reachable")
        });
    }
}
