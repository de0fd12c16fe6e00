from fastapi import APIRouter

from app.core.errors import ServiceError
from app.core.settings import settings

router = APIRouter()


@router.get("/")
def hello() -> dict:
    return {"message": settings.greeting, "errors": ServiceError.__name__}
