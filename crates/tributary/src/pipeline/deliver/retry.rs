//! When to try a failed notification again: a schedule with jitter, and a receiver's
//! `Retry-After` honoured within a bound.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay before each retry; its length is the number of retries.
    pub schedule: Vec<Duration>,
    /// Each delay is stretched or shrunk by up to this fraction, so that receivers that
    /// failed together are not retried together.
    pub jitter: f64,
    /// The longest `Retry-After` the hub will wait for.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The delay after attempt number `attempt` (1 is the first) failed, or `None` when the
    /// schedule is exhausted. `retry_after` is what the receiver asked for, if anything.
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.schedule.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let factor = 1.0 + self.jitter * (rand::random::<f64>() * 2.0 - 1.0);
        let jittered = base.mul_f64(factor.max(0.0));
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(self.max_retry_after)),
            None => jittered,
        })
    }
}

/// A `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: [5, 300, 1800].into_iter().map(Duration::from_secs).collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn follows_the_schedule_within_the_jitter_then_stops() {
        let policy = policy();
        for _ in 0..200 {
            let first = policy.delay_after(1, None).unwrap().as_secs_f64();
            assert!((4.0..=6.0).contains(&first), "{first}");
            let second = policy.delay_after(2, None).unwrap().as_secs_f64();
            assert!((240.0..=360.0).contains(&second), "{second}");
        }
        assert!(policy.delay_after(3, None).is_some());
        assert_eq!(policy.delay_after(4, None), None);
        assert_eq!(policy.delay_after(0, None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let policy = policy();
        let asked = policy.delay_after(1, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(
            asked,
            Duration::from_secs(60),
            "a longer wait than scheduled is granted"
        );
        let capped = policy.delay_after(1, Some(Duration::from_secs(86_400))).unwrap();
        assert_eq!(capped, Duration::from_secs(3600), "but never beyond the bound");
        let shorter = policy.delay_after(2, Some(Duration::from_secs(1))).unwrap();
        assert!(
            shorter >= Duration::from_secs(240),
            "a shorter wait never hurries the schedule"
        );
    }

    #[test]
    fn parses_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
