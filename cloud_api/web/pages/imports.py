"""Member import pages: upload, column mapping, dry run or import with a progress bar, the
report by line number, and the import log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from cloud_api import member_csv
from cloud_api.data.dashboard import member_import
from cloud_api.services import Services
from cloud_api.web import session
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.forms import checked_form, refused, text
from cloud_api.web.import_jobs import ImportJobs, Upload
from cloud_api.web.render import PageError, Renderer
from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from contract.errors import ErrorCode

router = APIRouter(include_in_schema=False)


def _jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.imports
    return jobs


def _kept(jobs: ImportJobs, upload_id: str, viewer: session.Viewer) -> Upload:
    """The viewer's upload, or a 404 page: uploads are kept one hour."""
    kept = jobs.upload(upload_id, viewer.user_id)
    if kept is None:
        raise PageError(
            404,
            "Upload not found",
            "This upload has expired (kept one hour): upload the file again.",
            ErrorCode.NOT_FOUND,
        )
    return kept


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


@router.get("/dashboard/members/import")
async def import_home(request: Request, viewer: ViewerDep, gym: str = "") -> Response:
    async with open_page(request, viewer, gym[:64]) as page:
        history = await member_import.import_log(page.conn, page.gym_id)
    return _renderer(request).page(request, "import.html", page.context("import", history=history))


@router.post("/dashboard/members/import")
async def upload(request: Request, viewer: ViewerDep) -> Response:
    services: Services = request.app.state.services
    limit = services.settings.import_max_mb * 1024 * 1024
    if int(request.headers.get("content-length") or 0) > limit + 64 * 1024:
        raise PageError(
            413,
            "File too large",
            f"The file is over {services.settings.import_max_mb} MiB: split it in parts.",
            ErrorCode.IMPORT_INVALID,
        )
    form = await checked_form(request, viewer)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise refused(
            "Choose the CSV file exported by your gym software.", ErrorCode.IMPORT_INVALID
        )
    try:
        data = await file.read(limit + 1)
    finally:
        await form.close()  # the spooled upload's temporary file
    if len(data) > limit:
        raise refused(
            f"The file is over {services.settings.import_max_mb} MiB.", ErrorCode.IMPORT_INVALID
        )
    try:
        kept = _jobs(request).keep(viewer.user_id, file.filename, data)
    except member_csv.FileRefused as exc:
        raise refused(f"{file.filename}: {exc}.", ErrorCode.IMPORT_INVALID) from exc
    async with open_page(request, viewer, text(form, "gym", max_length=64)) as page:
        if page.gym is None:
            raise refused("Choose the gym these members belong to.", ErrorCode.IMPORT_INVALID)
        remembered = await member_import.remembered_mapping(page.conn, page.gym.id)
    columns = member_csv.guess_mapping(kept.header, remembered.columns if remembered else None)
    return _renderer(request).page(
        request,
        "import_mapping.html",
        page.context(
            "import",
            upload=kept,
            columns=columns,
            fields=member_csv.FIELDS,
            rules=remembered.badge_rules if remembered else BadgeRules(),
            remembered=remembered is not None,
            encodings=list(BadgeEncoding),
            byte_orders=list(ByteOrder),
        ),
    )


@router.post("/dashboard/members/import/{upload_id}")
async def start(request: Request, viewer: ViewerDep, upload_id: str) -> Response:
    form = await checked_form(request, viewer)
    jobs = _jobs(request)
    kept = _kept(jobs, upload_id, viewer)
    columns = {
        name: text(form, f"map_{name}", max_length=200)
        for name in member_csv.FIELDS
        if text(form, f"map_{name}", max_length=200) in kept.header
    }
    try:
        rules = BadgeRules(
            encoding=BadgeEncoding(text(form, "encoding") or "hex"),
            byte_order=ByteOrder(text(form, "byte_order") or "msb_first"),
        )
    except ValueError as exc:
        raise refused("Choose how badges are written.", ErrorCode.IMPORT_INVALID) from exc
    mapping = member_csv.Mapping(columns, rules, kept.delimiter)
    if mapping.missing():
        raise refused(
            "Choose the columns that hold "
            + " and ".join(member_csv.FIELDS[m].label for m in mapping.missing())
            + ".",
            ErrorCode.IMPORT_INVALID,
        )
    async with open_page(request, viewer, text(form, "gym", max_length=64)) as page:
        if page.gym is None:
            raise refused("Choose the gym these members belong to.", ErrorCode.IMPORT_INVALID)
        gym_id = page.gym.id
    jobs.start(
        kept,
        claims=viewer.claims,
        gym_id=gym_id,
        mapping=mapping,
        dry_run=text(form, "action") != "import",
    )
    return RedirectResponse(f"/dashboard/members/import/{upload_id}", status_code=303)


@router.get("/dashboard/members/import/{upload_id}")
async def running(request: Request, viewer: ViewerDep, upload_id: str) -> Response:
    job = _jobs(request).job(upload_id, viewer.user_id)
    if job is None:
        raise not_found("import")
    if job.finished and job.import_id:  # over: the report
        return RedirectResponse(
            f"/dashboard/members/imports/{job.import_id}?upload={upload_id}", status_code=303
        )
    async with open_page(request, viewer) as page:
        context = page.context("import", job=job.as_dict(upload_id), upload_id=upload_id)
    return _renderer(request).page(request, "import_running.html", context)


@router.get("/dashboard/members/import/{upload_id}/progress")
async def progress(request: Request, viewer: ViewerDep, upload_id: str) -> Response:
    job = _jobs(request).job(upload_id, viewer.user_id)
    if job is None:
        raise not_found("import")
    return JSONResponse(job.as_dict(upload_id), headers={"Cache-Control": "no-store"})


@router.post("/dashboard/members/import/{upload_id}/commit")
async def commit(request: Request, viewer: ViewerDep, upload_id: str) -> Response:
    """Import a file whose dry run was clean, with the mapping that dry run remembered."""
    form = await checked_form(request, viewer)
    jobs = _jobs(request)
    kept = _kept(jobs, upload_id, viewer)
    async with open_page(request, viewer, text(form, "gym", max_length=64)) as page:
        mapping = (
            await member_import.remembered_mapping(page.conn, page.gym.id) if page.gym else None
        )
    if page.gym is None or mapping is None:
        raise refused("Run the check again first.", ErrorCode.IMPORT_INVALID)
    jobs.start(kept, claims=viewer.claims, gym_id=page.gym.id, mapping=mapping, dry_run=False)
    return RedirectResponse(f"/dashboard/members/import/{upload_id}", status_code=303)


@router.get("/dashboard/members/imports/{import_id}")
async def report(request: Request, viewer: ViewerDep, import_id: str, upload: str = "") -> Response:
    async with open_page(request, viewer) as page:
        entry = await member_import.import_entry(page.conn, parse_id(import_id, "import"))
        if entry is None:
            raise not_found("import")
    still_there = _jobs(request).upload(upload, viewer.user_id) is not None
    return _renderer(request).page(
        request,
        "import_report.html",
        page.context("import", entry=entry, upload_id=upload if still_there else ""),
    )
