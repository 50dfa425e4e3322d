"""The keyword arguments of a bp_app class, read from its source file without importing it.

Importing a model or a data module imports torch and Lightning, seconds before a misspelled key
could be named. Reading the class's ``def __init__`` from the source takes milliseconds, so the
early check (``check_train_config(cfg, imports=False)``) names such a key at once. It follows
``**kwargs`` to the first base class, as ``keys.accepted_keywords`` follows the MRO, and answers
None (not known) whenever the source does not say: a class outside bp_app, a base it cannot
find, a decorator-built class. The full check, after the imports, stays the authority.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "bp_app."


ROOT = Path(__file__).resolve().parents[1]  # the bp_app package folder


@cache
def module_tree(module: str) -> ast.Module | None:
    """The parsed source of a bp_app module, found by its path: no package __init__ runs
    (importlib's find_spec would import the parents, and bp_app.backprop.explicit's imports torch).
    """
    if not module.startswith(PACKAGE):
        return None
    folder = ROOT.joinpath(*module.split(".")[1:])
    for source in (folder.with_suffix(".py"), folder / "__init__.py"):
        if source.is_file():
            return ast.parse(source.read_text(encoding="utf-8"), str(source))
    return None


def find_class(module: str, name: str) -> tuple[str, ast.ClassDef] | None:
    """The class ``name`` as ``module`` defines or imports it from another bp_app module."""
    tree = module_tree(module)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return module, node
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return find_class(node.module, alias.name)
    return None


def init_of(klass: ast.ClassDef) -> ast.FunctionDef | None:
    for node in klass.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return node
    return None


def static_keywords(target: str) -> set[str] | None:
    """The keyword arguments of the class ``target`` (a dotted path), or None if not known."""
    module, _, name = target.rpartition(".")
    found = find_class(module, name)
    names: set[str] = set()
    while found is not None:
        module, klass = found
        if klass.decorator_list:
            return None  # a dataclass or similar writes its own __init__
        init = init_of(klass)
        if init is not None:
            arguments = init.args
            names |= {a.arg for a in [*arguments.args, *arguments.kwonlyargs]}
            if arguments.kwarg is None:
                return names - {"self"}
        if not klass.bases or not isinstance(klass.bases[0], ast.Name):
            return None  # pl.LightningModule, a generic base: the source does not say
        base = klass.bases[0].id
        found = find_class(module, base)
    return None
