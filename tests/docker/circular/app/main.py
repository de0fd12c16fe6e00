from fastapi import FastAPI

from app.core.errors_agent import ServiceError  # imported first here, so the server itself starts

app = FastAPI()


@app.get("/")
def root() -> dict:
    return {"status": "ok", "error_type": ServiceError.__name__}
