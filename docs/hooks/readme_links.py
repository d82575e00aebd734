"""MkDocs hook: the site's home page is the README. docs/index.md stands in for it; its links
and pictures point into docs/ from the repository root, and on the site they are siblings."""

from __future__ import annotations

from pathlib import Path


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != "index.md":
        return markdown
    readme = Path(config.config_file_path).parent / "README.md"
    return readme.read_text(encoding="utf-8").replace("](docs/", "](")
