"""One guarded way to change state: no code writes a status column except through the
compare-and-set methods on the models (docs/pipeline.md). This reads the source, so a new
write path that bypasses them fails here before it can race in production."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "articles", "comments", "newsletter", "newsroom")
STATUS_FIELDS = {"status", "status_changed_at"}

# (file, enclosing function) → why it may write a status column directly. Everything in a
# models.py may (the guarded methods live there); nothing else may.
ALLOWED: dict[tuple[str, str], str] = {}


def python_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def is_exception_class(node: ast.ClassDef) -> bool:
    return any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception")) for b in node.bases)


class StatusWrites(ast.NodeVisitor):
    """Collects (line, function, what) for every direct write of a status column."""

    def __init__(self) -> None:
        self.scope: list[str] = []
        self.found: list[tuple[int, str, str]] = []

    def _visit_scope(self, node) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        # HTTP errors carry a `status` code, not a row's status; Meta names indexes, not writes.
        if not is_exception_class(node) and node.name != "Meta":
            self._visit_scope(node)

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_scope

    def _record(self, node: ast.AST, what: str) -> None:
        self.found.append((node.lineno, ".".join(self.scope), what))

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name in ("update", "bulk_update", "update_or_create"):
            keys = {k.arg for k in node.keywords if k.arg} | {
                k.value
                for k in node.keywords
                if isinstance(k.value, ast.Dict)
                for k in k.value.keys
                if isinstance(k, ast.Constant)
            }
            if keys & STATUS_FIELDS:
                self._record(node, f".{name}({', '.join(sorted(keys & STATUS_FIELDS))}=…)")
        for keyword in node.keywords:
            if keyword.arg in ("update_fields", "fields") and STATUS_FIELDS & {
                c.value for c in ast.walk(keyword.value) if isinstance(c, ast.Constant)
            }:
                self._record(node, f"{keyword.arg} naming a status column")
        self._raw_sql(node, name)
        self.generic_visit(node)

    def _raw_sql(self, node: ast.Call, name: str) -> None:
        if name in ("execute", "raw", "RawSQL") and any(
            isinstance(c, ast.Constant) and isinstance(c.value, str) and "set status" in c.value.lower()
            for arg in node.args
            for c in ast.walk(arg)
        ):
            self._record(node, "raw SQL setting a status")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            for element in ast.walk(target):
                if isinstance(element, ast.Attribute) and element.attr in STATUS_FIELDS:
                    self._record(node, f"assignment to .{element.attr}")
        self.generic_visit(node)


def status_writes() -> list[str]:
    found = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        visitor = StatusWrites()
        visitor.visit(ast.parse(path.read_text(), filename=relative))
        for line, function, what in visitor.found:
            if not relative.endswith("/models.py") and (relative, function) not in ALLOWED:
                found.append(f"{relative}:{line} in {function or '<module>'}: {what}")
    return found


def test_status_columns_are_written_only_through_the_guarded_methods():
    assert status_writes() == []


def test_the_check_sees_a_direct_status_write(tmp_path):
    source = (
        "def approve(article):\n"
        "    article.status = 'published'\n"
        "    article.save(update_fields=['status'])\n"
        "    Article.objects.filter(pk=1).update(status='published')\n"
        "    connection.cursor().execute(\"UPDATE articles_article SET status = 'published'\")\n"
    )
    visitor = StatusWrites()
    visitor.visit(ast.parse(source))
    assert [what for _line, _function, what in visitor.found] == [
        "assignment to .status",
        "update_fields naming a status column",
        ".update(status=…)",
        "raw SQL setting a status",
    ]
