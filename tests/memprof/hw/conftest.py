"""Shared fixtures of the counter tests: a fake resctrl tree built from tests/fixtures/resctrl/tree.txt."""

from pathlib import Path

import pytest

TREE = Path(__file__).parents[2] / "fixtures" / "resctrl" / "tree.txt"


def build_resctrl_tree(root: Path) -> Path:
    """Materialise tree.txt ('== path' headers, then content lines) under ``root``."""
    path = None
    content: dict[str, list[str]] = {}
    for line in TREE.read_text().splitlines():
        if line.startswith("== "):
            path = line[3:].strip()
            content[path] = []
        elif path is not None:
            content[path].append(line.strip())
    for rel, lines in content.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + ("\n" if lines else ""))
    return root


@pytest.fixture
def fake_resctrl(tmp_path) -> Path:
    return build_resctrl_tree(tmp_path / "resctrl")
