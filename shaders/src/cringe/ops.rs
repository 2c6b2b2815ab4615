//! The fused CRINGE kernels as a Burn backend extension: dispatch from `Tensor`s to the cubecl
//! backend (and lazily through kernel fusion when it is on), and the autodiff rule that
//! routes the gradient of the forward output into the backward kernel.

use super::launch;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, backend_extension};
use burn_cubecl::CubeBackend;

/// The fused CRINGE operations a backend can run. All tensors are f32.
#[backend_extension(Cube, Autodiff, Fusion: cfg(feature = "fusion"))]
pub trait CringeKernelOps: Backend {
    /// Per token row of `logits` `[N,V]`: cross-entropy, contrastive term, sampled candidate,
    /// arg-max and log-sum-exp (`[N, col::COUNT]`, see [`super::col`]); `targets`, `signs` (+1 on negative
    /// tokens, −1 on positive ones) and `draws` (uniform numbers) are `[N]`; the candidate is
    /// drawn among the top `top` logits minus the target.
    #[fusion(dtype = logits, shape = burn::tensor::Shape::new([logits[0], super::kernel::col::COUNT]))]
    fn cringe_rows(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        draws: FloatTensor<Self>,
        top: usize,
        detach_candidate: bool,
    ) -> FloatTensor<Self>;

    /// The gradient of the logits given the forward output and its upstream gradient `grads`.
    #[fusion(dtype = logits, shape = logits)]
    fn cringe_rows_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        forward: FloatTensor<Self>,
        grads: FloatTensor<Self>,
        detach_candidate: bool,
    ) -> FloatTensor<Self>;
}

impl CringeKernelOps for CubeBackend {
    fn cringe_rows(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        draws: FloatTensor<Self>,
        top: usize,
        _detach_candidate: bool,
    ) -> FloatTensor<Self> {
        launch::forward(logits, targets, signs, draws, top)
    }

    fn cringe_rows_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        forward: FloatTensor<Self>,
        grads: FloatTensor<Self>,
        detach_candidate: bool,
    ) -> FloatTensor<Self> {
        launch::backward(logits, targets, signs, forward, grads, detach_candidate)
    }
}

/// What the backward step keeps from the forward pass.
type SavedRows<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, bool);

#[derive(Debug)]
struct CringeRowsBackward;

impl<B: Backend + CringeKernelOps> Backward<B, 1> for CringeRowsBackward {
    type State = SavedRows<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [logits_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (logits, targets, signs, forward, detach) = ops.state;
        if let Some(node) = logits_node {
            grads.register::<B>(
                node.id,
                B::cringe_rows_backward(logits, targets, signs, forward, grad, detach),
            );
        }
    }
}

impl<B: Backend + CringeKernelOps, C: CheckpointStrategy> CringeKernelOps for Autodiff<B, C> {
    fn cringe_rows(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        draws: FloatTensor<Self>,
        top: usize,
        detach_candidate: bool,
    ) -> FloatTensor<Self> {
        let (targets, signs, draws) =
            (targets.into_primitive(), signs.into_primitive(), draws.into_primitive());
        match CringeRowsBackward.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let x = logits.primitive().clone();
                let out = B::cringe_rows(
                    x.clone(),
                    targets.clone(),
                    signs.clone(),
                    draws,
                    top,
                    detach_candidate,
                );
                prep.finish((x, targets, signs, out.clone(), detach_candidate), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cringe_rows(
                logits.into_primitive(),
                targets,
                signs,
                draws,
                top,
                detach_candidate,
            )),
        }
    }

    fn cringe_rows_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        forward: FloatTensor<Self>,
        grads: FloatTensor<Self>,
        detach_candidate: bool,
    ) -> FloatTensor<Self> {
        // Only the backward pass calls this, on the inner backend; a second derivative of the
        // CRINGE loss is not supported.
        let out = B::cringe_rows_backward(
            logits.into_primitive(),
            targets.into_primitive(),
            signs.into_primitive(),
            forward.into_primitive(),
            grads.into_primitive(),
            detach_candidate,
        );
        <Self as AutodiffBackend>::from_inner(out)
    }
}
