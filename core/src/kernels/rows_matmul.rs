//! Matrix products with few rows on all cores of the CPU, for inference.
//!
//! Burn's CPU backend multiplies on one core whenever `m·n·k` is under 192³. Decoding feeds
//! one row per sequence, so with 16 sequences SmolLM2's q/k/v/o projections (16 × 576 ·
//! 576 × 576 and smaller) all fell under it: a fifth of each step's multiply-adds ran on one
//! core while the others waited. Here such products call the same `gemm` crate with all
//! cores. Only without autodiff (training's products are large), in f32, with the `parallel`
//! feature and the fused kernels on ([`crate::kernels`]); anything else is Burn's `matmul`.

use crate::kernels::cpu::is_cpu;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor};

/// Burn's CPU backend's threshold for a multi-threaded product (`m·n·k`).
const SERIAL_BELOW: usize = 192 * 192 * 192;
/// Below this, splitting a product across threads costs more than it saves.
const WORTH_SPLITTING: usize = 64 * 64 * 64;

/// Two-dimensional products on all cores.
#[backend_extension(Flex)]
pub trait CpuRowsMatmulOps: Backend {
    /// `lhs` `[m,k]` · `rhs` `[k,n]`, f32.
    fn cpu_rows_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Whether a product of `lhs` `[m,k]` with a `[k,n]` f32 matrix runs here.
fn applies(lhs: &Tensor<2>, rhs: &Tensor<2>) -> bool {
    let [m, k] = lhs.dims();
    let device = lhs.device();
    cfg!(feature = "parallel")
        && (WORTH_SPLITTING..SERIAL_BELOW).contains(&(m * k * rhs.dims()[1]))
        && is_cpu(&device)
        && !device.is_autodiff()
        && lhs.dtype() == DType::F32
        && rhs.dtype() == DType::F32
        && crate::kernels::enabled()
}

/// `lhs · rhs` for `[m,k]` and `[k,n]`: on all cores where Burn would use one (see the module
/// doc), else Burn's `matmul`.
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    if !applies(&lhs, &rhs) {
        return lhs.matmul(rhs);
    }
    all_cores(lhs, rhs)
}

/// The product through [`CpuRowsMatmulOps`] (the caller has checked [`applies`]).
fn all_cores(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as CpuRowsMatmulOps>::cpu_rows_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}

/// A linear layer's `x · weight + bias`, the product on all cores where [`matmul`] would run
/// it there, else the layer's own `forward`.
pub fn linear(layer: &burn::nn::Linear, x: Tensor<2>) -> Tensor<2> {
    let weight = layer.weight.val();
    if !applies(&x, &weight) {
        return layer.forward(x);
    }
    let y = all_cores(x, weight);
    match &layer.bias {
        Some(b) => y + b.val().unsqueeze(),
        None => y,
    }
}

/// A view's values pointer and (row, column) strides, made contiguous first if a stride is
/// negative.
#[cfg(feature = "parallel")]
fn strided(t: FlexTensor) -> (FlexTensor, usize, isize, isize) {
    let t = if t.layout().strides().iter().any(|&s| s < 0) { t.to_contiguous() } else { t };
    let (offset, strides) = (t.layout().start_offset(), t.layout().strides().to_vec());
    (t, offset, strides[0], strides[1])
}

impl CpuRowsMatmulOps for Flex {
    /// Without the `parallel` feature, [`matmul`] never calls this; it is Burn's product then.
    #[cfg(not(feature = "parallel"))]
    fn cpu_rows_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        use burn::backend::ops::FloatTensorOps;
        <Flex as FloatTensorOps<Flex>>::float_matmul(lhs, rhs)
    }

    #[cfg(feature = "parallel")]
    fn cpu_rows_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        let (m, k) = (lhs.layout().shape()[0], lhs.layout().shape()[1]);
        let n = rhs.layout().shape()[1];
        let (lhs, l_off, l_rs, l_cs) = strided(lhs);
        let (rhs, r_off, r_rs, r_cs) = strided(rhs);
        let mut out = vec![0f32; m * n];
        let (a, b) = (lhs.storage::<f32>(), rhs.storage::<f32>());
        // SAFETY: the offsets and strides come from the tensors' own layouts, so every element
        // gemm reads lies in their storage; `out` is m×n, row-major.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr().add(l_off),
                l_cs,
                l_rs,
                b.as_ptr().add(r_off),
                r_cs,
                r_rs,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
        FlexTensor::from_data(burn::tensor::TensorData::new(out, [m, n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn max_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn few_row_products_equal_burns_for_plain_and_transposed_weights() {
        let dev = Device::flex();
        let normal =
            |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
        let (x, w) = (normal([16, 96]), normal([96, 200]));
        assert!((WORTH_SPLITTING..SERIAL_BELOW).contains(&(16 * 96 * 200)));
        assert!(max_diff(matmul(x.clone(), w.clone()), x.clone().matmul(w.clone())) < 1e-4);
        // a transposed view (the tied output projection) and a column slice
        let wt = normal([200, 96]);
        let t = wt.transpose();
        assert!(max_diff(matmul(x.clone(), t.clone()), x.clone().matmul(t)) < 1e-4);
        let s = w.slice([0..96, 50..150]);
        assert!(max_diff(matmul(x.clone(), s.clone()), x.matmul(s)) < 1e-4);
    }
}
