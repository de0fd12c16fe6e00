"""Which environment variables a failing line of source depends on, read with ``ast``.

A value read by name (``os.getenv("X")``, ``os.environ.get("X")``, ``os.environ["X"]``, ``"X" in
os.environ``) reaches the line directly, or through the names it assigned earlier in the same scope
(``url = os.getenv("DATABASE_URL")``, ``parsed = urlparse(url)``, then ``parsed.path.lstrip("/")``).
A ``raise`` is reached by the test of the ``if`` it stands in, so ``if not SECRET: raise ...`` depends
on what ``SECRET`` was read from; an ``assert`` by its test.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from preflight import source

_MAX_DEPTH = 6


@dataclass(frozen=True)
class Read:
    name: str
    defaultless: bool  # no default, or a default of None: unset gives None
    line: int


def reaching(path: str, line: int) -> list[Read]:
    """The reads of variables by name whose values the statement at ``path:line`` uses, in order
    (those on the line itself first); empty when the source cannot be read."""
    tree = source.parse(path)
    if tree is None:
        return []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    statement = _statement_at(tree, line)
    if statement is None:
        return []
    roots = _evaluated(statement, line, parents)
    found: dict[str, Read] = {}
    _follow(roots, statement, parents, found, seen=set(), depth=0)
    return list(found.values())


def _statement_at(tree: ast.Module, line: int) -> ast.stmt | None:
    """The innermost statement spanning ``line``."""
    spanning = [node for node in ast.walk(tree)
                if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)]
    return min(reversed(spanning), key=lambda node: (node.end_lineno or node.lineno) - node.lineno, default=None)


def _evaluated(statement: ast.stmt, line: int, parents: dict) -> list[ast.AST]:
    """The expressions of ``statement`` that ran at ``line``: those starting on it when there are any
    (the rest of a many-line statement did not fail), and a ``raise``'s ``if`` test."""
    own = [c for c in ast.iter_child_nodes(statement) if not isinstance(c, (ast.stmt, ast.excepthandler))]
    on_line = [n for c in own for n in ast.walk(c) if getattr(n, "lineno", None) == line]
    roots = on_line or own
    if isinstance(statement, ast.Raise) and isinstance(parents.get(statement), ast.If):
        roots = [*roots, parents[statement].test]
    return roots


def _follow(roots: list[ast.AST], at: ast.stmt, parents: dict, found: dict[str, Read], seen: set, depth: int) -> None:
    for root in roots:
        for node in ast.walk(root):
            read = _read(node)
            if read and read.name not in found:
                found[read.name] = read
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and depth < _MAX_DEPTH \
                    and node.id not in seen:
                seen.add(node.id)
                assigned = _last_assignment(node.id, at, parents)
                if assigned is not None:
                    _follow([assigned[1]], assigned[0], parents, found, seen, depth + 1)


def _last_assignment(name: str, before: ast.stmt, parents: dict) -> tuple[ast.stmt, ast.AST] | None:
    """The statement that last bound ``name`` to a value before ``before``, in its function's scope,
    else at module level, and that value."""
    scope = _scope(before, parents)
    while scope is not None:
        last = None
        for node in _walk_scope(scope):
            value = _bound_value(node, name)
            if value is not None and node.lineno < before.lineno and (last is None or node.lineno >= last[0].lineno):
                last = (node, value)
        if last:
            return last
        scope = None if isinstance(scope, ast.Module) else _scope(scope, parents)
    return None


def _scope(node: ast.AST, parents: dict) -> ast.AST | None:
    parent = parents.get(node)
    while parent is not None and not isinstance(parent, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
        parent = parents.get(parent)
    return parent


def _walk_scope(scope: ast.AST):
    """The statements of ``scope``, not those of the functions and classes it defines."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _bound_value(node: ast.AST, name: str) -> ast.AST | None:
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
        return node.value
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
            and node.target.id == name and node.value is not None:
        return node.value
    return None


def _read(node: ast.AST) -> Read | None:
    """``node`` reads one variable by a literal name: ``getenv``/``environ.get`` (with or without a
    default), ``environ[...]``, or ``"X" in environ``."""
    if isinstance(node, ast.Call) and node.args and _literal(node.args[0]) and (
            _named(node.func, "getenv") or isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and _named(node.func.value, "environ")):
        default = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg in ("default", "value")), None)
        defaultless = default is None or isinstance(default, ast.Constant) and default.value is None
        return Read(node.args[0].value, defaultless, node.lineno)
    if isinstance(node, ast.Subscript) and _named(node.value, "environ") and _literal(node.slice):
        return Read(node.slice.value, False, node.lineno)
    if isinstance(node, ast.Compare) and _literal(node.left) and len(node.ops) == 1 \
            and isinstance(node.ops[0], (ast.In, ast.NotIn)) and _named(node.comparators[0], "environ"):
        return Read(node.left.value, False, node.lineno)
    return None


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier()


def _named(node: ast.AST, name: str) -> bool:
    """``name`` or ``something.name``: ``getenv``, ``os.getenv``, ``environ``, ``os.environ``."""
    return isinstance(node, ast.Name) and node.id == name or isinstance(node, ast.Attribute) and node.attr == name


def raises(path: str, line: int) -> bool:
    """The statement at ``path:line`` is a ``raise`` or an ``assert``: the code failed on purpose."""
    tree = source.parse(path)
    return isinstance(_statement_at(tree, line) if tree else None, (ast.Raise, ast.Assert))


def scope_reads_environment(path: str, line: int) -> bool:
    """The function around ``path:line`` (or its module, at top level) reads the environment at all,
    by a name it computes too (``os.getenv(name)``)."""
    tree = source.parse(path)
    statement = _statement_at(tree, line) if tree else None
    if statement is None:
        return False
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return any(_named(node, "getenv") or _named(node, "environ")
               for node in ast.walk(_scope(statement, parents) or tree))
