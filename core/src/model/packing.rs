//! Padding-free rows: which positions of a right-padded `[B,T]` batch hold real tokens, and
//! moving per-position tensors between the padded `[B,T,…]` layout and a packed `[N,…]` one
//! that keeps only those N rows.
//!
//! Everything in a transformer layer except the attention products works row by row, so the
//! model runs its linear layers, feed-forward blocks, layer norms, residuals, the output
//! projection and the loss on the packed rows and unpacks only around attention, where the
//! `[B,H,T,T]` structure is needed. Pads never influence a real position (they are masked as
//! keys and come after every real token as queries), so this changes no real row's value or
//! gradient; it only skips the work a padded batch spends on its pads. A [`Packing::dense`]
//! layout (every position kept) makes packing and unpacking plain reshapes.

use crate::data::Batch;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

/// The fraction of pads from which [`Packing::for_batch`] packs a batch. Below it the rows
/// saved are few; the gathers and scatters around each attention cost little (packing a batch
/// without any pads measured within noise of the dense path), so this is a conservative cut.
pub const MIN_PADDING: f64 = 0.1;

/// The real rows of a right-padded `[B,T]` batch.
#[derive(Debug, Clone)]
pub struct Packing {
    batch: usize,
    len: usize,
    /// Flat indices `b·T + t` of the kept positions, ascending; `None`: all of them.
    rows: Option<Tensor<1, Int>>,
    count: usize,
}

impl Packing {
    /// Every position of a `[batch, len]` batch is a row (packing is a reshape).
    pub fn dense(batch: usize, len: usize) -> Self {
        Self { batch, len, rows: None, count: batch * len }
    }

    /// The first `lengths[b]` positions of each of the `lengths.len()` sequences, padded to
    /// `len`; dense when no sequence is shorter than `len`.
    pub fn from_lengths(lengths: &[usize], len: usize, device: &Device) -> Self {
        let batch = lengths.len();
        assert!(
            lengths.iter().all(|&l| l <= len),
            "a sequence length in {lengths:?} exceeds the padded length {len}"
        );
        let count: usize = lengths.iter().sum();
        if count == batch * len {
            return Self::dense(batch, len);
        }
        let rows: Vec<i64> = lengths
            .iter()
            .enumerate()
            .flat_map(|(b, &l)| (0..l).map(move |t| (b * len + t) as i64))
            .collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [count]), device);
        Self { batch, len, rows: Some(rows), count }
    }

    /// Like [`Packing::from_lengths`], but dense unless at least `min_padding` (a fraction) of
    /// the positions are pads (see [`MIN_PADDING`]).
    pub fn when_padded(lengths: &[usize], len: usize, min_padding: f64, device: &Device) -> Self {
        let total = (lengths.len() * len).max(1);
        let pads = total - lengths.iter().sum::<usize>().min(total);
        // (a batch without pads comes back dense from `from_lengths` too)
        match pads as f64 >= min_padding * total as f64 {
            true => Self::from_lengths(lengths, len, device),
            false => Self::dense(lengths.len(), len),
        }
    }

    /// The context and target layouts of a collated batch: packed where at least
    /// [`MIN_PADDING`] of the positions are pads, else dense.
    pub fn for_batch(batch: &Batch, device: &Device) -> (Self, Self) {
        let ([_, s], [_, t]) = (batch.context.dims(), batch.targets.dims());
        (
            Self::when_padded(&batch.context_lengths, s, MIN_PADDING, device),
            Self::when_padded(&batch.target_lengths, t, MIN_PADDING, device),
        )
    }

    /// Sequences in the batch (B).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Padded length (T).
    pub fn padded_len(&self) -> usize {
        self.len
    }

    /// Kept rows (N).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether every position is kept.
    pub fn is_dense(&self) -> bool {
        self.rows.is_none()
    }

    /// `[B,T,D]` → `[N,D]`.
    pub fn pack(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, t, d] = x.dims();
        assert_eq!(
            [b, t],
            [self.batch, self.len],
            "packing a [{b},{t},{d}] tensor with a [{},{}] layout",
            self.batch,
            self.len
        );
        let flat = x.reshape([b * t, d]);
        match &self.rows {
            None => flat,
            Some(rows) => flat.select(0, rows.clone()),
        }
    }

    /// `[N,D]` → `[B,T,D]`, zeros at the pads.
    pub fn unpack(&self, x: Tensor<2>) -> Tensor<3> {
        let [n, d] = x.dims();
        assert_eq!(n, self.count, "unpacking {n} rows with a layout of {} rows", self.count);
        let flat = match &self.rows {
            None => x,
            Some(rows) => Tensor::<2>::zeros([self.batch * self.len, d], &x.device())
                .select_assign(0, rows.clone(), x, IndexingUpdateOp::Add),
        };
        flat.reshape([self.batch, self.len, d])
    }

    /// `[B,T]` ids → `[N]`.
    pub fn pack_ids(&self, x: Tensor<2, Int>) -> Tensor<1, Int> {
        let flat = x.reshape([self.batch * self.len]);
        match &self.rows {
            None => flat,
            Some(rows) => flat.select(0, rows.clone()),
        }
    }

    /// `[B·T]` values → `[N]`.
    pub fn pack_values(&self, x: Tensor<1>) -> Tensor<1> {
        match &self.rows {
            None => x,
            Some(rows) => x.select(0, rows.clone()),
        }
    }

    /// `[N]` values → `[B·T]`, zeros at the pads.
    pub fn unpack_values(&self, x: Tensor<1>) -> Tensor<1> {
        match &self.rows {
            None => x,
            Some(rows) => Tensor::<1>::zeros([self.batch * self.len], &x.device()).select_assign(
                0,
                rows.clone(),
                x,
                IndexingUpdateOp::Add,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arange(n: usize, dev: &Device) -> Tensor<1> {
        Tensor::<1>::from_data(
            TensorData::new((0..n).map(|i| i as f32).collect::<Vec<_>>(), [n]),
            dev,
        )
    }

    #[test]
    fn packs_the_real_rows_in_order_and_unpacks_with_zero_pads() {
        let dev = Device::flex();
        let p = Packing::from_lengths(&[2, 3, 1], 3, &dev);
        assert_eq!((p.batch(), p.padded_len(), p.count(), p.is_dense()), (3, 3, 6, false));
        // row r = b·3 + t holds [2r, 2r + 1]
        let x = arange(18, &dev).reshape([3, 3, 2]);
        let want_x: Vec<f32> = x.clone().try_to_vec_as().unwrap();
        let packed = p.pack(x);
        let rows: Vec<usize> = vec![0, 1, 3, 4, 5, 6];
        let got: Vec<f32> = packed.clone().try_to_vec_as().unwrap();
        let want: Vec<f32> = rows.iter().flat_map(|&r| want_x[2 * r..2 * r + 2].to_vec()).collect();
        assert_eq!(got, want);
        let back: Vec<f32> = p.unpack(packed).try_to_vec_as().unwrap();
        for r in 0..9 {
            let expect =
                if rows.contains(&r) { want_x[2 * r..2 * r + 2].to_vec() } else { vec![0.0, 0.0] };
            assert_eq!(back[2 * r..2 * r + 2], expect[..], "row {r}");
        }
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new((0..9i64).collect::<Vec<_>>(), [3, 3]),
            &dev,
        );
        assert_eq!(p.pack_ids(ids).try_to_vec_as::<i64>().unwrap(), vec![0, 1, 3, 4, 5, 6]);
        let values = p.unpack_values(p.pack_values(arange(9, &dev).add_scalar(1.0)));
        assert_eq!(
            values.try_to_vec_as::<f32>().unwrap(),
            vec![1.0, 2.0, 0.0, 4.0, 5.0, 6.0, 7.0, 0.0, 0.0]
        );
    }

    #[test]
    fn full_lengths_and_little_padding_stay_dense() {
        let dev = Device::flex();
        assert!(Packing::from_lengths(&[4, 4], 4, &dev).is_dense());
        // 1 pad in 8 positions: 12.5%
        assert!(Packing::when_padded(&[4, 3], 4, 0.2, &dev).is_dense());
        assert!(!Packing::when_padded(&[4, 3], 4, 0.1, &dev).is_dense());
        assert!(Packing::when_padded(&[4, 4], 4, 0.0, &dev).is_dense());
        let p = Packing::dense(2, 3);
        let x = arange(12, &dev).reshape([2, 3, 2]);
        assert_eq!(
            p.unpack(p.pack(x.clone())).try_to_vec_as::<f32>().unwrap(),
            x.try_to_vec_as::<f32>().unwrap()
        );
    }

    #[test]
    fn gradients_flow_through_pack_and_unpack() {
        let dev = Device::flex().autodiff();
        let p = Packing::from_lengths(&[1, 2], 2, &dev);
        let x = arange(8, &dev).reshape([2, 2, 2]).require_grad();
        // Σ over the kept rows of 2·x, unpacked again: the pad row gets no gradient.
        let y = p.unpack(p.pack(x.clone()).mul_scalar(2.0)).sum();
        let g = x.grad(&y.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
        assert_eq!(g, vec![2.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0]);
    }
}
