//! Helpers of the CPU kernels (`kernels::dropout`, `kernels::gelu`, `kernels::cringe_rows`): whether a
//! device is Burn's CPU backend, a CPU tensor's values, and loops that run on all cores with
//! the `parallel` feature (one core without it, as in the browser).

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::Device;
use std::borrow::Cow;

/// Whether `device` (autodiff or not) is Burn's CPU backend (flex).
pub fn is_cpu(device: &Device) -> bool {
    matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// The values of an f32 CPU tensor, in row-major order (copied only when it is a strided view).
pub fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        Cow::Borrowed(t.storage::<f32>())
    } else {
        Cow::Owned(t.to_contiguous().storage::<f32>().to_vec())
    }
}

/// Elements per task of [`map_indexed`] and [`map_chunks`].
const CHUNK: usize = 1 << 14;

/// `[f(0), f(1), …, f(len − 1)]`, computed in chunks on all cores.
pub fn map_indexed(len: usize, f: impl Fn(usize) -> f32 + Sync) -> Vec<f32> {
    map_chunks(len, |start, chunk| {
        for (j, v) in chunk.iter_mut().enumerate() {
            *v = f(start + j);
        }
    })
}

/// A vector of `len` values that `f(start, chunk)` writes chunk by chunk (`chunk` holds the
/// values `start..start + chunk.len()`), on all cores.
pub fn map_chunks(len: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0f32; len];
    for_rows(&mut out, CHUNK, |c, chunk| f(c * CHUNK, chunk));
    out
}

/// Two vectors of `len` values that `f(start, a, b)` writes chunk by chunk (`a` and `b` hold
/// the values `start..start + a.len()` of each), on all cores.
pub fn map_chunks2(
    len: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let (mut a, mut b) = (vec![0f32; len], vec![0f32; len]);
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(CHUNK)
            .zip(b.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (x, y))| f(c * CHUNK, x, y));
    }
    #[cfg(not(feature = "parallel"))]
    for (c, (x, y)) in a.chunks_mut(CHUNK).zip(b.chunks_mut(CHUNK)).enumerate() {
        f(c * CHUNK, x, y);
    }
    (a, b)
}

/// Runs `f(row, out_row)` over the rows of `out` (`width` values each; the last may be
/// shorter), on all cores.
pub fn for_rows(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(width).enumerate().for_each(|(i, o)| f(i, o));
    }
    #[cfg(not(feature = "parallel"))]
    for (i, o) in out.chunks_mut(width).enumerate() {
        f(i, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_indexed_covers_every_index_across_chunks() {
        let v = map_indexed(3 * CHUNK + 5, |i| i as f32);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
        let w = map_chunks(2 * CHUNK + 3, |start, c| {
            c.iter_mut().enumerate().for_each(|(j, x)| *x = (start + j) as f32)
        });
        assert!(w.len() == 2 * CHUNK + 3 && w.iter().enumerate().all(|(i, &x)| x == i as f32));
        let (a, b) = map_chunks2(CHUNK + 9, |start, a, b| {
            for (j, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                (*x, *y) = ((start + j) as f32, -((start + j) as f32));
            }
        });
        assert!(a.iter().zip(&b).enumerate().all(|(i, (&x, &y))| x == i as f32 && y == -x));
        let mut rows = vec![0f32; 7 * 3];
        for_rows(&mut rows, 3, |r, o| o.fill(r as f32));
        assert_eq!(rows[20], 6.0);
        assert_eq!(rows[3], 1.0);
        assert!(is_cpu(&Device::flex()) && is_cpu(&Device::flex().autodiff()));
    }
}
