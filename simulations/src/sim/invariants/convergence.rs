//! After healing, all replicas hold identical state, and new requests succeed within a bound.
//!
//! The runner waits (bounded) until every node has applied the same log index with identical state
//! machine contents; the probes then run one complete customer flow in every region.

use crate::sim::host::Slot;
use crate::sim::net::Shared;

/// Whether every running node holds the same applied state; `Err` says how they differ.
pub fn replicas_identical(slots: &[Shared<Slot>]) -> Result<(), String> {
    let mut first: Option<(u64, Vec<(Vec<u8>, Vec<u8>)>)> = None;
    for (i, slot) in slots.iter().enumerate() {
        let Some(h) = slot.borrow().handle.clone() else { return Err(format!("node {} is not running", i + 1)) };
        let view = h.cluster().view();
        let applied = view.last_applied_index().map_err(|e| e.to_string())?;
        let pairs = view.pairs().map_err(|e| e.to_string())?;
        match &first {
            None => first = Some((applied, pairs)),
            Some((a, p)) => {
                if *a != applied {
                    return Err(format!("node 1 applied up to {a}, node {} up to {applied}", i + 1));
                }
                if *p != pairs {
                    return Err(format!("node 1 and node {} applied index {a} but hold different state", i + 1));
                }
            }
        }
    }
    Ok(())
}
