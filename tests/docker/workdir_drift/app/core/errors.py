class ServiceError(Exception):
    """Raised by services."""
