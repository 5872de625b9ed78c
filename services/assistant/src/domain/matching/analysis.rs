//! From text to the terms the index compares: words split, elisions removed ("l'écran" is
//! "écran"), case and accents folded (visitors often type without accents), stop words dropped,
//! and what is left stemmed, so that "livraisons", "livrée" and "livrer" meet. Entries and
//! questions go through the same steps, in the entry's language.

use rust_stemmers::{Algorithm, Stemmer};

/// French prefixes that elide before a vowel, as in "l'", "qu'" or "jusqu'".
const FRENCH_ELISIONS: [&str; 12] = ["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu"];

/// Folded French stop words: function words and the question words every question has, which
/// tell one entry from another no better than "the".
const FRENCH_STOP_WORDS: &[&str] = &[
    "a", "afin", "ai", "aie", "aient", "ais", "ait", "alors", "as", "au", "aucun", "aucune", "aupres", "aussi",
    "autre", "aux", "avais", "avait", "avec", "avez", "avoir", "avons", "bonjour", "bonsoir", "c", "ca", "ce", "ceci",
    "cela", "celle", "celui", "ces", "cet", "cette", "chez", "combien", "comme", "comment", "d", "dans", "de", "des",
    "dois", "doit", "donc", "du", "elle", "elles", "en", "est", "et", "etais", "etait", "ete", "etes", "etre", "eu",
    "faire", "fait", "faut", "fois", "ici", "il", "ils", "j", "je", "l", "la", "le", "les", "leur", "leurs", "lui",
    "m", "ma", "mais", "me", "merci", "mes", "moi", "mon", "n", "ne", "ni", "nos", "notre", "nous", "on", "ont", "ou",
    "par", "pas", "peut", "peuvent", "peux", "plus", "possible", "pour", "pourquoi", "pourrais", "pourriez", "puis",
    "qu", "quand", "que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans", "se", "ses", "si",
    "sil", "son", "sont", "suis", "sur", "svp", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute", "tres",
    "tu", "un", "une", "vais", "veux", "vos", "votre", "voudrais", "vous", "y",
];

const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "doesn", "don", "for", "from", "get", "had", "has", "have", "hello", "hi", "how", "i", "if", "in", "into",
    "is", "isn", "it", "its", "just", "me", "my", "of", "on", "or", "our", "please", "should", "so", "some", "than",
    "thank", "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "us", "want",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// How text in one language becomes terms.
pub struct Analyzer {
    language: Language,
    stemmer: Option<Stemmer>,
}

/// The languages whose words the analyzer knows; any other is split and folded only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    French,
    English,
    Other,
}

impl Language {
    pub fn of_code(code: &str) -> Self {
        match code {
            "fr" => Self::French,
            "en" => Self::English,
            _ => Self::Other,
        }
    }

    fn stop_words(self) -> &'static [&'static str] {
        match self {
            Self::French => FRENCH_STOP_WORDS,
            Self::English => ENGLISH_STOP_WORDS,
            Self::Other => &[],
        }
    }

    fn is_stop_word(self, word: &str) -> bool {
        self.stop_words().binary_search(&word).is_ok()
    }
}

impl Analyzer {
    pub fn new(language_code: &str) -> Self {
        let language = Language::of_code(language_code);
        let algorithm = match language_code {
            "fr" => Some(Algorithm::French),
            "en" => Some(Algorithm::English),
            "de" => Some(Algorithm::German),
            "es" => Some(Algorithm::Spanish),
            "it" => Some(Algorithm::Italian),
            "pt" => Some(Algorithm::Portuguese),
            "nl" => Some(Algorithm::Dutch),
            _ => None,
        };
        Self { language, stemmer: algorithm.map(Stemmer::create) }
    }

    /// The terms of `text`, in order, repeated as often as they occur.
    pub fn terms(&self, text: &str) -> Vec<String> {
        words(text)
            .filter_map(|word| {
                let word = fold(&self.strip_clitic(word));
                if word.is_empty() || self.language.is_stop_word(&word) {
                    return None;
                }
                Some(match &self.stemmer {
                    Some(stemmer) => stemmer.stem(&word).into_owned(),
                    None => word,
                })
            })
            .collect()
    }

    /// "l'écran" is "écran"; "customer's" is "customer"; "don't" is "don", a stop word.
    fn strip_clitic<'w>(&self, word: &'w str) -> std::borrow::Cow<'w, str> {
        let Some((before, after)) = word.split_once(['\'', '’']) else {
            return word.into();
        };
        let before_folded = fold(before);
        match self.language {
            Language::French if FRENCH_ELISIONS.contains(&before_folded.as_str()) => {
                after.replace(['\'', '’'], "").into()
            }
            Language::English => before.into(),
            _ => word.replace(['\'', '’'], "").into(),
        }
    }
}

/// Words: runs of letters, digits and inner apostrophes.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|word| word.trim_matches(['\'', '’']))
        .filter(|word| !word.is_empty())
}

/// Lower case without diacritics, so that "Délai", "delai" and "DÉLAI" are one word.
pub fn fold(word: &str) -> String {
    let mut folded = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => folded.push('a'),
            'ç' => folded.push('c'),
            'è' | 'é' | 'ê' | 'ë' => folded.push('e'),
            'ì' | 'í' | 'î' | 'ï' => folded.push('i'),
            'ñ' => folded.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => folded.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => folded.push('u'),
            'ý' | 'ÿ' => folded.push('y'),
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            'ß' => folded.push_str("ss"),
            '\'' | '’' => {}
            other => folded.push(other),
        }
    }
    folded
}

/// The language `text` is most likely written in among `candidates`, by the stop words and
/// accents it uses; `None` when nothing tells.
pub fn detect_language<'c>(text: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let mut best: Option<(&str, usize)> = None;
    let mut tied = false;
    for &code in candidates {
        let language = Language::of_code(code);
        let mut evidence = words(text).filter(|word| language.is_stop_word(&fold(word))).count();
        if language == Language::French {
            evidence +=
                text.chars().filter(|c| matches!(c, 'é' | 'è' | 'ê' | 'à' | 'ç' | 'ù' | 'ô' | 'î' | '’')).count();
            evidence += words(text).filter(|word| word.contains(['\'', '’']) && !word.ends_with("'s")).count();
        }
        match best {
            Some((_, most)) if evidence == most => tied = true,
            Some((_, most)) if evidence < most => {}
            _ => {
                best = Some((code, evidence));
                tied = false;
            }
        }
    }
    match best {
        Some((code, evidence)) if evidence > 0 && !tied => Some(code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_word_lists_are_sorted_for_binary_search() {
        for list in [FRENCH_STOP_WORDS, ENGLISH_STOP_WORDS] {
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]), "{:?}", list.windows(2).find(|p| p[0] >= p[1]));
        }
    }

    #[test]
    fn french_elisions_accents_and_plurals_meet_the_same_terms() {
        let french = Analyzer::new("fr");
        assert_eq!(french.terms("L'écran reste noir"), french.terms("l ecran reste noirs"));
        assert_eq!(french.terms("délai de livraison"), french.terms("DELAIS LIVRAISONS"));
        assert_eq!(french.terms("Comment est-ce que je peux me faire rembourser ?"), french.terms("remboursé"));
    }

    #[test]
    fn english_possessives_and_contractions_are_not_terms_of_their_own() {
        let english = Analyzer::new("en");
        assert_eq!(english.terms("My order's delivery doesn't arrive"), english.terms("order delivery arriving"));
        assert!(english.terms("how do I do it?").is_empty());
    }

    #[test]
    fn a_language_without_a_stemmer_is_still_split_and_folded() {
        assert_eq!(Analyzer::new("sv").terms("Hur lång TID?"), ["hur", "lang", "tid"]);
    }

    #[test]
    fn the_language_is_told_by_its_function_words_and_accents() {
        let candidates = ["fr", "en"];
        assert_eq!(detect_language("Où est ma commande ?", &candidates), Some("fr"));
        assert_eq!(detect_language("je n arrive pas a me connecter", &candidates), Some("fr"));
        assert_eq!(detect_language("where is my parcel", &candidates), Some("en"));
        assert_eq!(detect_language("iPhone 15", &candidates), None);
        assert_eq!(detect_language("où", &["en"]), None);
    }
}
