//! Batches for a causal LM: each row is a prompt followed by its target, right-padded, and the
//! positions whose next token is a target token are picked out, so the output projection and
//! the loss see only those — the same `[B,T]` target grid the BB1 batch gives the losses.
//!
//! Row `b` with a prompt of `P` tokens and a target of `R` feeds the model the `P + R − 1`
//! tokens `prompt ++ target[..R−1]`; position `P − 1 + j` predicts `target[j]`. The model runs
//! on the packed real positions ([`Packing::from_lengths`]), so a pick is the position's index
//! among them: the row's offset (the lengths before it) plus its column.

use super::batcher::{EncodedExample, batch_rows};
use crate::model::Packing;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// A padded causal batch on a device.
#[derive(Debug, Clone)]
pub struct CausalBatch {
    /// `[B,L]` input ids, right-padded.
    pub tokens: Tensor<2, Int>,
    /// Each row's input length (`prompt + target − 1`).
    pub lengths: Vec<usize>,
    /// Each row's prompt length.
    pub prompt_lengths: Vec<usize>,
    /// `[N]` the packed input positions that predict target tokens, in the target grid's
    /// packed order (row by row, column by column).
    pub picks: Tensor<1, Int>,
    /// `[B,T]` target ids, right-padded (the padding is never read: the target rows are
    /// packed with [`Packing::from_lengths`]).
    pub targets: Tensor<2, Int>,
    /// `[B,T]` the example label id broadcast over its tokens.
    pub labels: Tensor<2, Int>,
    /// Each row's target length.
    pub target_lengths: Vec<usize>,
    /// (chosen row, rejected row) of each preference pair, as in [`Batch`](super::Batch).
    pub pairs: Vec<(usize, usize)>,
}

impl CausalBatch {
    /// Pads encoded examples into a batch on `device`; a preference pair fills two rows, the
    /// rejected response (labelled negative) right after the chosen one.
    pub fn collate(items: &[EncodedExample], device: &Device) -> Self {
        let (rows, pairs) = batch_rows(items);
        for (p, t, _) in &rows {
            assert!(!p.is_empty() && !t.is_empty(), "a causal row needs a prompt and a target");
        }
        let b = rows.len();
        let lengths: Vec<usize> = rows.iter().map(|(p, t, _)| p.len() + t.len() - 1).collect();
        let l = lengths.iter().copied().max().unwrap_or(1);
        let t = rows.iter().map(|r| r.1.len()).max().unwrap_or(1);
        let mut input = vec![0i64; b * l];
        let mut tgt = vec![0i64; b * t];
        let mut lab = vec![0i64; b * t];
        let mut picks = Vec::new();
        let mut offset = 0;
        for (i, &(prompt, target, label)) in rows.iter().enumerate() {
            let seq = prompt.iter().chain(&target[..target.len() - 1]);
            for (j, &id) in seq.enumerate() {
                input[i * l + j] = id as i64;
            }
            for (j, &id) in target.iter().enumerate() {
                tgt[i * t + j] = id as i64;
                picks.push((offset + prompt.len() - 1 + j) as i64);
            }
            lab[i * t..(i + 1) * t].fill(label.id());
            offset += lengths[i];
        }
        let int = |v: Vec<i64>, cols: usize| {
            Tensor::<2, Int>::from_data(TensorData::new(v, [b, cols]), device)
        };
        let n = picks.len();
        Self {
            tokens: int(input, l),
            lengths,
            prompt_lengths: rows.iter().map(|r| r.0.len()).collect(),
            picks: Tensor::<1, Int>::from_data(TensorData::new(picks, [n]), device),
            targets: int(tgt, t),
            labels: int(lab, t),
            target_lengths: rows.iter().map(|r| r.1.len()).collect(),
            pairs,
        }
    }

    /// The packed layout of the input positions the model runs on.
    pub fn input_rows(&self, device: &Device) -> Packing {
        Packing::from_lengths(&self.lengths, self.tokens.dims()[1], device)
    }

    /// The packed layout of the target grid (no pads: the losses never see one).
    pub fn target_rows(&self, device: &Device) -> Packing {
        Packing::from_lengths(&self.target_lengths, self.targets.dims()[1], device)
    }

    /// Number of target tokens.
    pub fn target_tokens(&self) -> usize {
        self.target_lengths.iter().sum()
    }

    /// Number of prompt tokens.
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_lengths.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::data::Label;

    fn ex(context: &[u32], target: &[u32], rejected: Option<&[u32]>) -> EncodedExample {
        EncodedExample {
            context: context.to_vec(),
            target: target.to_vec(),
            label: Label::Pos,
            rejected: rejected.map(<[u32]>::to_vec),
        }
    }

    #[test]
    fn each_pick_is_the_packed_position_that_predicts_its_target_token() {
        let items = [ex(&[5, 6, 7], &[8, 9], None), ex(&[1], &[2, 3, 4], Some(&[11]))];
        let batch = CausalBatch::collate(&items, &Device::flex());
        assert_eq!(batch.lengths, vec![4, 3, 1]);
        assert_eq!(batch.pairs, vec![(1, 2)]);
        let tokens: Vec<i64> = batch.tokens.try_to_vec_as().unwrap();
        assert_eq!(tokens, vec![5, 6, 7, 8, 1, 2, 3, 0, 1, 0, 0, 0]);
        // the packed positions: row 0 at 0..4, row 1 at 4..7, row 2 at 7
        let packed: Vec<i64> = [0, 1, 2, 3, 4, 5, 6, 8].iter().map(|&i| tokens[i]).collect();
        let picks: Vec<i64> = batch.picks.try_to_vec_as().unwrap();
        assert_eq!(picks, vec![2, 3, 4, 5, 6, 7]);
        // the token at each pick is the one before its target
        let before: Vec<i64> = picks.iter().map(|&p| packed[p as usize]).collect();
        assert_eq!(before, vec![7, 8, 1, 2, 3, 1]);
        let targets: Vec<i64> = batch.targets.try_to_vec_as().unwrap();
        assert_eq!(targets, vec![8, 9, 0, 2, 3, 4, 11, 0, 0]);
        let labels: Vec<i64> = batch.labels.try_to_vec_as().unwrap();
        assert_eq!(&labels[6..], &[0, 0, 0], "the rejected row is negative");
        assert_eq!((batch.target_tokens(), batch.prompt_tokens()), (6, 5));
    }
}
