"""Fine when errors_agent is imported first; broken when this module loads first."""
from app.core.errors_agent import ServiceError


def handle(exc):
    raise ServiceError(exc)
