"""ALE/CNC-Toolpath-v0: program a 2.5D milling and drilling job from a drawing; verified by simulation."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ale_gym import actions as A
from ale_gym.tasks import AppLaunch, Cheat, CheckContext, DeliverableError, GenContext, Instance, Task, Verdict
from ale_gym.tasks.checks.dexel import HeightMap, Moves, TooMuchWork
from ale_gym.tasks.checks.gcode import MachineSetup, Program, cycle_time, interpret

RESOLUTION = 0.2  # dexel grid pitch, mm
TOL = 0.05  # position, depth and wall tolerance, mm
FLOOR_FRACTION = 0.98
BREAKTHROUGH = 1.5
PECK_DIAMETERS = 3.0
PROBE_SPACING = 0.2
PROBE_CUT = 0.04  # wall probes this far inside the cut must be cut to depth
PROBE_KEEP = 0.06  # and this far on the material side must be untouched
PROGRAM_LIMIT = 32 * 1024 * 1024
MILL_SIZES = (6.0, 8.0, 10.0)
DRILL_SIZES = (3.3, 4.2, 5.0, 5.5, 6.6, 6.8, 8.5, 10.2)
SOLUTION = Path(__file__).with_name("solution") / "cam.py"
# LibreCAD asks for units and language in a modal dialog on its first start; a provisioned workstation has
# answered it already, so the launcher writes that answer into the (fresh) home folder before starting it.
LIBRECAD = ("bash", "-c", 'c="$HOME/.config/LibreCAD"; mkdir -p "$c"; [ -f "$c/LibreCAD.conf" ] || '
            'printf "[Startup]\\nFirstLoad=0\\n[Appearance]\\nLanguage=en\\nLanguageCmd=en\\n[Defaults]\\nUnit=Millimeter\\n'
            '[CADPreferences]\\nAutoZoomDrawing=1\\n[Geometry]\\nWindowX=0\\nWindowY=0\\nWindowWidth=1280\\nWindowHeight=770\\n" '
            '> "$c/LibreCAD.conf"; exec librecad part.dxf')


# ----------------------------------------------------------------------------------------------------------------
# Geometry of the drawing's features: a shape is {"kind": "rect", cx, cy, w, h, r} or {"kind": "circle", cx, cy, r}.

def shape_polygon(shape: dict, grow: float = 0.0):
    """The shape offset outward by `grow` (inward when negative) as a shapely polygon (possibly empty)."""
    from shapely.geometry import Point, box

    if shape["kind"] == "circle":
        radius = shape["r"] + grow
        return Point(shape["cx"], shape["cy"]).buffer(radius, quad_segs=64) if radius > 0 else Point(0, 0).buffer(0)
    hw, hh = shape["w"] / 2 + grow, shape["h"] / 2 + grow
    if hw <= 0 or hh <= 0:
        return Point(0, 0).buffer(0)
    radius = max(0.0, min(shape["r"] + grow, hw, hh))
    core = box(shape["cx"] - hw + radius, shape["cy"] - hh + radius, shape["cx"] + hw - radius, shape["cy"] + hh - radius)
    if radius <= 1e-9:
        return core
    if core.area <= 1e-12:  # a stadium or circle: buffer the core's centre line instead
        from shapely.geometry import LineString

        x0, y0, x1, y1 = core.bounds
        return LineString([(x0, y0), (x1, y1)]).buffer(radius, quad_segs=64)
    return core.buffer(radius, quad_segs=64)


def shape_points(shape: dict, offset: float, spacing: float = PROBE_SPACING) -> tuple[np.ndarray, np.ndarray]:
    """Points every `spacing` mm on the shape's boundary offset outward by `offset` (exact arcs)."""
    if shape["kind"] == "circle":
        radius = shape["r"] + offset
        n = max(8, math.ceil(2 * math.pi * radius / spacing))
        a = np.arange(n) * 2 * math.pi / n
        return shape["cx"] + radius * np.cos(a), shape["cy"] + radius * np.sin(a)
    hw, hh = shape["w"] / 2 + offset, shape["h"] / 2 + offset
    radius = max(0.0, shape["r"] + offset)
    radius = min(radius, hw, hh)
    xs, ys = [], []
    sx, sy = hw - radius, hh - radius
    for (ax, ay, bx, by) in ((-sx, -hh, sx, -hh), (hw, -sy, hw, sy), (sx, hh, -sx, hh), (-hw, sy, -hw, -sy)):
        n = max(1, math.ceil(math.hypot(bx - ax, by - ay) / spacing))
        t = np.arange(n) / n
        xs.append(ax + (bx - ax) * t)
        ys.append(ay + (by - ay) * t)
    if radius > 0:
        n = max(2, math.ceil(0.5 * math.pi * radius / spacing))
        for cx, cy, a0 in ((sx, -sy, -math.pi / 2), (sx, sy, 0.0), (-sx, sy, math.pi / 2), (-sx, -sy, math.pi)):
            a = a0 + np.arange(n) * (math.pi / 2) / n
            xs.append(cx + radius * np.cos(a))
            ys.append(cy + radius * np.sin(a))
    return shape["cx"] + np.concatenate(xs), shape["cy"] + np.concatenate(ys)


# ----------------------------------------------------------------------------------------------------------------
# Instance generation.

def _half(value: float) -> float:
    return round(value * 2) / 2


def _mill(rng: np.random.Generator, number: int, d: float, max_rpm: int) -> dict:
    """A carbide flat end mill with the cutting-data window a tool catalogue gives for 6061."""
    flutes = 2 if d <= 4 else 3
    vc_lo = int(rng.integers(20, 31)) * 10
    cap = 0.85 * max_rpm * math.pi * d / 1000
    if vc_lo > cap:
        vc_lo = max(10, int(cap // 10) * 10)
    vc_hi = vc_lo + int(rng.integers(15, 31)) * 10
    mid = 0.008 * d + 0.005
    return {"t": number, "type": "flat_endmill", "d": d, "z": flutes, "max_axial": max(1.0, _half(d * rng.uniform(0.5, 0.9))),
            "point_angle": None, "max_depth": None, "vc": [vc_lo, vc_hi],
            "fz": [round(mid * 0.7, 3), round(mid * 1.3, 3)], "material": "carbide"}


def _drill(rng: np.random.Generator, number: int, d: float, max_rpm: int, thickness: float) -> dict:
    """A cobalt HSS twist drill; its usable flute length always reaches through the stock."""
    angle = float(rng.choice([118.0, 130.0, 135.0, 140.0]))
    vc_lo = int(rng.integers(5, 8)) * 10
    cap = 0.85 * max_rpm * math.pi * d / 1000
    vc_lo = min(vc_lo, max(10, int(cap // 10) * 10))
    vc_hi = vc_lo + int(rng.integers(3, 6)) * 10
    mid = 0.012 * d
    point = (d / 2) / math.tan(math.radians(angle) / 2)
    return {"t": number, "type": "drill", "d": d, "z": 2, "max_axial": None, "point_angle": angle,
            "max_depth": float(math.ceil(thickness + point + BREAKTHROUGH + rng.uniform(4, 15))),
            "vc": [vc_lo, vc_hi], "fz": [round(mid * 0.75, 3), round(mid * 1.25, 3)], "material": "HSS-Co"}


def rpm_window(tool: dict, max_rpm: float) -> tuple[float, float]:
    """Spindle speeds that put the tool in its surface-speed window and under the machine maximum."""
    k = 1000 / (math.pi * tool["d"])
    return tool["vc"][0] * k, min(tool["vc"][1] * k, max_rpm)


class _Placer:
    """Places non-overlapping features inside a work area, keeping a web of material between them."""

    def __init__(self, rng: np.random.Generator, area: tuple[float, float, float, float]) -> None:
        from shapely.geometry import box

        self.rng = rng
        self.area = area
        self.area_polygon = box(*area)
        self.placed: list[Any] = []

    def place(self, size: tuple[float, float], make: Any, web: float, tries: int = 300) -> dict | None:
        x0, y0, x1, y1 = self.area
        w, h = size
        if w > x1 - x0 or h > y1 - y0:
            return None
        for _ in range(tries):
            cx = _half(self.rng.uniform(x0 + w / 2, x1 - w / 2))
            cy = _half(self.rng.uniform(y0 + h / 2, y1 - h / 2))
            shape = make(cx, cy)
            polygon = shape_polygon(shape)
            if not self.area_polygon.contains(polygon):
                continue
            if any(polygon.distance(p) < web for p in self.placed):
                continue
            self.placed.append(polygon)
            return shape
        return None


def _layout(rng: np.random.Generator, tier: str, stock: dict, mills: dict, drills: list[float]) -> dict | None:
    """Pockets, islands, holes and the outline for one tier, or None when this draw does not fit."""
    X, Y, T = stock["x"], stock["y"], stock["z"]
    outline = None
    if tier == "near-term":
        area = (6.0, 6.0, X - 6.0, Y - 6.0)
    else:
        ml, mr, mb, mt = (_half(rng.uniform(4, 8)) for _ in range(4))
        w, h = X - ml - mr, Y - mb - mt
        depth = _half(rng.uniform(2.0, min(5.0, T / 3)))
        outline = {"shape": {"kind": "rect", "cx": ml + w / 2, "cy": mb + h / 2, "w": w, "h": h,
                             "r": _half(rng.uniform(3, 8))}, "depth": depth}
        area = (ml + 4.0, mb + 4.0, X - mr - 4.0, Y - mt - 4.0)
    placer = _Placer(rng, area)
    aw, ah = area[2] - area[0], area[3] - area[1]
    pockets: list[dict] = []
    max_depth = {"near-term": min(8.0, T - 4), "full-spectrum": min(10.0, T - 4), "last-exam": min(10.0, T - 6)}[tier]
    min_depth = 3.0 if tier == "last-exam" else 2.0

    def depth() -> float:
        return _half(rng.uniform(min_depth, max_depth))

    def rect(w: float, h: float, r: float):
        return lambda cx, cy: {"kind": "rect", "cx": cx, "cy": cy, "w": w, "h": h, "r": r}

    def circle(radius: float):
        return lambda cx, cy: {"kind": "circle", "cx": cx, "cy": cy, "r": radius}

    if tier == "near-term":
        r_tool = mills["rough"] / 2
        rc = _half(rng.uniform(r_tool + 0.5, r_tool + 3))
        w = _half(rng.uniform(max(20, 2 * rc + 6), max(21, 0.55 * aw)))
        h = _half(rng.uniform(max(15, 2 * rc + 4), max(16, 0.55 * ah)))
        shape = placer.place((w, h), rect(w, h, rc), web=4)
        if shape is None:
            return None
        pockets.append({"shape": shape, "depth": depth(), "islands": []})
        kinds = []
    elif tier == "full-spectrum":
        kinds = ["rect", "circle"] + (["rect" if rng.random() < 0.5 else "circle"] if rng.random() < 0.7 else [])
    else:
        kinds = ["island", "rect" if rng.random() < 0.5 else "circle"] + (["circle"] if rng.random() < 0.5 else [])
    r_tool = mills["rough"] / 2
    for kind in kinds:
        shape = None
        islands: list[dict] = []
        if kind == "rect":
            rc = _half(rng.uniform(r_tool + 0.5, r_tool + 4)) if tier == "full-spectrum" else \
                round(rng.uniform(mills["rest"] / 2 + 0.3, r_tool - 1.0), 1)
            w = _half(rng.uniform(max(18, 2 * rc + 6), max(19, 0.42 * aw)))
            h = _half(rng.uniform(max(14, 2 * rc + 4), max(15, 0.45 * ah)))
            shape = placer.place((w, h), rect(w, h, rc), web=4)
        elif kind == "circle":
            radius = _half(rng.uniform(max(r_tool + 3, 6), 16))
            shape = placer.place((2 * radius, 2 * radius), circle(radius), web=4)
        else:
            gap = _half(rng.uniform(mills["rough"] + 1.5, mills["rough"] + 5))
            rc = round(rng.uniform(mills["rest"] / 2 + 0.3, r_tool - 1.0), 1)
            w = _half(rng.uniform(2 * gap + 8, max(2 * gap + 9, 0.5 * aw)))
            h = _half(rng.uniform(2 * gap + 6, max(2 * gap + 7, 0.55 * ah)))
            shape = placer.place((w, h), rect(w, h, rc), web=4)
            if shape is not None:
                iw, ih = w - 2 * gap, h - 2 * gap
                islands.append({"kind": "rect", "cx": shape["cx"], "cy": shape["cy"], "w": iw, "h": ih,
                                "r": round(min(rng.uniform(1.0, 4.0), iw / 2 - 0.5, ih / 2 - 0.5), 1)})
        if shape is None:
            return None
        pockets.append({"shape": shape, "depth": depth(), "islands": islands})
    holes: list[dict] = []
    counts = {"near-term": [int(rng.integers(2, 5))]}.get(tier, [int(rng.integers(2, 4)), int(rng.integers(2, 4))])
    for d, count in zip(drills, counts, strict=True):
        for _ in range(count):
            shape = placer.place((d, d), circle(d / 2), web=3)
            if shape is None:
                return None
            holes.append({"x": shape["cx"], "y": shape["cy"], "d": d})
    for i, pocket in enumerate(pockets, start=1):
        pocket["id"] = f"P{i}"
    for i, hole in enumerate(holes, start=1):
        hole["id"] = f"H{i}"
    return {"pockets": pockets, "holes": holes, "outline": outline}


def _crib(rng: np.random.Generator, tier: str, thickness: float, max_rpm: int) -> tuple[list[dict], dict, list[float]]:
    """The tool crib (with tools the job does not need), the mill sizes the layout is drawn for, drill sizes."""
    if tier == "last-exam":
        rough = float(rng.choice([10.0, 12.0]))
        rest = float(rng.choice([3.0, 4.0]))
        small = [d for d in DRILL_SIZES if 3 * d < thickness - 0.5]
        first = float(rng.choice(small))
        second = float(rng.choice([d for d in DRILL_SIZES if d != first and d <= 8.5]))
        drills = [first, second]
        mill_sizes = [rough, rest, float(rng.choice([16.0, 20.0]))]
        spare = [d for d in DRILL_SIZES if d not in drills]
    else:
        rough = float(rng.choice(MILL_SIZES))
        rest = 0.0
        count = 1 if tier == "near-term" else 2
        drills = [float(d) for d in rng.choice([d for d in DRILL_SIZES if d <= 8.5], size=count, replace=False)]
        mill_sizes = [rough] + ([float(rng.choice([16.0, 20.0]))] if tier == "full-spectrum" else [])
        spare = [d for d in DRILL_SIZES if d not in drills]
    spare_drill = float(rng.choice(spare))
    kinds = [("mill", d) for d in mill_sizes] + [("drill", d) for d in drills] + [("drill", spare_drill)]
    numbers = rng.permutation(np.arange(1, len(kinds) + 1)).tolist()
    tools = []
    for (kind, d), number in zip(kinds, numbers, strict=True):
        tools.append(_mill(rng, int(number), d, max_rpm) if kind == "mill" else _drill(rng, int(number), d, max_rpm, thickness))
    tools.sort(key=lambda t: t["t"])
    return tools, {"rough": rough, "rest": rest}, drills


def _dxf_bytes(spec: dict) -> bytes:
    """The part drawing: one layer per feature kind, depths in the layer names and in notes, stock dimensions."""
    import ezdxf

    stock = spec["stock"]
    previous = ezdxf.options.write_fixed_meta_data_for_testing
    ezdxf.options.write_fixed_meta_data_for_testing = True  # same seed, same bytes: no timestamps or GUIDs
    try:
        doc = ezdxf.new("R2010", setup=True, units=4)
        doc.header["$MEASUREMENT"] = 1
        layers = {"STOCK": 8, "HOLE_THRU": 1, "ISLAND": 3, "NOTES": 7, "DIMENSIONS": 2}
        for pocket in spec["pockets"]:
            layers[f"POCKET_D{pocket['depth']:.2f}"] = 5
        if spec["outline"]:
            layers[f"OUTLINE_SHOULDER_D{spec['outline']['depth']:.2f}"] = 4
        for name, color in layers.items():
            doc.layers.add(name, color=color)
        msp = doc.modelspace()
        style = doc.dimstyles.duplicate_entry("EZDXF", "PART")
        style.dxf.dimtxt, style.dxf.dimasz, style.dxf.dimdec, style.dxf.dimexe, style.dxf.dimdsep = 3.0, 2.5, 0, 1.5, 46
        doc.header["$DIMSTYLE"] = "PART"
        doc.header["$DIMTXT"], doc.header["$DIMASZ"], doc.header["$DIMSCALE"], doc.header["$DIMDEC"] = 3.0, 2.5, 1.0, 0
        doc.header["$DIMDSEP"] = 46

        def draw(shape: dict, layer: str) -> None:
            if shape["kind"] == "circle":
                msp.add_circle((shape["cx"], shape["cy"]), shape["r"], dxfattribs={"layer": layer})
                return
            x0, y0 = shape["cx"] - shape["w"] / 2, shape["cy"] - shape["h"] / 2
            x1, y1 = x0 + shape["w"], y0 + shape["h"]
            r = shape["r"]
            b = math.tan(math.radians(22.5))
            points = [(x0 + r, y0, b * 0), (x1 - r, y0, b), (x1, y0 + r, 0), (x1, y1 - r, b), (x1 - r, y1, 0),
                      (x0 + r, y1, b), (x0, y1 - r, 0), (x0, y0 + r, b)]
            msp.add_lwpolyline(points, format="xyb", close=True, dxfattribs={"layer": layer})

        msp.add_lwpolyline([(0, 0), (stock["x"], 0), (stock["x"], stock["y"]), (0, stock["y"])], close=True,
                           dxfattribs={"layer": "STOCK"})
        if spec["outline"]:
            draw(spec["outline"]["shape"], f"OUTLINE_SHOULDER_D{spec['outline']['depth']:.2f}")
        for pocket in spec["pockets"]:
            draw(pocket["shape"], f"POCKET_D{pocket['depth']:.2f}")
            for island in pocket["islands"]:
                draw(island, "ISLAND")
            s = pocket["shape"]
            label_y = s["cy"] + (s["h"] / 2 if s["kind"] == "rect" else s["r"]) + 1.0
            label = msp.add_text(f"{pocket['id']} DEPTH {pocket['depth']:.2f}", height=1.8, dxfattribs={"layer": "NOTES"})
            label.set_placement((s["cx"], label_y), align=ezdxf.enums.TextEntityAlignment.BOTTOM_CENTER)
        for hole in spec["holes"]:
            msp.add_circle((hole["x"], hole["y"]), hole["d"] / 2, dxfattribs={"layer": "HOLE_THRU"})
        for base, p1, p2, angle, size in (((0, -8), (0, 0), (stock["x"], 0), 0, stock["x"]),
                                          ((-8, 0), (0, 0), (0, stock["y"]), 90, stock["y"])):
            msp.add_linear_dim(base=base, p1=p1, p2=p2, angle=angle, dimstyle="PART", text=f"{size:g}",
                               dxfattribs={"layer": "DIMENSIONS"}).render()
        sizes: dict[float, int] = {}
        for hole in spec["holes"]:
            sizes[hole["d"]] = sizes.get(hole["d"], 0) + 1
        notes = [f"PART {spec['part']}   MATERIAL {spec['material']}   STOCK {stock['x']:g} x {stock['y']:g} x {stock['z']:g}",
                 "ALL DIMENSIONS MM. X0 Y0 = LOWER LEFT CORNER OF STOCK, Z0 = TOP FACE OF STOCK.",
                 "POCKET_D<depth>: POCKET BOUNDARY, FLAT FLOOR AT Z = -<depth>. ISLAND: LEFT STANDING AT Z0.",
                 "HOLES: " + ", ".join(f"{n}x DIA {d:.2f} THRU" for d, n in sorted(sizes.items()))]
        if spec["outline"]:
            notes.append(f"OUTLINE_SHOULDER_D{spec['outline']['depth']:.2f}: MATERIAL OUTSIDE THE OUTLINE REMOVED TO "
                         f"Z = -{spec['outline']['depth']:.2f} (SHOULDER), UP TO THE STOCK EDGES.")
        for i, text in enumerate(notes):
            msp.add_text(text, height=2.0, dxfattribs={"layer": "NOTES"}).set_placement((0, -16 - 4 * i))
        doc.set_modelspace_vport(height=stock["y"] + 45, center=(stock["x"] / 2, stock["y"] / 2 - 14))
        doc.header["$EXTMIN"] = (-12.0, -16.0 - 4 * len(notes), 0.0)
        doc.header["$EXTMAX"] = (stock["x"], stock["y"], 0.0)
        stream = io.StringIO()
        doc.write(stream)
        return stream.getvalue().encode("utf-8")
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = previous


def _tools_csv(tools: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tool", "type", "diameter_mm", "flutes", "max_axial_depth_mm", "point_angle_deg", "max_depth_mm",
                     "vc_min_m_per_min", "vc_max_m_per_min", "fz_min_mm", "fz_max_mm", "description"])
    for t in tools:
        what = (f"D{t['d']:g} {t['z']}-flute carbide flat end mill, centre cutting" if t["type"] == "flat_endmill"
                else f"D{t['d']:g} HSS-Co twist drill, {t['point_angle']:g} deg point")
        writer.writerow([t["t"], t["type"], f"{t['d']:g}", t["z"], "" if t["max_axial"] is None else f"{t['max_axial']:g}",
                         "" if t["point_angle"] is None else f"{t['point_angle']:g}",
                         "" if t["max_depth"] is None else f"{t['max_depth']:g}", t["vc"][0], t["vc"][1],
                         f"{t['fz'][0]:.3f}", f"{t['fz'][1]:.3f}", what])
    return out.getvalue()


def _job(spec: dict) -> dict:
    machine = spec["machine"]
    job = {
        "job": spec["part"],
        "drawing": "part.dxf",
        "tool_crib": "tools.csv",
        "material": spec["material"],
        "stock_mm": spec["stock"],
        "work_offset": {"code": "G54", "x0": "lower-left corner of the stock", "y0": "lower-left corner of the stock",
                        "z0": "top face of the stock, Z positive up"},
        "clearance_height_mm": spec["clearance"],
        "drill_retract_plane_mm": spec["retract"],
        "tolerances_mm": {"position": TOL, "depth": TOL, "wall": TOL, "floor_area_fraction": FLOOR_FRACTION,
                          "hole_breakthrough_max": BREAKTHROUGH},
        "machine": {
            "controller": "Fanuc/LinuxCNC G-code, metric",
            "max_spindle_rpm": machine["max_rpm"],
            "max_feed_mm_per_min": machine["max_feed"],
            "rapid_mm_per_min": machine["rapid"],
            "tool_change_s": machine["tool_change_s"],
            "max_ramp_angle_deg": machine["max_ramp_deg"],
            "travel_mm": machine["travel"],
            "home_mm": dict(zip("xyz", machine["home"], strict=True)),
            "m6": "stops the spindle and coolant and lifts Z to the home height",
        },
        "rules": {"peck_holes_deeper_than_diameters": PECK_DIAMETERS, "plunge_feed_max_fraction_of_cutting_feed": 0.5},
    }
    if spec.get("budget_s"):
        job["cycle_time_budget_s"] = spec["budget_s"]
    return job


INSTRUCTION = """\
You are the CNC programmer for job {part}. Write the G-code that machines this part from a block of
{material} on a 3-axis vertical mill, and save it as part.nc in the current folder.

Inputs (in the current folder):
- part.dxf: the part drawing in millimetres (it is open in LibreCAD on the desktop). Layers:
    STOCK                       the block
{outline_line}    POCKET_D<depth>             pocket boundaries (rounded rectangles, circles), flat floor at Z = -<depth>
    ISLAND                      material left standing at Z0 inside a pocket
    HOLE_THRU                   through holes (the circle is the hole)
    NOTES, DIMENSIONS           annotation
- job.json: stock size, work offset, clearance height, drill retract plane, tolerances, machine limits (maximum
  spindle speed and feed, rapid rate, tool-change time, travel limits, home position, maximum ramp angle){budget_line}.
- tools.csv: the tool crib. Flat end mills (diameter, flutes, maximum axial depth of cut per pass) and twist drills
  (diameter, point angle, maximum drilling depth), each with its cutting-data window for this material: surface speed
  vc (m/min) and chip load per tooth fz (mm). Use only tools from the crib; the crib holds tools this job does not need.

Work offset: G54 with X0 Y0 at the lower-left corner of the stock and Z0 on its top face (Z up). Stock
{sx:g} x {sy:g} x {sz:g} mm, so the bottom face is at Z-{sz:g}.

The work:
{work}
Deliverable: part.nc, plain text, one block per line, in the Fanuc/LinuxCNC dialect this controller runs:
G0 G1 G2 G3 (I J or R, helical Z allowed) G4 G17 G21 G40 G43 G49 G54 G80 G81 G83 G90 G94 G98 G99,
M3 M5 M6 M8 M9 M30, words T S F H P Q R X Y Z I J N, an optional O number, % lines, (comments) and ; comments.
Anything else (G20, G91, G41/G42, G73, M4, subprograms, ...) is rejected. Absolute coordinates only.
- State G21, G90 and G17 before the first motion. Select a tool with T and change with M6 before cutting; M6 stops
  the spindle and coolant and lifts Z to the home height, so start the spindle (S with M3) after every change.
- End the program with M30 (nothing but % may follow).
- G81/G83 follow LinuxCNC: R plane, Z bottom, Q peck depth (G83 retracts to R after each peck), G98/G99 return.

Acceptance rules (a material-removal simulation of your program checks them; comments are not read):
- Rapid moves (G0) never go below Z0 over the stock (the tool disk overlapping the block), except straight upward
  retracts; enter material only with feed moves.
- No material removed outside what the drawing allows by more than {tol} mm (pocket and shoulder regions to their
  depth, holes through); islands and the part top stay intact. End mills never go deeper than the deepest milled
  depth of the drawing; drills never put their full diameter more than {bt} mm below the bottom face.
- The spindle runs whenever a tool moves below Z0 over the stock; drills only move vertically there.
- Every position stays inside the machine travel of job.json.
- Pockets: floor at depth within {tol} mm over at least {frac:.0f}% of the area, walls (and island walls) within
  {tol} mm of the drawing along their whole length, corners included.
- Holes: drilled with the drill of the hole's diameter at X/Y within {tol} mm, the full diameter through the bottom
  face by at most {bt} mm; a hole deeper than {peck:g} x its diameter is pecked (the drill leaves the hole, Z >= 0,
  at least every {peck:g} diameters of new depth, e.g. G83 with R above Z0).
{profile_rule}- Cutting data, for every feed move with the tool below Z0 over the stock: spindle speed inside the tool's
  surface-speed window and at most the machine maximum; for end mills fz = F / (flutes x S) inside the window for
  moves that go sideways or ramp down at most the maximum ramp angle, while steeper plunges use at most half that
  tool's lowest sideways cutting feed; for drills fz = F / (2 x S) inside the window on the way down; F at most the
  machine maximum; no end mill cuts more than its maximum axial depth of material in one pass; no drill goes deeper
  than its maximum drilling depth.
{budget_rule}
Tools: python3 with ezdxf, shapely and numpy; bash; LibreCAD on the desktop (the drawing is open there).
When part.nc is complete, submit.
"""


def _instruction(spec: dict) -> str:
    lines = []
    for p in spec["pockets"]:
        s = p["shape"]
        what = (f"a {s['w']:g} x {s['h']:g} mm pocket with R{s['r']:g} corners" if s["kind"] == "rect"
                else f"a D{2 * s['r']:g} mm circular pocket")
        isl = " around an island" if p["islands"] else ""
        lines.append(f"- pocket {p['id']}: {what}{isl}, {p['depth']:g} mm deep")
    sizes: dict[float, int] = {}
    for h in spec["holes"]:
        sizes[h["d"]] = sizes.get(h["d"], 0) + 1
    for d, n in sorted(sizes.items()):
        lines.append(f"- {n} through holes of diameter {d:g} mm")
    if spec["outline"]:
        lines.append(f"- the shoulder: all material outside the part outline removed to {spec['outline']['depth']:g} mm "
                     "deep, out to the stock edges")
    lines.append("Positions, exact sizes and depths come from the drawing (part.dxf).")
    outline_line = ("    OUTLINE_SHOULDER_D<depth>   the part outline; outside it the shoulder floor is at Z = -<depth>\n"
                    if spec["outline"] else "")
    budget_line = ", and the cycle-time budget" if spec.get("budget_s") else ""
    profile_rule = (f"- Shoulder: floor at depth within {TOL} mm over at least {FLOOR_FRACTION * 100:.0f}% of the area outside\n"
                    f"  the outline, the outline wall within {TOL} mm along the whole perimeter.\n") if spec["outline"] else ""
    budget_rule = ""
    if spec.get("budget_s"):
        rapid = spec["machine"]["rapid"]
        budget_rule = (f"- Cycle time at most {spec['budget_s']:g} s, counted as path length / F for feed moves,\n"
                       f"  length / {rapid} mm/min for rapids (canned-cycle moves included), "
                       f"{spec['machine']['tool_change_s']:g} s per M6, plus G4 dwells.\n")
    return INSTRUCTION.format(
        part=spec["part"], material=spec["material"], outline_line=outline_line, budget_line=budget_line,
        sx=spec["stock"]["x"], sy=spec["stock"]["y"], sz=spec["stock"]["z"], work="\n".join(lines) + "\n", tol=TOL,
        bt=BREAKTHROUGH, frac=FLOOR_FRACTION * 100, peck=PECK_DIAMETERS, profile_rule=profile_rule, budget_rule=budget_rule)


def _load_cam():
    """The reference CAM script (also the oracle's program), loaded by path to estimate the cycle-time budget."""
    spec = importlib.util.spec_from_file_location("ale_gym_cnc_toolpath_cam", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_spec(rng: np.random.Generator, tier: str, seed: int) -> dict:
    """Everything about one instance (host side): stock, features, tools, machine."""
    dims = {"near-term": ((80, 120), (60, 90), (10, 16)), "full-spectrum": ((100, 150), (70, 110), (12, 20)),
            "last-exam": ((110, 160), (80, 120), (20, 28))}[tier]
    layout = None
    for _ in range(200):
        stock = {"x": float(5 * rng.integers(dims[0][0] // 5, dims[0][1] // 5 + 1)),
                 "y": float(5 * rng.integers(dims[1][0] // 5, dims[1][1] // 5 + 1)),
                 "z": float(rng.integers(dims[2][0], dims[2][1] + 1))}
        max_rpm = int(rng.choice([10000, 12000, 15000, 18000, 24000]))
        tools, mills, drills = _crib(rng, tier, stock["z"], max_rpm)
        layout = _layout(rng, tier, stock, mills, drills)
        if layout is not None:
            break
    if layout is None:
        raise RuntimeError("could not lay out the part")  # not reached for any tier in practice
    tops, mids = [], []
    for t in tools:
        n_lo, n_hi = rpm_window(t, max_rpm)
        n_mid = min(max((n_lo + n_hi) / 2, n_lo * 1.01), n_hi * 0.99)
        tops.append(t["fz"][1] * t["z"] * n_hi)
        mids.append(sum(t["fz"]) / 2 * t["z"] * n_mid)
    max_feed = int(math.ceil(max(max(tops) * rng.uniform(0.9, 1.4), 1.1 * max(mids)) / 500) * 500)
    X, Y, T = stock["x"], stock["y"], stock["z"]
    travel = {"x": [-float(rng.integers(40, 81)), X + float(rng.integers(150, 251))],
              "y": [-float(rng.integers(40, 61)), Y + float(rng.integers(80, 151))],
              "z": [-(T + float(rng.integers(20, 41))), float(rng.integers(80, 121))]}
    machine = {"max_rpm": max_rpm, "max_feed": max_feed, "rapid": int(rng.choice([15000, 20000, 24000, 30000])),
               "tool_change_s": _half(rng.uniform(5, 10)), "max_ramp_deg": float(rng.choice([2.0, 3.0, 5.0])),
               "travel": travel, "home": [travel["x"][1] - 10.0, travel["y"][1] - 10.0, travel["z"][1]]}
    return {"part": f"CNC-{seed:06d}-{tier.split('-')[0].upper()}", "tier": tier, "material": "6061-T6 aluminium",
            "stock": stock, "tools": tools, "machine": machine, "clearance": float(rng.integers(3, 11)),
            "retract": _half(rng.uniform(1.0, 3.0)), "budget_s": None, **layout}


def machine_setup(spec: dict) -> MachineSetup:
    return MachineSetup(home=tuple(spec["machine"]["home"]), tools=frozenset(t["t"] for t in spec["tools"]))


# ----------------------------------------------------------------------------------------------------------------
# The checker's own truth: interpret, simulate, probe.

def _near_rect(start: np.ndarray, end: np.ndarray, radius: np.ndarray, width: float, depth: float) -> np.ndarray:
    """Whether each segment's tool disk overlaps the rectangle [0, width] x [0, depth] (exact)."""
    ax, ay, bx, by = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    dx, dy = bx - ax, by - ay
    t0, t1 = np.zeros(ax.size), np.ones(ax.size)
    ok = np.ones(ax.size, dtype=bool)
    for p, dp, lo, hi in ((ax, dx, 0.0, width), (ay, dy, 0.0, depth)):
        still = np.abs(dp) < 1e-12
        ok &= ~still | ((p >= lo) & (p <= hi))
        safe = np.where(still, 1.0, dp)
        ta, tb = (lo - p) / safe, (hi - p) / safe
        t0 = np.where(still, t0, np.maximum(t0, np.minimum(ta, tb)))
        t1 = np.where(still, t1, np.minimum(t1, np.maximum(ta, tb)))
    crosses = ok & (t0 <= t1)

    def point_rect(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.hypot(np.maximum(np.maximum(-px, px - width), 0), np.maximum(np.maximum(-py, py - depth), 0))

    dist = np.minimum(point_rect(ax, ay), point_rect(bx, by))
    length2 = np.maximum(dx * dx + dy * dy, 1e-24)
    for cx, cy in ((0.0, 0.0), (width, 0.0), (width, depth), (0.0, depth)):
        t = np.clip(((cx - ax) * dx + (cy - ay) * dy) / length2, 0, 1)
        dist = np.minimum(dist, np.hypot(ax + t * dx - cx, ay + t * dy - cy))
    return crosses | (dist <= radius)


@dataclass
class Probes:
    """Points near the drawing's walls, and what each one must show."""

    x: np.ndarray
    y: np.ndarray
    feature: np.ndarray  # index into the feature list: pockets 0..n-1, then the outline, then holes
    cut: np.ndarray  # True: must be cut to the feature depth; False: must be untouched (>= -TOL)


class Simulation:
    """One program against one instance: the motion, the cut part, and the facts the checkers read."""

    def __init__(self, text: str, spec: dict) -> None:
        self.spec = spec
        self.program: Program = interpret(text, machine_setup(spec))
        self.ran = False
        self.refusal = ""
        if self.program.errors:
            line, message = self.program.errors[0]
            self.refusal = f"part.nc does not run: line {line}: {message}"
            return
        tools = {t["t"]: t for t in spec["tools"]}
        numbers = self.program.tool
        self.radius = np.array([tools[t]["d"] / 2 if t in tools else 1e-3 for t in range(max(tools) + 1)])[numbers]
        cots = [1 / math.tan(math.radians(tools[t]["point_angle"]) / 2) if t in tools and tools[t]["type"] == "drill"
                else 0.0 for t in range(max(tools) + 1)]
        self.cot = np.array(cots)[numbers]
        self.is_drill = self.cot > 0
        stock = spec["stock"]
        self.moves = Moves(self.program.start, self.program.end, self.radius, self.cot)
        self.heightmap = HeightMap(stock["x"], stock["y"], RESOLUTION, top=0.0, bottom=-stock["z"])
        try:
            self.engagement = self.heightmap.cut(self.moves)
            self._measure()
        except TooMuchWork as exc:
            self.refusal = f"part.nc is too expensive to verify: {exc}"
            return
        self.ran = True

    def _measure(self) -> None:
        """Per-move facts (depth, over the stock, direction) and the exact heights at the wall probes."""
        spec = self.spec
        stock = spec["stock"]
        zmin = np.minimum(self.program.start[:, 2], self.program.end[:, 2])
        self.zmin = zmin
        self.over_stock = _near_rect(self.program.start, self.program.end, self.radius, stock["x"], stock["y"])
        self.below_top = (zmin < -1e-6) & self.over_stock
        delta = self.program.end - self.program.start
        self.xy = np.hypot(delta[:, 0], delta[:, 1])
        self.dz = delta[:, 2]
        self.upward_retract = (self.xy < 1e-9) & (self.dz > 0)
        self.probes = self._probes()
        self.probe_z = self.heightmap.heights_at(self.probes.x, self.probes.y, self._cutting_moves())

    def _cutting_moves(self) -> Moves:
        keep = self.zmin < 0
        return Moves(self.program.start[keep], self.program.end[keep], self.radius[keep], self.cot[keep])

    def features(self) -> list[tuple[str, dict, float, list[dict]]]:
        """(kind, shape, depth, islands) for pockets, the outline shoulder, holes, in probe-index order."""
        out = [("pocket", p["shape"], p["depth"], p["islands"]) for p in self.spec["pockets"]]
        if self.spec["outline"]:
            out.append(("outline", self.spec["outline"]["shape"], self.spec["outline"]["depth"], []))
        for h in self.spec["holes"]:
            out.append(("hole", {"kind": "circle", "cx": h["x"], "cy": h["y"], "r": h["d"] / 2}, self.spec["stock"]["z"], []))
        return out

    def _probes(self) -> Probes:
        xs, ys, fs, cs = [], [], [], []

        def add(index: int, points: tuple[np.ndarray, np.ndarray], cut: bool) -> None:
            xs.append(points[0])
            ys.append(points[1])
            fs.append(np.full(points[0].size, index))
            cs.append(np.full(points[0].size, cut))

        for index, (kind, shape, _depth, islands) in enumerate(self.features()):
            if kind == "pocket":
                add(index, shape_points(shape, -PROBE_CUT), True)
                add(index, shape_points(shape, PROBE_KEEP), False)
                for island in islands:
                    add(index, shape_points(island, PROBE_CUT), True)
                    add(index, shape_points(island, -PROBE_KEEP), False)
            elif kind == "outline":
                px, py = shape_points(shape, PROBE_CUT)
                inside = (px > 0) & (px < self.spec["stock"]["x"]) & (py > 0) & (py < self.spec["stock"]["y"])
                add(index, (px[inside], py[inside]), True)
                add(index, shape_points(shape, -PROBE_KEEP), False)
            else:
                add(index, shape_points(shape, PROBE_KEEP), False)
        return Probes(np.concatenate(xs), np.concatenate(ys), np.concatenate(fs), np.concatenate(cs))


class Masks:
    """Grid-cell masks of the drawing (allowed floor, pocket floors, islands, shoulder), built once per instance."""

    def __init__(self, spec: dict) -> None:
        import shapely
        from shapely.geometry import box

        stock = spec["stock"]
        grid = HeightMap(stock["x"], stock["y"], RESOLUTION)
        xs, ys = grid.centres()
        self.shape = (grid.ny, grid.nx)
        self.allowed = np.zeros(self.shape)
        self.floors: list[np.ndarray] = []
        self.islands: list[np.ndarray] = []

        def mask(geometry) -> np.ndarray:
            out = np.zeros(self.shape, dtype=bool)
            if geometry.is_empty:
                return out
            x0, y0, x1, y1 = geometry.bounds
            i0, i1 = max(0, int(x0 / RESOLUTION) - 1), min(grid.nx, int(x1 / RESOLUTION) + 2)
            j0, j1 = max(0, int(y0 / RESOLUTION) - 1), min(grid.ny, int(y1 / RESOLUTION) + 2)
            if i0 >= i1 or j0 >= j1:
                return out
            gx, gy = np.meshgrid(xs[i0:i1], ys[j0:j1])
            shapely.prepare(geometry)
            out[j0:j1, i0:i1] = shapely.contains_xy(geometry, gx, gy)
            return out

        def region(shape: dict, islands: list[dict], grow: float):
            polygon = shape_polygon(shape, grow)
            for island in islands:
                polygon = polygon.difference(shape_polygon(island, -grow))
            return polygon

        for pocket in spec["pockets"]:
            self.allowed[mask(region(pocket["shape"], pocket["islands"], TOL))] = -pocket["depth"]
            self.floors.append(mask(region(pocket["shape"], pocket["islands"], -TOL)))
            island_mask = np.zeros(self.shape, dtype=bool)
            for island in pocket["islands"]:
                island_mask |= mask(shape_polygon(island, -TOL))
            self.islands.append(island_mask)
        self.shoulder = np.zeros(self.shape, dtype=bool)
        if spec["outline"]:
            block = box(0, 0, stock["x"], stock["y"])
            self.allowed[mask(block.difference(shape_polygon(spec["outline"]["shape"], -TOL)))] = -spec["outline"]["depth"]
            self.shoulder = mask(block.buffer(-TOL, join_style="mitre").difference(shape_polygon(spec["outline"]["shape"], TOL)))
        gx, gy = np.meshgrid(xs, ys)
        for hole in spec["holes"]:
            near = np.hypot(gx - hole["x"], gy - hole["y"]) <= hole["d"] / 2 + TOL
            self.allowed[near] = -np.inf


def _lines(program: Program, mask: np.ndarray, limit: int = 3) -> str:
    """The first source lines where a per-segment condition holds, for a human detail."""
    found = sorted(set(program.line[mask].tolist()))
    return ", ".join(str(n) for n in found[:limit]) + (", ..." if len(found) > limit else "")


POST_PROCESS = """\
import re
from pathlib import Path
text = Path('part.nc').read_text()
{body}
Path('part.nc').write_text(text)
"""


class CncToolpath(Task):
    """Program a 2.5D milling and drilling job from a part drawing (SOC 51-9162, CNC tool programmers).

    ## Description
    A CNC programmer receives a drawing of an aluminium part, a job sheet and the shop's tool crib, and writes the
    G-code that machines the part from a block on a 3-axis mill: pockets cleared to depth with flat end mills (rest
    machining in corners too tight for the roughing tool, islands left standing), the shoulder outside the part
    outline, and through holes drilled (pecked when deep), with speeds and feeds from the tool catalogue.

    ## Inputs (workspace)
    `part.dxf` (layers STOCK, OUTLINE_SHOULDER_D<depth>, POCKET_D<depth>, ISLAND, HOLE_THRU, NOTES, DIMENSIONS; open in
    LibreCAD at reset), `job.json` (stock, G54 offset, clearance, tolerances, machine limits, cycle-time budget in
    the last-exam tier), `tools.csv` (end mills and drills with vc and fz windows, axial/drilling depth limits).

    ## Deliverables
    `part.nc`: a Fanuc/LinuxCNC-dialect program (G0-G3, G4, G17, G21, G40, G43, G49, G54, G80, G81, G83, G90, G94,
    G98, G99, M3, M5, M6, M8, M9, M30, T S F).

    ## Milestones
    program_valid (parses; G21/G90/G17 before motion; tool change and spindle on before the first cut; M30 at the
    end) -> safe_motion (no rapid below the top over the stock, no tip below the deepest allowed floor, no gouge
    beyond 0.05 mm on a 0.2 mm height map plus exact wall probes, spindle on and drills vertical in material,
    within travel) -> pockets (floors within 0.05 mm on 98% of the area, walls and island walls within 0.05 mm
    everywhere, islands intact), holes (right drill, X/Y within 0.05, through by at most 1.5 mm, pecked past 3 x D),
    profile (shoulder floor and outline wall); program_valid -> cutting_data (S in the vc window and under the
    machine maximum, fz in the window, plunges at most half the cutting feed, axial engagement within the tool's
    limit measured in the simulation); last-exam adds cycle_time (within the job sheet's budget).

    ## Tiers
    near-term: one rounded rectangular pocket and 2-4 holes, one end mill and one drill needed.
    full-spectrum: 2-3 pockets (rectangular and circular), two hole sizes, the outline shoulder; 3 tools needed.
    last-exam: a pocket with an island, corner radii below the roughing tool's radius (rest machining with a small
    end mill), thick stock so one hole size must be pecked, and a cycle-time budget.
    Seeds vary the stock, feature count, sizes, positions, depths, the crib and the machine.

    ## Oracle
    `solution/cam.py`: reads the DXF with ezdxf, offsets boundaries with shapely into concentric passes (levels
    within each tool's axial limit), rest-machines corners, drills with G81/G83, takes mid-window speeds and feeds.
    The last-exam budget is 1.3 x this reference program's cycle time.

    ## Cheats
    header only (pockets), program shifted 2 mm in X (safe_motion), a plunge turned into G0 (safe_motion), spindle
    never started (program_valid), feeds x10 (cutting_data), pockets 0.3 mm shallow (pockets), holes drilled with
    the wrong drill (holes), the DXF copied into part.nc (program_valid), a binary file (program_valid).
    """

    def __init__(self, card: Any, data_dir: Path) -> None:
        super().__init__(card, data_dir)
        self._sims: OrderedDict[tuple[str, str], Simulation] = OrderedDict()
        self._masks: OrderedDict[str, Masks] = OrderedDict()

    # -- instance --------------------------------------------------------------------------------------------------
    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        spec = build_spec(rng, ctx.tier, ctx.seed)
        ws = ctx.workspace
        (ws / "part.dxf").write_bytes(_dxf_bytes(spec))
        (ws / "tools.csv").write_text(_tools_csv(spec["tools"]))
        (ws / "job.json").write_text(json.dumps(_job(spec), indent=2) + "\n")
        if ctx.tier == "last-exam":
            reference = _load_cam().plan(ws)
            program = interpret(reference, machine_setup(spec))
            seconds = cycle_time(program, spec["machine"]["rapid"], spec["machine"]["tool_change_s"])
            spec["budget_s"] = float(math.ceil(1.3 * seconds / 10) * 10)
            (ws / "job.json").write_text(json.dumps(_job(spec), indent=2) + "\n")
        ctx.hidden.mkdir(parents=True, exist_ok=True)
        (ctx.hidden / "spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        return Instance(instruction=_instruction(spec), state={"spec": spec},
                        open_at_reset=[AppLaunch(argv=LIBRECAD, window_title="LibreCAD")])

    # -- shared analysis -------------------------------------------------------------------------------------------
    @staticmethod
    def _spec(ctx: CheckContext) -> tuple[dict, str]:
        spec = ctx.instance.state["spec"]
        return spec, hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()

    def _simulation(self, ctx: CheckContext) -> Simulation:
        text = ctx.read_text("part.nc", PROGRAM_LIMIT)
        spec, spec_key = self._spec(ctx)
        key = (hashlib.sha256(text.encode()).hexdigest(), spec_key)
        if key not in self._sims:
            self._sims[key] = Simulation(text, spec)
            while len(self._sims) > 2:
                self._sims.popitem(last=False)
        self._sims.move_to_end(key)
        return self._sims[key]

    def _ran(self, ctx: CheckContext) -> Simulation:
        sim = self._simulation(ctx)
        if not sim.ran:
            raise DeliverableError(sim.refusal)
        return sim

    def _mask(self, ctx: CheckContext) -> Masks:
        spec, spec_key = self._spec(ctx)
        if spec_key not in self._masks:
            self._masks[spec_key] = Masks(spec)
            while len(self._masks) > 2:
                self._masks.popitem(last=False)
        return self._masks[spec_key]

    # -- milestones ------------------------------------------------------------------------------------------------
    def check_program_valid(self, ctx: CheckContext) -> Verdict:
        program = self._simulation(ctx).program
        problems = [f"line {n}: {m}" for n, m in program.errors[:3]]
        if program.errors:
            return Verdict(False, f"{len(program.errors)} error(s): " + "; ".join(problems), {"errors": len(program.errors)})
        missing = sorted({"G21", "G90", "G17"} - program.modes_before_motion)
        if missing:
            problems.append(f"{' '.join(missing)} not stated before the first motion")
        feeds = np.nonzero(~program.rapid)[0]
        if feeds.size:
            first = feeds[0]
            if program.tool[first] == 0:
                problems.append(f"no tool change before the first cutting move (line {program.line[first]})")
            elif program.spindle[first] <= 0:
                problems.append(f"spindle not running at the first cutting move (line {program.line[first]})")
        if not program.ends_with_m30:
            problems.append("the program does not end with M30")
        metrics = {"blocks": program.lines, "segments": len(program), "tool_changes": len(program.tool_changes)}
        if problems:
            return Verdict(False, "; ".join(problems), metrics)
        return Verdict(True, f"{program.lines} lines, {len(program.tool_changes)} tool change(s), "
                             f"{int((~program.rapid).sum())} feed segments", metrics)

    def check_safe_motion(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        spec, prog = sim.spec, sim.program
        masks = self._mask(ctx)
        problems = []
        if len(prog):
            rapid_in = prog.rapid & ~prog.reentry & sim.below_top & ~sim.upward_retract
            if rapid_in.any():
                problems.append(f"rapid below Z0 over the stock at line(s) {_lines(prog, rapid_in)}")
            milled = [p["depth"] for p in spec["pockets"]] + ([spec["outline"]["depth"]] if spec["outline"] else [])
            mill_floor = -(max(milled, default=0.0) + TOL)
            too_deep = ~sim.is_drill & (prog.tool > 0) & (sim.zmin < mill_floor - 1e-9)
            shoulder = sim.zmin + sim.radius * sim.cot
            too_deep |= sim.is_drill & (shoulder < -(spec["stock"]["z"] + BREAKTHROUGH + TOL) - 1e-9)
            if too_deep.any():
                problems.append(f"tool below the deepest allowed floor at line(s) {_lines(prog, too_deep)}")
            no_tool = sim.below_top & (prog.tool == 0)
            if no_tool.any():
                problems.append(f"moving below Z0 over the stock with no tool at line(s) {_lines(prog, no_tool)}")
            spindle_off = sim.below_top & ~sim.upward_retract & (prog.spindle <= 0) & (prog.tool > 0)
            if spindle_off.any():
                problems.append(f"cutting with the spindle off at line(s) {_lines(prog, spindle_off)}")
            sideways = sim.is_drill & sim.below_top & (sim.xy > 0.005)
            if sideways.any():
                problems.append(f"drill moving sideways in the stock at line(s) {_lines(prog, sideways)}")
            travel = spec["machine"]["travel"]
            outside = np.zeros(len(prog), dtype=bool)
            for axis, key in enumerate("xyz"):
                lo, hi = travel[key]
                for points in (prog.start, prog.end):
                    outside |= (points[:, axis] < lo - 1e-6) | (points[:, axis] > hi + 1e-6)
            if outside.any():
                problems.append(f"outside the machine travel at line(s) {_lines(prog, outside)}")
        excess = masks.allowed - TOL - sim.heightmap.h
        gouged = excess > 1e-9
        keep = ~sim.probes.cut
        wall_gouge = keep & (sim.probe_z < -TOL - 1e-9)
        metrics: dict[str, Any] = {"gouged_cells": int(gouged.sum()), "gouged_wall_probes": int(wall_gouge.sum())}
        if gouged.any():
            j, i = np.unravel_index(np.argmax(np.where(gouged, excess, -np.inf)), excess.shape)
            problems.append(f"gouge: {int(gouged.sum())} cells ({gouged.sum() * RESOLUTION ** 2:.1f} mm^2) cut below what the "
                            f"drawing allows, worst {excess[j, i]:.2f} mm at X{(i + 0.5) * RESOLUTION:.1f} "
                            f"Y{(j + 0.5) * RESOLUTION:.1f}")
        if wall_gouge.any():
            k = np.nonzero(wall_gouge)[0][0]
            problems.append(f"walls cut more than {TOL} mm oversize at {int(wall_gouge.sum())} probe(s), e.g. near "
                            f"X{sim.probes.x[k]:.2f} Y{sim.probes.y[k]:.2f}")
        if problems:
            return Verdict(False, "; ".join(problems), metrics)
        return Verdict(True, f"{len(prog)} segments simulated on a {RESOLUTION} mm height map: no rapid in material, "
                             f"no gouge, spindle on and within travel", metrics)

    def _walls(self, sim: Simulation, index: int, depth: float) -> tuple[int, int, int]:
        """(cut-side probes, of which within the depth band, keep-side probes disturbed) for one feature."""
        mine = sim.probes.feature == index
        cut = mine & sim.probes.cut
        z = sim.probe_z[cut]
        good = int(np.sum((z >= -depth - TOL - 1e-9) & (z <= -depth + TOL + 1e-9)))
        disturbed = int(np.sum(sim.probe_z[mine & ~sim.probes.cut] < -TOL - 1e-9))
        return int(cut.sum()), good, disturbed

    def check_pockets(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        masks = self._mask(ctx)
        h = sim.heightmap.h
        notes, failed, metrics = [], False, {}
        for index, pocket in enumerate(sim.spec["pockets"]):
            depth = pocket["depth"]
            floor = h[masks.floors[index]]
            fraction = float(np.mean(np.abs(floor + depth) <= TOL + 1e-9)) if floor.size else 0.0
            total, good, disturbed = self._walls(sim, index, depth)
            island_ok = bool(np.all(h[masks.islands[index]] >= -TOL - 1e-9))
            ok = fraction >= FLOOR_FRACTION and good == total and disturbed == 0 and island_ok
            failed |= not ok
            mean = float(np.median(floor)) if floor.size else 0.0
            text = f"{pocket['id']}: floor {fraction:.1%} at Z-{depth:g} (median Z{mean:.3f}), walls {good}/{total} probes"
            if disturbed:
                text += f", {disturbed} probes oversize"
            if pocket["islands"]:
                text += ", island intact" if island_ok else ", island cut"
            notes.append(text)
            metrics[pocket["id"]] = {"floor_fraction": round(fraction, 4), "wall_probes": total, "wall_ok": good}
        return Verdict(not failed, "; ".join(notes), metrics)

    def check_holes(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        spec, prog = sim.spec, sim.program
        tools = {t["t"]: t for t in spec["tools"]}
        thickness = spec["stock"]["z"]
        notes, failed = [], False
        diameters = np.array([tools[t]["d"] if t in tools else 0.0 for t in range(max(tools) + 1)])[prog.tool]
        for hole in spec["holes"]:
            d = hole["d"]
            off_start = np.hypot(prog.start[:, 0] - hole["x"], prog.start[:, 1] - hole["y"])
            off_end = np.hypot(prog.end[:, 0] - hole["x"], prog.end[:, 1] - hole["y"])
            at = sim.is_drill & (off_start <= TOL + 1e-9) & (off_end <= TOL + 1e-9)
            right = at & (np.abs(diameters - d) <= 0.01)
            oversize = sim.is_drill & (diameters > d + 0.01) & (np.minimum(off_start, off_end) < d / 2) & (sim.zmin < 0)
            problem = None
            if oversize.any():
                problem = f"drilled with a D{diameters[oversize][0]:g} drill at line {prog.line[oversize][0]}"
            elif not (right & (sim.zmin < 0)).any():
                wrong = at & (sim.zmin < 0)
                problem = (f"drilled only with a D{diameters[wrong][0]:g} drill" if wrong.any()
                           else f"not drilled with a D{d:g} drill at X{hole['x']:g} Y{hole['y']:g}")
            else:
                index = np.nonzero(right)[0]
                deepest, base, gain = 0.0, None, 0.0
                for k in index:
                    low = -min(prog.start[k, 2], prog.end[k, 2])
                    if low > 0 and base is None:
                        base = deepest
                    deepest = max(deepest, low)
                    if base is not None:
                        gain = max(gain, deepest - base)
                    if prog.end[k, 2] >= 0:
                        base = None
                tool = tools[int(prog.tool[index[0]])]
                point = (d / 2) / math.tan(math.radians(tool["point_angle"]) / 2)
                full = deepest - point
                if full < thickness - 1e-6:
                    problem = f"not through: full diameter reaches Z{-full:.3f}, bottom is Z-{thickness:g}"
                elif full > thickness + BREAKTHROUGH + 1e-6:
                    problem = f"breakthrough {full - thickness:.2f} mm (at most {BREAKTHROUGH:g})"
                elif thickness > PECK_DIAMETERS * d and gain > PECK_DIAMETERS * d + TOL:
                    problem = f"not pecked: {gain:.2f} mm drilled without leaving the hole (at most {PECK_DIAMETERS * d:g})"
            if problem:
                failed = True
                notes.append(f"{hole['id']} (D{d:g} at X{hole['x']:g} Y{hole['y']:g}): {problem}")
        if failed:
            return Verdict(False, "; ".join(notes[:6]), {"failed": len(notes), "holes": len(spec["holes"])})
        count = len(spec["holes"])
        return Verdict(True, f"all {count} holes drilled through with the right drills", {"holes": count})

    def check_profile(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        outline = sim.spec["outline"]
        if not outline:
            return Verdict(True, "no shoulder in this drawing")
        masks = self._mask(ctx)
        depth = outline["depth"]
        floor = sim.heightmap.h[masks.shoulder]
        fraction = float(np.mean(np.abs(floor + depth) <= TOL + 1e-9)) if floor.size else 0.0
        total, good, disturbed = self._walls(sim, len(sim.spec["pockets"]), depth)
        ok = fraction >= FLOOR_FRACTION and good == total and disturbed == 0
        detail = (f"shoulder floor {fraction:.1%} at Z-{depth:g}, outline wall {good}/{total} probes within {TOL} mm"
                  + (f", {disturbed} probes inside the outline cut" if disturbed else ""))
        return Verdict(ok, detail, {"floor_fraction": round(fraction, 4), "wall_probes": total, "wall_ok": good})

    def check_cutting_data(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        prog = sim.program
        cutting = ~prog.rapid & sim.below_top & (prog.tool > 0)
        problems, summary = [], []
        for number in sorted(set(prog.tool[cutting].tolist())):
            tool_problems, line = self._tool_data(sim, cutting & (prog.tool == number), number)
            problems += tool_problems
            summary.append(line)
        if not summary:
            return Verdict(False, "no cutting moves in the stock")
        if problems:
            return Verdict(False, "; ".join(problems[:6]), {"problems": len(problems)})
        return Verdict(True, "; ".join(summary))

    @staticmethod
    def _tool_data(sim: Simulation, mine: np.ndarray, number: int) -> tuple[list[str], str]:
        """The cutting-data problems of one tool's cutting moves, and a one-line summary of its data."""
        prog, machine = sim.program, sim.spec["machine"]
        tool = next(t for t in sim.spec["tools"] if t["t"] == number)
        name = f"T{number} D{tool['d']:g} {'drill' if tool['type'] == 'drill' else 'end mill'}"
        problems = []

        def flag(mask: np.ndarray, text: str) -> None:
            if mask.any():
                problems.append(f"{name}: {text} (line {_lines(prog, mask, 1)})")

        n_lo, n_hi = rpm_window(tool, machine["max_rpm"])
        speed = prog.spindle
        bad = mine & ((speed < n_lo - 0.5) | (speed > n_hi + 0.5))
        flag(bad, f"S{speed[bad][0] if bad.any() else 0:g} outside {n_lo:.0f}-{n_hi:.0f} rpm")
        over = mine & (prog.feed > machine["max_feed"] + 1e-6)
        flag(over, f"F{prog.feed[over][0] if over.any() else 0:g} over the machine maximum {machine['max_feed']}")
        fz = prog.feed / (tool["z"] * np.maximum(speed, 1e-9))
        lo, hi = tool["fz"]
        if tool["type"] == "drill":
            down = mine & (sim.dz < 0)
            bad = down & ((fz < lo * 0.995) | (fz > hi * 1.005))
            flag(bad, f"fz {fz[bad][0] if bad.any() else 0:.4f} outside {lo:g}-{hi:g}")
            deep = mine & (-sim.zmin > tool["max_depth"] + 1e-6)
            flag(deep, f"drills deeper than its {tool['max_depth']:g} mm")
            feeds = prog.feed[down] if down.any() else np.zeros(1)
            return problems, f"{name}: S{speed[mine].min():g}-{speed[mine].max():g}, F{feeds.min():g}"
        slope = math.tan(math.radians(machine["max_ramp_deg"]))
        plunge = mine & (sim.dz < 0) & (-sim.dz > slope * sim.xy + 1e-9)
        side = mine & ~plunge & (sim.xy > 1e-9)
        bad = side & ((fz < lo * 0.995) | (fz > hi * 1.005))
        flag(bad, f"fz {fz[bad][0] if bad.any() else 0:.4f} outside {lo:g}-{hi:g}")
        cut_feed = float(prog.feed[side].min()) if side.any() else lo * tool["z"] * n_lo
        bad = plunge & (prog.feed > 0.5 * cut_feed * 1.005)
        flag(bad, f"plunge F{prog.feed[bad][0] if bad.any() else 0:g} above half the cutting feed {cut_feed:g}")
        engaged = mine & (sim.engagement > tool["max_axial"] + TOL)
        flag(engaged, f"{sim.engagement[mine].max():.2f} mm of material in one pass, limit {tool['max_axial']:g}")
        feeds = prog.feed[side] if side.any() else np.zeros(1)
        return problems, (f"{name}: S{speed[mine].min():g}-{speed[mine].max():g}, F{feeds.min():g}-{feeds.max():g}, "
                          f"axial {sim.engagement[mine].max():.2f}/{tool['max_axial']:g}")
    def check_cycle_time(self, ctx: CheckContext) -> Verdict:
        sim = self._ran(ctx)
        spec = sim.spec
        budget = spec.get("budget_s")
        if not budget:
            return Verdict(True, "no cycle-time budget in this tier")
        seconds = cycle_time(sim.program, spec["machine"]["rapid"], spec["machine"]["tool_change_s"])
        return Verdict(seconds <= budget, f"cycle time {seconds:.0f} s, budget {budget:g} s",
                       {"cycle_time_s": round(seconds, 1), "budget_s": budget})

    # -- oracle and cheats -----------------------------------------------------------------------------------------
    @staticmethod
    def _program_actions() -> list:
        source = SOLUTION.read_text()
        return [A.python(f"from pathlib import Path\nPath('cam.py').write_text({source!r})\nprint('cam.py written')"),
                A.shell("python3 cam.py", timeout=600)]

    def oracle(self, instance: Instance, tier: str) -> list:
        return self._program_actions() + [A.submit()]

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        spec = instance.state["spec"]
        source = SOLUTION.read_text()

        def edit(body: str) -> list:
            # One shell step writes the reference program and edits it, so no step ever sees it unedited.
            script = POST_PROCESS.format(body=body)
            return [A.python(f"from pathlib import Path\nPath('cam.py').write_text({source!r})\n"
                             f"Path('post.py').write_text({script!r})"),
                    A.shell("python3 cam.py && python3 post.py", timeout=600), A.submit()]

        depths = sorted({p["depth"] for p in spec["pockets"]})
        shallow = "\n".join(f"text = text.replace('Z-{d:.3f}', 'Z-{d - 0.3:.3f}')" for d in depths)
        drills = [t for t in spec["tools"] if t["type"] == "drill"]
        sizes = {h["d"] for h in spec["holes"]}
        used = next(t["t"] for t in drills if t["d"] == spec["holes"][0]["d"])
        spare = next(t["t"] for t in drills if t["d"] not in sizes)
        header = "%\nO1001\nG21 G90 G17 G40 G49 G80 G94\nG54\nT1 M6\nS5000 M3\nM5\nM30\n%\n"
        return [
            Cheat("header_only", "pockets", [A.python(f"open('part.nc', 'w').write({header!r})"), A.submit()],
                  "a valid header and footer with no machining"),
            Cheat("shifted_x", "safe_motion", edit(
                "text = re.sub(r'X(-?\\d+\\.?\\d*)', lambda m: 'X%.3f' % (float(m.group(1)) + 2.0), text)"),
                "the reference program with every X moved by +2 mm"),
            Cheat("rapid_plunge", "safe_motion", edit(
                "text = re.sub(r'^G1 (Z-[\\d.]+)( F\\d+)?$', r'G0 \\1', text, count=1, flags=re.M)"),
                "the first feed plunge into the stock turned into a rapid"),
            Cheat("spindle_never_started", "program_valid", edit("text = re.sub(r' ?M3\\b', '', text)"),
                  "all M3 words removed"),
            Cheat("feed_10x", "cutting_data", edit(
                "text = re.sub(r'F(\\d+\\.?\\d*)', lambda m: 'F%d' % round(float(m.group(1)) * 10), text)"),
                "every feed ten times the programmed value"),
            Cheat("pockets_shallow", "pockets", edit(shallow), "pocket floors 0.3 mm above the drawing depth"),
            Cheat("wrong_drill", "holes", edit(f"text = re.sub(r'\\bT{used} M6', 'T{spare} M6', text)"),
                  "the first hole size drilled with another drill from the crib"),
            Cheat("dxf_copied", "program_valid", [A.shell("cp part.dxf part.nc"), A.submit()],
                  "the drawing copied into part.nc"),
            Cheat("binary_garbage", "program_valid", [A.python(
                "import random\nrandom.seed(7)\n"
                "open('part.nc', 'wb').write(b'\\x00\\x01' + bytes(random.randrange(256) for _ in range(20000)))"),
                A.submit()], "random bytes"),
        ]
