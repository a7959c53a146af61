//! The `svea` binary: everything is in `svea_node::cli`.

fn main() {
    svea_node::cli::main();
}
