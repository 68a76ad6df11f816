"""The shape of the code (docs/ARCHITECTURE.md): no import circles between modules, the domain
packages never read the HTTP request, and app/infra knows no domain.

Imports are read from the source (ast), including those inside functions: an import moved into a
function to dodge a circle is still a circle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "kiosk", "voice")
DOMAINS = (
    "infra",
    "people",
    "affairs",
    "notices",
    "screens",
    "participation",
    "assistant",
    "residents",
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_only(tree: ast.AST) -> set[ast.AST]:
    """The imports under `if TYPE_CHECKING:` (annotations only)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(ast.walk(child))
    return skipped


def _imports(module: str, *, type_only: bool = True) -> list[tuple[str, list[str]]]:
    """(imported dotted name, the names taken from it) for each import in the module (without
    `type_only`: not those under `if TYPE_CHECKING:`)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if type_only else _type_only(tree)
    found = []
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.append((source, [alias.name for alias in node.names]))
    return found


def _graph(*, type_only: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for source, names in _imports(module, type_only=type_only):
            for target in [f"{source}.{n}" for n in names] or [source]:
                resolved = _resolve(target)
                if resolved and resolved != module:
                    graph[module].add(resolved)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in graph:
            if v not in index:
                strong(v)
    finally:
        sys.setrecursionlimit(limit)
    return circles


def _in_domains(module: str, domains) -> bool:
    return any(module == f"app.{d}" or module.startswith(f"app.{d}.") for d in domains)


def test_the_graph_sees_what_it_should():
    graph = _graph()
    assert "app.infra.jobs" in graph["app.screens.feed"]
    assert "app.screens.feed" in graph["app.assistant.runtime"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    assert _circles(_graph()) == []


def test_the_domains_do_not_read_the_http_request():
    readers = []
    for module in MODULES:
        if not _in_domains(module, DOMAINS):
            continue
        for source, names in _imports(module):
            if (source == "flask" and "request" in names) or source == "flask.request":
                readers.append(module)
    assert readers == []


def test_infra_imports_no_domain():
    # An annotation may name a domain type (`if TYPE_CHECKING:`); running code may not.
    above = [d for d in DOMAINS if d != "infra"]
    channels = ("app.api", "app.web", "app.open311", "kiosk", "app.demo")
    wrong = []
    for module, targets in _graph(type_only=False).items():
        if not _in_domains(module, ("infra",)):
            continue
        for target in targets:
            if _in_domains(target, above) or any(
                target == c or target.startswith(c + ".") for c in channels
            ):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_registering_a_blueprint_does_nothing_else():
    # What a channel needs besides its routes is set up by create_app (app/__init__.py).
    from flask import Flask

    import kiosk
    from app.api.common import IdConverter
    from app.api.voice.routes import blp as voice_blp
    from app.web import easy

    for bp in (kiosk.bp, easy.bp, voice_blp):
        bare = Flask("bare")
        bare.url_map.converters["id"] = IdConverter  # the API's (register_api)
        wsgi_app = bare.wsgi_app
        bare.register_blueprint(bp)
        assert bare.wsgi_app == wsgi_app, bp.name  # nothing wrapped around the app
        assert list(bare.blueprints) == [bp.name]
        assert bare.extensions == {}, bp.name


# --- the walk of one request ----------------------------------------------------------------------
# Layers, lowest first (docs/ARCHITECTURE.md): a call into a higher layer is a call back up. In
# app/affairs the modules' own order (app/affairs/__init__.py) counts as layers too.
LAYERS = (
    ("app/database.py", "app/infra/"),
    ("app/people/",),
    (
        "app/affairs/",
        "app/notices/",
        "app/screens/",
        "app/participation/",
        "app/assistant/",
        "app/residents/",
    ),
)
AFFAIRS = (
    "rules",
    "policy",
    "words",
    "common",
    "counts",
    "notify",
    "deadlines",
    "views",
    "queries",
    "intake",
    "workflow",
)


def _ours(filename: str) -> str | None:
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if rel.parts[0] not in PACKAGES or rel.parts[:2] == ("app", "models"):
        return None
    return rel.as_posix()


def _rank(path: str) -> tuple[int, int]:
    layer = next(
        (i for i, prefixes in enumerate(LAYERS) if any(path.startswith(p) for p in prefixes)),
        len(LAYERS),
    )
    name = Path(path).stem
    return layer, AFFAIRS.index(name) if path.startswith("app/affairs/") and name in AFFAIRS else -1


def _walk(call) -> tuple[list[tuple[str, str]], object]:
    """The direct calls from one of Linli's files into another while `call()` runs (library
    callbacks, e.g. SQLAlchemy's flush hooks, are not steps of the walk)."""
    steps = []

    def profile(frame, event, arg):
        if event != "call" or frame.f_back is None:
            return
        here, caller = _ours(frame.f_code.co_filename), _ours(frame.f_back.f_code.co_filename)
        if here and caller and here != caller and (not steps or steps[-1] != (caller, here)):
            steps.append((caller, here))

    sys.setprofile(profile)
    try:
        result = call()
    finally:
        sys.setprofile(None)
    return steps, result


def test_a_case_submission_goes_down_once(client, auth, cats):
    world = cats
    # Issue #11 measured route → submit_case → case_view → back to the route for similar_cases:
    # now the route makes one call into the domain, which never calls back up a layer.
    headers = {**auth.headers(world.a.resident), "Idempotency-Key": "walk-0001"}
    steps, response = _walk(
        lambda: client.post(
            "/api/v1/cases",
            headers=headers,
            json={"category_code": "repair", "description": "楼道灯不亮了，晚上看不清台阶。"},
        )
    )
    assert response.status_code == 201, response.get_json()
    route = [
        here
        for caller, here in steps
        if caller == "app/api/cases/routes.py"
        and here.startswith(tuple(f"app/{d}/" for d in DOMAINS))
    ]
    assert route == ["app/affairs/intake.py"]
    upward = [
        (caller, here)
        for caller, here in steps
        if _rank(here) > _rank(caller) and _rank(caller)[0] < len(LAYERS)
    ]
    assert upward == []
    print(f"case submission: {len(steps)} calls between {len({h for _c, h in steps})} files")
