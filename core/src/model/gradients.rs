//! Reading a module's gradients back, for gradient checks: every parameter's gradient as a
//! flat `Vec<f32>`, in the module's visiting order (the same order for two modules of one
//! shape, so two runs' gradients can be compared element by element).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// The gradient of each float parameter of `module` that has one in `grads`, flattened.
pub fn parameter_gradients(module: &impl Module, grads: &GradientsParams) -> Vec<Vec<f32>> {
    let mut all = AllGrads { grads, out: Vec::new() };
    module.visit(&mut all);
    all.out
}

struct AllGrads<'a> {
    grads: &'a GradientsParams,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for AllGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.out.push(g.try_to_vec_as::<f32>().expect("a float gradient"));
        }
    }
}
