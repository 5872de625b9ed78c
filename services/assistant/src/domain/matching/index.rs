//! One project's entries in one language, as a vector space of their terms: each phrasing of a
//! question (the question itself, each variant) is a unit, and so is the answer with its tags.
//! A unit is its terms weighted by tf-idf over the project's entries in that language, scaled to
//! length 1, so the cosine of a question with a unit is a score in 0..1 that no other project's
//! words change. The index is immutable: an edit builds the project's index afresh.

use uuid::Uuid;

use super::analysis::Analyzer;

/// How much the best phrasing counts against the answer and tags, in an entry's score.
const PHRASING_WEIGHT: f32 = 0.5;
/// A word of the question that is in none of the entries still counts, at this share of the
/// rarest word's weight: a question about something else scores low, even if one word matches.
const UNKNOWN_WORD_WEIGHT: f32 = 0.5;
/// A misspelt word (one letter added, removed, changed or two swapped) counts at this share.
const MISSPELT_WORD_WEIGHT: f32 = 0.8;
/// Words this short are too ambiguous to correct.
const MIN_CORRECTED_LENGTH: usize = 4;

/// What the index keeps of an entry: enough to answer without reading the database.
#[derive(Clone, Debug)]
pub struct IndexedEntry {
    pub id: Uuid,
    pub question: String,
    pub answer: String,
}

/// What an entry brings to the index.
pub struct EntryText<'a> {
    pub id: Uuid,
    pub question: &'a str,
    pub variants: &'a [String],
    pub answer: &'a str,
    pub tags: &'a [String],
}

#[derive(Clone, Copy)]
struct Posting {
    unit: u32,
    weight: f32,
}

#[derive(Clone, Copy)]
struct Unit {
    entry: u32,
    is_phrasing: bool,
}

pub struct LanguageIndex {
    analyzer: Analyzer,
    entries: Vec<IndexedEntry>,
    units: Vec<Unit>,
    /// Sorted, so a term's id is its position.
    terms: Vec<Box<str>>,
    idf: Vec<f32>,
    /// `postings[postings_start[t]..postings_start[t + 1]]` are term `t`'s.
    postings_start: Vec<u32>,
    postings: Vec<Posting>,
    /// For each term, the hash of the term and of each of its one-letter deletions, sorted: two
    /// words one edit apart share one (symmetric deletion), so a misspelling finds its term.
    deletions: Vec<(u32, u32)>,
    unknown_idf: f32,
}

/// An entry and how well it matches, best first.
#[derive(Clone, Copy, Debug)]
pub struct Scored<'i> {
    pub entry: &'i IndexedEntry,
    pub score: f32,
}

impl LanguageIndex {
    pub fn build<'a>(language_code: &str, entries: impl IntoIterator<Item = EntryText<'a>>) -> Self {
        let analyzer = Analyzer::new(language_code);
        let mut indexed = Vec::new();
        // Each unit's terms, and which entry and kind it is.
        let mut unit_terms: Vec<Vec<String>> = Vec::new();
        let mut units = Vec::new();
        for (position, entry) in entries.into_iter().enumerate() {
            let entry_slot = u32::try_from(position).unwrap_or(u32::MAX);
            for phrasing in std::iter::once(entry.question).chain(entry.variants.iter().map(String::as_str)) {
                unit_terms.push(analyzer.terms(phrasing));
                units.push(Unit { entry: entry_slot, is_phrasing: true });
            }
            let mut body = analyzer.terms(entry.answer);
            for tag in entry.tags {
                body.extend(analyzer.terms(tag));
            }
            unit_terms.push(body);
            units.push(Unit { entry: entry_slot, is_phrasing: false });
            indexed.push(IndexedEntry {
                id: entry.id,
                question: entry.question.to_owned(),
                answer: entry.answer.to_owned(),
            });
        }

        let mut terms: Vec<Box<str>> = unit_terms.iter().flatten().map(|term| term.as_str().into()).collect();
        terms.sort_unstable();
        terms.dedup();
        let id_of = |term: &str| terms.binary_search_by(|probe| (**probe).cmp(term)).ok();

        // Document frequency over entries, not units: an entry with five variants saying
        // "password" makes the word no more common than one saying it once.
        let mut entry_frequency = vec![0u32; terms.len()];
        let mut last_entry_seen = vec![u32::MAX; terms.len()];
        let mut unit_vectors: Vec<Vec<(u32, f32)>> = Vec::with_capacity(unit_terms.len());
        for (unit, words) in units.iter().zip(&unit_terms) {
            let mut counts: Vec<(u32, f32)> = Vec::new();
            for word in words {
                let Some(id) = id_of(word).and_then(|id| u32::try_from(id).ok()) else { continue };
                match counts.iter_mut().find(|(term, _)| *term == id) {
                    Some((_, count)) => *count += 1.0,
                    None => counts.push((id, 1.0)),
                }
                let slot = id as usize;
                if last_entry_seen[slot] != unit.entry {
                    last_entry_seen[slot] = unit.entry;
                    entry_frequency[slot] += 1;
                }
            }
            unit_vectors.push(counts);
        }
        let entry_count = indexed.len() as f32;
        let idf: Vec<f32> =
            entry_frequency.iter().map(|&frequency| ((entry_count + 1.0) / (frequency as f32 + 0.5)).ln()).collect();
        let unknown_idf = UNKNOWN_WORD_WEIGHT * ((entry_count + 1.0) / 0.5).ln();

        let mut per_term: Vec<Vec<Posting>> = vec![Vec::new(); terms.len()];
        for (unit, vector) in unit_vectors.iter_mut().enumerate() {
            for (term, weight) in vector.iter_mut() {
                *weight = (1.0 + weight.ln()) * idf[*term as usize];
            }
            let norm = vector.iter().map(|(_, weight)| weight * weight).sum::<f32>().sqrt();
            if norm == 0.0 {
                continue;
            }
            for (term, weight) in vector.iter() {
                let unit = u32::try_from(unit).unwrap_or(u32::MAX);
                per_term[*term as usize].push(Posting { unit, weight: weight / norm });
            }
        }
        let mut postings_start = Vec::with_capacity(terms.len() + 1);
        let mut postings = Vec::new();
        for list in per_term {
            postings_start.push(u32::try_from(postings.len()).unwrap_or(u32::MAX));
            postings.extend(list);
        }
        postings_start.push(u32::try_from(postings.len()).unwrap_or(u32::MAX));

        let mut deletions = Vec::new();
        for (id, term) in terms.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            if term.chars().count() >= MIN_CORRECTED_LENGTH {
                deletions.extend(neighbourhood(term).map(|hash| (hash, id)));
            }
        }
        deletions.sort_unstable();
        deletions.dedup();

        Self { analyzer, entries: indexed, units, terms, idf, postings_start, postings, deletions, unknown_idf }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `limit` best entries for `text`, best first, with a score in 0..1.
    pub fn search(&self, text: &str, limit: usize) -> Vec<Scored<'_>> {
        let mut query: Vec<(u32, f32)> = Vec::new();
        let mut unknown_weight_squared = 0.0f32;
        for word in self.analyzer.terms(text) {
            match self.term_id(&word) {
                Some(id) => add(&mut query, id, 1.0),
                None => match self.correction(&word) {
                    Some(id) => add(&mut query, id, MISSPELT_WORD_WEIGHT),
                    None => unknown_weight_squared += self.unknown_idf * self.unknown_idf,
                },
            }
        }
        for (term, weight) in &mut query {
            *weight *= self.idf[*term as usize];
        }
        let norm = (query.iter().map(|(_, weight)| weight * weight).sum::<f32>() + unknown_weight_squared).sqrt();
        if query.is_empty() || norm == 0.0 {
            return Vec::new();
        }

        let mut cosines = vec![0.0f32; self.units.len()];
        for (term, weight) in &query {
            let start = self.postings_start[*term as usize] as usize;
            let end = self.postings_start[*term as usize + 1] as usize;
            for posting in &self.postings[start..end] {
                cosines[posting.unit as usize] += weight / norm * posting.weight;
            }
        }
        // Per entry, its best phrasing and its body.
        let mut best: Vec<(f32, f32)> = vec![(0.0, 0.0); self.entries.len()];
        for (unit, cosine) in self.units.iter().zip(cosines) {
            let (phrasing, body) = &mut best[unit.entry as usize];
            if unit.is_phrasing {
                *phrasing = phrasing.max(cosine);
            } else {
                *body = cosine;
            }
        }
        let mut scored: Vec<Scored<'_>> = best
            .into_iter()
            .zip(&self.entries)
            .map(|((phrasing, body), entry)| Scored {
                entry,
                score: (PHRASING_WEIGHT * phrasing + (1.0 - PHRASING_WEIGHT) * body).clamp(0.0, 1.0),
            })
            .filter(|scored| scored.score > 0.0)
            .collect();
        scored.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.entry.id.cmp(&b.entry.id)));
        scored.truncate(limit);
        scored
    }

    fn term_id(&self, word: &str) -> Option<u32> {
        let position = self.terms.binary_search_by(|probe| (**probe).cmp(word)).ok()?;
        u32::try_from(position).ok()
    }

    /// The known term one edit away from `word`, the most specific (highest idf) if several.
    fn correction(&self, word: &str) -> Option<u32> {
        if word.chars().count() < MIN_CORRECTED_LENGTH {
            return None;
        }
        let mut found: Option<u32> = None;
        for hash in neighbourhood(word) {
            let start = self.deletions.partition_point(|(probe, _)| *probe < hash);
            for &(_, id) in self.deletions[start..].iter().take_while(|(probe, _)| *probe == hash) {
                let better = found.is_none_or(|best| self.idf[id as usize] > self.idf[best as usize]);
                if better && one_edit_apart(word, &self.terms[id as usize]) {
                    found = Some(id);
                }
            }
        }
        found
    }
}

fn add(query: &mut Vec<(u32, f32)>, term: u32, weight: f32) {
    match query.iter_mut().find(|(id, _)| *id == term) {
        Some((_, total)) => *total += weight,
        None => query.push((term, weight)),
    }
}

/// Hashes of `word` and of each word made by deleting one of its letters.
fn neighbourhood(word: &str) -> impl Iterator<Item = u32> + '_ {
    let boundaries: Vec<usize> = word.char_indices().map(|(at, _)| at).collect();
    let deletions = boundaries.clone().into_iter().enumerate().map(move |(index, at)| {
        let next = boundaries.get(index + 1).copied().unwrap_or(word.len());
        hash_parts(&word[..at], &word[next..])
    });
    std::iter::once(hash_parts(word, "")).chain(deletions)
}

/// FNV-1a over the two parts as one string.
fn hash_parts(head: &str, tail: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in head.bytes().chain(tail.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// One letter inserted, deleted or substituted, or two neighbours swapped.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (rest_a, rest_b) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    match (rest_a, rest_b) {
        (0, 0) => false,
        (1, 0) | (0, 1) | (1, 1) => true,
        (2, 2) => a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(question: &'a str, variants: &'a [String], answer: &'a str) -> EntryText<'a> {
        EntryText { id: Uuid::now_v7(), question, variants, answer, tags: &[] }
    }

    fn index(language: &str, entries: &[(&str, &str)]) -> LanguageIndex {
        LanguageIndex::build(language, entries.iter().map(|(question, answer)| entry(question, &[], answer)))
    }

    #[test]
    fn the_entry_sharing_the_rarest_words_ranks_first() {
        let index = index(
            "en",
            &[
                ("How do I reset my password?", "Use the link on the sign-in page."),
                ("How long does delivery take?", "Two to three working days."),
                ("Can I return a product?", "Within 30 days, in its box."),
            ],
        );
        let ranked = index.search("I forgot my password", 3);
        assert_eq!(ranked[0].entry.question, "How do I reset my password?");
        assert!(ranked[0].score > 0.2 && ranked[0].score <= 1.0, "{}", ranked[0].score);
        assert_eq!(index.search("delivery", 1)[0].entry.question, "How long does delivery take?");
    }

    #[test]
    fn the_question_itself_scores_higher_than_a_question_about_something_else_sharing_one_word() {
        let index = index(
            "fr",
            &[("Quel est le délai de livraison ?", "Deux à trois jours ouvrés."), ("Comment payer ?", "Par carte.")],
        );
        let exact = index.search("Quel est le délai de livraison ?", 1)[0].score;
        let pizza = index.search("livraison de pizza à Rome ce soir", 1)[0].score;
        // The phrasing's whole share, though the answer says none of the question's words.
        assert!(exact > PHRASING_WEIGHT - 0.01, "{exact}");
        assert!(pizza < crate::domain::matching::DEFAULT_THRESHOLD, "{pizza}");
        assert!(exact > pizza + 0.3, "{exact} {pizza}");
    }

    #[test]
    fn a_misspelt_word_finds_its_term() {
        let index = index("fr", &[("Délai de livraison", "Trois jours."), ("Mot de passe oublié", "Le lien.")]);
        assert_eq!(index.search("delai livrasion", 1)[0].entry.question, "Délai de livraison");
        let english = self::index("en", &[("Reset my password", "The link."), ("Delivery time", "Three days.")]);
        assert_eq!(english.search("pasword forgoten", 1)[0].entry.question, "Reset my password");
    }

    #[test]
    fn a_variant_matches_as_well_as_the_question() {
        let variants = ["my screen stays black".to_owned()];
        let index = LanguageIndex::build(
            "en",
            [entry("The monitor shows no picture", &variants, "Check the cable."), entry("Delivery", &[], "Soon.")],
        );
        let ranked = index.search("screen stays black", 1);
        assert_eq!(ranked[0].entry.question, "The monitor shows no picture");
        // The phrasing's whole share: the variant matches as the question would.
        assert!(ranked[0].score > PHRASING_WEIGHT - 0.01, "{}", ranked[0].score);
    }

    #[test]
    fn nothing_matches_a_question_of_stop_words_or_an_empty_index() {
        let index = index("en", &[("Delivery time", "Three days.")]);
        assert!(index.search("how do I do it", 5).is_empty());
        assert!(LanguageIndex::build("en", []).search("delivery", 5).is_empty());
    }

    #[test]
    fn one_edit_apart_counts_swaps_but_not_two_changes() {
        assert!(one_edit_apart("livraison", "livrasion"));
        assert!(one_edit_apart("password", "pasword"));
        assert!(one_edit_apart("colour", "color"));
        assert!(!one_edit_apart("password", "passport"));
        assert!(!one_edit_apart("same", "same"));
    }
}
