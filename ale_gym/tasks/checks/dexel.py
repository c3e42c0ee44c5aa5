"""Material removal on a height map (a z-buffer of vertical dexels), for 2.5D milling and drilling.

Why: a CNC checker must know what a program actually cuts, not what it says it cuts. Vertical tools on
a 3-axis mill only ever lower the top surface of the stock, so one height per grid cell (sampled at cell
centres) is an exact model at those points. The cost must stay near numpy speed for 100 000-line
programs, so the work is split by the shape of the motion:

- flat end mill moves at constant Z (the bulk of any pocketing or profiling program) are merged into
  runs; each run's swept area is the union of capsules, rasterised exactly at cell centres as one
  interval per (segment, grid row), accumulated in a difference array and lowered to the run's Z;
- everything else (ramps, helices, drill plunges with their conical points) is evaluated per covered
  cell with the exact lowest tool-tip height along the move.

Moves are processed in program order, so each one also reports its axial engagement: how much material
stood above the tool tip where it cut (the depth of cut a tool table limits). `heights_at` gives the
exact final height at arbitrary points (wall probes finer than the grid) from the same formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

BIG = 1.0e4  # separates cell groups in the grouped running minimum; heights stay well inside +-BIG/2
CELL_BATCH = 4_000_000  # cells evaluated per vectorised batch of general moves
MAX_WORK = 400_000_000  # cells plus row spans one simulation may touch (about a minute of numpy)


class TooMuchWork(ValueError):
    """A program whose simulation would take far longer than any real part needs (e.g. a denial of service)."""


@dataclass
class Moves:
    """Straight tool-tip moves with the geometry of the tool that makes each one."""

    start: np.ndarray  # (n, 3)
    end: np.ndarray  # (n, 3)
    radius: np.ndarray  # (n,) tool radius, mm
    cot: np.ndarray  # (n,) cotangent of half the point angle (0 for a flat end mill)

    def __len__(self) -> int:
        return len(self.radius)


class HeightMap:
    """The top surface of a rectangular block, one height per cell of a regular grid."""

    def __init__(self, width: float, depth: float, resolution: float, top: float = 0.0, bottom: float = -np.inf) -> None:
        if resolution <= 0 or width <= 0 or depth <= 0:
            raise ValueError("the block and the resolution must be positive")
        self.res = float(resolution)
        self.nx = int(round(width / resolution))
        self.ny = int(round(depth / resolution))
        self.width = self.nx * self.res
        self.depth = self.ny * self.res
        self.top = float(top)
        self.bottom = float(bottom)
        self.h = np.full((self.ny, self.nx), self.top, dtype=np.float64)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates as (x of each column, y of each row)."""
        return (np.arange(self.nx) + 0.5) * self.res, (np.arange(self.ny) + 0.5) * self.res

    def cut(self, moves: Moves, max_work: int = MAX_WORK) -> np.ndarray:
        """Remove what the moves sweep, in order; return each move's axial engagement in mm.

        Raises TooMuchWork, before doing any, when the estimated work exceeds `max_work`.
        """
        engagement = np.zeros(len(moves))
        if len(moves) == 0:
            return engagement
        # Clamp Z so far-off garbage cannot break the grouped running minimum (heights within +-BIG/4).
        floor = self.bottom - 1.0 if np.isfinite(self.bottom) else -BIG / 4
        s = moves.start.copy()
        e = moves.end.copy()
        s[:, 2] = np.clip(s[:, 2], floor, BIG / 4)
        e[:, 2] = np.clip(e[:, 2], floor, BIG / 4)
        moves = Moves(s, e, moves.radius, moves.cot)
        r = moves.radius
        zlow = np.minimum(s[:, 2], e[:, 2])
        lo_x = np.minimum(s[:, 0], e[:, 0]) - r
        hi_x = np.maximum(s[:, 0], e[:, 0]) + r
        lo_y = np.minimum(s[:, 1], e[:, 1]) - r
        hi_y = np.maximum(s[:, 1], e[:, 1]) + r
        active = (zlow < self.top) & (hi_x > 0) & (lo_x < self.width) & (hi_y > 0) & (lo_y < self.depth)
        index = np.nonzero(active)[0]
        if index.size == 0:
            return engagement
        flat = moves.cot[index] == 0.0
        level = np.abs(s[index, 2] - e[index, 2]) < 1e-9
        vertical = np.hypot(s[index, 0] - e[index, 0], s[index, 1] - e[index, 1]) < 1e-9
        runnable = flat & (level | vertical)
        span_x = np.clip(hi_x[index], 0, self.width) - np.clip(lo_x[index], 0, self.width)
        span_y = np.clip(hi_y[index], 0, self.depth) - np.clip(lo_y[index], 0, self.depth)
        rows = span_y / self.res + 1
        work = np.where(runnable, rows, rows * (span_x / self.res + 1)).sum()
        if work > max_work:
            raise TooMuchWork(f"simulating these moves would touch about {work:.3g} cells (limit {max_work:.3g})")
        z_key = np.where(runnable, zlow[index], np.nan)
        r_key = r[index]
        # Blocks: maximal stretches of runnable moves with one (z, r), or of general moves.
        same_as_prev = np.zeros(index.size, dtype=bool)
        same_as_prev[1:] = (runnable[1:] & runnable[:-1] & (z_key[1:] == z_key[:-1]) & (r_key[1:] == r_key[:-1])) | (
            ~runnable[1:] & ~runnable[:-1])
        starts = np.nonzero(~same_as_prev)[0]
        bounds = np.append(starts, index.size)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            chunk = index[a:b]
            if runnable[a]:
                engagement[chunk] = self._cut_run(moves, chunk, float(z_key[a]), float(r_key[a]))
            else:
                engagement[chunk] = self._cut_general(moves, chunk)
        return engagement

    def _cut_run(self, moves: Moves, chunk: np.ndarray, z: float, radius: float) -> float:
        """Lower every cell within `radius` of the run's segments to z; return the run's engagement."""
        ax, ay = moves.start[chunk, 0], moves.start[chunk, 1]
        bx, by = moves.end[chunk, 0], moves.end[chunk, 1]
        rows, lo, hi = capsule_row_spans(ax, ay, bx, by, radius, self.res, self.ny, self.nx)
        if rows.size == 0:
            return 0.0
        j0, j1 = int(rows.min()), int(rows.max()) + 1
        i0, i1 = int(lo.min()), int(hi.max()) + 1
        width = i1 - i0 + 1
        height = j1 - j0
        flat_lo = (rows - j0) * width + (lo - i0)
        flat_hi = (rows - j0) * width + (hi - i0 + 1)
        size = height * width
        diff = np.bincount(flat_lo, minlength=size) - np.bincount(flat_hi, minlength=size)
        covered = np.cumsum(diff.reshape(height, width), axis=1)[:, :-1] > 0
        window = self.h[j0:j1, i0:i1]
        before = window[covered]
        if before.size == 0:
            return 0.0
        engaged = float(np.max(before - max(z, self.bottom)))
        window[covered] = np.minimum(before, z)
        return max(0.0, engaged)

    def _cut_general(self, moves: Moves, chunk: np.ndarray) -> np.ndarray:
        """Exact per-cell lowest tip for each move, applied in order with a grouped running minimum."""
        result = np.zeros(chunk.size)
        s, e, r = moves.start[chunk], moves.end[chunk], moves.radius[chunk]
        i_lo = np.clip(np.floor((np.minimum(s[:, 0], e[:, 0]) - r) / self.res - 0.5).astype(np.int64), 0, self.nx - 1)
        i_hi = np.clip(np.ceil((np.maximum(s[:, 0], e[:, 0]) + r) / self.res - 0.5).astype(np.int64), 0, self.nx - 1)
        j_lo = np.clip(np.floor((np.minimum(s[:, 1], e[:, 1]) - r) / self.res - 0.5).astype(np.int64), 0, self.ny - 1)
        j_hi = np.clip(np.ceil((np.maximum(s[:, 1], e[:, 1]) + r) / self.res - 0.5).astype(np.int64), 0, self.ny - 1)
        areas = (i_hi - i_lo + 1) * (j_hi - j_lo + 1)
        first = 0
        while first < chunk.size:
            last = first + max(1, int(np.searchsorted(np.cumsum(areas[first:]), CELL_BATCH, side="right")))
            part = np.arange(first, min(last, chunk.size))
            result[part] = self._cut_cells(moves, chunk[part], i_lo[part], i_hi[part], j_lo[part], j_hi[part])
            first = part[-1] + 1
        return result

    def _cut_cells(self, moves: Moves, idx: np.ndarray, i_lo: np.ndarray, i_hi: np.ndarray, j_lo: np.ndarray,
                   j_hi: np.ndarray) -> np.ndarray:
        w = i_hi - i_lo + 1
        areas = w * (j_hi - j_lo + 1)
        owner = np.repeat(np.arange(idx.size), areas)
        k = np.arange(owner.size) - np.repeat(np.cumsum(areas) - areas, areas)
        ci = i_lo[owner] + k % w[owner]
        cj = j_lo[owner] + k // w[owner]
        px = (ci + 0.5) * self.res
        py = (cj + 0.5) * self.res
        g = idx[owner]
        z = lowest_tip(px, py, moves.start[g], moves.end[g], moves.radius[g], moves.cot[g])
        hit = np.isfinite(z) & (z < self.top)
        owner, z = owner[hit], z[hit]
        cell = (cj[hit] * self.nx + ci[hit]).astype(np.int64)
        engagement = np.zeros(idx.size)
        if cell.size == 0:
            return engagement
        order = np.argsort(cell, kind="stable")  # by cell, then by program order
        cell, owner, z = cell[order], owner[order], z[order]
        group_start = np.ones(cell.size, dtype=bool)
        group_start[1:] = cell[1:] != cell[:-1]
        group = np.cumsum(group_start) - 1
        h_flat = self.h.reshape(-1)
        before0 = h_flat[cell[group_start]]
        # Running minimum per cell, reset at each cell: shift each group far below the previous ones.
        shift = group * BIG
        seq = np.empty(cell.size + group_start.sum())
        # Interleave each group's initial height before its values: positions of the initial heights.
        pos_init = np.nonzero(group_start)[0] + np.arange(group_start.sum())
        mask = np.ones(seq.size, dtype=bool)
        mask[pos_init] = False
        seq[pos_init] = before0 - np.arange(group_start.sum()) * BIG
        seq[mask] = z - shift
        running = np.minimum.accumulate(seq)
        prev = np.empty(cell.size)
        # The minimum before each value is the running minimum at the previous position.
        value_pos = np.nonzero(mask)[0]
        prev[:] = running[value_pos - 1] + shift
        engaged = prev - np.maximum(z, self.bottom)
        np.maximum.at(engagement, owner, np.maximum(engaged, 0.0))
        np.minimum.at(h_flat, cell, z)
        return engagement

    def heights_at(self, px: np.ndarray, py: np.ndarray, moves: Moves) -> np.ndarray:
        """The exact final surface height at points (any position, not just cell centres)."""
        return np.minimum(self.top, lowest_over_moves(px, py, moves))


def capsule_row_spans(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, radius: float, res: float,
                      ny: int, nx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each segment's capsule and each grid row it crosses, the covered cell columns [lo, hi].

    A capsule (all points within `radius` of a segment) is convex, so it meets a row of cell centres in
    one interval: the union of what its two end disks and its middle rectangle cover on that line.
    """
    j_lo = np.maximum(np.ceil((np.minimum(ay, by) - radius) / res - 0.5), 0).astype(np.int64)
    j_hi = np.minimum(np.floor((np.maximum(ay, by) + radius) / res - 0.5), ny - 1).astype(np.int64)
    count = np.maximum(j_hi - j_lo + 1, 0)
    owner = np.repeat(np.arange(ax.size), count)
    row = j_lo[owner] + np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    yc = (row + 0.5) * res
    ax, ay, bx, by = ax[owner], ay[owner], bx[owner], by[owner]
    lo = np.full(owner.size, np.inf)
    hi = np.full(owner.size, -np.inf)
    r2 = radius * radius
    for px, py in ((ax, ay), (bx, by)):
        w = r2 - (yc - py) ** 2
        ok = w >= 0
        half = np.sqrt(np.where(ok, w, 0.0))
        lo = np.where(ok, np.minimum(lo, px - half), lo)
        hi = np.where(ok, np.maximum(hi, px + half), hi)
    dx, dy = bx - ax, by - ay
    length = np.hypot(dx, dy)
    has = length > 1e-12
    safe = np.where(has, length, 1.0)
    ux, uy = dx / safe, dy / safe
    # Rectangle: 0 <= (x-ax)ux + (yc-ay)uy <= L  and  -r <= -(x-ax)uy + (yc-ay)ux <= r.
    r_lo, r_hi = np.full(owner.size, -np.inf), np.full(owner.size, np.inf)
    for coef, const, low, high in ((ux, (yc - ay) * uy, 0.0, length), (-uy, (yc - ay) * ux, -radius, radius)):
        small = np.abs(coef) < 1e-12
        inside = (const >= low - 1e-12) & (const <= high + 1e-12)
        c = np.where(small, 1.0, coef)
        t1 = (low - const) / c + ax
        t2 = (high - const) / c + ax
        lo_t = np.where(small, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
        hi_t = np.where(small, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
        r_lo, r_hi = np.maximum(r_lo, lo_t), np.minimum(r_hi, hi_t)
    rect = has & (r_lo <= r_hi)
    lo = np.where(rect, np.minimum(lo, r_lo), lo)
    hi = np.where(rect, np.maximum(hi, r_hi), hi)
    i_lo = np.maximum(np.ceil(lo / res - 0.5), 0)
    i_hi = np.minimum(np.floor(hi / res - 0.5), nx - 1)
    ok = np.isfinite(lo) & (i_lo <= i_hi)
    return row[ok], i_lo[ok].astype(np.int64), i_hi[ok].astype(np.int64)


def lowest_tip(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray,
               cot: np.ndarray) -> np.ndarray:
    """The lowest surface height a move leaves at a point (inf where the tool never covers it).

    A flat end mill lowers a point to the lowest tip height among the positions whose disk covers it:
    solve |A + t(B-A) - p| <= r for t in [0, 1] and take the end of that interval with the lower Z. A
    drill adds its conical point, cot(angle/2) times the distance from the axis.
    """
    dx, dy, dz = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1], b[:, 2] - a[:, 2]
    fx, fy = a[:, 0] - px, a[:, 1] - py
    qa = dx * dx + dy * dy
    qb = 2.0 * (fx * dx + fy * dy)
    qc = fx * fx + fy * fy - radius * radius
    moving = qa > 1e-12
    safe_a = np.where(moving, qa, 1.0)
    disc = qb * qb - 4.0 * qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    t1 = np.maximum((-qb - root) / (2.0 * safe_a), 0.0)
    t2 = np.minimum((-qb + root) / (2.0 * safe_a), 1.0)
    covered = np.where(moving, (disc >= 0) & (t1 <= t2), qc <= 0)
    t = np.where(dz < 0, t2, t1)
    z = np.where(moving, a[:, 2] + dz * t, np.minimum(a[:, 2], b[:, 2]))
    drill = cot > 0
    if drill.any():
        tc = np.where(moving, np.clip(-(fx * dx + fy * dy) / safe_a, 0.0, 1.0), 0.0)
        rho = np.hypot(fx + tc * dx, fy + tc * dy)
        z = np.where(drill, z + cot * rho, z)
    return np.where(covered, z, np.inf)


def lowest_over_moves(px: np.ndarray, py: np.ndarray, moves: Moves, max_pairs: int = 200_000_000,
                      chunk: int = 2000) -> np.ndarray:
    """For each point, the lowest tip height over all moves (inf if none covers it).

    Candidate (point, move) pairs come from a shapely STRtree distance query, so the work grows with
    the pairs that actually touch instead of points x moves. Moves are queried in chunks so memory stays
    bounded; more than `max_pairs` pairs in total raises TooMuchWork.
    """
    px = np.asarray(px, dtype=float)
    py = np.asarray(py, dtype=float)
    out = np.full(px.size, np.inf)
    if px.size == 0 or len(moves) == 0:
        return out
    tree = shapely.STRtree(shapely.points(px, py))
    coords = np.stack([moves.start[:, :2], moves.end[:, :2]], axis=1)
    lines = shapely.linestrings(coords)
    total = 0
    for radius in np.unique(moves.radius):
        selected = np.nonzero(moves.radius == radius)[0]
        for first in range(0, selected.size, chunk):
            sel = selected[first:first + chunk]
            pairs = tree.query(lines[sel], predicate="dwithin", distance=float(radius) + 1e-9)
            total += pairs.shape[1]
            if total > max_pairs:
                raise TooMuchWork(f"more than {max_pairs:.3g} (point, move) pairs to evaluate")
            if pairs.shape[1] == 0:
                continue
            g, p = sel[pairs[0]], pairs[1]
            z = lowest_tip(px[p], py[p], moves.start[g], moves.end[g], moves.radius[g], moves.cot[g])
            np.minimum.at(out, p, z)
    return out
