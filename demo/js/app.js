// The demo's own script. Editing this file reloads the page (after a short
// notice); editing css/style.css does not, so the count below survives it.

const button = document.getElementById("counter");
let count = 0;

button.addEventListener("click", () => {
  count += 1;
  button.textContent = `Clicked ${count} time${count === 1 ? "" : "s"}`;
});

const persona = document.getElementById("persona");

fetch("personas/PERSONA.md")
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
