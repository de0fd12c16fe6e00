"""Lookups in the image's operating system that fail at import only in a container: a time zone the
image has no database for (slim images ship without tzdata), a locale it never generated, and the
passwd entry an arbitrary uid lacks (OpenShift, ``docker run --user N``).

These are image problems, not code bugs, so the hint names what to install or set in the image. The
facts (``facts["system"]``) come from the check interpreter: the key or locale asked for, where it was
looked for, and whether this uid has a passwd entry; never from the exception's message.
"""

from __future__ import annotations

from typing import Any

from preflight import report as r
from preflight.suggest import close_names


def diagnose(check: r.Check, facts: dict[str, Any]) -> bool:
    """A time zone, locale or user the image lacks; False when the failure is none of those."""
    system = facts.get("system") or {}
    where = f"{check.file}:{check.line}" if check.file else "code run by the import"
    if "timezone" in system:
        _timezone(check, system["timezone"], where)
    elif "locale" in system:
        _locale(check, system["locale"], where)
    elif "passwd" in system:
        _user(check, system["passwd"], where)
    else:
        return False
    return True


def _timezone(check: r.Check, tz: dict[str, Any], where: str) -> None:
    key = tz.get("key") or "?"
    check.cause = "timezone_missing"
    check.details.update(key=key, tzpath=tz.get("tzpath") or [], database=tz.get("database"),
                         tzdata_installed=bool(tz.get("tzdata")))
    if not tz.get("database") and not tz.get("tzdata"):
        looked = ", ".join(tz.get("tzpath") or []) or "nowhere (TZPATH is empty)"
        check.hint = (f"{where} looks up the time zone {key!r} at import, and this image has no time zone "
                      f"database at all (zoneinfo looked in {looked}; the tzdata distribution is not installed): "
                      f"slim and distroless images ship without one. Add tzdata to the requirements "
                      f"(pip install tzdata), or install the OS package in the runtime stage (apt-get install "
                      f"tzdata, apk add tzdata)")
        return
    close = close_names(key, tz.get("available") or [])
    check.details["did_you_mean"] = close
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    check.hint = (f"{where} looks up the time zone {key!r} at import, and the time zone database here "
                  f"({tz.get('database') or 'the tzdata distribution'}) has no such key.{suggestion} Fix the "
                  f"name, or update tzdata if the zone is newer than the database")


def _locale(check: r.Check, loc: dict[str, Any], where: str) -> None:
    name = loc.get("requested")
    check.cause = "locale_missing"
    check.details.update(locale=name, category=loc.get("category"), variable=loc.get("variable"),
                         c_utf8_available=bool(loc.get("c_utf8")))
    what = f"the locale {name!r}" if name else "a locale"
    via = f" (named by ${loc['variable']})" if loc.get("variable") else ""
    fallback = " C.UTF-8 is available, if the code only needs UTF-8." if loc.get("c_utf8") else ""
    generate = ""
    if name and "." in name:
        language, charset = name.split(".", 1)
        generate = f" && localedef -i {language} -f {charset} {name}"
    check.hint = (f"{where} sets {what}{via} at import, and this image does not have it: slim images carry "
                  f"only C, POSIX and C.UTF-8. Generate it in the runtime stage (Debian/Ubuntu: apt-get install "
                  f"locales{generate}), or set a locale the image has.{fallback}")


def _user(check: r.Check, passwd: dict[str, Any], where: str) -> None:
    uid, lookup = passwd.get("uid"), passwd.get("lookup")
    check.cause = "user_unknown"
    check.details.update(uid=uid, lookup=lookup)
    if lookup == "getpass.getuser":
        fix = ("Set $USER in the image (ENV USER=app) or the pod's env: getpass.getuser() reads $LOGNAME, $USER, "
               "$LNAME and $USERNAME before the passwd file")
    else:
        fix = (f"Give uid {uid} an entry (in the image: a user with that uid, or /etc/passwd writable by the root "
               f"group and an entrypoint that appends one; or nss_wrapper), or do not look the user up at import")
    check.hint = (f"{where} looks up the user of uid {uid} ({lookup}) at import, and /etc/passwd has no entry "
                  f"for it: the container runs under a uid the image does not know (OpenShift assigns an "
                  f"arbitrary one; docker run --user {uid}). {fix}")
