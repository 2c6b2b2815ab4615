//! Text metrics: ParlAI's unigram F1 between a generation and reference responses.

use std::collections::HashMap;

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
}
