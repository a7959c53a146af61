//! Storage integration tests: the openraft conformance suite, owner fencing, batches, durability.

mod atomic;
mod backup;
mod batch;
mod compaction;
mod fencing;
mod groups;
mod scan;
mod suite;
mod durability;

/// Runs `cmd` on `kv` and writes its mutations, as the state machine does (the machine tests'
/// key space).
fn run(kv: &mut std::collections::BTreeMap<Vec<u8>, Vec<u8>>, cmd: &svea_storage::Command) -> svea_storage::CommandResult {
    let (result, muts) = svea_storage::machine::execute(|k| Ok(kv.get(k).cloned()), cmd).expect("execute");
    for (k, v) in muts {
        match v {
            Some(v) => kv.insert(k, v),
            None => kv.remove(&k),
        };
    }
    result
}
