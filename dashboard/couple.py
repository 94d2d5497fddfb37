"""The couple and family items of the case page: each person's answers, charted per item.

The questionnaire asks the members of a couple or family two items of its own ("shared"
subscale: working towards something they all want, feeling safe to say what they think with the
others in the room). They score into no subscale the engine reads, so they are charted apart,
one small chart per item beside goals, tasks and bond, a line per person.
"""

from dataclasses import dataclass, field

from dashboard import charts
from measures.models import Answer, TherapySession

SHARED_SUBSCALE = "shared"
# Short headings for the known items; another item is headed by its own prompt.
ITEM_LABELS = {
    "shared_purpose": "Working towards the same thing",
    "shared_safety": "Safe to speak with the others there",
}


@dataclass(frozen=True)
class SharedItem:
    """One couple/family item as the case page shows it: heading, prompt and chart."""

    code: str
    label: str
    prompt: str
    chart: str


@dataclass(frozen=True)
class SharedItems:
    """The case page's couple/family items: false when there is nothing to chart."""

    items: list = field(default_factory=list)
    people: list = field(default_factory=list)  # the first names of the charted people, in order
    # per counted session: (session number, per item [value or None per person])
    table: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.items)


def load_shared_items(case, active, counted):
    """The case's couple/family items charted per person, in the questionnaire's order.

    `active`: the participants charted (in the page's order, which gives each person's line
    style); `counted`: the sessions that count, in order (TherapySession.counted). One query,
    the Answer rows of the shared items of the case's responses; none for a case of one person
    (who is never asked them). An empty SharedItems when there is nothing to chart.
    """
    if len(active) < 2 or not counted:
        return SharedItems()
    position = {session.pk: index for index, session in enumerate(counted)}
    person = {participant.pk: index for index, participant in enumerate(active)}
    answers = (
        Answer.objects.filter(response__session__case=case, item__subscale=SHARED_SUBSCALE)
        .order_by("item__position")
        .values_list(
            "item__code", "item__texts", "response__session_id", "response__participant_id", "value"
        )
    )
    prompts = {}
    values = {}
    for code, texts, session_id, participant_id, value in answers:
        if session_id not in position or participant_id not in person:
            continue  # a session that does not count (cancelled, to come), or a member who left
        prompts.setdefault(code, (texts.get("en") or next(iter(texts.values()), {})).get("prompt", code))
        grid = values.setdefault(code, [[None] * len(counted) for _ in active])
        grid[person[participant_id]][position[session_id]] = None if value is None else float(value)
    if not values:
        return SharedItems()
    labels = [str(number) for number in range(1, len(counted) + 1)]
    no_shows = [
        charts.Marker(index, "no_show", f"Session {index + 1}: {session.get_status_display().lower()}")
        for index, session in enumerate(counted)
        if session.status != TherapySession.Status.ATTENDED
    ]
    items = [(code, ITEM_LABELS.get(code, prompts[code]), prompts[code]) for code in values]
    lines = {
        code: [
            charts.Line(label=participant.display_name, values=grid[index], style=index)
            for index, participant in enumerate(active)
        ]
        for code, grid in values.items()
    }
    drawn = charts.item_charts(f"chart-shared-{case.pk}", items, labels, lines, no_shows)
    return SharedItems(
        items=[
            SharedItem(code=code, label=label, prompt=prompt, chart=svg)
            for (code, label, prompt), (_label, svg) in zip(items, drawn, strict=True)
        ],
        people=[participant.first_name for participant in active],
        table=[
            (index + 1, [[grid[who][index] for who in range(len(active))] for grid in values.values()])
            for index in range(len(counted))
        ],
    )
