"""What one source file says about imports, read from its syntax tree: plain JSON-able data, cached.

For each import: the module as written (``level`` for relative ones), the names taken, the line,
whether it runs at import time (module or class body) or later (inside a function), whether a
``try``/``except ImportError`` or a version/platform test guards it, whether it sits under
``if TYPE_CHECKING:``. Also the line where each top-level name is first bound.
"""

from __future__ import annotations

import ast
from typing import Any

_GUARD_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_ENV_ATTRS = {("sys", "version_info"), ("sys", "platform"), ("sys", "implementation"), ("os", "name"),
              ("platform", "system"), ("platform", "machine"), ("platform", "python_implementation")}
_ENV_NAMES = {"PY2", "PY3", "PYPY", "WINDOWS", "IS_WINDOWS", "MACOS"}
_DYNAMIC = {"import_module", "__import__"}


def file_facts(source: bytes, path: str) -> dict[str, Any]:
    """Import records and top-level bindings of ``source``; ``syntax_error`` when it does not parse."""
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError) as exc:
        return {"imports": [], "defs": {}, "syntax_error": {"line": getattr(exc, "lineno", None) or 1,
                                                             "message": getattr(exc, "msg", str(exc))}}
    collector = _Collector(dynamic=b"import_module" in source or b"__import__" in source)
    collector.walk(tree.body)
    return {"imports": collector.imports, "defs": _top_level_defs(tree.body), "syntax_error": None}


class _Collector:
    """Walks statements only (expressions just where a dynamic import may hide): fast on big trees."""

    def __init__(self, dynamic: bool) -> None:
        self.imports: list[dict[str, Any]] = []
        self.dynamic = dynamic
        self.scope = "module"
        self.function: str | None = None
        self.guarded = 0
        self.type_checking = 0

    def _add(self, node: ast.AST, module: str, names: list[str], level: int, kind: str, bound: list[str]) -> None:
        self.imports.append({
            "module": module, "names": names, "bound": bound, "level": level, "line": node.lineno, "kind": kind,
            "scope": self.scope, "function": self.function, "guarded": self.guarded > 0,
            "type_checking": self.type_checking > 0,
        })

    def walk(self, statements: list[ast.stmt]) -> None:
        for node in statements:
            self.statement(node)

    def statement(self, node: ast.stmt) -> None:
        kind = type(node)
        if kind is ast.Import:
            for alias in node.names:
                self._add(node, alias.name, [], 0, "import", [alias.asname or alias.name.split(".")[0]])
        elif kind is ast.ImportFrom:
            names = [a.name for a in node.names]
            self._add(node, node.module or "", names, node.level or 0, "from",
                      [a.asname or a.name for a in node.names])
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            self.expressions(_defaults(node))  # decorators and defaults run where the def is
            outer = (self.scope, self.function)
            self.scope, self.function = "function", node.name
            self.walk(node.body)
            self.scope, self.function = outer
        elif kind is ast.ClassDef:
            self.expressions([*node.decorator_list, *node.bases])
            outer = self.scope
            self.scope = "class" if outer == "module" else outer
            self.walk(node.body)
            self.scope = outer
        elif kind is ast.If:
            self.expressions([node.test])
            if _is_type_checking(node.test):
                self.type_checking += 1
                self.walk(node.body)
                self.type_checking -= 1
                self.walk(node.orelse)
                return
            guards = _is_environment_test(node.test)
            self.guarded += guards
            self.walk(node.body), self.walk(node.orelse)
            self.guarded -= guards
        elif kind is ast.Try or kind is getattr(ast, "TryStar", None):
            guards = any(_catches_import_error(h) for h in node.handlers)
            self.guarded += guards
            self.walk(node.body)
            self.guarded -= guards
            for handler in node.handlers:
                self.walk(handler.body)
            self.walk(node.orelse), self.walk(node.finalbody)
        elif kind in (ast.With, ast.AsyncWith):
            self.expressions([item.context_expr for item in node.items])
            guards = any(_is_suppress_import_error(item.context_expr) for item in node.items)
            self.guarded += guards
            self.walk(node.body)
            self.guarded -= guards
        elif kind in (ast.For, ast.AsyncFor, ast.While):
            self.expressions([getattr(node, "iter", None) or getattr(node, "test", None)])
            self.walk(node.body), self.walk(node.orelse)
        elif kind is getattr(ast, "Match", None):
            self.expressions([node.subject])
            for case in node.cases:
                self.walk(case.body)
        elif self.dynamic:
            self.expressions([node])

    def expressions(self, nodes: list[Any]) -> None:
        """Record ``import_module("x")`` / ``__import__("x")`` calls inside these expressions."""
        if not self.dynamic:
            return
        for root in nodes:
            if root is None:
                continue
            for node in ast.walk(root):
                if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                    value = node.args[0].value
                    if name in _DYNAMIC and isinstance(value, str) and value and not value.startswith("."):
                        self._add(node, value, [], 0, "dynamic", [])


def _defaults(node: ast.AST) -> list[ast.AST]:
    args = getattr(node, "args", None)
    found = list(getattr(node, "decorator_list", []))
    if args is not None:
        found += [d for d in [*args.defaults, *args.kw_defaults] if d is not None]
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_last_name(t) in _GUARD_ERRORS for t in types)


def _is_suppress_import_error(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and _last_name(expr.func) == "suppress" and any(
        _last_name(a) in _GUARD_ERRORS for a in expr.args
    )


def _is_type_checking(test: ast.expr) -> bool:
    return _last_name(test) == "TYPE_CHECKING"


def _is_environment_test(test: ast.expr) -> bool:
    """A test of the Python version or platform: ``sys.version_info >= (3, 11)``, ``os.name == "nt"``..."""
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute) and (_last_name(node.value), node.attr) in _ENV_ATTRS:
            return True
        if isinstance(node, ast.Name) and node.id in _ENV_NAMES:
            return True
    return False


def _last_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _top_level_defs(body: list[ast.stmt]) -> dict[str, int]:
    """First line where each name is bound at module level (inside top-level if/try/with too)."""
    defs: dict[str, int] = {}

    def bind(name: str, line: int) -> None:
        defs.setdefault(name, line)

    def walk(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(node.name, node.lineno)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bind((alias.asname or alias.name).split(".")[0], node.lineno)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Name):
                            bind(leaf.id, node.lineno)
            elif isinstance(node, ast.If) and not _is_type_checking(node.test):
                walk(node.body), walk(node.orelse)
            elif isinstance(node, ast.If):
                walk(node.orelse)
            elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                walk(node.body), walk(node.orelse), walk(node.finalbody)
                for handler in node.handlers:
                    walk(handler.body)
            elif isinstance(node, (ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
                walk(node.body)

    walk(body)
    return defs
