"""Load an experiment from YAML (with `extends:`) or `file.py:function`, apply overrides, validate."""

from __future__ import annotations

import copy
import importlib.util
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from plait.config.schema import Experiment
from plait.errors import ConfigError, UserError


def load_experiment(spec: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load, merge, override and validate an experiment; raise ConfigError listing every problem."""
    raw, source, base_dir = load_raw(spec)
    raw = apply_overrides(raw, overrides or [], source)
    raw.setdefault("name", _default_name(spec))
    try:
        return Experiment.model_validate(raw, context={"base_dir": str(base_dir)})
    except ValidationError as err:
        raise ConfigError(*format_errors(err, source)) from None


def load_raw(spec: str | Path) -> tuple[dict[str, Any], str, Path]:
    """The experiment as a plain mapping, with its source label and the folder paths are relative to."""
    text = str(spec)
    if ".py:" in text:
        file, _, func = text.rpartition(":")
        return _from_python(Path(file), func), text, Path(file).resolve().parent
    path = Path(text)
    return _from_yaml(path, chain=()), str(path), path.resolve().parent


def _default_name(spec: str | Path) -> str:
    text = str(spec)
    if ".py:" in text:
        return text.rpartition(":")[2]
    return Path(text).stem


def _from_yaml(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path}: experiment file not found")
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise UserError(f"{path}: `extends` makes a cycle: {cycle}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: an experiment must be a mapping of keys, got {type(data).__name__}")
    parents = data.pop("extends", None)
    if parents is None:
        return data
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise UserError(f"{path}: extends: must be a file path or a list of file paths")
    merged: dict[str, Any] = {}
    for parent in parents:
        parent_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
        parent_data = _from_yaml(parent_path, (*chain, resolved))
        parent_data.pop("name", None)
        merged = deep_merge(merged, parent_data)
    return deep_merge(merged, data)


def _from_python(file: Path, func: str) -> dict[str, Any]:
    if not file.is_file():
        raise UserError(f"{file}: experiment file not found")
    spec = importlib.util.spec_from_file_location(f"plait_experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UserError(f"{file}: no function `{func}`; functions there: {', '.join(names) or 'none'}")
    result = fn()
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    if not isinstance(result, dict):
        raise UserError(f"{file}:{func}: must return a mapping or an Experiment, got {type(result).__name__}")
    return copy.deepcopy(result)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; any other value in `update` replaces the one in `base`."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides; values are parsed as YAML (so 1e-4, true, [1, 2] work)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"override `{item}`: expected key.sub=value, e.g. train.lr=3e-4")
        try:
            parsed = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            parsed = value
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise UserError(f"override `{item}`: `{part}` in {source} is a value, not a section")
            node = child
        node[parts[-1]] = parsed
    return out


def format_errors(err: ValidationError, source: str) -> list[str]:
    """One line per problem: file, dotted field, the value given and what is allowed."""
    lines = []
    for e in err.errors():
        model, path = _walk(Experiment, e["loc"])
        field = ".".join(path) or "(top level)"
        if e["type"] == "extra_forbidden":
            valid = ", ".join(sorted(model.model_fields)) if model else "?"
            lines.append(f"{source}: {field}: unknown key; valid keys here: {valid}")
            continue
        if e["type"] == "missing":
            lines.append(f"{source}: {field}: required but missing")
            continue
        given = e.get("input")
        shown = "" if isinstance(given, (dict, list)) else f"got {given!r}: "
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {field}: {shown}{msg}")
    return lines


def _walk(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, list[str]]:
    """Follow an error location through the schema, dropping union tags; return the last model and the path."""
    path: list[str] = []
    current: Any = model
    discriminated = False
    for part in loc:
        members = _models_in(current)
        if isinstance(part, int):
            path[-1:] = [f"{path[-1]}[{part}]"] if path else [str(part)]
            current = _item_type(current)
            continue
        tagged = [m for m in members if _tag_of(m) == part]
        if tagged and discriminated:
            current, discriminated = tagged[0], False
            continue
        owner = next((m for m in members if part in m.model_fields), None)
        path.append(str(part))
        if owner is None:
            return (members[0] if members else None), path
        field = owner.model_fields[part]
        current, discriminated = field.annotation, field.discriminator is not None
    members = _models_in(current)
    return (members[0] if len(members) == 1 else None), path


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _models_in(arg)]
    return []


def _item_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[-1] if args else None


def _tag_of(model: type[BaseModel]) -> str | None:
    for name in ("family", "kind"):
        field = model.model_fields.get(name)
        if field is not None and typing.get_origin(field.annotation) is typing.Literal:
            return typing.get_args(field.annotation)[0]
    return None
