"""The base of every settings model, and the check that refuses unknown keys in config.yml.

A typo (`clarify_margn`, `max_char`) must stop the start-up with the key's dotted path and the
names that would have been accepted, wherever it sits: a section, a nested section, a list of
sections, a pipeline component's or policy's options, a channel's options. Pydantic's
`extra="forbid"` alone says "Extra inputs are not permitted" at `policies.2.clarify_margn`, without
the valid names, and it cannot pick a model by a channel's key; so the keys are walked here first
and pydantic then checks the values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo


class Section(BaseModel):
    """A section of config.yml: every key declared, with its default and a description."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Registry:
    """Field metadata: the field's entries take their model from a registry, by name.

    `by="name"`: a list of mappings whose `name` key picks the model (pipeline, policies).
    `by="key"`: a mapping whose keys pick the model of their value (channels).
    """

    kind: str
    models: Mapping[str, type[BaseModel]]
    by: Literal["name", "key"]


@dataclass(frozen=True)
class Key:
    """One key met while walking config data: its path, its declaration, or what is wrong."""

    path: str
    field: FieldInfo | None
    problem: str = ""


class ConfigError(ValueError):
    """config.yml was refused; one line per problem, each starting with the key's dotted path."""

    def __init__(self, source: object, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{source}: invalid configuration\n  " + "\n  ".join(self.problems))


def walk(data: Mapping[str, Any], model: type[BaseModel], path: str = "", owner: str = "") -> Iterator[Key]:
    """Every key of `data` with its declaration in `model`, recursing into sections.

    `owner` names what the keys belong to in messages ("policy 'DecisionPolicy'"); the valid
    names offered for an unknown key are the model's fields, less a registry's `name` and
    fields excluded from dumps (secrets: set from the environment, never from the file).
    """
    fields = {name: field for name, field in model.model_fields.items() if not field.exclude}
    valid = ", ".join(name for name in fields if not (owner and name == "name")) or "(none)"
    for key, value in data.items():
        here = f"{path}.{key}" if path else str(key)
        field = fields.get(str(key))
        if field is None:
            what = f"option of {owner}" if owner else (f"key of '{path}'" if path else "key")
            yield Key(here, None, f"{here}: unknown {what}; valid: {valid}")
            continue
        yield Key(here, field)
        yield from _walk_value(value, field, here)


def unknown_keys(data: Mapping[str, Any], model: type[BaseModel]) -> list[str]:
    """One line per unknown key or unknown registry name in `data`, in file order."""
    return [key.problem for key in walk(data, model) if key.problem]


def _walk_value(value: Any, field: FieldInfo, path: str) -> Iterator[Key]:
    registry = next((meta for meta in field.metadata if isinstance(meta, Registry)), None)
    if registry is not None:
        yield from _walk_registry(value, registry, path)
        return
    model, many = _section_model(field.annotation)
    if model is None:
        return  # a plain value or a free-form mapping (routing table, status map): keys are data
    if many and isinstance(value, list):
        for n, item in enumerate(value):
            if isinstance(item, Mapping):
                yield from walk(item, model, f"{path}[{n}]")
    elif not many and isinstance(value, Mapping):
        yield from walk(value, model, path)


def _walk_registry(value: Any, registry: Registry, path: str) -> Iterator[Key]:
    names = ", ".join(registry.models)
    if registry.by == "key":
        if not isinstance(value, Mapping):
            return
        for name, section in value.items():
            here = f"{path}.{name}"
            model = registry.models.get(str(name))
            if model is None:
                yield Key(here, None, f"{here}: unknown {registry.kind}; valid: {names}")
            elif isinstance(section, Mapping):
                yield from walk(section, model, here, f"{registry.kind} '{name}'")
        return
    if not isinstance(value, list):
        return
    for n, entry in enumerate(value):
        here = f"{path}[{n}]"
        if not isinstance(entry, Mapping):
            continue  # pydantic says what is wrong with it
        name = entry.get("name")
        model = registry.models.get(str(name)) if name is not None else None
        if model is None:
            said = f"unknown {registry.kind} {name!r}" if name is not None else "missing"
            yield Key(f"{here}.name", None, f"{here}.name: {said}; valid: {names}")
        else:
            yield from walk(entry, model, here, f"{registry.kind} '{name}'")


def _section_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is_list) for `Model`, `list[Model]` and `Model | None`; (None, False) otherwise."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        inner, _ = _section_model(args[0])
        return inner, True
    models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
    if origin is not dict and len(models) == 1:
        return models[0], False
    return None, False


def error_lines(
    exc: ValidationError, prefix: tuple[str | int, ...] = (), tags: frozenset[str] = frozenset()
) -> list[str]:
    """Pydantic's errors as `dotted.path[n]: message`; `tags` are union tags pydantic puts in the path."""
    lines = []
    for error in exc.errors(include_url=False):
        parts: list[str] = []
        previous: str | int | None = None
        for part in (*prefix, *error["loc"]):
            if isinstance(part, int):
                parts.append(f"[{part}]")
            elif not (isinstance(previous, int) and part in tags):
                parts.append(f".{part}" if parts else str(part))
            previous = part
        lines.append(f"{''.join(parts) or '(top level)'}: {error['msg']}")
    return lines
