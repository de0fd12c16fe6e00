"""Where an undefined name sits: code that runs, or an annotation, and whether anything evaluates it.

An annotation is evaluated at run time unless ``from __future__ import annotations`` (or Python
3.14+) defers it, it is a string, or it annotates a local variable. Frameworks evaluate some
deferred ones anyway: pydantic model fields, dataclass fields, SQLAlchemy ``Mapped[...]`` columns,
and the signatures of FastAPI endpoints and dependencies. Those count as code that runs.
"""

from __future__ import annotations

import ast
from typing import Any, Iterator

RUNTIME, DEFERRED, EVALUATED = "runtime", "deferred", "evaluated"
_MODEL_BASES = {"BaseModel", "BaseSettings", "RootModel", "SQLModel", "GenericModel", "Document", "Schema"}
_MODEL_SUFFIXES = ("Model", "Schema", "Settings")
_DATACLASS = {"dataclass", "define", "frozen", "mutable", "attrs", "s"}
_ROUTES = {"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route", "route",
           "websocket", "websocket_route", "middleware", "exception_handler", "on_event"}
_PARAMS = {"Depends", "Security", "Query", "Path", "Body", "Header", "Cookie", "Form", "File"}


def classify(source: bytes, path: str, items: list[dict[str, Any]], python: tuple[int, int]) -> list[dict[str, Any]]:
    """Place each raw finding; TYPE_CHECKING findings move to their first use at run time."""
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError):
        return [dict(i, context=RUNTIME) for i in items]
    lines = source_text(source).splitlines()
    scanner = _Scanner(tree, python, dependencies=b"Depends" in source or b"Security" in source)
    out = []
    placed_bindings = set()  # ruff's TC004 and our own check may both find one binding
    for item in items:
        item = {k: v for k, v in item.items() if k != "filename"}
        if item["code"] == "TC004":
            placed = _type_checking(item, scanner)
            if placed is not None and (placed["name"], placed["bound_line"]) not in placed_bindings:
                placed_bindings.add((placed["name"], placed["bound_line"]))
                out.append(placed)
            continue
        offset = item.get("offset")
        if offset is None:
            offset = _byte_offset(lines, item["line"], item["col"])
        context, why = scanner.context_at(item["line"], offset)
        item.update(context=context, function=scanner.scope_at(item["line"], offset))
        if why:
            item["why"] = why
        out.append(item)
    return out


def source_text(source: bytes) -> str:
    """``source`` decoded as Python reads it (``declared_text``), else as UTF-8 with replacements."""
    text = declared_text(source)
    return source.decode("utf-8", errors="replace") if text is None else text


def declared_text(source: bytes) -> str | None:
    """``source`` decoded by its BOM or PEP 263 coding cookie (default UTF-8); None when it does not decode."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return None


def type_checking_only(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, line) of names bound only under module-level ``if TYPE_CHECKING:``."""
    elsewhere = _bound_outside_type_checking(tree)
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and _terminal(node.test) == "TYPE_CHECKING":
            for name, line in _bindings(node.body):
                if name not in elsewhere:
                    found.setdefault(name, line)
    return list(found.items())


def _type_checking(item: dict[str, Any], scanner: _Scanner) -> dict[str, Any] | None:
    """Move a TC004 finding from its import line to the first line that needs the name at run time."""
    candidates = [(n, line) for n, line in type_checking_only(scanner.tree) if line == item["line"]]
    if len(candidates) > 1:
        candidates = [c for c in candidates if item["name"].split(".")[-1] == c[0]] or candidates[:1]
    verify = item.pop("verify", False)
    if not candidates:
        return None if verify else dict(item, context=RUNTIME, bound_line=item["line"])
    name, bound = candidates[0]
    use = scanner.first_runtime_use(name)
    if use is None:
        return None if verify else dict(item, name=name, context=RUNTIME, bound_line=bound)
    line, offset = use
    context, why = scanner.context_at(line, offset)  # code that runs, or an annotation a framework evaluates
    placed = dict(item, name=name, line=line, col=None, context=context, bound_line=bound,
                  function=scanner.scope_at(line, offset))
    if why:
        placed["why"] = why
    return placed


class _Scanner:
    """Annotation spans (with whether they are evaluated) and function scopes of one module."""

    def __init__(self, tree: ast.Module, python: tuple[int, int], dependencies: bool = True) -> None:
        self.tree = tree
        future = any(
            isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
            for n in tree.body
        )
        self.deferred_why = ("`from __future__ import annotations`" if future
                             else "Python 3.14+ defers annotations" if python >= (3, 14) else None)
        self.spans: list[tuple[tuple[int, int], tuple[int, int], str, str | None]] = []
        self.scopes: list[tuple[tuple[int, int], tuple[int, int], str]] = []
        self.dependencies = {
            _terminal(n.args[0]) for n in ast.walk(tree)
            if isinstance(n, ast.Call) and _terminal(n.func) in ("Depends", "Security") and n.args
        } if dependencies else set()
        self.models: set[str] = set()
        self._walk(tree.body, prefix="", in_function=False, model=None)

    def _walk(self, body: list[ast.stmt], prefix: str, in_function: bool, model: str | None) -> None:
        for node in body:
            self._statement(node, prefix, in_function, model)

    def _statement(self, node: ast.stmt, prefix: str, in_function: bool, model: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            self.scopes.append((_start(node), _end(node), f"{name}()"))
            framework = self._endpoint(node)
            for annotation in _signature_annotations(node):
                self._annotation(annotation, evaluated_by=framework)
            self._walk(node.body, name + ".", in_function=True, model=None)
        elif isinstance(node, ast.ClassDef):
            name = prefix + node.name
            self.scopes.append((_start(node), _end(node), f"class {name}"))
            kind = self._model_kind(node)
            if kind:
                self.models.add(node.name)
            self._walk(node.body, name + ".", in_function=in_function, model=kind)
        elif isinstance(node, ast.AnnAssign):
            if in_function and model is None:
                self._annotation(node.annotation, never="a local variable annotation (never evaluated)")
            else:
                mapped = any(_terminal(n) == "Mapped" for n in ast.walk(node.annotation))
                by = model or ("SQLAlchemy evaluates `Mapped[...]` columns" if mapped and prefix else None)
                self._annotation(node.annotation, evaluated_by=by)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    for child in children:
                        if isinstance(child, ast.ExceptHandler):
                            self._walk(child.body, prefix, in_function, model)
                        elif isinstance(child, ast.stmt):
                            self._statement(child, prefix, in_function, model)
            for case in getattr(node, "cases", []) or []:
                self._walk(case.body, prefix, in_function, model)

    def _annotation(self, node: ast.expr, evaluated_by: str | None = None, never: str | None = None) -> None:
        if never:
            self.spans.append((_start(node), _end(node), DEFERRED, never))
            return
        if evaluated_by:
            self.spans.append((_start(node), _end(node), EVALUATED, evaluated_by))
            return
        if self.deferred_why:
            self.spans.append((_start(node), _end(node), DEFERRED, f"an annotation deferred by {self.deferred_why}"))
        else:
            self.spans.append((_start(node), _end(node), EVALUATED, "an annotation evaluated when its line runs"))
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                self.spans.append((_start(sub), _end(sub), DEFERRED, "a string annotation (never evaluated)"))

    def _endpoint(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
        for decorator in node.decorator_list:
            func = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(func, ast.Attribute) and func.attr in _ROUTES:
                return "FastAPI evaluates endpoint signatures"
        if node.name in self.dependencies:
            return "FastAPI evaluates dependency signatures"
        defaults = [*node.args.defaults, *node.args.kw_defaults]
        if any(isinstance(d, ast.Call) and _terminal(d.func) in _PARAMS for d in defaults if d is not None):
            return "FastAPI evaluates endpoint signatures"
        return None

    def _model_kind(self, node: ast.ClassDef) -> str | None:
        for decorator in node.decorator_list:
            func = decorator.func if isinstance(decorator, ast.Call) else decorator
            if _terminal(func) in _DATACLASS:
                return "dataclass fields are evaluated by frameworks (pydantic, get_type_hints)"
        for base in node.bases:
            name = _terminal(base) or ""
            if name in _MODEL_BASES or name in self.models or name.endswith(_MODEL_SUFFIXES):
                return "pydantic evaluates model fields"
        return None

    def context_at(self, line: int, offset: int) -> tuple[str, str | None]:
        best = None
        for start, end, context, why in self.spans:
            if start <= (line, offset) < end and (best is None or start >= best[0]):
                best = (start, context, why)
        return (best[1], best[2]) if best else (RUNTIME, None)

    def scope_at(self, line: int, offset: int) -> str | None:
        best = None
        for start, end, name in self.scopes:
            if start <= (line, offset) < end and (best is None or start >= best[0]):
                best = (start, name)
        return best[1] if best else None

    def first_runtime_use(self, name: str) -> tuple[int, int] | None:
        uses = sorted(
            (n.lineno, n.col_offset) for n in ast.walk(self.tree)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        )
        return next((u for u in uses if self.context_at(*u)[0] != DEFERRED), None)


def _signature_annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr]:
    args = node.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None and arg.annotation is not None:
            yield arg.annotation
    if node.returns is not None:
        yield node.returns


def _bound_outside_type_checking(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and _terminal(node.test) == "TYPE_CHECKING":
            names.update(n for n, _ in _bindings(node.orelse))
        else:
            names.update(n for n, _ in _bindings([node]))
    return names


def _bindings(body: list[ast.stmt]) -> Iterator[tuple[str, int]]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                yield (alias.asname or alias.name).split(".")[0], node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        yield leaf.id, node.lineno
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _bindings([*getattr(node, "body", []), *getattr(node, "orelse", []),
                                  *getattr(node, "finalbody", [])])
            for handler in getattr(node, "handlers", []):
                yield from _bindings(handler.body)


def _terminal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _terminal(node.func)
    if isinstance(node, ast.Subscript):
        return _terminal(node.value)
    return None


def _start(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.AST) -> tuple[int, int]:
    return node.end_lineno or node.lineno, node.end_col_offset or 0


def _byte_offset(lines: list[str], line: int, col: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text[: max(0, col - 1)].encode("utf-8"))
