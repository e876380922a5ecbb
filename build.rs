// `sqlx::migrate!` embeds ./migrations at compile time; without this, adding a
// migration file does not rebuild the binary and `homecare migrate` misses it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
