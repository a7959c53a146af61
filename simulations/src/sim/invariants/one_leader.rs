//! One leader per term (Raft's election safety): no two nodes ever report being leader in the same
//! term. Sampled from every running node's Raft metrics while the simulation steps. It holds
//! because svea builds openraft with `single-term-leader` and a vote is flushed before it is
//! answered; openraft's default mode elects several leaders per term by design (see
//! ARCHITECTURE.md, "Durability").

use std::collections::BTreeMap;

/// Leaders seen per Raft group and term (each group elects its own).
#[derive(Debug, Default)]
pub struct Leaders {
    by_term: BTreeMap<(u16, u64), u64>,
    /// Violations found so far.
    pub violations: Vec<String>,
}

impl Leaders {
    /// Records that `node` reported itself leader of `term` in `group`; returns true when this
    /// is news (a new term's leader, for the trace).
    pub fn observe(&mut self, group: u16, term: u64, node: u64) -> bool {
        match self.by_term.get(&(group, term)) {
            None => {
                self.by_term.insert((group, term), node);
                true
            }
            Some(&other) if other != node => {
                if self.violations.len() < 16 {
                    self.violations.push(format!("one leader per term: nodes {other} and {node} both led term {term} of group {group}"));
                }
                false
            }
            Some(_) => false,
        }
    }

    /// Number of terms with a leader, over every group.
    pub fn terms(&self) -> usize {
        self.by_term.len()
    }
}
