//! What the tools that run the Tributary hub from outside (`tributary-bench`,
//! `tributary-faults`) share, so that both start, call and feed the hub the same way.

pub mod api;
pub mod hootsuite;
pub mod hub;
pub mod machine;
