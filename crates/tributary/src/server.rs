//! The HTTP server: the application's router on hyper's HTTP/1 connections, with the bounds
//! on clients that hold a connection without finishing a request (docs/reliability.md,
//! "Slow and idle clients"):
//!
//! - `http.header_read_timeout_secs` is hyper's header read timeout. Its timer starts when a
//!   connection opens and again when a response has gone out, so it also closes a keep-alive
//!   connection left idle that long; hyper has no other idle timeout.
//! - `http.max_connections`: with that many open, the listener stops accepting; further
//!   connections wait in the kernel's listen backlog until one closes.
//! - `http.body_timeout_secs` applies where a body is read (`api::extract::read_body`), after
//!   the request's path and headers were checked.
//!
//! `axum::serve` sets none of these (it gives hyper no timer), hence this loop.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;

use crate::config::HttpConfig;

/// Serves `app` on `listener` until `shutdown`; then stops accepting, closes idle
/// connections and returns once the requests in progress have been answered.
pub async fn serve(listener: TcpListener, app: Router, config: HttpConfig, shutdown: CancellationToken) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout());
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, slot) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            // A header timeout or a client that went away; nothing the hub can act on.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed on an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection, once fewer than `http.max_connections` are open; the slot is held
/// until the connection closes.
async fn accept(listener: &TcpListener, slots: &Arc<Semaphore>) -> (TcpStream, OwnedSemaphorePermit) {
    let slot = slots.clone().acquire_owned().await.expect("the slots are never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (stream, slot),
            // The client gave up before its connection was accepted.
            Err(error) if is_connection_error(&error) => {}
            // Out of file descriptors, most likely (`http.max_connections` above what
            // `ulimit -n` leaves): say so, and let connections close meanwhile.
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset)
}
