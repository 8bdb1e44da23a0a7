//! Sources: where provider events come from. [`webhook`] receives what providers push.

pub mod webhook;
