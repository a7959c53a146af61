//! A business's feedback list: its `bfb/<business>/` records (written with each session's
//! settlement, deleted with the text on erasure or retention), read newest first from the
//! replicated state after a read barrier, a page at a time. Every request does a bounded amount of
//! work: at most `limit` entries answered and at most `scan_max` records read, whatever the search.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use svea_cluster::ClusterNode;

use crate::actors::keys::{BusinessFeedbackRecord, FeedbackEntry, Index, NewestFirst};
use crate::actors::ActorError;
use crate::domain::{BusinessId, SessionId};

/// Records read from the store in one go while paging: a search reads batches until its page is
/// full or its `scan_max` is spent.
pub const FEEDBACK_SCAN_BATCH: usize = 256;

/// Where a page of a business's feedback list starts: just after the entry it names. Opaque to
/// clients (base64url of the entry's place in the list); new feedback sorts before every cursor
/// handed out earlier, so pages never shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackCursor {
    newest_first: NewestFirst,
    session: SessionId,
}

/// A cursor that is not one svea handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one this list handed out")]
pub struct BadCursor;

impl FeedbackCursor {
    fn after(record: &BusinessFeedbackRecord) -> FeedbackCursor {
        FeedbackCursor { newest_first: record.newest_first.clone(), session: record.session.clone() }
    }

    fn key(&self, business: &BusinessId) -> String {
        BusinessFeedbackRecord { business: business.clone(), newest_first: self.newest_first.clone(), session: self.session.clone() }.key()
    }

    /// The cursor as handed out.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}/{}", self.newest_first.as_str(), self.session))
    }

    /// A cursor as handed out; anything else is [`BadCursor`].
    pub fn decode(raw: &str) -> Result<FeedbackCursor, BadCursor> {
        // A cursor is 19 digits, a slash and a session id: anything much longer is not one.
        if raw.len() > 128 {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (stamp, session) = text.split_once('/').ok_or(BadCursor)?;
        Ok(FeedbackCursor { newest_first: NewestFirst::parse(stamp).ok_or(BadCursor)?, session: session.parse().map_err(|_| BadCursor)? })
    }
}

/// A case-insensitive substring search of feedback texts (already checked for length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search(String);

impl Search {
    /// A search for `text` (trimmed); `None` when nothing is left to search for.
    pub fn new(text: &str) -> Option<Search> {
        let t = text.trim();
        (!t.is_empty()).then(|| Search(t.to_lowercase()))
    }

    /// Whether `text` contains the search, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.0)
    }
}

/// Which page of the list.
#[derive(Debug, Clone)]
pub struct FeedbackQuery {
    /// Start after this entry (from the newest when `None`).
    pub after: Option<FeedbackCursor>,
    /// Entries answered at most.
    pub limit: usize,
    /// Only entries whose text contains this.
    pub search: Option<Search>,
    /// Records read at most (at least `limit`).
    pub scan_max: usize,
}

/// One page of the list, newest first.
#[derive(Debug, Clone)]
pub struct FeedbackPage {
    /// The entries, with their sessions.
    pub items: Vec<(SessionId, FeedbackEntry)>,
    /// Where the next (older) page starts, if there may be one.
    pub next: Option<FeedbackCursor>,
}

/// A page of `business`'s feedback, read after a read barrier (so every feedback settled before
/// the request is seen, whichever node settled it).
pub async fn list(cluster: &ClusterNode, business: &BusinessId, q: FeedbackQuery) -> Result<FeedbackPage, ActorError> {
    // Settlements write these records in the business's group: its barrier is enough.
    crate::actors::group_barrier(cluster, business.clone()).await?;
    let view = cluster.view();
    let prefix = BusinessFeedbackRecord::prefix_of(business);
    let limit = q.limit.max(1);
    let scan_max = q.scan_max.max(limit);
    let mut after = q.after.as_ref().map(|c| c.key(business));
    let mut items = Vec::with_capacity(limit.min(FEEDBACK_SCAN_BATCH));
    let mut scanned = 0;
    loop {
        let want = (scan_max - scanned).min(FEEDBACK_SCAN_BATCH);
        let batch = view.scan_index_after(&prefix, after.as_deref(), want)?;
        let exhausted = batch.len() < want;
        for (key, value) in batch {
            scanned += 1;
            let Some(record) = BusinessFeedbackRecord::parse_key(&key) else {
                return Err(ActorError::Internal(format!("feedback record key {key:?} does not parse")));
            };
            after = Some(key);
            let entry = record.decode(&value)?;
            if q.search.as_ref().is_some_and(|s| !s.matches(&entry.text)) {
                continue;
            }
            items.push((record.session.clone(), entry));
            if items.len() == limit {
                let more = !view.scan_index_after(&prefix, after.as_deref(), 1)?.is_empty();
                return Ok(FeedbackPage { items, next: more.then(|| FeedbackCursor::after(&record)) });
            }
        }
        if exhausted {
            return Ok(FeedbackPage { items, next: None });
        }
        if scanned >= scan_max {
            // The search spent its reads: the caller continues from the last record read.
            let next = after.as_deref().and_then(BusinessFeedbackRecord::parse_key).map(|r| FeedbackCursor::after(&r));
            return Ok(FeedbackPage { items, next });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let record = BusinessFeedbackRecord::of(&BusinessId::random(), chrono::Utc::now(), &SessionId::random());
        let c = FeedbackCursor::after(&record);
        let raw = c.encode();
        assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{raw} is not URL-safe");
        assert_eq!(FeedbackCursor::decode(&raw), Ok(c.clone()));
        assert_eq!(c.key(&record.business), record.key());
        for bad in ["", "not base64!", &URL_SAFE_NO_PAD.encode("123/abc"), &URL_SAFE_NO_PAD.encode(format!("x/{}", record.session)), &"A".repeat(500)] {
            assert_eq!(FeedbackCursor::decode(bad), Err(BadCursor), "{bad:?}");
        }
    }

    #[test]
    fn search_ignores_case_including_swedish_letters() {
        let s = Search::new("  KÖTTBULLAR ").expect("search");
        assert!(s.matches("Godaste köttbullarna i stan"));
        assert!(!s.matches("Bra kaffe"));
        assert_eq!(Search::new("   "), None);
    }
}
