// The app's stores, handed to components through context.

import { createContext, useContext } from "solid-js";
import type { App } from "./stores/app";

export const AppContext = createContext<App>();

export function useApp(): App {
  const app = useContext(AppContext);
  if (!app) throw new Error("useApp() outside <AppContext.Provider>");
  return app;
}
