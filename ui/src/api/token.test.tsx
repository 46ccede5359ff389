import { render, screen } from "@solidjs/testing-library";
import { beforeEach, describe, expect, it } from "vitest";
import { NoToken } from "../components/NoToken";
import { chooseTransport } from "./select";
import { takeToken, TOKEN_KEY } from "./token";

describe("token from the URL", () => {
  beforeEach(() => {
    sessionStorage.clear();
    history.replaceState(null, "", "/");
  });

  it("takes the token from the fragment, stores it and removes it from the address bar", () => {
    history.replaceState(null, "", "/index.html?x=1#token=abc123");
    expect(takeToken(window)).toBe("abc123");
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe("abc123");
    expect(location.hash).toBe("");
    expect(location.href).not.toContain("abc123");
    expect(location.pathname + location.search).toBe("/index.html?x=1");
  });

  it("keeps other fragment parameters", () => {
    history.replaceState(null, "", "/#token=t1&panel=search");
    expect(takeToken(window)).toBe("t1");
    expect(location.hash).toBe("#panel=search");
  });

  it("falls back to the token stored for this tab (a reload)", () => {
    sessionStorage.setItem(TOKEN_KEY, "stored");
    expect(takeToken(window)).toBe("stored");
  });

  it("has no token without either", () => {
    expect(takeToken(window)).toBeNull();
    expect(chooseTransport(window)).toEqual({ kind: "no-token" });
  });

  it("chooses HTTP with a token, on the page's origin", () => {
    history.replaceState(null, "", "/#token=zz");
    const c = chooseTransport(window);
    expect(c.kind).toBe("http");
    if (c.kind === "http") expect(c.baseUrl).toBe(location.origin);
  });

  it("chooses Tauri inside the desktop shell", () => {
    (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
    try {
      expect(chooseTransport(window).kind).toBe("tauri");
    } finally {
      delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
    }
  });

  it("tells the user where the link comes from when there is no token", () => {
    render(() => <NoToken />);
    expect(screen.getByTestId("no-token").textContent).toContain("weft serve");
    expect(screen.getByTestId("no-token").textContent).toContain("weft ui-url");
  });
});
