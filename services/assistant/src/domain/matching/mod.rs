//! Matching a visitor's question to a project's entries: each project has an index per language
//! of its entries, held in memory and replaced whole when an entry changes (here, or on another
//! replica: a broadcast event, `events.rs`). No project's words weigh in
//! another's scores.

pub mod analysis;
pub mod index;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use causerie_core::ProjectId;

pub use index::{EntryText, IndexedEntry, LanguageIndex, Scored};

/// An answer needs at least this score, when the project sets no threshold of its own.
pub const DEFAULT_THRESHOLD: f32 = 0.30;
/// ...and this lead over the next entry, or the visitor is asked to choose.
pub const MARGIN: f32 = 0.04;
/// Suggestions offered with a fallback, at most.
pub const SUGGESTIONS: usize = 3;
/// A suggestion scores at least this: below it, an entry is no help.
const SUGGESTION_FLOOR: f32 = 0.15;

/// One project's indexes, one per language its entries are written in.
pub struct ProjectIndex {
    languages: Vec<(String, LanguageIndex)>,
}

/// What the project's entries say to a question.
#[derive(Debug)]
pub enum Verdict<'i> {
    Answer { entry: &'i IndexedEntry, confidence: f32 },
    Fallback { confidence: f32, suggestions: Vec<&'i IndexedEntry> },
}

/// The entries ranked for a question, in the language it was taken to be in.
pub struct Ranking<'i> {
    pub language: Option<String>,
    pub matches: Vec<Scored<'i>>,
}

impl ProjectIndex {
    /// `entries` with their language code.
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a str, EntryText<'a>)>) -> Self {
        let mut by_language: Vec<(String, Vec<EntryText<'a>>)> = Vec::new();
        for (language, entry) in entries {
            match by_language.iter_mut().find(|(code, _)| code == language) {
                Some((_, texts)) => texts.push(entry),
                None => by_language.push((language.to_owned(), vec![entry])),
            }
        }
        let languages =
            by_language.into_iter().map(|(code, texts)| (code.clone(), LanguageIndex::build(&code, texts))).collect();
        Self { languages }
    }

    pub fn empty() -> Self {
        Self { languages: Vec::new() }
    }

    /// The entries best matching `text`: in `language` when the project has entries in it,
    /// otherwise in the language the text looks written in, otherwise in the project's first.
    pub fn rank(&self, text: &str, language: Option<&str>, limit: usize) -> Ranking<'_> {
        let codes: Vec<&str> = self.languages.iter().map(|(code, _)| code.as_str()).collect();
        let chosen = language
            .filter(|language| codes.contains(language))
            .or_else(|| analysis::detect_language(text, &codes))
            .or_else(|| codes.first().copied());
        let Some(chosen) = chosen else {
            return Ranking { language: language.map(str::to_owned), matches: Vec::new() };
        };
        let matches = self
            .languages
            .iter()
            .find(|(code, _)| code == chosen)
            .map(|(_, index)| index.search(text, limit))
            .unwrap_or_default();
        Ranking { language: Some(chosen.to_owned()), matches }
    }
}

impl<'i> Ranking<'i> {
    /// An answer when the best entry clears `threshold` and leads the next by the margin;
    /// otherwise a fallback offering the likeliest entries.
    pub fn verdict(&self, threshold: f32) -> Verdict<'i> {
        let confidence = self.matches.first().map_or(0.0, |best| best.score);
        let runner_up = self.matches.get(1).map_or(0.0, |next| next.score);
        match self.matches.first() {
            Some(best) if best.score >= threshold && best.score - runner_up >= MARGIN => {
                Verdict::Answer { entry: best.entry, confidence }
            }
            _ => Verdict::Fallback {
                confidence,
                suggestions: self
                    .matches
                    .iter()
                    .filter(|scored| scored.score >= SUGGESTION_FLOOR)
                    .take(SUGGESTIONS)
                    .map(|scored| scored.entry)
                    .collect(),
            },
        }
    }
}

/// Every project's index on this replica. Each is tagged with when its entries were read
/// (`Reading`), so an index read before another is never put in its place: a full rebuild that
/// started before an edit cannot undo the edit's own rebuild.
#[derive(Clone, Default)]
pub struct KnowledgeIndex {
    projects: Arc<RwLock<HashMap<ProjectId, Held>>>,
    readings: Arc<AtomicU64>,
}

/// A project's index and when its entries were read.
type Held = (Reading, Arc<ProjectIndex>);

/// When entries were read, in the order of reads on this replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reading(u64);

impl KnowledgeIndex {
    /// Call before reading entries, and hand the answer to `replace`.
    pub fn reading(&self) -> Reading {
        Reading(self.readings.fetch_add(1, Ordering::SeqCst))
    }

    /// The project's index; an empty one for a project with no entries.
    pub fn project(&self, project_id: ProjectId) -> Arc<ProjectIndex> {
        let projects = self.projects.read().unwrap_or_else(PoisonError::into_inner);
        projects.get(&project_id).map_or_else(|| Arc::new(ProjectIndex::empty()), |(_, index)| Arc::clone(index))
    }

    /// Puts `index` (`None`: the project has no entries) in place, unless what is there was read later.
    pub fn replace(&self, project_id: ProjectId, index: Option<ProjectIndex>, read: Reading) {
        let mut projects = self.projects.write().unwrap_or_else(PoisonError::into_inner);
        if projects.get(&project_id).is_some_and(|(held, _)| *held > read) {
            return;
        }
        match index {
            Some(index) => projects.insert(project_id, (read, Arc::new(index))),
            None => projects.remove(&project_id),
        };
    }

    /// Every project's index, read at `read`: projects absent from `indexes` have no entries.
    pub fn replace_all(&self, indexes: HashMap<ProjectId, ProjectIndex>, read: Reading) {
        let mut projects = self.projects.write().unwrap_or_else(PoisonError::into_inner);
        projects.retain(|project_id, (held, _)| *held > read || indexes.contains_key(project_id));
        for (project_id, index) in indexes {
            if projects.get(&project_id).is_none_or(|(held, _)| *held <= read) {
                projects.insert(project_id, (read, Arc::new(index)));
            }
        }
    }

    pub fn project_count(&self) -> usize {
        self.projects.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn text<'a>(question: &'a str, answer: &'a str) -> EntryText<'a> {
        EntryText { id: Uuid::now_v7(), question, variants: &[], answer, tags: &[] }
    }

    fn bilingual() -> ProjectIndex {
        ProjectIndex::build([
            ("fr", text("Quel est le délai de livraison ?", "Deux à trois jours ouvrés.")),
            ("fr", text("Comment retourner un produit ?", "Sous trente jours.")),
            ("en", text("How long does delivery take?", "Two to three working days.")),
            ("en", text("How do I return a product?", "Within thirty days.")),
        ])
    }

    #[test]
    fn a_question_is_matched_in_the_language_it_is_written_in() {
        let project = bilingual();
        let french = project.rank("Je voudrais retourner mon produit", None, 3);
        assert_eq!(french.language.as_deref(), Some("fr"));
        assert_eq!(french.matches[0].entry.question, "Comment retourner un produit ?");
        let english = project.rank("when will my delivery arrive", None, 3);
        assert_eq!(english.language.as_deref(), Some("en"));
        assert_eq!(english.matches[0].entry.question, "How long does delivery take?");
        // The session's language wins over detection.
        assert_eq!(project.rank("produit", Some("en"), 3).language.as_deref(), Some("en"));
    }

    #[test]
    fn a_clear_best_is_an_answer_and_a_weak_or_tied_one_a_fallback_with_suggestions() {
        let project = bilingual();
        let ranking = project.rank("How long does delivery take?", Some("en"), 3);
        assert!(matches!(ranking.verdict(DEFAULT_THRESHOLD), Verdict::Answer { entry, .. }
            if entry.question == "How long does delivery take?"));

        let weak = project.rank("product delivery", Some("en"), 3);
        match weak.verdict(0.99) {
            Verdict::Fallback { suggestions, confidence } => {
                assert!(!suggestions.is_empty() && suggestions.len() <= SUGGESTIONS);
                assert!(confidence < 0.99);
            }
            other => panic!("expected a fallback, got {other:?}"),
        }
        let nothing = project.rank("weather in Paris tomorrow", Some("en"), 3);
        assert!(matches!(nothing.verdict(DEFAULT_THRESHOLD), Verdict::Fallback { .. }));
    }

    #[test]
    fn a_project_without_entries_falls_back_with_no_suggestion() {
        let empty = ProjectIndex::empty();
        let ranking = empty.rank("delivery", None, 3);
        assert!(
            matches!(ranking.verdict(DEFAULT_THRESHOLD), Verdict::Fallback { suggestions, .. } if suggestions.is_empty())
        );
    }
}
