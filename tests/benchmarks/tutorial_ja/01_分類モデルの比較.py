# %% [markdown]
# # 分類モデルを比べてみる: 前処理から評価まで
#
# scikit-learn で合成データを作り、pandas で眺め、いくつかの分類モデルを比べます。
# 長めのチュートリアルです(1コアで20秒ほど)。

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split, cross_val_score, GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier, HistGradientBoostingClassifier
from sklearn.cluster import KMeans
from sklearn.metrics import accuracy_score, confusion_matrix

rng = np.random.default_rng(0)

# %% [markdown]
# ## データを作る
# 特徴量40個、3クラスのデータを3万件つくります。

# %%
X, y = make_classification(n_samples=30_000, n_features=40, n_informative=12, n_redundant=8,
                           n_classes=3, random_state=0)
df = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(X.shape[1])])
df["label"] = y
df.shape

# %%
df.describe().T.head(8).round(3)

# %% [markdown]
# ## pandas で眺める
# ラベルごとの平均と、特徴量を区切った集計です。

# %%
df.groupby("label")[["f00", "f01", "f02", "f03"]].mean().round(3)

# %%
df["bin"] = pd.cut(df["f00"], bins=10, labels=False)
pivot = df.pivot_table(index="bin", columns="label", values="f01", aggfunc="mean")
pivot.round(3)

# %%
# 行ごとの Python 関数(遅いが、チュートリアルではよく見る書き方)
df["score"] = df.apply(lambda r: (r["f00"] * 2 + r["f01"]) if r["label"] == 0 else r["f02"] - r["f03"], axis=1)
df["score"].describe().round(3)

# %%
rolling = df["f05"].rolling(window=500).mean().dropna()
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(rolling.to_numpy()[::50])
ax.set_title("f05 の移動平均")
plt.show()

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for label, ax in zip(range(3), axes):
    ax.hist(df.loc[df["label"] == label, "f00"], bins=40)
    ax.set_title(f"ラベル {label}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 前処理と主成分分析

# %%
features = df.drop(columns=["label", "bin", "score"]).to_numpy()
X_train, X_test, y_train, y_test = train_test_split(features, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train_s, X_test_s = scaler.transform(X_train), scaler.transform(X_test)
X_train_s.shape, X_test_s.shape

# %%
pca = PCA(n_components=10, random_state=0).fit(X_train_s)
print(np.round(pca.explained_variance_ratio_, 3))

# %%
Z = pca.transform(X_test_s)
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(Z[:2000, 0], Z[:2000, 1], c=y_test[:2000], s=4)
ax.set_title("第1・第2主成分")
plt.show()

# %% [markdown]
# ## 行列計算で確かめる
# 共分散行列の固有値と、大きめの行列の特異値分解です。

# %%
cov = np.cov(X_train_s, rowvar=False)
print(np.round(np.linalg.eigvalsh(cov)[-5:], 3))

# %%
A = rng.normal(size=(1200, 1200))
s = np.linalg.svd(A, compute_uv=False)
print(round(float(s[0]), 3), round(float(s[-1]), 5))

# %%
B = A @ A.T
for _ in range(3):
    B = B @ A / 1200
print(round(float(np.abs(B).mean()), 6))

# %% [markdown]
# ## ロジスティック回帰

# %%
logreg = LogisticRegression(max_iter=500)
scores = cross_val_score(logreg, X_train_s, y_train, cv=5)
print("交差検証の正解率:", np.round(scores, 4))

# %%
grid = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1.0, 10.0]}, cv=3)
grid.fit(X_train_s, y_train)
print(grid.best_params_, round(grid.best_score_, 4))

# %% [markdown]
# ## 決定木のアンサンブル

# %%
forest = RandomForestClassifier(n_estimators=60, random_state=0)
forest.fit(X_train, y_train)
print("ランダムフォレスト:", round(accuracy_score(y_test, forest.predict(X_test)), 4))

# %%
importances = pd.Series(forest.feature_importances_, index=df.columns[:40]).sort_values(ascending=False)
importances.head(10).round(4)

# %%
hgb = HistGradientBoostingClassifier(max_iter=300, random_state=0)
hgb.fit(X_train, y_train)
print("勾配ブースティング:", round(accuracy_score(y_test, hgb.predict(X_test)), 4))

# %%
cm = confusion_matrix(y_test, hgb.predict(X_test))
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(cm, cmap="Blues")
for (i, j), v in np.ndenumerate(cm):
    ax.text(j, i, str(v), ha="center", va="center")
ax.set_xlabel("予測")
ax.set_ylabel("正解")
plt.show()

# %% [markdown]
# ## クラスタリング

# %%
kmeans = KMeans(n_clusters=6, n_init=10, random_state=0).fit(X_train_s)
print(np.bincount(kmeans.labels_))

# %%
inertias = [KMeans(n_clusters=k, n_init=3, random_state=0).fit(X_train_s[:8000]).inertia_ for k in range(2, 9)]
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(range(2, 9), inertias, marker="o")
ax.set_title("エルボー法")
plt.show()

# %% [markdown]
# ## まとめ

# %%
summary = pd.DataFrame({"モデル": ["ロジスティック回帰", "ランダムフォレスト", "勾配ブースティング"],
                        "正解率": [grid.score(X_test_s, y_test), accuracy_score(y_test, forest.predict(X_test)),
                                   accuracy_score(y_test, hgb.predict(X_test))]})
summary.round(4)
