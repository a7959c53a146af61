//! Near-duplicate feedback, judged by containment: how much of an earlier text the new one
//! contains, and how much of the new one the earlier contains, not only how alike the two are as
//! wholes. "The public example plus noise" contains the whole example, however much noise there
//! is; two texts written independently share little.
//!
//! A text is normalised (Unicode NFC, lower case, every run of characters that are not letters or
//! digits one space) and cut into overlapping `SHINGLE_CHARS`-character shingles. A new text is
//! checked with all of its shingles ([`Shingles`], at most one per character of a 5,000-character
//! text); what is kept of an earlier text is a [`Fingerprint`]: a uniform sample of its shingles
//! (the `SAMPLE_LEN` smallest hashes, a bottom-k sketch) and how many it had. The share of the
//! sample found in the new text estimates how much of the earlier text the new one contains; the
//! new text's shingles that fall under the sample's largest hash, and how many of them the
//! sample holds, estimate the other direction ([`overlap`]).
//!
//! Hashing is fixed (FNV-1a, then SplitMix64's finaliser), never a `RandomState`: a fingerprint
//! must be the same on every node and in every run, because businesses compare new texts against
//! fingerprints other nodes computed and stored.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Characters per shingle. Six is long enough that common Swedish and English syllables and short
/// words rarely make independent texts look alike, short enough that one changed word disturbs
/// only the few shingles that overlap it.
pub const SHINGLE_CHARS: usize = 6;

/// Shingle hashes kept per fingerprint. The estimate of a containment `c` has a standard error
/// of `sqrt(c(1-c)/SAMPLE_LEN)`: under 0.0625 for any `c` at 64.
pub const SAMPLE_LEN: usize = 64;

/// Fewest of the new text's shingles under an earlier sample's largest hash for the estimate of
/// how much of the new text the earlier one contains: fewer are too noisy to decide on (a new
/// text much shorter than the earlier one), and that direction then counts as 0.
pub const NEW_SAMPLE_MIN: usize = 8;

/// Fewest shingles a text needs to count as contained in another (about 45 characters): a short
/// phrase ("personalen var trevlig") is inside many honest reviews.
pub const CONTAINED_SHINGLES_MIN: usize = 40;

/// What containment and similarity are measured in: 0 (nothing shared) to 100.
pub const PERCENT_MAX: u8 = 100;

/// Every distinct shingle hash of a new text, sorted: what it is checked against earlier texts
/// with. At most one hash per character of the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shingles(Vec<u64>);

impl Shingles {
    /// The shingles of `text` (normalised first, see [`normalize`]).
    pub fn of(text: &str) -> Shingles {
        let mut hashes = shingle_hashes(&normalize(text));
        hashes.sort_unstable();
        hashes.dedup();
        Shingles(hashes)
    }

    /// How many distinct shingles.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (an empty text).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, h: u64) -> bool {
        self.0.binary_search(&h).is_ok()
    }

    /// What is kept of this text to compare later texts against.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint { sample: self.0.iter().copied().take(SAMPLE_LEN).collect(), shingles: u32::try_from(self.0.len()).unwrap_or(u32::MAX) }
    }
}

/// What is kept of a text: the `SAMPLE_LEN` smallest of its shingle hashes (all of them when it
/// has fewer), sorted, and how many distinct shingles it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    sample: Vec<u64>,
    shingles: u32,
}

impl Fingerprint {
    /// The fingerprint of `text`.
    pub fn of(text: &str) -> Fingerprint {
        Shingles::of(text).fingerprint()
    }

    /// Whether this fingerprint is well formed (sorted, distinct, at most `SAMPLE_LEN`, no more
    /// than the shingles it claims): checked on what is read back from the store.
    fn is_valid(&self) -> bool {
        self.sample.len() <= SAMPLE_LEN && self.sample.len() as u64 <= u64::from(self.shingles) && self.sample.windows(2).all(|w| w[0] < w[1])
    }
}

/// How two texts overlap, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overlap {
    /// How much of the earlier text the new one contains.
    pub earlier_in_new: u8,
    /// How much of the new text the earlier one contains (0 when too few of the new text's
    /// shingles fall under the sample to tell, see [`NEW_SAMPLE_MIN`]).
    pub new_in_earlier: u8,
    /// How alike they are as wholes (an estimate of the Jaccard similarity of their shingles).
    pub similarity: u8,
}

impl Overlap {
    /// The larger containment: how much of one text the other contains.
    pub fn containment(&self) -> u8 {
        self.earlier_in_new.max(self.new_in_earlier)
    }
}

/// When a new text is a near-duplicate of an earlier one (`[abuse]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateRule {
    /// Containment, either way, at which it is (`abuse.duplicate_containment_percent`).
    pub containment_percent: u8,
    /// Whole-text similarity at which it is (`abuse.duplicate_similarity_percent`).
    pub similarity_percent: u8,
}

impl DuplicateRule {
    /// Whether `new` is a near-duplicate of the text `earlier` was made of.
    pub fn judges(&self, earlier: &Fingerprint, new: &Shingles) -> bool {
        let o = overlap(earlier, new);
        o.containment() >= self.containment_percent || o.similarity >= self.similarity_percent
    }
}

/// How the new text (all its shingles) overlaps an earlier one (its fingerprint). A malformed
/// fingerprint (not made by this version) overlaps nothing.
pub fn overlap(earlier: &Fingerprint, new: &Shingles) -> Overlap {
    if !earlier.is_valid() || earlier.sample.is_empty() || new.is_empty() {
        return Overlap::default();
    }
    let found = earlier.sample.iter().filter(|h| new.contains(**h)).count();
    // A very short text is contained in many: only a text of some length counts as contained.
    let earlier_in_new = if earlier.shingles as usize >= CONTAINED_SHINGLES_MIN { percent(found, earlier.sample.len()) } else { 0 };
    // The sample holds every shingle of the earlier text up to its largest hash: the new text's
    // shingles up to there are a uniform sample of the new text, checked exactly.
    let full = earlier.sample.len() as u64 == u64::from(earlier.shingles);
    let bound = if full { u64::MAX } else { earlier.sample[earlier.sample.len() - 1] };
    let under = new.0.partition_point(|h| *h <= bound);
    let new_in_earlier = if under >= NEW_SAMPLE_MIN && new.len() >= CONTAINED_SHINGLES_MIN {
        percent(found_under(earlier, new, bound), under)
    } else {
        0
    };
    // Jaccard from the containment: |A ∩ B| ~ c * |A|, |A ∪ B| = |A| + |B| - |A ∩ B|.
    let a = u64::from(earlier.shingles);
    let shared = a * u64::from(earlier_in_new) / 100;
    let union = (a + new.len() as u64).saturating_sub(shared).max(1);
    let similarity = u8::try_from((shared * 100 / union).min(100)).unwrap_or(PERCENT_MAX);
    Overlap { earlier_in_new, new_in_earlier, similarity }
}

/// How many of the new text's shingles up to `bound` the earlier sample holds.
fn found_under(earlier: &Fingerprint, new: &Shingles, bound: u64) -> usize {
    earlier.sample.iter().filter(|h| **h <= bound && new.contains(**h)).count()
}

fn percent(part: usize, whole: usize) -> u8 {
    if whole == 0 {
        return 0;
    }
    u8::try_from((part.min(whole) * 100) / whole).unwrap_or(PERCENT_MAX)
}

/// Unicode NFC, lower case, every run of characters that are not letters or digits one space, no
/// leading or trailing space: punctuation, case and spacing change nothing.
pub fn normalize(text: &str) -> String {
    let folded: String = text.nfc().collect::<String>().to_lowercase();
    let spaced: String = folded.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Hashes of every `SHINGLE_CHARS`-character window of `text` (the whole text when it is
/// shorter, none when it is empty).
fn shingle_hashes(text: &str) -> Vec<u64> {
    if text.is_empty() {
        return Vec::new();
    }
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let chars = starts.len() - 1;
    if chars <= SHINGLE_CHARS {
        return vec![mix(fnv1a(text.as_bytes()))];
    }
    (0..=chars - SHINGLE_CHARS).map(|i| mix(fnv1a(&text.as_bytes()[starts[i]..starts[i + SHINGLE_CHARS]]))).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// SplitMix64's finaliser: FNV-1a's low and high bits are not uniform enough for "the smallest
/// hashes" to be a uniform sample.
fn mix(h: u64) -> u64 {
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The containment the config defaults to (`abuse.duplicate_containment_percent`).
    const THRESHOLD: u8 = 50;

    const ORIGINAL: &str = "Kaffet var gott och kanelbullen färsk, men kön vid kassan var lång runt 12:15. \
                            Ni borde öppna en kassa till vid lunch.";

    fn ov(earlier: &str, new: &str) -> Overlap {
        overlap(&Fingerprint::of(earlier), &Shingles::of(new))
    }

    fn exact_containment(earlier: &str, new: &str) -> f64 {
        let a: BTreeSet<u64> = shingle_hashes(&normalize(earlier)).into_iter().collect();
        let b: BTreeSet<u64> = shingle_hashes(&normalize(new)).into_iter().collect();
        100.0 * a.intersection(&b).count() as f64 / a.len() as f64
    }

    #[test]
    fn case_whitespace_punctuation_and_composition_do_not_matter() {
        let shouted = "  KAFFET VAR GOTT och kanelbullen FÄRSK...   men kön vid kassan var lång runt 12:15!\n\t\
                       Ni borde öppna en kassa till vid lunch  ";
        assert_eq!(Fingerprint::of(shouted), Fingerprint::of(ORIGINAL));
        let decomposed = ORIGINAL.replace('ä', "a\u{0308}").replace('ö', "o\u{0308}");
        assert_ne!(decomposed, ORIGINAL);
        assert_eq!(Fingerprint::of(&decomposed), Fingerprint::of(ORIGINAL));
        assert_eq!(ov(shouted, ORIGINAL).containment(), 100);
    }

    #[test]
    fn a_changed_word_is_still_a_near_duplicate() {
        let edits = [
            ORIGINAL.replace("gott", "riktigt gott"),
            ORIGINAL.replace("lång", "kort"),
            ORIGINAL.replace("kanelbullen", "kardemummabullen"),
            ORIGINAL.replace("vid lunch", "vid lunchtid"),
            format!("{ORIGINAL} Tack!"),
            ORIGINAL.replace("12:15", "12:30").replace("gott", "gott!"),
        ];
        for edited in &edits {
            let o = ov(ORIGINAL, edited);
            assert!(o.containment() >= THRESHOLD, "{o:?} (exact {:.0}%): {edited}", exact_containment(ORIGINAL, edited));
        }
    }

    #[test]
    fn an_earlier_text_inside_a_longer_one_is_contained_however_long_the_noise() {
        let noise = "Sedan gick vi vidare till torget och tittade på båtarna i hamnen en stund innan regnet kom. ";
        for n in [1, 5, 20, 60] {
            let padded = format!("{} {ORIGINAL} {}", noise.repeat(n / 2), noise.repeat(n - n / 2));
            let o = ov(ORIGINAL, &padded);
            assert!(o.earlier_in_new >= 90, "{n}: {o:?}");
            // And the other way round: the long text recorded first, the example alone later.
            let o = ov(&padded, ORIGINAL);
            assert!(o.new_in_earlier >= 80 || n > 20, "{n}: {o:?}");
        }
    }

    #[test]
    fn different_texts_are_not_duplicates() {
        let others = [
            "Trevlig personal och mysig miljö. Tyvärr var toaletten smutsig och tvålen slut. Nästa gång vore det bra om någon kollade oftare.",
            "Beställde en latte för 45 kr som var ljummen när jag fick den. Baristan var vänlig och gjorde en ny direkt, det uppskattades.",
            "Snabb service och prisvärd lunch, dagens rätt för 119 kr. Salladsbordet kunde vara fräschare, gurkan såg lite trött ut.",
            "Helt okej besök. Bullarna var goda men kaffet var kallt och personalen verkade stressad. Skulle gärna se fler sittplatser inne.",
            // Same topic, many of the same words, in other phrases.
            "Lunchkön ringlade sig lång. Kaffet smakade bra och bullen med kanel kändes nybakad, fast det behövs fler kassor runt tolv.",
        ];
        for other in others {
            let o = ov(other, ORIGINAL);
            assert!(o.containment() < THRESHOLD, "{o:?} (exact {:.0}%): {other}", exact_containment(other, ORIGINAL));
            let o = ov(ORIGINAL, other);
            assert!(o.containment() < THRESHOLD, "{o:?}: {other}");
        }
    }

    #[test]
    fn the_same_phrases_in_another_order_are_a_near_duplicate() {
        // Every phrase of ORIGINAL, reordered and joined anew: a copy, not a review of its own.
        let rearranged = "Kön vid kassan var lång vid lunch och kaffet var gott. Kanelbullen var färsk. En kassa till skulle hjälpa runt 12.";
        assert!(ov(ORIGINAL, rearranged).containment() >= THRESHOLD, "{:?}", ov(ORIGINAL, rearranged));
    }

    #[test]
    fn the_estimate_tracks_the_exact_containment() {
        let long = "Vi var där en lördag och det var fullt. ".repeat(3) + ORIGINAL + " Personalen sprang mellan borden hela kvällen.";
        let pairs = [(ORIGINAL, long.as_str()), (long.as_str(), ORIGINAL), (ORIGINAL, "Snabb service och prisvärd lunch, dagens rätt för 119 kr.")];
        for (a, b) in pairs {
            let estimate = f64::from(ov(a, b).earlier_in_new);
            let exact = exact_containment(a, b);
            // Four standard errors at worst (c = 0.5: 6.25 points each).
            assert!((estimate - exact).abs() <= 25.0, "estimate {estimate} exact {exact:.1}: {a} / {b}");
        }
    }

    #[test]
    fn fingerprints_are_fixed_across_runs_and_nodes() {
        // Pinned values: a change here changes every stored fingerprint's meaning.
        let f = Fingerprint::of("hej hej");
        assert_eq!(f, Fingerprint::of("HEJ,  HEJ!"));
        assert_eq!(f.shingles, 2);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(f.is_valid());
    }

    #[test]
    fn short_odd_and_malformed_inputs_do_not_panic() {
        for text in ["", " ", "a", "ab cd", "😀😀😀😀😀😀", "\u{0301}\u{0301}", "!!!"] {
            let f = Fingerprint::of(text);
            let _ = overlap(&f, &Shingles::of(text));
        }
        let bad = Fingerprint { sample: vec![3, 2, 1], shingles: 3 };
        assert_eq!(overlap(&bad, &Shingles::of(ORIGINAL)), Overlap::default());
        let bad = Fingerprint { sample: vec![1, 2, 3], shingles: 1 };
        assert_eq!(overlap(&bad, &Shingles::of(ORIGINAL)), Overlap::default());
    }
}
