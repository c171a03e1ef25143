"""Write the sample Labelbox export (examples/labelbox_export.ndjson) the demo and the tests use.

A thin command line over labeltune_tools.sample_data, which holds the generator so tests and benchmarks can
import it. Deterministic: the same arguments always write the same bytes, so the committed file can be
checked against a fresh run.

    .venv/bin/python examples/generate_export.py [--out PATH] [--rows N] [--seed S]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labeltune_tools.sample_data import DEFAULT_SEED, DEFAULT_VALID_ROWS, PROJECT_ID, write_export

DEFAULT_OUT = Path(__file__).resolve().parent / "labelbox_export.ndjson"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the NDJSON export")
    parser.add_argument("--rows", type=int, default=DEFAULT_VALID_ROWS, help="number of valid rows")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (Faker and scenarios)")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    written = write_export(args.out, n_valid=args.rows, seed=args.seed)
    print(f"wrote {written} rows ({args.rows} valid) of project {PROJECT_ID} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
