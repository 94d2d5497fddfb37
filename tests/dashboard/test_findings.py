"""Findings on the case page (issue 9, points 5, 6, 7 and 9): flags apart from notes, the
explanation and its evidence in words, repair suggestions, new flags, the legend and print."""

import re

import pytest
from django.urls import reverse

from dashboard import charts
from dashboard.pages import evidence_rows
from measures import repairs
from measures.actions.signals import do_acknowledge_signal, do_resolve_signal
from measures.models import CaseEvaluation, Signal, SignalAction
from sessions_app.models import TherapySession
from tests.builders import make_case, make_invitation, make_response, make_session
from tests.dashboard.flags import make_signal

# Kinds that can be warnings or alerts; the engine only ever notes the other two (info).
FLAG_KINDS = [kind for kind in Signal.Kind.values if kind not in ("ceiling", "repaired_rupture")]


def url(case):
    return reverse("dashboard:case", args=[case.pk])


def section(body, section_id):
    start = body.index(f'<section id="{section_id}"')
    return body[start : body.index("</section>", start)]


def session_row(body, session):
    start = body.index(f'<tr id="session-{session.pk}">')
    return body[start : body.index("</tr>", start)]


# 5. Flags that ask for action, notes that inform -------------------------------------------


def test_an_informational_finding_is_a_note_without_buttons_not_an_open_flag(login, therapist, case):
    note = make_signal(case, kind="repaired_rupture", severity="info", message="A rupture was talked through.")
    flag = make_signal(case, kind="low_score", severity="warning", message="Scores are low.")
    body = login(therapist).get(url(case)).content.decode()
    flags, notes = section(body, "flags"), section(body, "notes")
    assert "Scores are low." in flags and "A rupture was talked through." not in flags
    assert "A rupture was talked through." in notes and "Repaired rupture" in notes
    assert "<button" not in notes and reverse("dashboard:resolve_signal", args=[note.pk]) not in body
    assert reverse("dashboard:resolve_signal", args=[flag.pk]) in flags
    assert "Open flags (1)" in body


def test_an_informational_note_is_neither_acknowledged_nor_resolved(login, therapist, case):
    note = make_signal(case, kind="ceiling", severity="info")
    client = login(therapist)
    client.post(reverse("dashboard:acknowledge_signal", args=[note.pk]))
    client.post(reverse("dashboard:resolve_signal", args=[note.pk]), {"repair": "talked_through"})
    note.refresh_from_db()
    assert note.status == "open" and note.actions.count() == 1
    assert not do_acknowledge_signal(note, acting_user=therapist)


def test_a_session_row_keeps_only_the_flags_that_still_stand(login, therapist, case):
    session = make_session(case, days_ago=7)
    make_response(session, case.participants.get())
    make_signal(case, kind="low_score", severity="warning", session=session)
    make_signal(
        case, kind="reliable_drop", severity="alert", session=session, status="cleared", closed_at="2026-01-01T00:00Z"
    )
    make_signal(case, kind="ceiling", severity="info", session=session)
    resolved = make_signal(case, kind="rupture", severity="warning", session=session)
    do_resolve_signal(resolved, repair="talked_through", note="", acting_user=therapist)
    row = session_row(login(therapist).get(url(case)).content.decode(), session)
    assert "Low alliance" in row
    assert "Reliable drop" not in row  # cleared: its finding no longer holds
    assert "Full marks" not in row  # a note, not a flag
    assert "Rupture not talked through · resolved" in row and "badge-resolved" in row


def repair_select(body, flag):
    start = body.rindex("<select", 0, body.index(f'id="repair-{flag.pk}"'))
    return body[start : body.index("</select>", start)]


def test_no_repair_is_chosen_for_the_therapist(login, therapist, case):
    flag = make_signal(case)
    select = repair_select(login(therapist).get(url(case)).content.decode(), flag)
    assert re.search(r'<option value="" selected>Choose what was done…</option>', select)
    assert select.count("selected") == 1


def test_resolving_without_a_choice_is_refused_with_the_error_beside_the_field(login, therapist, case):
    flag = make_signal(case)
    response = login(therapist).post(
        reverse("dashboard:resolve_signal", args=[flag.pk]), {"repair": "", "note": "kept"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    card = body[body.index(f'id="flag-{flag.pk}"') :]
    error = re.search(rf'<div id="repair-{flag.pk}_error" class="invalid-feedback">(.*?)</div>', card, re.S)
    assert error and "Choose what was done." in error.group(1)
    assert 'aria-invalid="true"' in repair_select(body, flag) and "autofocus" in repair_select(body, flag)
    assert 'value="kept"' in card  # the note typed is not lost
    flag.refresh_from_db()
    assert flag.status == "open" and not flag.actions.filter(action="resolved").exists()


def test_a_resolved_flag_no_longer_pulls_its_case_up_the_caseload(login, therapist):
    handled = make_case(therapist, reference="HANDLED")
    waiting = make_case(therapist, reference="WAITING")
    seen = make_case(therapist, reference="SEEN")
    CaseEvaluation.objects.create(case=handled, risk_score=90)
    CaseEvaluation.objects.create(case=waiting, risk_score=30)
    CaseEvaluation.objects.create(case=seen, risk_score=60)
    do_resolve_signal(make_signal(handled), repair="adjusted_goals", note="", acting_user=therapist)
    make_signal(waiting, severity="warning")
    do_acknowledge_signal(make_signal(seen), acting_user=therapist)
    make_signal(handled, kind="ceiling", severity="info")  # a note does not pull either
    body = login(therapist).get(reverse("dashboard:caseload")).content.decode()
    assert sorted(["HANDLED", "WAITING", "SEEN"], key=body.index) == ["WAITING", "HANDLED", "SEEN"]
    handled_row = body[body.index("HANDLED") :]
    assert handled_row[: handled_row.index("</tr>")].count("Full marks") == 0  # notes are not caseload flags
    assert re.search(r'risk-badge[^>]*>90<', body)  # the risk itself stays what the data say


def test_a_resolved_flag_is_drawn_as_resolved_and_the_legend_says_so(login, therapist, case):
    participant = case.participants.get()
    first, second = make_session(case, days_ago=14), make_session(case, days_ago=7)
    make_response(first, participant)
    make_response(second, participant)
    open_flag = make_signal(case, kind="low_score", severity="warning", session=second)
    resolved = make_signal(case, session=first)
    do_resolve_signal(resolved, repair="talked_through", note="", acting_user=therapist)
    make_signal(case, kind="ceiling", severity="info", session=first)
    body = login(therapist).get(url(case)).content.decode()
    chart = body[body.index('id="chart-total-') : body.index("</svg>", body.index('id="chart-total-'))]
    assert chart.count('class="marker-flag marker-resolved"') == 1
    assert chart.count('class="marker-flag marker-warning"') == 1
    assert "Session 1: Reliable drop from usual level (alert, resolved)" in chart
    assert "Full marks" not in chart  # notes are not drawn as flags
    assert open_flag.pk  # (the open one is the warning)
    legend = body[body.index('<ul class="chart-legend') : body.index("</ul>", body.index('<ul class="chart-legend'))]
    for words in ("open flag: alert", "open flag: warning", "resolved flag", "no-show", "check not answered"):
        assert words in legend


def test_the_legend_draws_each_marker_as_the_chart_does():
    legend = str(charts.marker_legend())
    assert legend.count("<li>") == len(charts.LEGEND) and legend.count('aria-hidden="true"') == len(charts.LEGEND)
    assert 'fill="#fff" stroke="#047857"' in legend  # the resolved flag's outline, as on the chart
    assert "✕" in legend


# 6. The sentence first, the evidence folded, in words ----------------------------------------


def test_a_flag_reads_as_its_sentence_with_the_evidence_folded_in_words(login, therapist, case):
    flag = make_signal(
        case,
        evidence={"baseline": 8.72, "current": 4.0, "confirmed_by": "size", "rupture": 1, "from_ceiling": False},
        message="Bond fell from a usual 8.7 to 4.0.",
    )
    body = login(therapist).get(url(case)).content.decode()
    card = body[body.index(f'id="flag-{flag.pk}"') : body.index("</article>", body.index(f'id="flag-{flag.pk}"'))]
    assert card.index("Bond fell from a usual 8.7 to 4.0.") < card.index("How this was decided")
    folded = card[card.index('<details class="small mb-2 how-decided">') :]
    assert "<summary>How this was decided</summary>" in folded
    assert "<dt>usual level</dt><dd>8.72</dd>" in folded
    assert "<dd>the size of the drop</dd>" in folded and "<dd>something felt off, not talked through</dd>" in folded
    assert ">size<" not in card and "confirmed_by" not in card and "<dd>1</dd>" not in card


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("confirmed_by", "next_check", "the next check"),
        ("confirmed_by", "held", "still below the usual level"),
        ("rupture", 2, "something felt off, talked through"),
        ("from_ceiling", True, "yes"),
        ("probability", 0.0125, "0.01"),
    ],
)
def test_evidence_codes_are_shown_in_words(key, value, text):
    assert evidence_rows({key: value})[0][1] == text


# 7. Repair suggestions ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", FLAG_KINDS)
def test_every_kind_of_flag_offers_two_to_four_sourced_suggestions(kind):
    suggestions = repairs.suggestions_for(kind)
    assert 2 <= len(suggestions) <= 4
    for suggestion in suggestions:
        assert suggestion.text and len(suggestion.text) < 160
        assert re.fullmatch(r"[A-Z].+, (19|20)\d\d, [A-Z].+", suggestion.source)  # author, year, short title
        assert "http" not in suggestion.source
        assert len(suggestion.key) <= SignalAction._meta.get_field("suggestion").max_length


def test_suggestion_keys_are_unique_and_notes_have_none():
    keys = [s.key for options in repairs.SUGGESTIONS.values() for s in options]
    assert len(keys) == len(set(keys)) and repairs.OTHER not in keys
    assert set(repairs.SUGGESTIONS) == set(FLAG_KINDS)
    assert repairs.suggestions_for("ceiling") == () and repairs.suggestions_for("repaired_rupture") == ()


def test_the_flag_card_shows_its_suggestions_and_the_resolve_form_offers_them(login, therapist, case):
    flag = make_signal(case, kind="rupture", severity="warning")
    body = login(therapist).get(url(case)).content.decode()
    card = body[body.index(f'id="flag-{flag.pk}"') : body.index("</article>", body.index(f'id="flag-{flag.pk}"'))]
    assert "To try in the next session" in card
    for suggestion in repairs.suggestions_for("rupture"):
        assert suggestion.text.replace("'", "&#x27;") in card
        assert f'<option value="{suggestion.key}">' in card
    assert "Safran &amp; Muran, 2000" in card
    assert '<option value="other">Something else</option>' in card


def test_resolving_records_the_suggestion_used_and_the_history_shows_it(login, therapist, case):
    flag = make_signal(case, kind="rupture", severity="warning")
    used = repairs.suggestions_for("rupture")[0]
    client = login(therapist)
    response = client.post(
        reverse("dashboard:resolve_signal", args=[flag.pk]),
        {"repair": "talked_through", "suggestion": used.key, "note": "Named it together"},
    )
    assert response.status_code == 302
    action = flag.actions.get(action="resolved")
    assert (action.repair, action.suggestion, action.note) == ("talked_through", used.key, "Named it together")
    history = section(client.get(url(case)).content.decode(), "history")
    assert f"Suggestion used: {used.text}".replace("'", "&#x27;") in history


@pytest.mark.parametrize(("suggestion", "stored"), [("", ""), ("other", "other")])
def test_the_suggestion_is_optional_or_something_else(login, therapist, case, suggestion, stored):
    flag = make_signal(case, kind="no_show", severity="warning")
    login(therapist).post(
        reverse("dashboard:resolve_signal", args=[flag.pk]), {"repair": "referred", "suggestion": suggestion}
    )
    assert flag.actions.get(action="resolved").suggestion == stored


def test_a_suggestion_for_another_kind_of_flag_is_refused(login, therapist, case):
    flag = make_signal(case, kind="no_show", severity="warning")
    other_kind = repairs.suggestions_for("rupture")[0].key
    response = login(therapist).post(
        reverse("dashboard:resolve_signal", args=[flag.pk]), {"repair": "referred", "suggestion": other_kind}
    )
    assert response.status_code == 400 and f'id="suggestion-{flag.pk}_error"' in response.content.decode()
    flag.refresh_from_db()
    assert flag.status == "open"
    with pytest.raises(ValueError):
        do_resolve_signal(flag, repair="referred", note="", suggestion=other_kind, acting_user=therapist)


# 9. New flags, the tablet warning, print -----------------------------------------------------


def test_new_flags_are_marked_on_their_rows_until_the_therapist_has_seen_them(login, therapist, case):
    session = make_session(case, days_ago=7)
    make_response(session, case.participants.get())
    new = make_signal(case, kind="low_score", severity="warning", session=session)
    old = make_signal(case, kind="rupture", severity="warning", seen_at="2026-01-01T00:00Z")
    client = login(therapist)
    caseload = client.get(reverse("dashboard:caseload")).content.decode()
    assert caseload.count('<span class="badge badge-new">new</span>') == 1
    body = client.get(url(case)).content.decode()
    new_card = body[body.index(f'id="flag-{new.pk}"') : body.index("</article>", body.index(f'id="flag-{new.pk}"'))]
    old_card = body[body.index(f'id="flag-{old.pk}"') : body.index("</article>", body.index(f'id="flag-{old.pk}"'))]
    assert "badge-new" in new_card and "badge-new" not in old_card
    assert "badge-new" in session_row(body, session)
    again = client.get(url(case)).content.decode()  # opening the case marked them seen
    assert "badge-new" not in again
    assert "badge-new" not in client.get(reverse("dashboard:caseload")).content.decode()


def test_complete_now_says_that_it_signs_the_therapist_out(login, therapist, case):
    session = make_session(case, days_ago=0, status=TherapySession.Status.ATTENDED)
    make_invitation(session, case.participants.get())
    body = login(therapist).get(url(case)).content.decode()
    row = session_row(body, session)
    button = re.search(r"<button[^>]*>(.*?)</button>", row[row.index("complete_now") if "complete_now" in row else 0 :])
    assert re.search(r"complete now<span class=\"visually-hidden\"> \(signs you out\)</span>", row), button
    assert "This signs you out and hands the screen to" in row


def test_the_case_page_links_a_print_stylesheet_that_hides_navigation_and_buttons(login, therapist, case):
    from django.contrib.staticfiles import finders

    body = login(therapist).get(url(case)).content.decode()
    assert re.search(r'<link rel="stylesheet" href="[^"]*css/print\.css" media="print">', body)
    with open(finders.find("css/print.css")) as stylesheet:
        css = stylesheet.read()
    hidden = css[css.index("nav,") : css.index("{", css.index("nav,"))]
    for selector in ("nav", "form", "button", ".btn", "#sessions"):
        assert selector in hidden


def test_the_engines_own_evidence_reaches_the_page_without_codes(login, therapist, case):
    from measures.evaluation import do_evaluate_case

    participant = case.participants.get()
    for index, total in enumerate([9, 9, 8.5, 9, 9, 9, 6.5, 6]):
        make_response(make_session(case, days_ago=7 * (8 - index)), participant, total, total, total)
    do_evaluate_case(case.pk)
    assert Signal.objects.filter(case=case, kind="reliable_drop").exclude(severity="info").exists()
    body = login(therapist).get(url(case)).content.decode()
    pairs = re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", section(body, "flags"))
    assert pairs
    for label, value in pairs:
        assert "_" not in label and "_" not in value, (label, value)
        assert value not in ("size", "next_check", "held", "True", "False", "None"), (label, value)
