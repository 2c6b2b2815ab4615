//! Generator tests: incremental decoding equals the full forward, the start logit is never
//! produced, every variant runs, and model directories load back bit-identically.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::model::{Activation, Generator, GeneratorConfig, ModelDir, Variant};
use cringe_core::tokenizer::CringeTokenizer;

fn device() -> Device {
    let d = Device::flex();
    d.seed(42);
    d
}

fn ints(v: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn to_vec(t: Tensor<3>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

fn check_incremental_matches_full(cfg: &GeneratorConfig) {
    let dev = device();
    let model = Generator::new(cfg, &dev);
    // two contexts, the second padded
    let ctx = ints(vec![5, 6, 7, 8, 2, 9, 10, 2, 0, 0], [2, 5], &dev);
    let dec = ints(vec![1, 11, 12, 13, 14, 1, 15, 16, 17, 18], [2, 5], &dev);
    let full = to_vec(model.forward(ctx.clone(), dec.clone()));
    let v = cfg.vocab_size;

    let encoded = model.encode(ctx);
    let mut cache = model.start_decoding(&encoded);
    let dec_host: Vec<i64> = dec.try_to_vec_as::<i64>().unwrap();
    for t in 0..5 {
        let col = Tensor::<1, Int>::from_data(
            TensorData::new(vec![dec_host[t], dec_host[5 + t]], [2]),
            &dev,
        );
        let step: Vec<f32> = model.decode_step(col, &mut cache).try_to_vec_as::<f32>().unwrap();
        for b in 0..2 {
            for i in 0..v {
                let a = full[(b * 5 + t) * v + i];
                let s = step[b * v + i];
                if i == cfg.start_id {
                    assert!(a < -1e19 && s < -1e19, "start logit must be masked");
                    continue;
                }
                assert!(
                    (a - s).abs() <= 1e-4 * (1.0 + a.abs()),
                    "{:?} b{b} t{t} i{i}: full {a} step {s}",
                    cfg.variant
                );
            }
        }
    }
    assert_eq!(cache.position(), 5);
}

#[test]
fn incremental_decoding_matches_full_forward_for_every_variant() {
    for variant in [Variant::Prelayernorm, Variant::Aiayn, Variant::Xlm] {
        for learned in [true, false] {
            let mut cfg = GeneratorConfig::tiny(40);
            cfg.variant = variant;
            cfg.learn_positional_embeddings = learned;
            cfg.activation = if learned { Activation::Gelu } else { Activation::Relu };
            cfg.embeddings_scale = learned;
            check_incremental_matches_full(&cfg);
        }
    }
}

#[test]
fn reorder_selects_rows_of_the_cache() {
    let dev = device();
    let cfg = GeneratorConfig::tiny(30);
    let model = Generator::new(&cfg, &dev);
    let ctx = ints(vec![5, 6, 2, 9, 10, 2], [2, 3], &dev);
    let encoded = model.encode(ctx);
    let mut cache = model.start_decoding(&encoded);
    let first = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 1], [2]), &dev);
    model.decode_step(first, &mut cache);
    // swap the rows, then feed the same token: row 0 must now continue context 1
    cache.reorder(Tensor::from_data(TensorData::new(vec![1i64, 1], [2]), &dev));
    let next = Tensor::<1, Int>::from_data(TensorData::new(vec![7i64, 7], [2]), &dev);
    let out: Vec<f32> = model.decode_step(next, &mut cache).try_to_vec_as::<f32>().unwrap();
    let (a, b) = out.split_at(cfg.vocab_size);
    assert_eq!(a, b, "both rows now hold context 1's state");
    let dec = ints(vec![1, 7], [1, 2], &dev);
    let ctx1 = ints(vec![9, 10, 2], [1, 3], &dev);
    let full = to_vec(model.forward(ctx1, dec));
    for i in 0..cfg.vocab_size {
        if i != cfg.start_id {
            assert!((full[cfg.vocab_size + i] - a[i]).abs() < 1e-4);
        }
    }
}

#[test]
fn model_directory_round_trip_is_bit_identical() {
    let dev = device();
    let dir = tempfile::tempdir().unwrap();
    let corpus =
        ["a small corpus for a tiny tokenizer", "with a few repeated words words words"].repeat(10);
    let tok = CringeTokenizer::train(corpus.iter(), 290).unwrap();
    let cfg = GeneratorConfig::tiny(tok.vocab_size());
    let model = Generator::new(&cfg, &dev);
    let path = dir.path().join("m");
    ModelDir::save(&model, &tok, &path).unwrap();
    // saving again over an existing directory works and leaves no temp dirs behind
    ModelDir::save(&model, &tok, &path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let loaded = ModelDir::load(&path, &dev).unwrap();
    assert_eq!(loaded.model.config(), model.config());
    assert_eq!(loaded.tokenizer.to_json().unwrap(), tok.to_json().unwrap());
    let a = model.clone().into_record().into_bytes().unwrap();
    let b = loaded.model.clone().into_record().into_bytes().unwrap();
    assert_eq!(&a[..], &b[..], "weights differ after a round trip");
    let ctx = ints(vec![5, 6, 2], [1, 3], &dev);
    let dec = ints(vec![1, 8], [1, 2], &dev);
    let x = to_vec(model.forward(ctx.clone(), dec.clone()));
    let y = to_vec(loaded.model.forward(ctx, dec));
    assert!(x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()));
}

#[test]
fn loading_a_broken_directory_names_the_file() {
    let dev = device();
    let dir = tempfile::tempdir().unwrap();
    let err = ModelDir::load(&dir.path().join("nope"), &dev).err().unwrap().to_string();
    assert!(err.contains("not a model directory"), "{err}");
    std::fs::write(dir.path().join("config.json"), "{\"vocab_size\": 3}").unwrap();
    let err = ModelDir::load(dir.path(), &dev).err().unwrap().to_string();
    assert!(err.contains("config.json") && err.contains("missing field"), "{err}");
}

#[test]
fn num_params_counts_exactly_the_parameters_a_model_has() {
    // num_params is what a model directory's weights file is checked against before loading,
    // so it must never count more than the model really has
    let dev = device();
    for variant in [Variant::Aiayn, Variant::Xlm, Variant::Prelayernorm] {
        for learned in [false, true] {
            let cfg = GeneratorConfig {
                variant,
                learn_positional_embeddings: learned,
                ..GeneratorConfig::tiny(300)
            };
            let held = Generator::new(&cfg, &dev).num_params();
            // the sinusoidal position tables are stored too, but are not trained
            let fixed = if learned { 0 } else { 2 * cfg.n_positions * cfg.embedding_size };
            assert_eq!(held, cfg.num_params() + fixed, "{variant:?}, learned positions {learned}");
            let classifier = cringe_core::model::Classifier::new(
                &cringe_core::model::ClassifierConfig::safety(cfg.clone()),
                &dev,
            );
            let head = 2 * cfg.embedding_size + 2;
            let fixed = if learned { 0 } else { cfg.n_positions * cfg.embedding_size };
            assert_eq!(
                classifier.num_params(),
                cfg.encoder_num_params() + head + fixed,
                "classifier {variant:?}, learned positions {learned}"
            );
        }
    }
}
