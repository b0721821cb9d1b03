"""Member imports started from the dashboard: the uploaded file, and the job's progress.

An upload is kept under `<data_dir>/imports/` (mode 0600) until it is imported or an hour
has passed, and only the person who uploaded it can use it. The import itself runs in the
background in this process (checking the lines in a worker thread, then one transaction
under the uploader's claims) while the page polls its progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from cloud_api import member_csv
from cloud_api.data.dashboard import member_import
from cloud_api.db.database import Database

log = logging.getLogger("jarvis.cloud.imports")
UPLOAD_LIFE_S = 3600


@dataclass
class Upload:
    id: str
    user_id: UUID
    path: Path
    filename: str
    header: list[str]
    delimiter: str
    lines: int
    created: float = field(default_factory=time.monotonic)


@dataclass
class Job:
    total: int
    done: int = 0
    stage: str = "checking"
    finished: bool = False
    import_id: UUID | None = None
    error: str = ""

    def as_dict(self, upload_id: str) -> dict[str, Any]:
        message = {
            "checking": f"Checking line {self.done:,} of {self.total:,}…",
            "writing": "Writing the members…",
            "done": "Done.",
            "failed": f"The import failed: {self.error}",
        }[self.stage]
        return {
            "done": self.done,
            "total": self.total,
            "message": message,
            "finished": self.finished,
            # Where the page goes when it is over: the report, or back here to read the error.
            "result_url": f"/dashboard/members/import/{upload_id}",
        }


class ImportJobs:
    def __init__(self, folder: Path, database: Database) -> None:
        self._folder = folder
        self._db = database
        self._uploads: dict[str, Upload] = {}
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def keep(self, user_id: UUID, filename: str, data: bytes) -> Upload:
        """Store an upload; raises member_csv.FileRefused when it has no usable header."""
        self._forget_old()
        text = member_csv.decode(data)
        header, delimiter = member_csv.header_of(text)
        self._folder.mkdir(parents=True, exist_ok=True)
        upload_id = uuid.uuid4().hex
        path = self._folder / f"{upload_id}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        upload = Upload(
            upload_id, user_id, path, filename, header, delimiter, max(text.count("\n") - 1, 0)
        )
        self._uploads[upload_id] = upload
        return upload

    def upload(self, upload_id: str, user_id: UUID) -> Upload | None:
        found = self._uploads.get(upload_id)
        return found if found is not None and found.user_id == user_id else None

    def job(self, upload_id: str, user_id: UUID) -> Job | None:
        return self._jobs.get(upload_id) if self.upload(upload_id, user_id) else None

    def start(
        self,
        upload: Upload,
        *,
        claims: dict[str, Any],
        gym_id: UUID,
        mapping: member_csv.Mapping,
        dry_run: bool,
    ) -> Job:
        job = Job(total=upload.lines)
        self._jobs[upload.id] = job
        task = asyncio.create_task(self._run(upload, job, claims, gym_id, mapping, dry_run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(
        self,
        upload: Upload,
        job: Job,
        claims: dict[str, Any],
        gym_id: UUID,
        mapping: member_csv.Mapping,
        dry_run: bool,
    ) -> None:
        def advance(done: int) -> None:
            job.done = done

        try:
            text = member_csv.decode(upload.path.read_bytes())
            checked = await asyncio.to_thread(member_csv.validate, text, mapping, progress=advance)
            job.stage = "writing"
            async with self._db.transaction(claims) as conn:
                result = await member_import.run_import(
                    conn,
                    gym_id=gym_id,
                    filename=upload.filename,
                    mapping=mapping,
                    validation=checked,
                    dry_run=dry_run,
                    user_id=UUID(str(claims["sub"])),
                )
            job.import_id = result.import_id
            job.stage = "done"
            if result.status == "imported":
                self._drop(upload)
        except member_csv.FileRefused as exc:
            job.stage, job.error = "failed", str(exc)
        except Exception:  # a background task: log it and tell the page, never lose it
            log.exception("member import %s failed", upload.id)
            job.stage, job.error = "failed", "an unexpected error (logged); nothing was written"
        finally:
            job.finished = True

    def _drop(self, upload: Upload) -> None:
        with contextlib.suppress(FileNotFoundError):
            upload.path.unlink()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for upload_id, upload in list(self._uploads.items()):
            if now - upload.created > UPLOAD_LIFE_S:
                self._drop(upload)
                self._uploads.pop(upload_id, None)
                self._jobs.pop(upload_id, None)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for upload in self._uploads.values():
            self._drop(upload)
