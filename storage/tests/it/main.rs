//! Storage integration tests: the openraft conformance suite, owner fencing, batches, durability.

mod atomic;
mod batch;
mod compaction;
mod fencing;
mod groups;
mod scan;
mod suite;
mod durability;
