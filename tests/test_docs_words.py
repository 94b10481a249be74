"""The documentation speaks to its readers: no issue-tracker references, no words about how the work was
organised (sessions, helpers, the lead) and no names of the development machines' tools in ``docs/*.md``,
``README.md``, the docstrings of the ``infantjax`` package, or the module docstrings of ``benchmarks/`` and
``experiments/``.

A hit names the file, the line and the words, so the sentence can be rewritten to say what the code does, the
figure and its command; the history of the figures lives in docs/changelog.md, held to the same words."""
from __future__ import annotations

import ast
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]

#: (name, pattern): each exact enough that the words it finds are never the project's own vocabulary.
_SOURCES = (
    ("issue reference", r"\bissues?[\s-]*#?\d+"),
    # "(#11)" and above: the project's own numbering ("Table A.4 #1" ... "#10") stays below
    ("issue reference", r"\(#(?:1[1-9]|[2-9]\d|\d{3,})\)"),
    ("session words", (r"\b(?:this|the|that|a|each|earlier|later|previous|next|first|second|third|fourth)"
                       r"\s+sessions?\b(?!\s+(?:fixture|scope|cookie|storage|object|state|id)\b)")),
    ("session words", r"\bsessions'"),
    ("session words", r"\bthis wave\b"),
    ("session words", r"\bthe lead(?:'s)?\b(?!\s+(?:time|frame|joint|axis|dimension|axes|sample))"),
    ("session words", r"\b(?:a|the|this|our|my)\s+helpers?\b(?!\s+(?:function|module|class|script|method))"),
    ("machine tools", r"\bdevice tool\b"),
    ("machine tools", r"`status`'s"),
    ("machine tools", r"\bbudget_left(?:_s)?\b"),
    ("machine tools", r"\bgive_back\b"),
    ("machine tools", r"\bfiles_(?:at|fetch)\b"),
    ("machine tools", r"\blent\s+(?:machine|GPU|H100|H200|device|accelerator)s?\b"),
    ("machine tools", r"/work/(?:\.library|bench|briefs|main|shared)\b"),
)
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _SOURCES)


def _hits(text: str, first_line: int = 1) -> list[tuple[int, str, str]]:
    found = []
    for name, pattern in PATTERNS:
        for match in pattern.finditer(text):
            found.append((first_line + text.count("\n", 0, match.start()), name, match.group(0)))
    return found


def _markdown_files() -> list[pathlib.Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _docstrings(path: pathlib.Path, modules_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = [tree] if modules_only else [tree, *(n for n in ast.walk(tree) if isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    found = []
    for node in nodes:
        body = getattr(node, "body", [])
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            found.append((body[0].value.lineno, body[0].value.value))
    return found


def _python_files() -> list[tuple[pathlib.Path, bool]]:
    package = [(p, False) for p in sorted((REPO / "infantjax").rglob("*.py"))]
    scripts = [(p, True) for folder in ("benchmarks", "experiments")
               for p in sorted((REPO / folder).glob("*.py"))]
    return package + scripts


def _report(hits: list[str]) -> str:
    head = f"{len(hits)} place(s) speak about the project's organisation instead of to its users:"
    return "\n".join([head, *hits])


def test_patterns_find_what_they_are_for_and_spare_ordinary_words():
    bad = ("fixed in issue 37", "see issue #12", "the fold split (#48)", "before pre-issue-20 code",
           "measured in this session", "the second session's run", "the earlier sessions' machine",
           "this wave adds", "the lead's idle run", "the helper reported", "with the device tool",
           "`status`'s kind", "budget_left_s", "on the lent H100", "/work/.library/device/README.md")
    for text in bad:
        assert _hits(text), text
    fine = ("a pytest session fixture", "a Chromium browser session", "session-scoped",
            "the lead time of a frame", "the issue's title",
            "Table A.4 #1", "#2's 7 folds", "the best (#1) and (#10)", "a helper function",
            "the model was lent weight", "the `status` column", "issued 5 calls", "a GPU lent to a user")
    for text in fine:
        assert not _hits(text), (text, _hits(text))


def test_docs_and_readme_speak_to_users():
    hits = [f"{path.relative_to(REPO)}:{line}: {name}: {words!r}"
            for path in _markdown_files() for line, name, words in _hits(path.read_text())]
    assert not hits, _report(hits)


def test_docstrings_speak_to_users():
    hits = []
    for path, modules_only in _python_files():
        for first_line, text in _docstrings(path, modules_only):
            hits += [f"{path.relative_to(REPO)}:{line}: {name}: {words!r}"
                     for line, name, words in _hits(text, first_line)]
    assert not hits, _report(hits)


def test_every_markdown_file_and_package_module_is_read():
    names = {p.name for p in _markdown_files()}
    assert {"README.md", "index.md", "performance.md", "changelog.md"} <= names
    assert len(_python_files()) > 50
