//! Typed identifiers for every stored entity.
//!
//! Cloud Elements exposes organizations, users, instances and configuration entries as
//! positive integers; we keep that wire shape but draw the numbers at random from
//! `[2^32, 2^53)`, so ids are neither sequential nor guessable and still fit in a
//! JavaScript number. Events and deliveries, which are many and listed in time order, have
//! UUIDv7 ids instead.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

const RANDOM_ID_RANGE: std::ops::Range<i64> = (1 << 32)..(1 << 53);

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// A fresh, unpredictable id.
            pub fn random() -> Self {
                Self(rand::random_range(RANDOM_ID_RANGE))
            }

            /// Wraps a value read back from storage, where it was written by [`Self::random`].
            pub fn from_stored(value: i64) -> Self {
                Self(value)
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.parse::<i64>() {
                    Ok(n) if n > 0 => Ok(Self(n)),
                    _ => Err(InvalidId),
                }
            }
        }
    };
}

/// The text was not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

numeric_id!(
    /// An organization: the tenant that owns users and instances.
    OrgId
);
numeric_id!(
    /// A user of an organization.
    UserId
);
numeric_id!(
    /// An element instance: one authenticated connection to a provider account.
    InstanceId
);
numeric_id!(
    /// One configuration entry of an instance.
    ConfigEntryId
);

macro_rules! time_ordered_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh id, ordered after every id made before it in this process.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::try_parse(s).map(Self).map_err(|_| InvalidId)
            }
        }
    };
}

time_ordered_id!(
    /// An event received from a provider (one webhook request or one poll's findings).
    /// Time-ordered, so the event log pages by id.
    EventId
);
time_ordered_id!(
    /// One notification to a callback URL; sent as `webhook-id` and `Elements-Webhook-Id`,
    /// the same on every retry.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_positive_and_javascript_safe() {
        for _ in 0..1000 {
            let id = InstanceId::random().get();
            assert!(RANDOM_ID_RANGE.contains(&id), "{id}");
        }
    }

    #[test]
    fn time_ordered_ids_sort_by_creation_and_round_trip() {
        let ids: Vec<EventId> = (0..100).map(|_| EventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ids.windows(2).all(|w| w[0].to_string() < w[1].to_string()),
            "text sorts like the id"
        );
        assert_eq!(ids[0].to_string().parse::<EventId>(), Ok(ids[0]));
        assert_eq!("nope".parse::<EventId>(), Err(InvalidId));
    }

    #[test]
    fn parses_only_positive_integers() {
        assert_eq!("42".parse::<InstanceId>(), Ok(InstanceId(42)));
        for bad in ["0", "-3", "", "abc", "1.5", " 7", "99999999999999999999"] {
            assert_eq!(bad.parse::<InstanceId>(), Err(InvalidId), "{bad:?}");
        }
    }
}
