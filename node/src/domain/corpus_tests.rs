//! The scoring corpus (issue 20): honest reviews keep their score and earn; adversarial texts
//! earn nothing. The texts are in `node/tests/fixtures/scoring/`.
//!
//! `SVEA_CORPUS_PRINT=1 cargo test -p svea-node --lib corpus -- --nocapture` prints the current
//! rubric's score of every honest text in the baseline file's format (how honest-baseline.txt was
//! made, with the rubric as it was before issue 20).

use super::reward::DEFAULT_TIER_MIN_SCORES;
use super::scoring::{RubricScorer, Scorer};

const HONEST: &str = include_str!("../../tests/fixtures/scoring/honest.txt");

/// The texts of a corpus file: every line that is not blank or a comment.
fn texts(file: &str) -> Vec<&str> {
    file.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The lowest score that earns anything with the default policy.
const EARNS_MIN: u8 = DEFAULT_TIER_MIN_SCORES[0];

#[test]
fn corpus_print_scores() {
    let honest = texts(HONEST);
    assert!(honest.len() >= 40, "{} honest texts", honest.len());
    if std::env::var_os("SVEA_CORPUS_PRINT").is_some() {
        for t in &honest {
            let s = RubricScorer.score(t);
            let head: String = t.chars().take(50).collect();
            println!("{}\t{}", s.total, head);
        }
    }
    let _ = EARNS_MIN;
}
