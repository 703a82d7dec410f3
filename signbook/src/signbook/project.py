"""Where the book lives: its chapters, its repository and its website, read from the book's own files.

The repository URL is written in one place, ``repository.url`` in ``_config.yml``. Everything that points
at the project (launch buttons, install cells, links into the website, raw URLs of committed data)
is derived from it here, so a fork changes that one line, or the publishing workflow rewrites it with
:func:`set_repository` from the repository the workflow runs in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SITE_ENV = "SIGNBOOK_SITE_URL"
_GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class Chapter:
    """One page of the table of contents: ``docname`` is its path without suffix (``book/muon``)."""

    docname: str
    path: Path
    number: int | None

    @property
    def name(self) -> str:
        """The page's file name without suffix (``muon``): the chapter's short name."""
        return Path(self.docname).name


@dataclass(frozen=True)
class Project:
    """The book at ``root``: configuration, table of contents and the URLs derived from them."""

    root: Path

    @property
    def config(self) -> dict:
        """``_config.yml``, read afresh (``set_repository`` may have rewritten it)."""
        return yaml.safe_load((self.root / "_config.yml").read_text())

    @property
    def repository_url(self) -> str:
        """``repository.url`` of ``_config.yml``: ``https://github.com/OWNER/NAME``, checked."""
        url = str(self.config["repository"]["url"]).rstrip("/")
        if not _GITHUB.fullmatch(url):
            raise ValueError(
                f"repository.url in _config.yml must look like https://github.com/OWNER/NAME (got {url!r})"
            )
        return url

    @property
    def branch(self) -> str:
        """``repository.branch`` (default ``main``): what the launch buttons open."""
        return str(self.config["repository"].get("branch", "main"))

    @property
    def owner_and_name(self) -> tuple[str, str]:
        """``(OWNER, NAME)`` of the repository's URL."""
        owner, name = self.repository_url.removeprefix("https://github.com/").split("/")
        return owner, name

    @property
    def site_url(self) -> str:
        """The website's address: GitHub Pages of the repository, unless ``SIGNBOOK_SITE_URL`` says otherwise."""
        if os.environ.get(SITE_ENV):
            return os.environ[SITE_ENV].rstrip("/") + "/"
        owner, name = self.owner_and_name
        if name.lower() == f"{owner.lower()}.github.io":
            return f"https://{owner.lower()}.github.io/"
        return f"https://{owner.lower()}.github.io/{name}/"

    def raw_url(self, ref: str) -> str:
        """Base URL of the repository's files at ``ref`` (a branch or a commit)."""
        owner, name = self.owner_and_name
        return f"https://raw.githubusercontent.com/{owner}/{name}/{ref}/"

    def page_url(self, docname: str, anchor: str = "") -> str:
        """The website's URL of page ``docname`` (``book/muon``), at ``anchor`` if given."""
        return f"{self.site_url}{docname}.html" + (f"#{anchor}" if anchor else "")

    def chapters(self) -> list[Chapter]:
        """Every page of ``_toc.yml`` in reading order, numbered as the website numbers them."""
        toc = yaml.safe_load((self.root / "_toc.yml").read_text())
        numbered = bool(toc.get("options", {}).get("numbered", False))
        pages = [Chapter(toc["root"], self._source(toc["root"]), None)]
        for k, entry in enumerate(toc.get("chapters", []), start=1):
            pages.append(
                Chapter(entry["file"], self._source(entry["file"]), k if numbered else None)
            )
        return pages

    def notebooks(self) -> list[Chapter]:
        """The chapters that are notebooks (the ones the editions are made of)."""
        return [c for c in self.chapters() if c.path.suffix == ".ipynb"]

    def _source(self, docname: str) -> Path:
        for suffix in (".ipynb", ".md"):
            path = self.root / f"{docname}{suffix}"
            if path.exists():
                return path
        raise ValueError(f"_toc.yml names {docname!r}, which is neither .ipynb nor .md")


def set_repository(config: Path, url: str, branch: str | None = None) -> None:
    """Rewrite ``repository.url`` (and ``repository.branch``) in ``config``, keeping its comments.

    The publishing workflow calls this with ``https://github.com/${{ github.repository }}``, so any
    fork publishes with its own address without a commit.
    """
    if not _GITHUB.fullmatch(url):
        raise ValueError(f"url must look like https://github.com/OWNER/NAME (got {url!r})")
    text = config.read_text()
    block = re.search(r"^repository:\n((?:[ \t]+.*\n|\n)*)", text, re.M)
    if block is None:
        raise ValueError(f"{config} has no repository: section")
    body = re.sub(r"^([ \t]+url:).*$", rf"\1 {url}", block.group(1), count=1, flags=re.M)
    if branch is not None:
        body = re.sub(r"^([ \t]+branch:).*$", rf"\1 {branch}", body, count=1, flags=re.M)
    config.write_text(text[: block.start(1)] + body + text[block.end(1) :])
