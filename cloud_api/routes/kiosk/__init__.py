"""Everything a kiosk calls: identity, reports, members (one router)."""

from fastapi import APIRouter

from cloud_api.routes.kiosk import identity, members, reports

router = APIRouter()
router.include_router(identity.router)
router.include_router(reports.router)
router.include_router(members.router)
