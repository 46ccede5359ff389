// A filter box over a short list (at most a few hundred items): type to filter, Up/Down to
// move, Enter to pick, Escape to close. The command palette and quick open are pickers.

import { createEffect, createMemo, createSignal, For, type JSX, on, onMount, Show } from "solid-js";

export interface PickerProps<T> {
  label: string;
  placeholder: string;
  items: (query: string) => T[];
  render: (item: T, query: string) => JSX.Element;
  onPick: (item: T, query: string) => void;
  onClose: () => void;
  /** Shown when nothing matches. */
  empty?: string;
  /** A line under the input (loading, truncated...). */
  note?: () => string | null;
  testid?: string;
}

let pickerIds = 0;

export function Picker<T>(props: PickerProps<T>) {
  const [query, setQuery] = createSignal("");
  const [selected, setSelected] = createSignal(0);
  const items = createMemo(() => props.items(query()));
  const listId = `picker-${++pickerIds}`;
  let input: HTMLInputElement | undefined;
  let list: HTMLUListElement | undefined;

  onMount(() => input?.focus());
  createEffect(on(items, () => setSelected(0)));
  createEffect(() => {
    const el = list?.querySelector<HTMLElement>(`#${listId}-${selected()}`);
    el?.scrollIntoView?.({ block: "nearest" });
  });

  const move = (d: number) => setSelected((s) => Math.max(0, Math.min(items().length - 1, s + d)));
  const pick = (i: number) => {
    const item = items()[i];
    if (item !== undefined) props.onPick(item, query());
  };

  const onKeyDown = (e: KeyboardEvent) => {
    switch (e.key) {
      case "ArrowDown":
        move(1);
        break;
      case "ArrowUp":
        move(-1);
        break;
      case "PageDown":
        move(10);
        break;
      case "PageUp":
        move(-10);
        break;
      case "Enter":
        pick(selected());
        break;
      case "Escape":
        props.onClose();
        break;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  return (
    <div class="picker" data-testid={props.testid}>
      <input
        ref={input}
        class="picker-input"
        type="text"
        role="combobox"
        aria-label={props.label}
        aria-expanded="true"
        aria-controls={listId}
        aria-activedescendant={items().length ? `${listId}-${selected()}` : undefined}
        placeholder={props.placeholder}
        value={query()}
        onInput={(e) => setQuery(e.currentTarget.value)}
        onKeyDown={onKeyDown}
        spellcheck={false}
        autocomplete="off"
      />
      <Show when={props.note?.()}>
        <p class="picker-note">{props.note?.()}</p>
      </Show>
      <ul class="picker-list" role="listbox" id={listId} ref={list} aria-label={props.label}>
        <For each={items()} fallback={<li class="empty">{props.empty ?? "No matches."}</li>}>
          {(item, i) => (
            <li
              id={`${listId}-${i()}`}
              role="option"
              class="picker-item"
              classList={{ selected: selected() === i() }}
              aria-selected={selected() === i()}
              onPointerMove={() => setSelected(i())}
              onClick={() => pick(i())}
            >
              {props.render(item, query())}
            </li>
          )}
        </For>
      </ul>
    </div>
  );
}
