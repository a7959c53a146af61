//! A business's monthly statement: one line per ledger posting on its account in a Swedish
//! calendar month (Europe/Stockholm), with the running balance each posting stamped, and the
//! balance the month opened with. Read from the postings (`lacct/business:<id>/`) after the
//! business's read barrier, so it shows every acknowledged entry.

use chrono::{Datelike, NaiveDate};
use svea_cluster::ClusterNode;

use crate::actors::keys::PostingRecord;
use crate::actors::registry::RegistryHandle;
use crate::actors::ActorError;
use crate::domain::day::swedish_local;
use crate::domain::ledger::{Account, Posting};
use crate::domain::{BusinessId, Ore};

/// Postings one statement reads at most (a month of a very busy business fits many times over;
/// beyond it the statement says it is cut).
pub const STATEMENT_POSTINGS_MAX: usize = 100_000;
/// Postings read per scan.
const SCAN_PAGE: usize = 1_000;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// Its first day.
    pub first: NaiveDate,
}

impl Month {
    /// `YYYY-MM` (years 2000 to 2999), or `None`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok().filter(|y| (2000..=2999).contains(y))?;
        let month: u32 = m.parse().ok()?;
        Some(Month { first: NaiveDate::from_ymd_opt(year, month, 1)? })
    }

    /// The month as `YYYY-MM`.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}", self.first.year(), self.first.month())
    }

    fn contains(&self, day: NaiveDate) -> bool {
        day.year() == self.first.year() && day.month() == self.first.month()
    }
}

/// A month of a business's ledger account.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The month.
    pub month: Month,
    /// The balance before its first posting (the last earlier posting's).
    pub opening: Ore,
    /// Its postings, in ledger order.
    pub lines: Vec<Posting>,
    /// The balance after its last posting.
    pub closing: Ore,
    /// Whether [`STATEMENT_POSTINGS_MAX`] cut the reading short.
    pub cut: bool,
}

/// The Swedish calendar day of a posting.
pub fn posting_day(p: &Posting) -> NaiveDate {
    swedish_local(chrono::DateTime::from_timestamp_millis(p.at_ms).unwrap_or_default()).date()
}

/// Reads `business`'s statement for `month` (a read barrier through the business first).
pub async fn read(cluster: &ClusterNode, registry: &RegistryHandle, business: &BusinessId, month: Month) -> Result<Statement, ActorError> {
    // GetBusiness confirms the owner after a read barrier: every posting it wrote is applied here.
    registry.call(business.clone(), crate::actors::business::GetBusiness).await?;
    let prefix = PostingRecord::prefix_of(&Account::Business(business.clone()));
    let mut after: Option<String> = None;
    let mut opening = Ore::ZERO;
    let mut lines = Vec::new();
    let mut read = 0usize;
    let mut cut = false;
    'scan: loop {
        let page = cluster.view().scan_index_after(&prefix, after.as_deref(), SCAN_PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        let full = page.len() == SCAN_PAGE;
        for (_, bytes) in page {
            read += 1;
            if read > STATEMENT_POSTINGS_MAX {
                cut = true;
                break 'scan;
            }
            let p = PostingRecord::decode_scanned(&bytes)?;
            let day = posting_day(&p);
            if month.contains(day) {
                lines.push(p);
            } else if day < month.first {
                opening = p.totals.balance();
            }
        }
        if !full {
            break;
        }
    }
    let closing = lines.last().map_or(opening, |p| p.totals.balance());
    Ok(Statement { month, opening, lines, closing, cut })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2026-03").map(|m| m.key()), Some("2026-03".to_owned()));
        for bad in ["2026-3", "2026-13", "26-03", "2026/03", "", "3000-01", "2026-00"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}
