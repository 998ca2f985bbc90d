// Sandbox chat: pick a person and a space, read it as it updates, post as that person.
// Everything goes through the emulator's control API; no external scripts.
"use strict";

const api = (path, options) =>
  fetch("/_emulator/" + path, options).then(async (response) => {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || body.message || response.statusText);
    return body;
  });

const $ = (id) => document.getElementById(id);
let person = null;
let room = null;
let lastSeq = 0;
let polling = null;

function setStatus(text) { $("status").textContent = text; }

async function loadPeople() {
  const { items } = await api("people");
  const select = $("person");
  for (const p of items) {
    const option = document.createElement("option");
    option.value = p.emails[0];
    option.textContent = `${p.displayName} <${p.emails[0]}>`;
    select.appendChild(option);
  }
  const saved = localStorage.getItem("emulator.person");
  if (saved && items.some((p) => p.emails[0] === saved)) select.value = saved;
  person = select.value;
  select.addEventListener("change", () => {
    person = select.value;
    localStorage.setItem("emulator.person", person);
    loadRooms();
  });
}

async function loadRooms() {
  const { items } = await api("rooms?email=" + encodeURIComponent(person));
  const list = $("rooms");
  list.replaceChildren();
  for (const r of items) {
    const li = document.createElement("li");
    li.textContent = (r.type === "direct" ? "@ " : "# ") + r.title;
    li.dataset.id = r.id;
    li.addEventListener("click", () => openRoom(r));
    if (room && room.id === r.id) li.classList.add("active");
    list.appendChild(li);
  }
  if (room && !items.some((r) => r.id === room.id)) openRoom(null);
}

function openRoom(r) {
  room = r;
  lastSeq = 0;
  $("messages").replaceChildren();
  $("room-title").textContent = r ? r.title : "Pick a space";
  $("text").disabled = !r;
  document.querySelector("#send button").disabled = !r;
  for (const li of document.querySelectorAll("#rooms li")) {
    li.classList.toggle("active", !!r && li.dataset.id === r.id);
  }
  if (r) poll();
}

async function poll() {
  if (!room) return;
  const current = room.id;
  try {
    const { items } = await api(`rooms/${encodeURIComponent(current)}/messages?after=${lastSeq}`);
    if (!room || room.id !== current) return;
    const list = $("messages");
    for (const m of items) {
      const li = document.createElement("li");
      if (m.parentId) li.classList.add("reply");
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = m.personDisplayName;
      const text = document.createElement("span");
      text.textContent = m.text || m.markdown || "";
      const when = document.createElement("span");
      when.className = "muted";
      when.textContent = " " + m.created.slice(11, 19);
      li.append(who, text, when);
      list.appendChild(li);
      lastSeq = Math.max(lastSeq, m.seq);
    }
    if (items.length) list.scrollTop = list.scrollHeight;
    setStatus("");
  } catch (error) {
    setStatus("Cannot reach the emulator: " + error.message);
  }
}

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("text");
  const markdown = input.value.trim();
  if (!markdown || !room) return;
  try {
    await api("messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ roomId: room.id, personEmail: person, markdown }),
    });
    input.value = "";
    poll();
  } catch (error) {
    setStatus("Not sent: " + error.message);
  }
});

loadPeople().then(loadRooms).catch((error) => setStatus(error.message));
polling = setInterval(poll, 1000);
