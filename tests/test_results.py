"""kctsim.results: tidy tables from a run, and writing them safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kctsim
from kctsim import metrics as metrics_module
from kctsim import results
from kctsim.config import AGENT_TYPES
from kctsim.files import OutputDirError
from kctsim.ledger import ACCOUNT_TYPES, KINDS
from kctsim.model import KCTModel
from kctsim.results import (
    RESULT_FILES,
    TABLES,
    ResultsExistError,
    collect_results,
    read_results,
    run_model,
    write_results,
)

HORIZON = 5

# The summary columns the brief promises; each is read by sweeps and reports.
SUMMARY_COLUMNS = [
    "technology",
    "regime",
    "seed",
    "horizon",
    "ticks_run",
    "broke_through",
    "breakthrough_tick",
    "p_breakthrough",
    "expected_breakthroughs",
    "breakthrough_by_rnd",
    "lead",
    "best_fitness",
    "mean_fitness",
    "gap_to_target",
    "spillover_share",
    "free_riding_share",
    "contribution_gap",
    "crowding_out",
    "misallocation_index",
    "chain_blockage",
    "diversity",
    "lock_in",
    "imitation_share",
    "adoption_share",
    "density",
    "clustering",
    "centralisation",
    "total_exits",
    "total_entries",
    "public_spend",
    "public_spend_per_breakthrough",
    "gov_money_total",
    "private_rnd_total",
]


@pytest.fixture(scope="module")
def finished_model() -> KCTModel:
    model = KCTModel(horizon=HORIZON, rng=0)
    while model.running:
        model.step()
    return model


@pytest.fixture(scope="module")
def run(finished_model: KCTModel) -> results.RunResults:
    return collect_results(finished_model)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# ------------------------------------------------------------------ the tables


def test_metrics_have_an_integer_tick_column_first(run, finished_model):
    m = run.metrics
    assert m.columns[0] == "tick"
    assert m["tick"].dtype == np.int64
    assert m["tick"].tolist() == list(range(HORIZON + 1))  # tick 0 is the initial state
    assert isinstance(m.index, pd.RangeIndex) and m.index.name is None
    assert "Step" not in m.columns
    assert set(metrics_module.RUN_METRICS) <= set(m.columns)
    assert len(m) == len(finished_model.datacollector.get_model_vars_dataframe())


def test_summary_is_one_row_with_every_promised_column(run):
    s = run.summary
    assert len(s) == 1
    missing = [c for c in SUMMARY_COLUMNS if c not in s.columns]
    assert not missing, f"summary lacks {missing}"
    assert s["broke_through"].dtype == bool
    assert s["breakthrough_tick"].dtype == float
    assert s["seed"].iloc[0] == 0
    assert s["horizon"].iloc[0] == HORIZON and s["ticks_run"].iloc[0] == HORIZON
    assert s["technology"].iloc[0] == "key_generic" and s["regime"].iloc[0] == "spiral"


def test_summary_values_agree_with_the_metrics_and_ledger(run):
    s, m, ledger = run.summary.iloc[0], run.metrics, run.ledger
    broke = bool(m["breakthrough"].iloc[-1])
    assert s["broke_through"] == broke
    if broke:
        first = m.loc[m["breakthrough"] == 1, "tick"].min()
        assert s["breakthrough_tick"] == first
        assert s["breakthrough_by_rnd"] == m.loc[m["tick"] == first, "passed_by_rnd"].item() == 1
    else:
        assert np.isnan(s["breakthrough_tick"]) and np.isnan(s["breakthrough_by_rnd"])
    assert s["p_breakthrough"] == m["p_breakthrough"].iloc[-1]
    assert s["expected_breakthroughs"] == pytest.approx(m.loc[m["at_risk"] == 1, "hazard"].sum())
    later = m[m["tick"] >= 1]
    assert s["crowding_out"] == pytest.approx(later["crowding_out"].mean())
    assert s["misallocation_index"] == pytest.approx(later["misallocation_index"].mean())
    assert s["total_exits"] == m["exits"].sum() and s["total_entries"] == m["entries"].sum()
    assert s["gov_money_total"] == pytest.approx(m["gov_money"].sum())
    assert s["diversity"] == m["diversity"].iloc[-1]
    # One flow column per ledger kind (zero when absent), adding up to the ledger.
    flows = {f"flow_{k}" for k in KINDS}
    assert flows <= set(run.summary.columns)
    assert sum(s[c] for c in flows) == pytest.approx(ledger["amount"].sum())
    assert s["flow_budget"] == pytest.approx(ledger.loc[ledger["kind"] == "budget", "amount"].sum())
    # Public money is what left the government's account, per expected breakthrough.
    public = ledger.loc[ledger["from_type"] == "government", "amount"].sum()
    assert public > 0 and s["public_spend"] == pytest.approx(public)
    assert s["public_spend_per_breakthrough"] == pytest.approx(public / s["expected_breakthroughs"])


def test_summary_reductions_equal_pandas_bit_for_bit():
    """The summary reduces with numpy (pandas per Series was as slow as a run), by pandas'
    rules: NaN left out of sums and means, integers and flags summed as integers."""
    rng = np.random.default_rng(3)
    floats = rng.random(81) * 1e3
    gappy = np.where(rng.random(81) < 0.2, np.nan, floats)
    cases = [floats, gappy, np.full(5, np.nan), floats[:0], rng.integers(0, 9, 81),
             rng.random(81) < 0.5]  # fmt: skip
    for values in cases:
        series = pd.Series(values)
        assert results._sum(values) == float(series.sum())
        mean = float(series.mean())
        assert results._mean(values) == mean or (np.isnan(mean) and np.isnan(results._mean(values)))


def test_collector_table_is_mesas_table(finished_model):
    """kctsim's DataCollector builds the table with numpy; Mesa's own way gives the same."""
    from mesa.datacollection import DataCollector

    collector = finished_model.datacollector
    ours = collector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(ours, DataCollector.get_model_vars_dataframe(collector))
    assert ours.dtypes.tolist() == DataCollector.get_model_vars_dataframe(collector).dtypes.tolist()


def test_collector_rows_reach_model_vars_once_however_often_they_are_read():
    """Ticks wait as rows until model_vars is read (the dashboard reads it every tick)."""
    read_often, read_once = KCTModel(horizon=12, rng=4), KCTModel(horizon=12, rng=4)
    lengths = []
    while read_often.running:
        read_often.step()
        read_once.step()
        lengths.append(len(read_often.datacollector.model_vars["tick"]))
    assert lengths == list(range(2, 14))  # tick 0 plus each tick, no row twice
    pd.testing.assert_frame_equal(
        read_often.datacollector.get_model_vars_dataframe(),
        read_once.datacollector.get_model_vars_dataframe(),
    )


def test_rows_give_the_table_mesas_own_collect_reads_from_the_model():
    """Mesa's plain DataCollector calls each metric's reporter (which reads the latest
    measurement); the rows kctsim's collector keeps give the same table."""
    from mesa.datacollection import DataCollector

    model = KCTModel(technology="major_strategic", horizon=15, rng=4)
    plain = DataCollector(model_reporters=metrics_module.model_reporters(model.n_stages))
    plain.collect(model)
    while model.running:
        model.step()
        plain.collect(model)
    ours = model.datacollector.get_model_vars_dataframe()
    theirs = plain.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.dtypes.tolist() == theirs.dtypes.tolist()
    assert isinstance(model.latest["n_sme"], int) and isinstance(model.p_breakthrough, float)
    pd.testing.assert_series_equal(
        pd.Series(model.latest, dtype=object), theirs.iloc[-1].astype(object), check_names=False
    )
    with pytest.raises(AttributeError):
        _ = model.n_sme  # metrics are read from model.latest, not as attributes


def test_the_kernels_rows_hold_every_metric_once():
    floats, ints = set(metrics_module.FLOAT_METRICS), set(metrics_module.INT_METRICS)
    assert not floats & ints
    assert floats | ints == set(metrics_module.RUN_METRICS)
    for n_stages in (1, 3):
        slots = list(metrics_module.metric_slots(n_stages).values())
        assert len(set(slots)) == len(slots)
        assert list(metrics_module.metric_slots(n_stages)) == list(
            metrics_module.model_reporters(n_stages)
        )


def test_summary_rules_name_real_metrics():
    # A renamed metric would otherwise turn a summary column into NaN with a warning.
    named = {"breakthrough", "breakthrough_tick", "at_risk", "hazard", "p_breakthrough"}
    named |= {*results.SUMMARY_LAST, *results.SUMMARY_MEAN_AFTER_START, *results.SUMMARY_TOTALS}
    named |= set(results.SUMMARY_AT_BREAKTHROUGH)
    assert named <= set(metrics_module.RUN_METRICS)


def test_spillover_is_the_matrix_in_long_form(run, finished_model):
    sp = run.spillover
    assert list(sp.columns) == ["source_type", "receiver_type", "gain"]
    assert list(sp["source_type"].cat.categories) == [*AGENT_TYPES, "foreign"]
    assert list(sp["receiver_type"].cat.categories) == list(AGENT_TYPES)
    assert len(sp) == (len(AGENT_TYPES) + 1) * len(AGENT_TYPES)
    wide = sp.pivot(index="source_type", columns="receiver_type", values="gain")
    np.testing.assert_array_equal(wide.to_numpy(), finished_model.spill_matrix)
    assert sp["gain"].sum() > 0  # something spilled in five ticks of spiral


def test_spillover_rejects_a_matrix_of_the_wrong_shape():
    with pytest.raises(ValueError, match="spill_matrix"):
        results.spillover_frame(np.zeros((len(AGENT_TYPES), len(AGENT_TYPES))))


def test_manifest_is_json_and_records_seed_and_versions(run, finished_model):
    man = run.manifest
    again = json.loads(json.dumps(man, allow_nan=False))
    assert again == man
    assert man["seed"] == 0 and man["seed_entropy"] == finished_model.seed_entropy
    assert man["kctsim"] == kctsim.__version__
    assert man["mesa"] and man["numpy"] == np.__version__ and man["pandas"] == pd.__version__
    assert man["python"] and man["platform"] and man["created"].endswith("+00:00")
    assert man["technology"]["name"] == "key_generic"
    assert isinstance(man["technology"]["stages"], list)
    assert man["regime"] == "spiral" and man["horizon"] == HORIZON
    assert man["levers"]["core_subject"] == finished_model.levers.core_subject
    assert man["parameters"]["parameters"]["horizon"] == HORIZON


def test_jsonable_converts_tuples_numpy_and_nan_and_refuses_the_rest():
    value = {"t": (1, np.int64(2)), "f": np.float64(0.5), "nan": float("nan"), 3: [np.bool_(1)]}
    assert results.jsonable(value) == {"t": [1, 2], "f": 0.5, "nan": None, "3": [True]}
    with pytest.raises(TypeError, match="JSON"):
        results.jsonable({"x": object()})


def test_same_seed_same_run_different_seed_different_run():
    a = run_model(horizon=HORIZON, seed=11)
    b = run_model(horizon=HORIZON, seed=11)
    c = run_model(horizon=HORIZON, seed=12)
    for name in TABLES:
        if name != "summary":
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.summary, b.summary)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a.metrics, c.metrics)
    assert a.manifest["seed"] == 11 and c.manifest["seed"] == 12


def test_run_model_passes_overrides_to_the_model():
    r = run_model("cutting_edge", "jungle", horizon=2, seed=1, ip_protection=0.1)
    assert r.manifest["levers"]["ip_protection"] == 0.1
    assert r.summary["regime"].iloc[0] == "jungle*"  # the model marks a changed preset
    assert r.summary["technology"].iloc[0] == "cutting_edge"


# --------------------------------------------------------------------- writing


def test_write_results_writes_every_file_and_reads_back(run, tmp_path):
    out = tmp_path / "new" / "run"
    paths = write_results(run, out)
    assert [p.name for p in paths] == list(RESULT_FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["run"]  # no staging left
    back = read_results(out)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(run, name))
        csv = pd.read_csv(out / f"{name}.csv")
        assert list(csv.columns) == list(getattr(run, name).columns)
        assert len(csv) == len(getattr(run, name))
    assert back.manifest == run.manifest


def test_parquet_keeps_categoricals(run, tmp_path):
    write_results(run, tmp_path / "r")
    ledger = pd.read_parquet(tmp_path / "r" / "ledger.parquet")
    for col in ("from_type", "to_type"):
        assert isinstance(ledger[col].dtype, pd.CategoricalDtype)
        assert list(ledger[col].cat.categories) == list(ACCOUNT_TYPES)  # unused ones too
    assert list(ledger["kind"].cat.categories) == list(KINDS)
    spill = pd.read_parquet(tmp_path / "r" / "spillover.parquet")
    assert list(spill["source_type"].cat.categories) == [*AGENT_TYPES, "foreign"]


def test_refuses_to_overwrite_earlier_results(run, tmp_path):
    out = tmp_path / "r"
    write_results(run, out)
    before = _files(out)
    with pytest.raises(ResultsExistError, match="overwrite=True"):
        write_results(run, out)
    assert _files(out) == before
    other = run_model(horizon=2, seed=5)
    write_results(other, out, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_refuses_a_directory_of_other_files_even_with_overwrite(run, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputDirError, match=r"not empty \(notes.txt\) and holds no kctsim"):
            write_results(run, out, overwrite=overwrite)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_refuses_a_file_as_out_dir(run, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError):
        write_results(run, target)
    assert target.read_text() == "x"


def test_failure_while_writing_leaves_nothing_behind(run, tmp_path, monkeypatch):
    calls = []

    def broken_parquet(frame, path):
        calls.append(path)
        if len(calls) == 3:
            path.write_bytes(b"PAR1 half a file")  # a crash in the middle of a file
            raise OSError("disk full")
        frame.to_parquet(path, index=False)

    monkeypatch.setitem(results._WRITERS, "parquet", broken_parquet)
    out = tmp_path / "deep" / "run"
    with pytest.raises(OSError, match="disk full"):
        write_results(run, out)
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []  # no out dir, no parents we made, no staging


def test_failure_while_moving_into_place_keeps_the_earlier_results(run, tmp_path, monkeypatch):
    out = tmp_path / "r"
    write_results(run, out)
    before = _files(out)
    newer = run_model(horizon=2, seed=9)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        # 9 old files go to the backup, then the 4th new file fails to arrive.
        if len(calls) == len(RESULT_FILES) + 4:
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="power cut"):
        write_results(newer, out, overwrite=True)
    monkeypatch.undo()
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # staging and backup gone


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "existing-dir"])
def test_failure_while_moving_into_place_takes_new_files_out(run, tmp_path, monkeypatch, existing):
    out = tmp_path / "r"
    if existing:
        out.mkdir()
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 4:  # three result files are already in place
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="power cut"):
        write_results(run, out)
    monkeypatch.undo()
    if existing:
        assert _files(out) == {}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    else:
        assert list(tmp_path.iterdir()) == []
