//! Text metrics: ParlAI's unigram F1 between a generation and reference responses, and the
//! distinct-n diversity of a set of generations (a model that says one stock phrase to every
//! context scores well on safety and shows up here).

use std::collections::{HashMap, HashSet};

/// ParlAI's `normalize_answer`: lowercase, drop punctuation and the articles a/an/the,
/// collapse whitespace.
pub fn normalize_answer(s: &str) -> Vec<String> {
    let lower = s.to_lowercase();
    let no_punct: String =
        lower.chars().map(|c| if c.is_ascii_punctuation() { ' ' } else { c }).collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_string)
        .collect()
}

/// Unigram F1 of `guess` against the best-matching of `answers` (ParlAI `F1Metric`); 0 when
/// there is no answer or either side is empty after normalisation.
pub fn f1_score(guess: &str, answers: &[&str]) -> f64 {
    let g = normalize_answer(guess);
    answers.iter().map(|a| f1_tokens(&g, &normalize_answer(a))).fold(0.0, f64::max)
}

fn f1_tokens(guess: &[String], answer: &[String]) -> f64 {
    if guess.is_empty() || answer.is_empty() {
        return 0.0;
    }
    let mut counts: HashMap<&str, isize> = HashMap::new();
    for w in answer {
        *counts.entry(w).or_default() += 1;
    }
    let mut same = 0;
    for w in guess {
        if let Some(c) = counts.get_mut(w.as_str())
            && *c > 0
        {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let p = same as f64 / guess.len() as f64;
    let r = same as f64 / answer.len() as f64;
    2.0 * p * r / (p + r)
}

/// Distinct-n (Li et al. 2016): the number of distinct word n-grams over all `texts` divided
/// by the number of n-grams, n-grams taken within each text; words are the lowercased
/// whitespace-separated tokens. 0 when no text has n words.
pub fn distinct_n<S: AsRef<str>>(texts: &[S], n: usize) -> f64 {
    let n = n.max(1);
    let (mut seen, mut total) = (HashSet::new(), 0usize);
    for t in texts {
        let words: Vec<String> = t.as_ref().split_whitespace().map(str::to_lowercase).collect();
        for gram in words.windows(n) {
            seen.insert(gram.to_vec());
            total += 1;
        }
    }
    if total == 0 { 0.0 } else { seen.len() as f64 / total as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_matches_hand_computed_cases() {
        assert_eq!(f1_score("The cat sat.", &["a cat sat"]), 1.0);
        // guess: [i, like, dogs]; answer: [i, like, cats, too]; same = 2 -> p = 2/3, r = 1/2
        let f = f1_score("I like dogs", &["i like cats, too"]);
        assert!((f - 2.0 * (2.0 / 3.0) * 0.5 / (2.0 / 3.0 + 0.5)).abs() < 1e-12);
        assert_eq!(f1_score("hello", &[]), 0.0);
        assert_eq!(f1_score("", &["x"]), 0.0);
        assert_eq!(f1_score("x y", &["z", "y x"]), 1.0);
    }

    #[test]
    fn distinct_n_counts_unique_ngrams_over_all_generations() {
        // unigrams: i like cats / i like dogs -> {i, like, cats, dogs} of 6
        let texts = ["I like cats", "i like dogs"];
        assert!((distinct_n(&texts, 1) - 4.0 / 6.0).abs() < 1e-12);
        // bigrams: (i like) twice, (like cats), (like dogs) -> 3 of 4
        assert!((distinct_n(&texts, 2) - 0.75).abs() < 1e-12);
        // one stock phrase everywhere: diversity falls with the number of replies
        let stock = ["That's true!"; 10];
        assert!((distinct_n(&stock, 2) - 0.1).abs() < 1e-12);
        assert_eq!(distinct_n(&["one"], 2), 0.0, "no bigram at all");
        assert_eq!(distinct_n::<&str>(&[], 1), 0.0);
    }
}
