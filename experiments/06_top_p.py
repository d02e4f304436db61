# %% [markdown]
# # Top-p Sampling(Nucleus Sampling)を自前実装して理解する
#
# 累積確率が p を超える最小の集合(nucleus)だけを残すフィルタを自分で書き、
# transformers 自身の top-p 実装と同じ候補集合になることを確かめてから、
# `top_p` と `temperature` の組み合わせで生成がどう変わるかを見る。

# %% モデルの読み込み
import torch
from transformers.generation.logits_process import TopPLogitsWarper

from pipeline.glue import glue
from pipeline.lab import load_model, seed_everything

tokenizer, model = load_model()

# %% 手書きの top-p フィルタ
# Top-p フィルタの自前実装: 残す候補以外の確率を0にして正規化し直す
def top_p_filter(probs: torch.Tensor, p: float = 0.9) -> torch.Tensor:
    sorted_probs, sorted_indices = torch.sort(probs, descending=True)
    cumulative = torch.cumsum(sorted_probs, dim=-1)
    # 累積確率が p を超えた「次」からを捨てる(p を初めて超えたトークンまでは残す)
    remove = cumulative > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    sorted_probs = sorted_probs.masked_fill(remove, 0.0)
    filtered = torch.zeros_like(probs).scatter(-1, sorted_indices, sorted_probs)
    return filtered / filtered.sum(dim=-1, keepdim=True)


def sample_top_p(probs: torch.Tensor, p: float = 0.9) -> int:
    return int(torch.multinomial(top_p_filter(probs, p), num_samples=1))

# %% transformers の実装と比べる
# 同じロジットに transformers の TopPLogitsWarper を掛け、残る候補集合が一致するか確かめる
prompt = "The capital of Japan is"
encoded_input = tokenizer(prompt, return_tensors="pt").to(model.device)
with torch.no_grad():
    logits = model(**encoded_input).logits[0, -1].float()

kept_sizes = {}
all_match = True
for temperature in (0.2, 1.0, 1.4):
    for p in (0.2, 0.5, 0.9):
        scaled = logits / temperature
        ours = top_p_filter(torch.softmax(scaled, dim=-1), p) > 0
        theirs = torch.isfinite(TopPLogitsWarper(top_p=p)(encoded_input["input_ids"], scaled[None].clone())[0])
        same = torch.equal(ours, theirs)
        all_match &= same
        kept_sizes[(temperature, p)] = int(ours.sum())
        print(f"T={temperature}, p={p}: ours keeps {int(ours.sum()):5d}, transformers keeps {int(theirs.sum()):5d}, same set: {same}")
glue("top_p_matches", all_match)
glue("kept_t02_p02", kept_sizes[(0.2, 0.2)])
glue("kept_t14_p09", kept_sizes[(1.4, 0.9)])

# %% 手書きのサンプラーで生成
# 自前の sample_top_p で1トークンずつ生成してみる(top_p=0.9, temperature=1.4)
seed_everything(0)
ids = encoded_input["input_ids"]
with torch.no_grad():
    for _ in range(20):
        next_logits = model(ids).logits[0, -1].float() / 1.4
        next_id = sample_top_p(torch.softmax(next_logits, dim=-1), p=0.9)
        ids = torch.cat([ids, torch.tensor([[next_id]], device=ids.device)], dim=1)
print(tokenizer.decode(ids[0]))

# %% パラメータを振る
# (top_p, temperature) の3通りを、それぞれ5サンプルずつ1回の generate() でまとめて生成する
settings = [(0.2, 0.2), (0.2, 1.4), (0.9, 1.4)]
for top_p, temperature in settings:
    seed_everything(0)
    with torch.no_grad():
        output = model.generate(**encoded_input, do_sample=True, top_p=top_p, temperature=temperature,
                                max_new_tokens=20, num_return_sequences=5)
    samples = tokenizer.batch_decode(output)
    print(f"--------------- top_p={top_p}, temperature={temperature} ---------------")
    for i, s in enumerate(samples, 1):
        print(f"{i}th sample: {s!r}")
    key = f"p{str(top_p).replace('.', '')}_t{str(temperature).replace('.', '')}"
    glue(f"distinct_{key}", len(set(samples)))
glue("samples_per_setting", 5)

# %% [markdown] written_for="SmolLM2-135M-Instruct"
# ## 考察
#
# - 自前の top-p フィルタと transformers の `TopPLogitsWarper` は、試した9通りの (temperature, p) すべてで
#   {% if top_p_matches %}同じ候補集合を残した{% else %}一致しない組み合わせがあった(要確認){% endif %}。
#   p を初めて超えたトークンまでは残す、という境界の扱いがポイント。
# - 候補集合の大きさは T=0.2, p=0.2 で {{ kept_t02_p02 }} 個、T=1.4, p=0.9 で {{ kept_t14_p09 }} 個。分布が尖っていれば nucleus は小さく、平らなら大きくなる。
# - {{ samples_per_setting }} サンプル中の異なる文の数は、(top_p, temperature) = (0.2, 0.2) で {{ distinct_p02_t02 }}、
#   (0.2, 1.4) で {{ distinct_p02_t14 }}、(0.9, 1.4) で {{ distinct_p09_t14 }}。
#   小さい top_p と低い温度ではほぼ Greedy と同じ確定的な出力になり、両方を大きくすると多様になる代わりに内容の破綻も混ざりやすい。
