"""Batch mode: optimise a .blend headless from a TOML job file.

    python -m optimizer_server run JOB.toml          # with the `bpy` module installed
    blender -b --python-expr "import sys; sys.path.insert(0, '.'); from blender_addon import batch; \
sys.exit(batch.main())" -- JOB.toml

Writes to the job's output folder: result.json (x: name → value, the optimiser's final estimate;
loss: image MSE of its render against the target; verdict: whether it matched the target within
the target's render noise; evaluations; history), initial.png, target.png, final.png, loss.png and
optimised.blend. An array parameter's values go to ``x_<name>.npy`` (and an image's to
``x_<name>.png`` too); result.json names the file, the shape and the range. The job-file format is
documented in ``blender_addon/jobfile.py``. bpy is imported only when a job runs; the optimizer
itself runs in a separate, supervised server process started with a Python that has torch
(``--server-python``, else $ZEROGRADS_PYTHON, else this Python / python3) — inside `blender -b`, set
one of the first two.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from optimizer_server.wire.imageloss import ImageLoss
from optimizer_server.wire.progress import EtaClock, format_progress, short_values

from ._deps import ZeroGradsError


def _say(text: str) -> None:
    print(text, flush=True)


def _write_loss_plot(path: str, history: list[dict[str, Any]], method: str) -> None:
    """A labelled matplotlib plot where matplotlib exists (the venv); inside a bare Blender the
    add-on's dependency-free line chart."""
    try:
        from optimizer_server.pictures import plot_losses
    except ImportError:
        plot_losses = None
    if plot_losses is not None and history:
        try:
            plot_losses(
                path,
                {f"{method}: batch mean": history, "best sample": [{**h, "loss": h["best_loss"]} for h in history]},
                title="loss vs renders",
            )
            return
        except ImportError:
            pass
    from blender_addon import images

    images.write_png(path, images.plot_curve([h["loss"] for h in history], 480, 240), linear=False)


def _open_scene(path: str) -> None:
    """Open a .blend as data: its embedded scripts never run (use_scripts=False, whatever the
    preferences say)."""
    import bpy

    from blender_addon import jobfile

    try:
        bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
    except RuntimeError as exc:
        problem = f"'blend' = {path!r}: Blender cannot open it ({exc}); give a .blend it saved"
        raise jobfile.JobFileError(problem) from None


def _load_image(path: str, key: str):
    from blender_addon import images, jobfile

    try:
        return images.load_image(path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise jobfile.JobFileError(f"[target] {key} = {path!r}: not an image Blender can read ({exc})") from None


def run_job(
    path: str,
    quiet: bool = False,
    *,
    allow_output_outside: bool = False,
    server_python: str = "",
    resume: str | None = None,
) -> dict[str, Any]:
    """Run the job file at ``path``; returns what result.json holds. Raises ZeroGradsError subclasses.
    ``resume``: a job folder of an earlier run of this file (its server died): continue that job."""

    from blender_addon import jobfile, prepare

    say = (lambda *_: None) if quiet else _say
    job = jobfile.load(path, allow_output_outside=allow_output_outside)
    os.makedirs(job.output, exist_ok=True)
    say(f"zerograds: job {job.path}\n  scene  {job.blend}\n  output {job.output}")
    _open_scene(job.blend)
    prepared = prepare.prepare(job.params, job.width, job.height, job.samples, frame=job.frame, cameras=job.cameras)
    target, mask = _reference_pictures(job, prepared)
    started = time.monotonic()
    run, history = _optimise(job, prepared, target, mask, say, server_python, resume)
    result = run.result
    if result["state"] == "failed":
        raise ZeroGradsError(f"the optimisation failed: {result['message']} (logs in {run.work_dir})")
    # The result is the optimiser's estimate θ (what the papers report); the single best sample
    # it rendered is kept too, but one lucky noisy render is a worse estimate, unless the run stopped
    # because that sample matched the target (the verdict rendered it again to say so).
    verdict = result.get("verdict")
    x = result["best"] if verdict and verdict["matched"] and result.get("best") else result["current"]
    final = _final_picture(job, prepared, x)
    _write_loss_plot(os.path.join(job.output, "loss.png"), history, job.method)
    out = {
        "schema": 1,
        "job": job.path,
        "state": result["state"],
        "x": _plain(x, job.output, "x_"),
        "loss": ImageLoss(target, mask).loss(final),
        "best_sample": {"x": _plain(result.get("best"), job.output, "best_"), "loss": result.get("best_loss")},
        "verdict": verdict,
        "evaluations": result["evaluations"],
        "iterations": result["iteration"],
        "start": _plain(prepared.start_named(), job.output, "start_"),
        "target": _plain(job.target_values, job.output, "target_"),
        "method": job.method,
        "worker_restarts": run.restarts,
        "scene": None if run.scene is None else dict(run.scene, uploaded_bytes=run.scene_bytes_uploaded),
        "wall_s": round(time.monotonic() - started, 3),
        "history": history,
    }
    with open(os.path.join(job.output, "result.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    said = verdict["text"] if verdict else "no verdict (cancelled before the answer was rendered)"
    say(
        f"  {result['state']} after {result['evaluations']} renders: loss {out['loss']:.4g}, "
        f"x = {short_values(x, limit=len(x))}\n  {said}\n"
        f"  pictures: {job.output}/{{initial,target,final,loss}}.png\n"
        f"  result:   {job.output}/result.json, optimised scene: {job.output}/optimised.blend"
    )
    return out


def _plain(named: dict[str, Any] | None, folder: str | None = None, prefix: str = "") -> dict[str, Any] | None:
    """Values for JSON: an array block as its shape and range, its values in ``folder/<prefix><name>.npy``
    (and an image-shaped one as a PNG beside it) when a folder is given."""
    if named is None:
        return None
    import numpy as np

    out = {}
    for name, value in named.items():
        if isinstance(value, (list, np.ndarray)) and np.size(value) > 1:
            value = np.asarray(value, dtype=np.float64)
            entry = {"shape": list(value.shape), "min": float(value.min()), "max": float(value.max())}
            entry["mean"] = float(value.mean())
            if folder is not None:
                safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
                np.save(os.path.join(folder, f"{prefix}{safe}.npy"), value, allow_pickle=False)
                entry["file"] = f"{prefix}{safe}.npy"
                if value.ndim == 3 and value.shape[2] in (1, 3, 4):
                    from blender_addon import images

                    images.write_png(os.path.join(folder, f"{prefix}{safe}.png"), value)
            value = entry
        out[name] = value
    return out


def _reference_pictures(job, prepared):
    """Render initial.png (and the target, when given as values) with the workers' renderer; load
    the target image and mask otherwise. The scene's own render settings come back afterwards."""
    import bpy

    from blender_addon import images, jobfile, render
    from blender_addon.worker import SceneRenderer

    with render.temporary_settings(bpy.context.scene), SceneRenderer(threads=job.threads or 0) as renderer:
        renderer.setup(prepared.settings, prepared.names, job="batch")
        initial = renderer.render_one(prepared.start_units, seed=0)
        images.write_png(os.path.join(job.output, "initial.png"), initial)
        if job.target_values is not None:
            target = renderer.render_one(prepared.units(job.target_values), seed=job.target_seed)
        else:
            target = _load_image(job.target_image, "image")
            width = job.width * len(job.cameras or [None])  # several cameras: their views side by side
            if target.shape[:2] != (job.height, width):
                raise jobfile.JobFileError(
                    f"[target] image is {target.shape[1]}×{target.shape[0]} but [render] makes {width}×{job.height}"
                    f"{' (the cameras side by side)' if job.cameras else ''}; make them match"
                )
        images.write_png(os.path.join(job.output, "target.png"), target)
        mask = _load_image(job.mask, "mask")[:, :, :1] if job.mask else None
        if mask is not None and mask.shape[:2] != target.shape[:2]:
            raise jobfile.JobFileError(
                f"[target] mask is {mask.shape[1]}×{mask.shape[0]}, the target "
                f"{target.shape[1]}×{target.shape[0]}; make them match"
            )
    return target, mask


def _optimise(job, prepared, target, mask, say, server_python: str = "", resume: str | None = None):
    """Start server, workers and the job (or ``resume`` an earlier one); follow it to the end
    (Ctrl+C cancels). Returns (run, history)."""
    from blender_addon.runner import Run

    run = Run(
        job.blend,
        address=job.address,
        server_python=server_python,
        work_dir=os.path.join(job.output, "run"),
        threads_per_worker=job.threads,
        resume_hint=f"python -m optimizer_server run {job.path} --resume {{job_dir}}",
        ship_scene=True,  # the job carries its scene: workers elsewhere fetch it by hash
        **_workers(job),
    )
    history: list[dict[str, Any]] = []
    clock = EtaClock(job.budget)
    interrupted = []
    previous_sigint = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        args = prepared.submit_args(
            job.method, job.budget, job.seed, job.options, job.preset, target, mask, os.path.basename(job.path)
        )
        job_id = run.start(**args, resume=resume)
        say(
            f"  job {job_id}: {job.method}, {len(prepared.refs)} parameter(s) ({prepared.space.n:,} values), "
            f"budget {job.budget} renders, {_describe_workers(job, run)}, server {run.address}"
        )
        while not run.finished:
            if interrupted and interrupted[0] is True:
                say("  interrupted: cancelling the job")
                run.cancel()
                interrupted[0] = "sent"
            for kind, body in run.poll(timeout_s=0.2):
                if kind == "progress":
                    history.append({k: body[k] for k in ("iteration", "evaluations", "loss", "best_loss")})
                    history[-1]["x"] = _plain(body["current"])
                    clock.update(body["evaluations"])
                    say("  " + format_progress(body, job.budget, clock.eta_s(), values=body["current"]))
    finally:
        if previous_sigint is not None:  # None: Blender installed its own handler from C
            signal.signal(signal.SIGINT, previous_sigint)
        run.stop()
    return run, history


def _final_picture(job, prepared, x):
    """Render the result, write final.png and optimised.blend (the scene holding the result)."""
    import bpy

    from blender_addon import images, params, render
    from blender_addon.worker import SceneRenderer

    units = prepared.units(x)
    with render.temporary_settings(bpy.context.scene), SceneRenderer(threads=job.threads or 0) as renderer:
        renderer.setup(prepared.settings, prepared.names, job="final")
        final = renderer.render_one(units, seed=0)
    params.apply_values(prepared.bindings, units)  # the renderer gave back the start values
    params.keep(prepared.bindings)  # images: packed, so the .blend holds the result
    images.write_png(os.path.join(job.output, "final.png"), final)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(job.output, "optimised.blend"), copy=True)
    return final


def _workers(job) -> dict[str, Any]:
    """How many workers, where, on which device: local processes (one per GPU by default, each bound
    to its own), or Ray actors that fetch the scene."""
    from blender_addon import devices

    if job.ray is not None:
        ray = {"address": job.ray, "gpus_per_worker": job.gpus_per_worker, "cpus_per_worker": job.cpus_per_worker}
        return {"worker_count": job.workers, "worker_args": [["--device", job.device]], "ray": ray}
    if job.workers == 0:
        return {"worker_count": 0}
    args = devices.worker_args(job.device, job.workers)
    return {"worker_count": len(args), "worker_args": args}


def _describe_workers(job, run) -> str:
    where = f"Ray actors on {job.ray}" if job.ray else "local"
    return f"{run.worker_count} {where} worker(s) ({job.device})"


def add_run_parser(subparsers):
    """``python -m optimizer_server run JOB.toml`` (wired by __main__)."""
    p = subparsers.add_parser(
        "run",
        help="optimise a .blend headless from a TOML job file (needs bpy)",
        description="Run a batch job: see blender_addon/jobfile.py for the job-file keys.",
    )
    p.add_argument("job", metavar="JOB.toml")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--allow-output-outside",
        action="store_true",
        help="let the job file's 'output' name a folder outside the job file's own folder",
    )
    p.add_argument(
        "--server-python",
        default="",
        metavar="PATH",
        help="Python (with torch) for the local optimizer server (default: $ZEROGRADS_PYTHON, this Python, python3)",
    )
    p.add_argument("--resume", metavar="JOB_DIR", help="continue the job of an earlier run whose server died")
    p.set_defaults(func=run_cli)
    return p


def run_cli(args) -> int:
    run_job(
        args.job,
        quiet=args.quiet,
        allow_output_outside=args.allow_output_outside,
        server_python=args.server_python,
        resume=args.resume,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``run JOB.toml``: exit code 0 on success, 2 for a bad job file or a failed run."""
    if argv is None:  # inside `blender -b ... -- JOB.toml` our arguments follow "--"
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m optimizer_server run")
    add_run_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["run", *argv])
    except SystemExit as exc:
        return int(exc.code or 0) and 2
    try:
        run_cli(args)
    except ZeroGradsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
