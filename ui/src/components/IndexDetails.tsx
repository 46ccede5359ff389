// The index in detail, per workspace: files, chunks, embedded, skipped, pending, how changes
// are watched, the last scan; and the vectors. Opened from the status bar; Escape closes.

import { For, onCleanup, onMount, Show } from "solid-js";
import { useApp } from "../context";
import { ago, bytes, count, duration, rate } from "../lib/format";
import { summarize } from "../stores/indexProgress";

export function IndexDetails(props: { onClose: () => void }) {
  const app = useApp();
  let box: HTMLDivElement | undefined;

  onMount(() => {
    box?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        props.onClose();
      }
    };
    const onDown = (e: PointerEvent) => {
      const t = e.target as Node | null;
      if (box && t && !box.contains(t) && !(t as Element).closest?.("[data-testid=index-progress]")) props.onClose();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("pointerdown", onDown);
    onCleanup(() => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("pointerdown", onDown);
    });
  });

  return (
    <div class="popover index-details" role="dialog" aria-label="Index details" tabIndex={-1} ref={box} data-testid="index-details">
      <Show when={app.index.status()} fallback={<p class="empty">No index status yet.</p>}>
        {(s) => (
          <>
            <table>
              <thead>
                <tr>
                  <th>workspace</th>
                  <th>state</th>
                  <th>files</th>
                  <th>chunks</th>
                  <th>embedded</th>
                  <th>skipped</th>
                  <th>pending</th>
                  <th>watch</th>
                  <th>last scan</th>
                </tr>
              </thead>
              <tbody>
                <For each={s().workspaces}>
                  {(w) => (
                    <tr classList={{ current: w.id === app.workspace.id() }}>
                      <td title={w.root}>{w.root.split("/").pop() || w.root}</td>
                      <td title={w.last_error ?? ""}>{summarize(w, s().vectors).state}</td>
                      <td>{count(w.counts.files)}</td>
                      <td>{count(w.counts.chunks)}</td>
                      <td>{count(w.counts.embedded)}</td>
                      <td
                        title={(w.last_scan?.skipped ?? []).map(([p, why]) => `${p}: ${why}`).join("\n")}
                      >
                        {count(w.counts.skipped)}
                      </td>
                      <td>{count(w.counts.pending)}</td>
                      <td>{w.watch}</td>
                      <td>
                        {w.last_scan
                          ? `${count(w.last_scan.indexed)} read, ${count(w.last_scan.unchanged)} unchanged in ${duration(w.last_scan.seconds)}`
                          : w.progress.scanning
                            ? `running ${duration(w.progress.elapsed_s)}`
                            : "—"}
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
            <p class="vectors-line">
              vectors: {s().vectors.model ?? "no model"} · {count(s().vectors.rows)} rows
              {s().vectors.indexed ? " (ANN index)" : ""} · {rate(s().vectors.rate)}
              <Show when={s().vectors.building}> · building {s().vectors.building}</Show>
              <Show when={s().vectors.blocked}>
                <span class="error"> · blocked: {s().vectors.blocked}</span>
              </Show>
            </p>
            <For each={s().workspaces.filter((w) => w.id === app.workspace.id())}>
              {(w) => (
                <p class="vectors-line">
                  {bytes(w.counts.bytes)} indexed · {w.scans} scans · {w.updates} updates
                  <Show when={app.workspace.current()}>
                    {(c) => <> · opened {ago(c().last_opened_ms)}</>}
                  </Show>
                </p>
              )}
            </For>
          </>
        )}
      </Show>
    </div>
  );
}
