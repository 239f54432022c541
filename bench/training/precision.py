"""Mixed precision: bfloat16 autocast where the hardware runs it natively, float32 elsewhere.

``train.amp = "auto"`` turns bf16 on for CUDA and for CPUs with native bf16 matrix units (Intel AMX or
AVX512-BF16); on other CPUs bf16 is emulated and much slower than float32 (measured: 38x slower for a
decoder-sized matmul, 12x for a default training step, on an AVX2-only AMD EPYC), so auto keeps float32
there. ``True``/``False`` force it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


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


def resolve_precision(setting, device: torch.device) -> Precision:
    """``train.amp`` ("auto" | True | False) on ``device`` -> whether to autocast to bfloat16, and why."""
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
