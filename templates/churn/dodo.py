"""doit entry point: `doit list` shows the pipeline's stages and the team's recipes;
`doit compute_metrics` runs a recipe, `doit train` one stage (written by lode init)."""

from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401
from lode.recipes.dodo import task_recipes  # noqa: F401
