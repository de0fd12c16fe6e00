from fastapi import FastAPI

from app import settings
from app.core.errors import ServiceError

app = FastAPI(debug=settings.DEBUG)


@app.get("/")
def root() -> dict:
    return {"status": "ok", "error_type": ServiceError.__name__}
