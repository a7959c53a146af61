//! The floors run one way (ARCHITECTURE.md, "Floors"): inside `node/src` a module names only
//! modules on floors below its own (`cli -> http -> core -> actors -> domain`, with telemetry
//! between actors and domain and the plain helpers on the ground floor), `core/operator.rs`
//! holds no HTTP or JSON type, and in `cluster/src` the transport and the server never name
//! each other (both know only the seam, `serve.rs`). Read from the source files: every
//! `crate::`, `super::` and `self::` path outside comments and string literals.

use std::path::{Path, PathBuf};

const NODE_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const CLUSTER_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster/src");

/// Every top-level module of `node/src` and its floor: a module may name modules on lower floors
/// only. `lib.rs` and `main.rs` are the roof (they declare and start the rest).
const FLOORS: &[(&str, u8)] = &[
    ("domain", 0),
    ("request_id", 0),
    ("window", 0),
    ("tls_reload", 0),
    ("telemetry", 1),
    ("actors", 2),
    ("core", 3),
    ("http", 4),
    ("cli", 5),
];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())).flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
}

/// `text` with comments removed and string and character literals emptied, line breaks kept
/// (so line numbers stay true).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Keeps only the line breaks of b[from..to].
    let breaks = |out: &mut String, from: usize, to: usize| out.extend(text[from..to].chars().filter(|c| *c == '\n'));
    while i < b.len() {
        let rest = &text[i..];
        let after_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with("//") {
            i = rest.find('\n').map_or(b.len(), |n| i + n);
        } else if rest.starts_with("/*") {
            let end = rest[2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            breaks(&mut out, i, end);
            i = end;
        } else if !after_word && (rest.starts_with("r\"") || rest.starts_with("r#") || rest.starts_with("br\"") || rest.starts_with("br#")) && {
            let start = rest.find('r').map_or(0, |r| r + 1);
            rest[start..].trim_start_matches('#').starts_with('"')
        } {
            let start = rest.find('r').map_or(0, |r| r + 1);
            let hashes = rest[start..].chars().take_while(|c| *c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = start + hashes + 1;
            let end = rest[body..].find(&close).map_or(b.len(), |n| i + body + n + close.len());
            out.push_str("\"\"");
            breaks(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            out.push_str("\"\"");
            breaks(&mut out, i, end);
            i = end;
        } else if b[i] == b'\'' && (rest.starts_with("'\\") || rest.chars().nth(2) == Some('\'')) {
            // A character literal ('"', '\'', '\u{..}'); a lifetime ('a) is left as it is.
            let len = if rest.starts_with("'\\") { rest.get(3..).and_then(|r| r.find('\'')).map_or(rest.len(), |n| n + 4) } else { rest.chars().take(3).map(char::len_utf8).sum() };
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The module path of a file under `src` (`core/remote.rs` -> `[core, remote]`, `core/mod.rs`
/// -> `[core]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules a line of code names through `crate::`, `super::` or `self::` paths,
/// resolved from the module `me` it is in (a group, `crate::{a, b::c}`, names each).
fn named_roots(line: &str, me: &[String]) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut found = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let word = ident(rest);
        let starts_word = i == 0 || !line[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if word.is_empty() || !starts_word {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        i += word.len();
        if !matches!(word.as_str(), "crate" | "super" | "self") {
            continue;
        }
        // Follow `::super::super` and find where the path leaves the module tree's known part.
        let mut depth = match word.as_str() {
            "crate" => me.len(),
            "super" => 1,
            _ => 0,
        };
        let mut tail = &line[i..];
        loop {
            let t = tail.trim_start();
            let Some(t) = t.strip_prefix("::") else { break };
            let t = t.trim_start();
            if ident(t) == "super" {
                depth += 1;
                tail = &t[5..];
            } else {
                tail = t;
                break;
            }
        }
        if !tail.trim_start().is_empty() && tail.len() == line[i..].len() {
            // `crate`/`super`/`self` not followed by `::`: not a path into a module.
            continue;
        }
        if depth < me.len() {
            // Still inside the file's own top-level module.
            continue;
        }
        if let Some(group) = tail.strip_prefix('{') {
            let mut level = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => break,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        found.push(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push(ident(item.trim()));
        } else {
            found.push(ident(tail));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// Calls `check(file, its module path, line number, line)` for every line of code under `src`.
fn each_line(src: &Path, mut check: impl FnMut(&Path, &[String], usize, &str)) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in files {
        let me = module_path(src, &file);
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in code_only(&text).lines().enumerate() {
            check(&file, &me, n + 1, line);
        }
    }
}

/// Every place in `node/src` where a module names one on its own floor or above.
fn node_violations(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    each_line(src, |file, me, n, line| {
        let Some(top) = me.first().map(String::as_str) else { return };
        if top == "lib" || top == "main" {
            return;
        }
        let mine = floor(top).unwrap_or_else(|| panic!("{}: module {top} has no floor in FLOORS (and in ARCHITECTURE.md)", file.display()));
        for named in named_roots(line, me) {
            let Some(theirs) = floor(&named) else { continue };
            if named != top && theirs >= mine {
                out.push(format!("{}:{n}: {top} (floor {mine}) names {named} (floor {theirs}): {}", file.display(), line.trim()));
            }
        }
    });
    out
}

/// Every place in `cluster/src` where the server names the transport or the transport the server.
fn cluster_violations(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    each_line(src, |file, me, n, line| {
        let (top, forbidden) = match me.first().map(String::as_str) {
            Some("server") => ("server", "transport"),
            Some("transport") => ("transport", "server"),
            _ => return,
        };
        if named_roots(line, me).iter().any(|m| m == forbidden) {
            out.push(format!("{}:{n}: {top} names {forbidden}: {}", file.display(), line.trim()));
        }
    });
    out
}

#[test]
fn node_modules_import_only_the_floors_below_their_own() {
    let violations = node_violations(Path::new(NODE_SRC));
    assert!(violations.is_empty(), "imports against the floors (ARCHITECTURE.md, \"Floors\"):\n{}", violations.join("\n"));
}

#[test]
fn cluster_server_and_transport_do_not_name_each_other() {
    let violations = cluster_violations(Path::new(CLUSTER_SRC));
    assert!(violations.is_empty(), "server.rs and transport/ must meet only in serve.rs:\n{}", violations.join("\n"));
}

#[test]
fn the_core_operator_module_holds_no_http_or_json_type() {
    let path = Path::new(NODE_SRC).join("core/operator.rs");
    let text = code_only(&std::fs::read_to_string(&path).expect("read core/operator.rs"));
    let found: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| ["actix_web", "utoipa", "serde_json", "json!", "ToSchema", "HttpResponse"].iter().any(|w| l.contains(w)))
        .map(|(n, l)| format!("{}:{}: {}", path.display(), n + 1, l.trim()))
        .collect();
    assert!(found.is_empty(), "HTTP/JSON in the core (its JSON shapes belong in http/cluster_json.rs):\n{}", found.join("\n"));
}

/// The checker itself: it must see what it is for, or a passing run above proves nothing.
#[test]
fn the_checker_catches_a_core_import_in_an_actor_and_ignores_comments_and_strings() {
    let actor = [String::from("actors"), String::from("session")];
    assert_eq!(named_roots("use crate::core::rail::PayoutId;", &actor), ["core"]);
    assert_eq!(named_roots("let x = crate :: core :: remote::forward(env);", &actor), ["core"]);
    assert_eq!(named_roots("use crate::{domain::Ore, http::api};", &actor), ["domain", "http"]);
    assert_eq!(named_roots("use super::super::core::x;", &actor), ["core"]);
    assert!(named_roots("use super::keys::ActorKey;", &actor).is_empty(), "a sibling in its own module");
    assert!(named_roots("let my_crate::core = 1; supercrate::core::x", &actor).is_empty(), "only whole words start a path");
    let code = code_only("let s = \"crate::core::x\"; // crate::core::y\n/* crate::core::z */ let c = '\"'; use crate::core::w;\n");
    assert_eq!(code.lines().count(), 2, "{code}");
    assert_eq!(code.lines().flat_map(|l| named_roots(l, &actor)).collect::<Vec<_>>(), ["core"], "{code}");
    let raw = code_only("let r = r#\"crate::http::x \"quoted\" \"#; let t = 'a'; let q = '\\''; fn f<'a>(x: &'a str) {}\n");
    assert!(named_roots(&raw, &actor).is_empty(), "{raw}");

    // A real tree with one planted violation in an actor file and one across the cluster seam.
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, body: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    };
    write("node/actors/mod.rs", "//! crate::core:: in a doc comment is fine\npub mod wallet;\nuse crate::domain::Ore;\n");
    write("node/actors/wallet.rs", "use super::keys;\n\nuse crate::core::rail::PayoutId;\n");
    write("node/core/mod.rs", "use crate::actors::ActorEnv;\n");
    write("cluster/server.rs", "use crate::serve::Handler;\nuse crate::transport::frame;\n");
    write("cluster/transport/mod.rs", "use crate::serve::Handler;\n");
    let node = node_violations(&dir.path().join("node"));
    assert_eq!(node.len(), 1, "{node:?}");
    assert!(node[0].contains("actors/wallet.rs:3: actors (floor 2) names core (floor 3)"), "{node:?}");
    let cluster = cluster_violations(&dir.path().join("cluster"));
    assert_eq!(cluster.len(), 1, "{cluster:?}");
    assert!(cluster[0].contains("server.rs:2: server names transport"), "{cluster:?}");
}
