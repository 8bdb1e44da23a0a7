//! The `tributary` binary; everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tributary::cli::run().await
}
