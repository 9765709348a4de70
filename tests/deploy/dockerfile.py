"""A Dockerfile read into its stages and instructions, and its steps carried out without a container engine.

No Docker daemon runs here (``docker build`` fails), so the image's file system is built as the Dockerfile's steps
build it, in a folder standing for the image's root: COPY copies from the build context, RUN runs its shell
command with the image's own paths (its WORKDIRs, COPY destinations and PATH entries) under that folder, and a
final stage keeps only what it copies from earlier ones. RUN's ``python`` is the one the caller names (Debian's
3.11: the base image is Debian 12 too), since no base image can be pulled: the base image's own contents are the
part this cannot check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]  # --from=build, --mount=type=cache,target=...
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of ENTRYPOINT / CMD (the exec form; the shell form is refused)."""
        words = json.loads(self.arguments)
        assert isinstance(words, list), f"{self.keyword} must use the exec form: {self.arguments}"
        return words


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def environment(self) -> dict[str, str]:
        variables: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.arguments):
                name, _, value = word.partition("=")
                variables[name] = value
        return variables


FLAG = re.compile(r"^--([a-z-]+)=(\S+)\s+")


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The ARGs declared before the first FROM (with their defaults) and the stages, ARGs substituted in FROM."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        flags = {}
        while match := FLAG.match(rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end():]
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            image, _, name = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], rest).partition(" AS ")
            stages.append(Stage(image.strip(), name.strip() or None))
        else:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return arguments, stages


@dataclass
class Build:
    """The Dockerfile's steps carried out with ``root`` standing for the image's ``/``."""

    context: Path
    stages: list[Stage]
    root: Path
    python: Path  # the interpreter RUN's ``python`` means

    def image_paths(self) -> list[str]:
        """The absolute paths the Dockerfile makes its own (longest first): WORKDIRs, COPY destinations and
        sources, PATH entries; /tmp stays the machine's."""
        paths: set[str] = set()
        for stage in self.stages:
            paths.update(instruction.arguments for instruction in stage.all("WORKDIR"))
            for instruction in stage.all("COPY"):
                paths.update(word.rstrip("/") for word in shlex.split(instruction.arguments) if word.startswith("/"))
            paths.update(entry for entry in stage.environment().get("PATH", "").split(":") if entry.startswith("/"))
        paths.discard("/tmp")
        return sorted(paths, key=len, reverse=True)

    def rooted(self, text: str) -> str:
        """``text`` with each image path moved under the root."""
        pattern = re.compile("|".join(r"(?<![\w./-])" + re.escape(path) + r"(?=[/\s:\"']|$)"
                                      for path in self.image_paths()))
        return pattern.sub(lambda match: f"{self.root}{match.group(0)}", text)

    def carry_out(self) -> Stage:
        """Every stage's steps; returns the final stage, its root holding only what it copied from earlier ones."""
        for index, stage in enumerate(self.stages):
            final = index == len(self.stages) - 1
            if final:
                kept = [shlex.split(instruction.arguments) for instruction in stage.all("COPY")
                        if "from" in instruction.flags]
                self._keep_only([source for *sources, _ in kept for source in sources])
            workdir = "/"
            for instruction in stage.instructions:
                if instruction.keyword == "WORKDIR":
                    workdir = instruction.arguments
                    Path(self.rooted(workdir)).mkdir(parents=True, exist_ok=True)
                elif instruction.keyword == "COPY":
                    self._copy(instruction, workdir)
                elif instruction.keyword == "RUN":
                    self._run(instruction, workdir)
        return self.stages[-1]

    def _keep_only(self, sources: list[str]) -> None:
        keep = {Path(self.rooted(source)) for source in sources}
        for path in sorted(self.root.rglob("*"), key=lambda item: len(item.parts), reverse=True):
            if path in keep or any(parent in keep for parent in path.parents) or any(path in kept.parents
                                                                                 for kept in keep):
                continue
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()

    def _copy(self, instruction: Instruction, workdir: str) -> None:
        *sources, destination = shlex.split(instruction.arguments)
        if not destination.startswith("/"):
            destination = f"{workdir.rstrip('/')}/{destination}"
        target = Path(self.rooted(destination))
        if "from" in instruction.flags:  # an earlier stage's path: the same path in this root, kept by _keep_only
            assert [self.rooted(source) for source in sources] == [str(target)], instruction.arguments
            return
        for source in sources:
            origin = self.context / source
            assert origin.exists(), f"COPY {source}: not in the build context"
            if origin.is_dir():
                shutil.copytree(origin, target if not destination.endswith("/") else target / origin.name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True) if destination.endswith("/") else None
                shutil.copy2(origin, target / origin.name if destination.endswith("/") else target)

    def _run(self, instruction: Instruction, workdir: str) -> None:
        mount = dict(part.split("=", 1) for part in instruction.flags.get("mount", "").split(",") if "=" in part)
        assert mount.get("type", "cache") == "cache", f"only cache mounts are carried out: {instruction.flags}"
        tools = self.root / ".build-tools"  # `python` as the base image names it
        tools.mkdir(exist_ok=True)
        (tools / "python").unlink(missing_ok=True)
        (tools / "python").symlink_to(self.python)
        # a cache mount's target is the machine's own cache folder (pip's, when it names it)
        environment = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "PYTHONNOUSERSITE": "1"}
        if mount.get("target", "").endswith("/.cache/pip"):
            environment["PIP_CACHE_DIR"] = mount["target"]
        completed = subprocess.run(["sh", "-c", self.rooted(instruction.arguments)], cwd=self.rooted(workdir),
                                   env=environment, capture_output=True, text=True)
        assert completed.returncode == 0, f"RUN {instruction.arguments}\n{completed.stdout}\n{completed.stderr}"
        # what RUN linked to the base image's `python` (a virtual environment's bin/python) links to the one
        # standing for it
        for path in self.root.rglob("*"):
            if path.is_symlink() and Path(os.readlink(path)).is_relative_to(tools):
                path.unlink()
                path.symlink_to(self.python)
        shutil.rmtree(tools)
