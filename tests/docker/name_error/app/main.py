from fastapi import FastAPI

from app.core.errors import ServiceError

log = logging.getLogger(__name__)
app = FastAPI()


@app.get("/")
def root() -> dict:
    return {"status": "ok", "error_type": ServiceError.__name__}
