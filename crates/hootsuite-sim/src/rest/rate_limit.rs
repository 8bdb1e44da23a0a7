//! Per-account rate limiting (hootsuite.md §2.3): at most N requests in any 1-second window and
//! a daily quota, reported in `X-Account-*` headers on every authenticated response.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use chrono::NaiveDate;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Usage {
    /// When the requests of the last second were accepted, in real time: the clock offset
    /// moves days, not the length of a second.
    recent: VecDeque<Instant>,
    day: NaiveDate,
    used_today: u32,
}

/// The decision for one request and the numbers for its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub quota: u32,
    pub used: u32,
    pub remaining: u32,
}

impl Verdict {
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        let value = |text: String| HeaderValue::from_str(&text).expect("digits are a valid header");
        [
            (
                HeaderName::from_static("x-account-quota"),
                value(format!("{} per day", self.quota)),
            ),
            (
                HeaderName::from_static("x-account-quota-used"),
                value(self.used.to_string()),
            ),
            (
                HeaderName::from_static("x-account-rate-limit-requests-remaining"),
                value(self.remaining.to_string()),
            ),
        ]
    }
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    accounts: HashMap<String, Usage>,
}

impl RateLimiter {
    /// Counts the request if it is allowed; rejected requests use up nothing.
    pub fn check(
        &mut self,
        account: &str,
        at: Instant,
        today: NaiveDate,
        per_second: u32,
        daily_quota: u32,
    ) -> Verdict {
        let usage = self.accounts.entry(account.to_owned()).or_insert_with(|| Usage {
            recent: VecDeque::new(),
            day: today,
            used_today: 0,
        });
        if usage.day != today {
            usage.day = today;
            usage.used_today = 0;
        }
        while usage
            .recent
            .front()
            .is_some_and(|&t| at.saturating_duration_since(t) >= WINDOW)
        {
            usage.recent.pop_front();
        }
        let in_window = u32::try_from(usage.recent.len()).unwrap_or(u32::MAX);
        let allowed = in_window < per_second && usage.used_today < daily_quota;
        if allowed {
            usage.recent.push_back(at);
            usage.used_today += 1;
        }
        let in_window = u32::try_from(usage.recent.len()).unwrap_or(u32::MAX);
        Verdict {
            allowed,
            quota: daily_quota,
            used: usage.used_today,
            remaining: per_second.saturating_sub(in_window),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2030, 1, d).unwrap()
    }

    #[test]
    fn sliding_one_second_window() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        for n in 1..=3 {
            let v = limiter.check("a", t0, day(1), 3, 100);
            assert!(v.allowed);
            assert_eq!((v.used, v.remaining), (n, 3 - n));
        }
        let refused = limiter.check("a", t0 + Duration::from_millis(999), day(1), 3, 100);
        assert!(!refused.allowed);
        assert_eq!((refused.used, refused.remaining), (3, 0));
        assert!(limiter.check("b", t0, day(1), 3, 100).allowed);
        assert!(limiter.check("a", t0 + WINDOW, day(1), 3, 100).allowed);
    }

    #[test]
    fn daily_quota_resets_with_the_day() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        assert!(limiter.check("a", t0, day(1), 10, 2).allowed);
        assert!(limiter.check("a", t0, day(1), 10, 2).allowed);
        assert!(!limiter.check("a", t0, day(1), 10, 2).allowed);
        let next_day = limiter.check("a", t0, day(2), 10, 2);
        assert!(next_day.allowed);
        assert_eq!(next_day.used, 1);
        let names: Vec<_> = next_day
            .headers()
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                "x-account-quota: 2 per day",
                "x-account-quota-used: 1",
                "x-account-rate-limit-requests-remaining: 7"
            ]
        );
    }
}
