"""A bounded parse of the ``POST /classify`` body: its images, or the error, cheaply.

``json.loads`` of a hostile body builds a Python object per value: 64 MiB of
``{"images": ["ab", "ab", ...]}``, ``[0.5, 0.5, ...]`` or ``{"0": 0, "1": 0, ...}``
grew the server by 0.8 to 1 GB before it answered.  This parser walks the body's
tokens with regular expressions (C speed over long strings, possessive so that
millions of escapes cost no backtracking memory), keeps nothing but what a valid
request holds, and stops at the first thing no valid request has:

* more ``[`` or ``{`` bytes than ``2 * max_images + 4`` → 400 ``malformed_json``
  (counted before anything else: a real body has one object and one list);
* in ``"images"``, more than ``max_images`` entries → 413 ``too_many_images`` at
  once; an entry that is not a string ends the parse: the entries before it and a
  stand-in of the offending type (``0``, ``0.0``, ``False``, ``None``, ``[]``,
  ``{}``) are returned, so that decoding reports the lowest failing index with
  the same error as before (``not_a_base64_image``);
* anywhere else (members besides ``images``, a body that is not an object): more
  than :data:`MAX_OTHER_VALUES` keys and values, or a list or object inside a list
  or object inside the top one → 400 ``malformed_json``;
* anything that is not JSON → 400 ``malformed_json``.

A complete document that is not an object or has no ``images`` is 400
``missing_images``; ``images`` that is not a list, 400 ``images_not_a_list`` (the
last ``images`` member counts, as in JSON).  The body is UTF-8, or the UTF-16/32
that :func:`json.loads` also detects.
"""

from __future__ import annotations

import json
import re

from scened.api.errors import ApiError, ErrorCode

#: Keys and values allowed outside ``images`` (a real request has one key).
MAX_OTHER_VALUES = 256
#: The top object (1) and a list or object in it (2): all ``{"images": [...]}`` needs.
MAX_DEPTH = 2

_WS = re.compile(rb"[ \t\n\r]*+")
_STRING = re.compile(rb'"[^"\\\x00-\x1f]*+(?:\\.[^"\\\x00-\x1f]*+)*+"')
#: A string of printable ASCII without escapes (every base64 image): decoded in place.
_SIMPLE_STRING = re.compile(rb'"[\x20\x21\x23-\x5b\x5d-\x7e]*+"')
_NUMBER = re.compile(rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+")
_LITERALS: dict[int, tuple[bytes, object]] = {
    ord("t"): (b"true", True),
    ord("f"): (b"false", False),
    ord("n"): (b"null", None),
}
_OPEN = {ord("["): b"]", ord("{"): b"}"}


class _NotAList:
    """``images`` was present but held something else than a list."""


_NOT_A_LIST = _NotAList()


def parse_images_body(body: bytes | bytearray, max_images: int) -> list[object]:
    """The ``images`` of a ``POST /classify`` body (see the module docstring), or an ApiError."""
    containers = body.count(b"[") + body.count(b"{")
    if containers > 2 * max_images + 4:
        raise ApiError(
            400, ErrorCode.MALFORMED_JSON,
            f'not an images request: {{"images": [...]}} holds one list of base64 strings, '
            f"not {containers:,} lists or objects",
        )  # fmt: skip
    text, start = _as_utf8(body)
    scanner = _Scanner(text, start, max_images)
    images = scanner.document()
    if images is None:
        raise ApiError(
            400,
            ErrorCode.MISSING_IMAGES,
            'missing parameter "images": send {"images": ["<base64>", ...]}',
        )
    if isinstance(images, _NotAList):
        raise ApiError(400, ErrorCode.IMAGES_NOT_A_LIST, '"images" is not a list')
    return images


def _as_utf8(body: bytes | bytearray) -> tuple[bytes | bytearray, int]:
    """The body as UTF-8 and where its JSON starts (after a byte-order mark)."""
    if not body:
        raise _malformed("the body is empty")
    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return body, 0
    if encoding == "utf-8-sig":
        return body, 3
    try:
        return body.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass"), 0
    except UnicodeError:
        raise _malformed(f"the body is not valid {encoding.upper()}") from None


class _Scanner:
    """A recursive-descent walk over ``text`` from ``pos``; every method leaves ``pos`` after
    what it read."""

    def __init__(self, text: bytes | bytearray, pos: int, max_images: int) -> None:
        self.text = text
        self.view = memoryview(text)
        self.pos = pos
        self.max_images = max_images
        self.other_values = 0

    def document(self) -> list[object] | _NotAList | None:
        """The images (None: no ``images``), after checking the whole body is one value."""
        try:
            self._skip_ws()
            images: list[object] | _NotAList | None = None
            if self._peek() == ord("{"):
                found = self._top_object()
                if isinstance(found, _EndedEarly):
                    return found.images
                images = found
            else:
                self._other_value(depth=1)
            self._skip_ws()
            if self.pos != len(self.text):
                raise _malformed(f"unexpected data after the JSON document at byte {self.pos}")
            return images
        finally:
            self.view.release()

    def _top_object(self) -> list[object] | _NotAList | _EndedEarly | None:
        self.pos += 1
        images: list[object] | _NotAList | None = None
        self._skip_ws()
        if self._peek() == ord("}"):
            self.pos += 1
            return None
        while True:
            self._skip_ws()
            key = self._string(decode=True)
            self._count_other()
            self._skip_ws()
            self._expect(b":")
            self._skip_ws()
            if key != "images":
                self._other_value(depth=2)
            elif self._peek() == ord("["):
                entries = self._images()
                if isinstance(entries, _EndedEarly):
                    return entries
                images = entries
            else:
                self._other_value(depth=2)
                images = _NOT_A_LIST
            self._skip_ws()
            if self._next_is(b"}"):
                return images
            self._expect(b",")

    def _images(self) -> list[object] | _EndedEarly:
        """The entries of an ``images`` list, or those up to its first non-string entry."""
        self.pos += 1
        images: list[object] = []
        self._skip_ws()
        if self._next_is(b"]"):
            return images
        while True:
            self._skip_ws()
            if len(images) == self.max_images:
                raise ApiError(
                    413,
                    ErrorCode.TOO_MANY_IMAGES,
                    f"more than the limit of {self.max_images} images in one request",
                )
            if self._peek() != ord('"'):
                images.append(self._stand_in())
                return _EndedEarly(images)
            images.append(self._string(decode=True))
            self._skip_ws()
            if self._next_is(b"]"):
                return images
            self._expect(b",")

    def _stand_in(self) -> object:
        """A value of the type of the (non-string) value at ``pos``, for its error message."""
        first = self._peek()
        if first in _OPEN:
            return [] if first == ord("[") else {}
        if first in _LITERALS:
            word, value = _LITERALS[first]
            if self.text.startswith(word, self.pos):
                return value
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise _malformed(f"not a JSON value at byte {self.pos}")
        return 0.0 if any(c in match.group() for c in b".eE") else 0

    def _other_value(self, depth: int) -> None:
        """Check (and count) a value outside ``images``; lists and objects only to MAX_DEPTH."""
        self._count_other()
        first = self._peek()
        if first == ord('"'):
            self._string(decode=False)
        elif first in _OPEN:
            if depth > MAX_DEPTH:
                raise _not_an_images_request(
                    f'nesting deeper than {{"images": [...]}} needs, at byte {self.pos}'
                )
            self._container(_OPEN[first], depth)
        elif first in _LITERALS and self.text.startswith(_LITERALS[first][0], self.pos):
            self.pos += len(_LITERALS[first][0])
        else:
            match = _NUMBER.match(self.text, self.pos)
            if match is None:
                raise _malformed(f"not a JSON value at byte {self.pos}")
            self.pos = match.end()

    def _container(self, close: bytes, depth: int) -> None:
        self.pos += 1
        self._skip_ws()
        if self._next_is(close):
            return
        while True:
            self._skip_ws()
            if close == b"}":
                self._string(decode=False)
                self._count_other()
                self._skip_ws()
                self._expect(b":")
                self._skip_ws()
            self._other_value(depth + 1)
            self._skip_ws()
            if self._next_is(close):
                return
            self._expect(b",")

    def _string(self, decode: bool) -> str:
        """The JSON string at ``pos`` (decoded when asked, else only checked: "")."""
        simple = _SIMPLE_STRING.match(self.text, self.pos)
        if simple is not None:
            start, self.pos = simple.span()
            return str(self.view[start + 1 : self.pos - 1], "ascii") if decode else ""
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise _malformed(f"expected a string at byte {self.pos}")
        start, self.pos = match.span()
        try:
            value = json.loads(self.text[start : self.pos])
        except ValueError:
            raise _malformed(f"an invalid string at byte {start}") from None
        return value if decode and isinstance(value, str) else ""

    def _count_other(self) -> None:
        self.other_values += 1
        if self.other_values > MAX_OTHER_VALUES:
            raise _not_an_images_request(
                f'more than {MAX_OTHER_VALUES} keys and values besides the "images" list'
            )

    def _skip_ws(self) -> None:
        match = _WS.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _peek(self) -> int | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def _next_is(self, char: bytes) -> bool:
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return True
        return False

    def _expect(self, char: bytes) -> None:
        if not self._next_is(char):
            where = "the end of the body" if self.pos >= len(self.text) else f"byte {self.pos}"
            raise _malformed(f"expected {char.decode()!r} at {where}")


class _EndedEarly:
    """The entries of ``images`` up to and including its first non-string one."""

    def __init__(self, images: list[object]) -> None:
        self.images = images


def _malformed(reason: str) -> ApiError:
    return ApiError(400, ErrorCode.MALFORMED_JSON, f"the body is not valid JSON: {reason}")


def _not_an_images_request(reason: str) -> ApiError:
    return ApiError(400, ErrorCode.MALFORMED_JSON, f"not an images request: {reason}")
