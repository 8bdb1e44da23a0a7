//! The `tributary` binary; everything lives in the library.

/// glibc's allocator took about an eighth of the hub's CPU under delivery load (perf),
/// much of it consolidating and unlinking free chunks shared between threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tributary::cli::run().await
}
