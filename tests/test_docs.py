"""The README and docs/ point only at files that exist in this repository."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: A file path of the repository written in backticks, e.g. `kerasprop/models/runtime/inference.py`.
REPO_PATH = re.compile(r"`((?:kerasprop|presets|tests|benchmarks|notebooks|docs)/[\w./-]+?\.(?:py|md|json|ipynb))[`:]")
LINK = re.compile(r"\]\(([^)#\s]+)")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_file_a_page_names_exists(page):
    text = page.read_text()
    named = set(REPO_PATH.findall(text))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{page.name} names files that do not exist: {missing}"
    links = [link for link in LINK.findall(text) if "://" not in link and not link.startswith("mailto:")]
    broken = sorted(link for link in links if not (page.parent / link).resolve().exists())
    assert not broken, f"{page.name} links to missing files: {broken}"
    outside = sorted(link for link in links if ROOT not in (page.parent / link).resolve().parents)
    assert not outside, f"{page.name} links outside the repository: {outside}"


def test_the_docs_are_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"
