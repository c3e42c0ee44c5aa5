"""Word statistics: a deliberately small task that exercises the core engine.

Description: a text file of seeded words; the worker counts them, ranks them, and writes a report.
Deliverables: count.txt (one integer), top.txt (word<TAB>count lines, most frequent first),
report.txt (a sentence naming the count and the top word; judged at submit).
Milestones: count -> top -> report (submit-only). Tiers differ in text length.
Oracle: one shell pipeline and one Python cell. Cheats: a wrong count; a top list in the wrong order.
"""

from __future__ import annotations

import collections

import numpy as np

from ale_gym import actions as A
from ale_gym.tasks import Cheat, CheckContext, DeliverableError, GenContext, Instance, Task, Verdict

VOCABULARY = ("lathe", "mill", "drill", "tap", "reamer", "boring", "collet", "vise", "spindle", "chuck")


class WordStats(Task):
    """Count and rank the words of text.txt (see the module docstring for the card)."""

    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        length = 200 if ctx.tier == "near-term" else 5000
        weights = rng.dirichlet(np.ones(len(VOCABULARY)))
        words = rng.choice(VOCABULARY, size=length, p=weights)
        (ctx.workspace / "text.txt").write_text(" ".join(words) + "\n")
        counts = collections.Counter(words.tolist())
        (ctx.hidden / "truth.txt").write_text(f"{length}\n")
        return Instance(
            instruction=("Count the words of text.txt into count.txt, rank them into top.txt "
                         "(word<TAB>count, most frequent first), and write report.txt naming both, then submit."),
            state={"count": length, "top": counts.most_common(1)[0][0]},
        )

    def _count(self, ctx: CheckContext) -> int:
        text = ctx.read_text("count.txt", max_bytes=100).strip()
        if not text.isdigit():
            raise DeliverableError(f"count.txt must hold one integer, got {text[:20]!r}")
        return int(text)

    def check_count(self, ctx: CheckContext) -> Verdict:
        truth = len(ctx.read_text("text.txt").split())
        got = self._count(ctx)
        return Verdict(got == truth, f"count {got}, truth {truth}")

    def check_top(self, ctx: CheckContext) -> Verdict:
        counts = collections.Counter(ctx.read_text("text.txt").split())
        first = ctx.read_text("top.txt").split("\n", 1)[0].split("\t")
        best = counts.most_common(1)[0][1]
        ok = len(first) == 2 and counts.get(first[0]) == best and first[1].strip() == str(best)
        return Verdict(ok, f"first line {first!r}, best count {best}")

    def check_report(self, ctx: CheckContext) -> Verdict:
        report = ctx.read_text("report.txt")
        truth = (ctx.hidden / "truth.txt").read_text().strip()
        ok = truth in report and ctx.instance.state["top"] in report
        return Verdict(ok, "report names the count and the top word" if ok else "report is missing the count or the top word")

    def oracle(self, instance: Instance, tier: str) -> list[A.Action]:
        return [
            A.shell("wc -w < text.txt | tr -d ' ' > count.txt"),
            A.python(
                "import collections\n"
                "counts = collections.Counter(open('text.txt').read().split())\n"
                "ranked = counts.most_common()\n"
                "open('top.txt', 'w').write(''.join(f'{w}\\t{c}\\n' for w, c in ranked))\n"
                "open('report.txt', 'w').write(f'{sum(counts.values())} words; the most frequent is {ranked[0][0]}.\\n')"
            ),
            A.submit(),
        ]

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        return [
            Cheat("off_by_one", "count", [A.shell("echo $(( $(wc -w < text.txt) + 1 )) > count.txt"), A.submit()]),
            Cheat("reversed_top", "top", [
                A.shell("wc -w < text.txt | tr -d ' ' > count.txt"),
                A.shell("tr ' ' '\\n' < text.txt | sort | uniq -c | sort -n | awk '{print $2\"\\t\"$1}' > top.txt"),
                A.submit(),
            ]),
        ]
