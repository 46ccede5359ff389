// Shown in a browser that arrived without a token, or whose token the daemon refused.

import { Show } from "solid-js";

export function NoToken(props: { refused?: boolean }) {
  return (
    <div class="no-token" data-testid="no-token">
      <h1>Weft needs the link from <code>weft serve</code></h1>
      <Show when={props.refused}>
        <p class="error" role="alert">
          The daemon refused this page's token. A new token is made each time <code>weft serve</code> starts.
        </p>
      </Show>
      <p>
        This page talks to your local Weft daemon, which only answers requests that carry its
        token. Open the URL that <code>weft serve</code> printed when it started (it ends in{" "}
        <code>#token=…</code>), or run <code>weft ui-url</code> to print it again.
      </p>
      <p class="hint">The token stays in this tab only; it is removed from the address bar once read.</p>
    </div>
  );
}
