"""Run Serengeti's benchmarks: ``python benchmarks/run.py [--only fftconv] [--quick] ...``.

Every module in ``benchmarks/`` (other than this one and ``common``) is imported; each registers
an op-family benchmark with :func:`benchmarks.common.register`. For each selected benchmark this
prints a markdown table and writes ``<out>/<name>.md``, ``<out>/<name>.json`` and ``<out>/<name>.png``
(the plot only when matplotlib is installed). The device is CUDA when available, else the CPU.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

_BENCH_DIR = Path(__file__).resolve().parent
_REPO = _BENCH_DIR.parent
# Run as a script, sys.path[0] is benchmarks/; import everything as the `benchmarks` package instead.
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH_DIR:
    sys.path[0] = str(_REPO)
elif str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from benchmarks import common  # noqa: E402

_NOT_BENCHMARKS = {"run", "common", "__init__", "__main__"}


def discover() -> dict[str, str]:
    """Import every op-family module in benchmarks/; return {module: error} for failed imports."""
    errors: dict[str, str] = {}
    for mod in sorted(pkgutil.iter_modules([str(_BENCH_DIR)]), key=lambda m: m.name):
        if mod.name in _NOT_BENCHMARKS or mod.name.startswith("_") or mod.ispkg:
            continue
        try:
            importlib.import_module(f"benchmarks.{mod.name}")
        except Exception as e:  # a broken module must not stop the others
            errors[mod.name] = f"{type(e).__name__}: {e}"
    return errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only this benchmark (repeatable or comma-separated), e.g. fftconv")
    p.add_argument("--quick", action="store_true", help="a small subset of sizes (seconds)")
    p.add_argument("--repeats", type=int, default=7, metavar="N",
                   help="timed samples per implementation, median reported; large rows use fewer "
                        "(min 3) to fit --budget (default 7)")
    p.add_argument("--budget", type=float, default=None, metavar="SEC",
                   help="soft time budget per measurement (default 6, 2 with --quick)")
    p.add_argument("--out", type=Path, default=_BENCH_DIR / "results", metavar="DIR",
                   help="output directory (default benchmarks/results)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch and serengeti thread count (default: all cores)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; return the process exit code (1 if any failed)."""
    args = parse_args(argv)
    threads = args.threads or common.available_cores()
    common.set_torch_threads(threads)  # before discovery so serengeti sees it at import
    import_errors = discover()
    if args.list:
        for name, bench in common.REGISTRY.items():
            print(f"{name}: {bench.title}")
        for name, err in import_errors.items():
            print(f"{name}: failed to import ({err})")
        return 0

    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in only if n not in common.REGISTRY and n not in import_errors]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(common.REGISTRY)}",
              file=sys.stderr)
        return 2
    selected = only or list(common.REGISTRY) + list(import_errors)
    failed = [n for n in selected if n in import_errors]
    for n in failed:
        common.log(f"{n}: could not import benchmarks/{n}.py: {import_errors[n]}")

    cfg = common.Config(
        device=args.device or common.default_device(),
        quick=args.quick,
        repeats=max(1, args.repeats),
        threads=threads,
        out_dir=args.out,
        budget_s=args.budget if args.budget is not None else (2.0 if args.quick else 6.0),
    )
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    machine = common.machine_info(cfg)
    common.log(f"device {cfg.device} ({machine['device_name']}), {threads} threads, "
               f"torch {machine['torch_version']}{', quick' if cfg.quick else ''}")

    for name in selected:
        if name in import_errors:
            continue
        bench = common.REGISTRY[name]
        common.log(f"== {name}")
        t0 = time.perf_counter()
        try:
            records = bench.fn(cfg)
        except Exception:
            common.log(f"{name}: FAILED\n{traceback.format_exc()}")
            failed.append(name)
            continue
        finally:
            gc.collect()
        caption = bench.caption(cfg) if callable(bench.caption) else bench.caption
        title = bench.title + (" (quick subset)" if cfg.quick else "")
        table = common.markdown_table(title, caption, records, machine, bench.rate_unit)
        print(table, flush=True)
        (cfg.out_dir / f"{name}.md").write_text(table, encoding="utf-8")
        common.write_json(cfg.out_dir / f"{name}.json", records, machine)
        msg = common.write_plot(cfg.out_dir / f"{name}.png", title,
                                [r for r in records if bench.plot_filter(r)])
        written = f"{name}.md, {name}.json" + (f", {name}.png" if msg is None else "")
        common.log(f"{name}: {len(records)} rows in {time.perf_counter() - t0:.1f} s; wrote "
                   f"{written} to {cfg.out_dir}" + (f" ({msg})" if msg else ""))

    if failed:
        common.log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
