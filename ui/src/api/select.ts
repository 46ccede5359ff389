// Picks the transport for this page: Tauri inside the desktop shell, HTTP in a browser.

import { HttpTransport } from "./http";
import { TauriTransport } from "./tauri";
import { takeToken } from "./token";
import type { Transport } from "./transport";

export type TransportChoice =
  | { kind: "tauri"; transport: Transport }
  | { kind: "http"; transport: Transport; baseUrl: string }
  | { kind: "no-token" };

/** The API's base URL in a browser: the page's own origin unless the build names one. */
export function apiBase(win: Window): string {
  const configured = import.meta.env.VITE_WEFT_API as string | undefined;
  return configured && configured !== "" ? configured : win.location.origin;
}

export function chooseTransport(win: Window): TransportChoice {
  if ("__TAURI_INTERNALS__" in win) {
    return { kind: "tauri", transport: new TauriTransport() };
  }
  const token = takeToken(win);
  if (token === null) return { kind: "no-token" };
  const baseUrl = apiBase(win);
  return { kind: "http", transport: new HttpTransport(baseUrl, token), baseUrl };
}
