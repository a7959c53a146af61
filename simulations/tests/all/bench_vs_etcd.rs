//! `bench-vs-etcd` without etcd: the tool stops at once, non-zero, and says how to install it
//! (before it builds or starts anything).

use std::process::Command;
use std::time::Duration;

use simulations::poll::poll_until;

#[test]
fn without_etcd_on_path_the_tool_fails_with_the_install_hint() {
    let empty = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_simulations"))
        .args(["bench-vs-etcd", "--duration", "1s"])
        .env("PATH", empty.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start simulations");
    let Ok(status) = poll_until(Duration::from_secs(30), || child.try_wait().ok().flatten()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("bench-vs-etcd without etcd did not exit within 30 s (it must fail before building anything)");
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "exited {status}; stderr:\n{stderr}");
    assert!(stderr.contains("apt-get install etcd-server"), "stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "printed a table without etcd: {}", String::from_utf8_lossy(&out.stdout));
}
