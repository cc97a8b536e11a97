"""What the domains' schemas share: building an API schema from a row of the database."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)


def from_entity(schema: type[S], entity: object, **fields: Any) -> S:
    """``schema`` read from ``entity``'s attributes of the same names, as
    ``schema.model_validate(entity, from_attributes=True)`` would, with ``fields`` given for what
    the schema computes or names otherwise.

    Attributes are read one by one (an expired row loads them), not from ``model_dump()``, which
    gives nothing for a row the session has expired; one the entity lacks and ``fields`` does not
    give is an ``AttributeError``, never a schema default.
    """
    values = {name: getattr(entity, name) for name in schema.model_fields if name not in fields}
    return schema.model_validate({**values, **fields})
