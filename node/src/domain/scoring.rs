//! Quality score of a piece of feedback, 0..=100.
//!
//! The score is the sum of four components of 0..=25 points each: how
//! specific, actionable, balanced and substantial the text is. The rubric is
//! described for people in `node/RUBRIC.md`; keep the two in step.
//!
//! It pays only for language ([`super::language`]): every word is checked against Swedish and
//! English dictionaries, and words that are not language (unknown words past a few names,
//! keyboard runs, repetitions, word salad) count for no substance and no specifics, and past a
//! small share they cost the whole text points.
//!
//! [`RubricScorer`] is deterministic and uses integer arithmetic only (no
//! floats, no hashing order, no randomness, no clock), so every node with the
//! same dictionaries computes the same score for the same text, on every platform. That matters because
//! the score decides how much money is paid out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::dictionary;
use super::language::{self, Language};

/// The example texts `node/RUBRIC.md` shows everyone (and the tests pin) that score in a reward
/// tier: feedback that contains most of one, or is mostly contained in one, is a near-duplicate
/// at every business ([`super::similarity::DuplicateRule`]), however much is added to it.
pub const PUBLISHED_EXAMPLES: [&str; 4] = [
    "Jag handlade på ICA Maxi i Lund i tisdags runt 17:30. Personalen i kassan var trevlig och snabb, och de nybakade \
     kanelbullarna var riktigt goda. Tyvärr var kön vid självscanningen lång och frukthyllan var smutsig med gamla bananer. \
     Kaffet för 25 kr var dessutom kallt. Ni borde öppna en extra kassa när det är rusning efter jobbet, och nästa gång \
     hade det varit bra med en skylt som visar vilka kassor som är öppna. Förslag: gör rent fruktdisken oftare.",
    "I shopped at the Coop on Storgatan last Tuesday around 6 pm. The cashier, Anna, was friendly and quick, and the fresh \
     cinnamon buns were delicious. However, the queue at the self-checkout was very slow, and the fruit shelf looked dirty \
     with some old bananas. My coffee (35 kr) was also cold. You should open an extra till during the after-work rush, \
     and next time it would be better to put up a sign showing which checkouts are open. I suggest cleaning the fruit \
     stand more often.",
    "The cashier Lisa was friendly, but the queue was long and the coffee was cold. You should open a second till at \
     lunch, 12-13. The cinnamon bun (32 kr) was tasty.",
    "Kassören Lisa var trevlig men kön var lång och kaffet kallt. Ni borde öppna en kassa till vid lunch, kl 12-13. \
     Kanelbullen för 32 kr var god.",
];

/// Points per component.
pub const COMPONENT_MAX: u8 = 25;
/// Points in total.
pub const TOTAL_MAX: u8 = 100;
const _: () = assert!(COMPONENT_MAX as u32 * 4 == TOTAL_MAX as u32);

/// A quality score. `total` is the sum of the four components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QualityScore {
    /// 0..=100, the sum of the components.
    pub total: u8,
    /// 0..=25: concrete details (numbers, times, prices, products, staff, names).
    pub specific: u8,
    /// 0..=25: suggestions the business can act on.
    pub actionable: u8,
    /// 0..=25: both what was good and what was not.
    pub balanced: u8,
    /// 0..=25: length, discounted for repetition.
    pub substance: u8,
}

impl QualityScore {
    /// A score from its components, each clamped to 0..=25, with `total`
    /// their sum.
    pub fn from_components(specific: u8, actionable: u8, balanced: u8, substance: u8) -> Self {
        let specific = specific.min(COMPONENT_MAX);
        let actionable = actionable.min(COMPONENT_MAX);
        let balanced = balanced.min(COMPONENT_MAX);
        let substance = substance.min(COMPONENT_MAX);
        QualityScore {
            total: specific + actionable + balanced + substance,
            specific,
            actionable,
            balanced,
            substance,
        }
    }
}

/// Who gave a feedback text the score that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreSource {
    /// The rubric ([`RubricScorer`]): `scoring.backend = "rubric"`, or the model failed.
    Rubric,
    /// A language model behind an Ollama-compatible server.
    Ollama {
        /// The model, as configured (`scoring.model`).
        model: String,
    },
}

impl ScoreSource {
    /// The name used in the API: `rubric` or `ollama`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ScoreSource::Rubric => "rubric",
            ScoreSource::Ollama { .. } => "ollama",
        }
    }

    /// The model that scored, if one did.
    pub fn model(&self) -> Option<&str> {
        match self {
            ScoreSource::Rubric => None,
            ScoreSource::Ollama { model } => Some(model),
        }
    }
}

/// A feedback text's score as the node decided it, before the session stores it.
///
/// `total` is the score that counts (reward tier, analytics); `rubric` is the rubric's
/// breakdown of the same text, kept whoever scored: when the rubric scored, `total` is its
/// total; when a model scored, `total` is the model's and the breakdown says how the rubric
/// saw the text (its own `total` may differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scored {
    /// 0..=100, the score that counts.
    pub total: u8,
    /// Who gave `total`.
    pub source: ScoreSource,
    /// The rubric's breakdown.
    pub rubric: QualityScore,
}

impl Scored {
    /// The rubric's own score.
    pub fn by_rubric(rubric: QualityScore) -> Scored {
        Scored { total: rubric.total, source: ScoreSource::Rubric, rubric }
    }

    /// A model's score `total` (at most [`TOTAL_MAX`], else `None`), with the rubric's breakdown.
    pub fn by_model(total: u8, source: ScoreSource, rubric: QualityScore) -> Option<Scored> {
        (total <= TOTAL_MAX).then_some(Scored { total, source, rubric })
    }

    /// Whether `total` is in range: checked where a score arrives from another node.
    pub fn is_valid(&self) -> bool {
        self.total <= TOTAL_MAX && (self.source != ScoreSource::Rubric || self.total == self.rubric.total)
    }
}

/// Something that grades feedback text.
pub trait Scorer: Send + Sync {
    /// Grades `text`. Never fails: any text, including empty, has a score.
    fn score(&self, text: &str) -> QualityScore;
}

/// The rule-based scorer described in `node/RUBRIC.md`. Understands Swedish
/// and English.
#[derive(Debug, Default, Clone, Copy)]
pub struct RubricScorer;

impl RubricScorer {
    /// The scorer.
    pub fn new() -> Self {
        RubricScorer
    }
}

impl Scorer for RubricScorer {
    fn score(&self, text: &str) -> QualityScore {
        let tokens = tokenize(text);
        let shouting = is_shouting(text);
        let language = language::judge(&tokens, dictionary::loaded(), shouting);
        let stats = WordStats::of(&tokens, &language);

        let mut specific = specific_points(&tokens, &language, shouting);
        let mut actionable = actionable_points(&tokens);
        let mut balanced = balanced_points(&tokens);
        let mut substance = substance_points(&stats);

        // Words that are not language, past the free share, cost every component.
        let mut keep_percent = language.keep_percent();
        if stats.is_repetitive() {
            keep_percent = keep_percent * REPETITION_KEEP_PERCENT / 100;
        }
        if shouting {
            keep_percent = keep_percent * SHOUTING_KEEP_PERCENT / 100;
        }
        for points in [
            &mut specific,
            &mut actionable,
            &mut balanced,
            &mut substance,
        ] {
            *points = scale(*points, keep_percent);
        }
        QualityScore::from_components(specific, actionable, balanced, substance)
    }
}

/// Share of each component kept when the text is mostly one repeated word.
const REPETITION_KEEP_PERCENT: u32 = 40;
/// Share of each component kept when the text is written in capitals.
const SHOUTING_KEEP_PERCENT: u32 = 60;

fn scale(points: u8, keep_percent: u32) -> u8 {
    u8::try_from(u32::from(points) * keep_percent / 100).expect("scaling down keeps it below 25")
}

// ---------------------------------------------------------------------------
// Tokens

/// A word of the text.
#[derive(Debug)]
pub(crate) struct Token {
    /// As written.
    pub(crate) original: String,
    /// Lowercased (Unicode-aware: "ÅÄÖ" becomes "åäö").
    pub(crate) lower: String,
    /// First character is upper case in the original.
    pub(crate) capitalised: bool,
    /// First word of the text or of a sentence.
    pub(crate) sentence_start: bool,
    /// Punctuation (a clause boundary) between this word and the previous one.
    pub(crate) clause_start: bool,
    /// Contains a digit: a number, time or price such as "17:30" or "49.90".
    pub(crate) has_digit: bool,
}

/// Splits into words of letters and digits. Apostrophes between letters
/// ("couldn't") and `.`, `:` or `,` between digits ("17:30", "49,90") stay
/// inside the word; everything else separates words.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut sentence_start = true;
    let mut clause_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_alphanumeric() {
            if matches!(c, '.' | '!' | '?' | '\n') {
                sentence_start = true;
            }
            if !c.is_whitespace() {
                clause_start = true;
            }
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len() {
            if chars[i].is_alphanumeric() {
                i += 1;
            } else if i + 1 < chars.len() && joins(chars[i - 1], chars[i], chars[i + 1]) {
                i += 2;
            } else {
                break;
            }
        }
        let word: String = chars[start..i].iter().collect();
        tokens.push(Token {
            original: word.replace('’', "'"),
            lower: word.to_lowercase().replace('’', "'"),
            capitalised: c.is_uppercase(),
            sentence_start,
            clause_start,
            has_digit: word.chars().any(|c| c.is_ascii_digit()),
        });
        sentence_start = false;
        clause_start = false;
    }
    tokens
}

fn joins(before: char, joiner: char, after: char) -> bool {
    match joiner {
        '\'' | '’' => before.is_alphabetic() && after.is_alphabetic(),
        '.' | ':' | ',' => before.is_ascii_digit() && after.is_ascii_digit(),
        _ => false,
    }
}

/// Mostly capital letters: at least 12 letters with case, 70 % of them upper case.
fn is_shouting(text: &str) -> bool {
    let (mut upper, mut cased) = (0u32, 0u32);
    for c in text.chars() {
        if c.is_uppercase() {
            upper += 1;
            cased += 1;
        } else if c.is_lowercase() {
            cased += 1;
        }
    }
    cased >= 12 && upper * 100 >= cased * 70
}

/// Word counts.
struct WordStats {
    words: usize,
    unique: usize,
    most_repeated: usize,
    /// Words that are language ([`Language::is_language`]).
    language_words: usize,
    /// Distinct words among them.
    language_unique: usize,
}

impl WordStats {
    fn of(tokens: &[Token], language: &Language) -> Self {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut language_counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, t) in tokens.iter().enumerate() {
            *counts.entry(t.lower.as_str()).or_default() += 1;
            if language.is_language(i) {
                *language_counts.entry(t.lower.as_str()).or_default() += 1;
            }
        }
        WordStats {
            words: tokens.len(),
            unique: counts.len(),
            most_repeated: counts.values().copied().max().unwrap_or(0),
            language_words: language_counts.values().sum(),
            language_unique: language_counts.len(),
        }
    }

    /// Mostly one word, or very few distinct words: "bra bra bra bra".
    /// The thresholds sit well below ordinary prose, where the commonest word
    /// ("och", "the") is under a fifth of the text and well over a third of
    /// the words are distinct even in a 5000-character review.
    fn is_repetitive(&self) -> bool {
        self.words >= 4
            && (self.most_repeated * 100 >= self.words * 40 || self.unique * 100 < self.words * 25)
    }
}

/// Matches a lexicon entry: "word" exactly, or "stem*" as a prefix.
fn entry_matches(entry: &str, word: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => word == entry,
    }
}

fn u8_points(points: usize) -> u8 {
    u8::try_from(points.min(usize::from(COMPONENT_MAX))).expect("at most 25")
}

// ---------------------------------------------------------------------------
// Substance

/// Effective words needed for each point of substance: point k needs about
/// 81^(k/25) - 1 words, a logarithmic curve reaching 25 points at 80 words.
/// Integers so the result cannot differ between platforms' `ln`.
#[rustfmt::skip]
const SUBSTANCE_WORDS_FOR_POINT: [usize; COMPONENT_MAX as usize] =
    [1, 1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 8, 9, 11, 13, 16, 19, 23, 28, 33, 40, 47, 57, 67, 80];

/// Length in words that are language, where a word only counts while the text has at least one
/// distinct word per two words: repeating yourself adds no substance, nor do words that are not
/// language.
fn substance_points(stats: &WordStats) -> u8 {
    let effective = stats.language_words.min(stats.language_unique.saturating_mul(2));
    u8_points(
        SUBSTANCE_WORDS_FOR_POINT
            .iter()
            .filter(|&&needed| effective >= needed)
            .count(),
    )
}

// ---------------------------------------------------------------------------
// Specific

/// Things a customer can point at in English: staff, products, parts of
/// the shop. "stem*" matches as a prefix.
#[rustfmt::skip]
const MENTIONS_EN: &[&str] = &[
    "staff", "cashier*", "waiter*", "waitress*", "server", "servers", "barista*", "employee*",
    "manager*", "chef*", "cook", "cooks", "service", "checkout*", "till", "tills", "queue*",
    "menu*", "coffee*", "burger*", "pizza*", "salad*", "sandwich*", "bread*", "bun", "buns",
    "milk", "fruit*", "vegetable*", "meat", "fish", "shelf", "shelves", "price*", "receipt*",
    "parking", "toilet*", "restroom*", "bathroom*", "table*", "portion*", "dish*", "meal*",
    "drink*", "order*", "delivery", "bag", "bags", "cart*", "trolley*", "counter*", "payment*",
    "discount*", "bakery", "deli", "pharmacy", "food",
];

/// The same in Swedish. Swedish writes compounds as one word with the head
/// last ("frukthyllan", "självscanningskassan"), so a stem of at least
/// [`COMPOUND_STEM_CHARS_MIN`] letters also matches inside a word.
#[rustfmt::skip]
const MENTIONS_SV: &[&str] = &[
    "personal*", "kassör*", "kassa*", "servitör*", "servitris*", "expedit*", "butiksbiträd*",
    "kock*", "barista*", "kö", "kön", "köer*", "meny*", "kaffe*", "hamburgare*", "pizza*",
    "sallad*", "smörgås*", "macka", "mackan", "mackor*", "bröd*", "bulle*", "bullar*", "mjölk*",
    "frukt*", "grönsak*", "kött*", "fisk*", "hylla*", "hyllor*", "pris", "priset", "priser*",
    "kvitto*", "parkering*", "toalett*", "bord", "bordet", "borden", "portion*", "rätten",
    "rätter*", "måltid*", "dryck*", "beställning*", "leverans*", "påse*", "kundvagn*", "disk",
    "disken", "betalning*", "rabatt*", "erbjudande*", "bageri*", "apotek*", "självscanning*",
    "självutcheck*", "mat", "maten",
];

/// Words that contain a mention stem without being about one ("fruktansvärd"
/// is "terrible", not a fruit).
const MENTION_EXCEPTIONS: &[&str] = &["fruktansvär*"];

/// Mention stems at least this many letters long also match inside Swedish compounds.
const COMPOUND_STEM_CHARS_MIN: usize = 5;

/// The mention lexicon entry `word` refers to, if any.
fn mention(word: &str) -> Option<&'static str> {
    if MENTION_EXCEPTIONS.iter().any(|e| entry_matches(e, word)) {
        return None;
    }
    let english = MENTIONS_EN.iter().copied().find(|e| entry_matches(e, word));
    english.or_else(|| {
        MENTIONS_SV
            .iter()
            .copied()
            .find(|e| match e.strip_suffix('*') {
                Some(stem) if stem.chars().count() >= COMPOUND_STEM_CHARS_MIN => {
                    word.contains(stem)
                }
                _ => entry_matches(e, word),
            })
    })
}

/// Words that may be capitalised mid-sentence without naming anything.
const NOT_NAMES: &[&str] = &["i", "i'm", "i've", "i'd", "i'll", "ok", "okay"];

/// Points: numbers 3 each (max 6), mentions 2 each (max 8), long words 1
/// each (max 7), names 2 each (max 4); at most 25.
fn specific_points(tokens: &[Token], language: &Language, shouting: bool) -> u8 {
    let numbers: BTreeSet<&str> = tokens
        .iter()
        .filter(|t| t.has_digit)
        .map(|t| t.lower.as_str())
        .collect();
    let mentions: BTreeSet<&str> = tokens.iter().filter_map(|t| mention(&t.lower)).collect();
    // Long words and names count only when they are language: "qwrtzpkl" is neither.
    let long_words: BTreeSet<&str> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| language.is_language(*i))
        .map(|(_, t)| t.lower.as_str())
        .filter(|w| is_long_word(w))
        .collect();
    // In a shouted text every word is capitalised, so none of them is a name.
    let names: BTreeSet<&str> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| language.is_language(*i))
        .map(|(_, t)| t)
        .filter(|t| !shouting && t.capitalised && !t.sentence_start && !t.has_digit)
        .map(|t| t.lower.as_str())
        .filter(|w| w.chars().count() >= 2 && !NOT_NAMES.contains(w))
        .collect();
    u8_points(
        (numbers.len() * 3).min(6)
            + (mentions.len() * 2).min(8)
            + long_words.len().min(7)
            + (names.len() * 2).min(4),
    )
}

/// Six or more letters with a vowel: "kanelbullarna", "self", no; "qwrtzp", no.
fn is_long_word(word: &str) -> bool {
    word.chars().count() >= 6
        && word.chars().all(char::is_alphabetic)
        && word.chars().any(|c| "aeiouyåäöéü".contains(c))
}

// ---------------------------------------------------------------------------
// Actionable

/// Phrases that mark a suggestion, as space-separated words; each word may be
/// a "stem*".
#[rustfmt::skip]
const SUGGESTION_MARKERS: &[&str] = &[
    // English
    "should", "could", "would be better", "would be nice", "would be great", "it would help",
    "suggest*", "please", "wish*", "if you", "next time", "recommend that", "consider*",
    "improv*", "ought to", "better if",
    // Swedish
    "borde", "bör", "kunde", "skulle", "föreslår", "förslag*", "önskar", "önskemål*",
    "hade varit bättre", "hade det varit bättre", "vore bra", "vore bättre", "vore trevligt",
    "nästa gång", "förbättr*", "tips*", "gärna se",
];

/// "could not find", "kunde inte hitta" report a problem, they suggest nothing.
const NEGATED_MARKERS_IGNORED: &[&str] = &["could", "kunde"];

/// Points: one kind of suggestion 15, two 21, three or more 25.
fn actionable_points(tokens: &[Token]) -> u8 {
    let found = SUGGESTION_MARKERS
        .iter()
        .filter(|marker| {
            let words: Vec<&str> = marker.split(' ').collect();
            tokens.windows(words.len()).enumerate().any(|(i, window)| {
                let matched = window
                    .iter()
                    .zip(&words)
                    .all(|(t, w)| entry_matches(w, &t.lower));
                let negated = NEGATED_MARKERS_IGNORED.contains(marker)
                    && tokens
                        .get(i + 1)
                        .is_some_and(|next| NEGATORS.contains(&next.lower.as_str()));
                matched && !negated
            })
        })
        .count();
    match found {
        0 => 0,
        1 => 15,
        2 => 21,
        _ => 25,
    }
}

// ---------------------------------------------------------------------------
// Balanced

#[rustfmt::skip]
const POSITIVE: &[&str] = &[
    // English
    "good", "great", "friendly", "tasty", "clean", "nice", "fast", "quick", "quickly", "helpful",
    "excellent", "fresh", "delicious", "pleasant", "polite", "cozy", "cosy", "love", "loved",
    "lovely", "liked", "amazing", "wonderful", "perfect", "tidy", "welcoming", "kind",
    "efficient", "affordable", "cheerful", "attentive",
    // Swedish
    "bra", "god", "gott", "goda", "trevlig*", "snabb", "snabbt", "snabba", "ren", "rent", "rena",
    "fräsch*", "vänlig*", "hjälpsam*", "utmärkt*", "jättebra", "toppen", "härlig*", "mysig*",
    "prisvärd*", "prisvärt", "perfekt*", "underbar*", "fantastisk*", "smarrig*", "läcker*",
    "glad", "glada", "glatt", "tillmötesgående", "professionell*", "välkomnande", "kanon",
    "supergod*", "fin", "fint", "fina",
];

#[rustfmt::skip]
const NEGATIVE: &[&str] = &[
    // English
    "slow", "slowly", "cold", "dirty", "rude", "expensive", "overpriced", "bad", "terrible",
    "awful", "horrible", "poor", "messy", "stale", "noisy", "crowded", "unfriendly",
    "disappointing", "disappointed", "broken", "wrong", "bland", "soggy", "sticky", "worst",
    "worse", "lukewarm", "unhelpful", "impolite", "filthy", "rotten", "burnt",
    // Swedish
    "långsam*", "kall", "kallt", "kalla", "smutsig*", "otrevlig*", "dyr", "dyrt", "dyra", "dålig",
    "dåligt", "dåliga", "sur", "surt", "sura", "ovänlig*", "äcklig*", "slarvig*", "stökig*",
    "rörig*", "seg", "segt", "sega", "trist*", "tråkig*", "besviken", "besviket", "besvikna",
    "ljummen", "ljummet", "ljumma", "trasig*", "skitig*", "smaklös*", "oätlig*", "överpris*",
    "oprofessionell*", "fruktansvär*", "hemsk*", "bränd", "bränt", "brända", "unken", "unket",
    "unkna", "sämst", "sämre", "fel",
];

/// Words that flip the sentiment of the next one or two words in the same clause.
#[rustfmt::skip]
const NEGATORS: &[&str] = &[
    "not", "never", "no", "isn't", "wasn't", "weren't", "aren't", "don't", "didn't", "doesn't",
    "hardly", "inte", "aldrig", "ej", "knappast", "icke",
];

/// Points: both sides 15 plus 2 per further distinct sentiment word (max 25);
/// only one side 8 plus 2 per word (max 12); no sentiment 0.
fn balanced_points(tokens: &[Token]) -> u8 {
    let mut positive: BTreeSet<&str> = BTreeSet::new();
    let mut negative: BTreeSet<&str> = BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let word = token.lower.as_str();
        let (entry, is_positive) = match POSITIVE.iter().find(|e| entry_matches(e, word)) {
            Some(entry) => (*entry, true),
            None => match NEGATIVE.iter().find(|e| entry_matches(e, word)) {
                Some(entry) => (*entry, false),
                None => continue,
            },
        };
        // "not good" is negative, "inte dåligt" positive.
        let counts_as_positive = if is_negated(tokens, i) {
            !is_positive
        } else {
            is_positive
        };
        if counts_as_positive {
            positive.insert(entry);
        } else {
            negative.insert(entry);
        }
    }
    let (p, n) = (positive.len(), negative.len());
    let points = match (p, n) {
        (0, 0) => 0,
        (_, 0) | (0, _) => 8 + 2 * (p + n).min(2),
        _ => 15 + 2 * (p + n - 2).min(5),
    };
    u8_points(points)
}

/// One of the two words before `i` is a negator, with no punctuation between.
fn is_negated(tokens: &[Token], i: usize) -> bool {
    let mut j = i;
    for _ in 0..2 {
        if j == 0 || tokens[j].clause_start {
            return false;
        }
        j -= 1;
        if NEGATORS.contains(&tokens[j].lower.as_str()) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const SV_DETAILED: &str = "Jag handlade på ICA Maxi i Lund i tisdags runt 17:30. Personalen i \
        kassan var trevlig och snabb, och de nybakade kanelbullarna var riktigt goda. Tyvärr var \
        kön vid självscanningen lång och frukthyllan var smutsig med gamla bananer. Kaffet för \
        25 kr var dessutom kallt. Ni borde öppna en extra kassa när det är rusning efter \
        jobbet, och nästa gång hade det varit bra med en skylt som visar vilka kassor som är öppna. \
        Förslag: gör rent fruktdisken oftare.";

    const EN_DETAILED: &str = "I shopped at the Coop on Storgatan last Tuesday around 6 pm. The \
        cashier, Anna, was friendly and quick, and the fresh cinnamon buns were delicious. \
        However, the queue at the self-checkout was very slow, and the fruit shelf looked dirty \
        with some old bananas. My coffee (35 kr) was also cold. You should open an extra till \
        during the after-work rush, and next time it would be better to put up a sign showing \
        which checkouts are open. I suggest cleaning the fruit stand more often.";

    fn score(text: &str) -> QualityScore {
        RubricScorer::new().score(text)
    }

    fn assert_consistent(s: QualityScore) {
        for c in [s.specific, s.actionable, s.balanced, s.substance] {
            assert!(c <= COMPONENT_MAX, "{s:?}");
        }
        assert_eq!(
            s.total,
            s.specific + s.actionable + s.balanced + s.substance,
            "{s:?}"
        );
        assert!(s.total <= TOTAL_MAX, "{s:?}");
    }

    #[test]
    fn detailed_balanced_actionable_swedish_review_scores_high() {
        let s = score(SV_DETAILED);
        assert_consistent(s);
        assert!(s.total >= 85, "{s:?}");
        assert!(
            s.specific >= 20 && s.actionable >= 20 && s.balanced >= 15,
            "{s:?}"
        );
    }

    #[test]
    fn detailed_balanced_actionable_english_review_scores_high() {
        let s = score(EN_DETAILED);
        assert_consistent(s);
        assert!(s.total >= 85, "{s:?}");
        assert!(
            s.specific >= 20 && s.actionable >= 20 && s.balanced >= 15,
            "{s:?}"
        );
    }

    #[test]
    fn repeated_word_scores_low() {
        let text = "bra bra bra bra bra bra bra bra";
        assert!(text.chars().count() >= 20);
        let s = score(text);
        assert_consistent(s);
        assert!(s.total < 50, "{s:?}");
        assert!(s.total < 10, "{s:?}");
        // Alternating two words is still repetition.
        let s = score("bra dålig bra dålig bra dålig bra dålig bra dålig");
        assert!(s.total < 20, "{s:?}");
    }

    #[test]
    fn generic_praise_scores_in_the_middle_low_range() {
        let s = score("Great place, I liked it very much!");
        assert_consistent(s);
        assert!((20..70).contains(&s.total), "{s:?}");
        assert_eq!(s.actionable, 0, "{s:?}");
        let s = score("Bra ställe, jag tyckte mycket om det!");
        assert!((20..70).contains(&s.total), "{s:?}");
    }

    #[test]
    fn same_text_same_score() {
        let scorer = RubricScorer::new();
        for text in [
            SV_DETAILED,
            EN_DETAILED,
            "Great place, I liked it very much!",
            "",
        ] {
            assert_eq!(scorer.score(text), scorer.score(text));
            assert_eq!(scorer.score(text), RubricScorer.score(text));
        }
    }

    #[test]
    fn bounds_hold_for_odd_inputs() {
        let long_varied: String =
            (0..2_000).map(|i| format!("ord{i} ")).collect::<String>() + SV_DETAILED + EN_DETAILED;
        let long_detailed = [SV_DETAILED, EN_DETAILED].repeat(20).join(" ");
        let inputs = [
            "",
            "   ",
            "!!!???...",
            "😀😀😀😀😀😀😀😀😀😀",
            "a",
            "1234567890 1234567890",
            "'''' :::: ,,,, 1:2:3 4,5,6 a'b'c",
            "ÅÄÖ åäö ÉÜ",
            long_varied.as_str(),
            long_detailed.as_str(),
        ];
        for text in inputs {
            assert_consistent(score(text));
        }
        assert_eq!(score("").total, 0);
        assert_eq!(score("!!!???...").total, 0);
    }

    #[test]
    fn shouting_is_penalised() {
        let calm = score(EN_DETAILED);
        let shouted = score(&EN_DETAILED.to_uppercase());
        assert!(
            shouted.total + 30 <= calm.total,
            "calm {calm:?} shouted {shouted:?}"
        );
        let calm = score(SV_DETAILED);
        let shouted = score(&SV_DETAILED.to_uppercase());
        assert!(
            shouted.total + 30 <= calm.total,
            "calm {calm:?} shouted {shouted:?}"
        );
        // A name or two in capitals is not shouting.
        assert!(!is_shouting("Vi handlade på ICA och på COOP i går kväll"));
    }

    #[test]
    fn swedish_letters_are_lowercased_before_matching() {
        // "LÅNGSAM" and "GOD" must be found as "långsam" and "god".
        let s = score("Kassan var LÅNGSAM men maten var GOD");
        assert!(s.balanced >= 15, "{s:?}");
        let tokens = tokenize("ÖPPET Ärligt Åre");
        let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(words, ["öppet", "ärligt", "åre"]);
    }

    #[test]
    fn both_sides_score_higher_than_one_side() {
        let one_side = score("The coffee was good and the staff were friendly today");
        let both = score("The coffee was good but the staff were rude today");
        assert!(one_side.balanced < 15, "{one_side:?}");
        assert!(both.balanced >= 15, "{both:?}");
        let none = score("I bought a coffee and a sandwich at the counter today");
        assert_eq!(none.balanced, 0, "{none:?}");
    }

    #[test]
    fn negation_flips_sentiment_within_a_clause() {
        // "not friendly" is negative, so this is balanced.
        let s = score("The coffee was good but the staff were not friendly");
        assert!(s.balanced >= 15, "{s:?}");
        let s = score("Kaffet var gott men personalen var inte trevlig");
        assert!(s.balanced >= 15, "{s:?}");
        // A negator in an earlier clause does not reach across the comma.
        let s = score("No, the coffee was good and the staff were friendly");
        assert!(s.balanced < 15, "{s:?}");
    }

    #[test]
    fn suggestions_are_actionable_but_could_not_is_not() {
        assert_eq!(
            score("I could not find the milk anywhere today").actionable,
            0
        );
        assert_eq!(
            score("Jag kunde inte hitta mjölken någonstans idag").actionable,
            0
        );
        assert!(score("You could put the milk closer to the entrance").actionable >= 15);
        assert!(score("Ni borde flytta mjölken närmare ingången").actionable >= 15);
        assert!(score("Det hade varit bättre med fler kassor öppna").actionable >= 15);
        let two = score("You should open more tills, and next time label the prices");
        assert_eq!(two.actionable, 21, "{two:?}");
    }

    #[test]
    fn details_make_text_specific() {
        let vague = score("It was fine I guess, nothing much to say about it really");
        let concrete = score("The barista Erik made my latte in 3 minutes at 08:15, 42 kr");
        assert!(
            concrete.specific >= vague.specific + 10,
            "{vague:?} {concrete:?}"
        );
        // Swedish compounds: "frukthyllan" is a shelf, "självscanningskassan" a till.
        assert_eq!(mention("frukthyllan"), Some("frukt*"));
        assert_eq!(mention("mejerihyllan"), Some("hylla*"));
        assert_eq!(mention("självscanningskassan"), Some("kassa*"));
        assert_eq!(mention("kanelbullarna"), Some("bullar*"));
        assert_eq!(mention("fruktansvärt"), None);
        // English words are only matched from the start: "comfortable" is no table.
        assert_eq!(mention("tables"), Some("table*"));
        assert_eq!(mention("comfortable"), None);
    }

    #[test]
    fn tokenizer_keeps_times_prices_and_contractions_together() {
        let tokens = tokenize("At 17:30 it cost 49,90 or 49.90 kr. Couldn't! wasn’t");
        let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(
            words,
            ["at", "17:30", "it", "cost", "49,90", "or", "49.90", "kr", "couldn't", "wasn't"]
        );
        assert!(tokens[0].sentence_start && !tokens[2].sentence_start);
        assert!(tokens[8].sentence_start, "after a full stop");
    }

    /// The first `n` words of two detailed reviews: natural text of any length up to ~150 words.
    fn natural_words(n: usize) -> String {
        let all = format!("{SV_DETAILED} {EN_DETAILED}");
        let words: Vec<&str> = all.split_whitespace().collect();
        assert!(n <= words.len(), "{n} words of {}", words.len());
        words[..n].join(" ")
    }

    #[test]
    fn substance_grows_with_length_and_not_with_repetition() {
        let points = |n: usize| score(&natural_words(n)).substance;
        assert!(points(5) < points(20));
        assert!(points(20) < points(50));
        assert_eq!(points(80), 25);
        assert_eq!(points(100), 25);
        let repeated = vec!["hej då"; 40].join(" ");
        assert!(score(&repeated).substance < 10);
        // Words that are not language add no substance, however many.
        let words: Vec<String> = (0..100).map(|i| format!("ord{i}")).collect();
        assert_eq!(score(&words.join(" ")).substance, 0);
        let gibberish = "blorp fnagg quzzit wexel drummp snorf klibb yarrg plonk zwibble ".repeat(10);
        assert_eq!(score(&gibberish).total, 0);
    }

    /// The examples quoted in node/RUBRIC.md: if this fails, update the document too.
    #[test]
    fn rubric_md_examples() {
        let parts = |text: &str| {
            let s = score(text);
            assert_consistent(s);
            [s.specific, s.actionable, s.balanced, s.substance]
        };
        let table = [
            ("Great place, I liked it very much!", [0, 0, 12, 11]),
            ("Bra ställe, jag tyckte mycket om det!", [3, 0, 10, 11]),
            ("bra bra bra bra bra bra bra bra", [0, 0, 0, 0]),
            (
                "The cashier Lisa was friendly, but the queue was long and the coffee was cold. \
                 You should open a second till at lunch, 12-13. The cinnamon bun (32 kr) was \
                 tasty.",
                [22, 15, 17, 19],
            ),
            (
                "Kassören Lisa var trevlig men kön var lång och kaffet kallt. Ni borde öppna en \
                 kassa till vid lunch, kl 12-13. Kanelbullen för 32 kr var god.",
                [20, 15, 17, 19],
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parts(text), expected, "{text}");
        }
        assert_eq!(
            score("It was fine I guess, nothing much to say about it really").specific,
            2
        );
        assert_eq!(
            score("The barista Erik made my latte in 3 minutes at 08:15, 42 kr").specific,
            12
        );
        assert_eq!(
            score("Baristan Erik gjorde min latte på 3 minuter kl 08:15, 42 kr").specific,
            13
        );
        assert_eq!(
            score("You should open a second till at lunch.").actionable,
            15
        );
        let two_kinds =
            "Ni borde öppna en kassa till vid lunch, och nästa gång vore det bra med fler bord.";
        assert_eq!(score(two_kinds).actionable, 21);
        assert_eq!(score("Maten var god men kaffet var kallt.").balanced, 15);
        assert_eq!(
            score("The food was good but the coffee was cold.").balanced,
            15
        );
        assert_eq!(
            score("THE FOOD WAS TERRIBLE AND THE STAFF WERE RUDE!!!").total,
            17
        );
        assert_eq!(
            score("The food was terrible and the staff were rude!!!").total,
            30
        );
        assert_eq!(score(SV_DETAILED).total, 99);
        assert_eq!(score(EN_DETAILED).total, 100);
        assert_eq!(score(&natural_words(7)).substance, 11);
        assert_eq!(score(&natural_words(25)).substance, 18);
    }

    #[test]
    fn from_components_clamps_and_sums() {
        let s = QualityScore::from_components(30, 25, 10, 0);
        assert_eq!(
            s,
            QualityScore {
                total: 60,
                specific: 25,
                actionable: 25,
                balanced: 10,
                substance: 0
            }
        );
    }
}
