"""Documents attached to a claim: photos, estimates, police and medical reports, invoices.

What a file is comes from its first bytes, never from the browser's word or the name
alone: a name that says one thing and bytes that say another are refused, so a download
opens as what it claims to be. An upload of several files is all-or-nothing. The same
file twice on one claim is refused (a double upload). Documents hold personal data:
roles without personal-data access see the list, not the files, and every download is
audited. Removing one (attached to the wrong claim, say) erases its bytes and keeps the
record of who attached and removed it.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Claim, ClaimDocument, ClaimEvent, User
from services import audit
from services.access import AccessDenied, NotFound, can_see_department
from services.privacy import sees_personal_data
from services.workflow import can_act, get_claim

KINDS = {"photo": "Photo", "estimate": "Estimate", "police_report": "Police report", "medical": "Medical record",
         "invoice": "Invoice or receipt", "correspondence": "Correspondence", "other": "Other"}
MAX_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_UPLOAD = 5
# What one upload may carry: base64 in the callback's JSON grows it by a third, and the web
# server refuses bodies past app.MAX_REQUEST_BYTES.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PER_CLAIM = 100
NOTE_MAX = 500
REASON_MAX = 200
NAME_MAX = 200


class DocumentError(ValueError):
    """Bad input: the message is for the user, and nothing was written."""


class DuplicateDocument(DocumentError):
    """The file is attached to the claim already: a retried upload (the API answers 409 with its id)."""

    def __init__(self, message: str, existing_id: int):
        super().__init__(message)
        self.existing_id = existing_id


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    extensions: tuple[str, ...]


PDF = FileType("application/pdf", "a PDF", (".pdf",))
PNG = FileType("image/png", "a PNG image", (".png",))
JPEG = FileType("image/jpeg", "a JPEG photo", (".jpg", ".jpeg"))
GIF = FileType("image/gif", "a GIF image", (".gif",))
WEBP = FileType("image/webp", "a WebP image", (".webp",))
HEIC = FileType("image/heic", "a HEIC photo", (".heic", ".heif"))
TIFF = FileType("image/tiff", "a TIFF scan", (".tif", ".tiff"))
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a Word document",
                (".docx",))
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an Excel workbook", (".xlsx",))
TEXT = FileType("text/plain; charset=utf-8", "a text file", (".txt", ".csv", ".eml"))
ACCEPTED = "PDF, photos and scans (JPEG, PNG, HEIC, WebP, GIF, TIFF), Word, Excel and text files"
# For the upload control: what the file picker offers (the server decides).
ACCEPT_ATTRIBUTE = ",".join(ext for t in (PDF, JPEG, PNG, HEIC, WEBP, GIF, TIFF, DOCX, XLSX, TEXT)
                            for ext in t.extensions)


# zipfile builds an object per entry of a ZIP's central directory before it lists a single name:
# 10 MB of nothing but directory entries is ~200,000 of them, seconds of CPU and ~80 MB on the
# request's thread, five times per upload. Word and Excel files have tens to a few thousand parts
# (under 256 KB of directory), so the size the end record gives is checked before zipfile reads it.
MAX_ZIP_DIRECTORY = 256 * 1024
_ZIP_END, _ZIP64_END, _ZIP64_LOCATOR = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"


def _zip_directory_small(data: bytes) -> bool:
    # The records zipfile itself reads: the last end signature in the final 64 KB + 22 bytes, and
    # when a ZIP64 locator stands right before it, the 56-byte ZIP64 end record before that (some
    # writers always add one), whose directory size then counts.
    end = data.rfind(_ZIP_END, max(0, len(data) - 22 - (1 << 16)))
    if end < 0 or len(data) - end < 22:
        return False
    size = struct.unpack_from("<I", data, end + 12)[0]
    if end >= 20 and data[end - 20:end - 16] == _ZIP64_LOCATOR:
        record = end - 20 - 56
        if record < 0 or data[record:record + 4] != _ZIP64_END:
            return False
        size = struct.unpack_from("<Q", data, record + 40)[0]
    return size <= MAX_ZIP_DIRECTORY


def _office(data: bytes) -> FileType | None:
    if not _zip_directory_small(data):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    # Macro-enabled files (vbaProject.bin) are refused: a claim file is no place for code.
    if any(n.endswith("vbaProject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _text(data: bytes) -> FileType | None:
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return TEXT


def detect(data: bytes) -> FileType | None:
    """The type the bytes are, or None for anything not accepted."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
        return HEIC
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"PK\x03\x04"):
        return _office(data)
    return _text(data)


def clean_filename(name) -> str:
    """The last part of what the browser sent, without control characters, at most NAME_MAX long
    (the extension kept)."""
    if not isinstance(name, str):
        raise DocumentError("A file came without a name.")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        raise DocumentError("A file came without a name.")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = dot + ext if dot and len(ext) <= 10 else ""
        name = name[:NAME_MAX - len(ext)].rstrip() + ext
    return name


def from_data_url(contents) -> bytes:
    """The bytes of a browser upload ("data:<type>;base64,<data>"); the type it names is ignored."""
    if not isinstance(contents, str) or not contents.startswith("data:") or ";base64," not in contents[:200]:
        raise DocumentError("A file did not arrive whole; choose it again.")
    payload = contents.split(";base64,", 1)[1]
    if len(payload) > (MAX_BYTES * 4) // 3 + 8:
        raise DocumentError(f"A file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DocumentError("A file did not arrive whole; choose it again.") from None


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    type: FileType
    sha256: str


def check_file(filename, data: bytes) -> Upload:
    name = clean_filename(filename)
    if not data:
        raise DocumentError(f"“{name}” is empty.")
    if len(data) > MAX_BYTES:
        raise DocumentError(f"“{name}” is {size_text(len(data))}; a document can be at most "
                            f"{MAX_BYTES // (1024 * 1024)} MB.")
    kind = detect(data)
    if kind is None:
        raise DocumentError(f"“{name}” is not a kind of file SCOPE keeps ({ACCEPTED}).")
    ext = "." + name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in kind.extensions:
        said = f"its name ends in {ext}" if ext else "its name has no extension"
        raise DocumentError(f"“{name}” is {kind.label}, but {said}: rename it to end in {kind.extensions[0]} "
                            "and choose it again.")
    return Upload(name, data, kind, hashlib.sha256(data).hexdigest())


def _kind(value) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise DocumentError("Choose what kind of document this is.")
    return value


def _note(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DocumentError("The note must be text.")
    value = value.strip()
    if len(value) > NOTE_MAX:
        raise DocumentError(f"The note can be at most {NOTE_MAX} characters (this one has {len(value):,}).")
    return value or None


def _live(claim_id: int):
    return select(ClaimDocument).where(ClaimDocument.claim_id == claim_id, ClaimDocument.removed_at.is_(None))


def can_attach(user, claim: Claim) -> bool:
    return can_act(user, claim, Perm.WRITE_NOTES)


def attach(session: Session, user, claim_number, files, kind, note=None, *,
           now: dt.datetime | None = None) -> list[ClaimDocument]:
    """``files``: [(filename, bytes)]. All of them or none."""
    claim = get_claim(session, user, claim_number)
    if not can_attach(user, claim):
        raise AccessDenied("you can attach documents only to claims in your own departments")
    kind, note = _kind(kind), _note(note)
    if not isinstance(files, (list, tuple)) or not files:
        raise DocumentError("Choose the files to attach.")
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise DocumentError(f"Attach at most {MAX_FILES_PER_UPLOAD} files at a time (you chose {len(files)}).")
    uploads = [check_file(name, data) for name, data in files]
    total = sum(len(up.data) for up in uploads)
    if total > MAX_UPLOAD_BYTES:
        raise DocumentError(f"Together these files are {size_text(total)}; attach at most "
                            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB at a time.")
    seen: dict[str, str] = {}
    for up in uploads:
        if up.sha256 in seen:
            raise DocumentError(f"“{up.filename}” and “{seen[up.sha256]}” are the same file; choose it once.")
        seen[up.sha256] = up.filename
    # Locks the claim's row: two uploads at once count and compare against each other's files.
    session.execute(select(Claim.id).where(Claim.id == claim.id).with_for_update())
    existing = session.execute(_live(claim.id).with_only_columns(
        ClaimDocument.sha256, ClaimDocument.filename, ClaimDocument.uploaded_at, ClaimDocument.id)).all()
    by_hash = {sha: (name, at, doc_id) for sha, name, at, doc_id in existing}
    for up in uploads:
        if up.sha256 in by_hash:
            name, at, doc_id = by_hash[up.sha256]
            raise DuplicateDocument(f"“{up.filename}” is already attached to this claim (as “{name}”, "
                                    f"{at:%d %b %Y}).", doc_id)
    if len(existing) + len(uploads) > MAX_PER_CLAIM:
        raise DocumentError(f"A claim can hold at most {MAX_PER_CLAIM} documents; this one has {len(existing)}.")
    at = now or dt.datetime.now(dt.timezone.utc)
    rows = []
    for up in uploads:
        doc = ClaimDocument(claim_id=claim.id, filename=up.filename, content_type=up.type.content_type,
                            size_bytes=len(up.data), sha256=up.sha256, kind=kind, note=note, content=up.data,
                            uploaded_by=user.id, uploaded_at=at)
        session.add(doc)
        session.flush()
        session.add(ClaimEvent(claim_id=claim.id, kind="document", actor_id=user.id, at=at, note=note,
                               data={"document_id": doc.id, "filename": up.filename, "kind": kind}))
        audit.record(session, actor=user.email, actor_id=user.id, action="claim.document_attached",
                     target_type="claim", target_id=claim.id,
                     after={"document_id": doc.id, "filename": up.filename, "kind": kind,
                            "content_type": up.type.content_type, "size_bytes": len(up.data), "sha256": up.sha256})
        rows.append(doc)
    return rows


def _document(session: Session, user, document_id, *, lock: bool = False) -> tuple[ClaimDocument, Claim]:
    if isinstance(document_id, bool) or not isinstance(document_id, int) or not 0 < document_id < 2**62:
        raise NotFound("document")
    query = select(ClaimDocument).where(ClaimDocument.id == document_id)
    doc = session.scalar(query.with_for_update() if lock else query)
    if doc is None:
        raise NotFound("document")
    claim_number = session.scalar(select(Claim.claim_number).where(Claim.id == doc.claim_id))
    claim = get_claim(session, user, claim_number)  # the claim's own access rules; NotFound outside them
    return doc, claim


def open_document(session: Session, user, document_id, claim_number: str | None = None
                  ) -> tuple[ClaimDocument, bytes]:
    """The file for a download, audited (documents hold personal data). With ``claim_number``,
    a document of another claim is NotFound."""
    doc, claim = _document(session, user, document_id)
    if claim_number is not None and claim.claim_number != claim_number:
        raise NotFound("document")
    if not sees_personal_data(user):
        raise AccessDenied("documents hold personal data, which your role does not see")
    if doc.removed_at is not None:
        raise NotFound("document")
    data = session.scalar(select(ClaimDocument.content).where(ClaimDocument.id == doc.id))
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.document_downloaded",
                 target_type="claim", target_id=claim.id, after={"document_id": doc.id, "filename": doc.filename})
    return doc, data


def can_remove(user, claim: Claim, doc: ClaimDocument) -> bool:
    if doc.removed_at is not None:
        return False
    if user.can(Perm.REASSIGN):  # managers and admins tidy any claim's file
        return True
    return doc.uploaded_by == user.id and can_act(user, claim, Perm.WRITE_NOTES)


def remove(session: Session, user, document_id, reason=None, *, now: dt.datetime | None = None) -> ClaimDocument:
    doc, claim = _document(session, user, document_id, lock=True)
    if doc.removed_at is not None:
        raise DocumentError(f"“{doc.filename}” was already removed.")
    if not can_remove(user, claim, doc):
        raise AccessDenied("only whoever attached a document, or a manager, can remove it")
    if reason is not None and not isinstance(reason, str):
        raise DocumentError("The reason must be text.")
    reason = (reason or "").strip() or None
    if reason and len(reason) > REASON_MAX:
        raise DocumentError(f"The reason can be at most {REASON_MAX} characters.")
    at = now or dt.datetime.now(dt.timezone.utc)
    doc.removed_at, doc.removed_by, doc.removed_reason, doc.content = at, user.id, reason, None
    session.add(ClaimEvent(claim_id=claim.id, kind="document_removed", actor_id=user.id, at=at, note=reason,
                           data={"document_id": doc.id, "filename": doc.filename, "kind": doc.kind}))
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.document_removed", target_type="claim",
                 target_id=claim.id, before={"document_id": doc.id, "filename": doc.filename, "sha256": doc.sha256},
                 after={"reason": reason})
    session.flush()
    return doc


@dataclass(frozen=True)
class DocumentView:
    id: int
    filename: str
    kind: str               # its label
    size: str
    content_type: str
    uploaded_by: str
    uploaded_at: dt.datetime
    note: str | None
    can_remove: bool
    removed: str | None     # "removed by … on …: reason", for removed ones


def documents_of_claim(session: Session, user, claim: Claim) -> list[DocumentView]:
    """Live documents newest first, then the removed ones (their record, no file)."""
    uploader = User.__table__.alias("uploader")
    remover = User.__table__.alias("remover")
    rows = session.execute(
        select(ClaimDocument, uploader.c.name, uploader.c.email, remover.c.name, remover.c.email)
        .outerjoin(uploader, uploader.c.id == ClaimDocument.uploaded_by)
        .outerjoin(remover, remover.c.id == ClaimDocument.removed_by)
        .where(ClaimDocument.claim_id == claim.id)
        .order_by(ClaimDocument.removed_at.is_not(None), ClaimDocument.uploaded_at.desc(), ClaimDocument.id.desc())
    ).all()
    out = []
    for doc, up_name, up_email, rm_name, rm_email in rows:
        removed = None
        if doc.removed_at is not None:
            removed = f"Removed by {rm_name or rm_email or 'SCOPE'} on {doc.removed_at:%d %b %Y}"
            if doc.removed_reason:
                removed += f": {doc.removed_reason}"
        out.append(DocumentView(doc.id, doc.filename, KINDS.get(doc.kind, doc.kind), size_text(doc.size_bytes),
                                doc.content_type, up_name or up_email or "SCOPE", doc.uploaded_at, doc.note,
                                can_remove(user, claim, doc), removed))
    return out


def live_count(session: Session, claim_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ClaimDocument)
                          .where(ClaimDocument.claim_id == claim_id, ClaimDocument.removed_at.is_(None))) or 0


def document_json(doc: ClaimDocument) -> dict:
    """A live document as the REST API describes it."""
    return {"id": doc.id, "filename": doc.filename, "kind": doc.kind, "content_type": doc.content_type,
            "size_bytes": doc.size_bytes, "sha256": doc.sha256, "note": doc.note,
            "uploaded_at": doc.uploaded_at.isoformat()}


def live_documents(session: Session, user, claim_number) -> list[ClaimDocument]:
    """The claim's live documents, oldest first (NotFound / OutsideDepartments as get_claim)."""
    claim = get_claim(session, user, claim_number)
    return list(session.scalars(_live(claim.id).order_by(ClaimDocument.uploaded_at, ClaimDocument.id)))


def documents_of_claims(session: Session, user, claim_numbers: list[str]) -> dict[str, list[DocumentView]]:
    """Live documents of several claims (an SIU case's), by claim number, each claim's newest
    first; claims the user may not open are left out (as get_claim would refuse them)."""
    visible = [c for c in session.scalars(select(Claim).where(Claim.claim_number.in_(list(claim_numbers))))
               if can_see_department(user, c.department_id)]
    if not visible:
        return {}
    by_id = {c.id: c for c in visible}
    uploader = User.__table__.alias("uploader")
    rows = session.execute(
        select(ClaimDocument, uploader.c.name, uploader.c.email)
        .outerjoin(uploader, uploader.c.id == ClaimDocument.uploaded_by)
        .where(ClaimDocument.claim_id.in_(list(by_id)), ClaimDocument.removed_at.is_(None))
        .order_by(ClaimDocument.uploaded_at.desc(), ClaimDocument.id.desc())).all()
    out: dict[str, list[DocumentView]] = {}
    for doc, name, email in rows:
        claim = by_id[doc.claim_id]
        out.setdefault(claim.claim_number, []).append(
            DocumentView(doc.id, doc.filename, KINDS.get(doc.kind, doc.kind), size_text(doc.size_bytes),
                         doc.content_type, name or email or "SCOPE", doc.uploaded_at, doc.note, False, None))
    return out
