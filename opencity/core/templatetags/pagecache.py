"""`{% personal "name" %}…{% endpersonal %}`: a part of a cached page rendered per visitor.

`{% personal "name" reads petition own_signature %}`: the part differs from visitor to visitor
only through these context names; a visitor whose personal values set none of them gets the
part as it was rendered for anonymous visitors, without rendering it again.

See opencity/pagecache.py. Outside a cached build the tag renders its content as usual.
"""

from django import template

from opencity.pagecache import HOLE_CLOSE, HOLE_OPEN, RECORDER

register = template.Library()


class PersonalNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, name: str, nodelist: template.NodeList, reads: frozenset[str] | None = None):
        self.name = name
        self.nodelist = nodelist
        self.reads = reads  # None: the part may depend on anything of the visitor's

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
    quoted = len(bits) >= 2 and bits[1][0] in "\"'" and bits[1][0] == bits[1][-1]
    if not quoted or (len(bits) > 2 and (bits[2] != "reads" or len(bits) == 3)):
        raise template.TemplateSyntaxError(
            'usage: {% personal "name" [reads name …] %}…{% endpersonal %}'
        )
    nodelist = parser.parse(("endpersonal",))
    parser.delete_first_token()
    return PersonalNode(bits[1][1:-1], nodelist, frozenset(bits[3:]) if len(bits) > 2 else None)
