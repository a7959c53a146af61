//! No acknowledged write lost: after healing, every business whose creation was acknowledged can
//! be read, every acknowledged session exists, an acknowledged purchase is still confirmed (or
//! further along) with the same amount, and an acknowledged settlement is still there unchanged.

use svea_node::actors::session::SessionState;

use super::FinalReads;
use crate::sim::workload::{settled_amount, Model};

/// Checks every acknowledged write against the final reads.
pub fn check(model: &Model, reads: &FinalReads) -> Vec<String> {
    let mut out = Vec::new();
    for (i, b) in reads.businesses.iter().enumerate() {
        if let Err(e) = b {
            out.push(format!("acked write lost: business b{i} was created but cannot be read: {e}"));
        }
    }
    for (sid, known) in &model.sessions {
        let s = match reads.sessions.get(sid) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                out.push(format!("acked write lost: session {sid} was opened but cannot be read: {e}"));
                continue;
            }
            None => continue,
        };
        if let Some(amount) = known.confirmed {
            let kept = s.purchase.as_ref().map(|p| p.amount) == Some(amount);
            if !kept || s.state == SessionState::Opened {
                out.push(format!(
                    "acked write lost: session {sid} had purchase {} öre confirmed, now {:?} with {:?}",
                    amount.as_ore(),
                    s.state,
                    s.purchase.as_ref().map(|p| p.amount.as_ore())
                ));
            }
        }
        if let Some((state, paid)) = known.settled {
            if s.state != state || settled_amount(s) != paid {
                out.push(format!(
                    "acked write lost: session {sid} was settled {state:?} paying {} öre, now {:?} paying {} öre",
                    paid.as_ore(),
                    s.state,
                    settled_amount(s).as_ore()
                ));
            }
        }
    }
    cap(out)
}

/// Keeps a report readable: the first lines and a count of the rest.
pub fn cap(mut lines: Vec<String>) -> Vec<String> {
    const LINES_MAX: usize = 10;
    if lines.len() > LINES_MAX {
        let more = lines.len() - LINES_MAX;
        lines.truncate(LINES_MAX);
        lines.push(format!("... and {more} more"));
    }
    lines
}
