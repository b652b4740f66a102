"""Stage `load`: a synthetic churn data set, split into data/train.csv and data/test.csv."""

import os

import numpy as np
import yaml
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

params = yaml.safe_load(open("params.yaml"))
seed = params["seed"]

# Synthetic rather than downloaded, so the demo runs offline and in CI.
X, y = make_classification(
    n_samples=params["n_samples"], n_features=10, n_informative=5, random_state=seed
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=params["test_size"], random_state=seed
)

os.makedirs("data", exist_ok=True)
header = ",".join([f"f{i}" for i in range(X.shape[1])] + ["churn"])
for name, features, labels in (("train", X_train, y_train), ("test", X_test, y_test)):
    rows = np.column_stack([features, labels])
    # A fixed float format keeps the bytes identical for identical params: dvc.lock
    # and the run cache compare md5s, so a stray last digit would mean a rerun.
    fmt = ["%.6f"] * features.shape[1] + ["%d"]
    np.savetxt(f"data/{name}.csv", rows, fmt=fmt, delimiter=",", header=header, comments="")
