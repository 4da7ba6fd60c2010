"""Every model family through the LiteRT and ONNX exports, each checked in its own runtime (the
LiteRT interpreter and ONNX Runtime, in a fresh process without kerascnn) against Keras.

The suite (tests/test_export_formats.py) runs this check for every family but the few deep graphs
in HEAVY_FAMILIES, whose conversion takes minutes on a shared 2-core machine; this runs those too
(or any families named), with the suite's own code.

    .venv/bin/python tools/export_families.py [FAMILY ...]     # default: HEAVY_FAMILIES
    .venv/bin/python tools/export_families.py --all
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

import bench_common  # noqa: F401  (environment and the repository root on sys.path)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))

from test_export_formats import HEAVY_FAMILIES, check_family, family_models  # noqa: E402


def main(argv: list[str]) -> int:
    families = sorted(family_models()) if argv == ["--all"] else (argv or list(HEAVY_FAMILIES))
    failed = []
    for family in families:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as directory:
            try:
                check_family(family, pathlib.Path(directory))
                verdict = "ok"
            except Exception as error:  # noqa: BLE001  (report every family, then fail)
                verdict = f"FAILED: {str(error).splitlines()[0][:300]}"
                failed.append(family)
        name = family_models()[family][0]
        print(f"{family:<16} {name:<22} {verdict} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
