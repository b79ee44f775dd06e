"""One loader for every config document (experiments, sweeps): YAML with `extends:` or `file.py:function`,
dotted overrides that remember where they came from, strict validation, one error line per problem.

An override is `key.sub=value` from `--set`, a launcher flag (`--nproc` is `launch.nproc`) or plait itself
(a dry run shortens `train.max_steps`); each goes through the same validation as the file, and an error in
a value that came from one names it (`--set train.lr: ...`, `--nproc: ...`) instead of the file.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import traceback
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from plait.errors import ConfigError, UserError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Override:
    """One dotted key set to a value, and where that came from (shown in errors)."""

    key: str
    value: Any
    origin: str


def parse_overrides(items: list[str], origin: str = "--set") -> list[Override]:
    """`a.b.c=value` strings (values parsed as YAML, so 1e-4, true, [1, 2] work) as Overrides."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"{origin} {item}: expected key.sub=value, e.g. train.lr=3e-4")
        try:
            parsed = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            parsed = value
        out.append(Override(key, parsed, f"{origin} {key}" if origin == "--set" else origin))
    return out


def load_document(path: str | Path, what: str) -> tuple[dict[str, Any], str, Path]:
    """A YAML config file (with `extends:`) as a mapping, its source label and its folder."""
    path = Path(path)
    return _from_yaml(path, chain=(), what=what), str(path), path.resolve().parent


def validate(model: type[M], raw: dict[str, Any], source: str, overrides: list[Override],
             base_dir: Path | None = None) -> M:
    """`raw` with `overrides` applied, validated as `model`; errors name the file or the override."""
    merged = apply_overrides(raw, overrides, source)
    context = {"base_dir": str(base_dir)} if base_dir is not None else None
    try:
        return model.model_validate(merged, context=context)
    except ValidationError as err:
        raise ConfigError(*format_errors(err, model, source, overrides)) from None


def with_overrides(config: M, overrides: dict[str, Any], origin: str) -> M:
    """A validated config changed by dotted keys, validated again (never `model_copy(update=...)`)."""
    items = [Override(k, v, origin) for k, v in overrides.items()]
    return validate(type(config), config.model_dump(mode="json"), origin, items)


def as_overrides(items: list[str] | list[Override] | None) -> list[Override]:
    return [i if isinstance(i, Override) else parse_overrides([i])[0] for i in items or []]


def load_raw(spec: str | Path) -> tuple[dict[str, Any], str, Path]:
    """The experiment as a plain mapping, with its source label and the folder paths are relative to."""
    text = str(spec)
    if ".py:" in text:
        file, _, func = text.rpartition(":")
        return _from_python(Path(file), func), text, Path(file).resolve().parent
    return load_document(text, "experiment")


def default_name(spec: str | Path) -> str:
    text = str(spec)
    if ".py:" in text:
        return text.rpartition(":")[2]
    return Path(text).stem


def _from_yaml(path: Path, chain: tuple[Path, ...], what: str = "experiment") -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path}: {what} file not found")
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise UserError(f"{path}: `extends` makes a cycle: {cycle}")
    try:
        data = yaml.load(read_utf8(path), Loader=UniqueKeyLoader) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)  # only MarkedYAMLError carries a position
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a {what} must be a mapping of keys, got {type(data).__name__}")
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
        parent_data = _from_yaml(parent_path, (*chain, resolved), what)
        parent_data.pop("name", None)
        merged = deep_merge(merged, parent_data)
    return deep_merge(merged, data)


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error (SafeLoader keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key `{key}` (first given on line {first + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def read_utf8(path: Path) -> str:
    """A text file's contents; one line naming the file when it is not UTF-8 or cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
                        "save it as UTF-8") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read it ({err.strerror})") from None


def _from_python(file: Path, func: str) -> dict[str, Any]:
    if not file.is_file():
        raise UserError(f"{file}: experiment file not found")
    spec = importlib.util.spec_from_file_location(f"plait_experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise UserError(f"{file} line {err.lineno}: not valid Python ({err.msg})") from None
    except Exception as err:  # noqa: BLE001  (the user's module: whatever it raises is reported, not a crash)
        raise UserError(f"{file}: importing it raised {_raised(err, file)}") from None
    fn = vars(module).get(func)
    if not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UserError(f"{file}: no function `{func}`; functions there: {', '.join(names) or 'none'}")
    try:
        result = fn()
    except Exception as err:  # noqa: BLE001
        raise UserError(f"{file}:{func}: raised {_raised(err, file)}") from None
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    if not isinstance(result, dict):
        raise UserError(f"{file}:{func}: must return a mapping or an Experiment, got {type(result).__name__}")
    return copy.deepcopy(result)


def _raised(err: BaseException, file: Path) -> str:
    """`Type: message (line N)` of an exception from user code, N the deepest line in `file`."""
    frames = traceback.extract_tb(err.__traceback__)
    lines = [frame.lineno for frame in frames if Path(frame.filename).resolve() == file.resolve()]
    where = f" (line {lines[-1]})" if lines else ""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{where}"


DISCRIMINATORS = ("kind", "family")
"""Keys that choose a variant: a mapping that changes one is a different variant, so it is not merged."""


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key, unless `update`'s mapping changes a discriminator (`kind`, `family`): then it
    replaces the parent's whole (the other variant's keys would be unknown); any other value replaces too."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _switches_variant(out[key], value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _switches_variant(base: dict[str, Any], update: dict[str, Any]) -> bool:
    return any(k in update and k in base and update[k] != base[k] for k in DISCRIMINATORS)


def apply_overrides(raw: dict[str, Any], overrides: list[Override] | list[str], source: str) -> dict[str, Any]:
    """`raw` with each override's dotted key set to its value."""
    out = copy.deepcopy(raw)
    for item in as_overrides(overrides):
        node: Any = out
        parts = item.key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):  # stages.0.train...
                node = node[int(part)]
                continue
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, (dict, list)):
                raise UserError(f"{item.origin}: `{part}` in {source} is a value, not a section")
            node = child
        if isinstance(node, list):
            raise UserError(f"{item.origin}: `{parts[-2]}` in {source} is a list; give an index, e.g. {parts[-2]}.0")
        node[parts[-1]] = copy.deepcopy(item.value)
    return out


def format_errors(err: ValidationError, root: type[BaseModel], source: str,
                  overrides: list[Override] = ()) -> list[str]:
    """One line per problem: where the value came from, the dotted field, the value given and what is allowed."""
    lines = []
    for e in err.errors():
        model, path = _walk(root, e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        named = re.match(r"([A-Za-z_][\w.\[\]]*): (.*)", msg, re.S)
        if named and e["type"] == "value_error":  # a check across fields names the key it blames
            key = ".".join([*path, named.group(1)])
            lines.append(f"{_where(key, source, overrides)}: {named.group(2)}")
            continue
        field = ".".join(path) or "(top level)"
        where = _where(field, source, overrides)
        if e["type"] == "extra_forbidden":
            valid = ", ".join(sorted(model.model_fields)) if model else "?"
            lines.append(f"{where}: unknown key; valid keys here: {valid}")
        elif e["type"] == "missing":
            lines.append(f"{where}: required but missing")
        else:
            given = e.get("input")
            shown = "" if isinstance(given, (dict, list)) else f"got {given!r}: "
            lines.append(f"{where}: {shown}{msg}")
    return lines


def _where(field: str, source: str, overrides: list[Override]) -> str:
    """Who gave a field its value: the last override that set it (or a section around it), else the file."""
    for item in reversed(list(overrides)):
        if field == item.key or field.startswith((item.key + ".", item.key + "[")):
            return item.origin if field == item.key else f"{item.origin}: {field}"
    return f"{source}: {field}"


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
        if tagged and (discriminated or len(members) > 1):
            current, discriminated = tagged[0], False
            continue
        owner = next((m for m in members if part in m.model_fields), None)
        path.append(str(part))
        if owner is None:
            if typing.get_origin(_unannotated(current)) is dict:  # a key of a mapping (a sweep's searched key)
                current, discriminated = _item_type(current), False
                continue
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
    if origin in (typing.Union, types.UnionType, list, dict):
        return [m for arg in typing.get_args(tp) for m in _models_in(arg)]
    return []


def _unannotated(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _item_type(tp: Any) -> Any:
    tp = _unannotated(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[-1] if args else None


def _tag_of(model: type[BaseModel]) -> str | None:
    for name in ("family", "kind"):
        field = model.model_fields.get(name)
        if field is not None and typing.get_origin(field.annotation) is typing.Literal:
            return typing.get_args(field.annotation)[0]
    return None
