// Fills the page from the Go backend's API.
async function load() {
  const hello = await (await fetch('/api/v1/greeting')).json();
  document.getElementById('greeting').textContent = hello.greeting;
  const personas = await (await fetch('/api/v1/personas')).json();
  const list = document.getElementById('personas');
  for (const [name, text] of Object.entries(personas)) {
    const item = document.createElement('li');
    item.textContent = `${name}: ${text.split('\n')[0]}`;
    list.append(item);
  }
}
load();
