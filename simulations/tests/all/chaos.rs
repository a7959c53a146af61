//! One short, real region-loss run through the public entry point (`simulations::chaos::run`):
//! three `svea` processes behind the UDP delay proxies, Stockholm SIGKILLed mid-run and restarted,
//! then final reads from every node. Nothing acknowledged may be lost, the checker must find no
//! anomaly, and the survivors must have acknowledged writes while Stockholm was dead.
//!
//! The debug `svea` binary is built first (`cargo build -p svea-node -p simulations`, a no-op
//! when `cargo test --workspace` already built it); `SVEA_BIN` overrides it.

use std::path::PathBuf;
use std::time::Duration;

use simulations::chaos::{run, Fault, Options};
use simulations::checker::AnomalyKind;
use simulations::procs::BinarySource;

#[test]
fn region_loss_of_stockholm_loses_nothing_and_survivors_keep_serving() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let opts = Options {
        fault: Fault::RegionLoss,
        region: "stockholm".into(),
        duration: Duration::from_secs(30),
        seed: 7,
        clients: 4,
        out: Some(out.path().to_path_buf()),
        svea: BinarySource {
            path: std::env::var_os("SVEA_BIN").map(PathBuf::from),
            no_build: false,
            debug: true,
        },
        keep_dir: false,
        node_log_filter: "warn".into(),
    };
    let report = run(&opts).unwrap_or_else(|e| panic!("the chaos run failed: {e:#}\nrepro: {}", opts.repro()));
    println!("{}", report.summary());

    let v = &report.verdict;
    assert_eq!(v.count(AnomalyKind::LostWrite), 0, "acknowledged writes were lost:\n{}", report.summary());
    assert!(v.is_valid(), "the checker found anomalies:\n{}", report.summary());
    assert!(v.writes_ok > 0 && v.reads_checked > 0, "the clients did nothing:\n{}", report.summary());
    assert!(
        report.writes_ok_during_fault > 0,
        "no write invoked while stockholm was dead was acknowledged:\n{}",
        report.summary()
    );
    assert!(
        report.marks.iter().any(|m| m.label == "SIGKILL stockholm"),
        "the fault was not injected: {:?}",
        report.marks
    );
    for file in ["report.json", "timeline.svg", "summary.txt", "history.json"] {
        let path = out.path().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} was not written", path.display());
    }
    let svg = std::fs::read_to_string(out.path().join("timeline.svg")).expect("timeline.svg");
    assert!(svg.starts_with("<svg") && svg.contains("SIGKILL stockholm"), "the timeline marks the fault");
}
