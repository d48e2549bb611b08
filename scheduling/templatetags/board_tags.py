from html import escape

from django import template
from django.template.backends.utils import csrf_input
from django.utils.safestring import mark_safe

from clinic.templatetags.areas import area_includes
from scheduling.templatetags.scheduling_booking import check_in_time

register = template.Library()


@register.filter
def person(user) -> str:
    return user.get_full_name() or user.get_username()


@register.simple_tag(takes_context=True)
def board_card(context, card, show_place=False, error=""):
    """A board card (scheduling.views_board.Card): its times, patient, status, procedure and
    physician (CARD_OPENING), the site and room when `show_place`, each area's
    "board_card.html" part, a refusal `error`, and the buttons this user may press, which
    post back to the page shown (`next`).

    Written here rather than by an included template: a busy board has dozens of cards, and
    an include and its tags per card cost more than the rest of the card."""
    appointment = card.appointment
    html = [_opening(card)]
    if show_place:
        html.append(
            f'\n  <div class="text-body-secondary">{escape(appointment.site.name)}, '
            f"{escape(appointment.room.name)}</div>"
        )
    with context.push(appointment=appointment):
        html.append(f"\n  {area_includes(context, 'board_card.html')}")
    if error:
        html.append(
            '\n  <div class="alert alert-danger py-1 px-2 mt-1 mb-0 small" role="alert">'
            f"{escape(str(error))}</div>"
        )
    if card.may_change:
        html.append(_buttons(context, card))
    html.append("\n</article>")
    return mark_safe("".join(html))


@register.simple_tag(takes_context=True)
def board_slots(context, board):
    """The day board's cards, each in its room's column and its rows of the grid."""
    return mark_safe(
        "".join(
            f'\n    <div class="board-slot" style="grid-column: {escape(str(column.grid_line))}; '
            f'grid-row: {escape(str(placed.grid_span))}">\n      '
            f"{board_card(context, placed.card)}\n    </div>\n    "
            for column in board.rooms
            for placed in column.cards
        )
    )


# A busy board has dozens of cards: their markup is written here, every text escaped as
# format_html would, cheaper than a template's variables and tags for each.
CARD_OPENING = """<article id="{0}" class="{1}" aria-live="polite"
  aria-label="{2} {3}, {4}">
  <div class="d-flex justify-content-between align-items-start gap-1">
    <strong>{2}–{5}</strong>
    <span class="badge status-badge">{4}</span>
  </div>
  <div class="fw-semibold"><a href="{6}">{3}</a></div>
  <div>{7}</div>
  <div class="text-body-secondary">{8}{9}</div>
  {10}"""


def _opening(card) -> str:
    """The card's times, patient, status, procedure, side and level, physician, check-in."""
    checked_in = ""
    if card.checked_in:
        appointment = card.appointment
        checked_in = f'<div class="small">{check_in_time(appointment, appointment.site.zone)}</div>'
    return CARD_OPENING.format(
        escape(card.dom_id),
        escape(card.css_class),
        escape(card.starts),
        escape(card.patient),
        escape(card.status),
        escape(card.ends),
        escape(card.detail_url),
        escape(card.procedure),
        f"{escape(card.side_and_level)} · " if card.side_and_level else "",
        escape(card.physician),
        checked_in,
    )


def _buttons(context, card) -> str:
    """The row of buttons (empty when this card offers none now, as the template wrote it)."""
    if not (card.check_in or card.undo_check_in or card.no_show):
        return '\n  <div class="d-flex flex-wrap gap-1 mt-1">\n  </div>'
    # One CSRF field for all the cards of a page, as {% csrf_token %} writes it.
    found = context.render_context.dicts[0]
    if "board_card_csrf" not in found:
        found["board_card_csrf"] = csrf_input(context.request)
    next_url = escape(str(context.get("next") or context.request.get_full_path()))
    url, target = escape(card.transition_url), escape(card.dom_id)

    def form(to, style, label, confirm=""):
        return (
            f'\n    <form method="post" action="{url}" hx-post="{url}" hx-target="#{target}"'
            f' hx-swap="outerHTML"{confirm}>\n      {found["board_card_csrf"]}'
            f'<input type="hidden" name="to" value="{to}">'
            f'<input type="hidden" name="next" value="{next_url}">\n'
            f'      <button class="btn btn-sm {style}" type="submit">{label}</button>\n    </form>'
        )

    html = ['\n  <div class="d-flex flex-wrap gap-1 mt-1">']
    if card.check_in:
        html.append(form("checked_in", "btn-success", "Check in"))
    if card.undo_check_in:
        html.append(form("undo_check_in", "btn-outline-dark", "Undo check-in"))
    if card.no_show:
        confirm = f'\n      hx-confirm="Mark {escape(card.patient)} as a no-show?"'
        html.append(form("no_show", "btn-outline-dark", "No-show", confirm))
    html.append("\n  </div>")
    return "".join(html)
