//! Hugging Face Blenderbot checkpoints: parity with `transformers` on the fixture that
//! `core/tests/reference/hf_blenderbot_fixture.py` builds (a tiny random `blenderbot` and
//! `blenderbot-small`), export round trips, and the errors a user can run into.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::decode::{Inference, SearchConfig, generate};
use cringe_core::hf;
use cringe_core::model::{Generator, GeneratorConfig, ModelDir, Variant};
use cringe_core::tokenizer::CringeTokenizer;
use serde_json::Value;
use std::path::{Path, PathBuf};

const ARCHS: [&str; 2] = ["blenderbot", "blenderbot_small"];

fn fixture(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_blenderbot").join(arch)
}

fn expected(arch: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(arch).join("expected.json")).unwrap())
        .unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn rows(v: &Value) -> Vec<Vec<u32>> {
    v.as_array().unwrap().iter().map(ids).collect()
}

/// `[B,T]` right-padded with `pad`.
fn padded(rows: &[Vec<u32>], pad: u32, device: &Device) -> Tensor<2, Int> {
    let t = rows.iter().map(Vec::len).max().unwrap();
    let mut v = vec![pad as i64; rows.len() * t];
    for (i, r) in rows.iter().enumerate() {
        for (j, &x) in r.iter().enumerate() {
            v[i * t + j] = x as i64;
        }
    }
    Tensor::from_data(TensorData::new(v, [rows.len(), t]), device)
}

/// Teacher-forced logits `[B,T,V]` of the fixture's inputs.
fn logits(md: &ModelDir, exp: &Value, device: &Device) -> (Vec<f32>, [usize; 3]) {
    let pad = exp["special"]["pad"].as_u64().unwrap() as u32;
    let ctx = padded(&rows(&exp["context_ids"]), pad, device);
    let dec = padded(&rows(&exp["decoder_input_ids"]), pad, device);
    let out = md.model.forward(ctx, dec);
    let dims = out.dims();
    (out.try_to_vec_as::<f32>().unwrap(), dims)
}

fn reference_logits(arch: &str) -> (Vec<f32>, Vec<usize>) {
    let bytes = std::fs::read(fixture(arch).join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("logits").unwrap();
    let v =
        t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    (v, t.shape().to_vec())
}

#[test]
fn logits_match_transformers_to_1e4_relative() {
    let dev = Device::flex();
    for arch in ARCHS {
        let exp = expected(arch);
        let md = hf::load(&fixture(arch), &dev).unwrap();
        let (ours, dims) = logits(&md, &exp, &dev);
        let (theirs, shape) = reference_logits(arch);
        assert_eq!(dims.to_vec(), shape, "{arch}");
        let [b, t, v] = dims;
        let start = exp["special"]["start"].as_u64().unwrap() as usize;
        let targets = rows(&exp["decoder_input_ids"]);
        let pad = exp["special"]["pad"].as_u64().unwrap() as u32;
        let (mut worst, mut scale, mut compared) = (0f32, 0f32, 0);
        for i in 0..b {
            // Positions after a row's end are padding: neither side defines them.
            let len = targets[i].iter().rposition(|&x| x != pad).unwrap() + 1;
            for j in 0..len.min(t) {
                for k in (0..v).filter(|&k| k != start) {
                    let (a, r) = (ours[(i * t + j) * v + k], theirs[(i * t + j) * v + k]);
                    worst = worst.max((a - r).abs());
                    scale = scale.max(r.abs());
                    compared += 1;
                }
                // The start token's logit is masked here (ParlAI never produces it).
                assert!(ours[(i * t + j) * v + start] < -1e19);
            }
        }
        println!("{arch}: {compared} logits, max |diff| {worst:.2e}, max |logit| {scale:.3}");
        assert!(compared > 1000, "{arch}: compared only {compared} logits");
        assert!(worst <= 1e-4 * scale, "{arch}: max |diff| {worst} vs max |logit| {scale}");
    }
}

#[test]
fn tokenizers_encode_like_transformers() {
    let dev = Device::flex();
    for arch in ARCHS {
        let exp = expected(arch);
        let md = hf::load(&fixture(arch), &dev).unwrap();
        let sp = md.tokenizer.special();
        let want = &exp["special"];
        assert_eq!(
            (sp.pad, sp.start, sp.end),
            (
                want["pad"].as_u64().unwrap() as u32,
                want["start"].as_u64().unwrap() as u32,
                want["end"].as_u64().unwrap() as u32,
            )
        );
        for (text, ids_hf) in
            exp["contexts"].as_array().unwrap().iter().zip(rows(&exp["context_ids"]))
        {
            let text = text.as_str().unwrap();
            let mut ours = md.tokenizer.encode(text).unwrap();
            if ids_hf.last() == Some(&sp.end) {
                ours.push(sp.end);
            }
            assert_eq!(ours, ids_hf, "{arch}: {text:?}");
        }
    }
}

fn search(exp: &Value, inference: Inference, beam_size: usize) -> SearchConfig {
    SearchConfig {
        inference,
        beam_size,
        min_length: 0,
        max_length: exp["max_new_tokens"].as_u64().unwrap() as usize,
        length_penalty: 0.0,
        ..SearchConfig::default()
    }
}

#[test]
fn greedy_and_beam_outputs_equal_transformers_generate() {
    let dev = Device::flex();
    for arch in ARCHS {
        let exp = expected(arch);
        let md = hf::load(&fixture(arch), &dev).unwrap();
        let inputs = rows(&exp["context_ids"]);
        let greedy =
            generate(&md.model, &inputs, &inputs, &search(&exp, Inference::Greedy, 1), &dev)
                .unwrap();
        let ours: Vec<Vec<u32>> = greedy.iter().map(|r| r.best().tokens.clone()).collect();
        assert_eq!(ours, rows(&exp["greedy"]), "{arch} greedy");
        let beam_size = exp["beam"]["beam_size"].as_u64().unwrap() as usize;
        // transformers' beam ran with the end token suppressed (see the fixture script).
        let cfg =
            SearchConfig { min_length: usize::MAX, ..search(&exp, Inference::Beam, beam_size) };
        let beam = generate(&md.model, &inputs, &inputs, &cfg, &dev).unwrap();
        let ours: Vec<Vec<u32>> = beam.iter().map(|r| r.best().tokens.clone()).collect();
        assert_eq!(ours, rows(&exp["beam"]["tokens"]), "{arch} beam");
    }
}

fn tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> =
        st.tensors().into_iter().map(|(n, t)| (n, t.shape().to_vec(), t.data().to_vec())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn export_writes_back_what_transformers_wrote() {
    let dev = Device::flex();
    for arch in ARCHS {
        let md = hf::load(&fixture(arch), &dev).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("export");
        assert_eq!(hf::export(&md.model, &md.tokenizer, &out).unwrap(), None);
        // Same tensors, names, shapes and bytes as the checkpoint transformers saved.
        assert_eq!(
            tensors(&out.join("model.safetensors")),
            tensors(&fixture(arch).join("model.safetensors")),
            "{arch}"
        );
        // The config fields that shape the model agree.
        let read = |p: PathBuf| -> Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let (ours, theirs) =
            (read(out.join("config.json")), read(fixture(arch).join("config.json")));
        for key in [
            "model_type",
            "vocab_size",
            "d_model",
            "encoder_layers",
            "decoder_layers",
            "encoder_attention_heads",
            "encoder_ffn_dim",
            "max_position_embeddings",
            "activation_function",
            "scale_embedding",
            "pad_token_id",
            "eos_token_id",
            "decoder_start_token_id",
            "tie_word_embeddings",
        ] {
            assert_eq!(ours[key], theirs[key], "{arch}: config.json {key}");
        }
        // And it loads back to the same model and tokenizer.
        let back = hf::load(&out, &dev).unwrap();
        let exp = expected(arch);
        assert_eq!(logits(&back, &exp, &dev), logits(&md, &exp, &dev), "{arch}");
        for text in exp["contexts"].as_array().unwrap() {
            let text = text.as_str().unwrap();
            assert_eq!(back.tokenizer.encode(text).unwrap(), md.tokenizer.encode(text).unwrap());
        }
        assert_eq!(back.tokenizer.special(), md.tokenizer.special());
    }
}

#[test]
fn models_trained_here_round_trip_through_the_hf_layout() {
    let dev = Device::flex();
    dev.seed(3);
    let texts =
        ["hello there how are you", "i am fine, thanks! and you?", "what do you like to do?"];
    let tokenizer = CringeTokenizer::train(texts.iter().cycle().take(60).copied(), 300).unwrap();
    for variant in [Variant::Prelayernorm, Variant::Xlm] {
        for learned in [true, false] {
            let sp = tokenizer.special();
            let cfg = GeneratorConfig {
                variant,
                learn_positional_embeddings: learned,
                decoder_embeddings_scale: variant == Variant::Prelayernorm,
                vocab_size: tokenizer.vocab_size(),
                pad_id: sp.pad as usize,
                start_id: sp.start as usize,
                end_id: sp.end as usize,
                ..GeneratorConfig::tiny(tokenizer.vocab_size())
            };
            let model = Generator::new(&cfg, &dev);
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("hf");
            assert_eq!(hf::export(&model, &tokenizer, &dir).unwrap(), None);
            let back = hf::load_model(Path::new(&format!("hf:{}", dir.display())), &dev).unwrap();
            let ctx = padded(
                &[tokenizer.encode(texts[0]).unwrap(), tokenizer.encode(texts[1]).unwrap()],
                sp.pad,
                &dev,
            );
            let dec =
                padded(&[vec![sp.start, 9, 10, 11], vec![sp.start, 12, 13, 14]], sp.pad, &dev);
            let a = model.forward(ctx.clone(), dec.clone()).try_to_vec_as::<f32>().unwrap();
            let b = back.model.forward(ctx, dec).try_to_vec_as::<f32>().unwrap();
            let worst = a
                .iter()
                .zip(&b)
                .filter(|(x, _)| **x > -1e19)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-5, "{variant:?} learned={learned}: {worst}");
            assert_eq!(back.tokenizer.special(), tokenizer.special());
            assert_eq!(
                back.tokenizer.encode(texts[2]).unwrap(),
                tokenizer.encode(texts[2]).unwrap()
            );
        }
    }
    // A ParlAI-style xlm model (decoder embeddings scaled) exports with a caveat.
    let cfg =
        GeneratorConfig { variant: Variant::Xlm, ..GeneratorConfig::tiny(tokenizer.vocab_size()) };
    let tmp = tempfile::tempdir().unwrap();
    let caveat =
        hf::export(&Generator::new(&cfg, &dev), &tokenizer, &tmp.path().join("x")).unwrap();
    assert!(caveat.unwrap().contains("does not scale the decoder's token embeddings"));
}

/// A copy of a fixture directory to break.
fn broken_copy(arch: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(arch)).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    tmp
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, v.to_string()).unwrap();
}

fn load_error(dir: &Path) -> String {
    match hf::load(dir, &Device::flex()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_checkpoints_get_errors_that_say_what_is_wrong() {
    // Another architecture.
    let d = broken_copy("blenderbot");
    edit_config(d.path(), |v| v["model_type"] = "bart".into());
    let err = load_error(d.path());
    assert!(
        err.contains("config.json") && err.contains("\"bart\" is not a Blenderbot checkpoint"),
        "{err}"
    );

    // A blenderbot-small checkpoint that claims to be blenderbot: its tensors do not fit.
    let d = broken_copy("blenderbot_small");
    edit_config(d.path(), |v| v["model_type"] = "blenderbot".into());
    let err = load_error(d.path());
    assert!(
        err.contains("model.safetensors") && err.contains("`model.encoder.layer_norm.weight`"),
        "{err}"
    );

    // Missing weights; missing tokenizer; missing config.
    let d = broken_copy("blenderbot");
    std::fs::remove_file(d.path().join("model.safetensors")).unwrap();
    let err = load_error(d.path());
    assert!(err.contains("has no model.safetensors"), "{err}");
    let d = broken_copy("blenderbot_small");
    std::fs::remove_file(d.path().join("merges.txt")).unwrap();
    let err = load_error(d.path());
    assert!(err.contains("has no tokenizer"), "{err}");
    let d = broken_copy("blenderbot");
    std::fs::remove_file(d.path().join("config.json")).unwrap();
    assert!(load_error(d.path()).contains("has no config.json"));

    // Shapes that disagree with config.json name the tensor.
    let d = broken_copy("blenderbot");
    edit_config(d.path(), |v| v["encoder_ffn_dim"] = 48.into());
    edit_config(d.path(), |v| v["decoder_ffn_dim"] = 48.into());
    let err = load_error(d.path());
    assert!(err.contains("`model.encoder.layers.0.fc1.weight` has shape [64, 32] but config.json implies [48, 32]"), "{err}");
}

#[test]
fn byte_level_tokenizer_rebuilt_from_vocab_and_merges_encodes_the_same() {
    // Older checkpoints ship vocab.json + merges.txt instead of tokenizer.json.
    let d = broken_copy("blenderbot");
    let tj: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("tokenizer.json")).unwrap())
            .unwrap();
    std::fs::write(d.path().join("vocab.json"), tj["model"]["vocab"].to_string()).unwrap();
    let merges: Vec<String> = tj["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            Value::Array(p) => format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap()),
            other => other.as_str().unwrap().to_string(),
        })
        .collect();
    std::fs::write(d.path().join("merges.txt"), format!("#version: 0.2\n{}\n", merges.join("\n")))
        .unwrap();
    std::fs::remove_file(d.path().join("tokenizer.json")).unwrap();
    let dev = Device::flex();
    let rebuilt = hf::load(d.path(), &dev).unwrap().tokenizer;
    let original = hf::load(&fixture("blenderbot"), &dev).unwrap().tokenizer;
    for text in
        ["Hello, how are you doing today?", "  two  spaces\nand a newline", "émoji 🙂 <s> </s> ok"]
    {
        assert_eq!(rebuilt.encode(text).unwrap(), original.encode(text).unwrap(), "{text:?}");
        let ids = original.encode(text).unwrap();
        assert_eq!(rebuilt.decode(&ids).unwrap(), original.decode(&ids).unwrap());
    }
    assert_eq!(rebuilt.special(), original.special());
}

#[test]
fn sharded_and_half_precision_checkpoints_load() {
    use safetensors::tensor::{Dtype, TensorView};
    let dev = Device::flex();
    let exp = expected("blenderbot");
    let reference = logits(&hf::load(&fixture("blenderbot"), &dev).unwrap(), &exp, &dev).0;
    let all = tensors(&fixture("blenderbot").join("model.safetensors"));
    for half in [None, Some(Dtype::F16), Some(Dtype::BF16)] {
        let d = broken_copy("blenderbot");
        std::fs::remove_file(d.path().join("model.safetensors")).unwrap();
        // Two shards: decoder tensors in the second, in half precision when asked.
        let (dec, rest): (Vec<_>, Vec<_>) =
            all.iter().cloned().partition(|(n, _, _)| n.starts_with("model.decoder."));
        let mut weight_map = serde_json::Map::new();
        for (file, part, dtype) in [
            ("a.safetensors", rest, Dtype::F32),
            ("b.safetensors", dec, half.unwrap_or(Dtype::F32)),
        ] {
            let data: Vec<(String, Vec<usize>, Vec<u8>)> = part
                .into_iter()
                .map(|(n, s, bytes)| {
                    let f =
                        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                    let out: Vec<u8> = match dtype {
                        Dtype::F16 => {
                            f.flat_map(|x| half::f16::from_f32(x).to_le_bytes()).collect()
                        }
                        Dtype::BF16 => {
                            f.flat_map(|x| half::bf16::from_f32(x).to_le_bytes()).collect()
                        }
                        _ => bytes,
                    };
                    (n, s, out)
                })
                .collect();
            let views: Vec<_> = data
                .iter()
                .map(|(n, s, b)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()))
                .collect();
            std::fs::write(d.path().join(file), safetensors::serialize(views, None).unwrap())
                .unwrap();
            for (n, _, _) in &data {
                weight_map.insert(n.clone(), file.into());
            }
        }
        let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
        std::fs::write(d.path().join("model.safetensors.index.json"), index.to_string()).unwrap();
        let ours = logits(&hf::load(d.path(), &dev).unwrap(), &exp, &dev).0;
        let worst = ours
            .iter()
            .zip(&reference)
            .filter(|(a, _)| **a > -1e19)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Rounding the decoder to 11 (f16) or 8 (bf16) significant bits moves logits of size ~1
        // by about 1e-2 or 1e-1; a misread tensor would move them by far more.
        let tolerance = match half {
            None => 0.0,
            Some(Dtype::F16) => 3e-2,
            _ => 0.2,
        };
        assert!(worst <= tolerance, "{half:?}: {worst}");
    }
}
