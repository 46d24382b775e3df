"""``POST /classify`` as ``multipart/form-data``: the files of its ``file`` fields, within bounds.

``curl -F file=@photo.jpg http://127.0.0.1:8080/classify`` sends a photo as a
file part; several ``file`` parts are a batch, answered in their order, exactly
as the entries of the JSON form's ``images``.  The body is parsed while it
arrives, by python-multipart's streaming parser (fed in the decode thread pool,
so the event loop only moves bytes), and only the files' bytes are kept.  The
JSON form's limits hold, with the same error codes:

* the body passes ``max_body_bytes`` → 413 ``body_too_large``: nothing past the
  limit is kept or parsed (:func:`scened.api.streaming.body_chunks`), and this
  answer wins over any other, as in the JSON form, which reads the body first;
* file part ``max_images + 1`` → 413 ``too_many_images``, as soon as its headers
  are seen (the rest of the body is read and dropped);
* a file over ``max_image_bytes`` → 413 ``image_too_large`` with its ``index``:
  its bytes are dropped as they arrive, and, as in the JSON form, the lowest
  failing file decides the answer (:class:`~scened.api.decode.OversizeFile`);
* no ``file`` part → 400 ``missing_images``; a file that is not a JPEG or PNG
  image → the JSON form's per-image errors (``not_a_base64_image``, whose
  message then says "not an image file", ``unsupported_file_type``, ...);
* a body that is not multipart (no boundary, a broken or unfinished part, more
  than :data:`MAX_PART_HEADERS` header lines or :data:`MAX_PART_HEADER_BYTES`
  bytes in one, a part without a form-data name) or that has more than
  :data:`MAX_OTHER_PARTS` parts besides the files → 400 ``malformed_multipart``.

Parts with other names are read and dropped (the query string carries
``policy`` and ``top``, as for the JSON form).  The files' own ``Content-Type``
and file names are ignored: the content decides, as in the JSON form.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartState, parse_options_header
from starlette.requests import Request

from scened.api.decode import OversizeFile
from scened.api.errors import ApiError, ErrorCode
from scened.api.streaming import body_chunks

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MEDIA_TYPE = "multipart/form-data"
#: The name of the form field that holds a photo (repeated for a batch).
FILE_FIELD = "file"
#: Parts allowed besides the files (a real upload has none; an HTML form may add a few).
MAX_OTHER_PARTS = 16
#: Header lines allowed in one part (a file part has two: its name and its type).
MAX_PART_HEADERS = 8
#: Bytes allowed in one header line of a part (a long UTF-8 file name fits).
MAX_PART_HEADER_BYTES = 4096
#: Bytes gathered from the network before they go to the parser in the thread pool.
FEED_BYTES = 256 * 1024
#: Other field names quoted in the ``missing_images`` message, and their longest length.
_NAMES_QUOTED, _NAME_CHARS = 4, 40


def is_multipart(content_type: str | None) -> bool:
    """Whether a request's ``Content-Type`` is ``multipart/form-data`` (any parameters)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


async def read_files(
    request: Request, *, max_body_bytes: int, max_images: int, max_image_bytes: int, pool: Executor
) -> list[bytes | OversizeFile]:
    """The ``file`` parts of a multipart request, in order, or the ApiError of the body.

    See the module docstring for the limits.  An error met while parsing stops
    the parse but not the reading, so that an over-limit body is still 413.
    """
    form = _Form(max_images, max_image_bytes)
    parser = _parser(request.headers.get("content-type", ""), form)
    loop = asyncio.get_running_loop()
    failure: ApiError | None = None
    pending: list[bytes] = []
    pending_bytes = 0
    async for chunk in body_chunks(request, max_body_bytes):
        if failure is not None:
            continue  # read and dropped: the answer is already known
        pending.append(chunk)
        pending_bytes += len(chunk)
        if pending_bytes >= FEED_BYTES:
            failure = await loop.run_in_executor(pool, form.feed, parser, pending)
            pending, pending_bytes = [], 0
    if failure is None and pending:
        failure = await loop.run_in_executor(pool, form.feed, parser, pending)
    if failure is not None:
        raise failure
    return form.finish(parser)


def _parser(content_type: str, form: _Form) -> MultipartParser:
    """python-multipart's streaming parser for the boundary of ``content_type``."""
    _media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise _malformed("the Content-Type has no boundary")
    try:
        return MultipartParser(
            boundary,
            form.callbacks(),
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_BYTES,
        )
    except FormParserError as exc:
        raise _malformed(str(exc)) from None


class _Form:
    """The parser's callbacks: keep the ``file`` parts' bytes, check each part's headers.

    Only the thread feeding the parser touches it, one request at a time.
    """

    def __init__(self, max_images: int, max_image_bytes: int) -> None:
        self.max_images = max_images
        self.max_image_bytes = max_image_bytes
        self.files: list[bytes | OversizeFile] = []
        self.other_names: list[str] = []
        self.started = False
        # The part being read.
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._is_file = False
        self._chunks: list[bytes] = []
        self._size = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def feed(self, parser: MultipartParser, chunks: Sequence[bytes]) -> ApiError | None:
        """Parse ``chunks``; the body's error if one shows (the files are then dropped)."""
        try:
            for chunk in chunks:
                if chunk:
                    self.started = True
                    parser.write(chunk)
        except ApiError as exc:
            error = exc
        except FormParserError as exc:
            error = _malformed(str(exc))
        else:
            return None
        self.files.clear()
        self._chunks.clear()
        return error

    def finish(self, parser: MultipartParser) -> list[bytes | OversizeFile]:
        """The files, once the whole body has been parsed; an ApiError if it was incomplete."""
        if not self.started:
            raise _malformed("the body is empty")
        if parser.state is not MultipartState.END:
            raise _malformed("the body ends before its closing boundary")
        if not self.files:
            raise ApiError(400, ErrorCode.MISSING_IMAGES, self._missing_message())
        return self.files

    def _missing_message(self) -> str:
        message = (
            f'missing field "{FILE_FIELD}": send each photo as a multipart/form-data '
            f"field named {FILE_FIELD} (curl -F {FILE_FIELD}=@photo.jpg)"
        )
        if not self.other_names:
            return message
        names = [repr(name[:_NAME_CHARS]) for name in self.other_names[:_NAMES_QUOTED]]
        more = ", ..." if len(self.other_names) > _NAMES_QUOTED else ""
        return f"{message}; the body has {', '.join(names)}{more}"

    def _part_begin(self) -> None:
        self._headers = {}
        self._is_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).strip().lower()] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        """Decide what the part is from its Content-Disposition, and count it."""
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise _malformed("a part has no Content-Disposition: form-data header with a name")
        if name.decode("latin-1") != FILE_FIELD:
            if len(self.other_names) == MAX_OTHER_PARTS:
                raise _malformed(
                    f'more than {MAX_OTHER_PARTS} fields besides the "{FILE_FIELD}" fields'
                )
            self.other_names.append(name.decode("utf-8", "replace"))
            return
        if len(self.files) == self.max_images:
            raise ApiError(
                413,
                ErrorCode.TOO_MANY_IMAGES,
                f"more than the limit of {self.max_images} images in one request",
            )
        self._is_file = True
        self._chunks = []
        self._size = 0

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            return  # another field: dropped
        self._size += end - start
        if self._size <= self.max_image_bytes:
            self._chunks.append(data[start:end])
        else:
            self._chunks.clear()  # over the limit: only its size is kept

    def _part_end(self) -> None:
        if not self._is_file:
            return
        if self._size > self.max_image_bytes:
            self.files.append(OversizeFile(self._size))
        else:
            self.files.append(b"".join(self._chunks))
        self._chunks = []
        self._is_file = False


def _malformed(reason: str) -> ApiError:
    return ApiError(
        400, ErrorCode.MALFORMED_MULTIPART, f"the body is not valid multipart/form-data: {reason}"
    )
