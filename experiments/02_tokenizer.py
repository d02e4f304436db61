# %% [markdown]
# # Tokenizerの動作確認(英語 vs 日本語)
#
# 文字列が token id の列にどう変換されるかを、英語と日本語で比べる。
# 元記事の Mistral-7B は SentencePiece(語頭の空白を `▁` で表す)だが、
# SmolLM2 は GPT-2 系の byte-level BPE なので、日本語の1文字が複数の「バイト片」トークンに割れることがある。

# %% モデルの読み込み
import pandas as pd

from pipeline.glue import glue
from pipeline.lab import load_model

tokenizer, model = load_model()

# %% 英語の文
# 英語の文章に対する Tokenizer のエンコード・デコード
text_en = "The capital of Japan is"
token_ids = tokenizer.encode(text_en)
print(token_ids)
print(tokenizer.decode(token_ids))

# 各トークン(ID)と単語の対応関係
for token_id in token_ids:
    print(f"{token_id}: {tokenizer.decode([token_id])!r}")
glue("en_words", len(text_en.split()))
glue("en_tokens", len(token_ids))

# %% 日本語の文
# 日本語の文章に対する Tokenizer のエンコード・デコード
text_ja = "日本の首都は"
token_ids_ja = tokenizer.encode(text_ja)
print(token_ids_ja)
print(tokenizer.decode(token_ids_ja))
for token_id in token_ids_ja:
    print(f"{token_id}: {tokenizer.decode([token_id])!r}")

replacement = sum("\ufffd" in tokenizer.decode([t]) for t in token_ids_ja)
glue("ja_chars", len(text_ja))
glue("ja_tokens", len(token_ids_ja))
glue("ja_broken_pieces", replacement)

# %% 生のバイト片
# byte-level BPE の生トークン: 各トークンが UTF-8 の何バイト目を持っているかを表にする
def bytes_to_unicode():
    """GPT-2 の byte -> 表示用文字 の対応表(バイトを印字可能な文字に写す)"""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


byte_of_char = {c: b for b, c in bytes_to_unicode().items()}
raw_tokens = tokenizer.convert_ids_to_tokens(token_ids_ja)
is_byte_level = all(ch in byte_of_char for tok in raw_tokens for ch in tok)
rows = []
for token_id, raw in zip(token_ids_ja, raw_tokens):
    piece = bytes(byte_of_char[ch] for ch in raw) if is_byte_level else raw.encode("utf-8")
    rows.append({"token_id": token_id, "raw_token": raw, "utf8_bytes": piece.hex(" "),
                 "decoded": tokenizer.decode([token_id])})
print("UTF-8 of the text:", text_ja.encode("utf-8").hex(" "))
glue("tokenizer_is_byte_level", is_byte_level)
pd.DataFrame(rows)

# %% 特殊トークン
# BOS / EOS などの特殊トークンと、add_special_tokens の効果
print("bos:", repr(tokenizer.bos_token), tokenizer.bos_token_id)
print("eos:", repr(tokenizer.eos_token), tokenizer.eos_token_id)
print("pad:", repr(tokenizer.pad_token), tokenizer.pad_token_id)
print("all special tokens:", tokenizer.all_special_tokens[:10])

word = "Hello world"
with_special = tokenizer.encode(word, add_special_tokens=True)
default = tokenizer.encode(word)
without_special = tokenizer.encode(word, add_special_tokens=False)
print("\nWith special tokens:", with_special, repr(tokenizer.decode(with_special)))
print("Using .encode():     ", default, repr(tokenizer.decode(default)))
print("Without special tokens:", without_special, repr(tokenizer.decode(without_special)))
print("raw tokens:", tokenizer.convert_ids_to_tokens(without_special))

adds_bos = with_special[:1] == [tokenizer.bos_token_id] and with_special != without_special
glue("adds_bos", adds_bos)
glue("bos_token", tokenizer.bos_token)
glue("hello_raw_tokens", " ".join(tokenizer.convert_ids_to_tokens(without_special)))
space_marker = "▁" if any(t.startswith("▁") for t in tokenizer.convert_ids_to_tokens(without_special)) else "Ġ"
glue("space_marker", space_marker)

# %% [markdown] written_for="SmolLM2-135M-Instruct"
# ## 考察
#
# - 英文 "The capital of Japan is" は {{ en_words }} 単語が {{ en_tokens }} トークンになった。ほぼ1単語1トークン。
# - 日本文「日本の首都は」は {{ ja_chars }} 文字が {{ ja_tokens }} トークンに分かれ、そのうち {{ ja_broken_pieces }} 個は
#   単独でデコードすると置換文字 `�` になる。byte-level BPE では日本語の1文字(UTF-8 で3バイト)の途中で
#   トークンが切れることがあり、トークン単体では文字として読めない。表の `utf8_bytes` 列を並べると元の文字のバイト列に戻る。
# - {% if adds_bos %}このトークナイザは `add_special_tokens=True` で先頭に BOS(`{{ bos_token }}`)を付ける。{% else %}このトークナイザは `add_special_tokens=True` でも BOS(`{{ bos_token }}`)を付けない。元記事の Mistral-7B が `<s>` を自動で付けていたのとは違う点に注意。{% endif %}
# - "Hello world" の生トークンは `{{ hello_raw_tokens }}`。語頭の空白は `{{ space_marker }}` という記号で表されている。
#   SentencePiece の `▁` と同じ役割で、英語のように空白で区切る言語と、日本語のように空白のない言語とで
#   分割の見え方が変わるのはこのためである。
