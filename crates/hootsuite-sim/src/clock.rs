//! The simulator's notion of "now": wall-clock time plus an offset that tests move with
//! `PUT /_sim/clock`, so scheduling, token expiry and event timestamps can be fast-forwarded.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeDelta, Timelike, Utc};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn offset_secs(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed) / 1000
    }

    pub fn set_offset_secs(&self, secs: i64) {
        self.offset_ms.store(secs.saturating_mul(1000), Ordering::Relaxed);
    }
}

/// `2020-01-01T14:00:00Z`, with a fraction only when there is one: the format of Hootsuite's
/// `scheduledSendTime` and member dates.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Hootsuite's creation dates (members, teams) carry whole seconds.
pub fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_nanosecond(0).unwrap_or(time)
}

/// `2016-07-19T21:51:32.175Z`: webhook event timestamps always carry milliseconds.
pub fn format_millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_now() {
        let clock = Clock::default();
        clock.set_offset_secs(3600);
        let ahead = clock.now() - Utc::now();
        assert!(ahead > TimeDelta::seconds(3599) && ahead <= TimeDelta::seconds(3600));
        assert_eq!(clock.offset_secs(), 3600);
    }

    #[test]
    fn formats_match_hootsuite() {
        let t = DateTime::parse_from_rfc3339("2016-07-19T21:51:32.175Z")
            .unwrap()
            .to_utc();
        assert_eq!(format_millis(t), "2016-07-19T21:51:32.175Z");
        assert_eq!(format_time(t), "2016-07-19T21:51:32.175Z");
        let whole = DateTime::parse_from_rfc3339("2020-01-01T14:00:00Z").unwrap().to_utc();
        assert_eq!(format_time(whole), "2020-01-01T14:00:00Z");
        assert_eq!(format_millis(whole), "2020-01-01T14:00:00.000Z");
    }
}
