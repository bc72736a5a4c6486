// govbot administration pages (supervisors and admins): accounts, knowledge items, unanswered
// questions into FAQs, closed tickets into FAQs, and the staff actions log. It uses the desk's
// API client and DOM helper (console.js, window.govbotConsole); labels come from /api/v1/vocab
// through it. The server checks every role: the page only hides what a role may not do.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let c = null; // the desk's shared helpers, once logged in

  const isOverseer = () => c && c.vocab().overseer_roles.includes(c.state.me.role);

  function showView(admin) {
    c.show($("admin-view"), admin);
    c.show($("app-view"), !admin);
    $("nav-admin").classList.toggle("active", admin);
    $("nav-desk").classList.toggle("active", !admin);
    $("nav-admin").setAttribute("aria-pressed", String(admin));
    $("nav-desk").setAttribute("aria-pressed", String(!admin));
    if (admin) loadAll();
  }

  async function loadAll() {
    await Promise.all([loadUsers(), searchItems(), loadUnanswered(), loadPromotable(), loadActions()]);
  }

  // --- accounts ------------------------------------------------------------------------------
  function fillUserForm() {
    const v = c.vocab();
    // every role is offered; the server refuses an admin account to anyone but an admin
    $("u-role").replaceChildren(...Object.entries(v.roles).map(([r, label]) => c.el("option", { value: r }, label)));
    $("u-department").replaceChildren(
      c.el("option", { value: "" }, "（无）"),
      ...c.state.meta.departments.map((d) => c.el("option", { value: d }, d)),
    );
    $("kb-kind").replaceChildren(
      c.el("option", { value: "" }, "全部类型"),
      ...Object.entries(v.item_kinds).map(([k, label]) => c.el("option", { value: k === "policy" ? "chunk" : k }, label)),
    );
  }

  async function loadUsers() {
    c.setError($("users-error"), "");
    try {
      const users = await c.api("GET", "/api/v1/admin/users");
      $("users-body").replaceChildren(...users.map(renderUser));
    } catch (err) {
      c.setError($("users-error"), err.message);
    }
  }

  function renderUser(user) {
    const v = c.vocab();
    const role = c.el("select", { "aria-label": `${user.username} 的角色` });
    for (const [r, label] of Object.entries(v.roles)) role.append(c.el("option", { value: r }, label));
    role.value = user.role;
    const department = c.el("select", { "aria-label": `${user.username} 的部门` });
    department.append(c.el("option", { value: "" }, "（无）"));
    for (const d of c.state.meta.departments) department.append(c.el("option", { value: d }, d));
    department.value = user.department || "";
    const self = user.username === c.state.me.name;
    const button = (text, cls, onclick) =>
      c.el("button", { type: "button", className: `small ${cls}`, disabled: self && cls.includes("toggle"), onclick }, text);
    return c.el(
      "tr",
      { dataset: { username: user.username }, className: user.active ? "" : "inactive" },
      c.el("td", {}, user.username),
      c.el("td", {}, role),
      c.el("td", {}, department),
      c.el("td", { className: "nowrap" }, user.active ? "启用" : "已停用"),
      c.el(
        "td",
        { className: "nowrap" },
        button("保存", "save-btn", () => changeUser({ username: user.username, role: role.value, department: department.value })),
        button("重置密码", "secondary reset-btn", () => resetPassword(user.username)),
        button(user.active ? "停用" : "启用", "secondary toggle-btn", () =>
          changeUser({ username: user.username, active: !user.active }),
        ),
      ),
    );
  }

  async function createUser(event) {
    event.preventDefault();
    c.setError($("users-error"), "");
    const body = {
      username: $("u-name").value.trim(),
      password: $("u-password").value,
      role: $("u-role").value,
      department: $("u-department").value || null,
    };
    try {
      await c.api("POST", "/api/v1/admin/users", body);
      $("user-create-form").reset();
      c.flash(`已创建用户 ${body.username}。`, "ok");
      await Promise.all([loadUsers(), loadActions()]);
    } catch (err) {
      c.setError($("users-error"), err.message);
    }
  }

  async function changeUser(body) {
    c.setError($("users-error"), "");
    try {
      const out = await c.api("POST", "/api/v1/admin/users/update", body);
      const what = Object.keys(out.changed).length ? "已保存" : "没有变化";
      c.flash(`${body.username}：${what}。`, "ok");
      await Promise.all([loadUsers(), loadActions()]);
    } catch (err) {
      c.setError($("users-error"), err.message);
    }
  }

  function resetPassword(username) {
    const password = window.prompt(`为 ${username} 设置新密码（至少 8 位）：`);
    if (password) changeUser({ username, password });
  }

  // --- knowledge items -------------------------------------------------------------------------
  async function searchItems(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams({ q: $("kb-q").value.trim(), limit: "50" });
    if ($("kb-kind").value) params.set("kind", $("kb-kind").value);
    c.setError($("kb-error"), "");
    try {
      const rows = await c.api("GET", `/api/v1/admin/kb/items?${params}`);
      $("kb-body").replaceChildren(...rows.map(renderItem));
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  function renderItem(row) {
    const kinds = c.vocab().item_kinds;
    return c.el(
      "tr",
      { dataset: { itemId: row.id } },
      c.el("td", { className: "nowrap" }, row.id),
      c.el("td", { className: "nowrap" }, kinds[row.kind] || kinds.policy || row.kind),
      c.el("td", {}, row.title),
      c.el("td", {}, row.source),
      c.el(
        "td",
        { className: "nowrap" },
        c.el("button", { type: "button", className: "small edit-btn", onclick: () => editItem(row.id) }, "查看/编辑"),
        c.el("button", { type: "button", className: "small secondary unpublish-btn", onclick: () => unpublish(row) }, "下架"),
      ),
    );
  }

  async function editItem(id) {
    try {
      const item = await c.api("GET", `/api/v1/kb/items/${encodeURIComponent(id)}`);
      delete item.title; // derived from the name or question
      $("kb-edit-id").textContent = id;
      $("kb-edit-json").value = JSON.stringify(item, null, 2);
      c.show($("kb-edit-form"), true);
      $("kb-edit-json").focus();
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  async function saveItem(event) {
    event.preventDefault();
    const id = $("kb-edit-id").textContent;
    let record;
    try {
      record = JSON.parse($("kb-edit-json").value);
    } catch (err) {
      c.setError($("kb-error"), `JSON 格式错误：${err.message}`);
      return;
    }
    try {
      await c.api("POST", "/api/v1/admin/kb/items/update", { item_id: id, record });
      c.show($("kb-edit-form"), false);
      c.flash(`条目 ${id} 已保存，所有服务进程将自动更新。`, "ok");
      await Promise.all([searchItems(), loadActions()]);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  async function unpublish(row) {
    if (!window.confirm(`确定下架“${row.title}”（${row.id}）？下架后机器人不再用它回答。`)) return;
    try {
      await c.api("POST", "/api/v1/admin/kb/unpublish", { item_id: row.id });
      c.flash(`已下架 ${row.id}。`, "ok");
      await Promise.all([searchItems(), loadActions()]);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  async function importFile(event) {
    event.preventDefault();
    const file = $("kb-file").files[0];
    if (!file) return;
    c.setError($("kb-error"), "");
    const report = $("kb-import-report");
    report.replaceChildren(c.el("p", { className: "muted" }, `正在导入 ${file.name}……`));
    c.show(report, true);
    try {
      const response = await fetch(`/api/v1/admin/kb/import?filename=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${c.state.token}`, "Content-Type": "application/octet-stream" },
        body: file,
      });
      const out = await response.json();
      if (!response.ok) throw new Error(`${response.status}：${typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail)}`);
      renderReport(out);
      $("kb-import-form").reset();
      await Promise.all([searchItems(), loadActions()]);
    } catch (err) {
      c.show(report, false);
      c.setError($("kb-error"), `导入失败：${err.message}`);
    }
  }

  function renderReport(out) {
    const line = `${out.filename}：读取 ${out.read} 条（新增 ${out.added}，更新 ${out.changed}，向量 ${out.embedded}），拒绝 ${out.rejected} 条`;
    const children = [c.el("p", { className: "report-summary" }, line)];
    if (out.removed_sample) children.push(c.el("p", { className: "warning" }, `已移除内置示例知识 ${out.removed_sample} 条。`));
    if (out.errors.length) children.push(c.el("ul", { className: "report-errors" }, ...out.errors.map((e) => c.el("li", {}, e))));
    const kept = Object.entries(out.kept_fields).map(([k, n]) => `${k}（${n}）`).join("、");
    if (kept) children.push(c.el("p", { className: "muted" }, `保留字段：${kept}`));
    const dropped = Object.entries(out.dropped_keys).map(([k, n]) => `${k}（${n}）`).join("、");
    if (dropped) children.push(c.el("p", { className: "muted" }, `未识别字段：${dropped}`));
    $("kb-import-report").replaceChildren(...children);
  }

  // --- unanswered questions -------------------------------------------------------------------------
  async function loadUnanswered() {
    try {
      const rows = await c.api("GET", "/api/v1/admin/unanswered?limit=100");
      $("unanswered-body").replaceChildren(...rows.map(renderQuestion));
      c.show($("unanswered-empty"), rows.length === 0);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  function renderQuestion(row) {
    return c.el(
      "tr",
      { dataset: { questionId: row.id } },
      c.el("td", { className: "nowrap" }, c.fmtTime(row.at)),
      c.el("td", { className: "nowrap" }, c.vocab().channels[row.channel] || row.channel),
      c.el("td", {}, row.text),
      c.el(
        "td",
        {},
        c.el("button", { type: "button", className: "small faq-btn", onclick: () => openFaq(row) }, "编写常见问题"),
      ),
    );
  }

  function openFaq(row) {
    $("faq-form").reset();
    $("faq-question-id").value = String(row.id);
    $("faq-question").value = row.text;
    c.show($("faq-form"), true);
    $("faq-answer").focus();
  }

  async function saveFaq(event) {
    event.preventDefault();
    const body = {
      question_id: Number($("faq-question-id").value),
      question: $("faq-question").value.trim(),
      answer: $("faq-answer").value.trim(),
      alt_questions: $("faq-alt").value.split("\n").map((q) => q.trim()).filter(Boolean),
    };
    try {
      const out = await c.api("POST", "/api/v1/admin/unanswered/faq", body);
      c.show($("faq-form"), false);
      c.flash(`已发布常见问题 ${out.item_id}，所有服务进程将自动更新。`, "ok");
      await Promise.all([loadUnanswered(), searchItems(), loadActions()]);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  // --- closed tickets into FAQs -----------------------------------------------------------------------
  async function loadPromotable() {
    try {
      const rows = await c.api("GET", "/api/v1/tickets?queue=closed&limit=50");
      $("promotion-body").replaceChildren(...rows.map(renderPromotable));
      c.show($("promotion-empty"), rows.length === 0);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  function renderPromotable(ticket) {
    return c.el(
      "tr",
      { dataset: { ticketNo: ticket.ticket_no } },
      c.el("td", { className: "nowrap" }, ticket.ticket_no),
      c.el("td", {}, ticket.title),
      c.el("td", {}, ticket.category1 || "—"),
      c.el(
        "td",
        {},
        c.el("button", { type: "button", className: "small promote-btn", onclick: () => promote(ticket.ticket_no) }, c.vocab().audit_labels.promote_faq),
      ),
    );
  }

  async function promote(ticketNo) {
    try {
      const out = await c.api("POST", `/api/v1/tickets/${encodeURIComponent(ticketNo)}/promote-faq`, {});
      c.flash(`工单 ${ticketNo} 的答复已成为常见问题 ${out.item_id}。`, "ok");
      await Promise.all([searchItems(), loadActions()]);
    } catch (err) {
      c.setError($("kb-error"), err.message);
    }
  }

  // --- the staff actions log -----------------------------------------------------------------------------
  async function loadActions() {
    try {
      const rows = await c.api("GET", "/api/v1/admin/actions?limit=50");
      const labels = c.vocab().staff_action_labels;
      $("actions-list").replaceChildren(
        ...rows.map((a) =>
          c.el(
            "li",
            {},
            c.el("span", { className: "muted" }, c.fmtTime(a.at)),
            " ",
            c.el("strong", {}, labels[a.action] || a.action),
            ` · ${a.actor} · ${a.target} · ${JSON.stringify(a.details)}`,
          ),
        ),
      );
    } catch (_err) {
      // shown by the other panels
    }
  }

  // --- wiring ----------------------------------------------------------------------------------------------
  document.addEventListener("govbot:login", (event) => {
    c = event.detail;
    const overseer = isOverseer();
    c.show($("nav-admin"), overseer);
    if (overseer) fillUserForm();
    showView(false);
  });
  document.addEventListener("govbot:logout", () => {
    if (c) c.show($("admin-view"), false);
    c = null;
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("nav-desk").addEventListener("click", () => c && showView(false));
    $("nav-admin").addEventListener("click", () => c && isOverseer() && showView(true));
    $("user-create-form").addEventListener("submit", createUser);
    $("kb-search-form").addEventListener("submit", searchItems);
    $("kb-edit-form").addEventListener("submit", saveItem);
    $("kb-edit-cancel").addEventListener("click", () => c.show($("kb-edit-form"), false));
    $("kb-import-form").addEventListener("submit", importFile);
    $("faq-form").addEventListener("submit", saveFaq);
    $("faq-cancel").addEventListener("click", () => c.show($("faq-form"), false));
  });
})();
