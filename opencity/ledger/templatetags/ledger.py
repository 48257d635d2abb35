"""`{% ledger_receipt "petitions.petition" petition.pk %}`: the signed-in person's receipt
for their act on a subject (leaf index, receipt code, check link), or a note that it is
being recorded. Services' templates use it so they need not know the ledger's tables."""

from django import template

from opencity.ledger import selectors

register = template.Library()
_LOOK_UP = object()


@register.inclusion_tag("ledger/_receipt.html", takes_context=True)
def ledger_receipt(context, model: str, pk: int, known=_LOOK_UP) -> dict:
    """`known`: the receipt the view already read (receipt_sql), None if there is none
    yet; left out, the tag reads it."""
    # The context's user: a cached page is rendered as an anonymous visitor sees it.
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"entry": None, "show": False}
    if known is not _LOOK_UP:
        return {"entry": known, "show": True}
    selectors.catch_up_without_worker()
    return {"entry": selectors.receipt_for(user.pk, f"{model}/{pk}"), "show": True}
