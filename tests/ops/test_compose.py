"""docker-compose.yml is valid and deploys safely: `docker-compose config` (Debian's docker-compose,
installed by .ci/run) resolves it with a sample .env, and the resolved file is checked service by service."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ENV = {
    "SECRET_KEY": "k3Y-for-tests-only-5b1f0e9a7c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f",
    "ALLOWED_HOSTS": "alliance.example.org",
    "SITE_URL": "https://alliance.example.org",
    "POSTGRES_PASSWORD": "pg-secret-sample",
    "EMAIL_URL": "smtp://mailer:mail-secret-sample@smtp.example.org:587",
    "DEFAULT_FROM_EMAIL": "Alliance <alliance@example.org>",
}
LONG_RUNNING = ("db", "redis", "web", "worker", "beat")
TASK_TIME_LIMIT = 120


@pytest.fixture
def compose():
    binary = shutil.which("docker-compose")
    require_service(binary is not None, "docker-compose (apt-get install docker-compose)")
    return binary


def run_config(compose, tmp_path, env, *args):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return subprocess.run(
        [compose, "-f", str(tmp_path / "docker-compose.yml"), "config", *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},  # nothing of this machine's environment leaks into the file
        capture_output=True,
        text=True,
        timeout=60,
    )


def yaml_to_json(compose, text):
    """Debian's docker-compose runs on a Python that has PyYAML (its dependency); the suite's does not."""
    interpreter = Path(compose).read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
    script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    result = subprocess.run([*interpreter, "-c", script], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def services(compose, tmp_path):
    result = run_config(compose, tmp_path, SAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    return yaml_to_json(compose, result.stdout)["services"]


def seconds(duration):
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert parts and any(parts.groups()), duration
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def test_the_file_validates_with_a_sample_env(compose, tmp_path):
    result = run_config(compose, tmp_path, SAMPLE_ENV, "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD", "EMAIL_URL"])
def test_a_required_variable_missing_from_env_stops_it(compose, tmp_path, missing):
    result = run_config(compose, tmp_path, {k: v for k, v in SAMPLE_ENV.items() if k != missing}, "-q")
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck_and_restarts(services, name):
    assert services[name]["healthcheck"]["test"]
    assert services[name]["restart"] == "unless-stopped"


def test_the_worker_checks_itself_with_celery_ping_and_may_finish_its_longest_task(services):
    worker = services["worker"]
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert seconds(worker["stop_grace_period"]) > TASK_TIME_LIMIT


def test_the_beat_schedule_is_on_a_volume_not_in_tmp(services):
    beat = services["beat"]
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    assert not schedule.startswith("/tmp")
    mounts = [volume.split(":")[1] if isinstance(volume, str) else volume["target"] for volume in beat["volumes"]]
    assert str(Path(schedule).parent) in mounts
    assert f"{schedule}.alive" in " ".join(beat["healthcheck"]["test"])


def environment(service):
    return service.get("environment") or {}


def test_secrets_reach_only_the_containers_that_use_them(services):
    db, redis, beat = environment(services["db"]), environment(services["redis"]), environment(services["beat"])
    assert db["POSTGRES_PASSWORD"] == SAMPLE_ENV["POSTGRES_PASSWORD"]
    assert set(db) == {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}  # no SECRET_KEY, no mail
    assert redis == {}
    everything_of_beat = json.dumps(services["beat"])
    assert "pg-secret-sample" not in everything_of_beat and "mail-secret-sample" not in everything_of_beat
    assert "DATABASE_URL" not in beat and beat["EMAIL_URL"] == "none://"
    for name in ("migrate", "web", "worker"):
        app = environment(services[name])
        assert "pg-secret-sample" in app["DATABASE_URL"]
        assert not app.get("POSTGRES_PASSWORD")  # the raw copy from .env is blanked
        assert app["ALLIANCE_ENV"] == "production"


def test_production_email_comes_from_env_with_no_console_default(services):
    for name in ("migrate", "web", "worker"):
        assert environment(services[name])["EMAIL_URL"] == SAMPLE_ENV["EMAIL_URL"]
    assert "console" not in json.dumps(services)
