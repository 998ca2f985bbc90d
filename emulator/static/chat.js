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
      for (const file of m.downloads || []) li.appendChild(renderFile(file));
      for (const card of m.attachments || []) li.appendChild(renderCard(m, card.content || {}));
      list.appendChild(li);
      lastSeq = Math.max(lastSeq, m.seq);
    }
    if (items.length) list.scrollTop = list.scrollHeight;
    setStatus("");
  } catch (error) {
    setStatus("Cannot reach the emulator: " + error.message);
  }
}

// Files: a download link through the control API (the page holds no Webex token).
function renderFile(file) {
  const link = document.createElement("a");
  link.className = "file";
  link.href = file.url;
  link.download = file.name;
  link.textContent = "📎 " + file.name;
  return link;
}

// Cards, simply: text blocks, text and choice inputs, containers, and submit buttons.
// Every string is set as textContent: a card's text is never live HTML here.
function renderCard(message, card) {
  const box = document.createElement("form");
  box.className = "card";
  const inputs = [];
  const walk = (items, into) => {
    for (const item of items || []) {
      if (item.type === "TextBlock") {
        const p = document.createElement("p");
        p.textContent = item.text || "";
        if (item.weight === "Bolder") p.style.fontWeight = "bold";
        into.appendChild(p);
      } else if (item.type === "Input.Text") {
        const label = document.createElement("label");
        label.textContent = (item.label || item.id) + " ";
        const input = document.createElement("input");
        input.name = item.id;
        input.placeholder = item.placeholder || "";
        input.value = item.value || "";
        label.appendChild(input);
        into.appendChild(label);
        inputs.push(input);
      } else if (item.type === "Input.ChoiceSet") {
        const label = document.createElement("label");
        label.textContent = (item.label || item.id) + " ";
        const select = document.createElement("select");
        select.name = item.id;
        for (const choice of item.choices || []) {
          const option = document.createElement("option");
          option.value = choice.value;
          option.textContent = choice.title;
          select.appendChild(option);
        }
        if (item.value) select.value = item.value;
        label.appendChild(select);
        into.appendChild(label);
        inputs.push(select);
      } else if (item.type === "ColumnSet") {
        for (const column of item.columns || []) walk(column.items, into);
      } else if (item.type === "Container") {
        walk(item.items, into);
      }
    }
  };
  walk(card.body, box);
  const bar = document.createElement("div");
  bar.className = "card-actions";
  for (const action of card.actions || []) {
    if (action.type !== "Action.Submit") continue;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action.title || "Submit";
    button.addEventListener("click", async () => {
      const values = {};
      for (const input of inputs) values[input.name] = input.value;
      try {
        await api("attachment-actions", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            messageId: message.id,
            personEmail: person,
            inputs: Object.assign(values, action.data || {}),
          }),
        });
        setStatus("Submitted: " + button.textContent);
      } catch (error) {
        setStatus("Not submitted: " + error.message);
      }
    });
    bar.appendChild(button);
  }
  box.appendChild(bar);
  return box;
}

const readFile = (file) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("text");
  const markdown = input.value.trim();
  const picked = $("file").files[0];
  if ((!markdown && !picked) || !room) return;
  try {
    const body = { roomId: room.id, personEmail: person };
    if (markdown) body.markdown = markdown;
    if (picked) {
      body.file = { name: picked.name, contentType: picked.type, base64: await readFile(picked) };
    }
    await api("messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    input.value = "";
    $("file").value = "";
    poll();
  } catch (error) {
    setStatus("Not sent: " + error.message);
  }
});

loadPeople().then(loadRooms).catch((error) => setStatus(error.message));
polling = setInterval(poll, 1000);
