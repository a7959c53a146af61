//! The Swedish and English dictionaries the rubric checks words against: Hunspell `.aff`/`.dic`
//! pairs read by `spellbook`, a maintained pure-Rust Hunspell reader (MPL-2.0).
//!
//! The Debian `hunspell-sv` (sv_SE) and `hunspell-en-us` (en_US) files are vendored in
//! `node/assets/dict/` (where they came from, their licences: `README.md` there) and embedded in
//! the binary, so a node needs no system package. They are parsed once per process, on first use
//! (or at start, [`install`]), and shared read-only by every scorer after that: a word check is a
//! few hash lookups.
//!
//! Another copy of the same four files can be used instead (`scoring.dictionary_dir`); the
//! node installs them at start, before anything is scored.

use std::path::Path;
use std::sync::OnceLock;

/// The embedded Swedish affix file.
const SV_AFF: &str = include_str!("../../assets/dict/sv_SE.aff");
/// The embedded Swedish word list.
const SV_DIC: &str = include_str!("../../assets/dict/sv_SE.dic");
/// The embedded English affix file.
const EN_AFF: &str = include_str!("../../assets/dict/en_US.aff");
/// The embedded English word list.
const EN_DIC: &str = include_str!("../../assets/dict/en_US.dic");

/// Largest dictionary file read from `scoring.dictionary_dir`: the embedded Swedish word list is
/// 2.3 MB; a file ten times larger is not a dictionary of one language.
pub const DICTIONARY_FILE_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// What went wrong loading dictionaries.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// A file could not be read.
    #[error("dictionary file {path} could not be read: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file is larger than [`DICTIONARY_FILE_BYTES_MAX`].
    #[error("dictionary file {path} is {bytes} bytes, more than {max}")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// spellbook refused the files.
    #[error("dictionary {name} could not be parsed: {reason}")]
    Parse {
        /// `sv_SE` or `en_US`.
        name: &'static str,
        /// spellbook's error.
        reason: String,
    },
    /// Other dictionaries were installed or loaded already in this process.
    #[error("dictionaries are loaded already in this process; install them before the first score")]
    AlreadyLoaded,
}

/// Swedish and English, checked together: a word is language if either knows it.
pub struct Dictionaries {
    sv: spellbook::Dictionary,
    en: spellbook::Dictionary,
}

impl std::fmt::Debug for Dictionaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dictionaries { sv_SE, en_US }")
    }
}

impl Dictionaries {
    /// Parses the two dictionaries from their files' contents.
    pub fn parse(sv_aff: &str, sv_dic: &str, en_aff: &str, en_dic: &str) -> Result<Dictionaries, DictionaryError> {
        let parse = |name, aff, dic| spellbook::Dictionary::new(aff, dic).map_err(|e| DictionaryError::Parse { name, reason: e.to_string() });
        Ok(Dictionaries { sv: parse("sv_SE", sv_aff, sv_dic)?, en: parse("en_US", en_aff, en_dic)? })
    }

    /// The dictionaries embedded in the binary.
    pub fn embedded_files() -> Result<Dictionaries, DictionaryError> {
        Dictionaries::parse(SV_AFF, SV_DIC, EN_AFF, EN_DIC)
    }

    /// `sv_SE.aff`, `sv_SE.dic`, `en_US.aff` and `en_US.dic` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Dictionaries, DictionaryError> {
        let read = |name: &str| -> Result<String, DictionaryError> {
            let path = dir.join(name);
            let shown = path.display().to_string();
            let bytes = std::fs::metadata(&path).map_err(|e| DictionaryError::Read { path: shown.clone(), reason: e.to_string() })?.len();
            if bytes > DICTIONARY_FILE_BYTES_MAX {
                return Err(DictionaryError::TooLarge { path: shown, bytes, max: DICTIONARY_FILE_BYTES_MAX });
            }
            std::fs::read_to_string(&path).map_err(|e| DictionaryError::Read { path: shown, reason: e.to_string() })
        };
        Dictionaries::parse(&read("sv_SE.aff")?, &read("sv_SE.dic")?, &read("en_US.aff")?, &read("en_US.dic")?)
    }

    /// Whether `word` (as written, or in lower case) is a Swedish or English word. Hunspell
    /// knows inflections and, for Swedish, compounds ("kanelbullarna", "självscanningskassan").
    pub fn knows(&self, word: &str) -> bool {
        if word.is_empty() || word.len() > spellbook::MAX_WORD_LEN {
            return false;
        }
        self.sv.check(word) || self.en.check(word)
    }
}

/// The dictionaries of this process.
static LOADED: OnceLock<Dictionaries> = OnceLock::new();

/// The dictionaries of this process: the installed ones, or the embedded ones, parsed on first
/// use.
pub fn loaded() -> &'static Dictionaries {
    LOADED.get_or_init(|| {
        let started = std::time::Instant::now();
        let d = Dictionaries::embedded_files().expect("the embedded dictionaries parse (tested)");
        tracing::info!(took_ms = started.elapsed().as_millis() as u64, "dictionaries loaded");
        d
    })
}

/// Makes `d` this process's dictionaries; only before anything was scored.
pub fn install(d: Dictionaries) -> Result<(), DictionaryError> {
    LOADED.set(d).map_err(|_| DictionaryError::AlreadyLoaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_and_english_words_are_known_and_gibberish_is_not() {
        let d = loaded();
        for w in ["kaffet", "Kaffet", "kanelbullarna", "personalen", "trevlig", "självscanningen", "coffee", "friendly", "queue", "cashier", "was"] {
            assert!(d.knows(w), "{w}");
        }
        for w in ["asdfgh", "xkqzv", "blorptigan", "zzzz", ""] {
            assert!(!d.knows(w), "{w}");
        }
    }

    #[test]
    fn a_directory_without_dictionaries_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(matches!(Dictionaries::from_dir(dir.path()), Err(DictionaryError::Read { .. })));
    }
}
