//! The clock seam: every "now" the keep-alive engine and the Manager's state and expiry
//! computations use comes from a [`Clock`], so tests can jump over days (a laptop that slept, a
//! session near its expiry) without waiting.
//!
//! Leases between processes keep real time on purpose: they bound how long a crashed holder can
//! block others, and every process agrees on the real clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock. What the app and the CLI use.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests: the wall clock plus an offset that can jump forward or back at any
/// moment (time keeps flowing between jumps, so timeouts and leases still behave).
#[derive(Debug, Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
}

impl TestClock {
    /// A clock at the real time (offset 0), ready to share.
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock::default())
    }

    /// A clock `offset` away from the real time.
    pub fn with_offset(offset: TimeDelta) -> Arc<TestClock> {
        let c = TestClock::default();
        c.set_offset(offset);
        Arc::new(c)
    }

    /// Jumps by `by` (negative goes back).
    pub fn advance(&self, by: TimeDelta) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn set_offset(&self, offset: TimeDelta) {
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn offset(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_jumps_and_keeps_flowing() {
        let c = TestClock::new();
        let real = Utc::now();
        assert!((c.now() - real).num_seconds().abs() < 2);
        c.advance(TimeDelta::days(3));
        let d = c.now() - Utc::now();
        assert!((d - TimeDelta::days(3)).num_seconds().abs() < 2);
        c.advance(TimeDelta::days(-4));
        assert!(c.now() < Utc::now() - TimeDelta::hours(23));
        c.set_offset(TimeDelta::zero());
        assert_eq!(c.offset(), TimeDelta::zero());
        let as_dyn: Arc<dyn Clock> = c;
        assert!(as_dyn.now() <= Utc::now() + TimeDelta::seconds(1));
        assert!((SystemClock.now() - Utc::now()).num_seconds().abs() < 2);
    }
}
