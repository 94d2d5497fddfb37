"""Production renders pages from compiled templates kept in memory: Django's cached loader is on
with the production settings (DEBUG off), so no request reads or compiles a template again
(issue 14: a survey page's CPU is the request's, not the template file's)."""

from tests.test_settings import PRODUCTION_ENV, run_manage

PROBE = """
from django.template import engines
engine = engines["django"].engine
loader = engine.template_loaders[0]
print(engine.debug, type(loader).__module__ + "." + type(loader).__name__)
print(engine.get_template("surveys/survey.html") is engine.get_template("surveys/survey.html"))
"""


def test_production_keeps_compiled_templates_in_memory():
    result = run_manage("shell", "--no-imports", "-c", PROBE, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.template.loaders.cached.Loader", "True"]
