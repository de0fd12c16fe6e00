from fastapi import FastAPI

from app.cache import client
from app.core.errors import ServiceError

app = FastAPI()


@app.get("/")
def root() -> dict:
    return {"status": "ok", "cache": type(client).__name__, "error_type": ServiceError.__name__}
