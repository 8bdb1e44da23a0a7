//! The hub API: Cloud Elements' `/hubs/{hub}/{resource}` calls (`GET /hubs/social/messages`),
//! made with an element instance's token and proxied to the provider, each resource declared as
//! element data. So far it holds the `where` parameter: [`ceql`] parses Cloud Elements' query
//! language, and [`where_clause`] turns a parsed clause into the query parameters a resource's
//! vendor takes.

pub mod ceql;
pub mod where_clause;
