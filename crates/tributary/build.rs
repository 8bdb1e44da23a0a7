//! Rebuilds the hub when a migration is added: `sqlx::migrate!` embeds the migration
//! files, but cargo only notices changes to files it already knows of, not a new one.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
