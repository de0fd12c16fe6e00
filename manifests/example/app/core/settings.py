import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    service_name: str = os.environ.get("SERVICE_NAME", "example")
    greeting: str = os.environ.get("GREETING", "hello")


settings = Settings()
