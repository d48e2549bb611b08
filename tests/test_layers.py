"""Services and selectors import no UI code: no forms, views, tables, filters or templates.

Read from the source (every import, also those inside functions), following the project's
own modules. Enqueueing a task is where a service stops: the task runs on the worker and
may render an email.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("clinic", "scheduling", "followup")
UI_MODULES = ("forms", "views", "tables", "filters", "ui", "urls", "api", "admin", "templatetags")
UI_LIBRARIES = (
    "django.forms",
    "django.shortcuts",
    "django.template",
    "django.contrib.messages",
    "django_filters",
    "django_tables2",
    "rest_framework",
)
LAYER_GLOBS = ("services*.py", "selectors*.py", "patient_services.py")


def module_path(name: str) -> pathlib.Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_names(path: pathlib.Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{parent}.{source}".rstrip(".")
            names.add(source)
            # `from scheduling import rules` imports a module too.
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def is_ui(name: str) -> bool:
    if any(name == lib or name.startswith(lib + ".") for lib in UI_LIBRARIES):
        return True
    last = name.rsplit(".", 1)[-1]
    return name.startswith(PACKAGES) and any(
        last == ui or last.startswith(ui + "_") for ui in UI_MODULES
    )


def ui_imports(module: str) -> list[str]:
    """Each UI module `module` reaches, as the chain of imports that gets there."""
    found, seen, todo = [], {module}, [(module,)]
    while todo:
        chain = todo.pop()
        path = module_path(chain[-1])
        for name in sorted(imported_names(path, chain[-1])):
            if is_ui(name) and (module_path(name) or not name.startswith(PACKAGES)):
                found.append(" -> ".join((*chain, name)))
            elif name not in seen and name.split(".")[0] in PACKAGES and module_path(name):
                seen.add(name)
                if not name.endswith(".tasks"):
                    todo.append((*chain, name))
    return found


def layer_modules() -> list[str]:
    modules = []
    for package in ("clinic", "clinic/nursing", "scheduling", "followup"):
        for pattern in LAYER_GLOBS:
            for path in sorted((ROOT / package).glob(pattern)):
                modules.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return modules


def test_it_finds_the_services_and_selectors():
    modules = layer_modules()
    assert {"clinic.services", "scheduling.services", "followup.patient_services"} <= set(modules)
    assert "clinic.nursing.selectors" in modules


@pytest.mark.parametrize("module", layer_modules())
def test_it_keeps_ui_code_out_of_services_and_selectors(module):
    assert ui_imports(module) == []


def test_it_tells_ui_modules_from_the_rest():
    assert is_ui("scheduling.forms") and is_ui("clinic.ui") and is_ui("django.shortcuts")
    assert is_ui("followup.views_public") and is_ui("django_filters")
    assert not is_ui("scheduling.dates") and not is_ui("django.db.models")
    assert not is_ui("clinic.audit") and not is_ui("followup.selectors_worklists")


def test_it_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "services.py"
    source.write_text("def f():\n    from scheduling.forms import BookingForm\n")
    assert "scheduling.forms" in imported_names(source, "scheduling.services")
