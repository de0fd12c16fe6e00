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


@pytest.mark.parametrize("mode", MODES)
def test_a_variable_read_into_a_name_and_failing_later_is_named(tmp_path: Path, mode: str) -> None:
    """The None of an unset variable travels through assignments (urlparse(None) even fails without
    saying NoneType); your own raise or assert testing a variable is its absence too; a set one is not."""
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/db.py": """
        import os
        from urllib.parse import urlparse

        url = os.getenv("DATABASE_URL")
        parsed = urlparse(url)
        NAME = parsed.path.lstrip("/")
        """, "app/workers.py": """
        import os

        workers = os.environ.get("WEB_WORKERS")
        WORKERS = int(workers)
        """, "app/signing.py": """
        import os

        SECRET = os.getenv("JWT_SECRET")
        if not SECRET:
            raise RuntimeError("refusing to start without a signing key")
        """, "app/key.py": """
        import os

        assert os.getenv("API_KEY")
        """, "app/mode.py": """
        import os

        MODE = os.getenv("APP_MODE")
        if MODE != "prod":
            raise RuntimeError("this image runs in prod only")
        """, "app/required.py": """
        import os


        def require(name):
            if not os.getenv(name):
                raise RuntimeError(f"{name} is required")
            return os.environ[name]


        BROKER_URL = require("BROKER_URL")
        """, "app/limits.py": """
        LIMITS = {"MAX_ITEMS_DEFAULT": 3}


        def limit(key):
            if key not in LIMITS:
                raise LookupError(f"{key} is missing from limits.yaml")
            return LIMITS[key]


        MAX_ITEMS = limit("MAX_ITEMS")
        """}, ["app.db", "app.workers", "app.signing", "app.key", "app.mode", "app.required", "app.limits"])
    env = cli_env(APP_MODE="dev")
    for name in ("DATABASE_URL", "WEB_WORKERS", "JWT_SECRET", "API_KEY", "BROKER_URL"):
        env.pop(name, None)
    result = run_cli(["check", "--mode", mode], root, env=env)
    for target, name, line in (("app.db", "DATABASE_URL", 6), ("app.workers", "WEB_WORKERS", 4),
                               ("app.signing", "JWT_SECRET", 5), ("app.key", "API_KEY", 3),
                               ("app.required", "BROKER_URL", 10)):  # the line naming it, not the helper's raise
        check = result.check(target)
        assert (check["cause"], check["details"]["name"], check["line"]) == ("env_missing", name, line), check
        assert f"-e {name}=..." in check["hint"], check["hint"]
    assert "DATABASE_URL is not set (read at line 4)" in result.check("app.db")["hint"]
    assert result.check("app.mode")["cause"] == "import_error"  # APP_MODE is set: the code's own refusal
    assert result.check("app.limits")["cause"] == "import_error"  # a missing key of no environment
    invalid = run_cli(["check", "--mode", mode], root, env={**env, "WEB_WORKERS": SECRET}).check("app.workers")
    assert (invalid["cause"], invalid["details"]["name"], invalid["line"]) == ("env_invalid", "WEB_WORKERS", 4)
    assert SECRET not in str(invalid)
    empty = run_cli(["check", "--mode", mode], root, env={**env, "WEB_WORKERS": "", "JWT_SECRET": ""})
    for target, name in (("app.workers", "WEB_WORKERS"), ("app.signing", "JWT_SECRET")):  # int(""), `not ""`
        check = empty.check(target)
        assert (check["cause"], check["details"]["empty"]) == ("env_missing", [name]), check
        assert f"{name} is set but empty" in check["hint"], check["hint"]


CONFIG_LIBRARY = """
    import os


    class UndefinedValueError(Exception):
        pass


    def config(option, cast=str):
        if option not in os.environ:
            raise UndefinedValueError(f"{option} not found. Declare it as envvar or define a default value.")
        return cast(os.environ[option])


    def db():
        if "DATABASE_URL" not in os.environ:
            raise LookupError("Set the DATABASE_URL environment variable")
        return os.environ["DATABASE_URL"]
    """


DJANGO_ENVIRON = """
    import os
    from urllib.parse import urlparse


    class Env:
        def cache(self, var="CACHE_URL"):
            return self.cache_url(var)

        def cache_url(self, var):
            return {"LOCATION": urlparse(os.environ[var]).port}
    """


@pytest.mark.parametrize("mode", MODES)
def test_a_config_librarys_own_errors_name_the_variable(tmp_path: Path, mode: str) -> None:
    """python-decouple's and django-environ's shapes: the library says which variable it did not find
    (one the code names, or one its message calls an environment variable), or fails to convert one
    the code's call named."""
    site = tmp_path / "lib/site-packages"
    service_tree(site, {"confkit/__init__.py": CONFIG_LIBRARY, "environ/__init__.py": "from .environ import Env\n",
                        "environ/environ.py": DJANGO_ENVIRON}, [])
    root = service_tree(tmp_path / "svc", {"app/__init__.py": "",
                                           "app/key.py": 'from confkit import config\n\nSECRET_KEY = config("SECRET_KEY")\n',
                                           "app/debug.py": 'from confkit import config\n\nDEBUG = config("DEBUG", cast=int)\n',
                                           "app/db.py": "from confkit import db\n\nDATABASES = {'default': db()}\n",
                                           "app/cache.py": "import environ\n\nCACHES = {'default': environ.Env().cache()}\n"},
                        ["app.key", "app.debug", "app.db", "app.cache"])
    env = cli_env(PYTHONPATH=str(site), DEBUG=SECRET, CACHE_URL=f"redis://{SECRET}:port/0")
    env.pop("SECRET_KEY", None), env.pop("DATABASE_URL", None)
    result = run_cli(["check", "--mode", mode], root, env=env)
    key, debug, db = result.check("app.key"), result.check("app.debug"), result.check("app.db")
    assert (key["cause"], key["details"]["name"], key["line"]) == ("env_missing", "SECRET_KEY", 3), key
    assert "(confkit raised UndefinedValueError: SECRET_KEY not found" in key["hint"], key["hint"]
    assert (db["cause"], db["details"]["name"], db["line"]) == ("env_missing", "DATABASE_URL", 3), db
    assert (debug["cause"], debug["details"]["name"], debug["line"]) == ("env_invalid", "DEBUG", 3), debug
    cache = result.check("app.cache")  # django-environ's env.cache() reads CACHE_URL without naming it
    assert (cache["cause"], cache["details"]["name"], cache["line"]) == ("env_invalid", "CACHE_URL", 3), cache
    assert SECRET not in result.stderr and SECRET not in str(result.report)


@pytest.mark.parametrize("mode", MODES)
def test_missing_settings_note_the_env_file_the_image_lacks(tmp_path: Path, mode: str) -> None:
    settings = SETTINGS.replace('env_prefix="SVC_"', 'env_prefix="SVC_", env_file=".env"')
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/config.py": settings}, ["app.config"])
    check = run_cli(["check", "--mode", mode], root, env=cli_env()).check("app.config")
    assert (check["cause"], check["details"]["dotenv_absent"]) == ("env_missing", [str(root / ".env")]), check
    assert f"reads {root / '.env'}, which does not exist" in check["hint"], check["hint"]
    (root / ".env").write_text("SVC_PORT=8000\n")  # there, without the variable: nothing to say of it
    check = run_cli(["check", "--mode", mode], root, env=cli_env()).check("app.config")
    assert check["cause"] == "env_missing" and "dotenv_absent" not in check["details"], check


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
