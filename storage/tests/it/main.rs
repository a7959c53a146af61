//! Storage integration tests: the openraft conformance suite, owner fencing, batches, durability.

mod batch;
mod fencing;
mod suite;
mod durability;
