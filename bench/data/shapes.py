"""Procedural ShapeNetPart-like shape families built from SDF primitives, and the fine-grained classes
made of them.

Each builder takes a numpy Generator and whether to build the family's optional part, and returns
``{part_name: sdf}`` in design coordinates (y up, front +z, about [-0.5, 0.5]^3); the generator
normalises every shape to the unit cube afterwards. Six families come as two classes that differ only
by a small optional part (chair with / without arms, table with / without a shelf, airplane with /
without engines, car with / without a spoiler, bottle with / without a cap, mug with / without a
handle): the part is always there in the first class and never in the second, and the other
proportions are drawn alike, so telling the two apart takes part-level detail. With the four families
that have no optional part this makes 16 classes, as many as ShapeNetPart's categories. Thin parts
(legs, wings, fins, handles) are the hard cases the paper points at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.geometry import sdf as S

Builder = Callable[[np.random.Generator, bool], dict[str, S.SDF]]


def chair(rng: np.random.Generator, arms: bool) -> dict[str, S.SDF]:
    w, d, t = rng.uniform(0.2, 0.3), rng.uniform(0.2, 0.28), rng.uniform(0.025, 0.04)
    seat_y, floor = rng.uniform(-0.05, 0.08), -0.4
    r = rng.uniform(0.02, 0.032)
    legs = [S.cylinder((sx * (w - 1.5 * r), (floor + seat_y - t) / 2, sz * (d - 1.5 * r)), "y", r,
                       (seat_y - t - floor) / 2) for sx in (-1, 1) for sz in (-1, 1)]
    hb, tb = rng.uniform(0.2, 0.35), rng.uniform(0.025, 0.04)
    parts = {
        "seat": S.box((0, seat_y, 0), (w, t, d), rounding=0.01),
        "back": S.box((0, seat_y + t + hb, -d + tb), (w, hb, tb), rounding=0.01),
        "leg": S.union(*legs),
    }
    ah = rng.uniform(0.1, 0.16)
    if arms:
        pieces = []
        for sx in (-1, 1):
            x = sx * (w - 0.025)
            pieces.append(S.box((x, seat_y + t + ah, 0.0), (0.025, 0.02, d * 0.85)))
            pieces.append(S.capsule((x, seat_y + t, d * 0.7), (x, seat_y + t + ah, d * 0.7), 0.02))
        parts["arm"] = S.union(*pieces)
    return parts


def table(rng: np.random.Generator, shelf: bool) -> dict[str, S.SDF]:
    top_y, floor, t = rng.uniform(0.05, 0.2), -0.35, rng.uniform(0.025, 0.045)
    if rng.random() < 0.3:  # round pedestal table
        rad = rng.uniform(0.3, 0.42)
        top = S.cylinder((0, top_y, 0), "y", rad, t)
        leg = S.union(S.cylinder((0, (top_y + floor) / 2, 0), "y", rng.uniform(0.03, 0.05), (top_y - floor) / 2),
                      S.cylinder((0, floor + 0.02, 0), "y", rad * 0.5, 0.02))
        parts = {"top": top, "leg": leg}
        shelf_half = (rad * 0.45, rad * 0.45)
    else:
        w, d, r = rng.uniform(0.3, 0.45), rng.uniform(0.2, 0.35), rng.uniform(0.022, 0.035)
        top = S.box((0, top_y, 0), (w, t, d), rounding=0.008)
        legs = [S.box((sx * (w - 2 * r), (top_y + floor) / 2, sz * (d - 2 * r)), (r, (top_y - t - floor) / 2, r))
                for sx in (-1, 1) for sz in (-1, 1)]
        parts = {"top": top, "leg": S.union(*legs)}
        shelf_half = (w - 2 * r, d - 2 * r)
    if shelf:
        parts["shelf"] = S.box((0, (top_y + floor) / 2 - 0.05, 0), (shelf_half[0], 0.018, shelf_half[1]))
    return parts


def airplane(rng: np.random.Generator, engines: bool) -> dict[str, S.SDF]:
    length, r = rng.uniform(0.35, 0.45), rng.uniform(0.04, 0.07)
    span, chord, wt = rng.uniform(0.35, 0.5), rng.uniform(0.06, 0.12), rng.uniform(0.015, 0.022)
    wy, wz = rng.uniform(-0.02, 0.02), rng.uniform(-0.05, 0.08)
    fh = rng.uniform(0.08, 0.14)
    tail_z = -length + 0.05
    parts = {
        "body": S.capsule((0, 0, -length), (0, 0, length), r),
        "wing": S.box((0, wy, wz), (span, wt, chord), rounding=0.008),
        "tail": S.union(S.box((0, r + fh * 0.8, tail_z), (0.016, fh, 0.05), rounding=0.005),
                        S.box((0, r * 0.5, tail_z), (rng.uniform(0.1, 0.17), 0.015, 0.04), rounding=0.005)),
    }
    er = rng.uniform(0.028, 0.04)
    if engines:
        parts["engine"] = S.union(*[S.cylinder((sx * span * 0.45, wy - wt - er, wz + 0.02), "z", er, 0.07)
                                    for sx in (-1, 1)])
    return parts


def mug(rng: np.random.Generator, handle: bool) -> dict[str, S.SDF]:
    r, h, wall = rng.uniform(0.17, 0.24), rng.uniform(0.2, 0.3), rng.uniform(0.025, 0.035)
    outer = S.cylinder((0, 0, 0), "y", r, h)
    inner = S.cylinder((0, wall + 0.01, 0), "y", r - wall, h)
    major, minor = rng.uniform(0.08, 0.12), rng.uniform(0.022, 0.03)
    handle_y = rng.uniform(-0.05, 0.05)
    parts = {"body": S.subtract(outer, inner)}
    if handle:
        parts["handle"] = S.subtract(S.torus((r, handle_y, 0), "z", major, minor), outer)
    return parts


def lamp(rng: np.random.Generator, optional: bool = False) -> dict[str, S.SDF]:
    floor, br = -0.4, rng.uniform(0.12, 0.2)
    bh = rng.uniform(0.02, 0.04)
    shade_y, sr, sh = rng.uniform(0.15, 0.3), rng.uniform(0.13, 0.22), rng.uniform(0.08, 0.14)
    stem_r = rng.uniform(0.018, 0.026)
    stem_top = shade_y + sh - 0.02
    shade = S.subtract(S.cylinder((0, shade_y, 0), "y", sr, sh),
                       S.cylinder((0, shade_y - 0.025, 0), "y", sr - 0.022, sh))
    return {
        "base": S.cylinder((0, floor + bh, 0), "y", br, bh),
        "stem": S.cylinder((0, (floor + 2 * bh + stem_top) / 2, 0), "y", stem_r, (stem_top - floor - 2 * bh) / 2),
        "shade": shade,
    }


def rocket(rng: np.random.Generator, optional: bool = False) -> dict[str, S.SDF]:
    r, h = rng.uniform(0.07, 0.11), rng.uniform(0.22, 0.32)
    hn = rng.uniform(0.1, 0.18)
    fl, fh = rng.uniform(0.06, 0.1), rng.uniform(0.06, 0.11)
    fy = -h + fh
    fins = [S.box((sx * (r + fl / 2), fy, 0), (fl / 2 + 0.01, fh, 0.014)) for sx in (-1, 1)]
    fins += [S.box((0, fy, sz * (r + fl / 2)), (0.014, fh, fl / 2 + 0.01)) for sz in (-1, 1)]
    return {
        "body": S.cylinder((0, 0, 0), "y", r, h),
        "nose": S.ellipsoid((0, h, 0), (r, hn, r)),
        "fin": S.union(*fins),
    }


def car(rng: np.random.Generator, spoiler: bool) -> dict[str, S.SDF]:
    w, h, length = rng.uniform(0.17, 0.22), rng.uniform(0.06, 0.09), rng.uniform(0.38, 0.48)
    hc, lc, zc = rng.uniform(0.05, 0.08), length * rng.uniform(0.4, 0.55), rng.uniform(-0.1, 0.05)
    # The cabin ends ahead of the spoiler's place in both classes: a spoiler buried in the cabin would
    # not be there to see, and a cabin that moves only when there is a spoiler would give the class away.
    zc = max(zc, -length + 0.12 + lc)
    wr = rng.uniform(0.06, 0.085)
    wheels = [S.cylinder((sx * (w - 0.01), -h, sz * length * 0.65), "x", wr, 0.03) for sx in (-1, 1) for sz in (-1, 1)]
    parts = {
        "body": S.box((0, 0, 0), (w, h, length), rounding=0.03),
        "cabin": S.box((0, h + hc - 0.01, zc), (w * 0.85, hc, lc), rounding=0.025),
        "wheel": S.union(*wheels),
    }
    if spoiler:
        parts["spoiler"] = S.union(S.box((0, h + 0.06, -length + 0.04), (w * 0.9, 0.012, 0.035)),
                                   *[S.box((sx * w * 0.6, h + 0.025, -length + 0.04), (0.012, 0.03, 0.012))
                                     for sx in (-1, 1)])
    return parts


def guitar(rng: np.random.Generator, optional: bool = False) -> dict[str, S.SDF]:
    r1 = rng.uniform(0.16, 0.2)
    r2 = r1 * rng.uniform(0.7, 0.85)
    t = rng.uniform(0.04, 0.06)
    y1 = -0.3
    y2 = y1 + r1 + r2 * 0.6
    ln = rng.uniform(0.2, 0.28)
    neck_y0 = y2 + r2 * 0.8
    return {
        "body": S.union(S.cylinder((0, y1, 0), "z", r1, t), S.cylinder((0, y2, 0), "z", r2, t)),
        "neck": S.box((0, neck_y0 + ln, 0), (rng.uniform(0.024, 0.03), ln, 0.022)),
        "head": S.box((0, neck_y0 + 2 * ln + 0.055, 0), (0.045, 0.06, 0.022), rounding=0.01),
    }


def bottle(rng: np.random.Generator, cap: bool) -> dict[str, S.SDF]:
    r, h = rng.uniform(0.12, 0.18), rng.uniform(0.2, 0.3)
    nr, nh = rng.uniform(0.04, 0.06), rng.uniform(0.06, 0.12)
    y0 = -0.25
    neck = S.union(S.cylinder((0, y0 + 2 * h + nh, 0), "y", nr, nh),
                   S.ellipsoid((0, y0 + 2 * h, 0), (r, r * 0.5, r)))
    parts = {"body": S.cylinder((0, y0 + h, 0), "y", r, h), "neck": neck}
    if cap:
        parts["cap"] = S.cylinder((0, y0 + 2 * h + 2 * nh + 0.025, 0), "y", nr + 0.012, 0.03)
    return parts


def skateboard(rng: np.random.Generator, optional: bool = False) -> dict[str, S.SDF]:
    w, length = rng.uniform(0.1, 0.13), rng.uniform(0.35, 0.42)
    zt = length * 0.65
    wr = rng.uniform(0.03, 0.04)
    return {
        "deck": S.box((0, 0, 0), (w, 0.018, length), rounding=0.012),
        "truck": S.union(*[S.box((0, -0.038, sz * zt), (w * 0.8, 0.02, 0.025)) for sz in (-1, 1)]),
        "wheel": S.union(*[S.cylinder((sx * w * 0.85, -0.058 - wr * 0.5, sz * zt), "x", wr, 0.025)
                           for sx in (-1, 1) for sz in (-1, 1)]),
    }


# family -> (builder, part names in a fixed order, the optional part or None). The order of families and
# of their parts defines the global part indices.
FAMILIES: dict[str, tuple[Builder, tuple[str, ...], str | None]] = {
    "chair": (chair, ("seat", "back", "leg", "arm"), "arm"),
    "table": (table, ("top", "leg", "shelf"), "shelf"),
    "airplane": (airplane, ("body", "wing", "tail", "engine"), "engine"),
    "mug": (mug, ("body", "handle"), "handle"),
    "lamp": (lamp, ("base", "stem", "shade"), None),
    "rocket": (rocket, ("body", "nose", "fin"), None),
    "car": (car, ("body", "cabin", "wheel", "spoiler"), "spoiler"),
    "guitar": (guitar, ("body", "neck", "head"), None),
    "bottle": (bottle, ("body", "neck", "cap"), "cap"),
    "skateboard": (skateboard, ("deck", "truck", "wheel"), None),
}


@dataclass(frozen=True)
class ShapeClass:
    """A classification label: a family, with or without its optional part."""

    family: str
    optional: bool  # the optional part is built (always False for families without one)

    def build(self, rng: np.random.Generator) -> dict[str, S.SDF]:
        return FAMILIES[self.family][0](rng, self.optional)


def _classes() -> dict[str, ShapeClass]:
    classes = {}
    for family, (_, _, optional) in FAMILIES.items():
        if optional is None:
            classes[family] = ShapeClass(family, False)
        else:
            classes[f"{family}_with_{optional}"] = ShapeClass(family, True)
            classes[f"{family}_no_{optional}"] = ShapeClass(family, False)
    return classes


# class id (the category of dataset.json and the first half of a shape id) -> its family and option
CLASSES: dict[str, ShapeClass] = _classes()
