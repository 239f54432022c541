"""How far the smoke suite's numbers move under sources of variation that are not behaviour: float kernels
that round differently (as on another CPU kind) and bf16 autocast. Prints, per metric, the largest
difference from the fp32 reference; tests/test_record.py's tolerances are set from these figures.

    python tests/records/spread.py            # 6 variants, about 1.5 minutes on 2 cores

Variants (each a fresh process on the same machine):
- threads 2: torch's intra-op reductions split differently (summation order);
- ATEN_CPU_CAPABILITY=default: torch's own vectorised kernels replaced by the scalar ones;
- bf16: IMPLICIT_BENCH_AMP=true (emulated where the CPU has no native bf16: slower, and rounded like the
  native units, which also accumulate bf16 products in fp32), with 1 and 2 threads;
- seed 1: not a rounding change but a behaviour change, to show that the tolerances still see one.
(MKL_ENABLE_INSTRUCTIONS / ONEDNN_MAX_CPU_ISA were tried too and changed no number: this torch build's
CPU matmuls do not dispatch on them.)
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VARIANTS = {  # name: (environment, threads, seed)
    "reference": ({"IMPLICIT_BENCH_AMP": "false"}, 1, 0),
    "threads 2": ({"IMPLICIT_BENCH_AMP": "false"}, 2, 0),
    "scalar aten kernels": ({"IMPLICIT_BENCH_AMP": "false", "ATEN_CPU_CAPABILITY": "default"}, 1, 0),
    "bf16": ({"IMPLICIT_BENCH_AMP": "true"}, 1, 0),
    "bf16 threads 2": ({"IMPLICIT_BENCH_AMP": "true"}, 2, 0),
    "seed 1 (a behaviour change)": ({"IMPLICIT_BENCH_AMP": "false"}, 1, 1),
}


def record(env: dict, threads: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.json"
        subprocess.run([sys.executable, str(HERE / "make_record.py"), "--single", str(out), str(threads), str(seed)], cwd=ROOT, check=True,
                       env={**os.environ, "OMP_NUM_THREADS": str(threads), **env})
        return json.loads(out.read_text())


def flat(rec: dict) -> dict[str, float]:
    out = {}
    for run, r in rec.items():
        out[f"{run}.first_loss"] = r["first_loss"]
        for task, metrics in r["metrics"].items():
            for name, value in metrics.items():
                out[f"{run}.{task}.{name}"] = value
    return out


if __name__ == "__main__":
    records = {name: flat(record(*variant)) for name, variant in VARIANTS.items()}
    ref = records["reference"]
    print(json.dumps(records, indent=1))
    print(f"{'value':50s} {'reference':>10s} " + " ".join(f"{n[:14]:>14s}" for n in records if n != "reference"))
    for key, value in ref.items():
        diffs = [records[n].get(key) for n in records if n != "reference"]
        cells = " ".join(f"{'-' if d is None or value is None else f'{d - value:+.2e}':>14s}" for d in diffs)
        print(f"{key:50s} {value if value is None else f'{value:.5f}':>10s} {cells}")
    print("\nlargest |difference| per value kind (first loss: relative), per variant:")
    for n in records:
        if n == "reference":
            continue
        worst: dict[str, float] = {}
        for key, value in ref.items():
            got = records[n].get(key)
            if got is None or value is None:
                continue
            kind = key.split(".")[-1].removesuffix("_class_mean")
            diff = abs(got - value) / abs(value) if kind == "first_loss" else abs(got - value)
            worst[kind] = max(worst.get(kind, 0.0), diff)
        print(f"  {n}: " + ", ".join(f"{k} {v:.2g}" for k, v in sorted(worst.items())))
