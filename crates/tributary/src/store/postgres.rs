//! PostgreSQL backend: for several hub processes sharing one database.

use std::str::FromStr;

use sqlx::{
    Postgres,
    postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult},
};

use super::{
    ConnectOptions, StoreResult,
    sql::{Dialect, SqlStore},
};

impl Dialect for Postgres {
    const BEGIN_WRITE: &'static str = "BEGIN";

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

pub type PgStore = SqlStore<Postgres>;

/// Connects and applies migrations; several processes may do this at once (sqlx takes an
/// advisory lock around migrations).
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<PgStore> {
    let connect = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .connect_with(connect)
        .await?;
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    Ok(SqlStore {
        reader: pool.clone(),
        writer: pool,
    })
}
