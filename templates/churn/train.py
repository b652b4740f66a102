"""Stage `train`: fit a logistic regression on data/train.csv and pickle it to model.pkl."""

import pickle

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression

params = yaml.safe_load(open("params.yaml"))

data = np.loadtxt("data/train.csv", delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1].astype(int)

# lbfgs has no randomness, so the same data and params give the same pickle bytes; the seed
# is passed anyway so that switching to a stochastic solver (saga) stays reproducible.
model = LogisticRegression(
    C=params["train"]["C"], max_iter=params["train"]["max_iter"], random_state=params["seed"]
)
model.fit(X, y)

with open("model.pkl", "wb") as f:
    pickle.dump(model, f)
