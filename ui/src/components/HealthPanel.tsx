// The live supervision tree (each node's kind, state, restarts and last error), the worker
// pools' counters, and the latest supervision events.

import { createEffect, createMemo, For, Show } from "solid-js";
import type { NodeStatus } from "../api/types";
import { useApp } from "../context";
import { clock, count, duration } from "../lib/format";
import { nodeKind } from "../stores/health";

const MAX_SHOWN_EVENTS = 100;

function NodeRow(props: { node: NodeStatus; all: NodeStatus[] }) {
  const depth = () => props.node.path.split("/").length - 1;
  const name = () => props.node.path.slice(props.node.path.lastIndexOf("/") + 1);
  const kind = () => nodeKind(props.node, props.all);
  const info = () =>
    Object.entries(props.node.info)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
  return (
    <div
      class="node-row"
      role="treeitem"
      aria-level={depth() + 1}
      data-testid="health-node"
      data-path={props.node.path}
      data-state={props.node.state}
      title={props.node.path}
    >
      <span class="node-name" style={{ "padding-left": `${depth() * 16}px` }}>
        {name()}
      </span>
      <span class={`node-kind kind-${kind()}`}>{kind()}</span>
      <span class={`badge state-${props.node.state}`}>
        {props.node.state}
        {props.node.gave_up ? " (gave up)" : ""}
      </span>
      <span class="node-restarts" title="restarts since the daemon started">
        {props.node.restarts > 0 ? `${props.node.restarts}↻` : ""}
      </span>
      <span class="node-error" title={props.node.last_error ?? ""}>
        {props.node.last_error ?? info()}
      </span>
    </div>
  );
}

export function HealthPanel() {
  const app = useApp();
  const h = app.health;
  let root: HTMLDivElement | undefined;
  const events = createMemo(() => h.events().slice(-MAX_SHOWN_EVENTS).reverse());
  const pools = createMemo(() => Object.entries(h.report()?.pools ?? {}));

  createEffect(() => {
    if (app.ui.focus()?.target === "health") root?.focus();
  });

  return (
    <div class="health-panel" data-testid="health-panel" tabIndex={-1} ref={root}>
      <Show when={h.report()} fallback={<p class="empty">{h.connected() ? "Waiting for status…" : "Not connected to the daemon."}</p>}>
        {(r) => (
          <>
            <p class="daemon-line">
              weft {r().daemon.version} · pid {r().daemon.pid} · profile {r().daemon.profile} · up{" "}
              {duration((Date.now() - r().daemon.started_ms) / 1000)}
            </p>
            <section aria-label="Supervision tree">
              <h3>Supervision tree</h3>
              <div class="node-list" role="tree">
                <For each={h.tree()}>{(n) => <NodeRow node={n} all={h.tree()} />}</For>
              </div>
            </section>
            <section aria-label="Worker pools">
              <h3>Worker pools</h3>
              <Show when={pools().length > 0} fallback={<p class="empty">No worker pools enabled.</p>}>
                <table class="pool-table">
                  <thead>
                    <tr>
                      <th>pool</th>
                      <th>ready</th>
                      <th>queued</th>
                      <th>in flight</th>
                      <th>served</th>
                      <th>retried</th>
                      <th>last error</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={pools()}>
                      {([name, p]) => (
                        <tr data-testid="pool-row">
                          <td>{name}</td>
                          <td>{p.ready}</td>
                          <td>{count(p.queued)}</td>
                          <td>{p.in_flight}</td>
                          <td>{count(p.served)}</td>
                          <td>{count(p.retried)}</td>
                          <td class="node-error" title={p.last_error ?? ""}>{p.last_error ?? ""}</td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </Show>
            </section>
          </>
        )}
      </Show>
      <section aria-label="Recent events">
        <h3>Recent events</h3>
        <Show when={events().length > 0} fallback={<p class="empty">No events yet.</p>}>
          <ol class="event-list">
            <For each={events()}>
              {(e) => (
                <li class={`event event-${e.kind}`} data-testid="health-event">
                  <span class="event-time">{clock(e.ts_ms)}</span>
                  <span class="event-node">{e.supervisor ? `${e.supervisor}/${e.child}` : e.child}</span>
                  <span class="event-kind">{e.kind.replace(/_/g, " ")}</span>
                  <span class="event-gen">#{e.generation}</span>
                  <span class="event-reason" title={e.reason ?? ""}>{e.reason ?? ""}</span>
                </li>
              )}
            </For>
          </ol>
        </Show>
      </section>
    </div>
  );
}
