//! No reward reserves more than the funds: every observed business has rewarded at most what it
//! was funded with (its ledger account: top-ups minus rewards never below zero), during the run
//! (on the workload's reads) and after it. (The simulation makes no top-up refunds, the one way
//! an account may go negative.)

use svea_node::actors::business::Business;

use super::FinalReads;

/// One observation.
pub fn check(biz: &Business, when: &str) -> Option<String> {
    let f = biz.funds();
    (f.rewarded > f.funded || f.available < svea_node::domain::Ore::ZERO).then(|| {
        format!("budget: business {} rewarded {} öre of {} öre funded, {} öre available ({when})", biz.id, f.rewarded.as_ore(), f.funded.as_ore(), f.available.as_ore())
    })
}

/// Every final read.
pub fn check_final(reads: &FinalReads) -> Vec<String> {
    reads.businesses.iter().filter_map(|b| b.as_ref().ok()).filter_map(|b| check(b, "after healing")).collect()
}
