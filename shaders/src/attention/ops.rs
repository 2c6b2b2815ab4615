//! Flash attention as a Burn backend extension: dispatch to the cubecl backend (lazily through
//! kernel fusion when it is on) and the autodiff rule that sends the upstream gradient through
//! the two backward kernels.

use super::launch::{self, BiasLayout};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, backend_extension};
use burn_cubecl::CubeBackend;

/// Flash attention on a backend. All tensors are f32; see the kernel module for the layouts.
#[backend_extension(Cube, Autodiff, Fusion: cfg(feature = "fusion"))]
pub trait FlashAttentionOps: Backend {
    /// `softmax(q·kᵀ + bias)·v`, packed with each row's softmax max and sum: `[B,H,Tq,D+2]`.
    /// `bias` is read only when `has_bias`, at `b·batch_stride + i·query_stride + j`.
    #[fusion(dtype = q, shape = burn::tensor::Shape::new([q[0], q[1], q[2], q[3] + 2]))]
    fn flash_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> FloatTensor<Self>;

    /// The gradients of `q`, `k` and `v` given the packed forward output and its gradient.
    #[fusion(meta = |q, k, v, _bias, _packed, _grad, _has_bias, _batch_stride, _query_stride| (q.clone(), k.clone(), v.clone()))]
    #[allow(clippy::too_many_arguments)]
    fn flash_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        packed: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn layout(present: bool, batch_stride: usize, query_stride: usize) -> BiasLayout {
    BiasLayout { present, batch_stride, query_stride }
}

impl FlashAttentionOps for CubeBackend {
    fn flash_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> FloatTensor<Self> {
        launch::forward(q, k, v, bias, layout(has_bias, batch_stride, query_stride))
    }

    fn flash_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        packed: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        launch::backward(q, k, v, bias, packed, grad, layout(has_bias, batch_stride, query_stride))
    }
}

/// What the backward step keeps: q, k, v, bias, the packed output, and the mask layout.
type Saved<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    (bool, usize, usize),
);

#[derive(Debug)]
struct FlashBackward;

impl<B: Backend + FlashAttentionOps> Backward<B, 3> for FlashBackward {
    type State = Saved<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_q, node_k, node_v] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (q, k, v, bias, packed, (has_bias, bs, qs)) = ops.state;
        let (dq, dk, dv) =
            B::flash_attention_backward(q, k, v, bias, packed, grad, has_bias, bs, qs);
        for (node, g) in [(node_q, dq), (node_k, dk), (node_v, dv)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

impl<B: Backend + FlashAttentionOps, C: CheckpointStrategy> FlashAttentionOps for Autodiff<B, C> {
    fn flash_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> FloatTensor<Self> {
        let bias = bias.into_primitive();
        match FlashBackward.prepare::<C>([q.node(), k.node(), v.node()]).compute_bound().stateful()
        {
            OpsKind::Tracked(prep) => {
                let (q, k, v) =
                    (q.primitive().clone(), k.primitive().clone(), v.primitive().clone());
                let packed = B::flash_attention(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    bias.clone(),
                    has_bias,
                    batch_stride,
                    query_stride,
                );
                prep.finish(
                    (q, k, v, bias, packed.clone(), (has_bias, batch_stride, query_stride)),
                    packed,
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(B::flash_attention(
                q.into_primitive(),
                k.into_primitive(),
                v.into_primitive(),
                bias,
                has_bias,
                batch_stride,
                query_stride,
            )),
        }
    }

    fn flash_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        packed: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        has_bias: bool,
        batch_stride: usize,
        query_stride: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // Only the backward pass calls this, on the inner backend; no second derivative.
        let (dq, dk, dv) = B::flash_attention_backward(
            q.into_primitive(),
            k.into_primitive(),
            v.into_primitive(),
            bias.into_primitive(),
            packed.into_primitive(),
            grad.into_primitive(),
            has_bias,
            batch_stride,
            query_stride,
        );
        (Self::from_inner(dq), Self::from_inner(dk), Self::from_inner(dv))
    }
}
