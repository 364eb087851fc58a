"""The ``kctsim`` command line.

Each subcommand is a function ``add_<name>(subparsers)`` that builds its parser
and sets ``handler`` (a function ``Namespace -> int``) as a default; it is
listed in :data:`SUBCOMMANDS`. To add one (sweep, propositions, report,
dashboard), write such a function and append it there.

Every usage error, bad value or refused write is reported as one line on
stderr, ``kctsim: error: <what, where, what is allowed>``, with exit code 2,
and nothing is written.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from kctsim.config import ConfigError, regime_names, technology_names
from kctsim.files import OutputDirError
from kctsim.results import ResultsExistError, check_out_dir, run_model, write_results

PROG = "kctsim"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class CommandFailed(Exception):
    """The input was fine but the command could not finish: one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting.

    argparse would print the usage block plus the message; we want exactly one
    line, and ``main`` returns the exit code instead of calling ``sys.exit``
    so it can be called in-process.
    """

    command_names: tuple[str, ...] = ()

    def error(self, message: str) -> NoReturn:
        if self.command_names and "required: COMMAND" in message:
            message += f" (one of: {', '.join(self.command_names)})"
        elif message.startswith("unrecognized arguments"):
            message += f"; see '{self.prog} --help' for the options"
        raise UsageError(message)


# ------------------------------------------------------------ value checking


def _name_type(kind: str, allowed: Callable[[], list[str]]) -> Callable[[str], str]:
    """An argparse type that accepts one of ``allowed()`` and names them all if not."""

    def check(value: str) -> str:
        names = allowed()
        if value in names:
            return value
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown {kind} {value!r}{hint}; allowed: {', '.join(names)}"
        )

    check.__name__ = kind  # argparse names the type in some messages
    return check


def _int_range_text(minimum: int, maximum: int | None) -> str:
    if maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    return "a positive integer" if minimum == 1 else f"an integer >= {minimum}"


def _int_type(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type for integers in [minimum, maximum] whose message says so."""
    allowed = _int_range_text(minimum, maximum)

    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {value!r}")
        return number

    check.__name__ = "integer"
    return check


def _max_horizon() -> int | None:
    """The largest horizon the model accepts, so --ticks can say so up front."""
    import kctsim.config

    # Looked up softly: if the config stops declaring a range, the model still checks.
    bounds = getattr(kctsim.config, "PARAMETER_RANGES", {}).get("horizon")
    return int(bounds[1]) if bounds else None


def _default_horizon() -> str:
    try:
        from kctsim.config import default_parameters

        return str(default_parameters().horizon)
    except Exception:  # help must work even if the defaults file is broken
        return "the model's default horizon"


# ------------------------------------------------------------------- kctsim run


def add_run(subparsers: Any) -> None:
    """``kctsim run``: one run, a summary table, results on disk."""
    techs, regimes, max_ticks = technology_names(), regime_names(), _max_horizon()
    p = subparsers.add_parser(
        "run",
        help="run the model once and write its results",
        description=(
            "Run the model once for one technology type under one regime, print a "
            "summary and write metrics, ledger, spillover and summary tables (Parquet "
            "and CSV) plus manifest.json to the output directory."
        ),
    )
    p.add_argument(
        "--tech",
        type=_name_type("technology type", technology_names),
        default="key_generic",
        metavar="TYPE",
        help=f"technology type, one of: {', '.join(techs)} (default: key_generic)",
    )
    p.add_argument(
        "--regime",
        type=_name_type("regime", regime_names),
        default="spiral",
        metavar="NAME",
        help=f"regime preset, one of: {', '.join(regimes)} (default: spiral)",
    )
    p.add_argument(
        "--ticks",
        type=_int_type(1, max_ticks),
        default=None,
        metavar="N",
        help=(
            f"ticks (quarters) to run, {_int_range_text(1, max_ticks)} "
            f"(default: the model's horizon, {_default_horizon()})"
        ),
    )
    p.add_argument(
        "--seed",
        type=_int_type(0),
        default=0,
        metavar="S",
        help="random seed, an integer >= 0; the same seed gives the same run (default: 0)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results/run"),
        metavar="DIR",
        help=(
            "directory for the results, created if missing; relative paths are "
            "relative to the current directory (default: results/run)"
        ),
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace results of an earlier run in --out (default: refuse)",
    )
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Check the output directory, run the model, print the summary, write the results."""
    # Checked before the run so a bad --out costs nothing and writes nothing.
    _check_out(args.out, args.overwrite)
    results = run_model(
        technology=args.tech, regime=args.regime, horizon=args.ticks, seed=args.seed
    )
    print(format_summary(results.summary.iloc[0].to_dict()))
    try:
        paths = write_results(results, args.out, overwrite=args.overwrite)
    except (ResultsExistError, OutputDirError, NotADirectoryError) as exc:  # appeared meanwhile
        raise UsageError(f"--out: {exc}") from exc
    except OSError as exc:  # e.g. no permission or disk full; nothing was left behind
        raise CommandFailed(f"cannot write results to {args.out}: {exc}") from exc
    print(f"\nwrote {len(paths)} files to {args.out}/")
    return EXIT_OK


def _check_out(out: Path, overwrite: bool) -> None:
    try:
        check_out_dir(out, overwrite)
    except ResultsExistError as exc:
        raise UsageError(
            f"--out: {out} already holds kctsim results from an earlier run; "
            "pass --overwrite to replace them or choose another --out"
        ) from exc
    except OutputDirError as exc:
        raise UsageError(f"--out: {exc}") from exc
    except NotADirectoryError as exc:
        raise UsageError(f"--out: {exc}; give a directory path") from exc


def format_summary(s: dict[str, Any]) -> str:
    """The summary row as an aligned two-column table."""
    broke = f"yes, at tick {int(s['breakthrough_tick'])}" if s["broke_through"] else "no"
    rows = [
        ("technology", s["technology"]),
        ("regime", s["regime"]),
        ("seed", s["seed"]),
        ("ticks", s["ticks_run"]),
        ("broke through", broke),
        ("P(breakthrough) at horizon", f"{s['p_breakthrough']:.3f}"),
        ("best fitness", f"{s['best_fitness']:.3f}"),
        ("spillover share", f"{s['spillover_share']:.3f}"),
        ("free-riding share", f"{s['free_riding_share']:.3f}"),
        ("misallocation index", f"{s['misallocation_index']:.3f}"),
        ("adoption share", f"{s['adoption_share']:.3f}"),
        ("exits / entries", f"{int(s['total_exits'])} / {int(s['total_entries'])}"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


# ----------------------------------------------------------------- kctsim sweep

EXECUTORS = ("sequential", "processes", "dask")


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """--workers, --executor and --scheduler, shared by every command that sweeps."""
    p.add_argument(
        "--workers",
        type=_int_type(1),
        default=None,
        metavar="N",
        help="worker processes, an integer >= 1 (default: all cores)",
    )
    p.add_argument(
        "--executor",
        type=_name_type("executor", lambda: list(EXECUTORS)),
        default="processes",
        metavar="KIND",
        help=(
            "where runs execute, one of: sequential, processes (a local process "
            "pool), dask (a Dask LocalCluster, or the scheduler at --scheduler) "
            "(default: processes)"
        ),
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (dask only)",
    )


def _check_executor_options(args: argparse.Namespace) -> None:
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler: only used with --executor dask")


@contextmanager
def _sweep_errors() -> Iterator[None]:
    """A refused output directory is a usage error; a broken executor, a failure."""
    from kctsim.experiment.runner import SweepAbortedError
    from kctsim.experiment.store import SweepExistsError, SweepLockedError

    try:
        yield
    except (SweepExistsError, SweepLockedError, OutputDirError) as exc:
        raise UsageError(f"--out: {exc}") from exc
    except SweepAbortedError as exc:
        raise CommandFailed(f"{exc}; finished runs are kept: rerun with --resume") from exc


def add_sweep(subparsers: Any) -> None:
    """``kctsim sweep``: every run of a scenario file, streamed to disk, resumable."""
    p = subparsers.add_parser(
        "sweep",
        help="run every run of a scenario file (resumable)",
        description=(
            "Expand a scenario file (TOML, see scenarios/README.md) into runs -- "
            "technology types x regimes x design points x replicates, each with its "
            "own seed spawned from the root seed -- and execute them, streaming the "
            "results to the output directory as they finish. After a crash, run the "
            "same command with --resume to run only what is missing."
        ),
    )
    p.add_argument("scenario", type=Path, metavar="SCENARIO", help="path of the scenario file")
    add_executor_options(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory of the sweep (default: results/sweeps/<scenario name>)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep already in --out, running only the missing runs",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=sweep_command)


def sweep_command(args: argparse.Namespace) -> int:
    """Validate the scenario and the options (before anything is written), then sweep."""
    from kctsim.experiment.runner import run_sweep
    from kctsim.experiment.scenario import load_scenario

    _check_executor_options(args)
    scenario = load_scenario(args.scenario)  # ConfigError: one line, exit 2
    out = args.out or Path("results/sweeps") / scenario.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is a file; give a directory path")
    with _sweep_errors():
        report = run_sweep(
            scenario.runs(),
            scenario.meta(),
            out,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=not args.quiet,
        )
    print(report.summary())
    return EXIT_OK if report.status == "complete" and not report.failed else EXIT_FAILURE


# ---------------------------------------------------------------- kctsim export


def add_export(subparsers: Any) -> None:
    """``kctsim export``: CSV copies of a sweep's tables."""
    p = subparsers.add_parser(
        "export",
        help="write CSV copies of a sweep's tables",
        description=(
            "Write CSV copies of every table a sweep directory records (runs, metrics, "
            "ledger, spillover; only committed runs) into DIR/csv/."
        ),
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="a sweep directory")
    p.add_argument(
        "--csv", action="store_true", required=True, help="export as CSV (the only format)"
    )
    p.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    from kctsim.experiment.store import MANIFEST, export_csv

    if not (args.directory / MANIFEST).is_file():
        raise UsageError(f"DIR: {args.directory} is not a kctsim sweep directory (no {MANIFEST})")
    paths = export_csv(args.directory)
    print(f"wrote {len(paths)} files to {args.directory / 'csv'}/")
    return EXIT_OK


# ---------------------------------------------------------------- kctsim verify


def add_verify(subparsers: Any) -> None:
    """``kctsim verify``: is a sweep (or every sweep of a propositions directory) whole?"""
    p = subparsers.add_parser(
        "verify",
        help="check that a sweep or propositions directory is complete and intact",
        description=(
            "Check every sweep in DIR (a sweep directory, or a propositions directory "
            "with its suite and robustness sweeps): runs committed, failed and missing, "
            "and every committed part file against the SHA-256 recorded when it was "
            "committed. Prints one line per sweep; exits 0 when all are complete and "
            "intact, 1 otherwise. Nothing is changed: `--resume` repairs."
        ),
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="a sweep or propositions directory")
    p.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from kctsim.experiment.store import SweepCorruptError, check_sweep, sweep_dirs

    if not args.directory.is_dir():
        raise UsageError(f"DIR: {args.directory} is not a directory")
    found = sweep_dirs(args.directory)
    if not found:
        raise UsageError(f"DIR: {args.directory} holds no kctsim sweep (no sweep manifest.json)")
    ok = True
    for sweep in found:
        name = sweep.relative_to(args.directory).as_posix() if sweep != args.directory else None
        try:
            check = check_sweep(sweep)
        except SweepCorruptError as exc:
            print(f"{name or sweep}: damaged: {exc}")
            ok = False
            continue
        print(check.line(name))
        ok = ok and check.ok
    return EXIT_OK if ok else EXIT_FAILURE


# ---------------------------------------------------------- kctsim propositions


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (number > 0 and number < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def add_propositions(subparsers: Any) -> None:
    """``kctsim propositions``: the paper's six propositions as measured verdicts."""
    from kctsim.analysis.settings import QUICK, Settings

    d = Settings()
    p = subparsers.add_parser(
        "propositions",
        help="test the paper's six propositions and write the report (the main job)",
        description=(
            "Run every technology type under every regime preset, R replicates each "
            "(replicate i of every regime shares its seed), plus Latin-hypercube "
            "robustness sweeps over the uncertain non-lever parameters; then test "
            "each proposition (effect with a bootstrap interval, log-rank and "
            "two-proportion tests, Holm-corrected) and write report.md, report.html, "
            "the tables and the figures into the output directory. The sweeps are "
            "resumable; `kctsim report DIR` rebuilds the report from them."
        ),
    )
    p.add_argument(
        "--replicates",
        type=_int_type(2),
        default=None,
        metavar="R",
        help=f"replicates per technology type and regime (default: {d.replicates}; "
        f"--quick: {QUICK['replicates']})",
    )
    p.add_argument(
        "--ticks",
        type=_int_type(1, _max_horizon()),
        default=d.ticks,
        metavar="T",
        help=f"horizon in ticks (quarters) (default: {d.ticks})",
    )
    p.add_argument(
        "--seed",
        type=_int_type(0),
        default=d.seed,
        metavar="S",
        help=f"root seed (default: {d.seed})",
    )
    p.add_argument(
        "--cost-scale",
        type=_positive_float,
        default=None,
        metavar="C",
        help="global R&D cost scale (default: the calibrated value, see `kctsim calibrate`)",
    )
    p.add_argument(
        "--robustness-samples",
        type=_int_type(0),
        default=d.robustness_samples,
        metavar="N",
        help=f"Latin-hypercube worlds per technology type, 0 for none "
        f"(default: {d.robustness_samples})",
    )
    p.add_argument(
        "--robustness-replicates",
        type=_int_type(2),
        default=d.robustness_replicates,
        metavar="R",
        help=f"replicates per regime in each world (default: {d.robustness_replicates})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['replicates']} replicates and no robustness sweeps "
        "(default --out: results/propositions_quick)",
    )
    add_executor_options(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: results/propositions)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish the suite already in --out (runs only what is missing)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=propositions_command)


def propositions_command(args: argparse.Namespace) -> int:
    from kctsim.analysis.settings import QUICK, Settings
    from kctsim.analysis.suite import run_suite

    _check_executor_options(args)
    settings = Settings(
        replicates=args.replicates or (QUICK["replicates"] if args.quick else Settings.replicates),
        ticks=args.ticks,
        seed=args.seed,
        cost_scale=args.cost_scale,
        robustness_samples=0 if args.quick else args.robustness_samples,
        robustness_replicates=args.robustness_replicates,
        quick=args.quick,
    )
    out = args.out or Path("results/propositions_quick" if args.quick else "results/propositions")
    try:
        settings = settings.resolved()
    except FileNotFoundError as exc:  # no packaged calibration
        raise UsageError(
            f"no calibrated cost scale ({exc}); run `kctsim calibrate "
            "scenarios/chokepoints_2018.toml --save` or pass --cost-scale"
        ) from exc
    with _sweep_errors():
        run_suite(
            out,
            settings,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=not args.quiet,
        )
    return _report(out, quiet=args.quiet)


def _report(out: Path, quiet: bool) -> int:
    from kctsim.analysis.suite import PropositionsDirError, analyse
    from kctsim.report import write_report

    try:
        analysis = analyse(out)
    except PropositionsDirError as exc:
        raise UsageError(f"DIR: {exc}") from exc
    paths = write_report(analysis)
    if not quiet:
        table = analysis.verdicts
        width = max(len(c) for c in table["comparison"])
        for row in table.itertuples():
            print(
                f"{row.proposition}  {row.comparison:<{width}}  effect {row.effect:+6.2f} "
                f"[{row.ci_low:+6.2f}, {row.ci_high:+6.2f}]  p_holm {row.p_holm:.3g}  "
                f"{row.verdict}"
            )
    print(f"wrote {len(paths)} files; report: {out / 'report.md'} and {out / 'report.html'}")
    return EXIT_OK


# ---------------------------------------------------------------- kctsim report


def add_report(subparsers: Any) -> None:
    """``kctsim report``: rebuild a propositions report from stored results."""
    p = subparsers.add_parser(
        "report",
        help="rebuild the propositions report from stored results (runs nothing)",
        description=(
            "Recompute the verdicts, tables and figures of a propositions directory "
            "from its stored sweeps and rewrite report.md and report.html. Nothing is run."
        ),
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="a propositions directory")
    p.add_argument("--quiet", action="store_true", help="do not print the verdict table")
    p.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        raise UsageError(f"DIR: {args.directory} is not a directory")
    return _report(args.directory, quiet=args.quiet)


# ------------------------------------------------------------- kctsim calibrate


def add_calibrate(subparsers: Any) -> None:
    """``kctsim calibrate``: fit the global cost scale on the chokepoint scenario."""
    from kctsim.analysis.calibration import TARGET

    p = subparsers.add_parser(
        "calibrate",
        help="fit the global cost scale so that ~21 of the 35 chokepoints break through",
        description=(
            "Run a scenario of cells (scenarios/chokepoints_2018.toml: the 35 chokepoint "
            "technologies of 2018 under their status-quo regimes, 20 quarters) at a "
            "geometric grid of cost scales with common random numbers, and find the cost "
            "scale at which the mean number broken through equals the target, with a "
            "bootstrap interval over replicates. Writes calibration.json, curve.csv and "
            "a figure into --out; --save also makes it the default of `kctsim propositions`."
        ),
    )
    p.add_argument("scenario", type=Path, metavar="SCENARIO", help="path of the scenario file")
    p.add_argument(
        "--grid",
        type=_positive_float,
        nargs=2,
        default=(30.0, 300.0),
        metavar=("LOW", "HIGH"),
        help="range of cost scales searched (default: 30 300)",
    )
    p.add_argument(
        "--points",
        type=_int_type(2, 50),
        default=7,
        metavar="N",
        help="grid points, geometric (default: 7)",
    )
    p.add_argument(
        "--replicates",
        type=_int_type(2),
        default=None,
        metavar="R",
        help="replicates per technology (default: the scenario's)",
    )
    p.add_argument(
        "--target",
        type=_int_type(0),
        default=TARGET,
        metavar="N",
        help=f"technologies to be broken through at the horizon (default: {TARGET})",
    )
    add_executor_options(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results/calibration"),
        metavar="DIR",
        help="output directory (default: results/calibration)",
    )
    p.add_argument("--resume", action="store_true", help="finish the grid sweep already in --out")
    p.add_argument(
        "--save",
        action="store_true",
        help="write the fit into the package (kctsim/data/calibration.toml): the new default",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=calibrate_command)


def calibrate_command(args: argparse.Namespace) -> int:
    import dataclasses
    from importlib import resources

    from kctsim.analysis import calibration as cal
    from kctsim.experiment.scenario import load_scenario
    from kctsim.report.figures import plot_calibration, save_figure

    _check_executor_options(args)
    low, high = args.grid
    if not low < high:
        raise UsageError(f"--grid: LOW must be below HIGH, got {low:g} {high:g}")
    scenario = load_scenario(args.scenario)
    if not scenario.cells:
        raise UsageError(
            f"{args.scenario}: has no [cells]; calibration counts the cells broken through "
            "(e.g. scenarios/chokepoints_2018.toml)"
        )
    if args.target > len(scenario.cells):
        raise UsageError(f"--target: {args.target} is more than the {len(scenario.cells)} cells")
    if args.replicates:
        scenario = dataclasses.replace(scenario, replicates=args.replicates)
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} is a file; give a directory path")
    costs = cal.grid_values(low, high, args.points)
    with _sweep_errors():
        fit, record = cal.run_calibration(
            scenario,
            args.out,
            costs,
            target=args.target,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=not args.quiet,
        )
    save_figure(plot_calibration(fit.curve, record), args.out / "calibration")
    print(fit.curve.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if math.isnan(fit.cost_scale):  # the target is outside what the grid reached
        raise CommandFailed(
            f"the mean count runs from {fit.curve['mean'].max():.1f} to "
            f"{fit.curve['mean'].min():.1f} on the grid and never crosses {args.target}; "
            "widen --grid"
        )
    print(
        f"cost_scale = {fit.cost_scale:.4g} (95% interval {fit.ci_low:.4g} to {fit.ci_high:.4g}; "
        f"{fit.replicates} replicates of {fit.n_technologies} technologies); "
        f"written to {args.out / 'calibration.json'}"
    )
    if args.save:
        target = Path(str(resources.files("kctsim").joinpath(cal.CALIBRATION_FILE)))
        cal.write_calibration_toml(record, target)
        print(f"saved as the default cost scale in {target}")
    return EXIT_OK


# ------------------------------------------------------------- kctsim dashboard


def add_dashboard(subparsers: Any) -> None:
    """``kctsim dashboard``: the interactive Solara dashboard."""
    p = subparsers.add_parser(
        "dashboard",
        help="start the interactive dashboard in the browser",
        description=(
            "Start the interactive dashboard (explore one run live, compare regimes, "
            "browse stored results) and print its URL. It listens on localhost unless "
            "--host says otherwise; stop it with Ctrl-C."
        ),
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument(
        "--port",
        type=_int_type(1, 65535),
        default=8765,
        metavar="PORT",
        help="port to listen on, an integer from 1 to 65535 (default: 8765)",
    )
    p.set_defaults(handler=dashboard_command)


def dashboard_command(args: argparse.Namespace) -> int:
    """Check host and port, print the URL and serve until Ctrl-C."""
    from kctsim.dashboard.server import ServerError, serve

    try:
        return serve(args.host, args.port)
    except ServerError as exc:
        raise UsageError(str(exc)) from exc


# ------------------------------------------------------------------------ main

SUBCOMMANDS: list[Callable[[Any], None]] = [
    add_run,
    add_sweep,
    add_export,
    add_propositions,
    add_report,
    add_calibrate,
    add_dashboard,
    add_verify,
]
"""Functions that each add one subcommand to the parser."""


def build_parser() -> argparse.ArgumentParser:
    """The ``kctsim`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    from kctsim import __version__

    parser = _Parser(
        prog=PROG,
        description=(
            "kctsim: an agent-based model of how key core technologies in "
            "manufacturing are broken through under different governance regimes."
        ),
        epilog="Run 'kctsim COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, title="commands"
    )
    for add in SUBCOMMANDS:
        add(subparsers)
    parser.command_names = tuple(subparsers.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kctsim``; returns the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except (UsageError, ConfigError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except CommandFailed as exc:
        return _fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
