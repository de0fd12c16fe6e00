"""The bundled example service: a small FastAPI app, as a container would run it."""

from fastapi import FastAPI

from app.api.routes import router
from app.core.settings import settings

app = FastAPI(title=settings.service_name)
app.include_router(router)
