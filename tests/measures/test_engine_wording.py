"""The engine's sentences: one plain sentence per finding, with the person's numbers, no jargon.

Pure: the wording functions on their own, and every message of the golden runs.
"""

import pytest

from measures.engine import wording
from tests.measures.golden import make_golden

# Engine terms a therapist should not have to learn; they may appear in the evidence only.
JARGON = ("threshold", "reliable change", "cusum", "noise", "baseline", "(s)", "signal")

# (sentence function, arguments, the sentence)
SENTENCES = [
    (wording.drop_message, ("bond", 9.0, 6.5, 1.4),
     "Bond fell from a usual 9.0 to 6.5, more than the 1.4 that day-to-day variation explains."),
    # a drop held open over a check back within the size: no claim that it is beyond it now
    (wording.drop_message, ("total", 9.0, 8.2, 1.4),
     "The total is still below its usual 9.0 (now 8.2), after a drop larger than day-to-day "
     "variation explains."),
    (wording.drop_message, ("total", 10.0, 8.5, 1.0, True),
     "The total fell from a usual 10.0 to 8.5, more than the 1.0 that counts as a dip after a "
     "run of full marks."),
    (wording.sustained_message, (8.6, 5, 7.4),
     "The total has been below its usual 8.6 on average over the last 5 checks (now 7.4): a "
     "slide too steady for day-to-day variation to explain."),
    (wording.low_fell_message, (7.0, 6.2, 8.1),
     "The total fell to 6.2, below the clinic's cutoff of 7.0, from a usual 8.1."),
    (wording.low_usual_message, (7.0, 6.2, 6.5),
     "The total of 6.2 is below the clinic's cutoff of 7.0, as usual for this client (usual "
     "level 6.5)."),
    (wording.low_usual_message, (7.0, 6.2, None),
     "The total of 6.2 is below the clinic's cutoff of 7.0; there are too few checks yet to "
     "know this client's usual level."),
    (wording.ceiling_message, (3,),
     "Full marks on 3 checks in a row: the check cannot show the alliance growing further, so "
     "even a small dip from here counts as a drop."),
    (wording.repaired_message, (6.0, 7, 8.8, 9),
     "The total dipped to 6.0 in session 7 and came back to 8.8 by session 9: a rupture that "
     "was repaired, a good sign."),
    (wording.no_show_message, (5, 1, 1, 0, "", ""), "No-show or late cancellation at session 5."),
    (wording.no_show_message, (5, 3, 2, 1, " after low scores", ""),
     "Missed 2 of the last 3 scheduled sessions and attended 1 without answering the check "
     "after low scores."),
    (wording.missed_checks_message, (2, 0, 2, "", "; unusual for this client, who usually misses "
                                     "a session or a check 10% of the time"),
     "No check answered at the last 2 scheduled sessions (attended 2 without answering); "
     "unusual for this client, who usually misses a session or a check 10% of the time."),
    (wording.split_message, (True, False, 5.0, 9.0, "Robin", 4.0, 0.5, 1.2, 1),
     "This client rates the alliance 5.0, 4.0 points below Robin (9.0): the gap grew from "
     "their usual 0.5 by 3.5, more than the 1.2 that day-to-day variation explains."),
    (wording.split_message, (True, False, 6.0, 8.0, "Robin", 2.0, 0.4, 1.2, 3),
     "This client rates the alliance 6.0, 2.0 points below Robin (8.0): the gap grew from "
     "their usual 0.4 by 1.6, more than the 1.2 that day-to-day variation explains, and it has "
     "held for 3 checks in a row."),
    # the lower partner usually rates it higher: no "usual gap of -1.0"
    (wording.split_message, (True, False, 6.0, 8.0, "Robin", 2.0, -1.0, 1.2, 1),
     "This client rates the alliance 6.0, 2.0 points below Robin (8.0), while usually 1.0 "
     "above: the gap swung by 3.0, more than the 1.2 that day-to-day variation explains."),
    (wording.split_message, (False, False, 6.5, 9.0, "Robin", 2.5, 2.4, 1.2, 0),
     "This client rates the alliance 6.5, 2.5 points below Robin (9.0), a gap that is usual for "
     "them (usually 2.4)."),
]


@pytest.mark.parametrize(("function", "args", "sentence"), SENTENCES)
def test_each_finding_reads_as_one_plain_sentence_with_its_numbers(function, args, sentence):
    if function is wording.drop_message and len(args) == 5:
        *args, from_ceiling = args
        assert function(*args, from_ceiling=from_ceiling) == sentence
    else:
        assert function(*args) == sentence


def test_the_rupture_sentences_say_whether_it_was_talked_through():
    assert wording.rupture_message(4, talked_through=False) == (
        "The client said something felt off in session 4, and it was not talked through."
    )
    assert "it was talked through" in wording.rupture_message(4, talked_through=True)


MESSAGES = {
    finding[6]
    for record in make_golden.load()["records"].values()
    for case in record["cases"].values()
    for finding in case["findings"]
}


def test_no_sentence_the_engine_writes_uses_its_jargon():
    assert len(MESSAGES) > 100
    for message in MESSAGES:
        assert not [word for word in JARGON if word in message.lower()], message


def test_every_sentence_the_engine_writes_is_one_sentence():
    for message in MESSAGES:
        assert message[0].isupper() and message.endswith("."), message
        assert ". " not in message and "—" not in message, message
