//! The ceiling: a minimal HTTP server on the hub's own stack (axum on tokio's multi-threaded
//! runtime, one worker per core) that reads each request's body and answers 200. It runs as a
//! child process, like the hub, so the same load meets the same process boundary; what it
//! sustains is what this machine can do at all with this load generator beside it.

use std::{net::SocketAddr, process::Stdio};

use anyhow::Context;
use axum::{Router, body::Bytes, http::StatusCode, routing::post};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const READY_LINE: &str = "noop server listening on ";

/// Serves until killed (the `noop-server` subcommand).
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("{READY_LINE}{}", listener.local_addr()?);
    let app = Router::new().route(
        "/{*path}",
        post(|body: Bytes| async move {
            drop(body);
            StatusCode::OK
        }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}

/// The no-op server as a child process of the bench.
pub struct NoopServer {
    pub addr: SocketAddr,
    pub pid: u32,
    _child: Child,
}

impl NoopServer {
    pub async fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["noop-server", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the no-op server")?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .context("the no-op server exited before listening")?;
        let addr = line
            .strip_prefix(READY_LINE)
            .context("unexpected first line from the no-op server")?
            .parse()?;
        Ok(Self {
            addr,
            pid: child.id().context("the no-op server has no pid")?,
            _child: child,
        })
    }

    /// A URL shaped like a webhook URL, so the request line is the same size.
    pub fn url(&self) -> reqwest::Url {
        format!(
            "http://{}/elements/api-v2/events/hootsuite/MTIzNDU2Nzg5MDEyMzQ1",
            self.addr
        )
        .parse()
        .expect("a valid URL")
    }
}
