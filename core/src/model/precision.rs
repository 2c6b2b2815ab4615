//! Mixed precision ("autocast"): the compute precision of the model's matrix products.
//!
//! Weights, optimizer state, layer norms, softmax and the loss stay in f32 (the "master"
//! copy); inside an [`autocast`] scope every linear layer, attention product and the output
//! projection casts its operands to f16 or bf16, multiplies there and casts the result back to
//! f32 — what PyTorch's `torch.autocast` does. Gradients flow back through the casts, so they
//! arrive in f32 on the f32 weights. f16 needs loss scaling against underflow (the trainer's
//! `LossScaler`); bf16 has f32's range and does not.
//!
//! The scope is per thread, like PyTorch's: code that fans work out to other threads passes
//! [`current`] along and enters it there.

use burn::tensor::{FloatDType, Tensor};
use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// The precision matrix products are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Products in IEEE half precision (5-bit exponent: needs loss scaling).
    F16,
    /// Products in bfloat16 (f32's exponent, 8-bit mantissa).
    Bf16,
}

impl Precision {
    /// All precisions, in flag order.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Bf16];

    /// The flag value: `f32`, `f16` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }

    /// Parses a flag value.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown precision {s:?}; expected f32, f16 or bf16"))
    }

    /// The dtype products are computed in, or `None` for plain f32.
    pub fn compute_dtype(self) -> Option<FloatDType> {
        match self {
            Precision::F32 => None,
            Precision::F16 => Some(FloatDType::F16),
            Precision::Bf16 => Some(FloatDType::BF16),
        }
    }

    /// Whether gradients need loss scaling to survive this precision's range (f16 only).
    pub fn needs_loss_scaling(self) -> bool {
        self == Precision::F16
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision in effect on this thread.
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Restores the previous precision when dropped.
#[must_use = "the precision applies only while the guard lives"]
pub struct AutocastGuard {
    previous: Precision,
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Computes matrix products on this thread in `precision` until the guard is dropped.
pub fn autocast(precision: Precision) -> AutocastGuard {
    let previous = CURRENT.with(|c| c.replace(precision));
    AutocastGuard { previous }
}

/// `a · b` in the current precision, returned in f32.
pub fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    match current().compute_dtype() {
        None => a.matmul(b),
        Some(dt) => a.cast(dt).matmul(b.cast(dt)).cast(FloatDType::F32),
    }
}

/// A linear layer applied in the current precision (bias added there too), returned in f32.
///
/// The leading dimensions are folded into one before the product, so `[B, T, d]` is one
/// `[B·T, d] · [d, d']` matrix product rather than B products that each re-pack the weight,
/// and the weight's gradient is one product rather than B partial ones summed afterwards.
pub fn linear<const D: usize>(layer: &burn::nn::Linear, x: Tensor<D>) -> Tensor<D> {
    let mut dims = x.dims();
    let d_in = dims[D - 1];
    let rows = dims[..D - 1].iter().product::<usize>();
    let x: Tensor<2> = x.reshape([rows, d_in]);
    let y = match current().compute_dtype() {
        None => crate::kernels::rows_matmul::linear(layer, x),
        Some(dt) => {
            let w = layer.weight.val().cast(dt);
            let b = layer.bias.as_ref().map(|b| b.val().cast(dt));
            burn::tensor::module::linear(x.cast(dt), w, b).cast(FloatDType::F32)
        }
    };
    dims[D - 1] = y.dims()[1];
    y.reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::{DType, Device, Distribution, TensorData};

    fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn parses_names_and_the_scope_nests_and_restores() {
        assert_eq!(Precision::parse("BF16"), Ok(Precision::Bf16));
        assert!(Precision::parse("fp8").unwrap_err().contains("f32, f16 or bf16"));
        assert_eq!(current(), Precision::F32);
        {
            let _a = autocast(Precision::F16);
            assert_eq!(current(), Precision::F16);
            {
                let _b = autocast(Precision::Bf16);
                assert_eq!(current(), Precision::Bf16);
            }
            assert_eq!(current(), Precision::F16);
        }
        assert_eq!(current(), Precision::F32);
    }

    #[test]
    fn products_round_like_the_compute_dtype_and_come_back_in_f32() {
        let dev = Device::flex();
        // 1 + 2^-9 is exact in f16 (10-bit mantissa) but rounds to 1 in bf16 (7-bit).
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32 + 1.0 / 512.0], [1, 1]), &dev);
        let one = Tensor::<2>::ones([1, 1], &dev);
        let f16 = {
            let _g = autocast(Precision::F16);
            matmul(a.clone(), one.clone())
        };
        let bf16 = {
            let _g = autocast(Precision::Bf16);
            matmul(a.clone(), one.clone())
        };
        assert_eq!(f16.dtype(), DType::F32);
        assert_eq!(bf16.dtype(), DType::F32);
        assert_eq!(f16.into_scalar::<f32>(), 1.0 + 1.0 / 512.0);
        assert_eq!(bf16.into_scalar::<f32>(), 1.0);
        // Without autocast the product is plain f32.
        assert_eq!(matmul(a, one).into_scalar::<f32>(), 1.0 + 1.0 / 512.0);
    }

    #[test]
    fn linear_tracks_f32_and_gradients_reach_the_f32_weights() {
        let dev = Device::flex().autodiff();
        let lin = LinearConfig::new(16, 8).init(&dev);
        let x = Tensor::<2>::random([4, 16], Distribution::Normal(0.0, 1.0), &dev);
        let reference = lin.forward(x.clone());
        for p in [Precision::F16, Precision::Bf16] {
            let _g = autocast(p);
            let y = linear(&lin, x.clone());
            assert_eq!(y.dtype(), DType::F32);
            // Relative error of an 8-bit (bf16) or 11-bit (f16) mantissa over 16 products.
            let tol = if p == Precision::Bf16 { 0.05 } else { 0.01 };
            assert!(max_abs_diff(y.clone(), reference.clone()) < tol, "{p}");
            let grads = y.sum().backward();
            let gw = lin.weight.val().grad(&grads).expect("weight gradient");
            assert_eq!(gw.dtype(), DType::F32);
            // d(sum y)/dW[i][j] = sum over rows of x[:, i]
            let expected = x.clone().detach().sum_dim(0).reshape([16, 1]).repeat_dim(1, 8);
            assert!(max_abs_diff(gw, expected) < tol * 4.0, "{p}");
        }
    }
}
