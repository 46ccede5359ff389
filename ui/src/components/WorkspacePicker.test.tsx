import { fireEvent, screen, waitFor, within } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { ApiError } from "../api/errors";
import { defaultTransport, renderApp } from "../test/render";

describe("workspace picker", () => {
  it("lists recent workspaces and the served folder; picking one opens it", async () => {
    const t = defaultTransport().on("GET", "/v1/workspaces", [
      { id: 4, root: "/home/me/alpha", name: "alpha", last_opened_ms: Date.now() - 7200_000 },
      { id: 5, root: "/home/me/beta", name: "beta", last_opened_ms: Date.now() - 86_400_000 * 3 },
    ]).on("POST", "/v1/index", (c) => ({ workspace: (c.body as { path: string }).path.endsWith("alpha") ? 4 : 9 }));
    const { app } = await renderApp(t);
    const picker = screen.getByTestId("workspace-picker");
    const items = within(picker).getAllByTestId("workspace-item");
    expect(items.map((i) => i.querySelector(".ws-name")?.textContent)).toEqual(["repo1", "alpha", "beta"]);
    expect(items[0]?.textContent).toContain("served by weft serve");
    expect(items[1]?.textContent).toContain("opened 2 h ago");
    fireEvent.click(items[1]!);
    await waitFor(() => expect(app.workspace.current()?.id).toBe(4));
    expect(t.callsTo("POST", "/v1/index").at(-1)?.body).toEqual({ path: "/home/me/alpha", wait: false });
    expect(screen.queryByTestId("workspace-picker")).toBeNull();
    expect(t.callsTo("GET", "/v1/fs/list").at(-1)?.path).toBe("/v1/fs/list?workspace=4&dir=");
  });

  it("opens a folder typed by path, and shows the daemon's refusal", async () => {
    const t = defaultTransport().on("POST", "/v1/index", (c) => {
      const p = (c.body as { path: string }).path;
      if (p === "/nope") throw new ApiError(400, "not_a_folder", "/nope is not an existing folder; pass the root of the tree to index");
      return { workspace: 1 };
    });
    const { app } = await renderApp(t);
    const input = screen.getByTestId("workspace-path") as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    fireEvent.input(input, { target: { value: "/nope" } });
    fireEvent.submit(input.form!);
    expect((await screen.findByRole("alert")).textContent).toContain("not an existing folder");
    fireEvent.input(input, { target: { value: "/repo1" } });
    fireEvent.submit(input.form!);
    await waitFor(() => expect(app.workspace.current()?.root).toBe("/repo1"));
  });

  it("opens as a dialog from the command (Ctrl+O) over an open workspace", async () => {
    const t = defaultTransport().on("GET", "/v1/ui-state/layout", { workspace: 1 });
    await renderApp(t);
    expect(screen.queryByTestId("workspace-picker")).toBeNull();
    fireEvent.keyDown(window, { key: "o", code: "KeyO", ctrlKey: true });
    expect(screen.getByRole("dialog", { name: "Open a workspace" })).toBeTruthy();
    expect(screen.getByTestId("workspace-picker")).toBeTruthy();
  });
});
