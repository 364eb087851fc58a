"""The ``kctsim`` command line.

Each subcommand is a function ``add_<name>(subparsers)`` that builds its parser
and sets ``handler`` (a function ``Namespace -> int``) as a default; it is
listed in :data:`SUBCOMMANDS`. To add one (sweep, propositions, report,
dashboard), write such a function and append it there.

Every failure is reported as one line on stderr, ``kctsim: error: <what,
where, what is allowed>``, never a traceback: exit code 2 for bad input (a
usage error, a bad value, a refused or malformed path, a damaged results
directory), and nothing is written; exit code 1 when the input was fine but
the environment failed (a full disk, no permission, an unreachable
scheduler, too little memory). Ctrl-C prints one line too (exit code 130).
No error echoes the content of a file.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from kctsim import names
from kctsim.config import ConfigError, regime_names, technology_names
from kctsim.files import OutputDirError
from kctsim.files import check_out_dir as check_out_dir_shared
from kctsim.results import ResultsExistError, check_out_dir, run_model, write_results

PROG = "kctsim"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_SEED = 2**63 - 1
"""Largest seed (a seed is stored as a 64-bit integer in every results table)."""
MAX_WORKERS = 4096
"""Most --workers even with --force (beyond the cores it only costs memory)."""


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


def _clip(value: str, limit: int = 40) -> str:
    """``repr(value)`` cut short: an error names the bad value, it does not replay it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _name_type(kind: str, allowed: Callable[[], list[str]]) -> Callable[[str], str]:
    """An argparse type that accepts one of ``allowed()`` and names them all if not."""

    def check(value: str) -> str:
        names = allowed()
        if value in names:
            return value
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown {kind} {_clip(value)}{hint}; allowed: {', '.join(names)}"
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
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {_clip(value)}")
        return number

    check.__name__ = "integer"
    return check


def _off_or_int_type(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type for 0 (off) or an integer in [minimum, maximum]."""
    inner = _int_type(minimum, maximum)

    def check(value: str) -> int:
        if value.strip() == "0":
            return 0
        try:
            return inner(value)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected 0 (none) or {_int_range_text(minimum, maximum)}, got {_clip(value)}"
            ) from None

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
        help=f"technology type (default: key_generic): {names.choices_help('technologies', techs)}",
    )
    p.add_argument(
        "--regime",
        type=_name_type("regime", regime_names),
        default="spiral",
        metavar="NAME",
        help=f"regime preset (default: spiral): {names.choices_help('regimes', regimes)}",
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
        type=_int_type(0, MAX_SEED),
        default=0,
        metavar="S",
        help=f"random seed, an integer from 0 to {MAX_SEED}; the same seed gives the same run "
        "(default: 0)",
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
    """The summary row as an aligned two-column table, in words and with units."""
    broke = f"yes, in quarter {int(s['breakthrough_tick'])}" if s["broke_through"] else "no"

    def metric(key: str, digits: int = 3) -> tuple[str, str]:
        return names.metric(key), f"{s[key]:.{digits}f}"

    rows = [
        ("Technology type", names.technology(s["technology"])),
        ("Regime", names.regime(s["regime"])),
        ("Seed", s["seed"]),
        ("Quarters run", s["ticks_run"]),
        ("Broke through", broke),
        ("P(breakthrough) by the horizon (probability)", f"{s['p_breakthrough']:.3f}"),
        metric("best_fitness"),
        metric("spillover_share"),
        metric("free_riding_share"),
        (
            "Misallocation index, mean over quarters (share of money)",
            f"{s['misallocation_index']:.3f}",
        ),
        metric("adoption_share"),
        ("Exits / entries (organisations)", f"{int(s['total_exits'])} / {int(s['total_entries'])}"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


# ----------------------------------------------------------------- kctsim sweep

EXECUTORS = ("sequential", "processes", "dask")


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """--workers, --executor and --scheduler, shared by every command that sweeps."""
    p.add_argument(
        "--workers",
        type=_int_type(1, MAX_WORKERS),
        default=None,
        metavar="N",
        help="worker processes, an integer from 1 to the number of cores (more with --force) "
        "(default: all cores)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="start --workers processes even if that is more than the cores of this machine",
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


def _check_executor_options(args: argparse.Namespace, n_runs: int | None = None) -> None:
    """Check --executor, --scheduler and --workers before anything is written.

    A scheduler address is parsed (malformed: exit 2) and probed with one
    connection (nobody there: exit 1), so neither leaves a sweep directory
    behind. --workers above the cores is capped with a note unless --force;
    it is never above the number of runs (idle processes only cost memory).
    """
    from kctsim.experiment.executors import (
        SchedulerAddressError,
        SchedulerError,
        check_scheduler,
        default_workers,
    )

    if args.scheduler is not None:
        if args.executor != "dask":
            raise UsageError("--scheduler: only used with --executor dask")
        try:
            check_scheduler(args.scheduler)
        except SchedulerAddressError as exc:
            raise UsageError(str(exc)) from None
        except SchedulerError as exc:
            raise CommandFailed(str(exc)) from None
    cores = default_workers()
    if args.workers is not None and args.workers > cores and not args.force:
        _note(
            f"--workers {args.workers} is more than the {cores} cores of this machine; "
            f"using {cores} (pass --force to start {args.workers})"
        )
        args.workers = cores
    if args.workers is not None and n_runs:
        args.workers = min(args.workers, n_runs)


def _note(message: str, kind: str = "note") -> None:
    print(f"{PROG}: {kind}: {message}", file=sys.stderr)


def refuse_foreign_dir(out: Path, is_ours: Callable[[Path], bool], what: str) -> None:
    """Refuse ``--out`` if it is a file, lies under a file, or is a non-empty directory
    that does not hold ``what`` (``is_ours`` recognises it); writes nothing.

    The rule is the store's shared :func:`kctsim.files.check_out_dir`.
    """
    if out.is_file():  # said as the other --out errors say it
        raise UsageError(f"--out: {out} is a file; give a directory path")
    try:
        check_out_dir_shared(out, is_ours, what)
    except (OutputDirError, NotADirectoryError) as exc:
        raise UsageError(f"--out: {exc}") from None
    except PermissionError:
        raise CommandFailed(f"--out: {out}: no permission to read it") from None


def _manifest_format(directory: Path) -> str | None:
    """The ``format`` of ``directory/manifest.json``: '' if it has none, None if no manifest.

    Raises:
        UsageError: the manifest is damaged (a directory, not JSON, not an object).
    """
    path = directory / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a kctsim manifest") from None
    except (ValueError, RecursionError):
        raise UsageError(f"{path}: is not valid JSON; the directory is damaged") from None
    if not isinstance(manifest, dict):
        raise UsageError(f"{path}: is not a kctsim manifest (not a JSON object)")
    return str(manifest.get("format", ""))


SWEEP_FORMATS = "kctsim-sweep/"
"""Prefix of every sweep format (a newer store still reads the older formats)."""


def _is_sweep_dir(directory: Path) -> bool:
    return (_manifest_format(directory) or "").startswith(SWEEP_FORMATS)


@contextmanager
def _sweep_errors() -> Iterator[None]:
    """A refused output directory is a usage error; a broken executor, a failure."""
    from kctsim.experiment.executors import SchedulerError
    from kctsim.experiment.runner import SweepAbortedError
    from kctsim.experiment.store import SweepExistsError, SweepLockedError

    try:
        yield
    except (SweepExistsError, SweepLockedError, OutputDirError) as exc:
        raise UsageError(f"--out: {exc}") from exc
    except SweepAbortedError as exc:
        raise CommandFailed(f"{exc}; finished runs are kept: rerun with --resume") from exc
    except SchedulerError as exc:
        raise CommandFailed(f"{exc}; finished runs are kept: rerun with --resume") from exc


def _add_max_runs(p: argparse.ArgumentParser) -> None:
    from kctsim.experiment.scenario import MAX_RUNS

    p.add_argument(
        "--max-runs",
        type=_int_type(1),
        default=MAX_RUNS,
        metavar="N",
        help=f"refuse a sweep of more runs than this, before anything is allocated "
        f"(default: {MAX_RUNS:,})",
    )


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
    _add_max_runs(p)
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

    scenario = load_scenario(args.scenario, max_runs=args.max_runs)  # ConfigError: exit 2
    _check_executor_options(args, scenario.n_runs)
    out = args.out or Path("results/sweeps") / scenario.name
    refuse_foreign_dir(out, _is_sweep_dir, "kctsim sweep")
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
    table = breakthrough_table(out)
    if table:
        print(f"\n{table}")
    return EXIT_OK if report.status == "complete" and not report.failed else EXIT_FAILURE


def breakthrough_table(sweep_dir: Path) -> str:
    """Share of runs broken through and median quarter of breakthrough, by type x regime.

    The median quarter is the quarter by which half the runs of a row had broken
    through ('-' if fewer than half did by the horizon); failed runs are left out.
    """
    from kctsim.experiment.store import load_results, read_manifest

    runs = load_results(sweep_dir, tables=("runs",))["runs"]
    if runs.empty or "broke_through" not in runs:
        return ""
    ok = runs[runs["status"] == "ok"]
    # A scenario of cells labels its runs by cell; the table is by technology type.
    cells = read_manifest(sweep_dir).get("scenario", {}).get("cells") or []
    if cells:
        types = {c["label"]: c["technology"] for c in cells}
        ok = ok.assign(technology=ok["technology"].map(types).fillna(ok["technology"]))
    rows = []
    for (tech, regime), group in ok.groupby(["technology", "regime"], sort=False):
        broke = group["broke_through"].astype(bool)
        ticks = sorted(group.loc[broke, "breakthrough_tick"].astype(int))
        half = math.ceil(len(group) / 2)
        median = str(ticks[half - 1]) if len(ticks) >= half else "-"
        rows.append((str(tech), str(regime), str(len(group)), f"{broke.mean():.2f}", median))
    head = ("technology", "regime", "runs", "broken through", "median quarter")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------- kctsim export


def add_export(subparsers: Any) -> None:
    """``kctsim export``: a sweep's tables as CSV, Excel, Stata or Parquet files."""
    from kctsim.experiment.export import FORMATS

    p = subparsers.add_parser(
        "export",
        help="write a sweep's tables as CSV, Excel, Stata or Parquet files",
        description=(
            "Write every table a sweep directory records (runs, metrics, ledger, "
            "spillover; only committed runs) into DIR/<format>/ (or --out), with "
            "export.json saying what was written; an earlier export there is replaced."
        ),
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="a sweep directory")
    p.add_argument(
        "--format",
        type=_name_type("format", lambda: list(FORMATS)),
        default="csv",
        metavar="{" + ",".join(FORMATS) + "}",
        help="csv; xlsx (one workbook, a sheet per table); dta (Stata 14 or later; names "
        "made Stata-safe, the kctsim name kept as the variable label); parquet "
        "(one file per table) (default: csv)",
    )
    p.add_argument(
        "--csv",
        dest="format",
        action="store_const",
        const="csv",
        help="the same as --format csv",
    )
    p.add_argument(
        "--wide",
        action="store_true",
        help="per-tick metrics as one column per metric (default: long, one row per metric)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="folder to write (default: DIR/<format>)",
    )
    p.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    from kctsim.experiment.export import ExportError, export_tables, is_export_dir

    directory = args.directory
    if not directory.is_dir():
        what = "is a file" if directory.exists() else "does not exist"
        raise UsageError(f"DIR: {directory} {what}; give a sweep directory")
    kind = _manifest_format(directory)
    if kind is None:
        raise UsageError(f"DIR: {directory} is not a kctsim sweep directory (no manifest.json)")
    if kind == "":  # `kctsim run` writes a manifest without a format
        raise UsageError(
            f"DIR: {directory} holds one run (`kctsim run`), not a sweep; its tables are "
            "already there as CSV and Parquet files"
        )
    if not kind.startswith(SWEEP_FORMATS):
        hint = (
            f"; export its sweeps, e.g. {directory / 'suite'}"
            if kind.startswith("kctsim-propositions")
            else ""
        )
        raise UsageError(f"DIR: {directory} holds {kind} results, not a sweep{hint}")
    out = args.out or directory / args.format
    refuse_foreign_dir(out, is_export_dir, "kctsim export")
    try:
        paths = export_tables(directory, out, args.format, wide=args.wide)
    except ExportError as exc:
        raise UsageError(f"--format {args.format}: {exc}") from None
    except FileNotFoundError as exc:  # a committed part file is gone
        raise UsageError(f"DIR: {exc}; the sweep directory is damaged") from None
    except OSError as exc:  # nothing half-written: the export is staged, then moved
        if exc.errno in _PATH_SHAPE_ERRORS:
            raise UsageError(f"--out: cannot write {out}: {exc.strerror}") from None
        raise CommandFailed(f"cannot write {out}: {_os_error_text(exc)}") from None
    print(f"wrote {len(paths)} files to {out}/")
    return EXIT_OK


# ---------------------------------------------------------------- kctsim verify


def add_verify(subparsers: Any) -> None:
    """``kctsim verify``: is a sweep (or every sweep of a propositions directory) whole?"""
    p = subparsers.add_parser(
        "verify",
        help="check that a sweep or propositions directory is complete and intact",
        description=(
            "Check every sweep in DIR (a sweep directory, or a propositions directory "
            "with its suite, robustness and ablation sweeps): runs committed, failed and "
            "missing, "
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
        raise argparse.ArgumentTypeError(f"expected a positive number, got {_clip(value)}")
    return number


MAX_SUITE_REPLICATES = 10_000
"""Largest --replicates and robustness sizes of the suite (a sweep of 18 x R runs)."""


def add_propositions(subparsers: Any) -> None:
    """``kctsim propositions``: the paper's six propositions as measured verdicts."""
    from kctsim.analysis.settings import QUICK, Settings

    d = Settings()
    p = subparsers.add_parser(
        "propositions",
        help="test the paper's six propositions and write the report (the main job)",
        description=(
            "Run every technology type under every regime preset, R replicates each "
            "(replicate i of every regime shares its seed; R chosen for precision after a "
            "pilot unless --replicates fixes it), plus Latin-hypercube "
            "robustness sweeps over the uncertain non-lever parameters; then test "
            "each proposition (RMST difference at 20, 40 and 80 quarters with a paired, "
            "family-adjusted interval: supported, contradicted, equivalent or inconclusive) "
            "and write report.md, report.html, "
            "the tables and the figures into the output directory. The sweeps are "
            "resumable; `kctsim report DIR` rebuilds the report from them."
        ),
    )
    p.add_argument(
        "--replicates",
        type=_int_type(2, MAX_SUITE_REPLICATES),
        default=None,
        metavar="R",
        help="replicates per technology type and regime, fixed by hand (default: chosen "
        "for precision after a pilot, see --pilot and --max-replicates)",
    )
    # --- stats: replicates chosen for precision (issue 16) ---
    p.add_argument(
        "--pilot",
        type=_int_type(2),
        default=None,
        metavar="P",
        help=f"pilot replicates per cell that plan the rest (default: {d.pilot}; "
        f"--quick: {QUICK['pilot']}, and nothing more)",
    )
    p.add_argument(
        "--max-replicates",
        type=_int_type(2),
        default=d.max_replicates,
        metavar="N",
        help=f"at most this many replicates per cell after the pilot (default: {d.max_replicates})",
    )
    # --- end stats ---
    p.add_argument(
        "--ticks",
        type=_int_type(1, _max_horizon()),
        default=d.ticks,
        metavar="T",
        help=f"horizon in ticks (quarters) (default: {d.ticks})",
    )
    p.add_argument(
        "--seed",
        type=_int_type(0, MAX_SEED),
        default=d.seed,
        metavar="S",
        help=f"root seed, an integer from 0 to {MAX_SEED} (default: {d.seed})",
    )
    p.add_argument(
        "--cost-scale",
        type=_positive_float,
        default=None,
        metavar="C",
        help="global R&D cost scale (default: the shipped calibration's value)",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        metavar="FILE",
        help="take the cost scale from this calibration.json of `kctsim calibrate` "
        "(default: the calibration shipped with kctsim)",
    )
    p.add_argument(
        "--robustness-samples",
        type=_int_type(0, MAX_SUITE_REPLICATES),
        default=d.robustness_samples,
        metavar="N",
        help=f"Latin-hypercube worlds per technology type, 0 for none "
        f"(default: {d.robustness_samples})",
    )
    p.add_argument(
        "--robustness-replicates",
        type=_int_type(2, MAX_SUITE_REPLICATES),
        default=d.robustness_replicates,
        metavar="R",
        help=f"replicates per regime in each world (default: {d.robustness_replicates})",
    )
    p.add_argument(
        "--ablation-replicates",
        type=_off_or_int_type(2, MAX_SUITE_REPLICATES),
        default=None,
        metavar="R",
        help="replicates of every coalition of lever groups in the ablation that attributes "
        f"each verdict to the groups, 0 for none (default: {d.ablation_replicates}; --quick: "
        f"{QUICK['ablation_replicates']})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a pilot of {QUICK['pilot']} replicates only (not decisive), no robustness "
        f"sweeps and an ablation of {QUICK['ablation_replicates']} replicates "
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
    cost_scale, source = _chosen_cost_scale(args)
    settings = Settings(
        replicates=args.replicates,
        pilot=args.pilot or (QUICK["pilot"] if args.quick else Settings.pilot),
        max_replicates=args.max_replicates,
        ticks=args.ticks,
        seed=args.seed,
        cost_scale=cost_scale,
        robustness_samples=0 if args.quick else args.robustness_samples,
        robustness_replicates=args.robustness_replicates,
        ablation_replicates=(
            args.ablation_replicates
            if args.ablation_replicates is not None
            else QUICK["ablation_replicates"]
            if args.quick
            else Settings.ablation_replicates
        ),
        quick=args.quick,
        cost_scale_source=source,  # recorded in the manifest and the report
    )
    out = args.out or Path("results/propositions_quick" if args.quick else "results/propositions")
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


def _chosen_cost_scale(args: argparse.Namespace) -> tuple[float, str]:
    """The cost scale of the suite and where it came from (said in the manifest and report).

    --cost-scale, else --calibration FILE, else the calibration shipped with kctsim;
    a calibration's warnings are repeated on stderr.
    """
    from kctsim.analysis.calibration import calibration_record

    if args.cost_scale is not None:
        if args.calibration is not None:
            raise UsageError("--calibration: give either --cost-scale or --calibration")
        return args.cost_scale, "--cost-scale"
    record = calibration_record(args.calibration)  # CalibrationFileError: one line, exit 2
    for warning in record.get("warnings", []):
        _note(f"calibration {record['file']}: {warning}", "warning")
    low, high = record.get("ci_low"), record.get("ci_high")
    interval = f" [{low:.4g}, {high:.4g}]" if isinstance(low, float | int) and high else ""
    return float(record["cost_scale"]), (
        f"calibration {record['file']} ({record.get('scenario', '?')}, "
        f"{record.get('created', '?')}): {record['cost_scale']:.4g}{interval}"
    )


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
        table = table[table["role"].str.startswith("primary")]
        width = max(len(c) for c in table["comparison"])
        for row in table.itertuples():
            print(
                f"{row.proposition}  {row.comparison:<{width}}  RMST({row.tau}) difference "
                f"{row.effect:+6.2f} [{row.ci_low:+6.2f}, {row.ci_high:+6.2f}]  "
                f"p_adj {row.p_adjusted:.3g}  {row.verdict}"
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
    _check_sweeps_finished(args.directory)
    return _report(args.directory, quiet=args.quiet)


def _check_sweeps_finished(out: Path) -> None:
    """Refuse a propositions directory whose robustness sweeps hold no or not all runs
    (the analysis would divide by nothing)."""
    from kctsim.analysis.suite import ROBUSTNESS
    from kctsim.experiment.store import sweep_status

    for manifest in sorted((out / ROBUSTNESS).glob("*/manifest.json")):
        status = sweep_status(manifest.parent)
        if status["committed"] < status["n_runs"]:
            raise UsageError(
                f"DIR: {manifest.parent} holds {status['committed']} of {status['n_runs']} "
                f"runs; finish it with `kctsim propositions --resume --out {out}` and the "
                "same options"
            )


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
            "a figure into --out, and nothing else; use the fit with `kctsim propositions "
            "--calibration OUT/calibration.json` or `[parameters] calibration = FILE` in a "
            "scenario. A fit of fewer than 8 replicates, or whose estimate sits on the edge "
            "of its interval, is flagged with a warning (also in calibration.json)."
        ),
    )
    p.add_argument("scenario", type=Path, metavar="SCENARIO", help="path of the scenario file")
    p.add_argument(
        "--grid",
        type=_positive_float,
        nargs=2,
        default=(10.0, 300.0),
        metavar=("LOW", "HIGH"),
        help="range of cost scales searched (default: 10 300)",
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
    _add_max_runs(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results/calibration"),
        metavar="DIR",
        help="output directory (default: results/calibration)",
    )
    p.add_argument("--resume", action="store_true", help="finish the grid sweep already in --out")
    # Gone: it wrote the fit into the installed package. Kept only to say what replaced it.
    p.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=calibrate_command)


def calibrate_command(args: argparse.Namespace) -> int:
    import dataclasses

    from kctsim.analysis import calibration as cal
    from kctsim.experiment.scenario import load_scenario
    from kctsim.report.figures import plot_calibration, save_figure

    if args.save:
        raise UsageError(
            "--save: calibrate no longer writes into the package; its fit is "
            "OUT/calibration.json, chosen with `kctsim propositions --calibration FILE` "
            "(developers change the shipped default with scripts/update_shipped_calibration.py)"
        )
    low, high = args.grid
    if not low < high:
        raise UsageError(f"--grid: LOW must be below HIGH, got {low:g} {high:g}")
    scenario = load_scenario(args.scenario, max_runs=args.max_runs)
    if not scenario.cells:
        raise UsageError(
            f"{args.scenario}: has no [cells]; calibration counts the cells broken through "
            "(e.g. scenarios/chokepoints_2018.toml)"
        )
    if args.target > len(scenario.cells):
        raise UsageError(f"--target: {args.target} is more than the {len(scenario.cells)} cells")
    if args.replicates:
        scenario = dataclasses.replace(scenario, replicates=args.replicates)
    n_runs = len(scenario.combinations()) * len(scenario.design.points) * scenario.replicates
    n_runs *= args.points
    if n_runs > args.max_runs:
        raise UsageError(
            f"the calibration grid has {n_runs:,} runs ({args.points} cost scales x "
            f"{scenario.replicates:,} replicates x {len(scenario.combinations())} cells); "
            f"allowed: at most {args.max_runs:,} (raise the cap with --max-runs)"
        )
    _check_executor_options(args, n_runs)
    refuse_foreign_dir(args.out, _is_calibration_dir, "kctsim calibration")
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
    path = args.out / "calibration.json"
    print(
        f"cost_scale = {fit.cost_scale:.4g} (95% interval {fit.ci_low:.4g} to {fit.ci_high:.4g}; "
        f"{fit.replicates} replicates of {fit.n_technologies} technologies); written to {path}"
    )
    for warning in record["warnings"]:
        _note(warning, "warning")
    print(f"use it with: kctsim propositions --calibration {path}")
    return EXIT_OK


def _is_calibration_dir(out: Path) -> bool:
    """What `kctsim calibrate` leaves: a calibration.json of its format, or its grid sweep."""
    from kctsim.analysis.calibration import FORMAT

    fit = out / "calibration.json"
    if fit.is_file():
        try:
            return json.loads(fit.read_text("utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False
    return (out / "sweep").is_dir() and _is_sweep_dir(out / "sweep")


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
    """Entry point of ``kctsim``; returns the exit code.

    Every failure ends here as one line (see the module docstring); an error
    that is none of those below is a bug and keeps its traceback.
    """
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
        return _fail(
            "interrupted (Ctrl-C); runs already finished are kept: rerun with --resume "
            "to continue a sweep",
            EXIT_INTERRUPTED,
        )
    except MemoryError:
        return _fail("out of memory; use fewer --workers or a smaller sweep", EXIT_FAILURE)
    except RecursionError:
        return _fail("the input is nested too deeply to read", EXIT_USAGE)
    except OSError as exc:
        return _fail(_os_error_text(exc), _os_error_code(exc))
    except Exception as exc:
        if _is_damaged_results(exc):
            return _fail(str(exc), EXIT_USAGE)
        raise


# Path shapes the user chose: bad input. Anything else (permission, full disk): the environment.
_PATH_SHAPE_ERRORS = (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP)


def _os_error_code(exc: OSError) -> int:
    return EXIT_USAGE if exc.errno in _PATH_SHAPE_ERRORS else EXIT_FAILURE


def _os_error_text(exc: OSError) -> str:
    """``<path>: <reason>`` of an OSError, with what to do for the usual causes."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = {
        errno.ENOSPC: "the disk is full; free space and rerun (a sweep: with --resume)",
        errno.EDQUOT: "the disk quota is used up; free space and rerun",
        errno.EACCES: "no permission; choose another --out",
        errno.EPERM: "not permitted; choose another --out",
        errno.EROFS: "the file system is read-only; choose another --out",
        errno.ENOTDIR: "a part of the path is a file, not a directory",
    }.get(exc.errno or 0)
    text = f"{where}: {reason}" if where else reason
    return f"{text}; {hint}" if hint else text


def _is_damaged_results(exc: Exception) -> bool:
    """A results directory contradicts itself (corrupt manifest, log or parts): bad input."""
    from kctsim.experiment.store import SweepCorruptError

    return isinstance(exc, SweepCorruptError)


def _fail(message: str, code: int) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
