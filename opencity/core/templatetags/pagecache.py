"""`{% personal "name" %}…{% endpersonal %}`: a part of a cached page rendered per visitor.

See opencity/pagecache.py. Outside a cached build the tag renders its content as usual.
"""

from django import template

from opencity.pagecache import HOLE_CLOSE, HOLE_OPEN, RECORDER

register = template.Library()


class PersonalNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, name: str, nodelist: template.NodeList):
        self.name = name
        self.nodelist = nodelist

    def render(self, context) -> str:
        if not context.get(RECORDER) or context.render_context.get(RECORDER):
            return self.nodelist.render(context)
        context.render_context[RECORDER] = True  # a personal part inside one is not marked
        try:
            inner = self.nodelist.render(context)
        finally:
            context.render_context[RECORDER] = False
        return f"{HOLE_OPEN}{self.name}\x00{inner}{HOLE_CLOSE}"


@register.tag
def personal(parser, token):
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError('usage: {% personal "name" %}…{% endpersonal %}')
    nodelist = parser.parse(("endpersonal",))
    parser.delete_first_token()
    return PersonalNode(bits[1][1:-1], nodelist)
