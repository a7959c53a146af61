//! A café signs itself up at `/` and signs in with its e-mail (issue 23), through real
//! processes: HTTP form posts like a browser without JavaScript, a real SMTP server (`aiosmtpd`
//! from PyPI, started here on loopback) whose received mails are read and whose links are
//! followed, the demo's folder of `.eml` files on a three-node cluster, and Chromium at a
//! phone's and a desktop's size.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

use crate::browser::Chromium;
use crate::harness::*;
use crate::needs;
use crate::page::Phone;

/// aiosmtpd, pinned: the SMTP server the tests talk to.
const PYTHON_PACKAGES: [&str; 1] = ["aiosmtpd==1.4.6"];
/// How long a mail may take to arrive.
const MAIL_DEADLINE: Duration = Duration::from_secs(20);

/// A real SMTP server on loopback that stores what it receives in a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path) -> SmtpServer {
        let python = needs::python(&PYTHON_PACKAGES);
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        eventually(Duration::from_secs(20), "aiosmtpd listening", || TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()));
        SmtpServer { child, port, maildir }
    }

    /// The `[mail]` of a node sending to this server.
    fn config(&self) -> Vec<(&'static str, String)> {
        vec![
            ("mail.transport", "smtp".into()),
            ("mail.smtp_host", "127.0.0.1".into()),
            ("mail.smtp_port", self.port.to_string()),
            ("mail.smtp_tls", "none".into()),
            ("mail.from", "svea <noreply@svea.test>".into()),
        ]
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `[mail]` of nodes writing their mails into `<dir>/mail` as `svea demo` does, and that folder.
fn mail_folder(dir: &Path) -> (PathBuf, Vec<(&'static str, String)>) {
    let folder = dir.join("mail");
    let config = vec![("mail.transport", "folder".to_string()), ("mail.folder", folder.display().to_string())];
    (folder, config)
}

/// Overrides as the harness takes them.
fn as_overrides<'a>(config: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    config.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// One received mail, its body decoded.
#[derive(Debug, Clone)]
struct Mail {
    to: String,
    subject: String,
    body: String,
}

impl Mail {
    /// The one svea link in the body.
    fn link(&self) -> String {
        let at = self.body.find("/business/link?t=").unwrap_or_else(|| panic!("no link in {self:?}"));
        let start = self.body[..at].rfind("http").expect("link start");
        self.body[start..].split_whitespace().next().expect("link").to_string()
    }

    fn token(&self) -> String {
        self.link().split("?t=").nth(1).expect("token").to_string()
    }
}

/// Quoted-printable, as RFC 2045 §6.7 defines it (soft breaks, `=XX`).
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8 body")
}

/// An RFC 5322 message as lettre writes it: headers, blank line, a text/plain body in 7bit,
/// quoted-printable or base64.
fn parse_mail(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").expect("headers and body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line.trim_start());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let body = match header("content-transfer-encoding").to_ascii_lowercase().as_str() {
        "base64" => String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body.split_whitespace().collect::<String>()).expect("base64 body")).expect("utf-8"),
        "quoted-printable" => unquote(body),
        _ => body.to_string(),
    };
    Mail { to: header("to"), subject: header("subject"), body }
}

/// Every mail in `dir` (recursively: a Maildir's `new/`, or the demo's folder), oldest first.
fn mails_in(dir: &Path) -> Vec<Mail> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.to_string_lossy().ends_with(".part") {
                files.push(p);
            }
        }
    }
    // In arrival order: a Maildir's names do not sort by time within one second (its
    // microseconds are not zero-padded), so by modification time first.
    files.sort_by_key(|p| (std::fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()));
    files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).map(|raw| parse_mail(&raw)).collect()
}

/// Waits for the `n`-th mail (counting from 1) to arrive in `dir`.
fn nth_mail(dir: &Path, n: usize) -> Mail {
    eventually(MAIL_DEADLINE, format_args!("mail {n} in {}", dir.display()), || mails_in(dir).get(n - 1).cloned())
}

/// The sign-up form of a café in Malmö with `org` and `email`.
fn cafe<'a>(org: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", "Kafé Lilla Torget"),
        ("org_number", org),
        ("email", email),
        ("location_name", "Lilla Torg"),
        ("address", "Lilla Torg 1, 211 34 Malmö"),
        ("lat", "55.6046"),
        ("lon", "12.9996"),
    ]
}

/// Replaces one field of a form.
fn with<'a>(mut fields: Vec<(&'static str, &'a str)>, name: &'static str, value: &'a str) -> Vec<(&'static str, &'a str)> {
    fields.retain(|(k, _)| *k != name);
    fields.push((name, value));
    fields
}

/// Follows a mailed link as a browser does: its page, then its button; answers the POST.
fn follow(browser: &mut Phone, base: &str, mail: &Mail) -> crate::page::Page {
    let page = browser.get(&mail.link());
    let html = page.html(200);
    assert!(html.contains("id=\"follow-link\""), "{html}");
    browser.post(&format!("{base}/business/link"), &[("t", &mail.token())])
}

/// The cookie value with one character of its id changed.
fn altered(value: &str) -> String {
    let mut b = value.as_bytes().to_vec();
    let i = 20;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

#[test]
fn a_cafe_signs_up_at_the_front_page_and_signs_in_with_mailed_links() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(dir.path());
    let mut overrides = smtp.config();
    // An unverified number is released after 8 s (the sweeper looks every 500 ms), and a
    // sign-in link expires after 3 s, so both can be watched here.
    overrides.extend([
        ("signup.release_unverified_org_number_after_ms", "8000".to_string()),
        ("timeouts.expiry_sweep_ms", "500".to_string()),
        ("signup.signin_link_ttl_ms", "3000".to_string()),
    ]);
    let n = NodeProc::start(dir.path(), &as_overrides(&overrides));
    let base = n.url.clone();
    let mut browser = Phone::default().with_header("origin", &base);

    // The front page: Swedish first, what svea does and costs, the form; English on request.
    let page = browser.get(&format!("{base}/"));
    let html = page.html(200);
    for want in ["<html lang=\"sv\">", "Vad kostar det?", "Hur får kunderna betalt?", "Swish", "id=\"signup\"", "name=\"org_number\"", "name=\"lat\"", "for=\"org-number\""] {
        assert!(html.contains(want), "{want} missing in {html}");
    }
    assert!(browser.get(&format!("{base}/?lang=en")).html(200).contains("What does it cost?"));
    browser.get(&format!("{base}/?lang=sv"));

    // Missing fields: the form again, 422, each error beside its field, nothing created.
    let page = browser.post(&format!("{base}/signup"), &[]);
    let html = page.html(422);
    assert!(html.contains("id=\"signup-errors\""), "{html}");
    for id in ["name", "org-number", "email", "location-name", "lat", "lon"] {
        assert!(html.contains(&format!("id=\"{id}-error\"")), "no error for {id}: {html}");
    }
    // A wrong check digit, a bad address, a position off the globe: each said in words, and
    // what was typed is kept.
    let org = next_org_number().to_string();
    let wrong_digit = format!("{}{}", &org[..10], (org.as_bytes()[10] - b'0' + 1) % 10);
    let page = browser.post(&format!("{base}/signup"), &with(cafe(&org, "anna@kafe.se"), "org_number", &wrong_digit));
    assert!(page.html(422).contains("Kontrollsiffran stämmer inte"), "{}", page.body);
    assert!(page.body.contains(&format!("value=\"{wrong_digit}\"")), "the typed number is kept");
    let page = browser.post(&format!("{base}/signup"), &with(cafe(&org, "anna@kafe.se"), "email", "anna.kafe.se"));
    assert!(page.html(422).contains("E-postadressen ser inte ut som en adress"), "{}", page.body);
    let page = browser.post(&format!("{base}/signup"), &with(cafe(&org, "anna@kafe.se"), "lat", "123"));
    assert!(page.html(422).contains("Positionen måste vara"), "{}", page.body);
    let long = "x".repeat(201);
    let page = browser.post(&format!("{base}/signup"), &with(cafe(&org, "anna@kafe.se"), "address", &long));
    assert!(page.html(422).contains("Adressen får vara högst 200 tecken"), "{}", page.body);
    // From another site: refused, nothing created.
    let mut evil = Phone::default().with_header("origin", "https://evil.example");
    assert!(evil.post(&format!("{base}/signup"), &cafe(&org, "anna@kafe.se")).html(400).contains("annan webbplats"));

    // Without JavaScript the region comes from the server: "Show region" creates nothing.
    let page = browser.post(&format!("{base}/signup"), &with(cafe(&org, "anna@kafe.se"), "preview", "1"));
    assert!(page.html(200).contains("<strong id=\"region\">Malmö</strong>"), "{}", page.body);
    let page = browser.post(&format!("{base}/signup"), &with(with(with(cafe(&org, "anna@kafe.se"), "preview", "1"), "lat", "59.33"), "lon", "18.07"));
    assert!(page.html(200).contains("<strong id=\"region\">Stockholm</strong>"), "{}", page.body);
    assert!(mails_in(&smtp.maildir).is_empty(), "no mail before a sign-up");

    // The sign-up: the business exists in Malmö's region, and the mail is on its way.
    let fields = cafe(&org, "Anna@Kafe.se");
    let page = browser.post(&format!("{base}/signup"), &fields);
    let html = page.html(200);
    assert!(html.contains("id=\"sent\"") && html.contains("Anna@kafe.se"), "{html}");
    assert!(html.contains("<strong id=\"home-region\">Malmö</strong>"), "{html}");
    assert!(html.contains("gäller i 24 timmar"), "the verification link's configured life: {html}");
    // The same number again: the form with the error, 409.
    let page = browser.post(&format!("{base}/signup"), &fields);
    assert!(page.html(409).contains("redan registrerat"), "{}", page.body);

    // The SMTP server received the verification mail, to the address given.
    let mail = nth_mail(&smtp.maildir, 1);
    assert!(mail.to.contains("Anna@kafe.se"), "{mail:?}");
    assert!(mail.subject.contains("Bekräfta") || mail.subject.contains("=?utf-8?"), "{mail:?}");
    assert!(mail.body.contains("Kafé Lilla Torget") && mail.body.contains(&org), "{mail:?}");
    assert!(mail.link().starts_with(&format!("{base}/business/link?t=svea_ml_b_")), "{}", mail.link());

    // Opening the link's page uses nothing up; its button signs in: a signed session cookie.
    let page = follow(&mut browser, &base, &mail);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), Some("/business?saved=verified"));
    let cookie = page.set_cookie("svea_session").expect("session cookie").to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/business", "Max-Age="] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    let page = browser.get(&format!("{base}/business?saved=verified"));
    let html = page.html(200).to_string();
    assert!(html.contains("Kafé Lilla Torget") && html.contains("id=\"feedback-list\""), "{html}");
    assert!(html.contains("bekräftade"), "{html}");
    let session = browser.cookies.get("svea_session").expect("kept").clone();

    // Keys for tills and scripts, from the dashboard: created (shown once), listed by prefix
    // and date, working on the API, then revoked: refused at once.
    let page = browser.post(&format!("{base}/business/keys"), &[]);
    let html = page.html(200).to_string();
    let key = html.split("id=\"new-api-key\">").nth(1).and_then(|s| s.split('<').next()).expect("new key shown").to_string();
    let id = key.strip_prefix("svea_sk_").and_then(|k| k.get(..34)).expect("business id in the key").to_string();
    assert_eq!(n.get_as(&format!("/v1/businesses/{id}"), &key).status, 200, "the created key works");
    let prefix = html.split("data-prefix=\"").nth(1).and_then(|s| s.split('"').next()).expect("listed").to_string();
    assert!(key.starts_with(&prefix) && prefix.len() < key.len() - 30, "{prefix}");
    let page = browser.get(&format!("{base}/business"));
    assert!(!page.html(200).contains(&key), "shown once");
    let page = browser.post(&format!("{base}/business/keys/revoke"), &[("prefix", &prefix)]);
    assert_eq!(page.status, 303, "{}", page.body);
    n.get_as(&format!("/v1/businesses/{id}"), &key).problem(401, "unauthorized");
    assert!(browser.get(&format!("{base}/business?saved=revoked")).html(200).contains("återkallad"));

    // The link works once.
    let again = browser.post(&format!("{base}/business/link"), &[("t", &mail.token())]);
    assert!(again.html(404).contains("redan använts"), "{}", again.body);
    // Not a link at all: 404 in words, on both the page and the button.
    assert!(browser.get(&format!("{base}/business/link?t=svea_ml_nonsense")).html(404).contains("ingen giltig länk"));
    assert!(browser.post(&format!("{base}/business/link"), &[("t", "x")]).html(404).contains("ingen giltig länk"));

    // A forged or altered cookie signs nobody in.
    for forged in [altered(&session), format!("{}x", session), session.split('.').next().expect("id").to_string(), "svea_ws_x.y".to_string()] {
        let mut b = Phone::default();
        b.cookies.insert("svea_session".into(), forged.clone());
        let page = b.get(&format!("{base}/business"));
        assert!(page.html(200).contains("id=\"signin-email\""), "{forged} signed in: {}", page.body);
        assert!(!page.body.contains("id=\"feedback-list\""));
    }

    // The organisation number is verified: after the hold, an unverified one is released by
    // the sweeper and can be registered again, the verified one cannot.
    let other_org = next_org_number().to_string();
    let page = browser.post(&format!("{base}/signup"), &cafe(&other_org, "bo@bageri.se"));
    page.html(200);
    nth_mail(&smtp.maildir, 2);
    let api = |org: &str| serde_json::json!({"name": "Squatter AB", "org_number": org, "locations": [{"name": "X", "lat": 59.3, "lon": 18.0}], "reward_budget_sek": "0"});
    eventually(Duration::from_secs(30), "the unverified number released", || (n.post("/v1/businesses", api(&other_org)).status == 201).then_some(()));
    n.post("/v1/businesses", api(&org)).problem(409, "org-number-registered");

    // Sign-in by e-mail: the same answer for a registered address and an unknown one.
    let mut fresh = Phone::default().with_header("origin", &base);
    let known = fresh.post(&format!("{base}/business/sign-in/email"), &[("email", "anna@kafe.se")]);
    let unknown = fresh.post(&format!("{base}/business/sign-in/email"), &[("email", "nobody@kafe.se")]);
    assert_eq!(known.html(200), unknown.html(200), "the answer tells nothing about the address");
    assert!(known.body.contains("Om adressen hör till ett företag"), "{}", known.body);
    let bad = fresh.post(&format!("{base}/business/sign-in/email"), &[("email", "not an address")]);
    assert!(bad.html(422).contains("E-postadressen ser inte ut"), "{}", bad.body);
    let signin = nth_mail(&smtp.maildir, 3);
    assert!(signin.body.contains("gäller i 3 sekunder") && signin.body.contains("works once, for 3 seconds"), "the configured life: {signin:?}");
    assert_eq!(mails_in(&smtp.maildir).len(), 3, "no mail for the unknown address");
    let page = follow(&mut fresh, &base, &signin);
    assert_eq!((page.status, page.header("location")), (303, Some("/business")), "{}", page.body);
    assert!(fresh.get(&format!("{base}/business")).html(200).contains("id=\"feedback-list\""));

    // An expired sign-in link: refused in words (the link lives 3 s here).
    fresh.post(&format!("{base}/business/sign-in/email"), &[("email", "anna@kafe.se")]);
    let late = nth_mail(&smtp.maildir, 4);
    std::thread::sleep(Duration::from_millis(3500)); // the link's configured life, not a wait for an event
    let page = fresh.post(&format!("{base}/business/link"), &[("t", &late.token())]);
    assert!(page.html(404).contains("gått ut"), "{}", page.body);

    // Per address: the 6th link within the hour is 429 with Retry-After, in words.
    let mut limited = None;
    for _ in 0..6 {
        let p = fresh.post(&format!("{base}/business/sign-in/email"), &[("email", "flood@kafe.se")]);
        if p.status == 429 {
            limited = Some(p);
            break;
        }
        p.html(200);
    }
    let p = limited.expect("the per-address limit answers 429");
    assert!(p.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{:?}", p.headers);
    assert!(p.body.contains("Vänta en stund och försök igen"), "{}", p.body);

    // Signing out ends the session: the old cookie, replayed, is refused.
    let page = browser.post(&format!("{base}/business/sign-out"), &[]);
    assert_eq!(page.status, 303);
    let mut replay = Phone::default();
    replay.cookies.insert("svea_session".into(), session.clone());
    let page = replay.get(&format!("{base}/business"));
    assert!(page.html(200).contains("Du har loggats ut"), "{}", page.body);
    assert!(!page.body.contains("id=\"feedback-list\""));

    // Sent mails are counted.
    let metrics = n.metrics();
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(text.contains("svea_mail_sent_total 4"), "{text}");
}

#[test]
fn sign_out_ends_a_session_on_every_node_of_the_cluster() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mail, mut config) = mail_folder(dir.path());
    // The cluster's one public address (a load balancer's, say): what every mailed link carries.
    const PUBLIC: &str = "https://feedback.kafe.example";
    config.push(("public.base_url", PUBLIC.to_string()));
    let c = Cluster3::start(dir.path(), &as_overrides(&config));
    let (a, b, z) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);

    // Sign up on one node, follow the mailed link on another: any node checks any link.
    let org = next_org_number().to_string();
    let mut one = Phone::default().with_header("origin", &a.url);
    one.post(&format!("{}/signup", a.url), &cafe(&org, "anna@kafe.se")).html(200);
    let verify = nth_mail(&mail, 1);
    assert!(verify.link().starts_with(&format!("{PUBLIC}/business/link?t=")), "the link carries public.base_url: {}", verify.link());
    let mut browser = Phone::default().with_header("origin", &b.url);
    assert_eq!(browser.post(&format!("{}/business/link", b.url), &[("t", &verify.token())]).status, 303);
    let session = browser.cookies.get("svea_session").expect("session").clone();
    // A second browser signs in with a sign-in link.
    let mut second = Phone::default().with_header("origin", &z.url);
    second.post(&format!("{}/business/sign-in/email", z.url), &[("email", "anna@kafe.se")]).html(200);
    let link = nth_mail(&mail, 2);
    assert_eq!(second.post(&format!("{}/business/link", z.url), &[("t", &link.token())]).status, 303);
    let second_session = second.cookies.get("svea_session").expect("session").clone();

    // The cookie works on every node.
    let signed_in = |node: &NodeProc, cookie: &str| {
        let mut p = Phone::default();
        p.cookies.insert("svea_session".into(), cookie.to_string());
        p.get(&format!("{}/business", node.url)).html(200).contains("id=\"feedback-list\"")
    };
    for node in [a, b, z] {
        assert!(signed_in(node, &session), "signed in on {}", node.url);
    }
    // Sign out on the first node: every node refuses that session; the other browser stays.
    let mut out = Phone::default().with_header("origin", &a.url);
    out.cookies.insert("svea_session".into(), session.clone());
    assert_eq!(out.post(&format!("{}/business/sign-out", a.url), &[]).status, 303);
    for node in [a, b, z] {
        assert!(!signed_in(node, &session), "still signed in on {}", node.url);
        assert!(signed_in(node, &second_session), "the other browser was signed out on {}", node.url);
    }
    // "Sign out everywhere" from a third browser ends the second one's session too.
    let mut third = Phone::default().with_header("origin", &b.url);
    third.post(&format!("{}/business/sign-in/email", b.url), &[("email", "anna@kafe.se")]).html(200);
    let link = nth_mail(&mail, 3);
    assert_eq!(third.post(&format!("{}/business/link", b.url), &[("t", &link.token())]).status, 303);
    assert_eq!(third.post(&format!("{}/business/sign-out", b.url), &[("everywhere", "1")]).status, 303);
    for node in [a, b, z] {
        assert!(!signed_in(node, &second_session), "signed out everywhere, yet in on {}", node.url);
    }
}


#[test]
fn a_cafe_signs_up_in_chromium_at_phone_and_desktop_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mail, config) = mail_folder(dir.path());
    let n = NodeProc::start(dir.path(), &as_overrides(&config));
    let web = Chromium::launch("signup");
    let org = next_org_number().to_string();
    let wrong = format!("{}{}", &org[..10], (org.as_bytes()[10] - b'0' + 1) % 10);

    for (width, height, mobile, name) in [(360, 640, true, "phone"), (1280, 900, false, "desktop")] {
        web.set_viewport(width, height, mobile);
        web.open(&format!("{}/", n.url));
        web.wait_until("the form", "document.querySelector('#signup') !== null");
        // The check digit as it is typed.
        web.type_into("#org-number", &wrong);
        web.wait_text("#org-number-check", "Kontrollsiffran stämmer inte");
        web.clear("#org-number");
        web.type_into("#org-number", &org);
        web.wait_text("#org-number-check", "Kontrollsiffran stämmer.");
        // The region as the position changes.
        web.type_into("#lat", "57.7089");
        web.type_into("#lon", "11.9746");
        web.wait_text("#region", "Göteborg");
        web.clear("#lat");
        web.clear("#lon");
        web.type_into("#lat", "55.6046");
        web.type_into("#lon", "12.9996");
        web.wait_text("#region", "Malmö");
        assert_eq!(web.eval("document.querySelector('#use-position').hidden"), false, "the geolocation button shows with JS");
        web.type_into("#name", "Kafé Lilla Torget");
        web.type_into("#email", "anna@kafe.se");
        web.type_into("#location-name", "Lilla Torg");
        web.type_into("#address", "Lilla Torg 1, Malmö");
        web.shot(&format!("signup-{name}"));
    }
    web.submit("#signup-submit");
    web.wait_until("the mail is sent", "document.querySelector('#sent') !== null");
    assert_eq!(web.text("#home-region"), "Malmö");
    web.shot("sent-desktop");

    // The mail in the folder (as `svea demo` writes them): its link signs the café in.
    let verify = nth_mail(&mail, 1);
    web.open(&verify.link());
    web.submit("#follow-link");
    web.wait_until("the dashboard", "document.querySelector('#feedback-list') !== null");
    assert!(web.visible_text().contains("Kafé Lilla Torget"));
    assert!(web.cookie("svea_session").is_some());
    web.shot("dashboard-desktop");
    web.set_viewport(360, 640, true);
    web.reload();
    web.wait_until("the dashboard", "document.querySelector('#feedback-list') !== null");
    web.shot("dashboard-phone");
    web.assert_no_console_errors();
}

/// Issue 23: every form works with the keyboard alone. A café signs up, follows its mail, adds a
/// location and sets its rewards, and a customer goes from the start page to the reward, each
/// field reached with Tab, typed into, and each form sent with Enter on its button.
#[test]
fn a_cafe_and_a_customer_get_through_every_form_with_the_keyboard_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mail, config) = mail_folder(dir.path());
    let n = NodeProc::start(dir.path(), &as_overrides(&config));
    let web = Chromium::launch("keyboard");
    let org = next_org_number().to_string();

    web.open(&format!("{}/", n.url));
    for (field, text) in [
        ("#name", "Kafé Tangenten"),
        ("#org-number", org.as_str()),
        ("#email", "tangent@kafe.se"),
        ("#location-name", "Hamnen"),
        ("#address", "Hamngatan 2, Malmö"),
        ("#lat", "55.6046"),
        ("#lon", "12.9996"),
    ] {
        web.tab_to(field);
        web.keys(text);
    }
    web.tab_to("#signup-submit");
    web.press_and_wait("Enter");
    web.wait_until("the mail is sent", "document.querySelector('#sent') !== null");
    web.shots("sent");

    web.open(&nth_mail(&mail, 1).link());
    web.shots("mailed-link");
    web.tab_to("#follow-link");
    web.press_and_wait("Enter");
    web.wait_until("the dashboard", "document.querySelector('#feedback-list') !== null");
    web.tab_to("#new-location-name");
    web.keys("Stationen");
    web.tab_to("form[action$='/business/locations'] button");
    web.press_and_wait("Enter");
    web.wait_until("the new location", "document.body.innerText.includes('Stationen')");
    web.shots("dashboard");
    // The poster of a location, as the dashboard links it.
    let poster = web.eval("document.querySelector(\"a[href$='/poster']\").href");
    web.open(poster.as_str().expect("a poster link"));
    web.wait_until("the poster's offer", "document.body.innerText.includes('tillbaka')");
    web.shots("poster");

    // A customer at another business's code, with the keyboard alone.
    let biz = create_business(&n, "1000.00");
    web.open(&format!("{}/q/{}", n.url, biz.token));
    web.tab_to("form[action$='/open'] button");
    web.press_and_wait("Enter");
    web.tab_to("#amount");
    web.keys("149,00");
    web.tab_to("#receipt");
    web.keys("KV-88");
    web.tab_to("form[action$='/purchase'] button");
    web.press_and_wait("Enter");
    web.tab_to("textarea");
    web.keys(distinct_feedback(7));
    web.tab_to("form[action$='/feedback'] button");
    web.press_and_wait("Enter");
    web.wait_until("the reward", "document.querySelector('#reward') !== null");
    web.shots("reward");

    // The privacy page and its erasure's confirmation, with the keyboard too.
    web.open(&format!("{}/privacy", n.url));
    web.shots("privacy");
    web.tab_to("form[action$='/privacy/erase'] button");
    web.press_and_wait("Enter");
    web.shots("privacy-confirm");

    // A code whose location was removed: the customer is told in words.
    let path = format!("/v1/businesses/{}/locations", biz.id);
    assert_eq!(n.send_as("POST", &path, &biz.key, serde_json::json!({"name": "Hamnen", "lat": 55.61, "lon": 12.99})).status, 201);
    let first = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body["locations"][0]["id"].as_str().expect("lid").to_string();
    assert_eq!(n.send_as("DELETE", &format!("{path}/{first}"), &biz.key, serde_json::json!({})).status, 200);
    web.open(&format!("{}/q/{}", n.url, biz.token));
    web.wait_until("the retired code's page", "document.body.innerText.includes('används inte längre')");
    web.expect_console_error("status of 410 (Gone)");
    web.shots("retired-code");
    web.assert_no_console_errors();
}
