"""The action vocabulary: constructors, validation, the text form and tool schemas."""

from __future__ import annotations

import numpy as np
import pytest

from ale_gym import actions as A

EVERY_ACTION = [
    A.shell("ls -la", timeout=5),
    A.python("print('é')"),
    A.move(10, 20),
    A.click(5, 6, button="right", clicks=2),
    A.drag(1, 2, 3, 4),
    A.scroll(-3),
    A.scroll(2, 100, 200),
    A.key("ctrl", "s"),
    A.key("enter"),
    A.type_text("=SUM(A1:A3)\n"),
    A.wait(0.5),
    A.submit(),
]


@pytest.mark.parametrize("action", EVERY_ACTION, ids=A.describe)
def test_every_constructor_builds_a_member_of_the_space(action):
    assert A.ActionSpace().contains(action)


@pytest.mark.parametrize("action", EVERY_ACTION, ids=A.describe)
def test_text_form_round_trips(action):
    again = A.parse(A.describe(action))
    assert A.describe(again) == A.describe(action)
    assert again["kind"] == action["kind"] and again["text"] == action["text"]
    assert np.array_equal(again["coords"], action["coords"])


def test_parse_reads_literal_calls():
    action = A.parse('shell("ls -la")')
    assert A.kind_of(action) == "shell" and action["text"] == "ls -la"
    assert A.parse("click(3, 4, button='middle')")["button"] == A.BUTTONS.index("middle")


@pytest.mark.parametrize("text, problem", [
    ("shell(command)", "literals"),
    ("os.system('rm -rf /')", "plain function name"),
    ("__import__('os')", "unknown action"),
    ("shell('a'); shell('b')", "not a call"),
    ("click(1)", "click()"),
    ("click(-1, 5)", "coordinate"),
    ("key()", "at least one"),
    ("key('ctrl+s')", "separate names"),
    ("wait(1e9)", "seconds"),
    ("shell('')", "must not be empty"),
    ("shell('x', timeout=-1)", "timeout"),
    ("scroll(1, x=5)", "both x and y"),
    ("click(1, 2, button='side')", "button"),
])
def test_parse_rejects_with_a_clear_message(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        A.parse(text)


def test_parse_never_evaluates_code(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError):
        A.parse(f"shell(open({str(marker)!r}, 'w').write('x'))")
    assert not marker.exists()


@pytest.mark.parametrize("bad", [None, "shell", {"kind": 0}, {**A.shell("ls"), "kind": 99}, {**A.click(1, 1), "button": 7}])
def test_validate_rejects_malformed_actions(bad):
    with pytest.raises(ValueError):
        A.validate(bad)


@pytest.mark.parametrize("gui", [True, False])
def test_samples_are_valid_and_harmless(gui):
    space = A.ActionSpace(640, 480, gui=gui, seed=3)
    for _ in range(200):
        action = space.sample()
        assert space.contains(action)
        assert A.kind_of(A.validate(action)) in ({"move", "scroll", "wait"} if gui else {"shell", "wait"})
        if A.kind_of(action) == "shell":
            assert action["text"] == ":"


def test_tool_schemas_cover_every_action_and_build_actions():
    schemas = {s["name"]: s for s in A.tool_schemas()}
    assert set(schemas) == set(A.CONSTRUCTORS)
    assert schemas["shell"]["parameters"]["required"] == ["command"]
    assert schemas["shell"]["parameters"]["properties"]["timeout"]["type"] == "number"
    assert schemas["key"]["parameters"]["properties"]["keys"]["type"] == "array"
    assert A.describe(A.from_tool_call("key", {"keys": ["ctrl", "s"]})) == "key('ctrl', 's')"
    assert A.describe(A.from_tool_call("click", {"x": 1, "y": 2})) == "click(1, 2, button='left', clicks=1)"
    with pytest.raises(ValueError):
        A.from_tool_call("shell", {"cmd": "ls"})
