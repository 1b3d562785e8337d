"""Stage dependencies that cannot go stale (issue 15, item 3).

Every project module a DVC stage runs must be covered by that stage's `deps` in dvc.yaml (the
module file is a dep, or lies under a dep folder): otherwise editing it leaves `dvc status`
saying "up to date" while the outputs no longer match the code.

Which modules a stage runs is recorded, not read off dvc.yaml:

- at import (fast, always on): a subprocess imports the stage's command exactly as the
  `txresponse` CLI does (its click group looks the command up in `pipeline.cli.COMMANDS` and
  imports the module) and lists the project modules in `sys.modules`. Heavy third-party
  libraries are imported once first and each stage is recorded in a forked child, so all the
  stages take a few seconds, not one MLflow import each;
- in the source: imports made inside functions (run lazily, missed by importing) are found with
  `ast`, following them from module to module;
- at run time (slow, with the end-to-end tests): each stage's real command, with its real
  arguments from dvc.yaml, runs in a copy of the project after the stages before it, and dumps
  `sys.modules` and the files it opened when it exits. The files opened catch what is not
  imported: package templates and the configuration registries.

Package data declared in pyproject.toml (report templates) belongs to the package that reads it,
so a stage importing that package needs its data covered too.
"""
from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "features", "models")
# The `txresponse` dispatcher runs before every stage: it picks the stage's module (which this
# test follows, so a changed mapping shows up as the new module) and turns errors into
# messages; no output of any stage depends on it. What it imports only for its own checks
# (models.tracking, to find the tracking store) is not followed.
DISPATCH_ONLY = {"pipeline/cli.py"}


# --- dvc.yaml ------------------------------------------------------------------------------

def _lookup(context: dict, key: str):
    value = context
    for part in key.strip().split("."):
        value = value[part]
    return value


def _interpolate(text: str, context: dict) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(context, m.group(1))), text)


def _dep_path(dep) -> str:
    return next(iter(dep)) if isinstance(dep, dict) else dep


def load_stages(root: Path) -> dict[str, dict]:
    """{stage: {"argv": [...], "deps": [...], "params_files": {...}}} with `${...}` resolved
    from the `vars` of dvc.yaml, as DVC resolves them."""
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    context: dict = {}
    for entry in pipeline.get("vars", []):
        context.update(yaml.safe_load((root / entry).read_text()) if isinstance(entry, str)
                       else entry)
    stages = {}
    for name, stage in pipeline["stages"].items():
        deps = [Path(_interpolate(_dep_path(d), context)).as_posix()
                for d in stage.get("deps", [])]
        params_files = {"configs/params.yaml"}
        for entry in stage.get("params", []):
            if isinstance(entry, dict):
                params_files.update(entry)
        stages[name] = {"argv": shlex.split(_interpolate(stage["cmd"], context)),
                        "deps": deps, "params_files": params_files}
    return stages


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def command_module(argv: list[str]) -> str:
    from pipeline.cli import COMMANDS

    assert argv[0] == "txresponse", f"stage command is not a txresponse command: {argv}"
    assert argv[1] in COMMANDS, f"unknown txresponse command {argv[1]!r}"
    return argv[1]


# --- the source ----------------------------------------------------------------------------

def _module_file(root: Path, dotted: str) -> str | None:
    """`a/b.py` or `a/b/__init__.py` of a project module, or None."""
    if dotted.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*dotted.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate.relative_to(root).as_posix()
    return None


def _dotted(file: str) -> str:
    parts = Path(file).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of nodes inside `if TYPE_CHECKING:` (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for branch in node.body for inner in ast.walk(branch))
    return skipped


@cache
def imported_names(root: Path, file: str) -> tuple[str, ...]:
    """Every module name `file` imports, at any level (function bodies included), plus
    `importlib.import_module("...")` with a literal name."""
    tree = ast.parse((root / file).read_text(), filename=file)
    skipped = _type_checking_only(tree)
    package = _dotted(file) if file.endswith("__init__.py") else _dotted(file).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)  # submodules
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module")
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return tuple(names)


def _with_packages(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def source_closure(root: Path, start: set[str]) -> set[str]:
    """`start` and every project module their source imports, at any level, transitively."""
    found, queue = set(), list(start)
    while queue:
        file = queue.pop()
        if file in found:
            continue
        found.add(file)
        if file in DISPATCH_ONLY:
            continue
        for name in imported_names(root, file):
            for dotted in _with_packages(name):
                module = _module_file(root, dotted)
                if module is not None and module not in found:
                    queue.append(module)
    return found


def docstring_only(root: Path, file: str) -> bool:
    """A package `__init__.py` holding nothing but a docstring cannot change any output."""
    if not file.endswith("__init__.py"):
        return False
    body = ast.parse((root / file).read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
               for node in body)


def package_data(root: Path, modules: set[str]) -> set[str]:
    """Files pyproject.toml ships as package data of the packages among `modules`."""
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"].get(
        "package-data", {})
    files = set()
    for package, patterns in declared.items():
        init = package.replace(".", "/") + "/__init__.py"
        if init in modules:
            for pattern in patterns:
                folder = root / package.replace(".", "/")
                files.update(p.relative_to(root).as_posix() for p in folder.glob(pattern))
    return files


def uncovered(root: Path, needed: set[str], deps: list[str]) -> list[str]:
    return sorted(file for file in needed
                  if file not in DISPATCH_ONLY and not docstring_only(root, file)
                  and not covered(file, deps))


# --- recording imports ---------------------------------------------------------------------

# Imports the third-party modules the project's code imports (each once, so a forked child
# only pays for project modules), then records each command in a forked child, as the CLI
# imports it: `txresponse <name>` -> the click group's get_command -> COMMANDS[name].main.
_RECORD_IMPORTS = r"""
import importlib, json, os, sys
root = os.getcwd()
commands, third_party = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def project_files():
    found = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file:
            path = os.path.abspath(file)
            rel = os.path.relpath(path, root)
            if rel.split(os.sep)[0] in ("pipeline", "features", "models"):
                found.add(rel.replace(os.sep, "/"))
    return sorted(found)
for name in third_party:
    try:
        importlib.import_module(name)
    except Exception:
        pass
early = project_files()
assert not early, f"importing third-party modules imported project modules: {early}"
results = {}
for command in commands:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            import click, typer
            from pipeline import cli
            group = typer.main.get_command(cli.app)
            assert group.get_command(click.Context(group), command) is not None
            answer = {"modules": project_files()}
        except BaseException as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        with os.fdopen(write, "w") as stream:
            json.dump(answer, stream)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as stream:
        results[command] = json.load(stream)
    os.waitpid(pid, 0)
print(json.dumps(results))
"""


def _third_party_imports(root: Path) -> list[str]:
    names = set()
    for package in PACKAGES:
        for file in (root / package).rglob("*.py"):
            for name in imported_names(root, file.relative_to(root).as_posix()):
                if name.split(".")[0] not in PACKAGES:
                    names.add(name)
    return sorted(names)


@cache
def imported_at_import() -> dict[str, set[str]]:
    """{command: project modules importing the command imports}, for every stage command."""
    commands = sorted({command_module(stage["argv"]) for stage in load_stages(REPO).values()})
    result = subprocess.run(
        [sys.executable, "-B", "-c", _RECORD_IMPORTS, json.dumps(commands),
         json.dumps(_third_party_imports(REPO))],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = json.loads(result.stdout.splitlines()[-1])
    errors = {c: r["error"] for c, r in recorded.items() if "error" in r}
    assert not errors, f"commands failed to import: {errors}"
    return {command: set(r["modules"]) for command, r in recorded.items()}


def needed_modules(name: str) -> set[str]:
    stage = load_stages(REPO)[name]
    modules = source_closure(REPO, imported_at_import()[command_module(stage["argv"])])
    return modules | package_data(REPO, modules)


STAGES = list(load_stages(REPO))


@pytest.mark.parametrize("name", STAGES)
def test_every_module_a_stage_imports_is_in_its_deps(name):
    deps = load_stages(REPO)[name]["deps"]
    missing = uncovered(REPO, needed_modules(name), deps)
    assert not missing, (f"stage {name!r} runs these project files but dvc.yaml does not list "
                         f"them (or a folder holding them) in its deps: {missing}")


@pytest.mark.parametrize("name", STAGES)
def test_every_code_dep_of_a_stage_is_used_by_it(name):
    """The other way round: a listed code file or folder the stage never runs only makes it
    re-run for nothing (and names a file that may no longer exist)."""
    needed = needed_modules(name)
    code_deps = [dep for dep in load_stages(REPO)[name]["deps"]
                 if dep.split("/")[0] in PACKAGES]
    unused = [dep for dep in code_deps if not any(covered(file, [dep]) for file in needed)]
    assert not unused, f"stage {name!r} lists code deps it never runs: {unused}"


def test_the_recorder_sees_lazy_imports():
    """The recorder itself: a function-level import is found in the source."""
    assert "models.metrics" in imported_names(REPO, "models/subgroups.py")
    assert "models/metrics.py" in source_closure(REPO, {"models/subgroups.py"})
    # and what the dispatcher imports only for its own checks is not followed
    assert "models/tracking.py" not in source_closure(REPO, {"pipeline/cli.py"})


# --- recording at run time -----------------------------------------------------------------

# Runs `txresponse ...` as its console script does, and on exit (typer always exits through
# SystemExit) writes the project modules loaded and the files opened.
_RECORD_RUN = r"""
import atexit, json, os, sys
record, argv = sys.argv[1], sys.argv[2:]
opened = set()
def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.add(os.path.abspath(os.fsdecode(args[0])))
sys.addaudithook(audit)
def dump():
    import pipeline
    root = os.path.dirname(os.path.dirname(os.path.abspath(pipeline.__file__)))
    modules = sorted({os.path.abspath(m.__file__) for m in list(sys.modules.values())
                      if getattr(m, "__file__", None)})
    with open(record, "w") as stream:
        json.dump({"root": root, "modules": modules, "opened": sorted(opened)}, stream)
atexit.register(dump)
sys.argv = argv
from pipeline.cli import app
sys.exit(app())
"""


def _project_relative(paths: list[str], root: Path, tops: tuple[str, ...]) -> set[str]:
    found = set()
    for path in paths:
        try:
            rel = Path(path).relative_to(root)
        except ValueError:
            continue
        if rel.parts and rel.parts[0] in tops:
            found.add(rel.as_posix())
    return found


@pytest.fixture(scope="module")
def stages_run(tmp_path_factory):
    """{stage: (project files it ran, read), stage's deps}, from every stage's real command run
    in order in a copy of the project."""
    from tests.e2e.project import copy_project, run

    root = tmp_path_factory.mktemp("project")
    env = copy_project(REPO, root)
    records = tmp_path_factory.mktemp("records")
    runs = {}
    for name, stage in load_stages(root).items():
        record = records / f"{name}.json"
        run([sys.executable, "-B", "-c", _RECORD_RUN, str(record), *stage["argv"]], root, env)
        recorded = json.loads(record.read_text())
        assert Path(recorded["root"]) == root, "the stage ran code outside the copy"
        code = _project_relative(recorded["modules"], root, PACKAGES)
        read = _project_relative(recorded["opened"], root, PACKAGES + ("configs",))
        runs[name] = (code | {f for f in read if not f.endswith((".py", ".pyc"))}, stage)
    return root, runs


@pytest.mark.slow
@pytest.mark.parametrize("name", STAGES)
def test_every_file_a_stage_runs_or_reads_is_in_its_deps(stages_run, name):
    root, runs = stages_run
    needed, stage = runs[name]
    # Parameters are tracked key by key under `params:`, not as a whole file.
    needed = {file for file in needed if file not in stage["params_files"]}
    missing = uncovered(root, needed, stage["deps"])
    assert not missing, (f"stage {name!r} ran or read these project files but dvc.yaml does "
                         f"not list them (or a folder holding them) in its deps: {missing}")


@pytest.mark.slow
@pytest.mark.parametrize("name", STAGES)
def test_the_source_scan_finds_what_each_stage_ran(stages_run, name):
    """The fast tests above are only as good as their recording: everything a stage really
    imported when it ran, the import-time recording and the source scan found too."""
    _, runs = stages_run
    ran, _ = runs[name]
    ran_code = {file for file in ran if file.endswith(".py")}
    assert ran_code - DISPATCH_ONLY <= needed_modules(name) | DISPATCH_ONLY, \
        sorted(ran_code - needed_modules(name) - DISPATCH_ONLY)
