#!/usr/bin/env bash
# The README's main job: a team recipe end to end, on embedded defaults (no credentials).
#   scaffold the churn project from lode's template, with a bare Git repository as its
#   Git remote and a local directory as its data remote; run `compute_metrics` (clean
#   check, targeted pull, repro, commit, data push, git push, console notification);
#   show the metrics and the commit it made; then what a teammate sees.
# Usage: bash pipelines/demo/run.sh [DIR]   (DIR: a fresh directory for the demo's files)
set -euo pipefail

work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/lode-demo.XXXXXX")}"
mkdir -p "$work" && cd "$work"
work="$(pwd)"
command -v lode >/dev/null 2>&1 || lode() { python3 -m lode "$@"; }  # not on PATH yet
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# a fresh machine has no Git identity; the recipe commits, so give it one for the demo
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-lode demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"

step "a bare Git repository stands in for the team's Git server ($work/origin.git)"
git init -q --bare -b main origin.git

step "lode init --template churn: the project, its recipes and a local data remote"
lode templates
lode init --template churn churn --git-remote "$work/origin.git" --data-remote "$work/storage"
cd churn
cat recipes.yaml

step "lode run compute_metrics: clean check, pull, repro, commit, push data, git push, notify"
lode run compute_metrics

step "the metrics, and the commit the recipe made (only the pipeline's files)"
lode metrics show
git log -1 --stat --format='%h %s'
printf 'Git remote main is at %s\n' "$(git -C "$work/origin.git" rev-parse --short HEAD)"

step "a teammate: git clone + lode pull, and nothing needs to run"
git clone -q "$work/origin.git" "$work/teammate" && cd "$work/teammate"
lode pull -q
lode status
lode repro

step "change a parameter, commit it, run the recipe again: the commit names the metric deltas"
cd "$work/churn"
sed -i 's/C: 0.5/C: 0.05/' params.yaml
git commit -qam "train.C 0.5 -> 0.05"
lode run compute_metrics
git log -1 --format='%h %s'

printf '\nDemo finished in %s (project: churn, Git remote: origin.git, data remote: storage)\n' "$work"
