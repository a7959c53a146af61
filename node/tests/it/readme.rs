//! The README's curl walkthrough works as written, against a real node.

use std::process::Command;

use crate::harness::*;

#[test]
fn readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let start = readme.find("<!-- walkthrough:start -->").expect("walkthrough start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("walkthrough end marker");
    let block = &readme[start..end];
    let script = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(body, _)| body)
        .expect("a sh code block inside the markers");
    assert!(script.contains("SVEA=http://127.0.0.1:8080"), "walkthrough talks to the demo's default URL");

    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let script = script.replace("SVEA=http://127.0.0.1:8080", &format!("SVEA={}", n.url));
    let out = Command::new("bash").arg("-euo").arg("pipefail").arg("-c").arg(&script).output().expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "walkthrough failed: {}\nstdout:\n{stdout}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    // The flow reached a reward, the replay answered the same, analytics counted one completion
    // (with the key; without it a 401), the rotated key replaced the old one, and the bad and the
    // taken organisationsnummer got problem documents; the device token issued at the scan
    // exported the customer's rewarded session, and a made-up one got 401.
    assert_eq!(stdout.matches("\"state\":\"rewarded\"").count(), 3, "{stdout}");
    assert_eq!(stdout.matches("\"device_token\":\"svea_dt_").count(), 1, "issued once: {stdout}");
    assert!(stdout.contains("urn:svea:problem:invalid-device-token"), "{stdout}");
    assert!(stdout.contains("\"completed\":1"), "{stdout}");
    assert!(stdout.contains("urn:svea:problem:unauthorized"), "{stdout}");
    assert!(stdout.contains("old key: 401") && stdout.contains("new key: 200"), "{stdout}");
    assert!(stdout.contains("urn:svea:problem:invalid-org-number"), "{stdout}");
    assert!(stdout.contains("urn:svea:problem:org-number-registered"), "{stdout}");
    // The money: the reward on the customer's balance (below the payout minimum, so not paid out
    // yet), the top-up credited on the ledger, and the statement's two deposits (the sign-up's
    // opening budget and the top-up) with the reward between them.
    assert!(stdout.contains("\"kind\":\"reward_reserved\""), "{stdout}");
    assert!(!stdout.contains("\"withheld\":\""), "the walkthrough's feedback earns a reward: {stdout}");
    assert!(stdout.contains("\"status\":\"credited\"") && stdout.contains("\"funded_sek\":\"5500.00\""), "{stdout}");
    assert_eq!(stdout.matches(";Insättning;").count(), 2, "{stdout}");
    assert_eq!(stdout.matches(";Belöning reserverad;").count(), 1, "{stdout}");
}
