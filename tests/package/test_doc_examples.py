"""Every Python block in README.md and docs/ runs (blocks of a page in order, sharing one
namespace, in a temporary folder). A block right after a line ``<!-- illustrative ... -->``
is only parsed: it shows code that needs what a test machine lacks (a GPU, a folder of
photos)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)$")
ILLUSTRATIVE = "<!-- illustrative"


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(first line, code, illustrative) of each ```python block of a Markdown text."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, info = match["indent"], match["info"].strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if info.split(" ")[0] == "python":
            previous = next((ln for ln in reversed(lines[: start - 1]) if ln.strip()), "")
            blocks.append((start + 1, "\n".join(body), previous.strip().startswith(ILLUSTRATIVE)))
    return blocks


def run_page(path: Path, workdir: Path) -> int:
    """Run a page's blocks in ``workdir``; returns how many ran. Raises on the first failure,
    naming the page and line."""
    namespace: dict = {"__name__": f"doc_{path.stem}"}
    ran = 0
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for line, code, illustrative in python_blocks(path.read_text(encoding="utf-8")):
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"
            tree = compile(code, where, "exec")  # every block must at least parse
            if illustrative:
                continue
            try:
                exec(tree, namespace)
            except Exception as error:
                raise AssertionError(f"the block at {where} failed: {error!r}") from error
            ran += 1
    finally:
        os.chdir(cwd)
    return ran


def test_the_pages_have_python_blocks():
    counts = {p.name: len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES}
    assert counts["README.md"] >= 2 and sum(counts.values()) >= 10, counts


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_runs(page, tmp_path):
    run_page(page, tmp_path)


def test_a_broken_block_fails_and_names_its_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\ntext\n\n<!-- illustrative: a GPU -->\n"
        "```python\nimport nothing_of_the_kind\n```\n\n```python\nassert x == 2\n```\n"
    )
    blocks = python_blocks(page.read_text())
    assert [(line, illustrative) for line, _, illustrative in blocks] == [
        (4, False),
        (11, True),
        (15, False),
    ]
    with pytest.raises(AssertionError, match=r"page.md:15 failed: AssertionError"):
        run_page(page, tmp_path)
    page.write_text("```python\nx = (\n```\n")
    with pytest.raises(SyntaxError):
        run_page(page, tmp_path)
