# %% [markdown]
# # pandas で時系列データを集計する
#
# 1年分の架空の売上データを作り、月ごとに集計してグラフにします。

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(1)

# %%
index = pd.date_range("2024-01-01", periods=24 * 366, freq="h")
sales = pd.DataFrame({"店舗A": rng.poisson(20, len(index)), "店舗B": rng.poisson(15, len(index))}, index=index)
sales.head()

# %% [markdown]
# ## 月ごとの合計

# %%
monthly = sales.resample("MS").sum()
monthly.head(6)

# %%
fig, ax = plt.subplots(figsize=(6, 3))
monthly.plot(ax=ax)
ax.set_title("月ごとの売上")
plt.show()

# %% [markdown]
# ## 曜日と時間帯

# %%
by_hour = sales.groupby([sales.index.dayofweek, sales.index.hour]).mean().unstack(0)["店舗A"]
by_hour.iloc[:5].round(2)

# %%
weekly = sales["店舗A"].rolling("7D").mean()
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(weekly.index[::24], weekly.to_numpy()[::24])
ax.set_title("7日間の移動平均")
plt.show()

# %% [markdown]
# ## 顧客ごとの集計
# 顧客ごとに Python の関数で集計します(groupby + apply)。

# %%
orders = pd.DataFrame({"顧客": rng.integers(0, 3000, 60_000), "金額": rng.gamma(2.0, 1500.0, 60_000).round()})
per_customer = orders.groupby("顧客")["金額"].apply(lambda s: pd.Series({"回数": len(s), "中央値": s.median(), "最大": s.max()}))
per_customer.unstack().describe().round(1)

# %%
fig, ax = plt.subplots(figsize=(4, 3))
ax.hist(orders["金額"], bins=60)
ax.set_title("1回の購入金額")
plt.show()

# %% [markdown]
# ## 直線で傾向を見る

# %%
days = np.arange(len(monthly)).reshape(-1, 1)
model = LinearRegression().fit(days, monthly["店舗A"].to_numpy())
print("1か月あたりの増減:", round(float(model.coef_[0]), 2))
