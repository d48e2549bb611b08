"""`{% table_rows table as rows %}`: a table's rows, rendered by clinic.ui.table_rows_html."""

from django import template

from clinic.ui import table_rows_html

register = template.Library()


@register.simple_tag(takes_context=True)
def table_rows(context, table):
    return table_rows_html(table, context)
