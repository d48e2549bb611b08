"""A table's rows (`{% table_rows table as rows %}`), head and pagination, written by
clinic.ui in Python."""

from django import template

from clinic.ui import table_head_html, table_pagination_html, table_rows_html

register = template.Library()


@register.simple_tag(takes_context=True)
def table_rows(context, table):
    return table_rows_html(table, context)


@register.simple_tag(takes_context=True)
def table_head(context, table):
    return table_head_html(table, context)


@register.simple_tag(takes_context=True)
def table_pagination(context, table):
    return table_pagination_html(table, context)
