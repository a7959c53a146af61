//! Request ids: one per HTTP request (`X-Request-Id`), carried wherever the request's work goes
//! (the actor registry's core thread, a call forwarded to the node that owns an actor) so every
//! log line of the request names it. The HTTP layer accepts a caller's id only from a trusted
//! proxy and otherwise makes one (`http::observe`); this module holds the id for the current
//! task ([`scope`], [`current`]) and its validation.

use std::fmt;
use std::future::Future;

use rand::Rng;

/// Longest id accepted from a trusted proxy (UUIDs are 36, W3C trace ids 32).
pub const REQUEST_ID_LEN_MAX: usize = 64;
/// Length of an id this node makes: 128 random bits as hex.
const GENERATED_LEN: usize = 32;

/// A request id: 1 to [`REQUEST_ID_LEN_MAX`] of `A-Za-z0-9._-` (safe in headers, log lines,
/// URIs and label values).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestId(String);

impl RequestId {
    /// `value` if it is a well-formed id.
    pub fn parse(value: &str) -> Option<RequestId> {
        let ok = !value.is_empty()
            && value.len() <= REQUEST_ID_LEN_MAX
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        ok.then(|| RequestId(value.to_owned()))
    }

    /// A fresh random id. HTTP only: request ids are never made on the paths the simulation
    /// runs (its calls carry none).
    pub fn generate() -> RequestId {
        let bits: u128 = rand::thread_rng().gen();
        RequestId(format!("{bits:0width$x}", width = GENERATED_LEN))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: Option<RequestId>;
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: Option<RequestId>, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The current task's request id, if it serves one.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_safe_ids_parse() {
        assert!(RequestId::parse("3f2a-9c_1.b").is_some());
        assert!(RequestId::parse(&"a".repeat(REQUEST_ID_LEN_MAX)).is_some());
        for bad in ["", "a b", "a\r\nX-Evil: 1", "ä", "a/b", "a\"b", "<script>"] {
            assert!(RequestId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(RequestId::parse(&"a".repeat(REQUEST_ID_LEN_MAX + 1)).is_none());
    }

    #[test]
    fn generated_ids_are_valid_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), GENERATED_LEN);
        assert_eq!(RequestId::parse(a.as_str()), Some(a));
    }

    #[tokio::test]
    async fn the_id_is_the_scopes() {
        assert_eq!(current(), None);
        let id = RequestId::parse("abc").unwrap();
        assert_eq!(scope(Some(id.clone()), async { current() }).await, Some(id));
    }
}
