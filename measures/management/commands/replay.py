"""Replay a CSV of session histories through the early-warning engine (DESIGN.md, "Replay format").

A thin wrapper: parsing, the engine and writing live in measures.engine.replay, shared with the
benchmarks. The input is validated completely first; a malformed file is refused with
"line N: reason" and no output file is written.

Like the app calibrates the engine from a clinic's own data, the replay by default estimates
reliability, spread and the usual rate of missed checks from the file (when it holds at least 30
clients with 3+ checks); --reliability / --spread fix them instead, --no-calibrate keeps the
built-in defaults. After that it keeps a false-flag budget (--budget, default 8%): the one
strictness knob is set so that at most that share of steady courses simulated from the file's own
clients is ever flagged (measures.engine.budget); --no-budget, or --no-calibrate, leaves it at 1.

--strictness, --z-confirm and --engagement-rate give what a clinic's export names (the live app's
stored strictness, its flag sensitivity, its own usual rate of missed checks), so that the replay
of a clinic's history finds what the app found (measures.exports.replay.replay_options); a given
strictness is used as it is, never recalibrated.
"""

import dataclasses
import os
import secrets
import stat
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from measures.engine import SERIES, EngineSettings
from measures.engine.budget import DEFAULT_BUDGET, STRICTNESS_RANGE, at_strictness, calibrate_strictness
from measures.engine.calibration import apply_calibration, compute_calibration
from measures.engine.replay import ReplayError, read_replay, run_replay


def _per_series(raw, option, low, high):
    """'0.9' (every series) or 'total=0.9,bond=0.85' → {series: value}; CommandError if bad."""
    values = {}
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) == 1 and "=" not in parts[0]:
        parts = [f"{series}={parts[0]}" for series in SERIES]
    for part in parts:
        name, _, text = part.partition("=")
        name = name.strip()
        if name not in SERIES:
            raise CommandError(f"{option}: unknown series {name!r} (use {', '.join(SERIES)})")
        try:
            value = float(text)
        except ValueError:
            raise CommandError(f"{option}: {text!r} is not a number") from None
        if not low <= value <= high:
            raise CommandError(f"{option}: {name}={value:g} is outside {low:g}–{high:g}")
        values[name] = value
    return values


BUDGET_MAX = 50.0  # percent: a budget beyond this is not a budget


def _budget(raw):
    """'8' or '7.5' (percent) → 0.08 / 0.075; CommandError if not a number within 0–50."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise CommandError(f"--budget: {raw!r} is not a number (a percentage, e.g. 8)") from None
    if not 0.0 <= value <= BUDGET_MAX:  # also refuses nan
        raise CommandError(f"--budget: {raw} is outside 0–{BUDGET_MAX:g} (percent)")
    return value / 100.0


def _number(raw, option, low, high, *, open_range=False):
    """A number within low–high (strictly between them if open_range); CommandError if not."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise CommandError(f"{option}: {raw!r} is not a number") from None
    inside = low < value < high if open_range else low <= value <= high  # also refuses nan
    if not inside:
        bound = "between" if open_range else "within"
        raise CommandError(f"{option}: {raw} must be {bound} {low:g} and {high:g}")
    return value


def _create_temporary(directory):
    """Create an empty ``.replay-*.csv`` in ``directory``; returns (file descriptor, path).

    Unlike tempfile.mkstemp (always 0600) the file is created with mode 0666, which the kernel
    narrows by the process umask (and a default ACL) exactly as for any file a program creates,
    without reading the umask, which can only be done by changing it for every thread.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        path = Path(directory) / f".replay-{secrets.token_hex(8)}.csv"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def _write_atomically(target, write):
    """Call ``write(text stream)`` on a file next to ``target``, then rename it over ``target``.

    A failure never leaves a half-written target or the temporary file. An existing target keeps
    its permission bits, as when a program overwrites a file in place; a new one follows the umask.
    Raises CommandError("cannot write TARGET: reason") on any OSError.
    """
    temporary = None
    try:
        handle, temporary = _create_temporary(target.parent)
        try:
            output = os.fdopen(handle, "w", newline="", encoding="utf-8")
        except BaseException:
            os.close(handle)
            raise
        with output:
            result = write(output)
        try:
            mode = target.stat().st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISREG(mode):
            os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
        temporary = None
        return result
    except OSError as error:
        raise CommandError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


class Command(BaseCommand):
    help = "Replay session histories (CSV) through the early-warning engine and write the flags."

    def add_arguments(self, parser):
        parser.add_argument("input", help="replay CSV: client_id, case_id, session_number, ...")
        parser.add_argument("--output", required=True, help="where to write the flags CSV")
        parser.add_argument("--cutoff", type=float, help="low-alliance cutoff on the total (0–10)")
        parser.add_argument(
            "--reliability", help="reliability, e.g. 0.9 or total=0.9,bond=0.85 (default: built in)"
        )
        parser.add_argument(
            "--spread", help="first-session SD, e.g. 1.3 or total=1.3,bond=1.5 (default: built in)"
        )
        parser.add_argument(
            "--no-calibrate",
            action="store_true",
            help="do not estimate reliability, spread and engagement from the file itself",
        )
        parser.add_argument(
            "--budget",
            help="false-flag budget: at most this percentage of steady courses flagged (default 8)",
        )
        parser.add_argument(
            "--no-budget", action="store_true", help="keep the default strictness (no budget)"
        )
        parser.add_argument(
            "--strictness",
            help="use this strictness (a clinic's stored one, e.g. 1.3) instead of keeping a budget",
        )
        parser.add_argument(
            "--z-confirm", help="how strong a confirmed drop must be, in SD units (default 2.6)"
        )
        parser.add_argument(
            "--engagement-rate",
            help="the usual rate of missed checks, 0–1 (default: the file's own, or 0.1)",
        )

    def handle(self, *args, **options):
        defaults = EngineSettings()
        cutoff = options["cutoff"]
        if cutoff is not None and not defaults.scale_min <= cutoff <= defaults.scale_max:
            raise CommandError(
                f"--cutoff must be within {defaults.scale_min:g}–{defaults.scale_max:g}"
            )
        reliability = spread = {}
        if options["reliability"]:
            reliability = _per_series(options["reliability"], "--reliability", 0.0, 0.999)
        if options["spread"]:
            spread = _per_series(options["spread"], "--spread", 0.01, 10.0)

        strictness = z_confirm = engagement = None
        if options["strictness"] is not None:
            if options["budget"] is not None or options["no_budget"]:
                raise CommandError("--strictness replaces the budget: give one of them")
            strictness = _number(options["strictness"], "--strictness", *STRICTNESS_RANGE)
        if options["z_confirm"] is not None:
            z_confirm = _number(options["z_confirm"], "--z-confirm", defaults.z_drop, 6.0, open_range=True)
        if options["engagement_rate"] is not None:
            engagement = _number(options["engagement_rate"], "--engagement-rate", 0.0, 1.0, open_range=True)
        budget = None
        if strictness is None and not options["no_budget"]:
            given = options["budget"]
            budget = DEFAULT_BUDGET if given is None else _budget(given)

        source = Path(options["input"])
        target = Path(options["output"])
        if target.is_dir():  # refuse before the work, not after it
            raise CommandError(f"cannot write {target}: it is a directory")
        try:
            with source.open(newline="", encoding="utf-8-sig") as stream:
                # scale bounds are all that parsing needs from the settings
                cases = read_replay(stream, defaults)
        except OSError as error:
            raise CommandError(f"cannot read {source}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{source} is not UTF-8 text") from None
        except ReplayError as error:
            raise CommandError(str(error)) from None

        calibration = None
        if not options["no_calibrate"]:
            calibration = compute_calibration(
                observations for parts in cases.values() for observations in parts.values()
            )
        settings = apply_calibration(defaults, calibration)
        settings = dataclasses.replace(
            settings,
            cutoff=settings.cutoff if cutoff is None else cutoff,
            reliability={**settings.reliability, **reliability},
            spread={**settings.spread, **spread},
        )
        if z_confirm is not None:
            settings = dataclasses.replace(settings, z_confirm=z_confirm)
        if engagement is not None:
            settings = dataclasses.replace(settings, engagement_prior_rate=engagement)
        if calibration is not None:
            self.stdout.write(
                f"Calibrated from {calibration.participants} clients: reliability "
                f"{settings.reliability}, spread {settings.spread}, "
                f"usual rate of missed checks {calibration.engagement_rate:.0%}"
            )

        if strictness is not None:
            settings = at_strictness(settings, strictness)
            self.stdout.write(f"Strictness {strictness:g} (given), no budget kept")
        elif budget is not None and not options["no_calibrate"]:
            settings = self._keep_budget(cases, settings, budget)

        # Write next to the target and rename, so a failure never leaves a half-written file.
        findings = _write_atomically(target, lambda output: run_replay(cases, output, settings))
        participants = sum(len(parts) for parts in cases.values())
        self.stdout.write(
            f"{len(cases)} cases, {participants} participants: {findings} flags written to {target}"
        )

    def _keep_budget(self, cases, settings, budget):
        fit = calibrate_strictness(
            (observations for parts in cases.values() for observations in parts.values()),
            settings,
            budget,
            case_sizes=[len(parts) for parts in cases.values()],
        )
        if fit is None:
            self.stdout.write(
                f"False-flag budget {budget * 100:g}%: too few clients, default strictness"
            )
            return settings
        self.stdout.write(
            f"False-flag budget {budget * 100:g}%: strictness {fit.strictness:.2f}, "
            f"{fit.achieved:.1%} of {fit.courses} simulated steady courses flagged"
        )
        return at_strictness(settings, fit.strictness)
