// Entry point: pick the transport (Tauri in the desktop shell, HTTP+WebSocket in a browser
// with the token from the URL), build the stores, render.

import { render } from "solid-js/web";
import { Client } from "./api/client";
import { chooseTransport } from "./api/select";
import { TOKEN_KEY } from "./api/token";
import { App } from "./App";
import { NoToken } from "./components/NoToken";
import { registerBuiltinPanels } from "./panels/builtin";
import { applyTheme, createApp } from "./stores/app";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");

// The system theme until the saved layout says otherwise (no dark flash on a light desktop,
// and the "no token" screen follows it too).
applyTheme("system");
const choice = chooseTransport(window);
registerBuiltinPanels();

render(() => {
  if (choice.kind === "no-token") return <NoToken />;
  const app = createApp({
    client: new Client(choice.transport),
    onAuthFailed: () => sessionStorage.removeItem(TOKEN_KEY),
  });
  void app.start();
  return <App app={app} />;
}, root);
