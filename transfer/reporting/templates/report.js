"use strict";
// Sort and filter the table of files not done; in a live page, swap in fresh sections.
const sortState = { column: null, descending: false };

function cellValue(row, column) {
  const text = row.cells[column].textContent.trim();
  const number = Number(text);
  return text !== "" && !Number.isNaN(number) ? number : text.toLowerCase();
}

function applySort(table) {
  if (sortState.column === null) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, sortState.column), y = cellValue(b, sortState.column);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return sortState.descending ? -order : order;
  });
  body.append(...rows);
  for (const th of table.tHead.rows[0].cells) {
    const sorted = Number(th.dataset.column) === sortState.column;
    if (sorted) th.setAttribute("aria-sort", sortState.descending ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
}

function applyFilter() {
  const table = document.getElementById("failure-table");
  if (!table) return;
  const words = document.getElementById("failure-filter").value.trim().toLowerCase();
  const state = document.getElementById("state-filter").value;
  const status = document.getElementById("status-filter").value;
  let shown = 0;
  for (const row of table.tBodies[0].rows) {
    const visible = (!words || row.textContent.toLowerCase().includes(words))
      && (!state || row.dataset.state === state)
      && (!status || row.dataset.status === status);
    row.hidden = !visible;
    if (visible) shown += 1;
  }
  document.getElementById("failure-count").textContent =
    `${shown} of ${table.tBodies[0].rows.length} shown`;
}

function setUpFailureTable() {
  const table = document.getElementById("failure-table");
  if (!table) return;
  for (const th of table.tHead.rows[0].cells) {
    th.querySelector("button").addEventListener("click", () => {
      const column = Number(th.dataset.column);
      sortState.descending = sortState.column === column ? !sortState.descending : false;
      sortState.column = column;
      applySort(table);
    });
  }
  for (const id of ["failure-filter", "state-filter", "status-filter"]) {
    document.getElementById(id).addEventListener("input", applyFilter);
  }
  applySort(table);
  applyFilter();
}

function liveRefresh(milliseconds) {
  const status = document.getElementById("live-status");
  async function refresh() {
    try {
      const response = await fetch(window.location.href, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const kept = {};
      for (const id of ["failure-filter", "state-filter", "status-filter"]) {
        const field = document.getElementById(id);
        if (field) kept[id] = field.value;
      }
      for (const section of document.querySelectorAll("section[data-live]")) {
        const replacement = fresh.getElementById(section.id);
        if (replacement) section.replaceWith(document.importNode(replacement, true));
      }
      for (const [id, value] of Object.entries(kept)) {
        const field = document.getElementById(id);
        if (field) field.value = value;
      }
      setUpFailureTable();
      status.textContent = `live: refreshed ${new Date().toLocaleTimeString()} from the store`;
    } catch (error) {
      status.textContent = `live: the server did not answer (${error.message}); retrying`;
    }
    window.setTimeout(refresh, milliseconds);
  }
  window.setTimeout(refresh, milliseconds);
}

setUpFailureTable();
