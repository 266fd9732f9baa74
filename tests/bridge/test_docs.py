"""The documentation points at things that exist: every relative link of the README and
docs/ resolves (file and heading), and docs/architecture.md names every module there is
and no module there is not (issue 16: the README cited design notes that were not in the
repository)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", "DEVELOPERS.md", "scenarios/README.md", "docs/semantics.md", "docs/architecture.md",
         "docs/benchmarks.md"]


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ +(.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    p = ROOT / page
    assert p.exists(), page
    text = re.sub(r"```.*?```", "", p.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    for link in links:
        if re.match(r"[a-z]+://|mailto:", link):
            continue
        target, _, anchor = link.partition("#")
        dest = (p.parent / target).resolve() if target else p
        assert dest.exists(), f"{page}: link {link!r} points at a missing file"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page}: link {link!r}: no heading with that anchor in {dest.name}"


def test_the_readme_links_the_three_docs():
    text = (ROOT / "README.md").read_text()
    for doc in ("docs/semantics.md", "docs/architecture.md", "docs/benchmarks.md"):
        assert f"]({doc}" in text, doc
    for stale in ("SEMANTICS.md", "BENCHMARKS.md", "ARCHITECTURE.md"):
        assert stale not in text, stale


# Being rewritten by the exact-engine rework, which will point them at docs/semantics.md.
_NOT_YET: set[str] = set()


def test_no_file_cites_the_design_notes_that_are_not_in_the_repository():
    stale = re.compile(r"\b(SEMANTICS|BENCHMARKS|ARCHITECTURE|STYLE)\.md")
    bad = []
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT).as_posix()
        if (p.suffix not in (".py", ".md", ".toml") or rel.startswith((".", "tests/bridge/test_docs.py"))
                or "/." in rel or rel in _NOT_YET or not p.is_file()):
            continue
        bad += [f"{rel}: {m.group(0)}" for m in stale.finditer(p.read_text(errors="replace"))]
    assert not bad, "cite docs/semantics.md, docs/architecture.md or docs/benchmarks.md instead: " + "; ".join(bad)


def test_example_help_points_at_the_docs(capsys):
    from bridge.cli import main

    with pytest.raises(SystemExit):
        main(["example", "--help"])
    out = capsys.readouterr().out
    assert "docs/benchmarks.md" in out and "BENCHMARKS.md" not in out


def test_architecture_map_matches_the_folders():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:sim|training|bridge|tests|benchmarks|scenarios|docs)/[\w/.]*)`", text))
    for path in named:
        assert (ROOT / path.rstrip("/")).exists(), f"docs/architecture.md names {path}, which does not exist"
    modules = [p.relative_to(ROOT).as_posix() for pkg in ("sim", "training", "bridge")
               for p in (ROOT / pkg).rglob("*.py") if p.name != "__init__.py"]
    for m in modules:
        folder = m.rsplit("/", 1)[0] + "/"
        assert m in named or folder in named, f"{m} is not on the map in docs/architecture.md"


def test_semantics_keeps_a_marked_time_representation_section():
    text = (ROOT / "docs" / "semantics.md").read_text()
    assert "## Time representation" in text
