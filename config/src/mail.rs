//! `[mail]`: how svea sends the mails a business signs up and signs in with (the verification
//! link, sign-in links). Raw as written, typed, and the check between them, in one place.
//!
//! The SMTP password is never printed: both `Debug`s redact it, and no error message quotes it.
//! It comes from `mail.password` (set it with `SVEA_MAIL_PASSWORD`, not in the file) or from
//! `mail.password_file`, read here (only `config` reads files).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One SMTP conversation (connect, TLS, AUTH, DATA) waits this long at most: a mail server that
/// has not answered in ten seconds is retried later rather than held on to.
const TIMEOUT_MS: u64 = 10_000;
/// Mails waiting to be sent on one node; past it a new mail is refused (the page says "try again")
/// rather than queued without end.
const QUEUE_LEN_MAX: u32 = 256;
/// Sends of one mail before it is given up on (counted failed): three tries over a few seconds.
const ATTEMPTS_MAX: u32 = 3;
/// The first retry waits this long; each next one twice as long.
const RETRY_BACKOFF_MS: u64 = 1_000;

/// Upper bound of `mail.timeout_ms`.
pub const MAIL_TIMEOUT_MS_MAX: u64 = 120_000;
/// Upper bound of `mail.queue_len_max`.
pub const MAIL_QUEUE_LEN_MAX_MAX: u32 = 100_000;
/// Upper bound of `mail.attempts_max`.
pub const MAIL_ATTEMPTS_MAX_MAX: u32 = 20;
/// Upper bound of `mail.retry_backoff_ms`.
pub const MAIL_RETRY_BACKOFF_MS_MAX: u64 = 600_000;
const _: () = assert!(TIMEOUT_MS <= MAIL_TIMEOUT_MS_MAX);
const _: () = assert!(QUEUE_LEN_MAX <= MAIL_QUEUE_LEN_MAX_MAX);
const _: () = assert!(ATTEMPTS_MAX <= MAIL_ATTEMPTS_MAX_MAX);
const _: () = assert!(RETRY_BACKOFF_MS <= MAIL_RETRY_BACKOFF_MS_MAX);

/// How mails leave the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Through an SMTP server (`mail.smtp_*`).
    Smtp,
    /// Each mail written as an `.eml` file into `mail.folder` (`svea demo`: `<data>/mail/`).
    Folder,
    /// Not sent (logged as dropped): a node that signs nobody up by mail.
    Off,
}

/// TLS towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay, a test server on loopback).
    None,
    /// Plain connect, then `STARTTLS`, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[mail]` as written.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMail {
    /// `smtp`, `folder` or `off`.
    pub transport: MailTransport,
    /// The sender, `svea <noreply@example.se>` or a bare address.
    pub from: String,
    /// The folder `folder` writes `.eml` files into.
    pub folder: String,
    /// The SMTP server's host name (checked against its certificate with TLS).
    pub smtp_host: String,
    /// The SMTP server's port.
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    /// SMTP AUTH user name; empty: no AUTH.
    pub smtp_username: String,
    /// SMTP AUTH password; set it with `SVEA_MAIL_PASSWORD` rather than in the file.
    pub smtp_password: String,
    /// A file holding the SMTP password (its first line), instead of `smtp_password`.
    pub smtp_password_file: String,
    /// One send waits this long at most, in milliseconds.
    pub timeout_ms: u64,
    /// Mails waiting to be sent at most.
    pub queue_len_max: u32,
    /// Sends of one mail at most.
    pub attempts_max: u32,
    /// Wait before the first retry, doubled each time, in milliseconds.
    pub retry_backoff_ms: u64,
}

impl Default for RawMail {
    fn default() -> RawMail {
        RawMail {
            transport: MailTransport::Off,
            from: "svea <noreply@svea.localhost>".to_owned(),
            folder: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_password_file: String::new(),
            timeout_ms: TIMEOUT_MS,
            queue_len_max: QUEUE_LEN_MAX,
            attempts_max: ATTEMPTS_MAX,
            retry_backoff_ms: RETRY_BACKOFF_MS,
        }
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<unset>"
    } else {
        "<redacted>"
    }
}

impl std::fmt::Debug for RawMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMail")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("folder", &self.folder)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &redacted(&self.smtp_password))
            .field("smtp_password_file", &self.smtp_password_file)
            .field("timeout_ms", &self.timeout_ms)
            .field("queue_len_max", &self.queue_len_max)
            .field("attempts_max", &self.attempts_max)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .finish()
    }
}

/// The SMTP server, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// `mail.smtp_host`.
    pub host: String,
    /// `mail.smtp_port`.
    pub port: u16,
    /// `mail.smtp_tls`.
    pub tls: SmtpTls,
    /// `mail.smtp_username`, when AUTH is used.
    pub username: Option<String>,
    /// The password (`mail.smtp_password` or the first line of `mail.smtp_password_file`).
    pub password: String,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .finish()
    }
}

/// Where mails go, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailSink {
    /// SMTP.
    Smtp(SmtpServer),
    /// `.eml` files in this folder.
    Folder(PathBuf),
    /// Dropped.
    Off,
}

/// `[mail]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// Where mails go.
    pub sink: MailSink,
    /// `mail.from`, non-empty (lettre parses it when the mailer starts).
    pub from: String,
    /// `mail.timeout_ms`, in (0, 120 s].
    pub timeout: Duration,
    /// `mail.queue_len_max`, 1..=100000.
    pub queue_len_max: usize,
    /// `mail.attempts_max`, 1..=20.
    pub attempts_max: u32,
    /// `mail.retry_backoff_ms`.
    pub retry_backoff: Duration,
}

impl RawMail {
    /// Checks the bounds, reads the password file.
    pub fn validate(&self) -> Result<MailConfig, Error> {
        let invalid = |key: &str, reason: String| Error::Invalid { key: format!("mail.{key}"), reason };
        if self.timeout_ms == 0 || self.timeout_ms > MAIL_TIMEOUT_MS_MAX {
            return Err(invalid("timeout_ms", format!("{} is not within 1..={MAIL_TIMEOUT_MS_MAX}", self.timeout_ms)));
        }
        if self.queue_len_max == 0 || self.queue_len_max > MAIL_QUEUE_LEN_MAX_MAX {
            return Err(invalid("queue_len_max", format!("{} is not within 1..={MAIL_QUEUE_LEN_MAX_MAX}", self.queue_len_max)));
        }
        if self.attempts_max == 0 || self.attempts_max > MAIL_ATTEMPTS_MAX_MAX {
            return Err(invalid("attempts_max", format!("{} is not within 1..={MAIL_ATTEMPTS_MAX_MAX}", self.attempts_max)));
        }
        if self.retry_backoff_ms > MAIL_RETRY_BACKOFF_MS_MAX {
            return Err(invalid("retry_backoff_ms", format!("{} is not within 0..={MAIL_RETRY_BACKOFF_MS_MAX}", self.retry_backoff_ms)));
        }
        let from = self.from.trim();
        if from.is_empty() || !from.contains('@') {
            return Err(invalid("from", "must be an address, e.g. \"svea <noreply@example.se>\"".to_owned()));
        }
        let sink = match self.transport {
            MailTransport::Off => MailSink::Off,
            MailTransport::Folder => {
                if self.folder.trim().is_empty() {
                    return Err(invalid("folder", "transport = \"folder\" needs a folder".to_owned()));
                }
                MailSink::Folder(PathBuf::from(self.folder.trim()))
            }
            MailTransport::Smtp => {
                let host = self.smtp_host.trim();
                if host.is_empty() {
                    return Err(invalid("smtp_host", "transport = \"smtp\" needs a host".to_owned()));
                }
                if self.smtp_port == 0 {
                    return Err(invalid("smtp_port", "0 is not a port".to_owned()));
                }
                let file = self.smtp_password_file.trim();
                let password = if file.is_empty() {
                    self.smtp_password.clone()
                } else if !self.smtp_password.is_empty() {
                    return Err(invalid("smtp_password_file", "set smtp_password or smtp_password_file, not both".to_owned()));
                } else {
                    std::fs::read_to_string(file)
                        .map_err(|e| invalid("smtp_password_file", format!("cannot read {file}: {e}")))?
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned()
                };
                let username = Some(self.smtp_username.trim().to_owned()).filter(|u| !u.is_empty());
                if username.is_some() && password.is_empty() {
                    return Err(invalid("smtp_password", "smtp_username is set but no password (SVEA_MAIL_PASSWORD or smtp_password_file)".to_owned()));
                }
                MailSink::Smtp(SmtpServer { host: host.to_owned(), port: self.smtp_port, tls: self.smtp_tls, username, password })
            }
        };
        Ok(MailConfig {
            sink,
            from: from.to_owned(),
            timeout: Duration::from_millis(self.timeout_ms),
            queue_len_max: self.queue_len_max as usize,
            attempts_max: self.attempts_max,
            retry_backoff: Duration::from_millis(self.retry_backoff_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_needs_a_host_and_a_password_with_a_user() {
        let raw = RawMail { transport: MailTransport::Smtp, ..RawMail::default() };
        assert!(raw.validate().unwrap_err().to_string().contains("mail.smtp_host"));
        let raw = RawMail { transport: MailTransport::Smtp, smtp_host: "mail.example.se".into(), smtp_username: "svea".into(), ..RawMail::default() };
        assert!(raw.validate().unwrap_err().to_string().contains("mail.smtp_password"));
        let raw = RawMail { smtp_password: "hunter2hunter2".into(), ..raw };
        let MailSink::Smtp(s) = raw.validate().unwrap().sink else { panic!("smtp expected") };
        assert_eq!(s.password, "hunter2hunter2");
        assert!(!format!("{s:?}{raw:?}").contains("hunter2"), "the password is never printed");
    }

    #[test]
    fn bounds_are_refused_with_the_key() {
        for (raw, key) in [
            (RawMail { timeout_ms: 0, ..RawMail::default() }, "mail.timeout_ms"),
            (RawMail { queue_len_max: 0, ..RawMail::default() }, "mail.queue_len_max"),
            (RawMail { attempts_max: 21, ..RawMail::default() }, "mail.attempts_max"),
            (RawMail { transport: MailTransport::Folder, ..RawMail::default() }, "mail.folder"),
            (RawMail { from: "nobody".into(), ..RawMail::default() }, "mail.from"),
        ] {
            assert!(raw.validate().unwrap_err().to_string().contains(key), "{key}");
        }
    }
}
