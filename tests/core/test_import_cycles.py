"""Imports between the business modules go one way: no cycle, core imports none.

A business module is a sub-package of app/ (app/clients, app/billing, ...).
Two checks:

* dynamic: every .py file of app/ is imported as the first project import
  of a fresh process and must import cleanly, whatever came first; a
  seeded sample of those processes then imports every other file too, in a
  seeded shuffled order;
* static: every import of `app.<module>` written in app/, module-level or
  inside a function, is an edge of the module graph, which must have no
  cycle; app/core and app/extensions.py are plumbing and import no business
  module at all. A function-local import that hides a cycle from the
  interpreter is still a cycle here: the point is that dependencies go one
  way. And no function-local import crosses from one module into another.
"""
import ast
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
PLUMBING = "core"
# Plumbing beside app/core: the extension objects every module uses (db, csrf, migrate).
PLUMBING_FILES = {"app.extensions"}
# Not edges: the application package itself (the composition root, create_app),
# and the list of all models every module may import.
SHARED = {"app", "app.models"}
SEED = 20240601
# Processes that import all the other files after their first one. Each
# costs ~0.6 s of CPU (mapper configuration, PDF stack), so doing it in all
# ~100 would take ~30 s on two cores; the first imports alone take ~10 s.
SHUFFLED_PASSES = 6


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def app_files():
    return sorted(p for p in APP.rglob("*.py") if "__pycache__" not in p.parts)


def business_modules():
    return sorted(p.name for p in APP.iterdir() if (p / "__init__.py").is_file())


# --- dynamic: each file first in a fresh process -------------------------

# Runs in a fresh interpreter. It imports only the third-party modules that
# any `import app...` imports anyway (the module-level imports of
# app/__init__.py and of the project files it imports, in their order),
# then forks one child per target: the child has no project module loaded
# and imports its target first; children in `shuffled` then import all the
# others in a seeded shuffled order. Forking saves the ~0.8 s of
# Flask-AppBuilder/SQLAlchemy/Alembic start-up that a new interpreter per
# file would pay (~60 s in all on two cores).
FORK_SERVER = r"""
import importlib, json, os, random, sys, traceback
config = json.loads(sys.stdin.read())
for name in config["preload"]:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m == "app" or m.startswith("app.") or m == "config")
if loaded:
    sys.exit("preloading imported project modules: %s" % loaded)
everything, results, running = config["targets"], {}, {}

def reap():
    pid, status = os.wait()
    results[running.pop(pid)] = os.waitstatus_to_exitcode(status)

for index, target in enumerate(everything):
    while len(running) >= config["jobs"]:
        reap()
    pid = os.fork()
    if pid == 0:
        code, current = 1, target
        try:
            importlib.import_module(target)
            rest = [t for t in everything if t != target] if target in config["shuffled"] else []
            random.Random("%s:%s" % (config["seed"], target)).shuffle(rest)
            for current in rest:
                importlib.import_module(current)
            code = 0
        except BaseException:
            with open(os.path.join(config["out"], "%d.txt" % index), "w") as report:
                phase = "first import" if current == target else "then importing %s" % current
                report.write("%s\n%s" % (phase, traceback.format_exc()))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    running[pid] = target
while running:
    reap()
print(json.dumps(results))
"""

ONE_FILE = r"""
import importlib, random, sys
seed, target, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
importlib.import_module(target)
random.Random("%s:%s" % (seed, target)).shuffle(rest)
for other in rest:
    importlib.import_module(other)
"""


def is_project(name):
    return name.split(".")[0] in ("app", "config")


def project_file(dotted):
    """The file of a project module ("app.audit.versioning"), or None (a name imported from a module)."""
    path = ROOT.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def leading_third_party_imports(path, seen=None):
    """The third-party modules `import app` imports anyway, in order: the module-level imports of `path`,
    following each project import into its file (once each)."""
    seen = set() if seen is None else seen
    seen.add(path)
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            # `from app.audit import versioning` imports app/audit/versioning.py; `from flask import Flask`, flask.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module] \
                if is_project(node.module) else [node.module]
        else:
            continue  # a relative import is a project import, and followed by the absolute ones
        if not is_project(names[0]):
            found += [name for name in names if name not in found]
            continue
        for name in names:
            target = project_file(name)
            if target is not None and target not in seen:
                found += [more for more in leading_third_party_imports(target, seen) if more not in found]
    return found


def workers():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def summarise(failures):
    """One paragraph per distinct error: the error, where, which files hit it, one traceback."""
    groups = defaultdict(list)
    for target, (phase, trace) in failures.items():
        trace = trace.replace(f'"{ROOT}{os.sep}', '"')
        lines = trace.strip().splitlines() or ["(no traceback)"]
        ours = [line.strip() for line in lines if line.strip().startswith('File "app')]
        groups[lines[-1], ours[-1] if ours else ""].append((target, phase, trace))
    paragraphs = []
    for (error, where), hits in groups.items():
        files = ", ".join(f"{target} ({phase})" for target, phase, _ in hits)
        paragraphs.append(f"{error}\n  at {where}\n  {len(hits)} file(s): {files}\n\n{hits[0][2]}")
    return "\n\n".join(paragraphs)


@pytest.mark.once  # imports the code, not the database: the same in both of CI's runs
def test_every_file_imports_first_in_a_fresh_process(tmp_path):
    targets = [module_name(path) for path in app_files()]
    shuffled = sorted(random.Random(SEED).sample(targets, min(SHUFFLED_PASSES, len(targets))))
    failures = {}  # target: (phase, traceback)
    started = time.monotonic()
    if hasattr(os, "fork"):
        config = {
            "preload": leading_third_party_imports(APP / "__init__.py"), "targets": targets,
            "shuffled": shuffled, "seed": SEED, "out": str(tmp_path), "jobs": workers(),
        }
        run = subprocess.run([sys.executable, "-c", FORK_SERVER], input=json.dumps(config), cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        codes = json.loads(run.stdout.strip().splitlines()[-1])
        for index, target in enumerate(targets):
            report = tmp_path / f"{index}.txt"
            if target not in codes:
                failures[target] = ("never run", "")
            elif codes[target]:
                text = report.read_text() if report.exists() else f"exit code {codes[target]}\n"
                failures[target] = tuple(text.split("\n", 1))
    else:  # no fork (Windows): one interpreter per file, slower
        for target in targets:
            rest = targets if target in shuffled else []
            run = subprocess.run([sys.executable, "-c", ONE_FILE, str(SEED), target, *rest], cwd=ROOT,
                                 capture_output=True, text=True, timeout=120)
            if run.returncode:
                failures[target] = ("first import or after", run.stderr)
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} of {len(targets)} files fail when imported first in a fresh process " \
        f"(then all others, in: {', '.join(shuffled)}) [{elapsed:.1f} s]:\n\n" + summarise(failures)


# --- static: the module graph ---------------------------------------------

class Import(NamedTuple):
    source: str  # app/billing/services.py
    line: int
    target: str  # app.invoices.services
    local: bool  # inside a function body

    def __str__(self):
        where = "function-local" if self.local else "module-level"
        return f"{self.source}:{self.line} imports {self.target} ({where})"


def imports_of(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    relative = str(path.relative_to(ROOT))

    def targets(node):
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module
        # `from app import clients` names a module; `from app.core import money` imports app.core.
        if module == "app":
            return [f"app.{alias.name}" for alias in node.names]
        return [module]

    def walk(node, local):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in targets(child):
                    yield Import(relative, child.lineno, target, local)
            yield from walk(child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    return list(walk(tree, False))


def module_of(dotted, modules):
    if dotted in PLUMBING_FILES:
        return PLUMBING
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[0] == "app" and parts[1] in modules:
        return parts[1]
    return None


def module_graph():
    """{(from module, to module): [Import, ...]} over every file of app/."""
    modules = set(business_modules())
    edges = defaultdict(list)
    for path in app_files():
        source = module_of(module_name(path), modules)
        if source is None:  # app/__init__.py, app/models.py
            continue
        for found in imports_of(path):
            if found.target in SHARED:
                continue
            target = module_of(found.target, modules)
            if target is not None and target != source:
                edges[source, target].append(found)
    return edges


def strongly_connected(nodes, successors):
    """Tarjan: the components with more than one module (no module imports itself here)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in successors[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def elementary_cycles(component, successors, limit=1000):
    """The simple cycles inside one component, each once, from its smallest module; at most `limit`."""
    members = set(component)
    cycles = []

    def extend(path, on_path):
        for nxt in sorted(successors[path[-1]] & members):
            if len(cycles) >= limit:
                return
            if nxt == path[0]:
                cycles.append(list(path))
            elif nxt > path[0] and nxt not in on_path:
                on_path.add(nxt)
                path.append(nxt)
                extend(path, on_path)
                path.pop()
                on_path.discard(nxt)

    for start in sorted(members):
        extend([start], {start})
    return sorted(cycles, key=lambda cycle: (len(cycle), cycle))


def arrow(cycle):
    return " → ".join(cycle + cycle[:1])


def test_no_import_cycle_between_modules():
    edges = module_graph()
    successors = defaultdict(set)
    for source, target in edges:
        successors[source].add(target)
    components = strongly_connected(business_modules(), successors)
    if not components:
        return
    cycles = [cycle for component in components for cycle in elementary_cycles(component, successors)]
    # Plumbing that everyone imports multiplies the cycles: those that stay once it imports no module come first.
    business = [cycle for cycle in cycles if PLUMBING not in cycle]
    on_cycles = sorted({(a, b) for cycle in cycles for a, b in zip(cycle, cycle[1:] + cycle[:1])})
    message = [f"{len(cycles)} import cycle(s) between business modules, in {len(components)} tangle(s):"]
    message += [f"  tangle of {len(c)} modules: {', '.join(c)}" for c in components]
    message += ["", f"{len(business)} of them do not go through app/{PLUMBING} (they stay once "
                "test_core_imports_no_business_module passes):"]
    message += [f"  - {arrow(cycle)}" for cycle in business]
    message += ["", f"All {len(cycles)} cycles, shortest first:"]
    message += [f"  {number}. {arrow(cycle)}" for number, cycle in enumerate(cycles, 1)]
    message += ["", "The edges on those cycles and the imports that make each (a function-local import counts):"]
    into_plumbing = []
    for source, target in on_cycles:
        imports = edges[source, target]
        if target == PLUMBING:  # the right direction: the edge to cut is core's own import
            into_plumbing.append(f"{source} ({len(imports)})")
            continue
        kind = "function-local only" if all(found.local for found in imports) else "module-level"
        message.append(f"  {source} → {target} [{kind}]:")
        message += [f"      {found}" for found in imports]
    if into_plumbing:
        message.append(f"  and imports of app.{PLUMBING} (the right direction) from: {', '.join(into_plumbing)}")
    raise AssertionError("\n".join(message))


def test_core_imports_no_business_module():
    edges = module_graph()
    wrong = [found for (source, target), imports in sorted(edges.items()) if source == PLUMBING
             for found in imports]
    assert not wrong, f"app/{PLUMBING} and app/extensions.py are plumbing: they may import only app.{PLUMBING}, " \
        "app.extensions and third-party code, but:\n" + "\n".join(f"    {found}" for found in wrong)


def test_no_function_local_import_crosses_a_module():
    """A function that imports from another module hides a dependency (usually a cycle) from the reader: the
    module imports it at the top, or the other module reacts to an event."""
    modules = set(business_modules())
    crossing = []
    for path in app_files():
        source = module_of(module_name(path), modules)
        for found in imports_of(path):
            target = module_of(found.target, modules) if found.target not in SHARED else None
            if found.local and target is not None and target != source:
                crossing.append(found)
    assert not crossing, "function-local imports from another module:\n" + "\n".join(f"    {found}"
                                                                                        for found in crossing)
