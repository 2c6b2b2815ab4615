#!/usr/bin/env python3
"""Tokenizer and chat-template fixtures for Hugging Face causal-LM directories, as
`transformers` reads them: two tiny byte-level BPE tokenizers laid out like today's chat
models' (Qwen2's: NFC normaliser, regex split with a look-ahead, ChatML special tokens, no
BOS; Llama 3's: digit runs of at most 3, `<|begin_of_text|>` added by the post-processor,
header and end-of-turn tokens), each with a `tokenizer_config.json` carrying special tokens
and a chat template written here in the style of those families' (a default system message;
`bos_token`, slicing, `trim`, `raise_exception`).

For each it writes what `AutoTokenizer` gives: ids of varied probe text (digits, whitespace
runs, CJK, emoji, chat markup) without special tokens, and `apply_chat_template` of several
conversations (with and without a system message, with and without the generation prompt),
as text and as ids. core/tests/hf_causal.rs must reproduce all of it.

Usage: /tmp/tvenv/bin/python core/tests/reference/hf_causal_tokenizer_fixture.py
(needs transformers; run with transformers 5.24.0, tokenizers 0.22).
"""
import json
import pathlib
import shutil

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "hf_causal_tokenizer"

QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

QWEN2_TEMPLATE = """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- set rest = messages[1:] %}
{%- else %}
    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- set rest = messages %}
{%- endif %}
{%- for message in rest %}
    {%- if message.role not in ['user', 'assistant'] %}
        {{- raise_exception('Only user and assistant turns may follow the system message') }}
    {%- endif %}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

LLAMA3_TEMPLATE = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{%- if system_message %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" + system_message + "<|eot_id|>" }}
{%- endif %}
{%- for message in messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

CORPUS = [
    "Hello! How are you doing today? I'm fine, thanks.",
    "The year 2024 had 366 days; 1234567 is a big number.",
    "Do you have any pets?\nI have two cats and a dog.\n\nThat's great!",
    "東京は日本の首都です。北京是中国的首都。",
    "naïve café résumé — emoji 🙂🎉 and tabs\tand    spaces",
    "def f(x):\n    return x * 2  # code\n",
] * 40

PROBES = [
    "Hello, how are you?",
    "I'll be there at 10:30 on 2024-12-01, it's 1234567 tokens.",
    "  leading and   inner   spaces  ",
    "line one\n\n\nline two\r\nthree\ttabbed",
    "東京は日本の首都です。",
    "naïve café 🙂🎉",
    "<|im_start|>user\nhi<|im_end|>",
    "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "",
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hi there!"}],
    [{"role": "system", "content": "  You are terse.  "}, {"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "user", "content": "Tell me about cats."},
        {"role": "assistant", "content": " Cats are small carnivores. "},
        {"role": "user", "content": "And dogs?"},
    ],
    [
        {"role": "system", "content": "Answer in Japanese."},
        {"role": "user", "content": "東京はどこ？"},
        {"role": "assistant", "content": "日本です。"},
    ],
]


def qwen2_like():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    train(tok, special)
    return tok, dict(eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=QWEN2_TEMPLATE)


def llama3_like():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    train(tok, special)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", bos)])
    return tok, dict(bos_token="<|begin_of_text|>", eos_token="<|eot_id|>", chat_template=LLAMA3_TEMPLATE)


def train(tok, special):
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)


def write(name, tok, tokens):
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, **tokens).save_pretrained(out)
    hf = AutoTokenizer.from_pretrained(out)  # what a user's transformers reads back
    chats = []
    for conv in CONVERSATIONS:
        for gen in (False, True):
            text = hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            ids = hf.apply_chat_template(conv, tokenize=True, add_generation_prompt=gen)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            chats.append(dict(messages=conv, add_generation_prompt=gen, text=text, ids=list(ids)))
    expected = dict(
        vocab_size=len(hf),
        bos_token=hf.bos_token, eos_token=hf.eos_token,
        probes={p: hf(p, add_special_tokens=False)["input_ids"] for p in PROBES},
        with_special_tokens={p: hf(p)["input_ids"] for p in PROBES[:2]},
        chats=chats,
    )
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    print(f"{name}: vocabulary {len(hf)}, {len(chats)} chat renderings")


def main():
    for name, build in [("qwen2", qwen2_like), ("llama3", llama3_like)]:
        write(name, *build())


if __name__ == "__main__":
    main()
