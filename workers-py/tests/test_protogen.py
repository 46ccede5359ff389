"""The stubs come from ../proto, import as one package, and drift is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from weft_workers import protogen


def run_protogen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weft_workers.protogen", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_passes_on_clean_install() -> None:
    result = run_protogen("--check")
    assert result.returncode == 0, result.stderr


def test_generated_imports_are_package_relative() -> None:
    for path in protogen.GEN_DIR.glob("*_grpc.py"):
        text = path.read_text()
        assert "from . import" in text
        assert "from weft." not in text
        assert "from grpc.health" not in text


def test_check_fails_after_proto_changes(tmp_path: Path) -> None:
    proto = tmp_path / "proto"
    shutil.copytree(protogen.default_proto_dir(), proto)
    worker = proto / "weft/worker/v1/worker.proto"
    worker.write_text(
        worker.read_text().replace(
            "message InfoRequest {}", "message InfoRequest {\n  string extra = 1;\n}"
        )
    )
    result = run_protogen("--check", "--proto-dir", str(proto))
    assert result.returncode == 1
    assert "worker_pb2.py" in result.stderr


def test_check_fails_after_stub_tampering(tmp_path: Path) -> None:
    gen = tmp_path / "_gen"
    shutil.copytree(protogen.GEN_DIR, gen)
    with (gen / "health_pb2_grpc.py").open("a") as f:
        f.write("\n# tampered\n")
    result = run_protogen("--check", "--gen-dir", str(gen))
    assert result.returncode == 1
    assert "health_pb2_grpc.py" in result.stderr
    assert "worker_pb2.py" not in result.stderr
