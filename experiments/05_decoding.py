# %% [markdown]
# # Decoding: 次トークン分布・Temperature・Greedy
#
# モデルが出す「次トークンの確率分布」を直接見て、Temperature で分布の尖りがどう変わるか、
# Greedy Decoding が決定的であること、BOS の有無で続きが変わることを確かめる。

# %% モデルの読み込み
import matplotlib.pyplot as plt
import torch

from pipeline.glue import glue
from pipeline.lab import load_model

tokenizer, model = load_model()
tokenizer.padding_side = "left"  # まとめて生成するときはプロンプトの左側を詰める

# %% 次トークンの確率分布 alt="'The capital of Japan is' に続くトークン上位 10 件の確率"
prompt = "The capital of Japan is"
encoded_input = tokenizer(prompt, return_tensors="pt").to(model.device)

# next-token prediction 向けのロジットから確率に変換する
with torch.no_grad():
    outputs = model(**encoded_input)
last_logits = outputs.logits[0, -1].float()
probs = torch.softmax(last_logits, dim=-1)

top_vals, top_ids = probs.topk(10)
labels = [f"{i}: {tokenizer.decode([i])!r}" for i in top_ids.tolist()]
for label, p in zip(labels, top_vals.tolist()):
    print(f"{p:.4f}  {label}")

plt.figure(figsize=(12, 6))
plt.bar(range(10), top_vals.cpu().numpy())
plt.xticks(range(10), labels, rotation=90)
plt.ylabel("Probability")
plt.title("Top-10 next tokens")
plt.tight_layout()
plt.show()

glue("top1_token", tokenizer.decode([top_ids[0].item()]).strip())
glue("top1_prob", round(top_vals[0].item(), 3))
glue("top10_mass", round(top_vals.sum().item(), 3))

# %% Temperature ごとの分布 alt="temperature 0.4, 1.0, 1.6 での次トークン上位 10 件の確率"
temperatures = [0.4, 1.0, 1.6]
fig, axes = plt.subplots(1, 3, figsize=(16, 6), sharey=True)
for ax, T in zip(axes, temperatures):
    probs_at_T = torch.softmax(last_logits / T, dim=-1)
    vals, ids = probs_at_T.topk(10)
    entropy = -(probs_at_T * torch.log(probs_at_T.clamp_min(1e-12))).sum().item()
    ax.bar(range(10), vals.cpu().numpy())
    ax.set_xticks(range(10))
    ax.set_xticklabels([f"{i}: {tokenizer.decode([i])!r}" for i in ids.tolist()], rotation=90)
    ax.set_ylabel("Probability")
    ax.set_title(f"Temperature={T}")
    key = str(T).replace(".", "")
    glue(f"top1_prob_t{key}", round(vals[0].item(), 3))
    glue(f"entropy_t{key}", round(entropy, 2))
    print(f"T={T}: top-1 p={vals[0].item():.3f}, entropy={entropy:.2f} nats")
plt.tight_layout()
plt.show()

# %% [markdown]
# Temperature $T$ はロジット $z$ を割ってから softmax を取る操作で、次の単語候補の分布の尖り具合を調整する:
#
# $$
# \text{Softmax}(z_w, T) = \frac{e^{z_w / T}}{\sum_{j=1}^{V} e^{z_j / T}}
# $$
#
# - $T=0.4$ では1位の確率が {{ top1_prob_t04 }}、$T=1.0$ で {{ top1_prob_t10 }}、$T=1.6$ で {{ top1_prob_t16 }}。
# - 分布のエントロピーは {{ entropy_t04 }} → {{ entropy_t10 }} → {{ entropy_t16 }} nats と増える。
#   T を 0 に近づけるほど分布は尖り、大きくするほど平坦になってランダム性が高まる。

# %% Greedy を繰り返す
# Greedy を5回: 同じプロンプトを5行まとめて1回の generate() で流す
text = "The capital of Japan is"
batch = tokenizer([text] * 5, return_tensors="pt").to(model.device)
with torch.no_grad():
    output = model.generate(**batch, max_new_tokens=20, do_sample=False)
runs = tokenizer.batch_decode(output, skip_special_tokens=False)
for i, run in enumerate(runs, 1):
    print(f"--------------- run {i} ---------------")
    print(run)
glue("greedy_identical_runs", sum(r == runs[0] for r in runs))
glue("greedy_runs", len(runs))

# %% BOS の有無と Greedy
# BOS(文頭トークン)を明示的に付けた場合と付けない場合で、Greedy の続きを比べる
def greedy(ids, max_new_tokens=30):
    ids = torch.tensor([ids], device=model.device)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:])


plain_ids = tokenizer.encode(text, add_special_tokens=False)
bos_ids = [tokenizer.bos_token_id] + plain_ids
without_bos, with_bos = greedy(plain_ids), greedy(bos_ids)
print("without BOS:", plain_ids)
print(repr(without_bos))
print("\nwith BOS:   ", bos_ids)
print(repr(with_bos))
glue("bos_changes_output", without_bos != with_bos)

# %% 複数の国で試す
texts = ["The capital of Japan is", "The capital of France is", "The capital of Italy is"]
answers = ["Tokyo", "Paris", "Rome"]
hits = {}
for t, answer in zip(texts, answers):
    print(f"------------------------------ {t!r} ------------------------------")
    plain = tokenizer.encode(t, add_special_tokens=False)
    for name, ids in (("without BOS", plain), ("with BOS", [tokenizer.bos_token_id] + plain)):
        continuation = greedy(ids, max_new_tokens=30)
        hits[(t, name)] = answer in continuation
        print(f"--- {name} ---")
        print(t + continuation)
glue("capital_hits_plain", sum(v for (t, n), v in hits.items() if n == "without BOS"))
glue("capital_hits_bos", sum(v for (t, n), v in hits.items() if n == "with BOS"))
glue("n_countries", len(texts))

# %% [markdown] written_for="SmolLM2-135M-Instruct"
# ## 考察
#
# - "The capital of Japan is" の次トークンは「{{ top1_token }}」が確率 {{ top1_prob }} で1位。上位10個で確率の {{ top10_mass }} を占める。
# - Greedy を {{ greedy_runs }} 回流すと {{ greedy_identical_runs }} 回が完全に同じ文になった。Greedy は毎ステップ argmax を取るので決定的。
# - BOS を明示的に付けると続きは{% if bos_changes_output %}変わった{% else %}変わらなかった{% endif %}。
#   BOS なしでは {{ n_countries }} か国中 {{ capital_hits_plain }} か国、BOS ありでは {{ capital_hits_bos }} か国で首都名が続きに出てきた。
#   モデルにとって BOS は「ここから文書が始まる」という文脈の一部で、その有無で生成の癖が変わりうる。
