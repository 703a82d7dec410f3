"""Command-line flags generated from a configuration dataclass, so a run's options are defined once.

Every field of the dataclass becomes one flag ``--field-name``: its type gives the parser
(``int``, ``float``, ``str``; ``bool`` as ``--x/--no-x``; ``tuple[int, ...]`` and ``tuple[str, ...]``
as comma-separated lists; ``X | None`` as an optional ``X``), its ``metadata["help"]`` the help
text, ``metadata["choices"]`` the allowed values, and the field's default the default. Adding an
option to a run is one new field; ``--help`` and the parser follow.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any


def _parts(hint: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed) of a type hint like ``int | None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _list_of(kind):
    def parse(text: str):
        try:
            return tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list: {err}") from None

    parse.__name__ = f"list of {kind.__name__}"
    return parse


def _describe(default) -> str:
    if default is None:
        return ""
    if isinstance(default, tuple):
        return f" (default: {','.join(map(str, default))})"
    if isinstance(default, bool):
        return ""
    return f" (default: {default})"


def parser_for(cls, prog: str, doc: str | None = None) -> argparse.ArgumentParser:
    """An ``argparse`` parser with one flag per field of the dataclass ``cls``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(doc or cls.__doc__ or "").strip().split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli", True) is False:
            continue
        kind, _ = _parts(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        text = f.metadata.get("help", "") + _describe(f.default)
        extra = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=f.default, help=text
            )
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, type=_list_of(item), default=f.default, help=text)
        else:
            parser.add_argument(flag, type=kind, default=f.default, help=text, **extra)
    return parser


def config_from_args(cls, args: argparse.Namespace, **overrides):
    """The dataclass ``cls`` built from parsed arguments (fields not on the command line keep their
    defaults; ``overrides`` win)."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.metadata.get("cli", True) is not False and hasattr(args, f.name)
    }
    return cls(**{**values, **overrides})
