"""The `ale-gym` command: list, show, play, validate, eval and report.

A thin front over `ale_gym.harness`; everything here is also callable from Python.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ale_gym import actions as A
from ale_gym.tasks.registry import TaskEntry, all_entries, load_task
from ale_gym.tasks.taxonomy import load_taxonomy

SANDBOX_CHOICES = ("bwrap", "none")


def resolve_task(name: str) -> TaskEntry:
    """A task by id (ALE/Name-v0), name (Name), versioned name (Name-v0) or folder name, case-insensitively."""
    wanted = name.lower()
    matches = [e for e in all_entries()
               if wanted in (e.card.id.lower(), e.card.name.lower(), e.card.slug.lower(), f"{e.card.name}-v{e.card.version}".lower())]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(e.card.id for e in all_entries()) or "none"
    if not matches:
        raise SystemExit(f"ale-gym: no task {name!r}; known tasks: {known}")
    raise SystemExit(f"ale-gym: {name!r} names several tasks: {', '.join(e.card.id for e in matches)}")


def _split(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"sandbox": args.sandbox}
    if getattr(args, "gui", None) is not None:
        kwargs["gui"] = args.gui
    if getattr(args, "max_steps", None) is not None:
        kwargs["max_steps"] = args.max_steps
    return kwargs


# -- list -------------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    taxonomy = load_taxonomy()
    by_subfield: dict[str, list[TaskEntry]] = defaultdict(list)
    for entry in all_entries():
        by_subfield[entry.card.subfield].append(entry)
    tier_counts = {t: 0 for t in taxonomy.tiers}
    for entry in all_entries():
        for tier in entry.card.tiers:
            tier_counts[tier] = tier_counts.get(tier, 0) + 1
    for cluster_id, cluster_name in taxonomy.clusters.items():
        in_cluster = [s for s in taxonomy.subfields.values() if s.cluster_id == cluster_id]
        if args.covered and not any(by_subfield.get(s.id) for s in in_cluster):
            continue
        print(f"{cluster_id}. {cluster_name}")
        for subfield in in_cluster:
            tasks = by_subfield.get(subfield.id, [])
            if not tasks:
                if not args.covered:
                    print(f"   {subfield.id:<6} {subfield.name}: -- no task yet --")
                continue
            print(f"   {subfield.id:<6} {subfield.name}:")
            for entry in tasks:
                gui = ", desktop" if entry.card.gui else ""
                print(f"          {entry.card.id:<32} {entry.card.title}  [{', '.join(entry.card.tiers)}{gui}]")
    covered = sum(1 for s in taxonomy.subfields if by_subfield.get(s))
    tiers = ", ".join(f"{t}: {n}" for t, n in tier_counts.items())
    print(f"\n{len(all_entries())} tasks cover {covered} of {len(taxonomy.subfields)} subfields "
          f"({len(taxonomy.subfields) - covered} gaps). Tasks per tier: {tiers}.")
    return 0


# -- show -------------------------------------------------------------------------------------------
def sample_instruction(entry: TaskEntry, tier: str, seed: int) -> str:
    """The instruction the agent gets for one seed, generated in throwaway folders (no env, no jail)."""
    from ale_gym.tasks.base import GenContext

    task = load_task(entry)
    with tempfile.TemporaryDirectory(prefix="ale-show-") as root:
        workspace, hidden = Path(root) / "workspace", Path(root) / "hidden"
        workspace.mkdir()
        hidden.mkdir()
        instance = task.generate(GenContext(workspace, hidden, task.data_dir, tier, seed), np.random.default_rng(seed))
        files = sorted(p.relative_to(workspace).as_posix() for p in workspace.rglob("*") if p.is_file())
    return instance.instruction + ("\n\nInput files: " + ", ".join(files) if files else "")


def cmd_show(args: argparse.Namespace) -> int:
    entry = resolve_task(args.task)
    card = entry.card
    taxonomy = load_taxonomy()
    subfield = taxonomy.subfields[card.subfield]
    print(f"{card.id}: {card.title}")
    print(f"cluster     {card.cluster} {subfield.cluster_name}")
    print(f"subfield    {card.subfield} {subfield.name}")
    print(f"occupation  {card.soc}")
    print(f"tiers       {', '.join(card.tiers)}")
    print(f"tools       {', '.join(card.tools) or '-'}")
    print(f"deliverables {', '.join(card.deliverables)}")
    print(f"budgets     {card.max_steps} steps, {card.time_limit_s:g} s; desktop {'on' if card.gui else 'off'} by default "
          f"({card.resolution[0]}x{card.resolution[1]})")
    print(f"folder      {entry.folder}")
    print("\nmilestones (weight per tier; requires; judged):")
    for m in card.milestones:
        weights = ", ".join(f"{t} {w:g}" for t, w in m.weights.items())
        requires = ", ".join(m.requires) or "-"
        print(f"  {m.id:<22} [{weights}] requires {requires}; at {m.when}")
        print(f"  {'':<22} {m.description}")
    task_doc = inspect.getdoc(load_task(entry).__class__) or ""
    module_doc = inspect.getdoc(sys.modules[load_task(entry).__class__.__module__]) or ""
    card_text = task_doc if len(task_doc) > len(module_doc) else module_doc
    if card_text:
        print("\n" + card_text)
    tier = args.tier or card.default_tier
    print(f"\ninstruction (tier {tier}, seed {args.seed}):\n")
    print(sample_instruction(entry, tier, args.seed))
    return 0


# -- play -------------------------------------------------------------------------------------------
def cmd_play(args: argparse.Namespace) -> int:
    from ale_gym.harness.episode import EpisodeJob, episode_name, run_episode, task_source

    entry = resolve_task(args.task)
    tier = args.tier or entry.card.default_tier
    if tier not in entry.card.tiers:
        raise SystemExit(f"ale-gym: {entry.card.id} has tiers {', '.join(entry.card.tiers)}, not {tier}")
    job = EpisodeJob(entry.card.id, tier, args.seed, args.agent, _env_kwargs(args),
                     str(Path(args.record)) if args.record else None, task_source(entry.card.id))
    print(f"{entry.card.id}  tier {tier}  seed {args.seed}  agent {args.agent}")

    def on_step(step: int, action: Any, reward: float, info: dict[str, Any]) -> None:
        marks = " ".join(("+" if m["passed"] else "-") + mid for mid, m in info["milestones"].items())
        text = A.describe(action).replace("\n", "\\n")
        text = text if len(text) <= 90 else text[:87] + "..."
        print(f"step {step:3d}  reward {reward:+.3f}  score {info['score']:.3f}  [{marks}]  {text}", flush=True)
        if info.get("status") != "ok":
            for mid, error in (info.get("checker_errors") or {}).items():
                print(f"          checker error in {mid}: {error.strip().splitlines()[-1]}")

    record = run_episode(job, on_step=on_step)
    print(f"status {record['status']}  score {record['score']:.3f}  full pass {record['full_pass']}  "
          f"steps {record['steps']}  {record['seconds']:.1f} s")
    for mid, m in record["milestones"].items():
        print(f"  {'pass' if m['passed'] else 'FAIL'}  {mid}: {m['detail']}")
    if record.get("error"):
        print(record["error"], file=sys.stderr)
    if args.record:
        print(f"trajectory: {Path(args.record) / episode_name(entry.card.id, tier, args.seed)}")
    return 0 if record["status"] in ("ok", "agent_error") else 1


# -- validate ---------------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from ale_gym.harness.validate import format_rows, validate

    entries = [resolve_task(t) for t in args.tasks] if args.tasks else all_entries()
    if not entries:
        raise SystemExit("ale-gym: no tasks are registered")
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))

    def progress(rows: list) -> None:
        failed = [r for r in rows if not r.passed]
        first = rows[0]
        print(f"  {first.task_id} {first.tier} seed {first.seed}: "
              + (f"{len(failed)} of {len(rows)} checks FAILED" if failed else f"{len(rows)} checks passed"),
              file=sys.stderr, flush=True)

    rows = validate([e.card.id for e in entries], tiers=_split(args.tiers), seeds=seeds, workers=args.workers,
                    gui=args.gui, sandbox=args.sandbox, spread=args.spread, on_rows=progress)
    print(format_rows(rows, details=not args.brief))
    failed = [r for r in rows if not r.passed]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} checks passed" + (f"; {len(failed)} FAILED" if failed else ""))
    return 1 if failed or not rows else 0


# -- eval -------------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from ale_gym.harness.runner import evaluate
    from ale_gym.harness.store import read_records
    from ale_gym.harness.summary import format_summary

    try:
        summary = evaluate(args.agent, args.out, tasks=args.tasks, tiers=_split(args.tiers),
                           seeds=list(range(args.seed_start, args.seed_start + args.seeds)), workers=args.workers,
                           backend=args.backend, address=args.address, env_kwargs=_env_kwargs(args),
                           record=not args.no_record, retries=args.retries)
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(f"ale-gym: {exc}") from None
    print(format_summary(summary))
    errors = [r for r in read_records(Path(args.out)) if r.get("status") == "error"]
    print(f"\nresults: {Path(args.out) / 'episodes.jsonl'}; report: ale-gym report {args.out}")
    if errors:
        print(f"{len(errors)} episodes errored in the harness; rerun the same command to retry them", file=sys.stderr)
    return 1 if errors else 0


# -- report -----------------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from ale_gym.harness.report import write_report

    try:
        index = write_report(args.dir)
    except ValueError as exc:
        raise SystemExit(f"ale-gym: {exc}") from None
    print(index)
    return 0


# -- parser -----------------------------------------------------------------------------------------
def _add_env_options(parser: argparse.ArgumentParser, gui_help: str) -> None:
    parser.add_argument("--gui", action=argparse.BooleanOptionalAction, default=None, help=gui_help)
    parser.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="bwrap",
                        help="bwrap (default) jails agent code; none runs it unjailed on this machine")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ale-gym", description="Agents' Last Exam workflows as Gymnasium environments.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="tasks by cluster, subfield and tier, with the taxonomy's gaps")
    p.add_argument("--covered", action="store_true", help="hide subfields that have no task yet")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="a task's card, milestones and a sample instruction")
    p.add_argument("task")
    p.add_argument("--tier", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("play", help="play one episode, printing every step")
    p.add_argument("task")
    p.add_argument("--agent", default="oracle", help="nop, random, oracle, package.module:Class or file.py:Class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tier", default=None)
    p.add_argument("--record", metavar="DIR", default=None, help="keep the trajectory (steps.jsonl and frames) here")
    p.add_argument("--max-steps", type=int, default=None)
    _add_env_options(p, "run the virtual desktop (default: the task card's choice)")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("validate", help="the quality gate: oracle, nop, cheats, determinism, garbage")
    p.add_argument("tasks", nargs="*", help="task ids or names (default: every task)")
    p.add_argument("--tiers", nargs="+", default=None, help="tiers to check (default: all of each task)")
    p.add_argument("--seeds", type=int, default=2, help="number of seeds per tier (default 2)")
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="(task, tier, seed) units checked in parallel processes")
    p.add_argument("--spread", action="store_true",
                   help="deal each task's cheats and garbage checks out over its (tier, seed) units instead of "
                        "running all of them on every unit (the CI budget)")
    p.add_argument("--brief", action="store_true", help="leave the detail column out")
    _add_env_options(p, "force the desktop on (or off) for every episode; by default an episode gets one "
                        "only when its actions need it")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("eval", help="run an agent over the benchmark and summarise")
    p.add_argument("--agent", required=True, help="nop, random, oracle, package.module:Class or file.py:Class")
    p.add_argument("--tasks", default="*", help="comma-separated shell patterns over ids and names (default: all)")
    p.add_argument("--tiers", nargs="+", default=None)
    p.add_argument("--seeds", type=int, default=1, help="number of seeds per (task, tier)")
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--retries", type=int, default=2, help="retries of an episode whose worker died")
    p.add_argument("--out", required=True, help="run folder: episodes.jsonl, summary.json, trajectories/")
    p.add_argument("--no-record", action="store_true", help="do not record trajectories")
    p.add_argument("--max-steps", type=int, default=None)
    _add_env_options(p, "run the virtual desktop (default: the task card's choice)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("report", help="write a static HTML report of an eval run folder")
    p.add_argument("dir")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import ale_gym  # noqa: F401 - registers every task

    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
