class ServiceError(Exception):
    """Raised by services; handlers turn it into a 503."""
