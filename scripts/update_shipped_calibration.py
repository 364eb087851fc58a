"""Make a calibration fit the shipped default cost scale (developers only).

``kctsim calibrate`` writes its fit into its output directory and never into
the package. To change the default of ``kctsim propositions`` -- the file
``kctsim/data/calibration.toml`` of this source tree, tracked by git -- a
developer runs, on purpose::

    .venv/bin/kctsim calibrate scenarios/chokepoints_2018.toml --replicates 12
    .venv/bin/python scripts/update_shipped_calibration.py results/calibration/calibration.json

A fit that ``kctsim calibrate`` warned about (too few replicates, an estimate
on the edge of its interval) is refused unless ``--force`` is given. The file
written is the one next to this script, never an installed package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
SHIPPED = TREE / "kctsim" / "data" / "calibration.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit", type=Path, help="calibration.json written by `kctsim calibrate`")
    parser.add_argument("--force", action="store_true", help="accept a fit that carries warnings")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TREE))
    from kctsim.analysis.calibration import (
        CalibrationFileError,
        calibration_record,
        write_calibration_toml,
    )

    try:
        record = calibration_record(args.fit)
    except CalibrationFileError as exc:
        print(f"update_shipped_calibration: error: {exc}", file=sys.stderr)
        return 2
    record.pop("file", None)
    if record.get("warnings") and not args.force:
        print(
            "update_shipped_calibration: error: the fit carries warnings ("
            + "; ".join(record["warnings"])
            + "); fix them or pass --force",
            file=sys.stderr,
        )
        return 2
    if not (TREE / ".git").exists():
        print(
            f"update_shipped_calibration: error: {TREE} is not a source checkout; "
            "the shipped calibration is changed in the repository, not in an installation",
            file=sys.stderr,
        )
        return 2
    write_calibration_toml(record, SHIPPED)
    print(f"wrote {SHIPPED} (cost_scale = {record['cost_scale']:.4g}); commit it on purpose")
    return 0


if __name__ == "__main__":
    sys.exit(main())
