import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { fileContent } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const openPalette = () => fireEvent.keyDown(window, { key: "P", code: "KeyP", ctrlKey: true, shiftKey: true });
const input = () => screen.getByRole("combobox", { name: "Command" }) as HTMLInputElement;
const titles = () => screen.getAllByTestId("command-item").map((e) => e.firstElementChild?.textContent);

describe("command palette", () => {
  it("opens with Ctrl+Shift+P and lists every command that can run now, with its keybinding", async () => {
    const { app } = await renderApp(workspaceTransport().on("GET", /^\/v1\/fs\/file/, fileContent("a.rs", "x")));
    openPalette();
    expect(titles()).not.toContain("Save");
    fireEvent.keyDown(input(), { key: "Escape" });
    await app.openFile("a.rs");
    openPalette();
    expect(screen.getByTestId("command-palette")).toBeTruthy();
    expect(document.activeElement).toBe(input());
    const t = titles();
    for (const title of ["Go to File…", "Open Workspace…", "Search in Workspace", "Save", "Toggle Dark/Light Theme", "Toggle Health Panel", "Rescan Index"]) {
      expect(t).toContain(title);
    }
    const goto = screen.getAllByTestId("command-item").find((e) => e.dataset.command === "quickOpen");
    expect(goto?.querySelector("kbd")?.textContent).toBe("Ctrl+P");
  });

  it("filters as you type and runs the chosen command with Enter", async () => {
    const { app } = await renderApp(workspaceTransport());
    const before = document.documentElement.dataset.theme;
    openPalette();
    fireEvent.input(input(), { target: { value: "toggle theme" } });
    expect(titles()[0]).toBe("Toggle Dark/Light Theme");
    fireEvent.keyDown(input(), { key: "Enter" });
    expect(screen.queryByTestId("command-palette")).toBeNull();
    expect(document.documentElement.dataset.theme).not.toBe(before);
    expect(app.layout.state.theme).toBe(document.documentElement.dataset.theme);
  });

  it("moves the selection with the arrows; Escape closes", async () => {
    const { app, transport } = await renderApp(workspaceTransport().on("POST", "/v1/index/rescan", { rescan: true }));
    openPalette();
    fireEvent.input(input(), { target: { value: "index" } });
    const items = () => screen.getAllByRole("option");
    const selected = () => items().findIndex((e) => e.getAttribute("aria-selected") === "true");
    expect(selected()).toBe(0);
    fireEvent.keyDown(input(), { key: "ArrowDown" });
    expect(selected()).toBe(1);
    fireEvent.keyDown(input(), { key: "ArrowUp" });
    expect(selected()).toBe(0);
    fireEvent.input(input(), { target: { value: "rescan" } });
    expect(titles()[0]).toBe("Rescan Index");
    fireEvent.keyDown(input(), { key: "Enter" });
    await waitFor(() => expect(transport.callsTo("POST", "/v1/index/rescan")[0]?.body).toEqual({ workspace: 1 }));
    openPalette();
    fireEvent.keyDown(input(), { key: "Escape" });
    expect(screen.queryByTestId("command-palette")).toBeNull();
    expect(app.ui.overlay()).toBeNull();
  });

  it("runs a command from its keybinding anywhere (Ctrl+J toggles the health panel)", async () => {
    await renderApp(workspaceTransport());
    expect(screen.getByTestId("health-panel")).toBeTruthy();
    fireEvent.keyDown(window, { key: "j", code: "KeyJ", ctrlKey: true });
    expect(screen.queryByTestId("health-panel")).toBeNull();
    fireEvent.keyDown(window, { key: "j", code: "KeyJ", ctrlKey: true });
    expect(screen.getByTestId("health-panel")).toBeTruthy();
  });

  it("the registry is the one source: a registered command appears and runs", async () => {
    const { app } = await renderApp(workspaceTransport());
    let ran = 0;
    app.commands.register({ id: "test.hello", title: "Say Hello", keybinding: "Alt+H", run: () => void ran++ });
    fireEvent.keyDown(window, { key: "h", code: "KeyH", altKey: true });
    expect(ran).toBe(1);
    openPalette();
    fireEvent.input(input(), { target: { value: "say hello" } });
    fireEvent.keyDown(input(), { key: "Enter" });
    expect(ran).toBe(2);
  });
});
