"""What a sweep records ([output]) and querying it without loading (kctsim.open_results)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_runner import META, tiny_specs

import kctsim
from kctsim.cli import main
from kctsim.experiment.runner import run_one, run_sweep
from kctsim.experiment.scenario import ScenarioError, parse_scenario
from kctsim.experiment.spec import Output
from kctsim.experiment.store import ledger_flows, load_results, metrics_wide, read_manifest
from kctsim.ledger import ACCOUNT_TYPES, KINDS

N = 6
HEAD = 'technologies = ["key_generic"]\nregimes = ["spiral"]\nreplicates = 1\nseed = 1\n'


@pytest.fixture(scope="module")
def specs():
    return tiny_specs(n=N, horizon=4, technologies=("key_generic", "major_strategic"))


@pytest.fixture(scope="module")
def default_sweep(specs, tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "out"
    run_sweep(specs, META, out, "sequential", progress=False, part_runs=4)
    return out


def sweep_with(specs, tmp_path, output: Output):
    out = tmp_path / "out"
    run_sweep(specs, META, out, "sequential", progress=False, output=output)
    return out


# ------------------------------------------------------------------ [output]


def test_flows_sum_every_transfer_by_payer_payee_kind_stage_and_tick(specs):
    ledger = specs[1].execute().ledger
    flows = ledger_flows(
        {
            "tick": ledger["tick"].to_numpy(),
            "from_type": ledger["from_type"].cat.codes.to_numpy(),
            "to_type": ledger["to_type"].cat.codes.to_numpy(),
            "kind": ledger["kind"].cat.codes.to_numpy(),
            "stage": ledger["stage"].to_numpy(),
            "amount": ledger["amount"].to_numpy(),
        }
    )
    keys = ["from_type", "to_type", "kind", "stage", "tick"]
    expected = ledger.groupby(keys, observed=True)["amount"].sum().reset_index()
    got = pd.DataFrame(flows)
    for col, names in (("from_type", ACCOUNT_TYPES), ("to_type", ACCOUNT_TYPES), ("kind", KINDS)):
        got[col] = pd.Categorical.from_codes(got[col], categories=list(names))
        expected[col] = expected[col].astype(str)
        got[col] = got[col].astype(str)
    assert len(got) < len(ledger)
    assert np.isclose(got["amount"].sum(), ledger["amount"].sum())
    pd.testing.assert_frame_equal(
        got[keys + ["amount"]].astype({"tick": "int64", "stage": "int64"}),
        expected.astype({"tick": "int64", "stage": "int64"}),
        check_exact=False,
    )


def test_full_ledger_keeps_every_transfer_of_the_run(specs, tmp_path):
    out = sweep_with(specs[:1], tmp_path, Output(ledger="full"))
    stored = load_results(out)["ledger"].drop(columns="run_id")
    direct = specs[0].execute().ledger
    assert len(stored) == len(direct)
    assert np.allclose(stored["amount"], direct["amount"])


def test_output_none_records_only_the_runs_table_and_says_what_is_missing(specs, tmp_path):
    out = sweep_with(specs, tmp_path, Output(metrics="none", ledger="none", spillover=False))
    assert read_manifest(out)["output"]["ledger"] == "none"
    tables = load_results(out)
    assert list(tables) == ["runs"] and len(tables["runs"]) == N
    with pytest.raises(
        ValueError, match=r'ledger: not recorded by this sweep \(\[output\] ledger = "none"\)'
    ):
        load_results(out, tables=("ledger",))
    with kctsim.open_results(out) as res:
        assert res.tables == ("runs",)
        with pytest.raises(ValueError, match="metrics: not recorded by this sweep"):
            res.sql("SELECT count(*) FROM metrics")


def test_metrics_can_be_a_list_every_kth_tick_and_the_last(specs, tmp_path):
    out = sweep_with(
        specs[:2], tmp_path, Output(metrics=("p_breakthrough", "lead"), metrics_every=3)
    )
    metrics = load_results(out)["metrics"]
    assert set(metrics["metric"]) == {"p_breakthrough", "lead"}
    assert sorted(set(metrics["tick"])) == [0, 3, 4]  # every 3rd tick, and the last (4)


def test_the_summary_is_the_same_whatever_is_recorded(specs, tmp_path, default_sweep):
    out = sweep_with(specs, tmp_path, Output(metrics="none", ledger="none", spillover=False))
    lean = load_results(out)["runs"].drop(columns="wall_time")
    full = load_results(default_sweep, tables=("runs",))["runs"].drop(columns="wall_time")
    pd.testing.assert_frame_equal(lean, full)


def test_stored_metrics_are_the_run_s_own(specs, default_sweep):
    wide = metrics_wide(load_results(default_sweep)["metrics"])
    direct = specs[3].execute().metrics
    mine = wide[wide.run_id == 3]
    assert np.allclose(mine[direct.columns].to_numpy(float), direct.to_numpy(float), equal_nan=True)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'ledger = "ful"',
            "output.ledger: 'ful' (did you mean 'full'?); allowed: flows, full, none",
        ),
        ('metrics = "some"', 'output.metrics: \'some\'; allowed: "all", "none" or an array'),
        ('metrics = ["p_breakthrough", "leed"]', "output.metrics[1]: unknown metric 'leed'"),
        ("metrics_every = 0", "output.metrics_every"),
        ('spillover = "yes"', "output.spillover: 'yes'; allowed: true, false"),
        ("ledgers = 1", "output: unknown key 'ledgers'"),
    ],
)
def test_bad_output_values_are_one_clear_message(section, message):
    text = f"{HEAD}[output]\n{section}\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, where="s.toml")
    assert str(info.value).startswith("s.toml: ") and message in str(info.value)


def test_bad_output_in_a_sweep_is_exit_2_and_writes_nothing(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'{HEAD}[output]\nledger = "all"\n')
    assert main(["sweep", str(scenario), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}: output.ledger: 'all'" in err and "allowed: flows, full, none" in err
    assert not (tmp_path / "out").exists()


def test_the_scenario_s_output_is_what_the_sweep_records(tmp_path):
    text = f'{HEAD}horizon = 2\n[output]\nmetrics = ["lead"]\nledger = "none"\nspillover = false\n'
    scenario = parse_scenario(text, where="s.toml")
    run_sweep(scenario.runs(), scenario.meta(), tmp_path / "out", "sequential", progress=False)
    manifest = read_manifest(tmp_path / "out")
    assert manifest["output"] == {
        "metrics": ["lead"],
        "metrics_every": 1,
        "ledger": "none",
        "spillover": False,
    }
    assert set(load_results(tmp_path / "out")) == {"runs", "metrics"}


def test_a_run_s_payload_carries_arrays_not_frames(specs):
    payload = run_one(specs[0])
    assert isinstance(payload.metrics["tick"], np.ndarray)
    assert set(payload.ledger) == {"tick", "from_type", "to_type", "kind", "stage", "amount"}
    assert payload.spillover.shape == (
        (len(ACCOUNT_TYPES) - 3 + 2 + 1) * 0 + payload.spillover.size,
    )


# -------------------------------------------------------------- open_results


def test_open_results_answers_like_load_results(default_sweep):
    tables = load_results(default_sweep)
    runs = tables["runs"]
    ok = runs[runs.status == "ok"]
    expected = ok.groupby(["technology", "regime"])["p_breakthrough"].mean().reset_index()
    with kctsim.open_results(default_sweep) as res:
        got = res.mean_by("p_breakthrough")
        assert np.allclose(got["mean"], expected["p_breakthrough"])
        assert got["n"].tolist() == ok.groupby(["technology", "regime"]).size().tolist()
        long = res.sql("SELECT run_id, tick, metric, value FROM metrics_long ORDER BY ALL")
        ref = tables["metrics"].sort_values(["run_id", "tick", "metric"], ignore_index=True)
        pd.testing.assert_frame_equal(long, ref, check_dtype=False)
        joined = res.sql(
            "SELECT r.technology, sum(l.amount) AS money FROM ledger l "
            "JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL"
        )
        by_tech = tables["ledger"].merge(runs[["run_id", "technology"]]).groupby("technology")
        assert np.allclose(joined["money"], by_tech["amount"].sum().to_numpy())


def test_open_results_filters_and_chains_without_loading_the_rest(default_sweep):
    with kctsim.open_results(default_sweep) as res:
        few = res.table("runs", ["run_id", "regime"], where="run_id < 2")
        assert few["run_id"].tolist() == [0, 1] and list(few.columns) == ["run_id", "regime"]
        rel = res.relation("metrics").filter("tick = 4").aggregate("avg(p_breakthrough) AS p")
        assert 0 <= rel.df()["p"].iloc[0] <= 1
        with pytest.raises(ValueError, match="no such view"):
            res.table("nothing")
