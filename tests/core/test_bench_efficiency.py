"""The efficiency benchmark's runner: real problems, real methods, real files (tiny budgets)."""

from benchmarks import bench_efficiency


def test_residual_methods_get_the_images_and_losses_only_problems_are_named(tmp_path, capsys):
    """gauss_newton runs on a problem that draws images and is reported as skipped, with the reason, on
    one that gives only losses; auto gets the residuals as in a server job."""
    out = tmp_path / "eff"
    assert (
        bench_efficiency.main(
            [
                "--quick",
                "--seeds",
                "1",
                "--problems",
                "plateau1d",
                "discs2",
                "--methods",
                "gauss_newton",
                "auto",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "gauss_newton               skipped: method 'gauss_newton' needs each render's residual image" in printed
    summary = (out / "summary.md").read_text()
    assert "| plateau1d | 1 | n/a |" in summary  # gauss_newton's cell
    rows = (out / "runs.csv").read_text().splitlines()
    assert any(r.startswith("discs2,4,gauss_newton,0,") for r in rows)
    assert (out / "discs2.png").stat().st_size > 0


def test_auto_is_given_residuals_exactly_where_the_problem_has_images():
    from optimizer_server.problems.suite import suite

    makers = suite()
    texture = makers["texture1024"]()
    run = bench_efficiency.run_one(texture, "auto", seed=0, budget=40, stop_at_target=False)
    assert run["chosen"] == "gauss_newton" and run["evaluations"] == 40
    plateau = makers["plateau1d"]()  # losses only, and n = 1
    assert bench_efficiency.run_one(plateau, "auto", seed=0, budget=40, stop_at_target=False)["chosen"] == "blockwise"


def test_probe_span_bench_shows_smooth_probes_hold_more_of_a_texture(capsys):
    """benchmarks/bench_probe_span.py on a 32×32 texture: 40 smooth probes leave far less of the loss
    than 40 per-texel ones (measured 0.019 against 0.321: why gauss_newton probes image parameters smoothly)."""
    from benchmarks import bench_probe_span

    assert bench_probe_span.main(["--side", "32", "--probes", "40", "--smoothness", "0", "4"]) == 0
    left = {line.split()[0]: float(line.split()[-1]) for line in capsys.readouterr().out.splitlines()[1:]}
    assert 0.1 < left["white"] < 1 and left["smooth"] < 0.2 * left["white"]


def test_compare_runs_finds_identical_and_differing_runs_across_a_rename(tmp_path, capsys):
    from benchmarks import compare_runs

    header = "problem,n,method,seed,evaluations_to_target,final_error,optimizer_ms_per_iteration\n"
    (tmp_path / "a.csv").write_text(
        header + "discs1,2,zerograds (efficient),0,120,0.01,3.0\ndiscs1,2,cmaes,0,54,0.02,1.0\n"
    )
    (tmp_path / "b.csv").write_text(
        header + "discs1,2,zerograds:efficient,0,120,0.01,9.9\ndiscs1,2,cmaes,0,60,0.02,1.0\n"
    )
    status = compare_runs.main(
        [str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--rename", "zerograds (efficient)=zerograds:efficient"]
    )
    printed = capsys.readouterr().out
    assert status == 1  # cmaes differs in renders to target; the timing column is not compared
    assert "discs1 cmaes seed 0: evaluations_to_target 54 -> 60" in printed
    assert "1 runs identical, 1 differ, 0 not in the second file" in printed
