//! The node's outgoing mail (`[mail]`): the verification mail after a sign-up and sign-in links.
//!
//! [`Mailer::queue`] never waits: it puts the mail on a bounded queue (`mail.queue_len_max`) or
//! refuses it ([`MailError::QueueFull`], a 503 "try again" for the caller). One task on the
//! node core's runtime sends the queue in order: each send under `mail.timeout_ms`, at most
//! `mail.attempts_max` sends with doubling backoff, then the mail is counted failed and dropped
//! (the business asks for a new link). Transports: SMTP through lettre (none, STARTTLS or
//! implicit TLS, rustls with ring), a folder of `.eml` files (`svea demo`), or off.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use svea_config::{MailConfig, MailSink, SmtpTls};
use tokio::sync::mpsc;

use crate::domain::signin::Email;
use crate::telemetry::Events;

/// Why a mail was not queued or the mailer not built.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The queue is full: the caller answers "try again".
    #[error("mail queue is full ({len} waiting)")]
    QueueFull {
        /// `mail.queue_len_max`.
        len: usize,
    },
    /// `mail.transport = "off"`: nothing can be sent.
    #[error("mail is off on this node (mail.transport = \"off\")")]
    Off,
    /// `mail.from` is not an address lettre accepts.
    #[error("mail.from is not a mailbox: {0}")]
    From(String),
    /// The SMTP transport could not be built (TLS parameters).
    #[error("smtp transport: {0}")]
    Smtp(String),
    /// The mail could not be built.
    #[error("mail could not be built: {0}")]
    Build(String),
}

/// A mail to send: plain text, UTF-8.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient.
    pub to: Email,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
}

/// Where the worker delivers.
enum Sink {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

/// The queue's sending half: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Mailer {
    tx: Option<mpsc::Sender<Message>>,
    from: Mailbox,
    len: usize,
    events: Events,
}

/// The sending task's half.
pub struct MailWorker {
    rx: mpsc::Receiver<Message>,
    sink: Sink,
    timeout: Duration,
    attempts_max: u32,
    backoff: Duration,
    events: Events,
}

impl Mailer {
    /// The mailer `[mail]` describes, and its worker (`None` when mail is off).
    pub fn from_config(c: &MailConfig, events: Events) -> Result<(Mailer, Option<MailWorker>), MailError> {
        let from: Mailbox = c.from.parse().map_err(|e: lettre::address::AddressError| MailError::From(e.to_string()))?;
        let sink = match &c.sink {
            MailSink::Off => return Ok((Mailer { tx: None, from, len: c.queue_len_max, events }, None)),
            MailSink::Folder(dir) => Sink::Folder(dir.clone()),
            MailSink::Smtp(s) => {
                let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| MailError::Smtp(e.to_string()));
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
                    .port(s.port)
                    .timeout(Some(c.timeout))
                    .tls(match s.tls {
                        SmtpTls::None => Tls::None,
                        SmtpTls::Starttls => Tls::Required(tls(&s.host)?),
                        SmtpTls::Tls => Tls::Wrapper(tls(&s.host)?),
                    });
                if let Some(user) = &s.username {
                    b = b.credentials(Credentials::new(user.clone(), s.password.clone()));
                }
                Sink::Smtp(b.build())
            }
        };
        let (tx, rx) = mpsc::channel(c.queue_len_max);
        let worker = MailWorker { rx, sink, timeout: c.timeout, attempts_max: c.attempts_max, backoff: c.retry_backoff, events: events.clone() };
        Ok((Mailer { tx: Some(tx), from, len: c.queue_len_max, events }, Some(worker)))
    }

    /// Whether mails go anywhere (`mail.transport` is not `off`).
    pub fn is_on(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues `mail` without waiting.
    pub fn queue(&self, mail: Mail) -> Result<(), MailError> {
        let Some(tx) = &self.tx else { return Err(MailError::Off) };
        let to: Mailbox = mail.to.as_str().parse().map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        tx.try_send(message).map_err(|_| {
            self.events.mail_refused.inc();
            MailError::QueueFull { len: self.len }
        })
    }
}

impl MailWorker {
    /// Sends what is queued until every [`Mailer`] is dropped (or the task is aborted).
    pub async fn run(mut self) {
        while let Some(message) = self.rx.recv().await {
            let mut wait = self.backoff;
            let mut sent = false;
            for attempt in 1..=self.attempts_max {
                match tokio::time::timeout(self.timeout, self.deliver(&message)).await {
                    Ok(Ok(())) => {
                        sent = true;
                        break;
                    }
                    Ok(Err(e)) => tracing::warn!(attempt, error = %e, "mail not sent"),
                    Err(_) => tracing::warn!(attempt, after = ?self.timeout, "mail not sent: timed out"),
                }
                if attempt < self.attempts_max {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
            }
            if sent {
                self.events.mail_sent.inc();
            } else {
                self.events.mail_failed.inc();
                tracing::error!(attempts = self.attempts_max, "mail given up");
            }
        }
    }

    async fn deliver(&self, message: &Message) -> Result<(), String> {
        match &self.sink {
            Sink::Smtp(t) => t.send(message.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
            Sink::Folder(dir) => {
                let bytes = message.formatted();
                let dir = dir.clone();
                let name = format!("{}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), random_suffix());
                tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
                    std::fs::create_dir_all(&dir)?;
                    let path = dir.join(name);
                    // Written whole under a temporary name, then renamed: a reader never sees half a mail.
                    let tmp = path.with_extension("eml.part");
                    std::fs::write(&tmp, bytes)?;
                    std::fs::rename(&tmp, &path)?;
                    Ok(path)
                })
                .await
                .map_err(|e| e.to_string())?
                .map(|path| tracing::info!(path = %path.display(), "mail written"))
                .map_err(|e| e.to_string())
            }
        }
    }
}

/// Eight random characters: two mails written in the same millisecond get different names.
fn random_suffix() -> String {
    crate::domain::ids::with_id_rng(|rng| {
        let mut b = [0u8; 6];
        rng.fill_bytes(&mut b);
        crate::domain::ids::base64url_no_pad(&b)
    })
}
