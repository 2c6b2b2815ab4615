//! Tokenises examples and pads them into batches of token tensors with per-token labels.
//!
//! ParlAI conventions: the context gets an end token appended (`--history-add-global-end-token
//! end`) and is truncated from the left (the most recent turns are kept); the response gets an
//! end token and is truncated from the right. Both are also capped at the model's
//! `n_positions`.

use super::example::{Example, Label};
use crate::error::Result;
use crate::tokenizer::CringeTokenizer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Truncation lengths in tokens (ParlAI `--text-truncate`, `--label-truncate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruncationConfig {
    /// Keep at most this many context tokens (the last ones).
    pub text_truncate: usize,
    /// Keep at most this many response tokens (the first ones), end token included.
    pub label_truncate: usize,
}

impl TruncationConfig {
    /// What the batcher will clamp for a model of `n_positions` positions, as a warning for the
    /// user (`None` when both lengths fit): the model cannot embed longer sequences.
    pub fn clamp_warning(&self, n_positions: usize) -> Option<String> {
        let over: Vec<String> =
            [("--text-truncate", self.text_truncate), ("--label-truncate", self.label_truncate)]
                .into_iter()
                .filter(|(_, v)| *v > n_positions)
                .map(|(flag, v)| format!("{flag} {v}"))
                .collect();
        (!over.is_empty()).then(|| {
            format!(
                "{} exceed{} the model's {n_positions} positions; using {n_positions}",
                over.join(" and "),
                if over.len() == 1 { "s" } else { "" }
            )
        })
    }
}

/// One tokenised example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedExample {
    /// Context ids, ending with the end token.
    pub context: Vec<u32>,
    /// Response ids, ending with the end token unless truncated away.
    pub target: Vec<u32>,
    /// The example's label.
    pub label: Label,
    /// A preference pair's rejected response (ids, like `target`); `target` is the chosen one.
    pub rejected: Option<Vec<u32>>,
}

/// A padded batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[B,S]` context ids, right-padded.
    pub context: Tensor<2, Int>,
    /// `[B,T]` decoder inputs: start token followed by the targets shifted right.
    pub decoder_input: Tensor<2, Int>,
    /// `[B,T]` target ids, right-padded with the pad id.
    pub targets: Tensor<2, Int>,
    /// `[B,T]` the example label id broadcast over its tokens.
    pub labels: Tensor<2, Int>,
    /// Each row's context length (its real tokens come first).
    pub context_lengths: Vec<usize>,
    /// Each row's target length.
    pub target_lengths: Vec<usize>,
    /// (chosen row, rejected row) of each preference pair: a pair fills two rows, the rejected
    /// response right after the chosen one, labelled negative.
    pub pairs: Vec<(usize, usize)>,
}

impl Batch {
    /// Number of non-pad target tokens.
    pub fn target_tokens(&self) -> usize {
        self.target_lengths.iter().sum()
    }

    /// Number of non-pad context tokens.
    pub fn context_tokens(&self) -> usize {
        self.context_lengths.iter().sum()
    }
}

/// Turns examples into batches for one tokenizer and truncation setting.
#[derive(Debug, Clone)]
pub struct Batcher {
    tokenizer: CringeTokenizer,
    trunc: TruncationConfig,
}

impl Batcher {
    /// `n_positions` caps both truncation lengths (the model cannot embed longer sequences).
    pub fn new(tokenizer: CringeTokenizer, trunc: TruncationConfig, n_positions: usize) -> Self {
        let trunc = TruncationConfig {
            text_truncate: trunc.text_truncate.min(n_positions).max(1),
            label_truncate: trunc.label_truncate.min(n_positions).max(1),
        };
        Self { tokenizer, trunc }
    }

    /// The tokenizer in use.
    pub fn tokenizer(&self) -> &CringeTokenizer {
        &self.tokenizer
    }

    /// Tokenises a context the way [`Batcher::encode`] does (end token, left truncation).
    pub fn encode_context(&self, context: &str) -> Result<Vec<u32>> {
        let mut ids = self.tokenizer.encode(context)?;
        ids.push(self.tokenizer.special().end);
        let n = self.trunc.text_truncate;
        if ids.len() > n {
            ids.drain(..ids.len() - n);
        }
        Ok(ids)
    }

    /// The context tokens n-gram blocking looks at: with `full` (ParlAI's
    /// `--beam-block-full-context`, the default there) the whole untruncated history plus the
    /// end token, else the truncated model input.
    pub fn blocking_context(&self, context: &str, full: bool) -> Result<Vec<u32>> {
        if !full {
            return self.encode_context(context);
        }
        let mut ids = self.tokenizer.encode(context)?;
        ids.push(self.tokenizer.special().end);
        Ok(ids)
    }

    /// Tokenises one example.
    pub fn encode(&self, ex: &Example) -> Result<EncodedExample> {
        let rejected = ex.rejected.as_deref().map(|r| self.encode_response(r)).transpose()?;
        Ok(EncodedExample {
            context: self.encode_context(&ex.context)?,
            target: self.encode_response(&ex.response)?,
            label: ex.label,
            rejected,
        })
    }

    /// Tokenises a response: end token appended, right truncation.
    fn encode_response(&self, response: &str) -> Result<Vec<u32>> {
        let mut target = self.tokenizer.encode(response)?;
        target.push(self.tokenizer.special().end);
        target.truncate(self.trunc.label_truncate);
        Ok(target)
    }

    /// Pads encoded examples into a batch on `device`; a preference pair fills two rows.
    pub fn collate(&self, items: &[EncodedExample], device: &Device) -> Batch {
        let (rows, pairs) = batch_rows(items);
        let sp = self.tokenizer.special();
        let (pad, start) = (sp.pad as i64, sp.start as i64);
        let b = rows.len();
        let s = rows.iter().map(|r| r.0.len()).max().unwrap_or(1).max(1);
        let t = rows.iter().map(|r| r.1.len()).max().unwrap_or(1).max(1);
        let mut ctx = vec![pad; b * s];
        let mut dec = vec![pad; b * t];
        let mut tgt = vec![pad; b * t];
        let mut lab = vec![0i64; b * t];
        for (i, &(context, target, label)) in rows.iter().enumerate() {
            for (j, &id) in context.iter().enumerate() {
                ctx[i * s + j] = id as i64;
            }
            dec[i * t] = start;
            for (j, &id) in target.iter().enumerate() {
                tgt[i * t + j] = id as i64;
                if j + 1 < t {
                    dec[i * t + j + 1] = id as i64;
                }
            }
            lab[i * t..(i + 1) * t].fill(label.id());
        }
        let int = |v: Vec<i64>, cols: usize| {
            Tensor::<2, Int>::from_data(TensorData::new(v, [b, cols]), device)
        };
        Batch {
            context: int(ctx, s),
            decoder_input: int(dec, t),
            targets: int(tgt, t),
            labels: int(lab, t),
            context_lengths: rows.iter().map(|r| r.0.len()).collect(),
            target_lengths: rows.iter().map(|r| r.1.len()).collect(),
            pairs,
        }
    }
}

/// A batch row of an encoded example: context, target and label.
pub type Row<'a> = (&'a [u32], &'a [u32], Label);

/// The rows of a batch of `items` (not empty) and its preference pairs (chosen row, rejected
/// row): a pair fills two rows, the rejected response (labelled negative) right after the
/// chosen one.
pub fn batch_rows(items: &[EncodedExample]) -> (Vec<Row<'_>>, Vec<(usize, usize)>) {
    assert!(!items.is_empty(), "cannot collate an empty batch");
    let mut pairs = Vec::new();
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(items.len());
    for e in items {
        rows.push((&e.context, &e.target, e.label));
        if let Some(r) = &e.rejected {
            pairs.push((rows.len() - 1, rows.len()));
            rows.push((&e.context, r, Label::Neg));
        }
    }
    (rows, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher(text: usize, label: usize) -> Batcher {
        let corpus = ["hello there friend", "how are you doing"].repeat(20);
        let tok = CringeTokenizer::train(corpus.iter(), 300).unwrap();
        Batcher::new(tok, TruncationConfig { text_truncate: text, label_truncate: label }, 64)
    }

    #[test]
    fn pads_shifts_and_labels() {
        let b = batcher(100, 100);
        let sp = b.tokenizer().special();
        let items = vec![
            b.encode(&Example {
                context: "hello".into(),
                response: "how are you".into(),
                label: Label::Neg,
                source: String::new(),
                rejected: None,
                turns: None,
                form: None,
            })
            .unwrap(),
            b.encode(&Example {
                context: "".into(),
                response: "hi".into(),
                label: Label::Pos,
                source: String::new(),
                rejected: None,
                turns: None,
                form: None,
            })
            .unwrap(),
        ];
        assert_eq!(items[1].context, vec![sp.end]);
        assert_eq!(*items[0].target.last().unwrap(), sp.end);
        let batch = b.collate(&items, &Device::flex());
        let tgt: Vec<i64> = batch.targets.try_to_vec_as::<i64>().unwrap();
        let dec: Vec<i64> = batch.decoder_input.try_to_vec_as::<i64>().unwrap();
        let lab: Vec<i64> = batch.labels.try_to_vec_as::<i64>().unwrap();
        let t = items[0].target.len();
        assert_eq!(dec[0], sp.start as i64);
        assert_eq!(&dec[1..t], &tgt[..t - 1]);
        assert!(lab[..t].iter().all(|&l| l == 0) && lab[t..].iter().all(|&l| l == 1));
        let second = &tgt[t..];
        assert_eq!(
            second[items[1].target.len()..].iter().filter(|&&x| x != sp.pad as i64).count(),
            0
        );
        assert_eq!(batch.target_tokens(), items[0].target.len() + items[1].target.len());
        assert_eq!(batch.target_lengths, vec![items[0].target.len(), items[1].target.len()]);
        assert_eq!(batch.context_lengths, vec![items[0].context.len(), items[1].context.len()]);
    }

    #[test]
    fn a_preference_pair_fills_two_rows_chosen_then_rejected() {
        let b = batcher(100, 100);
        let pair = Example {
            context: "hello".into(),
            response: "how are you".into(),
            label: Label::Pos,
            source: String::new(),
            rejected: Some("you idiot".into()),
            turns: None,
            form: None,
        };
        let plain = Example {
            context: "hi".into(),
            response: "hi".into(),
            label: Label::None,
            source: String::new(),
            rejected: None,
            turns: None,
            form: None,
        };
        let items = vec![b.encode(&plain).unwrap(), b.encode(&pair).unwrap()];
        let batch = b.collate(&items, &Device::flex());
        assert_eq!(batch.pairs, vec![(1, 2)]);
        assert_eq!(batch.targets.dims()[0], 3);
        let t = batch.targets.dims()[1];
        let lab: Vec<i64> = batch.labels.try_to_vec_as::<i64>().unwrap();
        assert_eq!((lab[0], lab[t], lab[2 * t]), (-1, 1, 0), "none, chosen pos, rejected neg");
        let ctx: Vec<i64> = batch.context.try_to_vec_as::<i64>().unwrap();
        let s = batch.context.dims()[1];
        assert_eq!(ctx[s..2 * s], ctx[2 * s..], "the rejected row has the pair's context");
        let tgt: Vec<i64> = batch.targets.try_to_vec_as::<i64>().unwrap();
        let rejected = items[1].rejected.as_ref().unwrap();
        assert_eq!(
            tgt[2 * t..2 * t + rejected.len()].iter().map(|&x| x as u32).collect::<Vec<_>>(),
            *rejected
        );
        assert_eq!(
            batch.target_tokens(),
            items[0].target.len() + items[1].target.len() + rejected.len()
        );
        assert_eq!(
            batch.target_lengths,
            vec![items[0].target.len(), items[1].target.len(), rejected.len()]
        );
        assert_eq!(
            batch.context_lengths[1], batch.context_lengths[2],
            "the rejected row has the pair's context"
        );
    }

    #[test]
    fn truncates_context_left_and_response_right() {
        let b = batcher(3, 2);
        let e = b
            .encode(&Example {
                context: "hello there friend how are you".into(),
                response: "how are you doing".into(),
                label: Label::Pos,
                source: String::new(),
                rejected: None,
                turns: None,
                form: None,
            })
            .unwrap();
        let sp = b.tokenizer().special();
        assert_eq!(e.context.len(), 3);
        assert_eq!(*e.context.last().unwrap(), sp.end);
        assert_eq!(e.target.len(), 2);
        assert_eq!(e.target, b.tokenizer().encode("how are you doing").unwrap()[..2].to_vec());
    }
}
