//! Sources: where provider events come from. [`webhook`] receives what providers push;
//! [`poller`] asks providers what changed.

pub mod poller;
pub mod webhook;
