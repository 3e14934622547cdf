"""The ``contract`` part of the project status document and the delivery milestone's date, in SQL.

Both are expressions over the status statement's ``p`` (see :mod:`api.domain.projects.status`); each is
one index probe of ``contracts`` by ``project_id``. They read the running figures the ledger keeps on the
contract row, so the status document and ``GET /v1/projects/{id}/contract`` always agree:

- ``baseline_price``, ``baseline_delivery_date``: from the accepted quote;
- ``approved_changes``: Σ approved price impacts; ``current_price`` = baseline + approved changes;
- ``current_delivery_date``: the baseline date moved by Σ approved business days (as the ledger
  computed it when the last amendment was appended);
- ``scope_change_ratio``: approved changes ÷ baseline price, 4 decimals, ties away from zero;
- ``pending_changes``: the price impact of assessed changes awaiting the client's decision. The change
  request capability owns those figures: it calls :func:`install` with an SQL expression of their
  Σ in minor units (over ``p``); until then the figure is 0.

Without a contract (no quote accepted yet) every field is null.
"""

from __future__ import annotations

from api.domain.projects import status

NO_CONTRACT = (
    """'{"baseline_price": null, "approved_changes": null, "pending_changes": null, "current_price": null, """
    """"baseline_delivery_date": null, "current_delivery_date": null, "scope_change_ratio": null}'::json"""
)


def _money(minor_sql: str) -> str:
    return f"json_build_object('amount', money_text({minor_sql}, k.minor_digits), 'currency', k.currency)"


def contract_sql(pending_minor_sql: str = "0") -> str:
    """The ``contract`` slot: the figures of the project's contract, or nulls without one."""
    return f"""coalesce((
        SELECT json_build_object(
            'baseline_price', {_money("k.baseline_price_minor")},
            'approved_changes', {_money("k.approved_changes_minor")},
            'pending_changes', {_money(f"({pending_minor_sql})::bigint")},
            'current_price', {_money("k.baseline_price_minor + k.approved_changes_minor")},
            'baseline_delivery_date', k.baseline_delivery_date,
            'current_delivery_date', k.current_delivery_date,
            'scope_change_ratio', round(k.approved_changes_minor::numeric / k.baseline_price_minor, 4)::text)
        FROM contracts k WHERE k.project_id = p.id), {NO_CONTRACT})"""


DELIVERY_DUE_ON = "(SELECT k.current_delivery_date FROM contracts k WHERE k.project_id = p.id)"


def install(pending_minor_sql: str = "0") -> None:
    """Fill the status document's ``contract`` and ``delivery_due_on`` slots."""
    status.set_part("contract", contract_sql(pending_minor_sql))
    status.set_part("delivery_due_on", DELIVERY_DUE_ON)


install()
