"""The Dockerfile, checked by parsing it: no Docker engine runs here, so it cannot be built in
the test suite. The parser below understands what this Dockerfile uses (comments, line
continuations, JSON and shell forms, ``FROM ... AS``, build ARGs) and the checks are the ones a
review would make: multi-stage from a slim Python base, a wheel built in the builder stage and
installed into a virtualenv in the runtime stage, a numeric non-root user, ``nexus`` as the
entrypoint, no remote ADD, no Java or Kafka, and ports that match the chart."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml
from helm_chart import CHART, REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, args = text.partition(" ")
        lines.append((keyword.upper(), args.strip()))
    assert not pending, "a line continuation runs past the end of the file"
    return lines


def stages() -> list[Stage]:
    result: list[Stage] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"#{len(result)}"
            result.append(Stage(name=name, base=words[0]))
        elif result:
            result[-1].instructions.append((keyword, args))
    return result


def effective(stage_name: str, keyword: str) -> str | None:
    """The last value of ``keyword`` in a stage, inherited from the stage it is built FROM."""
    by_name = {s.name: s for s in stages()}
    stage = by_name[stage_name]
    values = stage.all(keyword)
    if values:
        return values[-1]
    if stage.base in by_name:
        return effective(stage.base, keyword)
    return None


def test_multi_stage_from_slim_python() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    names = {s.name for s in all_stages}
    args = dict(a.split("=", 1) for kw, a in instructions() if kw == "ARG" and "=" in a)
    for stage in all_stages:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage.base)
        assert base in names or re.fullmatch(r"python:3\.1[1-9]-slim", base), base
    assert args["PYTHON_VERSION"] == "3.11"


def test_builder_builds_a_wheel_and_runtime_installs_it_into_a_venv() -> None:
    by_name = {s.name: s for s in stages()}
    builder, runtime = by_name["builder"], by_name["runtime"]
    wheel = [run for run in builder.all("RUN") if run.startswith("pip wheel ")]
    assert len(wheel) == 1 and wheel[0].endswith(" ."), builder.all("RUN")
    # Built with the versions the test suite passed with.
    assert "--constraint constraints.txt" in wheel[0]
    assert "constraints.txt" in " ".join(builder.all("COPY"))
    install = " ".join(runtime.all("RUN"))
    assert "python -m venv /opt/venv" in install
    assert "--no-index" in install and "--find-links /wheels" in install
    assert "from=builder" in install  # wheels bind-mounted, never a layer of the image
    assert not runtime.all("COPY"), "the runtime stage copies nothing but the installed venv"
    env = " ".join(runtime.all("ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env


def test_final_image_runs_as_a_numeric_non_root_user_with_nexus_as_entrypoint() -> None:
    final = stages()[-1].name
    user = effective(final, "USER")
    assert user is not None
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, user
    assert not gid or (gid.isdigit() and int(gid) > 0), user
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(uid) == chart_values["podSecurityContext"]["runAsUser"]
    entrypoint = effective(final, "ENTRYPOINT")
    assert entrypoint is not None and json.loads(entrypoint) == ["nexus"]
    assert effective("runtime", "USER") == user  # the default target is the runtime image


def test_every_stage_that_runs_the_app_ends_unprivileged() -> None:
    for stage in stages():
        if stage.name == "builder":
            continue
        user = effective(stage.name, "USER")
        assert user is not None and user.split(":")[0] not in ("0", "root"), stage.name


def test_no_remote_add_and_no_java_or_kafka() -> None:
    text = DOCKERFILE.read_text().lower()
    for keyword, args in instructions():
        if keyword == "ADD":
            assert not re.search(r"https?://|git@", args), args
    for keyword, args in instructions():
        if keyword == "RUN":
            lowered = args.lower()
            assert "apt-get install" not in lowered or not re.search(r"jdk|jre|java|kafka", lowered)
            assert "curl " not in lowered and "wget " not in lowered
    assert "openjdk" not in text and "kafka_2." not in text


def test_exposed_ports_match_the_chart() -> None:
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    exposed = {int(p) for args in stages()[1].all("EXPOSE") for p in args.split()}
    assert exposed == {chart_values["gateway"]["port"], chart_values["gateway"]["adminPort"]}


def test_dockerignore_keeps_the_context_to_what_the_build_copies() -> None:
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[0] == "*" or "*" in ignore
    allowed = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    for stage in stages():
        for args in stage.all("COPY"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            copied.update(s.rstrip("/").removeprefix("./") for s in sources)
    assert copied <= allowed, copied - allowed
    assert {"pyproject.toml", "constraints.txt", "README.md", "schemas", "services"} <= allowed


TAKES_A_VALUE = ("--constraint", "--wheel-dir")


def test_every_package_the_image_installs_is_pinned_by_the_lock() -> None:
    """A pip run that reaches the index without constraints.txt takes whatever release is
    newest on the day of the build: the image (the dev one too) would run versions no test
    ran, and two builds of one commit could differ."""
    pinned = {
        line.split("==")[0].lower() for line in (REPO / "constraints.txt").read_text().split()
    }
    from_index = 0
    for stage in stages():
        for args in stage.all("RUN"):
            for command in re.split(r"&&|;", args):
                words = command.split()
                pip = [i for i, w in enumerate(words) if w == "pip" or w.endswith("/pip")]
                if not pip or words[pip[0] + 1] not in ("install", "wheel"):
                    continue
                options = words[pip[0] + 2 :]
                if "--no-index" in options:
                    continue
                from_index += 1
                assert "--constraint" in options, (stage.name, command)
                lock = options[options.index("--constraint") + 1]
                assert lock.endswith("constraints.txt"), (stage.name, command)
                values = {options[i + 1] for i, w in enumerate(options) if w in TAKES_A_VALUE}
                named = [w for w in options if not w.startswith("-") and w not in values]
                # "." is the project itself, whose dependencies the lock pins.
                assert all(n == "." or n.lower() in pinned for n in named), (stage.name, named)
    assert from_index >= 2, "the builder's wheels and the dev image's watchfiles"


def test_the_readme_builds_services_on_the_image_the_chart_deploys() -> None:
    """A service of one's own is built FROM the mesh image and must run the same version as
    the chart's other components (one schema registry, one protocol): the chart README's
    examples name the chart's appVersion."""
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    bases = re.findall(r"^FROM nexus-mesh:(\S+)", (CHART / "README.md").read_text(), re.M)
    assert bases, "the README shows how to build a service's image"
    assert set(bases) == {app_version}
