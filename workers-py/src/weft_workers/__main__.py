"""`python -m weft_workers <embed|ner|llm> --listen ADDR [flags]`: run one worker process."""

from __future__ import annotations

import os
import sys

# Nothing may download at run time; set before any Hugging Face / litellm import.
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_DATASETS_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
    ("TOKENIZERS_PARALLELISM", "false"),
):
    os.environ.setdefault(_name, _value)

USAGE = "usage: python -m weft_workers {embed,ner,llm} --listen ADDR [options]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if argv else 2
    kind, rest = argv[0], argv[1:]
    try:
        from weft_workers import _gen  # noqa: F401, PLC0415
    except ImportError:
        print(
            f"weft-worker {kind}: gRPC stubs missing; run `python -m weft_workers.protogen` "
            "(or scripts/setup-python.sh)",
            file=sys.stderr,
        )
        return 2
    from weft_workers import server  # noqa: PLC0415

    if kind == "embed":
        from weft_workers import embed as mod  # noqa: PLC0415
    elif kind == "ner":
        from weft_workers import ner as mod  # type: ignore[no-redef]  # noqa: PLC0415
    elif kind == "llm":
        from weft_workers import llm as mod  # type: ignore[no-redef]  # noqa: PLC0415
    else:
        print(f"weft-worker: unknown kind {kind!r}\n{USAGE}", file=sys.stderr)
        return 2
    return server.run(kind, rest, mod.add_arguments, mod.load)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
