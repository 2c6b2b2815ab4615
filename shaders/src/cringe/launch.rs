//! Host side of the fused CRINGE kernels on Burn's cubecl backend: shapes, launch geometry,
//! output allocation.

use super::kernel::{col, cringe_rows_backward_kernel, cringe_rows_kernel};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;

/// Most units a forward cube uses (one cube per token row).
const MAX_THREADS: u32 = 256;

/// The forward kernel on cube tensors (all f32): `logits` `[N,V]`, `targets`, `signs`,
/// `draws` `[N]`; returns `[N, col::COUNT]`.
pub fn forward(
    logits: CubeTensor,
    targets: CubeTensor,
    signs: CubeTensor,
    draws: CubeTensor,
    top: usize,
) -> CubeTensor {
    let logits = into_contiguous(logits);
    let (targets, signs, draws) =
        (into_contiguous(targets), into_contiguous(signs), into_contiguous(draws));
    let [n, _v] = logits.meta.shape().dims::<2>();
    let client = logits.client.clone();
    let out = empty_device_dtype(
        client.clone(),
        logits.device.clone(),
        Shape::new([n, col::COUNT]),
        DType::F32,
    );
    let hw = client
        .properties()
        .hardware
        .max_units_per_cube
        .min(client.properties().hardware.max_cube_dim.0);
    // The tree reductions need a power of two.
    let threads = 1u32 << (31 - MAX_THREADS.min(hw).max(1).leading_zeros());
    cringe_rows_kernel::launch(
        &client,
        CubeCount::Static(n as u32, 1, 1),
        CubeDim::new_1d(threads),
        logits.into_tensor_arg(),
        targets.into_tensor_arg(),
        signs.into_tensor_arg(),
        draws.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        top,
        threads as usize,
    );
    out
}

/// The backward kernel: the gradient of the logits `[N,V]` from the forward output and its
/// upstream gradient (both `[N, col::COUNT]`).
pub fn backward(
    logits: CubeTensor,
    targets: CubeTensor,
    signs: CubeTensor,
    forward: CubeTensor,
    grads: CubeTensor,
    detach_candidate: bool,
) -> CubeTensor {
    let logits = into_contiguous(logits);
    let (targets, signs) = (into_contiguous(targets), into_contiguous(signs));
    let (forward, grads) = (into_contiguous(forward), into_contiguous(grads));
    let shape = logits.meta.shape().clone();
    let total = shape.num_elements();
    let client = logits.client.clone();
    let out = empty_device_dtype(client.clone(), logits.device.clone(), shape, DType::F32);
    let cube_dim = CubeDim::new(&client, total);
    let cube_count = calculate_cube_count_elemwise(&client, total, cube_dim);
    cringe_rows_backward_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        logits.into_tensor_arg(),
        targets.into_tensor_arg(),
        signs.into_tensor_arg(),
        forward.into_tensor_arg(),
        grads.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        detach_candidate,
    );
    out
}
