/*
 * The console's live-chat inbox (转人工): waiting and taken conversations in real time, take one,
 * reply, close it as resolved or as a ticket. Plain ES2017, no build step; text only, never HTML.
 *
 * It reads the console's login token (sessionStorage, set by console.js) and follows
 * GET /api/v1/handoff/stream — server-sent events read with fetch, because EventSource cannot
 * send the Authorization header. An open stream is what counts the agent as present, so the
 * bot offers live agents only while some inbox is open.
 */
(() => {
  "use strict";

  const TOKEN_KEY = "govbot.console.token";
  const RECONNECT_MS = 1000;
  const STATUS = { waiting: "等待接入", active: "服务中", closed: "已结束" };
  const CHANNELS = { web: "网页", wechat: "微信", rest: "Rasa", app: "App" };
  const SENDERS = { citizen: "市民", bot: "智能客服", agent: "坐席", system: "系统" };
  const KINDS = { opened: "市民请求转人工", joined: "坐席已接入", closed: "会话已结束", wait: "已告知市民暂无坐席接入" };

  const state = {
    token: null,
    me: null,
    controller: null,
    snapshot: null,
    receivedAt: 0, // performance.now() when the snapshot came (the waits tick on from there)
    open: null, // { id, lastId, status, shown: ids of the lines on screen }
    baseTitle: document.title,
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(text, className, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function headers() {
    return { Accept: "application/json", Authorization: `Bearer ${state.token}` };
  }

  async function call(method, path, body) {
    const init = { method, headers: headers() };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || "");
      throw new Error(`${response.status} ${detail}`);
    }
    return data;
  }

  // --- the panel ---------------------------------------------------------------------------
  const ui = {};

  function build() {
    const panel = el("section", "card inbox");
    panel.id = "inbox-panel";
    panel.hidden = true;
    const head = el("div", "panel-head");
    const title = el("h2", "", "在线会话");
    ui.presence = el("span", "inbox-presence muted", "");
    head.append(title, ui.presence);
    ui.list = el("ul", "inbox-list");
    ui.list.id = "inbox-list";
    ui.empty = el("p", "muted", "暂无等待中的会话。");
    ui.error = el("p", "error");
    ui.error.setAttribute("role", "alert");
    ui.error.hidden = true;

    ui.chat = el("div", "inbox-chat");
    ui.chat.id = "inbox-chat";
    ui.chat.hidden = true;
    ui.chatTitle = el("h3", "", "");
    ui.lines = el("ol", "inbox-lines");
    ui.lines.setAttribute("aria-live", "polite");
    const form = el("form", "inbox-reply");
    ui.text = el("textarea", "");
    ui.text.id = "inbox-reply-text";
    ui.text.rows = 2;
    ui.text.maxLength = 2000;
    ui.text.placeholder = "回复市民（Ctrl+Enter 发送）";
    ui.send = el("button", "", "发送");
    ui.send.id = "inbox-reply-btn";
    ui.send.type = "submit";
    form.append(ui.text, ui.send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      reply();
    });
    ui.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        reply();
      }
    });
    const actions = el("div", "buttons");
    ui.resolve = button("结束会话（已解决）", "secondary", () => closeChat("resolved"));
    ui.resolve.id = "inbox-close-resolved";
    ui.ticket = button("转为工单并结束", "secondary", () => closeChat("ticket"));
    ui.ticket.id = "inbox-close-ticket";
    ui.result = el("p", "muted");
    ui.result.id = "inbox-result";
    actions.append(ui.resolve, ui.ticket);
    ui.chat.append(ui.chatTitle, ui.lines, form, actions, ui.result);

    panel.append(head, ui.error, ui.list, ui.empty, ui.chat);
    ui.panel = panel;
    const column = document.querySelector("#app-view .column");
    if (column) column.prepend(panel);
    ui.nav = document.getElementById("inbox-nav");
    ui.count = document.getElementById("inbox-count");
  }

  function showError(message) {
    ui.error.textContent = message || "";
    ui.error.hidden = !message;
  }

  function waitText(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const m = Math.floor(s / 60);
    return m ? `${m}分${String(s % 60).padStart(2, "0")}秒` : `${s}秒`;
  }

  function render() {
    const snap = state.snapshot;
    if (!snap) return;
    const elapsed = (performance.now() - state.receivedAt) / 1000;
    const items = snap.conversations;
    const waiting = items.filter((c) => c.status === "waiting").length;
    ui.presence.textContent = snap.open_now
      ? `在线坐席 ${snap.agents_present} 人`
      : "当前不在人工服务时间";
    ui.list.replaceChildren(
      ...items.map((c) => {
        const item = el("li", `inbox-item inbox-${c.status}`);
        item.dataset.id = String(c.id);
        item.dataset.status = c.status;
        const who = c.status === "active" ? `${STATUS.active}（${c.agent}）` : STATUS.waiting;
        const wait = c.status === "waiting" ? c.wait_seconds + elapsed : c.wait_seconds;
        item.append(
          el("span", "inbox-channel badge", CHANNELS[c.channel] || c.channel),
          el("span", "inbox-status", who),
          el("span", "inbox-wait", `等待 ${waitText(wait)}`),
          el("span", "inbox-last", c.last || ""),
        );
        if (c.status === "waiting") {
          item.append(button("接入", "inbox-take", () => take(c.id)));
        } else if (state.me && c.agent === state.me) {
          item.append(button("打开", "inbox-open secondary", () => openChat(c.id)));
        }
        return item;
      }),
    );
    ui.empty.hidden = items.length > 0;
    if (ui.count) ui.count.textContent = String(waiting);
    if (ui.nav) ui.nav.classList.toggle("inbox-alert", waiting > 0);
    document.title = waiting ? `(${waiting}) 待接入 · ${state.baseTitle}` : state.baseTitle;
  }

  // --- a conversation ----------------------------------------------------------------------------
  function lineNode(line) {
    const item = el("li", `inbox-line inbox-line-${line.sender}`);
    item.dataset.sender = line.sender;
    item.dataset.id = String(line.id);
    const who = line.sender === "agent" && line.author ? `坐席 ${line.author}` : SENDERS[line.sender];
    const time = new Date(line.at).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
    item.append(el("span", "inbox-who", `${who} ${time}`));
    item.append(el("span", "inbox-text", line.sender === "system" ? KINDS[line.kind] || line.kind : line.text));
    return item;
  }

  async function openChat(id) {
    state.open = { id, lastId: 0, status: null, shown: new Set() };
    ui.lines.replaceChildren();
    ui.result.textContent = "";
    ui.chat.hidden = false;
    await refreshChat();
    ui.text.focus();
  }

  async function refreshChat() {
    const open = state.open;
    if (!open) return;
    const found = await call("GET", `/api/v1/handoff/${open.id}?after=${open.lastId}`);
    if (state.open !== open) return;
    open.status = found.status;
    ui.chatTitle.textContent = `会话 #${found.id} · ${CHANNELS[found.channel] || found.channel} · ${STATUS[found.status]}`;
    // A reply's own refresh and the stream's may overlap: each line is shown once.
    found.lines.forEach((line) => {
      if (open.shown.has(line.id)) return;
      open.shown.add(line.id);
      ui.lines.append(lineNode(line));
      open.lastId = Math.max(open.lastId, line.id);
    });
    ui.lines.scrollTop = ui.lines.scrollHeight;
    const mine = found.status === "active" && found.agent === state.me;
    ui.text.disabled = ui.send.disabled = ui.resolve.disabled = ui.ticket.disabled = !mine;
  }

  async function take(id) {
    showError("");
    try {
      await call("POST", `/api/v1/handoff/${id}/take`);
    } catch (err) {
      showError(`接入失败：${err.message}（可能已被其他坐席接入）`);
      return;
    }
    await openChat(id);
  }

  async function reply() {
    const text = ui.text.value.trim();
    if (!text || !state.open) return;
    showError("");
    try {
      await call("POST", `/api/v1/handoff/${state.open.id}/reply`, { text });
      ui.text.value = "";
      await refreshChat();
    } catch (err) {
      showError(`发送失败：${err.message}`);
    }
  }

  async function closeChat(outcome) {
    if (!state.open) return;
    showError("");
    try {
      const done = await call("POST", `/api/v1/handoff/${state.open.id}/close`, { outcome });
      ui.result.textContent = done.ticket_no ? `已生成工单 ${done.ticket_no}` : "会话已结束。";
      await refreshChat();
    } catch (err) {
      showError(`结束失败：${err.message}`);
    }
  }

  // --- the event stream ---------------------------------------------------------------------------
  function onEvent(name, data) {
    if (name !== "inbox") return;
    state.snapshot = JSON.parse(data);
    state.receivedAt = performance.now();
    render();
    if (state.open) refreshChat().catch(() => {});
  }

  async function follow() {
    while (state.token && state.controller && !state.controller.signal.aborted) {
      try {
        const response = await fetch("/api/v1/handoff/stream", {
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${state.token}` },
          signal: state.controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          stop();
          return;
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut = buffer.indexOf("\n\n");
          while (cut >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let name = "message";
            const data = [];
            block.split("\n").forEach((row) => {
              if (row.startsWith("event:")) name = row.slice(6).trim();
              else if (row.startsWith("data:")) data.push(row.slice(5).trim());
            });
            if (data.length) onEvent(name, data.join("\n"));
            cut = buffer.indexOf("\n\n");
          }
        }
      } catch (_err) {
        if (!state.controller || state.controller.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  async function start(token) {
    state.token = token;
    try {
      const meta = await call("GET", "/api/v1/console/meta");
      state.me = meta.user.name;
      await call("GET", "/api/v1/handoff/inbox"); // 403 for roles that do not take live chats
    } catch (_err) {
      state.token = null;
      return;
    }
    ui.panel.hidden = false;
    if (ui.nav) ui.nav.hidden = false;
    state.controller = new AbortController();
    follow();
    state.ticker = setInterval(render, 1000); // the waits count on between events
  }

  function stop() {
    if (state.controller) state.controller.abort();
    state.controller = null;
    clearInterval(state.ticker);
    state.token = null;
    state.snapshot = null;
    state.open = null;
    ui.panel.hidden = true;
    ui.chat.hidden = true;
    if (ui.nav) ui.nav.hidden = true;
    document.title = state.baseTitle;
  }

  // Start when the console shows its app view (after login), stop when it hides it (logout).
  function watch() {
    const app = document.getElementById("app-view");
    if (!app) return;
    const check = () => {
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (!app.hidden && token && !state.token) start(token);
      else if ((app.hidden || !token) && state.token) stop();
    };
    new MutationObserver(check).observe(app, { attributes: true, attributeFilter: ["hidden"] });
    check();
  }

  function init() {
    build();
    watch();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
