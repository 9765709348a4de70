"""Object functions (templates/template-functions-object); ``union``, ``intersection``, ``contains``,
``empty`` and ``length`` also take arrays and are in :mod:`.arrays`."""

from __future__ import annotations

import json
from typing import Any

from engine.expressions.functions.values import text
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import TEXT, EvaluationError


@F.function("createObject", 0, None)
def _create_object(*pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise EvaluationError("createObject() takes key/value pairs")
    return {text(pairs[index], "createObject"): pairs[index + 1] for index in range(0, len(pairs), 2)}


@F.function("null", 0, 0)
def _null() -> None:
    return None


@F.function("json", 1, 1, takes=(TEXT,))
def _json(value: Any) -> Any:
    try:
        return json.loads(text(value, "json"))
    except json.JSONDecodeError as error:
        raise EvaluationError(f"json(): {error.msg}") from None


@F.function("tryGet", 2, None)
def _try_get(item: Any, *keys: Any) -> Any:
    """ARM ``tryGet(itemToTest, keyOrIndex, ...)``: the value at each key (object, case-insensitive) or
    index (array) in turn, null as soon as one is missing instead of an error."""
    for key in keys:
        if isinstance(item, dict) and isinstance(key, str):
            item = next((value for name, value in item.items() if name.lower() == key.lower()), None)
        elif isinstance(item, list) and isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(item):
            item = item[key]
        else:
            return None
    return item
