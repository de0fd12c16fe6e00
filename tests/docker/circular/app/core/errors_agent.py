class ServiceError(Exception):
    pass


from app.core.errors_service import handle  # noqa: E402
