//! The scoring corpus (issue 20): honest reviews keep their score within
//! [`HONEST_SCORE_DRIFT_MAX`] of the rubric before issue 20 and still earn; adversarial texts earn
//! nothing, by their score or as near-duplicates in a run across businesses that decides as
//! `Settle` does. The texts are in `node/tests/fixtures/scoring/`: `honest.txt` written for this
//! test, `honest-baseline.txt` their scores before the change, `adversarial.txt` made by
//! `tools/adversarial_corpus.py`.
//!
//! `SVEA_CORPUS_PRINT=1 cargo test -p svea-node --lib corpus_print -- --nocapture` prints the
//! current rubric's score of every honest text in the baseline file's format (how
//! honest-baseline.txt was made, with the rubric as it was before issue 20), and every
//! adversarial text's score and outcome.

use super::dictionary;
use super::language;
use super::reward::DEFAULT_TIER_MIN_SCORES;
use super::scoring::{tokenize, RubricScorer, Scorer, PUBLISHED_EXAMPLES};
use super::similarity::{DuplicateRule, Fingerprint, Shingles};

const HONEST: &str = include_str!("../../tests/fixtures/scoring/honest.txt");
const BASELINE: &str = include_str!("../../tests/fixtures/scoring/honest-baseline.txt");
const ADVERSARIAL: &str = include_str!("../../tests/fixtures/scoring/adversarial.txt");

/// How far an honest text's score may move from the rubric before issue 20.
const HONEST_SCORE_DRIFT_MAX: i32 = 10;

/// The lowest score that earns anything with the default policy.
const EARNS_MIN: u8 = DEFAULT_TIER_MIN_SCORES[0];

/// The duplicate rule of the default config (`[abuse]`).
fn default_rule() -> DuplicateRule {
    let a = svea_config::RawConfig::default().abuse;
    DuplicateRule { containment_percent: a.duplicate_containment_percent, similarity_percent: a.duplicate_similarity_percent }
}

/// The texts of a corpus file: every line that is not blank or a comment.
fn lines(file: &str) -> Vec<&str> {
    file.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// What a text earns in a run: as `Settle` decides, without the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Below the lowest tier.
    Rejected(u8),
    /// In a tier, but a near-duplicate of a published example or of an earlier text.
    Duplicate(u8),
    /// Paid.
    Earns(u8),
}

/// Every business's texts so far, as the last day's fingerprints hold them, and the rule.
struct Run {
    rule: DuplicateRule,
    recorded: Vec<Fingerprint>,
}

impl Run {
    fn new() -> Run {
        Run { rule: default_rule(), recorded: Vec::new() }
    }

    /// Scores `text` and, in a tier, judges it against the published examples and every text
    /// recorded so far (recording it when it is new), as `Settle` does.
    fn submit(&mut self, text: &str) -> Outcome {
        let score = RubricScorer.score(text).total;
        if score < EARNS_MIN {
            return Outcome::Rejected(score);
        }
        let new = Shingles::of(text);
        let published = PUBLISHED_EXAMPLES.iter().map(|e| Fingerprint::of(e));
        if published.chain(self.recorded.iter().cloned()).any(|earlier| self.rule.judges(&earlier, &new)) {
            return Outcome::Duplicate(score);
        }
        self.recorded.push(new.fingerprint());
        Outcome::Earns(score)
    }
}

#[test]
fn corpus_print_scores() {
    let honest = lines(HONEST);
    assert!(honest.len() >= 40, "{} honest texts", honest.len());
    if std::env::var_os("SVEA_CORPUS_PRINT").is_none() {
        return;
    }
    for t in &honest {
        let head: String = t.chars().take(50).collect();
        println!("{}\t{}", RubricScorer.score(t).total, head);
    }
    let mut top = Vec::new();
    for (i, a) in honest.iter().enumerate() {
        for (j, b) in honest.iter().enumerate() {
            if i != j {
                let o = super::similarity::overlap(&Fingerprint::of(a), &Shingles::of(b));
                top.push((o.containment(), o.similarity, i, j));
            }
        }
    }
    top.sort();
    println!("highest containment between honest texts: {:?}", &top[top.len() - 5..]);
    let mut run = Run::new();
    for line in lines(ADVERSARIAL) {
        let (kind, text) = line.split_once('\t').expect("kind<TAB>text");
        let tokens = tokenize(text);
        let lang = language::judge(&tokens, dictionary::loaded(), false);
        let head: String = text.chars().take(60).collect();
        println!("{kind}\t{:?}\tnot-language {}% disorder {}\t{head}", run.submit(text), lang.not_language_percent(), lang.disorder);
    }
}

#[test]
fn corpus_honest_reviews_keep_their_score_and_earn() {
    let honest = lines(HONEST);
    let baseline = lines(BASELINE);
    assert!(honest.len() >= 40, "at least 40 honest texts, {}", honest.len());
    assert_eq!(honest.len(), baseline.len(), "one baseline line per honest text");
    let mut failures = Vec::new();
    let mut drift_sum = 0i32;
    for (text, line) in honest.iter().zip(&baseline) {
        let (before, head) = line.split_once('\t').expect("score<TAB>head");
        let before: i32 = before.parse().expect("a score");
        assert!(text.starts_with(head), "the baseline line {head:?} belongs to another text than {text:?}");
        assert!(before >= i32::from(EARNS_MIN), "every honest text earned before: {before} {head}");
        let now = RubricScorer.score(text);
        drift_sum += i32::from(now.total) - before;
        if (i32::from(now.total) - before).abs() > HONEST_SCORE_DRIFT_MAX || now.total < EARNS_MIN {
            failures.push(format!("{before} -> {} {now:?}: {text}", now.total));
        }
    }
    assert!(failures.is_empty(), "honest texts that moved more than {HONEST_SCORE_DRIFT_MAX} or stopped earning:\n{}", failures.join("\n"));
    // And none is a near-duplicate of a published example or of another: each earns in a run.
    let mut run = Run::new();
    for text in &honest {
        let outcome = run.submit(text);
        assert!(matches!(outcome, Outcome::Earns(_)), "{outcome:?}: {text}");
    }
    println!("honest texts: {} , mean drift {:.2}", honest.len(), f64::from(drift_sum) / honest.len() as f64);
}

#[test]
fn corpus_adversarial_texts_earn_nothing() {
    let texts: Vec<(&str, &str)> = lines(ADVERSARIAL).into_iter().map(|l| l.split_once('\t').expect("kind<TAB>text")).collect();
    let attacks = texts.iter().filter(|(kind, _)| !kind.starts_with("edit:")).count();
    let copies = texts.iter().filter(|(kind, _)| kind.starts_with("edit:")).count();
    // The first text of each edit group is the original: only the copies after it are attacks.
    let groups: std::collections::BTreeSet<&str> = texts.iter().map(|(k, _)| *k).filter(|k| k.starts_with("edit:")).collect();
    assert!(attacks + copies - groups.len() >= 40, "at least 40 adversarial texts");
    for kind in ["padded-example", "example-plus-noise", "gibberish", "word-salad", "shuffled", "repeated", "keyboard"] {
        assert!(texts.iter().any(|(k, _)| *k == kind), "the corpus has {kind} texts");
    }
    // Each text at its own business, one after the other, as in the attack: every business's
    // texts of the day are what the later ones are compared with.
    let mut run = Run::new();
    let mut seen_groups = std::collections::BTreeSet::new();
    let mut earned = Vec::new();
    for (kind, text) in &texts {
        let outcome = run.submit(text);
        let original = kind.starts_with("edit:") && seen_groups.insert(*kind);
        if original {
            assert!(matches!(outcome, Outcome::Earns(_)), "an edit group's original is honest-looking and earns: {outcome:?} {text}");
            continue;
        }
        if let Outcome::Earns(score) = outcome {
            earned.push(format!("{kind} {score}: {text}"));
        }
    }
    assert!(earned.is_empty(), "adversarial texts that earned:\n{}", earned.join("\n"));
}

#[test]
fn corpus_scores_are_the_same_every_time() {
    let scorer = RubricScorer;
    for text in lines(HONEST).into_iter().chain(lines(ADVERSARIAL)).take(30) {
        assert_eq!(scorer.score(text), RubricScorer.score(text));
    }
}
