"""``axon run SCENARIO.toml``: run a whole experiment (a chain of axon commands)."""
from __future__ import annotations

HELP = "run a scenario (scenarios/*.toml): a chain of axon commands with resumable steps"


def add_arguments(parser) -> None:
    parser.add_argument("scenario", help="scenario file, e.g. scenarios/demo.toml")
    parser.add_argument("--out", default=None, help="output folder (default: the scenario's 'out')")
    parser.add_argument("--force", action="store_true", help="re-run steps whose output already exists")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")


def run(args) -> int:
    from bridge.scenario import load_scenario, run_scenario

    sc = load_scenario(args.scenario)
    if args.list:
        print(f"{sc.name}: {sc.description}")
        for i, s in enumerate(sc.steps, 1):
            print(f"  {i}. {s.title}\n     axon {sc.command_line(s.run, args.out)}")
        return 0
    return run_scenario(sc, out=args.out, force=args.force)
