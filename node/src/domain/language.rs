//! Which words of a feedback text are language, for the rubric ([`super::scoring`]): a rubric
//! that counts words must not pay for words that are not Swedish or English, for the same words
//! again and again, or for words in no order. Each word is checked, and flagged when it is
//!
//! - **unknown**: neither the Swedish nor the English dictionary knows it ([`super::dictionary`]),
//!   beyond a few names (a capitalised word inside a sentence: "Lisa", "Storgatan", "ICA");
//! - a **keyboard run**: four or more neighbouring keys of one keyboard row ("asdf", "poiu") or a
//!   short unit repeated ("asdasd", "hahaha"), dictionary or not;
//! - **repeated**: the second and later time a run of four words appears, or a word (other than
//!   the small words every sentence needs) used more than its fair share;
//! - **salad**: inside a stretch of sixteen words with fewer than two of those small words or
//!   punctuation marks between words (random dictionary words strung together: natural sentences
//!   of either language are a third small words or more, and terse lists have punctuation), or anywhere in a text whose word order breaks more rules of sentence order than
//!   natural writing does (small words next to each other in ways neither language puts them,
//!   a lowercase word after a full stop in a text that starts its sentences with capitals, a small
//!   word capitalised inside a sentence): shuffled words.
//!
//! The rubric keeps all of a text's points while at most [`NOT_LANGUAGE_FREE_PERCENT`] of its
//! words are flagged (typos, names and brands of honest writers), and loses
//! [`NOT_LANGUAGE_PENALTY_PER_PERCENT`] percent of them per further percent. Everything here is
//! integer arithmetic over fixed tables and the dictionaries: the same text gets the same flags on
//! every node.

use std::collections::{BTreeMap, BTreeSet};

use super::dictionary::Dictionaries;
use super::scoring::Token;

/// Share of a text's words, in percent, that may be flagged without costing anything: names,
/// brands, a typo or two, a word the dictionaries miss.
pub const NOT_LANGUAGE_FREE_PERCENT: usize = 15;
/// Percent of the score lost per percent of flagged words over the free share: a text with 65 %
/// of its words flagged keeps nothing.
pub const NOT_LANGUAGE_PENALTY_PER_PERCENT: usize = 2;
/// Distinct unknown capitalised words inside sentences taken as names (the rubric pays for two).
pub const NAMES_FREE_MAX: usize = 4;
/// Letters of neighbouring keys on one row that make a keyboard run.
pub const KEYBOARD_RUN_MIN: usize = 4;
/// Words per stretch checked for small words.
pub const SALAD_WINDOW_WORDS: usize = 16;
/// Small words or punctuation marks between words a stretch needs at least.
pub const SALAD_WINDOW_SMALL_WORDS_MIN: usize = 2;
/// Words per run checked for repetition.
pub const REPEATED_RUN_WORDS: usize = 4;
/// Uses of one word (not a small word) that are always fair; longer texts get one more per
/// [`FAIR_USE_WORDS_PER_EXTRA`] words.
pub const FAIR_USES_MIN: usize = 3;
/// See [`FAIR_USES_MIN`].
pub const FAIR_USE_WORDS_PER_EXTRA: usize = 20;
/// Breaches of sentence order per 100 words above which the whole text counts as shuffled, once
/// it has at least [`DISORDER_MIN`] of them: natural writing has well under two.
pub const DISORDER_PER_100_WORDS_MAX: usize = 5;
/// See [`DISORDER_PER_100_WORDS_MAX`].
pub const DISORDER_MIN: usize = 3;

/// The rows of a Swedish (and, without å, ä and ö, an English) keyboard.
const KEYBOARD_ROWS: [&str; 4] = ["1234567890", "qwertyuiopå", "asdfghjklöä", "zxcvbnm"];

/// Word classes of the small words ("function words") of both languages that the order rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Articles and demonstratives that must be followed by what they determine.
    Det,
    /// Prepositions.
    Prep,
    /// Coordinating conjunctions.
    Conj,
    /// Subject pronouns.
    Subj,
    /// Auxiliary and modal verbs, copulas.
    Aux,
    /// Other small words: adverbs, particles, object pronouns, subordinators.
    Other,
}

/// The small words, by class. Words that are small in both languages with different classes
/// ("i", "in") are listed once with the class whose rules are safe for both.
#[rustfmt::skip]
const SMALL_WORDS: &[(&str, Class)] = &[
    // English
    ("the", Class::Det), ("a", Class::Det), ("an", Class::Det), ("these", Class::Det), ("those", Class::Det), ("every", Class::Det),
    ("of", Class::Prep), ("on", Class::Prep), ("at", Class::Prep), ("for", Class::Prep), ("with", Class::Prep), ("from", Class::Prep),
    ("by", Class::Prep), ("about", Class::Prep), ("into", Class::Prep), ("to", Class::Other), ("in", Class::Other),
    ("and", Class::Conj), ("or", Class::Conj), ("but", Class::Conj), ("nor", Class::Conj),
    ("we", Class::Subj), ("they", Class::Subj), ("he", Class::Subj), ("she", Class::Subj),
    ("was", Class::Aux), ("were", Class::Aux), ("is", Class::Aux), ("are", Class::Aux), ("be", Class::Aux), ("been", Class::Aux),
    ("has", Class::Aux), ("have", Class::Aux), ("had", Class::Aux), ("will", Class::Aux), ("would", Class::Aux),
    ("should", Class::Aux), ("could", Class::Aux), ("can", Class::Aux), ("did", Class::Aux), ("do", Class::Aux), ("does", Class::Aux),
    ("i", Class::Other), ("you", Class::Other), ("it", Class::Other), ("this", Class::Other), ("that", Class::Other), ("my", Class::Other),
    ("our", Class::Other), ("your", Class::Other), ("their", Class::Other), ("me", Class::Other), ("us", Class::Other), ("them", Class::Other),
    ("not", Class::Other), ("no", Class::Other), ("so", Class::Other), ("very", Class::Other), ("too", Class::Other), ("as", Class::Other),
    ("than", Class::Other), ("there", Class::Other), ("here", Class::Other), ("when", Class::Other), ("if", Class::Other),
    ("which", Class::Other), ("who", Class::Other), ("what", Class::Other), ("just", Class::Other), ("also", Class::Other),
    ("out", Class::Other), ("up", Class::Other), ("some", Class::Other), ("all", Class::Other), ("more", Class::Other),
    ("his", Class::Other), ("her", Class::Other), ("its", Class::Other), ("because", Class::Other), ("even", Class::Other),
    ("though", Class::Other), ("only", Class::Other), ("again", Class::Other), ("then", Class::Other), ("one", Class::Other),
    ("i'm", Class::Other), ("it's", Class::Other), ("wasn't", Class::Aux), ("didn't", Class::Aux), ("don't", Class::Aux),
    ("isn't", Class::Aux), ("weren't", Class::Aux), ("couldn't", Class::Aux), ("got", Class::Other), ("get", Class::Other),
    // Swedish
    ("en", Class::Det), ("ett", Class::Det), ("denna", Class::Det), ("detta", Class::Det), ("dessa", Class::Det),
    ("på", Class::Prep), ("av", Class::Prep), ("för", Class::Prep), ("med", Class::Prep), ("från", Class::Prep), ("vid", Class::Prep),
    ("hos", Class::Prep), ("mot", Class::Prep), ("utan", Class::Prep), ("efter", Class::Other), ("om", Class::Other),
    ("till", Class::Other), ("under", Class::Other), ("över", Class::Other),
    ("och", Class::Conj), ("eller", Class::Conj), ("men", Class::Conj), ("samt", Class::Conj),
    ("jag", Class::Subj), ("vi", Class::Subj), ("han", Class::Subj), ("hon", Class::Subj), ("ni", Class::Subj), ("du", Class::Subj),
    ("var", Class::Aux), ("är", Class::Aux), ("har", Class::Aux), ("hade", Class::Aux), ("blev", Class::Aux), ("blir", Class::Aux),
    ("kan", Class::Aux), ("kunde", Class::Aux), ("ska", Class::Aux), ("skulle", Class::Aux), ("borde", Class::Aux), ("bör", Class::Aux),
    ("vill", Class::Aux), ("måste", Class::Aux), ("fick", Class::Aux), ("får", Class::Aux), ("vore", Class::Aux), ("varit", Class::Aux),
    ("det", Class::Other), ("den", Class::Other), ("de", Class::Other), ("som", Class::Other), ("att", Class::Other),
    ("inte", Class::Other), ("så", Class::Other), ("när", Class::Other), ("där", Class::Other), ("här", Class::Other),
    ("också", Class::Other), ("bara", Class::Other), ("mycket", Class::Other), ("lite", Class::Other), ("nog", Class::Other),
    ("mig", Class::Other), ("oss", Class::Other), ("er", Class::Other), ("dem", Class::Other), ("min", Class::Other), ("mitt", Class::Other),
    ("mina", Class::Other), ("sin", Class::Other), ("sitt", Class::Other), ("sina", Class::Other), ("vår", Class::Other),
    ("ert", Class::Other), ("era", Class::Other), ("man", Class::Other), ("sig", Class::Other), ("än", Class::Other),
    ("redan", Class::Other), ("dock", Class::Other), ("ju", Class::Other), ("ändå", Class::Other), ("även", Class::Other),
    ("eftersom", Class::Other), ("om", Class::Other), ("hur", Class::Other), ("vad", Class::Other), ("vilka", Class::Other),
    ("vilken", Class::Other), ("ingen", Class::Other), ("inga", Class::Other), ("något", Class::Other), ("några", Class::Other),
    ("alla", Class::Other), ("allt", Class::Other), ("igen", Class::Other), ("sedan", Class::Other), ("då", Class::Other),
    ("ut", Class::Other), ("upp", Class::Other), ("in", Class::Other), ("i", Class::Other), ("tyvärr", Class::Other),
    ("gärna", Class::Other), ("väl", Class::Other), ("aldrig", Class::Other), ("alltid", Class::Other), ("två", Class::Other),
];

fn class(word: &str) -> Option<Class> {
    SMALL_WORDS.iter().find(|(w, _)| *w == word).map(|(_, c)| *c)
}

/// Pairs of classes that natural sentences of neither language put next to each other.
fn breaks_order(first: Class, second: Class) -> bool {
    use Class::*;
    matches!(
        (first, second),
        (Det, Det | Prep | Conj | Subj | Aux) | (Prep, Conj | Aux | Subj) | (Conj, Conj) | (Subj, Det | Conj)
    )
}

/// Why a word is not language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Neither dictionary knows it (and it is not one of the names taken).
    pub unknown: bool,
    /// A keyboard run.
    pub keyboard: bool,
    /// A repetition.
    pub repeated: bool,
    /// In a stretch without sentence structure, or in a shuffled text.
    pub salad: bool,
}

impl Flags {
    fn any(self) -> bool {
        self.unknown || self.keyboard || self.repeated || self.salad
    }
}

/// A text's words, judged.
#[derive(Debug, Clone, Default)]
pub struct Language {
    /// Per word of the text (as the rubric tokenised it).
    pub flags: Vec<Flags>,
    /// Breaches of sentence order found.
    pub disorder: usize,
}

impl Language {
    /// Words of the text.
    pub fn words(&self) -> usize {
        self.flags.len()
    }

    /// Whether word `i` is language.
    pub fn is_language(&self, i: usize) -> bool {
        self.flags.get(i).is_some_and(|f| !f.any())
    }

    /// Words flagged for any reason.
    pub fn not_language(&self) -> usize {
        self.flags.iter().filter(|f| f.any()).count()
    }

    /// Flagged words, in percent of all words (0 for a text without words).
    pub fn not_language_percent(&self) -> usize {
        match self.words() {
            0 => 0,
            n => self.not_language() * 100 / n,
        }
    }

    /// Percent of its points the text keeps.
    pub fn keep_percent(&self) -> u32 {
        let over = self.not_language_percent().saturating_sub(NOT_LANGUAGE_FREE_PERCENT);
        let lost = over.saturating_mul(NOT_LANGUAGE_PENALTY_PER_PERCENT).min(100);
        u32::try_from(100 - lost).expect("at most 100")
    }
}

/// Judges every word of `tokens` (the rubric's tokens of one text). `shouting`: the text is
/// written in capitals, so capitals say nothing about names or sentences.
pub(crate) fn judge(tokens: &[Token], dict: &Dictionaries, shouting: bool) -> Language {
    let mut flags = vec![Flags::default(); tokens.len()];
    unknown_words(tokens, dict, shouting, &mut flags);
    for (t, f) in tokens.iter().zip(flags.iter_mut()) {
        f.keyboard = is_keyboard_run(&t.lower, !f.unknown);
    }
    repeated(tokens, &mut flags);
    salad_stretches(tokens, &mut flags);
    let disorder = disorder(tokens, shouting);
    let words = tokens.len();
    if disorder >= DISORDER_MIN && disorder * 100 > words * DISORDER_PER_100_WORDS_MAX {
        for f in flags.iter_mut() {
            f.salad = true;
        }
    }
    Language { flags, disorder }
}

fn unknown_words(tokens: &[Token], dict: &Dictionaries, shouting: bool, flags: &mut [Flags]) {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (t, f) in tokens.iter().zip(flags.iter_mut()) {
        // Numbers, times and prices are details, and one- and two-letter words ("kr", "ok")
        // are judged by the other rules only.
        if t.has_digit || t.lower.chars().count() <= 2 || class(&t.lower).is_some() {
            continue;
        }
        if dict.knows(&t.original) || dict.knows(&t.lower) {
            continue;
        }
        let name_like = !shouting && t.capitalised && !t.sentence_start && t.lower.chars().all(char::is_alphabetic);
        if name_like && (names.contains(t.lower.as_str()) || names.len() < NAMES_FREE_MAX) {
            names.insert(&t.lower);
            continue;
        }
        f.unknown = true;
    }
}

/// The longest run of neighbouring keys of one keyboard row in `word`, either way ("asdf" 4,
/// "lkjh" 4), or `usize::MAX` for a unit of one to three characters repeated to six or more
/// ("asdasd", "hahaha", "zzzzzz").
pub fn keyboard_run(word: &str) -> usize {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() >= 6 {
        for unit in 1..=3 {
            if chars.len() % unit == 0 && chars.chunks(unit).all(|c| c == &chars[..unit]) {
                return usize::MAX;
            }
        }
    }
    let mut longest = usize::from(!chars.is_empty());
    for row in KEYBOARD_ROWS {
        let row: Vec<char> = row.chars().collect();
        let position = |c: char| row.iter().position(|r| *r == c);
        let mut run = 1;
        for pair in chars.windows(2) {
            let adjacent = match (position(pair[0]), position(pair[1])) {
                (Some(a), Some(b)) => a.abs_diff(b) == 1,
                _ => false,
            };
            run = if adjacent { run + 1 } else { 1 };
            longest = longest.max(run);
        }
    }
    longest
}

/// Whether a word is a keyboard run: [`KEYBOARD_RUN_MIN`] neighbouring keys in a word neither
/// dictionary knows ("asdf"; "property" has "erty" and is a word), one more in any word
/// ("qwerty"), or a repeated unit.
pub fn is_keyboard_run(word: &str, known: bool) -> bool {
    let run = keyboard_run(word);
    run > KEYBOARD_RUN_MIN || (run == KEYBOARD_RUN_MIN && !known)
}

fn repeated(tokens: &[Token], flags: &mut [Flags]) {
    // A run of words seen before: every word of the later run.
    let mut seen: BTreeSet<Vec<&str>> = BTreeSet::new();
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    for (i, run) in words.windows(REPEATED_RUN_WORDS).enumerate() {
        if !seen.insert(run.to_vec()) {
            for f in &mut flags[i..i + REPEATED_RUN_WORDS] {
                f.repeated = true;
            }
        }
    }
    // A word used more than its fair share: every use past it.
    let fair = FAIR_USES_MIN.max(words.len() / FAIR_USE_WORDS_PER_EXTRA);
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, w) in words.iter().enumerate() {
        if class(w).is_some() {
            continue;
        }
        let n = uses.entry(w).or_default();
        *n += 1;
        if *n > fair {
            flags[i].repeated = true;
        }
    }
}

fn salad_stretches(tokens: &[Token], flags: &mut [Flags]) {
    if tokens.len() < SALAD_WINDOW_WORDS {
        return;
    }
    // A small word, or punctuation before the word (a terse list, "Minus: kön, priset", has
    // structure too; random words strung together have neither).
    let structure: Vec<bool> = tokens.iter().enumerate().map(|(i, t)| class(&t.lower).is_some() || (i > 0 && t.clause_start)).collect();
    for i in 0..=tokens.len() - SALAD_WINDOW_WORDS {
        let window = i..i + SALAD_WINDOW_WORDS;
        if structure[i + 1..i + SALAD_WINDOW_WORDS].iter().filter(|s| **s).count() + usize::from(class(&tokens[i].lower).is_some())
            < SALAD_WINDOW_SMALL_WORDS_MIN
        {
            for f in &mut flags[window] {
                f.salad = true;
            }
        }
    }
}

/// Breaches of sentence order: small words in an order no sentence has, a small word
/// capitalised inside a sentence, a lowercase sentence start in a text that capitalises its
/// sentences.
fn disorder(tokens: &[Token], shouting: bool) -> usize {
    let mut n = 0;
    for pair in tokens.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.clause_start {
            continue;
        }
        if let (Some(x), Some(y)) = (class(&a.lower), class(&b.lower)) {
            if breaks_order(x, y) {
                n += 1;
            }
        }
    }
    if shouting {
        return n;
    }
    let capitalised_starts = tokens.iter().filter(|t| t.sentence_start && t.capitalised).count();
    let writes_capitals = capitalised_starts >= 2;
    for (i, t) in tokens.iter().enumerate() {
        let small = class(&t.lower).is_some() && t.lower != "i";
        if t.capitalised && !t.sentence_start && small && !t.clause_start {
            n += 1;
        }
        if writes_capitals && i > 0 && t.sentence_start && !t.capitalised && !t.has_digit {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyboard_runs_are_found_and_words_are_not_runs() {
        for w in ["asdf", "qwerty", "lkjh", "zxcvbnm", "asdasdasd", "hahaha", "zzzzzz", "uiop", "jklö", "12345"] {
            assert!(is_keyboard_run(w, false), "{w}");
        }
        for w in ["qwerty", "asdfgh", "asdasd"] {
            assert!(is_keyboard_run(w, true), "{w} even if a dictionary knew it");
        }
        for w in ["kaffe", "personalen", "queue", "trevlig", "asd", "bra", "salt", "tyvärr", "förslag", "1990", "property", "liberty"] {
            assert!(!is_keyboard_run(w, true), "{w}");
        }
    }

    #[test]
    fn order_rules_hold_for_natural_pairs() {
        use Class::*;
        // "of the", "and the", "in a", "och det", "var en": natural.
        for (a, b) in [(Prep, Det), (Conj, Det), (Aux, Det), (Subj, Aux), (Conj, Subj), (Other, Det)] {
            assert!(!breaks_order(a, b), "{a:?} {b:?}");
        }
        // "the and", "the of", "och men", "with was": not.
        for (a, b) in [(Det, Conj), (Det, Prep), (Conj, Conj), (Prep, Aux)] {
            assert!(breaks_order(a, b), "{a:?} {b:?}");
        }
    }
}
