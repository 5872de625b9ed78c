//! The matching engine in process, as the assistant issue measures it:
//!   1. one project of 10,000 entries: the latency of `rank` over many questions, p50 and p99
//!      (target p99 <= 0.5 ms), and the time to build the index (what an edit costs);
//!   2. 1,000 projects of 100 entries: the resident memory their indexes add (goal < 300 MiB).
//!
//! `cargo bench -p causerie-assistant --bench matching`. The entries are generated from a fixed
//! vocabulary with a fixed seed, with the lengths of real FAQ entries, so runs compare.

use std::time::Instant;

use causerie_assistant::matching::{EntryText, KnowledgeIndex, ProjectIndex};
use causerie_core::ProjectId;
use uuid::Uuid;

/// A small deterministic generator (xorshift), so the bench needs no dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap_or(1)).unwrap_or(0)
    }
}

/// Pronounceable words, a vocabulary of `size`; the first ones are drawn more often (Zipf-like).
fn vocabulary(size: usize) -> Vec<String> {
    let syllables = ["ka", "lo", "mi", "ter", "sa", "von", "ri", "del", "pa", "nu", "qui", "zo", "be", "tra", "lin"];
    (0..size)
        .map(|mut n| {
            let mut word = String::new();
            for _ in 0..3 {
                word.push_str(syllables[n % syllables.len()]);
                n /= syllables.len();
            }
            word
        })
        .collect()
}

fn sentence(random: &mut Random, words: &[String], length: usize) -> String {
    (0..length)
        .map(|_| {
            // Squaring a uniform draw favours the first words, as real text favours common ones.
            let uniform = random.below(words.len());
            words[uniform * uniform / words.len()].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Generated {
    id: Uuid,
    question: String,
    variants: Vec<String>,
    answer: String,
}

fn entries(random: &mut Random, words: &[String], count: usize) -> Vec<Generated> {
    (0..count)
        .map(|_| {
            let question_length = 4 + random.below(6);
            let question = sentence(random, words, question_length);
            let variants = (0..random.below(3))
                .map(|_| {
                    let length = 3 + random.below(5);
                    sentence(random, words, length)
                })
                .collect();
            let answer_length = 15 + random.below(30);
            Generated { id: Uuid::now_v7(), question, variants, answer: sentence(random, words, answer_length) }
        })
        .collect()
}

fn index_of(entries: &[Generated]) -> ProjectIndex {
    ProjectIndex::build(entries.iter().map(|entry| {
        let text = EntryText {
            id: entry.id,
            question: &entry.question,
            variants: &entry.variants,
            answer: &entry.answer,
            tags: &[],
        };
        ("en", text)
    }))
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|pages| pages.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    let position = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted.get(position).copied().unwrap_or(f64::NAN)
}

fn main() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let words = vocabulary(3_000);

    let large = entries(&mut random, &words, 10_000);
    let started = Instant::now();
    let index = index_of(&large);
    let build = started.elapsed();
    // Questions as visitors ask them: a few words of an entry's question, mixed with others.
    let questions: Vec<String> = (0..20_000)
        .map(|_| {
            let entry = &large[random.below(large.len())];
            let mut question = entry.question.split(' ').take(3).collect::<Vec<_>>().join(" ");
            question.push(' ');
            question.push_str(&sentence(&mut random, &words, 2));
            question
        })
        .collect();
    for question in questions.iter().take(1_000) {
        std::hint::black_box(index.rank(question, Some("en"), 4));
    }
    let mut latencies: Vec<f64> = questions
        .iter()
        .map(|question| {
            let started = Instant::now();
            std::hint::black_box(index.rank(question, Some("en"), 4));
            started.elapsed().as_secs_f64() * 1_000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let p99 = percentile(&latencies, 0.99);
    println!("10,000 entries: index built in {:.1} ms", build.as_secs_f64() * 1_000.0);
    println!(
        "rank over {} questions: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms = {:.2}x the 0.5 ms target",
        latencies.len(),
        percentile(&latencies, 0.5),
        p99,
        latencies.last().copied().unwrap_or(f64::NAN),
        p99 / 0.5
    );
    drop(index);
    drop(large);

    let before = resident_bytes();
    let indexes = KnowledgeIndex::default();
    for _ in 0..1_000 {
        let project = entries(&mut random, &words, 100);
        indexes.replace(ProjectId::new(), Some(index_of(&project)), indexes.reading());
    }
    let added = resident_bytes().saturating_sub(before);
    println!(
        "1,000 projects of 100 entries: {} indexes, {:.1} MiB resident added (goal < 300 MiB)",
        indexes.project_count(),
        added as f64 / (1024.0 * 1024.0)
    );
}
