"""The compose stack, the image Dockerfiles and the secrets baseline agree with the code they ship."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

SRC = Path("src/python/netflix_clone")
SERVICES = {
    "video-processor": "video_processor",
    "analytics-consumer": "analytics_consumer",
    "recommendation-service": "recommendation_service",
}
# Where a service's own variables live, before and after the NFC_<SERVICE>_* scheme; stripped to compare
# the fields below, so they keep matching when a variable moves from RECO_X to NFC_RECO_X.
PREFIXES = ("NFC_VIDEO_", "NFC_ANALYTICS_", "NFC_RECO_", "ANALYTICS_", "RECO_", "NFC_")

# Every variable a service reads and the stack does not set, by field (the name without its prefix), with
# the reason the default is right in the stack. Each must still be read (a stale entry fails), and a
# variable that is neither set by the compose file nor listed here fails: nothing is skipped.
LEFT_AT_DEFAULT: dict[str, dict[str, str]] = {
    "video-processor": {
        "CODEC": "h264, the default ladder",
        "SEGMENT_SECONDS": "default 6 s segments",
        "SEGMENT_FORMAT": "default MPEG-TS",
        "PRESET": "default x264 preset",
        "OUTPUT_DIR": "the command passes --output /media/published (the media volume)",
        "S3_BUCKET": "no S3 in the stack: outputs stay on the media volume",
        "S3_PREFIX": "no S3 in the stack",
        "OPS_HOST": "the command passes --ops-host 0.0.0.0",
        "OPS_PORT": "the command passes --ops-port 9200 (the image's HEALTH_PORT)",
        "FFMPEG": "the ffmpeg the image ships",
    },
    "analytics-consumer": {
        "SQLITE": "PostgreSQL is the sink in the stack",
        "JSONL": "no JSON-lines sink in the stack",
        "CASSANDRA_KEYSPACE": "default keyspace (with --profile cassandra)",
        "STREAM": "default stream player-events, where the player (and the flow test) writes",
        "GROUP": "default consumer group",
        "CONSUMER": "default: host name and pid, unique per replica",
        "DEAD_LETTER_STREAM": "default dead-letter stream",
        "OPS_HOST": "the command passes --ops-host 0.0.0.0",
        "REDIS_CLUSTER": "a single Redis in the stack",
        "STORE_PREFIX": "default key prefix",
        "OPS_PORT": "the command passes --ops-port 9100 (the image's HEALTH_PORT)",
    },
    "recommendation-service": {
        "TUNE_BUDGET_S": "training only (`compose run … train`), default budget",
        "PUBLISH_URI": "no S3 in the stack: models stay on the models volume",
        "MODEL_URI": "the models volume through NFC_RECO_MODEL_DIR",
        "MODEL_CACHE_DIR": "only for models read from S3",
        "HOST": "the command passes --host 0.0.0.0",
        "PORT": "the command passes --port 8000 (the image's HEALTH_PORT)",
        "WORKERS": "the command passes --workers 1 (the memory limit is per container)",
        "CACHE_TTL_S": "default top-N cache lifetime",
        "CACHE_PREFIX": "default cache key prefix",
        "REDIS_TIMEOUT_S": "default Redis timeout",
        "MAX_BODY_BYTES": "default request body limit",
        "PROMETHEUS_MULTIPROC_DIR": "set by `serve` itself for its workers",
        "COLD_START": "default popularity for users without history",
        "RELOAD_INTERVAL_S": "default 5 s between checks for a new model",
    },
}
# Read only to mask their values in output (platform.redaction), never configuration: accounted for as a
# group for the services that build their redactor from the environment.
REDACTION_ONLY = "read only to mask its value in logs and errors"


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _string(node: ast.AST, constants: dict[str, str]) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _trees(package: str) -> Iterator[ast.Module]:
    for path in sorted((SRC / package).rglob("*.py")):
        yield ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _direct_reads(tree: ast.Module) -> set[str]:
    """`os.environ.get("X")`, `os.getenv("X")`, `os.environ["X"]`, an alias (`env = os.environ.get`) and a
    prefixing helper (`def _env(name): return os.environ.get(f"NFC_VIDEO_{name}")`), as the code reads today."""
    readers = {"os.environ.get", "os.getenv", "environ.get"}
    constants = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    aliases: set[str] = set()
    prefixed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _dotted(node.value) in readers:
            aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.FunctionDef):
            for call in (c for c in ast.walk(node) if isinstance(c, ast.Call) and _dotted(c.func) in readers):
                first = call.args[0] if call.args else None
                if isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
                    prefixed[node.name] = str(first.values[0].value)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = _dotted(node.func)
            name = _string(node.args[0], constants)
            if name is None:
                continue
            if func in readers or func in aliases:
                names.add(name)
            elif func in prefixed:
                names.add(prefixed[func] + name)
        elif isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
            # A read unless it is the target of an assignment (`os.environ["X"] = …` sets it).
            if isinstance(node.ctx, ast.Load) and (name := _string(node.slice, constants)) is not None:
                names.add(name)
    return names


Settings = tuple[list[str], Optional[str], list[tuple[str, Optional[str]]]]


def _field_alias(value: Optional[ast.expr]) -> Optional[str]:
    """`shared("NFC_X", …)` or `Field(…, validation_alias="NFC_X")` name their variable; other fields do not."""
    if not isinstance(value, ast.Call):
        return None
    if _dotted(value.func) == "shared" and value.args:
        return _string(value.args[0], {})
    return next((_string(k.value, {}) for k in value.keywords if k.arg in ("validation_alias", "alias")), None)


def _settings_classes(trees: list[ast.Module]) -> dict[str, Settings]:
    """class name -> (base names, its own env_prefix or None, its own fields as (name, alias or None))."""
    classes: dict[str, Settings] = {}
    for tree in trees:
        for node in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            prefix: Optional[str] = None
            fields: list[tuple[str, Optional[str]]] = []
            for item in node.body:
                if isinstance(item, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "model_config" for t in item.targets
                ):
                    keywords = item.value.keywords if isinstance(item.value, ast.Call) else []
                    prefix = next((_string(k.value, {}) for k in keywords if k.arg == "env_prefix"), prefix)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    if item.target.id.startswith("_") or "ClassVar" in ast.unparse(item.annotation):
                        continue
                    fields.append((item.target.id, _field_alias(item.value)))
            classes[node.name] = ([_dotted(b).rsplit(".", 1)[-1] for b in node.bases], prefix, fields)
    return classes


def settings_variables(classes: dict[str, Settings], name: str) -> list[str]:
    """The variables a settings class reads, as pydantic-settings names them: an alias as written, any
    other field (inherited ones too) under the nearest env_prefix."""
    lineage: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop(0)
        if current in classes and current not in lineage:
            lineage.append(current)
            pending += classes[current][0]
    prefix = next((classes[c][1] for c in lineage if classes[c][1] is not None), "") or ""
    found: list[str] = []
    for current in reversed(lineage):
        for field, alias in classes[current][2]:
            variable = (alias or f"{prefix}{field}").upper()
            if variable not in found:
                found.append(variable)
    return found


def _settings_reads(package: str) -> set[str]:
    """Variables of the service's settings classes (NFC_<SERVICE>_* scheme), with the inherited shared ones."""
    classes = _settings_classes(list(_trees("platform")))
    own = _settings_classes(list(_trees(package)))
    classes.update(own)
    roots = {"BaseSettings", "ServiceSettings"}

    def is_settings(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in roots:
            return True
        if name not in classes or name in seen:
            return False
        return any(is_settings(b, seen | {name}) for b in classes[name][0])

    return {v for name in own if name not in roots and is_settings(name) for v in settings_variables(classes, name)}


def _redaction_reads(package: str) -> set[str]:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (SRC / package).rglob("*.py"))
    if "Redactor.from_environment" not in code:
        return set()
    tree = ast.parse((SRC / "platform" / "redaction.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SECRET_ENV_VARS" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    raise AssertionError("platform/redaction.py has no SECRET_ENV_VARS")


def service_reads(package: str) -> dict[str, str]:
    """Every environment variable the service's code reads -> how it reads it."""
    # Later kinds win: a variable that is both masked and configuration (NFC_POSTGRES_DSN) is configuration.
    reads: dict[str, str] = {name: REDACTION_ONLY for name in _redaction_reads(package)}
    for tree in _trees(package):
        reads.update({name: "read directly" for name in _direct_reads(tree)})
    reads.update({name: "a settings field" for name in _settings_reads(package)})
    return reads


def field_of(variable: str) -> str:
    for prefix in PREFIXES:
        if variable.startswith(prefix):
            return variable[len(prefix) :]
    return variable


def test_the_variable_scan_finds_todays_and_settings_style_reads() -> None:
    tree = ast.parse(
        "import os\nenv = os.environ.get\nK = 'C_K'\n"
        "def _env(n):\n    return os.environ.get(f'P_{n}')\n"
        "a = env('A'); b = _env('B'); c = os.environ[K]; os.environ['SET_ONLY'] = '1'; d = os.getenv('D')\n"
    )
    assert _direct_reads(tree) == {"A", "P_B", "C_K", "D"}
    classes = _settings_classes(list(_trees("platform")))
    classes.update(
        _settings_classes(
            [
                ast.parse(
                    "class S(ServiceSettings):\n    model_config = SettingsConfigDict(env_prefix='NFC_X_')\n"
                    "    port: int = Field(8000)\n    redis_url: str = shared('NFC_REDIS_URL', None, 'r')\n"
                )
            ]
        )
    )
    assert settings_variables(classes, "S") == ["NFC_LOG_LEVEL", "NFC_X_PORT", "NFC_REDIS_URL"]


def test_compose_sets_only_what_services_read_and_accounts_for_every_other_variable() -> None:
    services = _load(Path("docker/docker-compose.yml"))["services"]
    for name, package in SERVICES.items():
        reads = service_reads(package)
        assert reads, f"no environment reads found for {name}: the scan is broken"
        environment = services[name]["environment"]
        for variable in environment:
            assert variable in reads, f"compose sets {variable} for {name}, which does not read it"
        assert any(v.endswith("LOG_LEVEL") for v in environment), f"{name}: no log level in compose"
        defaults = LEFT_AT_DEFAULT[name]
        for variable, how in sorted(reads.items()):
            if variable in environment or how == REDACTION_ONLY:
                continue
            assert field_of(variable) in defaults, (
                f"{name} reads {variable} ({how}): set it in docker/docker-compose.yml or say in "
                f"LEFT_AT_DEFAULT why its default is right in the stack"
            )
        fields_read = {field_of(v) for v in reads if v not in environment}
        stale = sorted(set(defaults) - fields_read)
        assert not stale, f"LEFT_AT_DEFAULT[{name!r}] lists {stale}, which {name} does not read (or compose sets)"


def test_compose_stack_is_health_gated_restarting_and_limited() -> None:
    compose = _load(Path("docker/docker-compose.yml"))
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "cassandra", *SERVICES}
    assert services["cassandra"]["profiles"] == ["cassandra"]
    assert all("profiles" not in s for n, s in services.items() if n != "cassandra")
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], f"{name} has no healthcheck"
        assert service["mem_limit"] and float(service["cpus"]) > 0, f"{name} has no resource limits"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "profiles" not in services[dependency], f"{name} depends on optional {dependency}"
    assert set(services["analytics-consumer"]["depends_on"]) == {"postgres", "redis"}
    assert set(services["recommendation-service"]["depends_on"]) == {"postgres", "redis"}
    assert set(services["video-processor"]["depends_on"]) == {"postgres"}
    assert {"media:/media"} == set(services["video-processor"]["volumes"])
    assert {"models:/models"} == set(services["recommendation-service"]["volumes"])
    offline = _load(Path("docker/compose.offline.yml"))["services"]
    assert set(offline) == {"postgres", "redis"}
    for name, service in offline.items():
        context = Path("docker") / service["build"]["context"]
        assert (context / "Dockerfile").is_file(), f"{name}: {context} has no Dockerfile"
        assert "BASE_IMAGE" in service["build"]["args"]


def test_images_own_their_writable_paths() -> None:
    services = _load(Path("docker/docker-compose.yml"))["services"]
    for name, package in SERVICES.items():
        service = services[name]
        assert service["image"].startswith(f"netflix-clone/{name}:")
        dockerfile = Path(f"docker/{name}/Dockerfile").read_text(encoding="utf-8")
        assert f"netflix_clone.{package}/{name}.pex" in dockerfile and "USER 10001:10001" in dockerfile
        assert "HEALTHCHECK" in dockerfile and "org.opencontainers.image.revision" in dockerfile
        assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in dockerfile
        workdir = re.search(r"^WORKDIR (\S+)$", dockerfile, re.M)
        assert workdir, f"{name}: no WORKDIR (relative defaults such as var/… would land under /)"
        chown = re.search(r"^RUN mkdir -p (.+) && chown -R 10001:10001 (.+)$", dockerfile, re.M)
        assert chown, f"{name}: writable paths not created for the image user"
        owned = chown.group(2).split()
        assert workdir.group(1) in owned
        for volume in service.get("volumes", []):
            mount = volume.split(":")[1]
            assert mount in owned, f"{name}: volume {mount} is not created for uid 10001 in the image"
        assert "hadolint ignore" not in dockerfile
        for install in re.findall(r"apt-get install[^&;]*", dockerfile):
            packages = [w for w in install.split()[2:] if not w.startswith("-") and w != "\\"]
            assert packages and all("=" in p for p in packages), f"{name}: unpinned apt packages {packages}"
    smoke = Path("build-support/smoke_images.py").read_text(encoding="utf-8")
    assert "chmod(0o777" not in smoke and "owner(" in smoke


def test_secrets_baseline_is_audited() -> None:
    baseline = json.loads(Path(".secrets.baseline").read_text(encoding="utf-8"))
    findings = [item for items in baseline["results"].values() for item in items]
    assert findings, "an empty baseline would not show the scan ran"
    assert all(item.get("is_secret") is False for item in findings), "unaudited or real secrets in the baseline"
