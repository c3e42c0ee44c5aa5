"""The ALE taxonomy (13 clusters, 55 subfields, 3 tiers) as project data.

Cards are validated against it, and `ale-gym list` uses it to show coverage gaps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Subfield:
    id: str
    name: str
    cluster_id: str
    cluster_name: str


@dataclass(frozen=True)
class Taxonomy:
    clusters: dict[str, str]
    subfields: dict[str, Subfield]
    tiers: tuple[str, ...]


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """Read the taxonomy shipped inside the package."""
    raw = json.loads(resources.files("ale_gym").joinpath("data/taxonomy.json").read_text("utf-8"))
    clusters: dict[str, str] = {}
    subfields: dict[str, Subfield] = {}
    for cluster in raw["clusters"]:
        clusters[cluster["id"]] = cluster["name"]
        for sub in cluster["subfields"]:
            subfields[sub["id"]] = Subfield(sub["id"], sub["name"], cluster["id"], cluster["name"])
    return Taxonomy(clusters=clusters, subfields=subfields, tiers=tuple(raw["tiers"]))
