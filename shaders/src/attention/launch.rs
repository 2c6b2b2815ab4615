//! Host side of the flash-attention kernels on Burn's cubecl backend: tile size, launch
//! geometry, output allocation.

use super::kernel::{flash_backward_dkv_kernel, flash_backward_dq_kernel, flash_forward_kernel};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{CubeCount, CubeDim};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;

/// How the additive mask is laid out (see the kernel module).
#[derive(Debug, Clone, Copy)]
pub struct BiasLayout {
    /// Whether there is a mask at all.
    pub present: bool,
    /// Elements between batch entries (0: shared by the batch).
    pub batch_stride: usize,
    /// Elements between query rows (0: one row for every query).
    pub query_stride: usize,
}

/// Rows per tile (and units per cube): 32, or fewer when two `[rows, dim]` f32 tiles would not
/// fit the device's shared memory.
fn block_for(tensor: &CubeTensor, dim: usize) -> usize {
    let shared = tensor.client.properties().hardware.max_shared_memory_size;
    let units = tensor.client.properties().hardware.max_units_per_cube as usize;
    let mut block = 32usize.min(units.max(1));
    while block > 1 && 2 * block * dim * 4 + 3 * block * 4 > shared {
        block /= 2;
    }
    block
}

fn dims(q: &CubeTensor, k: &CubeTensor) -> (usize, usize, usize, usize, usize) {
    let [b, h, tq, d] = q.meta.shape().dims::<4>();
    let tk = k.meta.shape().dims::<4>()[2];
    (b, h, tq, tk, d)
}

/// The forward kernel: returns the packed `[B,H,Tq,D+2]` output.
pub fn forward(
    q: CubeTensor,
    k: CubeTensor,
    v: CubeTensor,
    bias: CubeTensor,
    layout: BiasLayout,
) -> CubeTensor {
    let (q, k, v, bias) =
        (into_contiguous(q), into_contiguous(k), into_contiguous(v), into_contiguous(bias));
    let (b, h, tq, _tk, d) = dims(&q, &k);
    let client = q.client.clone();
    let packed = empty_device_dtype(
        client.clone(),
        q.device.clone(),
        Shape::new([b, h, tq, d + 2]),
        DType::F32,
    );
    let block = block_for(&q, d);
    flash_forward_kernel::launch(
        &client,
        CubeCount::Static(tq.div_ceil(block) as u32, (b * h) as u32, 1),
        CubeDim::new_1d(block as u32),
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        bias.into_tensor_arg(),
        packed.clone().into_tensor_arg(),
        h as u32,
        layout.batch_stride as u32,
        layout.query_stride as u32,
        d,
        block,
        layout.present,
    );
    packed
}

/// The backward kernels: the gradients of `q`, `k` and `v` from the packed forward output and
/// its upstream gradient.
pub fn backward(
    q: CubeTensor,
    k: CubeTensor,
    v: CubeTensor,
    bias: CubeTensor,
    packed: CubeTensor,
    grad: CubeTensor,
    layout: BiasLayout,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let (q, k, v, bias) =
        (into_contiguous(q), into_contiguous(k), into_contiguous(v), into_contiguous(bias));
    let (packed, grad) = (into_contiguous(packed), into_contiguous(grad));
    let (b, h, tq, tk, d) = dims(&q, &k);
    let client = q.client.clone();
    let device = q.device.clone();
    let empty =
        |shape: Shape| empty_device_dtype(client.clone(), device.clone(), shape, DType::F32);
    let (dq, dk, dv) = (
        empty(q.meta.shape().clone()),
        empty(k.meta.shape().clone()),
        empty(v.meta.shape().clone()),
    );
    let delta = empty(Shape::new([b, h, tq]));
    let block = block_for(&q, d);
    flash_backward_dq_kernel::launch(
        &client,
        CubeCount::Static(tq.div_ceil(block) as u32, (b * h) as u32, 1),
        CubeDim::new_1d(block as u32),
        q.clone().into_tensor_arg(),
        k.clone().into_tensor_arg(),
        v.clone().into_tensor_arg(),
        bias.clone().into_tensor_arg(),
        packed.clone().into_tensor_arg(),
        grad.clone().into_tensor_arg(),
        dq.clone().into_tensor_arg(),
        delta.clone().into_tensor_arg(),
        h as u32,
        layout.batch_stride as u32,
        layout.query_stride as u32,
        d,
        block,
        layout.present,
    );
    flash_backward_dkv_kernel::launch(
        &client,
        CubeCount::Static(tk.div_ceil(block) as u32, (b * h) as u32, 1),
        CubeDim::new_1d(block as u32),
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        bias.into_tensor_arg(),
        packed.into_tensor_arg(),
        grad.into_tensor_arg(),
        delta.into_tensor_arg(),
        dk.clone().into_tensor_arg(),
        dv.clone().into_tensor_arg(),
        h as u32,
        layout.batch_stride as u32,
        layout.query_stride as u32,
        d,
        block,
        layout.present,
    );
    (dq, dk, dv)
}
