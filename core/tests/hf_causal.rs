//! Causal LMs against `transformers` (fixture: `core/tests/reference/hf_causal_fixture.py`):
//! tiny random Llama, Qwen2 and Qwen3 checkpoints load, and their logits, greedy outputs
//! (one prompt at a time and left-padded batches) and packed rows match; export round trips;
//! bad checkpoints are refused with the file and tensor named. Sequence classifiers on the
//! Llama and Qwen2 backbones (fixture: `core/tests/reference/hf_classifier_fixture.py`) give
//! `transformers`' class logits. Tokenizers and chat templates of two model layouts (fixture:
//! `core/tests/reference/hf_causal_tokenizer_fixture.py`) give its ids and rendered text.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::hf::causal::{config_json, load_model, parse_config, write_safetensors};
use cringe_core::model::Packing;
use cringe_core::model::causal::{CausalLm, Family, RopeScaling};
use serde_json::Value;
use std::path::{Path, PathBuf};

const FAMILIES: [&str; 3] = ["llama", "qwen2", "qwen3"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_causal").join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
        .collect()
}

/// The reference logits of sequence `i`, `[T·V]`.
fn reference_logits(name: &str, i: usize) -> Vec<f32> {
    let bytes = std::fs::read(fixture(name).join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(&format!("logits_{i}")).unwrap();
    t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn tokens(rows: &[Vec<u32>], dev: &Device) -> Tensor<2, Int> {
    let width = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), width]), dev)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Largest difference relative to the largest reference magnitude.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
    got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max) / scale
}

/// Greedy continuation of left-padded `prompts` through the cache.
fn greedy(model: &CausalLm, prompts: &[Vec<u32>], n: usize, dev: &Device) -> Vec<Vec<u32>> {
    let width = prompts.iter().map(Vec::len).max().unwrap();
    let pads: Vec<usize> = prompts.iter().map(|p| width - p.len()).collect();
    let padded: Vec<Vec<u32>> =
        prompts.iter().map(|p| [vec![0; width - p.len()], p.clone()].concat()).collect();
    let mut cache = model.start_cache(pads);
    let mut logits = model.extend(tokens(&padded, dev), &mut cache);
    let mut out = vec![Vec::new(); prompts.len()];
    for _ in 0..n {
        let next: Vec<u32> = values(logits.argmax(1).float()).iter().map(|&x| x as u32).collect();
        for (o, &t) in out.iter_mut().zip(&next) {
            o.push(t);
        }
        let col: Vec<Vec<u32>> = next.iter().map(|&t| vec![t]).collect();
        logits = model.extend(tokens(&col, dev), &mut cache);
    }
    out
}

#[test]
fn logits_of_every_family_match_transformers() {
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        for (i, seq) in ids(&expected(name)["sequences"]).iter().enumerate() {
            let got = values(model.forward(tokens(std::slice::from_ref(seq), &dev)));
            let err = relative_error(&got, &reference_logits(name, i));
            eprintln!(
                "{name} sequence {i}: largest logit difference {err:.2e} of the largest logit"
            );
            assert!(err < 1e-4, "{name} sequence {i}: logits off by {err} of the largest");
        }
    }
}

#[test]
fn greedy_outputs_match_transformers_alone_and_left_padded_in_a_batch() {
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        let exp = expected(name);
        let prompts = ids(&exp["prompts"]);
        for (p, want) in prompts.iter().zip(ids(&exp["greedy"])) {
            let got = greedy(&model, std::slice::from_ref(p), want.len(), &dev);
            assert_eq!(got[0], want, "{name}: greedy continuation of {p:?}");
        }
        let want = ids(&exp["greedy_batched"]);
        assert_eq!(greedy(&model, &prompts, want[0].len(), &dev), want, "{name}: batched");
    }
}

#[test]
fn packed_rows_equal_each_sequence_alone() {
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        let seqs = ids(&expected(name)["sequences"]);
        let width = seqs.iter().map(Vec::len).max().unwrap();
        let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let padded: Vec<Vec<u32>> =
            seqs.iter().map(|s| [s.clone(), vec![0; width - s.len()]].concat()).collect();
        let rows = Packing::from_lengths(&lengths, width, &dev);
        let got = values(model.forward_rows(tokens(&padded, &dev), &rows));
        let v = model.config().vocab_size;
        let mut offset = 0;
        for (i, s) in seqs.iter().enumerate() {
            let alone = values(model.forward(tokens(std::slice::from_ref(s), &dev)));
            let part = &got[offset * v..(offset + s.len()) * v];
            assert!(relative_error(part, &alone) < 1e-5, "{name}: sequence {i} packed");
            offset += s.len();
        }
    }
}

#[test]
fn the_trainers_target_logits_are_transformers_logits_at_the_positions_before_each_target() {
    use cringe_core::data::{CausalBatch, EncodedExample, Label};
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        let seqs = ids(&expected(name)["sequences"]);
        // each sequence as a prompt (its first third, at least one token) and a target
        let items: Vec<EncodedExample> = seqs
            .iter()
            .map(|s| {
                let p = (s.len() / 3).max(1);
                EncodedExample {
                    context: s[..p].to_vec(),
                    target: s[p..].to_vec(),
                    label: Label::Pos,
                    rejected: None,
                }
            })
            .collect();
        let batch = CausalBatch::collate(&items, &dev);
        let rows = batch.input_rows(&dev);
        let got = values(model.forward_picked(batch.tokens, &rows, batch.picks));
        let v = model.config().vocab_size;
        let mut offset = 0;
        for (i, e) in items.iter().enumerate() {
            let full = reference_logits(name, i);
            // positions p−1 … len−2 predict the target tokens
            let want = &full[(e.context.len() - 1) * v..(e.context.len() + e.target.len() - 1) * v];
            let part = &got[offset * v..(offset + e.target.len()) * v];
            assert!(relative_error(part, want) < 1e-4, "{name}: sequence {i}'s target logits");
            offset += e.target.len();
        }
        assert_eq!(offset * v, got.len());
    }
}

#[test]
fn configs_read_each_family_switch_and_the_generation_configs_end_tokens() {
    let dev = Device::flex();
    let cfg = |name| load_model(&fixture(name), &dev).unwrap().config().clone();
    let (llama, qwen2, qwen3) = (cfg("llama"), cfg("qwen2"), cfg("qwen3"));
    assert_eq!(
        (llama.family, qwen2.family, qwen3.family),
        (Family::Llama, Family::Qwen2, Family::Qwen3)
    );
    assert!(matches!(llama.rope_scaling, Some(RopeScaling::Llama3 { factor: 4.0, .. })));
    assert_eq!(
        (llama.num_key_value_heads, llama.tie_word_embeddings, llama.qkv_bias),
        (2, false, false)
    );
    assert_eq!(
        (qwen2.num_key_value_heads, qwen2.tie_word_embeddings, qwen2.qkv_bias),
        (1, true, true)
    );
    assert_eq!((qwen3.head_dim, qwen3.qk_norm, qwen3.qkv_bias), (12, true, false));
    for c in [&llama, &qwen2, &qwen3] {
        assert_eq!(c.eos_token_ids, vec![2, 5], "config.json's 2 and generation_config's [2, 5]");
    }
}

#[test]
fn an_exported_checkpoint_loads_back_with_identical_logits() {
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::to_string_pretty(&config_json(model.config())).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let mut file = std::fs::File::create(dir.path().join("model.safetensors")).unwrap();
        write_safetensors(&model, &mut file).unwrap();
        drop(file);
        let back = load_model(dir.path(), &dev).unwrap();
        assert_eq!(back.config(), model.config(), "{name}: config round trip");
        let seq = vec![ids(&expected(name)["sequences"])[1].clone()];
        assert_eq!(
            values(back.forward(tokens(&seq, &dev))),
            values(model.forward(tokens(&seq, &dev)))
        );
    }
}

/// A copy of the llama fixture with `edit` applied to its config and weights.
fn broken_llama(
    edit: impl FnOnce(&mut Value, &mut Vec<(String, Vec<usize>, Vec<f32>)>),
) -> tempfile::TempDir {
    let src = fixture("llama");
    let dir = tempfile::tempdir().unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| {
            let v = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            (n, t.shape().to_vec(), v.collect())
        })
        .collect();
    edit(&mut config, &mut tensors);
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let data: &[u8] = bytemuck_f32(v);
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), data)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.path().join("model.safetensors")).unwrap();
    dir
}

fn bytemuck_f32(v: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding or invalid bit patterns, and u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn load_error(dir: &tempfile::TempDir) -> String {
    load_model(dir.path(), &Device::flex()).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn bad_checkpoints_are_refused_naming_the_file_and_tensor() {
    let wrong_shape = broken_llama(|_, t| {
        let q =
            t.iter_mut().find(|(n, _, _)| n == "model.layers.1.self_attn.q_proj.weight").unwrap();
        q.1 = vec![16, 64];
    });
    let e = load_error(&wrong_shape);
    assert!(
        e.contains("model.safetensors")
            && e.contains("model.layers.1.self_attn.q_proj.weight")
            && e.contains("[32, 32]"),
        "{e}"
    );

    let missing = broken_llama(|_, t| t.retain(|(n, _, _)| n != "model.norm.weight"));
    let e = load_error(&missing);
    assert!(e.contains("has no tensor `model.norm.weight`"), "{e}");

    let extra = broken_llama(|_, t| {
        t.push(("model.layers.0.mlp.extra.weight".into(), vec![2], vec![0.0, 1.0]))
    });
    let e = load_error(&extra);
    assert!(e.contains("`model.layers.0.mlp.extra.weight` has no place in a llama model"), "{e}");

    let other = broken_llama(|c, _| c["model_type"] = "mistral".into());
    let e = load_error(&other);
    assert!(e.contains("config.json") && e.contains("\"mistral\""), "{e}");

    let rope = broken_llama(|c, _| c["rope_parameters"]["rope_type"] = "yarn".into());
    let e = load_error(&rope);
    assert!(e.contains("`rope_parameters.rope_type` \"yarn\" is not supported"), "{e}");
}

#[test]
fn configs_without_optional_fields_take_the_families_defaults() {
    let base = r#"{"model_type": "%", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
        "num_hidden_layers": 1, "num_attention_heads": 2}"#;
    let llama = parse_config(&base.replace('%', "llama")).unwrap();
    assert_eq!((llama.num_key_value_heads, llama.head_dim, llama.rope_theta), (2, 4, 10_000.0));
    assert_eq!((llama.max_position_embeddings, llama.rms_norm_eps), (2048, 1e-6));
    let qwen3 = parse_config(&base.replace('%', "qwen3")).unwrap();
    assert_eq!((qwen3.head_dim, qwen3.qk_norm), (128, true));
    let newer = parse_config(&base.replace('%', "llama").replace(
        "\"num_attention_heads\": 2",
        "\"num_attention_heads\": 2, \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}",
    ))
    .unwrap();
    assert_eq!((newer.rope_theta, newer.rope_scaling), (500_000.0, None));
    let e =
        parse_config(&base.replace('%', "llama").replace("\"vocab_size\": 10,", "")).unwrap_err();
    assert_eq!(e, "field `vocab_size` is missing");
}

#[test]
fn greedy_search_through_the_causal_scorer_equals_transformers() {
    use cringe_core::decode::{CausalScorer, Inference, SearchConfig, search};
    let dev = Device::flex();
    for name in FAMILIES {
        let model = load_model(&fixture(name), &dev).unwrap();
        let exp = expected(name);
        let (prompts, want) = (ids(&exp["prompts"]), ids(&exp["greedy_batched"]));
        // an end token the reference never produced, so both run the full length
        let end = (0..96).find(|t| !want.iter().flatten().any(|w| w == t)).unwrap();
        let cfg = SearchConfig {
            inference: Inference::Greedy,
            min_length: 0,
            max_length: want[0].len(),
            ..SearchConfig::default()
        };
        let mut scorer = CausalScorer::new(&model, &prompts, 1, &dev).unwrap();
        let out = search(&mut scorer, &prompts, 0, end, &cfg).unwrap();
        let got: Vec<Vec<u32>> = out.iter().map(|r| r.best().tokens.clone()).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// Class logits `[B·C]` of `rows` under the classifier fixture `name` (its sequences in one
/// call: each row pooled at its own last token).
fn classifier_logits(
    model: &cringe_core::model::causal::CausalClassifier,
    rows: &[Vec<u32>],
    dev: &Device,
) -> Vec<f32> {
    values(model.forward(rows, 128, dev).unwrap())
}

#[test]
fn sequence_classifiers_match_transformers_alone_and_in_a_padded_batch_and_export_round_trips() {
    use cringe_core::hf::causal_classifier::{classifier_config_json, load_classifier};
    let dev = Device::flex();
    for name in ["llama_classifier", "qwen2_classifier"] {
        let model = load_classifier(&fixture(name), &dev).unwrap();
        assert_eq!(model.classes(), ["pos", "neg"], "{name}: id2label");
        let want = expected(name);
        let seqs = ids(&want["sequences"]);
        let flat = |v: &Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap())
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        let alone: Vec<f32> = seqs
            .iter()
            .flat_map(|s| classifier_logits(&model, std::slice::from_ref(s), &dev))
            .collect();
        assert!(relative_error(&alone, &flat(&want["logits"])) < 1e-4, "{name}: one at a time");
        let batched = classifier_logits(&model, &seqs, &dev);
        assert!(relative_error(&batched, &flat(&want["logits_batched"])) < 1e-4, "{name}: batch");

        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::to_string_pretty(&classifier_config_json(&model)).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let mut file = std::fs::File::create(dir.path().join("model.safetensors")).unwrap();
        cringe_core::hf::causal_classifier::write_safetensors(&model, &mut file).unwrap();
        drop(file);
        let back = load_classifier(dir.path(), &dev).unwrap();
        assert_eq!(classifier_logits(&back, &seqs, &dev), batched, "{name}: export round trip");
        // a classifier directory is no language model, and the language model no classifier
        assert!(load_model(&fixture(name), &dev).is_err());
        let e = load_classifier(&fixture("llama"), &dev).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("not a sequence classifier"), "{e}");
    }
}

/// A tokenizer fixture of `core/tests/reference/hf_causal_tokenizer_fixture.py` and what
/// `transformers` made of it.
fn tokenizer_fixture(name: &str) -> (PathBuf, Value) {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_causal_tokenizer").join(name);
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    (dir, serde_json::from_str(&text).unwrap())
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn hf_tokenizers_and_chat_templates_give_transformers_ids_and_text() {
    use cringe_core::chat::Message;
    use cringe_core::model::causal::CausalConfig;
    for name in ["qwen2", "llama3"] {
        let (dir, want) = tokenizer_fixture(name);
        let (tok, template) =
            cringe_core::pretrained::hf_tokenizer(&dir, &CausalConfig::tiny(420)).unwrap();
        let template = template.unwrap_or_else(|| panic!("{name}: chat_template.jinja not read"));
        assert_eq!(tok.get_vocab_size(true) as u64, want["vocab_size"].as_u64().unwrap());
        assert_eq!(
            template.special_tokens(),
            (want["bos_token"].as_str(), want["eos_token"].as_str()),
            "{name}: the template's special tokens are tokenizer_config.json's"
        );
        for (text, ids) in want["probes"].as_object().unwrap() {
            let got = tok.encode(text.as_str(), false).unwrap().get_ids().to_vec();
            assert_eq!(got, u32s(ids), "{name}: {text:?}");
        }
        for (text, ids) in want["with_special_tokens"].as_object().unwrap() {
            let got = tok.encode(text.as_str(), true).unwrap().get_ids().to_vec();
            assert_eq!(got, u32s(ids), "{name}, special tokens added: {text:?}");
        }
        for chat in want["chats"].as_array().unwrap() {
            let messages: Vec<Message> = serde_json::from_value(chat["messages"].clone()).unwrap();
            let generation = chat["add_generation_prompt"].as_bool().unwrap();
            let text = template.render(&messages, generation).unwrap();
            assert_eq!(text, chat["text"].as_str().unwrap(), "{name}: {messages:?}, {generation}");
            let ids = tok.encode(text.as_str(), false).unwrap().get_ids().to_vec();
            assert_eq!(ids, u32s(&chat["ids"]), "{name}: ids of {messages:?}, {generation}");
        }
    }
}

#[test]
fn the_chat_template_file_wins_over_tokenizer_config_and_the_config_template_is_read_without_it() {
    use cringe_core::chat::Message;
    use cringe_core::model::causal::CausalConfig;
    let (fixture_dir, want) = tokenizer_fixture("qwen2");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"] {
        std::fs::copy(fixture_dir.join(f), tmp.path().join(f)).unwrap();
    }
    let jinja = std::fs::read_to_string(tmp.path().join("chat_template.jinja")).unwrap();
    let config_path = tmp.path().join("tokenizer_config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["chat_template"] = Value::from("{{ 'the config template' }}");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let render = |dir: &Path| {
        let (_, t) = cringe_core::pretrained::hf_tokenizer(dir, &CausalConfig::tiny(420)).unwrap();
        t.unwrap().render(&[Message::new("user", "Hi there!")], false).unwrap()
    };
    assert_eq!(render(tmp.path()), want["chats"][0]["text"].as_str().unwrap());
    std::fs::remove_file(tmp.path().join("chat_template.jinja")).unwrap();
    assert_eq!(render(tmp.path()), "the config template");
    config["chat_template"] = Value::from(jinja);
    config["eos_token"] = serde_json::json!({"content": "<|im_end|>", "special": true});
    std::fs::write(&config_path, config.to_string()).unwrap();
    assert_eq!(render(tmp.path()), want["chats"][0]["text"].as_str().unwrap());
    config["eos_token"] = Value::from(7);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let err = cringe_core::pretrained::hf_tokenizer(tmp.path(), &CausalConfig::tiny(420))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer_config.json") && err.contains("eos_token"), "{err}");
}

#[test]
fn a_template_that_raises_is_an_error_carrying_its_message() {
    use cringe_core::chat::Message;
    use cringe_core::model::causal::CausalConfig;
    let (dir, _) = tokenizer_fixture("llama3");
    let (_, t) = cringe_core::pretrained::hf_tokenizer(&dir, &CausalConfig::tiny(420)).unwrap();
    let twice = [Message::new("user", "a"), Message::new("user", "b")];
    let err = t.unwrap().render(&twice, true).unwrap_err().to_string();
    assert!(err.contains("Conversation roles must alternate"), "{err}");
}
