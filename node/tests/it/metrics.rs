//! `/metrics` counts what the cluster applied: the applied index and the commands applied (each
//! command of a batch entry counts), so benchmarks count committed writes instead of estimating.

use std::time::Duration;

use crate::harness::*;

/// The value of the sample `name` (with its labels, if it has any: `x_total{reason="y"}`) in a
/// Prometheus text body.
pub fn sample(n: &NodeProc, name: &str) -> u64 {
    let m = n.metrics();
    assert_eq!(m.status, 200);
    let text = m.body.as_str().map(str::to_owned).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in /metrics:\n{text}"))
}

#[test]
fn applied_index_and_commands_applied_rise_on_every_node_with_writes() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    let before: Vec<(u64, u64)> =
        c.nodes.iter().map(|n| (sample(n, "svea_raft_applied_index"), sample(n, "svea_commands_applied_total"))).collect();

    // Writes through every node at once (a follower's go to the leader in one forward per batch):
    // a business, then purchases on sessions opened through each node.
    let Biz { id: _, token, key: _ } = create_business(&c.nodes[0], "100.00");
    std::thread::scope(|s| {
        for (i, n) in c.nodes.iter().enumerate() {
            let token = &token;
            s.spawn(move || {
                for k in 0..3 {
                    let sid = open_session(n, token);
                    assert_eq!(purchase(n, &sid, "10.00", &format!("M-{i}-{k}")).status, 200);
                }
            });
        }
    });

    // A business, 9 sessions (claim and write each) and 9 purchases: at least 28 commands.
    const COMMANDS_MIN: u64 = 28;
    for (n, (index, commands)) in c.nodes.iter().zip(before) {
        eventually(Duration::from_secs(20), format_args!("{} applied the writes", n.url), || {
            let now = (sample(n, "svea_raft_applied_index"), sample(n, "svea_commands_applied_total"));
            if now.0 > index && now.1 >= commands + COMMANDS_MIN {
                Ok(now)
            } else {
                Err(format!("applied index {} (was {index}), commands applied {} (was {commands})", now.0, now.1))
            }
        });
    }
}
