//! Storage integration tests: the openraft conformance suite, owner fencing, durability.

mod fencing;
mod suite;
mod durability;
