"""Developer entities over gRPC, with exact UTF-8 byte spans."""

from __future__ import annotations

import grpc
import pytest

from conftest import Worker, error_code, rpc_error
from weft_workers._gen import worker_pb2

Found = list[tuple[str, str]]


def extract(ner: Worker, *texts: str) -> list[list[worker_pb2.Entity]]:
    reply = ner.extractor.Extract(worker_pb2.ExtractRequest(texts=list(texts)), timeout=30)
    assert reply.model_id == "spacy-blank-en+rules"
    return [list(r.entities) for r in reply.results]


def labelled(ner: Worker, text: str) -> Found:
    (entities,) = extract(ner, text)
    raw = text.encode()
    for e in entities:
        # Offsets are UTF-8 byte offsets and text is exactly that slice.
        assert raw[e.start : e.end].decode() == e.text
        assert e.source == "rule"
    return [(e.label, e.text) for e in entities]


def test_byte_offsets_after_non_ascii(ner: Worker) -> None:
    text = "Ünïcødé café — see src/main.rs"
    (entities,) = extract(ner, text)
    assert [(e.label, e.start, e.end, e.text) for e in entities] == [
        ("FILE_PATH", 26, 37, "src/main.rs")
    ]
    assert text.index("src") == 19  # character offset differs from the byte offset


def test_emoji_and_cjk_prefix(ner: Worker) -> None:
    text = "🚀 部署 fixed #42 in `cargo build --release`"
    (entities,) = extract(ner, text)
    raw = text.encode()
    got = [(e.label, e.text, e.start) for e in entities]
    assert got == [
        ("ISSUE_REF", "#42", raw.index(b"#42")),
        ("COMMAND", "cargo build --release", raw.index(b"cargo")),
    ]
    assert entities[0].start == 4 + 1 + 6 + 1 + 6  # 🚀=4 bytes, 部署=6 bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Paths: src/main.rs, ./a/b.py, ../up/x.toml, /etc/hosts, C:\\x\\y.txt and README.md.",
            [
                ("FILE_PATH", "src/main.rs"),
                ("FILE_PATH", "./a/b.py"),
                ("FILE_PATH", "../up/x.toml"),
                ("FILE_PATH", "/etc/hosts"),
                ("FILE_PATH", "C:\\x\\y.txt"),
                ("FILE_PATH", "README.md"),
            ],
        ),
        (
            "Docs at https://docs.rs/tokio/1.0/tokio/fs/index.html, mail ana@weft.dev.",
            [
                ("URL", "https://docs.rs/tokio/1.0/tokio/fs/index.html"),
                ("EMAIL", "ana@weft.dev"),
            ],
        ),
        (
            "Fixes #123, relates to ABC-123 and rust-lang/cargo#45; not UTF-8 or SHA-256.",
            [
                ("ISSUE_REF", "#123"),
                ("ISSUE_REF", "ABC-123"),
                ("ISSUE_REF", "rust-lang/cargo#45"),
            ],
        ),
        (
            "Bump v1.2.3 to 1.2.3-rc.1 (not 127.0.0.1).",
            [("VERSION", "v1.2.3"), ("VERSION", "1.2.3-rc.1")],
        ),
        (
            "call parseConfig, then max_retries, HashMap and self.pool.spawn() or Foo::new()",
            [
                ("IDENTIFIER", "parseConfig"),
                ("IDENTIFIER", "max_retries"),
                ("IDENTIFIER", "HashMap"),
                ("IDENTIFIER", "self.pool.spawn()"),
                ("IDENTIFIER", "Foo::new()"),
            ],
        ),
        ("Run `npm run build` first.", [("COMMAND", "npm run build")]),
        (
            "then pool.spawn(job, 3) and see C:\\Users\\me\\notes.txt.",
            [("IDENTIFIER", "pool.spawn"), ("FILE_PATH", "C:\\Users\\me\\notes.txt")],
        ),
    ],
)
def test_rules(ner: Worker, text: str, expected: Found) -> None:
    assert labelled(ner, text) == expected


def test_todo_markers_carry_their_text(ner: Worker) -> None:
    text = (
        "fn main() {\n"
        "    // TODO: handle the error from src/io.rs\n"
        "    /* FIXME(ana) leaks the socket */\n"
        "    # HACK - works around #77\n"
        "    // XXX: remove\n"
        "}\n"
    )
    (entities,) = extract(ner, text)
    todos = [(e.text, e.detail) for e in entities if e.label == "TODO"]
    assert todos == [
        ("TODO:", "handle the error from src/io.rs"),
        ("FIXME(ana)", "leaks the socket"),
        ("HACK", "works around #77"),
        ("XXX:", "remove"),
    ]
    # Entities inside a note's text are still found.
    others = {(e.label, e.text) for e in entities if e.label != "TODO"}
    assert ("FILE_PATH", "src/io.rs") in others
    assert ("ISSUE_REF", "#77") in others
    assert ("IDENTIFIER", "main()") in others


def test_overlaps_longest_wins(ner: Worker) -> None:
    text = "See https://user@git.example.com/org/repo/blob/main/src/lib.rs#L10 now"
    assert labelled(ner, text) == [
        ("URL", "https://user@git.example.com/org/repo/blob/main/src/lib.rs#L10")
    ]
    # A backticked path is a path (same span, more specific label); a command stays one.
    assert labelled(ner, "open `src/lib.rs` then `git rebase -i HEAD~3`") == [
        ("FILE_PATH", "src/lib.rs"),
        ("COMMAND", "git rebase -i HEAD~3"),
    ]


def test_plain_english_has_no_entities(ner: Worker) -> None:
    text = (
        "The quick brown fox jumps over the lazy dog, e.g. when it rains and/or snows; "
        "client/server talks happen at 5 p.m. Version two is better. I.e. nothing here."
    )
    assert labelled(ner, text) == []


def test_batch_keeps_order(ner: Worker) -> None:
    results = extract(ner, "a/b/c.py", "", "no entities here", "#9")
    assert [[e.text for e in r] for r in results] == [["a/b/c.py"], [], [], ["#9"]]


def test_bad_requests_then_still_serving(ner: Worker) -> None:
    err = rpc_error(lambda: extract(ner))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(err) == "ERROR_CODE_EMPTY_BATCH"
    err = rpc_error(lambda: extract(ner, "x" * (10 * 1000 * 1000)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(err) == "ERROR_CODE_TEXT_TOO_LARGE"
    err = rpc_error(lambda: extract(ner, *(["a"] * 257)))
    assert error_code(err) == "ERROR_CODE_BATCH_TOO_LARGE"
    assert labelled(ner, "still src/ok.rs") == [("FILE_PATH", "src/ok.rs")]
