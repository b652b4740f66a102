"""Stage `eval`: score model.pkl on data/test.csv into metrics.json and confusion.csv."""

import json
import pickle

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

threshold = yaml.safe_load(open("params.yaml"))["threshold"]

with open("model.pkl", "rb") as f:
    model = pickle.load(f)
data = np.loadtxt("data/test.csv", delimiter=",", skiprows=1)
X, actual = data[:, :-1], data[:, -1].astype(int)

# Threshold the probability ourselves (not model.predict) so `threshold` is a real knob.
proba = model.predict_proba(X)[:, 1]
predicted = (proba >= threshold).astype(int)

# Rounded and key-sorted so `metrics diff` shows real changes, not float noise.
metrics = {
    "accuracy": accuracy_score(actual, predicted),
    "precision": precision_score(actual, predicted, zero_division=0),
    "recall": recall_score(actual, predicted, zero_division=0),
    "roc_auc": roc_auc_score(actual, proba),
}
with open("metrics.json", "w") as f:
    json.dump({k: round(float(v), 4) for k, v in metrics.items()}, f, indent=2, sort_keys=True)
    f.write("\n")

# One row per test sample: the `confusion` plot template counts the pairs itself.
with open("confusion.csv", "w") as f:
    f.write("actual,predicted\n")
    f.writelines(f"{a},{p}\n" for a, p in zip(actual, predicted, strict=True))
