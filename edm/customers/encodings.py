"""Which text encoding a CSV file is in, and reading it strictly in that encoding as a stream.

Excel saves "CSV" in the Windows code page: GBK on Simplified Chinese Windows (read as
GB18030, its superset), Big5 (cp950) on Traditional Chinese Windows, UTF-16 with a
byte-order mark for "Unicode text", UTF-8 with a BOM for "CSV UTF-8". Detection is
deterministic: a byte-order mark decides; else a prefix that is valid UTF-8 is UTF-8;
else charset-normalizer proposes GB18030 or Big5 and the one whose reading is made of
common Chinese characters wins (short GBK files are otherwise often taken for Big5).
Whatever the choice, every byte is decoded strictly: a file that is not valid in it is
refused, naming the row and the byte, never imported as mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

AUTO = "auto"
PREFIX_BYTES = 256 * 1024  # what detection looks at
BLOCK_BYTES = 64 * 1024
CHINESE = ("gb18030", "cp950")  # GBK and GB2312 are subsets of GB18030; cp950 is Windows' Big5
LABELS = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8 with BOM", "gb18030": "GB18030", "gbk": "GBK",
          "gb2312": "GB2312", "big5": "Big5", "cp950": "Big5", "big5hkscs": "Big5-HKSCS",
          "utf_16": "UTF-16", "utf_16_le": "UTF-16 LE", "utf_16_be": "UTF-16 BE"}
BOMS = ((codecs.BOM_UTF8, "utf_8_sig", "UTF-8 with BOM"),
        (codecs.BOM_UTF16_LE, "utf_16", "UTF-16 LE with BOM"),
        (codecs.BOM_UTF16_BE, "utf_16", "UTF-16 BE with BOM"))
UTF16 = ("utf_16", "utf_16_le", "utf_16_be")
HINT = "pass --encoding (or set imports.encoding) to the file's encoding, e.g. gb18030, big5, utf-8"


class EncodingProblem(ValueError):
    """The file's bytes do not fit an encoding; the reason is worded for the user."""


@dataclass(frozen=True)
class TextEncoding:
    """How a file's bytes become text: the Python codec, its name for people, and who chose it."""

    codec: str
    label: str
    chosen_by: str  # "detected", "--encoding", "imports.encoding"

    def describe(self) -> str:
        return f"{self.label} ({self.chosen_by})"


class BadBytes(Exception):
    """Bytes at `offset` (from the start of the file) that the encoding cannot decode."""

    def __init__(self, offset: int, data: bytes) -> None:
        super().__init__(offset, data)
        self.offset = offset
        self.data = data


def codec_name(name: str) -> str:
    """The codec's canonical name (`GBK` -> `gbk`); an unknown encoding is a `LookupError`."""
    return codecs.lookup(name).name.replace("-", "_")


def choose(prefix: bytes, wanted: str = AUTO, chosen_by: str = "detected", *,
           whole: bool = False) -> TextEncoding:
    """The encoding to read a file starting with `prefix` (`whole`: the file is no longer).

    Raises `EncodingProblem` when no sensible encoding fits or `wanted` contradicts a BOM.
    """
    bom = next(((mark, codec, label) for mark, codec, label in BOMS if prefix.startswith(mark)), None)
    if wanted != AUTO:
        return _given(prefix, codec_name(wanted), chosen_by, bom)
    if bom is not None:
        return TextEncoding(bom[1], bom[2], "detected")
    if _is_utf8(prefix, whole):
        return TextEncoding("utf_8", "UTF-8", "detected")
    if b"\x00" in prefix:
        raise EncodingProblem("has NUL bytes, like UTF-16 without a byte-order mark; "
                              "pass --encoding utf-16-le (or utf-16-be)")
    codec = _chinese(_whole_lines(prefix, whole))
    if codec is None:
        raise EncodingProblem(f"is not UTF-8, GB18030 (GBK) or Big5 text; {HINT}")
    return TextEncoding(codec, LABELS[codec], "detected")


def _given(prefix: bytes, codec: str, chosen_by: str, bom: tuple[bytes, str, str] | None) -> TextEncoding:
    label = LABELS.get(codec, codec.replace("_", "-"))
    if bom is not None:
        family = UTF16 if bom[1] == "utf_16" else ("utf_8", "utf_8_sig")
        if codec not in family:
            raise EncodingProblem(f"starts with a {bom[2].removesuffix(' with BOM')} byte-order mark, "
                                  f"but {chosen_by} says {label}; the file is not {label}")
        return TextEncoding(bom[1], bom[2], chosen_by)
    return TextEncoding(codec, label, chosen_by)


def _is_utf8(prefix: bytes, whole: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf_8")("strict").decode(prefix, final=whole)
    except UnicodeDecodeError:
        return False
    return True


def _whole_lines(prefix: bytes, whole: bool) -> bytes:
    """The prefix cut after its last newline, so no character is cut in two (GB and Big5 trail
    bytes are never 0x0A)."""
    if whole:
        return prefix
    end = prefix.rfind(b"\n")
    return prefix[: end + 1] if end >= 0 else prefix


def _chinese(data: bytes) -> str | None:
    """GB18030 or Big5, whichever charset-normalizer finds plausible and reads as more common
    characters; a tie goes to GB18030 (short Simplified names often also decode as Big5)."""
    from charset_normalizer import from_bytes

    proposed = {codec_name(match.encoding) for match in from_bytes(data, cp_isolation=list(CHINESE))}
    scores: dict[str, float] = {}
    for codec in CHINESE:
        if codec in proposed or (codec == "cp950" and "big5" in proposed):
            try:
                scores[codec] = commonness(data.decode(codec))
            except UnicodeDecodeError:
                continue
    if not scores:
        return None
    return max(scores, key=lambda codec: (scores[codec], codec == "gb18030"))


def commonness(text: str) -> float:
    """The share of non-ASCII characters that are common Chinese characters or punctuation: high
    for a right reading, low for mojibake (rare characters, kana, Cyrillic)."""
    wide = [char for char in text if ord(char) > 0x7F]
    if not wide:
        return 1.0
    known = _common_characters()
    return sum(char in known for char in wide) / len(wide)


@cache
def _common_characters() -> frozenset[str]:
    """GB2312 level 1 (3,755 common Simplified characters), Big5 level 1 (5,401 common
    Traditional ones) and CJK punctuation."""
    chars: set[str] = set(
        "，。、：；！？（）《》〈〉「」『』【】“”‘’—…·～￥％＃＆＊＋－／＝＠　")
    for lead in range(0xB0, 0xD8):
        chars.update(_decoded(lead, range(0xA1, 0xFF), "gb2312"))
    for lead in range(0xA4, 0xC7):
        chars.update(_decoded(lead, [*range(0x40, 0x7F), *range(0xA1, 0xFF)], "big5"))
    return frozenset(chars)


def _decoded(lead: int, trails: range | list[int], codec: str) -> Iterator[str]:
    for trail in trails:
        try:
            yield bytes((lead, trail)).decode(codec)
        except UnicodeDecodeError:
            continue


class StrictText(io.TextIOBase):
    """A binary file as text, decoded strictly block by block; stops before byte `limit` if given.

    Undecodable bytes raise `BadBytes` with their offset in the file.
    """

    def __init__(self, raw: BinaryIO, codec: str, limit: int | None = None) -> None:
        super().__init__()
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self._fed = 0  # bytes handed to the decoder so far
        self._limit = limit
        self._text = ""
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = None if size is None or size < 0 else size
        while not self._done and (want is None or len(self._text) < want):
            self._text += self._decode_block()
        if want is None:
            out, self._text = self._text, ""
        else:
            out, self._text = self._text[:want], self._text[want:]
        return out

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        while "\n" not in self._text and not self._done:
            self._text += self._decode_block()
        end = self._text.find("\n") + 1 or len(self._text)
        out, self._text = self._text[:end], self._text[end:]
        return out

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        while line := self.readline():
            yield line

    def _decode_block(self) -> str:
        size = BLOCK_BYTES if self._limit is None else min(BLOCK_BYTES, self._limit - self._fed)
        block = self._raw.read(size) if size > 0 else b""
        final = not block
        pending = len(self._decoder.getstate()[0])
        try:
            text: str = self._decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            start = self._fed - pending + exc.start
            raise BadBytes(start, exc.object[exc.start: exc.end]) from exc
        except UnicodeError as exc:  # UTF-16 without a BOM under the codec that needs one
            raise BadBytes(self._fed - pending, block[:2]) from exc
        self._fed += len(block)
        self._done = final
        return text


def row_of(path: Path, codec: str, offset: int, first_row: int = 1) -> int:
    """The spreadsheet row (header = `first_row`) holding the byte at `offset`: the CSV records
    decoded before it, counted as a stream."""
    last = [""]

    def lines(text: StrictText) -> Iterator[str]:
        for line in text:
            last[0] = line
            yield line

    records = 0
    with path.open("rb") as raw:
        try:
            for _ in csv.reader(lines(StrictText(raw, codec, limit=offset))):
                records += 1
        except csv.Error:  # the bad byte is inside a quoted value that began on this record
            return first_row + records
    starts_a_record = not last[0] or last[0].endswith(("\n", "\r"))
    return first_row + records - (0 if starts_a_record else 1)


def describe_bad_bytes(bad: BadBytes, encoding: TextEncoding, row: int) -> str:
    shown = " ".join(f"0x{byte:02X}" for byte in bad.data[:4]) or "the end of the file"
    return (f"row {row} is not valid {encoding.label} text (byte {bad.offset}: {shown}); "
            f"the file is not {encoding.label}: {HINT}")
