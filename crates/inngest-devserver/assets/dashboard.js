// The dev server's dashboard: plain DOM, no build step. Every view reads the JSON API and
// redraws on the server's change stream (`/v1/stream`). All text from the server goes in
// through `textContent` (never `innerHTML`): event names and payloads are anyone's input.
"use strict";

// ---- DOM and formatting helpers -------------------------------------------------------

/** An element: `h("a", {href: "/"}, "text", child…)`; `on*` attributes become listeners. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    // The page's policy refuses style attributes; properties set from script are fine.
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `2026-12-02 10:00:00.123` (UTC) of an RFC 3339 time or Unix ms. */
function fmtTime(t) {
  if (t === null || t === undefined) return "—";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toISOString().replace("T", " ").replace("Z", "");
}

/** `340ms`, `1.2s`, `3m 20s`, `2d 4h`. */
function fmtDuration(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return "—";
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return ms + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + "s";
  const units = [["d", 86400000], ["h", 3600000], ["m", 60000], ["s", 1000]];
  const parts = [];
  for (const [u, n] of units) {
    if (ms >= n && parts.length < 2) {
      parts.push(Math.floor(ms / n) + u);
      ms %= n;
    } else if (parts.length) break;
  }
  return parts.join(" ");
}

function json(v) {
  return JSON.stringify(v, null, 2);
}

/** A collapsible JSON block. */
function jsonBlock(summary, value, open) {
  return h("details", { class: "json", open: !!open },
    h("summary", {}, summary),
    h("pre", {}, h("code", {}, json(value))));
}

/** `el` with `children` appended. */
function withChildren(el, ...children) {
  el.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** A `<div><dt>label</dt><dd>value</dd></div>` pair of a facts list. */
function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function statusBadge(status) {
  const label = status === "cut" ? "cut off" : status;
  return h("span", { class: "badge status-" + String(status).toLowerCase() }, label);
}

function ms(t) {
  return t ? new Date(t).getTime() : null;
}

// ---- the API --------------------------------------------------------------------------

class ApiError extends Error {}

/** Calls the API; throws an `ApiError` with the server's message on a 4xx/5xx. */
async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (opts.body !== undefined && typeof opts.body !== "string") {
    opts.body = JSON.stringify(opts.body);
    opts.headers["content-type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError("the dev server does not answer (" + e.message + ")");
  }
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!resp.ok) {
    const message = body && body.error ? body.error : resp.status + " " + resp.statusText;
    throw new ApiError(message);
  }
  return body;
}

function notice(message, kind) {
  const el = document.getElementById("notice");
  el.textContent = message;
  el.className = "notice " + (kind || "error");
  el.hidden = !message;
}

/** Runs an action from a button, showing its error (and keeping the button from double use). */
async function act(button, work) {
  button.disabled = true;
  notice("");
  try {
    await work();
  } catch (e) {
    notice(e.message);
  } finally {
    button.disabled = false;
  }
}

// ---- routing --------------------------------------------------------------------------

const views = {};
let current = null; // {name, params, refresh}

function route() {
  const path = location.pathname;
  let m;
  if ((m = path.match(/^\/runs\/([^/]+)$/))) {
    let id = m[1];
    try { id = decodeURIComponent(id); } catch (_) { /* shown as written: the API says it is unknown */ }
    return ["run", { id }];
  }
  if (path === "/events") return ["events", {}];
  if (path === "/apps") return ["apps", {}];
  if (path === "/functions") return ["functions", {}];
  return ["runs", {}];
}

function go(href) {
  history.pushState(null, "", href);
  render();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[href^='/']");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  if (a.getAttribute("href").startsWith("/v1/")) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

function render() {
  const [name, params] = route();
  for (const a of document.querySelectorAll("nav a")) {
    const on = a.dataset.section === (name === "run" ? "runs" : name);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  notice("");
  if (pending) { clearTimeout(pending); pending = null; }
  current = { name, params, refresh: null };
  const mine = current;
  views[name](main, params, mine).catch((e) => {
    if (current === mine) notice(e.message);
  });
}

// Redraws on changes, at most every 250 ms.
let pending = null;

/** A counter of a view's loads: an answer is drawn only if no newer load started since. */
function loads() {
  let n = 0;
  return { next: () => ++n, stale: (k) => k !== n };
}
function changed(kind, change) {
  if (!current || !current.refresh || !current.refresh.wants(kind, change)) return;
  if (pending) return;
  const view = current;
  pending = setTimeout(() => {
    pending = null;
    if (current === view) view.refresh.run().catch((e) => notice(e.message));
  }, 250);
}

// ---- runs list ------------------------------------------------------------------------

async function functionsList() {
  const apps = (await api("/v1/apps")).data;
  return apps.flatMap((a) => a.functions.map((f) => Object.assign({ app: a.id }, f)));
}

views.runs = async (main, _params, view) => {
  const q = new URLSearchParams(location.search);
  const status = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "any status"),
    ["Running", "Completed", "Failed", "Cancelled"].map((s) => h("option", { value: s, selected: q.get("status") === s }, s)));
  const fn = h("select", { id: "filter-function", name: "function_id" }, h("option", { value: "" }, "any function"));
  const from = h("input", { id: "filter-from", name: "from", type: "datetime-local", step: 1, value: q.get("from") || "" });
  const to = h("input", { id: "filter-to", name: "to", type: "datetime-local", step: 1, value: q.get("to") || "" });
  const filters = h("form", { class: "filters", id: "run-filters", "aria-label": "Filter runs" },
    h("label", {}, "Status ", status),
    h("label", {}, "Function ", fn),
    h("label", {}, "Started from ", from),
    h("label", {}, "to ", to),
    h("span", { class: "muted" }, "(UTC, as every time here)"));
  const count = h("p", { class: "count", id: "run-count", "aria-live": "polite" });
  const body = h("tbody", { id: "runs" });
  const more = h("button", { type: "button", id: "more-runs", hidden: true }, "Load more");
  main.append(
    h("h1", {}, "Runs"), filters, count,
    h("div", { class: "scroll" },
      h("table", { class: "list" },
        h("thead", {}, h("tr", {},
          ["Run", "Function", "Status", "Started", "Duration", "Steps"].map((c) => h("th", { scope: "col" }, c)))),
        body)),
    more);

  for (const f of await functionsList()) {
    fn.append(h("option", { value: f.id, selected: q.get("function_id") === f.id }, f.name + " (" + f.id + ")"));
  }

  let shown = 50;
  let next = null;
  const query = (limit, before) => {
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (fn.value) p.set("function_id", fn.value);
    if (from.value) p.set("from", new Date(from.value + "Z").toISOString());
    if (to.value) p.set("to", new Date(to.value + "Z").toISOString());
    p.set("limit", String(limit));
    if (before) p.set("before", before);
    return p;
  };
  const row = (r) => {
    const end = r.ended_at ? ms(r.ended_at) : null;
    return h("tr", { class: "run", "data-run": r.run_id },
      h("td", {}, h("a", { href: "/runs/" + encodeURIComponent(r.run_id) }, h("code", {}, r.run_id))),
      h("td", {}, r.function_id),
      h("td", {}, statusBadge(r.status)),
      h("td", {}, fmtTime(r.run_started_at)),
      h("td", {}, end ? fmtDuration(end - ms(r.run_started_at)) : "running"),
      h("td", { class: "num" }, String(r.steps.length)));
  };
  const seq = loads();
  const load = async () => {
    const limit = Math.min(Math.max(shown, 50), 1000);
    const mine = seq.next();
    const answer = await api("/v1/runs?" + query(limit).toString());
    if (view !== current || seq.stale(mine)) return;
    next = answer.metadata.next_before;
    body.replaceChildren(...answer.data.map(row));
    if (!answer.data.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No runs yet: send an event or invoke a function.")));
    count.textContent = answer.metadata.total + (answer.metadata.total === 1 ? " run" : " runs");
    more.hidden = !next;
  };
  more.addEventListener("click", () => act(more, async () => {
    const mine = seq.next();
    const answer = await api("/v1/runs?" + query(50, next).toString());
    if (view !== current || seq.stale(mine)) return;
    next = answer.metadata.next_before;
    body.append(...answer.data.map(row));
    shown = body.children.length;
    more.hidden = !next;
  }));
  filters.addEventListener("change", () => {
    const p = query(50);
    p.delete("limit");
    if (from.value) p.set("from", from.value); else p.delete("from");
    if (to.value) p.set("to", to.value); else p.delete("to");
    history.replaceState(null, "", "/" + (p.toString() ? "?" + p : ""));
    shown = 50;
    load().catch((e) => notice(e.message));
  });
  view.refresh = { wants: (kind) => kind === "run", run: load };
  await load();
};

// ---- one run --------------------------------------------------------------------------

const spanLabels = { run: "step", sleep: "sleep", wait: "wait for event", invoke: "invoke" };

/** The timeline; `opened` remembers which spans the user opened or closed across redraws. */
function timeline(trace, now, opened) {
  const start = trace.started_ms;
  const end = Math.max(trace.ended_ms || now, ...trace.spans.map((s) => s.ended_ms || now), start + 1);
  const total = end - start;
  const pct = (t) => (100 * (t - start) / total).toFixed(3) + "%";
  const width = (a, b) => Math.max(0.4, 100 * (b - a) / total).toFixed(3) + "%";
  const place = (a, b) => ({ left: pct(a), width: width(a, b) });
  const axis = h("div", { class: "axis-row", "aria-hidden": "true" },
    h("span", { class: "axis-label" }, "from the run's start"),
    h("div", { class: "axis" },
      [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", { style: { left: (f * 100) + "%" } }, "+" + fmtDuration(f * total)))));
  const rows = trace.spans.map((s, i) => {
    const stop = s.ended_ms || now;
    const queued = s.queued_ms !== null && s.queued_ms < s.started_ms ? s.queued_ms : null;
    const bar = h("div", { class: "track" },
      queued !== null ? h("span", { class: "bar queue", style: place(queued, s.started_ms), title: "queued " + fmtDuration(s.started_ms - queued) }) : null,
      h("span", { class: "bar kind-" + s.kind + " st-" + s.status, style: place(s.started_ms, stop), title: fmtDuration(stop - s.started_ms) }));
    const what = [spanLabels[s.kind] || s.kind, s.attempt > 0 ? "attempt " + (s.attempt + 1) : null].filter(Boolean).join(" · ");
    const details = h("div", { class: "span-details" },
      h("dl", {},
        h("dt", {}, "op"), h("dd", {}, s.op),
        h("dt", {}, "started"), h("dd", {}, fmtTime(s.started_ms)),
        h("dt", {}, "ended"), h("dd", {}, s.ended_ms ? fmtTime(s.ended_ms) : "not yet"),
        queued !== null ? [h("dt", {}, "queue delay"), h("dd", {}, fmtDuration(s.started_ms - queued))] : null,
        s.detail ? [h("dt", {}, "waits"), h("dd", {}, s.detail)] : null,
        s.retry_at ? [h("dt", {}, "next attempt"), h("dd", {}, fmtTime(s.retry_at))] : null),
      s.error ? h("div", { class: "error-box" },
        h("strong", {}, (s.error.name || "Error") + ": " + (s.error.message || "")),
        jsonBlock("error", s.error)) : null,
      s.output !== undefined && s.output !== null ? jsonBlock("output", s.output, true) : null);
    const key = s.id + "/" + s.attempt;
    const open = opened.has(key) ? opened.get(key) : (s.status !== "completed" || i === trace.spans.length - 1);
    const box = h("details", { open: open || null });
    box.addEventListener("toggle", () => opened.set(key, box.open));
    return h("li", { class: "span st-" + s.status, "data-step": s.name, "data-attempt": s.attempt },
      withChildren(box,
        h("summary", {},
          h("span", { class: "span-name" }, s.name),
          h("span", { class: "span-kind" }, what),
          h("span", { class: "span-status" }, statusBadge(s.status)),
          h("span", { class: "span-time" }, fmtDuration(stop - s.started_ms)),
          bar),
        details));
  });
  return h("section", { class: "timeline", "aria-label": "Timeline" },
    h("h2", {}, "Timeline"), axis,
    rows.length ? h("ol", { class: "spans", id: "spans" }, rows) : h("p", { class: "empty" }, "No step reported yet."));
}

views.run = async (main, params, view) => {
  const id = params.id;
  const opened = new Map();
  const seq = loads();
  const draw = async () => {
    const mine = seq.next();
    const trace = (await api("/v1/runs/" + encodeURIComponent(id) + "/trace")).data;
    if (view !== current || seq.stale(mine)) return;
    const r = trace.run;
    const now = serverNow();
    const ended = trace.ended_ms;
    const actions = h("div", { class: "actions" },
      h("button", { type: "button", id: "rerun", onclick: (e) => act(e.currentTarget, async () => {
        const made = (await api("/v1/runs/" + encodeURIComponent(id) + "/rerun", { method: "POST" })).data;
        go("/runs/" + encodeURIComponent(made.run_id));
      }) }, "Rerun"),
      r.status === "Running" ? h("button", { type: "button", id: "cancel", class: "danger", onclick: (e) => act(e.currentTarget, async () => {
        await api("/v1/runs/" + encodeURIComponent(id), { method: "DELETE" });
        await draw();
      }) }, "Cancel") : null,
      h("button", { type: "button", id: "invoke-again", onclick: (e) => act(e.currentTarget, async () => {
        const data = (trace.events[0] && trace.events[0].data) || {};
        const made = (await api("/v1/functions/" + encodeURIComponent(r.function_id) + "/invoke", { method: "POST", body: { data } })).data;
        go("/runs/" + encodeURIComponent(made.run_id));
      }) }, "Invoke again"));
    const header = h("header", { class: "run-header" },
      h("h1", {}, r.function_id, " ", statusBadge(r.status)),
      h("p", { class: "run-id" }, "Run ", h("code", { id: "run-id" }, r.run_id)),
      h("dl", { class: "facts row" },
        fact("Queued", fmtTime(trace.started_ms)),
        fact("Started", fmtTime(trace.spans.length ? Math.min(...trace.spans.map((s) => s.started_ms)) : trace.started_ms)),
        fact("Ended", ended ? fmtTime(ended) : "—"),
        fact("Duration", h("span", { id: "duration" }, fmtDuration((ended || now) - trace.started_ms))),
        r.parent_run_id ? fact("Invoked by", h("a", { href: "/runs/" + encodeURIComponent(r.parent_run_id) }, r.parent_run_id)) : null),
      actions);
    const event = trace.events[0] || null;
    const output = r.output !== null && r.output !== undefined
      ? h("section", { class: "output", id: "output", "aria-label": "Output" },
        h("h2", {}, r.status === "Failed" ? "Error" : "Output"), jsonBlock(r.status === "Failed" ? "error" : "output", r.output, true))
      : null;
    main.replaceChildren(...[
      h("p", { class: "crumbs" }, h("a", { href: "/" }, "Runs"), " / ", r.run_id),
      header,
      timeline(trace, now, opened),
      output,
      h("section", { class: "trigger-event", id: "trigger", "aria-label": "Trigger" },
        h("h2", {}, "Trigger"),
        event ? [h("p", {}, h("code", {}, event.name || ""), " ", event.id ? h("span", { class: "muted" }, event.id) : null),
          jsonBlock(trace.events.length > 1 ? trace.events.length + " events" : "event", trace.events.length > 1 ? trace.events : event, false)] : h("p", {}, "No event."))].filter(Boolean));
  };
  view.refresh = { wants: (kind, c) => kind === "clock" || (kind === "run" && c.run_id === id), run: draw };
  await draw();
};

// ---- events ---------------------------------------------------------------------------

views.events = async (main, _params, view) => {
  const name = h("input", { id: "event-name", name: "name", required: true, placeholder: "app/user.created", autocomplete: "off" });
  const data = h("textarea", { id: "event-data", name: "data", rows: 6, spellcheck: "false", "aria-describedby": "event-data-help" }, "{}");
  const help = h("p", { id: "event-data-help", class: "help", "aria-live": "polite" }, "The event's data, a JSON object.");
  const send = h("button", { type: "submit", id: "send-event" }, "Send event");
  const form = h("form", { class: "card", id: "send-form", "aria-label": "Send an event" },
    h("h2", {}, "Send an event"),
    h("label", { for: "event-name" }, "Name"), name,
    h("label", { for: "event-data" }, "Data"), data, help, send);
  const check = () => {
    try {
      const v = JSON.parse(data.value || "{}");
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("data must be a JSON object");
      data.setCustomValidity("");
      help.textContent = "The event's data, a JSON object.";
      help.className = "help";
      return v;
    } catch (e) {
      data.setCustomValidity(e.message);
      help.textContent = "Not valid: " + e.message;
      help.className = "help invalid";
      return null;
    }
  };
  data.addEventListener("input", check);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = check();
    if (value === null) return;
    act(send, async () => {
      const answer = await api("/e/dashboard", { method: "POST", body: { name: name.value.trim(), data: value } });
      await load();
      notice("Sent " + name.value.trim() + " (" + answer.ids.join(", ") + ")", "ok");
    });
  });
  const list = h("ol", { class: "events", id: "events" });
  const more = h("button", { type: "button", id: "more-events", hidden: true }, "Load more");
  const only = h("input", { id: "filter-event-name", name: "name", placeholder: "any name", autocomplete: "off", value: new URLSearchParams(location.search).get("name") || "" });
  const filter = h("form", { class: "filters", id: "event-filters", "aria-label": "Filter events" },
    h("label", {}, "Name ", only));
  const named = () => (only.value.trim() ? "&name=" + encodeURIComponent(only.value.trim()) : "");
  filter.addEventListener("submit", (e) => e.preventDefault());
  filter.addEventListener("change", () => {
    history.replaceState(null, "", "/events" + (only.value.trim() ? "?name=" + encodeURIComponent(only.value.trim()) : ""));
    shown = 50;
    load().catch((e) => notice(e.message));
  });
  main.append(h("h1", {}, "Events"), form, h("h2", {}, "Received"), filter, list, more);
  let next = null;
  let shown = 50;
  const seq = loads();
  const item = (ev) => {
    const e = ev.event;
    return h("li", { class: "event", "data-event": e.id },
      h("div", { class: "event-head" },
        h("code", { class: "event-name" }, e.name),
        h("span", { class: "muted" }, fmtTime(e.ts)),
        h("span", { class: "muted" }, e.id),
        h("button", { type: "button", class: "replay", onclick: (x) => act(x.currentTarget, async () => {
          const made = (await api("/v1/events/" + encodeURIComponent(e.id) + "/replay", { method: "POST" })).data;
          notice("Replayed " + e.name + " as " + made.ids.join(", "), "ok");
          await load();
        }) }, "Replay")),
      h("div", { class: "event-runs" },
        ev.runs.length ? ["Started ", ev.runs.map((r) => h("a", { href: "/runs/" + encodeURIComponent(r.run_id), class: "run-link" }, r.function_id, " ", statusBadge(r.status)))] : h("span", { class: "muted" }, "started no run")),
      jsonBlock("payload", e, false));
  };
  const load = async () => {
    const mine = seq.next();
    const answer = await api("/v1/events?limit=" + Math.min(Math.max(shown, 50), 1000) + named());
    if (view !== current || seq.stale(mine)) return;
    next = answer.metadata.next_before;
    list.replaceChildren(...answer.data.map(item));
    if (!answer.data.length) list.append(h("li", { class: "empty" }, "No event received yet."));
    more.hidden = !next;
  };
  more.addEventListener("click", () => act(more, async () => {
    const mine = seq.next();
    const answer = await api("/v1/events?limit=50&before=" + next + named());
    if (view !== current || seq.stale(mine)) return;
    next = answer.metadata.next_before;
    list.append(...answer.data.map(item));
    shown = list.children.length;
    more.hidden = !next;
  }));
  view.refresh = { wants: (kind) => kind === "event" || kind === "run", run: load };
  await load();
};

// ---- apps -----------------------------------------------------------------------------

views.apps = async (main, _params, view) => {
  const url = h("input", { id: "app-url", name: "url", type: "url", required: true, placeholder: "http://127.0.0.1:3000/api/inngest" });
  const add = h("button", { type: "submit", id: "add-app" }, "Sync app");
  const form = h("form", { class: "card inline", id: "add-app-form", "aria-label": "Add an app by URL" },
    h("label", { for: "app-url" }, "Add an app by its serve URL"), url, add);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(add, async () => {
      // Synced or not, the list shows the attempt (a failed one with its error).
      try {
        await api("/dev/sync", { method: "POST", body: { url: url.value.trim() } });
        url.value = "";
      } finally {
        await load();
      }
    });
  });
  const list = h("div", { id: "apps" });
  main.append(h("h1", {}, "Apps"), form, list);
  const card = (a) => {
    const sync = a.last_sync;
    const resync = a.transport === "serve" ? h("button", { type: "button", class: "resync", onclick: (e) => act(e.currentTarget, async () => {
      try {
        await api("/dev/sync", { method: "POST", body: { url: a.url } });
        notice("Resynced " + a.id, "ok");
      } finally {
        await load();
      }
    }) }, "Resync") : null;
    return h("article", { class: "card app", "data-app": a.id },
      h("h2", {}, a.id, " ", h("span", { class: "badge" }, a.transport === "connect" ? "connect (ws)" : "serve (http)")),
      h("dl", { class: "facts" },
        h("dt", {}, "URL"), h("dd", {}, h("code", {}, a.url)),
        h("dt", {}, "SDK"), h("dd", {}, a.sdk, a.framework ? " · " + a.framework : ""),
        h("dt", {}, "Synced"), h("dd", { class: "synced-at" }, fmtTime(a.synced_at)),
        h("dt", {}, "Last sync"), h("dd", { class: "last-sync" }, sync ? (sync.error ? h("span", { class: "sync-error" }, fmtTime(sync.at) + " failed: " + sync.error) : fmtTime(sync.at) + " ok") : "—"),
        h("dt", {}, "Functions"), h("dd", {}, String(a.functions.length)),
        a.transport === "connect" ? [h("dt", {}, "Workers"), h("dd", { class: "workers" },
          a.workers.length ? a.workers.map((w) => h("span", { class: "worker", title: w.connection_id }, w.instance_id + (w.active ? " (active)" : " (paused)"))) : "none connected: its runs wait for one")] : null),
      resync);
  };
  const seq = loads();
  const load = async () => {
    const mine = seq.next();
    const [apps, syncs] = await Promise.all([api("/v1/apps"), api("/v1/syncs")]);
    if (view !== current || seq.stale(mine)) return;
    const known = new Set(apps.data.map((a) => a.url));
    const failed = syncs.data.filter((s) => s.error && !known.has(s.url));
    list.replaceChildren(
      ...apps.data.map(card),
      ...failed.map((s) => h("article", { class: "card app unsynced" },
        h("h2", {}, "Not synced"),
        h("p", {}, h("code", {}, s.url)),
        h("p", { class: "sync-error" }, fmtTime(s.at) + " failed: " + s.error),
        h("button", { type: "button", class: "resync", onclick: (e) => act(e.currentTarget, async () => {
          try {
            await api("/dev/sync", { method: "POST", body: { url: s.url } });
          } finally {
            await load();
          }
        }) }, "Retry"))));
    if (!apps.data.length && !failed.length) list.append(h("p", { class: "empty" }, "No app synced yet. Start one with INNGEST_DEV pointing here, or add it by URL."));
  };
  view.refresh = { wants: (kind) => kind === "app", run: load };
  await load();
};

// ---- functions ------------------------------------------------------------------------

views.functions = async (main, _params, view) => {
  const list = h("div", { id: "functions" });
  const typed = new Map(); // what the user typed in each Invoke box, kept across redraws
  const seq = loads();
  main.append(h("h1", {}, "Functions"), list);
  const card = (f) => {
    const data = h("textarea", { name: "data", rows: 3, spellcheck: "false", id: "invoke-data-" + f.id, "aria-label": "Data for " + f.name }, typed.has(f.id) ? typed.get(f.id) : "{}");
    data.addEventListener("input", () => typed.set(f.id, data.value));
    const go_ = h("button", { type: "submit", class: "invoke" }, "Invoke");
    const form = h("form", { class: "invoke-form" }, data, go_);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      let value;
      try {
        value = JSON.parse(data.value || "{}");
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("data must be a JSON object");
      } catch (err) {
        notice("Not valid: " + err.message);
        return;
      }
      act(go_, async () => {
        const made = (await api("/v1/functions/" + encodeURIComponent(f.id) + "/invoke", { method: "POST", body: { data: value } })).data;
        go("/runs/" + encodeURIComponent(made.run_id));
      });
    });
    const opts = Object.entries(f.options || {});
    return h("article", { class: "card function", "data-function": f.id },
      h("h2", {}, f.name, " ", h("code", { class: "muted" }, f.id)),
      h("dl", { class: "facts" },
        h("dt", {}, "App"), h("dd", {}, f.app),
        h("dt", {}, "Triggers"), h("dd", { class: "triggers" }, f.triggers.map((t) => h("code", { class: "trigger" }, t))),
        h("dt", {}, "Attempts"), h("dd", {}, String(f.max_attempts)),
        opts.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "option" }, h("code", {}, JSON.stringify(v)))])),
      h("p", {}, h("a", { href: "/?function_id=" + encodeURIComponent(f.id) }, "Its runs")),
      form);
  };
  const load = async () => {
    const mine = seq.next();
    const fns = await functionsList();
    if (view !== current || seq.stale(mine)) return;
    list.replaceChildren(...fns.map(card));
    if (!fns.length) list.append(h("p", { class: "empty" }, "No function synced yet."));
  };
  view.refresh = { wants: (kind) => kind === "app", run: load };
  await load();
};

// ---- the clock, the stream, the theme -------------------------------------------------

let clockSkew = 0; // server time minus local time, ms
function serverNow() {
  return Date.now() + clockSkew;
}

async function readClock() {
  const info = await api("/dev");
  clockSkew = new Date(info.now).getTime() - Date.now();
  showClock();
}

function showClock() {
  const el = document.getElementById("clock-now");
  const now = new Date(serverNow());
  el.textContent = fmtTime(now.getTime()).slice(0, 19);
  el.setAttribute("datetime", now.toISOString());
}

document.getElementById("clock-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("advance-by");
  act(document.getElementById("advance"), async () => {
    const answer = await api("/dev/time/advance", { method: "POST", body: { duration: input.value.trim() } });
    clockSkew = new Date(answer.now).getTime() - Date.now();
    showClock();
    notice("The clock moved " + input.value.trim(), "ok");
    if (current && current.refresh) await current.refresh.run();
  });
});
setInterval(showClock, 1000);

function connectStream() {
  const live = document.getElementById("live");
  const source = new EventSource("/v1/stream");
  let opened = false;
  source.onopen = () => {
    live.textContent = "live";
    live.className = "live on";
    // After a gap (the server restarted, the stream's 30 minutes ran out), read afresh what
    // may have changed meanwhile.
    if (opened) {
      readClock().catch(() => {});
      if (current && current.refresh) current.refresh.run().catch(() => {});
    }
    opened = true;
  };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  for (const kind of ["run", "event", "app", "clock"]) {
    source.addEventListener(kind, (e) => {
      let change = {};
      try { change = JSON.parse(e.data); } catch (_) { /* a comment */ }
      if (kind === "clock") readClock().catch(() => {});
      changed(kind, change);
    });
  }
  source.addEventListener("lagged", () => {
    if (current && current.refresh) current.refresh.run().catch(() => {});
  });
}

const themes = ["system", "light", "dark"];
function applyTheme(t) {
  if (t === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", t);
  document.getElementById("theme").setAttribute("aria-label", "Theme: " + t);
  document.getElementById("theme").title = "Theme: " + t;
}
document.getElementById("theme").addEventListener("click", () => {
  const now = localStorage.getItem("theme") || "system";
  const next = themes[(themes.indexOf(now) + 1) % themes.length];
  localStorage.setItem("theme", next);
  applyTheme(next);
});
applyTheme(localStorage.getItem("theme") || "system");

readClock().catch((e) => notice(e.message));
connectStream();
render();
