"""How much of a blurred texture's loss the span of k probes can remove at best (docs/efficiency.md).

    .venv/bin/python -m benchmarks.bench_probe_span --side 256 --probes 1500 3000 --smoothness 0 3

For the efficiency suite's texture problem (side × side texels through a σ = 1.5 px blur) this draws
k probe directions, white (smoothness 0) or smoothed on the texel grid like `gauss_newton`'s `grid`
probes, and prints the least-squares optimum of the loss over the start plus their span, relative to
the start's loss. Bounds are ignored, so this is a floor for any method that steps within the probes'
span (`gauss_newton` is one): if it is above the target, no such method reaches the target with k probes.
"""

from __future__ import annotations

import argparse

import numpy as np

from optimizer_server.methods.gauss_newton import smooth_noise
from optimizer_server.problems.suite import BlurredTexture


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--probes", type=int, nargs="+", default=[800, 1600, 3000])
    parser.add_argument(
        "--smoothness",
        type=float,
        nargs="+",
        default=[0.0, 4.0],
        help="probe correlation length in texels (0: independent per texel)",
    )
    args = parser.parse_args(argv)
    side = args.side
    texture = BlurredTexture(side, 1.5, seed=side)  # the suite's texture{side²}
    start = texture.render(np.full((1, side * side), 0.5))[0] - texture.target_image
    r0 = start.ravel()
    rng = np.random.default_rng(0)
    print(f"texture{side * side}: best loss over start + span(k probes), relative to the start's loss")
    for smoothness in args.smoothness:
        for k in args.probes:
            if smoothness > 0:
                probes = smooth_noise(rng, k, (side, side), smoothness)
            else:
                probes = rng.standard_normal((k, side * side))
            # the blur is linear: the images' response to the probes, without clipping
            images = np.fft.irfft2(
                np.fft.rfft2(probes.reshape(k, side, side)) * texture.kernel_hat[:, : side // 2 + 1], s=(side, side)
            ).reshape(k, -1)
            basis, _ = np.linalg.qr(images.T.astype(np.float32))
            rest = r0 - basis @ (basis.T @ r0)
            label = "white" if smoothness == 0 else f"smooth {smoothness:g}"
            print(f"  {label:>10s}  k={k:5d}: {float(rest @ rest / (r0 @ r0)):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
