"""Which OS package provides a system library a slim image lacks, and which wheel needs none.

One table, keyed by the library's stem (``libGL`` for ``libGL.so.1``, ``libmagic`` for a message
that says only "libmagic"): the Debian/Ubuntu package and the Alpine one. A library not listed is
named as the loader named it, with the generic advice.
"""

from __future__ import annotations

import os
import re

# stem: (Debian/Ubuntu package, Alpine package)
_PACKAGES = {
    "libGL": ("libgl1", "mesa-gl"),
    "libEGL": ("libegl1", "mesa-egl"),
    "libgthread-2.0": ("libglib2.0-0", "glib"),
    "libglib-2.0": ("libglib2.0-0", "glib"),
    "libgobject-2.0": ("libglib2.0-0", "glib"),
    "libSM": ("libsm6", "libsm"),
    "libICE": ("libice6", "libice"),
    "libX11": ("libx11-6", "libx11"),
    "libXext": ("libxext6", "libxext"),
    "libXrender": ("libxrender1", "libxrender"),
    "libcairo": ("libcairo2", "cairo"),
    "libcairo-2": ("libcairo2", "cairo"),
    "libpango-1.0": ("libpango-1.0-0", "pango"),
    "libpangocairo-1.0": ("libpangocairo-1.0-0", "pango"),
    "libpangoft2-1.0": ("libpangoft2-1.0-0", "pango"),
    "libgdk_pixbuf-2.0": ("libgdk-pixbuf-2.0-0", "gdk-pixbuf"),
    "libharfbuzz": ("libharfbuzz0b", "harfbuzz"),
    "libfontconfig": ("libfontconfig1", "fontconfig"),
    "libmagic": ("libmagic1", "libmagic"),
    "libgomp": ("libgomp1", "libgomp"),
    "libgfortran": ("libgfortran5", "libgfortran"),
    "libstdc++": ("libstdc++6", "libstdc++"),
    "libgcc_s": ("libgcc-s1", "libgcc"),
    "libpq": ("libpq5", "libpq"),
    "libmariadb": ("libmariadb3", "mariadb-connector-c"),
    "libodbc": ("libodbc2", "unixodbc"),
    "libaio": ("libaio1", "libaio"),
    "libsasl2": ("libsasl2-2", "cyrus-sasl"),
    "libgssapi_krb5": ("libgssapi-krb5-2", "krb5-libs"),
    "libxml2": ("libxml2", "libxml2"),
    "libxslt": ("libxslt1.1", "libxslt"),
    "libjpeg": ("libjpeg62-turbo", "libjpeg-turbo"),
    "libpng16": ("libpng16-16", "libpng"),
    "libz": ("zlib1g", "zlib"),
    "libffi": ("libffi8", "libffi"),
    "libssl": ("libssl3", "libssl3"),
    "libcrypto": ("libssl3", "libcrypto3"),
    "libsqlite3": ("libsqlite3-0", "sqlite-libs"),
    "libsndfile": ("libsndfile1", "libsndfile"),
    "libportaudio": ("libportaudio2", "portaudio"),
    "libasound": ("libasound2", "alsa-lib"),
    "libzbar": ("libzbar0", "zbar"),
    "libvips": ("libvips42", "vips"),
    "libgeos_c": ("libgeos-c1v5", "geos"),
    "libtesseract": ("libtesseract5", "tesseract-ocr"),
    "libespeak": ("libespeak1", "espeak"),
}

# the GUI libraries OpenCV's desktop wheels link to; its -headless wheels need none of them
_GUI = {"libGL", "libEGL", "libgthread-2.0", "libglib-2.0", "libgobject-2.0", "libSM", "libICE", "libX11",
        "libXext", "libXrender"}
# distribution: (what to install instead, the library stems that spares)
_WHEELS_INSTEAD = {
    "opencv-python": ("opencv-python-headless", _GUI),
    "opencv-contrib-python": ("opencv-contrib-python-headless", _GUI),
    "psycopg": ("psycopg[binary]", {"libpq"}),
    "psycopg2": ("psycopg2-binary", {"libpq"}),
}


def stem(library: str) -> str:
    """``libGL`` for ``/usr/lib/libGL.so.1``, ``libcairo`` for ``libcairo.so.2``, ``libmagic`` for itself."""
    return re.split(r"\.so\b|\.dylib$|\.dll$", os.path.basename(library))[0]


def packages(library: str) -> tuple[str, str] | None:
    """The (Debian, Alpine) packages that provide ``library``; None when the table has none."""
    return _PACKAGES.get(stem(library))


def install_command(library: str) -> str | None:
    """``apt-get install -y libgl1`` on Debian/Ubuntu, ``apk add mesa-gl`` on Alpine, both elsewhere."""
    found = packages(library)
    if not found:
        return None
    apt, apk = f"apt-get install -y --no-install-recommends {found[0]}", f"apk add {found[1]}"
    if os.path.exists("/etc/alpine-release"):
        return apk
    if os.path.exists("/etc/debian_version"):
        return apt
    return f"{apt} (Debian/Ubuntu) or {apk} (Alpine)"


def wheel_instead(distribution: str | None, library: str) -> str | None:
    """A distribution to install instead of ``distribution`` that does not need ``library``."""
    instead, spares = _WHEELS_INSTEAD.get((distribution or "").lower(), (None, ()))
    return instead if stem(library) in spares else None
