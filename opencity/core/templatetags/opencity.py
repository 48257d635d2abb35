from django import template

register = template.Library()


@register.filter
def query_without_page(querydict) -> str:
    """The current query string without `page`, for pagination links."""
    params = querydict.copy()
    params.pop("page", None)
    return params.urlencode()
