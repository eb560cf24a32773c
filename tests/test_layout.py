"""The dependency rules of accounts/, read from the source: imports point one way, and domains meet at their doors."""

import ast
from pathlib import Path

import accounts

ROOT = Path(accounts.__file__).parent
ABOVE = {"views", "review_views", "forms", "admin", "urls", "pages", "management"}  # what people and commands reach
SHARED = {"cognito", "rules", "audit", "models"}  # every package may import these
DOORS = {"services", "selectors"}  # the only modules another domain imports
ENTRIES = {"admin", "management", "urls", "tasks"}  # where the domains are put together: they import any of them
# Crossings left as they are (each would move a module another domain also owns); remove a line when it is fixed.
KNOWN_CROSSINGS = {
    ("accounts.applications.api", "accounts.directory.revocations"),
    ("accounts.applications.api", "accounts.signin.tokens"),
    ("accounts.applications.services", "accounts.pool.bootstrap"),
    ("accounts.applications.views", "accounts.directory.forms"),
    ("accounts.applications.views", "accounts.pool.checks"),
    ("accounts.bulk.forms", "accounts.directory.forms"),
    ("accounts.bulk.imports", "accounts.directory.index"),
    ("accounts.bulk.views", "accounts.directory.forms"),
    ("accounts.directory.services", "accounts.signin.standing"),
    ("accounts.pages", "accounts.pool.health"),
    ("accounts.signin.flows.session", "accounts.directory.revocations"),
    ("accounts.signin.throttle", "accounts.applications.ratelimit"),
}


def _modules() -> dict[str, Path]:
    """Return accounts' modules (migrations aside) by dotted name."""
    found = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" not in path.parts:
            name = ".".join(("accounts", *path.relative_to(ROOT).with_suffix("").parts))
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Return the modules of accounts this module imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _above(name: str) -> bool:
    """Return True for a module people or commands reach: views, forms, admin, urls, commands."""
    return bool(ABOVE & set(name.split(".")[1:]))


def _package(name: str) -> str:
    """Return the module's domain: its package under accounts/ (a flat module is its own)."""
    return name.split(".")[1] if name != "accounts" else ""


def _reach(name: str) -> set[str]:
    """Return every module this module imports, directly or through others."""
    seen, todo = set(), [name]
    while todo:
        for target in GRAPH[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_no_module_imports_one_that_imports_it_back():
    assert not sorted(name for name in GRAPH if name in _reach(name))


def test_nothing_below_the_views_imports_views_forms_or_admin():
    upward = {
        (name, target) for name, targets in GRAPH.items() if not _above(name) for target in targets if _above(target)
    }
    assert not sorted(upward)


def test_a_domain_reaches_another_only_through_its_services_or_selectors():
    crossings = {
        (name, target)
        for name, targets in GRAPH.items()
        for target in targets
        if _package(target) not in SHARED | {_package(name)}
        and len(target.split(".")) > 2
        and target.rsplit(".", 1)[1] not in DOORS
        and _package(name) not in ENTRIES
    }
    assert crossings == KNOWN_CROSSINGS
