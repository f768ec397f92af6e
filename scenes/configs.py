"""Which configuration each row of the scene benchmark runs on a task, and the task-specific options
it adds (``row_configuration``). The job files the scene scripts write use the same rule, so a job
file reproduces its row exactly.

A row is named by a registered configuration (``optimizer_server.methods.configurations``):
* ``zerograds:efficient`` (and its ablations ``zerograds:efficient_nonn`` …): this project's ZeroGrads,
  started from the task's σ0 and N (``efficient_overrides``);
* ``zerograds:paper``: the thesis's ZeroGrads with the task's App. Tab. C.1 settings (the configuration
  ``zerograds:<task>``) where the ZeroGrads paper has the task, its defaults elsewhere;
* ``prdpt``: PRDPT with the task's App. Tab. B.1 settings (``prdpt:<task>``) where PRDPT's paper has
  the task, its defaults elsewhere;
* any other name: that configuration as it is.
"""

from __future__ import annotations

# PRDPT's σ0 (up to 0.8 of the range) was made for its Adam steps; the efficient preset steps σ per
# coordinate and bangs θ between the bounds with it. Measured on OCCLUSION (1-D, 3 seeds, quick profile):
# σ0 = 0.8 solved 1 of 3 (the others ended on a bound), 0.33 solved 1 of 3, 0.25 solved 2 of 3. ZeroGrads'
# own Tab. C.1 σ0 (at most 0.33) are not capped: 0.25 instead of 0.33 solved fewer seeds on LED and on
# WICKER's first scene (the one whose slabs hid the stakes).
PRDPT_SIGMA_CAP = 0.25
# On ZeroGrads' tasks: 4 samples per iteration (2 antithetic pairs; Tab. C.1 has 2 everywhere but MOSAIC's
# 16), and σ0 at least 0.1. MOSAIC (16 rotations, Tab. C.1: σ0 0.025, N = 16) reached 65 % error reduction
# in 400 renders with its own settings, 79 % with N = 4 and 99 % with N = 4 and σ0 0.1 (3 seeds each).
ZEROGRADS_SAMPLES = 4
ZEROGRADS_SIGMA_FLOOR = 0.1


def efficient_overrides(task) -> dict:
    """σ0 and N for ``zerograds:efficient`` on ``task``: its Tab. C.1 σ0 (at least ZEROGRADS_SIGMA_FLOOR,
    ZEROGRADS_SAMPLES samples), else PRDPT's Tab. B.1 σ0 and N (σ0 capped at PRDPT_SIGMA_CAP); nothing
    for a task neither paper has. The preset's own σ0 = 0.05 was chosen for 1,024 interlinked texels,
    too narrow to see across the plateaus of a few-parameter scene."""
    from optimizer_server.methods import get_method_class

    if task.zerograds_preset:
        preset = get_method_class("zerograds").presets[task.zerograds_preset]
        return {"sigma": max(preset["sigma"], ZEROGRADS_SIGMA_FLOOR), "samples": ZEROGRADS_SAMPLES}
    if task.prdpt_preset:
        preset = get_method_class("prdpt").presets[task.prdpt_preset]
        return {
            "sigma": min(preset["sigma"], PRDPT_SIGMA_CAP),
            "samples": max(4, preset["samples"] + preset["samples"] % 2),
        }
    return {}


def row_configuration(task, label: str) -> tuple[str, dict]:
    """(configuration name, option overrides) of the row ``label`` on ``task`` (module docstring)."""
    if label.startswith("zerograds:efficient"):
        return label, efficient_overrides(task)
    if label == "zerograds:paper":
        return f"zerograds:{task.zerograds_preset or 'paper'}", {}
    if label == "prdpt" and task.prdpt_preset:
        return f"prdpt:{task.prdpt_preset}", {}
    return label, {}
