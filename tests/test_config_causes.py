"""Configuration failures at import are named as such: which variable, where it is read, never its value.

pydantic-settings and Django are the real libraries; each case runs the CLI in both modes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli_env, run_cli, service_tree

MODES = ("zygote", "fresh")
SECRET = "s3cr3t-value-nobody-may-see-42"


SETTINGS = """
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SVC_")
        jwt_secret: str
        port: int = 8000


    settings = Settings()
    """


@pytest.mark.parametrize("mode", MODES)
def test_a_settings_field_without_its_variable_is_env_missing(tmp_path: Path, mode: str) -> None:
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/config.py": SETTINGS}, ["app.config"])
    result = run_cli(["check", "--mode", mode], root, env=cli_env())
    check = result.check("app.config")
    assert (check["cause"], check["line"]) == ("env_missing", 10), check
    assert check["details"]["names"] == ["SVC_JWT_SECRET"]
    assert "SVC_JWT_SECRET" in check["hint"] and "env.required" in check["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_a_settings_variable_with_a_bad_value_is_named_and_its_value_never_shown(tmp_path: Path, mode: str) -> None:
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/config.py": SETTINGS}, ["app.config"])
    result = run_cli(["check", "--mode", mode], root, env=cli_env(SVC_JWT_SECRET="x" * 12, SVC_PORT=SECRET))
    check = result.check("app.config")
    assert check["cause"] == "import_error"
    assert "SVC_PORT (field port)" in check["hint"] and "integer" in check["hint"]
    assert SECRET not in result.stderr and SECRET not in str(result.report)


ALIASED_SETTINGS = """
    from pydantic import AliasChoices, BaseModel, Field
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Database(BaseModel):
        host: str
        port: int = 5432


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SVC_", env_nested_delimiter="__")
        database_url: str = Field(validation_alias=AliasChoices("DATABASE_URL", "DB_URL"))
        api_key: str = Field(alias="API_TOKEN")
        replica: Database


    settings = Settings()
    """


@pytest.mark.parametrize("mode", MODES)
def test_settings_variables_are_named_as_pydantic_settings_reads_them(tmp_path: Path, mode: str) -> None:
    """An alias takes no env_prefix (each AliasChoices choice is a variable), and a nested model's field
    under env_nested_delimiter is its own variable: the names the hint gives are the ones to set."""
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/config.py": ALIASED_SETTINGS}, ["app.config"])
    check = run_cli(["check", "--mode", mode], root, env=cli_env(SVC_REPLICA__PORT="5433")).check("app.config")
    assert (check["cause"], check["line"]) == ("env_missing", 17), check
    assert check["details"]["names"] == ["DATABASE_URL", "API_TOKEN", "SVC_REPLICA__HOST"]
    assert "DATABASE_URL or DB_URL (field database_url)" in check["hint"], check["hint"]
    assert "SVC_DATABASE_URL" not in check["hint"] and "SVC_API_TOKEN" not in check["hint"]
    env = cli_env(DB_URL="sqlite://", API_TOKEN="t" * 12, SVC_REPLICA__HOST="db", SVC_REPLICA__PORT=SECRET)
    result = run_cli(["check", "--mode", mode], root, env=env)
    check = result.check("app.config")
    assert check["cause"] == "import_error"
    assert "SVC_REPLICA__PORT (field replica.port): Input should be a valid integer" in check["hint"], check["hint"]
    assert SECRET not in result.stderr and SECRET not in str(result.report)
    fixed = run_cli(["check", "--mode", mode], root, env={**env, "SVC_REPLICA__PORT": "5433"})
    assert fixed.returncode == 0, fixed.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_variable_read_without_a_default_and_used_as_a_value_is_env_missing(tmp_path: Path, mode: str) -> None:
    files = {"app/__init__.py": "",
             "app/port.py": "import os\n\nPORT = int(os.getenv('PORT'))\n",
             "app/hosts.py": "import os\n\nHOSTS = os.environ.get('ALLOWED_HOSTS').split(',')\n",
             "app/fine.py": "import os\n\nHOME = os.getenv('HOME').split('/')\n"}
    root = service_tree(tmp_path, files, ["app.port", "app.hosts", "app.fine"])
    env = cli_env()
    env.pop("PORT", None), env.pop("ALLOWED_HOSTS", None)
    result = run_cli(["check", "--mode", mode], root, env=env)
    port, hosts = result.check("app.port"), result.check("app.hosts")
    assert (port["cause"], port["details"]["name"], port["line"]) == ("env_missing", "PORT", 3)
    assert (hosts["cause"], hosts["details"]["name"], hosts["line"]) == ("env_missing", "ALLOWED_HOSTS", 3)
    assert "give the read a default" in port["hint"]
    assert result.check("app.fine")["status"] == "passed"


DJANGO = {
    "mysite/__init__.py": "",
    "mysite/settings.py": """
        SECRET_KEY = "test-only"
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "polls"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
        """,
    "mysite/wsgi.py": """
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        application = get_wsgi_application()
        """,
    "polls/__init__.py": "",
    "polls/models.py": """
        from django.db import models


        class Question(models.Model):
            text = models.CharField(max_length=200)
        """,
}


@pytest.mark.parametrize("mode", MODES)
def test_django_modules_say_what_django_needs_first(tmp_path: Path, mode: str) -> None:
    root = service_tree(tmp_path, DJANGO, ["mysite.wsgi", "polls.models"])
    env = cli_env()
    env.pop("DJANGO_SETTINGS_MODULE", None)
    unset = run_cli(["check", "--mode", mode], root, env=env)
    assert unset.check("mysite.wsgi")["status"] == "passed"  # it sets the variable itself, then sets Django up
    models = unset.check("polls.models")
    assert (models["cause"], models["details"]["name"]) == ("env_missing", "DJANGO_SETTINGS_MODULE")
    # the hint's example is a module name, not a secret: the wsgi.py that set it is no reason to hide it
    assert "ENV DJANGO_SETTINGS_MODULE=mysite.settings" in models["hint"], models["hint"]
    configured = run_cli(["check", "--mode", mode], root, env=cli_env(DJANGO_SETTINGS_MODULE="mysite.settings"))
    models = configured.check("polls.models")
    assert models["cause"] == "import_error"
    assert "wsgi" in models["hint"] and "django.setup()" in models["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_django_apps_left_out_of_or_listed_in_installed_apps_point_at_the_settings(tmp_path: Path, mode: str) -> None:
    """A models module of no installed app (a worker that sets Django up, then imports it), and an
    INSTALLED_APPS entry the image lacks: both are the settings' to fix, not wsgi.py's "fix the code there"."""
    files = {**DJANGO, "polls/models.py": """
        from django.db import models

        from orders.models import Order


        class Question(models.Model):
            order = models.ForeignKey(Order, on_delete=models.CASCADE)
        """, "orders/__init__.py": "", "orders/models.py": """
        from django.db import models


        class Order(models.Model):
            total = models.IntegerField()
        """, "mysite/worker.py": """
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        django.setup()
        """}
    root = service_tree(tmp_path, files, ["mysite.wsgi", "mysite.worker"])
    env = cli_env()
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = run_cli(["check", "--mode", mode], root, env=env)
    for target in ("mysite.wsgi", "mysite.worker"):
        check = result.check(target)
        assert (check["file"], check["line"]) == (str(root / "orders/models.py"), 4), check
        assert check["details"]["app"] == "orders", check
        assert f"add its app, 'orders' (or its AppConfig), to INSTALLED_APPS at {root / 'mysite/settings.py'}:2" \
            in check["hint"], check["hint"]
    settings = root / "mysite/settings.py"
    settings.write_text(settings.read_text().replace('"polls"]', '"polls",\n    "orders",\n    "rest_framework"]'))
    check = run_cli(["check", "--mode", mode], root, env=env).check("mysite.wsgi")
    assert (check["cause"], check["file"], check["line"]) == ("distribution_missing", str(settings), 4), check
    assert "pip install djangorestframework" in check["hint"] and "in INSTALLED_APPS" in check["hint"], check["hint"]
    settings.write_text(settings.read_text().replace(',\n    "rest_framework"', ""))
    assert run_cli(["check", "--mode", mode], root, env=env).returncode == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_set_variable_whose_value_the_code_cannot_convert_is_env_invalid(tmp_path: Path, mode: str) -> None:
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/server.py": """
        import os

        WORKERS = int(os.getenv("SVC_WORKERS", "4"))
        REDIS_PORT = int(os.environ["REDIS_PORT"])
        """}, ["app.server"])
    check = run_cli(["check", "--mode", mode], root, env=cli_env(SVC_WORKERS="4", REDIS_PORT=SECRET)).check("app.server")
    assert (check["cause"], check["line"]) == ("env_invalid", 4), check
    assert check["details"] == {"name": "REDIS_PORT", "names": ["REDIS_PORT"]}
    assert "enableServiceLinks: false" in check["hint"]
    assert SECRET not in str(check)
    check = run_cli(["check", "--mode", mode], root, env=cli_env(SVC_WORKERS=SECRET, REDIS_PORT="6379")).check("app.server")
    assert (check["cause"], check["line"], check["details"]["name"]) == ("env_invalid", 3, "SVC_WORKERS"), check
    assert SECRET not in str(check) and "enableServiceLinks" not in check["hint"]


@pytest.mark.parametrize("star", ["from .base import *", "from mysite.settings.base import *"])
def test_an_installed_apps_entry_in_a_split_settings_package_points_at_the_base_line(tmp_path: Path, star) -> None:
    """settings/prod.py takes INSTALLED_APPS from settings/base.py with a star import: the line to fix
    is base.py's, not prod.py as a whole."""
    files = {k: v for k, v in DJANGO.items() if k != "mysite/settings.py"}
    files.update({"mysite/settings/__init__.py": "", "mysite/settings/base.py": DJANGO["mysite/settings.py"].replace(
        '"polls"]', '"polls", "pols"]'), "mysite/settings/prod.py": f"{star}\n\nDEBUG = False\n",
        "mysite/wsgi.py": DJANGO["mysite/wsgi.py"].replace('"mysite.settings"', '"mysite.settings.prod"')})
    root = service_tree(tmp_path, files, ["mysite.wsgi"])
    env = cli_env()
    env.pop("DJANGO_SETTINGS_MODULE", None)
    check = run_cli(["check"], root, env=env).check("mysite.wsgi")
    assert (check["file"], check["line"]) == (str(root / "mysite/settings/base.py"), 2), check
    assert "in INSTALLED_APPS" in check["hint"], check["hint"]
