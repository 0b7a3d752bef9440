// The counter widget, a module the page takes new versions of in place.
// Change the label below and save: the button is redrawn by the new code
// and keeps its count.
export function render(button, state) {
  const times = state.count === 1 ? "time" : "times";
  button.textContent = `Clicked ${state.count} ${times}`;
  button.onclick = () => {
    state.count += 1;
    render(button, state);
  };
}
