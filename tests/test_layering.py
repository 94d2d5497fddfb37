"""The import graph, read from the source with ast: dependencies point one way and nothing is in a cycle.

Order, from the top: dashboard and surveys (siblings: neither imports the other) → measures →
audit (the access log) → sessions_app → accounts. alliance_site (settings, URLs, the Celery app) sits above them all.
measures/engine imports no Django and nothing outside itself. Every import counts, at module
level or inside a function: a function-level import is still a dependency (and hides a cycle).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANK = {"accounts": 0, "sessions_app": 1, "audit": 2, "measures": 3, "surveys": 4, "dashboard": 4, "alliance_site": 5}
APPS = ("accounts", "sessions_app", "audit", "measures", "surveys", "dashboard")  # what is scanned
NO_CYCLES_IN = ("measures", "surveys", "dashboard")
ENGINE = "measures.engine"
ENGINE_FORBIDDEN = ("django", "celery", "kombu", *RANK)


def project_modules(root, apps=APPS):
    """Module name → path for every module of the apps present (migrations left out)."""
    modules = {}
    for app in apps:
        if not (root / app).is_dir():
            continue  # e.g. surveys/ before it exists
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(name, path):
    """The full dotted name of everything the module imports ("a.b.c" for `from a.b import c`),
    relative imports resolved, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def resolve(target, modules):
    """The project module a dotted name lives in (its longest known prefix), or None."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def import_graph(modules):
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in imported_names(name, path):
            module = resolve(target, modules)
            # A module's own ancestors run anyway when it is imported: not a dependency edge.
            if module and module != name and not name.startswith(module + "."):
                edges.add(module)
        graph[name] = edges
    return graph


def app_of(name):
    return name.split(".")[0]


def upward_imports(modules):
    """(importer, imported) pairs that break the layering."""
    wrong = []
    for name, path in modules.items():
        for target in sorted(imported_names(name, path)):
            app, target_app = app_of(name), app_of(target)
            if target_app not in RANK or target_app == app:
                continue
            if RANK[target_app] >= RANK[app]:
                wrong.append((name, target))
    return wrong


def engine_escapes(modules):
    """Imports of measures.engine modules that reach Django or any other part of the project."""
    wrong = []
    for name, path in modules.items():
        if name != ENGINE and not name.startswith(ENGINE + "."):
            continue
        for target in sorted(imported_names(name, path)):
            if target == ENGINE or target.startswith(ENGINE + "."):
                continue
            if target.split(".")[0] in ENGINE_FORBIDDEN:
                wrong.append((name, target))
    return wrong


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# The project ---------------------------------------------------------------------------------


def test_no_module_imports_upward():
    modules = project_modules(ROOT)
    assert "measures.evaluation" in modules and "dashboard.views" in modules  # the scan found the apps
    assert upward_imports(modules) == []


def test_the_engine_imports_no_django_and_nothing_outside_itself():
    assert engine_escapes(project_modules(ROOT)) == []


def test_no_module_of_measures_surveys_or_dashboard_is_in_an_import_cycle():
    in_cycles = [c for c in cycles(import_graph(project_modules(ROOT))) if any(app_of(m) in NO_CYCLES_IN for m in c)]
    assert in_cycles == []


# The checker itself, on small trees: each rule can fail ---------------------------------------


def write_tree(root, files):
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for app in {relative.split("/")[0] for relative in files}:
        (root / app / "__init__.py").touch()
    return project_modules(root)


def test_the_checker_finds_an_upward_import_even_inside_a_function(tmp_path):
    modules = write_tree(
        tmp_path,
        {
            "sessions_app/models.py": "from accounts.models import Clinic\n",
            "accounts/models.py": "def f():\n    from sessions_app.models import Case\n",
            "dashboard/views.py": "from measures.models import Signal\n",
            "measures/models.py": "",
        },
    )
    assert upward_imports(modules) == [("accounts.models", "sessions_app.models.Case")]


def test_the_checker_refuses_imports_between_the_sibling_apps(tmp_path):
    modules = write_tree(tmp_path, {"surveys/views.py": "import dashboard.pages\n", "dashboard/pages.py": ""})
    assert upward_imports(modules) == [("surveys.views", "dashboard.pages")]


def test_the_checker_finds_a_cycle_through_relative_and_function_level_imports(tmp_path):
    modules = write_tree(
        tmp_path,
        {
            "measures/actions/__init__.py": "",
            "measures/actions/invitations.py": "from ..tasks import send\n",
            "measures/tasks.py": "def send():\n    from .notifications import email\n",
            "measures/notifications.py": "from measures.actions import invitations\n",
            "measures/queue.py": "",
        },
    )
    assert cycles(import_graph(modules)) == [
        ["measures.actions.invitations", "measures.notifications", "measures.tasks"]
    ]


def test_the_checker_finds_the_engine_reaching_out(tmp_path):
    modules = write_tree(
        tmp_path,
        {
            "measures/engine/__init__.py": "from .data import X\n",
            "measures/engine/data.py": "import numpy\nfrom django.utils import timezone\n",
            "measures/engine/risk.py": "from measures import engine\nfrom measures.models import Signal\n",
        },
    )
    assert engine_escapes(modules) == [
        ("measures.engine.data", "django.utils.timezone"),
        ("measures.engine.risk", "measures.models.Signal"),
    ]
