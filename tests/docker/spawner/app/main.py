from fastapi import FastAPI

from app import metrics  # noqa: F401
from app.core.errors import ServiceError

app = FastAPI()


@app.get("/")
def root() -> dict:
    return {"status": "ok", "error_type": ServiceError.__name__}
