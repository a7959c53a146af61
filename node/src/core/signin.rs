//! A business signs in with its e-mail: the links svea mails (verification after sign-up,
//! sign-in links on request), following one (a dashboard session begins), checking and ending
//! sessions. The records live with the business actor (`actors/signin.rs`); this is the node
//! side: tokens made here, mails queued on [`super::mail::Mailer`], the cookie signed with the
//! cluster's [`CookieKey`].

use super::NodeHandle;
use crate::actors::business::Business;
use crate::actors::keys::EmailRecord;
use crate::actors::signin::{CheckWebSession, CreateKey, EndWebSession, IssueLink, LinkOutcome, RevokeKey, UseLink};
use crate::domain::{ApiKey, BusinessId};
use crate::actors::ActorError;
use crate::domain::signin::{Email, LinkPurpose, LinkToken, WebSession};
use super::mail::Mail;

/// Businesses one address gets sign-in links for per request, at most (one mail each): an
/// address that is the contact of more businesses than this gets the first ones.
pub const SIGNIN_BUSINESSES_PER_ADDRESS_MAX: usize = 5;

/// Characters of a key's secret kept in its listed prefix.
const KEY_PREFIX_SECRET_CHARS: usize = 6;

/// How a created key is listed: `svea_sk_<business>_` and the secret's first characters.
pub fn key_prefix(key: &ApiKey) -> String {
    let text = key.reveal();
    let keep = crate::domain::apikey::API_KEY_PREFIX.len() + key.business().to_string().len() + 1 + KEY_PREFIX_SECRET_CHARS;
    text.chars().take(keep).collect()
}

/// How long a link lives, in words: `(Swedish, English)` ("24 timmar", "15 minutes").
pub fn life_in_words(d: std::time::Duration) -> (String, String) {
    let s = d.as_secs();
    let (n, sv, en) = if s >= 3600 && s % 3600 == 0 {
        (s / 3600, ("timme", "timmar"), ("hour", "hours"))
    } else if s >= 60 {
        (s / 60, ("minut", "minuter"), ("minute", "minutes"))
    } else {
        (s.max(1), ("sekund", "sekunder"), ("second", "seconds"))
    };
    let pick = |one: &str, many: &str| if n == 1 { one.to_owned() } else { many.to_owned() };
    (format!("{n} {}", pick(sv.0, sv.1)), format!("{n} {}", pick(en.0, en.1)))
}

/// The path a mailed link opens (`?t=<token>`).
pub const LINK_PATH: &str = "/business/link";

/// What following a link gave.
pub enum Followed {
    /// Signed in: the business, the session (for the cookie), and whether this link verified
    /// the address (and the organisation number claim).
    SignedIn {
        /// The business.
        business: Box<Business>,
        /// The new session.
        session: WebSession,
        /// Whether the address was confirmed now.
        verified_now: bool,
    },
    /// Used already, never issued, or another business's.
    Unknown,
    /// Past its time.
    Expired,
}

impl NodeHandle {
    /// The URL of a link: the cluster's public address (`public.base_url`) when it has one, as
    /// every QR code does, else this node's public URL (any node serves it).
    fn link_url(&self, link: &LinkToken) -> String {
        let base = self.config.public.base_url.as_deref().unwrap_or(&self.config.node.public_url);
        format!("{}{LINK_PATH}?t={}", base.trim_end_matches('/'), link.reveal())
    }

    /// Queues the mail carrying `link` to `to` (Swedish, then English). A mail that cannot be
    /// queued is logged: the business can ask for a sign-in link again.
    pub(super) fn mail_link(&self, business: &Business, to: &Email, link: &LinkToken, purpose: LinkPurpose) {
        let url = self.link_url(link);
        let name = &business.name;
        let life = life_in_words(match purpose {
            LinkPurpose::Verify => self.config.signup.verify_link_ttl,
            LinkPurpose::SignIn => self.config.signup.signin_link_ttl,
        });
        let (life_sv, life_en) = (&life.0, &life.1);
        let (subject, body) = match purpose {
            LinkPurpose::Verify => (
                format!("Bekräfta din e-post för {name} hos svea / Confirm your e-mail"),
                format!(
                    "Hej!\n\n{name} ({org}) är registrerat hos svea med den här adressen. Öppna länken för att bekräfta adressen och organisationsnumret och logga in:\n\n{url}\n\nLänken gäller i {life_sv} och fungerar en gång. Bekräftas inget inom 7 dagar släpps organisationsnumret. Har du inte registrerat dig kan du strunta i det här brevet.\n\n---\n\nHello,\n\n{name} ({org}) was registered with svea with this address. Open the link to confirm the address and the organisation number, and sign in:\n\n{url}\n\nThe link works once, for {life_en}. If nothing is confirmed within 7 days the organisation number is released. If you did not sign up, ignore this mail.\n",
                    org = business.org_number
                ),
            ),
            LinkPurpose::SignIn => (
                format!("Logga in på svea: {name} / Sign in to svea"),
                format!(
                    "Hej!\n\nHär är din inloggningslänk till {name} hos svea:\n\n{url}\n\nLänken gäller i {life_sv} och fungerar en gång. Bad du inte om den kan du strunta i det här brevet.\n\n---\n\nHello,\n\nHere is your sign-in link for {name} at svea:\n\n{url}\n\nThe link works once, for {life_en}. If you did not ask for it, ignore this mail.\n"
                ),
            ),
        };
        if let Err(e) = self.mailer.queue(Mail { to: to.clone(), subject, body }) {
            tracing::warn!(business_id = %business.id, error = %e, "link mail not queued");
        }
    }

    /// Mails a sign-in link for each business (up to [`SIGNIN_BUSINESSES_PER_ADDRESS_MAX`])
    /// whose contact address is `email`. The answer is the same whether there was any: the
    /// caller must not tell them apart. `Err` only when mail is off or a business call failed.
    pub async fn send_signin_links(&self, email: &Email) -> Result<usize, ActorError> {
        let found = self.cluster.view().scan_index(&EmailRecord::prefix_of(email), SIGNIN_BUSINESSES_PER_ADDRESS_MAX).map_err(ActorError::from)?;
        let mut sent = 0;
        for (key, _) in found {
            let Some(id) = EmailRecord::business_of(&key) else { continue };
            let link = LinkToken::random(&id);
            let business = self.registry.call(id.clone(), crate::actors::business::GetBusiness).await?;
            match self.registry.call(id, IssueLink { hash: link.hash(), purpose: LinkPurpose::SignIn, ttl_ms: i64::try_from(self.config.signup.signin_link_ttl.as_millis()).unwrap_or(i64::MAX) }).await? {
                Some(to) if to.key() == email.key() => {
                    self.mail_link(&business, &to, &link, LinkPurpose::SignIn);
                    sent += 1;
                }
                _ => {}
            }
        }
        Ok(sent)
    }

    /// Whether this node can send mail at all (`mail.transport` is not `off`).
    pub fn mail_on(&self) -> bool {
        self.mailer.is_on()
    }

    /// Follows a mailed link: single use, checked by its business actor.
    pub async fn follow_link(&self, link: &LinkToken) -> Result<Followed, ActorError> {
        let session = WebSession::random(link.business());
        let ttl_ms = i64::try_from(self.config.dashboard.signin.as_millis()).unwrap_or(i64::MAX);
        let op = UseLink { link: link.hash(), session: session.hash(), session_ttl_ms: ttl_ms };
        match self.registry.call(link.business().clone(), op).await {
            Ok(LinkOutcome::SignedIn { business, verified_now }) => {
                // The mailbox of the address given at sign-up answered: that confirms the
                // organisation number's registration too (issue 20's "verified"), so the sweeper
                // never releases it. Asked at every sign-in, not only the first: a crash between
                // the two writes is mended by the next sign-in (the directory writes nothing
                // when the number is verified already or not this business's).
                let verify = crate::actors::directory::VerifyOrg { business: business.id.clone() };
                if let Err(e) = self.registry.call(crate::actors::directory::DirectoryId::Org(business.org_number), verify).await {
                    tracing::warn!(business_id = %business.id, error = %e, "organisation number not marked verified yet; the next sign-in tries again");
                }
                Ok(Followed::SignedIn { business, session, verified_now })
            }
            Ok(LinkOutcome::Unknown) | Err(ActorError::NotFound { .. }) => Ok(Followed::Unknown),
            Ok(LinkOutcome::Expired) => Ok(Followed::Expired),
            Err(e) => Err(e),
        }
    }

    /// Creates an API key beside the business's others (the dashboard's "create key"); the key
    /// is in this answer only. `None`: the business has the most keys already.
    pub async fn create_key(&self, id: BusinessId) -> Result<Option<(Business, ApiKey)>, ActorError> {
        let key = ApiKey::random(&id);
        let prefix = key_prefix(&key);
        Ok(self.registry.call(id, CreateKey { hash: key.hash(), prefix }).await?.map(|b| (b, key)))
    }

    /// Revokes the created key with `prefix`: it stops working at once. `None`: no such key.
    pub async fn revoke_key(&self, id: BusinessId, prefix: &str) -> Result<Option<Business>, ActorError> {
        self.registry.call(id, RevokeKey { prefix: prefix.to_owned() }).await
    }

    /// The value of the session cookie of `session`.
    pub fn session_cookie_value(&self, session: &WebSession) -> String {
        session.cookie_value(&self.cookie_key)
    }

    /// The session a cookie value names, if its signature is this cluster's.
    pub fn session_from_cookie(&self, value: &str) -> Option<WebSession> {
        WebSession::from_cookie(value, &self.cookie_key).ok()
    }

    /// The business of a live session (`None`: ended, expired, or signed out everywhere).
    pub async fn session_business(&self, session: &WebSession) -> Result<Option<Business>, ActorError> {
        match self.registry.call(session.business().clone(), CheckWebSession { session: session.hash() }).await {
            Err(ActorError::NotFound { .. }) => Ok(None),
            other => other,
        }
    }

    /// Ends `session` (and with `everywhere` every session of its business) on every node.
    pub async fn end_session(&self, session: &WebSession, everywhere: bool) -> Result<(), ActorError> {
        match self.registry.call(session.business().clone(), EndWebSession { session: session.hash(), everywhere }).await {
            Err(ActorError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_links_life_is_said_in_words() {
        assert_eq!(life_in_words(Duration::from_secs(24 * 3600)), ("24 timmar".into(), "24 hours".into()));
        assert_eq!(life_in_words(Duration::from_secs(15 * 60)), ("15 minuter".into(), "15 minutes".into()));
        assert_eq!(life_in_words(Duration::from_secs(3600)), ("1 timme".into(), "1 hour".into()));
        assert_eq!(life_in_words(Duration::from_millis(3000)), ("3 sekunder".into(), "3 seconds".into()));
    }
}
