"""The RTL a testbench is judged on besides the given one: the golden design and its mutants, disguised.

Golden and mutants are shown to the agent's testbench with comments removed, formatting flattened and
internal names replaced, identically for all of them. A testbench therefore cannot recognise the golden
design by its text (a diff against one's own fix, a hash of the file); only ports and parameters are
stable, which is all a black-box testbench needs. The given RTL is passed as is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import hdl, library, mutants

MUTANT_COUNT = 12
MUTANT_POOL = 18


def disguise_maps(golden: dict[str, str], seed: int) -> dict[str, dict[str, str]]:
    """Per module, internal name -> neutral name, drawn from the seed."""
    rng = np.random.default_rng(seed)
    maps = {}
    for module, source in golden.items():
        text = hdl.modules(source).get(module, source)
        names = hdl.internal_names(text)
        order = rng.permutation(len(names))
        tag = "".join("abcdefghjkmnpqrstuvwxyz"[int(i)] for i in rng.integers(0, 23, 3))
        maps[module] = {names[int(i)]: f"{tag}{k}" for k, i in enumerate(order)}
    return maps


def disguise(sources: dict[str, str], maps: dict[str, dict[str, str]]) -> dict[str, str]:
    return {m: hdl.compact(hdl.rename_identifiers(hdl.strip_comments(text), maps.get(m, {}))) for m, text in sources.items()}


def rebuild(data_dir: Path, state: dict) -> library.Build:
    """The instance's golden and buggy sources, recomputed from the library (deterministic)."""
    bugs = {(b.design, b.id): b for b in library.load_bugs(data_dir)}
    design = library.DESIGNS[state["design"]]
    return library.build(data_dir, design, dict(state["params"]), bugs[(state["design"], state["bug"])])


def golden_files(data_dir: Path, state: dict) -> dict[str, str]:
    """File name -> disguised golden source."""
    build = rebuild(data_dir, state)
    maps = disguise_maps(build.golden, state["disguise_seed"])
    return {f"{m}.v": text for m, text in disguise(build.golden, maps).items()}


def mutant_files(data_dir: Path, hidden: Path, state: dict) -> list[dict]:
    """The instance's mutants ({"label", "files"}), computed once (one simulation), kept in the hidden folder."""
    cache = hidden / "mutants.json"
    if cache.is_file():
        return json.loads(cache.read_text("utf-8"))
    build = rebuild(data_dir, state)
    rng = np.random.default_rng(state["mutant_seed"])
    chosen = mutants.select(build, rng, MUTANT_COUNT, MUTANT_POOL, seed=state["mutant_seed"])
    if len(chosen) < MUTANT_COUNT:
        more = mutants.select(build, np.random.default_rng(state["mutant_seed"] + 1), MUTANT_COUNT, 3 * MUTANT_POOL,
                              seed=state["mutant_seed"])
        seen = {(m.module, m.source) for m in chosen}
        chosen += [m for m in more if (m.module, m.source) not in seen][:MUTANT_COUNT - len(chosen)]
    maps = disguise_maps(build.golden, state["disguise_seed"])
    sets = []
    for mutant in chosen:
        sources = dict(build.golden)
        sources[mutant.module] = mutant.source
        sets.append({"label": f"{mutant.module}.v:{mutant.line} {mutant.operator}",
                     "files": {f"{m}.v": text for m, text in disguise(sources, maps).items()}})
    hidden.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(sets), "utf-8")
    return sets
