//! The simulations' tests, one binary: each file was a test binary of its own, and every one
//! links the whole node (openraft, quinn, actix, sled), so on a two-core CI machine five links
//! cost minutes; one binary also lets the process tests (`chaos`, `isolation`, which mostly
//! wait on real `svea` processes) run beside the CPU-bound simulation seeds.
//!
//! `cargo test -p simulations --test all sim::` runs the deterministic simulation alone,
//! `... chaos::` the chaos run, and so on.

mod bench_vs_etcd;
mod chaos;
mod checker;
mod isolation;
mod sim;
