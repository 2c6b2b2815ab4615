//! GELU on all cores of the CPU.
//!
//! Burn's CPU backend computes GELU (`x·Φ(x)`, with `erf`) and its derivative element by
//! element on one core with a scalar `erff`; with the feed-forward layers' `[B·T, ffn]`
//! activations that was the largest single-threaded piece of a CPU training update and about a
//! sixth of beam search. Here vectorised formulas (`kernels::gelu_math`: Φ to 3·10⁻⁷, like
//! PyTorch's vectorised CPU `erf`) run in chunks on all cores, as a Burn backend extension with
//! its autodiff rule. Other devices use Burn's GELU.

use super::gelu_math::{gelu_grad_slice, gelu_slice};
use crate::kernels::cpu::{is_cpu, map_chunks, values};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

/// GELU and its derivative on a CPU backend (f32).
#[backend_extension(Flex, Autodiff)]
pub trait CpuGeluOps: Backend {
    /// `x·Φ(x)` element-wise.
    fn cpu_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `grad·(Φ(x) + x·φ(x))` element-wise.
    fn cpu_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// GELU of `x`: on all cores for f32 tensors on the CPU (with the fused kernels on, see
/// [`crate::kernels`]), else Burn's.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !is_cpu(&x.device()) || x.dtype() != DType::F32 || !crate::kernels::enabled() {
        return burn::tensor::activation::gelu(x);
    }
    Tensor::from_dispatch(<Dispatch as CpuGeluOps>::cpu_gelu(x.into_dispatch()))
}

impl CpuGeluOps for Flex {
    fn cpu_gelu(x: FlexTensor) -> FlexTensor {
        let shape = x.layout().shape().clone();
        let v = values(&x);
        let y = map_chunks(v.len(), |start, out| gelu_slice(&v[start..start + out.len()], out));
        FlexTensor::from_data(TensorData::new(y, shape))
    }

    fn cpu_gelu_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let shape = x.layout().shape().clone();
        let (v, g) = (values(&x), values(&grad));
        let dx = map_chunks(v.len(), |start, out| {
            let range = start..start + out.len();
            gelu_grad_slice(&v[range.clone()], &g[range], out)
        });
        FlexTensor::from_data(TensorData::new(dx, shape))
    }
}

#[derive(Debug)]
struct GeluBackward;

impl<B: Backend + CpuGeluOps> Backward<B, 1> for GeluBackward {
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [x_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = x_node {
            grads.register::<B>(node.id, B::cpu_gelu_backward(ops.state, grad));
        }
    }
}

impl<B: Backend + CpuGeluOps, C: CheckpointStrategy> CpuGeluOps for Autodiff<B, C> {
    fn cpu_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let inner = x.primitive().clone();
                prep.finish(inner.clone(), B::cpu_gelu(inner))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cpu_gelu(x.into_primitive())),
        }
    }

    fn cpu_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        // Only the backward pass calls this, on the inner backend (no second derivative).
        <Self as AutodiffBackend>::from_inner(B::cpu_gelu_backward(
            x.into_primitive(),
            grad.into_primitive(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Values and gradients agree with Burn's GELU (scalar `erff`) to f32 rounding, on a tensor
    /// larger than one chunk and on a transposed (non-contiguous) view.
    #[test]
    fn matches_burns_gelu() {
        let dev = Device::flex().autodiff();
        let base = Tensor::<2>::random([300, 170], Distribution::Normal(0.0, 3.0), &dev);
        for x in [base.clone(), base.transpose()] {
            let run = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let y =
                    if ours { gelu(x.clone()) } else { burn::tensor::activation::gelu(x.clone()) };
                let w = Tensor::<2>::ones(y.shape(), &dev).mul_scalar(0.5) + y.clone().detach();
                let grads = (y.clone() * w).sum().backward();
                let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
                (vec(y), vec(x.grad(&grads).unwrap()))
            };
            let (y_ours, g_ours) = run(true);
            let (y_burn, g_burn) = run(false);
            let xs = x.into_data().try_to_vec::<f32>().unwrap();
            for i in 0..xs.len() {
                let scale = 1.0 + xs[i].abs();
                assert!(
                    (y_ours[i] - y_burn[i]).abs() <= 4e-7 * scale,
                    "gelu({}) = {} vs {}",
                    xs[i],
                    y_ours[i],
                    y_burn[i]
                );
                let upstream = 1.5 + y_burn[i].abs();
                let tol = 1e-6 * upstream * scale;
                assert!(
                    (g_ours[i] - g_burn[i]).abs() <= tol,
                    "gelu'({}): {} vs {}",
                    xs[i],
                    g_ours[i],
                    g_burn[i]
                );
            }
        }
        // and it is GELU: x·Φ(x) at a few points (Φ(1) = 0.841344746, Φ(-2) = 0.022750132)
        let x = Tensor::<1>::from_floats([0.0, 1.0, -2.0], &Device::flex());
        let y = gelu(x).into_data().try_to_vec::<f32>().unwrap();
        for (got, want) in y.iter().zip([0.0, 0.841_344_8, -0.045_500_26]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
