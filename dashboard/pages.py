"""What the caseload and case pages show, read in a fixed number of queries.

Views hand templates these evaluated rows (STYLE: templates never trigger queries). The
number of queries does not depend on the number of cases, sessions or responses; the tests in
tests/dashboard/test_queries.py hold each function to its count.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Prefetch, Q, Window
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.safestring import mark_safe

from measures import repairs
from measures.actions.invitations import takes_new_checks
from measures.engine import contract
from measures.evaluation import is_check_pending
from measures.models import Answer, Response, Signal, SignalAction, SurveyInvitation
from sessions_app.models import Case, Participant, TherapySession

from . import charts, couple

SPARK_CHECKS = 10
ONE_DECIMAL = Decimal("0.1")
PAGE_SIZE = 50
TRENDS = {
    "up": ("↑", "rising"),
    "down": ("↓", "falling"),
    "flat": ("→", "steady"),
    "none": ("·", "not enough checks for a trend"),
}
# Labels of evidence keys, of evidence values that are codes, and of rupture answers: the engine's
# contract defines them once.
EVIDENCE_LABELS = contract.EVIDENCE_LABELS
EVIDENCE_VALUE_LABELS = contract.EVIDENCE_VALUE_LABELS
RUPTURE_LABELS = contract.RUPTURE_NOTES
# Check states "Send check" acts on: a missing invitation is created, an open one is re-sent.
SENDABLE_STATES = ("not sent", "waiting", "sent")


def _severity_order(signal):
    return (-signal.severity_rank, signal.opened_at)


# Caseload -------------------------------------------------------------------------------


def _one_decimal(value):
    return "–" if value is None else f"{value:.1f}"


@dataclass
class PersonRow:
    participant: Participant
    latest: dict
    trend_symbol: str
    trend_label: str
    totals: list

    # Formatted here rather than with |floatformat: 200 rows × 4 filters cost the template ~10 ms.
    @property
    def subscales_text(self):
        return " · ".join(_one_decimal(self.latest.get(name)) for name in ("goals", "tasks", "bond"))

    @property
    def total_text(self):
        total = self.latest.get("total")
        return None if total is None else _one_decimal(total)


@dataclass
class CaseRow:
    case: Case
    risk_score: int | None
    people: list
    flags: list
    answered: int
    scheduled: int
    sparkline: str
    session_count: int
    last_session: object
    next_session: object

    @property
    def has_answers(self):
        return self.answered > 0

    @property
    def answered_share(self):
        return round(100 * self.answered / self.scheduled) if self.scheduled else None

    @property
    def reason(self):
        """The most severe open flag's explanation: the "why" of the row's place."""
        if not self.flags:
            return ""
        top = self.flags[0]
        if len(self.people) > 1 and top.person is not None:
            return f"{top.person.first_name}: {top.message}"
        return top.message


def needs_therapist_q():
    """Active cases whose therapist is missing or deactivated (or, forced there, of another clinic)."""
    return Q(therapist__isnull=True) | Q(therapist__is_active=False) | ~Q(therapist__clinic_id=F("clinic_id"))


def caseload_cases(user, *, flagged=False, kind="", search="", clinic_wide=False, therapist_id=None,
                   needs_therapist=False):
    """Active cases with their evaluation. One query.

    The therapist's own cases; with clinic_wide (the admin's home), every case of the clinic the
    user may see, with its therapist, optionally one therapist's or those needing a therapist.
    Cases with a flag nobody has acted on yet (an open, unacknowledged warning or alert) come
    first, then the rest, each group riskiest first: an acknowledged or resolved flag no longer
    pulls its case up, while the risk shown stays the engine's.
    """
    cases = Case.objects.for_user(user).active()
    if clinic_wide:
        cases = cases.select_related("therapist")
        if therapist_id:
            cases = cases.filter(therapist_id=therapist_id)
        if needs_therapist:
            cases = cases.filter(needs_therapist_q())
    else:
        cases = cases.filter(therapist=user)
    cases = (
        cases.select_related("evaluation")
        .alias(
            needs_action=Exists(
                Signal.objects.filter(case=OuterRef("pk"), status=Signal.Status.OPEN).exclude(
                    severity=Signal.Severity.INFO
                )
            )
        )
        .order_by(F("needs_action").desc(), F("evaluation__risk_score").desc(nulls_last=True), "reference")
    )
    if flagged:
        cases = cases.filter(
            Exists(
                Signal.objects.filter(case=OuterRef("pk"), status__in=Signal.OPEN_STATUSES).exclude(
                    severity=Signal.Severity.INFO
                )
            )
        )
    if kind:
        cases = cases.filter(kind=kind)
    if search:
        cases = cases.filter(
            Q(reference__icontains=search)
            | Exists(Participant.objects.filter(case=OuterRef("pk"), is_active=True, display_name__icontains=search))
        )
    return cases


def load_caseload(user, *, flagged=False, kind="", search="", page=1, now=None, **clinic_filters):
    """One page of caseload rows, riskiest first: (rows, page). Six queries whatever the caseload's size:

    1. how many cases match; 2. this page's cases with their evaluation; 3. their active
    participants; 4. their open flags; 5. per case, the attended-session count and the last and
    next session; 6. each participant's last ten totals.
    Pages of PAGE_SIZE keep the time flat as a caseload grows; the riskiest cases are on page 1.
    `clinic_filters` (clinic_wide, therapist_id, needs_therapist) give the admin's clinic-wide
    list in the same six queries (the therapist comes with query 2).
    """
    now = now or timezone.now()
    paginator = Paginator(
        caseload_cases(user, flagged=flagged, kind=kind, search=search, **clinic_filters).prefetch_related(
            Prefetch("participants", queryset=Participant.objects.filter(is_active=True), to_attr="active_people"),
            Prefetch(
                "signals",
                # Flags only: informational notes are shown on the case page, not here.
                queryset=Signal.objects.open()
                .exclude(severity=Signal.Severity.INFO)
                .only("case_id", "participant_id", "kind", "severity", "message", "status", "opened_at", "seen_at"),
                to_attr="open_flags",
            ),
        ),
        PAGE_SIZE,
    )
    current = paginator.get_page(page)
    cases = list(current.object_list)
    ids = [case.pk for case in cases]
    dates = session_dates(ids, now=now) if cases else {}
    totals = last_totals(ids) if cases else {}
    cutoff = float(user.clinic.alliance_cutoff) if user.clinic_id else None
    return [_case_row(case, dates.get(case.pk, {}), totals, cutoff) for case in cases], current


def session_dates(case_ids, *, now):
    """case id → attended count, last attended and next scheduled session. One grouped query
    (cheaper than three correlated subqueries per case once a caseload has hundreds of cases)."""
    attended = Q(status=TherapySession.Status.ATTENDED)
    rows = (
        TherapySession.objects.filter(case_id__in=case_ids)
        .order_by()
        .values("case_id")
        .annotate(
            attended=Count("pk", filter=attended),
            last=Max("scheduled_start", filter=attended & Q(scheduled_start__lte=now)),
            next=Min("scheduled_start", filter=Q(status=TherapySession.Status.SCHEDULED, scheduled_start__gt=now)),
        )
    )
    return {row["case_id"]: row for row in rows}


def last_totals(case_ids, limit=SPARK_CHECKS):
    """participant id → their latest `limit` totals, oldest first. One query (a window function)."""
    ranked = (
        Response.objects.filter(session__case_id__in=case_ids)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("participant_id")], order_by=F("session__scheduled_start").desc())
        )
        .filter(rank__lte=limit)
        .values_list("participant_id", "total", "rank")
    )
    by_person = {}
    for participant_id, total, rank in ranked:
        by_person.setdefault(participant_id, []).append((rank, float(total)))
    return {pid: [value for _rank, value in sorted(values, reverse=True)] for pid, values in by_person.items()}


def _case_row(case, dates, totals, cutoff):
    evaluation = getattr(case, "evaluation", None)
    summary = evaluation.summary if evaluation else {}
    people = []
    answered = scheduled = 0
    by_id = {participant.pk: participant for participant in case.active_people}
    for flag in case.open_flags:
        flag.person = by_id.get(flag.participant_id)
        flag.is_new = is_new(flag)
    for participant in case.active_people:
        figures = summary.get(str(participant.pk), {})
        answered += figures.get("answered", 0)
        scheduled += figures.get("scheduled", 0)
        symbol, label = TRENDS.get(figures.get("trend", "none"), TRENDS["none"])
        people.append(
            PersonRow(
                participant=participant,
                latest=figures.get("latest") or {},
                trend_symbol=symbol,
                trend_label=label,
                totals=totals.get(participant.pk, []),
            )
        )
    title = "Last ten totals: " + "; ".join(
        f"{person.participant.first_name} " + (", ".join(f"{v:.1f}" for v in person.totals) or "none")
        for person in people
    )
    return CaseRow(
        case=case,
        risk_score=evaluation.risk_score if evaluation else None,
        people=people,
        flags=sorted(case.open_flags, key=_severity_order),
        answered=answered,
        scheduled=scheduled,
        sparkline=charts.sparkline([person.totals for person in people], title=title, cutoff=cutoff),
        session_count=dates.get("attended", 0),
        last_session=dates.get("last"),
        next_session=dates.get("next"),
    )


# Case page ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerLine:
    """One item answer as the page shows it: the item's prompt and the answer in words."""

    prompt: str
    value_text: str
    is_text: bool = False  # the client's own words (a free-text item)


def _answer_text(kind, value, text, scale_max):
    if kind == "yes_no":
        return "yes" if value else "no"
    if kind == "text":
        return text or ""
    if kind == "choice":  # the kind of rupture: its code is kept in the answer's text
        return contract.RUPTURE_TYPE_LABELS.get(text, text).lower()
    return f"{value} of {scale_max}"


@dataclass
class CheckCell:
    """One participant's check for one session: its invitation, its response and the answers."""

    participant: Participant
    invitation: object = None
    response: object = None
    answers: list = field(default_factory=list)
    # Unanswered but still answerable (measures.evaluation.is_check_pending): not a missed check.
    pending: bool = False

    @property
    def state(self):
        if self.response is not None:
            return "answered"
        if self.invitation is None:
            return "not sent"
        if self.invitation.is_expired():
            return "expired"
        return "sent" if self.invitation.sent_at else "waiting"

    @property
    def rupture_label(self):
        """The client's answer to "did something feel off?", in the page's words ("" for no)."""
        return RUPTURE_LABELS.get(self.response.rupture, "") if self.response is not None else ""

    @property
    def has_unresolved_rupture(self):
        return self.response is not None and self.response.rupture == Response.Rupture.UNRESOLVED

    @property
    def scores_html(self):
        """"goals · tasks · bond · <strong>total</strong>" with one decimal ("" without a response).
        Formatted here: |floatformat four times per check was a fifth of the case page's time."""
        return _scores_html(self.response)

    @property
    def answers_html(self):
        """The item answers as a list; built here because a template loop over ~650 answers of a
        50-session case was the largest part of the case page's time."""
        return _answers_html(self.answers)

    @property
    def answers_without_text_html(self):
        """The same without the client's own words (the clinic lets only the therapist read them)."""
        return _answers_html([line for line in self.answers if not line.is_text])


def _answers_html(lines):
    items = "".join(f"<li>{escape(line.prompt)} — <strong>{escape(line.value_text)}</strong></li>" for line in lines)
    return mark_safe(f'<ul class="list-unstyled mb-1">{items}</ul>')


def _d1(value):
    # As |floatformat:1 rounds (half up), so the figures match the rest of the pages.
    return str(Decimal(value).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def _scores_html(response):
    if response is None:
        return ""
    return mark_safe(
        f"{_d1(response.goals)} · {_d1(response.tasks)} · {_d1(response.bond)} · <strong>{_d1(response.total)}</strong>"
    )


@dataclass
class SessionRow:
    session: TherapySession
    number: int | None
    checks: list
    flags: list
    # (status, short label) the therapist may record now: empty on a closed case or read-only.
    record_choices: list = field(default_factory=list)

    @property
    def is_attended(self):
        return self.session.status == TherapySession.Status.ATTENDED

    @property
    def takes_new_checks(self):
        """Whether a check may still be created for this session (the one rule, takes_new_checks)."""
        return takes_new_checks(self.session)

    @property
    def has_answers(self):
        return any(cell.response is not None for cell in self.checks)

    @property
    def has_open_checks(self):
        """Something for "Send check" to do: an attended session with a check neither answered nor
        expired, and for a check not created yet, a session that still takes new checks."""
        if not self.is_attended:
            return False
        if any(cell.state in ("waiting", "sent") for cell in self.checks):
            return True
        return self.takes_new_checks and any(cell.state == "not sent" for cell in self.checks)


def is_actionable(signal):
    """Whether a finding asks the therapist to act (a warning or an alert) rather than informs (info)."""
    return signal.severity != Signal.Severity.INFO


def is_new(signal):
    """An open flag its therapist has not looked at yet (the header counts these)."""
    return signal.status == Signal.Status.OPEN and signal.seen_at is None and is_actionable(signal)


def load_case_page(case, *, record_choices=(), now=None):
    """Everything the case page shows. Eight queries whatever the number of sessions:

    1. participants; 2. sessions; 3. their invitations; 4. responses; 5. answers with their
    items' kind and English prompt; 6. the case's flags; 7. the flags' actions with their actors;
    8. the couple/family items' answers (couples and families only).
    `record_choices` are the (status, label) buttons of the session list; a row offers those
    that change its status, and only "cancelled" for a session still to come.

    Invitations, responses and answers are read per case and grouped here rather than through
    prefetch_related: no related manager per session and no Item instance per answer (they were
    half of the page's time on a 50-session case).
    """
    now = now or timezone.now()
    participants = list(case.participants.all())
    sessions = list(case.sessions.order_by("scheduled_start"))
    invitations = {}
    for invitation in SurveyInvitation.objects.filter(session__case_id=case.pk):
        invitations[(invitation.session_id, invitation.participant_id)] = invitation
    responses = {}
    for response in Response.objects.filter(session__case_id=case.pk):
        responses[(response.session_id, response.participant_id)] = response
    answers = {}
    answer_rows = (
        Answer.objects.filter(response__session__case_id=case.pk)
        .order_by("response_id", "item__position")
        .annotate(prompt=KeyTextTransform("prompt", KeyTransform("en", "item__texts")))
        .values_list("response_id", "item__kind", "prompt", "value", "text", "scale_max")
    )
    for response_id, kind, prompt, value, text, scale_max in answer_rows:
        answers.setdefault(response_id, []).append(
            AnswerLine(prompt or "", _answer_text(kind, value, text, scale_max), is_text=kind == "text")
        )
    signals = list(
        Signal.objects.filter(case=case)
        .select_related("session")
        .prefetch_related(Prefetch("actions", queryset=SignalAction.objects.select_related("actor")))
        .order_by("-opened_at", "-pk")
    )
    people = {p.pk: p for p in participants}
    for signal in signals:
        signal.person = people.get(signal.participant_id)
        signal.evidence_rows = evidence_rows(signal.evidence, people)
        signal.is_new = is_new(signal)
        signal.suggestions = repairs.suggestions_for(signal.kind)
        signal.history = list(signal.actions.all())
        for action in signal.history:
            action.suggestion_text = repairs.suggestion_label(action.suggestion)
    active = [p for p in participants if p.is_active]
    counted = TherapySession.counted(sessions, now)  # numbered as the engine numbers them
    number_of = {s.pk: number for number, s in enumerate(counted, start=1)}
    flags_by_session = {}
    for signal in signals:
        # A session row's badges are its flags that still stand: a cleared finding leaves the
        # row (it stays in the history), and an informational note is not a flag.
        if signal.session_id and is_actionable(signal) and signal.status != Signal.Status.CLEARED:
            flags_by_session.setdefault(signal.session_id, []).append(signal)
    rows = []
    for session in sessions:
        checks = []
        for p in participants:
            response = responses.get((session.pk, p.pk))
            invitation = invitations.get((session.pk, p.pk))
            if p.is_active or response is not None:
                checks.append(
                    CheckCell(
                        participant=p,
                        invitation=invitation,
                        response=response,
                        answers=answers.get(response.pk, []) if response is not None else [],
                        pending=response is None and is_check_pending(session, invitation, now),
                    )
                )
        started = session.scheduled_start <= now
        choices = [
            (value, label)
            for value, label in record_choices
            if value != session.status and (started or value not in TherapySession.COUNTED)
        ]
        flags = flags_by_session.get(session.pk, [])
        rows.append(SessionRow(session, number_of.get(session.pk), checks, flags, record_choices=choices))
    open_findings = sorted((s for s in signals if s.is_open), key=_severity_order)
    return {
        "participants": participants,
        "session_rows": list(reversed(rows)),
        "open_flags": [s for s in open_findings if is_actionable(s)],
        "case_notes": [s for s in open_findings if not is_actionable(s)],
        "flag_history": signals,
        "charts": case_charts(case, active, counted, rows, signals),
        "marker_legend": charts.marker_legend(),
        "table": chart_table(active, counted, rows),
        "shared_items": couple.load_shared_items(case, active, counted),
        "evaluation": getattr(case, "evaluation", None),
        "risk_sentence": risk_sentence(getattr(getattr(case, "evaluation", None), "risk_score", None)),
    }


def risk_sentence(risk_score):
    """The case's risk (a probability × 100, measures.engine.risk) as a frequency a person reads:
    "About 1 in 3 clients with this pattern stopped coming within three sessions." None without one.
    """
    if risk_score is None:
        return None
    p = risk_score / 100
    if p < 0.02:
        share = "Fewer than 1 in 50"
    elif p < 0.35:  # 1 in 3 at most: "1 in 2" would stretch 40% to half
        share = f"About 1 in {round(1 / p)}"
    elif p < 0.95:
        share = f"About {int(10 * p + 0.5)} in 10"
    else:
        share = "Nearly all"
    return f"{share} clients with this pattern stopped coming within three sessions."


# Evidence the sentence already says in words (the kind of signal a lapse follows).
HIDDEN_EVIDENCE = {"follows_kind"}
# Evidence values that are participant ids (split alliance): shown as the person's name.
PERSON_KEYS = {"lower", "higher"}
# Evidence values that are codes: shown in words (no raw code reaches the page).


def evidence_rows(evidence, people=None):
    """The engine's evidence as (label, text) pairs a therapist can read; ids become names."""
    rows = []
    for key, value in (evidence or {}).items():
        if value is None or value == "" or key in HIDDEN_EVIDENCE:
            continue
        if key in PERSON_KEYS:
            person = (people or {}).get(int(value)) if str(value).isdigit() else None
            if person is None:
                continue  # never show a bare database id
            text = person.display_name
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif key in EVIDENCE_VALUE_LABELS:
            text = EVIDENCE_VALUE_LABELS[key].get(value, str(value))
        elif isinstance(value, float):
            text = f"{value:.2f}".rstrip("0").rstrip(".")
        else:
            text = str(value)
        rows.append((EVIDENCE_LABELS.get(key, key.replace("_", " ")), text))
    return rows


def _score_lines(active, counted, rows, series):
    by_session = {row.session.pk: row for row in rows}
    lines = []
    for index, participant in enumerate(active):
        values = []
        for session in counted:
            cell = next((c for c in by_session[session.pk].checks if c.participant.pk == participant.pk), None)
            response = cell.response if cell else None
            values.append(float(getattr(response, series)) if response is not None else None)
        lines.append(charts.Line(label=participant.display_name, values=values, style=index))
    return lines


def case_charts(case, active, counted, rows, signals):
    """The total chart with flags, missed checks and no-shows, then one small chart per subscale."""
    position = {session.pk: index for index, session in enumerate(counted)}
    style = {participant.pk: index for index, participant in enumerate(active)}
    by_session = {row.session.pk: row for row in rows}
    markers = []
    for session in counted:
        if session.status != TherapySession.Status.ATTENDED:
            markers.append(
                charts.Marker(
                    position[session.pk],
                    "no_show",
                    f"Session {position[session.pk] + 1}: {session.get_status_display().lower()}",
                )
            )
            continue
        for cell in by_session[session.pk].checks:
            if cell.response is None and not cell.pending and cell.participant.pk in style:
                markers.append(
                    charts.Marker(
                        position[session.pk],
                        "missed",
                        f"Session {position[session.pk] + 1}: no check from {cell.participant.display_name}",
                        style[cell.participant.pk],
                    )
                )
    for signal in signals:
        # Flags only: an informational note is not drawn, a cleared finding has left the chart
        # (both stay in the history), and a resolved flag keeps its place with its own marker.
        if signal.session_id in position and is_actionable(signal) and signal.status != Signal.Status.CLEARED:
            name = signal.person.first_name if signal.person else ""
            markers.append(
                charts.Marker(
                    position[signal.session_id],
                    "resolved" if signal.status == Signal.Status.RESOLVED else signal.severity,
                    f"Session {position[signal.session_id] + 1}: {signal.get_kind_display()} ({signal.severity}, "
                    f"{signal.get_status_display().lower()}) — {name}",
                )
            )
    cutoff = float(case.clinic.alliance_cutoff)
    labels = [str(n) for n in range(1, len(counted) + 1)]
    who = " and ".join(p.first_name for p in active) or "no one"
    result = [
        (
            "Total",
            charts.line_chart(
                charts.Chart(
                    chart_id=f"chart-total-{case.pk}",
                    title=f"Total alliance over sessions for {who}",
                    description=(
                        f"{len(counted)} sessions, scores 0 to 10, clinic cutoff {cutoff:g}; filled triangles at the "
                        "top mark open flags, outlined triangles resolved flags, dashed lines with a cross no-shows, "
                        "open circles at the bottom checks not answered. The same figures are in the table below."
                    ),
                    x_labels=labels,
                    lines=_score_lines(active, counted, rows, "total"),
                    markers=markers,
                    cutoff=cutoff,
                    height=260,
                )
            ),
        )
    ]
    for series in ("goals", "tasks", "bond"):
        result.append(
            (
                series.capitalize(),
                charts.line_chart(
                    charts.Chart(
                        chart_id=f"chart-{series}-{case.pk}",
                        title=f"{series.capitalize()} over sessions for {who}",
                        description=f"{len(counted)} sessions, scores 0 to 10. The same figures are in the table.",
                        x_labels=labels,
                        lines=_score_lines(active, counted, rows, series),
                        markers=[m for m in markers if m.kind == "no_show"],
                        cutoff=cutoff,
                        width=360,
                        height=180,
                    )
                ),
            )
        )
    return result


def chart_table(active, counted, rows):
    """The charts' figures as rows: session number, date, status, then per person "G · T · B · total"
    (formatted here, "—" without a check)."""
    by_session = {row.session.pk: row for row in rows}
    table = []
    for session in counted:
        row = by_session[session.pk]
        cells = {c.participant.pk: c for c in row.checks}
        scores = []
        for participant in active:
            response = cells[participant.pk].response if participant.pk in cells else None
            scores.append(_scores_html(response) or "—")
        table.append({"number": row.number, "session": session, "scores": scores})
    return table
