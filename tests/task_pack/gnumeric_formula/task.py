"""Ledger total: a small GUI task that proves the desktop end to end with a real spreadsheet.

Description: ledger.gnumeric holds seeded invoice amounts in A1:A<n> and is open in Gnumeric at reset.
The clerk enters a formula in B1 that totals the amounts and saves the workbook in place (ctrl+s).
Inputs: ledger.gnumeric (Gnumeric XML workbook, one sheet "Ledger").
Deliverables: ledger.gnumeric, saved, with B1 holding the formula.
Milestones: total_value (ssconvert evaluates B1 to the total) -> is_formula (B1 is stored as a formula
over the amounts, not a typed number).
Tiers: near-term only. Oracle: GUI actions only (click B1, type the formula, ctrl+s), then a shell poll
until the save has landed. Cheats: a typed number in B1; a formula over too short a range.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from ale_gym import actions as A
from ale_gym.tasks import (
    AppLaunch,
    Cheat,
    CheckContext,
    DeliverableError,
    GenContext,
    Instance,
    Task,
    Verdict,
)

BOOK = "ledger.gnumeric"
GNM = "{http://www.gnumeric.org/v10.dtd}"
MAX_XML = 16 << 20
# Cell B1 on the 1280x800 desktop: Gnumeric opens a 960x600 window centred by the window manager.
B1_ON_SCREEN = (336, 306)


def workbook_xml(amounts: list[float], b1: str | None = None) -> str:
    """A minimal Gnumeric workbook: the amounts in column A, optionally something in B1."""
    cells = [f'        <gnm:Cell Row="{row}" Col="0" ValueType="40">{value:.2f}</gnm:Cell>'
             for row, value in enumerate(amounts)]
    if b1 is not None:
        cells.append(f'        <gnm:Cell Row="0" Col="1">{b1}</gnm:Cell>')
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gnm:Workbook xmlns:gnm="http://www.gnumeric.org/v10.dtd">',
        '  <gnm:SheetNameIndex><gnm:SheetName>Ledger</gnm:SheetName></gnm:SheetNameIndex>',
        '  <gnm:Sheets>',
        '    <gnm:Sheet>',
        '      <gnm:Name>Ledger</gnm:Name>',
        f'      <gnm:MaxCol>{1 if b1 is not None else 0}</gnm:MaxCol><gnm:MaxRow>{len(amounts) - 1}</gnm:MaxRow>',
        '      <gnm:Cells>', *cells, '      </gnm:Cells>',
        '    </gnm:Sheet>',
        '  </gnm:Sheets>',
        '</gnm:Workbook>', ''])


class GnumericFormula(Task):
    """Total a ledger column in Gnumeric (see the module docstring for the card)."""

    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        count = int(rng.integers(5, 9))
        amounts = [round(float(v), 2) for v in rng.uniform(10, 999, size=count)]
        (ctx.workspace / BOOK).write_text(workbook_xml(amounts), encoding="utf-8")
        return Instance(
            instruction=(f"{BOOK} is open in Gnumeric. Column A holds {count} invoice amounts (A1:A{count}). "
                         f"Enter a formula in cell B1 that totals them, then save the workbook in place "
                         f"(Gnumeric format, ctrl+s). Use the spreadsheet on screen; ssconvert is also installed."),
            state={"count": count, "total": round(sum(amounts), 2)},
            open_at_reset=[AppLaunch(argv=("gnumeric", BOOK), window_title=r"ledger\.gnumeric")],
        )

    def _first_row(self, ctx: CheckContext) -> list[str]:
        """Row 1 of the saved workbook as values, evaluated by ssconvert inside the jail."""
        if not ctx.exists(BOOK):
            raise DeliverableError(f"{BOOK} does not exist")
        ctx.read_bytes(BOOK)  # size and link checks before copying
        with ctx.scratch() as folder:
            result = ctx.run(["ssconvert", "--export-type=Gnumeric_stf:stf_csv", BOOK, "ledger.csv"],
                             cwd=folder, timeout=120)
            out = folder / "ledger.csv"
            if result.returncode != 0 or not out.is_file():
                raise DeliverableError(f"ssconvert cannot read {BOOK}: {(result.stderr or result.stdout)[-300:]}")
            rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8", errors="replace"))))
        return rows[0] if rows else []

    def check_total_value(self, ctx: CheckContext) -> Verdict:
        truth = float(ctx.instance.state["total"])
        row = self._first_row(ctx)
        cell = row[1].strip() if len(row) > 1 else ""
        try:
            value = float(cell)
        except ValueError:
            return Verdict(False, f"B1 holds {cell[:40]!r}, not a number; the total is {truth:.2f}")
        ok = abs(value - truth) <= 0.005
        return Verdict(ok, f"B1 = {value:.4f}, total of column A = {truth:.2f}", {"b1": value, "total": truth})

    def _b1_source(self, ctx: CheckContext) -> str:
        data = ctx.read_bytes(BOOK)
        if data[:2] == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                    data = handle.read(MAX_XML + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise DeliverableError(f"{BOOK} is a broken gzip stream: {exc}") from None
            if len(data) > MAX_XML:
                raise DeliverableError(f"{BOOK} unpacks to more than {MAX_XML} bytes")
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise DeliverableError(f"{BOOK} is not Gnumeric XML: {exc}") from None
        sheet = root.find(f"{GNM}Sheets/{GNM}Sheet")
        if sheet is None:
            raise DeliverableError(f"{BOOK} has no sheet")
        for cell in sheet.iter(f"{GNM}Cell"):
            if cell.get("Row") == "0" and cell.get("Col") == "1":
                return (cell.text or "").strip()
        return ""

    def check_is_formula(self, ctx: CheckContext) -> Verdict:
        count = int(ctx.instance.state["count"])
        source = self._b1_source(ctx)
        plain = re.sub(r"[\s$]", "", source).upper()
        cells = set(re.findall(r"(?<![A-Z])A(\d+)(?!\d|:)", plain))
        ok = plain.startswith("=") and (f"A1:A{count}" in plain or cells >= {str(i) for i in range(1, count + 1)})
        verdict = "a formula over the amounts" if ok else f"not a formula over A1:A{count}"
        return Verdict(ok, f"B1 is stored as {source[:60]!r}: {verdict}")

    def oracle(self, instance: Instance, tier: str) -> list[A.Action]:
        count = instance.state["count"]
        return [
            A.click(*B1_ON_SCREEN),
            A.type_text(f"=SUM(A1:A{count})\n"),
            A.key("ctrl", "s"),
            # Gnumeric saves asynchronously: watch for B1 in the file as a practitioner would, then submit.
            A.shell("for i in $(seq 300); do ssconvert --export-type=Gnumeric_stf:stf_csv ledger.gnumeric fd://1 "
                    "2>/dev/null | head -1 | grep -q ',[0-9]' && break; sleep 0.1; done; "
                    "ssconvert --export-type=Gnumeric_stf:stf_csv ledger.gnumeric fd://1 2>/dev/null | head -1"),
            A.submit(),
        ]

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        count, total = instance.state["count"], instance.state["total"]
        rewrite = ("import re\n"
                   "book = open('ledger.gnumeric').read()\n"
                   "amounts = [float(v) for v in re.findall(r'Col=\"0\" ValueType=\"40\">([0-9.]+)<', book)]\n"
                   "cell = '        <gnm:Cell Row=\"0\" Col=\"1\">{b1}</gnm:Cell>\\n      </gnm:Cells>'\n"
                   "open('ledger.gnumeric', 'w').write(book.replace('      </gnm:Cells>', cell, 1))\n")
        return [
            Cheat("typed_number", "is_formula", [A.python(rewrite.replace("{b1}", f"{total:.2f}")), A.submit()],
                  "the total typed in as a number: right value, no formula"),
            Cheat("short_range", "total_value", [A.python(rewrite.replace("{b1}", f"=SUM(A1:A{count - 1})")), A.submit()],
                  "a formula that misses the last amount"),
        ]
