//! Parameter ids across a checkpoint: the optimizer's state (Adam's moments) is keyed by
//! each parameter's id, so a resumed model must carry the ids it had when the state was saved.
//! Burn's own weight files keep them; a causal LM's checkpoint is a Hugging Face directory
//! (safetensors, no ids), so the trainer state lists them in module order and a resume puts
//! them back.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// The ids of `model`'s float parameters, in module order.
pub fn param_ids<M: Module>(model: &M) -> Vec<u64> {
    struct Ids(Vec<u64>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id.val());
        }
    }
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    ids.0
}

/// `model` with its float parameters' ids set to `ids` (module order, as [`param_ids`] lists
/// them); a list of another length means another model.
pub fn with_param_ids<M: Module>(model: M, ids: &[u64]) -> anyhow::Result<M> {
    let have = param_ids(&model).len();
    anyhow::ensure!(
        have == ids.len(),
        "the checkpoint lists {} parameters but the model has {have}",
        ids.len()
    );
    struct Rekey<'a> {
        ids: &'a [u64],
        next: usize,
    }
    impl ModuleMapper for Rekey<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (_, value, mapper) = param.consume();
            let id = ParamId::from(self.ids[self.next]);
            self.next += 1;
            Param::from_mapped_value(id, value, mapper)
        }
    }
    Ok(model.map(&mut Rekey { ids, next: 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    #[test]
    fn ids_put_back_on_a_fresh_model_are_the_saved_ones() {
        let device = Device::flex();
        let saved = param_ids(&LinearConfig::new(3, 2).init(&device));
        let fresh = LinearConfig::new(3, 2).init(&device);
        assert_ne!(param_ids(&fresh), saved);
        let rekeyed = with_param_ids(fresh, &saved).unwrap();
        assert_eq!(param_ids(&rekeyed), saved);
        let e = with_param_ids(rekeyed, &saved[..1]).unwrap_err().to_string();
        assert!(e.contains("lists 1 parameters but the model has 2"), "{e}");
    }
}
