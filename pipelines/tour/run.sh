#!/usr/bin/env bash
# The README's main job until the recipes land: a scripted tour of lode's data layer and
# of the churn pipeline in a throw-away Git repository. Usage: bash pipelines/tour/run.sh [DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"  # lode's checkout
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/lode-tour.XXXXXX")}"
mkdir -p "$work" && cd "$work"
command -v lode >/dev/null 2>&1 || lode() { python3 -m lode "$@"; }  # not on PATH yet
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-lode tour}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tour@example.invalid}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

step "a Git repository with lode in it ($work)"
git init -q . && lode init && git commit -qm "init lode"

step "track a model file and a 1,000-file dataset"
python3 - <<'PY'
import os, random
r = random.Random(7)
os.makedirs("data/images", exist_ok=True)
for i in range(1000):
    with open(f"data/images/img{i:04}.bin", "wb") as f:
        f.write(r.randbytes(r.randint(512, 2048)))
with open("data/labels.csv", "w") as f:
    f.write("id,label\n" + "".join(f"{i},{i % 3}\n" for i in range(1000)))
with open("model.pkl", "wb") as f:
    f.write(b"model v1\n")
PY
lode add data model.pkl
git add data.dvc model.pkl.dvc .gitignore && git commit -qm "data and model v1"
cat data.dvc

step "change the data and the model, record v2"
echo "1000,2" >> data/labels.csv
echo "model v2" > model.pkl
lode status
lode add data model.pkl
git commit -qam "data and model v2"
lode status

step "travel back: git checkout v1 + lode checkout"
git checkout -q HEAD~1
lode checkout
cat model.pkl
tail -n 1 data/labels.csv
lode status

step "the cache is sound"
lode cache verify
git checkout -q -
lode checkout

step "a pipeline: the churn model (templates/churn: load -> train -> eval)"
mkdir churn && cp "$here"/templates/churn/{dvc.yaml,params.yaml,load.py,train.py,eval.py} churn/
cd churn
lode repro
git add -A . && git commit -qm "churn pipeline, first run"

step "nothing changed: nothing runs"
lode repro

step "train.C 0.5 -> 1.5: train and eval run again, load does not"
sed -i 's/C: 0.5/C: 1.5/' params.yaml
lode status
lode repro
cat metrics.json

step "back to 0.5: restored from the run cache, nothing trains"
sed -i 's/C: 1.5/C: 0.5/' params.yaml
lode repro

step "doit sees the same stages"
cd .. && python3 -m doit list && cd churn
git diff --quiet dvc.lock && echo "dvc.lock is back to the committed bytes"
cd ..

step "share it: a local-directory remote (no credentials), push data, outputs and run cache"
lode remote add -d shared "$work.remote"
git add .dvc/config && git commit -qm "a shared remote"
lode push --run-cache
lode status -c

step "a teammate's clone: git clone, lode pull, and the pipeline is already up to date"
git clone -q "$work" "$work.clone" && cd "$work.clone"
lode pull
lode status
cd churn && lode repro && cd "$work"

printf '\nTour finished in %s (remote: %s.remote, clone: %s.clone)\n' "$work" "$work" "$work"
