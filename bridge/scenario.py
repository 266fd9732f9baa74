"""Scenarios: a TOML file that chains ``axon`` commands into one experiment.

A scenario names its output folder and lists steps; each step is one ``axon`` command
line in which ``{out}`` stands for the folder. A step may say which file it ``creates``:
when that file exists the step is skipped, so a run that failed half-way resumes where it
stopped (``--force`` re-runs everything). The runner writes ``scenario.json`` with each
step's status, wall time and CPU time (user + system, this process and the processes it
waited for; on a shared machine the wall time grows with the load, the CPU time hardly)
after every step, so nothing is lost when one fails::

    name = "demo"
    description = "reference network through the exact engine"
    out = "out/demo"
    minutes = 1                      # how long it takes on a 2-core machine

    [[step]]
    title = "Write the reference network"
    run = "example --out {out} --duration 5"
    creates = "{out}/model.h5"
"""
from __future__ import annotations

import json
import os
import shlex
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


def cpu_seconds() -> float:
    """User + system CPU time of this process and of the child processes it has waited for."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class Step:
    title: str
    run: str
    creates: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    out: str
    steps: tuple[Step, ...]
    minutes: float | None = None
    path: str = ""
    extra: dict = field(default_factory=dict)

    def expand(self, text: str, out: str | None = None) -> str:
        return text.replace("{out}", out or self.out)

    def argv(self, run: str, out: str | None = None) -> list[str]:
        """The step's command line as arguments: split first, then ``{out}`` replaced in
        each argument, so an output folder with spaces stays one argument."""
        return [self.expand(a, out) for a in shlex.split(run)]

    def command_line(self, run: str, out: str | None = None) -> str:
        """The step's command as a shell would need it typed (quoted where needed)."""
        return shlex.join(self.argv(run, out))


def load_scenario(path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the field."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such scenario file")
    try:
        d = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: not valid TOML ({e})") from None
    known = {"name", "description", "out", "minutes", "step"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{p}: unknown field(s) {unknown}; a scenario has {sorted(known)}")
    for key in ("name", "out"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise ValueError(f"{p}: '{key}' must be a non-empty string, got {d.get(key)!r}")
    raw = d.get("step")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{p}: a scenario needs at least one [[step]]")
    steps = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or not isinstance(s.get("run"), str) or not s["run"].strip():
            raise ValueError(f"{p}: step {i + 1} needs a 'run' string (an axon command line)")
        bad = sorted(set(s) - {"title", "run", "creates"})
        if bad:
            raise ValueError(f"{p}: step {i + 1} has unknown field(s) {bad}")
        steps.append(Step(str(s.get("title", s["run"])), s["run"], s.get("creates")))
    minutes = d.get("minutes")
    if minutes is not None and (not isinstance(minutes, (int, float)) or minutes <= 0):
        raise ValueError(f"{p}: 'minutes' must be a number > 0, got {minutes!r}")
    return Scenario(d["name"], str(d.get("description", "")), d["out"], tuple(steps), minutes, str(p))


def run_scenario(sc: Scenario, *, out: str | None = None, force: bool = False, echo=print) -> int:
    """Run the steps in order; stop at the first failure. Returns the exit status."""
    from bridge.cli import main as axon

    folder = Path(sc.expand("{out}", out))
    folder.mkdir(parents=True, exist_ok=True)
    record = {"scenario": sc.name, "file": sc.path, "out": str(folder), "steps": []}
    status = 0
    t_all, cpu_all = time.perf_counter(), cpu_seconds()
    for i, step in enumerate(sc.steps, 1):
        argv = sc.argv(step.run, out)
        cmd = shlex.join(argv)
        creates = sc.expand(step.creates, out) if step.creates else None
        entry = {"step": i, "title": step.title, "command": f"axon {cmd}"}
        if creates and Path(creates).exists() and not force:
            echo(f"\n== [{i}/{len(sc.steps)}] {step.title}: done before ({creates} exists), skipped")
            entry["status"] = "skipped"
        else:
            echo(f"\n== [{i}/{len(sc.steps)}] {step.title}\n$ axon {cmd}")
            t0, cpu0 = time.perf_counter(), cpu_seconds()
            rc = axon(argv)
            entry.update(status="ok" if rc == 0 else f"failed (exit {rc})", wall_s=round(time.perf_counter() - t0, 2),
                         cpu_s=round(cpu_seconds() - cpu0, 2))
            if rc == 0 and creates and not Path(creates).exists():
                entry["status"] = f"failed (did not create {creates})"
                rc = 1
            elif rc != 0 and creates and Path(creates).exists():
                # A failed step may still have written its output (a report saying what
                # failed): keep it under another name so the next run does not skip the step.
                kept = Path(creates).with_name(Path(creates).name + ".failed")
                os.replace(creates, kept)
                entry["output_of_failed_run"] = str(kept)
            status = rc
        record["steps"].append(entry)
        record["wall_s"] = round(time.perf_counter() - t_all, 2)
        record["cpu_s"] = round(cpu_seconds() - cpu_all, 2)
        entry["outputs"] = _step_outputs(argv, folder)
        (folder / "scenario.json").write_text(json.dumps(record, indent=2) + "\n")
        write_index(sc, record, folder)
        if status != 0:
            import sys
            print(f"axon run: error: scenario {sc.name!r} stopped at step {i} ({step.title}; "
                  f"{entry['status']}); fix it and run again: finished steps are skipped", file=sys.stderr)
            return status
    echo(f"\nscenario {sc.name!r} done in {record['wall_s']:.0f} s ({record['cpu_s']:.0f} s of CPU); results in {folder} "
         f"(start with {folder / 'index.md'})")
    return 0


def _step_outputs(argv: list[str], folder: Path) -> list[str]:
    """The Markdown pages and PNG figures under the paths a step's command names inside
    the scenario's folder (relative to it), sorted."""
    root = folder.resolve()
    found = set()
    for a in argv:
        try:
            p = Path(a).resolve()
        except (OSError, ValueError):
            continue
        if p == root or root not in p.parents:
            continue
        if p.is_dir():
            found.update(q for q in p.rglob("*") if q.suffix in (".md", ".png") and q.is_file())
        elif p.exists():
            found.update(q for q in p.parent.glob(p.stem + "*") if q.suffix in (".md", ".png") and q.is_file())
    return sorted(str(q.relative_to(root)) for q in found)


def write_index(sc: Scenario, record: dict, folder: Path) -> Path:
    """``index.md`` in the scenario's folder: every step with its command and status, and a
    link to every page and figure it wrote."""
    lines = [f"# Scenario `{sc.name}`", "", sc.description, "",
             f"Steps run by `axon run {sc.path}`; wall time so far {record.get('wall_s', 0):.0f} s "
             f"({record.get('cpu_s', 0):.0f} s of CPU). "
             "Machine-readable: `scenario.json`.", ""]
    for e in record["steps"]:
        lines += [f"## {e['step']}. {e['title']}", "", f"`{e['command']}` - {e['status']}"
                  + (f" in {e['wall_s']:.1f} s ({e['cpu_s']:.1f} s of CPU)" if "cpu_s" in e
                     else f" in {e['wall_s']:.1f} s" if "wall_s" in e else ""), ""]
        pages = [o for o in e.get("outputs", []) if o.endswith(".md")]
        figures = [o for o in e.get("outputs", []) if o.endswith(".png")]
        lines += [f"- page: [{o}]({o})" for o in pages]
        lines += [f"- figure: [{o}]({o})" for o in figures]
        if pages or figures:
            lines.append("")
    path = folder / "index.md"
    path.write_text("\n".join(lines) + "\n")
    return path
