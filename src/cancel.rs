//! Deadlines and cancellation: what every wait in the driver checks.
//!
//! Blocking calls never wait longer than [`POLL`] at a time (socket read timeouts,
//! `try_wait` loops, condition-variable timeouts); between slices they call
//! [`Cancel::check`], which fails once a signal has arrived or the global timeout
//! has run out. That is how a run that is stuck anywhere still ends promptly and
//! cleanly. Polling was chosen over a self-pipe plus `poll(2)` on every fd because
//! the waits are few and a 50 ms slice costs nothing measurable.

use crate::error::Error;
use crate::signals;
use std::time::{Duration, Instant};

/// The longest a blocking call waits before checking for cancellation.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The longest duration the driver deals in (about 31 years): longer timeouts
/// mean "never", and stay clear of `Instant` overflow.
pub(crate) const FOREVER: Duration = Duration::from_secs(1_000_000_000);

/// `seconds` as a duration, clamped to `0..=FOREVER` (NaN counts as 0).
pub(crate) fn seconds(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        Duration::ZERO
    } else if seconds >= FOREVER.as_secs_f64() {
        FOREVER
    } else {
        Duration::from_secs_f64(seconds)
    }
}

/// The run-wide stop conditions: signals and the global timeout.
#[derive(Debug, Clone, Copy)]
pub struct Cancel {
    global_deadline: Instant,
    global_timeout: Duration,
}

impl Cancel {
    /// Starts the global clock now.
    pub fn new(global_timeout: Duration) -> Cancel {
        let global_timeout = global_timeout.min(FOREVER);
        Cancel {
            global_deadline: Instant::now() + global_timeout,
            global_timeout,
        }
    }

    /// Fails if a signal arrived or the global timeout ran out.
    pub fn check(&self) -> Result<(), Error> {
        if let Some(signal) = signals::received() {
            return Err(Error::Interrupted { signal });
        }
        if Instant::now() >= self.global_deadline {
            return Err(Error::GlobalTimeout {
                seconds: self.global_timeout.as_secs_f64(),
            });
        }
        Ok(())
    }

    /// Sleeps for `duration` (host time), checking for cancellation as it goes.
    pub fn sleep(&self, duration: Duration) -> Result<(), Error> {
        let until = Instant::now() + duration.min(FOREVER);
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(POLL));
        }
    }
}

/// A deadline for one operation.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        let timeout = timeout.min(FOREVER);
        Deadline {
            at: Instant::now() + timeout,
        }
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The next poll slice: at most [`POLL`], at least 1 ms, never past the deadline
    /// by more than that millisecond.
    pub fn slice(&self) -> Duration {
        self.remaining().clamp(Duration::from_millis(1), POLL)
    }
}
