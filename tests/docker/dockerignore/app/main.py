from fastapi import FastAPI

from app.core.errors import ServiceError
from app.integrations.slack import notify

app = FastAPI()


@app.get("/")
def root() -> dict:
    notify("root")
    return {"status": "ok", "error_type": ServiceError.__name__}
