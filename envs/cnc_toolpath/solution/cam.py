"""CAM for a 2.5D part, the way a CNC programmer scripts it: drawing + job sheet + tool crib -> part.nc.

Reads part.dxf (ezdxf), job.json and tools.csv from the current folder, offsets the pocket and shoulder
boundaries into concentric clearing passes (shapely), rest-machines corners the roughing tool cannot
reach with a smaller end mill, drills the holes with G81/G83, picks speeds and feeds from the middle of
each tool's cutting-data window, and writes the program to part.nc.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import ezdxf
from ezdxf import path as dxf_path
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.polygon import orient

QUAD_SEGS = 32
STEPOVER = 0.45  # fraction of the tool diameter
SAFE_ABOVE = 1.0  # rapid down to this height above the top face, then feed


def read_drawing(file: Path) -> dict:
    """Pockets (with islands and depth), holes, and the outline shoulder from the drawing's layers."""
    doc = ezdxf.readfile(file)
    pockets, islands, holes, outline = [], [], [], None
    for entity in doc.modelspace():
        layer = entity.dxf.layer.upper()
        kind = entity.dxftype()
        if kind not in ("LWPOLYLINE", "CIRCLE"):
            continue
        if layer == "HOLE_THRU" and kind == "CIRCLE":
            holes.append((entity.dxf.center.x, entity.dxf.center.y, round(2 * entity.dxf.radius, 3)))
            continue
        points = [(v.x, v.y) for v in dxf_path.make_path(entity).flattening(0.0005)]
        polygon = Polygon(points).buffer(0)
        match = re.fullmatch(r"POCKET_D(\d+(?:\.\d+)?)", layer)
        if match:
            pockets.append({"polygon": polygon, "depth": float(match.group(1))})
        elif layer == "ISLAND":
            islands.append(polygon)
        else:
            match = re.fullmatch(r"OUTLINE_SHOULDER_D(\d+(?:\.\d+)?)", layer)
            if match:
                outline = {"polygon": polygon, "depth": float(match.group(1))}
    for island in islands:
        for pocket in pockets:
            if pocket["polygon"].contains(island.representative_point()):
                pocket["polygon"] = pocket["polygon"].difference(island)
    return {"pockets": pockets, "holes": holes, "outline": outline}


def _number(row: dict, key: str) -> float | None:
    value = (row.get(key) or "").strip()
    return float(value) if value else None


def read_tools(file: Path) -> list[dict]:
    with file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    tools = []
    for row in rows:
        def num(key: str, row: dict = row) -> float | None:
            return _number(row, key)
        tools.append({
            "t": int(row["tool"]), "type": row["type"].strip(), "d": num("diameter_mm"), "z": int(num("flutes")),
            "max_axial": num("max_axial_depth_mm"), "point_angle": num("point_angle_deg"),
            "max_depth": num("max_depth_mm"), "vc": (num("vc_min_m_per_min"), num("vc_max_m_per_min")),
            "fz": (num("fz_min_mm"), num("fz_max_mm")),
        })
    return tools


def speeds_and_feeds(tool: dict, machine: dict) -> tuple[int, int]:
    """Spindle speed from the middle of the surface-speed window, feed from the middle chip load."""
    d = tool["d"]
    n_lo = tool["vc"][0] * 1000 / (math.pi * d)
    n_hi = min(tool["vc"][1] * 1000 / (math.pi * d), machine["max_spindle_rpm"])
    n = min(max((n_lo + n_hi) / 2, n_lo * 1.01), n_hi * 0.99)
    rpm = int(round(n))
    fz = (tool["fz"][0] + tool["fz"][1]) / 2
    feed = min(fz * tool["z"] * rpm, 0.95 * machine["max_feed_mm_per_min"])
    return rpm, int(round(feed))


def rings(geometry) -> list[list[tuple[float, float]]]:
    """Closed boundary rings of a (multi)polygon: exteriors counter-clockwise, holes clockwise."""
    if geometry.is_empty:
        return []
    parts = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    out = []
    for part in parts:
        if not isinstance(part, Polygon) or part.is_empty:
            continue
        part = orient(part, 1.0)
        out.append(list(part.exterior.coords))
        out.extend(list(r.coords) for r in part.interiors)
    return out


class Program:
    """Accumulates blocks and tracks the tool position so passes can be linked without leaving the cut."""

    def __init__(self, job: dict) -> None:
        self.blocks: list[str] = []
        self.clear = float(job["clearance_height_mm"])
        self.pos: tuple[float, float, float] | None = None
        self.feed: int | None = None

    def emit(self, text: str) -> None:
        self.blocks.append(text)

    def rapid(self, x: float | None = None, y: float | None = None, z: float | None = None) -> None:
        words = []
        px, py, pz = self.pos if self.pos else (None, None, None)
        if x is not None:
            words.append(f"X{x:.3f}")
            px = x
        if y is not None:
            words.append(f"Y{y:.3f}")
            py = y
        if z is not None:
            words.append(f"Z{z:.3f}")
            pz = z
        self.emit("G0 " + " ".join(words))
        self.pos = (px, py, pz)

    def line(self, x: float, y: float, z: float, feed: int) -> None:
        words = []
        px, py, pz = self.pos
        if abs(x - px) > 5e-4:
            words.append(f"X{x:.3f}")
        if abs(y - py) > 5e-4:
            words.append(f"Y{y:.3f}")
        if abs(z - pz) > 5e-4:
            words.append(f"Z{z:.3f}")
        if not words:
            return
        if feed != self.feed:
            words.append(f"F{feed}")
            self.feed = feed
        self.emit("G1 " + " ".join(words))
        self.pos = (x, y, z)

    def tool_change(self, tool: dict, rpm: int, comment: str) -> None:
        self.emit(f"T{tool['t']} M6 ({comment})")
        self.emit(f"S{rpm} M3")
        self.emit("M8")
        self.pos = None
        self.feed = None

    def end_tool(self) -> None:
        self.emit("M9")
        self.emit("M5")


def clear_region(prog: Program, region, legal, tool: dict, depth: float, rpm: int, feed: int, offsets: list[float]) -> None:
    """Cut `region` to `depth` in levels, one closed pass per offset of the boundary, inside out."""
    levels = max(1, math.ceil(depth / (0.95 * tool["max_axial"]) - 1e-9))
    plunge = int(feed * 0.4)
    passes = []
    for k, offset in enumerate(offsets):
        for ring in rings(region.buffer(-offset, quad_segs=QUAD_SEGS)):
            # Climb milling with M3: counter-clockwise inside a pocket, clockwise around the outside of a part.
            passes.append((k, ring if offset > 0 else ring[::-1]))
    passes.sort(key=lambda item: -item[0])
    legal_zone = legal.buffer(1e-3)
    for level in range(1, levels + 1):
        z = -depth * level / levels
        for _, ring in passes:
            coords = ring[:-1]
            here = prog.pos
            start = min(range(len(coords)), key=lambda i: (coords[i][0] - here[0]) ** 2 + (coords[i][1] - here[1]) ** 2)
            sx, sy = coords[start]
            at_level = abs(here[2] - z) < 1e-6
            if at_level and legal_zone.covers(LineString([here[:2], (sx, sy)])):
                prog.line(sx, sy, z, feed)
            else:
                if here[2] < prog.clear - 1e-6:
                    prog.rapid(z=prog.clear)
                prog.rapid(x=sx, y=sy)
                prog.rapid(z=SAFE_ABOVE)
                prog.line(sx, sy, z, plunge)
            order = coords[start:] + coords[:start] + [coords[start]]
            for x, y in order[1:]:
                prog.line(x, y, z, feed)
    prog.rapid(z=prog.clear)


def opening_leftover(regions: list, radius: float):
    """What a tool of this radius cannot reach in the pockets (None if it does not fit at all)."""
    pieces = []
    for region in regions:
        inner = region.buffer(-radius, quad_segs=QUAD_SEGS)
        if inner.is_empty:
            return None
        pieces.append(region.difference(inner.buffer(radius, quad_segs=QUAD_SEGS)))
    return pieces


def choose_mills(mills: list[dict], regions: list) -> tuple[dict, dict | None]:
    """The largest end mill that clears the pockets, plus a smaller one for the corners it cannot reach."""
    if not regions:
        return mills[0], None
    for big in mills:
        left = opening_leftover(regions, big["d"] / 2)
        if left is None:
            continue
        if sum(p.area for p in left) < 0.05:
            return big, None
        for small in mills:
            if small["d"] >= big["d"]:
                continue
            small_left = opening_leftover(regions, small["d"] / 2)
            if small_left is None or sum(p.area for p in small_left) > 0.05:
                continue
            # One contour pass of the small tool covers a band one diameter wide along the walls.
            missed = sum(piece.difference(region.difference(region.buffer(-(small["d"] - 0.05), quad_segs=QUAD_SEGS))).area
                         for piece, region in zip(left, regions, strict=True))
            if missed < 0.01:
                return big, small
    raise SystemExit("no end mill in the crib can machine these pockets")


def plan(folder: Path) -> str:
    """The whole program for the job in `folder`, as text."""
    job = json.loads((folder / "job.json").read_text())
    tools = read_tools(folder / "tools.csv")
    drawing = read_drawing(folder / "part.dxf")
    machine = job["machine"]
    stock = job["stock_mm"]
    mills = sorted((t for t in tools if t["type"] == "flat_endmill"), key=lambda t: -t["d"])
    drills = [t for t in tools if t["type"] == "drill"]
    regions = [p["polygon"] for p in drawing["pockets"]]
    rougher, rest = choose_mills(mills, regions)

    prog = Program(job)
    prog.emit("%")
    prog.emit("O1001 (2.5D PART FROM PART.DXF)")
    prog.emit("G21 G90 G17 G40 G49 G80 G94")
    prog.emit("G54")

    if regions or drawing["outline"]:
        rpm, feed = speeds_and_feeds(rougher, machine)
        prog.tool_change(rougher, rpm, f"D{rougher['d']:g} FLAT END MILL")
        prog.rapid(x=0.0, y=0.0)
        prog.rapid(z=prog.clear)
        r = rougher["d"] / 2
        step = STEPOVER * rougher["d"]
        for pocket in drawing["pockets"]:
            region = pocket["polygon"]
            offsets, k = [], 0
            while not region.buffer(-(r + k * step), quad_segs=QUAD_SEGS).is_empty:
                offsets.append(r + k * step)
                k += 1
            clear_region(prog, region, region.buffer(-r, quad_segs=QUAD_SEGS), rougher, pocket["depth"], rpm, feed, offsets)
        if drawing["outline"]:
            outline = drawing["outline"]["polygon"]
            corners = [Point(0, 0), Point(stock["x"], 0), Point(stock["x"], stock["y"]), Point(0, stock["y"])]
            reach = max(outline.exterior.distance(c) for c in corners)
            count = max(0, math.ceil((reach - 2 * r) / step)) + 1
            offsets = [-(r + k * step) for k in range(count)]
            legal = box(-1e4, -1e4, 1e4, 1e4).difference(outline.buffer(r, quad_segs=QUAD_SEGS))
            clear_region(prog, outline, legal, rougher, drawing["outline"]["depth"], rpm, feed, offsets)
        prog.end_tool()

    if rest is not None:
        rpm, feed = speeds_and_feeds(rest, machine)
        prog.tool_change(rest, rpm, f"D{rest['d']:g} FLAT END MILL, REST MACHINING")
        prog.rapid(x=0.0, y=0.0)
        prog.rapid(z=prog.clear)
        r = rest["d"] / 2
        for pocket in drawing["pockets"]:
            region = pocket["polygon"]
            reach = region.buffer(-rougher["d"] / 2, quad_segs=QUAD_SEGS).buffer(rougher["d"] / 2, quad_segs=QUAD_SEGS)
            if region.difference(reach).area < 1e-3:
                continue
            clear_region(prog, region, region.buffer(-r, quad_segs=QUAD_SEGS), rest, pocket["depth"], rpm, feed, [r])
        prog.end_tool()

    thickness = float(stock["z"])
    retract = float(job["drill_retract_plane_mm"])
    sizes = sorted({h[2] for h in drawing["holes"]})
    for size in sizes:
        drill = next(t for t in drills if abs(t["d"] - size) < 0.01)
        rpm, feed = speeds_and_feeds(drill, machine)
        point = (size / 2) / math.tan(math.radians(drill["point_angle"]) / 2)
        bottom = -(thickness + point + 0.5)
        prog.tool_change(drill, rpm, f"D{size:g} DRILL")
        todo = [h for h in drawing["holes"] if h[2] == size]
        here = (0.0, 0.0)
        ordered = []
        while todo:
            nxt = min(todo, key=lambda h: (h[0] - here[0]) ** 2 + (h[1] - here[1]) ** 2)
            todo.remove(nxt)
            ordered.append(nxt)
            here = nxt[:2]
        prog.rapid(x=ordered[0][0], y=ordered[0][1])
        prog.rapid(z=prog.clear)
        if thickness > 3 * size:
            peck = round(2.0 * size, 3)
            prog.emit(f"G99 G83 X{ordered[0][0]:.3f} Y{ordered[0][1]:.3f} Z{bottom:.3f} R{retract:.3f} Q{peck:.3f} F{feed}")
        else:
            prog.emit(f"G99 G81 X{ordered[0][0]:.3f} Y{ordered[0][1]:.3f} Z{bottom:.3f} R{retract:.3f} F{feed}")
        for x, y, _ in ordered[1:]:
            prog.emit(f"X{x:.3f} Y{y:.3f}")
        prog.emit("G80")
        prog.emit(f"G0 Z{prog.clear:.3f}")
        prog.end_tool()

    prog.emit("M30")
    prog.emit("%")
    return "\n".join(prog.blocks) + "\n"


def main() -> None:
    text = plan(Path("."))
    Path("part.nc").write_text(text)
    print(f"part.nc: {text.count(chr(10))} blocks")


if __name__ == "__main__":
    main()
