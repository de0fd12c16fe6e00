"""The distribution to ``pip install`` for a dotted import name.

Namespace packages (``google.cloud.*``, ``azure.*``) are split across many distributions, so the
full dotted name decides: ``google.cloud.storage`` is google-cloud-storage, never ``google``.
"""

from __future__ import annotations

import re

# Import names whose distribution is named otherwise, longest known dotted prefix wins.
PIP_NAMES = {
    "yaml": "PyYAML", "cv2": "opencv-python", "PIL": "Pillow", "sklearn": "scikit-learn",
    "skimage": "scikit-image", "bs4": "beautifulsoup4", "dateutil": "python-dateutil",
    "jwt": "PyJWT", "uvicorn_worker": "uvicorn-worker", "dotenv": "python-dotenv", "magic": "python-magic", "Crypto": "pycryptodome",
    "attr": "attrs", "OpenSSL": "pyOpenSSL", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
    "multipart": "python-multipart", "jose": "python-jose", "socketio": "python-socketio",
    "engineio": "python-engineio", "serial": "pyserial", "usb": "pyusb", "zmq": "pyzmq",
    "git": "GitPython", "docx": "python-docx", "pptx": "python-pptx", "slugify": "python-slugify",
    "fitz": "PyMuPDF", "telegram": "python-telegram-bot", "dns": "dnspython", "grpc": "grpcio",
    "ldap": "python-ldap", "kafka": "kafka-python", "jinja2": "Jinja2", "markdown": "Markdown",
    "pkg_resources": "setuptools", "websocket": "websocket-client", "pythonjsonlogger": "python-json-logger",
    "Levenshtein": "python-Levenshtein", "memcache": "python-memcached", "nacl": "PyNaCl",
    "mpl_toolkits": "matplotlib", "win32api": "pywin32", "ruamel": "ruamel.yaml",
    "googleapiclient": "google-api-python-client",
    # Django apps, as INSTALLED_APPS names them
    "rest_framework": "djangorestframework", "rest_framework_simplejwt": "djangorestframework-simplejwt",
    "corsheaders": "django-cors-headers", "debug_toolbar": "django-debug-toolbar", "django_filters": "django-filter",
    "storages": "django-storages", "crispy_forms": "django-crispy-forms", "allauth": "django-allauth",
    "oauth2_provider": "django-oauth-toolkit", "taggit": "django-taggit", "mptt": "django-mptt",
    "import_export": "django-import-export", "guardian": "django-guardian", "environ": "django-environ",
    "phonenumber_field": "django-phonenumber-field", "simple_history": "django-simple-history",
    "health_check": "django-health-check", "knox": "django-rest-knox", "axes": "django-axes",
    "polymorphic": "django-polymorphic", "reversion": "django-reversion", "constance": "django-constance",
    # the google namespace: not google-cloud-* and not the unrelated ``google`` project
    "google.protobuf": "protobuf", "google.auth": "google-auth", "google.oauth2": "google-auth",
    "google.api_core": "google-api-core", "google.api": "googleapis-common-protos",
    "google.rpc": "googleapis-common-protos", "google.type": "googleapis-common-protos",
    "google.generativeai": "google-generativeai", "google.genai": "google-genai",
    "google.cloud.secretmanager": "google-cloud-secret-manager",
    "google.cloud.resourcemanager": "google-cloud-resource-manager",
    "google.cloud.sql.connector": "cloud-sql-python-connector",
    # azure-* names that do not follow the module path
    "azure.storage.fileshare": "azure-storage-file-share",
    "azure.storage.filedatalake": "azure-storage-file-datalake",
}

# azure.<group>.<service> is azure-<group>-<service>; any other azure.<service> is azure-<service>.
_AZURE_GROUPS = {"ai", "communication", "data", "digitaltwins", "iot", "keyvault", "kusto", "messaging", "mgmt",
                 "mixedreality", "monitor", "search", "security", "storage", "synapse"}
_API_VERSION = re.compile(r"_v\d+\w*$")  # google.cloud.pubsub_v1 is google-cloud-pubsub


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Foo_Bar`` and ``foo-bar`` are one)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_name(dotted: str) -> str:
    """The name to ``pip install`` for import name ``dotted`` (give the full name, not its top)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in PIP_NAMES:
            return PIP_NAMES[".".join(parts[:i])]
    if parts[:2] == ["google", "cloud"] and len(parts) > 2:
        return "google-cloud-" + _API_VERSION.sub("", parts[2]).replace("_", "-")
    if parts[0] == "azure" and len(parts) > 1:
        depth = 3 if parts[1] in _AZURE_GROUPS and len(parts) > 2 else 2
        return "-".join(parts[:depth]).replace("_", "-")
    return parts[0].replace("_", "-")
