// The demo's own script, a module. Editing it reloads the page (after a
// short notice). Editing js/counter.js swaps the counter in place, and
// editing personas/PERSONA.md fetches the persona again: neither reloads,
// so what you typed and the count survive them, as they survive a CSS edit.
import { render } from "./counter.js";

const state = { count: 0 };
const button = document.getElementById("counter");
render(button, state);
// The new counter.js draws the same button from the same state.
window.hotReload?.accept("js/counter.js", (counter) => counter.render(button, state));

const persona = document.getElementById("persona");

function loadPersona() {
  fetch("personas/PERSONA.md", { cache: "no-store" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(`${response.status} ${response.statusText}`);
      }
      return response.text();
    })
    .then((text) => {
      persona.textContent = text;
    })
    .catch((error) => {
      persona.textContent = `Could not load personas/PERSONA.md: ${error.message}`;
    });
}

loadPersona();

// A persona edit: fetched again here instead of reloading the whole page.
window.addEventListener("hotreload:change", (event) => {
  const paths = (event.detail.changes || []).map((change) => change.path);
  if (paths.length > 0 && paths.every((path) => path.endsWith(".md"))) {
    event.preventDefault();
    loadPersona();
  }
});
