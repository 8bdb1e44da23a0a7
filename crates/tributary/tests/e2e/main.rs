//! End-to-end tests: the hub over real HTTP on loopback, a real SQLite file and a real
//! PostgreSQL schema, the Hootsuite simulator standing in for Hootsuite.

mod admin;
mod binary;
mod compat;
mod console;
mod delivery;
mod errors;
mod events;
mod hostile;
mod isolation;
mod polling;
mod secrets;
mod security;
mod seed_flow;
mod slow_clients;
mod startup;
mod store_contract;
mod support;
mod tokens;
