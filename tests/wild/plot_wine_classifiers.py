"""
=========================================
Comparing two classifiers on the wine set
=========================================

This example trains two classifiers on the wine recognition data that ships
with scikit-learn and compares how often each one is right on held-out
samples. The first is a :class:`~sklearn.linear_model.LogisticRegression`, the
second a :class:`~sklearn.svm.SVC` with an RBF kernel.

"""

# Authors: the pipeline's test writers
# SPDX-License-Identifier: BSD-3-Clause

from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

# %%
# Loading the data
# ----------------
#
# The data set has 178 samples in three classes. We keep a quarter of them
# apart with :func:`~sklearn.model_selection.train_test_split`:
#
# - ``X`` holds 13 chemical measurements per wine;
# - ``y`` holds the cultivar, one of three classes.
#
# See :ref:`cross_validation` for better ways to estimate the error. The split
# itself is one call::
#
#     X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
print(X_train.shape, X_test.shape)

# %%
# Two models
# ----------
#
# Both models see standardized features. The logistic model minimizes the
# log-loss :math:`-\sum_i \log p(y_i \mid x_i)`, and the SVC separates the
# classes with the kernel
#
# .. math::
#
#    k(x, x') = \exp(-\gamma \|x - x'\|^2)
#
# .. note::
#
#    Scaling matters for both: without it the RBF kernel sees mostly the
#    feature with the largest range.
#
# Read more on `the RBF kernel <https://en.wikipedia.org/wiki/Radial_basis_function_kernel>`_.

models = {
    "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "svc": make_pipeline(StandardScaler(), SVC(gamma="scale")),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name}: {model.score(X_test, y_test):.3f}")

# sphinx_gallery_thumbnail_number = 1
