"""Which pages show or change client data, and how each names its case: the access log's table.

One row per URL name. `key` is the URL keyword that leads to the case (None: a page about no one
case, such as the caseload); `export` marks a download, logged with its scope. A test walks the
URL configuration: every route with a case_id / session_id / signal_id / participant_id keyword,
and every route named like an export, must have a row here (tests/audit/test_routes.py), so a new
page without a row fails the suite.

Not here, on purpose: the client's own survey pages (/s/<token>/...). They are the client reading
and answering their own check with a link, not staff reading client data, and an entry would
need the link's token, a credential that is kept out of every log.
"""

from dataclasses import dataclass

CASE_KEYS = ("case_id", "session_id", "signal_id", "participant_id")


@dataclass(frozen=True)
class Route:
    key: str | None
    export: bool = False


CLIENT_DATA_ROUTES = {
    # The therapist's pages.
    "dashboard:caseload": Route(None),  # client names, scores and flags of the whole caseload
    "dashboard:case": Route("case_id"),
    "dashboard:schedule_session": Route("case_id"),
    "dashboard:record_session": Route("session_id"),
    "dashboard:send_checks": Route("session_id"),
    "dashboard:reschedule_session": Route("session_id"),
    "dashboard:delete_session": Route("session_id"),
    "dashboard:acknowledge_signal": Route("signal_id"),
    "dashboard:resolve_signal": Route("signal_id"),
    # Case administration.
    "dashboard:open_case": Route(None),
    "dashboard:manage_case": Route("case_id"),
    "dashboard:assign_case": Route("case_id"),
    "dashboard:close_case": Route("case_id"),
    "dashboard:reopen_case": Route("case_id"),
    "dashboard:add_participant": Route("case_id"),
    "dashboard:edit_participant": Route("participant_id"),
    "dashboard:remove_participant": Route("participant_id"),
    "dashboard:import_cases": Route(None),  # the preview lists the clients of the file
    "dashboard:confirm_import": Route(None),
    # "Complete now" and the QR code hand a client's check over (staff pages, not the survey).
    "surveys:complete_now": Route("participant_id"),
    "surveys:participant_qr": Route("participant_id"),
    # The clinic overview and the printable reports (the case report holds the case page's data).
    "dashboard:overview": Route(None),
    "dashboard:report_clinic": Route(None),
    "dashboard:report_case": Route("case_id"),
    # Exports: the page lists earlier exports by case; each download is logged with its scope.
    "dashboard:exports": Route(None),
    "dashboard:export_download": Route(None, export=True),
    # The access log's own download: who read which case is itself sensitive.
    "audit:export": Route(None, export=True),
}


def is_export_name(name):
    """A URL name that the table must mark as an export (the test checks every such route):
    `export` or `export_<something>`; the `exports` page itself only lists earlier exports."""
    last = name.rpartition(":")[2]
    return last == "export" or last.startswith("export_")
