//! SwiGLU (`silu(gate)·up`, the Llama family's feed-forward activation) on all cores of the
//! CPU.
//!
//! Burn composes it from a sigmoid, two products and their autodiff rules: five passes over
//! the `[tokens, ffn]` activations forward and back, each on one core with a scalar `expf`
//! (about a twentieth of a SmolLM2 CPU training step, with every other core idle). Here the
//! forward is one pass and the backward one pass giving both gradients, in chunks on all
//! cores, with `gelu_math`'s vectorisable `exp`. Other devices, other dtypes, and
//! `CRINGE_FUSED_KERNELS=0` use Burn's ops.

use super::gelu_math::exp_nonpositive;
use crate::kernels::cpu::{is_cpu, map_chunks, map_chunks2, values};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::activation::silu;
use burn::tensor::{DType, Tensor, TensorData};

/// SwiGLU and its gradients on a CPU backend (f32).
#[backend_extension(Flex, Autodiff)]
pub trait CpuSwigluOps: Backend {
    /// `silu(gate)·up` element-wise.
    fn cpu_swiglu(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The gradients `(d gate, d up)` of `grad`.
    fn cpu_swiglu_backward(
        gate: FloatTensor<Self>,
        up: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// `silu(gate)·up`: one pass on all cores for same-shaped f32 tensors on the CPU (with the
/// fused kernels on, see [`crate::kernels`]), else Burn's ops.
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    let fused = is_cpu(&gate.device())
        && gate.dtype() == DType::F32
        && up.dtype() == DType::F32
        && gate.dims() == up.dims()
        && crate::kernels::enabled();
    if !fused {
        return silu(gate) * up;
    }
    Tensor::from_dispatch(<Dispatch as CpuSwigluOps>::cpu_swiglu(
        gate.into_dispatch(),
        up.into_dispatch(),
    ))
}

/// `sigmoid(x)`, branch-free, from `exp` of a non-positive argument only.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 { r } else { e * r }
}

impl CpuSwigluOps for Flex {
    fn cpu_swiglu(gate: FlexTensor, up: FlexTensor) -> FlexTensor {
        let shape = gate.layout().shape().clone();
        let (g, u) = (values(&gate), values(&up));
        let y = map_chunks(g.len(), |start, out| {
            let (g, u) = (&g[start..start + out.len()], &u[start..start + out.len()]);
            for ((o, &g), &u) in out.iter_mut().zip(g).zip(u) {
                *o = g * sigmoid(g) * u;
            }
        });
        FlexTensor::from_data(TensorData::new(y, shape))
    }

    fn cpu_swiglu_backward(
        gate: FlexTensor,
        up: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let shape = gate.layout().shape().clone();
        let (g, u, d) = (values(&gate), values(&up), values(&grad));
        // both gradients in one pass
        let (dg, du) = map_chunks2(g.len(), |start, dg, du| {
            let n = dg.len();
            let (g, u, d) = (&g[start..start + n], &u[start..start + n], &d[start..start + n]);
            for j in 0..n {
                let s = sigmoid(g[j]);
                let silu = g[j] * s;
                dg[j] = d[j] * u[j] * (s + silu * (1.0 - s));
                du[j] = d[j] * silu;
            }
        });
        (
            FlexTensor::from_data(TensorData::new(dg, shape.clone())),
            FlexTensor::from_data(TensorData::new(du, shape)),
        )
    }
}

#[derive(Debug)]
struct SwigluBackward;

impl<B: Backend + CpuSwigluOps> Backward<B, 2> for SwigluBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [gate_node, up_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (gate, up) = ops.state;
        let (d_gate, d_up) = B::cpu_swiglu_backward(gate, up, grad);
        if let Some(node) = gate_node {
            grads.register::<B>(node.id, d_gate);
        }
        if let Some(node) = up_node {
            grads.register::<B>(node.id, d_up);
        }
    }
}

impl<B: Backend + CpuSwigluOps, C: CheckpointStrategy> CpuSwigluOps for Autodiff<B, C> {
    fn cpu_swiglu(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self> {
        match SwigluBackward.prepare::<C>([gate.node(), up.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (g, u) = (gate.primitive().clone(), up.primitive().clone());
                prep.finish((g.clone(), u.clone()), B::cpu_swiglu(g, u))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::cpu_swiglu(gate.into_primitive(), up.into_primitive()))
            }
        }
    }

    fn cpu_swiglu_backward(
        gate: FloatTensor<Self>,
        up: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // Only the backward pass calls this, on the inner backend (no second derivative).
        let (dg, du) = B::cpu_swiglu_backward(
            gate.into_primitive(),
            up.into_primitive(),
            grad.into_primitive(),
        );
        (<Self as AutodiffBackend>::from_inner(dg), <Self as AutodiffBackend>::from_inner(du))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Values and both gradients agree with Burn's `silu(gate)·up` to f32 rounding, on tensors
    /// larger than one chunk and on transposed (non-contiguous) views.
    #[test]
    fn matches_burns_silu_times_up() {
        let dev = Device::flex().autodiff();
        let g0 = Tensor::<2>::random([300, 170], Distribution::Normal(0.0, 4.0), &dev);
        let u0 = Tensor::<2>::random([300, 170], Distribution::Normal(0.0, 1.0), &dev);
        for (g, u) in [(g0.clone(), u0.clone()), (g0.transpose(), u0.transpose())] {
            let run = |ours: bool| {
                let (g, u) = (g.clone().detach().require_grad(), u.clone().detach().require_grad());
                let y =
                    if ours { swiglu(g.clone(), u.clone()) } else { silu(g.clone()) * u.clone() };
                let w = Tensor::<2>::ones(y.shape(), &dev).mul_scalar(0.5) + y.clone().detach();
                let grads = (y.clone() * w).sum().backward();
                let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
                (vec(y), vec(g.grad(&grads).unwrap()), vec(u.grad(&grads).unwrap()))
            };
            let (ours, burns) = (run(true), run(false));
            let close = |a: &[f32], b: &[f32], what: &str| {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    let tol = 2e-6 * (1.0 + y.abs());
                    assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs Burn's {y}");
                }
            };
            close(&ours.0, &burns.0, "value");
            close(&ours.1, &burns.1, "d gate");
            close(&ours.2, &burns.2, "d up");
        }
        // and it is SwiGLU: silu(2)·3 = 2·3/(1 + e⁻²), silu(−30)·1 ≈ −2.8·10⁻¹²
        let g = Tensor::<1>::from_floats([2.0, -30.0, 0.0], &Device::flex());
        let u = Tensor::<1>::from_floats([3.0, 1.0, 5.0], &Device::flex());
        let y = swiglu(g, u).into_data().try_to_vec::<f32>().unwrap();
        let want = [6.0 / (1.0 + (-2f32).exp()), -30.0 / (1.0 + 30f32.exp()), 0.0];
        for (got, want) in y.iter().zip(want) {
            assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "{got} vs {want}");
        }
    }
}
