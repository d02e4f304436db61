# %% [markdown]
# # NumPy のはじめの一歩
#
# 配列の作り方とブロードキャストを確かめます。

# %%
import numpy as np

a = np.arange(12).reshape(3, 4)
a

# %% [markdown]
# ## ブロードキャスト

# %%
a + np.array([10, 20, 30, 40])

# %%
print(a.sum(axis=0), a.mean(axis=1))

# %%
b = np.linspace(0, 1, 5)
np.outer(b, b).round(3)

# %% [markdown]
# ## グラフにする

# %%
import matplotlib.pyplot as plt

x = np.linspace(0, 2 * np.pi, 100)
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot(x, np.sin(x), label="sin")
ax.plot(x, np.cos(x), label="cos")
ax.legend()
plt.show()
