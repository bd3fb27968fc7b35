"""``field__any=[…]``: membership in a long list of values as one array parameter.

``field__in=[…]`` writes one placeholder per value: for the hundreds or thousands of ids a
detection run or a bulk write filters by, the driver then splits and quotes a statement
as long as the list, and Django prepares every value on its way. On PostgreSQL
``field__any`` writes ``field = ANY(%s)`` with the list as one array; elsewhere it is
``IN`` (SQLite has no arrays). The values are taken as they are (ids, keys): no model
instances, no expressions. Registered on every field and relation in ``CoeConfig.ready``.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = list(self.rhs)
        if any(hasattr(v, "resolve_expression") or hasattr(v, "_meta") for v in values[:1]):
            raise TypeError("__any takes plain values (ids, keys), not objects or expressions")
        return values

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        return f"{lhs} IN ({', '.join(['%s'] * len(self.rhs))})", [*params, *self.rhs]

    def as_postgresql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        # The array typed as the column: the driver types a list of small ints as
        # smallint[], and a cross-type ANY is searched element by element, not hashed.
        # Text as text[]: a cast to varchar(n) would cut a longer value and match another.
        db_type = self.lhs.output_field.db_type(connection) or ""
        if db_type.startswith(("varchar", "char", "text")):
            db_type = "text"
        elif not db_type:
            raise TypeError(f"__any cannot type an array for {self.lhs.output_field!r}")
        return f"{lhs} = ANY(%s::{db_type}[])", [*params, self.rhs]


def register() -> None:
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)  # relations keep lookups of their own
