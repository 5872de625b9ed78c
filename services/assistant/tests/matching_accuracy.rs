//! The matching engine's accuracy on a labelled set (`tests/fixtures/{fr,en}.json`): two FAQs
//! of some sixty entries each, one French (a shop), one English (a telecoms provider), held by one
//! bilingual project; paraphrases a visitor would type, varied in vocabulary, word order,
//! register and spelling, each naming the entry that answers it, the hard ones (sharing almost no
//! word with the entry) flagged; and questions no entry answers.
//!
//! It reports, for the language given by the session and for the language detected:
//! - top-1: the expected entry ranks first;
//! - answered: the reply is that entry (above the threshold, with the margin), not a fallback;
//! - fallback on out-of-domain questions.
//!
//! `cargo nextest run -p causerie-assistant --test matching_accuracy --no-capture` prints the
//! report; `MATCHING_MISSES=1` lists each miss.

use std::collections::HashMap;

use causerie_assistant::matching::{DEFAULT_THRESHOLD, EntryText, ProjectIndex, Verdict};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Fixture {
    entries: Vec<FixtureEntry>,
    paraphrases: Vec<Paraphrase>,
    out_of_domain: Vec<OutOfDomain>,
}

#[derive(Deserialize)]
struct FixtureEntry {
    key: String,
    question: String,
    variants: Vec<String>,
    answer: String,
    language: String,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Paraphrase {
    text: String,
    expected: String,
    hard: bool,
}

#[derive(Deserialize)]
struct OutOfDomain {
    text: String,
    near: bool,
}

struct Labelled {
    language: &'static str,
    fixture: Fixture,
}

fn fixtures() -> anyhow::Result<Vec<Labelled>> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    ["fr", "en"]
        .into_iter()
        .map(|language| {
            let text = std::fs::read_to_string(folder.join(format!("{language}.json")))?;
            Ok(Labelled { language, fixture: serde_json::from_str(&text)? })
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    asked: usize,
    top_one: usize,
    answered: usize,
}

impl Tally {
    fn rate(part: usize, whole: usize) -> f64 {
        if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
    }

    fn top_one_rate(&self) -> f64 {
        Self::rate(self.top_one, self.asked)
    }

    fn answered_rate(&self) -> f64 {
        Self::rate(self.answered, self.asked)
    }
}

#[test]
fn the_labelled_paraphrases_find_their_entry_and_out_of_domain_questions_fall_back() -> anyhow::Result<()> {
    let labelled = fixtures()?;
    let mut ids: HashMap<&str, Uuid> = HashMap::new();
    let mut texts = Vec::new();
    for set in &labelled {
        anyhow::ensure!(set.fixture.entries.len() >= 50, "{}: too few entries", set.language);
        for entry in &set.fixture.entries {
            anyhow::ensure!(entry.language == set.language, "{} is not in {}", entry.key, set.language);
            let id = Uuid::now_v7();
            anyhow::ensure!(ids.insert(&entry.key, id).is_none(), "{} twice", entry.key);
            texts.push((
                entry.language.as_str(),
                EntryText {
                    id,
                    question: &entry.question,
                    variants: &entry.variants,
                    answer: &entry.answer,
                    tags: &entry.tags,
                },
            ));
        }
    }
    let project = ProjectIndex::build(texts);
    let list_misses = std::env::var_os("MATCHING_MISSES").is_some();

    // (session language given, hard) -> tally
    let mut tallies: HashMap<(bool, bool), Tally> = HashMap::new();
    let mut out_of_domain = [(0usize, 0usize); 2]; // [near as index] -> (asked, fell back)
    for set in &labelled {
        for paraphrase in &set.fixture.paraphrases {
            let expected = *ids
                .get(paraphrase.expected.as_str())
                .ok_or_else(|| anyhow::anyhow!("{} names no entry", paraphrase.expected))?;
            for session_language in [true, false] {
                let language = session_language.then_some(set.language);
                let ranking = project.rank(&paraphrase.text, language, 3);
                let top_one = ranking.matches.first().is_some_and(|best| best.entry.id == expected);
                let answered = matches!(ranking.verdict(DEFAULT_THRESHOLD),
                    Verdict::Answer { entry, .. } if entry.id == expected);
                let tally = tallies.entry((session_language, paraphrase.hard)).or_default();
                tally.asked += 1;
                tally.top_one += usize::from(top_one);
                tally.answered += usize::from(answered);
                if list_misses && session_language && !answered {
                    let best = ranking.matches.first().map(|best| (best.entry.question.as_str(), best.score));
                    println!(
                        "miss{} [{}] {:?} -> {:?} (expected {})",
                        if paraphrase.hard { " hard" } else { "" },
                        set.language,
                        paraphrase.text,
                        best,
                        paraphrase.expected
                    );
                }
            }
        }
        for question in &set.fixture.out_of_domain {
            let ranking = project.rank(&question.text, Some(set.language), 3);
            let fell_back = matches!(ranking.verdict(DEFAULT_THRESHOLD), Verdict::Fallback { .. });
            let counted = &mut out_of_domain[usize::from(question.near)];
            counted.0 += 1;
            counted.1 += usize::from(fell_back);
            if list_misses && !fell_back {
                let best = ranking.matches.first().map(|best| (best.entry.question.as_str(), best.score));
                println!("answered out of domain [{}] {:?} -> {:?}", set.language, question.text, best);
            }
        }
    }

    let combined = |session_language: bool| {
        let mut all = Tally::default();
        for hard in [false, true] {
            if let Some(tally) = tallies.get(&(session_language, hard)) {
                all.asked += tally.asked;
                all.top_one += tally.top_one;
                all.answered += tally.answered;
            }
        }
        all
    };
    println!("matching accuracy, threshold {DEFAULT_THRESHOLD}:");
    for session_language in [true, false] {
        let label = if session_language { "language from the session" } else { "language detected" };
        let all = combined(session_language);
        println!(
            "  {label}: {} paraphrases, top-1 {:.3}, answered {:.3}",
            all.asked,
            all.top_one_rate(),
            all.answered_rate()
        );
        for hard in [false, true] {
            if let Some(tally) = tallies.get(&(session_language, hard)) {
                println!(
                    "    {:<8} {:>3}: top-1 {:.3}, answered {:.3}",
                    if hard { "hard" } else { "ordinary" },
                    tally.asked,
                    tally.top_one_rate(),
                    tally.answered_rate()
                );
            }
        }
    }
    let [far, near] = out_of_domain;
    let fallback_rate = Tally::rate(far.1 + near.1, far.0 + near.0);
    println!(
        "  out of domain: {} questions, fallback {:.3} (off-topic {:.3}, near the domain {:.3})",
        far.0 + near.0,
        fallback_rate,
        Tally::rate(far.1, far.0),
        Tally::rate(near.1, near.0)
    );

    // What other thresholds would do: right answers, wrong answers (an answer with another
    // entry: worse than a fallback) and out-of-domain fallbacks, language from the session.
    println!("  threshold sweep (language from the session): threshold, right, wrong, out-of-domain fallback");
    for step in 4..=12 {
        let threshold = step as f32 * 0.05;
        let (mut right, mut wrong, mut asked) = (0usize, 0usize, 0usize);
        let (mut fell_back, mut outside) = (0usize, 0usize);
        for set in &labelled {
            for paraphrase in &set.fixture.paraphrases {
                let expected = ids.get(paraphrase.expected.as_str()).copied();
                asked += 1;
                match project.rank(&paraphrase.text, Some(set.language), 3).verdict(threshold) {
                    Verdict::Answer { entry, .. } if Some(entry.id) == expected => right += 1,
                    Verdict::Answer { .. } => wrong += 1,
                    Verdict::Fallback { .. } => {}
                }
            }
            for question in &set.fixture.out_of_domain {
                outside += 1;
                let verdict = project.rank(&question.text, Some(set.language), 3).verdict(threshold);
                fell_back += usize::from(matches!(verdict, Verdict::Fallback { .. }));
            }
        }
        println!(
            "    {threshold:.2}  {:.3}  {:.3}  {:.3}",
            Tally::rate(right, asked),
            Tally::rate(wrong, asked),
            Tally::rate(fell_back, outside)
        );
    }

    // Floors a little under what the engine measures today (the issue note has the figures), so
    // that a change to analysis or scoring that loses accuracy fails here.
    let ordinary = tallies.get(&(true, false)).map_or(0.0, Tally::top_one_rate);
    let all = combined(true);
    anyhow::ensure!(ordinary >= ORDINARY_TOP_ONE_FLOOR, "top-1 on ordinary paraphrases fell to {ordinary:.3}");
    anyhow::ensure!(all.top_one_rate() >= ALL_TOP_ONE_FLOOR, "top-1 fell to {:.3}", all.top_one_rate());
    anyhow::ensure!(fallback_rate >= OUT_OF_DOMAIN_FALLBACK_FLOOR, "out-of-domain fallback fell to {fallback_rate:.3}");
    Ok(())
}

/// Measured 0.739 (2026-12-08).
const ORDINARY_TOP_ONE_FLOOR: f64 = 0.70;
/// Measured 0.530, the hard paraphrases included: a word-based engine cannot find those.
const ALL_TOP_ONE_FLOOR: f64 = 0.50;
/// Measured 0.929 at the default threshold.
const OUT_OF_DOMAIN_FALLBACK_FLOOR: f64 = 0.90;
