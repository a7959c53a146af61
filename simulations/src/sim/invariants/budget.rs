//! Rewards never exceed the budget: every observed business has `paid <= budget`, during the run
//! (on the workload's reads) and after it.

use svea_node::actors::business::Business;

use super::FinalReads;

/// One observation.
pub fn check(biz: &Business, when: &str) -> Option<String> {
    (biz.paid > biz.budget).then(|| {
        format!("budget: business {} paid {} öre of a {} öre budget ({when})", biz.id, biz.paid.as_ore(), biz.budget.as_ore())
    })
}

/// Every final read.
pub fn check_final(reads: &FinalReads) -> Vec<String> {
    reads.businesses.iter().filter_map(|b| b.as_ref().ok()).filter_map(|b| check(b, "after healing")).collect()
}
