"""Mixed precision: bfloat16 autocast where the hardware runs it natively, float32 elsewhere.

``train.amp = "auto"`` turns bf16 on for CUDA and for CPUs with native bf16 matrix units (Intel AMX or
AVX512-BF16); on other CPUs bf16 is emulated and much slower than float32 (measured: 38x slower for a
decoder-sized matmul, 12x for a default training step, on an AVX2-only AMD EPYC), so auto keeps float32
there. ``True``/``False`` force it.

What ``auto`` resolves to can be pinned for a whole environment with ``IMPLICIT_BENCH_AMP=true|false``
(the test suite pins fp32 this way, so that its numbers do not depend on the CPU it runs on). An explicit
``train.amp = true|false`` still wins. The resolved precision, not the setting, is part of a run's
identity (its config hash): a bf16 result is never reused for an fp32 request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from bench.errors import ConfigError

AMP_ENV = "IMPLICIT_BENCH_AMP"
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "bf16": True,
               "0": False, "false": False, "no": False, "off": False, "fp32": False}


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"


def cpu_has_native_bf16() -> tuple[bool, str]:
    """(native, what was found): AMX tiles or AVX512-BF16, from torch's CPU feature probes."""
    probes = {"AMX": "_is_amx_tile_supported", "AVX512-BF16": "_is_avx512_bf16_supported"}
    found = [name for name, fn in probes.items() if getattr(torch.cpu, fn, lambda: False)()]
    if found:
        return True, " and ".join(found)
    return False, f"no AMX or AVX512-BF16 (torch CPU capability {torch.backends.cpu.get_cpu_capability()})"


def pinned_auto(env: Mapping[str, str] | None = None) -> bool | None:
    """What ``IMPLICIT_BENCH_AMP`` pins ``auto`` to: True, False, or None when it is unset or empty."""
    text = (os.environ if env is None else env).get(AMP_ENV, "").strip().lower()
    if not text:
        return None
    if text not in _BOOL_WORDS:
        raise ConfigError(f"{AMP_ENV}={text!r}: expected true or false (or unset it to let the hardware decide).")
    return _BOOL_WORDS[text]


def resolve_precision(setting, device: torch.device, env: Mapping[str, str] | None = None) -> Precision:
    """``train.amp`` ("auto" | True | False) on ``device`` -> whether to autocast to bfloat16, and why."""
    if setting == "auto":
        pinned = pinned_auto(env)
        if pinned is not None:
            setting = pinned
            pin = f" ({AMP_ENV}={'true' if pinned else 'false'})"
            if not pinned:
                return Precision(False, "train.amp = auto" + pin)
            if device.type not in ("cuda", "cpu"):
                return Precision(False, f"bf16 autocast is not used on {device.type}")
            return Precision(True, f"train.amp = auto{pin} on {device.type}")
    if setting is False:
        return Precision(False, "train.amp = false")
    if device.type == "cuda":
        return Precision(True, "CUDA" + ("" if setting == "auto" else " (train.amp = true)"))
    if device.type == "cpu":
        native, found = cpu_has_native_bf16()
        if setting is True:
            return Precision(True, f"train.amp = true on a CPU with {found}")
        return Precision(native, f"CPU with {found}")
    return Precision(False, f"bf16 autocast is not used on {device.type}")


def planned_device_type(name: str) -> str:
    """``train.device`` -> the device type a run will train on here, without failing when it is missing
    (the trainer says so when the run starts): auto -> cuda | mps | cpu by what torch sees."""
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def planned_precision(setting, device_name: str) -> Precision:
    """The precision a run with these settings trains in on this machine (part of its identity)."""
    return resolve_precision(setting, torch.device(planned_device_type(device_name)))
