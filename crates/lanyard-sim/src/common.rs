//! What every simulator shares: a controllable clock and fault injection.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// Wall clock plus an offset that tests move forward through `/__sim/clock`.
#[derive(Debug, Default)]
pub struct SimClock {
    offset_secs: AtomicI64,
}

impl SimClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::seconds(self.offset_secs.load(Ordering::Relaxed))
    }
    /// Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

/// A seeded user, printed at start so people can log in to the demo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoUser {
    pub service: &'static str,
    pub user: String,
    pub password: String,
    pub note: String,
}

/// Handed to every service router.
#[derive(Clone, Default)]
pub struct Shared {
    pub clock: Arc<SimClock>,
}
