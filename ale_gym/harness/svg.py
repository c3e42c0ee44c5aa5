"""Small inline SVG charts for the HTML report: no plotting library, no external files, no script."""

from __future__ import annotations

from html import escape


def bar_chart(labels: list[str], values: list[float | None], errors: list[float | None] | None = None,
              title: str = "", width: int = 640, bar_height: int = 22, maximum: float = 1.0) -> str:
    """Horizontal bars in [0, maximum] with optional error whiskers (value ± error)."""
    errors = errors or [None] * len(values)
    label_width, pad = 260, 8
    plot = width - label_width - 60
    height = pad * 2 + 20 + bar_height * max(1, len(labels))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">',
             f'<text x="{pad}" y="{pad + 12}" class="chart-title">{escape(title)}</text>']
    for tick in (0.0, 0.5, 1.0):
        x = label_width + plot * tick
        parts.append(f'<line x1="{x:.1f}" y1="{pad + 18}" x2="{x:.1f}" y2="{height - pad}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 1}" class="tick" text-anchor="middle">{tick * maximum:g}</text>')
    for i, (label, value, error) in enumerate(zip(labels, values, errors)):
        y = pad + 20 + i * bar_height
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" class="label">{escape(label)}</text>')
        if value is None:
            continue
        w = plot * max(0.0, min(1.0, value / maximum))
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{bar_height - 6}" class="bar"/>')
        parts.append(f'<text x="{label_width + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}" class="value">{value:.2f}</text>')
        if error:
            lo = label_width + plot * max(0.0, (value - error) / maximum)
            hi = label_width + plot * min(1.0, (value + error) / maximum)
            mid = y + bar_height / 2
            parts.append(f'<line x1="{lo:.1f}" y1="{mid:.1f}" x2="{hi:.1f}" y2="{mid:.1f}" class="whisker"/>')
    parts.append("</svg>")
    return "".join(parts)


def step_chart(values: list[float], title: str = "", width: int = 640, height: int = 180,
               marks: list[tuple[int, str]] | None = None) -> str:
    """A step-wise curve of a value in [0, 1] over steps 0..n (the milestone potential), with labelled marks."""
    pad_left, pad, top = 40, 10, 26
    n = max(1, len(values) - 1)
    plot_w, plot_h = width - pad_left - pad, height - top - 22

    def xy(step: int, value: float) -> tuple[float, float]:
        return pad_left + plot_w * step / n, top + plot_h * (1 - max(0.0, min(1.0, value)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">',
             f'<text x="{pad}" y="16" class="chart-title">{escape(title)}</text>']
    for tick in (0.0, 0.5, 1.0):
        _, y = xy(0, tick)
        parts.append(f'<line x1="{pad_left}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{pad_left - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:g}</text>')
    points: list[str] = []
    previous_y: float | None = None
    for step, value in enumerate(values):
        x, y = xy(step, value)
        if previous_y is not None:
            points.append(f"{x:.1f},{previous_y:.1f}")  # hold the value until the step that changes it
        points.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" class="curve"/>')
    for step, value in enumerate(values):
        x, y = xy(step, value)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot"><title>step {step}: {value:.3f}</title></circle>')
    for step, label in marks or []:
        x, _ = xy(step, 0)
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
