"""dashboard.charts: server-side SVG, accessible, escaped, and honest about missing data."""

import re

from dashboard import charts


def polylines(svg):
    return re.findall(r'<polyline points="([^"]+)"', svg)


def test_a_sparkline_is_an_image_with_its_title_escaped():
    svg = charts.sparkline([[8, 7.5, 6]], title="Last totals <Alex & co>")
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title>Last totals &lt;Alex &amp; co&gt;</title>" in svg


def test_a_sparkline_draws_one_line_per_person_aligned_on_the_latest_check():
    svg = charts.sparkline([[8, 8, 8, 8], [5, 6]], title="t", width=100, height=20)
    first, second = polylines(svg)
    assert len(first.split()) == 4 and len(second.split()) == 2
    # the shorter series ends where the longer one ends: both end at the right edge
    assert first.split()[-1].split(",")[0] == second.split()[-1].split(",")[0] == "98"


def test_a_lower_value_is_drawn_lower():
    (line,) = polylines(charts.sparkline([[9, 3]], title="t"))
    (_, y_high), (_, y_low) = (point.split(",") for point in line.split())
    assert float(y_low) > float(y_high)  # SVG y grows downwards


def test_a_sparkline_without_data_is_a_dashed_placeholder_not_a_line():
    svg = charts.sparkline([[], [None, None]], title="no checks")
    assert polylines(svg) == [] and 'stroke-dasharray="3 3"' in svg


def chart(**overrides):
    fields = {
        "chart_id": "c1",
        "title": "Total for Robin and Jordan",
        "description": "Two people",
        "x_labels": ["1", "2", "3", "4"],
        "lines": [charts.Line("Robin", [9, 9, 8.5, 9], 0), charts.Line("Jordan", [9, None, 5, 4], 1)],
        "cutoff": 7.0,
    }
    return charts.line_chart(charts.Chart(**{**fields, **overrides}))


def test_a_chart_is_labelled_for_screen_readers():
    svg = chart()
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Total for Robin and Jordan</title>' in svg and '<desc id="c1-desc">' in svg


def test_each_person_gets_a_line_and_a_missing_check_breaks_it():
    svg = chart()
    lines = polylines(svg)
    # Robin: one run of 4 points; Jordan: a lone point (no line), then a run of 2
    assert [len(line.split()) for line in lines] == [4, 2]
    assert "Jordan, session 3: 5.0" in svg and "Robin, session 1: 9.0" in svg


def test_the_cutoff_band_covers_the_scale_below_the_cutoff():
    svg = chart(cutoff=5.0, height=240)
    top, bottom = 18.0, 240 - 46.0
    y, height = (
        float(v)
        for v in re.search(r'class="cutoff-band" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', svg).groups()
    )
    assert y == (top + bottom) / 2  # 5 is the middle of 0–10
    assert y + height == bottom
    assert "below cutoff 5" in svg


def test_markers_for_flags_missed_checks_and_no_shows_carry_their_explanation():
    markers = [
        charts.Marker(2, "alert", "Reliable drop — Jordan"),
        charts.Marker(2, "warning", "Low alliance — Jordan"),
        charts.Marker(1, "missed", "Session 2: no check from Jordan", 1),
        charts.Marker(3, "no_show", "Session 4: no-show"),
    ]
    svg = chart(markers=markers)
    assert svg.count('class="marker-flag') == 2 and "<title>Reliable drop — Jordan</title>" in svg
    assert 'class="marker-missed"' in svg and "no check from Jordan" in svg
    assert 'class="marker-no-show"' in svg and "Session 4: no-show" in svg
    # two flags at one session sit side by side
    xs = re.findall(r'class="marker-flag[^"]*"><title>[^<]*</title><path d="M([\d.]+),', svg)
    assert len(set(xs)) == 2


def test_a_chart_refers_to_no_other_host_and_escapes_names():
    svg = chart(lines=[charts.Line("<script>x</script>", [5, 6, 7, 8])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_a_single_session_is_drawn_in_the_middle():
    svg = chart(x_labels=["1"], lines=[charts.Line("Robin", [8])])
    assert polylines(svg) == [] and "Robin, session 1: 8.0" in svg


def test_split_evidence_shows_names_never_database_ids():
    from types import SimpleNamespace

    from dashboard.pages import evidence_rows

    people = {41: SimpleNamespace(display_name="Robin Rivera"), 42: SimpleNamespace(display_name="Jordan Rivera")}
    rows = dict(evidence_rows({"lower": "42", "higher": "41", "gap": 4.8}, people))
    assert rows["lower"] == "Jordan Rivera" and rows["higher"] == "Robin Rivera" and rows["gap"] == "4.8"
    assert "lower" not in dict(evidence_rows({"lower": "99"}, people))


def test_evidence_the_sentence_already_names_is_not_shown_as_a_code():
    from dashboard.pages import evidence_rows

    rows = dict(evidence_rows({"run": 2, "follows_signal": True, "follows_kind": "rupture"}))
    assert rows == {"sessions in a row": "2", "after a score signal": "yes"}
