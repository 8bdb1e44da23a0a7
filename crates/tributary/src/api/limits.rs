//! Rate limits: per instance on the webhook receiver (so one noisy or hostile sender cannot
//! starve the others), per organization on the API. Exceeding one gets 429 with a
//! `Retry-After`. Counted in memory, per hub process.

use std::{hash::Hash, num::NonZeroU32};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use super::error::ApiError;
use crate::{
    config::LimitsConfig,
    ids::{InstanceId, OrgId},
};

/// Past this many keys, those whose bucket is full again are forgotten.
const SWEEP_ABOVE: usize = 10_000;

pub struct Limits {
    receiver: Option<DefaultKeyedRateLimiter<InstanceId>>,
    api: Option<DefaultKeyedRateLimiter<OrgId>>,
}

fn limiter<K: Hash + Eq + Clone>(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

fn check<K: Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: K,
    what: &str,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else { return Ok(()) };
    if limiter.len() > SWEEP_ABOVE {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        ApiError::TooManyRequests {
            message: format!("Too many requests for this {what}; retry after the time in Retry-After."),
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            receiver: limiter(config.receiver_per_instance_per_second, config.receiver_burst),
            api: limiter(config.api_per_organization_per_second, config.api_burst),
        }
    }

    pub fn receiver(&self, instance: InstanceId) -> Result<(), ApiError> {
        check(&self.receiver, instance, "instance")
    }

    pub fn api(&self, org: OrgId) -> Result<(), ApiError> {
        check(&self.api, org, "organization")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_key_and_zero_means_unlimited() {
        let limits = Limits::new(&LimitsConfig {
            receiver_per_instance_per_second: 2,
            receiver_burst: 3,
            api_per_organization_per_second: 0,
            api_burst: 0,
        });
        let (a, b) = (InstanceId::from_stored(1), InstanceId::from_stored(2));
        for _ in 0..3 {
            limits.receiver(a).unwrap();
        }
        match limits.receiver(a) {
            Err(ApiError::TooManyRequests { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
            other => panic!("expected 429, got {other:?}"),
        }
        limits.receiver(b).unwrap();
        for _ in 0..1000 {
            limits.api(OrgId::from_stored(1)).unwrap();
        }
    }
}
