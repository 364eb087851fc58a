"""Calibration of the global cost scale: the inversion, the fit, the command."""

import json
import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from kctsim.analysis import calibration as cal
from kctsim.cli import main


def test_solve_interpolates_linearly_in_log_cost():
    costs = np.array([10.0, 20.0, 40.0, 80.0])
    mean = np.array([30.0, 25.0, 15.0, 5.0])
    # 21 lies 40% of the way from 25 (at 20) to 15 (at 40): 20 * 2**0.4.
    assert cal.solve(costs, mean, 21) == pytest.approx(20 * 2**0.4)
    assert cal.solve(costs, mean, 25) == pytest.approx(20.0)
    assert math.isnan(cal.solve(costs, mean, 31))  # never reached on the grid
    assert math.isnan(cal.solve(costs, mean, 4))


def test_solve_tolerates_a_noisy_non_monotone_curve():
    costs = np.array([10.0, 20.0, 40.0, 80.0])
    assert cal.solve(costs, np.array([30.0, 24.0, 25.0, 5.0]), 21) > 20


def synthetic_grid(c0: float, replicates: int = 30, seed: int = 0) -> pd.DataFrame:
    """35 technologies per replicate, each broken through with chance 1/(1 + (c/c0)^2)."""
    rng = np.random.default_rng(seed)
    rows = []
    for cost in cal.grid_values(20, 500, 8):
        p = 1 / (1 + (cost / c0) ** 2)
        for r in range(replicates):
            for tech in range(35):
                rows.append(
                    {
                        "factor.cost_scale": cost,
                        "replicate": r,
                        "technology": f"t{tech}",
                        "status": "ok",
                        "broke_through": rng.random() < p,
                    }
                )
    return pd.DataFrame(rows)


def test_fit_recovers_a_known_cost_scale_with_an_interval_around_it():
    # Half of the 35 (17.5) break through exactly at c0 = 100.
    fit = cal.fit(synthetic_grid(100.0), target=17.5)
    assert fit.cost_scale == pytest.approx(100, rel=0.12)
    assert fit.ci_low < 100 < fit.ci_high
    assert fit.ci_high - fit.ci_low < 40
    assert fit.n_technologies == 35 and fit.replicates == 30
    assert (np.diff(fit.curve["mean"]) < 0).all()


def test_the_record_round_trips_through_toml(tmp_path):
    record = {"cost_scale": 86.5, "ci_low": 60.0, "ci_high": 120.0, "grid": [30.0, 60.0],
              "scenario": "chokepoints_2018", "created": "2026-11-27T00:00:00+00:00"}  # fmt: skip
    path = tmp_path / "calibration.toml"
    cal.write_calibration_toml(record, path)
    assert tomllib.loads(path.read_text()) == record


def test_the_packaged_calibration_is_a_fitted_value():
    record = cal.calibration_record()
    assert record["ci_low"] <= record["cost_scale"] <= record["ci_high"]
    assert record["target_broken_through"] == cal.TARGET
    grid, mean = np.array(record["grid"]), np.array(record["mean_broken_through"])
    assert grid.min() < record["cost_scale"] < grid.max()
    assert mean.max() >= cal.TARGET >= mean.min()


@pytest.fixture
def cells_scenario(tmp_path):
    (tmp_path / "cells.csv").write_text(
        "id,name,kind\n1,alpha,key_generic\n2,beta,key_generic\n3,gamma,cutting_edge\n"
    )
    path = tmp_path / "tiny.toml"
    path.write_text(
        'name = "tiny"\nhorizon = 6\nreplicates = 2\nseed = 1\n'
        '[cells]\nfile = "cells.csv"\nid_column = "id"\nname_column = "name"\n'
        'type_column = "kind"\n'
        '[cells.regimes]\nkey_generic = "dislocated"\ncutting_edge = "path_dependent"\n'
    )
    return path


def test_calibrate_runs_the_grid_and_writes_the_fit(cells_scenario, tmp_path, capsys):
    out = tmp_path / "cal"
    args = ["calibrate", str(cells_scenario), "--grid", "0.5", "5000", "--points", "3",
            "--target", "1", "--executor", "sequential", "--quiet", "--out", str(out)]  # fmt: skip
    code = main(args)
    printed = capsys.readouterr()
    curve = pd.read_csv(out / "curve.csv")
    assert curve["cost_scale"].tolist() == cal.grid_values(0.5, 5000, 3)
    assert (out / "calibration.png").is_file() and (out / "calibration.svg").is_file()
    record = json.loads((out / "calibration.json").read_text())
    assert record["technologies"] == 3 and record["replicates"] == 2
    if curve["mean"].max() >= 1 >= curve["mean"].min():
        assert code == 0 and "cost_scale = " in printed.out
    else:  # the target is outside what the grid reached: said, and exit 1
        assert code == 1 and "widen --grid" in printed.err
    # The same grid again is refused without --resume; with it, nothing is rerun.
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == code


def test_calibrate_needs_a_scenario_of_cells(tmp_path, capsys):
    path = tmp_path / "plain.toml"
    path.write_text(
        'technologies = ["key_generic"]\nregimes = ["spiral"]\nreplicates = 2\nseed = 1\n'
    )
    assert main(["calibrate", str(path), "--out", str(tmp_path / "cal")]) == 2
    assert "has no [cells]" in capsys.readouterr().err
    assert not (tmp_path / "cal").exists()


def test_calibrate_refuses_an_empty_grid(cells_scenario, capsys):
    assert main(["calibrate", str(cells_scenario), "--grid", "300", "30"]) == 2
    assert "LOW must be below HIGH" in capsys.readouterr().err
