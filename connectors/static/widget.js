/*
 * govbot web widget: a chat bubble for government-service sites.
 *
 *   <script src="https://host/widget.js" data-endpoint="https://host"
 *           data-title="政务服务智能客服" data-channel="web" defer></script>
 *
 * Plain ES2017, no build step, no dependencies. Everything the user types and everything
 * the server sends is put into the page with textContent (never as HTML). The stylesheet
 * (widget.css, next to this file) is added once unless data-css="none"; all its classes
 * start with "govbot-w-" so they do not clash with the host page.
 *
 * Public object: window.GovbotWidget, with open(), close(), send(text) and the hook
 * onTicket(context), which the "提交诉求" buttons call (replace it to show a ticket form).
 */
(() => {
  "use strict";

  if (window.GovbotWidget && window.GovbotWidget.mounted) {
    return; // the script was included twice: keep the first widget
  }

  const PREFIX = "govbot-w-";
  const STORAGE_KEY = "govbot-widget-session";
  const LIVE_KEY = "govbot-widget-live"; // the live-agent conversation followed, across page loads
  const REQUEST_TIMEOUT_MS = 30000;
  const TICKET_TEXT = "我要提交诉求";
  const GREETING =
    "您好！我是政务服务智能客服，可以为您解答办事所需材料、办理地点、时限和费用等问题，也可以帮您提交12345诉求。";

  // Card fields without a label (an FAQ's answer, a policy text) come first; the labelled ones
  // follow in the order and with the labels of GET /api/v1/vocab (core/vocab.py).
  const UNLABELLED_FIELDS = ["answer", "text"];
  const LINK_FIELD = "online_url"; // shown as a link, not a row
  const ORDERED_LISTS = new Set(["materials", "steps"]);

  // --- small DOM helpers (text only, never HTML) -------------------------------------

  function el(tag, classes, text) {
    const node = document.createElement(tag);
    if (classes) {
      node.className = classes
        .split(" ")
        .map((name) => PREFIX + name)
        .join(" ");
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function button(classes, text, label) {
    const node = el("button", classes, text);
    node.type = "button";
    if (label) {
      node.setAttribute("aria-label", label);
    }
    return node;
  }

  let idCounter = 0;
  function uniqueId(name) {
    idCounter += 1;
    return `${PREFIX}${name}-${idCounter}`;
  }

  // --- configuration and the visitor id ----------------------------------------------

  function findScript() {
    return document.currentScript || document.querySelector('script[src*="widget.js"]');
  }

  function readConfig(script) {
    const data = (script && script.dataset) || {};
    const scriptUrl = new URL(script && script.src ? script.src : "widget.js", document.baseURI);
    // A given endpoint may be relative to the page ("/", "/govbot"); without one, the
    // server that served this script answers.
    const base = data.endpoint ? new URL(data.endpoint, document.baseURI) : new URL("/", scriptUrl);
    return {
      endpoint: base.href.replace(/\/+$/, ""),
      title: data.title || "政务服务智能客服",
      channel: data.channel || "web",
      css: data.css === "none" ? null : new URL("widget.css", scriptUrl).href,
    };
  }

  function newId() {
    const cryptoApi = window.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
      return cryptoApi.randomUUID();
    }
    const bytes = new Uint8Array(16);
    if (cryptoApi && cryptoApi.getRandomValues) {
      cryptoApi.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i += 1) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // sessionStorage for one tab's state; a blocked storage only loses the resume after a reload.
  function remember(key, value) {
    try {
      if (value === null) {
        window.sessionStorage.removeItem(key);
      } else {
        window.sessionStorage.setItem(key, value);
      }
    } catch (_error) {
      // storage blocked: nothing to keep
    }
  }

  function recall(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (_error) {
      return null;
    }
  }

  let memorySessionId = null;
  function sessionId() {
    try {
      let id = window.localStorage.getItem(STORAGE_KEY);
      if (!id) {
        id = newId();
        window.localStorage.setItem(STORAGE_KEY, id);
      }
      return id;
    } catch (_error) {
      // Storage blocked (private mode, sandboxed frame): keep the id for this page only.
      memorySessionId = memorySessionId || newId();
      return memorySessionId;
    }
  }

  // --- talking to the server ---------------------------------------------------------

  class ChatError extends Error {
    constructor(kind, status, retryAfter) {
      super(kind);
      this.kind = kind; // network | busy | server | rejected
      this.status = status || 0;
      this.retryAfter = retryAfter || 0;
    }
  }

  async function postChat(config, text) {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS) : null;
    let response;
    try {
      response = await fetch(`${config.endpoint}/api/v1/chat`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: sessionId(), text, channel: config.channel }),
        credentials: "omit",
        signal: controller ? controller.signal : undefined,
      });
    } catch (_error) {
      throw new ChatError("network");
    } finally {
      if (timer) {
        clearTimeout(timer);
      }
    }
    if (response.status === 429) {
      const wait = parseInt(response.headers.get("Retry-After") || "", 10);
      throw new ChatError("busy", 429, Number.isFinite(wait) ? wait : 0);
    }
    if (response.status >= 500) {
      throw new ChatError("server", response.status);
    }
    if (!response.ok) {
      throw new ChatError("rejected", response.status);
    }
    let body;
    try {
      body = await response.json();
    } catch (_error) {
      throw new ChatError("server", response.status);
    }
    if (!body || typeof body.reply !== "string") {
      throw new ChatError("server", response.status);
    }
    return body;
  }

  // The shared vocabulary, fetched once per page; null when it could not be had (cards then show
  // their values without labels, and the next reply tries again).
  let vocabRequest = null;
  function loadVocab(config) {
    if (!vocabRequest) {
      vocabRequest = fetch(`${config.endpoint}/api/v1/vocab`, { credentials: "omit" })
        .then((response) => (response.ok ? response.json() : null))
        .catch(() => null)
        .then((words) => {
          if (!words) {
            vocabRequest = null;
          } else if (!Object.prototype.hasOwnProperty.call(words.channels, config.channel)) {
            console.warn(`govbot widget: data-channel "${config.channel}" is not one of`, Object.keys(words.channels));
          }
          return words;
        });
    }
    return vocabRequest;
  }

  function cardLabels(words) {
    const labels = Object.assign({}, words ? words.card_fields : {});
    const shown = Object.keys(labels).filter((name) => name !== LINK_FIELD);
    return {
      rows: UNLABELLED_FIELDS.map((name) => [name, ""]).concat(shown.map((name) => [name, labels[name]])),
      link: labels[LINK_FIELD] || null, // without the vocabulary the link shows its host
      all: new Set(Object.values(labels)),
    };
  }

  function errorText(error) {
    switch (error.kind) {
      case "busy":
        return error.retryAfter
          ? `提问太频繁了，请 ${error.retryAfter} 秒后再试。`
          : "提问太频繁了，请稍后再试。";
      case "server":
        return "服务暂时出现问题，请稍后重试。";
      case "rejected":
        return error.status === 413 ? "消息太长，请精简后再发送。" : "消息未能发送，请修改后再试。";
      default:
        return "暂时无法连接到服务，请检查网络后重试。";
    }
  }

  // --- rendering replies -------------------------------------------------------------

  function isHttpUrl(value) {
    try {
      const url = new URL(String(value), document.baseURI);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch (_error) {
      return false;
    }
  }

  function fieldValue(name, value) {
    if (Array.isArray(value)) {
      const list = el(ORDERED_LISTS.has(name) ? "ol" : "ul", `list ${name}`);
      value.forEach((entry) => list.append(el("li", "", entry)));
      return list;
    }
    return el("p", `value ${name}`, value);
  }

  // The cited source line ("来源：...") ends the reply text; the card holds the parts.
  function citationLine(reply, card) {
    const line = reply.reply.split("\n").find((text) => text.startsWith("来源："));
    if (line) {
      return line;
    }
    const parts = [card.source, card.department].filter(Boolean);
    return parts.length ? `来源：${parts.join(" · ")}` : "";
  }

  // Lines of the reply text that the card does not show (a missing-field note, for example).
  function linesBesideCard(reply, labels) {
    return reply.reply.split("\n").filter((line) => {
      const text = line.trim();
      if (!text || line.startsWith(" ") || text.startsWith("【") || text.startsWith("来源：")) {
        return false;
      }
      if (text.startsWith("…共") || reply.notices.includes(text)) {
        return false;
      }
      const label = text.split("：")[0];
      return !(text.includes("：") && labels.all.has(label));
    });
  }

  function renderCard(card, reply, labels) {
    const node = el("article", "card");
    if (card.id) {
      node.setAttribute("data-item-id", String(card.id));
    }
    const title = el("h3", "card-title", card.title || "");
    title.id = uniqueId("card");
    node.setAttribute("aria-labelledby", title.id);
    node.append(title);
    const fields = el("dl", "fields");
    for (const [name, label] of labels.rows) {
      const value = card[name];
      if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) {
        continue;
      }
      const row = el("div", `field field-${name}`);
      if (label) {
        row.append(el("dt", "label", label));
      }
      const detail = el("dd", "detail");
      detail.append(fieldValue(name, value));
      row.append(detail);
      fields.append(row);
    }
    node.append(fields);
    if (card.online_url && isHttpUrl(card.online_url)) {
      const href = new URL(String(card.online_url), document.baseURI);
      const link = el("a", "online", labels.link || href.host);
      link.href = href.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.setAttribute("aria-label", `${labels.link || href.host}（在新窗口打开）：${card.title || ""}`);
      node.append(link);
    }
    const cited = citationLine(reply, card);
    if (cited) {
      node.append(el("p", "citation", cited));
    }
    return node;
  }

  // Only the items that back the answer (reply.citations): names, sources and links, never
  // the ranked search hits (reply.sources keeps those, with ids and scores, for agents).
  function renderSources(citations) {
    const details = el("details", "sources");
    details.append(el("summary", "", `来源（${citations.length}）`));
    const list = el("ol", "source-list");
    citations.forEach((cited) => {
      const entry = el("li", "source");
      const where = [cited.source, cited.department].filter(Boolean).join(" · ");
      if (cited.url && isHttpUrl(cited.url)) {
        const link = el("a", "source-link", cited.title);
        link.href = new URL(String(cited.url), document.baseURI).href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        entry.append(link);
      } else {
        entry.append(el("span", "source-title", cited.title));
      }
      if (where) {
        entry.append(el("span", "source-where", ` · ${where}`));
      }
      list.append(entry);
    });
    details.append(list);
    return details;
  }

  // --- the widget ----------------------------------------------------------------------

  class Widget {
    constructor(config) {
      this.config = config;
      this.pending = false;
      this.lastReply = null;
      this.live = null; // the live agent conversation followed: { id, token, source }
      this.seenLines = new Set(); // ids of live lines shown (a line comes by stream and by reply)
      this.build();
    }

    build() {
      const { title } = this.config;
      this.root = el("div", "root");
      this.root.setAttribute("data-govbot-widget", "");

      this.launcher = button("launcher", "在线咨询", `打开${title}`);
      this.launcher.setAttribute("aria-expanded", "false");

      this.panel = el("section", "panel");
      this.panel.id = uniqueId("panel");
      this.panel.hidden = true;
      this.panel.setAttribute("role", "dialog");
      this.launcher.setAttribute("aria-controls", this.panel.id);

      const header = el("header", "header");
      const heading = el("h2", "title", title);
      heading.id = uniqueId("title");
      this.panel.setAttribute("aria-labelledby", heading.id);
      const ticket = button("ticket header-ticket", "提交诉求", "提交12345诉求");
      ticket.addEventListener("click", () => this.ticket());
      this.closeButton = button("close", "×", "关闭对话");
      this.closeButton.addEventListener("click", () => this.close());
      // Shown while a person (not the bot) is on the conversation.
      this.liveBadge = el("span", "live-badge", "");
      this.liveBadge.setAttribute("role", "status");
      this.liveBadge.hidden = true;
      header.append(heading, this.liveBadge, ticket, this.closeButton);

      this.log = el("div", "log");
      this.log.setAttribute("role", "log");
      this.log.setAttribute("aria-live", "polite");
      this.log.setAttribute("aria-label", "对话记录");
      this.log.tabIndex = 0; // scrollable with the keyboard

      this.typing = el("div", "typing");
      this.typing.setAttribute("role", "status");
      this.typing.hidden = true;
      for (let i = 0; i < 3; i += 1) {
        const dot = el("span", "dot");
        dot.setAttribute("aria-hidden", "true");
        this.typing.append(dot);
      }
      this.typing.append(el("span", "sr-only", "正在回复…"));

      this.form = el("form", "form");
      const inputId = uniqueId("input");
      const label = el("label", "sr-only", "输入您的问题");
      label.htmlFor = inputId;
      this.input = el("input", "input");
      this.input.id = inputId;
      this.input.type = "text";
      this.input.maxLength = 1000;
      this.input.autocomplete = "off";
      this.input.enterKeyHint = "send";
      this.input.placeholder = "请输入您的问题，如：居住证怎么办理";
      this.sendButton = el("button", "send", "发送");
      this.sendButton.type = "submit";
      this.form.append(label, this.input, this.sendButton);
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submitInput();
      });
      this.input.addEventListener("keydown", (event) => {
        // Enter while an IME is composing picks a candidate; it must not send.
        if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) {
          event.preventDefault();
        }
      });

      const footer = el("p", "footer", "答复依据政务服务知识库，仅供参考，以办理部门公布为准。");

      this.panel.append(header, this.log, this.typing, this.form, footer);
      this.root.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !this.panel.hidden) {
          event.stopPropagation();
          this.close();
        }
      });
      this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));

      this.root.append(this.panel, this.launcher);
      document.body.append(this.root);
      this.addBot(el("p", "text", GREETING));
      const live = recall(LIVE_KEY); // a live chat before a reload: follow it again
      if (live) {
        try {
          this.followHandoff(JSON.parse(live));
        } catch (_error) {
          remember(LIVE_KEY, null);
        }
      }
    }

    // --- opening and closing ---
    open() {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.root.classList.add(`${PREFIX}open`);
      this.scrollToEnd();
      this.input.focus();
    }

    close() {
      if (this.panel.hidden) {
        return;
      }
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.root.classList.remove(`${PREFIX}open`);
      this.launcher.focus();
    }

    // --- messages ---
    scrollToEnd() {
      this.log.scrollTop = this.log.scrollHeight;
    }

    addUser(text) {
      const item = el("div", "msg msg-user");
      item.append(el("span", "sr-only", "我："));
      item.append(el("p", "text", text));
      this.log.append(item);
      this.scrollToEnd();
      return item;
    }

    addBot(...children) {
      const item = el("div", "msg msg-bot");
      item.append(el("span", "sr-only", "客服："));
      item.append(...children);
      this.log.append(item);
      // A long answer card is read from its top; short messages just scroll to the end.
      if (item.offsetHeight > this.log.clientHeight) {
        this.log.scrollTop = item.offsetTop - 8;
      } else {
        this.scrollToEnd();
      }
      return item;
    }

    submitInput() {
      const text = this.input.value.trim();
      if (!text || this.pending) {
        return;
      }
      this.input.value = "";
      this.input.focus(); // the send button is disabled while waiting: keep focus usable
      this.send(text);
    }

    setPending(pending) {
      this.pending = pending;
      this.typing.hidden = !pending;
      this.sendButton.disabled = pending;
      this.log.setAttribute("aria-busy", pending ? "true" : "false");
      if (pending) {
        this.scrollToEnd();
      }
    }

    // Send `text`; the conversation shows `shown` (a clarify choice sends its number).
    async send(text, shown) {
      const message = String(text || "").trim();
      if (!message || this.pending) {
        return false;
      }
      if (this.panel.hidden) {
        this.open();
      }
      this.addUser(shown || message);
      return this.deliver(message);
    }

    async deliver(message) {
      this.setPending(true);
      let reply;
      let words;
      try {
        [reply, words] = await Promise.all([postChat(this.config, message), loadVocab(this.config)]);
      } catch (error) {
        this.setPending(false);
        this.showError(error instanceof ChatError ? error : new ChatError("network"), message);
        return false;
      }
      this.setPending(false);
      this.lastReply = reply;
      this.showReply(reply, cardLabels(words));
      return true;
    }

    showError(error, message) {
      const parts = [el("p", "text error-text", errorText(error))];
      if (error.kind !== "rejected") {
        const retry = button("retry", "重试", "重试发送");
        retry.addEventListener("click", () => {
          if (this.pending) {
            return;
          }
          item.remove();
          this.input.focus();
          this.deliver(message);
        });
        parts.push(retry);
      }
      const item = this.addBot(...parts);
      item.classList.add(`${PREFIX}msg-error`);
      item.setAttribute("role", "alert");
    }

    showReply(reply, labels) {
      const handoff = reply.handoff && typeof reply.handoff === "object" ? reply.handoff : null;
      if (handoff) {
        this.followHandoff(handoff);
        if (!reply.reply) {
          return; // a line relayed to the agent: nothing from the bot to show
        }
      }
      const parts = [];
      const notices = Array.isArray(reply.notices) ? reply.notices : [];
      reply.notices = notices;
      notices.forEach((notice) => parts.push(el("p", "notice", notice)));
      const options = Array.isArray(reply.options) ? reply.options : [];
      if (reply.card && typeof reply.card === "object") {
        parts.push(renderCard(reply.card, reply, labels));
        linesBesideCard(reply, labels).forEach((line) => parts.push(el("p", "text note", line)));
      } else {
        // Options are shown as buttons, so their numbered listing is left out of the text.
        const listed = new Set(options.map((option, i) => `${i + 1}. ${option.title}`));
        const text = reply.reply
          .split("\n")
          .filter((line) => !listed.has(line.trim()) && !notices.includes(line.trim()))
          .join("\n");
        parts.push(el("p", "text", text));
      }
      if (options.length) {
        parts.push(this.renderOptions(options));
      }
      const form = reply.form && typeof reply.form === "object" ? reply.form : null;
      const choices = form && Array.isArray(form.choices) ? form.choices : [];
      if (choices.length) {
        parts.push(this.renderChoices(choices));
      }
      if (reply.ticket && reply.ticket.ticket_no) {
        parts.push(el("p", "ticket-no", `工单编号：${reply.ticket.ticket_no}`));
      }
      const offered = handoff && handoff.offer_ticket;
      if ((reply.action === "ticket" && !form && !reply.ticket) || reply.action === "fallback" || offered) {
        const ticket = button("ticket reply-ticket", "提交诉求", "提交12345诉求");
        ticket.addEventListener("click", () => this.ticket());
        parts.push(ticket);
      }
      const citations = Array.isArray(reply.citations) ? reply.citations : [];
      if (reply.action === "answer" && citations.length) {
        parts.push(renderSources(citations));
      }
      const item = this.addBot(...parts);
      item.setAttribute("data-action", String(reply.action || ""));
    }

    // --- a live agent (转人工) ---
    // The conversation's lines come as server-sent events; lines handed over in a chat reply
    // are shown too, each once (by id).
    followHandoff(handoff) {
      (Array.isArray(handoff.lines) ? handoff.lines : []).forEach((line) => this.showLiveLine(line));
      const id = handoff.conversation;
      const live = ["waiting", "active"].includes(handoff.status);
      if (!live || !id || !handoff.token) {
        return;
      }
      if (this.live && this.live.id === id) {
        return;
      }
      this.stopHandoff();
      const url =
        `${this.config.endpoint}/api/v1/handoff/${encodeURIComponent(id)}/events` +
        `?token=${encodeURIComponent(handoff.token)}`;
      const source = new EventSource(url);
      this.live = { id, token: handoff.token, source };
      remember(LIVE_KEY, JSON.stringify({ conversation: id, token: handoff.token, status: handoff.status }));
      this.setLiveBadge(handoff.status === "active" ? "人工客服服务中" : "正在等待人工客服");
      source.addEventListener("line", (event) => this.showLiveLine(JSON.parse(event.data)));
      source.addEventListener("status", (event) => {
        const { status } = JSON.parse(event.data);
        if (status === "closed") {
          this.stopHandoff();
        } else {
          this.setLiveBadge(status === "active" ? "人工客服服务中" : "正在等待人工客服");
        }
      });
    }

    stopHandoff() {
      remember(LIVE_KEY, null);
      if (this.live && this.live.source) {
        this.live.source.close();
      }
      if (this.live) {
        this.live.source = null;
        this.live.id = null;
      }
      this.setLiveBadge("");
    }

    setLiveBadge(text) {
      this.liveBadge.textContent = text;
      this.liveBadge.hidden = !text;
    }

    showLiveLine(line) {
      if (!line || !line.text) {
        return;
      }
      if (this.seenLines.has(line.id)) {
        return;
      }
      this.seenLines.add(line.id);
      // A citizen's stream carries two senders: the desk's notices ("system") and the person's lines.
      if (line.sender !== "system") {
        const item = this.addBot(el("p", "text", line.text));
        item.classList.add(`${PREFIX}msg-agent`);
        item.setAttribute("data-action", "person");
        item.firstChild.textContent = "人工客服：";
      } else {
        const item = this.addBot(el("p", "notice", line.text));
        item.classList.add(`${PREFIX}msg-live-notice`);
        item.setAttribute("data-kind", String(line.kind || ""));
        if (line.kind === "joined") {
          this.setLiveBadge("人工客服服务中");
        }
      }
    }

    renderOptions(options) {
      const group = el("div", "options");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "请选择一项");
      options.forEach((option, i) => {
        const choice = button("option", `${i + 1}. ${option.title}`);
        choice.setAttribute("data-option-id", String(option.id));
        choice.addEventListener("click", async () => {
          if (this.pending) {
            return;
          }
          // The server recognises a clarify choice by its number (bot/policy.py).
          const sent = await this.send(String(i + 1), option.title);
          if (sent) {
            group.querySelectorAll("button").forEach((b) => {
              b.disabled = true;
            });
            choice.setAttribute("aria-pressed", "true");
          }
          this.input.focus();
        });
        group.append(choice);
      });
      return group;
    }

    // The ticket form's fixed answers (同意/不同意, 确认提交/修改/取消): sent as typed text.
    renderChoices(choices) {
      const group = el("div", "options form-choices");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "请选择");
      choices.forEach((text) => {
        const choice = button("option", String(text));
        choice.addEventListener("click", async () => {
          if (this.pending) {
            return;
          }
          const sent = await this.send(String(text));
          if (sent) {
            group.querySelectorAll("button").forEach((b) => {
              b.disabled = true;
            });
          }
          this.input.focus();
        });
        group.append(choice);
      });
      return group;
    }

    // --- tickets ---
    ticketContext() {
      return {
        endpoint: this.config.endpoint,
        channel: this.config.channel,
        sessionId: sessionId(),
        lastReply: this.lastReply,
        panel: this.panel,
        send: (text) => this.send(text),
        // Put a node (a form, say) into the conversation as a message of the assistant.
        mount: (node) => this.addBot(node),
      };
    }

    ticket() {
      if (this.panel.hidden) {
        this.open();
      }
      const hook = window.GovbotWidget && window.GovbotWidget.onTicket;
      if (typeof hook === "function") {
        hook(this.ticketContext());
      } else {
        this.send(TICKET_TEXT);
      }
    }
  }

  // --- start ---------------------------------------------------------------------------

  const script = findScript();
  const config = readConfig(script);
  let widget = null;

  window.GovbotWidget = {
    mounted: true,
    version: "1",
    config,
    open: () => widget && widget.open(),
    close: () => widget && widget.close(),
    send: (text) => (widget ? widget.send(text) : Promise.resolve(false)),
    /*
     * Called by every "提交诉求" button with a context object:
     *   { endpoint, channel, sessionId, lastReply, panel, send(text), mount(node) }.
     * The default sends "我要提交诉求" as a message; the ticket desk replaces this
     * function to show its form (e.g. build a <form> and pass it to context.mount).
     */
    onTicket: (context) => context.send(TICKET_TEXT),
  };

  function start() {
    if (config.css && !document.querySelector("link[data-govbot-widget]")) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = config.css;
      link.setAttribute("data-govbot-widget", "");
      document.head.append(link);
    }
    widget = new Widget(config);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
