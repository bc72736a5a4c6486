// govbot agent console: plain DOM over the JSON APIs. No HTML strings with data: every node is
// built with createElement / textContent. The server enforces roles; the page only hides
// what a role may not do.
"use strict";

(() => {
  const TOKEN_KEY = "govbot.console.token";
  // Roles, states, steps and every label come from GET /api/v1/vocab (core/vocab.py), once per page.
  const HTTP_LABELS = {
    401: "未登录或登录已过期",
    403: "无权限",
    404: "未找到（或无权查看）",
    409: "不允许的流转",
    422: "数据不合法",
    429: "请求过于频繁",
  };

  const state = {
    token: null,
    me: null,
    meta: null,
    vocab: null,
    queue: null,
    search: null, // the criteria of the search shown in the list (null: a queue is shown)
    tickets: [],
    current: null,
    alerted: new Set(), // ticket numbers already announced as about to breach
  };
  const vocab = () => state.vocab;
  const $ = (id) => document.getElementById(id);

  // --- DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function setError(node, message) {
    node.textContent = message || "";
    show(node, Boolean(message));
  }

  let flashTimer = null;
  function flash(message, kind) {
    const box = $("flash");
    box.textContent = message;
    box.className = "flash " + (kind || "ok");
    show(box, true);
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => show(box, false), 6000);
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString("zh-CN", { hour12: false });
  }

  // --- the API -------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super(describeError(status, body));
      this.status = status;
      this.body = body;
    }
  }

  function describeError(status, body) {
    let detail = body && body.detail !== undefined ? body.detail : body;
    if (Array.isArray(detail)) {
      detail = detail
        .map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`)
        .join("；");
    } else if (detail && typeof detail === "object") {
      detail = JSON.stringify(detail);
    }
    let text = `${status} ${HTTP_LABELS[status] || "请求失败"}：${detail || ""}`;
    if (status === 409 && body && Array.isArray(body.allowed)) {
      text += `（当前状态 ${body.current}，可转为：${body.allowed.join("、") || "无"}）`;
    }
    return text;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, { detail: `无法连接服务器（${err.message}）` });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_err) {
      data = { detail: text };
    }
    if (!response.ok) {
      if (response.status === 401 && path !== "/api/v1/auth/login") logout("登录已过期，请重新登录。");
      throw new ApiError(response.status, data);
    }
    return data;
  }

  // --- roles -----------------------------------------------------------------------------------
  const isOverseer = () => vocab().overseer_roles.includes(state.me.role);
  const isCentre = () => state.me && (isOverseer() || vocab().step_roles.centre.includes(state.me.role));

  function queuesForRole() {
    const me = state.me;
    const queues = ["mine"];
    if (me.department) queues.push("department");
    queues.push("at_risk", "overdue");
    if (isCentre()) queues.push("open");
    queues.push("awaiting_callback", "closed", "all"); // every state has a view
    return queues;
  }

  function allowedSteps(ticket) {
    const me = state.me;
    return vocab().transitions.filter((step) => {
      if (step.from !== ticket.status) return false;
      if (isOverseer()) return true;
      if (!vocab().step_roles[step.by].includes(me.role)) return false;
      return step.by !== "handler" || (Boolean(me.department) && me.department === ticket.department);
    });
  }

  // --- login / logout ----------------------------------------------------------------------------
  async function login(event) {
    event.preventDefault();
    setError($("login-error"), "");
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    try {
      const out = await api("POST", "/api/v1/auth/login", { username, password });
      state.token = out.access_token;
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $("login-password").value = "";
      await start();
    } catch (err) {
      setError($("login-error"), err.status === 401 ? "用户名或密码错误。" : err.message);
    }
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(pollTimer);
    Object.assign(state, { token: null, me: null, meta: null, queue: null, search: null, tickets: [], current: null });
    state.alerted.clear();
    show($("sla-alert"), false);
    show($("view-nav"), false);
    document.dispatchEvent(new CustomEvent("govbot:logout"));
    $("queue-body").replaceChildren();
    $("suggestions").replaceChildren();
    $("d-fields").replaceChildren();
    $("d-audit").replaceChildren();
    show($("detail-panel"), false);
    show($("app-view"), false);
    show($("whoami"), false);
    show($("login-view"), true);
    if (message) setError($("login-error"), message);
  }

  async function start() {
    const [meta, words] = await Promise.all([
      api("GET", "/api/v1/console/meta"),
      state.vocab || api("GET", "/api/v1/vocab"),
    ]);
    Object.assign(state, { meta, vocab: words, me: meta.user });
    $("user-name").textContent = state.me.name;
    $("user-role").textContent = vocab().roles[state.me.role] || state.me.role;
    $("user-role").title = state.me.role;
    $("user-department").textContent = state.me.department || "";
    for (const node of document.querySelectorAll("[data-needs=centre]")) show(node, isCentre());
    show($("create-panel"), false); // opens from the suggestions box
    fillCreateForm();
    fillSearchForm();
    show($("login-view"), false);
    show($("whoami"), true);
    show($("view-nav"), true);
    show($("app-view"), true);
    renderTabs();
    await loadQueue(queuesForRole()[0]);
    clearInterval(pollTimer);
    pollTimer = setInterval(poll, Math.max(2, state.meta.refresh_seconds) * 1000);
    poll();
    document.dispatchEvent(new CustomEvent("govbot:login", { detail: shared }));
  }

  // --- suggested answers -------------------------------------------------------------------------
  async function suggest(event) {
    event.preventDefault();
    const q = $("question").value.trim();
    if (!q) return;
    const status = $("suggest-status");
    status.textContent = "查询中……";
    $("suggestions").replaceChildren();
    try {
      const out = await api("GET", `/api/v1/suggest?q=${encodeURIComponent(q)}&k=5`);
      status.textContent = out.suggestions.length
        ? `意图：${out.intent}，共 ${out.suggestions.length} 条建议`
        : "没有找到可用的答案，可据此创建工单。";
      $("suggestions").replaceChildren(...out.suggestions.map(renderSuggestion));
    } catch (err) {
      status.textContent = err.message;
    }
  }

  function fieldValue(value) {
    if (Array.isArray(value)) return value.map(fieldValue).join("、");
    if (value && typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  const itemLabels = () => ({ ...vocab().card_fields, ...vocab().item_text_labels });

  function renderSuggestion(item) {
    const fields = el("dl", { className: "fields compact" });
    for (const [key, value] of Object.entries(item.summary || {})) {
      if (key === "source" || value === "" || value === null) continue;
      fields.append(el("dt", {}, itemLabels()[key] || key), el("dd", {}, fieldValue(value)));
    }
    const source = String((item.summary || {}).source || "");
    const sourceNode = /^https?:\/\//.test(source)
      ? el("a", { href: source, target: "_blank", rel: "noopener noreferrer" }, source)
      : el("span", {}, source || "—");
    return el(
      "li",
      { className: "suggestion", dataset: { id: item.id } },
      el(
        "div",
        { className: "suggestion-head" },
        el("strong", { className: "suggestion-title" }, item.title),
        el("span", { className: "badge" }, vocab().item_kinds[item.kind] || item.kind),
        el("span", { className: "muted" }, `相关度 ${Number(item.score).toFixed(2)}`),
      ),
      fields,
      el("p", { className: "source muted" }, "来源：", sourceNode),
    );
  }

  // --- ticket creation ---------------------------------------------------------------------------
  function fillCreateForm() {
    const meta = state.meta;
    $("category-list").replaceChildren(...meta.categories.map((c) => el("option", { value: c })));
    $("f-type").replaceChildren(...vocab().ticket_types.map((t) => el("option", { value: t }, t)));
    $("f-type").value = vocab().default_ticket_type;
    $("f-department").replaceChildren(
      el("option", { value: "" }, "按分类自动派单"),
      ...meta.departments.map((d) => el("option", { value: d }, d)),
    );
  }

  async function draftTicket() {
    const text = $("question").value.trim();
    if (!text) {
      flash("请先输入或粘贴来电内容。", "error");
      return;
    }
    setError($("create-error"), "");
    try {
      const draft = await api("POST", "/api/v1/console/draft", { text });
      $("create-form").reset();
      $("f-type").value = vocab().default_ticket_type;
      $("f-title").value = draft.title;
      $("f-content").value = draft.content;
      $("f-category").value = draft.category || "";
      $("f-category-hint").textContent = draft.category
        ? `系统预测分类：${draft.category}（置信度 ${draft.category_confidence}），请核对。`
        : "系统未能预测分类，请选择或留空。";
      $("f-phone").value = draft.phone || "";
      $("f-location").value = draft.location || "";
      const hint = $("f-urgent-hint");
      if (draft.urgent_keyword) {
        $("f-urgent").checked = true;
        $("f-urgent-reason").value = `涉及“${draft.urgent_keyword}”`;
        hint.textContent = `内容提到“${draft.urgent_keyword}”，已标为紧急，请核实。`;
      }
      show(hint, Boolean(draft.urgent_keyword));
      show($("create-panel"), true);
      (draft.phone ? $("f-location") : $("f-phone")).focus();
    } catch (err) {
      flash(err.message, "error");
    }
  }

  function optional(id) {
    const value = $(id).value.trim();
    return value || undefined;
  }

  async function createTicket(event) {
    event.preventDefault();
    setError($("create-error"), "");
    const body = {
      title: $("f-title").value.trim(),
      content: $("f-content").value.trim(),
      phone: $("f-phone").value.trim(),
      name: optional("f-name"),
      location: optional("f-location"),
      category: optional("f-category"),
      type: $("f-type").value,
      channel: "hotline",
      urgent: $("f-urgent").checked,
      urgent_reason: $("f-urgent").checked ? optional("f-urgent-reason") : undefined,
      department: optional("f-department"),
    };
    try {
      const created = await api("POST", "/api/v1/tickets", body);
      let message = `已创建工单 ${created.ticket_no}（${created.category || "未分类"} → ${
        created.department || "待定"
      }，${vocab().urgency_labels[created.urgency] || created.urgency}）`;
      if (created.duplicate_of) message += `；疑似与 ${created.duplicate_of} 重复，可合并。`;
      flash(message, created.duplicate_of ? "warning" : "ok");
      $("create-form").reset();
      show($("create-panel"), false);
      await loadQueue("mine");
      await openTicket(created.ticket_no);
    } catch (err) {
      setError($("create-error"), err.message);
    }
  }

  // --- queues and the SLA countdown ----------------------------------------------------------------
  function renderTabs() {
    $("queue-tabs").replaceChildren(
      ...queuesForRole().map((name) =>
        el(
          "button",
          {
            type: "button",
            role: "tab",
            className: "tab",
            dataset: { queue: name },
            onclick: () => loadQueue(name),
          },
          vocab().queue_labels[name] || name,
        ),
      ),
    );
  }

  async function loadQueue(name) {
    state.queue = name;
    state.search = null;
    $("queue-title").textContent = vocab().queue_labels[name] || name;
    await reloadList();
  }

  // The list as it stands: the chosen queue, or the search; kept in place on every poll.
  async function reloadList() {
    for (const tab of $("queue-tabs").children) {
      const active = !state.search && tab.dataset.queue === state.queue;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", String(active));
    }
    setError($("queue-error"), "");
    try {
      state.tickets = state.search
        ? await api("GET", `/api/v1/tickets/search?${state.search}`)
        : await api("GET", `/api/v1/tickets?queue=${encodeURIComponent(state.queue)}`);
    } catch (err) {
      state.tickets = [];
      setError($("queue-error"), err.message);
    }
    // a refresh keeps the keyboard where it was: the same button of the same ticket
    const focused = $("queue-body").contains(document.activeElement) ? document.activeElement : null;
    const focusRow = focused && focused.closest("tr") ? focused.closest("tr").dataset.ticketNo : null;
    const focusKind = focused ? focused.dataset.rowAction || "link" : null;
    $("queue-body").replaceChildren(...state.tickets.map(renderRow));
    if (focusRow) {
      const row = $("queue-body").querySelector(`tr[data-ticket-no="${CSS.escape(focusRow)}"]`);
      const again = row && row.querySelector(focusKind === "link" ? "button.link" : `[data-row-action="${focusKind}"]`);
      if (again) again.focus();
    }
    show($("queue-empty"), state.tickets.length === 0);
    $("queue-updated").textContent = `更新于 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
    tick();
  }

  // --- search ------------------------------------------------------------------------------------
  function fillSearchForm() {
    $("search-department").replaceChildren(
      el("option", { value: "" }, "全部部门"),
      ...state.meta.departments.map((d) => el("option", { value: d }, d)),
    );
    $("search-status").replaceChildren(
      el("option", { value: "" }, "全部状态"),
      ...vocab().states.map((s) => el("option", { value: s }, s)),
    );
  }

  async function search(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams();
    const add = (key, id) => {
      const value = $(id).value.trim();
      if (value) params.append(key, value);
    };
    add("q", "search-q");
    add("date_from", "search-from");
    add("date_to", "search-to");
    add("department", "search-department");
    add("status", "search-status");
    if (![...params.keys()].length) {
      await loadQueue(state.queue || queuesForRole()[0]);
      return;
    }
    state.search = params.toString();
    $("queue-title").textContent = "查找结果";
    await reloadList();
    const first = $("queue-body").querySelector("button.link");
    if (state.tickets.length === 1 && first) first.focus();
  }

  function clearSearch() {
    $("search-form").reset();
    loadQueue(state.queue || queuesForRole()[0]);
  }

  function slaTarget(ticket) {
    if (vocab().awaiting_feedback.includes(ticket.status)) {
      return { deadline: ticket.feedback_deadline, what: vocab().step_labels.feedback };
    }
    if (vocab().awaiting_completion.includes(ticket.status)) {
      return { deadline: ticket.completion_deadline, what: vocab().step_labels.complete };
    }
    return null;
  }

  function slaNode(ticket) {
    const target = slaTarget(ticket);
    if (!target) return el("span", { className: "sla sla-none" }, "—");
    return el("span", {
      className: "sla",
      dataset: {
        deadline: target.deadline,
        received: ticket.received_at,
        what: target.what,
        atRisk: ticket.at_risk ? "1" : "",
        overdue: ticket.overdue ? "1" : "",
      },
    });
  }

  // A step this user may take on a row straight from the list: 回访 on a closed ticket, 合并 on a
  // flagged duplicate (the form opens in the detail, filled in).
  function rowActions(ticket) {
    const buttons = [];
    for (const step of allowedSteps(ticket)) {
      if (step.action === "callback") {
        buttons.push(
          el(
            "button",
            { type: "button", className: "small", dataset: { rowAction: step.action }, onclick: () => openTicket(ticket.ticket_no, step.action) },
            vocab().step_labels[step.action],
          ),
        );
      }
      if (step.action === "merge" && ticket.duplicate_of) {
        buttons.push(
          el(
            "button",
            {
              type: "button",
              className: "small warning-btn",
              dataset: { rowAction: step.action },
              title: `${vocab().step_labels.merge}至 ${ticket.duplicate_of}`,
              onclick: () => openTicket(ticket.ticket_no, step.action, { merged_into: ticket.duplicate_of }),
            },
            vocab().step_labels.merge,
          ),
        );
      }
    }
    return buttons;
  }

  function renderRow(ticket) {
    const category = ticket.category1 || "—";
    const duplicate = ticket.duplicate_of
      ? el(
          "span",
          { className: "badge amber", title: `${ticket.duplicate_of}` },
          vocab().ticket_fields.duplicate_of,
        )
      : null;
    return el(
      "tr",
      { dataset: { ticketNo: ticket.ticket_no }, className: ticket.urgency === "urgent" ? "urgent" : "" },
      el(
        "td",
        { className: "nowrap" },
        el(
          "button",
          { type: "button", className: "link", onclick: () => openTicket(ticket.ticket_no) },
          ticket.ticket_no,
        ),
      ),
      el(
        "td",
        {},
        ticket.title,
        ticket.urgency === "urgent" ? el("span", { className: "badge red" }, "急") : null,
        duplicate,
      ),
      el("td", { className: "nowrap" }, category),
      el("td", {}, ticket.department || "—"),
      el("td", { className: "nowrap" }, ticket.assignee || "—"),
      el("td", { className: "nowrap" }, ticket.status),
      el("td", {}, slaNode(ticket)),
      el("td", { className: "nowrap" }, ...rowActions(ticket)),
    );
  }

  function remaining(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const days = Math.floor(total / 86400);
    const hours = Math.floor((total % 86400) / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return `${days ? days + "天 " : ""}${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  }

  // Red when past the deadline (or flagged overdue), amber when flagged at risk or when less
  // than the configured share of the window is left (wall clock; the server counts working time).
  function tick() {
    const now = Date.now();
    const fraction = state.meta ? state.meta.at_risk_fraction : 0.25;
    for (const node of document.querySelectorAll(".sla[data-deadline]")) {
      const deadline = Date.parse(node.dataset.deadline);
      const received = Date.parse(node.dataset.received);
      const left = deadline - now;
      const overdue = left <= 0 || node.dataset.overdue === "1";
      const atRisk = !overdue && (node.dataset.atRisk === "1" || left < fraction * (deadline - received));
      node.classList.toggle("sla-overdue", overdue);
      node.classList.toggle("sla-risk", atRisk);
      node.classList.toggle("sla-ok", !overdue && !atRisk);
      node.textContent =
        left <= 0
          ? `已超时 ${remaining(left)}`
          : `距${node.dataset.what}期限 ${remaining(left)}${overdue ? "（已超时）" : ""}`;
      node.title = `${node.dataset.what}期限：${fmtTime(node.dataset.deadline)}`;
    }
  }

  // --- ticket detail and transitions ------------------------------------------------------------------
  const TIME_FIELDS = ["received_at", "feedback_deadline", "completion_deadline", "feedback_at", "completed_at"];

  // Open a ticket; with `action`, also that step's form (prefilled with `values`).
  async function openTicket(ticketNo, action, values) {
    setError($("d-error"), "");
    const path = `/api/v1/tickets/${encodeURIComponent(ticketNo)}`;
    let notes = [];
    try {
      [state.current, notes] = await Promise.all([api("GET", path), api("GET", `${path}/notes`)]);
    } catch (err) {
      state.current = null;
      show($("detail-panel"), false);
      flash(err.message, "error");
      return;
    }
    renderDetail();
    renderNotes(notes);
    loadAssignable(ticketNo);
    const step = action && allowedSteps(state.current).find((s) => s.action === action);
    if (step) {
      openStep(step);
      for (const [name, value] of Object.entries(values || {})) {
        const control = $("d-step-form").querySelector(`[name="${name}"]`);
        if (control) control.value = value;
      }
    }
    $("detail-panel").scrollIntoView({ block: "nearest" });
  }

  // --- internal notes and assignment ------------------------------------------------------------------
  function renderNotes(notes) {
    $("d-notes").replaceChildren(
      ...notes.map((n) =>
        el(
          "li",
          { dataset: { noteId: n.id } },
          el("span", { className: "muted" }, fmtTime(n.at)),
          " ",
          el("strong", {}, n.author),
          "：",
          el("span", { className: "note-text" }, n.text),
        ),
      ),
    );
    show($("d-notes-empty"), notes.length === 0);
  }

  async function addNote(event) {
    event.preventDefault();
    const text = $("d-note-text").value.trim();
    if (!text || !state.current) return;
    const path = `/api/v1/tickets/${encodeURIComponent(state.current.ticket_no)}`;
    try {
      await api("POST", `${path}/notes`, { text });
      $("d-note-text").value = "";
      await openTicket(state.current.ticket_no);
      flash("备注已保存（仅工作人员可见）。", "ok");
    } catch (err) {
      setError($("d-error"), err.message);
    }
  }

  async function loadAssignable(ticketNo) {
    const select = $("d-assignee");
    select.replaceChildren(el("option", { value: "" }, "（未指派）"));
    try {
      const people = await api("GET", `/api/v1/tickets/${encodeURIComponent(ticketNo)}/assignable`);
      for (const p of people) {
        const where = p.department ? `，${p.department}` : "";
        select.append(el("option", { value: p.username }, `${p.username}（${p.role_label}${where}）`));
      }
    } catch (_err) {
      // a finished ticket or no right to assign: the menu stays empty
    }
    select.value = (state.current && state.current.assignee) || "";
  }

  async function assign(assignee) {
    const ticketNo = state.current.ticket_no;
    try {
      await api("POST", `/api/v1/tickets/${encodeURIComponent(ticketNo)}/assign`, { assignee: assignee || null });
      flash(assignee ? `工单 ${ticketNo} 已指派给 ${assignee}。` : `工单 ${ticketNo} 已取消指派。`, "ok");
      await openTicket(ticketNo);
      await reloadList();
    } catch (err) {
      setError($("d-error"), err.message);
    }
  }

  function renderDetail() {
    const t = state.current;
    $("d-ticket-no").textContent = t.ticket_no;
    const category = [t.category1, t.category2, t.category3].filter(Boolean).join("/");
    const values = { ...t, category };
    const rows = [];
    for (const [key, label] of Object.entries(vocab().ticket_fields)) {
      let value = values[key];
      if (value === null || value === undefined || value === "") continue;
      if (key === "escalation_level" && !value) continue;
      if (TIME_FIELDS.includes(key)) value = fmtTime(value);
      if (key === "urgency") value = vocab().urgency_labels[value] || value;
      if (key === "channel") value = vocab().channels[value] || value;
      rows.push(el("dt", {}, label), el("dd", { dataset: { field: key } }, String(value)));
    }
    $("d-fields").replaceChildren(...rows);
    $("d-sla").replaceChildren(slaNode(t));

    const steps = allowedSteps(t);
    $("d-actions").replaceChildren(
      ...steps.map((step) =>
        el(
          "button",
          { type: "button", dataset: { action: step.action }, onclick: () => openStep(step) },
          vocab().step_labels[step.action] || step.action,
        ),
      ),
    );
    show($("d-no-actions"), steps.length === 0);
    show($("d-step-form"), false);
    $("d-audit").replaceChildren(...(t.audit || []).map(renderAudit));
    show($("detail-panel"), true);
    tick();
  }

  function renderAudit(entry) {
    const changes = entry.changes || {};
    const parts = [];
    if (Array.isArray(changes.status)) parts.push(`${changes.status[0] || "—"} → ${changes.status[1]}`);
    if (Array.isArray(changes.department)) parts.push(`部门：${changes.department[1]}`);
    else if (typeof changes.department === "string") parts.push(`部门：${changes.department}`);
    if (typeof changes.category === "string") parts.push(`分类：${changes.category}`);
    if (changes.merged_into) parts.push(`合并至 ${changes.merged_into}`);
    if (changes.satisfaction) parts.push(`${vocab().ticket_fields.satisfaction}：${changes.satisfaction}`);
    if (changes.note) parts.push(`说明：${changes.note}`);
    if (Array.isArray(changes.assignee)) parts.push(`${vocab().ticket_fields.assignee}：${changes.assignee[1] || "—"}`);
    return el(
      "li",
      {},
      el("span", { className: "muted" }, fmtTime(entry.at)),
      " ",
      el("strong", {}, vocab().audit_labels[entry.action] || entry.action),
      ` · ${entry.actor}`,
      parts.length ? ` · ${parts.join("；")}` : "",
    );
  }

  function labelled(text, control) {
    return el("label", {}, text, " ", control);
  }

  function departmentSelect(exclude) {
    const select = el("select", { name: "department", required: true });
    for (const d of state.meta.departments) {
      if (d !== exclude) select.append(el("option", { value: d }, d));
    }
    return select;
  }

  // One small form per step, with what the lifecycle needs for it.
  function openStep(step) {
    const t = state.current;
    const form = $("d-step-form");
    const inputs = [];
    if (step.action === "dispatch") {
      const select = departmentSelect(null);
      if (t.department) select.value = t.department;
      inputs.push(labelled("交办至", select));
    } else if (step.action === "redispatch") {
      inputs.push(labelled("重新交办至", departmentSelect(t.department)));
    } else if (step.action === "feedback") {
      const reply = el("textarea", { name: "note", rows: 4, required: true });
      inputs.push(labelled("办理结果", reply), cannedReplies(reply));
    } else if (step.action === "return") {
      inputs.push(labelled("退回原因", el("textarea", { name: "note", rows: 3, required: true })));
    } else if (step.action === "callback") {
      const select = el("select", { name: "satisfaction", required: true });
      for (const s of vocab().satisfaction) select.append(el("option", { value: s }, s));
      inputs.push(labelled(vocab().ticket_fields.satisfaction, select));
      const result = el("textarea", { name: "callback_result", rows: 2 });
      inputs.push(labelled(vocab().ticket_fields.callback_result, result), cannedReplies(result));
    } else if (step.action === "merge") {
      inputs.push(
        labelled("合并至工单号", el("input", { name: "merged_into", required: true, maxlength: 20 })),
      );
    }
    if (!["feedback", "return"].includes(step.action)) {
      inputs.push(labelled("备注（可选）", el("input", { name: "note", maxlength: 2000 })));
    }
    const label = vocab().step_labels[step.action] || step.action;
    form.replaceChildren(
      el("h4", {}, `${label}：${t.status} → ${step.to}`),
      ...inputs,
      el(
        "div",
        { className: "buttons" },
        el("button", { type: "submit", id: "d-step-submit" }, `确认${label}`),
        el("button", { type: "button", className: "secondary", onclick: () => show(form, false) }, "取消"),
      ),
    );
    form.onsubmit = (event) => {
      event.preventDefault();
      submitStep(step, form);
    };
    show(form, true);
    setError($("d-error"), "");
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  // Canned replies: the knowledge base's best answers to this ticket, one click to insert.
  function cannedReplies(target) {
    const box = el("div", { className: "canned" });
    const list = el("ol", { className: "canned-list" });
    const button = el(
      "button",
      {
        type: "button",
        className: "secondary small canned-btn",
        onclick: async () => {
          const t = state.current;
          list.replaceChildren(el("li", { className: "muted" }, "查询中……"));
          try {
            const q = `${t.title}。${t.content}`.slice(0, 4000);
            const out = await api("GET", `/api/v1/suggest?q=${encodeURIComponent(q)}&k=3`);
            list.replaceChildren(
              ...out.suggestions.map((item) => {
                const text = cannedText(item);
                return el(
                  "li",
                  { className: "canned-item" },
                  el("strong", {}, item.title),
                  " ",
                  el("span", { className: "muted" }, text.slice(0, 60) + (text.length > 60 ? "…" : "")),
                  " ",
                  el(
                    "button",
                    {
                      type: "button",
                      className: "small insert-btn",
                      onclick: () => {
                        target.value = target.value ? `${target.value}\n${text}` : text;
                        target.focus();
                      },
                    },
                    "插入",
                  ),
                );
              }),
            );
            if (!out.suggestions.length) list.replaceChildren(el("li", { className: "muted" }, "知识库中没有相关答案。"));
          } catch (err) {
            list.replaceChildren(el("li", { className: "error" }, err.message));
          }
        },
      },
      "插入建议答案",
    );
    box.append(button, list);
    return box;
  }

  // The words a reply can use from a suggestion: an FAQ's answer, a guide's key fields, a policy's text.
  function cannedText(item) {
    const summary = item.summary || {};
    if (summary.answer) return String(summary.answer);
    if (summary.text) return String(summary.text);
    const parts = [];
    for (const [key, value] of Object.entries(summary)) {
      if (key === "source" || value === null || value === "") continue;
      parts.push(`${itemLabels()[key] || key}：${fieldValue(value)}`);
    }
    return `${item.title}。${parts.join("；")}`;
  }

  async function submitStep(step, form) {
    const body = { to: step.to };
    for (const control of form.querySelectorAll("[name]")) {
      const value = control.value.trim();
      if (value) body[control.name] = value;
    }
    const ticketNo = state.current.ticket_no;
    try {
      await api("POST", `/api/v1/tickets/${encodeURIComponent(ticketNo)}/transitions`, body);
      flash(`工单 ${ticketNo} 已${vocab().step_labels[step.action] || step.action}。`, "ok");
      await openTicket(ticketNo);
      await reloadList();
    } catch (err) {
      setError($("d-error"), err.message);
    }
  }

  // --- live updates and the SLA alert -------------------------------------------------------------------
  let pollTimer = null;
  let polling = false;

  // Every refresh_seconds: the list in place (not while a step form is being filled in), and an
  // alert for open tickets about to breach (flagged by the sweeper, or under the at-risk share).
  async function poll() {
    if (!state.me || polling) return;
    polling = true;
    try {
      if (!$("d-step-form").contains(document.activeElement)) await reloadList();
      await checkAlerts();
    } finally {
      polling = false;
    }
  }

  function aboutToBreach(ticket, now) {
    const target = slaTarget(ticket);
    if (!target || ticket.overdue) return false;
    const deadline = Date.parse(target.deadline);
    const received = Date.parse(ticket.received_at);
    const left = deadline - now;
    return left > 0 && (ticket.at_risk || left < state.meta.at_risk_fraction * (deadline - received));
  }

  async function checkAlerts() {
    const queue = isCentre() ? "open" : state.me.department ? "department" : "mine";
    let open = [];
    try {
      open = await api("GET", `/api/v1/tickets?queue=${queue}&limit=500`);
    } catch (_err) {
      return;
    }
    const now = Date.now();
    const risky = open.filter((t) => aboutToBreach(t, now));
    const fresh = risky.filter((t) => !state.alerted.has(t.ticket_no));
    for (const t of risky) state.alerted.add(t.ticket_no);
    if (!risky.length) {
      show($("sla-alert"), false);
      return;
    }
    $("sla-alert-text").textContent = `${risky.length} 件工单即将超时`;
    $("sla-alert-list").replaceChildren(
      ...risky.slice(0, 5).map((t) =>
        el("button", { type: "button", className: "link", onclick: () => openTicket(t.ticket_no) }, t.ticket_no),
      ),
    );
    show($("sla-alert"), true);
    if (fresh.length) $("sla-alert").classList.add("pulse");
  }

  // --- keyboard ----------------------------------------------------------------------------------------
  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function onKey(event) {
    if (!state.me || $("app-view").hidden) return;
    if (event.key === "/" && !typing(event.target) && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      $("search-q").focus();
    } else if (event.key === "Escape" && !$("detail-panel").hidden) {
      show($("detail-panel"), false);
      $("search-q").focus();
    } else if (event.altKey && /^[1-9]$/.test(event.key)) {
      const tab = $("queue-tabs").children[Number(event.key) - 1];
      if (tab) {
        event.preventDefault();
        tab.click();
        tab.focus();
      }
    } else if (event.altKey && event.code === "KeyR") {
      event.preventDefault();
      reloadList();
    } else if (event.altKey && event.code === "KeyN" && !$("detail-panel").hidden) {
      event.preventDefault();
      $("d-note-text").focus();
    } else if (event.altKey && event.code === "KeyQ" && isCentre()) {
      event.preventDefault();
      $("question").focus();
    }
  }

  // What the administration pages (admin.js) share with the desk: one API client, one DOM helper.
  const shared = { api, el, show, setError, flash, fmtTime, state, vocab, openTicket, loadQueue };
  window.govbotConsole = shared;

  // --- wiring -----------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("logout-btn").addEventListener("click", () => {
      // revoke the token on the server too (and leave the live-chat desk), then forget it here
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) {
        fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` }, keepalive: true })
          .catch(() => {});
      }
      logout("");
    });
    $("suggest-form").addEventListener("submit", suggest);
    $("draft-btn").addEventListener("click", draftTicket);
    $("create-form").addEventListener("submit", createTicket);
    $("create-cancel").addEventListener("click", () => show($("create-panel"), false));
    $("refresh-btn").addEventListener("click", () => state.me && reloadList());
    $("detail-close").addEventListener("click", () => show($("detail-panel"), false));
    $("search-form").addEventListener("submit", search);
    $("search-clear").addEventListener("click", clearSearch);
    $("d-note-form").addEventListener("submit", addNote);
    $("d-assign-form").addEventListener("submit", (event) => {
      event.preventDefault();
      assign($("d-assignee").value);
    });
    $("d-take-btn").addEventListener("click", () => assign(state.me.name));
    $("sla-alert-open").addEventListener("click", () => {
      $("sla-alert").classList.remove("pulse");
      loadQueue("at_risk");
    });
    document.addEventListener("keydown", onKey);
    $("f-urgent").addEventListener("change", () => {
      if (!$("f-urgent").checked) $("f-urgent-reason").value = "";
    });
    setInterval(tick, 1000);
    state.token = sessionStorage.getItem(TOKEN_KEY);
    if (state.token) {
      start().catch((err) => logout(err.message));
    }
  });
})();
