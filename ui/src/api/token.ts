// The browser's bearer token. `weft serve` prints a one-time URL `http://127.0.0.1:PORT/#token=T`;
// the token is taken from the fragment (never sent to the server in a request line or a
// Referer), kept in sessionStorage for reloads of this tab, and removed from the address bar.

export const TOKEN_KEY = "weft.token";

export interface TokenEnv {
  location: Pick<Location, "hash" | "pathname" | "search">;
  sessionStorage: Pick<Storage, "getItem" | "setItem">;
  history: Pick<History, "replaceState" | "state">;
}

/** Reads the token from the URL fragment (and stores it) or from sessionStorage. */
export function takeToken(env: TokenEnv): string | null {
  const hash = env.location.hash.replace(/^#/, "");
  if (hash !== "") {
    const params = new URLSearchParams(hash);
    const token = params.get("token");
    if (token !== null) {
      params.delete("token");
      const rest = params.toString();
      const clean = env.location.pathname + env.location.search + (rest ? `#${rest}` : "");
      try {
        env.history.replaceState(env.history.state, "", clean);
      } catch {
        // A sandboxed page may refuse; the token still works.
      }
      if (token !== "") {
        try {
          env.sessionStorage.setItem(TOKEN_KEY, token);
        } catch {
          // Storage disabled: the token lives only as long as this page.
        }
        return token;
      }
    }
  }
  try {
    const stored = env.sessionStorage.getItem(TOKEN_KEY);
    return stored !== null && stored !== "" ? stored : null;
  } catch {
    return null;
  }
}
