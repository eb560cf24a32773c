"""CSV import: read a file of users, plan every row against the directory index (the dry run), apply a row.

An upload is stored in the database (1 MB chunks) and planned by a worker (`import_read`), so a file at
the upload limit never runs past the web request's timeout; the database, not a disk, because the workers
may run on other machines and the database is the one thing they all share.

The dry run reads only the index and makes no Cognito call. Applying a row reads the user live first, so a
row the index got wrong, or one a stopped worker left half done, is judged on what Cognito holds now; the
changes go through the same services as the single-user screens, which audit them.
"""

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min
from django.utils import timezone

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.audit.record import audit_record
from accounts.directory import index as directory
from accounts.directory import selectors, services
from accounts.models import AuditEvent, BulkFileChunk, BulkJob, BulkRow, DirectoryEntry
from accounts.rules import ends as end_rules
from accounts.rules import permissions, reasons, roles, words

COLUMNS = ["email", "name", "role", "level", "applications"]
OPTIONAL = ["expires"]  # one end for the line's applications ("30 days", "2026-12-31"), or "billing=30 days;crm=…"
HEADER = ",".join(COLUMNS)
BATCH = 1000
CHUNK_BYTES = 1024 * 1024
NOT_APPLIED = (BulkJob.READING, BulkJob.REFUSED, BulkJob.PREVIEW)  # a job of the file that applied nothing yet

# The audit actions of an import: its start, and what each of its rows may do.
IMPORT_AUDITS = ("bulk_import", "user_invite", "role_change", "access_set")
MESSAGES = {
    "discarded": "The job was discarded while its file was being read.",
    "too_large": "The file is {size} and the limit is {limit} MB: split it into smaller files. Nothing was read.",
    "empty": "The file is empty.",
    "no_rows": "The file has a header but no rows.",
    "encoding": "The file is not UTF-8 text (line {line}): save it as “CSV UTF-8” and upload it again.",
    "malformed": "The file is not valid CSV (line {line}): {error}.",
    "missing_columns": "Missing columns: {names}. The header must be: " + HEADER + ".",
    "extra_columns": "Unexpected columns: {names}. The header must be: " + HEADER + ".",
    "repeated_columns": "Repeated columns: {names}. The header must be: " + HEADER + ".",
    "field_count": "This row has {fields}; the header has {expected}.",
    "duplicate": "Duplicate: {email} is also on line {line}; each email may appear once.",
    "conflict": "{email} appears again on {lines} with other values; each email may appear once.",
    "not_allowed_role": "You may not change this user's role (it is your own account).",
    "not_allowed": "You may not change this user.",
    "invite": "invite with role {role}; applications: {apps}",
    "invited": "invited with role {role}; applications: {apps}",
    "partial": "Created, but granting {app} failed: {error} Apply the row again to finish.",
    "until": "{app} until {when}",
}


class FileError(Exception):
    """A file the import refuses as a whole, with the reason for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def limit_bytes() -> int:
    """Return the largest file the import reads."""
    return settings.PORTAL_BULK_IMPORT_MAX_MB * 1024 * 1024


def size_check(size: int) -> None:
    """Refuse a file over the limit before any of it is read."""
    if size > limit_bytes():
        raise FileError(
            MESSAGES["too_large"].format(size=f"{size / 1024 / 1024:.1f} MB", limit=settings.PORTAL_BULK_IMPORT_MAX_MB)
        )


# --- Reading ----------------------------------------------------------------------------------------


@dataclass
class ParsedRow:
    """One line of the file: the values, or why they are refused."""

    number: int
    data: dict
    errors: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        """Return the email as given (lower-cased when valid)."""
        return str(self.data.get("email", ""))[:254]


def _header(names: list[str]) -> list[str]:
    """Return the header's column names, or raise FileError for missing, extra or repeated ones."""
    names = [name.strip().lower() for name in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in COLUMNS if name not in names]
    extra = [name or "(empty)" for name in names if name not in COLUMNS + OPTIONAL]
    if repeated:
        raise FileError(MESSAGES["repeated_columns"].format(names=", ".join(repeated)))
    if missing:
        raise FileError(MESSAGES["missing_columns"].format(names=", ".join(missing)))
    if extra:
        raise FileError(MESSAGES["extra_columns"].format(names=", ".join(extra)))
    return names


def _level(value: str):
    """Return the level as an int when it is one (the role check refuses the rest)."""
    return int(value) if value.strip().isdigit() else value.strip()


def row_parse(number: int, values: dict[str, str], known: frozenset[str] | None = None) -> ParsedRow:
    """Validate one row's values as the services would (against `known` applications); collect every error."""
    row = ParsedRow(number=number, data={name: values[name].strip() for name in COLUMNS})
    apps = [app.strip().lower() for app in values["applications"].split(";") if app.strip()]
    try:
        row.data["expires"] = {
            app: end.isoformat() for app, end in ends_parse(values.get("expires") or "", apps).items()
        }
    except services.InvalidInput as exc:
        row.errors.append(exc.message)
    checks = [
        ("email", lambda: services.valid_email(values["email"])),
        ("name", lambda: services.valid_name(values["name"])),
        ("role", lambda: services.valid_role(values["role"].strip().lower(), _level(values["level"]))),
        ("applications", lambda: services.valid_applications(apps, known)),
    ]
    for name, check in checks:
        try:
            value = check()
        except services.InvalidInput as exc:
            row.errors.append(exc.message)
            continue
        if name == "role":
            row.data.update(role=value.name, level=value.level)
        else:
            row.data[name] = value
    return row


def ends_parse(text: str, apps: list[str]) -> dict:
    """Return {application: end} from an `expires` cell: one end for every application, or per application."""
    text = text.strip()
    if not text:
        return {}
    parts = [part.partition("=") for part in text.split(";") if part.strip()] if "=" in text else []
    given = {name.strip().lower(): value for name, _, value in parts} if parts else dict.fromkeys(apps, text)
    if staff := [name for name in given if end_rules.staff_group_named(name)]:
        raise services.InvalidInput(end_rules.END_ON_STAFF.format(group=end_rules.staff_group_named(staff[0])))
    if stray := sorted(set(given) - set(apps)):
        raise services.InvalidInput(end_rules.END_NOT_GRANTED.format(names=", ".join(stray)))
    try:
        found = {app: end_rules.end_parse(value, now=timezone.now()) for app, value in given.items()}
    except end_rules.EndError as exc:
        raise services.InvalidInput(str(exc)) from None
    return {app: end for app, end in found.items() if end is not None}


def _decoded(binary, place: dict) -> Iterator[str]:
    """Yield the file's lines decoded from UTF-8 (a BOM dropped), counting them in place['line']."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for number, raw in enumerate(binary, 1):
        place["line"] = number
        text = decoder.decode(raw)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def rows_read(binary) -> Iterator[ParsedRow]:
    """Yield the rows of a CSV file (UTF-8, with or without BOM); raise FileError for the file as a whole."""
    place, known = {"line": 0}, frozenset(app_selectors.application_names())  # one query, not one a row
    reader = csv.reader(_decoded(binary, place))
    try:
        try:
            names = _header(next(reader))
        except StopIteration:
            raise FileError(MESSAGES["empty"]) from None
        seen = 0
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines
            seen += 1
            if len(values) != len(names):
                yield ParsedRow(
                    number=reader.line_num,
                    data={"email": values[0].strip() if values else ""},
                    errors=[
                        MESSAGES["field_count"].format(fields=words.counted(len(values), "field"), expected=len(names))
                    ],
                )
                continue
            yield row_parse(reader.line_num, dict(zip(names, values, strict=True)), known)
        if not seen:
            raise FileError(MESSAGES["no_rows"])
    except UnicodeDecodeError:
        raise FileError(MESSAGES["encoding"].format(line=place["line"])) from None
    except csv.Error as exc:
        raise FileError(MESSAGES["malformed"].format(line=place["line"], error=exc)) from None


# --- Planning: what a row would do, judged on an index row (or on a fresh reading of the user) ---------


def role_label(data: dict) -> str:
    """Return the row's role for people ('B2')."""
    return roles.role_label(data["role"], data["level"])


def plan_row(actor, data: dict, entry: DirectoryEntry | None, held: list[str]) -> tuple[str, str]:
    """Return (plan, detail) for a valid row against the user's current state (None: not in the pool)."""
    apps = data["applications"]
    if entry is None:
        invite = MESSAGES["invite"].format(role=role_label(data), apps=", ".join(apps) or "none")
        return BulkRow.CREATE, "; ".join([invite, *_ends_changed(data, {})])
    changes, notes = _ends_changed(data, _ends_held(entry.sub)), []
    if entry.role_key != f"{data['role']}{data['level']}":
        if not permissions.can_change_role(actor, entry):
            return BulkRow.ERROR, MESSAGES["not_allowed_role"]
        changes.append(f"role {entry.role_label} → {role_label(data)}")
    grant, revoke = sorted(set(apps) - set(held)), sorted(set(held) - set(apps))
    if (grant or revoke) and not permissions.can_grant(actor, entry):
        return BulkRow.ERROR, MESSAGES["not_allowed"]
    changes += [f"grant {', '.join(grant)}"] if grant else []
    changes += [f"revoke {', '.join(revoke)}"] if revoke else []
    if changes and not permissions.can_grant(actor, entry):
        return BulkRow.ERROR, MESSAGES["not_allowed"]
    if entry.name != data["name"]:
        notes.append(f"name in Cognito is “{entry.name}” (the import does not rename users)")
    if not entry.enabled:
        notes.append("the user is disabled (the import does not enable users)")
    return (BulkRow.UPDATE if changes else BulkRow.UNCHANGED), "; ".join(changes + notes)


def _ends_held(sub: str) -> dict[str, str]:
    """Return the user's open grant ends, {application: ISO end}."""
    return {end.application: end.ends_at.isoformat() for end in selectors.ends_of(sub) if end.application}


def _ends_changed(data: dict, held: dict[str, str]) -> list[str]:
    """Return the row's ends that differ from those held, for people ('billing until 2026-12-31 00:00 UTC')."""
    wanted = data.get("expires") or {}
    changed = sorted(app for app, end in wanted.items() if held.get(app) != end)
    return [
        MESSAGES["until"].format(app=app, when=end_rules.end_label(datetime.fromisoformat(wanted[app])))
        for app in changed
    ]


def _ends_apply(actor, data: dict, sub: str) -> str:
    """Set the row's ends that differ from those held; return '' or why one failed."""
    held = _ends_held(sub)
    for app, end in sorted((data.get("expires") or {}).items()):
        if held.get(app) == end:
            continue
        try:
            services.access_grant(actor=actor, sub=sub, application=app, expires=datetime.fromisoformat(end))
        except services.InvalidInput as exc:
            return exc.message
    return ""


def _storable(value):
    """Return a refused value fit to store and show: NUL (which PostgreSQL cannot keep) becomes U+FFFD."""
    return value.replace("\0", "\ufffd") if isinstance(value, str) else value


def _plan_batch(actor, parsed: list[ParsedRow], job: BulkJob) -> list[BulkRow]:
    """Plan a batch of rows against the index (two queries), returning unsaved BulkRows."""
    emails = [row.data["email"] for row in parsed if not row.errors]
    entries = {entry.email: entry for entry in selectors.directory_entries().filter(email__in=emails)}
    made = []
    for row in parsed:
        if row.errors:
            plan, detail = BulkRow.ERROR, " ".join(row.errors)
        else:
            entry = entries.get(row.data["email"])
            plan, detail = plan_row(actor, row.data, entry, directory.entry_applications(entry) if entry else [])
        data = {key: _storable(value) for key, value in row.data.items()}
        made.append(
            BulkRow(
                job=job,
                number=row.number,
                email=_storable(row.email),
                sub=entries[row.email].sub if row.email in entries else "",
                data=data,
                plan=plan,
                detail=detail,
                state=BulkRow.SKIPPED if plan == BulkRow.ERROR else BulkRow.PENDING,
            )
        )
    return made


def _mark_duplicates(job: BulkJob) -> None:
    """Turn every repeated email into an error; the first line too when the repeats differ from it."""
    repeated = job.rows.exclude(email="").values("email").annotate(count=Count("id"), first=Min("number"))
    for group in repeated.filter(count__gt=1):
        rows = list(job.rows.filter(email=group["email"]).order_by("number"))
        first, others = rows[0], rows[1:]
        for row in others:
            row.plan, row.state = BulkRow.ERROR, BulkRow.SKIPPED
            row.detail = MESSAGES["duplicate"].format(email=group["email"], line=first.number)
        if any(row.data != first.data for row in others):
            first.plan, first.state = BulkRow.ERROR, BulkRow.SKIPPED
            first.detail = MESSAGES["conflict"].format(
                email=group["email"],
                lines=f"{words.noun_for(len(others), 'line')} " + ", ".join(str(row.number) for row in others),
            )
        BulkRow.objects.bulk_update(rows, ["plan", "state", "detail"])


def _batches(rows: Iterator[ParsedRow]) -> Iterator[list[ParsedRow]]:
    """Yield the rows BATCH at a time."""
    batch: list[ParsedRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _discard_rows(job: BulkJob) -> None:
    """Delete a job's planned rows, BATCH rows per transaction."""
    while ids := list(job.rows.values_list("pk", flat=True)[:BATCH]):
        BulkRow.objects.filter(pk__in=ids).delete()


def _plan_file(actor, job: BulkJob, binary) -> None:
    """Plan every row of the file into the job, a batch per transaction; raise FileError for the whole file.

    Each batch of rows is written in a transaction of its own, so that no write lock is held while the file
    is read (on SQLite a long one would stop every other writer: the workers, the sign-ins).
    """
    status = job.status
    for batch in _batches(rows_read(binary)):
        BulkRow.objects.bulk_create(_plan_batch(actor, batch, job))
        if not BulkJob.objects.filter(pk=job.pk, status=status).update(
            lines_read=batch[-1].number, heartbeat_at=timezone.now()
        ):
            raise FileError(MESSAGES["discarded"])  # cancelled meanwhile: stop reading
    _mark_duplicates(job)


def import_reason(reason: str) -> str:
    """Return the import's reason, or raise InvalidInput when its start or any action of its rows requires one."""
    for audited_as in IMPORT_AUDITS:
        reason = reasons.reason_check(action=audited_as, reason=reason)
    return reason


def import_preview(*, actor, binary, name: str, size: int, reason: str = "") -> BulkJob:
    """Read and plan a file here and now (the dry run: no Cognito call, nothing applied); return the preview job.

    The command's way (no request timeout to keep); the upload screen stores the file for a worker instead.
    A refused file leaves nothing. The job counts its rows only at the end, and a job without a count cannot
    be started.
    """
    if not permissions.can_import(actor):
        raise PermissionDenied(services.MESSAGES["not_allowed"])
    reason = import_reason(reason)
    size_check(size)
    digest = hashlib.file_digest(binary, "sha256").hexdigest()
    binary.seek(0)
    job = BulkJob.objects.create(
        kind=BulkJob.IMPORT, created_by=actor, file_name=name[:255], file_sha256=digest, reason=reason
    )
    try:
        _plan_file(actor, job, binary)
    except BaseException:
        _discard_rows(job)
        job.delete()
        raise
    job.total = job.rows.count()
    job.save(update_fields=["total"])
    return job


def header_check(binary) -> None:
    """Refuse a file whose first line is not the header (or that is empty), reading only that line."""
    first = binary.readline(64 * 1024)
    binary.seek(0)
    if not first.removeprefix(codecs.BOM_UTF8):
        raise FileError(MESSAGES["empty"])
    next(rows_read(io.BytesIO(first + b"\n-\n")))  # a stand-in row, so that only the header is judged


def _store(job: BulkJob, binary) -> None:
    """Store the file in CHUNK_BYTES pieces (a short insert each), noting its digest and line count."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    for number, data in enumerate(iter(lambda: binary.read(CHUNK_BYTES), b""), 1):
        BulkFileChunk.objects.create(job=job, number=number, data=data)
        digest.update(data)
        lines, last = lines + data.count(b"\n"), data[-1:]
    lines += last != b"\n"
    BulkJob.objects.filter(pk=job.pk).update(file_sha256=digest.hexdigest(), lines_total=lines)


def import_store(*, actor, binary, name: str, size: int, reason: str = "") -> BulkJob:
    """Store an uploaded file, with the reason its rows are audited with, for a worker to read; return the job.

    Only the cheap checks run here (the size, the header); every other error in the file reaches the job page.
    """
    if not permissions.can_import(actor):
        raise PermissionDenied(services.MESSAGES["not_allowed"])
    reason = import_reason(reason)
    size_check(size)
    header_check(binary)
    job = BulkJob.objects.create(
        kind=BulkJob.IMPORT, created_by=actor, file_name=name[:255], status=BulkJob.READING, reason=reason
    )
    _store(job, binary)
    job.refresh_from_db()
    return job


class _Chunks(io.RawIOBase):
    """The stored file, read chunk by chunk (one in memory at a time)."""

    def __init__(self, job: BulkJob):
        self.numbers = iter(job.chunks.order_by("number").values_list("number", flat=True))
        self.job, self.held = job, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Fill the buffer from the chunk in hand, fetching the next one when it is used up."""
        while not self.held:
            number = next(self.numbers, None)
            if number is None:
                return 0
            self.held = bytes(self.job.chunks.get(number=number).data)
        size = min(len(buffer), len(self.held))
        buffer[:size], self.held = self.held[:size], self.held[size:]
        return size


def import_read(*, job_id: int) -> dict:
    """Plan a stored file (the worker's dry run); mark the job previewed, or refused with the file's error."""
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    if job.status != BulkJob.READING:
        job.chunks.all().delete()  # discarded before a worker came to it
        return {"status": job.status}
    _discard_rows(job)  # a worker that stopped midway may have left some
    try:
        _plan_file(job.created_by, job, io.BufferedReader(_Chunks(job), CHUNK_BYTES))
    except FileError as exc:
        _discard_rows(job)
        BulkJob.objects.filter(pk=job.pk, status=BulkJob.READING).update(
            status=BulkJob.REFUSED, error=exc.message, finished_at=timezone.now()
        )
    else:
        BulkJob.objects.filter(pk=job.pk, status=BulkJob.READING).update(status=BulkJob.PREVIEW, total=job.rows.count())
    job.chunks.all().delete()
    job.refresh_from_db()
    return {"status": job.status, "total": job.total, "error": job.error}


def earlier_run(job: BulkJob) -> BulkJob | None:
    """Return the last applied import of the same file, if any."""
    return (
        BulkJob.objects.filter(kind=BulkJob.IMPORT, file_sha256=job.file_sha256)
        .exclude(pk=job.pk)
        .exclude(status__in=NOT_APPLIED)
        .order_by("-created_at")
        .first()
    )


# --- Applying one row -------------------------------------------------------------------------------


def _live(data: dict) -> selectors.UserView | None:
    """Read the row's user from Cognito now (refreshing the index), or None when the pool has none."""
    entry = selectors.entry_by_email(data["email"])
    if entry is not None:
        try:
            return selectors.user_live(entry.sub)
        except cognito.UserNotFound:
            pass  # deleted, or replaced by a new account with the same email: look it up by email
    return selectors.user_by_email_live(data["email"])


TAKEN_OVER = (
    "Cognito already held this user when the row was taken over from a worker that stopped mid-row: "
    "this records the invitation that worker made but could not audit."
)


def _audit_unrecorded_invite(actor, data: dict, view: selectors.UserView, worker: str, reason: str) -> None:
    """Audit the invitation of a worker that died after Cognito created the user, unless it was audited."""
    made = AuditEvent.objects.filter(action="user_invite", target=data["email"]).exclude(target_sub="")
    if made.exists():  # the creation was audited (even when a grant after it failed)
        return
    audit_record(
        actor=actor,
        action="user_invite",
        target=data["email"],
        target_sub=view.entry.sub,
        after={
            "email": data["email"],
            "name": data["name"],
            "role": view.entry.role_key,
            "applications": sorted(view.applications),
            "recorded_by": f"{worker}, after taking the row over",
            "note": TAKEN_OVER,
        },
        reason=reason,
    )


def _stop_on_fault(access: services.AccessResult) -> None:
    """Raise the fault (Cognito busy or down) that stopped some changes: the job stops as interrupted, to resume."""
    if access.fault is not None:
        raise access.fault


def row_apply(*, actor, data: dict, taken_over_by: str = "", reason: str = "") -> tuple[str, str]:
    """Make Cognito hold the row (invite, or change role and applications); return (outcome, message).

    Throttling and outages are raised, so that the runner can stop and leave the row for a resume. A row
    planned as an invitation and `taken_over_by` a worker from one that died may find the user already made.
    """
    view = _live(data)
    if view is not None and taken_over_by:
        _audit_unrecorded_invite(actor, data, view, taken_over_by, reason)
    if view is None:
        invitation = services.user_invite(
            actor=actor,
            email=data["email"],
            name=data["name"],
            role=data["role"],
            level=data["level"],
            applications=data["applications"],
            reason=reason,
        )
        _stop_on_fault(invitation.access)
        if invitation.access.failed:
            _, app, error = invitation.access.failed
            return BulkRow.FAILED, MESSAGES["partial"].format(app=app, error=error)
        if failed := _ends_apply(actor, data, invitation.entry.sub):
            return BulkRow.FAILED, failed
        invited = MESSAGES["invited"].format(role=role_label(data), apps=", ".join(data["applications"]) or "none")
        return BulkRow.CREATED, "; ".join([invited, *_ends_changed(data, {})])
    plan, detail = plan_row(actor, data, view.entry, view.applications)
    if plan != BulkRow.UPDATE:
        return (BulkRow.FAILED if plan == BulkRow.ERROR else BulkRow.UNCHANGED), detail
    entry = view.entry
    if entry.role_key != f"{data['role']}{data['level']}":
        change = services.role_change(
            actor=actor, sub=entry.sub, role=data["role"], level=data["level"], shown=entry.role_key, reason=reason
        )
        if change.error:
            return BulkRow.FAILED, change.error
    if set(view.applications) != set(data["applications"]):
        access = services.access_set(actor=actor, sub=entry.sub, applications=data["applications"], reason=reason)
        _stop_on_fault(access)
        if access.failed:
            operation, app, error = access.failed
            return BulkRow.FAILED, f"Could not {operation} {app}: {error}"
        if access.sessions_error:
            return BulkRow.FAILED, access.sessions_error
    if failed := _ends_apply(actor, data, entry.sub):
        return BulkRow.FAILED, failed
    return BulkRow.UPDATED, detail
