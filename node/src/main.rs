//! The `svea` binary: everything is in `svea_node::cli`.

/// mimalloc instead of glibc's malloc: under load a node spent over a quarter of its CPU in
/// glibc's allocator (sled's page cache and Raft entries allocate and free many short-lived
/// buffers; `perf` in docs/benchmarks.md). The library and the simulations keep the default.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    svea_node::cli::main();
}
