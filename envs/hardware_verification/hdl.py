"""Verilog source text utilities: comments, modules, ports, tokens and renaming.

The checker compares, rewrites and instantiates RTL without a full Verilog parser. The designs it owns are
written in a plain ANSI-header style these functions understand; agent RTL only goes through the tolerant
ones (comment stripping, module splitting, tokenising), which never raise on garbage.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass

KEYWORDS = frozenset("""
always and assign automatic begin buf case casex casez cell config deassign default defparam design disable
edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable endtask
event for force forever fork function generate genvar highz0 highz1 if ifnone initial inout input instance
integer join large liblist library localparam macromodule medium module nand negedge nmos nor not notif0
notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup rcmos real realtime reg
release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared signed small specify specparam strong0 strong1
supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use vectored
wait wand weak0 weak1 while wire wor xnor xor logic bit byte int shortint longint
""".split())

_MODULE = re.compile(r"\bmodule\s+([A-Za-z_][A-Za-z0-9_$]*)(.*?)\bendmodule\b", re.DOTALL)
_TOKEN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_$]*|\$[A-Za-z0-9_$]+"  # identifiers, system names
    r"|\d*\s*'[sS]?[bBoOdDhH]\s*[0-9a-fA-FxXzZ_?]+|\d[\d_]*"  # based and plain numbers
    r"|`\w+|\"(?:\\.|[^\"\\])*\""  # directives, strings
    r"|<<<|>>>|===|!==|<=|>=|==|!=|&&|\|\||<<|>>|~&|~\||~\^|\^~|\*\*|\S"  # operators
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def strip_comments(text: str) -> str:
    """Remove // and /* */ comments, keeping line breaks so line numbers survive."""

    def blank(match: re.Match[str]) -> str:
        return "\n" * match.group(0).count("\n")

    out, last = [], 0
    for match in re.finditer(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', text, re.DOTALL):
        out.append(text[last:match.start()])
        out.append(match.group(0) if match.group(0).startswith('"') else blank(match))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def tokens(text: str) -> list[str]:
    """The token stream of Verilog text without comments: formatting-insensitive comparison."""
    return [re.sub(r"\s+", "", t) for t in _TOKEN.findall(strip_comments(text))]


def modules(text: str) -> dict[str, str]:
    """Module name -> its source from `module` to `endmodule` (comments removed)."""
    return {m.group(1): m.group(0) for m in _MODULE.finditer(strip_comments(text))}


def module_spans(text: str) -> dict[str, tuple[int, int]]:
    """Module name -> (first line, last line), 1-based, in the original text."""
    spans = {}
    clean = strip_comments(text)
    for m in _MODULE.finditer(clean):
        spans[m.group(1)] = (clean.count("\n", 0, m.start()) + 1, clean.count("\n", 0, m.end()) + 1)
    return spans


@dataclass(frozen=True)
class Port:
    name: str
    direction: str  # "input" | "output"
    width: int


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Div: operator.floordiv, ast.Pow: operator.pow, ast.Mod: operator.mod}


def clog2(value: int) -> int:
    return 0 if value <= 1 else math.ceil(math.log2(value))


def evaluate(expression: str, params: dict[str, int]) -> int:
    """Evaluate a constant Verilog expression (+ - * / % **, $clog2, parameters) safely."""
    tree = ast.parse(expression.replace("$clog2", "clog2").strip(), mode="eval")

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in params:
            return params[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "clog2" and len(node.args) == 1:
            return clog2(walk(node.args[0]))
        raise ValueError(f"unsupported constant expression {expression!r}")

    return walk(tree)


_PORT = re.compile(r"\b(input|output)\s+(?:wire\s+|reg\s+)?(?:\[([^:\]]+):([^\]]+)\]\s*)?([A-Za-z_]\w*)")
_PARAM = re.compile(r"\bparameter\s+(?:integer\s+)?([A-Za-z_]\w*)\s*=\s*([^,\)\n]+)")


def parameters(module_text: str) -> dict[str, str]:
    """Parameter name -> default expression text, from a module header."""
    return {m.group(1): m.group(2).strip() for m in _PARAM.finditer(module_text)}


def ports(module_text: str, params: dict[str, int]) -> list[Port]:
    """The ANSI-style ports of a module, widths evaluated with `params`."""
    header = module_text[:module_text.index(");") + 1] if ");" in module_text else module_text
    found = []
    for m in _PORT.finditer(header):
        width = 1
        if m.group(2) is not None:
            width = evaluate(m.group(2), params) - evaluate(m.group(3), params) + 1
        found.append(Port(m.group(4), m.group(1), width))
    return found


def set_parameter_defaults(text: str, values: dict[str, int]) -> str:
    """Rewrite `parameter NAME = default` so the RTL's defaults are this build's values."""
    for name, value in values.items():
        text, count = re.subn(rf"(\bparameter\s+{name}\s*=\s*)[^,\)\n]+", rf"\g<1>{value}", text, count=1)
        if count != 1:
            raise ValueError(f"parameter {name} not found")
    return text


_DECL = re.compile(r"^\s*(?:reg|wire|integer|genvar|localparam)\b([^;]*);", re.MULTILINE)
_INSTANCE = re.compile(r"\)\s*([A-Za-z_]\w*)\s*\(")


def internal_names(module_text: str) -> list[str]:
    """Names declared inside a module body (registers, wires, localparams, instances), in order."""
    names: list[str] = []
    body = module_text[module_text.index(");") + 2:] if ");" in module_text else module_text
    for decl in _DECL.finditer(body):
        rest = re.sub(r"\[[^\]]*\]", " ", decl.group(1))
        for part in _split_top_level(rest):
            ident = _IDENT.search(part.split("=", 1)[0])
            if ident and ident.group(0) not in KEYWORDS and ident.group(0) not in ("signed",):
                names.append(ident.group(0))
    for inst in _INSTANCE.finditer(body):
        name = inst.group(1)
        if name not in KEYWORDS:
            names.append(name)
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses or braces."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def rename_identifiers(text: str, mapping: dict[str, str]) -> str:
    """Rename whole identifiers, leaving `.port(` connection names and system names alone."""
    if not mapping:
        return text
    pattern = re.compile(r"(?<![.\w$`])(" + "|".join(sorted(map(re.escape, mapping), key=len, reverse=True)) + r")(?![\w$])")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def compact(text: str) -> str:
    """Comments removed, each line stripped, blank lines dropped: the same design, plainly formatted."""
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in strip_comments(text).splitlines())
    return "\n".join(line for line in lines if line) + "\n"
