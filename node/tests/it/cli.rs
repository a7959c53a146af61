//! The command line's habits (issue 24, item 7): every environment variable it reads shown in
//! `--help`, `SVEA_CONFIG` and a default config path, one flag scheme with the old spellings still
//! accepted, shell completions and a man page, and a backup timeout that fails clearly.

use crate::harness::*;

#[test]
fn help_names_every_environment_variable_the_cli_reads_and_never_its_value() {
    let secret = "do-not-print-this-token-0123456789";
    for (args, vars) in [
        (&["run", "--help"][..], &["SVEA_CONFIG", "/etc/svea/svea.toml"][..]),
        (&["restore", "--help"], &["SVEA_CONFIG"]),
        (&["backup", "--help"], &["SVEA_OPERATOR_TOKEN", "--timeout", "1h"]),
        (&["cluster", "status", "--help"], &["SVEA_OPERATOR_TOKEN"]),
        (&["cluster", "drain", "--help"], &["SVEA_OPERATOR_TOKEN"]),
    ] {
        let (code, out, err) = svea_cli(args, &[("SVEA_OPERATOR_TOKEN", secret)]);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        for v in vars {
            assert!(out.contains(v), "{args:?} --help does not show {v}:\n{out}");
        }
        assert!(!out.contains(secret), "{args:?} --help printed the token");
    }
    // The old spelling works but is not advertised.
    let (_, out, _) = svea_cli(&["verify-backup", "--help"], &[]);
    assert!(out.contains("--from") && !out.contains("--file"), "{out}");
}

#[test]
fn the_operator_token_comes_from_the_environment_through_the_flag() {
    // No token anywhere: a clear refusal before any request.
    let (code, _, err) = svea_cli(&["cluster", "status", "--node", "http://127.0.0.1:9"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no operator token") && err.contains("SVEA_OPERATOR_TOKEN"), "{err}");
    // From the environment: it gets as far as the (closed) port.
    let (code, _, err) = svea_cli(&["cluster", "status", "--node", "http://127.0.0.1:9"], &[("SVEA_OPERATOR_TOKEN", "t")]);
    assert_eq!(code, Some(1));
    assert!(!err.contains("no operator token") && err.contains("127.0.0.1:9"), "{err}");
}

#[test]
fn run_takes_its_config_from_the_flag_then_svea_config_then_the_default_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("nowhere.toml").display().to_string();
    let (code, _, err) = svea_cli(&["run"], &[("SVEA_CONFIG", &missing)]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&missing), "SVEA_CONFIG names the file: {err}");
    let flag = dir.path().join("flag.toml").display().to_string();
    let (code, _, err) = svea_cli(&["run", "--config", &flag], &[("SVEA_CONFIG", &missing)]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&flag) && !err.contains(&missing), "--config wins: {err}");
    if !std::path::Path::new("/etc/svea/svea.toml").exists() {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_svea"));
        let out = cmd.arg("run").env_remove("SVEA_CONFIG").output().expect("run");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/etc/svea/svea.toml"), "the default path: {err}");
    }
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_same_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = svea_cli(&["completions", shell], &[]);
        assert_eq!(code, Some(0), "{shell}: {err}");
        // (fish spells a long flag `-l timeout`.)
        for word in ["verify-backup", "completions", "timeout"] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
    let (code, _, err) = svea_cli(&["completions", "tcsh"], &[]);
    assert_eq!(code, Some(2), "an unknown shell is a usage error: {err}");
    let (code, man, err) = svea_cli(&["man"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(man.starts_with(".ie") || man.contains(".TH svea"), "roff: {}", &man[..man.len().min(200)]);
    for word in ["verify\\-backup", "completions", "restore"] {
        assert!(man.contains(word), "the man page lacks {word}");
    }
    // man(1) renders it, when installed.
    if let Ok(out) = std::process::Command::new("groff").args(["-man", "-Tutf8"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().expect("stdin").write_all(man.as_bytes())?;
        c.wait_with_output()
    }) {
        assert!(out.status.success());
    }
}

#[test]
fn a_backup_timeout_too_short_fails_with_a_clear_message_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    create_business(&n, "100.00");
    let file = dir.path().join("svea.backup");
    let file_s = file.display().to_string();
    let token = [("SVEA_OPERATOR_TOKEN", OPERATOR_TOKEN)];
    // A node that does not answer in time (stopped: the kernel still accepts the connection,
    // nothing answers it). A 1 ms timeout against a running node raced a small backup on loopback
    // and sometimes lost.
    n.pause();
    let (code, out, err) = svea_cli(&["backup", "--node", &n.operator_url, "--out", &file_s, "--timeout", "500ms"], &token);
    n.resume();
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("did not finish within --timeout 500ms"), "{err}");
    assert!(!file.exists() && !dir.path().join("svea.backup.tmp").exists(), "nothing written");
    for bad in ["0s", "soon", "5d"] {
        let (code, _, err) = svea_cli(&["backup", "--node", &n.operator_url, "--out", &file_s, "--timeout", bad], &token);
        assert_eq!(code, Some(2), "--timeout {bad}: {err}");
    }
    // Time enough: written, and no progress bar drawn into a pipe.
    let (code, out, err) = svea_cli(&["backup", "--node", &n.operator_url, "--out", &file_s, "--timeout", "2m"], &token);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(file.exists());
    assert!(err.is_empty(), "stderr is not a terminal: nothing drawn, got {err:?}");
}
