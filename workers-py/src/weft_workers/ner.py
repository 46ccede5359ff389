"""The ner worker: developer entities in notes, comments and chat.

A `spacy.blank("en")` pipeline with one rule component (`weft_dev_rules`) that finds
FILE_PATH, URL, EMAIL, ISSUE_REF, VERSION, TODO, COMMAND and IDENTIFIER spans with regular
expressions over the raw text (spaCy's tokenizer splits paths and URLs, so rules work on
characters, not tokens). If a statistical spaCy package is installed (`en_core_web_sm`, ...,
or `--spacy-model NAME`), its entities are added with `source` = the package name.

Overlaps: the longest span wins; on equal length the more specific label wins (URL > EMAIL >
ISSUE_REF > FILE_PATH > VERSION > TODO > IDENTIFIER > COMMAND > statistical labels).
Offsets in replies are UTF-8 byte offsets into the text, end exclusive.
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

from weft_workers._gen import worker_pb2
from weft_workers.errors import ModelLoadError, check_texts
from weft_workers.server import ModelInfo, Runtime, lenient, unary

STATISTICAL_MODELS = ("en_core_web_trf", "en_core_web_lg", "en_core_web_md", "en_core_web_sm")
PRIORITY = (
    "URL",
    "EMAIL",
    "ISSUE_REF",
    "FILE_PATH",
    "VERSION",
    "TODO",
    "IDENTIFIER",
    "COMMAND",
)
RULE = "rule"

# Extensions a bare file name (no slash) must carry to count as a path: a closed list, so
# "e.g." or "example.com" don't.
_EXTENSIONS = (
    "c|cc|cfg|cjs|conf|cpp|cs|css|csv|cxx|dart|db|dockerfile|env|ex|exs|gif|go|gradle|h|hpp|"
    "hs|html?|ini|ipynb|java|jpe?g|js|json|jsx|kt|kts|lock|log|lua|md|mdx|mjs|ml|mod|php|pl|"
    "png|proto|ps1|py|pyi|r|rb|rs|rst|scala|scss|sh|sql|sqlite|svelte|svg|swift|tf|toml|ts|"
    "tsx|txt|vue|wasm|xml|ya?ml|zig|zsh"
)
_SEG = r"[\w@+~-][\w.@+~-]*"  # one path segment (not starting with a dot run)
_TRAIL = ".,;:!?)]}'\""

_URL = re.compile(r"\b(?:https?|ftp|file|ssh|git|wss?)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WIN_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\(?:[^\\\s:*?\"<>|]+\\)*[^\\\s:*?\"<>|]+")
_REL_PATH = re.compile(
    rf"(?<![\w/.~:@-])(?:~|\.{{1,2}})?/?(?:{_SEG}/)+(?:{_SEG})?"  # a/b, ./a/b.py, /etc/x, dir/
    rf"|(?<![\w/.~:@-])(?:\.{{1,2}}|~)/{_SEG}"  # ./x, ~/x
)
_BARE_FILE = re.compile(rf"(?<![\w/.@-])[\w@+-][\w.@+-]*\.(?:{_EXTENSIONS})\b(?![\w/-])", re.I)
_ISSUE = re.compile(
    r"(?<![\w/#&])(?:[A-Za-z0-9][\w.-]*/[\w.-]+)?#\d+\b"  # #123, owner/repo#45
    r"|\b[A-Z][A-Z0-9]{1,9}-\d+\b"  # ABC-123
)
# Acronym-number pairs that are not tickets.
_NOT_TICKETS = frozenset(
    {
        "UTF",
        "SHA",
        "AES",
        "RSA",
        "ISO",
        "HTTP",
        "TLS",
        "SSL",
        "MP",
        "MD",
        "PEP",
        "RFC",
        "X86",
        "ARM",
        "COVID",
        "IPV",
        "ES",
        "ECMA",
        "CP",
        "DES",
    }
)
_VERSION = re.compile(
    r"(?<![\w.-])v?\d+\.\d+\.\d+"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
    r"(?![\w-])(?!\.\w)"
    r"|(?<![\w.-])v\d+(?:\.\d+)?(?![\w.-])"
)
_TODO = re.compile(r"\b(TODO|FIXME|HACK|XXX)\b(?:\(([^)\n]*)\))?:?")
_COMMAND = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_IDENT = re.compile(
    r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\)|(?=\())"  # dotted calls: a.b.c() / a.b(x)
    r"|\b[A-Za-z_]\w*(?:::[A-Za-z_]\w*)+(?:\(\))?"  # Rust/C++ paths: a::b::c
    r"|\b_*[A-Za-z][A-Za-z0-9]*(?:_+[A-Za-z0-9]+)+_*\b"  # snake_case, SCREAMING_SNAKE
    r"|\b_+[A-Za-z][A-Za-z0-9]*_+\b"  # __init__
    r"|\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b"  # camelCase
    r"|\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b"  # PascalCase with lower-to-upper transition
    r"|\b[A-Za-z_]\w*\(\)"  # foo()
)


@dataclass(frozen=True)
class Span:
    start: int  # character offsets
    end: int
    label: str
    source: str = RULE
    detail: str = ""

    def rank(self) -> tuple[int, int, int]:
        prio = PRIORITY.index(self.label) if self.label in PRIORITY else len(PRIORITY)
        return (-(self.end - self.start), prio, self.start)


def _trim(text: str, start: int, end: int, chars: str = _TRAIL) -> int:
    """Drop trailing punctuation that belongs to the sentence, keeping balanced parens."""
    while end > start and text[end - 1] in chars:
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    return end


def rule_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _URL.finditer(text):
        spans.append(Span(m.start(), _trim(text, m.start(), m.end()), "URL"))
    for m in _EMAIL.finditer(text):
        end = _trim(text, m.start(), m.end(), ".-")
        spans.append(Span(m.start(), end, "EMAIL"))
    for m in _WIN_PATH.finditer(text):
        spans.append(Span(m.start(), _trim(text, m.start(), m.end()), "FILE_PATH"))
    for m in _REL_PATH.finditer(text):
        end = _trim(text, m.start(), m.end())
        s = text[m.start() : end]
        last = s.rstrip("/").rsplit("/", 1)[-1]
        # "and/or", "client/server": one slash, no extension, no ./ ~/ or / anchor -> prose.
        anchored = s.startswith(("/", "./", "../", "~/"))
        pathlike = s.count("/") >= 2 or anchored or "." in last.lstrip(".") or s.endswith("/")
        if pathlike and s.strip("/.~"):
            spans.append(Span(m.start(), end, "FILE_PATH"))
    for m in _BARE_FILE.finditer(text):
        spans.append(Span(m.start(), m.end(), "FILE_PATH"))
    for m in _ISSUE.finditer(text):
        s = m.group(0)
        if "#" not in s and s.split("-", 1)[0] in _NOT_TICKETS:
            continue
        spans.append(Span(m.start(), m.end(), "ISSUE_REF"))
    for m in _VERSION.finditer(text):
        spans.append(Span(m.start(), _trim(text, m.start(), m.end(), ".-"), "VERSION"))
    for m in _TODO.finditer(text):
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        note = text[m.end() : line_end]
        for closer in ("*/", "-->"):
            note = note.split(closer, 1)[0]
        detail = note.strip(" \t-:")
        spans.append(Span(m.start(), m.end(), "TODO", detail=detail))
    for m in _COMMAND.finditer(text):
        if m.group(1).strip():
            spans.append(Span(m.start(1), m.end(1), "COMMAND"))
    for m in _IDENT.finditer(text):
        spans.append(Span(m.start(), m.end(), "IDENTIFIER"))
    return spans


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Greedy non-overlapping selection: longest first, then label priority, then position."""
    chosen: list[Span] = []
    starts: list[int] = []  # chosen spans, kept sorted and non-overlapping
    ends: list[int] = []
    for span in sorted(spans, key=Span.rank):
        if span.end <= span.start:
            continue
        i = bisect.bisect_right(starts, span.start)
        if i > 0 and ends[i - 1] > span.start:  # the chosen span before overlaps
            continue
        if i < len(starts) and starts[i] < span.end:  # the chosen span after overlaps
            continue
        starts.insert(i, span.start)
        ends.insert(i, span.end)
        chosen.append(span)
    return sorted(chosen, key=lambda s: (s.start, s.end))


def char_to_byte_offsets(text: str, offsets: Iterable[int]) -> dict[int, int]:
    """Map character offsets to UTF-8 byte offsets in one pass over the text."""
    wanted = sorted(set(offsets))
    out: dict[int, int] = {}
    pos = 0
    nbytes = 0
    for off in wanted:
        nbytes += len(text[pos:off].encode("utf-8"))
        pos = off
        out[off] = nbytes
    return out


class Extractor:
    def __init__(self, statistical: str | None) -> None:
        import spacy  # noqa: PLC0415 - heavy import, only in the ner worker

        self.nlp = spacy.blank("en")
        self.stat_name = statistical
        self.stat = spacy.load(statistical) if statistical else None
        if self.stat is not None:
            meta = self.stat.meta
            self.stat_source = f"{meta.get('lang', 'en')}_{meta.get('name', statistical)}"
        else:
            self.stat_source = ""

    @property
    def model_id(self) -> str:
        if self.stat is None:
            return "spacy-blank-en+rules"
        return f"{self.stat_source}-{self.stat.meta.get('version', '')}+rules"

    def spans(self, text: str) -> list[Span]:
        found = rule_spans(text)
        if self.stat is not None:
            doc = self.stat(text)
            found.extend(
                Span(e.start_char, e.end_char, e.label_, source=self.stat_source) for e in doc.ents
            )
        return resolve(found)

    def extract(self, text: str) -> worker_pb2.EntityList:
        spans = self.spans(text)
        offsets = char_to_byte_offsets(text, [o for s in spans for o in (s.start, s.end)])
        return worker_pb2.EntityList(
            entities=[
                worker_pb2.Entity(
                    label=s.label,
                    start=offsets[s.start],
                    end=offsets[s.end],
                    text=text[s.start : s.end],
                    source=s.source,
                    detail=s.detail,
                )
                for s in spans
            ]
        )


class NerService:
    service_name = "weft.worker.v1.EntityExtractor"

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor
        self.info = ModelInfo(
            model_id=extractor.model_id,
            backend="spacy",
            precision="fp32" if extractor.stat is not None else "rules",
            device="cpu",
        )

    def extract(
        self, rt: Runtime, request: worker_pb2.ExtractRequest, _ctx: grpc.ServicerContext
    ) -> worker_pb2.ExtractReply:
        texts = list(request.texts)
        check_texts(texts, rt.max_batch, rt.max_text_bytes)
        return worker_pb2.ExtractReply(
            model_id=self.info.model_id, results=[self.extractor.extract(t) for t in texts]
        )

    def handler(self, rt: Runtime) -> grpc.GenericRpcHandler:
        def fn(
            req: worker_pb2.ExtractRequest, ctx: grpc.ServicerContext
        ) -> worker_pb2.ExtractReply:
            return self.extract(rt, req, ctx)

        return grpc.method_handlers_generic_handler(
            self.service_name,
            {
                "Extract": grpc.unary_unary_rpc_method_handler(
                    unary(rt, fn),
                    request_deserializer=lenient(worker_pb2.ExtractRequest),
                    response_serializer=worker_pb2.ExtractReply.SerializeToString,
                )
            },
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--spacy-model",
        default="auto",
        help="statistical spaCy package to add on top of the rules: auto (first installed of "
        f"{', '.join(STATISTICAL_MODELS)}), none, or a package name",
    )


def find_statistical(choice: str) -> str | None:
    if choice == "none":
        return None
    if choice != "auto":
        if importlib.util.find_spec(choice) is None:
            raise ModelLoadError(
                f"cannot load spaCy model {choice}: package not installed; install it into the "
                "workers' venv or set --spacy-model auto"
            )
        return choice
    for name in STATISTICAL_MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def load(args: argparse.Namespace, threads: int) -> NerService:
    del threads  # rules and small spaCy models run single-threaded
    name = find_statistical(args.spacy_model)
    try:
        return NerService(Extractor(name))
    except (OSError, ImportError) as e:
        raise ModelLoadError(
            f"cannot load spaCy model {name or 'blank en'}: {e}; reinstall with "
            "scripts/setup-python.sh"
        ) from e
