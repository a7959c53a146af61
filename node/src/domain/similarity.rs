//! Near-duplicate feedback: a text is normalised (Unicode NFC, lower case, whitespace collapsed),
//! cut into overlapping character shingles, and summarised by a MinHash [`Fingerprint`]; two
//! fingerprints estimate the Jaccard similarity of their shingle sets ([`similarity_percent`]).
//! Copying a text with other case or spacing gives the same fingerprint, changing a word keeps
//! most shingles, and two texts written independently share almost none.
//!
//! Hashing is fixed (FNV-1a for a shingle, then SplitMix64 per MinHash slot), never a
//! `RandomState`: a fingerprint must be the same on every node and in every run, because the
//! business actor compares it against fingerprints other nodes computed and stored.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Characters per shingle. Five is long enough that common Swedish syllables and short words do
/// not make unrelated texts look alike, short enough that one changed word disturbs only the
/// shingles that overlap it.
pub const SHINGLE_CHARS: usize = 5;

/// MinHash slots per fingerprint; the estimate's standard error is about `sqrt(J(1-J)/N)`
/// (under 0.06 for any J at 64).
pub const MINHASH_SLOTS: usize = 64;

/// What [`similarity_percent`] is measured in: 0 (nothing shared) to 100 (same shingle set).
pub const SIMILARITY_PERCENT_MAX: u8 = 100;

/// The MinHash fingerprint of a normalised text: `MINHASH_SLOTS` minima, one per hash function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(Vec<u32>);

impl Fingerprint {
    /// The fingerprint of `text` (normalised first, see [`normalize`]).
    pub fn of(text: &str) -> Fingerprint {
        let mut mins = vec![u32::MAX; MINHASH_SLOTS];
        for h in shingle_hashes(&normalize(text)) {
            for (slot, min) in mins.iter_mut().enumerate() {
                let v = slot_hash(h, slot);
                if v < *min {
                    *min = v;
                }
            }
        }
        Fingerprint(mins)
    }
}

/// How alike two fingerprints' texts are: the share of MinHash slots that agree, in percent (an
/// estimate of the Jaccard similarity of their shingle sets). Fingerprints of different shapes
/// (not made by this version) count as unlike.
pub fn similarity_percent(a: &Fingerprint, b: &Fingerprint) -> u8 {
    if a.0.len() != MINHASH_SLOTS || b.0.len() != MINHASH_SLOTS {
        return 0;
    }
    let same = a.0.iter().zip(&b.0).filter(|(x, y)| x == y).count();
    // same <= MINHASH_SLOTS, so the quotient is at most 100.
    u8::try_from(same * usize::from(SIMILARITY_PERCENT_MAX) / MINHASH_SLOTS).unwrap_or(SIMILARITY_PERCENT_MAX)
}

/// Unicode NFC, lower case, every run of whitespace one space, no leading or trailing space.
pub fn normalize(text: &str) -> String {
    let folded: String = text.nfc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// FNV-1a hashes of every `SHINGLE_CHARS`-character window of `text` (the whole text when it is
/// shorter).
fn shingle_hashes(text: &str) -> Vec<u64> {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let chars = starts.len() - 1;
    if chars <= SHINGLE_CHARS {
        return vec![fnv1a(text.as_bytes())];
    }
    (0..=chars - SHINGLE_CHARS).map(|i| fnv1a(&text.as_bytes()[starts[i]..starts[i + SHINGLE_CHARS]])).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// Hash function number `slot` applied to a shingle hash: SplitMix64 of the hash offset by the
/// slot times the golden-ratio increment, high half.
fn slot_hash(h: u64, slot: usize) -> u32 {
    let mut z = h.wrapping_add((slot as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 32) as u32
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Threshold the config defaults to (`abuse.duplicate_similarity_percent`).
    const THRESHOLD: u8 = 60;

    const ORIGINAL: &str = "Kaffet var gott och kanelbullen färsk, men kön vid kassan var lång runt 12:15. \
                            Ni borde öppna en kassa till vid lunch.";

    fn sim(a: &str, b: &str) -> u8 {
        similarity_percent(&Fingerprint::of(a), &Fingerprint::of(b))
    }

    fn exact_jaccard_percent(a: &str, b: &str) -> f64 {
        let sa: BTreeSet<u64> = shingle_hashes(&normalize(a)).into_iter().collect();
        let sb: BTreeSet<u64> = shingle_hashes(&normalize(b)).into_iter().collect();
        100.0 * sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
    }

    #[test]
    fn case_whitespace_and_composition_do_not_matter() {
        let shouted = "  KAFFET VAR GOTT och kanelbullen FÄRSK,   men kön vid kassan var lång runt 12:15.\n\t\
                       Ni borde öppna en kassa till vid lunch.  ";
        assert_eq!(Fingerprint::of(shouted), Fingerprint::of(ORIGINAL));
        // "ä" written as "a" + combining diaeresis (NFD) is the same text after NFC.
        let decomposed = ORIGINAL.replace('ä', "a\u{0308}").replace('ö', "o\u{0308}");
        assert_ne!(decomposed, ORIGINAL);
        assert_eq!(Fingerprint::of(&decomposed), Fingerprint::of(ORIGINAL));
        assert_eq!(sim(shouted, ORIGINAL), 100);
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
            let s = sim(edited, ORIGINAL);
            assert!(s >= THRESHOLD, "{s}% (exact {:.0}%): {edited}", exact_jaccard_percent(edited, ORIGINAL));
        }
    }

    #[test]
    fn different_texts_are_not_duplicates() {
        let others = [
            "Trevlig personal och mysig miljö. Tyvärr var toaletten smutsig och tvålen slut. Nästa gång vore det bra om någon kollade oftare.",
            "Beställde en latte för 45 kr som var ljummen när jag fick den. Baristan var vänlig och gjorde en ny direkt, det uppskattades.",
            "Snabb service och prisvärd lunch, dagens rätt för 119 kr. Salladsbordet kunde vara fräschare, gurkan såg lite trött ut.",
            "Helt okej besök. Bullarna var goda men kaffet var kallt och personalen verkade stressad. Skulle gärna se fler sittplatser inne.",
            // Same topic, many of the same words, written independently.
            "Kön vid kassan var lång vid lunch och kaffet var gott. Kanelbullen var färsk. En kassa till skulle hjälpa runt 12.",
        ];
        for other in others {
            let s = sim(other, ORIGINAL);
            assert!(s < THRESHOLD, "{s}% (exact {:.0}%): {other}", exact_jaccard_percent(other, ORIGINAL));
        }
        for (i, a) in others.iter().enumerate() {
            for b in &others[i + 1..] {
                assert!(sim(a, b) < THRESHOLD, "{a} / {b}");
            }
        }
    }

    #[test]
    fn the_estimate_tracks_the_exact_jaccard_similarity() {
        let pairs = [
            (ORIGINAL.to_string(), ORIGINAL.replace("lång", "kort")),
            (ORIGINAL.to_string(), ORIGINAL.replace("Ni borde öppna en kassa till vid lunch.", "Personalen var trevlig.")),
            (ORIGINAL.to_string(), "Snabb service och prisvärd lunch, dagens rätt för 119 kr.".to_string()),
        ];
        for (a, b) in &pairs {
            let estimate = f64::from(sim(a, b));
            let exact = exact_jaccard_percent(a, b);
            // Four standard errors at worst (J = 0.5: 6.25 points).
            assert!((estimate - exact).abs() <= 25.0, "estimate {estimate} exact {exact:.1}: {b}");
        }
    }

    #[test]
    fn fingerprints_are_fixed_across_runs_and_nodes() {
        // Pinned values: a change here changes every stored fingerprint's meaning.
        let f = Fingerprint::of("hej hej");
        assert_eq!(f.0.len(), MINHASH_SLOTS);
        assert_eq!(f, Fingerprint::of("HEJ  HEJ"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn short_and_odd_texts_do_not_panic() {
        for text in ["", " ", "a", "ab cd", "😀😀😀😀😀😀", "\u{0301}\u{0301}"] {
            let f = Fingerprint::of(text);
            assert_eq!(similarity_percent(&f, &f), 100);
        }
        assert_eq!(similarity_percent(&Fingerprint(vec![1, 2]), &Fingerprint(vec![1, 2])), 0);
    }
}
