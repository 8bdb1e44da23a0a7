//! The events pipeline, read left to right like Vector's topology:
//! [`sources`] (the webhook receiver) → [`normalize`] (element rules → standard event
//! objects) → [`ingest`] (the outbox: event, sequence numbers and [`notification`]s stored
//! in one transaction) → [`deliver`] (signed, retried, at least once); [`retention`] prunes
//! the event log; [`cache`] spares the database the same reads on every event.

pub mod cache;
pub mod deliver;
pub mod ingest;
pub mod normalize;
pub mod notification;
pub mod retention;
pub mod sources;
