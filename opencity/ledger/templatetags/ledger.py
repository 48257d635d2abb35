"""`{% ledger_receipt "petitions.petition" petition.pk %}`: the signed-in person's receipt
for their act on a subject (leaf index, receipt code, check link), or a note that it is
being recorded. Services' templates use it so they need not know the ledger's tables."""

from django import template

from opencity.ledger import selectors

register = template.Library()


@register.inclusion_tag("ledger/_receipt.html", takes_context=True)
def ledger_receipt(context, model: str, pk: int) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"entry": None, "show": False}
    selectors.catch_up_without_worker()
    return {"entry": selectors.receipt_for(user.pk, f"{model}/{pk}"), "show": True}
