#!/usr/bin/env python3
"""Drives the desktop app through tauri-driver (WebDriver), standard library only.

    driver.py --port PORT --app BIN --workspace DIR --shots DIR [--doc PNG]

tauri-driver (listening on PORT) starts BIN through WebKitWebDriver with `--no-dialog DIR`.
Then, in the real window:
  1. the page reports ready (`.app[data-ready=true]`);
  2. the left and bottom panel areas are there, the status bar says connected (the page
     follows `weft://stream`) and the health panel lists the supervision tree (from
     `GET /v1/status` through `invoke("api")`);
  3. the workspace is opened from the picker (or is already open) and the file tree lists
     `src` and `README.md`;
  4. `src/lib.rs` opens from the tree in CodeMirror, styled and highlighted (so the CSP lets
     the editor's styles through);
  5. a screenshot of the page (WebDriver) and of the X screen (xwd) are saved to --shots,
     and the X one also to --doc when given;
  6. the page's own invoke("api", GET /v1/status) gives the app's pid, and SIGTERM must end
     the app (it stops its core first) within 20 s;
then the session ends. Prints one line per step; exits 1 with the reason when a step fails,
3 when WebKitWebDriver lost the app (the connection dropped mid-session).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shot


class StepFailed(Exception):
    pass


class WebDriver:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session: str | None = None

    def request(
        self, method: str, path: str, body: object | None = None, timeout: float = 60
    ) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                answer = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise StepFailed(f"WebDriver {method} {path}: HTTP {e.code}: {detail[:500]}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ConnectionLost(f"WebDriver {method} {path}: {e}") from None
        return answer.get("value") if isinstance(answer, dict) else answer

    def wait_listening(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(self.base + "/status", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers: good enough
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise StepFailed(f"tauri-driver does not answer on {self.base}") from None
                time.sleep(0.3)

    def start(self, app: str, args: list[str]) -> None:
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "wry",
                    "tauri:options": {"application": app, "args": args},
                }
            }
        }
        value = self.request("POST", "/session", caps, timeout=90)
        if not isinstance(value, dict) or "sessionId" not in value:
            raise StepFailed(f"no session: {value!r}")
        self.session = value["sessionId"]

    def js(self, script: str, *args: object) -> object:
        return self.request(
            "POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)}
        )

    def screenshot(self, path: Path) -> None:
        png = self.request("GET", f"/session/{self.session}/screenshot")
        if not isinstance(png, str):
            raise StepFailed("the screenshot answer has no image")
        path.write_bytes(base64.b64decode(png))

    def js_async(self, script: str, *args: object) -> object:
        return self.request(
            "POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)}
        )

    def stop(self) -> None:
        if self.session is not None:
            try:
                self.request("DELETE", f"/session/{self.session}", timeout=30)
            finally:
                self.session = None


class ConnectionLost(StepFailed):
    """WebKitWebDriver dropped the connection: the browser side (the app) went away."""


def poll(what: str, seconds: float, probe):  # type: ignore[no-untyped-def]
    """Calls probe() until it returns a true value; fails with `what` and the last value."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise StepFailed(f"{what} (after {seconds:.0f} s; last seen: {last!r})")


PAGE_STATE = """
const q = (s) => document.querySelector(s);
const all = (s) => [...document.querySelectorAll(s)];
return {
  ready: q('.app') ? q('.app').dataset.ready : null,
  areas: all('.panel-area').map((e) => e.getAttribute('aria-label')),
  connected: !!q('[data-testid="connection"].on'),
  healthRows: all('[data-testid="health-panel"] .node-row').length,
  picker: !!q('[data-testid="workspace-picker"]'),
  workspaces: all('[data-testid="workspace-item"] .ws-root').map((e) => e.textContent),
  treeRows: all('[data-testid="tree-row"] .name').map((e) => e.textContent),
  title: document.title,
};
"""

CLICK_ROW = """
const row = document.querySelector(`[data-testid="tree-row"][data-path="${arguments[0]}"]`);
if (!row) return false;
row.click();
return true;
"""

# CodeMirror's base theme makes `.cm-editor` a flex box: its injected styles are applied
# (a CSP that blocked them would leave a block element).
EDITOR_STATE = """
const ed = document.querySelector('.cm-editor');
if (!ed) return null;
return {
  display: getComputedStyle(ed).display,
  text: document.querySelector('.cm-content')?.textContent ?? '',
  highlighted: document.querySelectorAll('.cm-content span[class]').length,
  sheets: document.adoptedStyleSheets.length,
  styleTags: document.querySelectorAll('style').length,
};
"""

PID_VIA_INVOKE = """
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__
  .invoke('api', { method: 'GET', path: '/v1/status', body: null })
  .then((r) => done(r.daemon.pid), (e) => done(JSON.stringify(e)));
"""


def running(pid: int) -> bool:
    """True while pid runs (a zombie waiting for WebKitWebDriver to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


CLICK_WORKSPACE = """
const root = arguments[0];
const item = [...document.querySelectorAll('[data-testid="workspace-item"]')]
  .find((b) => b.querySelector('.ws-root')?.textContent === root);
if (!item) return false;
item.click();
return true;
"""


def x_screenshot(out: Path) -> str:
    xwd = out.with_suffix(".xwd")
    with open(xwd, "wb") as f:
        subprocess.run(["xwd", "-root", "-silent"], stdout=f, check=True, timeout=30)
    width, height, rows = shot.read_xwd(xwd.read_bytes())
    shot.write_png(out, width, height, rows)
    xwd.unlink()
    return f"{width}x{height}"


def run(args: argparse.Namespace, wd: WebDriver) -> None:
    wd.wait_listening(30)
    t0 = time.monotonic()
    wd.start(args.app, ["--no-dialog", str(args.workspace)])
    print(f"driver: session started in {time.monotonic() - t0:.1f} s")

    def state() -> dict:  # type: ignore[type-arg]
        value = wd.js(PAGE_STATE)
        if not isinstance(value, dict):
            raise StepFailed(f"the page state is not an object: {value!r}")
        return value

    def ready() -> dict | None:  # type: ignore[type-arg]
        s = state()
        return s if s["ready"] == "true" else None

    def panels() -> dict | None:  # type: ignore[type-arg]
        s = state()
        areas_ok = {"left panels", "bottom panels"} <= set(s["areas"])
        return s if areas_ok and s["connected"] and s["healthRows"] > 0 else None

    def tree() -> dict | None:  # type: ignore[type-arg]
        s = state()
        return s if {"src", "README.md"} <= set(s["treeRows"]) else None

    poll("the page never reported ready (.app[data-ready=true])", 60, ready)
    print("driver: 1 page ready")
    s = poll("panels incomplete: want left+bottom areas, connected, a health tree", 30, panels)
    print(f"driver: 2 panels {s['areas']}, connected, {s['healthRows']} health rows")

    root = str(Path(args.workspace).resolve())
    if not s["treeRows"]:
        poll(
            f"the workspace picker never offered {root}", 30, lambda: root in state()["workspaces"]
        )
        if not wd.js(CLICK_WORKSPACE, root):
            raise StepFailed(f"cannot click the workspace {root}")
    s = poll("the file tree never listed src and README.md", 60, tree)
    print(f"driver: 3 workspace open, tree {s['treeRows']}")

    def editor() -> dict | None:  # type: ignore[type-arg]
        e = wd.js(EDITOR_STATE)
        ok = isinstance(e, dict) and e["display"] == "flex" and "parse_config_line" in e["text"]
        return e if ok and e["highlighted"] > 0 else None

    wd.js(CLICK_ROW, "src")
    poll("src/lib.rs never appeared under src", 30, lambda: wd.js(CLICK_ROW, "src/lib.rs"))
    try:
        e = poll("src/lib.rs did not open in a styled, highlighted editor", 30, editor)
    except StepFailed as failed:
        raise StepFailed(f"{failed}; editor state: {wd.js(EDITOR_STATE)!r}") from None
    print(f"driver: 4 src/lib.rs open in the editor ({e['highlighted']} highlighted spans)")
    time.sleep(1.0)  # let the editor area and status bar settle before the pictures

    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    wd.screenshot(shots / "driver-page.png")
    size = x_screenshot(shots / "driver-screen.png")
    if args.doc:
        Path(args.doc).write_bytes((shots / "driver-screen.png").read_bytes())
    print(f"driver: 5 screenshots saved (page, screen {size})")

    # WebKitWebDriver kills the app when the session ends, and closing the window through
    # WebDriver does not end a Tauri app: stop it as a person's desktop would, with SIGTERM
    # (the pid comes from the page itself, through invoke("api")).
    pid = wd.js_async(PID_VIA_INVOKE)
    if not isinstance(pid, int):
        raise StepFailed(f'invoke("api", GET /v1/status) from the page gave no pid: {pid!r}')
    os.kill(pid, signal.SIGTERM)
    poll(f"the app (pid {pid}) still runs 20 s after SIGTERM", 20, lambda: not running(pid))
    print(f"driver: 6 SIGTERM: the app (pid {pid}) exited")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--doc")
    args = ap.parse_args()
    if not os.access(args.app, os.X_OK):
        print(f"driver: {args.app} is not an executable", file=sys.stderr)
        return 2
    Path(args.shots).mkdir(parents=True, exist_ok=True)
    wd = WebDriver(args.port)
    try:
        run(args, wd)
    except StepFailed as e:
        print(f"driver: FAILED: {e}", file=sys.stderr)
        lost = isinstance(e, ConnectionLost)
        try:
            if wd.session is not None:
                wd.screenshot(Path(args.shots) / "driver-FAILED.png")
        except StepFailed:
            pass
        return 3 if lost else 1
    finally:
        try:
            wd.stop()
        except StepFailed as e:
            print(f"driver: closing the session: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
