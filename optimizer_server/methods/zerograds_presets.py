"""ZeroGrads' named presets: the thesis's settings (App. Tab. C.1, the Tab. 5.2 ablations) and this
project's measured-best ``efficient`` (docs/efficiency.md), each a configuration ``zerograds:<name>``."""

# The thesis' algorithm and settings exactly (docs/methods.md): every option this project added is off.
PAPER = dict(
    sigma=0.33,
    samples=2,
    lr=1e-3,
    surrogate_lr=1e-3,
    surrogate="auto",
    theta_steps=1,
    surrogate_steps=3,
    refit_first=False,
    anneal=False,
    lr_follows_sigma=False,
    replay=0,
    standardize_losses=False,
    local_inputs=False,
    step_control="adam",
    lean_threshold=10**12,
)

# The best configuration measured for n >= 100 (docs/efficiency.md, "zerograds: the efficient preset",
# has what each setting buys): refit before stepping, standardised losses, local surrogate inputs, replay
# of 4 iterations, a lean surrogate fitted with up to 30 steps (bounded by fit_budget at very large n),
# trust steps of σ per coordinate, σ annealed 0.05 → 0.002, discrete σ floor annealed 0.7 → 0.1 spacings.
EFFICIENT = dict(
    samples=20,
    sigma=0.05,
    surrogate="auto_lean",
    surrogate_lr=0.01,
    surrogate_steps=30,
    refit_first=True,
    standardize_losses=True,
    local_inputs=True,
    replay=4,
    replay_max_log_ratio=10.0,
    step_control="trust",
    trust_step=1.0,
    anneal=True,
    warm_fraction=0.0,
    sigma_min=0.002,
    discrete_sigma=0.7,
    discrete_sigma_min=0.1,
    fit_budget=1e8,
    flat_widen=2.0,
)


PRESETS = {  # App. Tab. C.1 (samples = N), and the ablations of Tab. 5.2, all on top of PAPER
    "paper": PAPER,
    "efficient": EFFICIENT,
    "wicker": dict(PAPER, sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
    "brdf": dict(PAPER, sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
    "cbox": dict(PAPER, sigma=0.10, samples=2, lr=5e-4, surrogate_lr=1e-3),
    "gravity": dict(PAPER, sigma=0.20, samples=2, lr=1e-3, surrogate_lr=1e-3),
    "rocket": dict(PAPER, sigma=0.33, samples=2, lr=1e-3, surrogate_lr=5e-4),
    "node_graph": dict(PAPER, sigma=0.20, samples=2, lr=1e-3, surrogate_lr=1e-3),
    "led": dict(PAPER, sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
    "mosaic": dict(PAPER, sigma=0.025, samples=16, lr=5e-4, surrogate_lr=1e-3),
    "caustic": dict(PAPER, sigma=0.013, samples=20, lr=2e-4, surrogate_lr=1e-4),
    "mesh": dict(PAPER, sigma=0.025, samples=20, lr=2e-3, surrogate_lr=1e-4),
    "texture": dict(PAPER, sigma=0.025, samples=20, lr=1e-5, surrogate_lr=1e-4),
    "nosmooth": dict(PAPER, smooth=False),
    "nonn": dict(PAPER, surrogate="quadratic"),
    "nolocal": dict(PAPER, local=False),
    # the same three ablations of this project's ZeroGrads (what each component buys on top of it)
    "efficient_nosmooth": dict(EFFICIENT, smooth=False),
    "efficient_smooth_samples": dict(EFFICIENT, smooth_samples=True),
    "efficient_nonn": dict(EFFICIENT, surrogate="quadratic"),
    "efficient_nolocal": dict(EFFICIENT, local=False),
    # the paper's algorithm with σ_o annealed and steps shrinking with it: the paper's fixed σ_o and lr
    # leave the analytic disc jittering around its target (0/5 seeds within 0.02 at 2,000 renders)
    "disc": dict(
        PAPER,
        sigma=0.3,
        lr=0.02,
        surrogate_lr=0.01,
        anneal=True,
        lr_follows_sigma=True,
        refit_first=True,
        samples=4,
        surrogate_steps=10,
    ),
}
PRESET_NOTES = {
    "paper": "the thesis's ZeroGrads exactly (σ_o 0.33, N 2, Adam lr 1e-3, 3 surrogate steps)",
    "efficient": "this project's measured-best ZeroGrads: local refits on replayed samples, trust steps of σ, "
    "σ annealed (docs/efficiency.md)",
    **{
        task: f"the thesis's settings for {title} (App. Tab. C.1)"
        for task, title in (
            ("wicker", "WICKER"),
            ("brdf", "BRDF"),
            ("cbox", "CORNELL-BOX"),
            ("gravity", "GRAVITY"),
            ("rocket", "ROCKET"),
            ("node_graph", "NODE-GRAPH"),
            ("led", "LED"),
            ("mosaic", "MOSAIC"),
            ("caustic", "CAUSTIC heightfield"),
            ("mesh", "MESH"),
            ("texture", "TEXTURE"),
        )
    },
    "nosmooth": "ablation of Tab. 5.2: the paper's ZeroGrads without the inner smoothing",
    "nonn": "ablation of Tab. 5.2: a quadratic potential instead of the neural surrogate",
    "nolocal": "ablation of Tab. 5.2: samples uniform over the domain instead of around θ",
    "efficient_nosmooth": "`efficient` without the inner smoothing",
    "efficient_smooth_samples": "`efficient` with samples smooth on image grids and along mesh edges",
    "efficient_nonn": "`efficient` with a quadratic potential instead of the neural surrogate",
    "efficient_nolocal": "`efficient` with samples uniform over the domain instead of around θ",
    "disc": "the paper's ZeroGrads with σ_o annealed and steps shrinking along (the analytic disc's tests and demo)",
}
