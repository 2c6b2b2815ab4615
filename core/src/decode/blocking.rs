//! N-gram blocking rules on token ids (ParlAI `TreeSearch._block_ngrams`).
//!
//! A hypothesis (which starts with the start token, as in ParlAI) may not produce a token that
//! would complete an n-gram it already contains (`block_ngram`), or an n-gram of the context
//! (`context_block_ngram`).

use std::collections::{HashMap, HashSet};

/// The tokens that may not follow the last `n - 1` tokens of `hyp`, because together they
/// would repeat an n-gram of `source`.
pub fn blocked_next_tokens(hyp: &[u32], source: &[u32], n: usize) -> HashSet<u32> {
    let mut out = HashSet::new();
    if n == 0 || hyp.len() + 1 < n {
        return out;
    }
    let prefix = &hyp[hyp.len() + 1 - n..];
    if source.len() < n {
        return out;
    }
    for gram in source.windows(n) {
        if gram[..n - 1] == *prefix {
            out.insert(gram[n - 1]);
        }
    }
    out
}

/// The n-grams of a fixed source indexed by their (n-1)-prefix, for repeated look-ups (the
/// context does not change during a search).
#[derive(Debug, Clone, Default)]
pub struct NgramIndex {
    n: usize,
    next: HashMap<Vec<u32>, Vec<u32>>,
}

impl NgramIndex {
    /// Indexes the n-grams of `source`.
    pub fn new(source: &[u32], n: usize) -> Self {
        let mut next: HashMap<Vec<u32>, Vec<u32>> = HashMap::new();
        if n > 0 && source.len() >= n {
            for gram in source.windows(n) {
                next.entry(gram[..n - 1].to_vec()).or_default().push(gram[n - 1]);
            }
        }
        Self { n, next }
    }

    /// Tokens that would complete one of the indexed n-grams after `hyp`.
    pub fn blocked(&self, hyp: &[u32]) -> &[u32] {
        if self.n == 0 || hyp.len() + 1 < self.n {
            return &[];
        }
        self.next.get(&hyp[hyp.len() + 1 - self.n..]).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_completions_of_seen_ngrams() {
        // hyp: 1 5 6 7 5 6 -> the 3-gram (5,6,7) exists, so 7 may not follow (5,6)
        let hyp = [1, 5, 6, 7, 5, 6];
        assert_eq!(blocked_next_tokens(&hyp, &hyp, 3), HashSet::from([7]));
        assert!(blocked_next_tokens(&hyp[..2], &hyp[..2], 3).is_empty());
        assert_eq!(blocked_next_tokens(&hyp[..2], &hyp, 3), HashSet::from([6]));
        let ctx = [9, 5, 6, 8, 2];
        let idx = NgramIndex::new(&ctx, 3);
        assert_eq!(idx.blocked(&hyp), &[8]);
        assert_eq!(blocked_next_tokens(&[1, 9], &ctx, 2), HashSet::from([5]));
        assert_eq!(blocked_next_tokens(&[1], &[4, 4, 3], 1), HashSet::from([4, 3]));
    }
}
