"""Which SaaS templates exist: built in, in operators' folders, and shipped by plugins.

Looked up in this order, the first file of a name winning, so a plugin can add
templates but never replace a built-in one:

1. the built-in folder ``connectors/templates/`` (installed with the package);
2. extra folders the caller passes (the Django side passes ``DSR_TEMPLATE_DIRS``;
   the connector itself reads the environment variable of that name, a list
   separated by ``os.pathsep``, so it needs no Django);
3. the ``dsr.templates`` entry points. Each names a folder, or a package holding
   the YAML files (``acme_templates``, or ``acme_templates:folder`` for a folder
   inside it)::

       [project.entry-points."dsr.templates"]
       acme = "acme_dsr_templates"

A template's name is its file name without ``.yaml``/``.yml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from importlib.resources.abc import Traversable
from pathlib import Path

from ..base import ConnectorError
from .template import Kept, Template, TemplateError, parse_template

ENTRY_POINT_GROUP = "dsr.templates"
ENV_VAR = "DSR_TEMPLATE_DIRS"
SUFFIXES = (".yaml", ".yml")


class UnknownTemplate(ConnectorError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown SaaS template {name!r}; available: {listed}", permanent=True)


@dataclass(frozen=True)
class TemplateInfo:
    """A template as a list of them shows it; ``error`` says why one cannot be used."""

    name: str
    origin: str  # "built-in", "folder /etc/dsr/templates", "plugin acme"
    path: str
    title: str = ""
    actions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    kept: tuple[Kept, ...] = ()
    docs: tuple[str, ...] = ()
    error: str | None = None


def env_dirs() -> tuple[str, ...]:
    """The folders named in ``DSR_TEMPLATE_DIRS``."""
    return tuple(part for part in os.environ.get(ENV_VAR, "").split(os.pathsep) if part.strip())


def builtin_dir() -> Traversable:
    return resources.files("connectors") / "templates"


def _folders(extra_dirs: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, Traversable]]:
    yield "built-in", builtin_dir()
    for folder in extra_dirs:
        yield f"folder {folder}", Path(folder)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if os.path.isdir(entry.value):
            yield f"plugin {entry.name}", Path(entry.value)
            continue
        module, _, inner = entry.value.partition(":")
        try:
            found = resources.files(module.strip())
        except (ImportError, TypeError):
            continue  # a broken plugin must not hide the other templates
        yield f"plugin {entry.name}", found / inner.strip() if inner else found


def _files(extra_dirs: Iterable[str | os.PathLike[str]]) -> dict[str, tuple[str, Traversable]]:
    found: dict[str, tuple[str, Traversable]] = {}
    for origin, folder in _folders(extra_dirs):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            stem, suffix = os.path.splitext(item.name)
            if suffix in SUFFIXES and item.is_file():
                found.setdefault(stem, (origin, item))
    return found


def _read(item: Traversable, stem: str) -> Template:
    return parse_template(item.read_text(encoding="utf-8"), item.name, name=stem)


def available(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> dict[str, TemplateInfo]:
    """Every template by name; one that does not load is listed with its ``error``."""
    listed: dict[str, TemplateInfo] = {}
    for name, (origin, item) in sorted(_files(extra_dirs).items()):
        try:
            template = _read(item, name)
        except (TemplateError, OSError, UnicodeDecodeError) as exc:
            listed[name] = TemplateInfo(name, origin, str(item), error=str(exc))
            continue
        listed[name] = TemplateInfo(
            name=name,
            origin=origin,
            path=str(item),
            title=template.title,
            actions=tuple(sorted(str(action) for action in template.actions)),
            categories=tuple(template.categories),
            kept=template.cannot_erase,
            docs=template.docs,
        )
    return listed


def load(name: str, extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> Template:
    """The template called ``name``; raises :class:`UnknownTemplate` or :class:`TemplateError`."""
    files = _files(extra_dirs)
    if name not in files:
        raise UnknownTemplate(name, files)
    return _read(files[name][1], name)
