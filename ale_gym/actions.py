"""The action vocabulary: one unified space of shell, Python, GUI events, wait and submit.

Every action is a plain function below. Its signature and docstring are the single source of truth for
the Gymnasium space member it builds, the text form a language model writes (`parse`), and the tool
schema handed to a tool-calling agent (`tool_schemas`).
"""

from __future__ import annotations

import ast
import inspect
import math
from typing import Any, Callable

import numpy as np
from gymnasium import spaces

from ale_gym.spaces import UnicodeText

KINDS = ("shell", "python", "move", "click", "drag", "scroll", "key", "type_text", "wait", "submit")
BUTTONS = ("left", "middle", "right")
MAX_TEXT = 200_000
MAX_TIMEOUT = 3600.0
MAX_COORD = 16383
MAX_SCROLL = 50

Action = dict[str, Any]


def _action(kind: str, *, text: str = "", coords: tuple[int, int, int, int] = (0, 0, 0, 0), button: str = "left",
            clicks: int = 1, amount: int = 0, timeout: float | None = None) -> Action:
    return {
        "kind": KINDS.index(kind),
        "text": text,
        "coords": np.asarray(coords, dtype=np.int32),
        "button": BUTTONS.index(button),
        "clicks": clicks,
        "amount": amount,
        "timeout": np.asarray(0.0 if timeout is None else timeout, dtype=np.float32),
    }


def _text(value: Any, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if not allow_empty and not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is {len(value)} characters; the limit is {MAX_TEXT}")
    return value


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {value!r}")
    return float(value)


def _coord(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_COORD:
        raise ValueError(f"{what} must be a whole pixel coordinate >= 0, got {value!r}")
    return int(value)


def shell(command: str, timeout: float | None = None) -> Action:
    """Run a command in the episode's persistent bash (cwd, variables and functions persist; stdin is empty)."""
    return _action("shell", text=_text(command, "command"), timeout=_timeout(timeout))


def python(code: str, timeout: float | None = None) -> Action:
    """Run code in the episode's persistent Python interpreter (imports and variables persist)."""
    return _action("python", text=_text(code, "code"), timeout=_timeout(timeout))


def move(x: int, y: int) -> Action:
    """Move the mouse pointer to pixel (x, y) of the episode's screen."""
    return _action("move", coords=(_coord(x, "x"), _coord(y, "y"), 0, 0))


def click(x: int, y: int, button: str = "left", clicks: int = 1) -> Action:
    """Click at (x, y) with a mouse button ('left', 'middle', 'right'), once, twice or three times."""
    if button not in BUTTONS:
        raise ValueError(f"button must be one of {BUTTONS}, got {button!r}")
    if isinstance(clicks, bool) or clicks not in (1, 2, 3):
        raise ValueError(f"clicks must be 1, 2 or 3, got {clicks!r}")
    return _action("click", coords=(_coord(x, "x"), _coord(y, "y"), 0, 0), button=button, clicks=clicks)


def drag(x1: int, y1: int, x2: int, y2: int) -> Action:
    """Press the left button at (x1, y1), move to (x2, y2) and release."""
    return _action("drag", coords=(_coord(x1, "x1"), _coord(y1, "y1"), _coord(x2, "x2"), _coord(y2, "y2")))


def scroll(amount: int, x: int | None = None, y: int | None = None) -> Action:
    """Scroll the wheel by `amount` notches (positive is up), optionally after moving to (x, y)."""
    if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)) or not -MAX_SCROLL <= amount <= MAX_SCROLL:
        raise ValueError(f"amount must be a whole number in [-{MAX_SCROLL}, {MAX_SCROLL}], got {amount!r}")
    if (x is None) != (y is None):
        raise ValueError("give both x and y, or neither")
    at = (0, 0, 0, 0) if x is None else (_coord(x, "x"), _coord(y, "y"), 1, 0)
    return _action("scroll", coords=at, amount=int(amount))


def key(*keys: str) -> Action:
    """Press a key or a chord, e.g. key('enter') or key('ctrl', 's'); names follow pyautogui."""
    if not keys:
        raise ValueError("key() needs at least one key name")
    for k in keys:
        _text(k, "key name")
        if "+" in k and k != "+":
            raise ValueError(f"pass chords as separate names: key('ctrl', 's'), not {k!r}")
    return _action("key", text="+".join(k.lower() for k in keys) if keys != ("+",) else "+")


def type_text(text: str) -> Action:
    """Type text on the keyboard into the focused window."""
    return _action("type_text", text=_text(text, "text"))


def wait(seconds: float) -> Action:
    """Do nothing for a while (at most an hour), e.g. while an application starts."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIMEOUT:
        raise ValueError(f"seconds must be in [0, {MAX_TIMEOUT:g}], got {seconds!r}")
    return _action("wait", timeout=float(seconds) if seconds > 0 else None)


def submit() -> Action:
    """Declare the work finished: every milestone is checked and the episode ends."""
    return _action("submit")


CONSTRUCTORS: dict[str, Callable[..., Action]] = {
    f.__name__: f for f in (shell, python, move, click, drag, scroll, key, type_text, wait, submit)
}


class ActionSpace(spaces.Dict):
    """The unified action space; `sample()` draws only harmless actions (pointer moves, scrolls, waits).

    Without a desktop (`gui=False`) GUI actions are invalid, so samples are waits and no-op shell commands.
    """

    def __init__(self, width: int = 1280, height: int = 800, gui: bool = True, seed: Any = None) -> None:
        super().__init__(
            {
                "kind": spaces.Discrete(len(KINDS)),
                "text": UnicodeText(MAX_TEXT),
                "coords": spaces.Box(0, MAX_COORD, shape=(4,), dtype=np.int32),
                "button": spaces.Discrete(len(BUTTONS)),
                "clicks": spaces.Discrete(3, start=1),
                "amount": spaces.Discrete(2 * MAX_SCROLL + 1, start=-MAX_SCROLL),
                "timeout": spaces.Box(0.0, MAX_TIMEOUT, shape=(), dtype=np.float32),
            },
            seed=seed,
        )
        self.width = width
        self.height = height
        self.gui = gui

    def sample(self, mask: Any = None, probability: Any = None) -> Action:  # noqa: ARG002 - Gymnasium signature
        rng = self.np_random
        choice = int(rng.integers(3))
        if not self.gui:
            return shell(":") if choice == 0 else wait(round(float(rng.uniform(0.0, 0.05)), 3))
        x, y = int(rng.integers(self.width)), int(rng.integers(self.height))
        if choice == 0:
            return move(x, y)
        if choice == 1:
            return scroll(int(rng.integers(-3, 4)), x, y)
        return wait(round(float(rng.uniform(0.0, 0.05)), 3))


def validate(action: Any) -> Action:
    """Check an action from any source and return it normalised; raise ValueError naming the problem."""
    if not isinstance(action, dict):
        raise ValueError(f"an action is a dict built by ale_gym.actions, got {type(action).__name__}")
    missing = {"kind", "text", "coords", "button", "clicks", "amount", "timeout"} - set(action)
    if missing:
        raise ValueError(f"action is missing keys {sorted(missing)}")
    kind = action["kind"]
    if isinstance(kind, str):
        kind = KINDS.index(kind) if kind in KINDS else -1
    if isinstance(kind, bool) or not isinstance(kind, (int, np.integer)) or not 0 <= int(kind) < len(KINDS):
        raise ValueError(f"unknown action kind {action['kind']!r}; kinds are {KINDS}")
    name = KINDS[int(kind)]
    coords = np.asarray(action["coords"]).reshape(-1)
    if coords.shape != (4,) or not np.issubdtype(coords.dtype, np.number):
        raise ValueError("coords must be four whole numbers")
    x1, y1, x2, y2 = (int(v) for v in coords)
    timeout = float(np.asarray(action["timeout"]))
    timeout_arg = timeout if timeout > 0 else None
    button = int(action["button"])
    if not 0 <= button < len(BUTTONS):
        raise ValueError(f"button index must be in [0, {len(BUTTONS)}), got {button}")
    text = action["text"]
    if name == "shell":
        return shell(text, timeout_arg)
    if name == "python":
        return python(text, timeout_arg)
    if name == "move":
        return move(x1, y1)
    if name == "click":
        return click(x1, y1, BUTTONS[button], int(action["clicks"]))
    if name == "drag":
        return drag(x1, y1, x2, y2)
    if name == "scroll":
        return scroll(int(action["amount"]), x1, y1) if x2 else scroll(int(action["amount"]))
    if name == "key":
        names = _text(text, "keys").split("+") if text != "+" else ["+"]
        return key(*names)
    if name == "type_text":
        return type_text(text)
    if name == "wait":
        return wait(timeout)
    return submit()


def kind_of(action: Action) -> str:
    return KINDS[int(action["kind"])]


def describe(action: Action) -> str:
    """The action in the text form that `parse` reads back."""
    name = kind_of(action)
    x1, y1, x2, y2 = (int(v) for v in np.asarray(action["coords"]))
    timeout = float(np.asarray(action["timeout"]))
    extra = f", timeout={timeout:g}" if timeout > 0 else ""
    if name in ("shell", "python"):
        return f"{name}({action['text']!r}{extra})"
    if name == "move":
        return f"move({x1}, {y1})"
    if name == "click":
        return f"click({x1}, {y1}, button={BUTTONS[int(action['button'])]!r}, clicks={int(action['clicks'])})"
    if name == "drag":
        return f"drag({x1}, {y1}, {x2}, {y2})"
    if name == "scroll":
        return f"scroll({int(action['amount'])}, {x1}, {y1})" if x2 else f"scroll({int(action['amount'])})"
    if name == "key":
        keys = ["+"] if action["text"] == "+" else action["text"].split("+")
        return "key(" + ", ".join(repr(k) for k in keys) + ")"
    if name == "type_text":
        return f"type_text({action['text']!r})"
    if name == "wait":
        return f"wait({timeout:g})"
    return "submit()"


def parse(text: str) -> Action:
    """Parse one call such as `shell("ls -la")`; arguments must be literals (no names, no evaluation)."""
    if not isinstance(text, str):
        raise ValueError("parse() takes the text of one call")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a call expression: {exc.msg}") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ValueError("expected a single call like shell('ls'), with a plain function name")
    constructor = CONSTRUCTORS.get(call.func.id)
    if constructor is None:
        raise ValueError(f"unknown action {call.func.id!r}; actions are {sorted(CONSTRUCTORS)}")
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}
    except ValueError:
        raise ValueError("arguments must be literals (strings, numbers, None)") from None
    if any(k.arg is None for k in call.keywords):
        raise ValueError("**kwargs is not allowed in an action")
    try:
        inspect.signature(constructor).bind(*args, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{call.func.id}(): {exc}") from None
    return constructor(*args, **kwargs)


_JSON_TYPES = {str: "string", int: "integer", float: "number", "str": "string", "int": "integer",
               "float": "number", "float | None": "number", "int | None": "integer"}


def tool_schemas() -> list[dict[str, Any]]:
    """JSON schemas of every action, for language-model tool calling (OpenAI/Anthropic style)."""
    schemas = []
    for name, fn in CONSTRUCTORS.items():
        signature = inspect.signature(fn)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in signature.parameters.items():
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                properties["keys"] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
                required.append("keys")
                continue
            properties[pname] = {"type": _JSON_TYPES.get(param.annotation, "string")}
            if param.default is inspect.Parameter.empty:
                required.append(pname)
        schemas.append({
            "name": name,
            "description": inspect.getdoc(fn) or name,
            "parameters": {"type": "object", "properties": properties, "required": required},
        })
    return schemas


def from_tool_call(name: str, arguments: dict[str, Any]) -> Action:
    """Build an action from a tool call produced with `tool_schemas()`."""
    constructor = CONSTRUCTORS.get(name)
    if constructor is None:
        raise ValueError(f"unknown action {name!r}; actions are {sorted(CONSTRUCTORS)}")
    if not isinstance(arguments, dict):
        raise ValueError("tool-call arguments must be an object")
    arguments = dict(arguments)
    if name == "key":
        keys = arguments.pop("keys", None)
        if not isinstance(keys, list) or arguments:
            raise ValueError("key takes {'keys': [names...]}")
        return key(*keys)
    try:
        inspect.signature(constructor).bind(**arguments)
    except TypeError as exc:
        raise ValueError(f"{name}(): {exc}") from None
    return constructor(**arguments)
