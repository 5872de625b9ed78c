//! `sqlx::migrate!` embeds the service's migrations at compile time; without this a new migration
//! file would not rebuild the crate, and services would start without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
