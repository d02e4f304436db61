# %% [markdown]
# # 語彙数と埋め込み行列の確認
#
# Tokenizer の語彙数と、モデルの入力埋め込み行列(vocab_size × hidden_dim)の形を確かめ、
# token id → token の対応表を眺める。

# %% モデルの読み込み
import pandas as pd

from pipeline.glue import glue
from pipeline.lab import load_model

tokenizer, model = load_model()

# %% 語彙数
# Tokenizer の語彙数の確認
print(tokenizer.vocab_size)
print(len(tokenizer))  # 追加された特殊トークンも含めた数
glue("vocab_size", tokenizer.vocab_size)

# %% 埋め込み行列
# 分散表現(埋め込みベクトル)の確認: embedding matrix を取り出す
emb = model.get_input_embeddings().weight
print(emb.shape)
print(emb[0])
print(emb[0].shape)
glue("emb_rows", emb.shape[0])
glue("emb_dim", emb.shape[1])
glue("emb_dtype", str(emb.dtype).replace("torch.", ""))
glue("emb_megabytes", round(emb.numel() * emb.element_size() / 2**20, 1))
glue("tied_embeddings", bool(model.config.tie_word_embeddings))

# %% トークン表
# token_id → token の表を作る(一括デコード)
vocab_ids = list(range(tokenizer.vocab_size))
df = pd.DataFrame({
    "token_id": vocab_ids,
    "token": tokenizer.batch_decode([[i] for i in vocab_ids]),
})
glue("table_rows", len(df))
df

# %% [markdown]
# ## 考察
#
# - 語彙数は {{ vocab_size }}、埋め込み行列は {{ emb_rows }} 行 × {{ emb_dim }} 列({{ emb_dtype }}、約 {{ emb_megabytes }} MiB)。
#   1トークンにつき {{ emb_dim }} 次元のベクトルが1行ずつ並ぶ「(V, d) 行列」というイメージがそのまま確認できる。
# - {% if tied_embeddings %}このモデルは入力埋め込みと出力層の重みを共有している(tie_word_embeddings)ので、
#   この行列は次トークンのロジット計算にもそのまま使われる。{% else %}入力埋め込みと出力層は別々の重みになっている。{% endif %}
# - 表は {{ table_rows }} 行あり全部は表示できないので、気になる token id を個別に `decode([id])` で見るのが現実的。
