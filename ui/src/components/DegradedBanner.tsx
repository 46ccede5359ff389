// Across the top of the app while the daemon is degraded: which nodes are down and that the
// supervisor is bringing them back. Gone as soon as a status says it recovered.

import { Show } from "solid-js";
import { useApp } from "../context";
import { showPanel } from "../panels/registry";

export function DegradedBanner() {
  const app = useApp();
  const down = () =>
    app.health
      .downNodes()
      .map((n) => `${n.path} (${n.state})`)
      .join(", ");
  return (
    <Show when={app.health.degraded()}>
      <div class="degraded-banner" role="alert" data-testid="degraded-banner">
        <span class="degraded-icon" aria-hidden="true">⚠</span>
        <span>
          Degraded{down() ? `: ${down()}` : ""}. Weft is restarting what failed; features that
          depend on it may be slower or unavailable meanwhile.
        </span>
        <button type="button" onClick={() => showPanel(app, "health")}>
          Show health
        </button>
      </div>
    </Show>
  );
}
