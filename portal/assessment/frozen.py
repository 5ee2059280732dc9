"""A read-only, hashable mapping, so engine inputs can be compared, hashed and memoised."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class FrozenMap(Mapping):
    """An immutable mapping with a stable hash; keys are kept sorted so that two maps built
    in different orders are equal, hash alike and iterate alike (determinism)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping | None = None) -> None:
        data = dict(sorted((items or {}).items()))
        self._data = data
        self._hash = hash(tuple(data.items()))

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    # Mapping's own get and `in` raise and catch KeyError for an absent key: 7 us a time.
    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._hash == other._hash and self._data == other._data
        return isinstance(other, Mapping) and self._data == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


EMPTY = FrozenMap()


def frozen(items: Mapping | None) -> FrozenMap:
    """`items` as a FrozenMap (itself when it already is one; EMPTY when empty)."""
    if isinstance(items, FrozenMap):
        return items
    return FrozenMap(items) if items else EMPTY


class FrozenDict(dict):
    """A dict that refuses changes: memoised results are shared between assets, so their
    mappings must not be edited in place.  Still a dict, so it serialises as JSON."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("recommendation values are read-only; copy with dict(...)")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
