//! Softmax over the last dimension on all cores of the CPU, with its autodiff rule: the
//! causal LM's attention weights.
//!
//! Burn's `softmax` is a maximum, a subtraction, an `exp`, a sum and a division, each a pass on
//! one core, and its backward about as many. At SmolLM2's training shape (batch 8 × 256
//! tokens, 9 heads, 30 blocks) the scores are 141M values per step, and those passes left
//! the other core idle. Here the forward is one task per row (maximum, `exp`, sum, scale) and
//! the backward `∂x = y·(g − Σ g·y)` one more, rows spread over all cores. Entries more than 87
//! below their row's maximum (masked keys, at −10²⁰) get weight exactly 0, as with Burn's.
//! Other devices, other dtypes, and `CRINGE_FUSED_KERNELS=0` use Burn's `softmax`.

use super::gelu_math::exp_nonpositive;
use crate::kernels::cpu::{for_rows, is_cpu, values};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Tensor, TensorData};

/// Softmax over the last dimension and its gradient on a CPU backend (f32).
#[backend_extension(Flex, Autodiff)]
pub trait CpuSoftmaxOps: Backend {
    /// Softmax of each row of the last dimension.
    fn cpu_softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `∂loss/∂x` from the softmax's output `y` and `grad` = `∂loss/∂y`.
    fn cpu_softmax_last_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Softmax over the last dimension of `x`: on all cores for f32 CPU tensors (with the fused
/// kernels on, see [`crate::kernels`]), else Burn's `softmax`.
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !(is_cpu(&x.device()) && x.dtype() == DType::F32 && crate::kernels::enabled()) {
        return softmax(x, D - 1);
    }
    Tensor::from_dispatch(<Dispatch as CpuSoftmaxOps>::cpu_softmax_last(x.into_dispatch()))
}

/// Rows whose last-dimension length is below this are not worth a task each; they are grouped.
const MIN_TASK: usize = 1 << 12;

/// Runs `f(row, values_out)` over the rows of width `width` of `out`, several rows per task.
fn per_row(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows_per_task = MIN_TASK.div_ceil(width.max(1)).max(1);
    for_rows(out, rows_per_task * width, |task, chunk| {
        for (i, row) in chunk.chunks_mut(width).enumerate() {
            f(task * rows_per_task + i, row);
        }
    });
}

fn width_of(t: &FlexTensor) -> usize {
    let shape = t.layout().shape();
    shape[shape.num_dims() - 1]
}

impl CpuSoftmaxOps for Flex {
    fn cpu_softmax_last(x: FlexTensor) -> FlexTensor {
        let shape = x.layout().shape().clone();
        let w = width_of(&x);
        let x = values(&x);
        let mut y = vec![0f32; x.len()];
        per_row(&mut y, w, |r, out| {
            let row = &x[r * w..(r + 1) * w];
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0.0;
            for (o, &v) in out.iter_mut().zip(row) {
                let d = v - max;
                *o = if d < -87.0 { 0.0 } else { exp_nonpositive(d) };
                sum += *o;
            }
            let inv = 1.0 / sum;
            out.iter_mut().for_each(|o| *o *= inv);
        });
        FlexTensor::from_data(TensorData::new(y, shape))
    }

    fn cpu_softmax_last_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let shape = y.layout().shape().clone();
        let w = width_of(&y);
        let (y, g) = (values(&y), values(&grad));
        let mut dx = vec![0f32; y.len()];
        per_row(&mut dx, w, |r, out| {
            let (y, g) = (&y[r * w..(r + 1) * w], &g[r * w..(r + 1) * w]);
            let dot: f32 = y.iter().zip(g).map(|(a, b)| a * b).sum();
            for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
                *o = y * (g - dot);
            }
        });
        FlexTensor::from_data(TensorData::new(dx, shape))
    }
}

#[derive(Debug)]
struct SoftmaxBackward;

impl<B: Backend + CpuSoftmaxOps> Backward<B, 1> for SoftmaxBackward {
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = parent {
            grads.register::<B>(node.id, B::cpu_softmax_last_backward(ops.state, grad));
        }
    }
}

impl<B: Backend + CpuSoftmaxOps, C: CheckpointStrategy> CpuSoftmaxOps for Autodiff<B, C> {
    fn cpu_softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SoftmaxBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::cpu_softmax_last(x.primitive().clone());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cpu_softmax_last(x.into_primitive())),
        }
    }

    fn cpu_softmax_last_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        // Only the backward pass calls this, on the inner backend (no second derivative).
        let dx = B::cpu_softmax_last_backward(y.into_primitive(), grad.into_primitive());
        <Self as AutodiffBackend>::from_inner(dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::NEG_INF;
    use burn::tensor::{Device, Distribution};

    /// Values and gradients agree with Burn's `softmax` to f32 rounding, on rows wider and
    /// narrower than a task, on a transposed view, and with masked entries, which get weight 0.
    #[test]
    fn matches_burns_softmax_and_masked_entries_get_exactly_zero() {
        let dev = Device::flex().autodiff();
        let wide = Tensor::<3>::random([3, 7, 5000], Distribution::Normal(0.0, 3.0), &dev);
        let narrow = Tensor::<3>::random([4, 50, 33], Distribution::Normal(0.0, 3.0), &dev);
        let mut masked = Tensor::<3>::random([2, 3, 9], Distribution::Normal(0.0, 1.0), &dev);
        masked = masked.slice_assign([0..2, 0..3, 0..4], Tensor::full([2, 3, 4], NEG_INF, &dev));
        for x in [wide, narrow.clone(), narrow.swap_dims(1, 2), masked] {
            let w = Tensor::<3>::random(x.shape(), Distribution::Normal(0.0, 1.0), &dev).detach();
            let run = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let y = if ours { softmax_last(x.clone()) } else { softmax(x.clone(), 2) };
                let grads = (y.clone() * w.clone()).sum().backward();
                let vec = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
                (vec(y), vec(x.grad(&grads).unwrap()))
            };
            let (ours, burns) = (run(true), run(false));
            for (what, a, b) in [("value", &ours.0, &burns.0), ("grad", &ours.1, &burns.1)] {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!((x - y).abs() <= 2e-6 * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
                }
            }
        }
        let y = softmax_last(Tensor::<1>::from_floats([0.0, NEG_INF, 1.0], &Device::flex()));
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap()[1], 0.0);
    }
}
