//! Rebuilds this crate when a migration is added or changed: `sqlx::migrate!`
//! embeds the files of `../migrations` at compile time, and cargo cannot see
//! a new file there by itself (an incremental build would otherwise run
//! without it).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
